#pragma once
// The run queue: one row per run (an experiment and its run folder) with its state, current phase, epoch,
// progress and ETA. The main window feeds it from the engine's signals and starts the next queued run when the
// engine is idle. Display strings for the view, numbers under SortRole, the state under StateRole.
#include "core/engine/events.h"
#include "core/experiment/experiment_spec.h"

#include <QAbstractTableModel>
#include <QElapsedTimer>
#include <QStyledItemDelegate>

#include <vector>

namespace caspl::ui {

// Elsewhere: another process (`caspl run` / `caspl resume` in a terminal, a batch job, on this machine or on one
// sharing the folder) runs it now; the studio follows its events.jsonl.
enum class RunState { Queued, Running, Stopping, Stopped, Done, Failed, Elsewhere };
QString runStateName(RunState s);

struct RunJob {
    int id = 0;
    caspl::ExperimentSpec spec;
    QString runDir;        // where the run writes (resume = same spec into the same folder)
    RunState state = RunState::Queued;
    QString phase;         // "phase1", "phase2", "eval-base", "done", ...
    int epoch = 0, epochs = 0;
    qint64 step = 0, steps = 0;
    double phaseEta = -1;  // seconds, the engine's estimate for the current phase
    double overall = 0;    // 0..1, estimated over the whole run (phases of every dataset, shot and seed)
    double overallEta = -1;
    int unitsDone = 0;     // training phases finished in this session
    int unitsTotal = 1;    // phase-1 per dataset + one training per dataset x shots x seed
    QString message;       // the failure or stop reason; for Elsewhere, which process runs it
    bool resumed = false;
    bool evalOnly = false;                      // queued or running as an evaluation of its trained seeds
    RunState stateBeforeEval = RunState::Done;  // what it returns to when the evaluation ends
    QElapsedTimer clock;   // running time in this session
};

class RunQueueModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ColName, ColMethod, ColState, ColPhase, ColEpoch, ColProgress, ColEta, ColFolder, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1, StateRole, ProgressRole, JobIdRole };

    explicit RunQueueModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Adds a run (state Queued unless given) and returns its id.
    int addJob(const caspl::ExperimentSpec& spec, const QString& runDir, RunState state = RunState::Queued);
    bool removeJob(int id);           // not while it runs
    QList<int> removeFinished();      // Done rows; returns their ids
    void setSpec(int id, const caspl::ExperimentSpec& spec);  // the experiment a queued run will run
    const RunJob* job(int id) const;
    int rowOf(int id) const;
    int idAt(int row) const;
    int count() const { return int(jobs_.size()); }
    int nextQueued() const;           // the first Queued job's id, -1 when none
    int runningJob() const;           // -1 when none

    // Updates from the engine (ignored for unknown ids).
    void setState(int id, RunState state, const QString& message = {});
    void setRunDir(int id, const QString& dir);
    void setPhase(int id, const QString& phase);
    void applyProgress(int id, const caspl::ProgressEvent& e);
    void markResumed(int id, bool resumed);
    // Marks the job as an evaluation (caspl eval) that returns to `before` when it ends; off clears the mark.
    void setEvaluation(int id, bool on, RunState before = RunState::Done);

    static QString formatDuration(double seconds);  // "1 h 02 min", "3 min 05 s", "12 s", "–"

private:
    void touch(int row);
    std::vector<RunJob> jobs_;
    int nextId_ = 1;
};

// Draws the progress column as a bar with its text.
class ProgressBarDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
};

}  // namespace caspl::ui
