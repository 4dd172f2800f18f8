#pragma once
// Reading a run's events.jsonl back (the studio's plots of an opened run folder, `caspl export --curves`), and the
// per-step curves as CSV (what TensorBoard's and W&B's "download CSV" give). No LibTorch, no Qt.
#include "core/engine/events.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace caspl {

struct RunEventLog {
    std::vector<MetricEvent> metrics;
    std::vector<EvalRow> evals;
    // The wall time of each metric and eval line (its "time", seconds since 1970-01-01 UTC; 0 for a line without
    // one), index for index with `metrics` and `evals`.
    std::vector<double> metricTimes, evalTimes;
    // For each eval line: how many metric lines came before it (which training it followed).
    std::vector<std::size_t> evalAfterMetrics;
    int64_t lines = 0;
    bool truncatedLastLine = false;  // a run killed while writing its last line: that line is left out
};

// An events.jsonl line's "time" as seconds since 1970-01-01 UTC: "2026-12-07T05:19:29.250Z" (what the runner
// writes) or without the fraction (what it wrote before); 0 when it is not of that form.
double parseEventTime(const std::string& time);
// Seconds since 1970-01-01 UTC as an events.jsonl "time": ISO 8601 in UTC with milliseconds.
std::string formatEventTime(double seconds);
// The wall clock now, as seconds since 1970-01-01 UTC with a fraction.
double nowEventTime();

// Reads `path` (events.jsonl): its metric and evaluation lines. A malformed line throws caspl::Error naming
// file:line and what was expected, except an incomplete last line, which is left out and flagged. Lines of other
// types (progress, log, phase) are not looked at.
RunEventLog readEventLog(const std::string& path);

// Follows the events.jsonl of a run that another process is writing (what TensorBoard does with a log folder):
// each poll() hands the lines appended since the previous call to `sink`, every type (progress, metric, eval, log,
// phase) as the engine emitted it. A line not yet ended by its newline waits for the next poll. A malformed
// complete line throws caspl::Error naming file:line (the next poll goes on after it). A log that was replaced (a
// new run took the folder over: another file, or a shorter one) is read again from its start: the poll that
// notices says `restarted` and hands nothing over, so that the caller drops what it had before polling again.
// A missing file is not an error (the run has not written it yet).
class EventLogFollower {
public:
    explicit EventLogFollower(std::string path);
    struct Poll {
        int64_t lines = 0;       // complete lines handed over by this call
        bool restarted = false;  // the file was replaced: what came before is stale; nothing handed over yet
    };
    Poll poll(EventSink& sink);
    const std::string& path() const { return path_; }
    int64_t offset() const { return offset_; }  // bytes read so far

private:
    std::string path_;
    int64_t offset_ = 0;
    int64_t lineNo_ = 0;
    uint64_t inode_ = 0, device_ = 0;
};

// The last progress line of an events.jsonl (a long run's log is large: it is read from its end), with the time
// it was written (its "time", UTC) in `time` when given. nullopt when the file is missing or has none.
std::optional<ProgressEvent> lastProgressEvent(const std::string& path, std::string* time = nullptr);

// The time of the last complete line of an events.jsonl (read from its end); 0 when it has none with a time.
double lastEventTime(const std::string& path);
// The time of the last line logged by the process that last wrote run.json, at `since` (its "updated"), and died:
// the log's last complete line, or, when `caspl eval` ran on the folder since then, the last line before the first
// such evaluation. 0 when there is none.
double attemptEnd(const std::string& path, double since);

// The time a run's processes spent on it as its events.jsonl tells (for runs written before run.json kept it): each
// process's lines begin with its "starting run" or "resuming run" line; the time from there to its last line is
// added up (the warnings an earlier version logged just before a start line count with the process they precede).
// The lines of `caspl eval` processes ("evaluating run") are not counted, as run.json does not count them. 0 for a
// log without such lines.
double runtimeFromEventLog(const std::string& path);

// One row per metric line: run, phase, dataset, shots, seed, epoch, step, wall_time (seconds since 1970-01-01 UTC
// with milliseconds, as TensorBoard's CSV download gives it; empty when the line has no time), then one column per
// metric key (the sorted union over all lines: loss, loss.ce, lr, ...); a cell is empty where a line has no such
// value.
std::string curvesCsvText(const std::vector<MetricEvent>& metrics);

}  // namespace caspl
