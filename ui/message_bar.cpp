#include "ui/message_bar.h"

#include <QFontDatabase>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QStyle>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>

namespace caspl::ui {

MessageBar::MessageBar(QWidget* parent) : QFrame(parent) {
    setObjectName("messageBar");
    setFrameShape(QFrame::StyledPanel);
    title_ = new QLabel(this);
    title_->setObjectName("messageTitle");
    title_->setWordWrap(true);
    title_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    details_ = new QPlainTextEdit(this);
    details_->setObjectName("messageDetails");
    details_->setReadOnly(true);
    details_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    details_->setLineWrapMode(QPlainTextEdit::WidgetWidth);
    advice_ = new QLabel(this);
    advice_->setObjectName("messageAdvice");
    advice_->setWordWrap(true);
    advice_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    close_ = new QToolButton(this);
    close_->setObjectName("messageClose");
    close_->setIcon(style()->standardIcon(QStyle::SP_TitleBarCloseButton));
    close_->setToolTip(tr("Dismiss"));
    close_->setAutoRaise(true);

    auto* text = new QVBoxLayout;
    text->addWidget(title_);
    text->addWidget(details_);
    text->addWidget(advice_);
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(8, 6, 4, 6);
    layout->addLayout(text, 1);
    layout->addWidget(close_, 0, Qt::AlignTop);
    connect(close_, &QToolButton::clicked, this, &MessageBar::dismiss);
    hide();
}

void MessageBar::showMessage(Kind kind, const QString& title, const QString& details, const QString& advice) {
    kind_ = kind;
    titleText_ = title;
    adviceText_ = advice;
    const char* colors = kind == Kind::Error     ? "background: #fdecea; border: 1px solid #d9534f;"
                         : kind == Kind::Warning ? "background: #fff4e0; border: 1px solid #e0a040;"
                                                 : "background: #e8f1fb; border: 1px solid #5b9bd5;";
    setStyleSheet(QStringLiteral("#messageBar { %1 border-radius: 4px; }").arg(colors));
    const QString icon = kind == Kind::Error ? tr("Error: ") : kind == Kind::Warning ? tr("Warning: ") : QString();
    title_->setText(QStringLiteral("<b>%1%2</b>").arg(icon, title.toHtmlEscaped()));
    details_->setPlainText(details);
    details_->setVisible(!details.isEmpty());
    if (!details.isEmpty()) {
        const int lines = std::min(8, int(details.count('\n')) + 1);
        details_->setFixedHeight(details_->fontMetrics().lineSpacing() * (lines + 1) + 8);
    }
    advice_->setText(advice.isEmpty() ? QString() : tr("<b>What to do:</b> %1").arg(advice.toHtmlEscaped()));
    advice_->setVisible(!advice.isEmpty());
    show();
}

void MessageBar::dismiss() { hide(); }

QString MessageBar::title() const { return titleText_; }

QString MessageBar::details() const { return details_->toPlainText(); }

QString MessageBar::advice() const { return adviceText_; }

QString MessageBar::text() const { return title() + "\n" + details() + "\n" + advice(); }

}  // namespace caspl::ui
