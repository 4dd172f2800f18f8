// caspl-studio: the desktop application.
#include "core/runtime.h"
#include "core/version.h"
#include "ui/main_window.h"

#include <QApplication>

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName("CasPL Studio");
    QApplication::setOrganizationName("CasPL Studio");
    QApplication::setApplicationVersion(CASPL_VERSION);
    caspl::initRuntime();

    caspl::ui::MainWindow window;
    window.setRuntimeDescription(QString::fromStdString(caspl::runtimeDescription()));
    window.show();
    return app.exec();
}
