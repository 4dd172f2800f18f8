// The runs table (core/experiment/runs_table): configurations flattened to dotted keys, the keys that differ between
// runs, the best run, the CSV, and run folders read from disk (one that does not load is a row, not a failure).
#include "made_data.h"
#include "test_support.h"
#include "tiny_experiment.h"

#include "core/engine/run_status.h"
#include "core/experiment/results.h"
#include "core/experiment/run_notes.h"
#include "core/experiment/runs_table.h"
#include "core/experiment/spec_loader.h"
#include "core/engine/event_log.h"
#include "core/util/atomic_file.h"
#include "core/util/dir_lock.h"
#include "core/util/error.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <limits>

#include <string>
#include <thread>

using namespace caspl;

namespace {

RunsTableRow row(const std::string& folder, const FlatConfig& config, std::optional<double> hm = std::nullopt,
                 std::optional<double> all = std::nullopt) {
    RunsTableRow r;
    r.status.folder = folder;
    r.status.name = folder;
    r.status.state = "done";
    r.status.hm = hm;
    r.status.accuracy = all;
    r.config = config;
    return r;
}

// A run folder of the tiny experiment with `train.lr` = lr, and one seed's base/novel results when given.
QString makeRun(const QString& base, const QString& name, const QString& lr, std::optional<std::pair<int, int>> correct) {
    const QString dir = base + "/runs/" + name;
    QDir().mkpath(dir);
    caspl::test::TinyExperimentOptions o;
    o.name = name;
    QString yaml = caspl::test::tinyExperimentYaml(base, o);
    yaml.replace("train:\n  epochs: 3\n  batch_size: 2\n  lr: 0.01\n", "train:\n  epochs: 3\n  batch_size: 2\n  lr: " + lr + "\n");
    writeFileAtomically((dir + "/config.yaml").toStdString(), yaml.toStdString());
    writeFileAtomically((dir + "/run.json").toStdString(), "{\"status\": \"done\"}");
    if (correct) caspl::test::writeBaseNovelResult(dir, correct->first, correct->second);
    return dir;
}

}  // namespace

class RunsTableTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void flattensYamlToDottedKeys() {
        const FlatConfig f = flattenYaml("name: x\ntrain:\n  lr: 0.002\n  sched: {kind: cosine}\ndata:\n  seeds: [1, 2, 3]\n"
                                         "  root:\nmethod: coop\n",
                                         "a.yaml");
        const FlatConfig expected{{"name", "x"},         {"train.lr", "0.002"}, {"train.sched.kind", "cosine"},
                                  {"data.seeds", "[1, 2, 3]"}, {"data.root", "null"}, {"method", "coop"}};
        QVERIFY(f == expected);
        QVERIFY(flattenYaml("", "empty.yaml").empty());
        try {
            flattenYaml("train:\n  lr: [1, 2\n", "bad.yaml");
            QFAIL("malformed YAML was accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).startsWith("bad.yaml:3:"), e.what());
        }
    }

    // Only the keys whose values differ between the runs that have them get columns, never the ones naming a run; a
    // run without the key (one for which it has no effect) has a blank there, and does not make it differ.
    void keepsTheKeysThatDiffer() {
        const RunsTable t = makeRunsTable({
            row("a", {{"name", "a"}, {"output", "runs/a"}, {"reference.base", "80"}, {"train.lr", "0.002"}, {"train.epochs", "10"},
                      {"method.name", "coop"}, {"method.csc", "false"}, {"phase1.epochs", "5"}},
                70.0),
            row("b", {{"name", "b"}, {"output", "runs/b"}, {"reference.base", "81"}, {"train.lr", "0.004"}, {"train.epochs", "10"},
                      {"method.name", "coop"}, {"method.csc", "true"}},
                72.5),
            row("c", {{"name", "c"}, {"output", "runs/c"}, {"train.lr", "0.008"}, {"train.epochs", "10"}, {"method.name", "coop"}}),
        });
        QCOMPARE(t.keys, (std::vector<std::string>{"train.lr", "method.csc"}));
        QCOMPARE(t.rows[0].values, (std::vector<std::string>{"0.002", "false"}));
        QCOMPARE(t.rows[1].values, (std::vector<std::string>{"0.004", "true"}));
        QCOMPARE(t.rows[2].values, (std::vector<std::string>{"0.008", ""}));
        QVERIFY(t.best && *t.best == 1);

        // One run with a figure: no best; no HM anywhere: the accuracy on all classes decides.
        QVERIFY(!makeRunsTable({row("a", {}, 70.0), row("b", {})}).best);
        const RunsTable byAll = makeRunsTable({row("a", {}, std::nullopt, 60.0), row("b", {}, std::nullopt, 40.0), row("c", {})});
        QVERIFY(byAll.best && *byAll.best == 0);
        QVERIFY(makeRunsTable({row("a", {{"k", "1"}})}).keys.empty());  // one run: nothing differs
    }

