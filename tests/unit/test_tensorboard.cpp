// TensorBoard event files from a run's events.jsonl (`caspl export --tensorboard`).
#include "core/engine/tensorboard.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "tensorboard_decode.h"
#include "test_support.h"

#include <QDir>
#include <QObject>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

using namespace caspl;
using caspl::test::DecodedEvent;
using caspl::test::decodeEventFile;

namespace {

std::string fromHex(const char* hex) {
    std::string out;
    for (std::size_t i = 0; hex[i] && hex[i + 1]; i += 2) out.push_back(char(std::stoi(std::string(hex + i, 2), nullptr, 16)));
    return out;
}

const TbScalar* findScalar(const TbTraining& t, const std::string& tag, int64_t step) {
    for (const auto& s : t.scalars)
        if (s.tag == tag && s.step == step) return &s;
    return nullptr;
}

int countTag(const TbTraining& t, const std::string& tag) {
    int n = 0;
    for (const auto& s : t.scalars) n += s.tag == tag;
    return n;
}

std::string metricLine(const char* phase, int shots, int seed, int epoch, int step, double loss, const char* time) {
    return std::string("{\"type\":\"metric\",\"run\":\"r\",\"phase\":\"") + phase + "\",\"dataset\":\"dtd\",\"shots\":" +
           std::to_string(shots) + ",\"seed\":" + std::to_string(seed) + ",\"epoch\":" + std::to_string(epoch) +
           ",\"step\":" + std::to_string(step) + ",\"values\":{\"loss\":" + std::to_string(loss) + ",\"lr\":0.002},\"time\":\"" +
           time + "\"}\n";
}

std::string evalLine(const char* method, const char* split, int epoch, double accuracy) {
    return std::string("{\"type\":\"eval\",\"run\":\"r\",\"dataset\":\"dtd\",\"method\":\"") + method +
           "\",\"seed\":1,\"shots\":16,\"split\":\"" + split + "\",\"epoch\":" + std::to_string(epoch) +
           ",\"accuracy\":" + std::to_string(accuracy) + ",\"time\":\"2026-12-07T05:30:00Z\"}\n";
}

MetricEvent liveMetric(const char* phase, int shots, int epoch, int64_t step, double loss) {
    MetricEvent m;
    m.run = "r";
    m.phase = phase;
    m.dataset = "dtd";
    m.shots = shots;
    m.seed = shots > 0 ? 1 : 0;
    m.epoch = epoch;
    m.step = step;
    m.values = {{"loss", loss}, {"lr", 0.002}};
    return m;
}

EvalRow liveEval(const char* dataset, int shots, const char* split, int epoch, double accuracy) {
    EvalRow r;
    r.run = "r";
    r.dataset = dataset;
    r.method = "coop+caspl";
    r.seed = 1;
    r.shots = shots;
    r.split = split;
    r.epoch = epoch;
    r.accuracy = accuracy;
    return r;
}

// The events of the one file in `folder` whose name has `time`.
std::vector<DecodedEvent> liveFile(const std::string& dir, const std::string& folder, int64_t time) {
    return decodeEventFile(readFile(dir + "/" + folder + "/events.out.tfevents." + std::to_string(time) + ".h.caspl"));
}

const DecodedEvent* findEvent(const std::vector<DecodedEvent>& events, const std::string& tag, int64_t step) {
    for (const auto& e : events)
        if (e.tag == tag && e.step == step) return &e;
    return nullptr;
}

struct Recorder : EventSink {
    std::vector<std::string> warnings;
    int metrics = 0, evals = 0;
    void metric(const MetricEvent&) override { ++metrics; }
    void evalRow(const EvalRow&) override { ++evals; }
    void log(LogLevel l, const std::string& m) override {
        if (l == LogLevel::Warning) warnings.push_back(m);
    }
};

}  // namespace

class TensorBoardTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // RFC 3720, appendix B.4, and the customary check value.
    void crc32cIsCastagnolis() {
        const std::string zeros(32, '\0'), ones(32, '\xff');
        std::string up, down;
        for (int i = 0; i < 32; ++i) up.push_back(char(i)), down.push_back(char(31 - i));
        QCOMPARE(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
        QCOMPARE(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
        QCOMPARE(crc32c(up.data(), up.size()), 0x46DD794Eu);
        QCOMPARE(crc32c(down.data(), down.size()), 0x113FDB5Cu);
        QCOMPARE(crc32c("123456789", 9), 0xE3069283u);
    }

    // The bytes of events written by protobuf's own Python library (official serializer, TensorFlow's field numbers
    // for Event, Summary.Value and SessionLog) and framed with the python crc32c package: this writer gives the same
    // bytes. The session start stands at the file's smallest step.
    void recordsAreTensorFlowsBytes() {
        const std::string version = fromHex(
            "1800000000000000a37f4b22090000c0b290c5da411a0d627261696e2e4576656e743a328e399ef9");
        const std::string start = fromHex(
            "1800000000000000a37f4b22090000c0b290c5da4110feffffffffffffffff013a020801289c52a0");
        const std::string loss = fromHex(
            "2400000000000000422b804d09000020b390c5da4110ac022a160a140a0d747261696e2f6c6f73732e6365150000803ebaea5826");
        const std::string negative = fromHex(
            "2600000000000000734fe30009000020b390c5da4110feffffffffffffffff012a100a0e0a076576616c2f686d150000a3c2c06f7ed9");
        const std::string file =
            tfEventFile({{"train/loss.ce", 300, 1796621004.5, 0.25}, {"eval/hm", -2, 1796621004.5, -81.5}}, 1796621003.0);
        QCOMPARE(file.size(), version.size() + start.size() + loss.size() + negative.size());
        QVERIFY(file == version + start + loss + negative);
        QVERIFY(tfEventFile({}, 1796621003.0) == version);  // nothing to start
    }

    // What goes where: folders per training, the steps a resumed training logged again replaced, evaluations at the
    // last step of their epoch with the harmonic mean, the method in the tag where a folder has several.
    void trainingsOfARunLog() {
        const QString dir = QDir(caspl::test::tempDir()).filePath("tb_log");
        QDir().mkpath(dir);
        const std::string path = QDir(dir).filePath("events.jsonl").toStdString();
        std::string text;
        for (int s = 1; s <= 4; ++s) text += metricLine("phase1", 0, 0, (s + 1) / 2, s, 1.0 / s, "2026-12-07T05:20:00Z");
        text += evalLine("zsclip", "base", 0, 60);
        for (int s = 1; s <= 3; ++s) text += metricLine("phase2", 16, 1, 1, s, 2.0, "2026-12-07T05:21:00Z");
        // Resumed from a checkpoint taken after step 1: steps 2 and 3 come again, with other values.
        for (int s = 2; s <= 6; ++s) text += metricLine("phase2", 16, 1, s <= 3 ? 1 : 2, s, 0.5, "2026-12-07T05:22:00Z");
        text += evalLine("coop+caspl", "base", 2, 80);
        text += evalLine("coop+caspl", "novel", 2, 70);
        text += evalLine("coop+caspl", "novel", 2, 72);  // evaluated again (caspl eval): the last one counts
        writeFileAtomically(path, text);

        const RunEventLog log = readEventLog(path);
        QCOMPARE(log.metricTimes.size(), log.metrics.size());
        QCOMPARE(log.metricTimes[0], 1796620800.0);  // 2026-12-07T05:20:00Z
        const auto trainings = tensorBoardTrainings(log, 1.0);
        QCOMPARE(trainings.size(), std::size_t(2));
        QCOMPARE(trainings[0].folder, std::string("dtd/phase1"));
        QCOMPARE(trainings[1].folder, std::string("dtd/16shots_seed1"));

        const TbTraining& p1 = trainings[0];
        QCOMPARE(countTag(p1, "train/loss"), 4);
        QVERIFY(findScalar(p1, "train/loss", 4) && std::abs(findScalar(p1, "train/loss", 4)->value - 0.25) < 1e-6);
        QVERIFY(findScalar(p1, "train/lr", 1));
        QCOMPARE(countTag(p1, "eval/base"), 0);

        const TbTraining& p2 = trainings[1];
        QCOMPARE(countTag(p2, "train/loss"), 6);  // 1, then 2..6 of the resumed training
        QCOMPARE(findScalar(p2, "train/loss", 1)->value, 2.0);
        QCOMPARE(findScalar(p2, "train/loss", 3)->value, 0.5);
        QCOMPARE(findScalar(p2, "train/loss", 3)->wallTime, 1796620920.0);
        // Two methods evaluated in this folder: the method is in the tag.
        QVERIFY(findScalar(p2, "eval/zsclip/base", 0));
        QCOMPARE(findScalar(p2, "eval/zsclip/base", 0)->value, 60.0);
        QVERIFY(!findScalar(p2, "eval/zsclip/hm", 0));
        const TbScalar* base = findScalar(p2, "eval/coop+caspl/base", 6);
        const TbScalar* novel = findScalar(p2, "eval/coop+caspl/novel", 6);
        const TbScalar* hm = findScalar(p2, "eval/coop+caspl/hm", 6);
        QVERIFY(base && novel && hm);
        QCOMPARE(novel->value, 72.0);
        QCOMPARE(countTag(p2, "eval/coop+caspl/novel"), 1);
        QVERIFY(std::abs(hm->value - 2 * 80.0 * 72.0 / 152.0) < 1e-9);
        for (std::size_t i = 1; i < p2.scalars.size(); ++i) QVERIFY(p2.scalars[i - 1].step <= p2.scalars[i].step);

        // One method only: plain tags; an epoch without logged steps stands at epoch x steps per epoch.
        RunEventLog one = log;
        one.evals.erase(one.evals.begin());  // the zsclip row
        one.evalTimes.erase(one.evalTimes.begin());
        one.evalAfterMetrics.erase(one.evalAfterMetrics.begin());
        one.evals[0].epoch = 5;
        const auto t2 = tensorBoardTrainings(one, 1.0);
        QVERIFY(findScalar(t2[1], "eval/novel", 6));
        QVERIFY(findScalar(t2[1], "eval/base", 15));  // 3 steps per epoch (epoch 1 ended at step 3)
    }

    // Cross-dataset transfer: the other datasets' accuracies belong to the training before them (same K and seed),
    // at its step, with the dataset in the tag; a log of an early version (no dataset on its metric lines) keeps
    // each training apart instead of taking the next one for a resume.
    void transferAndEarlyLogs() {
        RunEventLog log;
        const auto metric = [&](const std::string& ds, int seed, int epoch, int64_t step) {
            MetricEvent m;
            m.phase = "phase2";
            m.dataset = ds;
            m.shots = 16;
            m.seed = seed;
            m.epoch = epoch;
            m.step = step;
            m.values = {{"loss", double(step)}};
            log.metrics.push_back(m);
            log.metricTimes.push_back(100.0 + double(log.metrics.size()));
        };
        const auto eval = [&](const std::string& ds, int seed, double accuracy) {
            EvalRow r;
            r.dataset = ds;
            r.method = "coop";
            r.seed = seed;
            r.split = "all";
            r.epoch = 2;
            r.accuracy = accuracy;
            r.shots = 16;
            log.evals.push_back(r);
            log.evalTimes.push_back(0);  // no time: the fallback
            log.evalAfterMetrics.push_back(log.metrics.size());
        };
        for (int seed = 1; seed <= 2; ++seed) {
            for (int step = 1; step <= 4; ++step) metric("imagenet", seed, (step + 1) / 2, step);
            eval("imagenet", seed, 70.0 + seed);
            eval("caltech101", seed, 90.0 + seed);
            eval("imagenet_sketch", seed, 40.0 + seed);
        }
        const auto trainings = tensorBoardTrainings(log, 7.0);
        QCOMPARE(trainings.size(), std::size_t(2));
        for (int seed = 1; seed <= 2; ++seed) {
            const TbTraining& t = trainings[std::size_t(seed - 1)];
            QCOMPARE(t.folder, "imagenet/16shots_seed" + std::to_string(seed));
            QVERIFY(findScalar(t, "eval/all", 4) && findScalar(t, "eval/all", 4)->value == 70.0 + seed);
            QVERIFY(findScalar(t, "eval/caltech101/all", 4) && findScalar(t, "eval/caltech101/all", 4)->value == 90.0 + seed);
            QVERIFY(findScalar(t, "eval/imagenet_sketch/all", 4));
            QCOMPARE(findScalar(t, "eval/all", 4)->wallTime, 7.0);
        }

        RunEventLog early;
        for (int training = 0; training < 3; ++training)
            for (int step = 1; step <= 3; ++step) {
                MetricEvent m;
                m.phase = "phase2";
                m.epoch = 1;
                m.step = step;
                m.values = {{"loss", double(training)}};
                early.metrics.push_back(m);
            }
        const auto apart = tensorBoardTrainings(early, 1.0);
        QCOMPARE(apart.size(), std::size_t(3));
        QCOMPARE(apart[2].folder, std::string("unnamed/phase2_3"));
        for (const auto& t : apart) QCOMPARE(countTag(t, "train/loss"), 3);
    }

    // The files: names TensorBoard reads, a second export replacing the first (and nothing of another writer) with a
    // later name, run names made safe and unique (also against another run's earlier export), every record
    // decodable, no export into a run folder, a run with nothing to export named.
    void exportWritesEventFiles() {
        const QString dir = QDir(caspl::test::tempDir()).filePath("tb_out");
        RunEventLog log;
        MetricEvent m;
        m.phase = "phase2";
        m.dataset = "eurosat";
        m.shots = 4;
        m.seed = 2;
        m.epoch = 1;
        for (int s = 1; s <= 3; ++s) {
            m.step = s;
            m.values = {{"loss", 1.0 / s}, {"lr", 0.0035}};
            log.metrics.push_back(m);
            log.metricTimes.push_back(1796620800.0 + s);
        }
        const std::vector<TbRun> runs = {{"b2n", "/x/runs/b2n", log}, {"b2n", "/y/runs/b2n", log}, {"a b/c", "/x/runs/a b", log},
                                         {"ünï", "/x/runs/ünï", log}, {"empty", "/x/runs/empty", RunEventLog{}}};
        auto first = writeTensorBoard(runs, dir.toStdString(), "host name", 1796621000.0);
        QCOMPARE(first.files.size(), std::size_t(4));
        QCOMPARE(first.files[0], std::string("b2n/eurosat/4shots_seed2/events.out.tfevents.1796621000.host_name.caspl"));
        QCOMPARE(first.files[1], std::string("b2n_2/eurosat/4shots_seed2/events.out.tfevents.1796621000.host_name.caspl"));
        QCOMPARE(first.files[2], std::string("a_b_c/eurosat/4shots_seed2/events.out.tfevents.1796621000.host_name.caspl"));
        QCOMPARE(first.files[3], std::string("ünï/eurosat/4shots_seed2/events.out.tfevents.1796621000.host_name.caspl"));
        QCOMPARE(first.scalars, int64_t(24));
        QCOMPARE(first.warnings.size(), std::size_t(1));
        QVERIFY2(first.warnings[0].find("/x/runs/empty: nothing to export") == 0, first.warnings[0].c_str());

        // Again, in the same second, and the second b2n alone: each run finds its own folder; the new files come
        // after the old ones in name order; another writer's file stays.
        namespace fs = std::filesystem;
        const fs::path folder = fs::path(dir.toStdString()) / "b2n_2/eurosat/4shots_seed2";
        writeFileAtomically((folder / "events.out.tfevents.1.other").string(), "not ours");
        const auto second = writeTensorBoard({runs[1]}, dir.toStdString(), "host name", 1796621000.0);
        QCOMPARE(second.files, (std::vector<std::string>{"b2n_2/eurosat/4shots_seed2/events.out.tfevents.1796621001.host_name.caspl"}));
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        QCOMPARE(names, (std::vector<std::string>{"events.out.tfevents.1.other", "events.out.tfevents.1796621001.host_name.caspl"}));
        QCOMPARE(readFile((fs::path(dir.toStdString()) / "b2n_2/.caspl-run").string()), std::string("/y/runs/b2n"));

        const auto events = decodeEventFile(readFile((fs::path(dir.toStdString()) / second.files[0]).string()));
        QCOMPARE(events.size(), std::size_t(8));
        QCOMPARE(events[0].fileVersion, std::string("brain.Event:2"));
        QCOMPARE(events[0].wallTime, 1796620801.0);  // the first value's time
        QVERIFY(events[1].sessionStart);
        QCOMPARE(events[1].step, int64_t(1));
        QCOMPARE(events[2].tag, std::string("train/loss"));
        QCOMPARE(events[2].step, int64_t(1));
        QCOMPARE(events[2].value, 1.0f);
        QCOMPARE(events[2].wallTime, 1796620801.0);
        QCOMPARE(events[7].tag, std::string("train/lr"));
        QCOMPARE(events[7].step, int64_t(3));
        QCOMPARE(events[7].value, 0.0035f);

        // Into a run folder: refused, with the folder named.
        const QString runs2 = QDir(caspl::test::tempDir()).filePath("tb_runs");
        QDir().mkpath(runs2 + "/b2n");
        writeFileAtomically((runs2 + "/b2n/config.yaml").toStdString(), "name: b2n\n");
        caspl::test::expectError([&] { writeTensorBoard({runs[0]}, runs2.toStdString(), "h", 1.0); }, {"b2n: is a run folder"});
        // A folder that cannot be made: the error names it.
        writeFileAtomically(QDir(dir).filePath("blocked").toStdString(), "a file");
        caspl::test::expectError(
            [&] { writeTensorBoard({runs[0]}, QDir(dir).filePath("blocked").toStdString(), "h", 1.0); }, {"blocked", "cannot create"});
    }

    // TensorBoard's HParams dashboard: the session and experiment messages byte for byte as protobuf's own library
    // writes them (Python protobuf, deterministic serialisation, from field numbers of the hparams plugin's
    // plugin_data.proto and api.proto), the sessions of a runs table, and where the export puts them.
    void hparamsSessionsAndExperiment() {
        TbSession a;
        a.hparams = {{"method", "coop+caspl"}, {"model.student", "ViT-B/16"}, {"train.flag", "true"}, {"train.lr", "0.002"}};
        a.metrics = {{"result/hm", 72.5}};
        a.status = 1;
        a.startTime = 1700000000.0;
        a.endTime = 1700000100.0;
        a.modelUri = "/runs/a";
        const auto events = decodeEventFile(tbSessionEventFile(a, 1.0));
        QCOMPARE(events.size(), std::size_t(4));  // version, start, one metric, end
        QCOMPARE(events[0].wallTime, 1700000000.0);
        QCOMPARE(events[1].tag, std::string("_hparams_/session_start_info"));
        QCOMPARE(events[1].pluginName, std::string("hparams"));
        QCOMPARE(events[1].tensor, fromHex("080112021200"));  // the plugin's null tensor: DT_FLOAT, shape [0]
        QCOMPARE(events[1].pluginContent,
                 fromHex("1a700a160a066d6574686f64120c1a0a636f6f702b636173706c0a1b0a0d6d6f64656c2e73747564656e74120a1a085669"
                         "542d422f31360a100a0a747261696e2e666c6167120220010a150a08747261696e2e6c72120911fca9f1d24d62603f1207"
                         "2f72756e732f612900000040fc54d941"));
        QCOMPARE(events[2].tag, std::string("result/hm"));
        QCOMPARE(events[2].step, int64_t(0));
        QCOMPARE(events[2].value, 72.5f);
        QCOMPARE(events[3].tag, std::string("_hparams_/session_end_info"));
        QCOMPARE(events[3].pluginContent, fromHex("220b08011100000059fc54d941"));
        // Running: an end record with the status only (the plugin reads the status there); stopped (unknown): none.
        TbSession running = a;
        running.status = 3;
        const auto runningEvents = decodeEventFile(tbSessionEventFile(running, 1.0));
        QCOMPARE(runningEvents.size(), std::size_t(4));
        QCOMPARE(runningEvents[3].pluginContent, fromHex("22020803"));  // session_end_info { status: RUNNING }
        TbSession stopped = a;
        stopped.status = 0;
        QCOMPARE(decodeEventFile(tbSessionEventFile(stopped, 1.0)).size(), std::size_t(3));
        // A key that is a number in one run and text in another is text in both: TensorBoard filters by type.
        TbSession n1, n2;
        n1.hparams = {{"method.ctx_init", "0.002"}, {"train.flag", "true"}};
        n2.hparams = {{"method.ctx_init", "null"}, {"train.flag", "1"}};
        const auto types = tbHParamTypes({n1, n2});
        QVERIFY(types.at("method.ctx_init") == TbHParamType::Text);
        QVERIFY(types.at("train.flag") == TbHParamType::Text);
        const auto mixed = decodeEventFile(tbSessionEventFile(n1, 1.0, types))[1].pluginContent;
        QVERIFY(mixed.find(fromHex("1a05302e303032")) != std::string::npos);  // Value { string_value: "0.002" }
        QVERIFY(mixed.find(fromHex("1a0474727565")) != std::string::npos);    // Value { string_value: "true" }
        QVERIFY(tbHParamTypes({a}).at("train.lr") == TbHParamType::Number);
        // The experiment declares the mixed key as text, with its values as text.
        const auto mixedExperiment = decodeEventFile(tbExperimentEventFile({n1, n2}, 1.0))[1].pluginContent;
        QVERIFY(mixedExperiment.find(fromHex("0a0f6d6574686f642e6374785f696e69742001")) != std::string::npos);  // name, type 1
        QVERIFY(mixedExperiment.find(fromHex("1a05302e303032")) != std::string::npos);

        TbSession b;
        b.hparams = {{"method", "coop"}, {"model.student", "ViT-B/32"}, {"train.flag", "false"}, {"train.lr", "0.004"}};
        b.metrics = {{"result/hm", 70.25}, {"result/base", 80.0}};
        const auto experiment = decodeEventFile(tbExperimentEventFile({a, b}, 1700000200.0));
        QCOMPARE(experiment.size(), std::size_t(2));
        QCOMPARE(experiment[1].tag, std::string("_hparams_/experiment"));
        QCOMPARE(experiment[1].pluginContent,
                 fromHex("12c6021900000072fc54d94122220a066d6574686f6420012a160a061a04636f6f700a0c1a0a636f6f702b636173706c"
                         "222b0a0d6d6f64656c2e73747564656e7420012a180a0a1a085669542d422f31360a0a1a085669542d422f333222180a"
                         "0a747261696e2e666c616720022a080a0220000a02200122200a08747261696e2e6c722003321209fca9f1d24d62603f"
                         "11fca9f1d24d62703f2a540a0b1209726573756c742f686d1a02484d22416d65616e206f76657220736565647320286176"
                         "657261676564206f766572206461746173657473207768656e207365766572616c292c20696e2070657263656e742a58"
                         "0a0d120b726573756c742f626173651a044261736522416d65616e206f76657220736565647320286176657261676564"
                         "206f766572206461746173657473207768656e207365766572616c292c20696e2070657263656e74"));

        // From a runs table: the method and the differing keys, the figures, the state.
        RunsTableRow r1, r2, bad;
        r1.status.folder = "/runs/a";
        r1.status.method = "coop";
        r1.status.state = "done";
        r1.status.hm = 70.0;
        r1.status.base = 80.0;
        r1.config = {{"train.lr", "0.002"}, {"train.epochs", "5"}};
        r2 = r1;
        r1.status.runtime = 3725.5;
        r2.status.folder = "/runs/b";
        r2.status.state = "failed";
        r2.status.hm.reset();
        r2.status.base.reset();
        r2.config = {{"train.lr", "0.004"}, {"train.epochs", "5"}};
        bad.status.folder = "/runs/c";
        bad.status.state = "unreadable";
        const auto sessions = tensorBoardSessions(makeRunsTable({r1, r2, bad}));
        QCOMPARE(sessions.size(), std::size_t(3));
        QVERIFY(sessions[0] && sessions[1] && !sessions[2]);
        QCOMPARE(sessions[0]->hparams, (std::vector<std::pair<std::string, std::string>>{{"method", "coop"}, {"train.lr", "0.002"}}));
        QCOMPARE(sessions[0]->metrics, (std::vector<std::pair<std::string, double>>{
                                           {"result/base", 80.0}, {"result/hm", 70.0}, {"result/runtime_s", 3725.5}}));
        // The runtime's metric is named and described as a time, not as an accuracy.
        const std::string withRuntime = decodeEventFile(tbExperimentEventFile({*sessions[0]}, 1.0))[1].pluginContent;
        QVERIFY(withRuntime.find("Runtime (s)") != std::string::npos &&
                withRuntime.find("the time the run's processes spent on it, in seconds") != std::string::npos);
        QCOMPARE(sessions[0]->status, 1);
        QCOMPARE(sessions[0]->modelUri, std::string("/runs/a"));
        QVERIFY(sessions[1]->metrics.empty());
        QCOMPARE(sessions[1]->status, 2);

        // The export: each run's session in its own folder, the experiment at the top, replaced by the next export.
        namespace fs = std::filesystem;
        const fs::path dir = fs::path(caspl::test::tempDir().toStdString()) / "tb_hparams";
        RunEventLog log;
        MetricEvent m;
        m.phase = "phase2";
        m.dataset = "dtd";
        m.shots = 16;
        m.seed = 1;
        m.epoch = 1;
        m.step = 1;
        m.values = {{"loss", 1.0}};
        log.metrics.push_back(m);
        log.metricTimes.push_back(1796620801.0);
        std::vector<TbRun> runs = {{"a", "/runs/a", log, sessions[0]}, {"b", "/runs/b", log, sessions[1]}};
        const auto written = writeTensorBoard(runs, dir.string(), "h", 1796621000.0);
        QCOMPARE(written.files, (std::vector<std::string>{"a/dtd/16shots_seed1/events.out.tfevents.1796621000.h.caspl",
                                                          "b/dtd/16shots_seed1/events.out.tfevents.1796621000.h.caspl",
                                                          "a/events.out.tfevents.1796621000.h.caspl",
                                                          "b/events.out.tfevents.1796621000.h.caspl",
                                                          "events.out.tfevents.1796621000.h.caspl"}));
        const auto session = decodeEventFile(readFile((dir / written.files[2]).string()));
        QCOMPARE(session[1].tag, std::string("_hparams_/session_start_info"));
        QCOMPARE(session[1].wallTime, 1796620801.0);  // the run's first logged time
        QCOMPARE(session.back().tag, std::string("_hparams_/session_end_info"));
        QCOMPARE(decodeEventFile(readFile((dir / written.files[4]).string()))[1].tag, std::string("_hparams_/experiment"));
        // Alone, a's train.lr has one value: left out as saying nothing; the method stays.
        const auto again = writeTensorBoard({runs[0]}, dir.string(), "h", 1796621000.0);
        QCOMPARE(again.files.back(), std::string("events.out.tfevents.1796621001.h.caspl"));
        QVERIFY(!fs::exists(dir / written.files[4]));  // one experiment: this export's
        const std::string alone = decodeEventFile(readFile((dir / again.files[1]).string()))[1].pluginContent;
        QVERIFY(alone.find("train.lr") == std::string::npos && alone.find("method") != std::string::npos);
        // b was left out of that export: its earlier session is gone (the experiment no longer holds it), its curves stay.
        QVERIFY(!fs::exists(dir / written.files[3]));
        QVERIFY(fs::exists(dir / written.files[1]));
        QVERIFY(std::any_of(again.warnings.begin(), again.warnings.end(),
                            [](const std::string& w) { return w.find("earlier export's HParams session, removed") != std::string::npos; }));
        // Into a run folder: refused.
        fs::create_directories(dir / "a_run");
        writeFileAtomically((dir / "a_run" / "config.yaml").string(), "name: a_run\n");
        caspl::test::expectError([&] { writeTensorBoard({runs[0]}, (dir / "a_run").string(), "h", 1.0); }, {"a_run: is a run folder"});
        // Nor into a folder inside one (its tensorboard/ folder, whose live files the export would replace); a
        // folder under one that holds a config.yaml alone (a project's) is fine.
        writeFileAtomically((dir / "a_run" / "run.json").string(), "{}\n");
        caspl::test::expectError([&] { writeTensorBoard({runs[0]}, (dir / "a_run" / "tensorboard" / "dtd").string(), "h", 1.0); },
                                 {"tensorboard/dtd: is inside the run folder ", "a_run; export"});
        fs::create_directories(dir / "project");
        writeFileAtomically((dir / "project" / "config.yaml").string(), "project: x\n");
        QCOMPARE(writeTensorBoard({runs[0]}, (dir / "project" / "tb").string(), "h", 1796621000.0).files.empty(), false);
        // Without sessions (a caller that has none), no experiment.
        runs[0].session.reset();
        const auto plain = writeTensorBoard({runs[0]}, (dir / "plain").string(), "h", 1796621000.0);
        QCOMPARE(plain.files.size(), std::size_t(1));
    }

    // Cross-dataset from two training datasets (A trained, evaluated on A and B; then B trained, evaluated on B and
    // A): each evaluation belongs to the training just before it, in the export and in the live files alike.
    void transferFromSeveralTrainingDatasets() {
        RunEventLog log;
        const auto train = [&](const char* ds) {
            for (int64_t s = 1; s <= 2; ++s) {
                MetricEvent m = liveMetric("phase2", 16, 1, s, 1.0);
                m.dataset = ds;
                log.metrics.push_back(m);
            }
        };
        const auto eval = [&](const char* ds, double acc) {
            log.evals.push_back(liveEval(ds, 16, "all", 1, acc));
            log.evalAfterMetrics.push_back(log.metrics.size());
        };
        train("imagenet");
        eval("imagenet", 80.0);
        eval("caltech101", 20.0);
        train("caltech101");
        eval("caltech101", 90.0);
        eval("imagenet", 30.0);
        std::map<std::string, std::map<std::string, float>> exported;  // folder -> tag -> value
        for (const auto& t : tensorBoardTrainings(log, 1.0))
            for (const auto& sc : t.scalars)
                if (sc.tag.rfind("eval/", 0) == 0) exported[t.folder][sc.tag] = float(sc.value);
        const std::map<std::string, std::map<std::string, float>> expected{
            {"imagenet/16shots_seed1", {{"eval/all", 80.0f}, {"eval/caltech101/all", 20.0f}}},
            {"caltech101/16shots_seed1", {{"eval/all", 90.0f}, {"eval/imagenet/all", 30.0f}}}};
        QCOMPARE(exported, expected);

        namespace fs = std::filesystem;
        const std::string dir = QDir(caspl::test::tempDir()).filePath("tb_transfer").toStdString();
        fs::remove_all(dir);
        {
            TensorBoardLiveWriter w(dir, "h", RunEventLog{});
            std::size_t m = 0;
            for (std::size_t i = 0; i < log.evals.size(); ++i) {
                for (; m < log.evalAfterMetrics[i]; ++m) w.metric(log.metrics[m], 100.0);
                w.evaluation(log.evals[i], 100.0);
            }
        }
        std::map<std::string, std::map<std::string, float>> live;
        for (const auto& folder : {"imagenet/16shots_seed1", "caltech101/16shots_seed1"})
            for (const auto& e : liveFile(dir, folder, 100))
                if (e.tag.rfind("eval/", 0) == 0) {
                    QCOMPARE(e.step, int64_t(2));
                    live[folder][e.tag] = e.value;
                }
        QCOMPARE(live, expected);
    }

    // Written while a run runs: the export's folders and tags, a file per training and process, and a resumed run's
    // files placed so that TensorBoard replaces what is redone.
    void liveFilesWhileARunRuns() {
        namespace fs = std::filesystem;
        const std::string dir = QDir(caspl::test::tempDir()).filePath("tb_live").toStdString();
        fs::remove_all(dir);
        RunEventLog log;  // what events.jsonl holds, for the resumes below
        {
            TensorBoardLiveWriter w(dir, "h", RunEventLog{});
            const auto metric = [&](const MetricEvent& m, double t) {
                w.metric(m, t);
                log.metrics.push_back(m);
            };
            for (int64_t s = 1; s <= 4; ++s) metric(liveMetric("phase1", 0, int((s + 1) / 2), s, 2.0 / double(s)), 1000.0 + double(s));
            for (int64_t s = 1; s <= 4; ++s) metric(liveMetric("phase2", 16, int((s + 1) / 2), s, 1.0 / double(s)), 1010.0 + double(s));
            w.evaluation(liveEval("dtd", 16, "base", 2, 80.0), 1020.0);
            w.evaluation(liveEval("dtd", 16, "novel", 2, 60.0), 1021.0);
            w.evaluation(liveEval("eurosat", 16, "all", 2, 40.0), 1022.0);  // cross-dataset: with dtd's training
            w.evaluation(liveEval("caltech101", 0, "all", 0, 90.0), 1023.0);  // no training of K 0: its own folder
            QCOMPARE(w.files(), (std::vector<std::string>{"dtd/phase1/events.out.tfevents.1001.h.caspl",
                                                          "dtd/16shots_seed1/events.out.tfevents.1011.h.caspl",
                                                          "caltech101/all_seed1/events.out.tfevents.1023.h.caspl"}));
            QCOMPARE(w.scalars(), int64_t(8 + 8 + 3 + 1 + 1));
            // Back to a training whose file was closed: appended to, not started again.
            w.metric(liveMetric("phase2", 16, 3, 5, 0.1), 1030.0);
            QCOMPARE(w.files().size(), std::size_t(3));
        }
        const auto p1 = liveFile(dir, "dtd/phase1", 1001);
        QCOMPARE(p1.size(), std::size_t(2 + 8));
        QCOMPARE(p1[0].fileVersion, std::string("brain.Event:2"));
        QVERIFY(p1[1].sessionStart);
        QCOMPARE(p1[1].step, int64_t(1));
        QCOMPARE(p1[2].tag, std::string("train/loss"));
        QCOMPARE(p1[2].value, 2.0f);
        QCOMPARE(p1[2].wallTime, 1001.0);
        const auto p2 = liveFile(dir, "dtd/16shots_seed1", 1011);
        QCOMPARE(p2.size(), std::size_t(2 + 8 + 4 + 2));
        QVERIFY(findEvent(p2, "eval/base", 4) && findEvent(p2, "eval/novel", 4));  // the last step of epoch 2
        const DecodedEvent* hm = findEvent(p2, "eval/hm", 4);
        QVERIFY(hm);
        QCOMPARE(hm->value, float(2 * 80.0 * 60.0 / 140.0));
        QVERIFY(findEvent(p2, "eval/eurosat/all", 4));
        QCOMPARE(p2.back().tag, std::string("train/lr"));  // the appended step
        QCOMPARE(p2.back().step, int64_t(5));
        QCOMPARE(std::count_if(p2.begin(), p2.end(), [](const DecodedEvent& e) { return !e.fileVersion.empty(); }), 1l);
        const auto zs = liveFile(dir, "caltech101/all_seed1", 1023);
        QCOMPARE(zs.size(), std::size_t(3));
        QCOMPARE(zs[2].tag, std::string("eval/all"));
        QCOMPARE(zs[2].step, int64_t(0));

        // Resumed from the checkpoint of epoch 1 (steps 3 and 4 logged again): a new file, read after the first,
        // whose session starts at step 3; the evaluation of epoch 2 stands at this process's step 4.
        log.evals = {liveEval("dtd", 16, "base", 2, 80.0)};
        log.evalAfterMetrics = {log.metrics.size()};
        {
            TensorBoardLiveWriter w(dir, "h", log);
            w.metric(liveMetric("phase2", 16, 2, 3, 0.3), 1000.0);
            w.metric(liveMetric("phase2", 16, 2, 4, 0.2), 1001.0);
            w.evaluation(liveEval("dtd", 16, "novel", 2, 70.0), 1002.0);
            QCOMPARE(w.files(), (std::vector<std::string>{"dtd/16shots_seed1/events.out.tfevents.1012.h.caspl"}));
        }
        const auto resumed = liveFile(dir, "dtd/16shots_seed1", 1012);
        QVERIFY(resumed[1].sessionStart);
        QCOMPARE(resumed[1].step, int64_t(3));
        QVERIFY(findEvent(resumed, "eval/novel", 4));
        QVERIFY(!findEvent(resumed, "eval/hm", 4));  // the earlier base of step 4 is redone, so not paired

        // Resumed after the training ended, before its evaluations: they stand at the training's last step, the
        // session starts after it (no step dropped), and a base evaluated before the stop pairs with the novel.
        RunEventLog ended = log;
        ended.metrics.resize(8);  // phase 1, and phase 2 up to step 4
        ended.evalAfterMetrics = {8};
        {
            TensorBoardLiveWriter w(dir, "h", ended);
            w.evaluation(liveEval("dtd", 16, "novel", 2, 60.0), 1000.0);
        }
        const auto evalOnly = liveFile(dir, "dtd/16shots_seed1", 1013);
        QCOMPARE(evalOnly.size(), std::size_t(4));
        QVERIFY(evalOnly[1].sessionStart);
        QCOMPARE(evalOnly[1].step, int64_t(5));
        QVERIFY(findEvent(evalOnly, "eval/novel", 4));
        QVERIFY(findEvent(evalOnly, "eval/hm", 4));

        // The sink passes everything on; a write error is one warning and ends the writing, not the run.
        writeFileAtomically(dir + "/blocked", "a file");
        Recorder next;
        TensorBoardSink sink(std::make_unique<TensorBoardLiveWriter>(dir + "/blocked", "h", RunEventLog{}), next);
        sink.metric(liveMetric("phase2", 16, 1, 1, 1.0));
        sink.metric(liveMetric("phase2", 16, 1, 2, 1.0));
        sink.evalRow(liveEval("dtd", 16, "base", 1, 50.0));
        QCOMPARE(next.metrics, 2);
        QCOMPARE(next.evals, 1);
        QCOMPARE(next.warnings.size(), std::size_t(1));
        QVERIFY2(next.warnings[0].find("TensorBoard files: ") == 0 && next.warnings[0].find("blocked") != std::string::npos &&
                     next.warnings[0].find("train.tensorboard: false") != std::string::npos,
                 next.warnings[0].c_str());
        QVERIFY(!sink.writer());
        TensorBoardSink none(nullptr, next);  // train.tensorboard: false
        none.metric(liveMetric("phase2", 16, 1, 3, 1.0));
        QCOMPARE(next.metrics, 3);
    }
};

CASPL_REGISTER_TEST(TensorBoardTest);
#include "test_tensorboard.moc"
