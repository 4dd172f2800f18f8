// caspl-studio: the desktop application.
#include "app/run_worker.h"
#include "core/runtime.h"
#include "core/version.h"
#include "ui/main_window.h"
#include "ui/text_format.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QSettings>

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    caspl::ui::keepCNumericLocale();  // numbers in files and logs as the command line writes them
    QApplication::setApplicationName("CasPL Studio");
    QApplication::setOrganizationName("CasPL Studio");
    QApplication::setApplicationVersion(CASPL_VERSION);

    QCommandLineParser parser;
    parser.setApplicationDescription("CasPL Studio: CLIP prompt learning and Cascade Prompt Learning experiments");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("experiment", "A preset or YAML experiment file to open, or a run folder");
    QCommandLineOption threads("threads", "LibTorch threads (default: every core, or CASPL_THREADS)", "N");
    parser.addOption(threads);
    QCommandLineOption fresh("fresh", "Start with an empty queue and the default layout (the last session is not "
                                      "reopened; it is replaced when this window closes)");
    parser.addOption(fresh);
    parser.process(app);

    int n = parser.value(threads).toInt();
    if (n <= 0) n = qEnvironmentVariableIntValue("CASPL_THREADS");
    caspl::initRuntime(n);

    // The engine outlives the window: its destructor stops a running experiment (checkpoint) and joins the thread.
    caspl::app::StudioEngine engine;
    caspl::ui::MainWindow window(&engine);
    window.setRuntimeDescription(QString::fromStdString(caspl::runtimeDescription()));
    // The last session's layout, run queue and experiment come back; closing the window saves them.
    window.setSessionPersistence(true);
    if (!parser.isSet(fresh)) {
        QSettings settings;
        window.restoreSession(settings);
    }
    window.show();
    for (const QString& arg : parser.positionalArguments()) {
        if (QFileInfo(arg).isDir()) window.openRunFolder(arg);
        else window.openExperimentFile(arg);
    }
    return app.exec();
}
