#include "ui/main_window.h"

#include "core/engine/event_log.h"
#include "core/engine/run_status.h"
#include "core/engine/tensorboard.h"
#include "core/experiment/paper_table.h"
#include "core/experiment/presets.h"
#include "core/experiment/results.h"
#include "core/experiment/spec_loader.h"
#include "core/util/atomic_file.h"
#include "core/util/dir_lock.h"
#include "core/util/error.h"
#include "ui/compare_dialog.h"
#include "ui/device_panel.h"
#include "ui/engine_backend.h"
#include "ui/experiment_editor.h"
#include "ui/latency_probe.h"
#include "ui/log_pane.h"
#include "ui/per_class_dialog.h"
#include "ui/sweep_dialog.h"
#include "ui/plot_panel.h"
#include "ui/results_model.h"
#include "ui/results_view.h"
#include "ui/runs_view.h"
#include "ui/save_path.h"
#include "ui/run_queue_model.h"

#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QSet>
#include <QDialog>
#include <QClipboard>
#include <QDesktopServices>
#include <QDialogButtonBox>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QRegularExpression>
#include <QPushButton>
#include <QProcess>
#include <QSaveFile>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QTableView>
#include <QTableWidget>
#include <QToolBar>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>
#include <optional>
#include <utility>

namespace caspl::ui {


namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

// A run folder's state as its run.json records it ("done", "failed"; anything else, e.g. "interrupted" or a
// "running" left by a process that was killed, is a stopped run that Resume continues), and run.json's message.
RunState recordedState(const QString& dir, QString* message) {
    QFile runJson(QDir(dir).filePath(QStringLiteral("run.json")));
    if (!runJson.open(QIODevice::ReadOnly)) return RunState::Stopped;
    const QJsonObject o = QJsonDocument::fromJson(runJson.readAll()).object();
    const QString status = o.value("status").toString();
    if (message) *message = o.value("message").toString();
    if (status == QLatin1String("done")) return RunState::Done;
    if (status == QLatin1String("failed")) return RunState::Failed;
    if (status == QLatin1String("running") && message && message->isEmpty())
        *message = QObject::tr("its process ended without finishing (killed, or its machine went down?); Resume continues "
                               "from its last checkpoint");
    return RunState::Stopped;
}

// Who runs `dir` now when it is not this process (the studio's own engine holds the folders of its own runs).
std::optional<caspl::LockHolder> otherHolder(const QString& dir) {
    auto holder = caspl::DirLock::runningHolder(dir.toStdString());
    if (holder && holder->local && holder->pid == QCoreApplication::applicationPid()) return std::nullopt;
    return holder;
}

// What one poll of a followed run's events.jsonl brought.
struct FollowedEvents : caspl::EventSink {
    QList<caspl::MetricEvent> metrics;
    std::vector<caspl::EvalRow> evals;
    std::vector<caspl::ProgressEvent> progressEvents;
    std::vector<std::pair<caspl::LogLevel, std::string>> logs;
    QString lastPhase;  // a phase line after the last progress line (progress carries its own phase)
    void progress(const caspl::ProgressEvent& e) override {
        progressEvents.push_back(e);
        lastPhase.clear();
    }
    void metric(const caspl::MetricEvent& e) override { metrics.append(e); }
    void evalRow(const caspl::EvalRow& r) override { evals.push_back(r); }
    void log(caspl::LogLevel l, const std::string& m) override { logs.emplace_back(l, m); }
    void phaseChanged(const std::string&, const std::string& phase) override { lastPhase = QString::fromStdString(phase); }
};

// The run folder runExperiment uses by default (runner.h defaultRunDir), made absolute.
QString runDirOf(const caspl::ExperimentSpec& spec) {
    QString name = spec.name.empty() ? QStringLiteral("experiment") : qs(spec.name);
    name.replace('/', '_').replace(' ', '_');
    return QDir::cleanPath(QDir(qs(spec.output)).absoluteFilePath(name));
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : MainWindow(nullptr, parent) {}

MainWindow::MainWindow(EngineBackend* engine, QWidget* parent) : QMainWindow(parent), engine_(engine) {
    registerEngineMetaTypes();
    setObjectName("MainWindow");
    resize(1440, 920);
    buildWidgets();
    buildMenus();
    connectEngine();
    if (engine_) {
        device_->setProvider([e = engine_] { return e ? e->deviceStats() : caspl::DeviceStats{}; },
                             [e = engine_] {
                                 if (e) e->resetPeakMemory();
                             });
        editor_->setBackend(engine_);
        setRuntimeDescription(engine_->runtimeDescription());
    }
    defaultState_ = saveState();
    updateTitle();
    updateActions();
    offerDemoOnFirstStart();
    watch_ = new QTimer(this);
    watch_->setInterval(kWatchMs);
    connect(watch_, &QTimer::timeout, this, &MainWindow::pollRunFolders);
    watch_->start();
}

MainWindow::~MainWindow() = default;

namespace {
// The demo's cache folder, as `caspl demo` chooses it: $CASPL_CACHE, $XDG_CACHE_HOME/caspl or ~/.cache/caspl.
QString demoCacheDir() {
    const QString env = qEnvironmentVariable("CASPL_CACHE");
    if (!env.isEmpty()) return env;
    const QString xdg = qEnvironmentVariable("XDG_CACHE_HOME");
    if (!xdg.isEmpty()) return QDir(xdg).filePath("caspl");
    return QDir::home().filePath(".cache/caspl");
}
}  // namespace

void MainWindow::offerDemoOnFirstStart() {
    QSettings settings;
    if (settings.value("demo/offered", false).toBool()) return;
    settings.setValue("demo/offered", true);
    messages_->showMessage(MessageBar::Kind::Info, tr("New here? Run the demo"),
                           tr("The demo needs no download: it trains two small CLIPs on Fashion-MNIST, then runs "
                              "zero-shot, CoOp and CoOp + CasPL base-to-novel and shows the results (a few minutes "
                              "on two CPU cores)."),
                           tr("Choose Help > Run the Demo."));
}

void MainWindow::runDemo() {
    if (demo_) {
        messages_->showMessage(MessageBar::Kind::Info, tr("The demo is already running"), {}, tr("See the log pane."));
        return;
    }
    const QString exe = QDir(QCoreApplication::applicationDirPath()).filePath("caspl");
    if (!QFileInfo(exe).isExecutable()) {
        messages_->showMessage(MessageBar::Kind::Error, tr("Cannot run the demo"),
                               tr("The command-line tool was not found at %1.").arg(exe),
                               tr("Build the project (scripts/build.sh), which puts caspl next to caspl-studio."));
        return;
    }
    demo_ = new QProcess(this);
    demo_->setProcessChannelMode(QProcess::MergedChannels);
    connect(demo_, &QProcess::readyRead, this, [this] {
        while (demo_ && demo_->canReadLine()) {
            const QString line = QString::fromUtf8(demo_->readLine()).trimmed();
            if (!line.isEmpty()) log_->append(caspl::LogLevel::Info, tr("demo"), line);
        }
    });
    connect(demo_, qOverload<int, QProcess::ExitStatus>(&QProcess::finished), this,
            [this](int code, QProcess::ExitStatus status) {
                demo_->deleteLater();
                demo_ = nullptr;
                if (status != QProcess::NormalExit || code != 0) {
                    messages_->showMessage(MessageBar::Kind::Error, tr("The demo failed (exit code %1)").arg(code),
                                           tr("Its output is in the log pane."),
                                           tr("Run `caspl demo` in a terminal to see the same messages."));
                    return;
                }
                const QDir runs(QDir(demoCacheDir()).filePath("runs"));
                int opened = 0;
                for (const char* name : {"zeroshot", "coop", "demo"})
                    if (runs.exists(name) && openRunFolder(runs.filePath(name))) ++opened;
                messages_->showMessage(MessageBar::Kind::Info, tr("The demo finished"),
                                       tr("%1 runs added to the queue and the Results tab.").arg(opened),
                                       tr("Compare them with Results > Compare Runs."));
            });
    connect(demo_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error != QProcess::FailedToStart || !demo_) return;  // other errors end in finished()
        messages_->showMessage(MessageBar::Kind::Error, tr("The demo could not start"), demo_->errorString(),
                               tr("Run `caspl demo` in a terminal to see why."));
        demo_->deleteLater();
        demo_ = nullptr;
    });
    log_->append(caspl::LogLevel::Info, tr("demo"), tr("starting %1 demo").arg(exe));
    demo_->start(exe, {"demo"});
}

