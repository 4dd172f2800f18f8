#pragma once
// The command line's view of engine events: a progress bar with ETA on a terminal, plain lines otherwise, or
// JSON lines on stdout for scripts (--json). Also the SIGINT/SIGTERM handling that stops a run at the next step.
#include "core/engine/events.h"
#include "core/experiment/results.h"

#include <chrono>
#include <mutex>
#include <string>

namespace caspl::cli {

class CliSink : public EventSink {
public:
    explicit CliSink(bool json, bool quiet = false);
    ~CliSink() override;
    void progress(const ProgressEvent& e) override;
    void metric(const MetricEvent& e) override;
    void evalRow(const EvalRow& r) override;
    void log(LogLevel level, const std::string& message) override;
    void phaseChanged(const std::string& run, const std::string& phase) override;

private:
    void clearBar();
    bool json_, quiet_, tty_;
    bool barShown_ = false;
    std::chrono::steady_clock::time_point lastDraw_{};
    int lastPercent_ = -1;
    std::string lastPhase_;
    double lastLoss_ = -1;
    std::mutex mu_;
};

// The base / novel / all / HM table printed after a run: mean ± std over seeds per dataset, and the average rows.
std::string formatSummaryTable(const ResultsSummary& summary);

// A duration as the progress line shows it: "02:10", "1:02:03"; "--:--" when negative (unknown).
std::string clockText(double seconds);

// While it lives, SIGINT and SIGTERM request `stop` (a second signal ends the process at once). Its end gives the
// signals back to the guard it was made under (the demo's runs inside the demo command), or, at a command's end, has
// them ignored: a signal arriving as the process exits never writes into a token that is gone.
class StopHandlers {
public:
    explicit StopHandlers(StopToken& stop);
    ~StopHandlers();
    StopHandlers(const StopHandlers&) = delete;
    StopHandlers& operator=(const StopHandlers&) = delete;

private:
    StopToken* previous_;
};

}  // namespace caspl::cli
