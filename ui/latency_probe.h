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
    // `window`: how many of the latest ticks the percentiles cover (default 5 minutes at 10 ms).
    explicit LatencyProbe(int intervalMs = 10, QObject* parent = nullptr, std::size_t window = 30000);
    void start();  // clears earlier samples
    void stop();
    bool isActive() const { return timer_.isActive(); }
    int intervalMs() const { return interval_; }

    // Memory stays bounded over a run of days: the percentiles are over the last `window` ticks, the count and the
    // maximum over every tick since start().
    int sampleCount() const { return int(count_); }  // every tick since start()
    double maxMs() const { return maxMs_; }          // over every tick since start()
    double medianMs() const;
    double percentileMs(double p) const;  // p in [0, 100], over the window
    std::vector<double> samples() const;  // the window's lateness per tick, oldest first (ms)
    QString summary() const;  // "median 0.4 ms, p99 2.1 ms, max 5.3 ms (1234 ticks of 10 ms)"

private:
    void tick();
    int interval_;
    QTimer timer_;
    QElapsedTimer clock_;
    qint64 lastNs_ = 0;
    std::size_t window_;
    std::vector<double> ring_;  // the window, a ring once full
    std::size_t count_ = 0;
    double maxMs_ = 0;
};

}  // namespace caspl::ui
