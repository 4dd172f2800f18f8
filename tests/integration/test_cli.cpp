// Runs the real `caspl` executable as a user would.
#include "cli_runner.h"
#include "made_data.h"
#include "test_support.h"
#include "tiny_experiment.h"

#include "core/engine/boosting.h"
#include "core/experiment/results.h"
#include "core/experiment/runs_table.h"
#include "core/io/safetensors.h"
#include "core/util/atomic_file.h"
#include "core/util/dir_lock.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QProcess>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>

namespace {
using Result = caspl::test::CliResult;
Result runCaspl(const QStringList& args, const QByteArray& input = {}) { return caspl::test::runCasplProcess(args, input); }
}  // namespace

class CliTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void versionPrintsVersionAndRuntime() {
        const auto r = runCaspl({"--version"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.startsWith("caspl " CASPL_TEST_VERSION), qPrintable(r.out));
        QVERIFY2(r.out.contains("LibTorch"), qPrintable(r.out));
    }

    void helpListsCommands() {
        const auto r = runCaspl({"--help"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("version"), qPrintable(r.out));
        QVERIFY2(r.out.contains("Exit codes"), qPrintable(r.out));
    }

    void unknownCommandIsUsageError() {
        const auto r = runCaspl({"no-such-command"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(!r.err.isEmpty());
    }

    void benchPrintsJsonLines() {
        const auto r = runCaspl({"bench", "--device", "cpu", "--only", "encode_image", "--warmup", "0", "--iterations", "1"});
        QCOMPARE(r.exitCode, 0);
        const auto lines = r.out.trimmed().split('\n');
        QVERIFY2(!lines.isEmpty(), qPrintable(r.err));
        const auto doc = QJsonDocument::fromJson(lines.first().toUtf8());
        QVERIFY2(doc.isObject(), qPrintable(lines.first()));
        const auto o = doc.object();
        for (const char* key : {"figure", "value", "unit", "batch", "device", "dtype", "libtorch"}) QVERIFY2(o.contains(key), key);
        QVERIFY(o["value"].toDouble() > 0);
    }

    // Every figure of the tiny (CPU) benchmark is printed, with a positive value; the graph variants ran the static
    // step uncaptured. These tests name the CPU: on a GPU machine the bench would take the full-size models there.
    void benchPrintsEveryFigure() {
        const auto r = runCaspl({"bench", "--device", "cpu", "--warmup", "0", "--iterations", "1"});
        QCOMPARE(r.exitCode, 0);
        QMap<QString, QJsonObject> figures;
        for (const auto& line : r.out.trimmed().split('\n')) {
            const auto doc = QJsonDocument::fromJson(line.toUtf8());
            QVERIFY2(doc.isObject(), qPrintable(line));
            figures[doc.object()["figure"].toString()] = doc.object();
        }
        for (const char* name : {"encode_image.vit_tiny", "encode_text.tiny", "step.coop", "step.coop.graph",
                                 "step.promptsrc.b4", "step.promptsrc.b4.graph", "step.caspl_phase1", "step.caspl_phase1.graph",
                                 "epoch.caspl_phase1", "teacher_cache.caspl_phase1", "step.caspl_phase1.cached",
                                 "step.caspl_phase1.cached.graph", "epoch.caspl_phase1.cached", "memory.promptsrc_caspl",
                                 "memory.promptsrc_caspl.unchunked",
                                 "eval_pipeline.tiny.cold", "eval_pipeline.tiny.warm", "eval_pipeline.loader_only.warm", "tensorboard.live_write",
                                 "roofline.matmul", "roofline.copy", "breakdown.vit_tiny.block", "breakdown.vit_tiny.qkv",
                                 "breakdown.vit_tiny.attention", "breakdown.vit_tiny.silu", "breakdown.vit_tiny.layer_norm"}) {
            QVERIFY2(figures.contains(name), name);
            if (!QString(name).startsWith("memory.")) QVERIFY2(figures[name]["value"].toDouble() > 0, name);
        }
        QCOMPARE(figures["step.coop.graph"]["captured"].toBool(), false);  // no CUDA here
        QCOMPARE(figures["memory.promptsrc_caspl"]["text_chunk"].toInt(), 16);
        QCOMPARE(figures["memory.promptsrc_caspl.unchunked"]["text_chunk"].toInt(), 0);
        QVERIFY(figures["encode_text.tiny"]["tokens_per_prompt"].toInt() < 77);  // stops at the last EOT
        // The block's parts: products and attention give a rate in TFLOP/s, memory-bound passes one in GB/s; the
        // block line carries the sum of its parts and the rate it implies (no timing is compared: one iteration).
        QVERIFY(figures["breakdown.vit_tiny.qkv"]["tflops"].toDouble() > 0);
        QVERIFY(!figures["breakdown.vit_tiny.qkv"].contains("gbps"));
        QVERIFY(figures["breakdown.vit_tiny.silu"]["gbps"].toDouble() > 0);
        QVERIFY(figures["breakdown.vit_tiny.silu"]["share_of_block"].toDouble() > 0);
        const auto block = figures["breakdown.vit_tiny.block"];
        QVERIFY(block["sum_of_parts_ms"].toDouble() > 0);
        QCOMPARE(block["layers"].toInt(), 2);
        QVERIFY(block["img_s_from_blocks"].toDouble() > 0);
        const auto cached = figures["epoch.caspl_phase1.cached"];
        QVERIFY(cached["value"].toDouble() > cached["teacher_s"].toDouble());  // the teacher's pass is included
    }

    // --only reaches one figure inside a section (the breakdown's parts are timed together, one line printed).
    void benchOnlySelectsOneFigureOfASection() {
        const auto r = runCaspl({"bench", "--device", "cpu", "--only", "breakdown.vit_tiny.silu", "--warmup", "0", "--iterations", "1"});
        QCOMPARE(r.exitCode, 0);
        const auto lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 1);
        QCOMPARE(QJsonDocument::fromJson(lines.first().toUtf8()).object()["figure"].toString(), QString("breakdown.vit_tiny.silu"));
    }

    // A figure that fails prints an error line naming it and the others still run; the exit status says so.
    // Debian's CPU LibTorch has no fp16 convolution, so there both step.coop lines are errors; a LibTorch that
    // has one prints two figures and exits 0.
    void benchReportsFailedFiguresAndGoesOn() {
        const auto r = runCaspl({"bench", "--device", "cpu", "--dtype", "fp16", "--only", "step.coop", "--warmup", "0", "--iterations", "1"});
        QStringList names;
        int errors = 0;
        for (const auto& line : r.out.trimmed().split('\n')) {
            const auto o = QJsonDocument::fromJson(line.toUtf8()).object();
            QVERIFY2(!o.isEmpty(), qPrintable(line));
            names << o["figure"].toString();
            QCOMPARE(o["dtype"].toString(), QString("fp16"));
            if (o.contains("error")) {
                ++errors;
                QVERIFY2(!o["error"].toString().isEmpty() && !o["error"].toString().contains('\n'), qPrintable(line));
            } else {
                QVERIFY2(o["value"].toDouble() > 0, qPrintable(line));
            }
        }
        QCOMPARE(names, QStringList({"step.coop", "step.coop.graph"}));
        QCOMPARE(r.exitCode, errors > 0 ? 1 : 0);
        if (errors > 0) QVERIFY2(r.err.contains(QString("%1 figure(s) failed").arg(errors)), qPrintable(r.err));
    }

    void encodeAndInfoMatchTheReference() {
        CASPL_REQUIRE_FIXTURE(weights, "clip-tiny-a/weights_openai.safetensors");
        CASPL_REQUIRE_FIXTURE(golden, "clip-tiny-a/golden.safetensors");
        CASPL_REQUIRE_FIXTURE(vocab, "tokenizer/vocab.json");
        CASPL_REQUIRE_FIXTURE(merges, "tokenizer/merges.txt");
        const QString dir = QDir(caspl::test::tempDir()).filePath("encode_model");
        QDir().mkpath(dir);
        QFile::link(weights_q, dir + "/model.safetensors");
        QFile::link(vocab_q, dir + "/vocab.json");
        QFile::link(merges_q, dir + "/merges.txt");

        const auto info = runCaspl({"info", "--model", dir});
        QCOMPARE(info.exitCode, 0);
        QVERIFY2(info.out.contains("heads 4") && info.out.contains("parameters: "), qPrintable(info.out));
        // A checkpoint that encode would refuse (a tensor missing) is refused by info too.
        {
            auto src = caspl::SafetensorsFile::open(weights);
            std::vector<caspl::TensorView> keep;
            for (const auto& t : src.tensors())
                if (t.name != "ln_final.weight") keep.push_back({t.name, t.dtype, t.shape, src.data(t), std::size_t(t.nbytes())});
            const QString broken = QDir(caspl::test::tempDir()).filePath("missing_key.safetensors");
            caspl::writeSafetensors(broken.toStdString(), keep, src.metadata());
            const auto bad = runCaspl({"info", "--model", broken});
            QCOMPARE(bad.exitCode, 3);
            QVERIFY2(bad.err.contains("missing key 'ln_final.weight'"), qPrintable(bad.err));
        }

        // Pixels and tokens given: the reference's features.
        const QString out = QDir(caspl::test::tempDir()).filePath("encoded.safetensors");
        auto r = runCaspl({"encode", "--model", dir, "--pixels", golden_q + ":pixel_values", "--tokens", golden_q + ":text_tokens",
                           "--out", out});
        QCOMPARE(r.exitCode, 0);
        auto f = caspl::SafetensorsFile::open(out.toStdString());
        auto g = caspl::SafetensorsFile::open(golden);
        for (const char* name : {"image_features", "text_features", "logits_per_image"}) {
            const auto a = f.toFloat(f.at(name)), b = g.toFloat(g.at(name));
            QCOMPARE(a.size(), b.size());
            double d = 0;
            for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, double(std::abs(a[i] - b[i])));
            QVERIFY2(d < 1e-5, qPrintable(QString("%1: %2").arg(name).arg(d)));
        }
        // Texts are tokenized with the model folder's vocabulary, exactly as the reference tokens.
        const QString out2 = QDir(caspl::test::tempDir()).filePath("encoded_texts.safetensors");
        r = runCaspl({"encode", "--model", dir, "--texts", "a photo of a abyssinian, a type of pet.", "--out", out2});
        QCOMPARE(r.exitCode, 0);
        auto t = caspl::SafetensorsFile::open(out2.toStdString());
        const auto ids = t.toInt64(t.at("text_tokens"));
        const auto ref = g.toInt64(g.at("text_tokens"));
        QVERIFY(std::equal(ids.begin(), ids.end(), ref.begin()));
        // Bad input names the problem and exits 3.
        r = runCaspl({"encode", "--model", dir, "--pixels", golden_q + ":no_such_key", "--out", out2});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains("no_such_key"), qPrintable(r.err));
    }