    // A run's row leaves out the keys that have no effect on it (inertKeys): a CoOp run beside PromptSRC runs has no
    // loss weights, and the PromptSRC runs' weights are a column only where they differ among them.
    void inertKeysAreLeftOutOfARunsRow() {
        const auto spec = [](const std::string& method) {
            return loadExperimentFromString("method: {" + method + "}\ndata: {datasets: [OxfordPets]}\n", "x.yaml", ".");
        };
        const auto has = [](const FlatConfig& f, const std::string& key) {
            return std::any_of(f.begin(), f.end(), [&](const auto& kv) { return kv.first == key; });
        };
        const FlatConfig coop = runConfig(spec("name: coop"), "coop");
        const FlatConfig src25 = runConfig(spec("name: promptsrc"), "src25");
        const FlatConfig src10 = runConfig(spec("name: promptsrc, text_loss_weight: 10"), "src10");
        QVERIFY(has(coop, "train.lr") && has(coop, "method.csc"));
        QVERIFY(!has(coop, "method.text_loss_weight") && !has(coop, "method.gpa_mean"));
        QVERIFY(!has(coop, "models.teacher") && !has(coop, "phase1.epochs"));  // phase 1 off
        QVERIFY(has(src25, "method.text_loss_weight"));

        const RunsTable two = makeRunsTable({row("coop", coop), row("src25", src25)});
        QVERIFY(std::find(two.keys.begin(), two.keys.end(), "method.name") != two.keys.end());
        QVERIFY(std::find(two.keys.begin(), two.keys.end(), "method.text_loss_weight") == two.keys.end());
        const RunsTable three = makeRunsTable({row("coop", coop), row("src25", src25), row("src10", src10)});
        const auto k = std::find(three.keys.begin(), three.keys.end(), "method.text_loss_weight") - three.keys.begin();
        QVERIFY(std::size_t(k) < three.keys.size());
        QCOMPARE(three.rows[0].values[k], std::string());
        QCOMPARE(configNumber(three.rows[1].values[k]), std::optional<double>(25));
        QCOMPARE(configNumber(three.rows[2].values[k]), std::optional<double>(10));
    }