void MainWindow::buildWidgets() {
    setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks | QMainWindow::AllowNestedDocks);

    // Centre: message bar + tabs.
    auto* central = new QWidget(this);
    auto* centralLayout = new QVBoxLayout(central);
    centralLayout->setContentsMargins(2, 2, 2, 2);
    messages_ = new MessageBar(central);
    tabs_ = new QTabWidget(central);
    tabs_->setObjectName("centralTabs");
    plots_ = new PlotPanel(tabs_);
    results_ = new ResultsModel(this);
    resultsView_ = new ResultsView(results_, tabs_);
    runsView_ = new RunsView(tabs_);
    tabs_->addTab(plots_, tr("Live plots"));
    tabs_->addTab(resultsView_, tr("Results"));
    tabs_->addTab(runsView_, tr("Runs"));
    runsRefresh_ = new QTimer(this);
    runsRefresh_->setSingleShot(true);
    runsRefresh_->setInterval(300);
    const auto readRuns = [this] {
        runsRefresh_->stop();
        runsDirty_ = false;
        // The queue's runs in its order: those with a folder, and those queued whose folder is made when they start.
        QStringList folders;
        QSet<QString> listed;
        std::map<std::string, caspl::ExperimentSpec> queued;
        for (int r = 0; r < queue_->count(); ++r) {
            const RunJob* j = queue_->job(queue_->idAt(r));
            if (listed.contains(j->runDir)) continue;
            if (QFileInfo::exists(QDir(j->runDir).filePath("config.yaml"))) {
                folders << j->runDir;
                listed.insert(j->runDir);
            } else if (j->state == RunState::Queued) {
                folders << j->runDir;
                listed.insert(j->runDir);
                queued.emplace(j->runDir.toStdString(), j->spec);
            }
        }
        runsView_->setFolders(folders, queued);
    };
    connect(runsRefresh_, &QTimer::timeout, this, readRuns);
    connect(tabs_, &QTabWidget::currentChanged, this, [this, readRuns] {
        if (runsDirty_ && tabs_->currentWidget() == runsView_) readRuns();
    });
    connect(runsView_, &RunsView::compareRequested, this, [this](const QString& a, const QString& b) {
        CompareDialog* dlg = compareDialog();
        QStringList runs = knownRunDirs();
        for (const QString& d : {a, b})
            if (!runs.contains(d)) runs << d;
        dlg->setRuns(runs);
        dlg->compare(a, b);
        dlg->show();
        dlg->raise();
    });
    connect(runsView_, &RunsView::perClassRequested, this, [this](const QString& a, const QString& b) {
        PerClassDialog* dlg = perClassDialog();
        QStringList runs = knownRunDirs();
        for (const QString& d : {a, b})
            if (!d.isEmpty() && !runs.contains(d)) runs << d;
        dlg->setRuns(runs);
        dlg->showRuns(a, b);
        dlg->show();
        dlg->raise();
    });
    connect(runsView_, &RunsView::curvesRequested, this, [this](const QStringList& folders) {
        // Every run of the queue is in the plots (its curves loaded when it was opened or ran): show these alone.
        int shown = 0;
        for (int r = 0; r < queue_->count(); ++r) {
            const int id = queue_->idAt(r);
            const bool show = folders.contains(queue_->job(id)->runDir);
            plots_->setRunVisible(id, show);
            shown += show ? 1 : 0;
        }
        tabs_->setCurrentWidget(plots_);
        statusBar()->showMessage(tr("The plots show %n run(s); tick the others in the list beside the plots to show them again", nullptr, shown),
                                 8000);
    });
    connect(runsView_, &RunsView::runActivated, this, [this](const QString& folder) {
        for (int r = 0; r < queue_->count(); ++r)
            if (queue_->job(queue_->idAt(r))->runDir == folder) {
                selectRun(queue_->idAt(r));
                return;
            }
    });
    centralLayout->addWidget(messages_);
    centralLayout->addWidget(tabs_, 1);
    setCentralWidget(central);

    const auto dock = [this](const QString& title, const char* name, QWidget* w, Qt::DockWidgetArea area) {
        auto* d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(w);
        addDockWidget(area, d);
        docks_ << d;
        return d;
    };

    editor_ = new ExperimentEditor(this);
    editor_->setMinimumWidth(400);
    dock(tr("Experiment"), "experimentDock", editor_, Qt::LeftDockWidgetArea);

    // Run queue with its buttons.
    auto* queuePage = new QWidget(this);
    queue_ = new RunQueueModel(this);
    connect(queue_, &QAbstractItemModel::rowsInserted, this, &MainWindow::refreshRunsTab);
    connect(queue_, &QAbstractItemModel::rowsRemoved, this, &MainWindow::refreshRunsTab);
    queueView_ = new QTableView(queuePage);
    queueView_->setObjectName("runQueueView");
    queueView_->setModel(queue_);
    queueView_->setSelectionBehavior(QAbstractItemView::SelectRows);
    queueView_->setSelectionMode(QAbstractItemView::SingleSelection);
    queueView_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    queueView_->verticalHeader()->hide();
    queueView_->setItemDelegateForColumn(RunQueueModel::ColProgress, new ProgressBarDelegate(queueView_));
    queueView_->horizontalHeader()->setStretchLastSection(true);
    queueView_->setColumnWidth(RunQueueModel::ColName, 150);
    queueView_->setColumnWidth(RunQueueModel::ColMethod, 110);
    queueView_->setColumnWidth(RunQueueModel::ColState, 80);
    queueView_->setColumnWidth(RunQueueModel::ColPhase, 80);
    queueView_->setColumnWidth(RunQueueModel::ColEpoch, 60);
    queueView_->setColumnWidth(RunQueueModel::ColProgress, 120);
    queueView_->setColumnWidth(RunQueueModel::ColEta, 90);
    auto* queueButtons = new QToolBar(queuePage);
    queueButtons->setObjectName("queueToolBar");
    queueButtons->setToolButtonStyle(Qt::ToolButtonTextOnly);
    auto* queueLayout = new QVBoxLayout(queuePage);
    queueLayout->setContentsMargins(2, 2, 2, 2);
    queueLayout->addWidget(queueButtons);
    queueLayout->addWidget(queueView_, 1);
    auto* queueDock = dock(tr("Run queue"), "queueDock", queuePage, Qt::BottomDockWidgetArea);

    log_ = new LogPane(this);
    auto* logDock = dock(tr("Log"), "logDock", log_, Qt::BottomDockWidgetArea);
    splitDockWidget(queueDock, logDock, Qt::Horizontal);
    resizeDocks({queueDock, logDock}, {800, 600}, Qt::Horizontal);

    device_ = new DevicePanel(this);
    device_->setMinimumWidth(270);
    dock(tr("Device"), "deviceDock", device_, Qt::RightDockWidgetArea);
    resizeDocks({queueDock}, {260}, Qt::Vertical);

    probe_ = new LatencyProbe(10, this);
    device_->setLatencyProbe(probe_);

    runtimeLabel_ = new QLabel(this);
    runtimeLabel_->setObjectName("runtimeLabel");
    runLabel_ = new QLabel(this);
    runLabel_->setObjectName("runStatusLabel");
    statusBar()->addWidget(runLabel_, 1);
    experimentLabel_ = new QLabel(this);
    experimentLabel_->setObjectName("experimentLabel");
    statusBar()->addPermanentWidget(experimentLabel_);
    statusBar()->addPermanentWidget(runtimeLabel_);

    connect(editor_, &ExperimentEditor::specEdited, this, &MainWindow::updateTitle);
    connect(queueView_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &MainWindow::updateActions);
    connect(queue_, &QAbstractItemModel::dataChanged, this, &MainWindow::updateActions);
    connect(queue_, &QAbstractItemModel::rowsInserted, this, &MainWindow::updateActions);
    connect(queue_, &QAbstractItemModel::rowsRemoved, this, &MainWindow::updateActions);
    connect(resultsView_, &ResultsView::compareRequested, this, &MainWindow::compareRuns);
    connect(resultsView_, &ResultsView::exportRequested, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export results as CSV"), QStringLiteral("results.csv"),
                                                          tr("CSV files (*.csv)"));
        const QString target = savePathWithSuffix(this, path, QStringLiteral("csv"));
        if (!target.isEmpty()) exportResultsCsv(target);
    });
    // The queue's toolbar gets the run actions in buildMenus().
}

QAction* MainWindow::findAction(const QString& objectName) const { return findChild<QAction*>(objectName); }

