#pragma once
// Loading an experiment the way Dassl researchers layer configs: dataset file -> method file -> experiment file ->
// command-line overrides, later wins.
//
//   extends: [../datasets/oxford_pets.yaml, ../methods/promptsrc.yaml]   # paths relative to this file
//
// Each file listed under `extends` is loaded (with its own extends, recursively), the files are merged in order,
// then the file itself on top: maps merge key by key, a scalar or a list replaces the earlier value, an empty
// section (`train:` alone) changes nothing. A file may be
// reached twice (a diamond); reaching a file from itself is an error (a cycle). `name`, `description`, `source`
// and `abstract` belong to the file that says them and are not inherited. Overrides `--set key.sub=value` come
// last; the value is YAML (`--set data.seeds=[1,2]`, `--set method.ctx_init=""`).
//
// Everything is checked before anything runs, and every problem is reported at once, each as
// "<file>:<line>:<column>: <key>: <what was expected>" (1-based; overrides: "--set <arg>: ..."):
//   YAML syntax errors (yaml-cpp's position), unknown keys (with the nearest valid key: "did you mean 'lr'?"),
//   wrong types ("expected an integer, got 'abc'"), values out of range or not among the choices, duplicate keys,
//   missing extends files (at the referencing file's line), extends cycles, and the combinations that cannot run
//   (method layout rules of MethodConfig::validate, protocol rules, fp16 on CPU, ...).
#include "core/experiment/experiment_spec.h"
#include "core/util/error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

// A position in a file, 1-based; line 0: no position (a default, or a command-line override).
struct SpecLocation {
    std::string file;  // a path, or "--set key=value" for an override
    int line = 0;
    int column = 0;
    std::string str() const;  // "file:line:col", or "file" without a position
};

struct SpecDiagnostic {
    SpecLocation where;
    std::string key;      // dotted key path ("train.lr"), "" when none
    std::string message;  // what was wrong and what was expected
    std::string str() const;  // "<where>: <key>: <message>"
};

// Thrown for any invalid experiment; what() is every diagnostic, one per line.
class SpecError : public Error {
public:
    explicit SpecError(std::vector<SpecDiagnostic> diagnostics);
    const std::vector<SpecDiagnostic>& diagnostics() const { return diagnostics_; }

private:
    std::vector<SpecDiagnostic> diagnostics_;
};

struct LoadOptions {
    std::string name;       // the experiment's name when the files set none (default: the top file's stem)
    // Check keys, types and ranges only, not completeness or combinations: for fragments (abstract files such as
    // presets/datasets/*.yaml) that are not experiments on their own.
    bool fragment = false;
    // The command-line flag each override came from, as messages and the resolved file's layers name it ("--set"
    // where not given; "--sweep" for a sweep's values).
    std::vector<std::string> overrideFlags;
    // Where given, receives a warning for each key that the experiment's own file or an override sets although it
    // has no effect on this experiment (inertKeys): a PromptSRC weight with CoOp, a phase-1 key with phase 1 off.
    // Keys set by the files it extends are not named (a shared base sets the teacher for every method), nor those of
    // a resolved configuration (a run's config.yaml writes every key).
    std::vector<SpecDiagnostic>* warnings = nullptr;
};

// Loads, layers, overrides and validates. Throws SpecError (a caspl::Error).
ExperimentSpec loadExperiment(const std::string& path, const std::vector<std::string>& overrides = {},
                              const LoadOptions& options = {});
// The same from YAML text; `displayName` names it in messages, relative extends resolve against `baseDir`.
ExperimentSpec loadExperimentFromString(const std::string& yaml, const std::string& displayName,
                                        const std::string& baseDir, const std::vector<std::string>& overrides = {},
                                        const LoadOptions& options = {});

// The resolved experiment as YAML, every key written (defaults too) except unset optional numbers and the whole
// `reference:` section when it holds no numbers, in schema order, with no extends: loading it back gives an equal
// spec. A leading comment lists `layers`.
std::string toYaml(const ExperimentSpec& spec);
// Whether a file's text is toYaml's (its first line): a run's config.yaml, or a file the studio saved.
bool isResolvedConfigText(const std::string& text);
// A stable identity of the experiment (16 hex digits, FNV-1a 64 of a canonical text of every value except the
// operational keys below and reference.*, with the inert keys below at their defaults): the same values give the
// same hash on every machine and yaml-cpp version.
std::string resolvedHash(const ExperimentSpec& spec);
// Keys that do not make another experiment, left out of its hash and of the runs table's differing keys: what
// documents it (description, source), where it is written (output), how a step is launched (train.cuda_graphs),
// what is logged (train.tensorboard) and how the machine is used (data.loader_threads, data.image_cache,
// train.text_chunk).
bool isOperationalKey(const std::string& key);

// The keys whose value has no effect on this experiment, and why: the method's options that another method reads
// (PromptSRC's loss weights and aggregation with CoOp), every prompt and training key of zero-shot CLIP, the phase-1
// keys and the teacher when phase 1 is off, and the keys of phase 1's training when its prompts come from
// phase1.artifact. resolvedHash gives them their default values (two experiments that differ only there are one
// experiment), and the runs table leaves them out of a run's row.
struct InertKey {
    std::string key;  // dotted path
    std::string why;  // "a PromptSRC option; the method is coop"
};
std::vector<InertKey> inertKeys(const ExperimentSpec& spec);
// Those of them whose value is not the default: where a resolved text (the studio's YAML tab) says what was changed.
std::vector<InertKey> inertKeysAwayFromDefault(const ExperimentSpec& spec);

// The schema, for documentation (`caspl presets keys`) and front ends.
struct SpecKeyInfo {
    std::string key;       // dotted path, e.g. "train.lr"
    std::string type;      // "integer", "number", "boolean", "string", "one of a|b", "list of integers", ...
    std::string range;     // e.g. ">= 1", "" when any
    std::string defaultValue;
    std::string help;
};
std::vector<SpecKeyInfo> specKeys();

// Whether a file is marked `abstract: true` (a fragment), read without resolving it. Throws SpecError for YAML
// syntax errors.
bool isAbstractFile(const std::string& path);

}  // namespace caspl
