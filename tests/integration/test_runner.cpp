// End to end: an experiment file -> phase 1, phase 2, base/novel evaluation, run folder, results.csv; resume and
// skip; an interrupted run resumes to the same result as an uninterrupted one; a folder of another experiment is
// refused. Tiny CLIPs (the fixtures) on a synthetic image-folder dataset the test draws itself.
#include "core/engine/event_log.h"
#include "core/engine/run_status.h"
#include "core/engine/runner.h"
#include "core/engine/tensorboard.h"
#include "core/experiment/per_class.h"
#include "core/experiment/run_notes.h"
#include "core/experiment/spec_loader.h"
#include "core/image/image.h"
#include "core/util/atomic_file.h"
#include "core/util/dir_lock.h"
#include "core/util/error.h"
#include "tensorboard_decode.h"
#include "test_support.h"
#include "tiny_experiment.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <random>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

using namespace caspl;
namespace fs = std::filesystem;

namespace {

struct QuietSink : EventSink {
    int64_t stopAt = -1;
    StopToken* stop = nullptr;
    std::vector<EvalRow> rows;
    std::vector<std::string> logs;
    std::string stopOnPhase;  // a stop asked for when this phase begins for the stopOnPhaseAt-th time
    int stopOnPhaseAt = 1;
    int phaseSeen = 0;
    std::vector<ProgressEvent> evalProgress;
    void progress(const ProgressEvent& e) override {
        if (!watchedRunJson.empty()) {
            const QJsonObject j = QJsonDocument::fromJson(QByteArray::fromStdString(readFile(watchedRunJson))).object();
            runJsonSeen.emplace_back(j.value("status").toString(), j.value("runtime_s").toDouble(-1));
        }
        if (stop && e.phase == "phase2" && e.step == stopAt) stop->request();
        if (e.phase.rfind("eval", 0) == 0) evalProgress.push_back(e);
    }
    void phaseChanged(const std::string&, const std::string& phase) override {
        if (stop && phase == stopOnPhase && ++phaseSeen == stopOnPhaseAt) stop->request();
    }
    void evalRow(const EvalRow& r) override { rows.push_back(r); }
    void log(LogLevel, const std::string& m) override { logs.push_back(m); }
    void metric(const MetricEvent& e) override { metricTimes.push_back(e.time); }
    std::vector<double> metricTimes;  // what a front end was handed
    std::string watchedRunJson;       // run.json as seen at each progress event: (status, runtime_s)
    std::vector<std::pair<QString, double>> runJsonSeen;
};

QJsonObject runJsonOf(const std::string& runDir) {
    return QJsonDocument::fromJson(QByteArray::fromStdString(readFile((fs::path(runDir) / "run.json").string()))).object();
}

std::string experimentYaml(const fs::path& base) {
    return "name: tiny\n"
           "data:\n  root: " + (base / "data").string() + "\n  datasets: [synth]\n  protocol: base2novel\n  shots: [2]\n"
           "  seeds: [1, 2]\n  loader_threads: 2\n"
           "models:\n  dir: " + (base / "models").string() + "\n  student: " + (base / "models/student").string() +
           "\n  teacher: " + (base / "models/teacher").string() + "\n"
           "method:\n  name: coop\n  n_ctx_text: 2\n  ctx_init: \"\"\n"
           "phase1:\n  enabled: true\n  n_text: 2\n  n_vision: 2\n  depth_text: 2\n  depth_vision: 2\n  epochs: 2\n"
           "  batch_size: 4\n  lr: 0.01\n"
           "train:\n  epochs: 3\n  batch_size: 2\n  lr: 0.01\n  device: cpu\n"
           "eval:\n  batch_size: 8\n  rounding: none\n"
           "output: " + (base / "runs").string() + "\n";
}

// The TensorBoard event files of one training folder of a run, each decoded (tests/support/tensorboard_decode.h).
std::vector<std::pair<std::string, std::vector<test::DecodedEvent>>> tensorBoardFiles(const fs::path& folder) {
    std::vector<std::pair<std::string, std::vector<test::DecodedEvent>>> out;
    if (!fs::is_directory(folder)) return out;
    for (const auto& e : fs::directory_iterator(folder))
        out.emplace_back(e.path().filename().string(), test::decodeEventFile(readFile(e.path().string())));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
}

// A run's live TensorBoard files hold what the export makes of its events.jsonl: every training's folder, one file
// each, with the export's tags, steps and values after the version and session-start events.
void checkLiveTensorBoard(const fs::path& run) {
    const auto trainings = tensorBoardTrainings(readEventLog((run / "events.jsonl").string()), 0);
    QVERIFY(!trainings.empty());
    for (const auto& t : trainings) {
        const auto files = tensorBoardFiles(run / "tensorboard" / t.folder);
        QCOMPARE(files.size(), std::size_t(1));
        QVERIFY2(files[0].first.rfind("events.out.tfevents.", 0) == 0, files[0].first.c_str());
        const auto& events = files[0].second;
        QCOMPARE(events.size(), 2 + t.scalars.size());
        QCOMPARE(events[0].fileVersion, std::string("brain.Event:2"));
        QVERIFY(events[1].sessionStart);
        std::multiset<std::tuple<std::string, int64_t, float>> live, exported;
        for (std::size_t i = 2; i < events.size(); ++i) live.insert({events[i].tag, events[i].step, events[i].value});
        for (const auto& sc : t.scalars) exported.insert({sc.tag, sc.step, float(sc.value)});
        QVERIFY2(live == exported, t.folder.c_str());
    }
}

}  // namespace

