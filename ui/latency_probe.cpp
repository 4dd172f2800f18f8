#include "ui/latency_probe.h"

#include <algorithm>
#include <cmath>

namespace caspl::ui {

LatencyProbe::LatencyProbe(int intervalMs, QObject* parent) : QObject(parent), interval_(intervalMs) {
    timer_.setTimerType(Qt::PreciseTimer);
    timer_.setInterval(intervalMs);
    connect(&timer_, &QTimer::timeout, this, &LatencyProbe::tick);
}

void LatencyProbe::start() {
    samples_.clear();
    clock_.start();
    lastNs_ = 0;
    timer_.start();
}

void LatencyProbe::stop() { timer_.stop(); }

void LatencyProbe::tick() {
    const qint64 now = clock_.nsecsElapsed();
    const double lateMs = double(now - lastNs_) / 1e6 - interval_;
    lastNs_ = now;
    samples_.push_back(std::max(0.0, lateMs));
}

double LatencyProbe::maxMs() const { return samples_.empty() ? 0.0 : *std::max_element(samples_.begin(), samples_.end()); }

double LatencyProbe::medianMs() const { return percentileMs(50); }

double LatencyProbe::percentileMs(double p) const {
    if (samples_.empty()) return 0.0;
    std::vector<double> s = samples_;
    const std::size_t k = std::min(s.size() - 1, std::size_t(std::llround(p / 100.0 * double(s.size() - 1))));
    std::nth_element(s.begin(), s.begin() + std::ptrdiff_t(k), s.end());
    return s[k];
}

QString LatencyProbe::summary() const {
    if (samples_.empty()) return tr("no samples yet");
    return tr("median %1 ms, p99 %2 ms, max %3 ms (%4 ticks of %5 ms)")
        .arg(medianMs(), 0, 'f', 2)
        .arg(percentileMs(99), 0, 'f', 2)
        .arg(maxMs(), 0, 'f', 2)
        .arg(samples_.size())
        .arg(interval_);
}

}  // namespace caspl::ui
