#include "ui/run_queue_model.h"

#include <QApplication>
#include <QColor>
#include <QDir>
#include <QFileInfo>
#include <QPainter>
#include <QStyleOptionProgressBar>

#include <algorithm>
#include <cmath>

namespace caspl::ui {

namespace {

bool isTrainingPhase(const QString& p) { return p == "phase1" || p == "phase2" || p == "train"; }

int unitsOf(const caspl::ExperimentSpec& s) {
    const int datasets = std::max<int>(1, int(s.data.datasets.size()));
    const bool trains = s.method.kind != caspl::MethodKind::ZeroShot;
    int units = 0;
    if (trains && s.phase1.enabled && s.phase1.artifact.empty()) units += datasets;
    units += datasets * std::max<int>(1, int(s.data.shots.size())) * std::max<int>(1, int(s.data.seeds.size()));
    return std::max(1, units);
}

}  // namespace

QString runStateName(RunState s) {
    switch (s) {
        case RunState::Queued: return QObject::tr("queued");
        case RunState::Running: return QObject::tr("running");
        case RunState::Stopping: return QObject::tr("stopping");
        case RunState::Stopped: return QObject::tr("stopped");
        case RunState::Done: return QObject::tr("done");
        case RunState::Failed: return QObject::tr("failed");
        case RunState::Elsewhere: return QObject::tr("running elsewhere");
    }
    return {};
}

QString RunQueueModel::formatDuration(double s) {
    if (!(s >= 0) || !std::isfinite(s)) return QStringLiteral("–");
    const qint64 t = qint64(std::llround(s));
    if (t >= 3600) return QObject::tr("%1 h %2 min").arg(t / 3600).arg((t % 3600) / 60, 2, 10, QChar('0'));
    if (t >= 60) return QObject::tr("%1 min %2 s").arg(t / 60).arg(t % 60, 2, 10, QChar('0'));
    return QObject::tr("%1 s").arg(t);
}

RunQueueModel::RunQueueModel(QObject* parent) : QAbstractTableModel(parent) {}

int RunQueueModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(jobs_.size()); }

int RunQueueModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunQueueModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
        case ColName: return tr("Experiment");
        case ColMethod: return tr("Method");
        case ColState: return tr("State");
        case ColPhase: return tr("Phase");
        case ColEpoch: return tr("Epoch");
        case ColProgress: return tr("Progress");
        case ColEta: return tr("ETA");
        case ColFolder: return tr("Run folder");
        default: return {};
    }
}

QVariant RunQueueModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const RunJob& j = jobs_[std::size_t(index.row())];
    const bool live = j.state == RunState::Running || j.state == RunState::Stopping || j.state == RunState::Elsewhere;
    const double eta = j.overallEta >= 0 ? j.overallEta : j.phaseEta;
    switch (role) {
        case JobIdRole: return j.id;
        case StateRole: return int(j.state);
        case ProgressRole: return j.overall;
        case Qt::ToolTipRole:
            if (!j.message.isEmpty()) return j.message;
            if (index.column() == ColEta && live)
                return tr("whole run ≈ %1; current phase %2").arg(formatDuration(j.overallEta), formatDuration(j.phaseEta));
            return index.column() == ColFolder ? QVariant(j.runDir) : QVariant();
        case Qt::ForegroundRole:
            if (index.column() == ColState) {
                if (j.state == RunState::Failed) return QColor(190, 30, 30);
                if (j.state == RunState::Done) return QColor(20, 130, 40);
                if (j.state == RunState::Stopped) return QColor(170, 110, 0);
                if (j.state == RunState::Elsewhere) return QColor(30, 90, 180);
            }
            return {};
        case SortRole:
            switch (index.column()) {
                case ColState: return int(j.state);
                case ColEpoch: return j.epoch;
                case ColProgress: return j.overall;
                case ColEta: return eta;
                default: return data(index, Qt::DisplayRole);
            }
        case Qt::DisplayRole:
            switch (index.column()) {
                case ColName: return QString::fromStdString(j.spec.name);
                case ColMethod: return QString::fromStdString(caspl::methodLabel(j.spec));
                case ColState: return runStateName(j.state) + (j.resumed && j.state == RunState::Running ? tr(" (resumed)") : QString());
                case ColPhase: return j.phase;
                case ColEpoch: return j.epochs > 0 ? QStringLiteral("%1/%2").arg(j.epoch).arg(j.epochs) : QString();
                case ColProgress: return QStringLiteral("%1%").arg(j.overall * 100.0, 0, 'f', 0);
                // A run followed in another process: its own estimate covers the current phase only.
                case ColEta: return live ? formatDuration(eta) + (j.state == RunState::Elsewhere && eta >= 0 ? tr(" (phase)") : QString()) : QString();
                case ColFolder: return QDir::toNativeSeparators(j.runDir);
                default: return {};
            }
        default: return {};
    }
}

