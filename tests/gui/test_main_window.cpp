// The main window, offscreen: menus (every item wired), presets (bad files show file:line:col diagnostics in the
// window), the editor bound to the spec, a real tiny run through the engine thread (live plots, results, queue
// states, event-loop latency measured meanwhile, screenshots written to <build>/tests/gui_screenshots/), stop and
// resume, failures shown with what to do, comparing and exporting runs.
#include "app/run_worker.h"
#include "core/engine/event_log.h"
#include "core/engine/run_status.h"
#include "core/experiment/results.h"
#include "core/experiment/run_notes.h"
#include "core/experiment/spec_loader.h"
#include "core/util/atomic_file.h"
#include "core/util/dir_lock.h"
#include "made_data.h"
#include "tiny_experiment.h"
#include "test_support.h"
#include "ui/compare_dialog.h"
#include "ui/device_panel.h"
#include "ui/engine_backend.h"
#include "ui/experiment_editor.h"
#include "ui/latency_probe.h"
#include "ui/log_pane.h"
#include "ui/main_window.h"
#include "ui/confusion_view.h"
#include "ui/per_class_dialog.h"
#include "ui/sweep_dialog.h"
#include "ui/plot_panel.h"
#include "ui/results_model.h"
#include "ui/results_view.h"
#include "ui/run_queue_model.h"
#include "ui/runs_view.h"
#include "ui/text_format.h"

#include <QAbstractItemModelTester>
#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QPushButton>
#include <QDoubleSpinBox>
#include <QDateTime>
#include <QDialog>
#include <QInputDialog>
#include <QDirIterator>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QApplication>
#include <QElapsedTimer>
#include <QFont>
#include <QTimer>
#include <QMessageBox>
#include <QMap>
#include <QMenuBar>
#include <QSettings>
#include <QStandardPaths>
#include <QMetaMethod>
#include <QPixmap>
#include <QSignalSpy>
#include <QPlainTextEdit>
#include <QProcess>
#include <QClipboard>
#include <QSpinBox>
#include <QRegularExpression>
#include <QTabWidget>
#include <QWheelEvent>
#include <QTableView>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <tuple>

using namespace caspl;
using caspl::ui::RunState;

namespace {

// Where the screenshots and the latency figures go: the build's tests folder (CTest sets CASPL_TEST_BINARY_DIR).
QString artifactsDir() {
    QString dir = qEnvironmentVariable("CASPL_TEST_BINARY_DIR");
    if (dir.isEmpty()) dir = QDir::currentPath();
    dir = QDir(dir).filePath("gui_screenshots");
    QDir().mkpath(dir);
    return dir;
}

void collectActions(QMenu* menu, QList<QAction*>& out) {
    for (QAction* a : menu->actions()) {
        if (a->isSeparator()) continue;
        if (a->menu()) collectActions(a->menu(), out);
        else out << a;
    }
}

// QObject::isSignalConnected is protected; a using-declaration makes a public name for the same member.
struct ConnectionPeek : QObject {
    using QObject::isSignalConnected;
};
bool isConnected(const QObject* o, const QMetaMethod& signal) {
    bool (QObject::*fn)(const QMetaMethod&) const = &ConnectionPeek::isSignalConnected;
    return (o->*fn)(signal);
}

// Whether the log pane has a line containing `text`.
bool logHas(ui::MainWindow& w, const QString& text) {
    const ui::LogModel* m = w.logPane()->model();
    for (int r = 0; r < m->rowCount(); ++r)
        if (m->line(r).text.contains(text)) return true;
    return false;
}

// A run folder for the tiny experiment as a run leaves it: config.yaml (the resolved experiment), and run.json
// when given. Whatever the folder held before is removed.
// `edit` changes the experiment the folder records (another learning rate, reference numbers, ...).
void writeRunFolder(const test::TinyExperiment& t, const std::string& runJson = {},
                    const std::function<void(ExperimentSpec&)>& edit = {}) {
    QDir(t.runDir).removeRecursively();
    QDir().mkpath(t.runDir);
    ExperimentSpec spec = loadExperiment(t.yamlPath.toStdString());
    if (edit) edit(spec);
    writeFileAtomically(QDir(t.runDir).filePath("config.yaml").toStdString(), toYaml(spec));
    if (!runJson.empty()) writeFileAtomically(QDir(t.runDir).filePath("run.json").toStdString(), runJson);
}

// A resolved configuration without its comment lines (as a person would write it).
std::string withoutHeader(const std::string& yaml) {
    std::string out;
    std::size_t start = 0;
    while (start < yaml.size()) {
        const std::size_t end = std::min(yaml.find('\n', start), yaml.size());
        if (yaml[start] != '#') out += yaml.substr(start, end - start) + "\n";
        start = end + 1;
    }
    return out;
}

RunState stateOf(ui::MainWindow& w, int id) {
    const auto* j = w.queueModel()->job(id);
    return j ? j->state : RunState::Failed;
}

// Clicks `button` of the next modal message box (polling until it is up, at most 5 s).
void answerNextDialog(QMessageBox::StandardButton button) {
    auto* timer = new QTimer;
    auto* clock = new QElapsedTimer;
    clock->start();
    QObject::connect(timer, &QTimer::timeout, [timer, clock, button] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (box && box->button(button)) box->button(button)->click();
        else if (clock->elapsed() < 5000) return;
        timer->stop();
        timer->deleteLater();
        delete clock;
    });
    timer->start(10);
}

// Calls `act` on the next modal widget (polling until one is up for which it returns true, at most 5 s).
void actOnNextModal(std::function<bool(QWidget*)> act) {
    auto* timer = new QTimer;
    auto* clock = new QElapsedTimer;
    clock->start();
    QObject::connect(timer, &QTimer::timeout, [timer, clock, act] {
        QWidget* modal = QApplication::activeModalWidget();
        if (!(modal && act(modal)) && clock->elapsed() < 5000) return;
        timer->stop();
        timer->deleteLater();
        delete clock;
    });
    timer->start(10);
}

// An engine that only emits what the test tells it to (for failures a tiny CPU run cannot produce).
class FakeEngine : public ui::EngineBackend {
public:
    bool running = false;
    bool startRun(int, const ExperimentSpec&, const QString&, bool) override { return running = true; }
    void requestStop() override {}
    bool isRunning() const override { return running; }
    ui::ModelSummary describeModel(const QString&) const override { return {}; }
    DeviceStats deviceStats() const override {
        DeviceStats s;
        s.device = "CUDA:0 Fake GPU";
        s.cuda = true;
        s.allocatedBytes = 3LL << 30;
        s.peakAllocatedBytes = 5LL << 30;
        s.totalBytes = 80LL << 30;
        return s;
    }
    void resetPeakMemory() override {}
    QString runtimeDescription() const override { return "fake engine"; }
};

}  // namespace

class MainWindowTest : public QObject {
    Q_OBJECT
    QString base_;

private Q_SLOTS:
    void offersTheDemoOnFirstStart() {
        QStandardPaths::setTestModeEnabled(true);  // QSettings go to a test location, not the user's
        QSettings().remove("demo/offered");
        {
            caspl::ui::MainWindow first;
            QVERIFY(first.messageBar()->title().contains("demo"));
            QVERIFY(first.messageBar()->advice().contains("Help > Run the Demo"));
            QVERIFY(first.findAction("actionRunDemo"));
        }
        caspl::ui::MainWindow second;  // offered once only
        QVERIFY(!second.messageBar()->title().contains("demo"));
    }

    void initTestCase() {
        ui::registerEngineMetaTypes();
        base_ = QDir(test::tempDir()).filePath("gui-window");
        QDir().mkpath(base_);
    }

    void showsTitleMenusAndRuntime() {
        ui::MainWindow w;
        w.setRuntimeDescription("LibTorch test (CPU)");
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QCOMPARE(w.windowTitle(), QString("CasPL Studio"));
        QStringList menus;
        for (auto* a : w.menuBar()->actions()) menus << a->text();
        for (const char* m : {"&File", "&Run", "Re&sults", "&View", "&Help"})
            QVERIFY2(menus.contains(m), qPrintable(menus.join(',')));
        auto* label = w.findChild<QLabel*>("runtimeLabel");
        QVERIFY(label);
        QCOMPARE(label->text(), QString("LibTorch test (CPU)"));
    }

    // No placeholder items: every menu item does something when triggered.
    void everyMenuItemIsWired() {
        ui::MainWindow w;
        w.show();
        QList<QAction*> actions;
        for (auto* top : w.menuBar()->actions()) collectActions(top->menu(), actions);
        QVERIFY(actions.size() >= 25);
        const QMetaMethod triggered = QMetaMethod::fromSignal(&QAction::triggered);
        const QMetaMethod toggled = QMetaMethod::fromSignal(&QAction::toggled);
        for (QAction* a : actions) {
            const bool wired = isConnected(a, triggered) || isConnected(a, toggled);
            QVERIFY2(wired, qPrintable("menu item without an action: " + a->text()));
            QVERIFY2(!a->text().contains("placeholder", Qt::CaseInsensitive), qPrintable(a->text()));
        }
        // No two items share a shortcut, none takes the input method's Unicode entry (Ctrl+Shift+U, which a text
        // field with focus never passes on), and no two items of one menu share a mnemonic letter.
        QMap<QString, QString> byShortcut;
        for (QAction* a : actions) {
            for (const QKeySequence& k : a->shortcuts()) {
                const QString key = k.toString(QKeySequence::PortableText);
                QVERIFY2(!byShortcut.contains(key), qPrintable(key + ": " + byShortcut.value(key) + " and " + a->text()));
                QVERIFY2(key != "Ctrl+Shift+U", qPrintable(a->text()));
                byShortcut.insert(key, a->text());
            }
        }
        QCOMPARE(byShortcut.value("Ctrl+Alt+R"), w.findAction("actionResume")->text());
        for (auto* top : w.menuBar()->actions()) {
            QMap<QChar, QString> byLetter;
            for (QAction* a : top->menu()->actions()) {
                if (a->isSeparator() || a->text().isEmpty()) continue;
                const QString text = QString(a->text()).replace("&&", "");
                const int amp = text.indexOf('&');
                if (amp < 0 || amp + 1 >= text.size()) continue;
                const QChar letter = text[amp + 1].toLower();
                QVERIFY2(!byLetter.contains(letter), qPrintable(top->text() + ": " + byLetter.value(letter) + " and " + a->text()));
                byLetter.insert(letter, a->text());
            }
        }
        // The ones that open no modal dialog, triggered for real.
        w.findAction("actionShowResults")->trigger();
        QCOMPARE(w.centralTabs()->currentWidget(), static_cast<QWidget*>(w.resultsView()));
        w.findAction("actionShowRuns")->trigger();
        QCOMPARE(w.centralTabs()->currentWidget(), static_cast<QWidget*>(w.runsView()));
        QVERIFY(w.runsView()->summaryText().startsWith("No runs yet"));
        w.findAction("actionShowPlots")->trigger();
        QCOMPARE(w.centralTabs()->currentWidget(), static_cast<QWidget*>(w.plotPanel()));
        w.findAction("actionKeys")->trigger();
        auto* keys = w.findChild<QDialog*>("keysDialog");
        QVERIFY(keys && keys->isVisible());
        keys->close();
        w.findAction("actionReloadResults")->trigger();  // nothing selected: says so
        QVERIFY(w.messageBar()->isVisible());
        QVERIFY(w.messageBar()->advice().contains("Select a run"));
        w.findAction("actionRun")->trigger();  // the default experiment has no dataset: says what to fix
        QVERIFY(w.messageBar()->details().contains("data.datasets"));
        w.findAction("actionResetLayout")->trigger();
        w.findAction("actionClearPlots")->trigger();
        w.findAction("actionClearResults")->trigger();
        w.findAction("actionNew")->trigger();
        QCOMPARE(w.editor()->spec().name, std::string("experiment"));
        // Stop / Resume / Remove follow the queue's state.
        QVERIFY(!w.findAction("actionStop")->isEnabled());
        QVERIFY(!w.findAction("actionResume")->isEnabled());
    }

