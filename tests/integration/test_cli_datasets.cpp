// `caspl datasets`, run as a user would: `check` finds the datasets under a root, reports list sizes, missing and
// (with --decode) undecodable images with what to do, and exits 0 when every present dataset is complete, 3
// otherwise; `split-folder` writes a reproducible split; `list` names every dataset. Images are tiny binary PPM
// files (OpenCV reads them whatever their extension), written here without any image library.
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

QString freshDir(const QString& name) {
    QDir d(QDir(caspl::test::tempDir()).filePath(name));
    d.removeRecursively();
    QDir().mkpath(d.path());
    return d.path();
}

void writeFile(const QString& path, const QByteArray& bytes) {
    QDir().mkpath(QFileInfo(path).path());
    QFile f(path);
    if (f.open(QIODevice::WriteOnly | QIODevice::Truncate)) f.write(bytes);
}

// A 4x3 binary PPM with some colour.
QByteArray tinyImage(int seed) {
    QByteArray b("P6\n4 3\n255\n");
    for (int i = 0; i < 4 * 3 * 3; ++i) b.append(char((i * 37 + seed * 11) & 255));
    return b;
}

// eurosat with its 10 classes: per class train 2, val 1, test 1 images, all present.
QString makeEuroSat(const QString& name) {
    const QString root = freshDir(name);
    const QString dir = root + "/eurosat";
    QJsonArray train, val, test;
    for (int label = 0; label < 10; ++label) {
        const QString cls = QStringLiteral("Class%1").arg(label);
        for (int i = 0; i < 4; ++i) {
            const QString file = QStringLiteral("%1/%1_%2.jpg").arg(cls).arg(i);
            writeFile(dir + "/2750/" + file, tinyImage(label * 4 + i));
            QJsonArray e{file, label, cls};
            (i < 2 ? train : i == 2 ? val : test).append(e);
        }
    }
    QJsonObject o;
    o["train"] = train;
    o["val"] = val;
    o["test"] = test;
    writeFile(dir + "/split_zhou_EuroSAT.json", QJsonDocument(o).toJson());
    return root;
}
}  // namespace

class DatasetsCliTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void completeDatasetExitsZero() {
        const QString root = makeEuroSat("cli-datasets/ok");
        const auto r = runCaspl({"datasets", "check", "--root", root});
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        QVERIFY(r.out.contains("EuroSAT (eurosat/)"));
        QVERIFY(r.out.contains("train 20 (expected ~13500), val 10 (expected ~5400), test 10 (expected ~8100); classes 10 (expected 10)"));
        QVERIFY(r.out.contains("images: 40 checked, 0 missing"));
        QVERIFY(r.out.contains("=> complete"));
        QVERIFY(r.out.contains("not present:") && r.out.contains("Caltech101 (caltech-101/)"));
        QVERIFY(r.out.contains("summary: 1 present, 1 complete, 0 with problems"));
        QVERIFY(!r.out.contains("PROBLEM"));
        QVERIFY(r.out.contains("warning: train list has 20 items, expected 13500 (an approximate count"));
        // --strict turns the approximate-count warnings into problems.
        QCOMPARE(runCaspl({"datasets", "check", "--root", root, "--strict"}).exitCode, 3);
    }

    void missingImageExitsThree() {
        const QString root = makeEuroSat("cli-datasets/missing");
        QFile::remove(root + "/eurosat/2750/Class9/Class9_3.jpg");
        const auto r = runCaspl({"datasets", "check", "--root", root, "--dataset", "EuroSAT"});
        QVERIFY2(r.exitCode == 3, qPrintable(r.out + r.err));
        QVERIFY(r.out.contains("1 missing"));
        QVERIFY(r.out.contains(root + "/eurosat/2750/Class9/Class9_3.jpg: missing"));
        QVERIFY(r.out.contains("what to do: re-extract"));
        QVERIFY(!r.out.contains("not present:"));  // only the named dataset
    }

    void decodeFindsCorruptImages() {
        const QString root = makeEuroSat("cli-datasets/corrupt");
        writeFile(root + "/eurosat/2750/Class3/Class3_1.jpg", "not an image");
        QCOMPARE(runCaspl({"datasets", "check", "--root", root}).exitCode, 0);  // it exists
        const auto r = runCaspl({"datasets", "check", "--root", root, "--decode", "--jobs", "2"});
        QVERIFY2(r.exitCode == 3, qPrintable(r.out + r.err));
        QVERIFY(r.out.contains("1 missing or undecodable"));
        QVERIFY(r.out.contains(root + "/eurosat/2750/Class3/Class3_1.jpg: cannot decode"));
    }

    void missingSplitFileSaysWhatToDownload() {
        const QString root = makeEuroSat("cli-datasets/nosplit");
        QFile::remove(root + "/eurosat/split_zhou_EuroSAT.json");
        const auto r = runCaspl({"datasets", "check", "--root", root});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.out.contains("eurosat/split_zhou_EuroSAT.json: not found") && r.out.contains("DATASETS.md"),
                 qPrintable(r.out));
    }

    void absentOrUnknownDataset() {
        const QString root = makeEuroSat("cli-datasets/absent");
        auto r = runCaspl({"datasets", "check", "--root", root, "--dataset", "Caltech101"});
        QCOMPARE(r.exitCode, 3);
        QVERIFY(r.out.contains("caltech-101: folder not found"));
        r = runCaspl({"datasets", "check", "--root", root, "--dataset", "Pets"});
        QCOMPARE(r.exitCode, 3);
        QVERIFY(r.err.contains("'Pets'") && r.err.contains("OxfordPets"));
        r = runCaspl({"datasets", "check", "--root", freshDir("cli-datasets/empty")});
        QCOMPARE(r.exitCode, 3);
        QVERIFY(r.out.contains("no benchmark dataset found"));
        r = runCaspl({"datasets", "check", "--root", root + "/nowhere"});
        QCOMPARE(r.exitCode, 3);
        QVERIFY(r.err.contains("nowhere: dataset root folder not found"));
        QCOMPARE(runCaspl({"datasets", "check"}).exitCode, 2);
    }

    void splitFolderIsReproducible() {
        const QString root = freshDir("cli-datasets/folder");
        for (const char* cls : {"cats", "dogs"})
            for (int i = 0; i < 10; ++i) writeFile(QStringLiteral("%1/%2/%3.png").arg(root, cls).arg(i), tinyImage(i));
        const QString out1 = root + "-a.json", out2 = root + "-b.json";
        const auto r = runCaspl({"datasets", "split-folder", "--root", root, "--out", out1, "--seed", "3"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        QVERIFY(r.out.contains("2 classes, train 10, val 4, test 6"));
        QCOMPARE(runCaspl({"datasets", "split-folder", "--root", root, "--out", out2, "--seed", "3"}).exitCode, 0);
        QFile a(out1), b(out2);
        QVERIFY(a.open(QIODevice::ReadOnly) && b.open(QIODevice::ReadOnly));
        const QByteArray bytes = a.readAll();
        QCOMPARE(bytes, b.readAll());
        const QJsonObject doc = QJsonDocument::fromJson(bytes).object();
        QCOMPARE(doc["train"].toArray().size(), 10);
        QVERIFY(doc["train"].toArray()[0].toArray()[0].toString().startsWith("cats/"));
        QCOMPARE(doc["image_folder"].toObject()["classes"].toArray().size(), 2);
    }

    void listNamesEveryDataset() {
        const auto r = runCaspl({"datasets", "list"});
        QCOMPARE(r.exitCode, 0);
        for (const char* n : {"ImageNet", "Caltech101", "OxfordPets", "StanfordCars", "OxfordFlowers", "Food101",
                              "FGVCAircraft", "SUN397", "DescribableTextures", "EuroSAT", "UCF101", "ImageNetV2",
                              "ImageNetSketch", "ImageNetA", "ImageNetR"})
            QVERIFY2(r.out.contains(n), n);
    }
};

CASPL_REGISTER_TEST(DatasetsCliTest);
#include "test_cli_datasets.moc"
