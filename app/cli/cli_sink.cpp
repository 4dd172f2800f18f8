#include "app/cli/cli_sink.h"

#include "core/engine/event_log.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace caspl::cli {

namespace {
std::atomic<StopToken*> gStop{nullptr};  // lock-free: read in the signal handler
extern "C" void onStopSignal(int sig) {
    if (StopToken* s = gStop.load()) s->request();
    std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process
}
}  // namespace

std::string clockText(double s) {
    if (s < 0) return "--:--";
    const long t = long(s + 0.5);
    char buf[32];
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
    return buf;
}

StopHandlers::StopHandlers(StopToken& stop) : previous_(gStop.exchange(&stop)) {
    std::signal(SIGINT, onStopSignal);
    std::signal(SIGTERM, onStopSignal);
}

StopHandlers::~StopHandlers() {
    if (!previous_) {  // the command's end: nothing left to stop
        std::signal(SIGINT, SIG_IGN);
        std::signal(SIGTERM, SIG_IGN);
    }
    gStop.store(previous_);
}

CliSink::CliSink(bool json, bool quiet) : json_(json), quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1) {}

CliSink::~CliSink() { clearBar(); }

void CliSink::clearBar() {
    if (barShown_) {
        std::fprintf(stderr, "\r\033[K");
        barShown_ = false;
    }
}

void CliSink::progress(const ProgressEvent& e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (json_) {
        std::cout << nlohmann::json{{"type", "progress"}, {"run", e.run}, {"phase", e.phase}, {"dataset", e.dataset},
                                    {"shots", e.shots}, {"seed", e.seed}, {"epoch", e.epoch},
                                    {"epochs", e.epochs}, {"step", e.step}, {"steps", e.steps},
                                    {"elapsed_s", e.elapsedSeconds}, {"eta_s", e.etaSeconds}}
                         .dump()
                  << "\n";
        return;
    }
    if (quiet_ || e.steps <= 0) return;
    const int percent = int(100 * e.step / e.steps);
    // "phase2 (dtd · 16 shots · seed 2)": which training of the run this is.
    std::string what = e.phase;
    if (const std::string t = seriesLabel(e); !t.empty()) what += " (" + t + ")";
    if (tty_) {
        const auto now = std::chrono::steady_clock::now();
        if (e.step != e.steps && now - lastDraw_ < std::chrono::milliseconds(100)) return;
        lastDraw_ = now;
        const int width = 30, filled = width * percent / 100;
        std::string bar(std::size_t(filled), '#');
        bar.resize(std::size_t(width), '.');
        char loss[32] = "";
        if (lastLoss_ >= 0) std::snprintf(loss, sizeof loss, " loss %.4f", lastLoss_);
        std::fprintf(stderr, "\r\033[K%-8s epoch %d/%d [%s] %3d%% %lld/%lld%s eta %s", what.c_str(), e.epoch, e.epochs,
                     bar.c_str(), percent, static_cast<long long>(e.step), static_cast<long long>(e.steps), loss,
                     clockText(e.etaSeconds).c_str());
        barShown_ = true;
    } else if (percent / 10 != lastPercent_ / 10 || e.phase != lastPhase_ || e.step == e.steps) {
        // Plain lines every 10% when not a terminal.
        std::fprintf(stderr, "%s: epoch %d/%d step %lld/%lld (%d%%) elapsed %s eta %s\n", what.c_str(), e.epoch, e.epochs,
                     static_cast<long long>(e.step), static_cast<long long>(e.steps), percent,
                     clockText(e.elapsedSeconds).c_str(), clockText(e.etaSeconds).c_str());
    }
    lastPercent_ = percent;
    lastPhase_ = e.phase;
}

void CliSink::metric(const MetricEvent& e) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = e.values.find("loss");
    if (it != e.values.end()) lastLoss_ = it->second;
    if (json_) {
        nlohmann::json j{{"type", "metric"}, {"run", e.run},   {"phase", e.phase}, {"dataset", e.dataset}, {"shots", e.shots},
                         {"seed", e.seed},   {"epoch", e.epoch}, {"step", e.step},   {"values", e.values}};
        if (e.time > 0) j["time"] = formatEventTime(e.time);  // as events.jsonl has it
        std::cout << j.dump() << "\n";
    }
}

void CliSink::evalRow(const EvalRow& r) {
    std::lock_guard<std::mutex> lock(mu_);
    if (json_) {
        std::cout << nlohmann::json{{"type", "eval"}, {"run", r.run}, {"dataset", r.dataset}, {"method", r.method},
                                    {"shots", r.shots}, {"seed", r.seed}, {"split", r.split}, {"epoch", r.epoch},
                                    {"accuracy", r.accuracy}, {"correct", r.correct}, {"total", r.total},
                                    {"skipped_images", r.skippedImages}}
                         .dump()
                  << "\n";
        return;
    }
    clearBar();
    std::fprintf(stderr, "eval  %-20s %-18s seed %d %-6s %6.2f%% (%lld/%lld)\n", r.dataset.c_str(), r.method.c_str(), r.seed,
                 r.split.c_str(), r.accuracy, static_cast<long long>(r.correct), static_cast<long long>(r.total));
}

void CliSink::log(LogLevel level, const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    if (json_) {
        std::cout << nlohmann::json{{"type", "log"}, {"level", logLevelName(level)}, {"message", message}}.dump() << "\n";
        return;
    }
    if (quiet_ && level < LogLevel::Warning) return;
    clearBar();
    std::fprintf(stderr, "[%s] %s\n", logLevelName(level), message.c_str());
}

void CliSink::phaseChanged(const std::string& run, const std::string& phase) {
    std::lock_guard<std::mutex> lock(mu_);
    if (json_) std::cout << nlohmann::json{{"type", "phase"}, {"run", run}, {"phase", phase}}.dump() << "\n";
}

}  // namespace caspl::cli