void MainWindow::buildMenus() {
    const auto make = [this](QMenu* menu, const QString& text, const char* name, const QKeySequence& key = {}) {
        QAction* a = menu->addAction(text);
        a->setObjectName(name);
        if (!key.isEmpty()) a->setShortcut(key);
        return a;
    };

    // File
    QMenu* file = menuBar()->addMenu(tr("&File"));
    connect(make(file, tr("&New Experiment"), "actionNew", QKeySequence::New), &QAction::triggered, this, [this] {
        if (confirmDiscardEdits()) newExperiment();
    });
    connect(make(file, tr("&Open Preset…"), "actionOpenPreset", QKeySequence::Open), &QAction::triggered, this,
            &MainWindow::openPresetDialog);
    connect(make(file, tr("Open &YAML File…"), "actionOpenYaml"), &QAction::triggered, this, [this] {
        if (!confirmDiscardEdits()) return;
        const QString path = QFileDialog::getOpenFileName(this, tr("Open an experiment"), QString(),
                                                          tr("YAML experiments (*.yaml *.yml);;All files (*)"));
        if (!path.isEmpty()) openExperimentFile(path);
    });
    connect(make(file, tr("&Save Experiment"), "actionSave", QKeySequence::Save), &QAction::triggered, this, [this] {
        const QString target = plainSaveTarget();
        if (target.isEmpty()) findAction("actionSaveAs")->trigger();  // new, a preset, or a layered file: ask where
        else saveExperimentFile(target);
    });
    connect(make(file, tr("Save Experiment &As…"), "actionSaveAs", QKeySequence::SaveAs), &QAction::triggered, this, [this] {
        // Never suggest the preset library's own file: the saved YAML is flat (every key, no extends).
        const QString source = editor_->sourcePath();
        const QString suggestion = source.isEmpty() || inPresetLibrary(source) || isRunConfig(source)
                                       ? QStringLiteral("%1.yaml").arg(editor_->spec().name.empty() ? "experiment" : qs(editor_->spec().name).replace('/', '_'))
                                       : source;
        const QString path = QFileDialog::getSaveFileName(this, tr("Save the experiment as YAML"), suggestion,
                                                          tr("YAML experiments (*.yaml *.yml)"));
        const QString target = savePathWithSuffix(this, path, QStringLiteral("yaml"));
        if (!target.isEmpty()) saveExperimentFile(target);
    });
    file->addSeparator();
    connect(make(file, tr("Open &Run Folder…"), "actionOpenRun", QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O)),
            &QAction::triggered, this, [this] {
                const QString dir = QFileDialog::getExistingDirectory(
                    this, tr("Open a run folder (it holds config.yaml), or a folder of runs (runs/: every run in it)"));
                if (!dir.isEmpty()) openRunFolder(dir);
            });
    connect(make(file, tr("&Export Results as CSV…"), "actionExportCsv", QKeySequence(Qt::CTRL | Qt::Key_E)), &QAction::triggered,
            resultsView_, &ResultsView::exportRequested);
    file->addSeparator();
    connect(make(file, tr("&Quit"), "actionQuit", QKeySequence::Quit), &QAction::triggered, this, &QWidget::close);

    // Run
    QMenu* run = menuBar()->addMenu(tr("&Run"));
    runAction_ = make(run, tr("&Run Experiment"), "actionRun", QKeySequence(Qt::CTRL | Qt::Key_R));
    runAction_->setToolTip(tr("Check the experiment, queue it and start the queue"));
    connect(runAction_, &QAction::triggered, this, [this] { runCurrentExperiment(true); });
    QAction* sweepAction = make(run, tr("S&weep…"), "actionSweep");
    sweepAction->setToolTip(tr("Run the experiment for every combination of a few keys' values (caspl run --sweep)"));
    connect(sweepAction, &QAction::triggered, this, &MainWindow::openSweepDialog);
    queueAction_ = make(run, tr("&Add to Queue"), "actionAddToQueue", QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R));
    connect(queueAction_, &QAction::triggered, this, [this] { runCurrentExperiment(false); });
    stopAction_ = make(run, tr("&Stop"), "actionStop", QKeySequence(Qt::CTRL | Qt::Key_Period));
    stopAction_->setToolTip(tr("Stop the running experiment at its next step (a checkpoint is written; Resume continues it)"));
    connect(stopAction_, &QAction::triggered, this, &MainWindow::stopRun);
    // Ctrl+Alt+R, beside Run's Ctrl+R: Ctrl+Shift+U is the input method's Unicode entry in text fields, and F5 reads
    // as Refresh, which should not start a run.
    resumeAction_ = make(run, tr("Res&ume Selected Run"), "actionResume", QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_R));
    resumeAction_->setToolTip(tr("Run the selected run's experiment again into its folder: it continues from its checkpoints"));
    connect(resumeAction_, &QAction::triggered, this, [this] { resumeRun(selectedRun()); });
    evaluateAction_ = make(run, tr("E&valuate Selected Run Again"), "actionEvaluate");
    evaluateAction_->setToolTip(tr("Evaluate the selected run's trained seeds again on their test images (caspl eval); "
                                   "nothing is trained"));
    connect(evaluateAction_, &QAction::triggered, this, [this] { evaluateRun(selectedRun()); });
    removeAction_ = make(run, tr("Re&move Selected Run"), "actionRemove");
    connect(removeAction_, &QAction::triggered, this, [this] { removeRun(selectedRun()); });
    openRunDirAction_ = make(run, tr("Show Run &Folder"), "actionShowRunFolder");
    openRunDirAction_->setToolTip(tr("Open the selected run's folder in the file manager"));
    connect(openRunDirAction_, &QAction::triggered, this, [this] { showRunFolder(selectedRun()); });
    copyRunDirAction_ = make(run, tr("Cop&y Run Folder Path"), "actionCopyRunFolder");
    connect(copyRunDirAction_, &QAction::triggered, this, [this] {
        if (const RunJob* j = queue_->job(selectedRun())) {
            QApplication::clipboard()->setText(QDir::toNativeSeparators(j->runDir));
            statusBar()->showMessage(tr("Copied %1").arg(j->runDir), 4000);
        }
    });
    connect(make(run, tr("&Clear Finished Runs"), "actionClearFinished"), &QAction::triggered, this, [this] {
        QHash<int, QString> dirs;
        for (int r = 0; r < queue_->count(); ++r) dirs.insert(queue_->idAt(r), queue_->job(queue_->idAt(r))->runDir);
        const QList<int> removed = queue_->removeFinished();
        for (int id : removed) {
            plots_->removeRun(id);
            followers_.erase(id);
            resultStamps_.remove(id);
            dropResultsOf(dirs.value(id));
        }
        statusBar()->showMessage(tr("%n finished run(s) removed from the queue", nullptr, int(removed.size())), 4000);
    });
    run->addSeparator();
    processQueue_ = make(run, tr("&Process Queue"), "actionProcessQueue");
    processQueue_->setCheckable(true);
    processQueue_->setChecked(true);
    processQueue_->setToolTip(tr("Start queued runs one after another (Stop pauses the queue)"));
    connect(processQueue_, &QAction::toggled, this, [this](bool on) {
        if (on) startNextIfIdle();
    });

    // Results
    QMenu* res = menuBar()->addMenu(tr("Re&sults"));
    connect(make(res, tr("&Compare Runs…"), "actionCompare", QKeySequence(Qt::CTRL | Qt::Key_D)), &QAction::triggered, this,
            &MainWindow::compareRuns);
    connect(make(res, tr("&Per-Class Accuracy…"), "actionPerClass"), &QAction::triggered, this, &MainWindow::showPerClass);
    connect(make(res, tr("C&opy Selected Cells (as TSV)"), "actionCopy"), &QAction::triggered, resultsView_->table(),
            &ResultsTable::copySelection);
    connect(make(res, tr("&Export as CSV…"), "actionExportCsv2"), &QAction::triggered, resultsView_, &ResultsView::exportRequested);
    connect(make(res, tr("Copy as &Markdown Tables"), "actionCopyMarkdown"), &QAction::triggered, this, [this] {
        tabs_->setCurrentWidget(resultsView_);
        resultsView_->copyPaperTables(false);
    });
    connect(make(res, tr("Copy as &LaTeX Tables"), "actionCopyLatex"), &QAction::triggered, this, [this] {
        tabs_->setCurrentWidget(resultsView_);
        resultsView_->copyPaperTables(true);
    });
    res->addAction(resultsView_->withReferenceAction());  // the tables' "With the Published Numbers"
    connect(make(res, tr("Export Selected Run's C&urves as CSV…"), "actionExportCurves"), &QAction::triggered, this, [this] {
        const int id = selectedRun();
        if (id < 0) {
            showMessage(MessageBar::Kind::Info, tr("No run selected"), {}, tr("Select a run in the run queue first."));
            return;
        }
        // Beside the run folder, not in it: a run folder holds what the run wrote (a file of ours in it would make
        // an attempt that trained nothing look like one that did).
        const QFileInfo run(queue_->job(id)->runDir);
        const QString path = QFileDialog::getSaveFileName(
            this, tr("Export the training curves"),
            QDir(run.absolutePath()).filePath(run.fileName() + QStringLiteral("_curves.csv")), tr("CSV files (*.csv)"));
        const QString target = savePathWithSuffix(this, path, QStringLiteral("csv"));
        if (!target.isEmpty()) exportCurvesCsv(id, target);
    });
    connect(make(res, tr("Export Selected Run for Tensor&Board…"), "actionExportTensorBoard"), &QAction::triggered, this, [this] {
        const int id = selectedRun();
        if (id < 0) {
            showMessage(MessageBar::Kind::Info, tr("No run selected"), {}, tr("Select a run in the run queue first."));
            return;
        }
        // Not the runs' folder itself (the export would land in the run folder): the folder above it, or its
        // "tensorboard" folder where there is one.
        const QDir above(QFileInfo(QFileInfo(queue_->job(id)->runDir).absolutePath()).absolutePath());
        const QString start = above.exists(QStringLiteral("tensorboard")) ? above.filePath(QStringLiteral("tensorboard")) : above.path();
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Folder for the TensorBoard event files"), start);
        if (!dir.isEmpty()) exportTensorBoard(id, dir);
    });
    connect(make(res, tr("Save Plots as &Image…"), "actionSavePlots"), &QAction::triggered, this, [this] {
        QString filter;
        const QString path = QFileDialog::getSaveFileName(this, tr("Save the plots"), QStringLiteral("plots.png"),
                                                          tr("PNG image (*.png);;PDF, vector (*.pdf)"), &filter);
        const QString target = savePathWithSuffix(this, path, filter.contains("pdf") ? QStringLiteral("pdf") : QStringLiteral("png"));
        if (!target.isEmpty()) savePlots(target);
    });
    res->addSeparator();
    connect(make(res, tr("&Reload Selected Run's Results"), "actionReloadResults"), &QAction::triggered, this, [this] {
        const int id = selectedRun();
        if (id < 0) {
            showMessage(MessageBar::Kind::Info, tr("No run selected"), {}, tr("Select a run in the run queue first."));
            return;
        }
        reloadRunResults(id);
    });
    connect(make(res, tr("Clear Results &Table"), "actionClearResults"), &QAction::triggered, results_, &ResultsModel::clear);
    connect(make(res, tr("Clear Plot&s"), "actionClearPlots"), &QAction::triggered, plots_, &PlotPanel::clear);

    // View
    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* d : docks_) view->addAction(d->toggleViewAction());
    view->addSeparator();
    connect(make(view, tr("Show &Plots"), "actionShowPlots", QKeySequence(Qt::CTRL | Qt::Key_1)), &QAction::triggered, this,
            [this] { tabs_->setCurrentWidget(plots_); });
    connect(make(view, tr("Show R&esults"), "actionShowResults", QKeySequence(Qt::CTRL | Qt::Key_2)), &QAction::triggered, this,
            [this] { tabs_->setCurrentWidget(resultsView_); });
    connect(make(view, tr("Show R&uns"), "actionShowRuns", QKeySequence(Qt::CTRL | Qt::Key_3)), &QAction::triggered, this,
            [this] { tabs_->setCurrentWidget(runsView_); });
    connect(make(view, tr("&Reset Layout"), "actionResetLayout"), &QAction::triggered, this, [this] {
        restoreState(defaultState_);
        for (QDockWidget* d : docks_) d->show();
    });

    // Help
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    connect(make(help, tr("&Experiment Keys…"), "actionKeys", QKeySequence::HelpContents), &QAction::triggered, this,
            &MainWindow::showKeysReference);
    connect(make(help, tr("Run the &Demo (Fashion-MNIST, a few minutes)"), "actionRunDemo"), &QAction::triggered, this,
            &MainWindow::runDemo);
    connect(make(help, tr("&About CasPL Studio"), "actionAbout"), &QAction::triggered, this, &MainWindow::showAbout);
    connect(make(help, tr("About &Qt"), "actionAboutQt"), &QAction::triggered, qApp, &QApplication::aboutQt);

    // Right-click on a run: what can be done with it.
    queueView_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(queueView_, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        const QModelIndex index = queueView_->indexAt(pos);
        if (!index.isValid()) return;
        queueView_->selectRow(index.row());
        updateActions();  // the run's folder may have appeared since it was selected
        QMenu menu(this);
        for (const char* name : {"actionResume", "actionEvaluate", "actionRemove", "", "actionReloadResults",
                                 "actionPerClass", "actionExportCurves", "actionExportTensorBoard", "", "actionShowRunFolder", "actionCopyRunFolder"}) {
            if (!*name) menu.addSeparator();
            else if (QAction* a = findAction(QLatin1String(name))) menu.addAction(a);
        }
        menu.exec(queueView_->viewport()->mapToGlobal(pos));
    });
    // And on the results table.
    resultsView_->table()->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(resultsView_->table(), &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        QMenu menu(this);
        for (const char* name : {"actionCopy", "actionExportCsv2", "actionCompare"})
            if (QAction* a = findAction(QLatin1String(name))) menu.addAction(a);
        menu.exec(resultsView_->table()->viewport()->mapToGlobal(pos));
    });

    // The queue's own toolbar.
    if (auto* bar = findChild<QToolBar*>("queueToolBar")) {
        bar->addAction(runAction_);
        bar->addAction(queueAction_);
        bar->addAction(stopAction_);
        bar->addAction(resumeAction_);
        bar->addAction(removeAction_);
        bar->addSeparator();
        bar->addAction(processQueue_);
    }
}

void MainWindow::connectEngine() {
    if (!engine_) return;
    connect(engine_, &EngineBackend::runStarted, this, &MainWindow::onRunStarted);
    connect(engine_, &EngineBackend::progress, this, &MainWindow::onProgress);
    connect(engine_, &EngineBackend::metrics, plots_, &PlotPanel::addMetrics);
    connect(engine_, &EngineBackend::evalRow, this, &MainWindow::onEvalRow);
    connect(engine_, &EngineBackend::logMessage, this, &MainWindow::onLog);
    connect(engine_, &EngineBackend::phaseChanged, this, &MainWindow::onPhase);
    connect(engine_, &EngineBackend::runFinished, this, &MainWindow::onFinished);
    connect(engine_, &EngineBackend::runInterrupted, this, &MainWindow::onInterrupted);
    connect(engine_, &EngineBackend::runFailed, this, &MainWindow::onFailed);
}

void MainWindow::setRuntimeDescription(const QString& text) {
    runtimeDescription_ = text;
    runtimeLabel_->setText(text);
    device_->setRuntimeDescription(text);
}

void MainWindow::showMessage(MessageBar::Kind kind, const QString& title, const QString& details, const QString& advice) {
    messages_->showMessage(kind, title, details, advice);
    const caspl::LogLevel level = kind == MessageBar::Kind::Error     ? caspl::LogLevel::Error
                                  : kind == MessageBar::Kind::Warning ? caspl::LogLevel::Warning
                                                                      : caspl::LogLevel::Info;
    QString text = title;
    if (!details.isEmpty()) text += QStringLiteral(": ") + details;
    if (!advice.isEmpty()) text += QStringLiteral(" — ") + advice;
    log_->append(level, tr("studio"), text);
}

