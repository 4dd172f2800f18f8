#pragma once
// The studio's main window. Widgets only: no LibTorch here (the engine is reached through an EngineBackend, which
// app/ implements with a worker on a QThread).
//
//   left dock     the experiment editor (form + YAML)
//   centre        a message bar for errors and notices, then tabs: live plots, results
//   bottom docks  the run queue (state, phase, progress, ETA; run / stop / resume) and the log pane
//   right dock    the device panel (device, GPU memory in use and peak, process memory, UI event-loop lag)
//
// Every menu action is also a public method taking its path directly (the menus ask for the path first), so tests
// and scripts can drive the window without dialogs. Errors never stop the window: they appear in the message bar
// with what happened and what to do, and in the log.
#include "core/engine/event_log.h"
#include "core/experiment/experiment_spec.h"
#include "ui/message_bar.h"

#include <QMainWindow>
#include <QHash>
#include <QPair>
#include <QPointer>

#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace caspl {
class EventLogFollower;
struct LockHolder;
}

class QAction;
class QSettings;
class QTimer;
class QProcess;
class QLabel;
class QTableView;
class QTabWidget;
class QDockWidget;

namespace caspl::ui {

class CompareDialog;
class PerClassDialog;
class DevicePanel;
class EngineBackend;
class ExperimentEditor;
class LatencyProbe;
class LogPane;
class PlotPanel;
class ResultsModel;
class ResultsView;
class RunQueueModel;
class RunsView;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // Without an engine the window still edits, opens and compares; running says that no engine is attached.
    explicit MainWindow(QWidget* parent = nullptr);
    explicit MainWindow(EngineBackend* engine, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Shown in the status bar and the device panel, e.g. the LibTorch runtime description given by the app.
    void setRuntimeDescription(const QString& text);

    // --- What the menus do (each returns false and shows why in the message bar when it fails) ---
    void newExperiment();
    // Loads a preset or YAML file through the experiment loader (same validation and file:line:col messages as
    // `caspl run`).
    bool openExperimentFile(const QString& path);
    // Writes the editor's experiment, validated, as a resolved YAML file (every key, no extends).
    bool saveExperimentFile(const QString& path);
    // Adds a run folder (config.yaml, result.json) to the queue (resumable) and its results to the results table;
    // a folder holding run folders (runs/) adds every run directly inside it.
    bool openRunFolder(const QString& dir);
    bool exportResultsCsv(const QString& path);
    // The selected (or given) run's training curves, one row per step, from its events.jsonl.
    bool exportCurvesCsv(int id, const QString& path);
    // The run's curves and accuracies as TensorBoard event files under `dir` (<dir>/<run folder name>/<training>/).
    bool exportTensorBoard(int id, const QString& dir);
    // The three plots as one image: PNG (or JPEG) by the file's suffix, PDF as vector graphics.
    bool savePlots(const QString& path);
    // Validates the editor's experiment and queues it; `startNow` also switches queue processing on. Returns the
    // run's id, or -1 (the message bar says why).
    int runCurrentExperiment(bool startNow = true);
    // Queues `spec` into its run folder (refused, with the message bar saying why, when that folder is queued,
    // running here or elsewhere, or holds another experiment); returns the run's id or -1.
    int queueExperiment(const caspl::ExperimentSpec& spec, bool startNow);
    // Run > Sweep…: the editor's experiment for every combination of the values chosen in a SweepDialog.
    void openSweepDialog();
    // Queues the runs of a sweep and starts the queue; returns how many were queued.
    int runSweep(const std::vector<caspl::ExperimentSpec>& specs);
    // Asks the running experiment to stop (it checkpoints); queue processing pauses.
    void stopRun();
    // Queues a stopped, failed or finished run again: the same experiment into the same folder, so the engine
    // resumes from its checkpoints (finished seeds are skipped).
    bool resumeRun(int id);
    // Evaluates a finished, stopped or failed run's trained seeds again (caspl eval): nothing trains, the run's
    // state comes back when the evaluation ends.
    bool evaluateRun(int id);
    // Where File > Save writes without asking: the opened file when it is one the studio saved (a flat file of every
    // key), not in the preset library and not a run folder's config.yaml; empty = Save asks (Save As).
    QString plainSaveTarget() const;
    static bool isRunConfig(const QString& path);  // a run folder's config.yaml: never saved over
    bool removeRun(int id);
    // Run > Show Run Folder: the run's folder in the desktop's file manager.
    bool showRunFolder(int id);
    void compareRuns();
    // Results > Per-Class Accuracy: the selected run's (else the last run with results) per-class table.
    void showPerClass();
    int selectedRun() const;  // the run queue's selected id, -1 when none
    void selectRun(int id);

    // --- Runs that another process runs ---
    // A run folder in the queue that another process holds (`caspl run` or `caspl resume` in a terminal, a batch
    // job; the run folder's lock says which: a process of this machine from the kernel's lock table, one on another
    // machine sharing the folder from the lock file's heartbeat) is shown as "running elsewhere" and followed as TensorBoard follows a
    // log folder: its events.jsonl feeds the plots, the queue's phase, epoch and ETA and the log, its result.json
    // the results table. When that process ends, the run takes the state its run.json records (a process that was
    // killed leaves it stopped: Resume continues it). Checked every kWatchMs; tests call it directly.
    static constexpr int kWatchMs = 1000;
    void pollRunFolders();

    // --- The session: window layout, the run queue and the open experiment, kept from one start to the next ---
    // Off by default (tests build many windows); the application turns it on. When on, closing the window saves it.
    void setSessionPersistence(bool on) { persistSession_ = on; }
    // Run folders come back as opened folders (their state from run.json, or running elsewhere); runs that were
    // queued come back queued, with queue processing paused so that nothing starts before the user says so.
    void saveSession(QSettings& settings) const;
    // Returns how many runs came back; folders that are gone are named in the log.
    int restoreSession(QSettings& settings);

    // --- Parts, for tests ---
    EngineBackend* engine() const { return engine_; }
    ExperimentEditor* editor() const { return editor_; }
    RunQueueModel* queueModel() const { return queue_; }
    QTableView* queueView() const { return queueView_; }
    PlotPanel* plotPanel() const { return plots_; }
    ResultsModel* resultsModel() const { return results_; }
    ResultsView* resultsView() const { return resultsView_; }
    RunsView* runsView() const { return runsView_; }
    // The Runs tab reads every known run folder again: now when it is shown, else when it is shown next.
    void refreshRunsTab();
    LogPane* logPane() const { return log_; }
    DevicePanel* devicePanel() const { return device_; }
    MessageBar* messageBar() const { return messages_; }
    LatencyProbe* latencyProbe() const { return probe_; }
    QTabWidget* centralTabs() const { return tabs_; }
    CompareDialog* compareDialog();
    PerClassDialog* perClassDialog();
    // A menu action by objectName (e.g. "actionRun"), nullptr when none.
    QAction* findAction(const QString& objectName) const;

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void dropResultsOf(const QString& runDir);  // a run removed from the queue: from the Results tab too
    QStringList* openProblems_ = nullptr;  // while a folder of runs opens: each run's problem, said once at the end
    void buildWidgets();
    void buildMenus();
    void connectEngine();
    void startNextIfIdle();
    void updateActions();
    void updateTitle();
    void showMessage(MessageBar::Kind kind, const QString& title, const QString& details, const QString& advice);
    // Reads the run's events.jsonl and hands it to `write` with the run folder's name; the message bar shows any
    // error under `failure`. Returns whether it worked.
    bool exportRunLog(int id, const QString& failure, const std::function<void(const caspl::RunEventLog&, const QString&)>& write);
    void reloadRunResults(int job);
    bool loadResultsOf(const QString& runDir, const QString& configPath, QString* error);
    void loadCurvesOf(int job, const QString& runDir);  // an opened run folder's curves from its events.jsonl
    void startFollowing(int job, const caspl::LockHolder& who);  // running elsewhere: follow its events.jsonl
    void followRun(int job, bool replay = false);       // what its events.jsonl brought since the last poll
    void stopFollowing(int job);                        // its process ended: the state from run.json
    QString jobLabel(int job) const;
    // Names a run in the plots and draws its experiment's reference accuracy (`reference:`) there.
    void labelRunInPlots(int job);
    QString presetsDir() const;
    void openPresetDialog();
    void showKeysReference();
    void showAbout();
    void runDemo();            // Help > Run the Demo: `caspl demo` in a child process, then opens its runs
    void offerDemoOnFirstStart();

    void onRunStarted(int job, const QString& runDir);
    void onProgress(int job, const caspl::ProgressEvent& e);
    void onEvalRow(int job, const caspl::EvalRow& row);
    void onLog(int job, caspl::LogLevel level, const QString& text);
    void onPhase(int job, const QString& phase);
    void onFinished(int job, const QString& runDir, bool resumed);
    void onInterrupted(int job, const QString& runDir, const QString& where);
    void onFailed(int job, const QString& runDir, const QString& message, const QString& advice);
    void runEnded(int job);
    // An evaluation (evaluateRun) ended: the job gets its earlier state back. False when `job` was not one.
    bool endEvaluation(int job, const QString& note);
    // True when the editor has no unsaved edits or the user chose to discard them (asked in a dialog).
    bool confirmDiscardEdits();
    bool inPresetLibrary(const QString& path) const;

    QPointer<EngineBackend> engine_;
    ExperimentEditor* editor_ = nullptr;
    MessageBar* messages_ = nullptr;
    ::QProcess* demo_ = nullptr;
    QTabWidget* tabs_ = nullptr;
    PlotPanel* plots_ = nullptr;
    ResultsModel* results_ = nullptr;
    ResultsView* resultsView_ = nullptr;
    RunsView* runsView_ = nullptr;
    QTimer* runsRefresh_ = nullptr;  // coalesces the changes of a moment into one reading of the folders
    bool runsDirty_ = true;
    RunQueueModel* queue_ = nullptr;
    QTableView* queueView_ = nullptr;
    LogPane* log_ = nullptr;
    DevicePanel* device_ = nullptr;
    LatencyProbe* probe_ = nullptr;
    CompareDialog* compare_ = nullptr;
    PerClassDialog* perClass_ = nullptr;
    QStringList queueRunDirs() const;  // the queue's run folders that hold a config.yaml, in queue order
    QStringList knownRunDirs() const;  // the queue's run folders (with a config.yaml) and the results' runs
    QLabel* runtimeLabel_ = nullptr;
    QLabel* runLabel_ = nullptr;
    QLabel* experimentLabel_ = nullptr;  // "Experiment: name (edited)", permanent so that it never hides runLabel_
    QString runtimeDescription_;
    QList<QDockWidget*> docks_;
    QByteArray defaultState_;
    bool evalSinceReload_ = false;
    std::map<int, std::unique_ptr<caspl::EventLogFollower>> followers_;  // runs running elsewhere
    QHash<int, QPair<qint64, qint64>> resultStamps_;                       // their result.json: modified, size
    QTimer* watch_ = nullptr;
    bool persistSession_ = false;

    QAction* processQueue_ = nullptr;
    QAction* runAction_ = nullptr;
    QAction* queueAction_ = nullptr;
    QAction* stopAction_ = nullptr;
    QAction* resumeAction_ = nullptr;
    QAction* evaluateAction_ = nullptr;
    QAction* removeAction_ = nullptr;
    QAction* openRunDirAction_ = nullptr;
    QAction* copyRunDirAction_ = nullptr;
};

}  // namespace caspl::ui