    // The axes of the parallel-coordinates plot: numbers on a linear or (spanning a factor of 10, all positive) log
    // scale, text as sorted categories spread evenly, a run without the key off the axis, the labels.
    void parallelCoordinateAxes() {
        QCOMPARE(configNumber("5e-4").value_or(0), 5e-4);
        QVERIFY(!configNumber("0.002 "));
        QVERIFY(!configNumber("ViT-B/16"));
        QVERIFY(!configNumber("inf"));
        QVERIFY(!configNumber(""));
        // A list of one number (a shots or seeds sweep's data.shots) is that number; a longer list is text.
        QCOMPARE(configNumber("[4]").value_or(0), 4.0);
        QCOMPARE(configNumber("[ 16 ]").value_or(0), 16.0);
        QVERIFY(!configNumber("[1, 2]"));
        QVERIFY(!configNumber("[]"));
        QVERIFY(!configNumber("[[1]]"));
        QVERIFY(!configNumber("[a]"));
        const ParallelAxis shots = makeParallelAxis("data.shots", {"[1]", "[16]", "[4]"});
        QVERIFY(shots.numeric && shots.logScale);
        QCOMPARE(shots.position("[16]").value_or(-1), 1.0);

        const ParallelAxis lr = makeParallelAxis("train.lr", {"0.002", "5e-4", "", "0.02", "0.002"});
        QVERIFY(lr.numeric);
        QVERIFY(lr.logScale);  // 5e-4 .. 0.02: a factor of 40
        QCOMPARE(lr.position("5e-4").value_or(-1), 0.0);
        QCOMPARE(lr.position("0.02").value_or(-1), 1.0);
        QCOMPARE(lr.position("0.002").value_or(-1), std::log(4.0) / std::log(40.0));
        QCOMPARE(lr.position("0.0005").value_or(-1), 0.0);  // the same number written otherwise
        QVERIFY(!lr.position(""));
        QVERIFY(!lr.position("0.5"));  // not one of the axis's range
        const auto lrTicks = lr.ticks();
        QCOMPARE(lrTicks.size(), std::size_t(3));
        QCOMPARE(lrTicks[0].second, std::string("5e-4"));  // as the runs wrote them
        QCOMPARE(lrTicks[1].second, std::string("0.002"));
        QCOMPARE(lrTicks[2].second, std::string("0.02"));

        const ParallelAxis ctx = makeParallelAxis("method.n_ctx_text", {"4", "8", "6"});
        QVERIFY(ctx.numeric);
        QVERIFY(!ctx.logScale);  // a factor of 2
        QCOMPARE(ctx.position("6").value_or(-1), 0.5);
        QCOMPARE(makeParallelAxis("k", {"0", "0.0005"}).logScale, false);  // zero: no log scale

        const ParallelAxis student = makeParallelAxis("model.student", {"ViT-B/32", "ViT-B/16", "", "ViT-B/32"});
        QVERIFY(!student.numeric);
        QCOMPARE(student.categories, (std::vector<std::string>{"ViT-B/16", "ViT-B/32"}));
        QCOMPARE(student.position("ViT-B/16").value_or(-1), 0.0);
        QCOMPARE(student.position("ViT-B/32").value_or(-1), 1.0);
        QVERIFY(!student.position("ViT-L/14"));
        QCOMPARE(makeParallelAxis("method.name", {"coop"}).position("coop").value_or(-1), 0.5);
        QCOMPARE(makeParallelAxis("train.lr", {"0.002", "0.002"}).position("0.002").value_or(-1), 0.5);
        QCOMPARE(makeParallelAxis("a", {"1", "x"}).numeric, false);  // one text value: all categories

        // More than 8 values: the ends and three between (linear), or the powers of ten (log).
        std::vector<std::string> many;
        for (int i = 0; i <= 10; ++i) many.push_back(std::to_string(i));
        const auto linearTicks = makeParallelAxis("k", many).ticks();
        QCOMPARE(linearTicks.size(), std::size_t(5));
        QCOMPARE(linearTicks[1], (std::pair<double, std::string>{0.25, "2.5"}));
        QCOMPARE(linearTicks[4], (std::pair<double, std::string>{1.0, "10"}));
        const auto logTicks = makeParallelAxis("k", {"2e-5", "3e-5", "5e-5", "1e-4", "2e-4", "5e-4", "1e-3", "3e-3", "0.02"}).ticks();
        QCOMPARE(logTicks.size(), std::size_t(5));  // 2e-5, 1e-4, 1e-3, 0.01, 0.02
        QCOMPARE(logTicks[1].second, std::string("0.0001"));
        QCOMPARE(logTicks[3].second, std::string("0.01"));
        QCOMPARE(logTicks[4].second, std::string("0.02"));

        // A figure's axis: linear, its labels with 2 decimals, the ends and three between even for a few values.
        const ParallelAxis hm = makeFigureAxis("HM (%)", {70.0, 74.0, 72.5});
        QVERIFY(hm.numeric && !hm.logScale);
        QCOMPARE(hm.position(72.0).value_or(-1), 0.5);
        const auto hmTicks = hm.ticks();
        QCOMPARE(hmTicks.size(), std::size_t(5));
        QCOMPARE(hmTicks[0].second, std::string("70.00"));
        QCOMPARE(hmTicks[2].second, std::string("72.00"));
        QCOMPARE(makeFigureAxis("HM (%)", {71.125}).ticks(), (std::vector<std::pair<double, std::string>>{{0.5, "71.12"}}));
        QVERIFY(makeFigureAxis("HM (%)", {}).ticks().empty());
        // Close figures: one label per text.
        const auto close = makeFigureAxis("HM (%)", {70.001, 70.004, 70.002}).ticks();
        QCOMPARE(close.size(), std::size_t(1));
        QCOMPARE(close[0].second, std::string("70.00"));

        // Brushed ranges: values between two positions, either order; an end of the axis taken in exactly (a log
        // axis's exp(log(x)) is not always x).
        const ParallelBrush top = ParallelBrush::between(lr, 1.0, std::log(4.0) / std::log(40.0) - 1e-9);
        QVERIFY(top.numeric);
        QCOMPARE(top.high, 0.02);
        QVERIFY(top.contains("0.02") && top.contains("0.002") && top.contains("2e-3"));
        QVERIFY(!top.contains("5e-4") && !top.contains("") && !top.contains("x"));
        QCOMPARE(lr.valueAt(0.0), 5e-4);
        QVERIFY(std::abs(lr.valueAt(0.5) - std::sqrt(5e-4 * 0.02)) < 1e-12);  // the middle of a log axis: the geometric mean
        // Kept in values: on an axis made from other runs (0.001 to 0.004, linear) it covers 0.002 up.
        const ParallelAxis narrower = makeParallelAxis("train.lr", {"0.001", "0.004"});
        const auto span = top.span(narrower);
        QVERIFY(span);
        QVERIFY(std::abs(span->first - 1.0 / 3) < 1e-7);
        QCOMPARE(span->second, 1.0);
        QVERIFY(!top.span(makeParallelAxis("train.lr", {"1e-4", "2e-4"})));  // no value of it there
        QVERIFY(!top.span(student));                                           // text axis
        const ParallelBrush b32 = ParallelBrush::between(student, 0.6, 1.2);
        QCOMPARE(b32.categories, std::vector<std::string>{"ViT-B/32"});
        QVERIFY(b32.contains("ViT-B/32") && !b32.contains("ViT-B/16"));
        QCOMPARE(b32.span(student).value_or(std::pair{-1.0, -1.0}), (std::pair{1.0, 1.0}));
        // One value on the axis (at 0.5): a range over the middle holds it, one beside it nothing.
        const ParallelAxis one = makeParallelAxis("train.lr", {"0.002"});
        QVERIFY(ParallelBrush::between(one, 0.4, 0.6).contains("0.002"));
        QVERIFY(!ParallelBrush::between(one, 0.6, 0.9).contains("0.002"));
        QVERIFY(!ParallelBrush::between(one, 0.6, 0.9).span(one));
        // A figure's range.
        const ParallelBrush high = ParallelBrush::between(hm, 0.5, 1.0);
        QVERIFY(high.contains(72.0) && high.contains(74.0) && !high.contains(71.9));
        QVERIFY(!high.contains(std::numeric_limits<double>::quiet_NaN()));
    }

