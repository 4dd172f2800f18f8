// The experiment layer (core/experiment): YAML layering and validation with file:line:col messages, the preset
// library (every preset loads and says what the paper says), and results aggregation, results.csv and result.json
// (HM and the 11-dataset average reproduce the paper's table).
#include "test_support.h"

#include "core/engine/event_log.h"
#include "core/experiment/experiment_spec.h"
#include "core/experiment/presets.h"
#include "core/experiment/results.h"
#include "core/experiment/spec_loader.h"
#include "core/experiment/sweep.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <QDir>
#include <QFile>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

using namespace caspl;

namespace {

// A fresh folder per call under the executable's temporary directory.
std::string freshDir(const char* tag) {
    static int counter = 0;
    const QString path = QDir(caspl::test::tempDir()).filePath(QStringLiteral("%1-%2").arg(tag).arg(++counter));
    QDir().mkpath(path);
    return path.toStdString();
}

std::string put(const std::string& dir, const std::string& rel, const std::string& content) {
    const std::string path = dir + "/" + rel;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    writeFileAtomically(path, content);
    return path;
}

// Runs f, expects a SpecError whose message contains every fragment; returns the message.
QString expectSpecError(const std::function<void()>& f, const std::vector<std::string>& fragments) {
    try {
        f();
    } catch (const SpecError& e) {
        const std::string msg = e.what();
        for (const auto& frag : fragments)
            if (msg.find(frag) == std::string::npos)
                return QStringLiteral("message lacks '%1':\n%2").arg(QString::fromStdString(frag), QString::fromStdString(msg));
        return {};
    } catch (const std::exception& e) {
        return QStringLiteral("expected a SpecError, got: %1").arg(e.what());
    }
    return QStringLiteral("expected a SpecError, nothing was thrown");
}

#define EXPECT_SPEC_ERROR(call, ...)                                                      \
    do {                                                                                  \
        const QString problem = expectSpecError([&] { (void)(call); }, {__VA_ARGS__});    \
        if (!problem.isEmpty()) QFAIL(qPrintable(problem));                               \
    } while (0)

std::string withoutComments(const std::string& text) {
    std::string out, line;
    std::istringstream in(text);
    while (std::getline(in, line))
        if (line.rfind("#", 0) != 0) out += line + "\n";
    return out;
}

const char* kMinimal = "method:\n  name: coop\ndata:\n  datasets: [OxfordPets]\n";

}  // namespace

class ExperimentSpecTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // A sweep's axes, combinations and run names.
    void sweepAxesCombinationsAndNames() {
        const SweepAxis lr = parseSweepAxis("train.lr=0.001, 0.002 ,4e-3");
        QCOMPARE(lr.key, std::string("train.lr"));
        QCOMPARE(lr.values, (std::vector<std::string>{"0.001", "0.002", "4e-3"}));
        // Lists and quoted strings keep their commas.
        const SweepAxis seeds = parseSweepAxis("data.seeds=[1, 2, 3],[4]");
        QCOMPARE(seeds.values, (std::vector<std::string>{"[1, 2, 3]", "[4]"}));
        QCOMPARE(parseSweepAxis("method.ctx_init=\"a photo, of a\",''").values,
                 (std::vector<std::string>{"\"a photo, of a\"", "''"}));
        caspl::test::expectError([] { parseSweepAxis("train.lr"); }, {"sweep train.lr: expected KEY=V1,V2,..."});
        caspl::test::expectError([] { parseSweepAxis("=1,2"); }, {"expected KEY=V1,V2,..."});
        caspl::test::expectError([] { parseSweepAxis("train.lr=1,,2"); }, {"an empty value"});
        caspl::test::expectError([] { parseSweepAxis("train.lr=1, 1"); }, {"the value 1 is given twice"});
        caspl::test::expectError([&] { checkSweepAxes({lr, lr}, {}); }, {"sweep train.lr is given twice"});
        caspl::test::expectError([&] { checkSweepAxes({lr}, {"train.epochs=2", "train.lr = 0.1"}); },
                                 {"sweep train.lr: the key is also set (train.lr = 0.1)"});
        checkSweepAxes({lr, seeds}, {"train.epochs=2"});
        // Unbalanced brackets and quotes are errors, not values silently lost; a quote inside a value is a character.
        caspl::test::expectError([] { parseSweepAxis("data.seeds=[1,2"); }, {"a bracket is not closed"});
        caspl::test::expectError([] { parseSweepAxis("train.lr=0.01,[0.02"); }, {"a bracket is not closed"});
        caspl::test::expectError([] { parseSweepAxis("data.seeds=1],2"); }, {"a ']' closes nothing"});
        caspl::test::expectError([] { parseSweepAxis("method.ctx_init=\"a, b"); }, {"a quote is not closed"});
        QCOMPARE(parseSweepAxis("method.ctx_init=it's a,b").values, (std::vector<std::string>{"it's a", "b"}));
        // What names or documents the experiment is not swept; nor are more than kMaxSweepRuns runs.
        QVERIFY(sweepableKey("train.lr") && !sweepableKey("name") && !sweepableKey("output") && !sweepableKey("reference.base"));
        caspl::test::expectError([] { checkSweepAxes({parseSweepAxis("output=a,b")}, {}); }, {"sweep output: names or documents"});
        SweepAxis many{"train.epochs", {}}, more{"train.batch_size", {}};
        for (int i = 1; i <= 40; ++i) {
            many.values.push_back(std::to_string(i));
            more.values.push_back(std::to_string(i));
        }
        checkSweepAxes({many}, {});
        caspl::test::expectError([&] { checkSweepAxes({many, more}, {}); }, {"more than 1000 runs"});

        // The last axis varies fastest; no axis is one empty combination.
        const SweepAxis ctx = parseSweepAxis("method.n_ctx_text=4,8");
        const auto combos = sweepCombinations({lr, ctx});
        QCOMPARE(combos.size(), std::size_t(6));
        QCOMPARE(combos[1], (SweepCombination{{"train.lr", "0.001"}, {"method.n_ctx_text", "8"}}));
        QCOMPARE(combos[2], (SweepCombination{{"train.lr", "0.002"}, {"method.n_ctx_text", "4"}}));
        QCOMPARE(sweepCombinations({}), std::vector<SweepCombination>{SweepCombination{}});
        QCOMPARE(sweepRunName("base2novel/coop/dtd", {lr, ctx}, combos[5]), std::string("base2novel/coop/dtd-lr=4e-3-n_ctx_text=8"));
        // Keys that share their last part are named in full; characters a folder name should not hold become '_'.
        const SweepAxis p1 = parseSweepAxis("phase1.lr=0.01");
        QCOMPARE(sweepRunName("x", {lr, p1}, {{"train.lr", "0.001"}, {"phase1.lr", "0.01"}}),
                 std::string("x-train.lr=0.001-phase1.lr=0.01"));
        QCOMPARE(sweepRunName("x", {seeds}, {{"data.seeds", "[1, 2, 3]"}}), std::string("x-seeds=_1__2__3_"));
        QCOMPARE(sweepRunNames("x", {lr}, sweepCombinations({lr})),
                 (std::vector<std::string>{"x-lr=0.001", "x-lr=0.002", "x-lr=4e-3"}));
        // Two values one folder name cannot tell apart: refused, naming both.
        const SweepAxis ctxInit = parseSweepAxis("method.ctx_init=a photo; of,a photo, of");
        QCOMPARE(ctxInit.values.size(), std::size_t(3));  // "a photo; of", "a photo", "of"
        const SweepAxis clash = parseSweepAxis("method.ctx_init=\"a photo; of\",\"a photo, of\"");
        caspl::test::expectError([&] { sweepRunNames("x", {clash}, sweepCombinations({clash})); },
                                 {"method.ctx_init=\"a photo; of\" and method.ctx_init=\"a photo, of\" would both run into x-ctx_init=_a_photo__of_"});
    }

    void minimalFileGetsDefaults() {
        const std::string dir = freshDir("min");
        const std::string f = put(dir, "exp.yaml", kMinimal);
        const ExperimentSpec s = loadExperiment(f);
        QCOMPARE(s.name, std::string("exp"));
        QCOMPARE(s.method.kind, MethodKind::CoOp);
        QCOMPARE(s.data.datasets, std::vector<std::string>{"OxfordPets"});
        QCOMPARE(s.data.protocol, Protocol::Base2Novel);
        QCOMPARE(s.data.evalSplits, (std::vector<std::string>{"base", "novel"}));  // protocol default
        QCOMPARE(s.train.momentum, 0.9);
        QCOMPARE(s.train.weightDecay, 5e-4);
        QCOMPARE(s.eval.batchSize, 100);
        QCOMPARE(s.eval.rounding, Rounding::Paper);
        QCOMPARE(s.layers, std::vector<std::string>{f});
    }

    void syntaxErrorKeepsYamlCppPosition() {
        const std::string dir = freshDir("syntax");
        const std::string f = put(dir, "bad.yaml", "method:\n  name: coop\ndata:\n  datasets: [OxfordPets\n");
        EXPECT_SPEC_ERROR(loadExperiment(f), f + ":5:1: YAML syntax error: end of sequence flow not found");
        const std::string g = put(dir, "bad2.yaml", "train:\n  epochs: 5\n    lr: 0.1\n");
        EXPECT_SPEC_ERROR(loadExperiment(g), g + ":3:7: YAML syntax error:");
    }

    void unknownKeySuggestsNearest() {
        const std::string dir = freshDir("unknown");
        const std::string f = put(dir, "exp.yaml", std::string(kMinimal) + "train:\n  epochs: 5\n  lrr: 0.1\n");
        EXPECT_SPEC_ERROR(loadExperiment(f), f + ":7:3: train.lrr: unknown key 'lrr' in train; did you mean 'lr'?");
        const std::string g = put(dir, "top.yaml", std::string(kMinimal) + "lr: 0.1\nmodel:\n  student: x\n");
        EXPECT_SPEC_ERROR(loadExperiment(g),
                          g + ":5:1: lr: unknown key 'lr' at the top level; did you mean 'phase1.lr' or 'train.lr'?",
                          g + ":6:1: model: unknown key 'model' at the top level; did you mean 'models'?");
        const std::string h = put(dir, "far.yaml", std::string(kMinimal) + "eval:\n  zzzz: 1\n");
        EXPECT_SPEC_ERROR(loadExperiment(h), "eval.zzzz: unknown key 'zzzz' in eval (valid keys: batch_size, rounding)");
    }

    void wrongTypesNameKeyAndPosition() {
        const std::string dir = freshDir("types");
        const std::string f = put(dir, "exp.yaml",
                                  std::string(kMinimal) +
                                      "train:\n  epochs: abc\n  lr: fast\n  precision: fp8\n"
                                      "phase1:\n  enabled: maybe\n  n_text: 2.5\n"
                                      "data2: 1\n");
        EXPECT_SPEC_ERROR(loadExperiment(f), f + ":6:11: train.epochs: expected an integer, got 'abc'",
                          f + ":7:7: train.lr: expected a number, got 'fast'",
                          f + ":8:14: train.precision: expected one of fp32, bf16, fp16, got 'fp8'; did you mean 'fp32'?",
                          f + ":10:12: phase1.enabled: expected true or false, got 'maybe'",
                          f + ":11:11: phase1.n_text: expected an integer, got '2.5'");
        const std::string g = put(dir, "lists.yaml",
                                  "method:\n  name: coop\ndata:\n  datasets: {a: 1}\n  seeds: [1, x]\n"
                                  "  eval_splits: [base, nove]\ntrain: 5\n");
        EXPECT_SPEC_ERROR(loadExperiment(g), g + ":4:13: data.datasets: expected a list of strings, got a map",
                          g + ":5:14: data.seeds: expected an integer, got 'x'",
                          g + ":6:23: data.eval_splits: expected items among base, novel, all, got 'nove'; did you mean 'novel'?",
                          g + ":7:8: train: expected a map of keys");
    }

    void outOfRangeValues() {
        const std::string dir = freshDir("range");
        const std::string f = put(dir, "exp.yaml",
                                  std::string(kMinimal) +
                                      "train:\n  lr: -1\n  momentum: 1\n  batch_size: 0\n"
                                      "data2:\n");
        EXPECT_SPEC_ERROR(loadExperiment(f), f + ":6:7: train.lr: out of range: expected a number > 0 and <= 10, got '-1'",
                          f + ":7:13: train.momentum: out of range: expected a number >= 0 and < 1, got '1'",
                          f + ":8:15: train.batch_size: out of range: expected an integer >= 1 and <= 1048576, got '0'");
        const std::string g = put(dir, "shots.yaml", std::string(kMinimal) + "  shots: [16, 0]\n  seeds: [0]\n");
        EXPECT_SPEC_ERROR(loadExperiment(g), g + ":5:15: data.shots: out of range: expected an integer >= 1 (or -1), got '0'",
                          g + ":6:11: data.seeds: out of range: expected an integer >= 1, got '0'");
    }

    void duplicateKeys() {
        const std::string dir = freshDir("dup");
        const std::string f = put(dir, "exp.yaml", std::string(kMinimal) + "train:\n  lr: 0.1\n  lr: 0.2\n");
        EXPECT_SPEC_ERROR(loadExperiment(f), f + ":7:3: train.lr: duplicate key (first given at " + f + ":6:3)");
    }

    void missingExtendsNamesTheReferrer() {
        const std::string dir = freshDir("missing");
        const std::string f = put(dir, "exp.yaml", "extends: [base.yaml, nope/missing.yaml]\n");
        put(dir, "base.yaml", kMinimal);
        EXPECT_SPEC_ERROR(loadExperiment(f), f + ":1:22: extends: file not found: " + dir + "/nope/missing.yaml");
        EXPECT_SPEC_ERROR(loadExperiment(dir + "/absent.yaml"), dir + "/absent.yaml: file not found");
    }

    void extendsCycleIsReported() {
        const std::string dir = freshDir("cycle");
        const std::string a = put(dir, "a.yaml", "extends: b.yaml\n");
        const std::string b = put(dir, "b.yaml", "extends: [common.yaml, sub/../a.yaml]\n");
        put(dir, "common.yaml", kMinimal);
        EXPECT_SPEC_ERROR(loadExperiment(a), b + ":1:24: extends: cycle: " + a + " -> " + b + " -> " + dir + "/a.yaml");
        const std::string self = put(dir, "self.yaml", "extends: self.yaml\n");
        EXPECT_SPEC_ERROR(loadExperiment(self), "extends: cycle:");
    }

    void errorsInAParentReportTheParentFile() {
        const std::string dir = freshDir("parent");
        const std::string base = put(dir, "methods/m.yaml", "method:\n  name: coop\n  n_ctx_txt: 4\n");
        const std::string f = put(dir, "exp.yaml", "extends: [methods/m.yaml]\ndata:\n  datasets: [OxfordPets]\n");
        EXPECT_SPEC_ERROR(loadExperiment(f),
                          base + ":3:3: method.n_ctx_txt: unknown key 'n_ctx_txt' in method; did you mean 'n_ctx_text'?");
    }

    void layeringOrderLaterWins() {
        const std::string dir = freshDir("layers");
        const std::string ds = put(dir, "datasets/pets.yaml",
                                   "description: the pets fragment\ndata:\n  datasets: [OxfordPets]\n  seeds: [1, 2, 3]\n"
                                   "train:\n  lr: 0.1\n  batch_size: 8\n");
        const std::string m = put(dir, "methods/coop.yaml",
                                  "name: fragment-name\nmethod:\n  name: coop\ntrain:\n  lr: 0.2\n  epochs: 7\n");
        const std::string e = put(dir, "exp.yaml",
                                  "extends: [datasets/pets.yaml, methods/coop.yaml]\ntrain:\n  lr: 0.3\ndata:\n  seeds: [5]\n");
        ExperimentSpec s = loadExperiment(e);
        QCOMPARE(s.train.lr, 0.3);             // experiment file over method file over dataset file
        QCOMPARE(s.train.epochs, 7);           // maps merge key by key
        QCOMPARE(s.train.batchSize, 8);
        QCOMPARE(s.data.seeds, std::vector<int>{5});  // lists are replaced, not appended
        QCOMPARE(s.name, std::string("exp"));  // name and description are not inherited
        QCOMPARE(s.description, std::string());
        QCOMPARE(s.layers, (std::vector<std::string>{dir + "/datasets/pets.yaml", dir + "/methods/coop.yaml", e}));

        const std::string empty = put(dir, "empty.yaml", "extends: [exp.yaml]\ntrain:\n# nothing yet\n");
        QCOMPARE(loadExperiment(empty).train.lr, 0.3);  // an empty section keeps what it extends

        const std::string e2 = put(dir, "exp2.yaml", "extends: [methods/coop.yaml, datasets/pets.yaml]\n");
        QCOMPARE(loadExperiment(e2).train.lr, 0.1);  // the order of the list decides

        s = loadExperiment(e, {"train.lr=0.4", "data.seeds=[1,2]"});
        QCOMPARE(s.train.lr, 0.4);             // overrides come last
        QCOMPARE(s.data.seeds, (std::vector<int>{1, 2}));
        QCOMPARE(s.layers.back(), std::string("--set data.seeds=[1,2]"));
    }

    void overrides() {
        const std::string dir = freshDir("overrides");
        const std::string f = put(dir, "exp.yaml", kMinimal);
        const ExperimentSpec s =
            loadExperiment(f, {"data.datasets=DescribableTextures", "method.ctx_init=", "train={epochs: 3, lr: 0.01}",
                               "name=my run", "phase1.teacher_cache=on", "data.shots=-1"});
        QCOMPARE(s.data.datasets, std::vector<std::string>{"DescribableTextures"});  // a scalar for a list
        QCOMPARE(s.method.ctxInit, std::string());
        QCOMPARE(s.method.nCtxText, 4);
        QCOMPARE(s.train.epochs, 3);
        QCOMPARE(s.train.lr, 0.01);
        QCOMPARE(s.name, std::string("my run"));
        QCOMPARE(s.phase1.teacherCache, true);
        QCOMPARE(s.data.shots, std::vector<int>{-1});
    }

    void badOverrides() {
        const std::string dir = freshDir("badoverrides");
        const std::string f = put(dir, "exp.yaml", kMinimal);
        EXPECT_SPEC_ERROR(loadExperiment(f, {"train.lrr=0.1"}),
                          "--set train.lrr=0.1: train.lrr: unknown key 'lrr' in train; did you mean 'lr'?");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"train.epochs=abc"}),
                          "--set train.epochs=abc: train.epochs: expected an integer, got 'abc'");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"trian.lr=1"}), "--set trian.lr=1: trian.lr: unknown key 'trian' at the top level; did you mean 'train'?");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"epochs"}), "--set epochs: expected key=value");
        // The learnable text tokens must leave room in CLIP's 77 for the start and end tokens, a class name and ".".
        EXPECT_SPEC_ERROR(loadExperiment(f, {"method.n_ctx_text=64", "method.ctx_init=\"\"", "phase1.enabled=true", "phase1.n_text=16",
                                             "phase1.n_vision=16", "models.teacher=ViT-L/14"}),
                          "--set phase1.n_text=16: phase1.n_text: method.n_ctx_text (64) + phase1.n_text (16) learnable text tokens leave no room");
        loadExperiment(f, {"method.n_ctx_text=64", "method.ctx_init=\"\""});  // 64 alone fits
        EXPECT_SPEC_ERROR(loadExperiment(f, {"train.lr.x=1"}), "is too deep");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"data.seeds=[1, 2"}), "--set data.seeds=[1, 2: data.seeds: the value is not valid YAML");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"extends=other.yaml"}), "unknown key 'extends'");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"train.precision=fp16", "train.device=cpu"}),
                          "--set train.precision=fp16: train.precision: fp16 needs a GPU");
    }

    void combinationsAreChecked() {
        const std::string dir = freshDir("combos");
        const std::string none = put(dir, "nomethod.yaml", "data:\n  datasets: [OxfordPets]\n");
        EXPECT_SPEC_ERROR(loadExperiment(none), none + ": method.name: required: the base method, one of zeroshot, coop");
        const std::string maple = put(dir, "maple.yaml",
                                      "method:\n  name: maple\n  n_ctx_text: 2\n  n_ctx_vision: 4\n  depth_text: 9\n"
                                      "  depth_vision: 9\ndata:\n  datasets: [OxfordPet]\n");
        // MethodConfig's rules are named at the key at fault.
        EXPECT_SPEC_ERROR(loadExperiment(maple), maple + ":4:17: method.n_ctx_vision: method configuration: MaPLe's vision prompts",
                          maple + ":8:13: data.datasets: unknown dataset 'OxfordPet'; did you mean 'OxfordPets'?");
        const std::string coop = put(dir, "coop.yaml", "data:\n  datasets: [OxfordPets]\nmethod:\n  name: coop\n  n_ctx_text: 8\n");
        EXPECT_SPEC_ERROR(loadExperiment(coop), coop + ":5:15: method.n_ctx_text: coop learns one context vector per word "
                                                "of ctx_init ('a photo of a' has 4 words), got n_ctx_text 8");
        const std::string deep = put(dir, "deep.yaml",
                                     "method:\n  name: promptsrc\n  n_ctx_vision: 4\n  depth_text: 13\n  depth_vision: 9\n"
                                     "data:\n  datasets: [DescribableTextures]\n  protocol: fewshot\n  shots: [-1]\n"
                                     "  eval_splits: [base]\n");
        EXPECT_SPEC_ERROR(loadExperiment(deep),
                          deep + ":4:15: method.depth_text: the student ViT-B/16 has 12 layers per tower, got depth 13",
                          deep + ":9:10: data.shots: fewshot needs K >= 1 images per class, got -1",
                          deep + ":10:16: data.eval_splits: fewshot tests on all classes: expected [all], got 'base'");
        const std::string dtd = put(dir, "dtd.yaml", "method: {name: coop}\ndata: {datasets: [DTD]}\n");
        EXPECT_SPEC_ERROR(loadExperiment(dtd), "data.datasets: unknown dataset 'DTD'; did you mean 'DescribableTextures'?");
        const std::string xd = put(dir, "xd.yaml",
                                   "method: {name: coop}\ndata:\n  datasets: [ImageNet, Caltech101]\n"
                                   "  protocol: cross_dataset\n  eval_datasets: [ImageNetV3]\n");
        EXPECT_SPEC_ERROR(loadExperiment(xd), xd + ":3:13: data.datasets: cross_dataset trains on one dataset",
                          xd + ":5:18: data.eval_datasets: unknown dataset 'ImageNetV3'; did you mean 'ImageNetV2'?");
        const std::string p1 = put(dir, "p1.yaml",
                                   std::string(kMinimal) + "phase1:\n  enabled: true\n  pool: folder\n  epochs: 1\n"
                                                           "  n_vision: 4\nmodels:\n  teacher: \"\"\n");
        EXPECT_SPEC_ERROR(loadExperiment(p1), p1 + ":7:9: phase1.pool: pool: folder needs phase1.pool_folder",
                          p1 + ":8:11: phase1.epochs: must exceed train.warmup_epochs",
                          p1 + ":9:13: phase1.n_vision: method configuration: CasPL with coop needs as many text as vision",
                          p1 + ":11:12: models.teacher: phase 1 needs a teacher CLIP");
        const std::string csc = put(dir, "csc.yaml", "method:\n  name: promptsrc\n  csc: true\ndata: {datasets: [OxfordPets]}\n");
        EXPECT_SPEC_ERROR(loadExperiment(csc), csc + ":3:8: method.csc: method configuration: class-specific context (csc) applies to CoOp only");
        EXPECT_SPEC_ERROR(loadExperiment(put(dir, "min.yaml", kMinimal), {"method.depth_text=2"}),
                          "--set method.depth_text=2: method.depth_text: method configuration: coop has text context at layer 0 only");
        // A user's own dataset (far from every benchmark name) is accepted for the single-dataset protocols.
        const std::string own = put(dir, "own.yaml", "method: {name: coop}\ndata: {datasets: [MyFlowersInTheGarden]}\n");
        QCOMPARE(loadExperiment(own).data.datasets, std::vector<std::string>{"MyFlowersInTheGarden"});
        // Fragments are checked for keys and types only.
        const std::string frag = put(dir, "frag.yaml", "train:\n  lr: 0.5\n");
        LoadOptions fo;
        fo.fragment = true;
        QCOMPARE(loadExperiment(frag, {}, fo).train.lr, 0.5);
    }

    void toMethodConfigCarriesEveryField() {
        const std::string dir = freshDir("method");
        const std::string f = put(dir, "exp.yaml",
                                  "method:\n  name: promptsrc\n  n_ctx_text: 8\n  n_ctx_vision: 6\n  depth_text: 12\n"
                                  "  depth_vision: 11\n  ctx_init: ''\n  text_loss_weight: 20\n  image_loss_weight: 5.5\n"
                                  "  gpa_mean: 12\n  gpa_std: 2\nphase1:\n  enabled: true\n  n_text: 8\n  n_vision: 8\n"
                                  "  depth_text: 12\n  depth_vision: 10\n  temperature: 2\n"
                                  "data:\n  datasets: [DescribableTextures]\n");
        const ExperimentSpec s = loadExperiment(f);
        const MethodConfig m = toMethodConfig(s, "DescribableTextures");
        QCOMPARE(m.kind, MethodKind::PromptSRC);
        QCOMPARE(m.nCtxText, 8);
        QCOMPARE(m.nCtxVision, 6);
        QCOMPARE(m.depthText, 12);
        QCOMPARE(m.depthVision, 11);
        QCOMPARE(m.ctxInit, std::string());
        QCOMPARE(m.textLossWeight, 20.0);
        QCOMPARE(m.imageLossWeight, 5.5);
        QCOMPARE(m.gpaMean, 12.0);
        QCOMPARE(m.gpaStd, 2.0);
        QVERIFY(!m.phase1);
        QVERIFY(m.cascaded());
        QCOMPARE(m.boosting.nText, 8);
        QCOMPARE(m.boosting.depthVision, 10);
        QCOMPARE(m.zeroShotTemplate, std::string("{} texture."));
        const MethodConfig p = toPhase1MethodConfig(s);
        QCOMPARE(p.kind, MethodKind::IVLP);
        QVERIFY(p.phase1);
        QCOMPARE(p.kdTemperature, 2.0);
        QCOMPARE(p.depthVision, 10);
        QCOMPARE(methodLabel(s), std::string("promptsrc+caspl"));
    }

    void toYamlRoundTripAndHash() {
        const std::string dir = freshDir("yaml");
        const std::string f = put(dir, "exp.yaml",
                                  "description: 'quotes \" and: colons, # hashes'\nmethod:\n  name: cocoop\n"
                                  "  ctx_init: ''\n  n_ctx_text: 8\ndata:\n  datasets: [OxfordPets, EuroSAT]\n"
                                  "  shots: [1, 16]\ntrain:\n  lr: 0.0035\n  warmup_lr: 1e-5\n  precision: bf16\n"
                                  "phase1:\n  enabled: yes\n  lr: 0.1\n");
        const ExperimentSpec s = loadExperiment(f);
        const std::string yaml = toYaml(s);
        QVERIFY2(yaml.find("extends") == std::string::npos, yaml.c_str());
        QVERIFY2(yaml.find("warmup_lr: 1.0e-05") != std::string::npos, yaml.c_str());
        const ExperimentSpec back = loadExperimentFromString(yaml, "resolved.yaml", dir);
        QVERIFY2(back == s, yaml.c_str());
        QCOMPARE(withoutComments(toYaml(back)), withoutComments(yaml));
        QCOMPARE(resolvedHash(back), resolvedHash(s));
        QCOMPARE(resolvedHash(s).size(), std::size_t(16));

        ExperimentSpec other = s;
        other.description = "another description";
        other.source = "elsewhere";
        other.output = "/tmp/elsewhere";
        other.train.cudaGraphs = !s.train.cudaGraphs;
        other.train.tensorboard = !s.train.tensorboard;
        other.data.loaderThreads = s.data.loaderThreads + 3;
        other.data.imageCache = "/tmp/another-cache";
        other.train.textChunk = s.train.textChunk + 16;
        // Documentation, output folder, graph replay, logging and the machine's use are not identity.
        QCOMPARE(resolvedHash(other), resolvedHash(s));
        other.train.lr = 0.0036;
        QVERIFY(resolvedHash(other) != resolvedHash(s));
        other = s;
        other.data.seeds = {1, 2};
        QVERIFY(resolvedHash(other) != resolvedHash(s));

        // Stable across runs, machines and yaml-cpp versions: the hash of a fixed experiment. (It changes, on
        // purpose, when the schema gains a key.)
        const ExperimentSpec fixed = loadExperimentFromString(kMinimal, "fixed.yaml", dir);
        QCOMPARE(resolvedHash(fixed), resolvedHash(loadExperimentFromString(toYaml(fixed), "again.yaml", dir)));
        QVERIFY2(resolvedHash(fixed) == kFixedHash, resolvedHash(fixed).c_str());
    }

    // A key with no effect on the experiment (inertKeys) is left out of its identity, and named when the experiment's
    // own file or an override sets it; a file it extends, or a run's resolved config.yaml, is not named.
    void inertKeysDoNotMakeAnotherExperiment() {
        const std::string dir = freshDir("inert");
        const std::string f = put(dir, "exp.yaml", kMinimal);
        const ExperimentSpec coop = loadExperiment(f);
        const auto same = [&](const std::vector<std::string>& sets) {
            return resolvedHash(loadExperiment(f, sets)) == resolvedHash(coop);
        };
        QVERIFY(same({"method.text_loss_weight=3", "method.gpa_mean=4"}));  // PromptSRC's, with CoOp
        QVERIFY(same({"models.teacher=ViT-B/32", "phase1.epochs=3", "phase1.n_text=8"}));  // phase 1 off
        QVERIFY(!same({"method.csc=true"}));
        QVERIFY(!same({"train.lr=0.003"}));
        QVERIFY(!same({"phase1.enabled=true", "phase1.n_text=2", "phase1.n_vision=2"}));
        const std::vector<std::string> caspl{"phase1.enabled=true", "phase1.n_text=2", "phase1.n_vision=2"};
        const auto withCaspl = [&](std::vector<std::string> sets) {
            sets.insert(sets.begin(), caspl.begin(), caspl.end());
            return resolvedHash(loadExperiment(f, sets));
        };
        QVERIFY(withCaspl({"models.teacher=ViT-B/32"}) != withCaspl({}));  // phase 1 trains: the teacher counts
        QVERIFY(withCaspl({"phase1.epochs=3"}) != withCaspl({}));
        // Boosting prompts reused: phase 1's training keys do nothing, its layout still does.
        QCOMPARE(withCaspl({"phase1.artifact=p1", "phase1.epochs=3", "models.teacher=ViT-B/32", "phase1.lr=0.5"}),
                 withCaspl({"phase1.artifact=p1"}));
        QVERIFY(withCaspl({"phase1.artifact=p1", "phase1.depth_text=3"}) != withCaspl({"phase1.artifact=p1"}));
        // Zero-shot CLIP trains nothing.
        const std::string zs = put(dir, "zs.yaml", "method: {name: zeroshot}\ndata: {datasets: [OxfordPets]}\n");
        QCOMPARE(resolvedHash(loadExperiment(zs, {"train.lr=0.5", "train.epochs=3", "method.n_ctx_text=9"})),
                 resolvedHash(loadExperiment(zs)));
        QVERIFY(resolvedHash(loadExperiment(zs, {"train.precision=bf16"})) != resolvedHash(loadExperiment(zs)));

        // Named where the experiment's own file or an override sets them.
        const std::string base = put(dir, "base.yaml", "abstract: true\nmethod:\n  text_loss_weight: 7\n");
        const std::string own = put(dir, "own.yaml",
                                    "extends: base.yaml\nmethod:\n  name: coop\n  gpa_std: 2\ndata: {datasets: [OxfordPets]}\n");
        std::vector<SpecDiagnostic> warnings;
        LoadOptions lo;
        lo.warnings = &warnings;
        loadExperiment(own, {"phase1.epochs=4"}, lo);
        QCOMPARE(warnings.size(), std::size_t(2));  // not base.yaml's text_loss_weight
        QCOMPARE(warnings[0].str(), own + ":4:12: method.gpa_std: has no effect: a PromptSRC option; the method is coop");
        QCOMPARE(warnings[1].str(), std::string("--set phase1.epochs=4: phase1.epochs: has no effect: phase 1 is off "
                                                "(phase1.enabled: false)"));
        // A run's resolved configuration writes every key: nothing is named.
        warnings.clear();
        const std::string resolved = put(dir, "resolved.yaml", toYaml(loadExperiment(own)));
        loadExperiment(resolved, {}, lo);
        QVERIFY(warnings.empty());
        // In a resolved text, the keys without effect that differ from their defaults say what was changed.
        const auto away = inertKeysAwayFromDefault(loadExperiment(own));
        QCOMPARE(away.size(), std::size_t(2));
        QCOMPARE(away[0].key, std::string("method.text_loss_weight"));  // 7, from base.yaml
        QCOMPARE(away[1].key, std::string("method.gpa_std"));
    }

    // `reference:` holds published numbers: read, written back, checked for mistyped names, and never part of the
    // experiment's identity.
    void referenceIsComparedWithNotRun() {
        const std::string dir = freshDir("reference");
        const std::string plain = put(freshDir("reference-plain"), "exp.yaml", kMinimal);  // the same name
        const std::string f = put(dir, "exp.yaml",
                                  std::string(kMinimal) + "reference:\n  source: \"a paper, Table 1\"\n  shots: 16\n"
                                                          "  base: 95.43\n  novel: 97.76\n");
        const ExperimentSpec s = loadExperiment(f);
        QCOMPARE(s.reference.source, std::string("a paper, Table 1"));
        QCOMPARE(s.reference.shots, 16);
        QCOMPARE(s.reference.base, std::optional<double>(95.43));
        QCOMPARE(s.reference.novel, std::optional<double>(97.76));
        QVERIFY(!s.reference.all);
        const auto ref = referenceOf(s);
        QVERIFY(ref.has_value());
        QCOMPARE(ref->dataset, std::string("OxfordPets"));  // the experiment's only dataset
        QCOMPARE(ref->method, std::string("coop"));         // the experiment's method
        QCOMPARE(ref->shots, 16);
        QVERIFY(!referenceOf(loadExperiment(plain)).has_value());

        // Not identity: the same hash as without it (a run folder stays resumable when a reference is added).
        QCOMPARE(resolvedHash(s), resolvedHash(loadExperiment(plain)));
        QVERIFY(s != loadExperiment(plain));  // but another file (the studio's unsaved-edits check)
        // Written back only when it holds numbers; unset numbers are not written.
        const std::string yaml = toYaml(s);
        QVERIFY2(yaml.find("reference:") != std::string::npos && yaml.find("all:") == std::string::npos, yaml.c_str());
        QVERIFY(loadExperimentFromString(yaml, "back.yaml", dir) == s);
        QVERIFY(toYaml(loadExperiment(plain)).find("\nreference:") == std::string::npos);
        // `key: ~` removes a number an extended file gave.
        QVERIFY(!loadExperiment(f, {"reference.novel=~"}).reference.novel);
        // Changing the experiment's K, dataset or method is not an error: the numbers then apply to nothing.
        const ExperimentSpec k4 = loadExperiment(f, {"data.shots=[4]"});
        QCOMPARE(k4.reference.shots, 16);
        ResultRecord four;
        four.dataset = "OxfordPets";
        four.method = "coop";
        four.shots = 4;
        four.seed = 1;
        four.split = "base";
        four.accuracy = 90;
        QVERIFY(summarizeWithReference({four}, k4).references.empty());
        QCOMPARE(summarizeWithReference({four}, loadExperiment(f, {"reference.shots=0", "data.shots=[4]"})).references.size(),
                 std::size_t(1));

        EXPECT_SPEC_ERROR(loadExperiment(f, {"reference.base=101"}), "reference.base", "<= 100");
        // The published HM may differ from the HM of the rounded base and novel by rounding only.
        QCOMPARE(*loadExperiment(f, {"reference.hm=96.58"}).reference.hm, 96.58);  // HM(95.43, 97.76) = 96.58
        EXPECT_SPEC_ERROR(loadExperiment(f, {"reference.hm=96.85"}), "reference.hm",
                          "96.85 is not the harmonic mean of base 95.43 and novel 97.76 (96.58");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"reference.hm=96.58", "reference.novel=~"}), "reference.hm",
                          "an HM belongs with base and novel: give reference.novel too");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"reference.novl=1"}), "did you mean 'novel'");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"data.datasets=[OxfordPets, EuroSAT]"}), "reference.dataset",
                          "required: the experiment has 2 datasets");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"reference.dataset=pets"}), "reference.dataset",
                          "did you mean 'OxfordPets'");
        EXPECT_SPEC_ERROR(loadExperiment(f, {"reference.method=copo+caspl"}), "reference.method",
                          "did you mean 'coop+caspl'");
        // Several K: the numbers must say which one; one K: shots 0 stands for it.
        EXPECT_SPEC_ERROR(loadExperiment(f, {"reference.shots=0", "data.shots=[1, 16]"}), "reference.shots",
                          "required: the experiment runs K = 1, 16");
        QCOMPARE(referenceOf(loadExperiment(f, {"reference.shots=0", "data.shots=[4]"}))->shots, 4);
        // A section without numbers is a mistake, not nothing.
        const std::string empty = put(dir, "empty.yaml", std::string(kMinimal) + "reference:\n  source: a table\n");
        EXPECT_SPEC_ERROR(loadExperiment(empty), empty + ":5:1: reference: gives no numbers");
        // `dataset:` at the top level still points at data.datasets first.
        const std::string top = put(dir, "top.yaml", std::string(kMinimal) + "dataset: x\n");
        EXPECT_SPEC_ERROR(loadExperiment(top), "did you mean 'data.datasets'?");
        const std::string bad = put(dir, "bad.yaml", std::string(kMinimal) + "reference:\n  base: high\n");
        EXPECT_SPEC_ERROR(loadExperiment(bad), bad + ":6:9: reference.base: expected a number, got 'high'");
        QVERIFY(loadExperiment(f, {"reference.method=promptsrc+caspl", "reference.dataset=EuroSAT",
                                   "data.datasets=[OxfordPets, EuroSAT]"})
                    .reference.method == "promptsrc+caspl");

        const auto keys = specKeys();
        const auto base = std::find_if(keys.begin(), keys.end(), [](const SpecKeyInfo& k) { return k.key == "reference.base"; });
        QVERIFY(base != keys.end());
        QCOMPARE(base->defaultValue, std::string("none"));
        QCOMPARE(base->range, std::string(">= 0 and <= 100"));
    }

    void keysAreDocumented() {
        const auto keys = specKeys();
        QVERIFY(keys.size() >= 50);
        for (const auto& k : keys) {
            QVERIFY2(!k.help.empty(), k.key.c_str());
            QVERIFY2(!k.type.empty(), k.key.c_str());
        }
        const auto lr = std::find_if(keys.begin(), keys.end(), [](const SpecKeyInfo& k) { return k.key == "train.lr"; });
        QVERIFY(lr != keys.end());
        QCOMPARE(lr->range, std::string("> 0 and <= 10"));
    }

    void modelNamesResolveUnderTheModelsFolder() {
        const std::string dir = freshDir("models");
        put(dir, "ViT-B-16.safetensors", "x");
        std::filesystem::create_directories(dir + "/clip-vit-large-patch14");
        ModelsSpec m;
        m.dir = dir;
        QCOMPARE(resolveModelPath(m, "ViT-B/16"), dir + "/ViT-B-16.safetensors");
        QCOMPARE(resolveModelPath(m, "ViT-L/14"), dir + "/clip-vit-large-patch14");
        QCOMPARE(resolveModelPath(m, dir + "/ViT-B-16.safetensors"), dir + "/ViT-B-16.safetensors");
        try {
            resolveModelPath(m, "ViT-B/32");
            QFAIL("expected an error");
        } catch (const Error& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find(dir + "/ViT-B-32.pt") != std::string::npos, e.what());
            QVERIFY2(msg.find(dir + "/clip-vit-base-patch32") != std::string::npos, e.what());
        }
    }