int RunQueueModel::addJob(const caspl::ExperimentSpec& spec, const QString& runDir, RunState state) {
    RunJob j;
    j.id = nextId_++;
    j.spec = spec;
    j.runDir = runDir;
    j.state = state;
    j.unitsTotal = unitsOf(spec);
    if (state == RunState::Done) j.overall = 1;
    const int row = int(jobs_.size());
    beginInsertRows({}, row, row);
    jobs_.push_back(std::move(j));
    endInsertRows();
    return jobs_.back().id;
}

bool RunQueueModel::removeJob(int id) {
    const int row = rowOf(id);
    if (row < 0) return false;
    const RunState s = jobs_[std::size_t(row)].state;
    if (s == RunState::Running || s == RunState::Stopping) return false;
    beginRemoveRows({}, row, row);
    jobs_.erase(jobs_.begin() + row);
    endRemoveRows();
    return true;
}

QList<int> RunQueueModel::removeFinished() {
    QList<int> removed;
    for (int row = int(jobs_.size()) - 1; row >= 0; --row) {
        if (jobs_[std::size_t(row)].state != RunState::Done) continue;
        removed.prepend(jobs_[std::size_t(row)].id);
        beginRemoveRows({}, row, row);
        jobs_.erase(jobs_.begin() + row);
        endRemoveRows();
    }
    return removed;
}

void RunQueueModel::setSpec(int id, const caspl::ExperimentSpec& spec) {
    const int row = rowOf(id);
    if (row < 0) return;
    jobs_[std::size_t(row)].spec = spec;
    jobs_[std::size_t(row)].unitsTotal = unitsOf(spec);
    touch(row);
}

const RunJob* RunQueueModel::job(int id) const {
    const int row = rowOf(id);
    return row < 0 ? nullptr : &jobs_[std::size_t(row)];
}

int RunQueueModel::rowOf(int id) const {
    for (std::size_t i = 0; i < jobs_.size(); ++i)
        if (jobs_[i].id == id) return int(i);
    return -1;
}

int RunQueueModel::idAt(int row) const { return row >= 0 && row < int(jobs_.size()) ? jobs_[std::size_t(row)].id : -1; }

int RunQueueModel::nextQueued() const {
    for (const auto& j : jobs_)
        if (j.state == RunState::Queued) return j.id;
    return -1;
}

int RunQueueModel::runningJob() const {
    for (const auto& j : jobs_)
        if (j.state == RunState::Running || j.state == RunState::Stopping) return j.id;
    return -1;
}

void RunQueueModel::touch(int row) { Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1)); }