    // Which keys go with the figure: Spearman's rho for numbers (ties sharing ranks), the correlation ratio for text,
    // keys without a defined value left out, strongest first.
    void keyCorrelationsRankTheKeys() {
        const auto cfg = [](const char* lr, const char* ctx, const char* student, const char* seedText) {
            return FlatConfig{{"train.lr", lr}, {"method.n_ctx_text", ctx}, {"model.student", student}, {"description", seedText},
                              {"data.note", seedText}};
        };
        RunsTable t = makeRunsTable({row("/r/a", cfg("0.001", "4", "B/16", "a"), 70.0), row("/r/b", cfg("0.002", "4", "B/32", "b"), 72.0),
                                     row("/r/c", cfg("0.004", "8", "B/16", "c"), 75.0), row("/r/d", cfg("0.008", "8", "B/32", "d"), 74.0),
                                     row("/r/e", cfg("0.016", "8", "B/32", "e"))});  // no HM: left out
        QCOMPARE(t.keys, (std::vector<std::string>{"train.lr", "method.n_ctx_text", "model.student", "data.note"}));
        const auto figures = headlineFigures(t);
        QCOMPARE(figures.size(), std::size_t(5));
        QVERIFY(!figures[4]);
        const auto c = keyCorrelations(t, figures);
        QCOMPARE(c.size(), std::size_t(3));  // data.note: every value once, nothing to average
        QCOMPARE(c[0].key, std::string("method.n_ctx_text"));  // ranks (1.5, 1.5, 3.5, 3.5) against (1, 2, 4, 3)
        QVERIFY(c[0].numeric);
        QCOMPARE(c[0].value, 4 / std::sqrt(20.0));
        QCOMPARE(c[0].runs, std::size_t(4));
        QCOMPARE(c[1].key, std::string("train.lr"));
        QCOMPARE(c[1].value, 0.8);  // 1 - 6 * 2 / (4 * 15)
        QCOMPARE(c[2].key, std::string("model.student"));
        QVERIFY(!c[2].numeric);
        QCOMPARE(c[2].value, std::sqrt(0.25 / 14.75));  // groups 72.5 and 73 around 72.75
        // A lower figure for higher values: a negative rho.
        const auto reversed = keyCorrelations(t, {75.0, 74.0, 72.0, 70.0, std::nullopt});
        QCOMPARE(reversed[0].key, std::string("train.lr"));
        QCOMPARE(reversed[0].value, -1.0);
        // Fewer than 3 runs with the figure, or the same figure for all: nothing.
        QVERIFY(keyCorrelations(t, {70.0, 72.0, std::nullopt, std::nullopt, std::nullopt}).empty());
        QVERIFY(keyCorrelations(t, {70.0, 70.0, 70.0, 70.0, 70.0}).empty());
        QVERIFY_THROWS_EXCEPTION(Error, keyCorrelations(t, {70.0}));
        // A figure that is not a number is left out like a missing one.
        const auto withNan = keyCorrelations(t, {70.0, std::numeric_limits<double>::quiet_NaN(), 75.0, 74.0, std::nullopt});
        QCOMPARE(withNan.size(), std::size_t(2));  // the student: 3 runs for 2 values, too few
        for (const auto& k : withNan) QVERIFY(std::isfinite(k.value) && k.runs == 3);
        // Five text values over six runs: eta would be high by chance alone; left out.
        std::vector<RunsTableRow> noisy;
        const char* students[] = {"a", "b", "c", "d", "e", "a"};
        const double noise[] = {70, 71, 69, 72, 70.5, 71.5};
        for (int i = 0; i < 6; ++i)
            noisy.push_back(row("/n/" + std::to_string(i), {{"model.student", students[i]}, {"train.lr", std::to_string(i + 1)}}, noise[i]));
        const RunsTable n = makeRunsTable(noisy);
        const auto nc = keyCorrelations(n, headlineFigures(n));
        QCOMPARE(nc.size(), std::size_t(1));
        QCOMPARE(nc[0].key, std::string("train.lr"));
        // Without any HM, the accuracy on all classes is the figure.
        const RunsTable all = makeRunsTable({row("/r/a", cfg("0.001", "4", "B/16", "a"), std::nullopt, 60.0),
                                             row("/r/b", cfg("0.002", "4", "B/16", "b"), std::nullopt, 61.0)});
        QCOMPARE(headlineFigures(all)[1].value_or(0), 61.0);
    }

