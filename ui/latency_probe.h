#pragma once
// Measures how responsive the GUI thread is: a precise timer fires every intervalMs and records how late each tick
// was (the time since the previous tick minus the interval). While the event loop is free the lateness stays near
// zero; anything that blocks the GUI thread (a long slot, a redraw storm) shows up as a late tick.
#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <vector>

namespace caspl::ui {

class LatencyProbe : public QObject {
    Q_OBJECT
public:
    explicit LatencyProbe(int intervalMs = 10, QObject* parent = nullptr);
    void start();  // clears earlier samples
    void stop();
    bool isActive() const { return timer_.isActive(); }
    int intervalMs() const { return interval_; }

    int sampleCount() const { return int(samples_.size()); }
    double maxMs() const;
    double medianMs() const;
    double percentileMs(double p) const;  // p in [0, 100]
    const std::vector<double>& samples() const { return samples_; }
    QString summary() const;  // "median 0.4 ms, p99 2.1 ms, max 5.3 ms (1234 ticks)"

private:
    void tick();
    int interval_;
    QTimer timer_;
    QElapsedTimer clock_;
    qint64 lastNs_ = 0;
    std::vector<double> samples_;  // lateness per tick, ms
};

}  // namespace caspl::ui