    // A bad preset: every problem with file:line:column and what to do, in the window; the window keeps working.
    void badPresetShowsDiagnostics() {
        CASPL_REQUIRE_TINY_FIXTURES();
        ui::MainWindow w;
        w.show();
        const QString bad = QDir(base_).filePath("bad.yaml");
        writeFileAtomically(bad.toStdString(), "name: bad\nmethod:\n  name: coop\ntrain:\n  lrr: 0.1\n  epochs: abc\n");
        QVERIFY(!w.openExperimentFile(bad));
        auto* bar = w.messageBar();
        QVERIFY(bar->isVisible());
        QCOMPARE(bar->kind(), ui::MessageBar::Kind::Error);
        QVERIFY2(bar->details().contains("bad.yaml:5:3"), qPrintable(bar->details()));
        QVERIFY2(bar->details().contains("did you mean 'lr'"), qPrintable(bar->details()));
        QVERIFY2(bar->details().contains("bad.yaml:6:"), qPrintable(bar->details()));  // every problem at once
        QVERIFY(bar->advice().contains("Fix the lines"));
        QVERIFY(w.logPane()->model()->rowCount() > 0);

        const QString fragment = QDir(base_).filePath("fragment.yaml");
        writeFileAtomically(fragment.toStdString(), "abstract: true\ntrain:\n  lr: 0.1\n");
        QVERIFY(!w.openExperimentFile(fragment));
        QVERIFY(bar->title().contains("fragment"));
        QVERIFY(!w.openExperimentFile(QDir(base_).filePath("does-not-exist.yaml")));

        const auto tiny = test::makeTinyExperiment(base_);
        QVERIFY(w.openExperimentFile(tiny.yamlPath));
        QVERIFY(!bar->isVisible());
        QCOMPARE(w.editor()->spec().name, std::string("tiny"));
    }

    // The form shows the spec and gives it back unchanged (so a run folder resumes); edits land in the spec.
    // Run > Sweep…: the editor's experiment for every combination of the values, each run named after them and
    // checked before anything is queued; the runs queue one after the other.
    void sweepQueuesEveryCombination() {
        CASPL_REQUIRE_TINY_FIXTURES();
        FakeEngine engine;
        ui::MainWindow w(&engine);
        w.show();
        test::TinyExperimentOptions o;
        o.name = "swept";
        const auto tiny = test::makeTinyExperiment(base_, o);
        QVERIFY(w.openExperimentFile(tiny.yamlPath));
        QVERIFY(w.findAction("actionSweep") && w.findAction("actionSweep")->isEnabled());

        ui::SweepDialog dlg(w.editor()->spec());
        QVERIFY2(dlg.statusText().contains("choose a key"), qPrintable(dlg.statusText()));
        dlg.setAxis(0, "train.lr", "0.01, 0.02");
        dlg.setAxis(1, "method.n_ctx_text", "2,4");
        QCOMPARE(dlg.runNames(), QStringList({"swept-lr=0.01-n_ctx_text=2", "swept-lr=0.01-n_ctx_text=4",
                                              "swept-lr=0.02-n_ctx_text=2", "swept-lr=0.02-n_ctx_text=4"}));
        QVERIFY2(dlg.statusText().startsWith("4 runs"), qPrintable(dlg.statusText()));
        QVERIFY(dlg.grab().save(QDir(artifactsDir()).filePath("sweep_dialog.png")));
        // Typed values: the runs are checked once the typing pauses.
        auto* key3 = dlg.findChild<QComboBox*>("sweepKey2");
        key3->setCurrentIndex(key3->findData("train.epochs"));
        QTest::keyClicks(dlg.findChild<QLineEdit*>("sweepValues2"), "3, 4");
        QTRY_VERIFY2(dlg.runNames().size() == 8, qPrintable(dlg.statusText() + " / " + dlg.findChild<QLineEdit*>("sweepValues2")->text()));
        QCOMPARE(dlg.runNames().last(), QString("swept-lr=0.02-n_ctx_text=4-epochs=4"));
        dlg.setAxis(2, QString(), QString());
        QCOMPARE(dlg.runNames().size(), 4);
        QString error;
        const auto specs = dlg.experiments(&error);
        QCOMPARE(specs.size(), std::size_t(4));
        QCOMPARE(specs[3].train.lr, 0.02);
        QCOMPARE(specs[3].method.nCtxText, 4);
        QCOMPARE(specs[3].train.epochs, w.editor()->spec().train.epochs);  // the rest as in the editor
        // A wrong value: nothing to run, the key named.
        dlg.setAxis(1, "method.n_ctx_text", "2,four");
        QVERIFY(dlg.runNames().isEmpty());
        QVERIFY2(dlg.statusText().contains("method.n_ctx_text"), qPrintable(dlg.statusText()));
        QVERIFY(dlg.experiments(&error).empty());
        QVERIFY(!dlg.findChild<QPushButton*>("sweepRun")->isEnabled());

        QCOMPARE(w.runSweep(specs), 4);
        QCOMPARE(w.queueModel()->count(), 4);
        QVERIFY(engine.running);  // the first started
        for (int r = 0; r < 4; ++r)
            QVERIFY2(w.queueModel()->job(w.queueModel()->idAt(r))->runDir.endsWith("/" + QString::fromStdString(specs[std::size_t(r)].name)),
                     qPrintable(w.queueModel()->job(w.queueModel()->idAt(r))->runDir));
        // The Runs tab shows the grid before the runs have folders: the three waiting runs as "queued" rows with the
        // swept keys (the first, started by this fake engine, has no folder and is not queued any more).
        w.centralTabs()->setCurrentWidget(w.runsView());
        const auto* runsModel = w.runsView()->model();
        QTRY_COMPARE(runsModel->rowCount(), 3);
        QCOMPARE(runsModel->table().keys, (std::vector<std::string>{"method.n_ctx_text", "train.lr"}));  // in config.yaml's order
        for (int r = 0; r < 3; ++r) {
            QCOMPARE(runsModel->index(r, ui::RunsTableModel::ColState).data().toString(), QString("queued"));
            QCOMPARE(runsModel->index(r, ui::RunsTableModel::ColRun).data().toString(), QString::fromStdString(specs[std::size_t(r + 1)].name));
            QCOMPARE(runsModel->index(r, ui::RunsTableModel::ColResults).data().toString(),
                     QStringLiteral("0/%1").arg(caspl::plannedEvaluations(specs[std::size_t(r + 1)])));
            QVERIFY(!(runsModel->flags(runsModel->index(r, ui::RunsTableModel::ColTags)) & Qt::ItemIsEditable));  // no folder yet
        }
        QCOMPARE(runsModel->index(2, runsModel->keyColumn(0)).data().toString(), QString("4"));
        QCOMPARE(runsModel->index(2, runsModel->keyColumn(1)).data().toString(), QString("0.02"));
        // The same sweep again: every run is in the queue already.
        QCOMPARE(w.runSweep(specs), 0);
        QCOMPARE(w.queueModel()->count(), 4);
        QVERIFY2(w.messageBar()->title().contains("4 of the sweep's 4 runs were not queued"), qPrintable(w.messageBar()->title()));
    }

