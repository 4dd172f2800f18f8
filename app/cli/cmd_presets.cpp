// `caspl presets` and `caspl validate`: the experiment presets and the check of an experiment file.
//   presets list [--all]      names and descriptions of the presets (--all: the fragments they are built from too)
//   presets show NAME         the resolved experiment as YAML (every key), after --set overrides
//   presets keys              every key of an experiment file: type, range, default, meaning
//   validate PRESET_OR_FILE   exit 0 when valid; exit 3 listing every problem as file:line:col: key: message
// The presets folder: --presets DIR, else $CASPL_PRESETS, else next to the executable (../share/caspl/presets,
// presets/), else the source tree's presets/ (core/experiment/presets.h). The logic lives in core/experiment.
#include "app/cli/cli.h"
#include "core/experiment/presets.h"
#include "core/experiment/spec_loader.h"
#include "core/util/error.h"

#include <QCoreApplication>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>

namespace caspl::cli {

std::string executableDir() { return QCoreApplication::applicationDirPath().toStdString(); }


namespace {

struct PresetsOptions {
    std::string presetsDir;
    std::string target;
    std::vector<std::string> overrides;
    bool all = false;
};

std::string presetsDirFor(const PresetsOptions& o) { return findPresetsDir(o.presetsDir, executableDir()); }

// The presets folder is needed only when the target is not a file.
std::string presetsDirIfNeeded(const PresetsOptions& o) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(o.target, ec)) {
        try {
            return presetsDirFor(o);
        } catch (const Error&) {
            return "";
        }
    }
    return presetsDirFor(o);
}

int reportInvalid(const std::string& target, const SpecError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.str() << "\n";
    const auto n = e.diagnostics().size();
    std::cerr << "caspl: " << target << ": " << n << (n == 1 ? " problem" : " problems") << "\n";
    return kBadInput;
}

int runList(const PresetsOptions& o) {
    const std::string dir = presetsDirFor(o);
    const auto presets = listPresets(dir);
    std::size_t width = 0;
    for (const auto& p : presets)
        if (o.all || !p.abstract) width = std::max(width, p.name.size());
    int shown = 0;
    for (const auto& p : presets) {
        if (p.abstract && !o.all) continue;
        std::string name = p.name;
        name.resize(width, ' ');
        std::string text = p.error.empty() ? p.description : "(YAML error: " + p.error + ")";
        if (p.abstract) text = "[fragment] " + text;
        std::cout << name << "  " << text << "\n";
        ++shown;
    }
    std::cout << shown << " presets in " << dir << (o.all ? "" : " (--all: with the fragments they extend)") << "\n";
    return kOk;
}

int runShow(const PresetsOptions& o) {
    try {
        const ExperimentSpec spec = loadPreset(o.target, presetsDirIfNeeded(o), o.overrides);
        std::cout << toYaml(spec);
    } catch (const SpecError& e) {
        return reportInvalid(o.target, e);
    }
    return kOk;
}

int runKeys() {
    for (const auto& k : specKeys()) {
        std::cout << k.key << ": " << k.type;
        if (!k.range.empty()) std::cout << ", " << k.range;
        std::cout << " (default " << k.defaultValue << ")\n    " << k.help << "\n";
    }
    return kOk;
}

int runValidate(const PresetsOptions& o) {
    ExperimentSpec spec;
    const std::string dir = presetsDirIfNeeded(o);
    std::vector<SpecDiagnostic> warnings;
    try {
        spec = loadPreset(o.target, dir, o.overrides, &warnings);
    } catch (const SpecError& e) {
        return reportInvalid(o.target, e);
    }
    if (isAbstractFile(resolvePresetFile(o.target, dir))) {
        // A fragment's keys are checked, not its completeness: `caspl run` refuses it.
        std::cout << "ok: " << spec.name << " is a valid fragment (abstract: true): presets extend it, it does not run "
                  << "on its own (caspl run refuses it)\n";
        return kOk;
    }
    std::size_t runs = spec.data.datasets.size() * spec.data.seeds.size() * spec.data.shots.size();
    std::cout << "ok: " << spec.name << " is valid (hash " << resolvedHash(spec) << ")\n"
              << "  " << methodLabel(spec) << ", " << protocolName(spec.data.protocol) << ", " << runs
              << (runs == 1 ? " run" : " runs") << " (datasets x seeds x shots)\n";
    for (const auto& w : warnings) std::cout << "  warning: " << w.str() << "\n";
    return kOk;
}

void addCommonOptions(CLI::App* cmd, PresetsOptions& o, bool overrides) {
    cmd->add_option("--presets", o.presetsDir,
                    "presets folder (default: $CASPL_PRESETS, next to the executable, or the source tree's presets/)");
    if (overrides)
        oneValueEach(cmd->add_option("--set", o.overrides,
                                     "override a key, e.g. --set train.lr=0.001 or --set data.seeds=[1,2] (repeatable; "
                                     "the value is YAML)")
                         ->check(keyValueForm()));
}

}  // namespace

void addPresetsCommands(CLI::App& app, Action* action) {
    auto* presets = app.add_subcommand("presets", "Experiment presets: list, show, keys");
    presets->require_subcommand(1);

    auto lo = std::make_shared<PresetsOptions>();
    auto* list = presets->add_subcommand("list", "List the presets (name and description)");
    addCommonOptions(list, *lo, false);
    list->add_flag("--all", lo->all, "also list the fragments (datasets/, methods/, protocols/, ...)");
    list->callback([lo, action] { *action = [lo] { return runList(*lo); }; });

    auto so = std::make_shared<PresetsOptions>();
    auto* show = presets->add_subcommand("show", "Print a preset (or file) resolved: every key, after overrides");
    show->add_option("preset", so->target, "preset name (e.g. base2novel/promptsrc_caspl/dtd) or YAML file")
        ->required();
    addCommonOptions(show, *so, true);
    show->callback([so, action] { *action = [so] { return runShow(*so); }; });

    auto* keys = presets->add_subcommand("keys", "List every key of an experiment file: type, range, default");
    keys->callback([action] { *action = [] { return runKeys(); }; });

    auto vo = std::make_shared<PresetsOptions>();
    auto* validate = app.add_subcommand(
        "validate", "Check an experiment (preset name or YAML file) without running it: exit 0 when valid, 3 with "
                    "every problem as file:line:column: key: message");
    validate->add_option("experiment", vo->target, "preset name or YAML file")->required();
    addCommonOptions(validate, *vo, true);
    validate->callback([vo, action] { *action = [vo] { return runValidate(*vo); }; });
}

}  // namespace caspl::cli
