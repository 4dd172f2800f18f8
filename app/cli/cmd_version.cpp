#include "app/cli/cli.h"
#include "core/runtime.h"
#include "core/version.h"

#include <iostream>

namespace caspl::cli {

void addVersionCommand(CLI::App& app, Action* action) {
    auto* cmd = app.add_subcommand("version", "Print the version and the LibTorch runtime");
    cmd->callback([action] {
        *action = [] {
            std::cout << "caspl " << CASPL_VERSION << " (" << caspl::runtimeDescription() << ")\n";
            return kOk;
        };
    });
}

}  // namespace caspl::cli
