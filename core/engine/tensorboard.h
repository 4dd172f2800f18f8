#pragma once
// A run's curves and accuracies as TensorBoard event files (`caspl export --tensorboard`), so that runs of this
// tool sit next to the runs researchers already keep in TensorBoard (Dassl's trainers write there) and in
// Weights & Biases (`wandb sync DIR` uploads such files). No LibTorch, no Qt.
//
// The file format is TensorFlow's TFRecord of `Event` messages: per record the payload's length (uint64, little
// endian), the masked CRC-32C of those 8 bytes, the payload, the masked CRC-32C of the payload. The first event
// names the format version ("brain.Event:2"), the second marks a session start at the file's first step (so that
// a TensorBoard that had read an earlier export of the same training drops what it had from that step on); each
// further event holds one scalar summary (tag, float value) at a step and a wall time. The few protobuf fields this
// needs are written here (see tensorboard.cpp for why).
#include "core/engine/event_log.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

// CRC-32C (Castagnoli polynomial, reflected, initial value and final xor 0xFFFFFFFF), as TFRecord uses it.
uint32_t crc32c(const void* data, std::size_t size);
// TFRecord's masked form of it: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t maskedCrc32c(const void* data, std::size_t size);
// One TFRecord: length, masked CRC of the length, payload, masked CRC of the payload.
std::string tfRecord(const std::string& payload);

struct TbScalar {
    std::string tag;        // "train/loss", "eval/novel", ...
    int64_t step = 0;
    double wallTime = 0;    // seconds since 1970-01-01 UTC
    double value = 0;       // written as a 32-bit float, as TensorBoard's simple_value is
};

// The bytes of one event file: the version event at `startTime`, a session-start event at the smallest step of
// `scalars` (none when there are no scalars), then one event per scalar in the given order.
std::string tfEventFile(const std::vector<TbScalar>& scalars, double startTime);

// One folder of the export: one training of a run (TensorBoard's "run"), with its scalars.
struct TbTraining {
    std::string folder;              // relative to the run's folder: "dtd/phase1", "dtd/16shots_seed1", "dtd/all_seed1"
    std::vector<TbScalar> scalars;   // sorted by step (ties keep the log's order)
};

// What the export writes for one run's event log:
// - each metric line's values as "train/<key>" (loss, loss.ce, lr, ...) at its step, in the folder of its training
//   (phase 1: "<dataset>/phase1"; phase 2 or a plain training: "<dataset>/<K>shots_seed<S>", "all_seed<S>" for K 0).
//   Lines that name no dataset (logs of early versions) go to "unnamed/<phase>_<n>", a new n each time the step
//   starts again.
// - each evaluation as "eval/<split>" (top-1 accuracy in percent), and "eval/hm" where base and novel were evaluated
//   at the same epoch, in the folder of the training it evaluated, at the last step of the epoch it evaluated (0
//   before training). An evaluation on another dataset than the one trained (cross-dataset, domain generalisation)
//   goes to the training that came before it in the log with the same K and seed, as "eval/<dataset>/<split>".
//   An evaluation without a training (zero-shot) has a folder of its own, at step 0. Where one folder holds
//   evaluations of several methods, the method comes first: "eval/<method>/...".
// - A resumed run logs the steps after its last checkpoint again: a step at or below one already seen in the same
//   training replaces what was logged from that step on. Evaluations repeated for the same method, dataset, split
//   and epoch keep the last one.
// A line's wall time is its "time" (RunEventLog::metricTimes / evalTimes); one without a time takes `fallbackTime`.
std::vector<TbTraining> tensorBoardTrainings(const RunEventLog& log, double fallbackTime);

// One run to export: the name of its folder (the name it has in TensorBoard), the folder's path (recorded in the
// export so that another run of the same name does not take its place), its event log.
struct TbRun {
    std::string name;
    std::string source;
    RunEventLog log;
};

struct TbExportSummary {
    std::vector<std::string> files;     // the event files written, relative to the output folder
    int64_t scalars = 0;
    std::vector<std::string> warnings;  // runs with nothing to export, earlier files that could not be removed
};

// Writes `outDir/<name>/<training folder>/events.out.tfevents.<time>.<host>.caspl` for each run:
// - <name> is the run's name made safe for a folder (ASCII letters, digits, '.', '_', '-' and non-ASCII UTF-8 kept,
//   anything else '_'). `outDir/<name>/.caspl-run` records the run's `source`; a folder of that name that holds
//   another run's export, or a second run of the same name in `runs`, makes it "<name>_2", "<name>_3", ...
// - Refuses (caspl::Error naming the folder) to write into a run folder (one with config.yaml or run.json).
// - Each file is written to a temporary name and renamed into place; only then are the event files an earlier export
//   of this tool left in that folder (names ending in ".caspl") removed, so that TensorBoard does not show a curve
//   twice and a failed export never loses the previous one. The new file's time is later than theirs, so that
//   TensorBoard, which reads a folder's files in name order, takes it as the newest.
// Throws caspl::Error naming the path on a write error.
TbExportSummary writeTensorBoard(const std::vector<TbRun>& runs, const std::string& outDir, const std::string& host,
                                 double now);

}  // namespace caspl
