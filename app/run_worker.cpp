#include "app/run_worker.h"

#include "core/engine/runner.h"
#include "core/experiment/spec_loader.h"
#include "core/runtime.h"
#include "core/tools/clip_tools.h"
#include "core/util/error.h"

#include <QDateTime>
#include <QFileInfo>
#include <QMetaObject>

#include <algorithm>
#include <cctype>
#include <new>

namespace caspl::app {

namespace {

bool containsNoCase(const std::string& text, const std::string& what) {
    auto it = std::search(text.begin(), text.end(), what.begin(), what.end(),
                          [](char a, char b) { return std::tolower(uint8_t(a)) == std::tolower(uint8_t(b)); });
    return it != text.end();
}

QString qs(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

FailureKind classifyFailure(const std::string& message, bool badInput) {
    if (containsNoCase(message, "out of memory") || containsNoCase(message, "bad_alloc") ||
        containsNoCase(message, "failed to allocate"))
        return FailureKind::OutOfMemory;
    if (containsNoCase(message, "the loss is nan") || containsNoCase(message, "the loss is infinite"))
        return FailureKind::Diverged;
    return badInput ? FailureKind::BadInput : FailureKind::Other;
}

QString adviceFor(FailureKind kind, const std::string& message) {
    switch (kind) {
        case FailureKind::OutOfMemory:
            return QObject::tr(
                "The device ran out of memory. Lower train.batch_size (and phase1.batch_size), set train.text_chunk "
                "(e.g. 50) for datasets with many classes, or use bf16 precision on a GPU. Runs with a changed batch "
                "size are new experiments: change the name, then run again. To retry the same settings (e.g. after "
                "closing other programs), select the run and choose Run > Resume: it continues from its last "
                "checkpoint.");
        case FailureKind::Diverged:
            return QObject::tr(
                "Training diverged. Lower the learning rate (or use fp32 precision), change the experiment's name "
                "so that it gets a new run folder, and run again: a changed experiment cannot resume this folder.");
        case FailureKind::BadInput:
            if (containsNoCase(message, "in use by another run"))
                return QObject::tr("Another run (in this window or another caspl process, see the process number) "
                                   "is working in this folder. Nothing needs fixing: wait for it to end, or stop it, "
                                   "then select this run and choose Run > Resume.");
            if (containsNoCase(message, "holds other files"))
                return QObject::tr("Choose a new or empty output folder (or another experiment name) in the editor, "
                                   "then run again: the folder's files are left untouched.");
            if (containsNoCase(message, "holds another experiment"))
                return QObject::tr("Change the experiment's name or output folder in the editor (or delete the old "
                                   "run folder), then run again.");
            if (containsNoCase(message, "dataset") &&
                (containsNoCase(message, "not found") || containsNoCase(message, "no such") ||
                 containsNoCase(message, "missing") || containsNoCase(message, "cannot")))
                return QObject::tr("Check data.root and the datasets in the editor (the Datasets list marks which "
                                   "are present; hover a dataset for how to get it), then run again.");
            if (containsNoCase(message, "model '") || containsNoCase(message, "checkpoint"))
                return QObject::tr("Put the CLIP checkpoint into models.dir, or enter a file or folder for the "
                                   "student/teacher in the editor, then run again.");
            if (containsNoCase(message, "cuda"))
                return QObject::tr("Set Device to auto or cpu in the editor (this build or machine has no CUDA "
                                   "device), then run again.");
            return QObject::tr("Fix the file, key or folder named in the message, then run again.");
        case FailureKind::Other:
            break;
    }
    return QObject::tr("See the log pane (and events.jsonl in the run folder) for details. The last checkpoint is "
                       "kept: once the cause is fixed, select the run and choose Run > Resume.");
}

// ---------------------------------------------------------------------------------------------------------------

RunWorker::RunWorker(QObject* parent) : QObject(parent) {
    sinceMetrics_.start();
    sinceProgress_.start();
}

void RunWorker::run(int job, const caspl::ExperimentSpec& spec, const QString& runDir, bool evalOnly) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        job_ = job;
        pendingMetrics_.clear();
        progressPending_ = false;
        lastProgressPhase_.clear();
    }
    RunOptions options;
    options.runDir = runDir.toStdString();
    options.evalOnly = evalOnly;
    const QString dir = runDir.isEmpty() ? qs(defaultRunDir(spec)) : runDir;
    Q_EMIT runStarted(job, dir);
    const auto fail = [&](const std::string& message, bool badInput) {
        flushMetrics();
        flushProgress();
        const FailureKind kind = classifyFailure(message, badInput);
        Q_EMIT runFailed(job, dir, qs(message), adviceFor(kind, message));
    };
    // Nothing may escape: an exception leaving a slot or QThread::run would abort the process.
    try {
        const RunOutcome out = runExperiment(spec, options, *this, stop_);
        flushMetrics();
        flushProgress();
        Q_EMIT runFinished(job, qs(out.runDir), out.resumed);
    } catch (const Interrupted& i) {
        flushMetrics();
        flushProgress();
        Q_EMIT runInterrupted(job, dir, qs(i.where));
    } catch (const caspl::Error& e) {
        fail(e.what(), true);
    } catch (const std::bad_alloc&) {
        fail("out of memory (std::bad_alloc): the process could not allocate memory", false);
    } catch (const std::exception& e) {  // c10::Error and c10::OutOfMemoryError derive from std::exception
        fail(e.what(), false);
    } catch (...) {
        fail("unknown error (a non-standard exception left the engine)", false);
    }
}

void RunWorker::progress(const caspl::ProgressEvent& e) {
    bool emitNow = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        lastProgress_ = e;
        progressPending_ = true;
        // Always pass a phase's first and last step and a change of phase; in between at most one per interval.
        if (e.step >= e.steps || e.step <= 1 || e.phase != lastProgressPhase_ || sinceProgress_.elapsed() >= kThrottleMs)
            emitNow = true;
    }
    if (emitNow) flushProgress();
    bool metricsDue = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        metricsDue = !pendingMetrics_.isEmpty() && sinceMetrics_.elapsed() >= kThrottleMs;
    }
    if (metricsDue) flushMetrics();
}

