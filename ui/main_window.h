#pragma once
// The studio's main window. Widgets only: no LibTorch here (the engine is reached through app/'s worker).
#include <QMainWindow>

class QLabel;

namespace caspl::ui {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);

    // Shown in the status bar, e.g. the LibTorch runtime description given by the app.
    void setRuntimeDescription(const QString& text);

private:
    void buildMenus();
    void showAbout();

    QLabel* runtimeLabel_ = nullptr;
    QString runtimeDescription_;
};

}  // namespace caspl::ui