void MainWindow::updateTitle() {
    const QString name = qs(editor_->spec().name);
    setWindowTitle(tr("CasPL Studio"));
    setWindowFilePath(editor_->sourcePath());
    // A permanent widget, not showMessage(): a status message without a timeout would hide the run's progress line.
    experimentLabel_->setText(name.isEmpty() ? QString() : tr("Experiment: %1%2").arg(name, editor_->isModified() ? tr(" (edited)") : QString()));
}

void MainWindow::updateActions() {
    const int id = selectedRun();
    const RunJob* j = id >= 0 ? queue_->job(id) : nullptr;
    const bool running = queue_->runningJob() >= 0;
    stopAction_->setEnabled(running);
    resumeAction_->setEnabled(j && (j->state == RunState::Stopped || j->state == RunState::Failed || j->state == RunState::Done));
    evaluateAction_->setEnabled(resumeAction_->isEnabled());
    removeAction_->setEnabled(j && j->state != RunState::Running && j->state != RunState::Stopping);
    openRunDirAction_->setEnabled(j && QFileInfo(j->runDir).isDir());
    copyRunDirAction_->setEnabled(j != nullptr);
}

bool MainWindow::showRunFolder(int id) {
    const RunJob* j = queue_->job(id);
    if (!j || !QFileInfo(j->runDir).isDir()) {
        showMessage(MessageBar::Kind::Info, j ? tr("%1 has no folder yet").arg(jobLabel(id)) : tr("No run selected"), {},
                    j ? tr("A queued run's folder is made when it starts.") : tr("Select a run in the run queue first."));
        return false;
    }
    if (!QDesktopServices::openUrl(QUrl::fromLocalFile(j->runDir))) {
        showMessage(MessageBar::Kind::Warning, tr("No file manager could open %1").arg(j->runDir), {},
                    tr("Run > Copy Run Folder Path copies the path."));
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Files

QString MainWindow::presetsDir() const {
    try {
        return qs(caspl::findPresetsDir("", QCoreApplication::applicationDirPath().toStdString()));
    } catch (const std::exception&) {
        return {};
    }
}

void MainWindow::newExperiment() {
    caspl::ExperimentSpec s;
    s.name = "experiment";
    editor_->setSpec(s);
    updateTitle();
    statusBar()->showMessage(tr("New experiment: choose datasets, models and the method, then Run"), 5000);
}

bool MainWindow::openExperimentFile(const QString& path) {
    const std::string file = path.toStdString();
    try {
        if (caspl::isAbstractFile(file)) {
            showMessage(MessageBar::Kind::Error, tr("%1 is a fragment, not an experiment").arg(QFileInfo(path).fileName()),
                        tr("%1 says abstract: true: presets extend it, it cannot run on its own.").arg(path),
                        tr("Open a preset that extends it (File > Open Preset…), or a YAML file of your own."));
            return false;
        }
        // A preset is named as the preset library names it (base2novel/coop/dtd), so that presets of different
        // methods for one dataset get different run folders; another file by its stem.
        caspl::LoadOptions options;
        options.name = caspl::presetNameOf(file, presetsDir().toStdString());
        std::vector<caspl::SpecDiagnostic> warnings;
        options.warnings = &warnings;
        caspl::ExperimentSpec spec = caspl::loadExperiment(file, {}, options);
        editor_->setSpec(spec, QFileInfo(path).absoluteFilePath());
        messages_->dismiss();
        log_->append(caspl::LogLevel::Info, tr("studio"), tr("opened %1 (%2)").arg(path, qs(caspl::methodLabel(spec))));
        if (!warnings.empty()) {
            // Keys the file sets that do nothing for this experiment (a PromptSRC weight with CoOp): likely a slip.
            QStringList lines;
            for (const auto& w : warnings) lines << qs(w.str());
            showMessage(MessageBar::Kind::Warning,
                        tr("%1 sets %n key(s) that have no effect on this experiment", nullptr, int(lines.size()))
                            .arg(QFileInfo(path).fileName()),
                        lines.join('\n'),
                        tr("They are left out of the experiment's identity; remove them from the file, or choose the "
                           "method or phase 1 they belong to."));
        }
        updateTitle();
        return true;
    } catch (const caspl::SpecError& e) {
        QStringList lines;
        for (const auto& d : e.diagnostics()) lines << qs(d.str());
        showMessage(MessageBar::Kind::Error, tr("Cannot load %1: %n problem(s)", nullptr, int(lines.size())).arg(QFileInfo(path).fileName()),
                    lines.join('\n'),
                    tr("Fix the lines named above (file:line:column) in the file or in a file it extends, then open it again."));
    } catch (const std::exception& e) {
        showMessage(MessageBar::Kind::Error, tr("Cannot load %1").arg(QFileInfo(path).fileName()), QString::fromUtf8(e.what()),
                    tr("Check that the file exists and is readable YAML, then open it again."));
    }
    return false;
}

bool MainWindow::saveExperimentFile(const QString& path) {
    if (isRunConfig(path)) {
        showMessage(MessageBar::Kind::Error, tr("%1 is a run's configuration, so it was not replaced").arg(path),
                    tr("The run folder's results, Resume and Evaluate read it: it stays the record of what ran."),
                    tr("Save the experiment under another name (File > Save Experiment As…)."));
        return false;
    }
    QString error;
    const auto spec = editor_->applyPendingYaml(&error) ? editor_->validatedSpec(&error) : std::nullopt;
    if (!spec) {
        showMessage(MessageBar::Kind::Error, tr("The experiment is not valid, so it was not saved"), error,
                    tr("Fix the fields named above (the YAML tab shows every key), then save again."));
        return false;
    }
    QSaveFile f(path);
    const QByteArray text = QByteArray::fromStdString(caspl::toYaml(*spec));
    if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size() || !f.commit()) {
        showMessage(MessageBar::Kind::Error, tr("Cannot write %1").arg(path), f.errorString(),
                    tr("Choose a folder you can write to, then save again."));
        return false;
    }
    editor_->setSpec(*spec, QFileInfo(path).absoluteFilePath());
    log_->append(caspl::LogLevel::Info, tr("studio"), tr("saved %1").arg(path));
    updateTitle();
    return true;
}

bool MainWindow::inPresetLibrary(const QString& path) const {
    const QString library = presetsDir();
    return !library.isEmpty() && QFileInfo(path).absoluteFilePath().startsWith(QFileInfo(library).absoluteFilePath() + '/');
}

QString MainWindow::plainSaveTarget() const {
    const QString source = editor_->sourcePath();
    if (source.isEmpty() || !QFileInfo(source).isFile() || inPresetLibrary(source) || isRunConfig(source)) return {};
    // Saving writes every key and no `extends:` or comment: only a file in that form already (one the studio saved)
    // is rewritten in place. A file written by hand, or built on others, goes through Save As.
    QFile f(source);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return caspl::isResolvedConfigText(f.read(256).toStdString()) ? source : QString();
}

bool MainWindow::isRunConfig(const QString& path) {
    // A run folder's config.yaml is the record of what ran: its results, resume and eval read it.
    const QFileInfo info(path);
    return info.fileName() == QLatin1String("config.yaml") && QFileInfo::exists(info.dir().filePath(QStringLiteral("run.json")));
}

bool MainWindow::confirmDiscardEdits() {
    if (!editor_->isModified()) return true;
    const QString name = qs(editor_->spec().name);
    const auto answer = QMessageBox::question(
        this, tr("Discard the edits?"),
        tr("The experiment %1 has edits that are not saved. Discard them? (File > Save Experiment keeps them.)")
            .arg(name.isEmpty() ? QString() : QStringLiteral("\"%1\"").arg(name)),
        QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Cancel);
    return answer == QMessageBox::Discard;
}

void MainWindow::openPresetDialog() {
    if (!confirmDiscardEdits()) return;
    const QString dir = presetsDir();
    if (dir.isEmpty()) {
        showMessage(MessageBar::Kind::Warning, tr("No presets folder found"),
                    tr("Looked in $CASPL_PRESETS, next to the executable and in the source tree."),
                    tr("Set CASPL_PRESETS to the presets folder, or open a YAML file with File > Open YAML File…"));
        return;
    }
    std::vector<caspl::PresetInfo> presets;
    try {
        presets = caspl::listPresets(dir.toStdString());
    } catch (const std::exception& e) {
        showMessage(MessageBar::Kind::Error, tr("Cannot list the presets"), QString::fromUtf8(e.what()),
                    tr("Check the presets folder, or open a YAML file with File > Open YAML File…"));
        return;
    }
    QDialog dlg(this);
    dlg.setWindowTitle(tr("Open preset"));
    dlg.resize(720, 520);
    auto* filter = new QLineEdit(&dlg);
    filter->setPlaceholderText(tr("Filter, e.g. promptsrc_caspl or dtd"));
    auto* list = new QListWidget(&dlg);
    for (const auto& p : presets) {
        if (p.abstract) continue;
        auto* item = new QListWidgetItem(qs(p.name) + (p.description.empty() ? QString() : QStringLiteral("  —  ") + qs(p.description)), list);
        item->setData(Qt::UserRole, qs(p.path));
        item->setToolTip(p.error.empty() ? qs(p.path) : qs(p.error));
    }
    auto* browse = new QPushButton(tr("Other file…"), &dlg);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Open | QDialogButtonBox::Cancel, &dlg);
    buttons->addButton(browse, QDialogButtonBox::ActionRole);
    auto* layout = new QVBoxLayout(&dlg);
    layout->addWidget(new QLabel(tr("Presets in %1").arg(QDir::toNativeSeparators(dir)), &dlg));
    layout->addWidget(filter);
    layout->addWidget(list, 1);
    layout->addWidget(buttons);
    // The current preset is always a shown one: the first that the filter keeps unless the chosen one still shows,
    // none when it keeps none (Open is then disabled), so that Enter after typing opens what the list shows.
    QPushButton* open = buttons->button(QDialogButtonBox::Open);
    connect(filter, &QLineEdit::textChanged, list, [list](const QString& t) {
        QListWidgetItem* first = nullptr;
        for (int i = 0; i < list->count(); ++i) {
            QListWidgetItem* item = list->item(i);
            item->setHidden(!item->text().contains(t, Qt::CaseInsensitive));
            if (!first && !item->isHidden()) first = item;
        }
        if (!list->currentItem() || list->currentItem()->isHidden()) list->setCurrentItem(first);
    });
    connect(list, &QListWidget::currentItemChanged, open, [open](QListWidgetItem* current) { open->setEnabled(current != nullptr); });
    list->setCurrentItem(nullptr);
    open->setEnabled(false);
    connect(list, &QListWidget::itemDoubleClicked, &dlg, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::accepted, &dlg, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dlg, &QDialog::reject);
    QString chosen;
    connect(browse, &QPushButton::clicked, &dlg, [&] {
        chosen = QFileDialog::getOpenFileName(&dlg, tr("Open an experiment"), dir, tr("YAML experiments (*.yaml *.yml)"));
        if (!chosen.isEmpty()) dlg.accept();
    });
    if (dlg.exec() != QDialog::Accepted) return;
    if (chosen.isEmpty() && list->currentItem()) chosen = list->currentItem()->data(Qt::UserRole).toString();
    if (!chosen.isEmpty()) openExperimentFile(chosen);
}