private:
    // Changes whenever the schema gains a key, or a key joins or leaves the identity (isOperationalKey).
    static constexpr const char* kFixedHash = "a046a312d7e35b22";
};

class PresetsTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void everyPresetLoadsAndValidates() {
        const auto presets = listPresets(CASPL_TEST_PRESETS_DIR);
        QVERIFY2(presets.size() >= 150, qPrintable(QString::number(presets.size())));
        QStringList failures;
        int runnable = 0;
        for (const auto& p : presets) {
            try {
                const ExperimentSpec s = loadPreset(p.name, CASPL_TEST_PRESETS_DIR);
                if (!p.abstract) {
                    ++runnable;
                    QCOMPARE(s.name, p.name);
                    if (s.description.empty()) failures << QString::fromStdString(p.name + ": no description");
                    if (s.source.empty()) failures << QString::fromStdString(p.name + ": no source");
                }
            } catch (const std::exception& e) {
                failures << QString::fromStdString(p.name + ": " + e.what());
            }
            // Every file says in a comment where its values come from.
            const std::string text = readFile(p.path);
            if (text.rfind("# ", 0) != 0) failures << QString::fromStdString(p.name + ": no leading comment");
        }
        QVERIFY2(failures.isEmpty(), qPrintable(failures.join('\n')));
        QCOMPARE(runnable, 88 + 22 + 8 + 8 + 3);  // + demo, demo/coop, demo/zeroshot
    }

    void base2novelPresetsFollowThePaper() {
        const std::vector<std::string> datasets{"imagenet", "caltech101", "oxford_pets", "stanford_cars",
                                                "oxford_flowers", "food101", "fgvc_aircraft", "sun397",
                                                "dtd", "eurosat", "ucf101"};
        for (const char* method : {"coop", "cocoop", "maple", "promptsrc"})
            for (const char* variant : {"", "_caspl"})
                for (const auto& d : datasets) {
                    const std::string name = "base2novel/" + std::string(method) + variant + "/" + d;
                    const ExperimentSpec s = loadPreset(name, CASPL_TEST_PRESETS_DIR);
                    QCOMPARE(s.data.protocol, Protocol::Base2Novel);
                    QCOMPARE(s.data.shots, std::vector<int>{16});
                    QCOMPARE(s.data.seeds, (std::vector<int>{1, 2, 3}));
                    QCOMPARE(s.data.evalSplits, (std::vector<std::string>{"base", "novel"}));
                    QCOMPARE(s.data.datasets.size(), std::size_t(1));
                    QCOMPARE(s.models.student, std::string("ViT-B/16"));
                    QCOMPARE(s.models.teacher, std::string("ViT-L/14"));
                    QCOMPARE(methodLabel(s), std::string(method) + (*variant ? "+caspl" : ""));
                    QCOMPARE(s.phase1.enabled, *variant != 0);
                    QCOMPARE(s.train.warmupEpochs, 1);
                    QCOMPARE(s.train.warmupLr, 1e-5);
                    if (s.phase1.enabled) {  // spec §4.2: 8+8, depth 12, lr 0.0025, 20 epochs, batch 4 (ImageNet 128)
                        QCOMPARE(s.phase1.nText, 8);
                        QCOMPARE(s.phase1.nVision, 8);
                        QCOMPARE(s.phase1.depthText, 12);
                        QCOMPARE(s.phase1.depthVision, 12);
                        QCOMPARE(s.phase1.lr, 0.0025);
                        QCOMPARE(s.phase1.epochs, 20);
                        QCOMPARE(s.phase1.batchSize, d == "imagenet" ? 128 : 4);
                        QCOMPARE(s.phase1.temperature, 1.0);
                    }
                }
        auto load = [](const char* n) { return loadPreset(n, CASPL_TEST_PRESETS_DIR); };
        // Spec §3.7 (base methods) and §4.4 / §4.5 (CasPL phase 2).
        ExperimentSpec s = load("base2novel/coop/dtd");
        QCOMPARE(s.method.nCtxText, 4);
        QCOMPARE(s.method.ctxInit, std::string("a photo of a"));
        QCOMPARE(s.train.epochs, 200);
        QCOMPARE(s.train.batchSize, 32);
        QCOMPARE(s.train.lr, 0.002);
        QCOMPARE(load("base2novel/coop/imagenet").train.epochs, 50);
        s = load("base2novel/cocoop/eurosat");
        QCOMPARE(s.train.batchSize, 1);
        QCOMPARE(s.train.epochs, 10);
        s = load("base2novel/maple/ucf101");
        QCOMPARE(s.method.nCtxText, 2);
        QCOMPARE(s.method.depthText, 9);
        QCOMPARE(s.train.lr, 0.0035);
        QCOMPARE(s.train.epochs, 5);
        s = load("base2novel/promptsrc/sun397");
        QCOMPARE(s.method.nCtxVision, 4);
        QCOMPARE(s.method.depthVision, 9);
        QCOMPARE(s.method.gpaMean, 15.0);
        QCOMPARE(s.method.textLossWeight, 25.0);
        QCOMPARE(s.train.epochs, 20);
        s = load("base2novel/promptsrc_caspl/oxford_pets");
        QCOMPARE(s.method.nCtxText, 8);
        QCOMPARE(s.method.nCtxVision, 8);
        QCOMPARE(s.method.depthText, 12);
        QCOMPARE(s.train.lr, 0.0025);
        QCOMPARE(s.train.batchSize, 4);
        QVERIFY(s.description.find("95.53") != std::string::npos);
        s = load("base2novel/maple_caspl/food101");
        QCOMPARE(s.method.nCtxText, 8);
        QCOMPARE(s.method.depthVision, 12);
        QCOMPARE(s.train.epochs, 5);
        s = load("base2novel/coop_caspl/caltech101");
        QCOMPARE(s.method.nCtxText, 8);
        QCOMPARE(s.method.ctxInit, std::string());
        QCOMPARE(s.train.epochs, 50);
        QCOMPARE(s.train.batchSize, 32);
        s = load("base2novel/cocoop_caspl/fgvc_aircraft");
        QCOMPARE(s.method.nCtxText, 8);
        QCOMPARE(s.train.epochs, 10);
        QCOMPARE(s.train.batchSize, 1);
        toMethodConfig(s).validate();
    }

    void otherSettings() {
        auto load = [](const char* n) { return loadPreset(n, CASPL_TEST_PRESETS_DIR); };
        ExperimentSpec s = load("fewshot/promptsrc_caspl/dtd");
        QCOMPARE(s.data.protocol, Protocol::FewShot);
        QCOMPARE(s.data.shots, (std::vector<int>{1, 2, 4, 8, 16}));
        QCOMPARE(s.data.evalSplits, std::vector<std::string>{"all"});
        QCOMPARE(s.train.epochs, 50);
        QCOMPARE(s.method.gpaMean, 45.0);  // Cars, Flowers, Aircraft, DTD, EuroSAT
        QCOMPARE(s.method.gpaStd, 5.0);
        s = load("fewshot/promptsrc_caspl/caltech101");
        QCOMPARE(s.method.gpaMean, 30.0);
        QCOMPARE(s.method.gpaStd, 30.0);
        QCOMPARE(load("fewshot/promptsrc_caspl/imagenet").phase1.batchSize, 128);
        QVERIFY(!load("fewshot/promptsrc/eurosat").phase1.enabled);

        s = load("domain_generalization/promptsrc_caspl");
        QCOMPARE(s.data.datasets, std::vector<std::string>{"ImageNet"});
        QCOMPARE(s.data.evalDatasets,
                 (std::vector<std::string>{"ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR"}));
        QCOMPARE(s.phase1.nText, 4);
        QCOMPARE(s.phase1.depthText, 1);
        QCOMPARE(s.phase1.batchSize, 128);
        QCOMPARE(s.method.depthText, 3);
        QCOMPARE(s.method.gpaMean, 6.0);
        QCOMPARE(s.method.gpaStd, 10.0);
        s = load("cross_dataset/maple_caspl");
        QCOMPARE(s.data.evalDatasets.size(), std::size_t(10));
        QCOMPARE(s.train.epochs, 2);
        QCOMPARE(s.train.lr, 0.0026);
        QCOMPARE(load("cross_dataset/cocoop_caspl").phase1.depthText, 3);

        s = load("demo");
        QCOMPARE(s.data.datasets, std::vector<std::string>{"fashion-mnist"});
        QVERIFY(s.phase1.enabled);
        QCOMPARE(s.phase1.depthText, 2);  // the demo student has 2 layers per tower
        QCOMPARE(s.train.cropScaleMin, 1.0);
        QCOMPARE(load("demo/zeroshot").method.kind, MethodKind::ZeroShot);
        QCOMPARE(s.name, std::string("demo"));
    }

    void presetNamesAndFolders() {
        const std::string dir = CASPL_TEST_PRESETS_DIR;
        QCOMPARE(presetNameOf(resolvePresetFile("base2novel/coop/dtd", dir), dir), std::string("base2novel/coop/dtd"));
        QCOMPARE(resolvePresetFile("demo.yaml", dir), dir + "/demo.yaml");
        try {
            resolvePresetFile("base2novel/promptsrc_casp/dtd", dir);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("did you mean 'base2novel/promptsrc_caspl/dtd'?") != std::string::npos,
                     e.what());
        }
        bool sawFragment = false;
        for (const auto& p : listPresets(dir))
            if (p.name == "datasets/dtd") sawFragment = p.abstract;
        QVERIFY(sawFragment);

        QCOMPARE(findPresetsDir(dir), dir);
        qputenv("CASPL_PRESETS", QByteArray("/nonexistent/presets"));
        try {
            findPresetsDir();
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("CASPL_PRESETS") != std::string::npos, e.what());
        }
        qunsetenv("CASPL_PRESETS");
        const std::string exe = freshDir("install") + "/bin";
        std::filesystem::create_directories(exe + "/../share/caspl/presets");
        QCOMPARE(std::filesystem::path(findPresetsDir("", exe)),
                 std::filesystem::path(exe + "/../share/caspl/presets").lexically_normal());
        QVERIFY(std::filesystem::exists(findPresetsDir("", "")));  // the source tree's, compiled in
    }
};