    void csvHasOneLinePerRun() {
        RunsTable t = makeRunsTable({row("runs/a", {{"data.seeds", "[1, 2]"}}, 70.0), row("runs/b", {{"data.seeds", "[3]"}})});
        t.rows[0].status.base = 80.0;
        t.rows[0].status.novel = 62.2222;
        t.rows[0].status.method = "coop";
        t.rows[0].status.evaluated = 2;
        t.rows[0].status.evaluations = 2;
        t.rows[0].notes.tags = {"baseline", "fig 3"};
        t.rows[0].notes.note = "lr from the paper,\n\"as is\"";
        t.rows[0].status.runtime = 3725.04;
        QCOMPARE(QString::fromStdString(runsTableCsvText(t)),
                 QString("folder,run,method,state,evaluated,evaluations,data.seeds,base,novel,hm,all,runtime_s,tags,note\n"
                         "runs/a,runs/a,coop,done,2,2,\"[1, 2]\",80.00,62.22,70.00,,3725.0,\"baseline, fig 3\",\"lr from the paper,\n\"\"as is\"\"\"\n"
                         "runs/b,runs/b,,done,0,0,[3],,,,,,,\n"));
    }

    // From disk: the resolved configuration (defaults included), the results, and a folder that does not load.
    void readsRunFolders() {
        const QString base = QDir(caspl::test::tempDir()).filePath("runs_table");
        QDir(base).removeRecursively();
        const QString a = makeRun(base, "lr_a", "0.01", std::pair{80, 60});  // HM 68.57
        const QString b = makeRun(base, "lr_b", "0.02", std::pair{90, 70});  // HM 78.75
        const QString c = makeRun(base, "lr_c", "0.04", std::nullopt);
        {  // c's configuration names a default the others leave out
            QFile f(c + "/config.yaml");
            QVERIFY(f.open(QIODevice::ReadOnly));
            QString yaml = QString::fromUtf8(f.readAll());
            QVERIFY(yaml.contains("  device: cpu\n") && !yaml.contains("tensorboard"));
            yaml.replace("  device: cpu\n", "  device: cpu\n  tensorboard: true\n");
            writeFileAtomically((c + "/config.yaml").toStdString(), yaml.toStdString());
        }
        const QString bad = base + "/runs/broken";
        QDir().mkpath(bad);
        writeFileAtomically((bad + "/config.yaml").toStdString(), "name: broken\ntrain:\n  lr: [\n");
        const RunsTable t = readRunsTable({a.toStdString(), b.toStdString(), c.toStdString(), bad.toStdString()});
        QCOMPARE(int(t.rows.size()), 4);
        // The broken run is not compared (it would make every key differ): train.lr is the one column.
        QCOMPARE(t.keys, (std::vector<std::string>{"train.lr"}));
        const std::size_t k = 0;
        QVERIFY(t.rows[3].values[k].empty());
        QCOMPARE(QString::fromStdString(t.rows[0].values[k]), QString("0.01"));
        QCOMPARE(QString::fromStdString(t.rows[2].values[k]), QString("0.04"));
        QVERIFY(t.rows[0].status.hm && std::abs(*t.rows[0].status.hm - 68.5714) < 1e-3);
        QVERIFY(t.rows[1].status.base && *t.rows[1].status.base == 90.0);
        QVERIFY(t.rows[1].status.novel && *t.rows[1].status.novel == 70.0);
        QVERIFY(!t.rows[2].status.hm);
        QVERIFY(t.best && *t.best == 1);
        QCOMPARE(QString::fromStdString(t.rows[3].status.state), QString("unreadable"));
        QVERIFY2(QString::fromStdString(t.rows[3].status.message).contains("config.yaml:"), t.rows[3].status.message.c_str());

        // The readable runs alone: only train.lr differs (each run's name and output are not columns), and a key an
        // earlier version did not write gets its default instead of showing as a difference.
        const RunsTable ok = readRunsTable({a.toStdString(), b.toStdString(), c.toStdString()});
        QCOMPARE(ok.keys, (std::vector<std::string>{"train.lr"}));
        QVERIFY(!ok.rows[0].config.empty());

        // Notes and tags: read with the table; a malformed notes.json is named and leaves the run in the table;
        // selecting by tags computes the differing keys among the runs selected.
        writeRunNotes(a.toStdString(), {"first try", {"sweep", "baseline"}});
        writeRunNotes(b.toStdString(), {"", {"sweep"}});
        writeFileAtomically((c + "/notes.json").toStdString(), "{\"tags\": [\"a,b\"]}");
        const RunsTable noted = readRunsTable({a.toStdString(), b.toStdString(), c.toStdString()});
        QCOMPARE(noted.rows[0].notes.tags, (std::vector<std::string>{"baseline", "sweep"}));
        QCOMPARE(noted.rows[0].notes.note, std::string("first try"));
        QVERIFY(noted.rows[2].notes.empty());
        QVERIFY2(QString::fromStdString(noted.rows[2].notesError).contains("notes.json: tag 'a,b'"), noted.rows[2].notesError.c_str());
        const RunsTable sweep = runsWithTags(noted, {"sweep"});
        QCOMPARE(int(sweep.rows.size()), 2);
        QCOMPARE(sweep.keys, (std::vector<std::string>{"train.lr"}));
        QVERIFY(sweep.best && *sweep.best == 1);
        const RunsTable baseline = runsWithTags(noted, {"sweep", "baseline"});
        QCOMPARE(int(baseline.rows.size()), 1);
        QVERIFY(baseline.keys.empty() && !baseline.best);
        QCOMPARE(int(runsWithTags(noted, {}).rows.size()), 3);

        // A result.json that does not load: the run keeps its state, configuration and notes; the figures are left
        // out and the reason is given.
        writeFileAtomically((b + "/result.json").toStdString(), "{\"records\": [");
        const RunsTable damaged = readRunsTable({a.toStdString(), b.toStdString()});
        QCOMPARE(QString::fromStdString(damaged.rows[1].status.state), QString("done"));
        QVERIFY(!damaged.rows[1].status.hm);
        QVERIFY2(QString::fromStdString(damaged.rows[1].status.resultsError).contains("result.json"),
                 damaged.rows[1].status.resultsError.c_str());
        QCOMPARE(damaged.rows[1].notes.tags, (std::vector<std::string>{"sweep"}));
        QCOMPARE(damaged.keys, (std::vector<std::string>{"train.lr"}));
    }