    void editorIsBoundToTheSpec() {
        CASPL_REQUIRE_TINY_FIXTURES();
        app::StudioEngine engine;
        ui::MainWindow w(&engine);
        w.show();
        const auto tiny = test::makeTinyExperiment(base_);
        const ExperimentSpec loaded = loadExperiment(tiny.yamlPath.toStdString());
        QVERIFY(w.openExperimentFile(tiny.yamlPath));
        ui::ExperimentEditor* ed = w.editor();
        QVERIFY(ed->spec() == loaded);
        QString error;
        auto checked = ed->validatedSpec(&error);
        QVERIFY2(checked.has_value(), qPrintable(error));
        QVERIFY(*checked == loaded);
        QVERIFY2(ed->presentDatasets().contains("synth"), qPrintable(ed->presentDatasets().join(',')));
        QVERIFY(!ed->presentDatasets().contains("EuroSAT"));
        QVERIFY2(ed->studentInfo().contains("M parameters"), qPrintable(ed->studentInfo()));
        QVERIFY2(ed->teacherInfo().contains("M parameters"), qPrintable(ed->teacherInfo()));

        auto* epochs = ed->findChild<QSpinBox*>("trainEpochs");
        QVERIFY(epochs);
        epochs->setValue(7);
        QCOMPARE(ed->spec().train.epochs, 7);
        QVERIFY(ed->isModified());

        // The YAML tab: a bad edit is refused with its line; a good one updates the form.
        QString yaml = ed->yamlText();
        QVERIFY(yaml.contains("epochs: 7"));
        ed->setYamlText(yaml.replace("epochs: 7", "epochs: seven"));
        QVERIFY(!ed->applyYaml(&error));
        QVERIFY2(error.contains("train.epochs") && error.contains(":"), qPrintable(error));
        ed->setYamlText(yaml.replace("epochs: seven", "epochs: 9"));
        QVERIFY2(ed->applyYaml(&error), qPrintable(error));
        QCOMPARE(epochs->value(), 9);
        auto* yamlStatus = ed->findChild<QLabel*>("yamlStatus");
        QVERIFY(yamlStatus && !yamlStatus->text().contains("no effect"));
        // A key without effect that the YAML changes (a PromptSRC weight with CoOp) is named under it.
        const QRegularExpression gpaMeanLine(QStringLiteral("gpa_mean: [^\n]*"));
        ed->setYamlText(ed->yamlText().replace(gpaMeanLine, QStringLiteral("gpa_mean: 3")));
        QVERIFY2(ed->applyYaml(&error), qPrintable(error));
        QVERIFY2(yamlStatus->text().contains("no effect") && yamlStatus->text().contains("method.gpa_mean"),
                 qPrintable(yamlStatus->text()));
        ed->setYamlText(ed->yamlText().replace(gpaMeanLine, QStringLiteral("gpa_mean: 15")));
        QVERIFY2(ed->applyYaml(&error), qPrintable(error));
        QVERIFY(!yamlStatus->text().contains("no effect"));
        // TensorBoard files: on by default, a check box bound to train.tensorboard.
        auto* tensorboard = ed->findChild<QCheckBox*>("tensorboard");
        QVERIFY(tensorboard && tensorboard->isChecked());
        tensorboard->setChecked(false);
        QVERIFY(!ed->spec().train.tensorboard);
        QVERIFY(ed->yamlText().contains("tensorboard: false"));
        tensorboard->setChecked(true);

        // Method-specific keys appear for their method and reach the spec.
        auto* method = ed->findChild<QComboBox*>("methodBox");
        auto* csc = ed->findChild<QCheckBox*>("cscBox");
        auto* gpaMean = ed->findChild<QDoubleSpinBox*>("gpaMean");
        QVERIFY(method && csc && gpaMean);
        method->setCurrentIndex(method->findData(int(MethodKind::PromptSRC)));
        QVERIFY(gpaMean->isVisible() && !csc->isVisible());
        gpaMean->setValue(12);
        QCOMPARE(ed->spec().method.gpaMean, 12.0);
        method->setCurrentIndex(method->findData(int(MethodKind::CoOp)));
        QVERIFY(!gpaMean->isVisible() && csc->isVisible());
        csc->setChecked(true);
        auto* position = ed->findChild<QComboBox*>("classTokenPositionBox");
        position->setCurrentIndex(position->findData("middle"));
        ed->findChild<QCheckBox*>("teacherCache")->setChecked(true);
        ed->findChild<QSpinBox*>("warmupEpochs")->setValue(0);
        const ExperimentSpec edited = ed->spec();
        QVERIFY(edited.method.csc && edited.method.classTokenPosition == "middle" && edited.phase1.teacherCache);
        QCOMPARE(edited.train.warmupEpochs, 0);
        QVERIFY(ed->yamlText().contains("class_token_position: middle"));
        // CasPL (phase 1 is on) cascades CoOp's generic context only: the form says so before anything runs.
        QVERIFY(!ed->validatedSpec(&error).has_value());
        QVERIFY2(error.contains("generic context"), qPrintable(error));
        csc->setChecked(false);
        position->setCurrentIndex(position->findData("end"));

        // Save, reopen: the same experiment.
        const QString saved = QDir(base_).filePath("saved.yaml");
        QVERIFY2(w.saveExperimentFile(saved), qPrintable(w.messageBar()->details()));
        const ExperimentSpec back = loadExperiment(saved.toStdString());
        QCOMPARE(back.train.epochs, 9);
        QVERIFY(!back.method.csc && back.phase1.teacherCache);
        QCOMPARE(back.train.warmupEpochs, 0);
        QVERIFY(w.openExperimentFile(saved));
        QVERIFY(w.editor()->spec() == back);
        // File > Save writes the opened (flat) file in place; a file built with `extends:` or a preset is saved
        // with Save As instead (never flattened in place).
        QCOMPARE(w.plainSaveTarget(), QFileInfo(saved).absoluteFilePath());
        w.editor()->findChild<QSpinBox*>("trainEpochs")->setValue(10);
        w.findAction("actionSave")->trigger();
        QCOMPARE(loadExperiment(saved.toStdString()).train.epochs, 10);
        QVERIFY(!w.editor()->isModified());
        w.editor()->findChild<QSpinBox*>("trainEpochs")->setValue(9);
        w.findAction("actionSave")->trigger();
        const QString layered = QDir(base_).filePath("layered.yaml");
        caspl::writeFileAtomically(layered.toStdString(), "extends: [" + saved.toStdString() + "]\ntrain: {epochs: 5}\n");
        QVERIFY(w.openExperimentFile(layered));
        QVERIFY(w.plainSaveTarget().isEmpty());
        // Nor is a file written by hand (its comments and layout would be lost), nor a run folder's config.yaml (the
        // record of what ran): Save As, which never replaces a run's configuration.
        const QString byHand = QDir(base_).filePath("by_hand.yaml");
        caspl::writeFileAtomically(byHand.toStdString(), "# my own notes\n" + withoutHeader(readFile(saved.toStdString())));
        QVERIFY(w.openExperimentFile(byHand));
        QVERIFY(w.plainSaveTarget().isEmpty());
        const QString runDir = QDir(base_).filePath("runs/saved_run");
        QDir().mkpath(runDir);
        const QString runConfig = QDir(runDir).filePath("config.yaml");
        caspl::writeFileAtomically(runConfig.toStdString(), readFile(saved.toStdString()));
        caspl::writeFileAtomically(QDir(runDir).filePath("run.json").toStdString(), "{\"status\": \"done\"}");
        QVERIFY(w.openExperimentFile(runConfig));
        QVERIFY(w.plainSaveTarget().isEmpty());
        w.editor()->findChild<QSpinBox*>("trainEpochs")->setValue(3);
        QVERIFY(!w.saveExperimentFile(runConfig));
        QVERIFY2(w.messageBar()->title().contains("run's configuration"), qPrintable(w.messageBar()->title()));
        QCOMPARE(readFile(runConfig.toStdString()), readFile(saved.toStdString()));
        QVERIFY(w.openExperimentFile(saved));

        // The wheel over the form scrolls it: it does not change a spin box the pointer crosses.
        {
            auto* spin = w.editor()->findChild<QSpinBox*>("trainEpochs");
            spin->clearFocus();
            const int before = spin->value();
            QWheelEvent wheel(QPointF(5, 5), spin->mapToGlobal(QPointF(5, 5)), QPoint(), QPoint(0, 120), Qt::NoButton,
                              Qt::NoModifier, Qt::NoScrollPhase, false);
            QApplication::sendEvent(spin, &wheel);
            QCOMPARE(spin->value(), before);
        }

        // Typed in the YAML tab and not applied: Save As (and Run) take it, so what is saved is what is shown;
        // YAML that does not load stops the save with its line.
        auto* yamlEdit = w.editor()->findChild<QPlainTextEdit*>("yamlEdit");
        QVERIFY(yamlEdit);
        yamlEdit->setPlainText(w.editor()->yamlText().replace("epochs: 9", "epochs: 11"));
        QVERIFY(w.editor()->hasPendingYaml() && w.editor()->isModified());
        QVERIFY(w.findChild<QLabel*>("experimentLabel")->text().contains("(edited)"));
        QVERIFY2(w.saveExperimentFile(saved), qPrintable(w.messageBar()->details()));
        QCOMPARE(loadExperiment(saved.toStdString()).train.epochs, 11);
        QCOMPARE(w.editor()->spec().train.epochs, 11);
        yamlEdit->setPlainText(w.editor()->yamlText().replace("epochs: 11", "epochs: eleven"));
        QVERIFY(!w.saveExperimentFile(saved));
        QVERIFY2(w.messageBar()->details().contains("train.epochs"), qPrintable(w.messageBar()->details()));
        QCOMPARE(loadExperiment(saved.toStdString()).train.epochs, 11);  // the good file stays

        // Leaving the YAML tab applies its edits, so that a change in the form afterwards does not drop them; YAML that
        // does not load keeps the tab open.
        auto* tabs = w.editor()->findChild<QTabWidget*>();
        QVERIFY(tabs);
        tabs->setCurrentIndex(1);
        yamlEdit->setPlainText(yamlEdit->toPlainText().replace("epochs: eleven", "epochs: 12"));
        tabs->setCurrentIndex(0);
        QCOMPARE(tabs->currentIndex(), 0);
        QVERIFY(!w.editor()->hasPendingYaml());
        QCOMPARE(w.editor()->findChild<QSpinBox*>("trainEpochs")->value(), 12);
        w.editor()->findChild<QCheckBox*>("tensorboard")->setChecked(false);
        QCOMPARE(w.editor()->spec().train.epochs, 12);
        tabs->setCurrentIndex(1);
        yamlEdit->setPlainText(yamlEdit->toPlainText().replace("epochs: 12", "epochs: eleven"));
        tabs->setCurrentIndex(0);
        QCOMPARE(tabs->currentIndex(), 1);
        QVERIFY(w.editor()->hasPendingYaml());

        // New with unsaved edits asks first: Cancel keeps them, Discard starts afresh.
        QVERIFY(w.editor()->isModified());
        const std::string name = w.editor()->spec().name;
        answerNextDialog(QMessageBox::Cancel);
        w.findAction("actionNew")->trigger();
        QCOMPARE(w.editor()->spec().name, name);
        QVERIFY(w.editor()->hasPendingYaml());
        answerNextDialog(QMessageBox::Discard);
        w.findAction("actionNew")->trigger();
        QCOMPARE(w.editor()->spec().name, std::string("experiment"));
        QVERIFY(!w.editor()->isModified());
    }

