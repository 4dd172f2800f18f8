#pragma once
// The glue between the engine and the widgets.
//
// RunWorker lives on a QThread: it runs runExperiment() there and, as the engine's EventSink, turns the engine's
// callbacks into Qt signals, which reach GUI objects as queued calls. Progress is throttled and metrics are batched
// (one signal per ~25 ms at most), so a fast training loop cannot flood the GUI's event loop. Every exception is
// caught on the worker thread and becomes runFailed with what to do about it; a stop request becomes
// runInterrupted (the engine wrote a checkpoint, so running the same spec into the same folder resumes).
//
// StudioEngine is the application's EngineBackend: it owns the thread and the worker and re-emits the worker's
// signals on the GUI thread. No LibTorch in this header (runner.h, runtime.h and clip_tools.h are torch-free).
#include "core/engine/events.h"
#include "core/experiment/experiment_spec.h"
#include "ui/engine_backend.h"

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <QThread>

#include <atomic>
#include <mutex>
#include <string>

namespace caspl::app {

// What to tell the user about a failed run: the advice for a message and the kind of failure.
enum class FailureKind { BadInput, OutOfMemory, Diverged, Other };
FailureKind classifyFailure(const std::string& message, bool badInput);
QString adviceFor(FailureKind kind, const std::string& message);

class RunWorker : public QObject, public caspl::EventSink {
    Q_OBJECT
public:
    explicit RunWorker(QObject* parent = nullptr);

    // Runs the experiment to its end on the calling thread (the worker's thread when invoked through a queued
    // call). Emits runStarted, then the events, then exactly one of runFinished / runInterrupted / runFailed.
    void run(int job, const caspl::ExperimentSpec& spec, const QString& runDir, bool evalOnly = false);
    // Thread-safe: asks the running experiment to stop at its next step.
    void requestStop() { stop_.request(); }
    // Called on the GUI thread before a run is posted to the worker: a stop requested after it, even before the
    // worker starts the run, stops that run.
    void clearStop() { stop_.reset(); }

    // caspl::EventSink, called on the engine's threads.
    void progress(const caspl::ProgressEvent& e) override;
    void metric(const caspl::MetricEvent& e) override;
    void evalRow(const caspl::EvalRow& r) override;
    void log(caspl::LogLevel level, const std::string& message) override;
    void phaseChanged(const std::string& run, const std::string& phase) override;

    // Minimum interval between two progress signals / two metric batches.
    static constexpr qint64 kThrottleMs = 25;

Q_SIGNALS:
    void runStarted(int job, const QString& runDir);
    void progressed(int job, const caspl::ProgressEvent& event);
    void metrics(int job, const QList<caspl::MetricEvent>& batch);
    void evaluated(int job, const caspl::EvalRow& row);
    void logMessage(int job, caspl::LogLevel level, const QString& text);
    void phaseEntered(int job, const QString& phase);
    void runFinished(int job, const QString& runDir, bool resumed);
    void runInterrupted(int job, const QString& runDir, const QString& where);
    void runFailed(int job, const QString& runDir, const QString& message, const QString& advice);

private:
    void flushMetrics();                    // emits the pending batch (callers hold no lock)
    void flushProgress();

    caspl::StopToken stop_;
    std::mutex mu_;
    int job_ = -1;
    QList<caspl::MetricEvent> pendingMetrics_;
    QElapsedTimer sinceMetrics_, sinceProgress_;
    caspl::ProgressEvent lastProgress_;
    bool progressPending_ = false;
    std::string lastProgressPhase_;
};

class StudioEngine : public caspl::ui::EngineBackend {
    Q_OBJECT
public:
    explicit StudioEngine(QObject* parent = nullptr);
    // Stops a running experiment (it writes its checkpoint) and joins the thread.
    ~StudioEngine() override;

    bool startRun(int job, const caspl::ExperimentSpec& spec, const QString& runDir, bool evalOnly = false) override;
    void requestStop() override;
    bool isRunning() const override { return running_; }
    caspl::ui::ModelSummary describeModel(const QString& path) const override;
    caspl::DeviceStats deviceStats() const override;
    void resetPeakMemory() override;
    QString runtimeDescription() const override;

    RunWorker* worker() const { return worker_; }

private:
    QThread thread_;
    RunWorker* worker_ = nullptr;
    bool running_ = false;  // GUI thread only: from startRun to the run's last signal
    // describeModel's answers by path, size and modification time (the editor asks on every edit of the model
    // fields; a TorchScript archive is read whole to learn its architecture). GUI thread only.
    mutable QHash<QString, caspl::ui::ModelSummary> modelCache_;
};

}  // namespace caspl::app