    void boostingShowAndExport() {
        // A run folder with a finished phase 1, made by hand.
        const QString run = QDir(caspl::test::tempDir()).filePath("boost_run");
        const QString p1 = run + "/Synth/phase1";
        QDir().mkpath(p1);
        std::vector<float> ctx(2 * 32, 0.5f);
        caspl::writeSafetensors((p1 + "/boosting.safetensors").toStdString(),
                                {{"prompt_learner_teacher.ctx", caspl::DType::F32, {2, 32}, ctx.data(), ctx.size() * 4}});
        caspl::BoostingManifest m;
        m.dataset = "Synth";
        m.studentSignature = "sig";
        m.nText = 2; m.nVision = 2; m.depthText = 1; m.depthVision = 1;
        m.classes = 4;
        caspl::writeBoostingManifest(p1.toStdString(), m);

        auto r = runCaspl({"boosting", "show", p1});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("prompt_learner_teacher.ctx [2, 32] F32") && r.out.contains("text 2 x 1"), qPrintable(r.out));
        const QString out = QDir(caspl::test::tempDir()).filePath("boost_export");
        r = runCaspl({"boosting", "export", run, "--dataset", "Synth", "--out", out});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(QFile::exists(out + "/boosting.json") && QFile::exists(out + "/boosting.safetensors"));
        r = runCaspl({"boosting", "export", run, "--dataset", "Synth", "--out", out});
        QCOMPARE(r.exitCode, 3);  // never overwrites
        r = runCaspl({"boosting", "export", run, "--dataset", "Other", "--out", out + "2"});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains("phase 1 of Other"), qPrintable(r.err));
    }

    void exportCurvesFromEventLog() {
        const QString run = QDir(caspl::test::tempDir()).filePath("curves_run");
        QDir().mkpath(run);
        QFile f(run + "/events.jsonl");
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"type\":\"metric\",\"run\":\"curves_run\",\"phase\":\"phase2\",\"dataset\":\"dtd\",\"shots\":16,\"seed\":1,\"epoch\":1,\"step\":1,\"values\":{\"loss\":2.5,\"lr\":1e-05}}\n"
            "{\"type\":\"progress\",\"run\":\"curves_run\",\"phase\":\"phase2\",\"step\":1,\"steps\":2}\n"
            "{\"type\":\"metric\",\"run\":\"curves_run\",\"phase\":\"phase2\",\"dataset\":\"dtd\",\"shots\":16,\"seed\":1,\"epoch\":1,\"step\":2,\"values\":{\"loss\":2.0,\"loss.ce\":1.5,\"lr\":1e-05},\"time\":\"2026-12-07T05:20:01.125Z\"}\n");
        f.close();
        const QString out = QDir(caspl::test::tempDir()).filePath("curves.csv");
        auto r = runCaspl({"export", "--curves", run, "--out", out});
        QCOMPARE(r.exitCode, 0);
        QFile csv(out);
        QVERIFY(csv.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(csv.readAll()).trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        QCOMPARE(lines[0], QString("run,phase,dataset,shots,seed,epoch,step,wall_time,loss,loss.ce,lr"));
        QCOMPARE(lines[1], QString("curves_run,phase2,dtd,16,1,1,1,,2.5,,1e-05"));  // a line without a time
        QCOMPARE(lines[2], QString("curves_run,phase2,dtd,16,1,1,2,1796620801.125,2,1.5,1e-05"));
        r = runCaspl({"export", "--curves", QDir(caspl::test::tempDir()).filePath("no_such_run")});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains("events.jsonl") && r.err.contains("not found"), qPrintable(r.err));

        // The same curves for TensorBoard: one folder per run and training, one event file in it.
        const QString tb = QDir(caspl::test::tempDir()).filePath("tb");
        r = runCaspl({"export", "--tensorboard", tb, run + "/"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QStringList files = QDir(tb + "/curves_run/dtd/16shots_seed1").entryList({"events.out.tfevents.*.caspl"}, QDir::Files);
        QCOMPARE(files.size(), 1);
        QVERIFY2(r.err.contains("1 event file, 5 values") && r.err.contains("tensorboard --logdir"), qPrintable(r.err));
        QFile ev(tb + "/curves_run/dtd/16shots_seed1/" + files[0]);
        QVERIFY(ev.open(QIODevice::ReadOnly));
        const QByteArray bytes = ev.readAll();  // the version record first (24 bytes of payload), then the values
        QVERIFY(bytes.size() > 40 && bytes[0] == 24 && bytes.mid(12, 24).contains("brain.Event:2"));
        QVERIFY(bytes.contains("train/loss.ce") && bytes.contains("train/lr"));
        r = runCaspl({"export", "--tensorboard", tb, "--curves", run});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("excludes"), qPrintable(r.err));
        r = runCaspl({"export", "--tensorboard", "", run});
        QCOMPARE(r.exitCode, 2);
        // A run that has logged nothing yet: named, and nothing written is an error.
        const QString fresh = QDir(caspl::test::tempDir()).filePath("fresh_run");
        QDir().mkpath(fresh);
        QFile empty(fresh + "/events.jsonl");
        QVERIFY(empty.open(QIODevice::WriteOnly));
        empty.close();
        r = runCaspl({"export", "--tensorboard", tb, fresh});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains("fresh_run: nothing to export yet") && r.err.contains("nothing exported"), qPrintable(r.err));
    }

    // `caspl status`: where each run of a folder stands (running and by which process, crashed, stopped, not
    // started, done with its HM), where it is, why it stopped; JSON for scripts; bad paths named.
    void statusTellsWhereRunsStand() {
        const QString base = QDir(caspl::test::tempDir()).filePath("status_runs");
        QDir(base).removeRecursively();
        caspl::test::TinyExperimentOptions o;
        const QString yaml = caspl::test::tinyExperimentYaml(base, o);  // 1 dataset x 1 shot count x 2 seeds
        const auto write = [](const QString& path, const QString& text) {
            caspl::writeFileAtomically(path.toStdString(), text.toStdString());
        };
        const auto makeRun = [&](const QString& name, const QString& runJson, const QString& events) {
            const QString dir = base + "/runs/" + name;
            QDir().mkpath(dir);
            write(dir + "/config.yaml", yaml);
            if (!runJson.isEmpty()) write(dir + "/run.json", runJson);
            if (!events.isEmpty()) write(dir + "/events.jsonl", events);
            return dir;
        };
        const QString progress =
            "{\"type\":\"progress\",\"phase\":\"phase2\",\"dataset\":\"synth\",\"shots\":2,\"seed\":2,\"epoch\":3,"
            "\"epochs\":5,\"step\":7,\"steps\":15,\"eta_s\":130,\"time\":\"2026-01-01T00:00:00Z\"}\n";
        const QString where = "phase2 (synth · 2 shots · seed 2) epoch 3/5 step 7/15";
        makeRun("a_crashed", "{\"status\": \"running\"}", progress);
        const QString live = makeRun("b_live", "{\"status\": \"running\"}",
                                     progress + "{\"type\":\"metric\",\"step\":7,\"values\":{\"loss\":1}}\n{\"type\":\"prog");
        makeRun("c_stopped", "{\"status\": \"interrupted\", \"message\": \"stopped during phase2 epoch 3\"}", progress);
        makeRun("d_new", "", "");
        const QString done = makeRun("e_done", "{\"status\": \"done\", \"runtime_s\": 3725.4}", "");
        caspl::test::writeBaseNovelResult(done, 80, 60);
        const QString remote = makeRun("f_remote", "{\"status\": \"running\"}", progress);
        write(remote + "/.lock", "4242\nnode17.cluster\n");  // run on another machine sharing the folder (fresh heartbeat)
        QDir().mkpath(base + "/runs/not_a_run");
        const caspl::DirLock held(live.toStdString(), "run");  // this test process runs b_live

        const auto r = runCaspl({"status", base + "/runs"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QStringList lines = r.out.split('\n', Qt::SkipEmptyParts);
        const auto lineOf = [&](const QString& run) {
            for (int i = 0; i < lines.size(); ++i)
                if (lines[i].startsWith(base + "/runs/" + run + " ")) return i;
            return -1;
        };
        QVERIFY2(lines.value(0).startsWith("run ") && lines.value(0).contains("progress"), qPrintable(r.out));
        const int crashed = lineOf("a_crashed"), running = lineOf("b_live"), stopped = lineOf("c_stopped"), fresh = lineOf("d_new"),
                  finished = lineOf("e_done");
        QVERIFY2(crashed > 0 && running > 0 && stopped > 0 && fresh > 0 && finished > 0, qPrintable(r.out));
        QVERIFY2(lines[crashed].contains(" crashed ") && lines[crashed].contains(where), qPrintable(r.out));
        QVERIFY2(lines[crashed + 1].contains("caspl resume " + base + "/runs/a_crashed"), qPrintable(r.out));
        const QString pid = QString::number(QCoreApplication::applicationPid());
        QVERIFY2(lines[running].contains("running (pid " + pid + ")") && lines[running].contains(where + ", ETA 02:10, "),
                 qPrintable(r.out));
        QVERIFY2(lines[stopped].contains(" stopped ") && lines[stopped + 1].contains("stopped during phase2 epoch 3"), qPrintable(r.out));
        QVERIFY2(lines[fresh].contains("not started") && lines[fresh].contains(" 0/2 "), qPrintable(r.out));
        QVERIFY2(lines[finished].contains(" done ") && lines[finished].contains(" 1/2 ") && lines[finished].contains("68.57"),
                 qPrintable(r.out));  // 2 x 80 x 60 / 140
        QVERIFY2(QRegularExpression(" HM +runtime +progress").match(lines[0]).hasMatch() &&
                     QRegularExpression(" 68\\.57 +1:02:05").match(lines[finished]).hasMatch(),
                 qPrintable(r.out));
        QVERIFY2(QRegularExpression("  - +phase2").match(lines[crashed]).hasMatch(), qPrintable(r.out));  // run.json without a runtime
        QVERIFY(!r.out.contains("not_a_run"));
        const int elsewhere = lineOf("f_remote");
        QVERIFY2(elsewhere > 0 && lines[elsewhere].contains("running (pid 4242 on node17.cluster)"), qPrintable(r.out));

        const auto j = runCaspl({"status", "--json", live});
        QCOMPARE(j.exitCode, 0);
        const QJsonObject o1 = QJsonDocument::fromJson(j.out.toUtf8()).object();
        QCOMPARE(o1.value("state").toString(), QString("running"));
        QCOMPARE(o1.value("pid").toInteger(), QCoreApplication::applicationPid());
        QCOMPARE(o1.value("evaluations").toInt(), 2);
        QCOMPARE(o1.value("progress").toObject().value("step").toInt(), 7);
        QCOMPARE(o1.value("progress").toObject().value("time").toString(), QString("2026-01-01T00:00:00Z"));
        QVERIFY(!o1.contains("runtime_s"));
        const auto jd = runCaspl({"status", "--json", done});
        QCOMPARE(QJsonDocument::fromJson(jd.out.toUtf8()).object().value("runtime_s").toDouble(), 3725.4);

        for (const auto& [path, message] : {std::pair<QString, QString>{base + "/nothing_here", "no such folder"},
                                            {base + "/runs/not_a_run", "holds no run folder"},
                                            {base + "/runs/e_done/run.json", "is a file"}}) {
            const auto bad = runCaspl({"status", path});
            QCOMPARE(bad.exitCode, 3);
            QVERIFY2(bad.err.contains(message), qPrintable(bad.err));
        }
    }

    // In a locale with decimal commas (de_DE), the numbers caspl writes and reads are the same as in C: paper
    // rounding (one decimal per seed) is not cut to an integer, CSV fields are not split, tables print "73.50".
    void numbersIgnoreTheUsersLocale() {
        const QString dir = QDir(caspl::test::tempDir()).filePath("locale_cli");
        QDir(dir).removeRecursively();
        if (const QString why = caspl::test::buildDecimalCommaLocale(dir + "/locales"); !why.isEmpty()) QSKIP(qPrintable(why));
        caspl::test::TinyExperimentOptions o;
        o.name = "comma";
        QString yaml = caspl::test::tinyExperimentYaml(dir, o);
        QVERIFY(yaml.contains("rounding: none"));
        yaml.replace("rounding: none", "rounding: paper");
        const QString run = dir + "/runs/comma";
        QDir().mkpath(run);
        caspl::writeFileAtomically((run + "/config.yaml").toStdString(), yaml.toStdString());
        caspl::writeFileAtomically((run + "/run.json").toStdString(), "{\"status\": \"done\"}");
        caspl::test::writeBaseNovelResult(run, 7346, 6012, 10000);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("LOCPATH", dir + "/locales");
        env.insert("LC_ALL", "de_DE.UTF-8");
        // The locale is real: a C program in it writes decimal commas (coreutils' printf).
        QProcess printf;
        printf.setProcessEnvironment(env);
        printf.start("printf", {"%.2f", "70"});
        QVERIFY(printf.waitForFinished(10000));
        QCOMPARE(QString::fromUtf8(printf.readAllStandardOutput()), QString("70,00"));

        const auto csv = caspl::test::runCasplProcess({"export", "--csv", run}, {}, env);
        QVERIFY2(csv.exitCode == 0, qPrintable(csv.err));
        const auto rows = caspl::parseCsv(csv.out.toStdString(), "stdout");
        const auto& header = rows.at(0);
        const auto col = [&header](const char* name) {
            return std::size_t(std::find(header.begin(), header.end(), std::string(name)) - header.begin());
        };
        QCOMPARE(QString::fromStdString(rows.at(1).at(col("base"))), QString("73.5"));  // 73.46 to one decimal, not 73
        QCOMPARE(QString::fromStdString(rows.at(1).at(col("novel"))), QString("60.1"));
        const auto status = caspl::test::runCasplProcess({"status", run}, {}, env);
        QVERIFY2(status.exitCode == 0 && status.out.contains(QRegularExpression(" 66\\.13\\s")), qPrintable(status.out + status.err));  // HM of 73.5, 60.1
        const auto table = caspl::test::runCasplProcess({"export", "--table", "markdown", run}, {}, env);
        QVERIFY2(table.out.contains("| CoOp + CasPL | 73.50 | 60.10 | 66.13 |"), qPrintable(table.out + table.err));
    }

    // Option values out of range are usage errors (exit 2) with a message a person reads.
    void badOptionValuesAreUsageErrors() {
        const auto threads = runCaspl({"--threads", "-1", "version"});
        QCOMPARE(threads.exitCode, 2);
        QVERIFY2(threads.err.contains("--threads: expected an integer >= 0, got '-1'") && !threads.err.contains("17976931"),
                 qPrintable(threads.err));
        // The main command's options also work after a sub-command (`caspl demo --threads 2`).
        const auto after = runCaspl({"version", "--threads", "1"});
        QVERIFY2(after.exitCode == 0 && after.out.contains("1 thread"), qPrintable(after.out + after.err));
        for (const QStringList& args : {QStringList{"bench", "--device", "tpu"}, QStringList{"bench", "--dtype", "fp8"},
                                        QStringList{"bench", "--iterations", "0"}, QStringList{"bench", "--warmup", "-1"},
                                        QStringList{"export", "--csv", "x", "--rounding", "foo"},
                                        QStringList{"run", "demo", "--loader-threads", "-3"}}) {
            const auto r = runCaspl(args);
            QVERIFY2(r.exitCode == 2, qPrintable(args.join(' ') + " -> " + QString::number(r.exitCode) + ": " + r.err));
        }
        const auto none = runCaspl({"bench", "--only", "no_figure_has_this_name"});
        QCOMPARE(none.exitCode, 2);
        QVERIFY2(none.err.contains("matches no figure"), qPrintable(none.err));
    }

    // export --csv says what is wrong with a folder that is not a finished run.
    void exportNamesWhatIsNotARun() {
        const QDir tmp(caspl::test::tempDir());
        QDir().mkpath(tmp.filePath("not_a_run"));
        QFile file(tmp.filePath("a_file"));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.close();
        const QList<QPair<QString, QString>> cases{{tmp.filePath("no_such_folder"), "no such run folder"},
                                                   {tmp.filePath("a_file"), "is a file, expected a run folder"},
                                                   {tmp.filePath("not_a_run"), "not a run folder (no config.yaml)"}};
        for (const auto& [path, message] : cases) {
            const auto r = runCaspl({"export", "--csv", path});
            QCOMPARE(r.exitCode, 3);
            QVERIFY2(r.err.contains(message), qPrintable(r.err));
        }
    }

    // `caspl run PRESET` names the run folder after the whole preset name (two methods' presets for one dataset
    // get two folders), and `caspl export --csv` rounds each run by its own eval.rounding, whatever the order.
    // A sweep: every combination of the values, each in a folder named after them, then a table of them all.
    void sweepRunsEveryCombination() {
        CASPL_REQUIRE_TINY_FIXTURES();
        const QString base = QDir(caspl::test::tempDir()).filePath("sweep");
        caspl::test::TinyExperimentOptions o;
        o.seeds = "[1]";
        o.trainEpochs = 2;
        const auto t = caspl::test::makeTinyExperiment(base, o);
        const QStringList sweep{"--threads", "1", "run", t.yamlPath, "--sweep", "train.lr=0.01, 0.02", "--sweep", "phase1.lr=0.01,0.05"};
        const auto r = runCaspl(sweep);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        // Two keys end in "lr": the names carry the whole keys. The last --sweep varies fastest.
        const QStringList names{"tiny-train.lr=0.01-phase1.lr=0.01", "tiny-train.lr=0.01-phase1.lr=0.05",
                                "tiny-train.lr=0.02-phase1.lr=0.01", "tiny-train.lr=0.02-phase1.lr=0.05"};
        for (const QString& n : names) {
            const QString dir = base + "/runs/" + n;
            QVERIFY2(QFileInfo::exists(dir + "/results.csv"), qPrintable(dir));
            QFile cfg(dir + "/config.yaml");
            QVERIFY(cfg.open(QIODevice::ReadOnly));
            const QString yaml = QString::fromUtf8(cfg.readAll());
            QVERIFY2(yaml.contains("name: " + n + "\n"), qPrintable(yaml));
            const QString trainLr = n.section('=', 1, 1).section('-', 0, 0), phase1Lr = n.section('=', 2, 2);
            QVERIFY2(yaml.contains(QRegularExpression("\nphase1:\n(  [^\n]*\n)*  lr: " + QRegularExpression::escape(phase1Lr) + "\n")),
                     qPrintable(yaml));
            QVERIFY2(yaml.contains(QRegularExpression("\ntrain:\n(  [^\n]*\n)*  lr: " + QRegularExpression::escape(trainLr) + "\n")),
                     qPrintable(yaml));
        }
        QVERIFY2(r.out.contains("\nsweep: 4 runs\n"), qPrintable(r.out));
        for (const QString& n : names)
            QVERIFY2(r.out.contains(QRegularExpression("\n" + QRegularExpression::escape(n) + " +synth +2 ")), qPrintable(r.out));
        QVERIFY2(r.out.contains(QRegularExpression("\nbest HM: tiny-train\\.lr=[^ ]+ \\([0-9]+\\.[0-9]{2}\\)\n")), qPrintable(r.out));
        QVERIFY2(r.out.contains("one CSV of them all: caspl export --csv " + base + "/runs/" + names[0] + " "), qPrintable(r.out));
        // The runs side by side: the swept keys as columns (not the names), each run's figures, the best one; the
        // same as CSV, whose HM is each run's own results.csv mean HM.
        const auto table = runCaspl({"status", "--config", base + "/runs"});
        QVERIFY2(table.exitCode == 0, qPrintable(table.err));
        const QStringList tableLines = table.out.split('\n', Qt::SkipEmptyParts);
        QVERIFY2(tableLines.value(0).contains(QRegularExpression("^run +method +phase1\\.lr +train\\.lr +state +results +HM ")),
                 qPrintable(table.out));
        for (const QString& n : names) {
            const QString trainLr = n.section('=', 1, 1).section('-', 0, 0), phase1Lr = n.section('=', 2, 2);
            QVERIFY2(table.out.contains(QRegularExpression("\n" + QRegularExpression::escape(base + "/runs/" + n) + " +coop\\+caspl +" +
                                                           QRegularExpression::escape(phase1Lr) + " +" +
                                                           QRegularExpression::escape(trainLr) + " +done +1/1 +[0-9]")),
                     qPrintable(table.out));
        }
        QVERIFY2(table.out.contains(QRegularExpression("\nbest HM: " + QRegularExpression::escape(base + "/runs/tiny-") +
                                                       "[^ ]+ \\([0-9]+\\.[0-9]{2}\\)\n")),
                 qPrintable(table.out));
        // Then how each swept key went with the HM, as core computes it from the same folders.
        std::vector<std::string> sweepFolders;
        for (const QString& n : names) sweepFolders.push_back((base + "/runs/" + n).toStdString());
        const caspl::RunsTable read = caspl::readRunsTable(sweepFolders);
        const auto correlations = caspl::keyCorrelations(read, caspl::headlineFigures(read));
        // (Empty where the four runs tie on HM, which another BLAS could make them do: then nothing is printed.)
        QCOMPARE(table.out.contains("\ncorrelation with HM "), !correlations.empty());
        for (const auto& c : correlations) {
            char value[16];
            std::snprintf(value, sizeof value, "%+.2f", c.value);
            QVERIFY2(table.out.contains(QRegularExpression("\n  " + QRegularExpression::escape(QString::fromStdString(c.key)) +
                                                           " +rho " + QRegularExpression::escape(value) + "  \\(4 runs\\)\n")),
                     qPrintable(table.out));
        }
        // The same in JSON: one object per run, then the summary with the best run and the correlations.
        const auto jsonTable = runCaspl({"status", "--config", "--json", base + "/runs"});
        QVERIFY2(jsonTable.exitCode == 0, qPrintable(jsonTable.err));
        const QStringList jsonLines = jsonTable.out.trimmed().split('\n');
        QCOMPARE(jsonLines.size(), 5);
        const auto object = [](const QString& line) { return QJsonDocument::fromJson(line.toUtf8()).object(); };
        for (int i = 0; i < 4; ++i) QVERIFY2(object(jsonLines[i]).contains("folder"), qPrintable(jsonLines[i]));
        const QJsonObject summary = object(jsonLines[4]).value("summary").toObject();
        QCOMPARE(summary.value("figure").toString(), QString("hm"));
        QVERIFY2(summary.value("best").toString().startsWith(base + "/runs/tiny-"), qPrintable(jsonLines[4]));
        const QJsonArray jsonCorrelations = summary.value("correlations").toArray();
        QCOMPARE(std::size_t(jsonCorrelations.size()), correlations.size());
        for (std::size_t i = 0; i < correlations.size(); ++i) {
            const QJsonObject c = jsonCorrelations[int(i)].toObject();
            QCOMPARE(c.value("key").toString().toStdString(), correlations[i].key);
            QCOMPARE(c.value("measure").toString(), QString("rho"));
            QCOMPARE(c.value("value").toDouble(), correlations[i].value);
            QCOMPARE(c.value("runs").toInt(), 4);
        }
        // A run given twice (on its own and in its folder) is listed once.
        const auto twice = runCaspl({"status", "--config", base + "/runs", base + "/runs/" + names[0]});
        QVERIFY2(twice.exitCode == 0, qPrintable(twice.err));
        QCOMPARE(twice.out.count(base + "/runs/" + names[0] + " "), 1);
        // A folder whose config.yaml does not load (a newer version's key) is listed as unreadable, with the reason;
        // the other runs are still shown.
        const QString newer = base + "/other_runs/newer";
        QDir().mkpath(newer);
        QVERIFY(QFile::copy(base + "/runs/" + names[0] + "/config.yaml", newer + "/config.yaml"));
        {
            QFile f(newer + "/config.yaml");
            QVERIFY(f.open(QIODevice::Append));
            f.write("future_option: 3\n");
        }
        const auto plain = runCaspl({"status", base + "/runs/" + names[0], newer});
        QVERIFY2(plain.exitCode == 0, qPrintable(plain.err));
        QVERIFY2(plain.out.contains(QRegularExpression("\n" + QRegularExpression::escape(newer) + " +unreadable ")), qPrintable(plain.out));
        QVERIFY2(plain.out.contains("future_option"), qPrintable(plain.out));
        QVERIFY2(plain.out.contains(base + "/runs/" + names[0] + " "), qPrintable(plain.out));
        const QString runsCsv = base + "/runs.csv";
        const auto exported = runCaspl({"export", "--runs", base + "/runs", "--out", runsCsv});
        QVERIFY2(exported.exitCode == 0 && exported.err.contains("(4 runs, 2 differing keys)"), qPrintable(exported.err));
        QFile csvFile(runsCsv);
        QVERIFY(csvFile.open(QIODevice::ReadOnly));
        const auto csvRows = caspl::parseCsv(csvFile.readAll().toStdString(), runsCsv.toStdString());
        QCOMPARE(int(csvRows.size()), 5);
        QCOMPARE(csvRows[0], (std::vector<std::string>{"folder", "run", "method", "state", "evaluated", "evaluations", "phase1.lr",
                                                       "train.lr", "base", "novel", "hm", "all", "runtime_s", "tags", "note"}));
        for (std::size_t i = 1; i < csvRows.size(); ++i) {
            const auto& row = csvRows[i];
            const QString n = QString::fromStdString(row[1]);
            QVERIFY2(names.contains(n), qPrintable(n));
            QCOMPARE(QString::fromStdString(row[6]), n.section('=', 2, 2));
            QCOMPARE(QString::fromStdString(row[7]), n.section('=', 1, 1).section('-', 0, 0));
            std::optional<double> meanHm;
            for (const auto& rr : caspl::readResultsCsv((base + "/runs/" + n + "/results.csv").toStdString()))
                if (rr.kind == "mean") meanHm = rr.hm;
            QVERIFY(meanHm);
            QCOMPARE(QString::fromStdString(row[10]), QString::number(*meanHm, 'f', 2));
        }

        // Notes and tags: written and printed by `caspl notes`, shown by status --config, selecting runs by tag.
        const QString first = base + "/runs/" + names[0], second = base + "/runs/" + names[1];
        const auto noted = runCaspl({"notes", first, second, "--tag", "lr-sweep,fig 3", "--note", "the paper's lr\nand a second line"});
        QVERIFY2(noted.exitCode == 0, qPrintable(noted.err));
        QVERIFY2(noted.out.contains(first + "\n  tags: fig 3, lr-sweep\n  note: the paper's lr\n        and a second line\n"),
                 qPrintable(noted.out));
        QCOMPARE(runCaspl({"notes", second, "--untag", "fig 3"}).exitCode, 0);
        const auto shown = runCaspl({"notes", second});
        QVERIFY2(shown.out.contains("  tags: lr-sweep\n"), qPrintable(shown.out));
        const auto tagged = runCaspl({"status", "--config", "--tag", "fig 3", base + "/runs"});
        QVERIFY2(tagged.exitCode == 0, qPrintable(tagged.err));
        QVERIFY2(tagged.out.contains(first + " ") && !tagged.out.contains(second + " ") &&
                     tagged.out.split('\n').value(0).contains(QRegularExpression("^run +method +tags +state ")),  // one run: no key differs
                 qPrintable(tagged.out));
        const auto noneTagged = runCaspl({"export", "--runs", "--tag", "no-such-tag", base + "/runs"});
        QVERIFY2(noneTagged.exitCode == 0 && noneTagged.err.contains("none of the 4 runs have the tag no-such-tag"), qPrintable(noneTagged.err));
        const auto taggedCsv = runCaspl({"export", "--runs", "--tag", "lr-sweep", base + "/runs"});
        const auto taggedRows = caspl::parseCsv(taggedCsv.out.toStdString(), "stdout");
        QCOMPARE(int(taggedRows.size()), 3);
        QCOMPARE(taggedRows[1][taggedRows[1].size() - 2], std::string("fig 3, lr-sweep"));
        QCOMPARE(taggedRows[1].back(), std::string("the paper's lr\nand a second line"));
        QCOMPARE(taggedRows[2][taggedRows[2].size() - 2], std::string("lr-sweep"));
        for (const QStringList& bad : {QStringList{"notes", first, "--tag", QString(65, QChar(0x78))}, QStringList{"notes", first, "--tag", "x", "--untag", "x"},
                                       QStringList{"notes", first, "--clear", "--tag", "x"}, QStringList{"status", "--tag", "a\tb"},
                                       QStringList{"export", "--tag", "x", first}, QStringList{"status", "--tag", ""},
                                       QStringList{"notes", first, "--tag", ",,"}, QStringList{"run", "any.yaml", "--set", "train.lr"},
                                       QStringList{"presets", "show", "base2novel/coop/dtd", "--set", "=3"}}) {
            const auto r = runCaspl(bad);
            QVERIFY2(r.exitCode == 2, qPrintable(bad.join(' ') + " -> " + QString::number(r.exitCode) + ": " + r.err));
        }
        // A malformed notes.json: named, and nothing is changed (not even the runs before it); --tag selections
        // name it instead of dropping the run silently; --clear is the way out.
        caspl::writeFileAtomically((second + "/notes.json").toStdString(), "{\"tags\": [\"x\",]}");
        const auto stopped = runCaspl({"notes", first, second, "--tag", "more"});
        QVERIFY2(stopped.exitCode == 3 && stopped.err.contains(second + "/notes.json: not valid JSON"), qPrintable(stopped.err));
        QVERIFY(!runCaspl({"notes", first}).out.contains("more"));
        const auto warned = runCaspl({"status", "--tag", "lr-sweep", base + "/runs"});
        QVERIFY2(warned.exitCode == 0 && warned.err.contains("warning: " + second + "/notes.json"), qPrintable(warned.err));
        QCOMPARE(runCaspl({"notes", first, second, "--clear"}).exitCode, 0);
        QVERIFY(!QFileInfo::exists(first + "/notes.json"));
        QVERIFY(!QFileInfo::exists(second + "/notes.json"));

        // The runs as a paper's table: one base-to-novel table of the dataset, a row per run (the same method:
        // labelled with its folder's name), the best of each column in bold; LaTeX into a file.
        const auto md = runCaspl({"export", "--table", "markdown", first, second});
        QVERIFY2(md.exitCode == 0, qPrintable(md.err));
        QVERIFY2(md.out.startsWith("| synth | Base | Novel | HM |\n|---|---:|---:|---:|\n| CoOp + CasPL [" + names[0] + "] | "),
                 qPrintable(md.out));
        QVERIFY2(md.out.contains("| CoOp + CasPL [" + names[1] + "] | "), qPrintable(md.out));
        // Each row's HM is its run's results.csv mean HM, in bold for the larger one (both when equal).
        std::vector<double> hms;
        for (const QString& n : {names[0], names[1]})
            for (const auto& rr : caspl::readResultsCsv((base + "/runs/" + n + "/results.csv").toStdString()))
                if (rr.kind == "mean" && rr.hm) hms.push_back(*rr.hm);
        QCOMPARE(int(hms.size()), 2);
        for (int i = 0; i < 2; ++i) {
            const QString hm = QString::number(hms[std::size_t(i)], 'f', 2);
            const bool best = hm.toDouble() >= QString::number(hms[std::size_t(1 - i)], 'f', 2).toDouble();  // as printed
            const QString rowEnd = best ? " **" + hm + "** |\n" : " " + hm + " |\n";
            const QString line = md.out.section('\n', 2 + i, 2 + i) + "\n";
            QVERIFY2(line.startsWith("| CoOp + CasPL [" + names[i] + "] | ") && line.endsWith(rowEnd), qPrintable(line + " vs " + rowEnd));
        }
        const QString tex = base + "/table.tex";
        const auto latex = runCaspl({"export", "--table", "latex", "--out", tex, first, second});
        QVERIFY2(latex.exitCode == 0, qPrintable(latex.err));
        QFile texFile(tex);
        QVERIFY(texFile.open(QIODevice::ReadOnly));
        const QString texText = QString::fromUtf8(texFile.readAll());
        QVERIFY2(texText.startsWith("\\begin{tabular}{lccc}\n\\toprule\nsynth & Base & Novel & HM \\\\\n") &&
                     texText.contains("\\textbf{"),
                 qPrintable(texText));
        QCOMPARE(runCaspl({"export", "--table", "html", first}).exitCode, 2);
        QCOMPARE(runCaspl({"export", "--table", "latex", "--runs", first}).exitCode, 2);
        QCOMPARE(runCaspl({"export", "--with-reference", first}).exitCode, 2);  // only with --table

        // Again: every run resumes, already done.
        const auto again = runCaspl(sweep);
        QVERIFY2(again.exitCode == 0 && again.out.contains("\nsweep: 4 runs\n"), qPrintable(again.err));

        // Misuse: exit code 2, before anything runs.
        const auto usage = [&](const QStringList& extra, const QString& says) {
            const auto u = runCaspl(QStringList{"run", t.yamlPath} + extra);
            QVERIFY2(u.exitCode == 2 && u.err.contains(says), qPrintable(u.err));
        };
        usage({"--sweep", "train.lr"}, "expected KEY=V1,V2,...");
        usage({"--sweep", "train.lr=0.01,,0.02"}, "an empty value");
        usage({"--sweep", "train.lr=0.01,0.01"}, "the value 0.01 is given twice");
        usage({"--sweep", "train.lr=0.01", "--sweep", "train.lr=0.02"}, "--sweep train.lr is given twice");
        usage({"--set", "train.lr=0.01", "--sweep", "train.lr=0.02,0.03"}, "--sweep train.lr: the key is also set (train.lr=0.01); keep one");
        usage({"--sweep", "train.lr=0.01,0.02", "--run-dir", base + "/x"}, "--run-dir names one run folder");
        usage({"--sweep", "data.seeds=[1,2"}, "a bracket is not closed");
        usage({"--sweep", "output=a,b"}, "--sweep output: names or documents the experiment");
        usage({"--sweep", "method.ctx_init=a b,a_b"}, "would both run into tiny-ctx_init=a_b");
        usage({"--sweep", "train.lr=0.01,1e-2"}, "'tiny-lr=0.01' and 'tiny-lr=1e-2' are the same experiment");
        usage({"--sweep", "data.loader_threads=1,2"}, "are the same experiment");  // how the machine is used, not what runs
        {
            // Two files with the same stem go to the same run folder: refused before anything runs.
            const QString twin = base + "/twin/" + QFileInfo(t.yamlPath).fileName();
            QDir().mkpath(QFileInfo(twin).path());
            QFile::remove(twin);
            QVERIFY(QFile::copy(t.yamlPath, twin));
            const auto u = runCaspl({"run", t.yamlPath, twin});
            QVERIFY2(u.exitCode == 2 && u.err.contains("both go to " + base + "/runs/tiny"), qPrintable(u.err));
        }
        // A bad value is bad input (exit 3) naming its key; a list value stays whole (data.seeds loads, train.lr not).
        const auto bad = runCaspl({"run", t.yamlPath, "--sweep", "data.seeds=[1, 2],[3]", "--sweep", "train.lr=0.01,abc"});
        QCOMPARE(bad.exitCode, 3);
        QVERIFY2(bad.err.contains("--sweep train.lr=abc") && !bad.err.contains("data.seeds"), qPrintable(bad.err));
        QVERIFY(!QFileInfo::exists(base + "/runs/tiny-seeds=_1__2_-lr=0.01"));  // nothing ran

        // A run that fails does not stop the others: a dataset one value names is missing (found only when that run
        // reads its data), the next value runs; the table names the failure; exit code 3 (bad input).
        const auto partly = runCaspl({"--threads", "1", "run", t.yamlPath, "--sweep", "data.datasets=[nosuch],[synth]"});
        QCOMPARE(partly.exitCode, 3);
        QVERIFY2(partly.err.contains("tiny-datasets=_nosuch_ failed: ") && partly.err.contains("nosuch"), qPrintable(partly.err));
        QVERIFY(QFileInfo::exists(base + "/runs/tiny-datasets=_synth_/results.csv"));
        QVERIFY2(partly.out.contains(QRegularExpression("\ntiny-datasets=_nosuch_ +failed: ")) &&
                     partly.out.contains(QRegularExpression("\ntiny-datasets=_synth_ +synth +2 ")) &&
                     partly.out.contains("best HM: tiny-datasets=_synth_ "),
                 qPrintable(partly.out));
        // So does a batch of experiments: the first fails on its dataset, the second still runs; a table of both.
        const QString failing = base + "/batch_a.yaml", passing = base + "/batch_b.yaml";
        {
            QFile in(t.yamlPath);
            QVERIFY(in.open(QIODevice::ReadOnly));
            const QString yaml = QString::fromUtf8(in.readAll());
            caspl::writeFileAtomically(failing.toStdString(),
                                       QString(yaml).replace("name: tiny", "name: batch_a").replace("[synth]", "[nosuch]").toStdString());
            caspl::writeFileAtomically(passing.toStdString(), QString(yaml).replace("name: tiny", "name: batch_b").toStdString());
        }
        const auto batch = runCaspl({"--threads", "1", "run", failing, passing});
        QCOMPARE(batch.exitCode, 3);
        QVERIFY2(batch.out.contains("\nbatch: 2 runs\n") && batch.out.contains(QRegularExpression("\nbatch_a +failed: ")) &&
                     batch.out.contains(QRegularExpression("\nbatch_b +synth +2 ")),
                 qPrintable(batch.out));
        QVERIFY(QFileInfo::exists(base + "/runs/batch_b/results.csv"));
    }

    void presetRunFoldersAndExportRounding() {
        CASPL_REQUIRE_TINY_FIXTURES();
        const QString base = QDir(caspl::test::tempDir()).filePath("preset_runs");
        caspl::test::TinyExperimentOptions o;
        o.seeds = "[1]";
        const auto t = caspl::test::makeTinyExperiment(base, o);
        QFile f(t.yamlPath);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QString yaml = QString::fromUtf8(f.readAll()).remove(QRegularExpression("^name: [^\n]*\n"));
        f.close();
        const QString presets = base + "/presets";
        const auto writePreset = [&](const QString& name, const QString& text) {
            QDir().mkpath(QFileInfo(presets + "/" + name).path());
            caspl::writeFileAtomically((presets + "/" + name).toStdString(), text.toStdString());
        };
        // The first names published numbers to compare with (any K, its dataset and method).
        writePreset("b2n/coop/synth.yaml", yaml + "reference:\n  source: \"made up for the test\"\n  base: 50.0\n"
                                                  "  novel: 25.0\n");
        writePreset("b2n/coop_paper/synth.yaml",
                    QString(yaml).replace("rounding: none", "rounding: paper").replace("seeds: [1]", "seeds: [2]"));
        writePreset("b2n/coop_lr/synth.yaml", QString(yaml).replace("lr: 0.01\n  device", "lr: 0.02\n  device"));
        const QString out = base + "/out";
        for (const char* preset : {"b2n/coop/synth", "b2n/coop_paper/synth", "b2n/coop_lr/synth"}) {
            const auto r = runCaspl({"--threads", "1", "run", preset, "--presets-dir", presets, "--output", out});
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
            // The summary table sets the run against its reference: the published numbers, then the difference.
            const bool hasReference = QString(preset) == "b2n/coop/synth";
            QVERIFY2(r.out.contains(QRegularExpression("\n  reference +50\\.00 +25\\.00 +- +33\\.33\n")) == hasReference,
                     qPrintable(r.out));
            QVERIFY2(r.out.contains(QRegularExpression("\n  difference +[+-][0-9]+\\.[0-9]{2} ")) == hasReference, qPrintable(r.out));
            QVERIFY(r.out.contains("(reference: made up for the test)") == hasReference);
        }
        const QString exact = out + "/b2n_coop_synth", paper = out + "/b2n_coop_paper_synth";
        QVERIFY(QFileInfo::exists(exact + "/results.csv") && QFileInfo::exists(paper + "/results.csv"));

        // Accuracies with many decimals (the tiny runs score k/6), so that rounding shows.
        const auto setAccuracies = [](const QString& run, const QString& value) {
            QFile rf(run + "/result.json");
            QVERIFY(rf.open(QIODevice::ReadOnly));
            QString text = QString::fromUtf8(rf.readAll());
            rf.close();
            text.replace(QRegularExpression("\"accuracy\": *[0-9.eE+-]+"), "\"accuracy\": " + value);
            caspl::writeFileAtomically((run + "/result.json").toStdString(), text.toStdString());
        };
        setAccuracies(exact, "33.33333333");
        setAccuracies(paper, "66.66666667");
        // The seed rows of the CSV (kind,dataset,method,shots,seed,...).
        const auto seedRow = [](const QString& csv, const QString& seed) {
            for (const QString& line : csv.split('\n'))
                if (line.startsWith("seed,") && line.section(',', 4, 4) == seed) return line;
            return QString();
        };
        const auto alone = runCaspl({"export", "--csv", exact});
        const auto ab = runCaspl({"export", "--csv", exact, paper});
        const auto ba = runCaspl({"export", "--csv", paper, exact});
        QCOMPARE(alone.exitCode, 0);
        QCOMPARE(ab.exitCode, 0);
        QCOMPARE(ba.exitCode, 0);
        const QString row1 = seedRow(alone.out, "1");
        QVERIFY2(row1.contains(",33.333"), qPrintable(alone.out));  // rounding: none, as the run says
        QCOMPARE(seedRow(ab.out, "1"), row1);
        QCOMPARE(seedRow(ba.out, "1"), row1);
        for (const QString& csv : {ab.out, ba.out}) {
            const QString row2 = seedRow(csv, "2");
            QVERIFY2(row2.contains(",66.7,") && !row2.contains("66.66"), qPrintable(csv));  // rounding: paper
        }
        // --rounding applies one setting to every run.
        QVERIFY(seedRow(runCaspl({"export", "--csv", exact, paper, "--rounding", "paper"}).out, "1").contains(",33.3,"));

        // Two runs of one method on the same seeds (another learning rate) keep their own rows, labelled by folder.
        const auto sweep = runCaspl({"export", "--csv", exact, out + "/b2n_coop_lr_synth"});
        QVERIFY2(sweep.exitCode == 0, qPrintable(sweep.err));
        QVERIFY2(sweep.out.contains(",coop+caspl [b2n_coop_synth],") && sweep.out.contains(",coop+caspl [b2n_coop_lr_synth],"),
                 qPrintable(sweep.out));
        QVERIFY(sweep.err.contains("their rows carry the run folder's name"));
        // Each run's reference rides with its rows: in the run's own results.csv, and labelled in the sweep's export.
        QFile own(exact + "/results.csv");
        QVERIFY(own.open(QIODevice::ReadOnly));
        QVERIFY2(QString::fromUtf8(own.readAll()).contains("\r\nreference,synth,coop+caspl,"), qPrintable(exact));
        QVERIFY2(sweep.out.contains("\r\nreference,synth,coop+caspl [b2n_coop_synth],") &&
                     !sweep.out.contains("reference,synth,coop+caspl [b2n_coop_lr_synth]"),
                 qPrintable(sweep.out));

        // Per-class accuracy of two runs: each split's classes and its macro row, per run; one seed, so no means.
        const QString perClassCsv = base + "/per_class.csv";
        const auto pc = runCaspl({"export", "--per-class", exact, out + "/b2n_coop_lr_synth", "--out", perClassCsv});
        QVERIFY2(pc.exitCode == 0, qPrintable(pc.err));
        QVERIFY2(pc.err.contains("wrote " + perClassCsv + " (4 evaluations)"), qPrintable(pc.err));
        QFile pcf(perClassCsv);
        QVERIFY(pcf.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(pcf.readAll()).split('\n', Qt::SkipEmptyParts);
        QVERIFY(lines.value(0).startsWith("kind,run,dataset,method,shots,seed,n,split,class,classname,images,correct,accuracy"));
        QMap<QString, int> kinds;
        for (const QString& l : lines.mid(1)) ++kinds[l.section(',', 0, 0) + " " + l.section(',', 1, 1) + " " + l.section(',', 7, 7)];
        for (const QString& run : {QString("b2n_coop_synth"), QString("b2n_coop_lr_synth")})
            for (const QString& split : {QString("base"), QString("novel")}) {
                QVERIFY2(kinds.value("class " + run + " " + split) > 0, qPrintable(lines.join('\n')));
                QCOMPARE(kinds.value("macro " + run + " " + split), 1);
            }
        QVERIFY(!lines.join('\n').contains("class_mean"));
        // The macro row's images and correct are the result's: the seed row of results.csv has the same counts.
        const auto own2 = runCaspl({"export", "--csv", exact});
        int macroRows = 0;
        for (const QString& l : lines)
            if (l.startsWith("macro,b2n_coop_synth,") && l.section(',', 7, 7) == "base") {
                ++macroRows;
                const QString counts = l.section(',', 11, 11) + "," + l.section(',', 10, 10);  // correct,images
                QVERIFY2(seedRow(own2.out, "1").contains("," + counts + ","), qPrintable(l + " / " + own2.out));
            }
        QCOMPARE(macroRows, 1);
        // The confusion matrices in long form: per evaluation, the diagonal cells are the per-class rows' correct
        // predictions and each class's cells add up to its images.
        const auto cm = runCaspl({"export", "--confusion", exact});
        QVERIFY2(cm.exitCode == 0, qPrintable(cm.err));
        const QStringList cmLines = cm.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(cmLines.value(0), QString("run,dataset,method,shots,seed,split,class,classname,predicted,predicted_name,images,percent"));
        QMap<QString, qint64> cellImages, diagonal;
        for (const QString& l : cmLines.mid(1)) {
            const QStringList f = l.split(',');
            QCOMPARE(f.size(), 12);  // the synthetic class names hold no comma
            const QString cls = f[5] + "/" + f[6];
            cellImages[cls] += f[10].toLongLong();
            if (f[6] == f[8]) diagonal[cls] = f[10].toLongLong();
        }
        int checked = 0;
        for (const QString& l : lines)
            if (l.startsWith("class,b2n_coop_synth,")) {
                const QStringList f = l.split(',');
                const QString cls = f[7] + "/" + f[8];
                QCOMPARE(cellImages.value(cls), f[10].toLongLong());
                QCOMPARE(diagonal.value(cls), f[11].toLongLong());
                ++checked;
            }
        QVERIFY(checked > 0);
        QCOMPARE(runCaspl({"export", "--confusion", "--per-class", exact}).exitCode, 2);
        // Options it cannot go with, and runs without per-class results.
        QCOMPARE(runCaspl({"export", "--per-class", "--curves", exact}).exitCode, 2);
        QCOMPARE(runCaspl({"export", "--per-class", "--tensorboard", base + "/tb", exact}).exitCode, 2);
        for (const QString& f : QDir(exact + "/synth").entryList({"k*_seed*"}, QDir::Dirs))
            QVERIFY(QFile::remove(exact + "/synth/" + f + "/per_class.json"));
        const auto none = runCaspl({"export", "--per-class", exact});
        QCOMPARE(none.exitCode, 3);
        QVERIFY2(none.err.contains("no per-class results") && none.err.contains("caspl eval " + exact), qPrintable(none.err));
        // caspl eval writes them without training.
        QCOMPARE(runCaspl({"--threads", "1", "eval", exact}).exitCode, 0);
        const auto after = runCaspl({"export", "--per-class", exact});
        QCOMPARE(after.exitCode, 0);
        QVERIFY2(after.out.contains("\nmacro,b2n_coop_synth,synth,coop+caspl,") && after.err.isEmpty(), qPrintable(after.out + after.err));
        // A seed folder with results but no per-class file: exported without it, and named.
        QVERIFY(QDir().mkpath(exact + "/synth/k2_seed9"));
        QVERIFY(QFile::copy(exact + "/synth/k2_seed1/result.json", exact + "/synth/k2_seed9/result.json"));
        const auto partial = runCaspl({"export", "--per-class", exact});
        QCOMPARE(partial.exitCode, 0);
        QVERIFY2(partial.err.contains("1 seed folder has results but no per-class results") && partial.err.contains("k2_seed9"),
                 qPrintable(partial.err));
    }

    void missingCommandIsUsageError() {
        const auto r = runCaspl({});
        QCOMPARE(r.exitCode, 2);
    }
};

CASPL_REGISTER_TEST(CliTest);
#include "test_cli.moc"