    // A real tiny run through the engine thread: plots fill, results arrive, the queue finishes, the GUI thread
    // stays responsive (measured), screenshots are written.
    void tinyRunLiveWithScreenshotAndLatency() {
        CASPL_REQUIRE_TINY_FIXTURES();
        test::TinyExperimentOptions o;
        o.name = "live";
        // CASPL_GUI_TEST_EPOCH_SCALE=N runs N times longer (for a longer latency measurement by hand).
        const int scale = std::max(1, qEnvironmentVariableIntValue("CASPL_GUI_TEST_EPOCH_SCALE"));
        o.phase1Epochs = 8 * scale;
        o.trainEpochs = 12 * scale;
        const auto tiny = test::makeTinyExperiment(base_, o);
        app::StudioEngine engine;
        ui::MainWindow w(&engine);
        w.resize(1600, 1000);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(w.openExperimentFile(tiny.yamlPath));

        const QString shots = artifactsDir();
        const QString duringPng = QDir(shots).filePath("main_window_run.png");
        const QString afterPng = QDir(shots).filePath("main_window_results.png");
        QFile::remove(duringPng);
        int evals = 0;
        bool grabbed = false;
        int grabSample = -1;  // the probe's tick that the screenshot itself delayed
        double grabMs = 0;
        connect(&engine, &ui::EngineBackend::evalRow, this, [&] { ++evals; });
        connect(&engine, &ui::EngineBackend::progress, this, [&](int, const ProgressEvent& e) {
            // Seed 2's phase 2 half done: phase-1 and phase-2 curves and seed 1's accuracy are on screen.
            if (grabbed || e.phase != "phase2" || evals < 2 || 2 * e.step < e.steps) return;
            grabbed = true;
            QElapsedTimer g;
            g.start();
            grabSample = w.latencyProbe()->sampleCount();
            w.plotPanel()->flush();
            QVERIFY(w.grab().save(duringPng));
            grabMs = g.nsecsElapsed() / 1e6;
        });

        QElapsedTimer clock;
        clock.start();
        w.findAction("actionRun")->trigger();
        const int id = w.queueModel()->idAt(0);
        QVERIFY(id > 0);
        QCOMPARE(stateOf(w, id), RunState::Running);
        QVERIFY(w.findAction("actionStop")->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(stateOf(w, id) != RunState::Running, 300000);
        const double seconds = clock.elapsed() / 1000.0;
        QCOMPARE(stateOf(w, id), RunState::Done);
        QVERIFY(grabbed);
        QVERIFY(QFileInfo(duringPng).size() > 10000);

        // The window's latency probe ran during the whole run.
        ui::LatencyProbe* probe = w.latencyProbe();
        QVERIFY(probe->sampleCount() > 10);
        // The test's own screenshot blocks the GUI thread while it paints the window: that one tick is reported
        // apart, the rest is what the user sees during training.
        std::vector<double> lateness = probe->samples();
        double grabTick = 0;
        if (grabSample >= 0 && grabSample < int(lateness.size())) {
            grabTick = lateness[std::size_t(grabSample)];
            lateness.erase(lateness.begin() + grabSample);
        }
        std::sort(lateness.begin(), lateness.end());
        const auto pct = [&](double p) { return lateness[std::size_t(std::llround(p / 100.0 * double(lateness.size() - 1)))]; };
        const QString figures =
            QStringLiteral("tiny run %1 s (phase 1: %11 epochs, phase 2: 2 seeds x %12 epochs, CPU); a %2 ms timer on the GUI "
                           "thread fired %3 times; lateness median %4 ms, p90 %5 ms, p99 %6 ms, max %7 ms (longest plot redraw "
                           "%8 ms); the test's own screenshot (grab + PNG save, %9 ms) delayed one more tick by %10 ms")
                .arg(seconds, 0, 'f', 2)
                .arg(probe->intervalMs())
                .arg(lateness.size())
                .arg(pct(50), 0, 'f', 3)
                .arg(pct(90), 0, 'f', 3)
                .arg(pct(99), 0, 'f', 3)
                .arg(lateness.back(), 0, 'f', 3)
                .arg(w.plotPanel()->maxReplotMs(), 0, 'f', 1)
                .arg(grabMs, 0, 'f', 1)
                .arg(grabTick, 0, 'f', 1)
                .arg(o.phase1Epochs)
                .arg(o.trainEpochs);
        qInfo("GUI event-loop latency during the tiny run: %s", qPrintable(figures));
        writeFileAtomically(QDir(shots).filePath("event_loop_latency.txt").toStdString(), figures.toStdString() + "\n");
        // A frozen window would show ticks hundreds of ms late; the engine runs on its own thread.
        QVERIFY2(pct(50) < 20, qPrintable(figures));

        // Live curves: loss terms and LR of both phases, accuracy per evaluation.
        auto* plots = w.plotPanel();
        QVERIFY(plots->pointCount(id, ui::PlotPanel::Phase1Plot, "loss") > 0);
        QVERIFY(plots->pointCount(id, ui::PlotPanel::Phase1Plot, "lr") > 0);
        QVERIFY(plots->pointCount(id, ui::PlotPanel::Phase2Plot, "loss") > 0);
        QCOMPARE(plots->pointCount(id, ui::PlotPanel::AccuracyPlot, "base"), 2);
        QCOMPARE(plots->pointCount(id, ui::PlotPanel::AccuracyPlot, "novel"), 2);
        // Results: 2 seed rows + the mean row, with shots from result.json.
        auto* results = w.resultsModel();
        QCOMPARE(results->rowCount(), 3);
        QCOMPARE(results->index(2, ui::ResultsModel::ColKind).data(ui::ResultsModel::KindRole).toString(), QString("mean"));
        QCOMPARE(results->index(2, ui::ResultsModel::ColShots).data().toInt(), 2);
        QVERIFY(results->index(2, ui::ResultsModel::ColHm).data(ui::ResultsModel::SortRole).toDouble() > 0);
        QCOMPARE(w.queueModel()->index(0, ui::RunQueueModel::ColProgress).data().toString(), QString("100%"));
        QVERIFY(w.devicePanel()->refreshCount() > 0);

        w.centralTabs()->setCurrentWidget(w.resultsView());
        QVERIFY(w.grab().save(afterPng));
        qInfo("screenshots: %s, %s", qPrintable(duringPng), qPrintable(afterPng));

        // The Runs tab: the finished run, done, with the results table's mean HM.
        w.centralTabs()->setCurrentWidget(w.runsView());
        const auto* runsModel = w.runsView()->model();
        // Read on a worker thread; an earlier read (the tab shown while the run ran) may come first.
        QTRY_COMPARE(runsModel->index(0, ui::RunsTableModel::ColState).data().toString(), QString("done"));
        QCOMPARE(runsModel->rowCount(), 1);
        QCOMPARE(runsModel->index(0, ui::RunsTableModel::ColResults).data().toString(), QString("2/2"));
        // The time the run took (a second or two here), shown as the table shows durations, sorted as a number.
        const double runtime = runsModel->index(0, ui::RunsTableModel::ColRuntime).data(ui::RunsTableModel::SortRole).toDouble();
        QVERIFY2(runtime > 0 && runtime < 600, qPrintable(QString::number(runtime)));
        QCOMPARE(runsModel->index(0, ui::RunsTableModel::ColRuntime).data().toString(), ui::durationText(runtime));
        QCOMPARE(runsModel->index(0, runsModel->figureColumn(ui::RunsTableModel::Hm)).data().toString(),
                 ui::fixedNumber(results->index(2, ui::ResultsModel::ColHm).data(ui::ResultsModel::SortRole).toDouble()));

        // Export and compare with a second, different run.
        const QString csv = QDir(base_).filePath("live.csv");
        w.resultsView()->setCurrentRun(w.queueModel()->job(id)->runDir);
        QVERIFY(w.exportResultsCsv(csv));
        QVERIFY(!readResultsCsv(csv.toStdString()).empty());
        // Results > Copy as LaTeX / Markdown Tables: the run's base-to-novel table, its HM the mean row's.
        w.findAction("actionCopyLatex")->trigger();
        const QString hm = ui::fixedNumber(results->index(2, ui::ResultsModel::ColHm).data(ui::ResultsModel::SortRole).toDouble());
        QVERIFY2(QApplication::clipboard()->text().startsWith("\\begin{tabular}{lccc}\n\\toprule\nsynth & Base & Novel & HM \\\\\n") &&
                     QApplication::clipboard()->text().contains(" & " + hm + " \\\\\n"),
                 qPrintable(QApplication::clipboard()->text()));
        w.findAction("actionCopyMarkdown")->trigger();
        QVERIFY2(QApplication::clipboard()->text().contains("| CoOp + CasPL | ") && QApplication::clipboard()->text().endsWith(" " + hm + " |\n"),
                 qPrintable(QApplication::clipboard()->text()));

        // Results > Per-Class Accuracy: the selected run's classes (mean of its two seeds), worst first.
        w.selectRun(id);
        w.findAction("actionPerClass")->trigger();
        auto* perClass = w.findChild<ui::PerClassDialog*>("perClassDialog");
        QVERIFY(perClass && perClass->isVisible());
        QVERIFY2(perClass->model()->rowCount() > 0, qPrintable(perClass->statusText()));
        QVERIFY2(perClass->statusText().startsWith("Mean class accuracy A: "), qPrintable(perClass->statusText()));
        QCOMPARE(perClass->sorted()->sortColumn(), int(ui::PerClassModel::ColA));
        QCOMPARE(perClass->sorted()->sortOrder(), Qt::AscendingOrder);
        for (int r = 1; r < perClass->sorted()->rowCount(); ++r) {
            const QVariant prev = perClass->sorted()->index(r - 1, ui::PerClassModel::ColA).data(ui::PerClassModel::SortRole);
            const QVariant next = perClass->sorted()->index(r, ui::PerClassModel::ColA).data(ui::PerClassModel::SortRole);
            if (prev.isValid() && next.isValid()) QVERIFY(prev.toDouble() <= next.toDouble());
        }
        const QString perClassPng = QDir(shots).filePath("per_class_dialog.png");
        QVERIFY(perClass->grab().save(perClassPng));
        qInfo("screenshot: %s", qPrintable(perClassPng));
        perClass->showConfusionTab(true);
        QVERIFY(perClass->confusion()->matrix());
        const QString confusionPng = QDir(shots).filePath("confusion_matrix.png");
        QVERIFY(perClass->grab().save(confusionPng));
        qInfo("screenshot: %s", qPrintable(confusionPng));
        perClass->close();
    }

    // A run that `caspl run` does in another process (a terminal, a batch job), opened while it runs: the window
    // shows it running elsewhere and follows it (the curves of before and after the opening, the queue's epoch, the
    // log); running it here too is refused; when that process is stopped, the run takes the state its run.json
    // records and can be resumed here.
    void followsARunInAnotherProcess() {
        CASPL_REQUIRE_TINY_FIXTURES();
        test::TinyExperimentOptions o;
        o.name = "elsewhere";
        o.phase1Epochs = 2;
        o.trainEpochs = 5000;  // far longer than the test: it stops the process itself
        o.seeds = "[1]";
        const auto tiny = test::makeTinyExperiment(base_, o);
        QDir(tiny.runDir).removeRecursively();
        QProcess cli;  // its destructor kills it if the test ends early
        cli.setProcessChannelMode(QProcess::MergedChannels);
        QByteArray said;
        connect(&cli, &QProcess::readyRead, this, [&] { said += cli.readAll(); });
        struct ShowOnFailure {
            const QByteArray& said;
            ~ShowOnFailure() {
                if (QTest::currentTestFailed()) qWarning("caspl run said:\n%s", said.constData());
            }
        } show{said};
        cli.start(QStringLiteral(CASPL_EXE), {"run", tiny.yamlPath, "--run-dir", tiny.runDir});
        QVERIFY(cli.waitForStarted());
        const auto stepsOf = [&](const std::string& phase) {
            int n = 0;
            if (QFileInfo::exists(QDir(tiny.runDir).filePath("events.jsonl")))
                for (const auto& m : readEventLog(QDir(tiny.runDir).filePath("events.jsonl").toStdString()).metrics) n += m.phase == phase;
            return n;
        };
        // It holds its folder and trains phase 2.
        QTRY_VERIFY_WITH_TIMEOUT(stepsOf("phase2") > 0, 120000);
        QCOMPARE(DirLock::holder(tiny.runDir.toStdString()).value_or(-1), long(cli.processId()));

        FakeEngine engine;
        ui::MainWindow w(&engine);
        w.show();
        QVERIFY(w.openRunFolder(tiny.runDir));
        const int id = w.selectedRun();
        QCOMPARE(stateOf(w, id), RunState::Elsewhere);
        QVERIFY2(w.queueModel()->job(id)->message.contains(QString::number(cli.processId())), qPrintable(w.queueModel()->job(id)->message));
        QCOMPARE(w.queueModel()->index(0, ui::RunQueueModel::ColState).data().toString(), QString("running elsewhere"));
        auto* plots = w.plotPanel();
        QVERIFY(plots->pointCount(id, ui::PlotPanel::Phase1Plot, "loss") > 0);  // written before it was opened
        const int before = plots->pointCount(id, ui::PlotPanel::Phase2Plot, "loss");
        QTRY_VERIFY_WITH_TIMEOUT(plots->pointCount(id, ui::PlotPanel::Phase2Plot, "loss") > before + 5, 60000);  // and after
        QVERIFY(!w.queueModel()->index(0, ui::RunQueueModel::ColEpoch).data().toString().isEmpty());
        // A screenshot of the followed run, loss curves smoothed.
        w.resize(1600, 1000);
        w.plotPanel()->setSmoothing(0.6);
        w.plotPanel()->flush();
        QVERIFY(w.grab().save(QDir(artifactsDir()).filePath("main_window_elsewhere.png")));
        QVERIFY(!w.findAction("actionResume")->isEnabled());
        QVERIFY(!w.findAction("actionStop")->isEnabled());  // not this window's run

        QVERIFY(w.openExperimentFile(tiny.yamlPath));
        QCOMPARE(w.runCurrentExperiment(), -1);
        QVERIFY(w.messageBar()->title().contains("Another process"));
        QVERIFY(!engine.running);

        cli.terminate();  // SIGTERM: a checkpoint, run.json says interrupted, exit code 130
        QVERIFY(cli.waitForFinished(60000));
        QCOMPARE(cli.exitCode(), 130);
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(w, id), RunState::Stopped, 10000);
        QVERIFY(logHas(w, "the process running it ended; the run is stopped"));
        QVERIFY(w.findAction("actionResume")->isEnabled());
        // Every step once: what was there when it was opened and what came after.
        QCOMPARE(plots->pointCount(id, ui::PlotPanel::Phase2Plot, "loss"), stepsOf("phase2"));
        QCOMPARE(plots->pointCount(id, ui::PlotPanel::Phase1Plot, "loss"), stepsOf("phase1"));
    }

