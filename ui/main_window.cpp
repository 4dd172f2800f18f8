#include "ui/main_window.h"

#include <QApplication>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>
#include <QVBoxLayout>

namespace caspl::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(tr("CasPL Studio"));
    setObjectName("MainWindow");
    resize(1200, 800);

    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    auto* intro = new QLabel(tr("<h2>CasPL Studio</h2>"
                                "<p>Cascade Prompt Learning for CLIP: distil a large teacher into boosting prompts "
                                "(phase 1), then learn adapting prompts on few-shot labels (phase 2).</p>"),
                             central);
    intro->setObjectName("introLabel");
    intro->setWordWrap(true);
    layout->addWidget(intro);
    layout->addStretch(1);
    setCentralWidget(central);

    runtimeLabel_ = new QLabel(this);
    runtimeLabel_->setObjectName("runtimeLabel");
    statusBar()->addPermanentWidget(runtimeLabel_);
    buildMenus();
}

void MainWindow::setRuntimeDescription(const QString& text) {
    runtimeDescription_ = text;
    runtimeLabel_->setText(text);
}

void MainWindow::buildMenus() {
    auto* file = menuBar()->addMenu(tr("&File"));
    auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    auto* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About CasPL Studio"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::showAbout() {
    QMessageBox::about(this, tr("About CasPL Studio"),
                       tr("<b>CasPL Studio %1</b><p>CLIP prompt learning (CoOp, CoCoOp, MaPLe, PromptSRC) and "
                          "Cascade Prompt Learning (ECCV 2024).</p><p>%2</p>")
                           .arg(QApplication::applicationVersion(), runtimeDescription_.toHtmlEscaped()));
}

}  // namespace caspl::ui
