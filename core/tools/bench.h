#pragma once
// `caspl bench`: speed and memory figures of the engine's hot paths, as JSON lines (one object per figure, with the
// device, LibTorch version, dtype and batch). On a GPU it measures the real sizes (ViT-B/16, ViT-L/14, the CasPL
// phase-1 step); on the CPU it runs tiny sizes so that the code path is exercised (and CI runs it). Weights are
// random: speed does not depend on them.
#include <functional>
#include <string>

namespace caspl {

struct BenchOptions {
    std::string device = "auto";  // auto | cpu | cuda
    std::string dtype = "auto";   // auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16
    bool tiny = false;            // force the tiny sizes (default on the CPU)
    bool full = false;            // the real sizes on the CPU too (slow: minutes per figure)
    int warmup = 3;               // untimed iterations
    int iterations = 10;          // timed iterations (at least)
    std::string only;             // run only figures whose name contains this
};

// Runs the benchmarks; `emit` receives one JSON object (as text) per figure, or {"figure", "error"} for a figure
// (or section) that failed, after which the others still run. Returns the number of failures.
int runBenchmarks(const BenchOptions& options, const std::function<void(const std::string&)>& emit);

}  // namespace caspl
