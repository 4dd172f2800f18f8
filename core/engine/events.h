#pragma once
// How the engine reports to its front ends (CLI progress bar / JSON lines, GUI plots and tables, tests), without
// LibTorch or Qt: a small sink interface, called on the engine's thread, plus a stop flag the engine polls every
// step. The CLI, the GUI's worker and the tests each implement EventSink.
#include <atomic>
#include <cstdint>
#include <map>
#include <string>

namespace caspl {

enum class LogLevel { Debug, Info, Warning, Error };
const char* logLevelName(LogLevel level);

struct ProgressEvent {
    std::string run;         // run id (folder name)
    std::string phase;       // "phase1", "phase2", "eval", "pretrain", ...
    int epoch = 0;           // 1-based
    int epochs = 0;
    int64_t step = 0;        // 1-based step within the phase
    int64_t steps = 0;       // total steps of the phase
    double elapsedSeconds = 0;
    double etaSeconds = -1;  // < 0: unknown
    // Which training of the run (as in MetricEvent); empty / 0 where unknown.
    std::string dataset;
    int shots = 0;
    int seed = 0;
};

struct MetricEvent {
    std::string run;
    std::string phase;
    int epoch = 0;
    int64_t step = 0;                      // 1-based within this training (one dataset, or one dataset x shots x seed)
    std::map<std::string, double> values;  // "loss", "loss.ce", "loss.scl_text", "lr", ...
    // Which training of the run this is: phase 1 trains once per dataset (shots 0), phase 2 once per dataset x
    // shots x seed. Empty / 0 where unknown.
    std::string dataset;
    int shots = 0;
    int seed = 0;
    // When the step ended: seconds since 1970-01-01 UTC, with a fraction (TensorBoard's wall_time). The runner stamps
    // it as the event enters its sinks (events.jsonl, the TensorBoard files and the front end get the same time); the
    // event log gives it back. 0 = unknown.
    double time = 0;
};
// "dtd · 16 shots · seed 1", "dtd" (phase 1), "" when the event names no dataset.
std::string trainingLabel(const std::string& dataset, int shots, int seed);
inline std::string seriesLabel(const MetricEvent& e) { return trainingLabel(e.dataset, e.shots, e.seed); }
inline std::string seriesLabel(const ProgressEvent& e) { return trainingLabel(e.dataset, e.shots, e.seed); }

struct EvalRow {
    std::string run;
    std::string dataset;
    std::string method;       // e.g. "promptsrc+caspl"
    int seed = 0;
    std::string split;        // "base", "novel", "all"
    int epoch = 0;            // the epoch evaluated (0 = before training / zero-shot)
    double accuracy = 0;      // top-1, percent
    int64_t correct = 0;
    int64_t total = 0;
    int64_t skippedImages = 0;
    int shots = 0;            // the run's shots per class (0 = all images, or unknown in older logs)
};

class EventSink {
public:
    virtual ~EventSink() = default;
    virtual void progress(const ProgressEvent&) {}
    virtual void metric(const MetricEvent&) {}
    virtual void evalRow(const EvalRow&) {}
    virtual void log(LogLevel, const std::string&) {}
    virtual void phaseChanged(const std::string& /*run*/, const std::string& /*phase*/) {}
};

// Cooperative cancellation: the engine checks it between steps and stops with a resumable checkpoint.
class StopToken {
public:
    void request() { flag_.store(true); }
    bool requested() const { return flag_.load(); }
    void reset() { flag_.store(false); }
    const std::atomic<bool>* flag() const { return &flag_; }

private:
    std::atomic<bool> flag_{false};
};

// Thrown by the engine when a StopToken stopped it (after the checkpoint was written).
struct Interrupted {
    std::string where;
};

}  // namespace caspl
