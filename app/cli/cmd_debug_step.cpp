// `caspl debug-step`: one training step of a method from a reference case, compared tensor by tensor.
#include "app/cli/cli.h"
#include "core/methods/debug_step.h"

#include <iostream>

namespace caspl::cli {

void addDebugStepCommand(CLI::App& app, Action* action) {
    auto* cmd = app.add_subcommand("debug-step", "Run one training step of a method case (PATH.json + PATH.safetensors)");
    auto o = std::make_shared<DebugStepOptions>();
    cmd->add_option("--case", o->casePath, "Case path without extension")->required();
    cmd->add_option("--out", o->out, "Output .safetensors with every tensor of the step");
    cmd->add_option("--backbone", o->backbone, "CLIP weights (default: the case's backbone, next to the case folder)");
    cmd->add_option("--teacher", o->teacher, "Phase-1 teacher weights (default: PATH_teacher.safetensors)");
    cmd->add_option("--vocab", o->vocab, "Tokenizer files (default: a tokenizer folder next to the case folder)");
    cmd->add_option("--atol", o->atol, "Absolute tolerance")->capture_default_str();
    cmd->add_option("--rtol", o->rtol, "Tolerance relative to max|ref| per tensor")->capture_default_str();
    cmd->callback([action, o] {
        *action = [o] {
            const auto r = runDebugStep(*o);
            if (!r.comparisons.empty()) std::cout << r.summary();
            else std::cout << r.method << ": wrote " << r.written.size() << " tensors (the case holds no reference outputs)\n";
            return r.allOk() ? kOk : kRunFailed;
        };
    });
}

}  // namespace caspl::cli
