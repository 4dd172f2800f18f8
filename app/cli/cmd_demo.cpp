// `caspl demo`: the self-contained demo on Fashion-MNIST (Debian package dataset-fashion-mnist).
//   prepare   export the data, learn the BPE vocabulary, pretrain the teacher and the student CLIP (each step
//             skipped when its cached result is complete) and print both models' zero-shot accuracy
// The logic lives in core/demo (fashion_mnist, bpe_learner, pretrain); this file parses options and prints.
//
// Layout of the command: `--cache` belongs to the `demo` group (sub-commands let it fall through, so both
// `caspl demo --cache D prepare` and `caspl demo prepare --cache D` work), so that a bare `caspl demo` (prepare + the
// prompt-learning runs) can be added by giving the group a callback that runs when no sub-command was named
// (require_subcommand(0, 1)) and calls runDemoPrepare() first.
#include "app/cli/cli.h"
#include "app/cli/cli_sink.h"
#include "app/cli/demo_run.h"
#include "core/demo/pretrain.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

namespace caspl::cli {

namespace {

struct DemoArgs {
    std::string cache;
    std::string optionsFile;
    bool printOptions = false;
    bool force = false;
    bool json = false;
};

// $CASPL_CACHE, else $XDG_CACHE_HOME/caspl, else ~/.cache/caspl.
std::string defaultCacheDir() {
    auto env = [](const char* name) {
        const char* v = std::getenv(name);
        return std::string(v ? v : "");
    };
    if (!env("CASPL_CACHE").empty()) return env("CASPL_CACHE");
    if (!env("XDG_CACHE_HOME").empty()) return (std::filesystem::path(env("XDG_CACHE_HOME")) / "caspl").string();
    if (!env("HOME").empty()) return (std::filesystem::path(env("HOME")) / ".cache" / "caspl").string();
    throw Error("no cache folder: set --cache, CASPL_CACHE, XDG_CACHE_HOME or HOME");
}

DemoModelsOptions demoOptions(const DemoArgs& a) {
    if (a.optionsFile.empty()) return defaultDemoModelsOptions();
    return demoModelsOptionsFromJson(readFile(a.optionsFile), a.optionsFile);
}

void printZeroShotTable(const DemoModels& dm) {
    const auto& names = dm.data.classnames;
    std::printf("\nzero-shot top-1 on the Fashion-MNIST demo test split (%zu images), prompt \"a photo of a {}.\"\n",
                dm.data.split.test.size());
    std::printf("%-12s %8s %8s %8s %8s %10s %8s\n", "model", "params", "all", "base", "novel", "train (s)", "steps");
    for (const auto* m : {&dm.teacher, &dm.student}) {
        const bool t = m == &dm.teacher;
        const ZeroShotResult& z = t ? dm.teacherZeroShot : dm.studentZeroShot;
        std::printf("%-12s %7.2fM %7.2f%% %7.2f%% %7.2f%% %10.1f %8lld%s\n", t ? "teacher" : "student",
                    double(m->parameters) / 1e6, z.accuracy, z.baseAccuracy, z.novelAccuracy, m->seconds,
                    static_cast<long long>(m->steps), m->cached ? "  (cached)" : "");
    }
    std::printf("\nper class      teacher  student\n");
    for (std::size_t c = 0; c < names.size(); ++c)
        std::printf("%-12s %8.1f%% %7.1f%%\n", names[c].c_str(),
                    c < dm.teacherZeroShot.perClass.size() ? dm.teacherZeroShot.perClass[c] : 0.0,
                    c < dm.studentZeroShot.perClass.size() ? dm.studentZeroShot.perClass[c] : 0.0);
    std::printf("\ntimes: data %.1f s%s, BPE %.2f s, teacher %.1f s%s, student %.1f s%s, zero-shot %.1f s\n",
                dm.data.seconds, dm.data.exported ? "" : " (cached)", dm.bpeSeconds, dm.teacher.seconds,
                dm.teacher.cached ? " (cached)" : "", dm.student.seconds, dm.student.cached ? " (cached)" : "",
                dm.zeroShotSeconds);
    std::printf("\nteacher: %s\nstudent: %s\ndata:    %s\n", dm.teacher.folder.c_str(), dm.student.folder.c_str(),
                dm.data.splitPath.c_str());
    std::fflush(stdout);
}

// Runs `caspl demo prepare`: returns the exit code; `out`, when given, receives the prepared models.
int runDemoPrepare(const DemoArgs& a, DemoModels* out = nullptr) {
    const DemoModelsOptions opts = demoOptions(a);
    if (a.printOptions) {
        std::cout << demoModelsOptionsToJson(opts);
        return kOk;
    }
    const std::string cache = a.cache.empty() ? defaultCacheDir() : a.cache;
    if (a.force) {
        std::error_code ec;
        for (const char* sub : {"fashion-mnist", "demo-models"})
            std::filesystem::remove_all(std::filesystem::path(cache) / sub, ec);
    }
    CliSink sink(a.json);
    StopToken stop;
    const StopHandlers handlers(stop);
    try {
        DemoModels dm = prepareDemoModels(cache, opts, sink, stop);
        if (!a.json) printZeroShotTable(dm);
        if (out) *out = std::move(dm);
        return kOk;
    } catch (const Interrupted& i) {
        std::cerr << "\ncaspl: interrupted during " << i.where
                  << "; nothing partial was kept, `caspl demo prepare` starts that step again\n";
        return kInterrupted;
    }
}

}  // namespace

void addDemoCommand(CLI::App& app, Action* action) {
    auto a = std::make_shared<DemoArgs>();
    auto* demo = app.add_subcommand("demo",
                                    "The self-contained demo on Fashion-MNIST: prepare its data and models (cached), "
                                    "then run zero-shot, CoOp and CoOp + CasPL base-to-novel and print base / novel / "
                                    "HM; `prepare`: only the data and models");
    demo->add_option("--cache", a->cache,
                     "cache folder for the demo's data and models (default: $CASPL_CACHE, $XDG_CACHE_HOME/caspl or "
                     "~/.cache/caspl)");
    demo->add_option("--options", a->optionsFile,
                     "JSON file overriding the demo's options (see `caspl demo prepare --print-options` for the keys "
                     "and defaults)");
    demo->require_subcommand(0, 1);
    demo->add_flag("--json", a->json, "JSON-lines events on stdout (for scripts)");
    // A bare `caspl demo`: prepare (cached) + the three prompt-learning runs + the base / novel / HM table.
    demo->callback([a, action, demo] {
        if (!demo->get_subcommands().empty()) return;
        *action = [a] {
            DemoModels dm;
            const int rc = runDemoPrepare(*a, &dm);
            if (rc != kOk) return rc;
            return runDemoExperiments(a->cache.empty() ? defaultCacheDir() : a->cache, dm, a->json);
        };
    });

    auto* prepare = demo->add_subcommand(
        "prepare",
        "Export Fashion-MNIST to PNG + split files, learn a BPE vocabulary from the captions, pretrain a teacher and a "
        "student CLIP (cached: each step is skipped when done before with the same options) and print their zero-shot "
        "accuracy");
    prepare->fallthrough();
    prepare->add_flag("--print-options", a->printOptions, "print the options in effect as JSON and exit");
    prepare->add_flag("--force", a->force, "delete the cached data and models first and redo everything");
    prepare->add_flag("--json", a->json, "JSON-lines events on stdout (for scripts)");
    prepare->callback([a, action] { *action = [a] { return runDemoPrepare(*a); }; });
}

}  // namespace caspl::cli
