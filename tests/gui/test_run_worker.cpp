// The engine-to-GUI glue: RunWorker turns the engine's callbacks into signals (QSignalSpy on them), StudioEngine
// runs the engine on its own thread and delivers every event on the GUI thread as queued signals; stop gives a
// resumable checkpoint; failures become runFailed with what to do.
#include "app/run_worker.h"
#include "core/experiment/spec_loader.h"
#include "core/util/atomic_file.h"
#include "tiny_experiment.h"
#include "test_support.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QFile>
#include <QDir>
#include <QSignalSpy>
#include <QThread>

#include <set>

using namespace caspl;

namespace {

ExperimentSpec tinySpec(const QString& base, const test::TinyExperimentOptions& o) {
    const auto t = test::makeTinyExperiment(base, o);
    return loadExperiment(t.yamlPath.toStdString());
}

QString runDirFor(const QString& base, const QString& name) { return QDir(base).filePath("runs/" + name); }

}  // namespace

class RunWorkerTest : public QObject {
    Q_OBJECT
    QString base_;

private Q_SLOTS:
    void initTestCase() {
        CASPL_REQUIRE_TINY_FIXTURES();
        base_ = QDir(test::tempDir()).filePath("gui-worker");
        QDir().mkpath(base_);
        ui::registerEngineMetaTypes();
    }

    // The worker on the calling thread: every engine event becomes a signal, in order, ending with runFinished.
    void workerEmitsTypedSignals() {
        test::TinyExperimentOptions o;
        o.name = "worker";
        const ExperimentSpec spec = tinySpec(base_, o);
        app::RunWorker w;
        QSignalSpy started(&w, &app::RunWorker::runStarted);
        QSignalSpy progressed(&w, &app::RunWorker::progressed);
        QSignalSpy metrics(&w, &app::RunWorker::metrics);
        QSignalSpy evaluated(&w, &app::RunWorker::evaluated);
        QSignalSpy logs(&w, &app::RunWorker::logMessage);
        QSignalSpy phases(&w, &app::RunWorker::phaseEntered);
        QSignalSpy finished(&w, &app::RunWorker::runFinished);
        QSignalSpy interrupted(&w, &app::RunWorker::runInterrupted);
        QSignalSpy failed(&w, &app::RunWorker::runFailed);
        w.run(7, spec, runDirFor(base_, o.name));
        QCOMPARE(failed.count(), 0);
        QCOMPARE(interrupted.count(), 0);
        QCOMPARE(started.count(), 1);
        QCOMPARE(started.at(0).at(0).toInt(), 7);
        QCOMPARE(finished.count(), 1);
        QCOMPARE(finished.at(0).at(2).toBool(), false);  // a fresh run
        QCOMPARE(evaluated.count(), 4);                  // 2 seeds x base/novel
        QVERIFY(progressed.count() > 0);
        QVERIFY(logs.count() > 0);
        std::set<QString> seen;
        for (const auto& p : phases) seen.insert(p.at(1).toString());
        for (const char* p : {"data", "phase1", "phase2", "eval", "done"}) QVERIFY2(seen.count(p), p);
        // Metrics arrive batched, with the loss terms and the LR of both phases.
        int events = 0;
        std::set<std::string> keys, metricPhases;
        for (const auto& m : metrics) {
            const auto batch = m.at(1).value<QList<MetricEvent>>();
            QVERIFY(!batch.isEmpty());
            events += int(batch.size());
            for (const auto& e : batch) {
                metricPhases.insert(e.phase);
                for (const auto& [k, v] : e.values) keys.insert(k);
            }
        }
        QVERIFY(metrics.count() <= events);
        QVERIFY(metricPhases.count("phase1") && metricPhases.count("phase2"));
        QVERIFY(keys.count("loss") && keys.count("lr"));
        for (const auto& e : evaluated) {
            const auto row = e.at(1).value<EvalRow>();
            QVERIFY(row.total > 0);
            QVERIFY(row.split == "base" || row.split == "novel");
        }
        // The last progress of a phase is never dropped by the throttle.
        const auto last = progressed.last().at(1).value<ProgressEvent>();
        QCOMPARE(last.step, last.steps);
    }

    // The engine on its thread: events arrive on the GUI thread, the window's thread stays free meanwhile.
    void engineDeliversQueuedSignalsOnGuiThread() {
        test::TinyExperimentOptions o;
        o.name = "engine";
        const ExperimentSpec spec = tinySpec(base_, o);
        app::StudioEngine engine;
        QSignalSpy finished(&engine, &ui::EngineBackend::runFinished);
        QSignalSpy evals(&engine, &ui::EngineBackend::evalRow);
        QSignalSpy metrics(&engine, &ui::EngineBackend::metrics);
        int offThread = 0, calls = 0;
        QThread* gui = QCoreApplication::instance()->thread();
        const auto check = [&] {
            ++calls;
            if (QThread::currentThread() != gui) ++offThread;
        };
        connect(&engine, &ui::EngineBackend::progress, this, check);
        connect(&engine, &ui::EngineBackend::metrics, this, check);
        connect(&engine, &ui::EngineBackend::logMessage, this, check);
        QVERIFY(engine.startRun(1, spec, runDirFor(base_, o.name)));
        QVERIFY(engine.isRunning());
        QVERIFY(!engine.startRun(2, spec, runDirFor(base_, o.name)));  // one run at a time
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
        QVERIFY(!engine.isRunning());
        QCOMPARE(evals.count(), 4);
        QVERIFY(metrics.count() > 0);
        QVERIFY(calls > 0);
        QCOMPARE(offThread, 0);
        QVERIFY(QFileInfo::exists(QDir(runDirFor(base_, o.name)).filePath("results.csv")));
    }

