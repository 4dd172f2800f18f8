#pragma once
// The device panel: the compute device (CPU or CUDA GPU), its memory in use and the peak (CUDA), the process's
// resident memory, refreshed by a timer, and how responsive the GUI stayed during the current run (event-loop lag
// measured by a LatencyProbe).
#include "core/runtime.h"

#include <QTimer>
#include <QWidget>

#include <functional>

class QLabel;
class QProgressBar;
class QPushButton;

namespace caspl::ui {

class LatencyProbe;

class DevicePanel : public QWidget {
    Q_OBJECT
public:
    explicit DevicePanel(QWidget* parent = nullptr);

    // Where the numbers come from (the engine backend); without a provider the panel says so.
    void setProvider(std::function<caspl::DeviceStats()> stats, std::function<void()> resetPeak);
    void setRuntimeDescription(const QString& text);
    void setRefreshInterval(int ms);
    void setLatencyProbe(LatencyProbe* probe);

    // Reads the stats now (also called by the timer).
    void refresh();
    int refreshCount() const { return refreshes_; }
    static QString formatBytes(long long bytes);  // "1.25 GiB", "512 MiB"
    static long long processResidentBytes();      // /proc/self/statm on Linux, 0 elsewhere

private:
    std::function<caspl::DeviceStats()> stats_;
    std::function<void()> resetPeak_;
    LatencyProbe* probe_ = nullptr;
    QTimer timer_;
    QLabel* runtime_;
    QLabel* device_;
    QLabel* memory_;
    QLabel* peak_;
    QLabel* process_;
    QLabel* latency_;
    QProgressBar* memoryBar_;
    QPushButton* resetButton_;
    int refreshes_ = 0;
};

}  // namespace caspl::ui
