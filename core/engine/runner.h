#pragma once
// Running an experiment end to end (the CLI's `caspl run` and the GUI's worker call this): for each dataset,
// shots and seed — read the dataset, sample the few-shot lists exactly as Dassl does, train CasPL phase 1 once per
// dataset (or reuse an artifact), train the method (phase 2), evaluate on base and novel classes (or all), and
// write everything into a run folder:
//
//   <run>/config.yaml            the resolved experiment (what ran)
//   <run>/run.json               name, hash, status (running | done | failed | interrupted), times
//   <run>/events.jsonl           every progress, metric, evaluation and log event
//   <run>/<dataset>/lists_k<K>_seed<S>.json          the sampled train/val/test lists (readable)
//   <run>/<dataset>/phase1/      boosting.safetensors + boosting.json (+ phase-1 checkpoint while training)
//   <run>/<dataset>/phase1_artifact/  with phase1.artifact: the run's copy of the boosting prompts it reuses
//   <run>/<dataset>/k<K>_seed<S>/  prompts.safetensors, phase2 checkpoint, result.json
//   <run>/result.json, <run>/results.csv   all records and their aggregation (written atomically)
//
// Starting a run whose folder exists resumes it when the configuration is the same (finished seeds are skipped,
// interrupted ones continue from their checkpoint) and refuses otherwise: nothing is silently overwritten. The one
// exception is a folder holding nothing trained (an attempt that failed on a missing dataset or model): the new
// configuration takes it over, keeping the old log as events.replaced.jsonl. A run holds its folder's lock
// (core/util/dir_lock.h) while it works, so a second run of the same folder, in any process, is refused.
// No LibTorch in this header.
#include "core/engine/events.h"
#include "core/experiment/experiment_spec.h"
#include "core/experiment/results.h"

#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

// The folder of a dataset holding the run's copy of reused boosting prompts (phase1.artifact).
constexpr const char* kReusedBoostingFolder = "phase1_artifact";

struct RunOptions {
    std::string runDir;        // default: <spec.output>/<spec.name>
    bool evalOnly = false;     // evaluate the saved prompts of trained seeds again, never train (caspl eval); the
                               // run's status stays as it was
    int threads = 0;           // loader threads (0: spec.data.loader_threads, then every core)
    // How often, at most, run.json is written again while the run runs (its runtime_s, so that a process that dies
    // loses little of the time it spent), at a progress event.
    double statusEverySeconds = 60;
};

struct RunOutcome {
    std::string runDir;
    std::vector<ResultRecord> records;
    ResultsSummary summary;
    bool resumed = false;
    int64_t skippedImages = 0;
};

// The run folder an experiment gets by default.
std::string defaultRunDir(const ExperimentSpec& spec);

// Runs (or resumes) the experiment. Throws caspl::Error for bad input (missing data or models, a folder holding
// another experiment), Interrupted when `stop` was requested (after writing checkpoints), other std::exception on
// failures (out of memory...). run.json records the outcome in every case.
RunOutcome runExperiment(const ExperimentSpec& spec, const RunOptions& options, EventSink& sink, const StopToken& stop);

// Reads a run folder's config.yaml (to resume or re-evaluate it).
ExperimentSpec loadRunSpec(const std::string& runDir);

// A run folder's status from run.json (running | done | failed | interrupted); "" when it cannot be read.
std::string runStatus(const std::string& runDir);

// Every record of a run folder (its result.json), for `caspl export`.
std::vector<ResultRecord> loadRunRecords(const std::string& runDir);

}  // namespace caspl
