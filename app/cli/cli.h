#pragma once
// The headless command line (`caspl`). Each tool registers its sub-command in its own file
// (app/cli/cmd_<name>.cpp) through addXxxCommand(); main() wires them all up.
#include <CLI/CLI.hpp>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace caspl::cli {

// Exit codes shared by every command (documented in the README).
enum ExitCode : int {
    kOk = 0,
    kRunFailed = 1,    // the job started but failed (training diverged, out of memory, ...)
    kUsage = 2,        // wrong command-line usage
    kBadInput = 3,     // a file, preset or key is missing or malformed
    kInterrupted = 130 // stopped by SIGINT/SIGTERM; a resumable checkpoint was left
};

// The folder of the running executable: where an installed `caspl` finds its presets (../share/caspl/presets).
std::string executableDir();

// Misuse of the command line found after parsing (e.g. --run-dir with two presets): exit code 2, like CLI11's own.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// An integer option at least `min`, with a message a person reads ("expected an integer >= 1, got '0'"), instead of
// CLI11's NonNegativeNumber/PositiveNumber, whose message prints the largest double in full.
inline CLI::Validator atLeast(long long min) {
    return CLI::Validator(
        [min](std::string& v) -> std::string {
            try {
                std::size_t used = 0;
                const long long x = std::stoll(v, &used);
                if (used == v.size() && x >= min) return {};
            } catch (const std::exception&) {
            }
            return "expected an integer >= " + std::to_string(min) + ", got '" + v + "'";
        },
        "INT>=" + std::to_string(min));
}

// The tags of a repeatable option whose values may be comma-separated lists ("--tag a,b --tag c"); a malformed tag is
// a usage error naming the option (run_notes.h's checkTag).
std::vector<std::string> tagsOption(const std::string& option, const std::vector<std::string>& values);

// A repeatable option that takes one value per occurrence ("--set a=1 --set b=2 PRESET"): CLI11 lets a vector
// option take every word after it otherwise, so that a positional argument after it would be read as its value.
inline CLI::Option* oneValueEach(CLI::Option* option) {
    return option->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->allow_extra_args(false);
}

// --set's form, KEY=VALUE, checked when the command line is parsed: a malformed --set is a usage error (exit 2), as a
// malformed --sweep is. The key and value are checked with the experiment.
inline CLI::Validator keyValueForm() {
    return CLI::Validator(
        [](std::string& v) {
            const auto eq = v.find('=');
            return eq == std::string::npos || eq == 0 ? "'" + v + "': expected key=value (e.g. --set train.lr=0.002)" : std::string();
        },
        "KEY=VALUE");
}

// Each command sets this to the function that runs it once the command line has been parsed.
using Action = std::function<int()>;

void addVersionCommand(CLI::App& app, Action* action);
void addTokenizeCommand(CLI::App& app, Action* action);
void addInfoCommand(CLI::App& app, Action* action);
void addEncodeCommand(CLI::App& app, Action* action);
void addDebugStepCommand(CLI::App& app, Action* action);
void addRunCommands(CLI::App& app, Action* action);
// `caspl notes` (app/cli/cmd_notes.cpp).
void addNotesCommand(CLI::App& app, Action* action);
void addBenchCommand(CLI::App& app, Action* action);
void addBoostingCommand(CLI::App& app, Action* action);
void addSplitCommand(CLI::App& app, Action* action);
void addDatasetsCommand(CLI::App& app, Action* action);
// `caspl demo prepare` (app/cli/cmd_demo.cpp).
void addDemoCommand(CLI::App& app, Action* action);
// `caspl presets list|show|keys` and `caspl validate` (app/cli/cmd_presets.cpp).
void addPresetsCommands(CLI::App& app, Action* action);

}  // namespace caspl::cli