namespace {

// Spec §6.2 (Fig. 3), base / novel / HM per dataset, for the rows the tests use.
struct PaperCell {
    double base, novel, hm;
};
const std::vector<std::string> kDatasets{"ImageNet", "Caltech101", "OxfordPets", "StanfordCars", "Flowers102", "Food101",
                                         "FGVCAircraft", "SUN397", "DTD", "EuroSAT", "UCF101"};
const std::map<std::string, std::vector<PaperCell>> kPaper{
    {"CLIP",
     {{72.43, 68.14, 70.22}, {96.84, 94.00, 95.40}, {91.17, 97.26, 94.12}, {63.37, 74.89, 68.65}, {72.08, 77.80, 74.83},
      {90.10, 91.22, 90.66}, {27.19, 36.29, 31.09}, {69.36, 75.35, 72.23}, {53.24, 59.90, 56.37}, {56.48, 64.05, 60.03},
      {70.53, 77.50, 73.85}}},
    {"CoOp",
     {{76.47, 67.88, 71.92}, {98.00, 89.81, 93.73}, {93.67, 95.29, 94.47}, {78.12, 60.40, 68.13}, {97.60, 59.67, 74.06},
      {88.33, 82.26, 85.19}, {40.44, 22.30, 28.75}, {80.60, 65.89, 72.51}, {79.44, 41.18, 54.24}, {92.19, 54.74, 68.69},
      {84.69, 56.05, 67.46}}},
    {"CoOp+CasPL",
     {{77.90, 67.43, 72.29}, {98.63, 95.50, 97.04}, {94.83, 97.37, 96.08}, {80.23, 75.77, 77.94}, {98.27, 73.47, 84.08},
      {90.60, 91.03, 90.82}, {45.83, 37.30, 41.13}, {81.77, 72.77, 77.00}, {82.57, 54.23, 65.47}, {94.80, 82.23, 88.07},
      {87.10, 72.30, 79.01}}},
    {"CoCoOp+CasPL",
     {{77.40, 71.40, 74.28}, {98.60, 94.63, 96.58}, {95.23, 98.10, 96.65}, {76.37, 81.07, 78.65}, {96.63, 76.50, 85.40},
      {91.50, 92.93, 92.21}, {42.93, 41.23, 42.07}, {80.20, 79.10, 79.65}, {80.57, 62.43, 70.35}, {94.50, 83.63, 88.74},
      {86.00, 78.33, 81.99}}},
    {"PromptSRC+CasPL",
     {{78.97, 70.50, 74.50}, {98.60, 95.70, 97.13}, {95.53, 98.07, 96.78}, {82.33, 79.93, 81.11}, {98.73, 80.13, 88.46},
      {91.27, 92.20, 91.73}, {48.23, 41.97, 44.88}, {83.10, 79.53, 81.28}, {84.73, 69.63, 76.44}, {96.67, 85.87, 90.95},
      {89.00, 81.37, 85.01}}},
};
// Spec §6.1, the 11-dataset average row.
const std::map<std::string, PaperCell> kPaperAverage{
    {"CLIP", {69.34, 74.22, 71.70}},         {"CoOp", {82.69, 63.22, 71.66}},
    {"CoOp+CasPL", {84.78, 74.49, 79.30}},   {"CoCoOp+CasPL", {83.63, 78.12, 80.78}},
    {"PromptSRC+CasPL", {86.11, 79.54, 82.69}}, {"CoCoOp", {80.47, 71.69, 75.83}},
    {"MaPLe", {82.28, 75.14, 78.55}},        {"MaPLe+CasPL", {84.48, 79.59, 81.96}},
    {"PromptSRC", {84.26, 76.10, 79.97}},
};

double round2(double v) { return std::round(v * 100) / 100; }

ResultRecord record(const std::string& dataset, const std::string& method, int seed, const std::string& split,
                    double accuracy, int64_t correct = 0, int64_t total = 0) {
    ResultRecord r;
    r.dataset = dataset;
    r.method = method;
    r.shots = 16;
    r.seed = seed;
    r.split = split;
    r.accuracy = accuracy;
    r.correct = correct;
    r.total = total;
    return r;
}

// Three seeds whose accuracies round (to 1 decimal) to values averaging exactly the paper's 2-decimal mean (the
// "+CasPL" rows are means of three 1-decimal numbers, spec §2.4), each off its rounded value by a few hundredths.
std::vector<ResultRecord> threeSeeds(const std::string& dataset, const std::string& method, const std::string& split,
                                     double paperMean) {
    const long tenths = std::lround(paperMean * 30);  // the sum of the three 1-decimal values, in tenths
    const long low = tenths / 3, extra = tenths % 3;
    const double offsets[3] = {0.04, -0.03, 0.02};
    std::vector<ResultRecord> out;
    for (int i = 0; i < 3; ++i) {
        const double v = double(low + (i < extra ? 1 : 0)) / 10;
        const int64_t total = 10000, correct = std::llround((v + offsets[i]) * 100);
        out.push_back(record(dataset, method, i + 1, split, accuracyPercent(correct, total), correct, total));
    }
    return out;
}

}  // namespace

class ResultsTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // events.jsonl read back (opened run folders, `caspl export --curves`): metric and eval lines, a truncated last
    // line left out, a damaged line named by file:line, the curves' CSV with the union of the metric keys.
    void eventLogAndCurves() {
        const QString dir = QDir(caspl::test::tempDir()).filePath("eventlog");
        QDir().mkpath(dir);
        const std::string path = QDir(dir).filePath("events.jsonl").toStdString();
        const auto write = [&](const std::string& text) {
            std::ofstream out(path, std::ios::binary | std::ios::trunc);
            out << text;
        };
        write("{\"type\":\"phase\",\"run\":\"r\",\"phase\":\"phase1\"}\n"
            "{\"type\":\"metric\",\"run\":\"r\",\"phase\":\"phase1\",\"dataset\":\"dtd\",\"shots\":0,\"seed\":0,\"epoch\":1,\"step\":1,\"values\":{\"loss\":0.5,\"lr\":0.002},\"time\":\"2026-12-07T05:20:00.250Z\"}\n"
            "{\"type\":\"log\",\"level\":\"info\",\"message\":\"x\"}\n"
            "{\"type\":\"metric\",\"run\":\"r\",\"phase\":\"phase2\",\"epoch\":1,\"step\":1,\"values\":{\"loss\":1.25,\"loss.ce\":1.0,\"lr\":null}}\n"
            "{\"type\":\"eval\",\"run\":\"r\",\"dataset\":\"dtd\",\"method\":\"coop\",\"seed\":1,\"split\":\"base\",\"epoch\":2,\"accuracy\":75.5,\"correct\":151,\"total\":200}\n"
            "{\"type\":\"metric\",\"run\":\"r\",\"phase\":\"phase2\",\"epoch\":1,\"st");
        auto log = readEventLog(path);
        QCOMPARE(log.metrics.size(), std::size_t(2));
        QVERIFY(log.truncatedLastLine);
        QCOMPARE(log.metrics[0].dataset, std::string("dtd"));
        QCOMPARE(log.metrics[1].values.at("loss.ce"), 1.0);
        QVERIFY(std::isnan(log.metrics[1].values.at("lr")));  // written as null
        QCOMPARE(log.metrics[0].time, 1796620800.25);  // the line's time, with its milliseconds
        QCOMPARE(log.metrics[1].time, 0.0);            // a line without one
        QCOMPARE(log.evals.size(), std::size_t(1));
        QCOMPARE(log.evals[0].accuracy, 75.5);
        QCOMPARE(log.evals[0].total, int64_t(200));
        const std::string csv = curvesCsvText(log.metrics);
        QCOMPARE(QString::fromStdString(csv).split('\n')[0], QString("run,phase,dataset,shots,seed,epoch,step,wall_time,loss,loss.ce,lr"));
        QVERIFY2(csv.find("r,phase1,dtd,0,0,1,1,1796620800.250,0.5,,0.002\n") != std::string::npos, csv.c_str());
        QVERIFY2(csv.find("r,phase2,,0,0,1,1,,1.25,1,nan\n") != std::string::npos, csv.c_str());

        write("{\"type\":\"metric\",\"step\":1,\"values\":{\"loss\":1}}\n{not json}\n{\"type\":\"log\"}\n");
        caspl::test::expectError([&] { readEventLog(path); }, {"events.jsonl:2"});  // a damaged line in the middle
        write("{\"type\":\"metric\",\"step\":1,\"values\":{\"loss\":\"high\"}}\n");
        caspl::test::expectError([&] { readEventLog(path); }, {"events.jsonl:1: values.loss: expected a number"});
        QVERIFY_THROWS_EXCEPTION(Error, readEventLog(path + ".missing"));
    }

    // An events.jsonl time: milliseconds written and read back, the older whole-second form still read, anything
    // else 0 (unknown) rather than a wrong time.
    void eventTimesKeepTheirMilliseconds() {
        QCOMPARE(QString::fromStdString(formatEventTime(1796620800.25)), QString("2026-12-07T05:20:00.250Z"));
        QCOMPARE(QString::fromStdString(formatEventTime(1796620800.9996)), QString("2026-12-07T05:20:01.000Z"));
        QCOMPARE(QString::fromStdString(formatEventTime(0)), QString("1970-01-01T00:00:00.000Z"));
        QCOMPARE(parseEventTime("2026-12-07T05:20:00.250Z"), 1796620800.25);
        QCOMPARE(parseEventTime("2026-12-07T05:20:00Z"), 1796620800.0);
        QCOMPARE(parseEventTime("2026-12-07T05:20:00.5Z"), 1796620800.5);
        for (const char* bad : {"2026-12-07T05:20:00", "2026-12-07T05:20:00.Z", "2026-12-07T05:20:00.25", "2026-12-07T05:20:00ZZ",
                                "2026-12-07 05:20:00Z", "yesterday", ""})
            QVERIFY2(parseEventTime(bad) == 0.0, bad);
        const double now = nowEventTime();
        QVERIFY(now > 1.7e9);
        QVERIFY(std::abs(parseEventTime(formatEventTime(now)) - now) <= 0.0005 + 1e-6);
    }

    // The time a run's processes spent on it, from an events.jsonl alone (runs written before run.json kept it):
    // each process's lines from its "starting run" / "resuming run" line to its last; `caspl eval`'s not counted;
    // the last whole line's time for a crashed run.
    void runtimeFromTheEventLog() {
        const QString dir = QDir(caspl::test::tempDir()).filePath("runtime_log");
        QDir().mkpath(dir);
        const std::string path = QDir(dir).filePath("events.jsonl").toStdString();
        const auto log = [](const char* message, const char* time) {
            return std::string("{\"level\":\"info\",\"message\":\"") + message + "\",\"time\":\"" + time + "\",\"type\":\"log\"}\n";
        };
        const auto metric = [](const char* time) {
            return std::string("{\"epoch\":1,\"phase\":\"phase2\",\"step\":1,\"time\":\"") + time + "\",\"type\":\"metric\",\"values\":{\"loss\":1}}\n";
        };
        writeFileAtomically(path, log("starting run runs/a (coop, CPU)", "2026-12-07T05:00:00Z") + metric("2026-12-07T05:01:00.500Z") +
                                      log("stopped during phase2; resume with: caspl resume runs/a", "2026-12-07T05:01:40Z") +
                                      log("TensorBoard files: disk full; the run goes on without them", "2026-12-07T05:59:59Z") +
                                      log("resuming run runs/a (coop, CPU)", "2026-12-07T06:00:00Z") + metric("2026-12-07T06:00:20Z") +
                                      log("evaluating run runs/a (coop, CPU)", "2026-12-07T07:00:00Z") + metric("2026-12-07T07:05:00Z") +
                                      log("a message that says \\\"time\\\":\\\"2030-01-01T00:00:00Z\\\"", "2026-12-07T07:06:00Z") +
                                      "{\"type\":\"metric\",\"time\":\"2026-12-07T08:");  // cut
        // 05:00:00-05:01:40 and 06:00:00-06:00:20: not the warning an earlier version logged before the resume's first
        // line, nor the evaluation.
        QCOMPARE(runtimeFromEventLog(path), 100.0 + 20.0);
        QCOMPARE(lastEventTime(path), parseEventTime("2026-12-07T07:06:00Z"));  // not the cut line, nor the quoted time
        // The resumed process died after writing run.json at 06:00:10; an evaluation came later: it ended at 06:00:20.
        QCOMPARE(attemptEnd(path, parseEventTime("2026-12-07T06:00:10Z")), parseEventTime("2026-12-07T06:00:20Z"));
        // Without an evaluation since: the last line.
        QCOMPARE(attemptEnd(path, parseEventTime("2026-12-07T07:03:00Z")), parseEventTime("2026-12-07T07:06:00Z"));
        QCOMPARE(attemptEnd(path + ".missing", 0), 0.0);
        // Lines longer than the chunks the log is read back in.
        const std::string longLog = log(std::string(300 * 1024, 'x').c_str(), "2026-12-07T08:00:00Z") +
                                    log("starting run runs/b (coop, CPU)", "2026-12-07T08:00:01Z") +
                                    log(std::string(600 * 1024, 'y').c_str(), "2026-12-07T08:00:05Z") + std::string(400 * 1024, 'z');
        writeFileAtomically(path, longLog);
        QCOMPARE(lastEventTime(path), parseEventTime("2026-12-07T08:00:05Z"));
        QCOMPARE(runtimeFromEventLog(path), 4.0);
        writeFileAtomically(path, log(std::string(300 * 1024, 'x').c_str(), "2026-12-07T08:00:00Z"));
        QCOMPARE(lastEventTime(path), parseEventTime("2026-12-07T08:00:00Z"));  // one line, from the file's start
        QCOMPARE(runtimeFromEventLog(path + ".missing"), 0.0);
        QCOMPARE(lastEventTime(path + ".missing"), 0.0);
    }

    // A run another process writes, followed as it grows: every event type in order, a line still being written
    // waits for its newline, a damaged line is named and skipped over, a replaced (shorter) file starts again.
    void eventLogFollowerReadsWhatIsAppended() {
        const QString dir = QDir(caspl::test::tempDir()).filePath("eventfollow");
        QDir().mkpath(dir);
        const std::string path = QDir(dir).filePath("events.jsonl").toStdString();
        struct Recorder : EventSink {
            QStringList seen;
            void progress(const ProgressEvent& e) override {
                seen << QString("progress %1 %2/%3 eta %4").arg(QString::fromStdString(e.dataset)).arg(e.step).arg(e.steps).arg(e.etaSeconds);
            }
            void metric(const MetricEvent& e) override { seen << QString("metric %1 %2").arg(e.step).arg(e.values.at("loss")); }
            void evalRow(const EvalRow& r) override { seen << QString("eval %1 %2 shots %3").arg(QString::fromStdString(r.split)).arg(r.accuracy).arg(r.shots); }
            void log(LogLevel l, const std::string& m) override { seen << QString("log %1 %2").arg(logLevelName(l), QString::fromStdString(m)); }
            void phaseChanged(const std::string& run, const std::string& p) override {
                seen << QString("phase %1 %2").arg(QString::fromStdString(run), QString::fromStdString(p));
            }
        } rec;
        EventLogFollower follow(path);
        QCOMPARE(follow.poll(rec).lines, int64_t(0));  // not written yet: nothing, no error
        const auto append = [&](const std::string& text) {
            std::ofstream out(path, std::ios::binary | std::ios::app);
            out << text;
        };
        append("{\"type\":\"phase\",\"run\":\"r\",\"phase\":\"phase2\"}\n"
               "{\"type\":\"progress\",\"dataset\":\"dtd\",\"step\":3,\"steps\":10,\"eta_s\":12.5}\n"
               "{\"type\":\"metric\",\"step\":3,\"values\":{\"loss\":0.75}}\n"
               "{\"type\":\"log\",\"level\":\"warning\",\"message\":\"slow\"}\n"
               "{\"type\":\"eval\",\"split\":\"ba");  // still being written
        QCOMPARE(follow.poll(rec).lines, int64_t(4));
        QCOMPARE(rec.seen, QStringList({"phase r phase2", "progress dtd 3/10 eta 12.5", "metric 3 0.75", "log warning slow"}));
        QCOMPARE(follow.poll(rec).lines, int64_t(0));  // the half line is not handed over
        append("se\",\"accuracy\":81.5,\"shots\":16}\n{broken}\n{\"type\":\"future-type\"}\n"
               "{\"type\":\"metric\",\"step\":4,\"values\":{\"loss\":0.5}}\n");
        caspl::test::expectError([&] { follow.poll(rec); }, {"events.jsonl:6: not a JSON object"});
        QCOMPARE(rec.seen.size(), 5);
        QCOMPARE(rec.seen.last(), QString("eval base 81.5 shots 16"));
        QCOMPARE(follow.poll(rec).lines, int64_t(2));  // goes on after the damaged line; unknown types skipped
        QCOMPARE(rec.seen.last(), QString("metric 4 0.5"));
        const int64_t before = follow.offset();
        {
            std::ofstream out(path, std::ios::binary | std::ios::trunc);  // a new run took the folder over
            out << "{\"type\":\"metric\",\"step\":1,\"values\":{\"loss\":2}}\n";
        }
        const auto noticed = follow.poll(rec);
        QVERIFY(noticed.restarted);
        QCOMPARE(noticed.lines, int64_t(0));  // nothing of the new file before the caller has dropped the old
        QCOMPARE(follow.offset(), int64_t(0));
        const auto again = follow.poll(rec);
        QVERIFY(!again.restarted);
        QCOMPARE(again.lines, int64_t(1));
        QVERIFY(follow.offset() < before);
        QCOMPARE(rec.seen.last(), QString("metric 1 2"));
        // A log renamed away and a new one in its place (longer than what was read): another file, read from 0.
        const std::string old = path + ".replaced";
        QVERIFY(std::rename(path.c_str(), old.c_str()) == 0);
        {
            std::ofstream out(path, std::ios::binary | std::ios::trunc);
            for (int i = 1; i <= 3; ++i) out << "{\"type\":\"metric\",\"step\":" << i << ",\"values\":{\"loss\":" << 10 * i << "}}\n";
        }
        QVERIFY(follow.poll(rec).restarted);
        QCOMPARE(follow.poll(rec).lines, int64_t(3));
        QCOMPARE(rec.seen.last(), QString("metric 3 30"));
    }

    // The last progress line, read from the end of a large log: found beyond the first tail read, a half-written
    // last line ignored, nothing for a missing file or a log without one.
    void lastProgressEventFromTheEnd() {
        const QString dir = QDir(caspl::test::tempDir()).filePath("lastprogress");
        QDir().mkpath(dir);
        const std::string path = QDir(dir).filePath("events.jsonl").toStdString();
        QVERIFY(!lastProgressEvent(path));
        {
            std::ofstream out(path, std::ios::binary | std::ios::trunc);
            out << "{\"type\":\"progress\",\"phase\":\"phase1\",\"step\":1,\"steps\":9,\"time\":\"t1\"}\n";
            out << "{\"type\":\"progress\",\"phase\":\"phase2\",\"dataset\":\"dtd\",\"step\":4,\"steps\":9,\"eta_s\":3.5,\"time\":\"t2\"}\n";
            for (int i = 0; i < 3000; ++i)  // ~150 KB of metric lines after it
                out << "{\"type\":\"metric\",\"phase\":\"phase2\",\"step\":" << i << ",\"values\":{\"loss\":0.25}}\n";
            out << "{\"type\":\"progress\",\"phase\":\"phase2\",\"st";  // being written
        }
        std::string time;
        const auto e = lastProgressEvent(path, &time);
        QVERIFY(e);
        QCOMPARE(e->phase, std::string("phase2"));
        QCOMPARE(e->dataset, std::string("dtd"));
        QCOMPARE(e->step, int64_t(4));
        QCOMPARE(e->etaSeconds, 3.5);
        QCOMPARE(time, std::string("t2"));
        {
            std::ofstream out(path, std::ios::binary | std::ios::trunc);
            out << "{\"type\":\"metric\",\"step\":1,\"values\":{\"loss\":1}}\n";
        }
        QVERIFY(!lastProgressEvent(path));
    }

    // Several runs in one summary: each rounded by its own setting; a sweep's runs keep their own rows.
    // Published numbers sit next to the results they compare with: per group (same dataset, method, and K when
    // they name one), and for an average row when every dataset averaged has them; in results.csv, after the std
    // row, and read back without becoming results.
    void referencesSitNextToTheirResults() {
        std::vector<ResultRecord> records;
        for (const char* ds : {"dtd", "eurosat"})
            for (int seed : {1, 2})
                for (const char* split : {"base", "novel"})
                    records.push_back(record(ds, "coop", seed, split, std::string(split) == "base" ? 80.0 + seed : 60.0 + seed));
        ResultsSummary s = summarizeResults(records, Rounding::None);
        ReferenceResult dtd{"dtd", "coop", 16, 82.0, 58.0, std::nullopt, std::nullopt, "paper, Fig. 3"};
        ReferenceResult eurosat{"eurosat", "coop", 0, 90.0, 50.0, std::nullopt, 64.29, "paper, Fig. 3"};
        ReferenceResult otherK{"eurosat", "coop", 4, 10.0, 10.0, std::nullopt, std::nullopt, "elsewhere"};
        ReferenceResult exactK{"dtd", "coop", 16, 81.0, 61.0, std::nullopt, std::nullopt, "this K"};
        ReferenceResult anyK{"dtd", "coop", 0, 11.0, 11.0, std::nullopt, std::nullopt, "any K"};
        ReferenceResult otherMethod{"dtd", "coop+caspl", 16, 10.0, 10.0, std::nullopt, std::nullopt, "elsewhere"};
        attachReferences(s, {otherK, otherMethod, dtd, eurosat});
        QCOMPARE(s.references.size(), std::size_t(3));
        const ReferenceRow* d = findReference(s, "dtd", "coop", 16);
        QVERIFY(d);
        QCOMPARE(*d->base, 82.0);
        QCOMPARE(*d->hm, harmonicMean(82.0, 58.0));
        QCOMPARE(d->source, std::string("paper, Fig. 3"));
        QCOMPARE(*findReference(s, "eurosat", "coop", 16)->base, 90.0);  // shots 0: any K; the K = 4 one is not it
        QCOMPARE(*findReference(s, "eurosat", "coop", 16)->hm, 64.29);   // the published HM, as given
        const ReferenceRow* avg = findReference(s, "average", "coop", 16);
        QVERIFY(avg);
        QCOMPARE(avg->n, 2);
        QCOMPARE(*avg->base, 86.0);
        QCOMPARE(*avg->novel, 54.0);
        QCOMPARE(*avg->hm, harmonicMean(86.0, 54.0));  // HM of the averages, as the results'
        QVERIFY(!avg->all);
        QCOMPARE(avg->source, std::string("paper, Fig. 3"));

        // results.csv: the reference row follows its group's std row, and the average's row the average row.
        const auto rows = resultsCsvRows(s);
        std::vector<std::string> kinds;
        for (const auto& r : rows) kinds.push_back(r.kind + (r.dataset == "average" ? "/avg" : ""));
        const std::vector<std::string> expected{"seed", "seed", "mean", "std", "reference", "seed", "seed", "mean",
                                                "std",  "reference", "average/avg", "reference/avg"};
        QCOMPARE(kinds, expected);
        QCOMPARE(rows[4].dataset, std::string("dtd"));
        QVERIFY(!rows[4].seed && !rows[4].baseCorrect);
        QCOMPARE(*rows[4].novel, 58.0);
        const auto back = parseResultsCsv(resultsCsvText(s), "results.csv");
        QVERIFY(back == rows);
        QCOMPARE(recordsFromCsvRows(back).size(), records.size());  // reference rows are not results

        // The reference of the group's own K wins over one for any K, whatever the order.
        attachReferences(s, {anyK, exactK});
        QCOMPARE(findReference(s, "dtd", "coop", 16)->source, std::string("this K"));
        attachReferences(s, {anyK});
        QCOMPARE(findReference(s, "dtd", "coop", 16)->source, std::string("any K"));
        // Only the splits the group has: a base-to-novel reference against `all` results shows nothing.
        ResultsSummary allOnly = summarizeResults({record("dtd", "coop", 1, "all", 70.0)}, Rounding::None);
        attachReferences(allOnly, {dtd});
        QVERIFY(allOnly.references.empty());
        attachReferences(allOnly, {ReferenceResult{"dtd", "coop", 16, 82.0, 58.0, 71.5, std::nullopt, "both"}});
        QCOMPARE(allOnly.references.size(), std::size_t(1));
        QVERIFY(!allOnly.references[0].base && !allOnly.references[0].hm);
        QCOMPARE(*allOnly.references[0].all, 71.5);

        // An average whose datasets do not all have numbers gets none.
        attachReferences(s, {dtd});
        QVERIFY(findReference(s, "dtd", "coop", 16));
        QVERIFY(!findReference(s, "average", "coop", 16));

        // Exported together with a sweep's runs, a run's reference follows its labelled method.
        RunRecords a{"lr_002", records, Rounding::None, {dtd}}, b{"lr_004", records, Rounding::None, {}};
        const auto c = combineRuns({a, b});
        QVERIFY(findReference(c.summary, "dtd", "coop [lr_002]", 16));
        QVERIFY(!findReference(c.summary, "dtd", "coop [lr_004]", 16));
    }

    // Every base-to-novel preset names the paper's row for its dataset and method (Fig. 3, as its description
    // says), and the 11 presets of a method average to the paper's average row (§6.1).
    void presetReferencesAreThePapersNumbers() {
        std::map<std::string, std::vector<ReferenceResult>> byMethod;
        std::map<std::string, std::vector<ResultRecord>> recordsByMethod;
        int n = 0;
        QStringList failures;
        for (const auto& p : listPresets(CASPL_TEST_PRESETS_DIR)) {
            if (p.name.rfind("base2novel/", 0) != 0) continue;
            ++n;
            const ExperimentSpec spec = loadPreset(p.name, CASPL_TEST_PRESETS_DIR);
            const auto ref = referenceOf(spec);
            if (!ref) {
                failures << QString::fromStdString(p.name + ": no reference");
                continue;
            }
            if (ref->dataset != spec.data.datasets.at(0) || ref->method != methodLabel(spec) || ref->shots != 16 ||
                spec.data.shots != std::vector<int>{16})
                failures << QString::fromStdString(p.name + ": reference for " + ref->dataset + " " + ref->method);
            if (!ref->base || !ref->novel || !ref->hm) {
                failures << QString::fromStdString(p.name + ": the reference lacks base, novel or HM");
                continue;
            }
            char text[96];
            std::snprintf(text, sizeof text, "(paper: base %.2f, novel %.2f, HM %.2f)", *ref->base, *ref->novel, *ref->hm);
            if (spec.description.find(text) == std::string::npos)
                failures << QString::fromStdString(p.name + ": description '" + spec.description + "' lacks " + text);
            byMethod[ref->method].push_back(*ref);
            for (const char* split : {"base", "novel"})
                recordsByMethod[ref->method].push_back(record(ref->dataset, ref->method, 1, split, 50.0));
        }
        QVERIFY2(failures.isEmpty(), qPrintable(failures.join('\n')));
        QCOMPARE(n, 88);  // 8 methods x 11 datasets
        for (const auto& [paperName, label] : std::vector<std::pair<std::string, std::string>>{
                 {"CoOp", "coop"}, {"CoOp+CasPL", "coop+caspl"}, {"CoCoOp", "cocoop"}, {"CoCoOp+CasPL", "cocoop+caspl"},
                 {"MaPLe", "maple"}, {"MaPLe+CasPL", "maple+caspl"}, {"PromptSRC", "promptsrc"},
                 {"PromptSRC+CasPL", "promptsrc+caspl"}}) {
            ResultsSummary s = summarizeResults(recordsByMethod.at(label), Rounding::None);
            attachReferences(s, byMethod.at(label));
            const ReferenceRow* avg = findReference(s, "average", label, 16);
            QVERIFY2(avg && avg->n == 11, label.c_str());
            // The paper averaged unrounded per-dataset means; these are their 2-decimal roundings: within 0.01.
            const PaperCell& paper = kPaperAverage.at(paperName);
            for (const auto& [mine, theirs] : {std::pair{*avg->base, paper.base}, std::pair{*avg->novel, paper.novel},
                                               std::pair{*avg->hm, paper.hm}})
                QVERIFY2(std::abs(round2(mine) - theirs) < 0.0101,
                         qPrintable(QStringLiteral("%1: %2 vs the paper's %3").arg(paperName.c_str()).arg(mine).arg(theirs)));
        }
    }

    void combinedRunsKeepEachRunsRoundingAndRows() {
        RunRecords exact{"lr_002", {record("dtd", "coop", 1, "base", 100.0 / 3), record("dtd", "coop", 1, "novel", 200.0 / 3)},
                         Rounding::None, {}};
        RunRecords paper{"lr_004", {record("dtd", "coop", 1, "base", 100.0 / 3), record("dtd", "coop", 1, "novel", 200.0 / 3)},
                         Rounding::Paper, {}};
        RunRecords other{"eurosat", {record("eurosat", "coop", 1, "base", 81.25), record("eurosat", "coop", 1, "novel", 70.0)},
                         Rounding::Paper, {}};
        for (const auto& order : {std::vector<RunRecords>{exact, paper, other}, std::vector<RunRecords>{other, paper, exact}}) {
            const auto c = combineRuns(order);
            QCOMPARE(c.labelledMethods, std::vector<std::string>{"coop"});
            std::map<std::string, double> base;
            for (const auto& g : c.summary.groups) base[g.dataset + " " + g.method] = g.base->mean;
            QCOMPARE(base.size(), std::size_t(3));
            QCOMPARE(base.at("dtd coop [lr_002]"), 100.0 / 3);  // rounding: none
            QCOMPARE(base.at("dtd coop [lr_004]"), 33.3);       // rounding: paper
            QCOMPARE(base.at("eurosat coop [eurosat]"), 81.2);  // the sweep's method, labelled in every run
        }
        // The folder's name labels the rows (a trailing slash is no name); two folders of one name, the whole path.
        std::set<std::string> methods;
        for (const auto& g : combineRuns({{"runs/a/", exact.records, Rounding::None, {}}, {"old/lr", paper.records, Rounding::None, {}},
                                          {"new/lr", paper.records, Rounding::None, {}}})
                                 .summary.groups)
            methods.insert(g.method);
        QCOMPARE(methods, (std::set<std::string>{"coop [a]", "coop [old/lr]", "coop [new/lr]"}));
        // Without a clash nothing is labelled, and datasets of one method average together.
        const auto plain = combineRuns({paper, {"eurosat", other.records, Rounding::Paper, {}}});
        QVERIFY(plain.labelledMethods.empty());
        QCOMPARE(plain.summary.averages.size(), std::size_t(1));
        QCOMPARE(plain.summary.averages[0].method, std::string("coop"));
    }

    void paperRounding() {
        QCOMPARE(roundToPaper(72.45), 72.5);     // 72.4500000000000028... (binary) rounds up, as Python's "{:.1f}"
        QCOMPARE(roundToPaper(0.25), 0.2);       // an exact tie goes to even
        QCOMPARE(roundToPaper(98.64000000000001), 98.6);
        QCOMPARE(roundToPaper(100.0), 100.0);
        QCOMPARE(accuracyPercent(1, 3), 100.0 * 1 / 3);
        QCOMPARE(harmonicMean(0, 0), 0.0);
        QCOMPARE(harmonicMean(80, 80), 80.0);
    }

    void hmAndAverageReproduceThePaper() {
        // One "seed" per dataset holding the paper's 2-decimal numbers: every per-dataset HM and the average row of
        // CLIP, CoOp and PromptSRC + CasPL come out as published (§6.1, §6.2).
        for (const char* method : {"CLIP", "CoOp", "PromptSRC+CasPL"}) {
            std::vector<ResultRecord> records;
            for (std::size_t i = 0; i < kDatasets.size(); ++i) {
                records.push_back(record(kDatasets[i], method, 1, "base", kPaper.at(method)[i].base));
                records.push_back(record(kDatasets[i], method, 1, "novel", kPaper.at(method)[i].novel));
            }
            const ResultsSummary s = summarizeResults(records, Rounding::None);
            QCOMPARE(s.groups.size(), kDatasets.size());
            double meanOfHms = 0;
            for (std::size_t i = 0; i < kDatasets.size(); ++i) {
                QCOMPARE(s.groups[i].dataset, kDatasets[i]);
                QVERIFY(s.groups[i].hm.has_value());
                QCOMPARE(round2(*s.groups[i].hm), kPaper.at(method)[i].hm);
                meanOfHms += *s.groups[i].hm / double(kDatasets.size());
            }
            QCOMPARE(s.averages.size(), std::size_t(1));
            const AverageResult& a = s.averages[0];
            QCOMPARE(a.datasets.size(), std::size_t(11));
            QCOMPARE(round2(*a.base), kPaperAverage.at(method).base);
            QCOMPARE(round2(*a.novel), kPaperAverage.at(method).novel);
            QCOMPARE(round2(*a.hm), kPaperAverage.at(method).hm);
            QVERIFY(round2(meanOfHms) != kPaperAverage.at(method).hm);  // the average HM is not the mean of HMs
        }
    }

    void seedRoundingReproducesTheCasplRows() {
        // CoOp + CasPL and CoCoOp + CasPL: three seeds per dataset, each seed rounded to 1 decimal before the mean
        // (Rounding::Paper): base, novel and HM of every dataset and the average row match the paper.
        for (const char* method : {"CoOp+CasPL", "CoCoOp+CasPL"}) {
            std::vector<ResultRecord> records;
            for (std::size_t i = 0; i < kDatasets.size(); ++i)
                for (const char* split : {"base", "novel"}) {
                    const double paper = std::string(split) == "base" ? kPaper.at(method)[i].base : kPaper.at(method)[i].novel;
                    for (const auto& r : threeSeeds(kDatasets[i], method, split, paper)) records.push_back(r);
                }
            const ResultsSummary s = summarizeResults(records, Rounding::Paper);
            int spread = 0;
            for (std::size_t i = 0; i < kDatasets.size(); ++i) {
                const GroupResult& g = s.groups[i];
                spread += g.base->std > 0;
                QCOMPARE(g.seeds, (std::vector<int>{1, 2, 3}));
                QCOMPARE(round2(g.base->mean), kPaper.at(method)[i].base);
                QCOMPARE(round2(g.novel->mean), kPaper.at(method)[i].novel);
                QCOMPARE(round2(*g.hm), kPaper.at(method)[i].hm);
            }
            QVERIFY(spread > 0);
            QCOMPARE(round2(*s.averages[0].base), kPaperAverage.at(method).base);
            QCOMPARE(round2(*s.averages[0].novel), kPaperAverage.at(method).novel);
            QCOMPARE(round2(*s.averages[0].hm), kPaperAverage.at(method).hm);

            // Without the rounding the means move: the convention matters.
            const ResultsSummary exact = summarizeResults(records, Rounding::None);
            int differ = 0;
            for (std::size_t i = 0; i < kDatasets.size(); ++i)
                differ += round2(exact.groups[i].base->mean) != kPaper.at(method)[i].base;
            QVERIFY(differ > 0);
        }
    }

    void statsAndSelection() {
        std::vector<ResultRecord> r{record("DTD", "coop", 1, "all", 50), record("DTD", "coop", 2, "all", 60),
                                    record("DTD", "coop", 3, "all", 70)};
        ResultRecord early = record("DTD", "coop", 3, "all", 10);
        early.epoch = -1;
        r.push_back(early);  // an earlier evaluation of seed 3: the latest epoch counts
        const ResultsSummary s = summarizeResults(r, Rounding::None);
        QCOMPARE(s.groups.size(), std::size_t(1));
        QCOMPARE(s.groups[0].all->mean, 60.0);
        QCOMPARE(s.groups[0].all->std, std::sqrt(200.0 / 3));  // population std, as numpy.std
        QVERIFY(!s.groups[0].hm);
        QVERIFY(s.averages.empty());  // one dataset: no average row
        r.push_back(record("DTD", "coop", 1, "all", 51));
        try {
            summarizeResults(r, Rounding::None);
            QFAIL("expected an error for two results of one seed and epoch");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("two results for DTD / coop / 16 shots / seed 1 / all") != std::string::npos,
                     e.what());
        }
        try {
            summarizeResults({record("DTD", "coop", 1, "val", 1)}, Rounding::None);
            QFAIL("expected an error for an unknown split");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("unknown split 'val'") != std::string::npos, e.what());
        }
    }

    void csvRoundTripWithQuoting() {
        std::vector<ResultRecord> records;
        const std::string odd = "promptsrc+caspl, \"v2\"";
        for (int seed = 1; seed <= 3; ++seed) {
            for (const char* ds : {"My, \"data\"", "EuroSAT", "Line\nbreak"}) {
                ResultRecord b = record(ds, odd, seed, "base", 0, 900 + seed, 1000);
                b.accuracy = accuracyPercent(b.correct, b.total);
                b.skippedImages = seed;
                ResultRecord n = record(ds, odd, seed, "novel", 0, 700 + 7 * seed, 999);
                n.accuracy = accuracyPercent(n.correct, n.total);
                records.push_back(b);
                records.push_back(n);
            }
            records.push_back(record("DTD", "coop", seed, "all", 60.0 + seed / 3.0));
        }
        const ResultsSummary s = summarizeResults(records, Rounding::None);
        const std::string path = freshDir("csv") + "/results.csv";
        writeResultsCsv(path, s);
        const std::string text = readFile(path);
        QVERIFY2(text.find("\"promptsrc+caspl, \"\"v2\"\"\"") != std::string::npos, text.c_str());
        QVERIFY2(text.find("\"My, \"\"data\"\"\"") != std::string::npos, text.c_str());
        QVERIFY2(text.find("\r\n") != std::string::npos, "RFC 4180 lines end with CRLF");
        QVERIFY2(text.rfind("kind,dataset,method,shots,seed,n,base,novel,hm,all,", 0) == 0, text.c_str());

        const auto rows = readResultsCsv(path);
        QCOMPARE(rows.size(), std::size_t(9 + 2 * 3 + 3 + 2 * 1 + 1));  // seed rows, mean+std per group, averages
        QVERIFY(rows == resultsCsvRows(s));
        QCOMPARE(rows.back().kind, std::string("average"));
        QCOMPARE(*rows.back().n, 3);  // the three datasets of the odd method; DTD alone has no average row

        // The seed rows are the records again.
        const ResultsSummary again = summarizeResults(recordsFromCsvRows(rows), Rounding::None);
        QVERIFY(resultsCsvRows(again) == rows);

        try {
            parseCsv("a,\"b\nc", "broken.csv");
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("broken.csv:2:1: CSV: unterminated quoted field") != std::string::npos,
                     e.what());
        }
        try {
            parseCsv("a,b\"c\r\n", "bad.csv");
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("bad.csv:1:4: CSV: a quote inside an unquoted field") != std::string::npos,
                     e.what());
        }
        QCOMPARE(parseCsv("x,\"y,\"\"z\"\"\"\n,\n", "t").size(), std::size_t(2));
        QCOMPARE(parseCsv("x,\"y,\"\"z\"\"\"\n", "t")[0][1], std::string("y,\"z\""));
    }

    void resultJsonRoundTrip() {
        ResultFile f;
        f.meta["experiment"] = "base2novel/promptsrc_caspl/dtd";
        f.meta["hash"] = "0123456789abcdef";
        EvalRow row;
        row.run = "run-1";
        row.dataset = "DescribableTextures";
        row.method = "promptsrc+caspl";
        row.seed = 2;
        row.split = "novel";
        row.epoch = 20;
        row.correct = 555;
        row.total = 864;
        row.accuracy = accuracyPercent(row.correct, row.total);
        row.skippedImages = 3;
        f.records.push_back(toResultRecord(row, 16));
        const std::string path = freshDir("json") + "/result.json";
        writeResultJson(path, f);
        const ResultFile back = readResultJson(path);
        QCOMPARE(back.meta, f.meta);
        QCOMPARE(back.records.size(), std::size_t(1));
        const ResultRecord& r = back.records[0];
        QCOMPARE(r.run, std::string("run-1"));
        QCOMPARE(r.dataset, row.dataset);
        QCOMPARE(r.method, row.method);
        QCOMPARE(r.shots, 16);
        QCOMPARE(r.seed, 2);
        QCOMPARE(r.split, std::string("novel"));
        QCOMPARE(r.epoch, 20);
        QCOMPARE(r.accuracy, row.accuracy);
        QCOMPARE(r.correct, int64_t(555));
        QCOMPARE(r.total, int64_t(864));
        QCOMPARE(r.skippedImages, int64_t(3));
        try {
            resultFileFromJson(R"({"format":"caspl-result","version":1,"records":[{"dataset":"x","method":"m","seed":"1"}]})",
                               "run/result.json");
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("run/result.json: records[0].seed: expected an integer") != std::string::npos,
                     e.what());
        }
    }
};

CASPL_REGISTER_TEST(ExperimentSpecTest);
CASPL_REGISTER_TEST(PresetsTest);
CASPL_REGISTER_TEST(ResultsTest);
#include "test_experiment.moc"