    // notes.json: tags checked, sorted and made unique; empty notes remove the file; a bad file is named.
    // A run queued in the studio has no folder yet: given its experiment, it is a "queued" row with its
    // configuration; once its folder holds a config.yaml, the folder is read instead.
    void queuedRunsAreRows() {
        const QString base = QDir(caspl::test::tempDir()).filePath("runs_table_queued");
        QDir(base).removeRecursively();
        const QString done = makeRun(base, "lr_a", "0.01", std::pair{80, 60});
        ExperimentSpec next = loadExperiment((done + "/config.yaml").toStdString());
        next.name = "lr_b";
        next.train.lr = 0.02;
        next.data.seeds = {1, 2, 3};
        const std::string nextDir = (base + "/runs/lr_b").toStdString();
        const RunsTable t = readRunsTable({done.toStdString(), nextDir}, {{nextDir, next}});
        QCOMPARE(t.rows.size(), std::size_t(2));
        const RunFolderStatus& q = t.rows[1].status;
        QCOMPARE(q.state, std::string("queued"));
        QCOMPARE(q.name, std::string("lr_b"));
        QCOMPARE(q.method, methodLabel(next));
        QCOMPARE(q.evaluations, 3);  // one dataset, one K, three seeds
        QCOMPARE(q.evaluations, plannedEvaluations(next));
        QVERIFY(!q.hm);
        QVERIFY(std::find(t.keys.begin(), t.keys.end(), "train.lr") != t.keys.end());
        QVERIFY(std::find(t.keys.begin(), t.keys.end(), "data.seeds") != t.keys.end());
        const auto lr = std::size_t(std::find(t.keys.begin(), t.keys.end(), "train.lr") - t.keys.begin());
        QCOMPARE(t.rows[1].values[lr], std::string("0.02"));
        QVERIFY(!t.best);  // one figure only
        // Without its experiment, a folder that is not there is unreadable, with the reason.
        const RunsTable missing = readRunsTable({nextDir});
        QCOMPARE(missing.rows[0].status.state, std::string("unreadable"));
        QVERIFY2(missing.rows[0].status.message.find("no config.yaml") != std::string::npos, missing.rows[0].status.message.c_str());
        // Started: its folder wins over the queued experiment.
        const QString started = makeRun(base, "lr_b", "0.04", std::nullopt);
        QCOMPARE(started.toStdString(), nextDir);
        const RunsTable read = readRunsTable({done.toStdString(), nextDir}, {{nextDir, next}});
        QCOMPARE(read.rows[1].status.state, std::string("done"));
        QCOMPARE(read.rows[1].values[std::size_t(std::find(read.keys.begin(), read.keys.end(), "train.lr") - read.keys.begin())],
                 std::string("0.04"));
    }

    void notesAndTags() {
        for (const auto& [tag, why] : {std::pair<std::string, std::string>{"", "empty"},
                                       {"a,b", "no comma"},
                                       {" a", "starts or ends with a space"},
                                       {"tab\there", "control character"},
                                       {std::string(65, 'x'), "longer than 64"}}) {
            try {
                checkTag(tag);
                QFAIL(("accepted the tag '" + tag + "'").c_str());
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains(QString::fromStdString(why)), e.what());
            }
        }
        checkTag("fig 3 (paper)");
        QCOMPARE(parseTags(" a , b c,, d "), (std::vector<std::string>{"a", "b c", "d"}));
        QCOMPARE(joinTags({"a", "b c"}), std::string("a, b c"));

