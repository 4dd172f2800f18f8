#include "app/cli/demo_run.h"

#include "app/cli/cli.h"
#include "app/cli/cli_sink.h"
#include "core/demo/pretrain.h"
#include "core/engine/runner.h"
#include "core/experiment/presets.h"
#include "core/experiment/spec_loader.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace caspl::cli {

namespace fs = std::filesystem;

int runDemoExperiments(const std::string& cache, const DemoModels& dm, bool json) {
    const std::string presets = findPresetsDir({}, executableDir());
    const fs::path dataRoot = fs::path(dm.data.root).parent_path();
    const std::vector<std::string> overrides{
        "data.root=" + dataRoot.string(),
        "data.datasets=[" + fs::path(dm.data.root).filename().string() + "]",
        "models.dir=" + fs::path(dm.student.folder).parent_path().string(),
        "models.student=" + dm.student.folder,
        "models.teacher=" + dm.teacher.folder,
        "output=" + (fs::path(cache) / "runs").string(),
    };
    std::vector<ExperimentSpec> specs;
    for (const char* name : {"demo/zeroshot", "demo/coop", "demo"})  // validated before anything runs
        specs.push_back(loadExperiment(resolvePresetFile(name, presets), overrides));

    CliSink sink(json, /*quiet=*/false);
    StopToken stop;
    const StopHandlers handlers(stop);
    std::vector<ResultRecord> all;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& spec : specs) {
        try {
            if (!json) std::fprintf(stderr, "\n== %s: %s\n", spec.name.c_str(), spec.description.c_str());
            auto out = runExperiment(spec, RunOptions{}, sink, stop);
            all.insert(all.end(), out.records.begin(), out.records.end());
        } catch (const Interrupted& i) {
            std::cerr << "\ncaspl: interrupted during " << i.where << "; run `caspl demo` again to continue\n";
            return kInterrupted;
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (json) return kOk;
    const auto summary = summarizeResults(all, Rounding::None);
    std::string seeds;
    for (int s : specs.back().data.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s);
    std::printf("\nFashion-MNIST demo, base-to-novel (5 base / 5 novel classes, %zu test images), 16 shots, "
                "mean over seeds %s\n\n",
                dm.data.split.test.size(), seeds.c_str());
    std::printf("%-28s %8s %8s %8s\n", "method", "base", "novel", "HM");
    std::printf("%-28s %7.2f%% %7.2f%% %7.2f%%\n", "teacher zero-shot (ref.)", dm.teacherZeroShot.baseAccuracy,
                dm.teacherZeroShot.novelAccuracy,
                harmonicMean(dm.teacherZeroShot.baseAccuracy, dm.teacherZeroShot.novelAccuracy));
    for (const auto& g : summary.groups) {
        std::string label = g.method == "zeroshot" ? "student zero-shot" : "student + " + g.method;
        std::printf("%-28s %7.2f%% %7.2f%% %7.2f%%\n", label.c_str(), g.base ? g.base->mean : 0.0, g.novel ? g.novel->mean : 0.0,
                    g.hm ? *g.hm : 0.0);
    }
    std::printf("\nprompt learning took %.0f s; run folders under %s (caspl export --csv DIR... for a CSV, --per-class DIR... for each class, --tensorboard OUT DIR... for TensorBoard)\n", seconds,
                (fs::path(cache) / "runs").string().c_str());
    std::fflush(stdout);
    return kOk;
}

}  // namespace caspl::cli