bool MainWindow::loadResultsOf(const QString& runDir, const QString& configPath, QString* error) {
    const QString resultPath = QDir(runDir).filePath(QStringLiteral("result.json"));
    if (!QFileInfo::exists(resultPath)) return true;  // no seed finished yet
    try {
        caspl::Rounding rounding = caspl::Rounding::Paper;
        std::vector<caspl::ReferenceResult> references;
        if (QFileInfo::exists(configPath)) {
            const caspl::ExperimentSpec spec = caspl::loadExperiment(configPath.toStdString());
            rounding = spec.eval.rounding;
            if (const auto ref = caspl::referenceOf(spec)) references.push_back(*ref);
            resultsView_->setRunSources(runDir, caspl::tableSources(spec));
        }
        const caspl::ResultFile rf = caspl::readResultJson(resultPath.toStdString());
        results_->setRunRecords(runDir, rf.records, rounding, references);
        return true;
    } catch (const std::exception& e) {
        if (error) *error = QString::fromUtf8(e.what());
        return false;
    }
}

bool MainWindow::openRunFolder(const QString& dirIn) {
    const QString dir = QDir::cleanPath(QDir(dirIn).absolutePath());
    const QString config = QDir(dir).filePath(QStringLiteral("config.yaml"));
    if (!QFileInfo::exists(config)) {
        // A folder holding run folders (runs/, an --output folder): every run in it, as TensorBoard opens a logdir.
        std::vector<std::string> inside;
        try {
            if (QFileInfo(dir).isDir()) inside = caspl::findRunFolders({dir.toStdString()});
        } catch (const std::exception&) {
            // holds none: said below
        }
        if (!inside.empty()) {
            // Every run's problem is kept and said at the end, in one message naming each folder (a run opened
            // after a failing one would otherwise clear its message).
            QStringList problems;
            int opened = 0;
            {
                struct Restore {
                    QStringList*& slot;
                    QStringList* outer;
                    ~Restore() { slot = outer; }
                } restore{openProblems_, std::exchange(openProblems_, &problems)};
                for (const auto& run : inside) opened += openRunFolder(qs(run)) ? 1 : 0;
            }
            statusBar()->showMessage(tr("%n run(s) opened from %1", nullptr, opened).arg(dir), 5000);
            if (problems.isEmpty() && !openProblems_) messages_->dismiss();
            if (!problems.isEmpty())
                showMessage(MessageBar::Kind::Warning,
                            tr("%1 of %n run(s) in %2 could not be opened fully", nullptr, int(inside.size()))
                                .arg(problems.size())
                                .arg(dir),
                            problems.join('\n'), tr("The other runs are open; the log has each problem in full."));
            return opened > 0;
        }
        showMessage(MessageBar::Kind::Error, tr("%1 is not a run folder").arg(dir),
                    tr("There is no config.yaml in it, nor in the folders directly inside it."),
                    tr("Choose the folder a run wrote (<output>/<name>: it holds config.yaml, run.json and results.csv), "
                       "or the folder holding such folders (runs/)."));
        return false;
    }
    caspl::ExperimentSpec spec;
    try {
        spec = caspl::loadExperiment(config.toStdString());
    } catch (const std::exception& e) {
        if (openProblems_) {
            *openProblems_ << tr("%1: its configuration cannot be read: %2").arg(dir, QString::fromUtf8(e.what()).section('\n', 0, 0));
            log_->append(caspl::LogLevel::Error, tr("studio"), tr("%1: %2").arg(dir, QString::fromUtf8(e.what())));
            return false;
        }
        showMessage(MessageBar::Kind::Error, tr("Cannot read the run's configuration"), QString::fromUtf8(e.what()),
                    tr("The run's config.yaml is damaged or from another version; its results can still be exported with "
                       "`caspl export`."));
        return false;
    }
    // Its state from run.json, or running elsewhere when another process holds the folder.
    QString message;
    RunState state = recordedState(dir, &message);
    int id = -1;
    for (int r = 0; r < queue_->count(); ++r)
        if (queue_->job(queue_->idAt(r))->runDir == dir) id = queue_->idAt(r);
    if (id < 0) {
        id = queue_->addJob(spec, dir, state);
        queue_->setState(id, state, message);
        labelRunInPlots(id);
        if (const auto holder = otherHolder(dir)) {
            startFollowing(id, *holder);
            state = RunState::Elsewhere;
        } else {
            loadCurvesOf(id, dir);
        }
    }
    QString error;
    if (!loadResultsOf(dir, config, &error)) {
        if (openProblems_) {
            *openProblems_ << tr("%1: its results cannot be read: %2").arg(dir, error.section('\n', 0, 0));
            log_->append(caspl::LogLevel::Warning, tr("studio"), tr("%1: %2").arg(dir, error));
        } else {
            showMessage(MessageBar::Kind::Warning, tr("The run's results could not be read"), error,
                        tr("The run is in the queue; Resume it to write its results again."));
        }
    } else if (!openProblems_) {
        messages_->dismiss();
    }
    selectRun(id);
    log_->append(caspl::LogLevel::Info, tr("studio"), tr("opened run folder %1 (%2)").arg(dir, runStateName(state)));
    return true;
}

bool MainWindow::exportResultsCsv(const QString& path) {
    const QString problem = resultsView_->exportCsv(path);
    if (!problem.isEmpty()) {
        const int nl = problem.indexOf('\n');
        showMessage(MessageBar::Kind::Error, tr("Cannot export the results"), nl < 0 ? problem : problem.left(nl),
                    nl < 0 ? QString() : problem.mid(nl + 1));
        return false;
    }
    // Which rows: the Results tab's run filter decides.
    const QString run = resultsView_->currentRun();
    const QString scope = run.isEmpty() ? tr("all runs") : tr("run %1").arg(QFileInfo(run).fileName());
    log_->append(caspl::LogLevel::Info, tr("studio"), tr("exported the results of %1 to %2").arg(scope, path));
    statusBar()->showMessage(tr("Results of %1 written to %2").arg(scope, path), 5000);
    return true;
}

void MainWindow::loadCurvesOf(int job, const QString& runDir) {
    const QString path = QDir(runDir).filePath(QStringLiteral("events.jsonl"));
    if (!QFileInfo::exists(path)) return;  // a run written before event logs, or copied without it
    try {
        const auto events = caspl::readEventLog(path.toStdString());
        // In batches, as a live run delivers them.
        constexpr int kBatch = 4096;
        for (std::size_t i = 0; i < events.metrics.size(); i += kBatch) {
            QList<caspl::MetricEvent> batch;
            for (std::size_t k = i; k < std::min(events.metrics.size(), i + kBatch); ++k) batch.append(events.metrics[k]);
            plots_->addMetrics(job, batch);
        }
        for (const auto& row : events.evals) plots_->addEvaluation(job, row);
        if (events.truncatedLastLine)
            log_->append(caspl::LogLevel::Warning, tr("studio"), tr("%1: the last line is incomplete and was left out").arg(path));
    } catch (const std::exception& e) {
        log_->append(caspl::LogLevel::Warning, tr("studio"), tr("the run's curves could not be read: %1").arg(QString::fromUtf8(e.what())));
    }
}

bool MainWindow::exportRunLog(int id, const QString& failure,
                              const std::function<void(const caspl::RunEventLog&, const QString&)>& write) {
    const RunJob* j = queue_->job(id);
    if (!j) {
        showMessage(MessageBar::Kind::Info, tr("No run selected"), {}, tr("Select a run in the run queue first."));
        return false;
    }
    const QString events = QDir(j->runDir).filePath(QStringLiteral("events.jsonl"));
    try {
        if (!QFileInfo::exists(events))
            throw caspl::Error(events.toStdString() + ": not found (the run has not started, or its folder was moved)");
        write(caspl::readEventLog(events.toStdString()), QFileInfo(QDir::cleanPath(QDir(j->runDir).absolutePath())).fileName());
        return true;
    } catch (const std::exception& e) {
        showMessage(MessageBar::Kind::Error, failure, QString::fromUtf8(e.what()),
                    tr("Choose a folder you can write to; the run folder must hold events.jsonl."));
        return false;
    }
}

bool MainWindow::exportCurvesCsv(int id, const QString& path) {
    return exportRunLog(id, tr("Cannot export the curves"), [&](const caspl::RunEventLog& log, const QString&) {
        caspl::writeFileAtomically(path.toStdString(), caspl::curvesCsvText(log.metrics));
        log_->append(caspl::LogLevel::Info, tr("studio"),
                     tr("exported %1 steps of %2 to %3").arg(log.metrics.size()).arg(jobLabel(id), path));
        statusBar()->showMessage(tr("Curves written to %1").arg(path), 5000);
    });
}

bool MainWindow::exportTensorBoard(int id, const QString& dir) {
    return exportRunLog(id, tr("Cannot export for TensorBoard"), [&](const caspl::RunEventLog& log, const QString& runName) {
        const QString source = QDir::cleanPath(QDir(queue_->job(id)->runDir).absolutePath());
        // No HParams session: one run has no keys that differ, and its experiment would replace the one of a sweep
        // exported into the same folder with `caspl export --tensorboard`.
        const auto written = caspl::writeTensorBoard({{runName.toStdString(), source.toStdString(), log, std::nullopt}}, dir.toStdString(),
                                                     caspl::DirLock::hostName(), double(QDateTime::currentSecsSinceEpoch()));
        for (const auto& w : written.warnings) log_->append(caspl::LogLevel::Warning, tr("studio"), QString::fromStdString(w));
        if (written.files.empty()) throw caspl::Error(source.toStdString() + ": nothing to export yet (no metric or evaluation lines)");
        log_->append(caspl::LogLevel::Info, tr("studio"),
                     tr("exported %1 values of %2 to %3 event files under %4; view them with: tensorboard --logdir %4")
                         .arg(written.scalars)
                         .arg(jobLabel(id))
                         .arg(written.files.size())
                         .arg(dir));
        statusBar()->showMessage(tr("TensorBoard files written under %1").arg(dir), 5000);
    });
}

