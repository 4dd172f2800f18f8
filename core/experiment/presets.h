#pragma once
// The preset library (presets/*.yaml in the source tree, share/caspl/presets when installed): finding the folder,
// listing the presets and resolving a preset name to its file.
//
// A preset's name is its path under the presets folder without ".yaml", e.g. "base2novel/promptsrc_caspl/dtd".
// Files marked `abstract: true` (datasets/, methods/, protocols/, ...) are fragments that presets extend; they are
// listed only on request.
#include "core/experiment/spec_loader.h"

#include <string>
#include <vector>

namespace caspl {

// The presets folder: `explicitDir` when given, else $CASPL_PRESETS, else <exeDir>/../share/caspl/presets (an
// installed layout), <exeDir>/presets, then the source tree's presets/ compiled in. An explicit folder or
// $CASPL_PRESETS that does not exist is an error; otherwise the first existing candidate wins, and when none
// exists a caspl::Error lists the places tried.
std::string findPresetsDir(const std::string& explicitDir = "", const std::string& exeDir = "");
// The candidates findPresetsDir tries after explicitDir and $CASPL_PRESETS, in order.
std::vector<std::string> presetsDirCandidates(const std::string& exeDir);

struct PresetInfo {
    std::string name;         // path under the folder without .yaml
    std::string path;         // the file
    std::string description;  // the file's own description, else its first comment line
    bool abstract = false;    // a fragment
    std::string error;        // set when the file cannot be read as YAML (the preset is still listed)
};
// Every *.yaml / *.yml file under `dir`, sorted by name. Reads each file's own `description` (or first comment
// line) and `abstract` without resolving extends.
std::vector<PresetInfo> listPresets(const std::string& dir);

// A path to an existing file is returned as is; otherwise `nameOrPath` is looked up as a preset name in
// `presetsDir` (with or without ".yaml"). Throws caspl::Error naming what was tried, with the closest preset name.
std::string resolvePresetFile(const std::string& nameOrPath, const std::string& presetsDir);
// The preset name of a file inside `presetsDir` ("" when it is outside).
std::string presetNameOf(const std::string& file, const std::string& presetsDir);

// resolvePresetFile + loadExperiment; the name defaults to the preset name. Abstract files load as fragments.
ExperimentSpec loadPreset(const std::string& nameOrPath, const std::string& presetsDir,
                          const std::vector<std::string>& overrides = {},
                          std::vector<SpecDiagnostic>* warnings = nullptr);  // LoadOptions::warnings

}  // namespace caspl
