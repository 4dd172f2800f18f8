// The main window opens offscreen, shows its menus and the runtime line.
#include "test_support.h"
#include "ui/main_window.h"

#include <QLabel>
#include <QMenuBar>

class MainWindowTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void showsTitleMenusAndRuntime() {
        caspl::ui::MainWindow w;
        w.setRuntimeDescription("LibTorch test (CPU)");
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QCOMPARE(w.windowTitle(), QString("CasPL Studio"));
        QStringList menus;
        for (auto* a : w.menuBar()->actions()) menus << a->text();
        QVERIFY2(menus.contains("&File") && menus.contains("&Help"), qPrintable(menus.join(',')));
        auto* label = w.findChild<QLabel*>("runtimeLabel");
        QVERIFY(label);
        QCOMPARE(label->text(), QString("LibTorch test (CPU)"));
    }
};

CASPL_REGISTER_TEST(MainWindowTest);
#include "test_main_window.moc"
