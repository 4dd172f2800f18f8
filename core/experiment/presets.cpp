#include "core/experiment/presets.h"

#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/suggest.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace caspl {

namespace fs = std::filesystem;

namespace {
bool isDir(const std::string& p) {
    std::error_code ec;
    return !p.empty() && fs::is_directory(p, ec);
}
bool isYaml(const fs::path& p) { return p.extension() == ".yaml" || p.extension() == ".yml"; }
}  // namespace

std::vector<std::string> presetsDirCandidates(const std::string& exeDir) {
    std::vector<std::string> out;
    if (!exeDir.empty()) {
        out.push_back((fs::path(exeDir) / ".." / "share" / "caspl" / "presets").lexically_normal().string());
        out.push_back((fs::path(exeDir) / "presets").lexically_normal().string());
    }
#ifdef CASPL_SOURCE_PRESETS_DIR
    out.push_back(CASPL_SOURCE_PRESETS_DIR);
#endif
    return out;
}

std::string findPresetsDir(const std::string& explicitDir, const std::string& exeDir) {
    if (!explicitDir.empty()) {
        if (!isDir(explicitDir)) throw Error(explicitDir + ": presets folder not found (--presets)");
        return explicitDir;
    }
    if (const char* env = std::getenv("CASPL_PRESETS"); env && *env) {
        if (!isDir(env)) throw Error(std::string(env) + ": presets folder not found (environment variable CASPL_PRESETS)");
        return env;
    }
    const auto candidates = presetsDirCandidates(exeDir);
    for (const auto& c : candidates)
        if (isDir(c)) return c;
    throw Error("no presets folder found; looked in " + (candidates.empty() ? std::string("(nowhere)") : joinNames(candidates)) +
                "; give one with --presets DIR or the environment variable CASPL_PRESETS");
}

std::string presetNameOf(const std::string& file, const std::string& presetsDir) {
    if (presetsDir.empty()) return "";
    std::error_code ec;
    const fs::path f = fs::weakly_canonical(file, ec);
    const fs::path d = fs::weakly_canonical(presetsDir, ec);
    const fs::path rel = f.lexically_relative(d);
    if (rel.empty() || *rel.begin() == "..") return "";
    fs::path name = rel;
    if (isYaml(name)) name.replace_extension();
    return name.generic_string();
}

std::vector<PresetInfo> listPresets(const std::string& dir) {
    if (!isDir(dir)) throw Error(dir + ": presets folder not found");
    std::vector<PresetInfo> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_regular_file(ec) || !isYaml(it->path())) continue;
        PresetInfo p;
        p.path = it->path().string();
        fs::path rel = it->path().lexically_relative(dir);
        rel.replace_extension();
        p.name = rel.generic_string();
        try {
            const YAML::Node root = YAML::LoadFile(p.path);
            if (root.IsMap()) {
                if (root["description"] && root["description"].IsScalar()) p.description = root["description"].Scalar();
                if (root["abstract"] && root["abstract"].IsScalar()) {
                    const std::string a = root["abstract"].Scalar();
                    p.abstract = a == "true" || a == "yes" || a == "on";
                }
            }
            if (p.description.empty()) {  // a fragment: its leading comment says what it is
                const std::string text = readFile(p.path);
                if (text.rfind("# ", 0) == 0) p.description = text.substr(2, text.find('\n') - 2);
            }
        } catch (const YAML::Exception& e) {
            p.error = "line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) +
                      ": " + e.msg;
        }
        out.push_back(std::move(p));
    }
    if (ec) throw Error(dir + ": cannot list the presets folder: " + ec.message());
    std::sort(out.begin(), out.end(), [](const PresetInfo& a, const PresetInfo& b) { return a.name < b.name; });
    return out;
}

std::string resolvePresetFile(const std::string& nameOrPath, const std::string& presetsDir) {
    std::error_code ec;
    if (fs::is_regular_file(nameOrPath, ec)) return nameOrPath;
    if (!presetsDir.empty()) {
        for (const char* ext : {"", ".yaml", ".yml"}) {
            const std::string p = (fs::path(presetsDir) / (nameOrPath + ext)).string();
            if (fs::is_regular_file(p, ec)) return p;
        }
    }
    if (fs::is_directory(nameOrPath, ec)) throw Error(nameOrPath + ": is a folder, expected a preset name or a YAML file");
    std::string msg = "no preset or file '" + nameOrPath + "'";
    if (!presetsDir.empty() && isDir(presetsDir)) {
        std::vector<std::string> names;
        for (const auto& p : listPresets(presetsDir))
            if (!p.abstract) names.push_back(p.name);
        const std::string near = closestMatch(nameOrPath, names);
        msg += " (presets in " + presetsDir + ")";
        if (!near.empty()) msg += "; did you mean '" + near + "'?";
        else msg += "; `caspl presets list` lists them";
    }
    throw Error(msg);
}

ExperimentSpec loadPreset(const std::string& nameOrPath, const std::string& presetsDir,
                          const std::vector<std::string>& overrides, std::vector<SpecDiagnostic>* warnings) {
    const std::string file = resolvePresetFile(nameOrPath, presetsDir);
    LoadOptions options;
    options.name = presetNameOf(file, presetsDir);
    options.fragment = isAbstractFile(file);
    options.warnings = warnings;
    return loadExperiment(file, overrides, options);
}

}  // namespace caspl
