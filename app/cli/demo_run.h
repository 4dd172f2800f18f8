#pragma once
// The prompt-learning half of `caspl demo`: the three demo presets (zero-shot student, CoOp, CoOp + CasPL) on the
// prepared data and models, then one base / novel / HM table with the teacher's zero-shot for reference.
#include <string>

namespace caspl {
struct DemoModels;
}

namespace caspl::cli {

// `cache` holds fashion-mnist/ and demo-models/ (prepareDemoModels); runs go to <cache>/runs/. Returns an exit code.
int runDemoExperiments(const std::string& cache, const caspl::DemoModels& models, bool json);

}  // namespace caspl::cli