    // The layout, the run queue and the open experiment come back on the next start; queued runs come back queued
    // with the queue paused; a folder that is gone is named, the others still come back.
    void sessionComesBack() {
        CASPL_REQUIRE_TINY_FIXTURES();
        test::TinyExperimentOptions o;
        o.name = "session_done";
        const auto done = test::makeTinyExperiment(base_, o);
        writeRunFolder(done, "{\"status\": \"done\"}\n");
        o.name = "session_queued";
        const auto queued = test::makeTinyExperiment(base_, o);
        // Its folder holds an earlier attempt (another learning rate) that failed before training: the queued,
        // corrected experiment will take it over, and must come back as the one queued.
        writeRunFolder(queued, "{\"status\": \"failed\"}\n", [](ExperimentSpec& earlier) { earlier.train.lr = 0.5; });
        const QString ini = QDir(base_).filePath("session.ini");
        QFile::remove(ini);
        {
            FakeEngine busy;
            busy.running = true;  // so the queued run waits
            ui::MainWindow w(&busy);
            QVERIFY(w.openRunFolder(done.runDir));
            QVERIFY(w.openExperimentFile(queued.yamlPath));
            QVERIFY(w.runCurrentExperiment(false) > 0);
            w.centralTabs()->setCurrentIndex(1);
            w.plotPanel()->setSmoothing(0.6);
            w.plotPanel()->setStepAxis(ui::PlotPanel::StepAxis::Relative);
            w.plotPanel()->setLogScale(true);
            w.plotPanel()->setIgnoreOutliers(true);
            w.runsView()->plotKindBox()->setCurrentIndex(ui::RunsView::ParallelCoordinates);
            w.runsView()->setParallelAxisLayout({"train.lr", "method.n_ctx_text"}, {"model.student"});
            QSettings settings(ini, QSettings::IniFormat);
            w.saveSession(settings);
        }
        {
            FakeEngine idle;  // would start a queued run at once if the queue were processed
            ui::MainWindow w(&idle);
            QSettings settings(ini, QSettings::IniFormat);
            QCOMPARE(w.restoreSession(settings), 2);
            QCOMPARE(w.queueModel()->count(), 2);
            QCOMPARE(stateOf(w, w.queueModel()->idAt(0)), RunState::Done);
            QCOMPARE(w.queueModel()->job(w.queueModel()->idAt(0))->runDir, QDir::cleanPath(done.runDir));
            QCOMPARE(stateOf(w, w.queueModel()->idAt(1)), RunState::Queued);
            QCOMPARE(w.queueModel()->job(w.queueModel()->idAt(1))->spec.name, std::string("session_queued"));
            QCOMPARE(w.queueModel()->job(w.queueModel()->idAt(1))->spec.train.lr, 0.01);  // the queued one, not the folder's
            QVERIFY(!idle.running);
            QVERIFY(!w.findAction("actionProcessQueue")->isChecked());
            QVERIFY(w.messageBar()->advice().contains("Process Queue"));
            QCOMPARE(w.centralTabs()->currentIndex(), 1);
            QCOMPARE(w.plotPanel()->smoothing(), 0.6);
            QCOMPARE(w.plotPanel()->stepAxis(), ui::PlotPanel::StepAxis::Relative);
            QVERIFY(w.plotPanel()->logScale());
            QVERIFY(w.plotPanel()->ignoreOutliers());
            QCOMPARE(w.runsView()->plotKindBox()->currentData().toInt(), int(ui::RunsView::ParallelCoordinates));
            QCOMPARE(w.runsView()->parallelAxisOrder(), (QStringList{"train.lr", "method.n_ctx_text"}));
            QCOMPARE(w.runsView()->hiddenParallelAxes(), QStringList{"model.student"});
            QCOMPARE(w.editor()->sourcePath(), QFileInfo(queued.yamlPath).absoluteFilePath());
            w.findAction("actionProcessQueue")->setChecked(true);
            QVERIFY(idle.running);  // the queued run starts when the user says so
            QCOMPARE(stateOf(w, w.queueModel()->idAt(1)), RunState::Running);
        }
        QDir(done.runDir).removeRecursively();
        QDir(queued.runDir).removeRecursively();  // a queued run that has no folder comes back from its YAML
        {
            ui::MainWindow w;
            QSettings settings(ini, QSettings::IniFormat);
            QCOMPARE(w.restoreSession(settings), 1);
            QCOMPARE(w.queueModel()->job(w.queueModel()->idAt(0))->spec.train.lr, 0.01);
            QVERIFY(logHas(w, "could not be reopened"));
            QVERIFY(logHas(w, done.runDir));
        }
        // With persistence on (the application), closing the window saves the session.
        QStandardPaths::setTestModeEnabled(true);
        QSettings().remove("session");
        {
            ui::MainWindow w;
            w.setSessionPersistence(true);
            w.show();
            QVERIFY(w.close());
        }
        QVERIFY(QSettings().contains("session/geometry"));
    }

    // A queued run whose folder another process took meanwhile (here a shell holding the lock as a run does) is
    // followed instead of started; when that process ends, the run is back to what its folder says.
    void queuedRunTakenElsewhereIsFollowed() {
        CASPL_REQUIRE_TINY_FIXTURES();
        if (QStandardPaths::findExecutable("flock").isEmpty()) QSKIP("flock(1) (util-linux) is not installed");
        test::TinyExperimentOptions o;
        o.name = "taken";
        const auto tiny = test::makeTinyExperiment(base_, o);
        QDir(tiny.runDir).removeRecursively();
        QDir().mkpath(tiny.runDir);
        FakeEngine engine;
        ui::MainWindow w(&engine);
        w.findAction("actionProcessQueue")->setChecked(false);
        QVERIFY(w.openExperimentFile(tiny.yamlPath));
        const int id = w.runCurrentExperiment(false);
        QVERIFY(id > 0);
        QCOMPARE(stateOf(w, id), RunState::Queued);
        w.pollRunFolders();  // queued runs are the window's own: not probed
        QCOMPARE(stateOf(w, id), RunState::Queued);
        QProcess holder;
        holder.start("sh", {"-c", "exec 9>>\"$0/.lock\"; flock -n 9 || exit 1; echo $$ > \"$0/.lock\"; exec sleep 60", tiny.runDir});
        QVERIFY(holder.waitForStarted());
        QTRY_VERIFY_WITH_TIMEOUT(DirLock::holder(tiny.runDir.toStdString()).value_or(0) == long(holder.processId()), 10000);
        w.findAction("actionProcessQueue")->setChecked(true);
        QVERIFY(!engine.running);
        QCOMPARE(stateOf(w, id), RunState::Elsewhere);
        QVERIFY(logHas(w, QString("not started: process %1 runs it already").arg(holder.processId())));
        holder.kill();
        QVERIFY(holder.waitForFinished(10000));
        w.pollRunFolders();
        QCOMPARE(stateOf(w, id), RunState::Stopped);  // no run.json: nothing ran, resumable
    }

    // A run on another machine sharing the folder: seen by the host name and heartbeat in its lock file, followed,
    // and taken for gone when the heartbeat stops.
    void remoteRunIsFollowedUntilItsHeartbeatStops() {
        CASPL_REQUIRE_TINY_FIXTURES();
        test::TinyExperimentOptions o;
        o.name = "remote";
        const auto tiny = test::makeTinyExperiment(base_, o);
        writeRunFolder(tiny, "{\"status\": \"running\"}\n");
        const QString lock = QDir(tiny.runDir).filePath(".lock");
        writeFileAtomically(lock.toStdString(), "4242\nnode17.cluster\n");
        writeFileAtomically(QDir(tiny.runDir).filePath("events.jsonl").toStdString(),
                            "{\"type\":\"metric\",\"phase\":\"phase2\",\"step\":1,\"values\":{\"loss\":0.5}}\n");
        ui::MainWindow w;
        QVERIFY(w.openRunFolder(tiny.runDir));
        const int id = w.selectedRun();
        QCOMPARE(stateOf(w, id), RunState::Elsewhere);
        QVERIFY2(w.queueModel()->job(id)->message.contains("process 4242 on node17.cluster"), qPrintable(w.queueModel()->job(id)->message));
        QCOMPARE(w.plotPanel()->pointCount(id, ui::PlotPanel::Phase2Plot, "loss"), 1);
        {
            std::ofstream out(QDir(tiny.runDir).filePath("events.jsonl").toStdString(), std::ios::app);
            out << "{\"type\":\"metric\",\"phase\":\"phase2\",\"step\":2,\"values\":{\"loss\":0.4}}\n";
        }
        w.pollRunFolders();
        QCOMPARE(w.plotPanel()->pointCount(id, ui::PlotPanel::Phase2Plot, "loss"), 2);
        {
            QFile f(lock);
            QVERIFY(f.open(QIODevice::ReadWrite));  // setFileTime needs an open file
            QVERIFY(f.setFileTime(QDateTime::currentDateTime().addSecs(-3600), QFileDevice::FileModificationTime));
        }
        w.pollRunFolders();  // its heartbeat stopped: gone, resumable
        QCOMPARE(stateOf(w, id), RunState::Stopped);
        QVERIFY(w.queueModel()->job(id)->message.contains("ended without finishing"));
    }

