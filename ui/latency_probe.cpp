#include "ui/latency_probe.h"

#include <algorithm>
#include <cmath>

namespace caspl::ui {

LatencyProbe::LatencyProbe(int intervalMs, QObject* parent, std::size_t window)
    : QObject(parent), interval_(intervalMs), window_(std::max<std::size_t>(1, window)) {
    timer_.setTimerType(Qt::PreciseTimer);
    timer_.setInterval(intervalMs);
    connect(&timer_, &QTimer::timeout, this, &LatencyProbe::tick);
}

void LatencyProbe::start() {
    ring_.clear();
    count_ = 0;
    maxMs_ = 0;
    clock_.start();
    lastNs_ = 0;
    timer_.start();
}

void LatencyProbe::stop() { timer_.stop(); }

void LatencyProbe::tick() {
    const qint64 now = clock_.nsecsElapsed();
    const double lateMs = std::max(0.0, double(now - lastNs_) / 1e6 - interval_);
    lastNs_ = now;
    if (ring_.size() < window_) ring_.push_back(lateMs);
    else ring_[count_ % window_] = lateMs;
    ++count_;
    maxMs_ = std::max(maxMs_, lateMs);
}

std::vector<double> LatencyProbe::samples() const {
    if (ring_.size() < window_) return ring_;
    std::vector<double> out(ring_.begin() + std::ptrdiff_t(count_ % window_), ring_.end());
    out.insert(out.end(), ring_.begin(), ring_.begin() + std::ptrdiff_t(count_ % window_));
    return out;
}

double LatencyProbe::medianMs() const { return percentileMs(50); }

double LatencyProbe::percentileMs(double p) const {
    if (ring_.empty()) return 0.0;
    std::vector<double> s = ring_;
    const std::size_t k = std::min(s.size() - 1, std::size_t(std::llround(p / 100.0 * double(s.size() - 1))));
    std::nth_element(s.begin(), s.begin() + std::ptrdiff_t(k), s.end());
    return s[k];
}

QString LatencyProbe::summary() const {
    if (ring_.empty()) return tr("no samples yet");
    return tr("median %1 ms, p99 %2 ms, max %3 ms (%4 ticks of %5 ms)")
        .arg(medianMs(), 0, 'f', 2)
        .arg(percentileMs(99), 0, 'f', 2)
        .arg(maxMs(), 0, 'f', 2)
        .arg(count_)
        .arg(interval_);
}

}  // namespace caspl::ui
