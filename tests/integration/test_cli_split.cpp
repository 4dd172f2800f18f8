// `caspl split`, run as a user would: the printed lists equal the Python reference (fixtures/fewshot), options
// behave as documented and bad input gives exit code 3 with a message naming the file and the entry.
#include "cli_runner.h"
#include "test_support.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

namespace {
using Result = caspl::test::CliResult;
Result runCaspl(const QStringList& args) { return caspl::test::runCasplProcess(args); }

QString writeTemp(const QString& name, const QByteArray& content) {
    const QString path = QDir(caspl::test::tempDir()).filePath(name);
    QFile f(path);
    if (f.open(QIODevice::WriteOnly | QIODevice::Truncate)) f.write(content);
    return path;
}

QJsonObject parseObject(const QString& text) {
    QJsonParseError err{};
    const auto doc = QJsonDocument::fromJson(text.toUtf8(), &err);
    return doc.isObject() ? doc.object() : QJsonObject{};
}

// A tiny split: labels 0..3, train 5/1/3/4 items (interleaved), val 2 per class, test 1 per class.
QByteArray tinySplit() {
    QJsonObject root;
    auto item = [](const QString& p, int label) {
        return QJsonArray{p, label, QStringLiteral("class %1").arg(label)};
    };
    QJsonArray train, val, test;
    const int counts[4] = {5, 1, 3, 4};
    for (int i = 0; i < 5; ++i)
        for (int label = 0; label < 4; ++label)
            if (i < counts[label]) train.append(item(QStringLiteral("c%1/train_%2.jpg").arg(label).arg(i), label));
    for (int label = 0; label < 4; ++label) {
        for (int i = 0; i < 2; ++i) val.append(item(QStringLiteral("c%1/val_%2.jpg").arg(label).arg(i), label));
        test.append(item(QStringLiteral("c%1/test.jpg").arg(label), label));
    }
    root["train"] = train;
    root["val"] = val;
    root["test"] = test;
    return QJsonDocument(root).toJson();
}
}  // namespace

class SplitCliTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void matchesPythonReference() {
        // Runs the fixture's split through the executable and compares with the reference lists: all classes
        // (impaths) and base/new (impath, new label, classname), for one seed and shot count per file.
        CASPL_REQUIRE_FIXTURE(path, "fewshot/b_eurosat10_small.json");
        QFile f(QString::fromStdString(path));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject doc = QJsonDocument::fromJson(f.readAll()).object();
        const QString splitPath =
            writeTemp("split_zhou_EuroSAT.json", QJsonDocument(doc["split"].toObject()).toJson());
        int compared = 0;
        for (const auto& cv : doc["cases"].toArray()) {
            const QJsonObject c = cv.toObject();
            if (c["num_shots"].toInt() != 4 && c["num_shots"].toInt() != 16) continue;
            const QString seed = QString::number(c["seed"].toInt());
            const QString shots = QString::number(c["num_shots"].toInt());
            const auto all = runCaspl({"split", "--dataset", "EuroSAT", "--split-json", splitPath, "--shots", shots,
                                       "--seed", seed});
            QVERIFY2(all.exitCode == 0, qPrintable(all.err));
            const QJsonObject got = parseObject(all.out);
            for (const char* key : {"train", "val"}) {
                const QJsonArray g = got[key].toArray(), e = c[key].toArray();
                QCOMPARE(g.size(), e.size());
                for (int i = 0; i < g.size(); ++i) QCOMPARE(g[i].toArray()[0].toString(), e[i].toString());
                compared += int(g.size());
            }
            for (const char* sub : {"base", "new"}) {
                const auto r = runCaspl({"split", "--dataset", "EuroSAT", "--split-json", splitPath, "--shots", shots,
                                         "--seed", seed, "--subsample", sub});
                QVERIFY2(r.exitCode == 0, qPrintable(r.err));
                const QJsonObject gs = parseObject(r.out);
                const QJsonObject es = c[sub].toObject();
                for (const char* key : {"train", "val", "test"}) {
                    QCOMPARE(gs[key].toArray(), es[key].toArray());
                    compared += int(gs[key].toArray().size());
                }
            }
        }
        QVERIFY(compared > 0);
        qInfo("caspl split: %d items equal to the Python reference", compared);
    }

    void keepsRelativePathsOrJoinsImageRoot() {
        const QString split = writeTemp("tiny_split.json", tinySplit());
        const auto rel = runCaspl({"split", "--dataset", "OxfordPets", "--split-json", split, "--shots", "2"});
        QVERIFY2(rel.exitCode == 0, qPrintable(rel.err));
        const QJsonObject a = parseObject(rel.out);
        // train: 2 + 1 (class of 1 taken whole) + 2 + 2; val: min(2, 4) = 2 of 2 per class; test untouched.
        QCOMPARE(a["train"].toArray().size(), qsizetype(7));
        QCOMPARE(a["val"].toArray().size(), qsizetype(8));
        QCOMPARE(a["test"].toArray().size(), qsizetype(4));
        QVERIFY(a["train"].toArray()[0].toArray()[0].toString().startsWith("c0/train_"));
        QCOMPARE(a["train"].toArray()[0].toArray()[2].toString(), QStringLiteral("class 0"));

        const auto joined = runCaspl({"split", "--dataset", "OxfordPets", "--split-json", split, "--shots", "2",
                                      "--image-root", "/data/pets/images"});
        QCOMPARE(joined.exitCode, 0);
        const QJsonObject b = parseObject(joined.out);
        QCOMPARE(b["train"].toArray()[0].toArray()[0].toString(),
                 "/data/pets/images/" + a["train"].toArray()[0].toArray()[0].toString());

        // No --shots: the lists stay whole.
        const auto whole = runCaspl({"split", "--dataset", "OxfordPets", "--split-json", split});
        QCOMPARE(whole.exitCode, 0);
        QCOMPARE(parseObject(whole.out)["train"].toArray().size(), qsizetype(13));
    }

    void writesOutFile() {
        const QString split = writeTemp("tiny_split_out.json", tinySplit());
        const QString out = QDir(caspl::test::tempDir()).filePath("fewshot_out.json");
        const auto r = runCaspl({"split", "--dataset", "DescribableTextures", "--split-json", split, "--shots", "1",
                                 "--seed", "3", "--subsample", "base", "--out", out});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(!r.out.contains("\"train\""));
        QFile f(out);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
        // 4 classes -> base keeps labels 0 and 1: 1 shot each in train, 1 in val; test 1 each.
        QCOMPARE(o["train"].toArray().size(), qsizetype(2));
        QCOMPARE(o["val"].toArray().size(), qsizetype(2));
        QCOMPARE(o["test"].toArray().size(), qsizetype(2));
        QVERIFY(QDir(caspl::test::tempDir()).entryList({"fewshot_out.json.tmp*"}).isEmpty());
    }

    void imageNetSamplesTrainOnly() {
        QJsonObject root = QJsonDocument::fromJson(tinySplit()).object();
        root.remove("val");
        const QString split = writeTemp("tiny_imagenet.json", QJsonDocument(root).toJson());
        const auto r = runCaspl({"split", "--dataset", "ImageNet", "--split-json", split, "--shots", "1"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject o = parseObject(r.out);
        QCOMPARE(o["train"].toArray().size(), qsizetype(4));
        QCOMPARE(o["val"].toArray(), o["test"].toArray());
        QCOMPARE(o["test"].toArray().size(), qsizetype(4));
    }

    void badInputIsExitCode3() {
        const QString missing = QDir(caspl::test::tempDir()).filePath("no_such_split.json");
        auto r = runCaspl({"split", "--dataset", "OxfordPets", "--split-json", missing});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains(missing), qPrintable(r.err));

        const QString bad = writeTemp("bad_entry.json",
                                      R"({"train": [["a.jpg", 0, "x"], ["b.jpg", "one", "y"]], "val": [], "test": []})");
        r = runCaspl({"split", "--dataset", "OxfordPets", "--split-json", bad, "--shots", "1"});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains(bad) && r.err.contains("\"train\"[1]") && r.err.contains("label"), qPrintable(r.err));

        const QString noVal = writeTemp("no_val.json", R"({"train": [], "test": []})");
        r = runCaspl({"split", "--dataset", "EuroSAT", "--split-json", noVal});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains("\"val\""), qPrintable(r.err));

        const QString split = writeTemp("tiny_split_bad.json", tinySplit());
        r = runCaspl({"split", "--dataset", "Pets", "--split-json", split});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains("Pets") && r.err.contains("OxfordPets"), qPrintable(r.err));
    }

    void wrongUsageIsExitCode2() {
        const QString split = writeTemp("tiny_split_usage.json", tinySplit());
        QCOMPARE(runCaspl({"split", "--dataset", "OxfordPets", "--split-json", split, "--subsample", "novel"}).exitCode,
                 2);
        QCOMPARE(runCaspl({"split", "--dataset", "OxfordPets", "--split-json", split, "--seed", "0"}).exitCode, 2);
        QCOMPARE(runCaspl({"split", "--split-json", split}).exitCode, 2);
    }
};

CASPL_REGISTER_TEST(SplitCliTest);
#include "test_cli_split.moc"
