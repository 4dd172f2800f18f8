#pragma once
// `caspl debug-step`: one training step of a method from given tensors, in the format of the reference's
// one-step cases (shared fixtures method-steps/README.md): PATH.json (settings) + PATH.safetensors (inputs, initial
// prompts, and optionally the reference's outputs). Writes logits, every loss term, the features, the gradients,
// the parameters after one SGD step and the eval-mode logits under the fixture's names, and compares them with
// the reference's when the case holds them.
#include <string>
#include <vector>

namespace caspl {

struct DebugStepOptions {
    std::string casePath;   // PATH without extension
    std::string out;        // output .safetensors
    std::string backbone;   // default: the sidecar's backbone file, looked up next to the case folder
    std::string teacher;    // phase 1: default PATH_teacher.safetensors
    std::string vocab;      // tokenizer files; default: a "tokenizer" folder next to the case folder
    double atol = 1e-4, rtol = 1e-4;  // |port - ref| <= atol + rtol * max|ref|, per tensor
};

struct DebugStepComparison {
    std::string name;
    double maxAbsDiff = 0;
    double maxAbsRef = 0;
    bool ok = true;
};

struct DebugStepReport {
    std::string method;                 // e.g. "caspl_promptsrc"
    std::vector<std::string> written;   // tensor names written to `out`
    std::vector<DebugStepComparison> comparisons;  // one per reference tensor found in the case file
    bool allOk() const;
    std::string summary() const;        // a table of the comparisons
};

DebugStepReport runDebugStep(const DebugStepOptions& options);

}  // namespace caspl
