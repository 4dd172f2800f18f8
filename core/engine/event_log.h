#pragma once
// Reading a run's events.jsonl back (the studio's plots of an opened run folder, `caspl export --curves`), and the
// per-step curves as CSV (what TensorBoard's and W&B's "download CSV" give). No LibTorch, no Qt.
#include "core/engine/events.h"

#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

struct RunEventLog {
    std::vector<MetricEvent> metrics;
    std::vector<EvalRow> evals;
    int64_t lines = 0;
    bool truncatedLastLine = false;  // a run killed while writing its last line: that line is left out
};

// Reads `path` (events.jsonl). A malformed line throws caspl::Error naming file:line and what was expected, except
// an incomplete last line, which is left out and flagged. Lines of other types (progress, log, phase) are skipped.
RunEventLog readEventLog(const std::string& path);

// One row per metric line: run, phase, dataset, shots, seed, epoch, step, then one column per metric key (the
// sorted union over all lines: loss, loss.ce, lr, ...); a cell is empty where a line has no such value.
std::string curvesCsvText(const std::vector<MetricEvent>& metrics);

}  // namespace caspl