    // An opened run whose experiment names published numbers draws them on the accuracy plot.
    void openedRunDrawsItsReference() {
        CASPL_REQUIRE_TINY_FIXTURES();
        test::TinyExperimentOptions o;
        o.name = "with_reference";
        const auto tiny = test::makeTinyExperiment(base_, o);
        writeRunFolder(tiny, {}, [](ExperimentSpec& s) {
            s.reference.base = 61.5;
            s.reference.novel = 42.25;
        });
        test::writeBaseNovelResult(tiny.runDir, 60, 45);
        ui::MainWindow w;
        QVERIFY(w.openRunFolder(tiny.runDir));
        QCOMPARE(w.plotPanel()->referenceValues(w.selectedRun()), (QVector<double>{61.5, 42.25}));
        // Copied as a table with the published numbers: a row of them after the run's (HM of 61.5 and 42.25).
        w.resultsView()->setCurrentRun(QDir::cleanPath(tiny.runDir));
        w.resultsView()->setTablesWithReference(true);
        QString problem;
        const QString table = w.resultsView()->paperTables(false, &problem);
        QVERIFY2(table.contains("| CoOp + CasPL | 60.00 | 45.00 | 51.43 |\n| CoOp + CasPL (published) | 61.50 | 42.25 | 50.09 |\n"),
                 qPrintable(table + problem));
        w.resultsView()->setTablesWithReference(false);
        QVERIFY(!w.resultsView()->paperTables(false, &problem).contains("published"));
        QFile::remove(QDir(tiny.runDir).filePath("result.json"));
        // Numbers of another dataset would run across evaluations they do not belong to: no lines.
        writeRunFolder(tiny, {}, [](ExperimentSpec& s) {
            s.reference.base = 61.5;
            s.reference.dataset = "EuroSAT";
        });
        ui::MainWindow other;
        QVERIFY(other.openRunFolder(tiny.runDir));
        QVERIFY(other.plotPanel()->referenceValues(other.selectedRun()).isEmpty());
        writeRunFolder(tiny);  // the same run without them
        ui::MainWindow plain;
        QVERIFY(plain.openRunFolder(tiny.runDir));
        QVERIFY(plain.plotPanel()->referenceValues(plain.selectedRun()).isEmpty());
    }

    // The Runs tab: every run of the queue side by side with the keys that differ, filled when it is shown and
    // following the queue (a run removed leaves it); a double-click selects the run in the queue.
    void runsTabShowsTheQueuedRunsSideBySide() {
        CASPL_REQUIRE_TINY_FIXTURES();
        test::TinyExperimentOptions o;
        QStringList dirs;
        for (const auto& [name, lr, base, novel] : {std::tuple<const char*, double, int, int>{"runs_tab_a", 0.01, 80, 60},
                                                   {"runs_tab_b", 0.002, 90, 70}}) {
            o.name = name;
            const auto tiny = test::makeTinyExperiment(base_, o);
            writeRunFolder(tiny, "{\"status\": \"done\"}\n", [lr = lr](ExperimentSpec& s) { s.train.lr = lr; });
            test::writeBaseNovelResult(tiny.runDir, base, novel);
            writeFileAtomically(QDir(tiny.runDir).filePath("events.jsonl").toStdString(),
                                "{\"type\":\"metric\",\"phase\":\"phase2\",\"dataset\":\"synth\",\"shots\":2,\"seed\":1,"
                                "\"epoch\":1,\"step\":1,\"values\":{\"loss\":1.5}}\n");
            dirs << QDir::cleanPath(tiny.runDir);
        }
        ui::MainWindow w;
        QVERIFY(w.openRunFolder(dirs[0]));
        QVERIFY(w.openRunFolder(dirs[1]));
        ui::RunsView* runs = w.runsView();
        QCOMPARE(runs->model()->rowCount(), 0);  // read when shown
        w.centralTabs()->setCurrentWidget(runs);
        QTRY_COMPARE(runs->model()->rowCount(), 2);
        QCOMPARE(runs->model()->table().keys, (std::vector<std::string>{"train.lr"}));
        const auto* m = runs->model();
        QCOMPARE(m->headerData(m->keyColumn(0), Qt::Horizontal).toString(), QString("train.lr"));
        QCOMPARE(m->index(1, m->keyColumn(0)).data().toString(), QString("0.002"));
        QCOMPARE(m->index(1, m->figureColumn(ui::RunsTableModel::Hm)).data().toString(), QString("78.75"));  // 2*90*70/160
        QCOMPARE(m->index(0, m->figureColumn(ui::RunsTableModel::Hm)).data().toString(), QString("68.57"));
        QVERIFY(m->index(1, 0).data(Qt::FontRole).value<QFont>().bold());
        QVERIFY(runs->summaryText().contains("best HM: runs_tab_b (78.75)"));
        QCOMPARE(runs->plotKeyBox()->currentText(), QString("train.lr"));
        QCOMPARE(runs->plottedPoints().size(), 2);

        // Tags and a note written from the tab land in the run's notes.json (what `caspl notes` reads) and are
        // found by the filter; a bad tag is refused with the reason.
        auto* model = runs->model();
        QVERIFY(model->setData(model->index(0, ui::RunsTableModel::ColTags), "sweep, baseline, sweep"));
        QVERIFY(model->setData(model->index(0, ui::RunsTableModel::ColNote), "lr from the paper\nsecond line"));
        QCOMPARE(model->index(0, ui::RunsTableModel::ColTags).data().toString(), QString("baseline, sweep"));
        QCOMPARE(model->index(0, ui::RunsTableModel::ColNote).data().toString(), QString("lr from the paper …"));
        const RunNotes written = readRunNotes(dirs[0].toStdString());
        QCOMPARE(written.tags, (std::vector<std::string>{"baseline", "sweep"}));
        QCOMPARE(written.note, std::string("lr from the paper\nsecond line"));
        QVERIFY(!model->setData(model->index(0, ui::RunsTableModel::ColTags), "a,,b\tc"));
        QVERIFY2(runs->statusText().contains("control character"), qPrintable(runs->statusText()));
        QCOMPARE(readRunNotes(dirs[0].toStdString()).tags, written.tags);
        runs->filterEdit()->setText("baseline");
        QCOMPARE(runs->proxy()->rowCount(), 1);
        runs->filterEdit()->clear();
        QSignalSpy read(runs, &ui::RunsView::tableRead);
        runs->reload();  // read back from the folder, on a worker thread
        QVERIFY(runs->reading());
        QVERIFY(read.wait());
        QVERIFY(!runs->reading());
        QCOMPARE(model->index(0, ui::RunsTableModel::ColTags).data().toString(), QString("baseline, sweep"));
        // Notes written by `caspl notes` after the tab read the folder are kept when a tag is edited in the tab:
        // the edit removes the tag it removed from the cell (sweep) and adds the one typed; the terminal's new tag,
        // never shown, stays.
        writeRunNotes(dirs[0].toStdString(), {"from the terminal", {"baseline", "sweep", "terminal"}});
        QVERIFY(model->setData(model->index(0, ui::RunsTableModel::ColTags), "baseline, typed"));
        const RunNotes merged = readRunNotes(dirs[0].toStdString());
        QCOMPARE(merged.note, std::string("from the terminal"));
        QCOMPARE(merged.tags, (std::vector<std::string>{"baseline", "terminal", "typed"}));
        QCOMPARE(model->index(0, ui::RunsTableModel::ColTags).data().toString(), QString("baseline, terminal, typed"));
        QVERIFY(QFileInfo::exists(dirs[0] + "/" + kRunNotesLockFile));
        QVERIFY(model->setData(model->index(0, ui::RunsTableModel::ColTags), "baseline"));

        // The note dialog starts from the file as it is now; a note written elsewhere while it is open is not
        // replaced without the user's word: Keep Both (the default) joins them, Use Mine replaces it, Keep Theirs
        // writes nothing.
        const std::string folder0 = dirs[0].toStdString();
        const auto editWhileTerminalWrites = [&](const std::string& terminal, const QString& typed, const QString& answer) {
            QString opened;
            actOnNextModal([&](QWidget* modal) {
                auto* input = qobject_cast<QInputDialog*>(modal);
                if (!input) return false;
                opened = input->textValue();
                RunNotes n = readRunNotes(folder0);
                n.note = terminal;
                writeRunNotes(folder0, n);
                input->setTextValue(typed);
                input->accept();
                actOnNextModal([answer](QWidget* m) {
                    auto* box = qobject_cast<QMessageBox*>(m);
                    if (!box || box->objectName() != "noteConflict") return false;
                    for (auto* b : box->buttons())
                        if (b->text() == answer) b->click();
                    return true;
                });
                return true;
            });
            runs->editNote(0);
            return opened;
        };
        QCOMPARE(editWhileTerminalWrites("theirs", "mine", "Keep Both"), QString("from the terminal"));
        QCOMPARE(readRunNotes(folder0).note, std::string("theirs\n\nmine"));
        QCOMPARE(model->index(0, ui::RunsTableModel::ColNote).data().toString(), QString("theirs …"));
        QCOMPARE(editWhileTerminalWrites("theirs again", "mine again", "Use Mine"), QString("theirs\n\nmine"));
        QCOMPARE(readRunNotes(folder0).note, std::string("mine again"));
        QCOMPARE(editWhileTerminalWrites("theirs kept", "mine dropped", "Keep Theirs"), QString("mine again"));
        QCOMPARE(readRunNotes(folder0).note, std::string("theirs kept"));
        QCOMPARE(readRunNotes(folder0).tags, (std::vector<std::string>{"baseline"}));  // a note leaves the tags
        // The same text written elsewhere is no conflict (no question is asked).
        editWhileTerminalWrites("agreed", "agreed", "Use Mine");
        QCOMPARE(readRunNotes(folder0).note, std::string("agreed"));
        QVERIFY(!qobject_cast<QMessageBox*>(QApplication::activeModalWidget()));
        // A note opened and closed unchanged is not an edit: the note written meanwhile stays, no question.
        QCOMPARE(editWhileTerminalWrites("written meanwhile", "agreed", "Use Mine"), QString("agreed"));
        QCOMPARE(readRunNotes(folder0).note, std::string("written meanwhile"));
        QVERIFY(!qobject_cast<QMessageBox*>(QApplication::activeModalWidget()));
        writeRunNotes(folder0, {"from the terminal", {"baseline"}});
        QVERIFY(model->setData(model->index(0, ui::RunsTableModel::ColNote), "from the terminal"));
        // A read that ends while a tag is being typed leaves the editor open (a new table would close it and drop
        // the text); the folders are read again once the edit is committed.
        {
            w.show();
            QVERIFY(QTest::qWaitForWindowExposed(&w));
            const QModelIndex cell = runs->proxy()->mapFromSource(model->index(0, ui::RunsTableModel::ColTags));
            runs->table()->setCurrentIndex(cell);
            runs->table()->edit(cell);
            QVERIFY(runs->table()->editing());
            auto* editor = qobject_cast<QLineEdit*>(runs->table()->indexWidget(cell));
            if (!editor)
                for (auto* e : runs->table()->viewport()->findChildren<QLineEdit*>()) editor = e;
            QVERIFY(editor);
            editor->setText("baseline, typed while reading");
            const int started = runs->readsStarted();
            runs->reload();
            QTRY_VERIFY(!runs->reading());
            QVERIFY(runs->table()->editing());
            QCOMPARE(editor->text(), QString("baseline, typed while reading"));
            QSignalSpy read(runs, &ui::RunsView::tableRead);
            QTest::keyClick(editor, Qt::Key_Return);
            QVERIFY(read.wait());
            QCOMPARE(runs->readsStarted(), started + 2);
            QCOMPARE(readRunNotes(folder0).tags, (std::vector<std::string>{"baseline", "typed while reading"}));
            QCOMPARE(model->index(0, ui::RunsTableModel::ColTags).data().toString(), QString("baseline, typed while reading"));
            QVERIFY(model->setData(model->index(0, ui::RunsTableModel::ColTags), "baseline"));
        }
        // Under a filter, an edit that takes the row out of it takes it out of the summary and the scatter too.
        runs->filterEdit()->setText("baseline");
        QCOMPARE(runs->proxy()->rowCount(), 1);
        QVERIFY(model->setData(model->index(0, ui::RunsTableModel::ColTags), "other"));
        QCOMPARE(runs->proxy()->rowCount(), 0);
        QVERIFY(runs->plottedPoints().isEmpty());
        QVERIFY2(runs->statusText().contains("0 shown"), qPrintable(runs->statusText()));
        runs->filterEdit()->clear();
        QCOMPARE(runs->plottedPoints().size(), 2);

        // A double-click on a row selects that run in the queue.
        const QModelIndex cell = runs->proxy()->index(0, 0);
        QSignalSpy activated(runs, &ui::RunsView::runActivated);
        Q_EMIT runs->table()->doubleClicked(cell);
        QCOMPARE(activated.count(), 1);
        QCOMPARE(w.queueModel()->job(w.selectedRun())->runDir, cell.data(ui::RunsTableModel::FolderRole).toString());

        // The right-click menu: the two runs compared side by side, one run's per-class accuracy.
        runs->table()->selectAll();
        QCOMPARE(runs->selectedFolders().size(), 2);
        QMenu menu;
        runs->fillContextMenu(&menu, runs->selectedFolders());
        auto* compare = menu.findChild<QAction*>("runsCompare");
        QVERIFY(compare && compare->isEnabled());
        QVERIFY(!menu.findChild<QAction*>("runsEditNote")->isEnabled());  // one run at a time
        compare->trigger();
        QVERIFY(w.compareDialog()->isVisible());
        QVERIFY2(w.compareDialog()->configModel()->differentKeys().contains("train.lr"),
                 qPrintable(w.compareDialog()->configModel()->differentKeys().join(", ")));
        w.compareDialog()->hide();
        QMenu one;
        runs->fillContextMenu(&one, {dirs[1]});
        QVERIFY(one.findChild<QAction*>("runsEditNote")->isEnabled());
        QVERIFY(!one.findChild<QAction*>("runsCompare")->isEnabled());
        one.findChild<QAction*>("runsCopyPaths")->trigger();
        QCOMPARE(QApplication::clipboard()->text(), dirs[1]);
        one.findChild<QAction*>("runsPerClass")->trigger();
        QVERIFY(w.perClassDialog()->isVisible());
        QCOMPARE(w.perClassDialog()->runB(), QString());  // one run: no B
        w.perClassDialog()->hide();
        // The runs picked as the live plots' only curves: the others hidden (and shown again from the plots' list).
        const auto idOf = [&w](const QString& dir) {
            for (int r = 0; r < w.queueModel()->count(); ++r)
                if (w.queueModel()->job(w.queueModel()->idAt(r))->runDir == dir) return w.queueModel()->idAt(r);
            return -1;
        };
        QVERIFY(idOf(dirs[0]) >= 0 && idOf(dirs[1]) >= 0);
        QVERIFY(one.findChild<QAction*>("runsPlotCurves")->isEnabled());
        one.findChild<QAction*>("runsPlotCurves")->trigger();
        QCOMPARE(w.centralTabs()->currentWidget(), static_cast<QWidget*>(w.plotPanel()));
        QVERIFY(w.plotPanel()->isRunVisible(idOf(dirs[1])));
        QVERIFY(!w.plotPanel()->isRunVisible(idOf(dirs[0])));
        QMenu both;
        runs->fillContextMenu(&both, {dirs[0], dirs[1]});
        QCOMPARE(both.findChild<QAction*>("runsPlotCurves")->text(), QString("Plot Only These Runs' &Curves"));
        both.findChild<QAction*>("runsPlotCurves")->trigger();
        QVERIFY(w.plotPanel()->isRunVisible(idOf(dirs[0])) && w.plotPanel()->isRunVisible(idOf(dirs[1])));
        w.centralTabs()->setCurrentWidget(runs);

        // The shown runs for TensorBoard, with their HParams sessions (as `caspl export --tensorboard`).
        const QString tbDir = QDir(base_).filePath("runs_tab_tensorboard");
        // On a worker thread: the button waits, a second export is refused meanwhile, the line says what was written.
        QSignalSpy exported(runs, &ui::RunsView::tensorBoardExported);
        QCOMPARE(runs->exportTensorBoard(tbDir), QString());
        QVERIFY(runs->exportingTensorBoard());
        QVERIFY(!runs->findChild<QPushButton*>("runsExportTensorBoard")->isEnabled());
        QVERIFY(runs->exportTensorBoard(tbDir).contains("under way"));
        QVERIFY(exported.wait());
        QCOMPARE(exported.takeFirst().at(0).toString(), QString());
        QVERIFY(!runs->exportingTensorBoard());
        QVERIFY(runs->findChild<QPushButton*>("runsExportTensorBoard")->isEnabled());
        QVERIFY2(runs->statusText().startsWith("wrote 5 event file(s) under"), qPrintable(runs->statusText()));
        QVERIFY(!QDir(tbDir + "/runs_tab_a").entryList({"events.out.tfevents.*.caspl"}, QDir::Files).isEmpty());  // a's session
        QCOMPARE(QDir(tbDir).entryList({"events.out.tfevents.*.caspl"}, QDir::Files).size(), 1);                    // the experiment
        QCOMPARE(runs->exportTensorBoard(dirs[0]), QString());  // not into the runs
        QVERIFY(exported.wait());
        QVERIFY2(exported.takeFirst().at(0).toString().contains("is a run folder"), qPrintable(runs->statusText()));
        QVERIFY(runs->statusText().contains("is a run folder"));

        // Removing a run from the queue takes it out of the table.
        int second = -1;
        for (int r = 0; r < w.queueModel()->count(); ++r)
            if (w.queueModel()->job(w.queueModel()->idAt(r))->runDir == dirs[1]) second = w.queueModel()->idAt(r);
        QVERIFY(w.removeRun(second));
        QTRY_COMPARE(runs->model()->rowCount(), 1);
        QVERIFY(runs->model()->table().keys.empty());
        QCOMPARE(runs->plotMessage(), QString("Two runs or more are plotted against a key that differs between them."));
    }