bool MainWindow::savePlots(const QString& path) {
    const QString problem = plots_->saveImage(path);
    if (!problem.isEmpty()) {
        showMessage(MessageBar::Kind::Error, tr("Cannot save the plots"), problem, tr("Use a .png, .jpg or .pdf file name in a folder you can write to."));
        return false;
    }
    log_->append(caspl::LogLevel::Info, tr("studio"), tr("saved the plots to %1").arg(path));
    statusBar()->showMessage(tr("Plots written to %1").arg(path), 5000);
    return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Runs

void MainWindow::labelRunInPlots(int job) {
    plots_->setRunLabel(job, jobLabel(job));
    const RunJob* j = queue_->job(job);
    const auto ref = j ? caspl::referenceOf(j->spec) : std::nullopt;
    // The lines run across every evaluation of the run: only where they all compare with them (one dataset, one
    // K, the run's own method); the results table matches the others row by row.
    const bool everyEvaluation = ref && j->spec.data.datasets == std::vector<std::string>{ref->dataset} &&
                                 j->spec.data.shots == std::vector<int>{ref->shots} &&
                                 ref->method == caspl::methodLabel(j->spec);
    if (!everyEvaluation) {
        plots_->setReference(job, std::nullopt, std::nullopt, {});
        return;
    }
    // Base and novel, or the accuracy on all classes (few-shot, transfer).
    plots_->setReference(job, ref->base ? ref->base : ref->all, ref->novel, qs(ref->source));
}

QString MainWindow::jobLabel(int job) const {
    const RunJob* j = queue_->job(job);
    if (!j) return tr("run %1").arg(job);
    return QStringLiteral("#%1 %2").arg(job).arg(QFileInfo(j->runDir).fileName());
}

int MainWindow::selectedRun() const {
    const QModelIndexList rows = queueView_->selectionModel()->selectedRows();
    return rows.isEmpty() ? -1 : queue_->idAt(rows.first().row());
}

void MainWindow::selectRun(int id) {
    const int row = queue_->rowOf(id);
    if (row >= 0) queueView_->selectRow(row);
}

int MainWindow::runCurrentExperiment(bool startNow) {
    QString error;
    const auto spec = editor_->applyPendingYaml(&error) ? editor_->validatedSpec(&error) : std::nullopt;
    if (!spec) {
        showMessage(MessageBar::Kind::Error, tr("The experiment cannot run as it is"), error,
                    tr("Fix the fields named above (the YAML tab shows every key), then run again."));
        return -1;
    }
    return queueExperiment(*spec, startNow);
}

void MainWindow::openSweepDialog() {
    QString error;
    const auto spec = editor_->applyPendingYaml(&error) ? editor_->validatedSpec(&error) : std::nullopt;
    if (!spec) {
        showMessage(MessageBar::Kind::Error, tr("The experiment cannot be swept as it is"), error,
                    tr("Fix the fields named above (the YAML tab shows every key), then sweep again."));
        return;
    }
    SweepDialog dialog(*spec, this);
    if (dialog.exec() != QDialog::Accepted) return;
    const auto specs = dialog.experiments(&error);  // checked again: the last keystroke may not have been
    if (specs.empty()) {
        showMessage(MessageBar::Kind::Error, tr("The sweep cannot run as it is"), error,
                    tr("Fix the key or value named above in Run > Sweep…, then run again."));
        return;
    }
    runSweep(specs);
}

int MainWindow::runSweep(const std::vector<caspl::ExperimentSpec>& specs) {
    int queued = 0;
    QStringList refused;
    for (const auto& spec : specs) {
        if (queueExperiment(spec, false) >= 0) ++queued;
        else refused << qs(spec.name);
    }
    log_->append(caspl::LogLevel::Info, tr("sweep"), tr("%1 of %2 runs queued").arg(queued).arg(specs.size()));
    if (!refused.isEmpty())
        showMessage(MessageBar::Kind::Warning, tr("%1 of the sweep's %2 runs were not queued").arg(refused.size()).arg(specs.size()),
                    refused.join(QStringLiteral(", ")),
                    tr("Each is in the queue already, run by another process, or its folder holds another experiment."));
    if (queued > 0) {
        if (!processQueue_->isChecked()) processQueue_->setChecked(true);  // starts the first
        startNextIfIdle();
    }
    return queued;
}

int MainWindow::queueExperiment(const caspl::ExperimentSpec& spec, bool startNow) {
    if (!engine_) {
        showMessage(MessageBar::Kind::Error, tr("No engine is attached to this window"), {},
                    tr("Start the studio with `caspl-studio` (it attaches the engine), or run the experiment with `caspl run`."));
        return -1;
    }
    const QString dir = runDirOf(spec);
    for (int r = 0; r < queue_->count(); ++r) {
        const RunJob* j = queue_->job(queue_->idAt(r));
        if (j->runDir != dir) continue;
        if (j->state == RunState::Queued || j->state == RunState::Running || j->state == RunState::Stopping) {
            showMessage(MessageBar::Kind::Warning, tr("This experiment is already in the queue"), dir,
                        tr("Wait for it, or change the experiment's name to run it into another folder."));
            return -1;
        }
        if (j->state == RunState::Elsewhere) {
            showMessage(MessageBar::Kind::Warning, tr("Another process is running this experiment"), j->message,
                        tr("Wait for it to end (the queue shows it as running elsewhere), or change the experiment's "
                           "name to run it into another folder."));
            return -1;
        }
        // A finished, stopped or failed row of this folder: the experiment runs in it again, as the engine decides.
        // The same experiment resumes there (text_chunk or loader threads may have changed); another one takes the
        // folder over when the earlier attempt trained nothing (a typo in a path, fixed in the editor); else refused.
        const bool same = caspl::resolvedHash(j->spec) == caspl::resolvedHash(spec);  // what the engine compares
        const bool folderGone = !QFileInfo::exists(QDir(dir).filePath(QStringLiteral("config.yaml")));
        if (!same && !folderGone && !caspl::holdsNothingTrained(dir.toStdString())) {
            showMessage(MessageBar::Kind::Error, tr("Another experiment already uses the folder %1").arg(dir),
                        tr("The run %1 in the queue trained a different configuration there.").arg(jobLabel(j->id)),
                        tr("Change the experiment's name or output folder, then run again."));
            return -1;
        }
        const int id = j->id;
        queue_->setSpec(id, spec);
        queue_->setEvaluation(id, false);
        if (!same) plots_->clearRun(id);  // the earlier attempt's curves are not the corrected experiment's
        labelRunInPlots(id);               // its name and reference numbers, as they are now
        log_->append(caspl::LogLevel::Info, jobLabel(id),
                     same ? tr("queued again (%1 → %2)").arg(qs(caspl::methodLabel(spec)), dir)
                          : tr("queued with the corrected experiment, which takes over %1 (the earlier attempt trained "
                               "nothing)").arg(dir));
        queue_->setState(id, RunState::Queued);
        messages_->dismiss();
        selectRun(id);
        if (startNow && !processQueue_->isChecked()) processQueue_->setChecked(true);
        startNextIfIdle();
        return id;
    }
    const int id = queue_->addJob(spec, dir);
    labelRunInPlots(id);
    messages_->dismiss();
    log_->append(caspl::LogLevel::Info, jobLabel(id), tr("queued (%1 → %2)").arg(qs(caspl::methodLabel(spec)), dir));
    selectRun(id);
    if (startNow && !processQueue_->isChecked()) processQueue_->setChecked(true);  // starts it
    startNextIfIdle();
    return id;
}

void MainWindow::startNextIfIdle() {
    if (!engine_ || engine_->isRunning() || !processQueue_->isChecked()) return;
    int id = queue_->nextQueued();
    // A queued run whose folder another process took meanwhile (`caspl resume` in a terminal) is followed instead.
    while (id >= 0) {
        const auto holder = otherHolder(queue_->job(id)->runDir);
        if (!holder) break;
        queue_->setEvaluation(id, false);
        log_->append(caspl::LogLevel::Warning, jobLabel(id),
                     tr("not started: %1 runs it already; following that process instead").arg(qs(holder->describe())));
        startFollowing(id, *holder);
        id = queue_->nextQueued();
    }
    if (id < 0) return;
    const RunJob* j = queue_->job(id);
    if (!engine_->startRun(id, j->spec, j->runDir, j->evalOnly)) return;
    queue_->setState(id, RunState::Running);
    evalSinceReload_ = false;
    probe_->start();
    runLabel_->setText(tr("%1: starting…").arg(jobLabel(id)));
    updateActions();
}

void MainWindow::stopRun() {
    const int id = queue_->runningJob();
    if (id < 0 || !engine_) return;
    processQueue_->setChecked(false);  // the user stopped: do not start the next run behind their back
    queue_->setState(id, RunState::Stopping);
    engine_->requestStop();
    runLabel_->setText(tr("%1: stopping at the next step (writing a checkpoint)…").arg(jobLabel(id)));
}

bool MainWindow::resumeRun(int id) {
    const RunJob* j = queue_->job(id);
    if (!j) {
        showMessage(MessageBar::Kind::Info, tr("No run selected"), {}, tr("Select a stopped or failed run in the run queue, then Resume."));
        return false;
    }
    if (j->state != RunState::Stopped && j->state != RunState::Failed && j->state != RunState::Done) {
        showMessage(MessageBar::Kind::Info, tr("%1 is %2").arg(jobLabel(id), runStateName(j->state)), {},
                    tr("Only stopped, failed or finished runs can be resumed."));
        return false;
    }
    queue_->setState(id, RunState::Queued);
    log_->append(caspl::LogLevel::Info, jobLabel(id), tr("resume queued: the same experiment into %1").arg(j->runDir));
    if (!processQueue_->isChecked()) processQueue_->setChecked(true);
    startNextIfIdle();
    return true;
}

bool MainWindow::evaluateRun(int id) {
    const RunJob* j = queue_->job(id);
    if (!j || (j->state != RunState::Stopped && j->state != RunState::Failed && j->state != RunState::Done)) {
        showMessage(MessageBar::Kind::Info, tr("No finished, stopped or failed run selected"), {},
                    tr("Select such a run in the run queue, then Evaluate."));
        return false;
    }
    queue_->setEvaluation(id, true, j->state);
    queue_->setState(id, RunState::Queued);
    log_->append(caspl::LogLevel::Info, jobLabel(id), tr("evaluation queued: the trained seeds of %1").arg(j->runDir));
    if (!processQueue_->isChecked()) processQueue_->setChecked(true);
    startNextIfIdle();
    return true;
}

bool MainWindow::removeRun(int id) {
    const RunJob* j = queue_->job(id);
    if (!j) return false;
    const QString dir = j->runDir;  // (j goes with its row)
    if (!queue_->removeJob(id)) {
        showMessage(MessageBar::Kind::Info, tr("%1 is running").arg(jobLabel(id)), {}, tr("Stop it first, then remove it."));
        return false;
    }
    plots_->removeRun(id);
    followers_.erase(id);
    resultStamps_.remove(id);
    dropResultsOf(dir);
    return true;
}

void MainWindow::dropResultsOf(const QString& runDir) {
    // A run removed from the queue leaves the Results tab and its exports too, unless another row shows its folder.
    if (runDir.isEmpty()) return;
    for (int r = 0; r < queue_->count(); ++r)
        if (queue_->job(queue_->idAt(r))->runDir == runDir) return;
    results_->removeRun(runDir);
}

void MainWindow::onRunStarted(int job, const QString& runDir) {
    queue_->setRunDir(job, QDir::cleanPath(QDir(runDir).absolutePath()));
    log_->append(caspl::LogLevel::Info, jobLabel(job), tr("started in %1").arg(runDir));
    updateActions();  // its folder exists now (Show Run Folder)
    refreshRunsTab();
}

void MainWindow::onProgress(int job, const caspl::ProgressEvent& e) {
    queue_->applyProgress(job, e);
    const RunJob* j = queue_->job(job);
    if (!j) return;
    QString eta = RunQueueModel::formatDuration(j->overallEta >= 0 ? j->overallEta : j->phaseEta);
    const QString training = qs(caspl::seriesLabel(e));
    runLabel_->setText(tr("%1: %2 epoch %3/%4, step %5/%6 · run %7% · ETA %8")
                           .arg(jobLabel(job), training.isEmpty() ? qs(e.phase) : tr("%1 (%2)").arg(qs(e.phase), training))
                           .arg(e.epoch)
                           .arg(e.epochs)
                           .arg(e.step)
                           .arg(e.steps)
                           .arg(j->overall * 100, 0, 'f', 0)
                           .arg(eta));
}

void MainWindow::onEvalRow(int job, const caspl::EvalRow& row) {
    const RunJob* j = queue_->job(job);
    if (!j) return;
    plots_->addEvaluation(job, row);
    const int shots = row.shots > 0 ? row.shots : j->spec.data.shots.size() == 1 ? j->spec.data.shots.front() : 0;
    try {
        std::vector<caspl::ReferenceResult> references;
        if (const auto ref = caspl::referenceOf(j->spec)) references.push_back(*ref);
        results_->addEvalRow(j->runDir, row, shots, j->spec.eval.rounding, references);
    } catch (const std::exception& e) {
        log_->append(caspl::LogLevel::Warning, jobLabel(job), tr("results table: %1").arg(QString::fromUtf8(e.what())));
    }
    evalSinceReload_ = true;
}

void MainWindow::onLog(int job, caspl::LogLevel level, const QString& text) {
    log_->append(level, jobLabel(job), text);
    // A unit of the run finished in an earlier session (resume): the overall progress moves on.
    if (text.contains(QLatin1String("already done"))) queue_->setPhase(job, QStringLiteral("skipped"));
}

void MainWindow::onPhase(int job, const QString& phase) {
    queue_->setPhase(job, phase);
    // After a seed's evaluation the engine has written result.json: take the exact records (with shots) from it.
    if (evalSinceReload_ && !phase.startsWith(QLatin1String("eval"))) reloadRunResults(job);
}

void MainWindow::reloadRunResults(int job) {
    const RunJob* j = queue_->job(job);
    if (!j) return;
    evalSinceReload_ = false;
    QString error;
    if (!loadResultsOf(j->runDir, QDir(j->runDir).filePath(QStringLiteral("config.yaml")), &error))
        log_->append(caspl::LogLevel::Warning, jobLabel(job), tr("cannot read the results: %1").arg(error));
    refreshRunsTab();
}

void MainWindow::refreshRunsTab() {
    runsDirty_ = true;
    if (tabs_->currentWidget() == runsView_) runsRefresh_->start();
}

bool MainWindow::endEvaluation(int job, const QString& note) {
    const RunJob* j = queue_->job(job);
    if (!j || !j->evalOnly) return false;
    const RunState before = j->stateBeforeEval;
    queue_->setEvaluation(job, false);
    queue_->setState(job, before);
    runLabel_->setText(tr("%1: %2").arg(jobLabel(job), note));
    log_->append(caspl::LogLevel::Info, jobLabel(job), note);
    runEnded(job);
    return true;
}

void MainWindow::runEnded(int job) {
    probe_->stop();
    if (probe_->sampleCount() > 0)
        log_->append(caspl::LogLevel::Info, jobLabel(job), tr("UI event-loop lag during the run: %1").arg(probe_->summary()));
    device_->refresh();
    reloadRunResults(job);
    updateActions();
    startNextIfIdle();
}

void MainWindow::onFinished(int job, const QString& runDir, bool resumed) {
    if (endEvaluation(job, tr("evaluated again; results in %1").arg(runDir))) {
        if (const RunJob* j = queue_->job(job)) resultsView_->showFinishedRun(j->runDir);
        return;
    }
    queue_->setRunDir(job, QDir::cleanPath(QDir(runDir).absolutePath()));
    queue_->markResumed(job, resumed);
    queue_->setState(job, RunState::Done);
    runLabel_->setText(tr("%1: done").arg(jobLabel(job)));
    log_->append(caspl::LogLevel::Info, jobLabel(job), tr("finished%1; results in %2").arg(resumed ? tr(" (resumed)") : QString(), runDir));
    runEnded(job);
    if (const RunJob* j = queue_->job(job)) resultsView_->showFinishedRun(j->runDir);
}

void MainWindow::onInterrupted(int job, const QString& runDir, const QString& where) {
    if (endEvaluation(job, tr("evaluation stopped during %1").arg(where))) return;
    queue_->setState(job, RunState::Stopped, tr("stopped during %1; Resume continues from the checkpoint").arg(where));
    runLabel_->setText(tr("%1: stopped").arg(jobLabel(job)));
    showMessage(MessageBar::Kind::Info, tr("%1 stopped during %2").arg(jobLabel(job), where),
                tr("A checkpoint was written in %1.").arg(runDir),
                tr("Select the run in the run queue and choose Run > Resume Selected Run to continue it. The queue is "
                   "paused (Run > Process Queue)."));
    runEnded(job);
}

void MainWindow::onFailed(int job, const QString& runDir, const QString& message, const QString& advice) {
    if (const RunJob* j = queue_->job(job); j && j->evalOnly) {
        showMessage(MessageBar::Kind::Error, tr("%1: the evaluation failed (%2)").arg(jobLabel(job), runDir), message,
                    message.contains(QLatin1String("nothing to evaluate"))
                        ? tr("Resume the run to train its seeds, then evaluate.")
                        : advice);
        endEvaluation(job, tr("evaluation failed: %1").arg(message));
        return;
    }
    queue_->setState(job, RunState::Failed, message);
    runLabel_->setText(tr("%1: failed").arg(jobLabel(job)));
    showMessage(MessageBar::Kind::Error, tr("%1 failed (%2)").arg(jobLabel(job), runDir), message, advice);
    runEnded(job);
}

// ---------------------------------------------------------------------------------------------------------------
// The session

void MainWindow::saveSession(QSettings& settings) const {
    settings.beginGroup(QStringLiteral("session"));
    settings.remove(QString());  // what an earlier session left
    settings.setValue("geometry", saveGeometry());
    settings.setValue("windowState", saveState());
    settings.setValue("tab", tabs_->currentIndex());
    settings.setValue("plotSmoothing", plots_->smoothing());
    settings.setValue("plotLogScale", plots_->logScale());
    settings.setValue("plotIgnoreOutliers", plots_->ignoreOutliers());
    static const char* const kStepAxes[] = {"continue", "overlay", "seed_mean", "relative", "wall"};  // StepAxis's order
    settings.setValue("plotStepAxis", kStepAxes[std::clamp(int(plots_->stepAxis()), 0, 4)]);
    static const char* const kRunsPlots[] = {"scatter", "parallel", "correlation"};
    settings.setValue("runsPlot", kRunsPlots[std::clamp(runsView_->plotKindBox()->currentData().toInt(), 0, 2)]);
    settings.setValue("runsAxisOrder", runsView_->parallelAxisOrder());
    settings.setValue("runsHiddenAxes", runsView_->hiddenParallelAxes());
    const QString source = editor_->sourcePath();
    settings.setValue("experiment", QFileInfo(source).isFile() ? source : QString());
    settings.setValue("processQueue", processQueue_->isChecked());
    settings.beginWriteArray(QStringLiteral("runs"));
    for (int r = 0; r < queue_->count(); ++r) {
        const RunJob* j = queue_->job(queue_->idAt(r));
        settings.setArrayIndex(r);
        settings.setValue("folder", j->runDir);
        const bool queued = j->state == RunState::Queued;
        settings.setValue("queued", queued);
        settings.setValue("evaluation", queued && j->evalOnly);
        // A queued run's experiment is kept as YAML: it may have no folder yet, or be a corrected experiment that will
        // take over a folder whose earlier attempt failed before training.
        if (queued) settings.setValue("yaml", qs(caspl::toYaml(j->spec)));
    }
    settings.endArray();
    settings.endGroup();
}

int MainWindow::restoreSession(QSettings& settings) {
    settings.beginGroup(QStringLiteral("session"));
    if (settings.contains("geometry")) restoreGeometry(settings.value("geometry").toByteArray());
    if (settings.contains("windowState")) restoreState(settings.value("windowState").toByteArray());
    tabs_->setCurrentIndex(std::clamp(settings.value("tab", 0).toInt(), 0, tabs_->count() - 1));
    plots_->setSmoothing(settings.value("plotSmoothing", 0.0).toDouble());
    plots_->setLogScale(settings.value("plotLogScale", false).toBool());
    plots_->setIgnoreOutliers(settings.value("plotIgnoreOutliers", false).toBool());
    const QString stepAxis = settings.value("plotStepAxis").toString();
    plots_->setStepAxis(stepAxis == QLatin1String("overlay")     ? PlotPanel::StepAxis::Overlay
                        : stepAxis == QLatin1String("seed_mean") ? PlotPanel::StepAxis::SeedMean
                        : stepAxis == QLatin1String("relative")  ? PlotPanel::StepAxis::Relative
                        : stepAxis == QLatin1String("wall")     ? PlotPanel::StepAxis::Wall
                                                                : PlotPanel::StepAxis::Continue);
    const QString runsPlot = settings.value("runsPlot").toString();
    runsView_->plotKindBox()->setCurrentIndex(runsView_->plotKindBox()->findData(
        runsPlot == QLatin1String("parallel") ? RunsView::ParallelCoordinates
        : runsPlot == QLatin1String("correlation") ? RunsView::Correlation : RunsView::Scatter));
    runsView_->setParallelAxisLayout(settings.value("runsAxisOrder").toStringList(), settings.value("runsHiddenAxes").toStringList());
    const QString experiment = settings.value("experiment").toString();
    if (!experiment.isEmpty() && QFileInfo(experiment).isFile()) openExperimentFile(experiment);
    const bool processing = settings.value("processQueue", true).toBool();
    processQueue_->setChecked(false);  // nothing starts while the queue is rebuilt
    int restored = 0, queued = 0;
    QStringList gone;
    const int n = settings.beginReadArray(QStringLiteral("runs"));
    for (int i = 0; i < n; ++i) {
        settings.setArrayIndex(i);
        const QString folder = settings.value("folder").toString();
        const bool wasQueued = settings.value("queued").toBool();
        const QString yaml = settings.value("yaml").toString();
        if (folder.isEmpty()) continue;
        if (QFileInfo::exists(QDir(folder).filePath(QStringLiteral("config.yaml")))) {
            if (!openRunFolder(folder)) {
                gone << folder;
                continue;
            }
            ++restored;
            const int id = selectedRun();  // openRunFolder selects the run it opened
            const RunJob* j = queue_->job(id);
            if (wasQueued && j && j->state != RunState::Elsewhere) {  // queued to resume, or to be evaluated
                if (settings.value("evaluation").toBool()) queue_->setEvaluation(id, true, j->state);
                // The experiment that was queued, where it differs from the folder's (a corrected one).
                if (!yaml.isEmpty()) {
                    try {
                        const caspl::ExperimentSpec queuedSpec = caspl::loadExperimentFromString(
                            yaml.toStdString(), "the queued run " + folder.toStdString(), QDir::currentPath().toStdString());
                        if (caspl::resolvedHash(queuedSpec) != caspl::resolvedHash(j->spec)) queue_->setSpec(id, queuedSpec);
                    } catch (const std::exception& e) {
                        gone << tr("%1 (its queued experiment: %2)").arg(folder, QString::fromUtf8(e.what()));
                    }
                }
                queue_->setState(id, RunState::Queued);
                ++queued;
            }
        } else if (wasQueued && !yaml.isEmpty()) {
            try {
                const caspl::ExperimentSpec spec =
                    caspl::loadExperimentFromString(yaml.toStdString(), "the queued run " + folder.toStdString(), QDir::currentPath().toStdString());
                const int id = queue_->addJob(spec, folder);
                labelRunInPlots(id);
                ++restored;
                ++queued;
            } catch (const std::exception& e) {
                gone << tr("%1 (%2)").arg(folder, QString::fromUtf8(e.what()));
            }
        } else {
            gone << folder;
        }
    }
    settings.endArray();
    settings.endGroup();
    if (!gone.isEmpty())
        log_->append(caspl::LogLevel::Warning, tr("studio"),
                     tr("%n run(s) of the last session could not be reopened (moved or deleted): %1", nullptr, int(gone.size()))
                         .arg(gone.join(QStringLiteral("; "))));
    if (queued > 0) {
        showMessage(MessageBar::Kind::Info, tr("%n queued run(s) of the last session are back in the queue", nullptr, queued),
                    tr("The queue is paused, so that nothing starts before you say so."),
                    tr("Choose Run > Process Queue to start them, or remove them."));
    } else {
        processQueue_->setChecked(processing);
    }
    if (restored > 0) log_->append(caspl::LogLevel::Info, tr("studio"), tr("%n run(s) of the last session reopened", nullptr, restored));
    updateActions();
    return restored;
}

// ---------------------------------------------------------------------------------------------------------------
// Runs that another process runs

void MainWindow::pollRunFolders() {
    std::vector<int> ids;
    for (int r = 0; r < queue_->count(); ++r) ids.push_back(queue_->idAt(r));
    for (int id : ids) {
        const RunJob* j = queue_->job(id);
        if (!j || j->runDir.isEmpty()) continue;
        // Queued, running or stopping here: the studio's own engine has (or will take) the folder.
        if (j->state == RunState::Queued || j->state == RunState::Running || j->state == RunState::Stopping) continue;
        const auto holder = otherHolder(j->runDir);
        if (j->state != RunState::Elsewhere) {
            if (holder) startFollowing(id, *holder);
            continue;
        }
        followRun(id);
        if (!holder) stopFollowing(id);
    }
}

void MainWindow::startFollowing(int job, const caspl::LockHolder& who) {
    const RunJob* j = queue_->job(job);
    if (!j) return;
    const QString events = QDir(j->runDir).filePath(QStringLiteral("events.jsonl"));
    queue_->setState(job, RunState::Elsewhere,
                     tr("run by %1 (caspl in a terminal, or a batch job); the studio follows %2")
                         .arg(qs(who.describe()) + (who.local ? tr(" on this machine") : QString()), events));
    // The whole log again, from its start: what the process wrote before it was noticed is in it.
    plots_->clearRun(job);
    labelRunInPlots(job);
    followers_[job] = std::make_unique<caspl::EventLogFollower>(events.toStdString());
    resultStamps_.remove(job);
    log_->append(caspl::LogLevel::Info, jobLabel(job), tr("running elsewhere (%1): following its events").arg(qs(who.describe())));
    followRun(job, true);
    updateActions();
    refreshRunsTab();
}

void MainWindow::followRun(int job, bool replay) {
    auto it = followers_.find(job);
    if (it == followers_.end()) return;
    FollowedEvents ev;
    try {
        if (it->second->poll(ev).restarted) {  // a new run took the folder over: its curves replace the old ones
            plots_->clearRun(job);
            replay = true;
            it->second->poll(ev);
        }
    } catch (const std::exception& e) {  // the lines before the damaged one were delivered; the next poll goes on
        log_->append(caspl::LogLevel::Warning, jobLabel(job), QString::fromUtf8(e.what()));
    }
    for (const auto& p : ev.progressEvents) queue_->applyProgress(job, p);
    if (!ev.lastPhase.isEmpty()) queue_->setPhase(job, ev.lastPhase);
    constexpr int kBatch = 4096;
    for (int i = 0; i < ev.metrics.size(); i += kBatch) plots_->addMetrics(job, ev.metrics.mid(i, kBatch));
    for (const auto& row : ev.evals) plots_->addEvaluation(job, row);
    if (!replay)  // the history's log lines stay in the run's events.jsonl; the log pane shows what happens now
        for (const auto& [level, text] : ev.logs) log_->append(level, jobLabel(job), QString::fromStdString(text));
    // The results table follows result.json, which the process rewrites after each seed's evaluation.
    const QFileInfo result(QDir(queue_->job(job)->runDir).filePath(QStringLiteral("result.json")));
    const QPair<qint64, qint64> stamp{result.exists() ? result.lastModified().toMSecsSinceEpoch() : 0, result.exists() ? result.size() : -1};
    if (replay || resultStamps_.value(job) != stamp) {
        resultStamps_.insert(job, stamp);
        reloadRunResults(job);
    }
}

void MainWindow::stopFollowing(int job) {
    const RunJob* j = queue_->job(job);
    if (!j) return;
    followRun(job);  // its last lines
    followers_.erase(job);
    resultStamps_.remove(job);
    QString message;
    const RunState state = recordedState(j->runDir, &message);
    queue_->setState(job, state, message);
    reloadRunResults(job);
    log_->append(state == RunState::Failed ? caspl::LogLevel::Warning : caspl::LogLevel::Info, jobLabel(job),
                 tr("the process running it ended; the run is %1%2").arg(runStateName(state), message.isEmpty() ? QString() : ": " + message));
    updateActions();
}

// ---------------------------------------------------------------------------------------------------------------
// Dialogs

CompareDialog* MainWindow::compareDialog() {
    if (!compare_) compare_ = new CompareDialog(this);
    return compare_;
}

QStringList MainWindow::queueRunDirs() const {
    QStringList runs;
    for (int r = 0; r < queue_->count(); ++r) {
        const QString d = queue_->job(queue_->idAt(r))->runDir;
        if (QFileInfo::exists(QDir(d).filePath("config.yaml")) && !runs.contains(d)) runs << d;
    }
    return runs;
}

QStringList MainWindow::knownRunDirs() const {
    QStringList runs = queueRunDirs();
    for (const QString& d : results_->runs())
        if (!runs.contains(d)) runs << d;
    return runs;
}

PerClassDialog* MainWindow::perClassDialog() {
    if (!perClass_) perClass_ = new PerClassDialog(this);
    return perClass_;
}

void MainWindow::showPerClass() {
    const QStringList runs = knownRunDirs();
    const int id = selectedRun();
    const QString run = id >= 0 ? queue_->job(id)->runDir : runs.isEmpty() ? QString() : runs.last();
    PerClassDialog* dlg = perClassDialog();
    dlg->setRuns(runs);
    dlg->showRuns(run, dlg->runB() == run ? QString() : dlg->runB());
    dlg->show();
    dlg->raise();
}

void MainWindow::compareRuns() {
    const QStringList runs = knownRunDirs();
    CompareDialog* dlg = compareDialog();
    dlg->setRuns(runs);
    if (runs.size() >= 2) dlg->compare(runs.at(runs.size() - 2), runs.last());
    dlg->show();
    dlg->raise();
}

void MainWindow::showKeysReference() {
    auto* dlg = new QDialog(this);
    dlg->setAttribute(Qt::WA_DeleteOnClose);
    dlg->setObjectName("keysDialog");
    dlg->setWindowTitle(tr("Experiment keys"));
    dlg->resize(980, 640);
    const auto keys = caspl::specKeys();
    auto* table = new QTableWidget(int(keys.size()), 5, dlg);
    table->setHorizontalHeaderLabels({tr("Key"), tr("Type"), tr("Range"), tr("Default"), tr("Meaning")});
    for (int r = 0; r < int(keys.size()); ++r) {
        const auto& k = keys[std::size_t(r)];
        const QString cells[] = {qs(k.key), qs(k.type), qs(k.range), qs(k.defaultValue), qs(k.help)};
        for (int c = 0; c < 5; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            item->setFlags(item->flags() & ~Qt::ItemIsEditable);
            item->setToolTip(cells[c]);
            table->setItem(r, c, item);
        }
    }
    table->verticalHeader()->hide();
    table->horizontalHeader()->setStretchLastSection(true);
    table->resizeColumnsToContents();
    table->setColumnWidth(1, std::min(table->columnWidth(1), 220));
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, dlg);
    connect(buttons, &QDialogButtonBox::rejected, dlg, &QDialog::close);
    auto* layout = new QVBoxLayout(dlg);
    layout->addWidget(new QLabel(tr("Every key of an experiment file (the same list as `caspl presets keys`)."), dlg));
    layout->addWidget(table, 1);
    layout->addWidget(buttons);
    dlg->show();
}