void RunWorker::metric(const caspl::MetricEvent& e) {
    bool due = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        pendingMetrics_.append(e);
        due = sinceMetrics_.elapsed() >= kThrottleMs;
    }
    if (due) flushMetrics();
}

void RunWorker::evalRow(const caspl::EvalRow& r) {
    flushMetrics();
    flushProgress();
    Q_EMIT evaluated(job_, r);
}

void RunWorker::log(caspl::LogLevel level, const std::string& message) {
    flushMetrics();
    Q_EMIT logMessage(job_, level, qs(message));
}

void RunWorker::phaseChanged(const std::string& /*run*/, const std::string& phase) {
    flushMetrics();
    flushProgress();
    Q_EMIT phaseEntered(job_, qs(phase));
}

void RunWorker::flushMetrics() {
    QList<caspl::MetricEvent> batch;
    int job;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (pendingMetrics_.isEmpty()) return;
        batch.swap(pendingMetrics_);
        sinceMetrics_.restart();
        job = job_;
    }
    Q_EMIT metrics(job, batch);
}

void RunWorker::flushProgress() {
    caspl::ProgressEvent e;
    int job;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!progressPending_) return;
        progressPending_ = false;
        e = lastProgress_;
        lastProgressPhase_ = e.phase;
        sinceProgress_.restart();
        job = job_;
    }
    Q_EMIT progressed(job, e);
}

// ---------------------------------------------------------------------------------------------------------------

StudioEngine::StudioEngine(QObject* parent) : EngineBackend(parent) {
    caspl::ui::registerEngineMetaTypes();
    thread_.setObjectName("caspl-run");
    worker_ = new RunWorker;  // no parent: it lives on the run thread and is deleted there
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    // The worker emits on the run thread; these queued connections deliver on the GUI thread.
    const auto q = Qt::QueuedConnection;
    connect(worker_, &RunWorker::runStarted, this, &EngineBackend::runStarted, q);
    connect(worker_, &RunWorker::progressed, this, &EngineBackend::progress, q);
    connect(worker_, &RunWorker::metrics, this, &EngineBackend::metrics, q);
    connect(worker_, &RunWorker::evaluated, this, &EngineBackend::evalRow, q);
    connect(worker_, &RunWorker::logMessage, this, &EngineBackend::logMessage, q);
    connect(worker_, &RunWorker::phaseEntered, this, &EngineBackend::phaseChanged, q);
    connect(worker_, &RunWorker::runFinished, this, [this](int job, const QString& dir, bool resumed) {
        running_ = false;
        Q_EMIT runFinished(job, dir, resumed);
    }, q);
    connect(worker_, &RunWorker::runInterrupted, this, [this](int job, const QString& dir, const QString& where) {
        running_ = false;
        Q_EMIT runInterrupted(job, dir, where);
    }, q);
    connect(worker_, &RunWorker::runFailed, this,
            [this](int job, const QString& dir, const QString& message, const QString& advice) {
                running_ = false;
                Q_EMIT runFailed(job, dir, message, advice);
            }, q);
    thread_.start();
}

StudioEngine::~StudioEngine() {
    if (worker_) worker_->requestStop();
    thread_.quit();
    thread_.wait();
}

bool StudioEngine::startRun(int job, const caspl::ExperimentSpec& spec, const QString& runDir, bool evalOnly) {
    if (running_) return false;
    running_ = true;
    RunWorker* w = worker_;
    w->clearStop();
    QMetaObject::invokeMethod(w, [w, job, spec, runDir, evalOnly] { w->run(job, spec, runDir, evalOnly); }, Qt::QueuedConnection);
    return true;
}

void StudioEngine::requestStop() {
    if (worker_) worker_->requestStop();
}

caspl::ui::ModelSummary StudioEngine::describeModel(const QString& path) const {
    const QFileInfo info(path);
    const QString key = info.exists() ? QStringLiteral("%1|%2|%3").arg(info.absoluteFilePath()).arg(info.size())
                                            .arg(info.lastModified().toMSecsSinceEpoch())
                                      : QString();
    if (!key.isEmpty()) {
        auto it = modelCache_.constFind(key);
        if (it != modelCache_.constEnd()) return *it;
    }
    caspl::ui::ModelSummary m;
    m.path = path;
    try {
        const ClipConfig c = peekClipConfig(path.toStdString());
        m.ok = true;
        m.name = qs(c.name());
        m.parameters = c.parameterCount();
        m.resolution = c.imageResolution;
    } catch (const std::exception& e) {
        m.error = qs(e.what());
    }
    if (!key.isEmpty() && m.ok) modelCache_.insert(key, m);
    return m;
}

caspl::DeviceStats StudioEngine::deviceStats() const { return caspl::deviceStats(); }

void StudioEngine::resetPeakMemory() { caspl::resetPeakDeviceMemory(); }

QString StudioEngine::runtimeDescription() const { return qs(caspl::runtimeDescription()); }

}  // namespace caspl::app
