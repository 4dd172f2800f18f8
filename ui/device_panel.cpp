#include "ui/device_panel.h"

#include "ui/latency_probe.h"

#include <QFile>
#include <QFormLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include <unistd.h>

namespace caspl::ui {

DevicePanel::DevicePanel(QWidget* parent) : QWidget(parent) {
    setObjectName("devicePanel");
    runtime_ = new QLabel(this);
    runtime_->setObjectName("deviceRuntime");
    runtime_->setWordWrap(true);
    device_ = new QLabel(tr("–"), this);
    device_->setObjectName("deviceName");
    device_->setWordWrap(true);
    memory_ = new QLabel(tr("–"), this);
    memory_->setObjectName("deviceMemory");
    peak_ = new QLabel(tr("–"), this);
    peak_->setObjectName("devicePeak");
    process_ = new QLabel(tr("–"), this);
    process_->setObjectName("processMemory");
    latency_ = new QLabel(tr("no run yet"), this);
    latency_->setObjectName("eventLoopLatency");
    latency_->setWordWrap(true);
    latency_->setToolTip(tr("How late a 10 ms timer fired on the GUI thread during the current (or last) run: "
                            "the window's responsiveness while the engine trains in its background thread"));
    for (QLabel* l : {memory_, peak_, process_}) l->setWordWrap(true);
    memoryBar_ = new QProgressBar(this);
    memoryBar_->setRange(0, 1000);
    memoryBar_->setTextVisible(false);
    memoryBar_->setMaximumHeight(10);
    resetButton_ = new QPushButton(tr("Reset peak"), this);
    resetButton_->setObjectName("resetPeakButton");

    auto* form = new QFormLayout;
    form->addRow(tr("Device:"), device_);
    form->addRow(tr("GPU memory in use:"), memory_);
    form->addRow(QString(), memoryBar_);
    form->addRow(tr("GPU memory peak:"), peak_);
    form->addRow(tr("Process memory:"), process_);
    form->addRow(tr("UI event-loop lag:"), latency_);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(runtime_);
    layout->addLayout(form);
    layout->addWidget(resetButton_, 0, Qt::AlignLeft);
    layout->addStretch(1);

    connect(resetButton_, &QPushButton::clicked, this, [this] {
        if (resetPeak_) resetPeak_();
        refresh();
    });
    timer_.setInterval(1000);
    connect(&timer_, &QTimer::timeout, this, &DevicePanel::refresh);
    timer_.start();
}

void DevicePanel::setProvider(std::function<caspl::DeviceStats()> stats, std::function<void()> resetPeak) {
    stats_ = std::move(stats);
    resetPeak_ = std::move(resetPeak);
    refresh();
}

void DevicePanel::setRuntimeDescription(const QString& text) { runtime_->setText(text); }

void DevicePanel::setRefreshInterval(int ms) { timer_.setInterval(ms); }

void DevicePanel::setLatencyProbe(LatencyProbe* probe) { probe_ = probe; }

QString DevicePanel::formatBytes(long long bytes) {
    const double b = double(bytes);
    if (b >= 1024.0 * 1024 * 1024) return tr("%1 GiB").arg(b / (1024.0 * 1024 * 1024), 0, 'f', 2);
    if (b >= 1024.0 * 1024) return tr("%1 MiB").arg(b / (1024.0 * 1024), 0, 'f', 0);
    return tr("%1 KiB").arg(b / 1024.0, 0, 'f', 0);
}

long long DevicePanel::processResidentBytes() {
    QFile f(QStringLiteral("/proc/self/statm"));
    if (!f.open(QIODevice::ReadOnly)) return 0;
    const QList<QByteArray> parts = f.readAll().simplified().split(' ');
    if (parts.size() < 2) return 0;
    return parts[1].toLongLong() * (long long)sysconf(_SC_PAGESIZE);
}

void DevicePanel::refresh() {
    ++refreshes_;
    const long long rss = processResidentBytes();
    process_->setText(rss > 0 ? formatBytes(rss) + tr(" resident") : tr("–"));
    if (probe_ && probe_->sampleCount() > 0) latency_->setText(probe_->summary());
    if (!stats_) {
        device_->setText(tr("no engine attached"));
        memory_->setText(tr("–"));
        peak_->setText(tr("–"));
        resetButton_->setEnabled(false);
        return;
    }
    caspl::DeviceStats s;
    try {
        s = stats_();
    } catch (const std::exception& e) {
        device_->setText(tr("cannot read the device: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    device_->setText(QString::fromStdString(s.device));
    resetButton_->setEnabled(s.cuda);
    if (!s.cuda) {
        memory_->setText(tr("– (running on the CPU)"));
        peak_->setText(tr("–"));
        memoryBar_->setValue(0);
        memoryBar_->setEnabled(false);
        return;
    }
    memoryBar_->setEnabled(true);
    memory_->setText(s.totalBytes > 0 ? tr("%1 of %2").arg(formatBytes(s.allocatedBytes), formatBytes(s.totalBytes))
                                      : formatBytes(s.allocatedBytes));
    peak_->setText(formatBytes(s.peakAllocatedBytes));
    memoryBar_->setValue(s.totalBytes > 0 ? int(1000.0 * double(s.allocatedBytes) / double(s.totalBytes)) : 0);
}

}  // namespace caspl::ui