class RunnerTest : public QObject {
    Q_OBJECT
    fs::path base_;
    ExperimentSpec spec_;

private Q_SLOTS:
    void initTestCase() {
        CASPL_REQUIRE_FIXTURE(student, "clip-tiny-a/weights_openai.safetensors");
        CASPL_REQUIRE_FIXTURE(teacher, "method-steps/caspl_phase1_teacher.safetensors");
        CASPL_REQUIRE_FIXTURE(vocab, "tokenizer/vocab.json");
        base_ = fs::path(caspl::test::tempDir().toStdString()) / "runner";
        caspl::test::makeTinyModelFolder(base_ / "models/student", student_q);
        caspl::test::makeTinyModelFolder(base_ / "models/teacher", teacher_q);
        caspl::test::makeTinyDataset(base_ / "data/synth");
        writeFileAtomically((base_ / "tiny.yaml").string(), experimentYaml(base_));
        spec_ = loadExperiment((base_ / "tiny.yaml").string());
    }

    void runsEndToEnd() {
        QuietSink sink;
        StopToken stop;
        RunOptions ro;
        ro.runDir = (base_ / "runs/a").string();
        auto out = runExperiment(spec_, ro, sink, stop);
        QCOMPARE(int(out.records.size()), 4);  // 2 seeds x base/novel
        QCOMPARE(int(sink.rows.size()), 4);
        for (const auto& r : out.records) {
            QVERIFY(r.total > 0);
            QCOMPARE(r.method, std::string("coop+caspl"));
        }
        const fs::path run = ro.runDir;
        for (const char* f : {"config.yaml", "run.json", "events.jsonl", "result.json", "results.csv", "synth/phase1/boosting.json",
                              "synth/phase1/boosting.safetensors", "synth/lists_k2_seed1.json", "synth/k2_seed1/prompts.safetensors",
                              "synth/k2_seed2/result.json"})
            QVERIFY2(fs::exists(run / f), f);
        QVERIFY(readFile((run / "run.json").string()).find("\"done\"") != std::string::npos);
        // The event log reads back; every training names its dataset, shots and seed.
        const auto log = readEventLog((run / "events.jsonl").string());
        QVERIFY(!log.truncatedLastLine);
        QCOMPARE(log.evals.size(), std::size_t(4));
        for (const auto& e : log.evals) QCOMPARE(e.shots, 2);  // each evaluation names its shots
        std::set<std::string> trainings;
        for (const auto& m : log.metrics) trainings.insert(m.phase + " " + seriesLabel(m));
        QCOMPARE(trainings, (std::set<std::string>{"phase1 synth", "phase2 synth · 2 shots · seed 1", "phase2 synth · 2 shots · seed 2"}));
        // Every step has its wall time, to the millisecond, the same in the log as for the front end that watched it.
        QCOMPARE(sink.metricTimes.size(), log.metrics.size());
        const QJsonObject runJson = QJsonDocument::fromJson(QByteArray::fromStdString(readFile((run / "run.json").string()))).object();
        const double started = parseEventTime(runJson.value("created").toString().toStdString());
        QVERIFY(started > 0);
        for (std::size_t i = 0; i < log.metrics.size(); ++i) {
            QVERIFY(std::abs(log.metrics[i].time - sink.metricTimes[i]) <= 0.0005 + 1e-6);
            QVERIFY(log.metrics[i].time >= started && log.metrics[i].time < started + 3600);
            if (i > 0) QVERIFY(log.metrics[i].time >= log.metrics[i - 1].time);
        }
        int seed2Progress = 0;
        for (const QString& line : QString::fromStdString(readFile((run / "events.jsonl").string())).split('\n'))
            if (line.contains("\"type\":\"progress\"") && line.contains("\"dataset\":\"synth\"") && line.contains("\"seed\":2"))
                ++seed2Progress;
        QVERIFY(seed2Progress > 0);
        // Each seed's per-class counts add up to its result records, split by split, and name the split's classes.
        for (const char* seed : {"k2_seed1", "k2_seed2"}) {
            const auto records = readResultJson((run / "synth" / seed / "result.json").string()).records;
            const auto perClass = readPerClassJson((run / "synth" / seed / "per_class.json").string());
            QCOMPARE(perClass.size(), records.size());
            for (std::size_t i = 0; i < records.size(); ++i) {
                const PerClassEval& e = perClass[i];
                QCOMPARE(e.split, records[i].split);
                QCOMPARE(e.seed, records[i].seed);
                QCOMPARE(e.method, records[i].method);
                QCOMPARE(e.shots, 2);
                QVERIFY(!e.classes.empty());
                int64_t total = 0, correct = 0, wrong = 0;
                for (const auto& c : e.classes) {
                    total += c.total;
                    correct += c.correct;
                    for (const auto& w : c.confusedWith) wrong += w.second;
                }
                QCOMPARE(total, records[i].total);
                QCOMPARE(correct, records[i].correct);
                QCOMPARE(wrong, total - correct);  // every wrong image is in some confusion
            }
            // Base and novel classes are disjoint.
            std::set<std::string> base, novel;
            for (const auto& c : perClass[0].classes) base.insert(c.name);
            for (const auto& c : perClass[1].classes) novel.insert(c.name);
            for (const auto& n : novel) QVERIFY2(!base.count(n), n.c_str());
        }
        QCOMPARE(readRunPerClass(ro.runDir).size(), std::size_t(4));
        // TensorBoard files written while it ran: one per training, holding what the export makes of the log.
        checkLiveTensorBoard(run);
        // ... and the run as a session of the HParams dashboard in the folder above them: its keys from the start,
        // then its figures and its end (success).
        {
            std::vector<fs::path> sessionFiles;
            for (const auto& e : fs::directory_iterator(run / "tensorboard"))
                if (e.is_regular_file() && e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
                    sessionFiles.push_back(e.path());
            QCOMPARE(sessionFiles.size(), std::size_t(1));
            const auto events = test::decodeEventFile(readFile(sessionFiles[0].string()));
            QVERIFY(events.size() >= 5);
            QCOMPARE(events[1].tag, std::string("_hparams_/session_start_info"));
            QCOMPARE(events[1].pluginName, std::string("hparams"));
            for (const char* key : {"method", "train.lr", "phase1.epochs", "data.seeds"})
                QVERIFY2(events[1].pluginContent.find(key) != std::string::npos, key);
            QVERIFY(events[1].pluginContent.find("train.text_chunk") == std::string::npos);  // operational
            // No status until it ends (TensorBoard would keep a "running"): one end record, the last.
            QCOMPARE(std::count_if(events.begin(), events.end(), [](const auto& e) { return e.tag == "_hparams_/session_end_info"; }),
                     std::ptrdiff_t(1));
            const RunFolderStatus st = readRunFolderStatus(run.string());
            QVERIFY(st.hm.has_value());
            bool hm = false;
            for (const auto& e : events)
                if (e.tag == "result/hm") hm = e.step == 0 && std::abs(e.value - float(*st.hm)) < 1e-4f;
            QVERIFY(hm);
            QCOMPARE(events.back().tag, std::string("_hparams_/session_end_info"));
            QCOMPARE(events.back().pluginContent.substr(0, 4), std::string("\x22\x0b\x08\x01", 4));  // success, with its end time
        }
        // results.csv parses back to the records.
        auto rows = readResultsCsv((run / "results.csv").string());
        QVERIFY(!rows.empty());
        QCOMPARE(out.summary.groups.size(), std::size_t(1));
        QVERIFY(out.summary.groups[0].hm.has_value());

        // Starting it again resumes: every seed is already done.
        QuietSink again;
        auto out2 = runExperiment(spec_, ro, again, stop);
        QVERIFY(out2.resumed);
        QVERIFY(again.rows.empty());
        QCOMPARE(out2.records.size(), out.records.size());
        QVERIFY(readFile((run / "config.yaml").string()).find("\nreference:") == std::string::npos);

        // Published numbers added later: the same experiment (it resumes), and the folder's configuration takes
        // them, so that its results.csv and whatever reads config.yaml (export, eval, the studio) agree.
        auto withReference = spec_;
        withReference.reference.source = "added later";
        withReference.reference.base = 60.0;
        withReference.reference.novel = 40.0;
        QuietSink third;
        auto out3 = runExperiment(withReference, ro, third, stop);
        QVERIFY(out3.resumed && third.rows.empty());
        QVERIFY(loadRunSpec(ro.runDir).reference == withReference.reference);
        const auto ref = findReference(out3.summary, "synth", "coop+caspl", 2);
        QVERIFY(ref && *ref->hm == harmonicMean(60.0, 40.0));
        const auto csvRows = readResultsCsv((run / "results.csv").string());
        QVERIFY(std::any_of(csvRows.begin(), csvRows.end(), [](const ResultsCsvRow& r) { return r.kind == "reference"; }));

        // How it runs without being the experiment (TensorBoard files) is kept in the folder too, for `caspl resume`.
        auto noTensorBoard = withReference;
        noTensorBoard.train.tensorboard = false;
        QuietSink fourth;
        QVERIFY(runExperiment(noTensorBoard, ro, fourth, stop).resumed);
        QVERIFY(!loadRunSpec(ro.runDir).train.tensorboard);

        // Another experiment in the same folder is refused.
        auto other = spec_;
        other.train.epochs = 4;
        QVERIFY_THROWS_EXCEPTION(Error, runExperiment(other, ro, again, stop));
    }

    // While a run runs, run.json keeps the time spent up to date (here at every progress event; every minute by
    // default), and its end is never followed by another "running".
    void runJsonKeepsTheTimeSpentWhileRunning() {
        RunOptions ro;
        ro.runDir = (base_ / "runs/ticking").string();
        ro.statusEverySeconds = 0;
        QuietSink sink;
        sink.watchedRunJson = (fs::path(ro.runDir) / "run.json").string();
        StopToken stop;
        runExperiment(spec_, ro, sink, stop);
        QVERIFY(sink.runJsonSeen.size() > 10);
        double previous = 0;
        for (const auto& [status, runtime] : sink.runJsonSeen) {
            QCOMPARE(status, QString("running"));
            QVERIFY2(runtime >= previous, qPrintable(QString("%1 after %2").arg(runtime).arg(previous)));
            previous = runtime;
        }
        QVERIFY(sink.runJsonSeen.back().second > sink.runJsonSeen.front().second);
        const QJsonObject end = runJsonOf(ro.runDir);
        QCOMPARE(end.value("status").toString(), QString("done"));
        QVERIFY(end.value("runtime_s").toDouble() >= previous);
    }

    void interruptedRunResumesToTheSameResult() {
        RunOptions straight;
        straight.runDir = (base_ / "runs/straight").string();
        QuietSink s1;
        StopToken st1;
        auto quiet = spec_;
        quiet.train.tensorboard = false;  // the same experiment, without TensorBoard files
        auto ref = runExperiment(quiet, straight, s1, st1);
        QVERIFY(!fs::exists(fs::path(straight.runDir) / "tensorboard"));

        RunOptions ro;
        ro.runDir = (base_ / "runs/interrupted").string();
        QuietSink s2;
        StopToken st2;
        s2.stop = &st2;
        s2.stopAt = 3;  // inside phase 2 of seed 1
        bool interrupted = false;
        try {
            runExperiment(spec_, ro, s2, st2);
        } catch (const Interrupted&) {
            interrupted = true;
        }
        QVERIFY(interrupted);
        QVERIFY(readFile((fs::path(ro.runDir) / "run.json").string()).find("\"interrupted\"") != std::string::npos);
        const double firstAttempt = runJsonOf(ro.runDir).value("runtime_s").toDouble(-1);
        QVERIFY(firstAttempt > 0);
        QuietSink s3;
        StopToken st3;
        const auto resumeStart = std::chrono::steady_clock::now();
        auto resumed = runExperiment(spec_, ro, s3, st3);
        const double resumeTook = std::chrono::duration<double>(std::chrono::steady_clock::now() - resumeStart).count();
        // The time spent adds up over the two processes, not the pause between them.
        const double both = runJsonOf(ro.runDir).value("runtime_s").toDouble(-1);
        QVERIFY2(both > firstAttempt && both <= firstAttempt + resumeTook + 0.01,
                 qPrintable(QString("%1 then %2 (resume took %3 s)").arg(firstAttempt).arg(both).arg(resumeTook)));
        QCOMPARE(readRunFolderStatus(ro.runDir).runtime.value_or(-1), both);
        QCOMPARE(resumed.records.size(), ref.records.size());
        for (std::size_t i = 0; i < ref.records.size(); ++i) {
            QCOMPARE(resumed.records[i].split, ref.records[i].split);
            QCOMPARE(resumed.records[i].correct, ref.records[i].correct);
            QCOMPARE(resumed.records[i].total, ref.records[i].total);
        }
        // The resumed process wrote a second TensorBoard file for the training it redid part of.
        QCOMPARE(tensorBoardFiles(fs::path(ro.runDir) / "tensorboard/synth/phase1").size(), std::size_t(1));
        const auto seed1 = tensorBoardFiles(fs::path(ro.runDir) / "tensorboard/synth/2shots_seed1");
        QCOMPARE(seed1.size(), std::size_t(2));
        // The resumed process's file starts its session at the first step it logs: the first after the stop's
        // checkpoint, so no later than the step after the first file's last.
        const auto& again = seed1[1].second;
        QVERIFY(again.size() > 2 && again[1].sessionStart);
        QCOMPARE(again[1].step, again[2].step);
        int64_t lastBefore = 0;
        for (const auto& e : seed1[0].second)
            if (e.tag.rfind("train/", 0) == 0) lastBefore = std::max(lastBefore, e.step);
        QVERIFY2(again[1].step >= 1 && again[1].step <= lastBefore + 1,
                 qPrintable(QString("%1 after %2").arg(again[1].step).arg(lastBefore)));
        QCOMPARE(tensorBoardFiles(fs::path(ro.runDir) / "tensorboard/synth/2shots_seed2").size(), std::size_t(1));
        // The prompts are bit-identical too.
        QCOMPARE(readFile((fs::path(ro.runDir) / "synth/k2_seed1/prompts.safetensors").string()),
                 readFile((fs::path(straight.runDir) / "synth/k2_seed1/prompts.safetensors").string()));

        // A process that died counts up to its last logged line: run.json last written 30 s before it.
        const std::string events = (fs::path(ro.runDir) / "events.jsonl").string();
        const auto rewriteRunJson = [&](const std::function<void(QJsonObject&)>& change) {
            QJsonObject j = runJsonOf(ro.runDir);
            change(j);
            writeFileAtomically((fs::path(ro.runDir) / "run.json").string(), QJsonDocument(j).toJson().toStdString());
        };
        rewriteRunJson([&](QJsonObject& j) {
            j["status"] = "running";
            j["updated"] = QString::fromStdString(formatEventTime(lastEventTime(events) - 30));
        });
        QCOMPARE(readRunFolderStatus(ro.runDir).state, std::string("crashed"));
        QVERIFY(std::abs(readRunFolderStatus(ro.runDir).runtime.value_or(-1) - (both + 30)) < 0.01);
        QuietSink s4;
        runExperiment(spec_, ro, s4, st3);
        const double afterCrash = runJsonOf(ro.runDir).value("runtime_s").toDouble(-1);
        QVERIFY2(afterCrash >= both + 30 - 0.01, qPrintable(QString::number(afterCrash)));
        // A run.json from before runtime_s was kept: the event log's count of every process so far.
        rewriteRunJson([](QJsonObject& j) { j.remove("runtime_s"); });
        QVERIFY(!readRunFolderStatus(ro.runDir).runtime);
        const double fromLog = runtimeFromEventLog(events);
        QVERIFY(fromLog > 0);
        QuietSink s5;
        runExperiment(spec_, ro, s5, st3);
        QVERIFY(runJsonOf(ro.runDir).value("runtime_s").toDouble(-1) >= fromLog);
    }

    // Cross-dataset transfer: trained on synth, evaluated on synth and on another dataset with other classes. Each
    // evaluation has its per-class counts with its own class names, and the TensorBoard files hold the other
    // dataset's accuracy in the training's folder, as the export places it.
    void crossDatasetRunRecordsEachDatasetsClasses() {
        const fs::path other = base_ / "data/synthb";
        if (!fs::exists(other)) {
            fs::copy(base_ / "data/synth", other, fs::copy_options::recursive);
            for (const auto& [from, to] : std::vector<std::pair<const char*, const char*>>{
                     {"red", "crimson"}, {"green", "olive"}, {"blue", "navy"}, {"white", "ivory"}})
                fs::rename(other / from, other / to);
        }
        auto spec = spec_;
        spec.data.protocol = Protocol::CrossDataset;
        spec.data.seeds = {1};
        spec.data.evalDatasets = {"synthb"};
        RunOptions ro;
        ro.runDir = (base_ / "runs/transfer").string();
        QuietSink sink;
        StopToken stop;
        const auto out = runExperiment(spec, ro, sink, stop);
        std::set<std::string> evaluated;
        for (const auto& r : out.records) evaluated.insert(r.dataset + "/" + r.split);
        QCOMPARE(evaluated, (std::set<std::string>{"synth/all", "synthb/all"}));
        const fs::path run = ro.runDir;
        const auto perClass = readRunPerClass(ro.runDir);
        QCOMPARE(perClass.size(), std::size_t(2));
        std::map<std::string, std::set<std::string>> names;
        for (const auto& e : perClass) {
            int64_t total = 0;
            for (const auto& c : e.classes) {
                names[e.dataset].insert(c.name);
                total += c.total;
            }
            const auto rec = std::find_if(out.records.begin(), out.records.end(),
                                          [&e](const ResultRecord& r) { return r.dataset == e.dataset; });
            QVERIFY(rec != out.records.end());
            QCOMPARE(total, rec->total);
            QCOMPARE(confusionMatrix({&e}).classes(), int64_t(4));
        }
        QCOMPARE(names["synth"], (std::set<std::string>{"red", "green", "blue", "white"}));
        QCOMPARE(names["synthb"], (std::set<std::string>{"crimson", "olive", "navy", "ivory"}));
        checkLiveTensorBoard(run);
        bool otherDataset = false;
        for (const auto& t : tensorBoardTrainings(readEventLog((run / "events.jsonl").string()), 0))
            for (const auto& sc : t.scalars) otherDataset |= sc.tag == "eval/synthb/all";
        QVERIFY(otherDataset);
    }

    // caspl eval re-evaluates what was trained, never trains, and leaves the run's status as it was.
    void evalOnlyNeverTrains() {
        RunOptions ro;
        ro.runDir = (base_ / "runs/evalonly").string();
        const fs::path run = ro.runDir;
        QuietSink s;
        StopToken st;
        s.stop = &st;
        s.stopAt = 3;  // inside phase 2 of seed 1: phase 1 done, no seed trained
        QVERIFY_THROWS_EXCEPTION(Interrupted, runExperiment(spec_, ro, s, st));
        const std::string runJson = readFile((run / "run.json").string());
        RunOptions eo = ro;
        eo.evalOnly = true;
        QuietSink e;
        StopToken none;
        caspl::test::expectError([&] { runExperiment(spec_, eo, e, none); }, {"nothing to evaluate"});
        QCOMPARE(readFile((run / "run.json").string()), runJson);  // still "interrupted"
        QVERIFY(!fs::exists(run / "synth/k2_seed1/prompts.safetensors"));  // nothing was trained
        QVERIFY(e.rows.empty());

        // Finished, then seed 2's prompts gone: eval evaluates seed 1 and names seed 2.
        QuietSink done;
        runExperiment(spec_, ro, done, none);
        fs::remove(run / "synth/k2_seed2/prompts.safetensors");
        fs::remove(run / "synth/k2_seed1/per_class.json");  // as a run evaluated by an earlier version
        QuietSink e2;
        auto out = runExperiment(spec_, eo, e2, none);
        QCOMPARE(readPerClassJson((run / "synth/k2_seed1/per_class.json").string()).size(), std::size_t(2));  // eval writes it
        QCOMPARE(e2.rows.size(), std::size_t(2));  // seed 1 evaluated: base and novel
        QCOMPARE(out.records.size(), std::size_t(4));  // the run's results keep seed 2's earlier evaluation
        QVERIFY(std::any_of(e2.logs.begin(), e2.logs.end(),
                            [](const std::string& l) { return l.find("k2_seed2: not trained yet") != std::string::npos; }));
        QVERIFY(!fs::exists(run / "synth/k2_seed2/prompts.safetensors"));
        QVERIFY(readFile((run / "run.json").string()).find("\"done\"") != std::string::npos);
    }

    // A stop during an evaluation (before its first batch, when the loader is cancelled at once) writes no accuracy:
    // not a 0/0 record marking the seed done, which resume would skip for ever. A `caspl eval` stopped part-way
    // leaves the run's results with every seed (the new one of seed 1, the earlier one of seed 2).
    void stopDuringEvaluationWritesNothing() {
        RunOptions ro;
        ro.runDir = (base_ / "runs/evalstop").string();
        const fs::path run = ro.runDir;
        QuietSink s;
        StopToken st;
        s.stop = &st;
        s.stopOnPhase = "eval";  // seed 1's evaluation
        QVERIFY_THROWS_EXCEPTION(Interrupted, runExperiment(spec_, ro, s, st));
        QVERIFY(s.rows.empty());
        QVERIFY(!fs::exists(run / "synth/k2_seed1/result.json"));
        QVERIFY(fs::exists(run / "synth/k2_seed1/prompts.safetensors"));
        QVERIFY(readFile((run / "run.json").string()).find("stopped during eval-base") != std::string::npos);
        // A log whose last line was cut (a crash while it was written): the resumed run's lines start on a line of
        // their own, and the log reads whole afterwards.
        {
            std::ofstream cut(run / "events.jsonl", std::ios::app | std::ios::binary);
            cut << "{\"type\":\"metric\",\"ru";
        }
        QVERIFY(readEventLog((run / "events.jsonl").string()).truncatedLastLine);
        QuietSink again;
        StopToken none;
        const auto out = runExperiment(spec_, ro, again, none);
        QCOMPARE(out.records.size(), std::size_t(4));
        for (const auto& r : out.records) QVERIFY(r.total > 0);
        const RunEventLog log = readEventLog((run / "events.jsonl").string());
        QVERIFY(!log.truncatedLastLine);
        QCOMPARE(log.evals.size(), std::size_t(4));
        const std::string before = readFile((run / "result.json").string());

        RunOptions eo = ro;
        eo.evalOnly = true;
        QuietSink e;
        StopToken est;
        e.stop = &est;
        e.stopOnPhase = "eval";
        e.stopOnPhaseAt = 2;  // seed 2's evaluation
        QVERIFY_THROWS_EXCEPTION(Interrupted, runExperiment(spec_, eo, e, est));
        QCOMPARE(e.rows.size(), std::size_t(2));  // seed 1 evaluated again
        QVERIFY(!e.evalProgress.empty());  // its progress names the training evaluated
        QCOMPARE(e.evalProgress.front().dataset, std::string("synth"));
        QCOMPARE(e.evalProgress.front().shots, 2);
        QCOMPARE(e.evalProgress.front().seed, 1);
        const auto kept = readResultJson((run / "result.json").string()).records;
        QCOMPARE(kept.size(), std::size_t(4));
        for (const auto& r : kept) QVERIFY(r.total > 0);
        QCOMPARE(readFile((run / "result.json").string()), before);  // the same prompts, the same images: the same numbers
    }

    // Boosting prompts reused (phase1.artifact) on another dataset than they were learned on: the run goes on and
    // says so; on their own dataset, nothing is said.
    void reusedBoostingPromptsOfAnotherDatasetAreNamed() {
        const fs::path other = base_ / "data/synthc";
        if (!fs::exists(other)) {
            fs::copy(base_ / "data/synth", other, fs::copy_options::recursive);
            fs::rename(other / "red", other / "scarlet");
        }
        auto first = spec_;
        first.data.seeds = {1};
        RunOptions ro;
        ro.runDir = (base_ / "runs/artifact_source").string();
        QuietSink s;
        StopToken none;
        runExperiment(first, ro, s, none);
        const std::string artifact = (fs::path(ro.runDir) / "synth/phase1").string();
        const auto warned = [](const QuietSink& sink) {
            return std::any_of(sink.logs.begin(), sink.logs.end(),
                               [](const std::string& l) { return l.find("were learned on synth (4 classes)") != std::string::npos; });
        };
        auto reuse = first;
        reuse.phase1.artifact = artifact;
        RunOptions same;
        same.runDir = (base_ / "runs/artifact_same").string();
        QuietSink onSame;
        runExperiment(reuse, same, onSame, none);
        QVERIFY(!warned(onSame));
        reuse.data.datasets = {"synthc"};
        RunOptions elsewhere;
        elsewhere.runDir = (base_ / "runs/artifact_elsewhere").string();
        QuietSink onOther;
        const auto out = runExperiment(reuse, elsewhere, onOther, none);
        QVERIFY(warned(onOther));
        QCOMPARE(out.records.size(), std::size_t(2));
    }

    // A run reusing boosting prompts keeps a copy of them: the artifact trained again (changed bytes) or deleted
    // later does not change what the run's evaluations cascade, and a change is said.
    void reusedBoostingPromptsAreCopiedIntoTheRun() {
        auto first = spec_;
        first.data.seeds = {1};
        RunOptions ro;
        ro.runDir = (base_ / "runs/copy_source").string();
        fs::remove_all(ro.runDir);
        QuietSink s;
        StopToken none;
        runExperiment(first, ro, s, none);
        const fs::path artifact = base_ / "runs/copy_artifact";  // outside the source run, to change and delete
        fs::remove_all(artifact);
        fs::copy(fs::path(ro.runDir) / "synth/phase1", artifact, fs::copy_options::recursive);
        auto reuse = first;
        reuse.phase1.artifact = artifact.string();
        RunOptions user;
        user.runDir = (base_ / "runs/copy_user").string();
        fs::remove_all(user.runDir);
        QuietSink first1;
        runExperiment(reuse, user, first1, none);
        const fs::path copy = fs::path(user.runDir) / "synth" / kReusedBoostingFolder;
        QCOMPARE(readFile((copy / "boosting.safetensors").string()), readFile((artifact / "boosting.safetensors").string()));
        QVERIFY(fs::exists(copy / "boosting.json"));
        const std::string results = readFile((fs::path(user.runDir) / "result.json").string());
        const auto said = [](const QuietSink& sink, const char* what) {
            return std::any_of(sink.logs.begin(), sink.logs.end(), [&](const std::string& l) { return l.find(what) != std::string::npos; });
        };

        // The artifact trained again: its bytes change. The run's evaluation cascades its copy, and says so.
        {
            std::string bytes = readFile((artifact / "boosting.safetensors").string());
            bytes.back() = char(bytes.back() ^ 0x5a);
            writeFileAtomically((artifact / "boosting.safetensors").string(), bytes);
        }
        RunOptions eval = user;
        eval.evalOnly = true;
        QuietSink changed;
        runExperiment(reuse, eval, changed, none);
        QVERIFY(said(changed, "changed since this run copied them"));
        QCOMPARE(readFile((fs::path(user.runDir) / "result.json").string()), results);
        // Deleted: the run still evaluates, from its copy.
        fs::remove_all(artifact);
        QuietSink gone;
        runExperiment(reuse, eval, gone, none);
        QVERIFY(said(gone, "is gone"));
        QCOMPARE(readFile((fs::path(user.runDir) / "result.json").string()), results);

        // A new run with an artifact that does not exist is refused, naming the key and the file.
        RunOptions fresh;
        fresh.runDir = (base_ / "runs/copy_missing").string();
        fs::remove_all(fresh.runDir);
        QuietSink missing;
        try {
            runExperiment(reuse, fresh, missing, none);
            QFAIL("a missing artifact was accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("phase1.artifact: ") && QString(e.what()).contains("copy_artifact"), e.what());
        }

        // A folder whose earlier attempt trained nothing but copied other boosting prompts (a wrong path, since
        // corrected): the corrected experiment takes it over with its own prompts, not the earlier copy.
        const fs::path other = base_ / "runs/copy_other";
        fs::remove_all(other);
        fs::copy(fs::path(ro.runDir) / "synth/phase1", other, fs::copy_options::recursive);
        RunOptions taken;
        taken.runDir = (base_ / "runs/copy_taken").string();
        fs::remove_all(taken.runDir);
        const fs::path stale = fs::path(taken.runDir) / "synth" / kReusedBoostingFolder;
        fs::create_directories(stale);
        auto earlier = reuse;
        earlier.phase1.artifact = (base_ / "runs/copy_wrong").string();
        writeFileAtomically((fs::path(taken.runDir) / "config.yaml").string(), toYaml(earlier));
        writeFileAtomically((stale / "boosting.safetensors").string(), "not these prompts");
        writeFileAtomically((stale / "boosting.json").string(), "{}");
        auto corrected = reuse;
        corrected.phase1.artifact = other.string();
        QuietSink takeover;
        runExperiment(corrected, taken, takeover, none);
        QCOMPARE(readFile((stale / "boosting.safetensors").string()), readFile((other / "boosting.safetensors").string()));
    }

    // A run folder copied elsewhere while stopped, then resumed there: one run, named after the folder it is in now
    // (in its results and its per-class results), not split between the two names.
    void movedRunIsOneRun() {
        RunOptions ro;
        ro.runDir = (base_ / "runs/before_move").string();
        QuietSink s;
        StopToken st;
        s.stop = &st;
        s.stopOnPhase = "eval";
        s.stopOnPhaseAt = 2;  // seed 1 done, seed 2 stopped in its evaluation
        QVERIFY_THROWS_EXCEPTION(Interrupted, runExperiment(spec_, ro, s, st));
        const fs::path moved = base_ / "runs/after_move";
        fs::remove_all(moved);
        fs::copy(ro.runDir, moved, fs::copy_options::recursive);
        fs::remove(moved / DirLock::kFileName);
        RunOptions mo;
        mo.runDir = moved.string();
        QuietSink again;
        StopToken none;
        const auto out = runExperiment(spec_, mo, again, none);
        QCOMPARE(out.records.size(), std::size_t(4));
        for (const auto& r : readResultJson((moved / "result.json").string()).records) QCOMPARE(r.run, std::string("after_move"));
        const auto perClass = readRunPerClass(moved.string());
        QCOMPARE(perClass.size(), std::size_t(4));
        for (const auto& e : perClass) QCOMPARE(e.run, std::string("after_move"));
    }

    // Relative paths are relative to the folder the run started in, for a resume from anywhere too.
    void resumeReadsRelativePathsFromTheStartFolder() {
        auto rel = spec_;
        rel.data.root = "data";
        rel.models.dir = "models";
        rel.models.student = "models/student";
        rel.models.teacher = "models/teacher";
        rel.data.imageCache = "image_cache";
        RunOptions ro;
        ro.runDir = (base_ / "runs/relative").string();
        struct Cwd {
            QString before = QDir::currentPath();
            ~Cwd() { QDir::setCurrent(before); }
        } restore;
        QVERIFY(QDir::setCurrent(QString::fromStdString(base_.string())));
        QuietSink s;
        StopToken st;
        s.stop = &st;
        s.stopAt = 3;
        QVERIFY_THROWS_EXCEPTION(Interrupted, runExperiment(rel, ro, s, st));
        QVERIFY(QDir::setCurrent(QString::fromStdString((base_ / "runs").string())));  // no data/ or models/ here
        QuietSink again;
        StopToken none;
        auto out = runExperiment(loadRunSpec(ro.runDir), ro, again, none);
        QVERIFY(out.resumed);
        QCOMPARE(out.records.size(), std::size_t(4));
        QVERIFY(readFile((fs::path(ro.runDir) / "run.json").string()).find("\"cwd\": \"" + base_.string()) != std::string::npos);
        QVERIFY(readFile((fs::path(ro.runDir) / "config.yaml").string()).find("root: data\n") != std::string::npos);  // as written
        // The image cache too: the one under the start folder, no second one where the resume ran.
        QVERIFY(fs::is_directory(base_ / "image_cache"));
        QVERIFY(!fs::exists(base_ / "runs/image_cache"));
    }

    // The lock's heartbeat and host name: a process of this machine is found in the kernel's table, one on another
    // machine sharing the folder by its host name and a fresh heartbeat; a silent one is taken for gone; a released
    // lock file is emptied.
    void lockHeartbeatShowsRemoteHolders() {
        const std::string dir = (base_ / "runs/heartbeat").string();
        fs::create_directories(dir);
        const std::string file = dir + "/" + DirLock::kFileName;
        const auto age = [&](double seconds) {  // the lock file's modification time, `seconds` ago
            struct timespec now {};
            ::clock_gettime(CLOCK_REALTIME, &now);
            const struct timespec t[2] = {{now.tv_sec - time_t(seconds), 0}, {now.tv_sec - time_t(seconds), 0}};
            QVERIFY(::utimensat(AT_FDCWD, file.c_str(), t, 0) == 0);
        };
        {
            const DirLock held(dir, "run", std::chrono::milliseconds(50));
            const auto h = DirLock::runningHolder(dir);
            QVERIFY(h && h->local);
            QCOMPARE(h->pid, long(::getpid()));
            QCOMPARE(h->host, DirLock::hostName());
            QCOMPARE(h->describe(), "process " + std::to_string(::getpid()));
            age(3600);
            QVERIFY(DirLock::runningHolder(dir)->heartbeatAge > 3000);
            QTRY_VERIFY_WITH_TIMEOUT(DirLock::runningHolder(dir)->heartbeatAge < 60, 5000);  // touched again
            // A second taker is refused with the holder named.
            caspl::test::expectError([&] { DirLock again(dir, "run"); }, {"in use by another run (process " + std::to_string(::getpid()) + ")"});
        }
        QVERIFY(!DirLock::runningHolder(dir));
        QCOMPARE(readFile(file), std::string());  // emptied on release

        writeFileAtomically(file, "4242\nnode17.cluster\n");  // a run on another machine sharing the folder
        auto remote = DirLock::runningHolder(dir);
        QVERIFY(remote && !remote->local);
        QCOMPARE(remote->pid, 4242L);
        QCOMPARE(remote->host, std::string("node17.cluster"));
        QCOMPARE(remote->describe(), std::string("process 4242 on node17.cluster"));
        QVERIFY(!DirLock::holder(dir));  // not in this machine's table
        // Where flock() does not reach across machines, taking the folder is refused by the heartbeat all the same.
        caspl::test::expectError([&] { DirLock again(dir, "run"); }, {"in use by another run (process 4242 on node17.cluster, alive "});
        age(DirLock::kStaleSeconds - 30);
        QVERIFY(DirLock::runningHolder(dir));
        age(DirLock::kStaleSeconds + 5);  // its heartbeat stopped
        QVERIFY(!DirLock::runningHolder(dir));
        { const DirLock taken(dir, "run"); }  // gone: the folder can be taken (and resumed)
        writeFileAtomically(file, "4242\n" + DirLock::hostName() + "\n");  // this machine, nobody holding it: ended
        QVERIFY(!DirLock::runningHolder(dir));
    }

    // Two runs never write into one folder at once: while one holds it, the other is refused and writes nothing.
    void busyRunFolderIsRefused() {
        RunOptions ro;
        ro.runDir = (base_ / "runs/busy").string();
        fs::create_directories(ro.runDir);
        QVERIFY(!DirLock::holder(ro.runDir));  // no lock file yet
        QuietSink s;
        StopToken st;
        {
            const DirLock held(ro.runDir, "run");
            // Who holds it, read from the kernel's lock table without taking the lock (the studio's probe).
            QCOMPARE(DirLock::holder(ro.runDir).value_or(-1), long(::getpid()));
            caspl::test::expectError([&] { runExperiment(spec_, ro, s, st); }, {"in use by another run (process "});
            QVERIFY(!fs::exists(fs::path(ro.runDir) / "config.yaml"));
        }
        QVERIFY(!DirLock::holder(ro.runDir));  // released: the pid left in the file is not taken for a holder

        // Nor does a run go into a folder holding something else.
        RunOptions other;
        other.runDir = (base_ / "runs/notes").string();
        fs::create_directories(other.runDir);
        writeFileAtomically((fs::path(other.runDir) / "notes.txt").string(), "mine\n");
        caspl::test::expectError([&] { runExperiment(spec_, other, s, st); }, {"holds other files (notes.txt"});
        QVERIFY(!fs::exists(fs::path(other.runDir) / "config.yaml"));
    }

    // An attempt that failed on bad input before training anything leaves its folder to the corrected experiment;
    // once something is trained, another experiment is refused again.
    // A run killed as it started, before its config.yaml was in place, left only that file's temporary copy: the
    // same command starts the run in that folder (it is no other run's).
    void runKilledAsItStartedCanStartAgain() {
        RunOptions ro;
        ro.runDir = (base_ / "runs/killed_at_start").string();
        fs::create_directories(ro.runDir);
        writeFileAtomically(ro.runDir + "/config.yaml.tmp-99999-1", "name: tiny\n");
        QuietSink s;
        StopToken st;
        const auto out = runExperiment(spec_, ro, s, st);
        QCOMPARE(out.records.size(), std::size_t(4));
        QVERIFY(!fs::exists(ro.runDir + "/config.yaml.tmp-99999-1"));
        QVERIFY(isAtomicTempName("result.json.tmp-12-3") && !isAtomicTempName("result.json") && !isAtomicTempName("a.tmp-x-1") &&
                !isAtomicTempName(".tmp-1-2"));
    }

    void failedStartGivesWayToTheCorrectedExperiment() {
        auto bad = spec_;
        bad.data.datasets = {"no_such_dataset"};
        RunOptions ro;
        ro.runDir = (base_ / "runs/retry").string();
        const fs::path run = ro.runDir;
        QuietSink s;
        StopToken st;
        QVERIFY_THROWS_EXCEPTION(Error, runExperiment(bad, ro, s, st));
        QVERIFY(readFile((run / "run.json").string()).find("\"failed\"") != std::string::npos);
        // An attempt that failed in its first epoch (a diverging learning rate) also left TensorBoard files, written
        // from its first step: still nothing trained, and they are moved aside with its log.
        const fs::path early = run / "tensorboard/synth/2shots_seed1/events.out.tfevents.1.h.caspl";
        fs::create_directories(early.parent_path());
        writeFileAtomically(early.string(), "the failed attempt's curves");
        // A note written about the failed attempt (caspl notes) stays with the folder.
        writeRunNotes(run.string(), {"wrong dataset name", {"retry"}});
        writeFileAtomically((run / "notes.json.tmp-1-1").string(), "left by a writer that was killed");
        // So are the temporary files of writes a kill cut (here a checkpoint's): removed, not counted as trained.
        fs::create_directories(run / "synth/k2_seed1");
        writeFileAtomically((run / "synth/k2_seed1/train.checkpoint.safetensors.tmp-99999-3").string(), "cut");
        auto out = runExperiment(spec_, ro, s, st);
        QVERIFY(!fs::exists(run / "synth/k2_seed1/train.checkpoint.safetensors.tmp-99999-3"));
        QVERIFY(fs::exists(run / "notes.json.tmp-1-1"));  // a note's: `caspl notes` writes without the run's lock
        QCOMPARE(readRunNotes(run.string()).tags, (std::vector<std::string>{"retry"}));
        QVERIFY(fs::exists(run / "tensorboard.replaced/synth/2shots_seed1/events.out.tfevents.1.h.caspl"));
        QVERIFY(!fs::exists(early));
        checkLiveTensorBoard(run);
        QVERIFY(!out.resumed);
        QCOMPARE(out.records.size(), std::size_t(4));
        QVERIFY(fs::exists(run / "events.replaced.jsonl"));
        QVERIFY(std::any_of(s.logs.begin(), s.logs.end(),
                            [](const std::string& l) { return l.find("stopped before training anything") != std::string::npos; }));
        auto other = spec_;
        other.train.epochs = 4;
        QVERIFY_THROWS_EXCEPTION(Error, runExperiment(other, ro, s, st));
    }

    // Deep prompts beyond the student's blocks would train tensors nothing uses: refused, naming the key.
    void promptDepthBeyondTheStudentIsRefused() {
        auto deep = spec_;
        deep.phase1.depthText = 40;
        RunOptions ro;
        ro.runDir = (base_ / "runs/deep").string();
        QuietSink s;
        StopToken st;
        caspl::test::expectError([&] { runExperiment(deep, ro, s, st); }, {"phase1.depth_text is 40", "text layers"});
        QVERIFY(!fs::exists(fs::path(ro.runDir) / "synth/phase1"));
    }
};

CASPL_REGISTER_TEST(RunnerTest);
#include "test_runner.moc"
