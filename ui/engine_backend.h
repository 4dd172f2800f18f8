#pragma once
// What the widgets need from the engine, as a Qt interface: start/stop a run on a background thread and receive its
// events as queued, typed signals; describe a model checkpoint; read the compute device's memory. The widgets
// (ui/) see only this interface and torch-free engine headers; app/run_worker implements it with the engine.
#include "core/engine/events.h"
#include "core/experiment/experiment_spec.h"
#include "core/runtime.h"

#include <QList>
#include <QMetaType>
#include <QObject>
#include <QString>

namespace caspl::ui {

// A model checkpoint as the editor shows it: "ViT-B/16 · 149.6 M parameters · 224 px".
struct ModelSummary {
    bool ok = false;
    QString path;        // the resolved checkpoint file or folder
    QString name;        // "ViT-B/16"
    qint64 parameters = 0;
    int resolution = 0;  // input image size
    QString error;       // why it could not be read (ok == false)
};

class EngineBackend : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    ~EngineBackend() override = default;

    // Starts (or resumes: same spec, same folder) the experiment on the background thread and returns at once.
    // False when a run is already going. `runDir` empty: the spec's default run folder.
    // `evalOnly`: evaluate the trained seeds' prompts again, never train (caspl eval); the run's status stays.
    virtual bool startRun(int job, const caspl::ExperimentSpec& spec, const QString& runDir, bool evalOnly = false) = 0;
    // Asks the running experiment to stop at the next step; it writes a checkpoint and emits runInterrupted.
    virtual void requestStop() = 0;
    virtual bool isRunning() const = 0;
    // Reads the architecture of a checkpoint (file or folder) without loading its weights.
    virtual ModelSummary describeModel(const QString& path) const = 0;
    virtual caspl::DeviceStats deviceStats() const = 0;
    virtual void resetPeakMemory() = 0;
    virtual QString runtimeDescription() const = 0;

Q_SIGNALS:
    void runStarted(int job, const QString& runDir);
    void progress(int job, const caspl::ProgressEvent& event);
    // Metric events arrive in batches (the worker coalesces them, a batch per ~25 ms at most).
    void metrics(int job, const QList<caspl::MetricEvent>& batch);
    void evalRow(int job, const caspl::EvalRow& row);
    void logMessage(int job, caspl::LogLevel level, const QString& text);
    void phaseChanged(int job, const QString& phase);
    void runFinished(int job, const QString& runDir, bool resumed);
    void runInterrupted(int job, const QString& runDir, const QString& where);
    // `message`: what happened (the engine's text); `advice`: what to do about it.
    void runFailed(int job, const QString& runDir, const QString& message, const QString& advice);
};

// Registers the event types for queued connections (call once before connecting across threads).
void registerEngineMetaTypes();

}  // namespace caspl::ui

Q_DECLARE_METATYPE(caspl::ProgressEvent)
Q_DECLARE_METATYPE(caspl::MetricEvent)
Q_DECLARE_METATYPE(caspl::EvalRow)
Q_DECLARE_METATYPE(caspl::LogLevel)
Q_DECLARE_METATYPE(caspl::ExperimentSpec)