        const QString dir = QDir(caspl::test::tempDir()).filePath("notes");
        QDir(dir).removeRecursively();
        QDir().mkpath(dir);
        const std::string d = dir.toStdString();
        QVERIFY(readRunNotes(d).empty());
        writeRunNotes(d, {"two\nlines ünïcode", {"z", "a", "z"}});
        const RunNotes back = readRunNotes(d);
        QCOMPARE(back.note, std::string("two\nlines ünïcode"));
        QCOMPARE(back.tags, (std::vector<std::string>{"a", "z"}));
        try {
            writeRunNotes(d, {"", {"bad,tag"}});
            QFAIL("wrote a bad tag");
        } catch (const Error&) {
        }
        QCOMPARE(readRunNotes(d).tags, (std::vector<std::string>{"a", "z"}));  // a refused tag writes nothing
        writeRunNotes(d, {});
        QVERIFY(!QFileInfo::exists(dir + "/notes.json"));
        // A notes.json that is there but cannot be read is an error, not "no notes" (writing would lose them).
        QDir().mkpath(dir + "/notes.json");
        try {
            readRunNotes(d);
            QFAIL("read a notes.json that is a folder");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("notes.json"), e.what());
        }
        QDir(dir + "/notes.json").removeRecursively();
        for (const auto& [text, says] : {std::pair<std::string, std::string>{"{", "not valid JSON"},
                                         {"[]", "expected an object"},
                                         {"{\"note\": 3}", "\"note\": expected a string"},
                                         {"{\"tags\": \"a\"}", "\"tags\": expected a list of strings"}}) {
            writeFileAtomically(d + "/notes.json", text);
            try {
                readRunNotes(d);
                QFAIL(("read " + text).c_str());
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains("notes.json: ") && QString(e.what()).contains(QString::fromStdString(says)), e.what());
            }
        }
    }

    // A transfer run (cross-dataset: trained on ImageNet, tested on two others): every evaluation it plans counts,
    // the source's too, and its figure is the targets' average, as the papers' tables (caspl export --table) give it.
    void transferRunFigureIsTheTargetsAverage() {
        const QString base = QDir(caspl::test::tempDir()).filePath("transfer_status");
        QDir(base).removeRecursively();
        const QString dir = base + "/runs/xd";
        QDir().mkpath(dir);
        caspl::test::TinyExperimentOptions o;
        o.name = "xd";
        o.datasets = "[ImageNet]";
        o.seeds = "[1]";
        QString yaml = caspl::test::tinyExperimentYaml(base, o);
        yaml.replace("protocol: base2novel\n", "protocol: cross_dataset\n  eval_splits: [all]\n  eval_datasets: [Caltech101, OxfordPets]\n");
        writeFileAtomically((dir + "/config.yaml").toStdString(), yaml.toStdString());
        writeFileAtomically((dir + "/run.json").toStdString(), "{\"status\": \"running\"}");
        ResultFile rf;
        rf.records.push_back(caspl::test::resultRecord("ImageNet", "coop+caspl", 2, 1, "all", 70, 100));
        writeResultJson((dir + "/result.json").toStdString(), rf);
        RunFolderStatus s = readRunFolderStatus(dir.toStdString());
        QCOMPARE(s.evaluations, 3);
        QCOMPARE(s.evaluated, 1);
        QVERIFY(!s.accuracy);  // no target tested yet
        rf.records.push_back(caspl::test::resultRecord("Caltech101", "coop+caspl", 2, 1, "all", 90, 100));
        rf.records.push_back(caspl::test::resultRecord("OxfordPets", "coop+caspl", 2, 1, "all", 80, 100));
        writeResultJson((dir + "/result.json").toStdString(), rf);
        s = readRunFolderStatus(dir.toStdString());
        QCOMPARE(s.evaluated, 3);
        QCOMPARE(s.accuracy.value_or(0), 85.0);  // (90 + 80) / 2, not (70 + 90 + 80) / 3
    }

    // The runtime of a run folder: run.json's runtime_s for a finished or stopped run; for a crashed one (run.json
    // says running, nobody holds the folder) up to its last logged line; none before run.json kept it.
    void runtimeFromRunJson() {
        const QString base = QDir(caspl::test::tempDir()).filePath("runtime_status");
        QDir(base).removeRecursively();
        const QString dir = base + "/runs/r";
        QDir().mkpath(dir);
        caspl::test::TinyExperimentOptions o;
        o.name = "r";
        writeFileAtomically((dir + "/config.yaml").toStdString(), caspl::test::tinyExperimentYaml(base, o).toStdString());
        writeFileAtomically((dir + "/run.json").toStdString(), "{\"status\": \"done\"}");
        QVERIFY(!readRunFolderStatus(dir.toStdString()).runtime);  // written before runtime_s
        writeFileAtomically((dir + "/run.json").toStdString(),
                            "{\"status\": \"done\", \"runtime_s\": 125.5, \"updated\": \"2026-12-07T05:20:00.000Z\"}");
        QCOMPARE(readRunFolderStatus(dir.toStdString()).runtime.value_or(-1), 125.5);
        writeFileAtomically((dir + "/events.jsonl").toStdString(),
                            "{\"type\":\"progress\",\"phase\":\"phase2\",\"step\":1,\"steps\":2,\"time\":\"2026-12-07T05:20:30.000Z\"}\n"
                            "{\"level\":\"info\",\"message\":\"x\",\"time\":\"2026-12-07T05:20:40.250Z\",\"type\":\"log\"}\n"
                            "{\"type\":\"progress\",\"phase\":\"phase2\",\"step\":2,\"ste");  // cut: the crash
        writeFileAtomically((dir + "/run.json").toStdString(),
                            "{\"status\": \"running\", \"runtime_s\": 125.5, \"updated\": \"2026-12-07T05:20:00.000Z\"}");
        const RunFolderStatus crashed = readRunFolderStatus(dir.toStdString());
        QCOMPARE(crashed.state, std::string("crashed"));
        QCOMPARE(crashed.runtime.value_or(-1), 125.5 + 40.25);
        {  // `caspl eval` holds the folder of a finished run: its runtime stays what run.json says
            writeFileAtomically((dir + "/run.json").toStdString(),
                                "{\"status\": \"done\", \"runtime_s\": 125.5, \"updated\": \"2026-12-07T05:20:00.000Z\"}");
            const caspl::DirLock eval(dir.toStdString(), "run");
            const RunFolderStatus evaluating = readRunFolderStatus(dir.toStdString());
            QCOMPARE(evaluating.state, std::string("running"));
            QCOMPARE(evaluating.runtime.value_or(-1), 125.5);
        }
        // A run running now: up to now.
        writeFileAtomically((dir + "/run.json").toStdString(), "{\"status\": \"running\", \"runtime_s\": 125.5, \"updated\": \"" +
                                                                   formatEventTime(nowEventTime() - 20) + "\"}");
        const caspl::DirLock run(dir.toStdString(), "run");
        const double now = readRunFolderStatus(dir.toStdString()).runtime.value_or(-1);
        QVERIFY2(now >= 145.5 && now < 145.5 + 60, qPrintable(QString::number(now)));
    }

    // Two writers at once (caspl notes and the studio; here two threads, each with its own lock file handle) never
    // lose each other's change: every read-change-write of notes.json happens under the folder's notes lock.
    void notesUpdatedUnderALock() {
        const QString dir = QDir(caspl::test::tempDir()).filePath("notes_lock");
        QDir(dir).removeRecursively();
        QDir().mkpath(dir);
        const std::string d = dir.toStdString();
        constexpr int kEach = 40;
        std::vector<std::string> errors(2);
        const auto writer = [&](int w) {
            try {
                for (int i = 0; i < kEach; ++i)
                    updateRunNotes(d, [&](RunNotes& n) { n.tags.push_back("w" + std::to_string(w) + "-" + std::to_string(i)); });
            } catch (const std::exception& e) {
                errors[std::size_t(w)] = e.what();
            }
        };
        std::thread a(writer, 0), b(writer, 1);
        a.join();
        b.join();
        QCOMPARE(errors, (std::vector<std::string>{"", ""}));
        QCOMPARE(readRunNotes(d).tags.size(), std::size_t(2 * kEach));

        // A tag edit applied to tags that changed meanwhile: removes what it removed, adds what it added, keeps
        // what it never saw.
        std::vector<std::string> now{"a", "b", "new"};
        applyTagEdit(now, {"a", "b"}, {"b", "c"});
        QCOMPARE(now, (std::vector<std::string>{"b", "new", "c"}));
        // ... and a tag the edit left alone but another writer removed meanwhile stays removed.
        std::vector<std::string> untagged{"a"};
        applyTagEdit(untagged, {"a", "b"}, {"a", "b", "c"});
        QCOMPARE(untagged, (std::vector<std::string>{"a", "c"}));

        // What `change` throws writes nothing; --clear's way (readCurrent false) gets past a malformed file.
        try {
            updateRunNotes(d, [](RunNotes& n) {
                n.tags.clear();
                throw Error("changed my mind");
            });
            QFAIL("no error");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()), std::string("changed my mind"));
        }
        QCOMPARE(readRunNotes(d).tags.size(), std::size_t(2 * kEach));
        writeFileAtomically(d + "/notes.json", "{");
        try {
            updateRunNotes(d, [](RunNotes& n) { n.note = "x"; });
            QFAIL("changed a malformed notes.json");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("notes.json: not valid JSON"), e.what());
        }
        QVERIFY(updateRunNotes(d, [](RunNotes&) {}, false).empty());
        QVERIFY(!QFileInfo::exists(dir + "/notes.json"));

        // A lock held elsewhere for longer than the wait: the error names notes.json and the lock, nothing written.
        const int fd = ::open((d + "/" + kRunNotesLockFile).c_str(), O_RDWR | O_CLOEXEC);
        QVERIFY(fd >= 0);
        QCOMPARE(::flock(fd, LOCK_EX), 0);
        try {
            updateRunNotes(d, [](RunNotes& n) { n.note = "late"; }, true, 50);
            QFAIL("wrote under another writer's lock");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("notes.json: cannot be written: another program has held its lock (.notes.lock)"), e.what());
        }
        ::close(fd);
        QCOMPARE(updateRunNotes(d, [](RunNotes& n) { n.note = "in time"; }, true, 50).note, std::string("in time"));
    }
};

CASPL_REGISTER_TEST(RunsTableTest);
#include "test_runs_table.moc"