    // Stop writes a checkpoint (runInterrupted); the same spec into the same folder resumes and finishes.
    void stopThenResume() {
        test::TinyExperimentOptions o;
        o.name = "stopresume";
        const ExperimentSpec spec = tinySpec(base_, o);
        const QString dir = runDirFor(base_, o.name);
        app::StudioEngine engine;
        QSignalSpy interrupted(&engine, &ui::EngineBackend::runInterrupted);
        QSignalSpy finished(&engine, &ui::EngineBackend::runFinished);
        QSignalSpy failed(&engine, &ui::EngineBackend::runFailed);
        bool asked = false;
        connect(&engine, &ui::EngineBackend::progress, this, [&](int, const ProgressEvent& e) {
            if (!asked && e.phase == "phase2") {
                asked = true;
                engine.requestStop();
            }
        });
        QVERIFY(engine.startRun(1, spec, dir));
        QTRY_VERIFY_WITH_TIMEOUT(interrupted.count() + finished.count() + failed.count() == 1, 120000);
        QCOMPARE(interrupted.count(), 1);
        QVERIFY(interrupted.at(0).at(2).toString().contains("phase2"));
        QVERIFY(QString::fromStdString(readFile(QDir(dir).filePath("run.json").toStdString())).contains("interrupted"));

        QSignalSpy evals(&engine, &ui::EngineBackend::evalRow);
        QVERIFY(engine.startRun(2, spec, dir));
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
        QCOMPARE(failed.count(), 0);
        QCOMPARE(finished.at(0).at(2).toBool(), true);  // resumed
        QCOMPARE(evals.count(), 4);                    // seed 1 (continued) and seed 2
    }

    // Missing data: runFailed with the engine's message and what to do; the engine takes the next run.
    void missingDataBecomesFailedWithAdvice() {
        test::TinyExperimentOptions o;
        o.name = "missing";
        o.datasets = "[nosuch_dataset]";
        const ExperimentSpec spec = tinySpec(base_, o);
        app::StudioEngine engine;
        QSignalSpy failed(&engine, &ui::EngineBackend::runFailed);
        QVERIFY(engine.startRun(3, spec, runDirFor(base_, o.name)));
        QTRY_VERIFY_WITH_TIMEOUT(failed.count() == 1, 60000);
        QCOMPARE(failed.at(0).at(0).toInt(), 3);
        QVERIFY2(failed.at(0).at(2).toString().contains("nosuch_dataset"), qPrintable(failed.at(0).at(2).toString()));
        QVERIFY2(failed.at(0).at(3).toString().contains("data.root"), qPrintable(failed.at(0).at(3).toString()));
        QVERIFY(!engine.isRunning());
    }

    // The editor asks for the models' architecture on every edit: answers are kept per file, until the file changes.
    void describeModelReadsAgainOnlyWhenTheFileChanges() {
        CASPL_REQUIRE_TINY_FIXTURES();
        const QString path = QDir(caspl::test::tempDir()).filePath("probe/model.safetensors");
        QDir().mkpath(QFileInfo(path).path());
        QFile::remove(path);
        QVERIFY(QFile::copy(caspl::test::fixturePath("clip-tiny-a/weights_openai.safetensors"), path));
        app::StudioEngine engine;
        const auto first = engine.describeModel(path);
        QVERIFY2(first.ok, qPrintable(first.error));
        QCOMPARE(engine.describeModel(path).parameters, first.parameters);
        caspl::writeFileAtomically(path.toStdString(), "not a checkpoint");
        const auto second = engine.describeModel(path);
        QVERIFY(!second.ok);  // a changed file is read again
        QVERIFY2(second.error.contains("model.safetensors"), qPrintable(second.error));
        QVERIFY(!engine.describeModel(path + ".missing").ok);
    }

    void failuresAreClassified() {
        using app::FailureKind;
        QCOMPARE(app::classifyFailure("CUDA out of memory. Tried to allocate 2.00 GiB", false), FailureKind::OutOfMemory);
        QCOMPARE(app::classifyFailure("out of memory (std::bad_alloc)", false), FailureKind::OutOfMemory);
        QCOMPARE(app::classifyFailure("phase2: the loss is NaN at epoch 2, batch 1; lower ...", true), FailureKind::Diverged);
        QCOMPARE(app::classifyFailure("model 'ViT-L/14' not found; looked for ...", true), FailureKind::BadInput);
        QCOMPARE(app::classifyFailure("c10 internal assert", false), FailureKind::Other);
        QVERIFY(app::adviceFor(FailureKind::OutOfMemory, "").contains("batch_size"));
        QVERIFY(app::adviceFor(FailureKind::BadInput, "runs/x: this folder holds another experiment").contains("name"));
        QVERIFY(app::adviceFor(FailureKind::BadInput, "model 'ViT-L/14' not found").contains("models.dir"));
        // A folder another run is working in: nothing to fix, wait or stop it.
        const QString busy = app::adviceFor(FailureKind::BadInput, "runs/x: in use by another run (process 12); wait");
        QVERIFY(busy.contains("Nothing needs fixing") && !busy.contains("Fix the file"));
        QVERIFY(app::adviceFor(FailureKind::Other, "").contains("Resume"));
    }
};

CASPL_REGISTER_TEST(RunWorkerTest);
#include "test_run_worker.moc"