    // The run queue's context menu and the folder actions.
    void runFolderActions() {
        CASPL_REQUIRE_TINY_FIXTURES();
        test::TinyExperimentOptions o;
        o.name = "folder_actions";
        const auto tiny = test::makeTinyExperiment(base_, o);
        writeRunFolder(tiny);
        ui::MainWindow w;
        QCOMPARE(w.queueView()->contextMenuPolicy(), Qt::CustomContextMenu);
        QCOMPARE(w.resultsView()->table()->contextMenuPolicy(), Qt::CustomContextMenu);
        QVERIFY(!w.findAction("actionCopyRunFolder")->isEnabled());
        QVERIFY(!w.showRunFolder(-1));
        QVERIFY(w.messageBar()->advice().contains("Select a run"));
        QVERIFY(w.openRunFolder(tiny.runDir));
        QCOMPARE(stateOf(w, w.selectedRun()), RunState::Stopped);  // no run.json: stopped, resumable
        // A folder of runs opens every run in it (the one already open is not added twice).
        const QString second = QDir(base_).filePath("runs/folder_actions_2");
        QDir().mkpath(second);
        QFile::copy(QDir(tiny.runDir).filePath("config.yaml"), QDir(second).filePath("config.yaml"));
        const int before = w.queueModel()->count();
        QVERIFY(w.openRunFolder(QDir(base_).filePath("runs")));
        QVERIFY(w.queueModel()->count() > before);
        int matches = 0;
        for (int r = 0; r < w.queueModel()->count(); ++r)
            matches += w.queueModel()->job(w.queueModel()->idAt(r))->runDir == QDir::cleanPath(tiny.runDir) ? 1 : 0;
        QCOMPARE(matches, 1);
        QVERIFY(!w.openRunFolder(QDir(base_).filePath("models/student")));  // neither
        QVERIFY(w.messageBar()->advice().contains("runs/"));
        w.selectRun(w.queueModel()->idAt(0));
        QVERIFY(w.findAction("actionShowRunFolder")->isEnabled());
        w.findAction("actionCopyRunFolder")->trigger();
        QCOMPARE(QApplication::clipboard()->text(), QDir::toNativeSeparators(QDir::cleanPath(tiny.runDir)));
    }

    // Stop pauses the queue and leaves a resumable run; Resume continues it into the same folder.
    void stopAndResumeFromTheWindow() {
        CASPL_REQUIRE_TINY_FIXTURES();
        test::TinyExperimentOptions o;
        o.name = "stopme";
        o.trainEpochs = 4;
        const auto tiny = test::makeTinyExperiment(base_, o);
        app::StudioEngine engine;
        ui::MainWindow w(&engine);
        w.show();
        QVERIFY(w.openExperimentFile(tiny.yamlPath));
        bool stopped = false;
        connect(&engine, &ui::EngineBackend::progress, this, [&](int, const ProgressEvent& e) {
            if (!stopped && e.phase == "phase2") {
                stopped = true;
                w.stopRun();
            }
        });
        const int id = w.runCurrentExperiment();
        QVERIFY(id > 0);
        QTRY_VERIFY_WITH_TIMEOUT(stateOf(w, id) == RunState::Stopped || stateOf(w, id) == RunState::Done ||
                                     stateOf(w, id) == RunState::Failed,
                                 300000);
        QCOMPARE(stateOf(w, id), RunState::Stopped);
        QVERIFY(!w.findAction("actionProcessQueue")->isChecked());  // the queue paused
        QVERIFY(w.messageBar()->advice().contains("Resume"));
        w.selectRun(id);
        // Evaluating it now trains nothing: no seed has prompts yet, it says so and stays stopped.
        QVERIFY(w.findAction("actionEvaluate")->isEnabled());
        w.findAction("actionEvaluate")->trigger();
        QTRY_VERIFY_WITH_TIMEOUT(stateOf(w, id) != RunState::Queued && stateOf(w, id) != RunState::Running, 60000);
        QCOMPARE(stateOf(w, id), RunState::Stopped);
        QVERIFY2(w.messageBar()->details().contains("nothing to evaluate"), qPrintable(w.messageBar()->details()));
        QVERIFY(!QFileInfo::exists(QDir(w.queueModel()->job(id)->runDir).filePath("synth/k2_seed1/prompts.safetensors")));
        w.findAction("actionProcessQueue")->setChecked(false);
        w.selectRun(id);
        QVERIFY(w.findAction("actionResume")->isEnabled());
        // Running it twice is refused while it waits or runs; Resume is the way.
        w.findAction("actionResume")->trigger();
        QCOMPARE(w.runCurrentExperiment(), -1);
        QVERIFY(w.messageBar()->title().contains("already in the queue"));
        QTRY_VERIFY_WITH_TIMEOUT(stateOf(w, id) == RunState::Done || stateOf(w, id) == RunState::Failed, 300000);
        QCOMPARE(stateOf(w, id), RunState::Done);
        QVERIFY(w.queueModel()->job(id)->resumed);
        QCOMPARE(w.resultsModel()->rowCount(), 3);
        // Evaluated again: the same results, still done.
        w.selectRun(id);
        w.findAction("actionEvaluate")->trigger();
        QTRY_VERIFY_WITH_TIMEOUT(stateOf(w, id) != RunState::Queued && stateOf(w, id) != RunState::Running, 60000);
        QCOMPARE(stateOf(w, id), RunState::Done);
        QCOMPARE(w.resultsModel()->rowCount(), 3);

        // Compare it with the live run of the previous test (another name and epochs).
        const QString live = QDir(base_).filePath("runs/live");
        QVERIFY(QFileInfo::exists(QDir(live).filePath("config.yaml")));
        auto* dlg = w.compareDialog();
        QAbstractItemModelTester t1(dlg->configModel(), QAbstractItemModelTester::FailureReportingMode::Fatal);
        QAbstractItemModelTester t2(dlg->metricsModel(), QAbstractItemModelTester::FailureReportingMode::Fatal);
        QCOMPARE(dlg->compare(live, w.queueModel()->job(id)->runDir), QString());
        const QStringList keys = dlg->configModel()->differentKeys();
        QVERIFY2(keys.contains("name") && keys.contains("phase1.epochs") && keys.contains("train.epochs"), qPrintable(keys.join(',')));
        QCOMPARE(dlg->metricsModel()->rowCount(), 1);
        QVERIFY(!dlg->compare(live, QDir(base_).filePath("models")).isEmpty());  // not a run folder: says so
        QVERIFY(dlg->statusText().contains("config.yaml"));
    }