void MainWindow::showAbout() {
    QMessageBox::about(this, tr("About CasPL Studio"),
                       tr("<b>CasPL Studio %1</b><p>CLIP prompt learning (CoOp, CoCoOp, MaPLe, PromptSRC) and "
                          "Cascade Prompt Learning (ECCV 2024).</p><p>%2</p>")
                           .arg(QApplication::applicationVersion(), runtimeDescription_.toHtmlEscaped()));
}

void MainWindow::closeEvent(QCloseEvent* event) {
    const bool running = engine_ && engine_->isRunning();
    int queued = 0;
    for (int r = 0; r < queue_->count(); ++r)
        if (queue_->job(queue_->idAt(r))->state == RunState::Queued) ++queued;
    if (!running && queued == 0 && !demo_ && !confirmDiscardEdits()) {
        event->ignore();
        return;
    }
    if (running || queued > 0 || demo_) {
        QStringList what;
        if (running) what << tr("the running experiment stops after writing a checkpoint (Resume continues it)");
        if (queued > 0)
            what << (persistSession_ ? tr("%n queued run(s) wait in the queue for the next start", nullptr, queued)
                                     : tr("%n queued run(s) will not start", nullptr, queued));
        if (demo_) what << tr("the demo stops (run `caspl demo` again to continue it)");
        if (editor_->isModified()) what << tr("the experiment's unsaved edits are discarded");
        const auto answer = QMessageBox::question(this, tr("Quit CasPL Studio?"), tr("If you quit now, ") + what.join(tr("; ")) + '.',
                                                  QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
        if (answer != QMessageBox::Yes) {
            event->ignore();
            return;
        }
        if (running) engine_->requestStop();
        if (demo_) {
            // SIGTERM: the demo writes its checkpoint and exits 130 (a kill would lose the epoch in progress).
            demo_->terminate();
            if (!demo_->waitForFinished(30000)) demo_->kill();
        }
    }
    if (persistSession_) {
        QSettings settings;
        saveSession(settings);
    }
    event->accept();
}

}  // namespace caspl::ui