void RunQueueModel::setState(int id, RunState state, const QString& message) {
    const int row = rowOf(id);
    if (row < 0) return;
    RunJob& j = jobs_[std::size_t(row)];
    if ((state == RunState::Running || state == RunState::Elsewhere) && j.state != state) {
        j.clock.start();
        j.unitsDone = 0;
        j.overall = 0;
        j.overallEta = j.phaseEta = -1;
        j.phase.clear();
        j.epoch = j.epochs = 0;
        j.step = j.steps = 0;
    }
    if (state == RunState::Queued) j.resumed = false;
    j.state = state;
    j.message = message;
    if (state == RunState::Done) {
        j.overall = 1;
        j.phase = QStringLiteral("done");
        j.epoch = j.epochs = 0;
    }
    if (state != RunState::Running && state != RunState::Stopping && state != RunState::Elsewhere) j.overallEta = j.phaseEta = -1;
    touch(row);
}

void RunQueueModel::setRunDir(int id, const QString& dir) {
    const int row = rowOf(id);
    if (row < 0) return;
    jobs_[std::size_t(row)].runDir = dir;
    touch(row);
}

void RunQueueModel::markResumed(int id, bool resumed) {
    const int row = rowOf(id);
    if (row < 0) return;
    jobs_[std::size_t(row)].resumed = resumed;
    touch(row);
}

void RunQueueModel::setEvaluation(int id, bool on, RunState before) {
    const int row = rowOf(id);
    if (row < 0) return;
    jobs_[std::size_t(row)].evalOnly = on;
    if (on) jobs_[std::size_t(row)].stateBeforeEval = before;
    touch(row);
}

void RunQueueModel::setPhase(int id, const QString& phase) {
    const int row = rowOf(id);
    if (row < 0) return;
    RunJob& j = jobs_[std::size_t(row)];
    if (phase == QLatin1String("skipped")) {  // a unit finished in an earlier session (resume)
        j.unitsDone = std::min(j.unitsTotal, j.unitsDone + 1);
        j.overall = std::min(0.999, double(j.unitsDone) / j.unitsTotal);
    } else {
        j.phase = phase;
    }
    touch(row);
}

void RunQueueModel::applyProgress(int id, const caspl::ProgressEvent& e) {
    const int row = rowOf(id);
    if (row < 0) return;
    RunJob& j = jobs_[std::size_t(row)];
    const QString phase = QString::fromStdString(e.phase);
    const bool training = isTrainingPhase(phase);
    if (training && e.steps > 0 && e.step >= e.steps && !(j.phase == phase && j.step >= e.steps))
        j.unitsDone = std::min(j.unitsTotal, j.unitsDone + 1);
    j.phase = phase;
    j.epoch = e.epoch;
    j.epochs = e.epochs;
    j.step = e.step;
    j.steps = e.steps;
    j.phaseEta = e.etaSeconds;
    const double frac = training && e.steps > 0 && e.step < e.steps ? double(e.step) / double(e.steps) : 0.0;
    j.overall = std::clamp((j.unitsDone + frac) / double(j.unitsTotal), j.overall, 0.999);
    const double elapsed = j.clock.isValid() ? j.clock.elapsed() / 1000.0 : 0.0;
    // A run followed in another process started before the clock did: only the phase's own estimate holds.
    j.overallEta = j.state != RunState::Elsewhere && j.overall >= 0.01 && elapsed > 1.0 ? elapsed * (1.0 - j.overall) / j.overall : -1;
    // The columns that move with progress.
    Q_EMIT dataChanged(index(row, ColPhase), index(row, ColEta));
}

void ProgressBarDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const {
    const QVariant v = index.data(RunQueueModel::ProgressRole);
    if (!v.isValid()) return QStyledItemDelegate::paint(painter, option, index);
    QStyleOptionProgressBar bar;
    bar.rect = option.rect.adjusted(2, 2, -2, -2);
    bar.minimum = 0;
    bar.maximum = 1000;
    bar.progress = int(std::lround(v.toDouble() * 1000));
    bar.text = index.data(Qt::DisplayRole).toString();
    bar.textVisible = true;
    bar.state = option.state | QStyle::State_Horizontal;
    const QWidget* w = option.widget;
    QStyle* style = w ? w->style() : QApplication::style();
    style->drawControl(QStyle::CE_ProgressBar, &bar, painter, w);
}

}  // namespace caspl::ui