    // Failures appear in the window with what to do; the queue goes on and the window keeps working.
    void failuresShowMessageAndAdvice() {
        CASPL_REQUIRE_TINY_FIXTURES();
        test::TinyExperimentOptions o;
        o.name = "missingdata";
        o.datasets = "[no_such_dataset]";
        const auto missing = test::makeTinyExperiment(base_, o);
        app::StudioEngine engine;
        ui::MainWindow w(&engine);
        w.show();
        QVERIFY(w.openExperimentFile(missing.yamlPath));
        QVERIFY(!w.editor()->presentDatasets().contains("no_such_dataset"));
        const int id = w.runCurrentExperiment();
        QVERIFY(id > 0);
        QTRY_VERIFY_WITH_TIMEOUT(stateOf(w, id) == RunState::Failed, 120000);
        auto* bar = w.messageBar();
        QCOMPARE(bar->kind(), ui::MessageBar::Kind::Error);
        QVERIFY2(bar->details().contains("no_such_dataset"), qPrintable(bar->details()));
        QVERIFY2(bar->advice().contains("data.root"), qPrintable(bar->advice()));
        QVERIFY(w.queueModel()->index(0, 0).data(Qt::ToolTipRole).toString().contains("no_such_dataset"));

        // Corrected (a dataset that exists) and run again: the failed attempt trained nothing, so its row takes the
        // corrected experiment and the folder, as the engine does; no refusal, no second row for one folder.
        o.datasets = "[synth]";
        o.seeds = "[1]";
        const auto fixed = test::makeTinyExperiment(base_, o);
        QVERIFY(w.openExperimentFile(fixed.yamlPath));
        QCOMPARE(w.runCurrentExperiment(), id);
        QCOMPARE(w.queueModel()->rowCount(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(stateOf(w, id) == RunState::Done, 120000);
        QCOMPARE(w.queueModel()->job(id)->spec.data.datasets, std::vector<std::string>{"synth"});

        // The window still works: open a run folder from disk (the live run) with its results.
        QVERIFY(w.openRunFolder(QDir(base_).filePath("runs/live")));
        QCOMPARE(w.queueModel()->rowCount(), 2);
        const int opened = w.queueModel()->idAt(1);
        QCOMPARE(stateOf(w, opened), RunState::Done);
        QVERIFY(w.resultsModel()->rowCount() >= 3);
        // Its curves come back from events.jsonl, as TensorBoard shows a finished log folder.
        auto* plots = w.plotPanel();
        QVERIFY(plots->pointCount(opened, ui::PlotPanel::Phase1Plot, "loss") > 0);
        const int phase2 = plots->pointCount(opened, ui::PlotPanel::Phase2Plot, "loss");
        QVERIFY(phase2 > 0);
        QVERIFY(plots->pointCount(opened, ui::PlotPanel::AccuracyPlot, "base") >= 2);
        // ... and leave as CSV (one row per logged step) and as images.
        const QString curves = QDir(base_).filePath("live_curves.csv");
        QVERIFY(w.exportCurvesCsv(opened, curves));
        QFile csv(curves);
        QVERIFY(csv.open(QIODevice::ReadOnly));
        const QStringList rows = QString::fromUtf8(csv.readAll()).trimmed().split('\n');
        QVERIFY2(rows[0].startsWith("run,phase,dataset,shots,seed,epoch,step,wall_time,") && rows[0].contains(",lr"), qPrintable(rows[0]));
        QVERIFY(rows.size() > phase2);
        QVERIFY2(rows[1].section(',', 7, 7).toDouble() > 1.7e9, qPrintable(rows[1]));  // every step has its time
        // On TensorBoard's Relative axis: every step, at its seconds since the run's first step.
        plots->setStepAxis(ui::PlotPanel::StepAxis::Relative);
        QCOMPARE(plots->pointCount(opened, ui::PlotPanel::Phase2Plot, "loss"), phase2);
        const QVector<double> seconds = plots->seriesKeys(opened, ui::PlotPanel::Phase1Plot, "loss");
        QVERIFY(!seconds.isEmpty() && seconds.first() == 0.0 && std::is_sorted(seconds.begin(), seconds.end()));
        QVERIFY(plots->seriesKeys(opened, ui::PlotPanel::Phase2Plot, "loss").first() >= seconds.last());  // after phase 1
        QCOMPARE(plots->saveImage(QDir(artifactsDir()).filePath("plots_relative_time.png")), QString());
        // The seeds as their mean and range: one curve for the run's two seeds.
        plots->setStepAxis(ui::PlotPanel::StepAxis::SeedMean);
        QVERIFY(plots->pointCount(opened, ui::PlotPanel::Phase2Plot, "loss", "synth · 2 shots · 2 seeds") > 0);
        QCOMPARE(plots->saveImage(QDir(artifactsDir()).filePath("plots_seed_mean.png")), QString());
        plots->setStepAxis(ui::PlotPanel::StepAxis::Continue);
        // ... as TensorBoard event files: phase 1 and each seed's training in a folder of its own ...
        const QString tb = QDir(base_).filePath("live_tb");
        QVERIFY(w.exportTensorBoard(opened, tb));
        QStringList eventFiles;
        for (QDirIterator it(tb, {"events.out.tfevents.*.caspl"}, QDir::Files, QDirIterator::Subdirectories); it.hasNext();)
            eventFiles << QDir(tb).relativeFilePath(it.next());
        eventFiles.sort();
        QVERIFY2(eventFiles.size() == 3 && eventFiles[2].contains("/synth/phase1/"), qPrintable(eventFiles.join(' ')));
        QVERIFY(!w.exportTensorBoard(opened, curves + "/cannot_be_a_folder"));  // under a file: the message bar says why
        // The PNG stays next to the screenshots, for a look by eye.
        const QString png = QDir(artifactsDir()).filePath("plots_export.png"), pdf = QDir(base_).filePath("live_plots.pdf");
        QVERIFY(w.savePlots(png));
        QVERIFY(QImage(png).width() >= 1800);
        QVERIFY(w.savePlots(pdf));
        QFile pdfFile(pdf);
        QVERIFY(pdfFile.open(QIODevice::ReadOnly));
        QVERIFY(pdfFile.read(5) == "%PDF-");
        QVERIFY(!w.savePlots(QDir(base_).filePath("live_plots.xyz")));
        QVERIFY(w.messageBar()->details().contains("xyz"));
        QVERIFY(!w.openRunFolder(base_));  // not a run folder
        QVERIFY(w.messageBar()->advice().contains("config.yaml"));
        // A folder of runs with a damaged one: the others open, and one message at the end names it (a run opened
        // after it does not clear it).
        {
            const std::filesystem::path mixed = std::filesystem::path(base_.toStdString()) / "mixed_runs";
            std::filesystem::remove_all(mixed);
            std::filesystem::create_directories(mixed / "a_broken");
            caspl::writeFileAtomically((mixed / "a_broken/config.yaml").string(), "train: [1,\n");
            caspl::writeFileAtomically((mixed / "a_broken/run.json").string(), "{\"status\": \"done\"}");
            std::filesystem::copy(QDir(base_).filePath("runs/live").toStdString(), mixed / "b_good",
                                  std::filesystem::copy_options::recursive);
            std::filesystem::remove(mixed / "b_good" / DirLock::kFileName);
            QVERIFY(w.openRunFolder(QString::fromStdString(mixed.string())));
            QCOMPARE(w.messageBar()->kind(), ui::MessageBar::Kind::Warning);
            QVERIFY2(w.messageBar()->title().contains("1 of 2"), qPrintable(w.messageBar()->title()));
            QVERIFY2(w.messageBar()->details().contains("a_broken"), qPrintable(w.messageBar()->details()));
        }

        // A run removed from the queue leaves the Results tab (and so its exports) too.
        const QString liveDir = w.queueModel()->job(opened)->runDir;
        QVERIFY(w.resultsModel()->runs().contains(liveDir));
        QVERIFY(w.removeRun(opened));
        QVERIFY(!w.resultsModel()->runs().contains(liveDir));
    }

    // Out of memory (which a tiny CPU run cannot cause): the engine's message and the advice reach the window.
    void outOfMemoryAdviceReachesTheWindow() {
        CASPL_REQUIRE_TINY_FIXTURES();
        FakeEngine engine;
        ui::MainWindow w(&engine);
        w.show();
        const auto tiny = test::makeTinyExperiment(base_);
        QVERIFY(w.openExperimentFile(tiny.yamlPath));
        const int id = w.runCurrentExperiment();
        QVERIFY(id > 0);
        QCOMPARE(stateOf(w, id), RunState::Running);
        const std::string oom = "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.35 GiB total capacity)";
        engine.running = false;
        Q_EMIT engine.runFailed(id, w.queueModel()->job(id)->runDir, QString::fromStdString(oom),
                                app::adviceFor(app::classifyFailure(oom, false), oom));
        QCOMPARE(stateOf(w, id), RunState::Failed);
        QVERIFY(w.messageBar()->details().contains("out of memory"));
        QVERIFY(w.messageBar()->advice().contains("batch_size"));
        // The device panel shows the (fake) GPU's memory.
        w.devicePanel()->refresh();
        auto* mem = w.devicePanel()->findChild<QLabel*>("deviceMemory");
        auto* peak = w.devicePanel()->findChild<QLabel*>("devicePeak");
        QCOMPARE(mem->text(), QString("3.00 GiB of 80.00 GiB"));
        QCOMPARE(peak->text(), QString("5.00 GiB"));
        // Resume is offered for the failed run.
        w.selectRun(id);
        QVERIFY(w.findAction("actionResume")->isEnabled());
        QVERIFY(w.resumeRun(id));
        QCOMPARE(stateOf(w, id), RunState::Running);
    }
};

CASPL_REGISTER_TEST(MainWindowTest);
#include "test_main_window.moc"
