#pragma once
// An in-window message strip (instead of modal boxes, which would stop the window): what happened, in the
// engine's words (file:line:col diagnostics kept as they are), and what to do about it. Closed with its button or
// replaced by the next message.
#include <QFrame>

class QLabel;
class QPlainTextEdit;
class QToolButton;

namespace caspl::ui {

class MessageBar : public QFrame {
    Q_OBJECT
public:
    enum class Kind { Info, Warning, Error };
    explicit MessageBar(QWidget* parent = nullptr);

    // `title`: one line; `details`: the message (may have many lines); `advice`: what to do.
    void showMessage(Kind kind, const QString& title, const QString& details = {}, const QString& advice = {});
    void dismiss();

    Kind kind() const { return kind_; }
    QString title() const;
    QString details() const;
    QString advice() const;
    // Everything shown, for tests and copying.
    QString text() const;

private:
    Kind kind_ = Kind::Info;
    QString titleText_, adviceText_;
    QLabel* title_;
    QPlainTextEdit* details_;
    QLabel* advice_;
    QToolButton* close_;
};

}  // namespace caspl::ui
