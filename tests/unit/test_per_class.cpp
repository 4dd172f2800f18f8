// Per-class accuracy: the tallies of an evaluation, per_class.json, and the per-class CSV's rows.
#include "core/experiment/per_class.h"
#include "core/experiment/results.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "test_support.h"

#include <QDir>
#include <QObject>
#include <QTest>

#include <filesystem>

using namespace caspl;

namespace {

// One evaluation of three classes from (label, predicted) pairs.
PerClassEval evaluation(int seed, const std::vector<std::pair<int64_t, int64_t>>& predictions,
                        const std::string& split = "novel") {
    ClassTallies t;
    for (const auto& [l, p] : predictions) t.add(l, p);
    PerClassEval e;
    e.run = "coop";
    e.dataset = "dtd";
    e.method = "coop";
    e.split = split;
    e.shots = 16;
    e.seed = seed;
    e.epoch = 10;
    e.classes = classResults(t, {"banded", "blotchy", "braided, knitted"});
    return e;
}

const PerClassRow* find(const std::vector<PerClassRow>& rows, const std::string& kind, std::optional<int> seed,
                        std::optional<int64_t> cls) {
    for (const auto& r : rows)
        if (r.kind == kind && r.seed == seed && r.classIndex == cls) return &r;
    return nullptr;
}

}  // namespace

class PerClassTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void talliesGiveEachClassAndItsConfusions() {
        ClassTallies t;
        // class 0: 3 images, 1 right, 2 wrong (both to 2); class 1: 2 images, 1 right, 1 to 0; class 2: none.
        for (auto [l, p] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {0, 2}, {1, 1}, {0, 2}, {1, 0}}) t.add(l, p);
        QCOMPARE(t.classes(), int64_t(2));
        const auto c = classResults(t, {"a", "b", "c"});
        QCOMPARE(c.size(), std::size_t(3));
        QCOMPARE(c[0].total, int64_t(3));
        QCOMPARE(c[0].correct, int64_t(1));
        QCOMPARE(c[0].confusedWith, (std::vector<std::pair<int64_t, int64_t>>{{2, 2}}));
        QCOMPARE(c[1].confusedWith, (std::vector<std::pair<int64_t, int64_t>>{{0, 1}}));
        QCOMPARE(c[2].total, int64_t(0));
        QCOMPARE(c[2].name, std::string("c"));
        QCOMPARE(classAccuracy(c[0]), 100.0 / 3.0);
        QCOMPARE(classAccuracy(c[2]), 0.0);
        PerClassEval e;
        e.classes = c;
        // Classes without images do not count in the mean class accuracy.
        QCOMPARE(*meanClassAccuracy(e), (100.0 / 3.0 + 50.0) / 2.0);
        e.classes = {ClassResult{"x", 0, 0, {}}};
        QVERIFY(!meanClassAccuracy(e));

        // Most images first, ties by class index.
        ClassTallies u;
        for (auto [l, p] : std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {0, 1}, {0, 2}, {0, 2}}) u.add(l, p);
        const auto d = classResults(u, {"a", "b", "c", "d"});
        QCOMPARE(d[0].confusedWith, (std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {1, 1}, {3, 1}}));

        caspl::test::expectError([&] { classResults(u, {"a", "b"}); }, {"prediction of class 2", "only 2 class names"});
        ClassTallies v;
        v.add(3, 0);
        caspl::test::expectError([&] { classResults(v, {"a"}); }, {"image of class 3", "only 1 class names"});
        caspl::test::expectError([&] { v.add(-1, 0); }, {"must not be negative"});
    }

    void fileRoundTripAndErrors() {
        const std::vector<PerClassEval> evals{evaluation(1, {{0, 0}, {0, 1}, {1, 1}, {2, 0}}), evaluation(1, {{0, 0}}, "base")};
        const std::string path = (QDir(caspl::test::tempDir()).filePath("per_class.json")).toStdString();
        writePerClassJson(path, evals);
        const auto back = readPerClassJson(path);
        QCOMPARE(back.size(), std::size_t(2));
        for (std::size_t i = 0; i < 2; ++i) {
            QCOMPARE(back[i].run, evals[i].run);
            QCOMPARE(back[i].split, evals[i].split);
            QCOMPARE(back[i].seed, evals[i].seed);
            QCOMPARE(back[i].epoch, evals[i].epoch);
            QCOMPARE(back[i].classes.size(), evals[i].classes.size());
            for (std::size_t c = 0; c < evals[i].classes.size(); ++c) {
                QCOMPARE(back[i].classes[c].name, evals[i].classes[c].name);
                QCOMPARE(back[i].classes[c].total, evals[i].classes[c].total);
                QCOMPARE(back[i].classes[c].correct, evals[i].classes[c].correct);
                QCOMPARE(back[i].classes[c].confusedWith, evals[i].classes[c].confusedWith);
            }
        }
        QCOMPARE(perClassFromJson(perClassToJson({}), "empty").size(), std::size_t(0));

        const auto bad = [](const std::string& body) {
            return "{\"format\": \"caspl-per-class\", \"version\": 1, \"evaluations\": [{\"dataset\": \"dtd\", \"method\": "
                   "\"coop\", \"split\": \"base\", \"seed\": 1, \"classes\": [" +
                   body + "]}]}";
        };
        using caspl::test::expectError;
        expectError([] { perClassFromJson("{", "f.json"); }, {"f.json", "not valid JSON"});
        expectError([] { perClassFromJson("{\"format\": \"caspl-result\"}", "f.json"); }, {"f.json", "caspl-per-class"});
        expectError([] { perClassFromJson("{\"format\": \"caspl-per-class\", \"version\": 2}", "f.json"); },
                    {"f.json", "version 2"});
        expectError([&] { perClassFromJson(bad("{\"name\": \"a\", \"correct\": 1}"), "f.json"); },
                    {"f.json: evaluations[0].classes[0].images: expected a count"});
        expectError([&] { perClassFromJson(bad("{\"name\": \"a\", \"images\": -1, \"correct\": 0}"), "f.json"); },
                    {"classes[0].images: expected a count"});
        expectError([&] { perClassFromJson(bad("{\"name\": \"a\", \"images\": 2, \"correct\": 3}"), "f.json"); },
                    {"classes[0].correct: 3 is more than its 2 images"});
        expectError([&] {
            perClassFromJson(bad("{\"name\": \"a\", \"images\": 2, \"correct\": 0, \"confused_with\": [[0, 1]]},"
                                 "{\"name\": \"b\", \"images\": 0, \"correct\": 0}"),
                             "f.json");
        },
                    {"classes[0].confused_with[0]: class 0 is not another class"});
        expectError([&] {
            perClassFromJson(bad("{\"name\": \"a\", \"images\": 2, \"correct\": 1, \"confused_with\": [[1, 2]]},"
                                 "{\"name\": \"b\", \"images\": 0, \"correct\": 0}"),
                             "f.json");
        },
                    {"classes[0].confused_with: more wrong predictions than the 1 images that were wrong"});
        // Counts near INT64_MAX are refused before they are added (no overflow).
        expectError([&] {
            perClassFromJson(bad("{\"name\": \"a\", \"images\": 9223372036854775807, \"correct\": 0, \"confused_with\": "
                                 "[[1, 9223372036854775807], [2, 9223372036854775807]]}, {\"name\": \"b\", \"images\": 0, "
                                 "\"correct\": 0}, {\"name\": \"c\", \"images\": 0, \"correct\": 0}"),
                             "f.json");
        },
                    {"classes[0].confused_with: more wrong predictions"});
        expectError([&] {
            perClassFromJson(bad("{\"name\": \"a\", \"images\": 4, \"correct\": 0, \"confused_with\": [[1, 1], [1, 1]]},"
                                 "{\"name\": \"b\", \"images\": 0, \"correct\": 0}"),
                             "f.json");
        },
                    {"classes[0].confused_with[1]: class 1 is listed twice"});
        // A file's confusions in any order: read back most images first.
        const auto unsorted = perClassFromJson(
            bad("{\"name\": \"a\", \"images\": 4, \"correct\": 0, \"confused_with\": [[2, 1], [1, 3]]},"
                "{\"name\": \"b\", \"images\": 0, \"correct\": 0}, {\"name\": \"c\", \"images\": 0, \"correct\": 0}"),
            "f.json");
        QCOMPARE(unsorted[0].classes[0].confusedWith, (std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {2, 1}}));
        QCOMPARE(perClassRows(unsorted).front().confusedWith, std::string("b"));
        // The header's types, and the fields' ranges.
        expectError([] { perClassFromJson("{\"format\": 1, \"version\": 1}", "f.json"); }, {"f.json: not a caspl per-class file"});
        expectError([] { perClassFromJson("{\"format\": \"caspl-per-class\", \"version\": \"1\"}", "f.json"); },
                    {"f.json: unsupported per-class file version \"1\""});
        expectError([] { perClassFromJson("{\"format\": \"caspl-per-class\", \"version\": true}", "f.json"); }, {"f.json", "version true"});
        expectError([] { perClassFromJson("{\"format\": \"caspl-per-class\", \"version\": 1.7}", "f.json"); }, {"f.json", "version 1.7"});
        const auto header = [](const std::string& fields) {
            return "{\"format\": \"caspl-per-class\", \"version\": 1, \"evaluations\": [{\"dataset\": \"dtd\", \"method\": "
                   "\"coop\", " + fields + ", \"classes\": []}]}";
        };
        expectError([&] { perClassFromJson(header("\"split\": \"base\", \"seed\": 4294967297"), "f.json"); },
                    {"evaluations[0].seed: expected an integer (32 bits)"});
        expectError([&] { perClassFromJson(header("\"split\": \"base\", \"seed\": 1, \"shots\": -2"), "f.json"); },
                    {"evaluations[0].shots: expected an integer >= 0"});
        expectError([&] { perClassFromJson(header("\"split\": \"x,y\", \"seed\": 1"), "f.json"); },
                    {"evaluations[0].split: expected base, novel or all"});
        expectError([&] { perClassFromJson(bad("{\"name\": \"a\", \"images\": 2, \"correct\": 1, \"confused_with\": [1]}"), "f.json"); },
                    {"classes[0].confused_with[0]: expected [class index, images]"});
        expectError([] { perClassFromJson("{\"format\": \"caspl-per-class\", \"version\": 1, \"evaluations\": [{\"dataset\": 3}]}", "f.json"); },
                    {"evaluations[0].dataset: expected a string"});
    }

    void rowsGiveClassesMeansAndMacro() {
        // Seed 1: banded 1/2 (1 -> blotchy), blotchy 2/2, braided 0/1 (-> banded).
        // Seed 2: banded 2/2, blotchy 1/2 (-> braided), braided 1/1.
        const auto s1 = evaluation(1, {{0, 0}, {0, 1}, {1, 1}, {1, 1}, {2, 0}});
        const auto s2 = evaluation(2, {{0, 0}, {0, 0}, {1, 1}, {1, 2}, {2, 2}});
        const auto rows = perClassRows({s1, s2});
        // 3 classes + macro per seed, then 3 class means + macro mean.
        QCOMPARE(rows.size(), std::size_t(12));
        const PerClassRow* banded1 = find(rows, "class", 1, 0);
        QVERIFY(banded1);
        QCOMPARE(*banded1->accuracy, 50.0);
        QCOMPARE(banded1->confusedWith, std::string("blotchy"));
        QCOMPARE(*banded1->confusedImages, int64_t(1));
        QVERIFY(!banded1->n);
        const PerClassRow* macro1 = find(rows, "macro", 1, std::nullopt);
        QVERIFY(macro1);
        QCOMPARE(*macro1->accuracy, (50.0 + 100.0 + 0.0) / 3.0);
        QCOMPARE(*macro1->images, int64_t(5));
        QCOMPARE(*macro1->correct, int64_t(3));

        const PerClassRow* bandedMean = find(rows, "class_mean", std::nullopt, 0);
        QVERIFY(bandedMean);
        QCOMPARE(*bandedMean->n, 2);
        QCOMPARE(*bandedMean->accuracy, 75.0);
        QCOMPARE(*bandedMean->std, 25.0);  // population std of 50 and 100
        QCOMPARE(*bandedMean->images, int64_t(4));
        QCOMPARE(*bandedMean->correct, int64_t(3));
        const PerClassRow* braidedMean = find(rows, "class_mean", std::nullopt, 2);
        QVERIFY(braidedMean);
        QCOMPARE(braidedMean->className, std::string("braided, knitted"));
        QCOMPARE(braidedMean->confusedWith, std::string("banded"));
        const PerClassRow* blotchyMean = find(rows, "class_mean", std::nullopt, 1);
        QVERIFY(blotchyMean);
        QCOMPARE(blotchyMean->confusedWith, std::string("braided, knitted"));  // seed 2's only wrong image
        const PerClassRow* macroMean = find(rows, "macro_mean", std::nullopt, std::nullopt);
        QVERIFY(macroMean);
        const double m1 = 50.0, m2 = (100.0 + 50.0 + 100.0) / 3.0;
        QCOMPARE(*macroMean->accuracy, (m1 + m2) / 2.0);
        QCOMPARE(*macroMean->std, std::abs(m2 - m1) / 2.0);

        // One seed: no mean rows.
        QCOMPARE(perClassRows({s1}).size(), std::size_t(4));
        // The same evaluation twice (a run given twice, two folders of one name) is an error, not two seeds.
        caspl::test::expectError([&] { perClassRows({s1, s2, s1}); }, {"two per-class evaluations of run 'coop'", "seed 1", "novel"});
        // A class without images in one seed: its mean is the other seed's accuracy, n 1, no std.
        auto noImages = s2;
        noImages.classes[0] = ClassResult{"banded", 0, 0, {}};
        const PerClassRow* one = find(perClassRows({s1, noImages}), "class_mean", std::nullopt, 0);
        QVERIFY(one);
        QCOMPARE(*one->n, 1);
        QCOMPARE(*one->accuracy, 50.0);
        QVERIFY(!one->std);
        // A class that only a later seed has still gets its mean row.
        auto fewer = s1;
        fewer.classes.pop_back();
        const auto later = perClassRows({fewer, s2});
        const PerClassRow* onlyLater = find(later, "class_mean", std::nullopt, 2);
        QVERIFY(onlyLater);
        QCOMPARE(*onlyLater->n, 1);
        QCOMPARE(*onlyLater->accuracy, 100.0);
        // A class renamed in one seed gets no mean row; the others keep theirs.
        auto renamed = s2;
        renamed.classes[1].name = "other";
        const auto mixed = perClassRows({s1, renamed});
        QVERIFY(!find(mixed, "class_mean", std::nullopt, 1));
        QVERIFY(find(mixed, "class_mean", std::nullopt, 0));
        // Kind and split are quoted like every other text field.
        auto odd = s1;
        odd.split = "base";
        odd.run = "run \"x\"";
        QVERIFY(perClassCsvText(perClassRows({odd})).find(",\"run \"\"x\"\"\",dtd,") != std::string::npos);

        const std::string csv = perClassCsvText(rows);
        QVERIFY(csv.rfind("kind,run,dataset,method,shots,seed,n,split,class,classname,images,correct,accuracy,std,"
                          "confused_with,confused_images\n",
                          0) == 0);
        QVERIFY2(csv.find("class,coop,dtd,coop,16,1,,novel,0,banded,2,1,50.00,,blotchy,1\n") != std::string::npos, csv.c_str());
        QVERIFY2(csv.find("class_mean,coop,dtd,coop,16,,2,novel,2,\"braided, knitted\",2,1,50.00,50.00,banded,1\n") !=
                     std::string::npos,
                 csv.c_str());
        QVERIFY2(csv.find("macro,coop,dtd,coop,16,1,,novel,,,5,3,50.00,,,\n") != std::string::npos, csv.c_str());
        const auto table = parseCsv(csv, "csv");
        QCOMPARE(table.size(), rows.size() + 1);
        for (const auto& line : table) QCOMPARE(line.size(), perClassCsvHeader().size());
    }

    void confusionMatrixSumsSeedsAndChecksClasses() {
        // Seed 1: banded 1/2 (1 -> blotchy), blotchy 2/2, braided 0/1 (-> banded).
        // Seed 2: banded 2/2, blotchy 1/2 (-> braided), braided 1/1.
        const auto s1 = evaluation(1, {{0, 0}, {0, 1}, {1, 1}, {1, 1}, {2, 0}});
        const auto s2 = evaluation(2, {{0, 0}, {0, 0}, {1, 1}, {1, 2}, {2, 2}});
        const ConfusionMatrix one = confusionMatrix({&s1});
        QCOMPARE(one.classes(), int64_t(3));
        QCOMPARE(one.evaluations, 1);
        QCOMPARE(one.counts, (std::vector<int64_t>{1, 1, 0, 0, 2, 0, 1, 0, 0}));
        QCOMPARE(one.images, (std::vector<int64_t>{2, 2, 1}));
        QCOMPARE(*one.percent(0, 1), 50.0);
        QCOMPARE(*one.percent(2, 0), 100.0);
        const ConfusionMatrix both = confusionMatrix({&s1, &s2});
        QCOMPARE(both.evaluations, 2);
        QCOMPARE(both.counts, (std::vector<int64_t>{3, 1, 0, 0, 3, 1, 1, 0, 1}));
        QCOMPARE(both.images, (std::vector<int64_t>{4, 4, 2}));
        QCOMPARE(*both.percent(1, 2), 25.0);
        // Each row's cells add up to the class's images, and the diagonal is its correct predictions.
        for (int64_t t = 0; t < both.classes(); ++t) {
            int64_t sum = 0;
            for (int64_t p = 0; p < both.classes(); ++p) sum += both.at(t, p);
            QCOMPARE(sum, both.images[std::size_t(t)]);
            QCOMPARE(both.at(t, t), s1.classes[std::size_t(t)].correct + s2.classes[std::size_t(t)].correct);
        }
        // A class without images has no percentages.
        auto empty = s2;
        empty.classes[2] = ClassResult{"braided, knitted", 0, 0, {}};
        QVERIFY(!confusionMatrix({&empty}).percent(2, 2));

        // Evaluations of different classes are not summed.
        auto fewer = s2;
        fewer.classes.pop_back();
        caspl::test::expectError([&] { confusionMatrix({&s1, &fewer}); }, {"confusion matrix", "seed 2", "has 2 classes", "has 3"});
        auto renamed = s2;
        renamed.classes[1].name = "other";
        caspl::test::expectError([&] { confusionMatrix({&s1, &renamed}); }, {"class 1 is 'other'", "but 'blotchy'"});
        auto outside = s1;
        outside.classes[0].confusedWith = {{7, 1}};
        caspl::test::expectError([&] { confusionMatrix({&outside}); }, {"class 0: a wrong prediction of class 7", "3 classes"});
        caspl::test::expectError([] { confusionMatrix({}); }, {"no evaluation"});

        // As a matrix CSV (names quoted where needed) and in long form (non-zero cells, diagonal included).
        QCOMPARE(confusionMatrixCsvText(both), std::string("true \\ predicted,banded,blotchy,\"braided, knitted\"\n"
                                                           "banded,3,1,0\n"
                                                           "blotchy,0,3,1\n"
                                                           "\"braided, knitted\",1,0,1\n"));
        // The change from one matrix to another, in points; only between matrices of the same classes.
        QCOMPARE(confusionDifferenceCsvText(one, both), std::string("true \\ predicted (B - A in points),banded,blotchy,\"braided, knitted\"\n"
                                                                    "banded,25.00,-25.00,0.00\n"
                                                                    "blotchy,0.00,-25.00,25.00\n"
                                                                    "\"braided, knitted\",-50.00,0.00,50.00\n"));
        ConfusionMatrix two;
        two.names = {"banded", "blotchy"};
        two.counts.assign(4, 0);
        two.images = {0, 0};
        caspl::test::expectError([&] { confusionDifferenceCsvText(one, two); }, {"different classes (3 and 2)"});
        const std::string lng = confusionCsvText({s1, s2});
        QVERIFY(lng.rfind("run,dataset,method,shots,seed,split,class,classname,predicted,predicted_name,images,percent\n", 0) == 0);
        QVERIFY2(lng.find("coop,dtd,coop,16,1,novel,0,banded,1,blotchy,1,50.00\n") != std::string::npos, lng.c_str());
        QVERIFY2(lng.find("coop,dtd,coop,16,1,novel,2,\"braided, knitted\",0,banded,1,100.00\n") != std::string::npos, lng.c_str());
        QVERIFY2(lng.find("coop,dtd,coop,16,2,novel,1,blotchy,1,blotchy,1,50.00\n") != std::string::npos, lng.c_str());
        const auto table = parseCsv(lng, "csv");
        QCOMPARE(table.size(), std::size_t(1 + 4 + 4));  // seed 1: 4 non-zero cells, seed 2: 4
        for (const auto& line : table) QCOMPARE(line.size(), std::size_t(12));
    }

    void aRunFoldersFilesAreFound() {
        namespace fs = std::filesystem;
        const fs::path run = fs::path(caspl::test::tempDir().toStdString()) / "my_run";
        fs::create_directories(run / "dtd" / "k16_seed1");
        fs::create_directories(run / "dtd" / "k16_seed2");
        fs::create_directories(run / "dtd" / "k16_seed10");
        fs::create_directories(run / "dtd" / "phase1");
        fs::create_directories(run / "eurosat" / "k16_seed1");
        auto e = evaluation(1, {{0, 0}});
        e.run.clear();
        writePerClassJson((run / "dtd" / "k16_seed1" / "per_class.json").string(), {e});
        e.seed = 2;
        writePerClassJson((run / "dtd" / "k16_seed2" / "per_class.json").string(), {e});
        e.seed = 10;
        writePerClassJson((run / "dtd" / "k16_seed10" / "per_class.json").string(), {e});
        writeFileAtomically((run / "dtd" / "phase1" / "per_class.json").string(), "not looked at");
        QCOMPARE(findPerClassFiles(run.string()).size(), std::size_t(3));
        const auto evals = readRunPerClass(run.string() + "/");
        QCOMPARE(evals.size(), std::size_t(3));
        QCOMPARE(evals[0].run, std::string("my_run"));  // the folder's name where the file has none
        QCOMPARE(evals[1].seed, 2);                     // seeds as numbers: 1, 2, 10
        QCOMPARE(evals[2].seed, 10);
        // A seed with results but no per-class file (evaluated by an earlier version) is named.
        QVERIFY(seedFoldersWithoutPerClass(run.string()).empty());
        fs::create_directories(run / "dtd" / "k16_seed3");
        writeFileAtomically((run / "dtd" / "k16_seed3" / "result.json").string(), "{}");
        QCOMPARE(seedFoldersWithoutPerClass(run.string()), std::vector<std::string>{(run / "dtd" / "k16_seed3").string()});
        writeFileAtomically((run / "eurosat" / "k16_seed1" / "per_class.json").string(), "{}");
        caspl::test::expectError([&] { readRunPerClass(run.string()); }, {"eurosat", "per_class.json", "caspl-per-class"});
        caspl::test::expectError([&] { findPerClassFiles((run / "nothing").string()); }, {"nothing", "not a folder"});
    }
};

CASPL_REGISTER_TEST(PerClassTest);
#include "test_per_class.moc"
