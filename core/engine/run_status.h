#pragma once
// What a run folder says about its run, read from its files alone and without touching them (`caspl status`, a
// batch of runs watched from a terminal): run.json, the folder's lock (is a process running it now?), the last
// progress line of events.jsonl, result.json. No LibTorch, no Qt.
#include "core/engine/events.h"
#include "core/experiment/experiment_spec.h"

#include <optional>
#include <string>
#include <vector>

namespace caspl {

struct RunFolderStatus {
    std::string folder;
    std::string name;    // the experiment's name (config.yaml)
    std::string method;  // methodLabel, e.g. "coop+caspl"
    // running: a process holds the folder now (pid; host when on another machine sharing the folder, seen by its
    // heartbeat); done; failed; stopped: interrupted, resumable; crashed: run.json says running and nobody holds the
    // folder (killed, out of host memory, a crash, its machine down), resumable from the last checkpoint;
    // not started: a folder with config.yaml and no run.json.
    std::string state;
    long pid = 0;
    std::string host;                       // the machine running it, when not this one
    std::string message;                    // run.json's message, or what to do
    std::optional<ProgressEvent> progress;  // the last progress line of events.jsonl
    std::string progressTime;               // when that line was written (UTC, ISO 8601)
    int evaluated = 0;                      // (dataset, shots, seed) with results in result.json
    int evaluations = 0;                    // how many the experiment has: datasets tested x shots x seeds
    // The run's headline figures so far where it has them (one method and shot count): the mean over seeds of base,
    // novel and all (averaged over datasets when several; a transfer run's over the datasets it was transferred to,
    // not its source, as the papers' tables) and the harmonic mean of base and novel.
    std::optional<double> base, novel, hm, accuracy;
    std::string resultsError;  // why result.json could not be read ("" when it could, or is absent)
    // The time the run's processes have spent on it, in seconds (W&B's runtime): run.json's runtime_s, which the
    // runner keeps (every attempt; a stopped run's pause is not counted, nor `caspl eval`), up to now for a run
    // running now, up to its last logged line for a crashed one. None for a run written before run.json kept it
    // (until it is resumed) and for one not started.
    std::optional<double> runtime;
};

// Throws caspl::Error naming the folder when it has no config.yaml or that cannot be read. A result.json that cannot
// be read leaves the figures out and says why in resultsError. `spec`, when given,
// receives the run's experiment as loaded from its config.yaml.
RunFolderStatus readRunFolderStatus(const std::string& folder, ExperimentSpec* spec = nullptr);

// How many evaluations an experiment plans: datasets tested (a transfer run's source and each dataset of its
// eval_datasets) x shots x seeds (each at least 1).
int plannedEvaluations(const ExperimentSpec& spec);

// The run folders among `paths`: a path that is a run folder (it holds config.yaml) is one; a folder that is not
// stands for the run folders directly inside it (e.g. runs/), sorted by name. Throws caspl::Error naming a path
// that does not exist, or a folder that holds no run folder. A run reached twice (given twice, or as a folder and
// inside the folder holding it) is listed once, where it first came.
std::vector<std::string> findRunFolders(const std::vector<std::string>& paths);

// Whether a run folder holds nothing trained: only its configuration, status, log, image lists, notes, TensorBoard
// files and the copy of reused boosting prompts (an attempt that failed on a missing dataset or model, or diverged in
// its first epoch). A corrected experiment may take such a folder over (runExperiment, the studio's Run).
bool holdsNothingTrained(const std::string& runDir);

}  // namespace caspl
