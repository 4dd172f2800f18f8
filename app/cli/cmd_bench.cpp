// `caspl bench`: speed and memory figures as JSON lines.
#include "app/cli/cli.h"
#include "core/tools/bench.h"

#include <iostream>

namespace caspl::cli {

void addBenchCommand(CLI::App& app, Action* action) {
    auto* cmd = app.add_subcommand("bench", "Measure encoding and training-step speed (JSON lines on stdout)");
    auto o = std::make_shared<BenchOptions>();
    auto json = std::make_shared<bool>(true);
    cmd->add_option("--device", o->device, "auto, cpu or cuda")->capture_default_str()->check(CLI::IsMember({"auto", "cpu", "cuda"}));
    cmd->add_option("--dtype", o->dtype, "auto, fp32, bf16 or fp16")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp16"}));
    cmd->add_flag("--tiny", o->tiny, "Tiny model sizes (the default on the CPU)");
    cmd->add_flag("--full", o->full, "The real model sizes on the CPU too (slow)");
    cmd->add_option("--warmup", o->warmup, "Untimed iterations")->capture_default_str()->check(atLeast(0));
    cmd->add_option("--iterations", o->iterations, "Timed iterations")->capture_default_str()->check(atLeast(1));
    cmd->add_option("--only", o->only, "Only figures whose name contains this");
    cmd->add_flag("--json", *json, "JSON lines (the only format; accepted for scripts)");
    cmd->callback([action, o] {
        *action = [o] {
            int lines = 0;
            const int failures = runBenchmarks(*o, [&lines](const std::string& line) {
                ++lines;
                std::cout << line << std::endl;
            });
            if (lines == 0)
                throw UsageError("--only '" + o->only + "' matches no figure (names: encode_image, roofline, breakdown, "
                                 "encode_text, step, epoch, teacher_cache, memory, eval_pipeline, ...; see docs/gpu.md)");
            if (failures > 0) std::cerr << "caspl bench: " << failures << " figure(s) failed (their lines carry \"error\")" << std::endl;
            return failures > 0 ? kRunFailed : kOk;
        };
    });
}

}  // namespace caspl::cli
