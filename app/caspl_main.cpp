// caspl: the headless front end. Builds a QCoreApplication (no display needed) and dispatches to sub-commands.
#include "app/cli/cli.h"
#include "core/engine/events.h"
#include "core/runtime.h"
#include "core/util/error.h"
#include "core/version.h"

#include <QCoreApplication>

#include <clocale>
#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
    QCoreApplication qapp(argc, argv);
    // QCoreApplication set the C library's locale from the environment; numbers in files, logs and tables are
    // written and read with '.' whatever the user's locale (LC_NUMERIC back to "C"; the rest stays).
    std::setlocale(LC_NUMERIC, "C");
    QCoreApplication::setApplicationName("caspl");
    QCoreApplication::setApplicationVersion(CASPL_VERSION);

    CLI::App app{"caspl: CLIP prompt learning and Cascade Prompt Learning (CasPL), headless", "caspl"};
    app.set_version_flag("--version", [] {
        caspl::initRuntime();
        return std::string("caspl ") + CASPL_VERSION + " (" + caspl::runtimeDescription() + ")";
    });
    int threads = 0;
    app.add_option("--threads", threads, "CPU threads for LibTorch (default: all cores; env CASPL_THREADS)")
        ->envname("CASPL_THREADS")
        ->check(caspl::cli::atLeast(0));
    app.require_subcommand(1);
    // Sub-commands made after this pass what they do not know to the main command: `caspl demo --threads 2` works
    // as `caspl --threads 2 demo` does.
    app.fallthrough();
    app.footer("Exit codes: 0 ok, 1 run failed, 2 usage error, 3 bad input, 130 interrupted.");

    caspl::cli::Action action;
    caspl::cli::addVersionCommand(app, &action);
    caspl::cli::addTokenizeCommand(app, &action);
    caspl::cli::addInfoCommand(app, &action);
    caspl::cli::addEncodeCommand(app, &action);
    caspl::cli::addDebugStepCommand(app, &action);
    caspl::cli::addRunCommands(app, &action);
    caspl::cli::addNotesCommand(app, &action);
    caspl::cli::addBenchCommand(app, &action);
    caspl::cli::addBoostingCommand(app, &action);
    caspl::cli::addSplitCommand(app, &action);
    caspl::cli::addDatasetsCommand(app, &action);
    caspl::cli::addDemoCommand(app, &action);
    caspl::cli::addPresetsCommands(app, &action);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return caspl::cli::kUsage;
    }
    caspl::initRuntime(threads);
    try {
        return action ? action() : caspl::cli::kUsage;
    } catch (const caspl::Interrupted& e) {
        std::cerr << "caspl: interrupted during " << e.where << "\n";
        return caspl::cli::kInterrupted;
    } catch (const caspl::cli::UsageError& e) {
        std::cerr << "caspl: usage: " << e.what() << "\n";
        return caspl::cli::kUsage;
    } catch (const caspl::RunFailed& e) {
        std::cerr << "caspl: failed: " << e.what() << "\n";
        return caspl::cli::kRunFailed;
    } catch (const caspl::Error& e) {
        std::cerr << "caspl: error: " << e.what() << "\n";
        return caspl::cli::kBadInput;
    } catch (const std::exception& e) {
        std::cerr << "caspl: failed: " << e.what() << "\n";
        return caspl::cli::kRunFailed;
    }
}
