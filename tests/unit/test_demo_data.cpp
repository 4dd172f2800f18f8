// The demo's data side (no LibTorch): the IDX reader on files written here (plain, gzip, corrupt), the Fashion-MNIST
// export on a synthetic source and on the installed Debian package, and the BPE learner.
#include "core/data/split_zhou.h"
#include "core/demo/bpe_learner.h"
#include "core/demo/fashion_mnist.h"
#include "core/image/image.h"
#include "core/text/tokenizer.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "test_support.h"

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <QDir>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

using namespace caspl;
namespace fs = std::filesystem;

namespace {

std::string tmp(const QString& name) { return QDir(caspl::test::tempDir()).filePath(name).toStdString(); }

void put32(std::string& s, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(char((v >> shift) & 0xFF));
}

std::string idxImages(uint32_t count, uint32_t rows, uint32_t cols, const std::vector<uint8_t>& pixels) {
    std::string s;
    put32(s, 0x00000803);
    put32(s, count);
    put32(s, rows);
    put32(s, cols);
    s.append(pixels.begin(), pixels.end());
    return s;
}

std::string idxLabels(const std::vector<uint8_t>& labels) {
    std::string s;
    put32(s, 0x00000801);
    put32(s, uint32_t(labels.size()));
    s.append(labels.begin(), labels.end());
    return s;
}

void writePlain(const std::string& path, const std::string& data) { writeFileAtomically(path, data); }

void writeGz(const std::string& path, const std::string& data) {
    gzFile f = gzopen(path.c_str(), "wb");
    QVERIFY(f != nullptr);
    QCOMPARE(gzwrite(f, data.data(), unsigned(data.size())), int(data.size()));
    QCOMPARE(gzclose(f), Z_OK);
}

using caspl::test::expectError;

// A fake Fashion-MNIST source: `perClass` train and test images of each of the 10 classes, pixel value = a function
// of (set, index), so the test can check which image went where.
std::string fakeSource(const QString& name, int perClass) {
    const std::string dir = tmp(name);
    fs::create_directories(dir);
    for (const char* set : {"train", "t10k"}) {
        std::vector<uint8_t> pixels, labels;
        for (int i = 0; i < perClass * 10; ++i) {
            labels.push_back(uint8_t((i * 3) % 10));  // classes interleaved
            for (int p = 0; p < 28 * 28; ++p) pixels.push_back(uint8_t((i * 7 + p + (set[0] == 't' && set[1] == '1' ? 100 : 0)) % 251));
        }
        writeGz(dir + "/" + set + "-images-idx3-ubyte.gz", idxImages(uint32_t(labels.size()), 28, 28, pixels));
        writeGz(dir + "/" + set + "-labels-idx1-ubyte.gz", idxLabels(labels));
    }
    return dir;
}

}  // namespace

class IdxReaderTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readsPlainAndGzip() {
        std::vector<uint8_t> px;
        for (int i = 0; i < 2 * 3 * 4; ++i) px.push_back(uint8_t(i * 10));
        const std::string data = idxImages(2, 3, 4, px);
        writePlain(tmp("plain-images"), data);
        writeGz(tmp("gz-images.gz"), data);
        for (const auto& path : {tmp("plain-images"), tmp("gz-images.gz")}) {
            const IdxImages im = readIdxImages(path);
            QCOMPARE(im.count, int64_t(2));
            QCOMPARE(im.rows, 3);
            QCOMPARE(im.cols, 4);
            QVERIFY(im.pixels == px);
            QCOMPARE(int(im.image(1)[0]), 120);
        }
        writeGz(tmp("labels.gz"), idxLabels({3, 1, 4, 1, 5}));
        QVERIFY((readIdxLabels(tmp("labels.gz")) == std::vector<uint8_t>{3, 1, 4, 1, 5}));
        writeGz(tmp("empty-labels.gz"), idxLabels({}));
        QVERIFY(readIdxLabels(tmp("empty-labels.gz")).empty());
    }

    void errorsNameTheFile() {
        const std::string missing = tmp("no-such-file.gz");
        expectError([&] { readIdxImages(missing); }, {missing, "not found", "IDX image file"});

        writeGz(tmp("labels-as-images.gz"), idxLabels({1, 2, 3}));
        expectError([&] { readIdxImages(tmp("labels-as-images.gz")); },
                    {tmp("labels-as-images.gz"), "magic number 0x00000801", "label file", "0x00000803"});
        std::vector<uint8_t> px(2 * 2 * 2, 7);
        writeGz(tmp("images-as-labels.gz"), idxImages(2, 2, 2, px));
        expectError([&] { readIdxLabels(tmp("images-as-labels.gz")); },
                    {tmp("images-as-labels.gz"), "0x00000803", "0x00000801"});

        std::string shortData = idxImages(3, 2, 2, px);  // announces 12 bytes, holds 8
        writeGz(tmp("truncated-data.gz"), shortData);
        expectError([&] { readIdxImages(tmp("truncated-data.gz")); },
                    {tmp("truncated-data.gz"), "3 x 2 x 2 = 12 bytes", "8 follow", "truncated"});
        writeGz(tmp("trailing.gz"), idxLabels({1, 2}) + "xyz");
        expectError([&] { readIdxLabels(tmp("trailing.gz")); }, {tmp("trailing.gz"), "trailing bytes"});
        writeGz(tmp("short-header.gz"), std::string("\0\0\x08", 3));
        expectError([&] { readIdxImages(tmp("short-header.gz")); }, {tmp("short-header.gz"), "too short"});

        // A gzip file cut in the middle.
        std::vector<uint8_t> big(50 * 28 * 28);
        for (std::size_t i = 0; i < big.size(); ++i) big[i] = uint8_t((i * 2654435761u) >> 13);
        writeGz(tmp("whole.gz"), idxImages(50, 28, 28, big));
        const std::string whole = readFile(tmp("whole.gz"));
        writePlain(tmp("cut.gz"), whole.substr(0, whole.size() / 2));
        expectError([&] { readIdxImages(tmp("cut.gz")); }, {tmp("cut.gz"), "gzip"});
        // Corrupt bytes inside the deflate stream.
        std::string bad = whole;
        for (std::size_t i = 20; i < 60 && i < bad.size(); ++i) bad[i] = char(~bad[i]);
        writePlain(tmp("corrupt.gz"), bad);
        expectError([&] { readIdxImages(tmp("corrupt.gz")); }, {tmp("corrupt.gz")});
    }
};

class FashionMnistExportTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void exportsSyntheticSource() {
        const std::string src = fakeSource("fake-fmnist", 8);
        FashionMnistOptions o;
        o.sourceDir = src;
        o.pretrainPerClass = 3;
        o.trainPerClass = 2;
        o.valPerClass = 1;
        o.testPerClass = 4;
        const std::string cache = tmp("cache-synthetic");
        const FashionMnistData d = prepareFashionMnist(cache, o);
        QVERIFY(d.exported);
        QCOMPARE(d.root, (fs::absolute(cache) / "fashion-mnist").string());
        QCOMPARE(d.classnames.size(), std::size_t(10));
        QCOMPARE(d.classnames[9], std::string("ankle boot"));
        QCOMPARE(d.pretrain.size(), std::size_t(30));
        QCOMPARE(d.split.train.size(), std::size_t(20));
        QCOMPARE(d.split.val.size(), std::size_t(10));
        QCOMPARE(d.split.test.size(), std::size_t(40));

        // The split file is CoOp's format, paths relative to images/, readable by the standard reader.
        SplitZhouOptions so;
        so.imageDir = d.imageDir;
        const DatasetSplit s = readSplitZhou(d.splitPath, so);
        QVERIFY(s.train == d.split.train && s.val == d.split.val && s.test == d.split.test);
        const auto j = nlohmann::json::parse(readFile(d.splitPath));
        const std::string rel = j["test"][0][0].get<std::string>();
        QVERIFY2(rel.rfind("/") != std::string::npos && rel[0] != '/', rel.c_str());

        // Per class, IDX order: labels of the fake source are (i * 3) % 10, so class c's k-th train image is the
        // index i with i * 3 % 10 == c, in increasing order.
        std::map<int, std::vector<int64_t>> byClass;
        for (int i = 0; i < 80; ++i) byClass[(i * 3) % 10].push_back(i);
        std::set<std::string> files;
        for (const auto* list : {&d.pretrain, &d.split.train, &d.split.val, &d.split.test})
            for (const auto& e : *list) {
                QVERIFY2(fs::is_regular_file(e.impath), e.impath.c_str());
                QVERIFY2(files.insert(e.impath).second, e.impath.c_str());
                QCOMPARE(e.classname, d.classnames[std::size_t(e.label)]);
            }
        const Datum& firstPretrain = d.pretrain.front();  // image 0 of train, class 0
        QCOMPARE(firstPretrain.label, 0);
        QVERIFY2(QString::fromStdString(firstPretrain.impath).endsWith("/images/t-shirt/train_00000.png"),
                 firstPretrain.impath.c_str());
        // class 9 ("ankle_boot" folder): its 4th image of the train set is the first few-shot train image of class 9.
        const int64_t fourth = byClass[9][3];
        bool found = false;
        for (const auto& e : d.split.train)
            if (e.label == 9 && e.impath.find("ankle_boot/train_" + QString::number(fourth).rightJustified(5, '0').toStdString()) != std::string::npos)
                found = true;
        QVERIFY(found);

        // Pixels survive: grey PNG decoded as RGB equals the IDX bytes.
        const Image img = decodeImage(firstPretrain.impath);
        QCOMPARE(img.width, 28);
        QCOMPARE(img.height, 28);
        const IdxImages src0 = readIdxImages(src + "/train-images-idx3-ubyte.gz");
        for (int p = 0; p < 28 * 28; p += 37) {
            QCOMPARE(int(img.data[std::size_t(p) * 3]), int(src0.image(0)[p]));
            QCOMPARE(int(img.data[std::size_t(p) * 3 + 2]), int(src0.image(0)[p]));
        }

        // Idempotent: a second call finds the stamp and writes nothing.
        const auto stampTime = fs::last_write_time(d.root + "/export.json");
        const FashionMnistData again = prepareFashionMnist(cache, o);
        QVERIFY(!again.exported);
        QVERIFY(again.split.test == d.split.test && again.pretrain == d.pretrain);
        QVERIFY(fs::last_write_time(d.root + "/export.json") == stampTime);

        // Other options: exported again, replacing the old folder; no temporaries left.
        o.testPerClass = 2;
        const FashionMnistData other = prepareFashionMnist(cache, o);
        QVERIFY(other.exported);
        QCOMPARE(other.split.test.size(), std::size_t(20));
        for (const auto& e : fs::directory_iterator(fs::absolute(cache)))
            QVERIFY2(e.path().filename() == "fashion-mnist", e.path().c_str());
    }

    void interruptedExportLeavesNothing() {
        const std::string src = fakeSource("fake-fmnist-stop", 4);
        FashionMnistOptions o;
        o.sourceDir = src;
        o.pretrainPerClass = 2;
        o.trainPerClass = 1;
        o.valPerClass = 0;
        o.testPerClass = 2;
        const std::string cache = tmp("cache-stop");
        // A stale temporary of a process that no longer exists is cleaned up.
        fs::create_directories(cache + "/fashion-mnist.tmp-999999999/images");
        StopToken stop;
        stop.request();
        bool interrupted = false;
        try {
            prepareFashionMnist(cache, o, nullptr, &stop);
        } catch (const Interrupted&) {
            interrupted = true;
        }
        QVERIFY(interrupted);
        QVERIFY(!fs::exists(cache + "/fashion-mnist"));
        for (const auto& e : fs::directory_iterator(cache)) QFAIL(e.path().c_str());
        stop.reset();
        const FashionMnistData d = prepareFashionMnist(cache, o, nullptr, &stop);
        QVERIFY(d.exported);
        QVERIFY(d.split.val.empty());
    }

    void errorsNameTheProblem() {
        FashionMnistOptions o;
        o.sourceDir = tmp("no-such-source");
        expectError([&] { prepareFashionMnist(tmp("cache-missing"), o); },
                    {"no-such-source/train-images-idx3-ubyte.gz", "not found", "dataset-fashion-mnist"});
        o.sourceDir = fakeSource("fake-fmnist-small", 2);
        o.pretrainPerClass = 2;
        o.trainPerClass = 1;
        o.valPerClass = 0;
        expectError([&] { prepareFashionMnist(tmp("cache-small"), o); },
                    {"train-labels-idx1-ubyte.gz", "has 2 images", "asks for 3"});
        QVERIFY(!fs::exists(tmp("cache-small") + "/fashion-mnist"));
        o.trainPerClass = 0;
        expectError([&] { prepareFashionMnist(tmp("cache-small"), o); }, {"trainPerClass", "at least 1"});
    }

    void exportsTheDebianPackage() {
        if (!fashionMnistAvailable())
            QSKIP("dataset-fashion-mnist is not installed (scripts/install-deps.sh installs it)");
        FashionMnistOptions o;
        o.pretrainPerClass = 2;
        o.trainPerClass = 2;
        o.valPerClass = 1;
        o.testPerClass = 3;
        const FashionMnistData d = prepareFashionMnist(tmp("cache-real"), o);
        QCOMPARE(d.pretrain.size(), std::size_t(20));
        QCOMPARE(d.split.test.size(), std::size_t(30));
        // The first image of the IDX train set is an ankle boot (label 9), the first t10k image too.
        QCOMPARE(d.pretrain.front().label, 9);
        QCOMPARE(d.pretrain.front().classname, std::string("ankle boot"));
        QCOMPARE(d.split.test.front().label, 9);
        std::vector<int> perClass(10, 0);
        for (const auto& e : d.split.test) ++perClass[std::size_t(e.label)];
        for (int c : perClass) QCOMPARE(c, 3);
        const Image img = decodeImage(d.split.test.front().impath);
        QCOMPARE(img.width, 28);
        int bright = 0;
        for (uint8_t v : img.data) bright += v > 128;
        QVERIFY(bright > 30);  // not a blank image
    }
};

class BpeLearnerTest : public QObject {
    Q_OBJECT
    static std::vector<std::string> captions() {
        std::vector<std::string> out;
        for (const char* t : {"a photo of a {}.", "a bad photo of a {}.", "a drawing of the {}.", "this is a {}."})
            for (const char* c : {"t-shirt", "trouser", "pullover", "dress", "ankle boot", "sneaker", "bag"}) {
                std::string s = t;
                s.replace(s.find("{}"), 2, c);
                out.push_back(s);
            }
        return out;
    }

private Q_SLOTS:
    void layoutAndRoundTrip() {
        const auto texts = captions();
        const LearnedBpe bpe = learnBpe(texts);
        QVERIFY(!bpe.merges.empty());
        QCOMPARE(bpe.vocabSize(), 512 + int(bpe.merges.size()) + 2);
        QCOMPARE(bpe.vocabulary[0], ClipTokenizer::byteSymbols()[0]);
        QCOMPARE(bpe.vocabulary[256], ClipTokenizer::byteSymbols()[0] + "</w>");
        QCOMPARE(bpe.vocabulary[std::size_t(bpe.vocabSize() - 2)], std::string("<|startoftext|>"));
        QCOMPARE(bpe.vocabulary[std::size_t(bpe.vocabSize() - 1)], std::string("<|endoftext|>"));
        QCOMPARE(bpe.distinctWords, int64_t(19));  // 9 template words + 10 class-name pieces

        const ClipTokenizer tok = bpe.tokenizer();
        QCOMPARE(tok.sotId(), bpe.vocabSize() - 2);
        QCOMPARE(tok.eotId(), bpe.vocabSize() - 1);
        for (const auto& t : texts) {
            std::string expected;
            for (const auto& p : tok.preTokenize(t)) expected += p + " ";
            QCOMPARE(tok.decode(tok.encode(t)), expected);
        }
        // Words seen often are single tokens; so is every word of this small corpus (each occurs at least 4 times).
        for (const char* w : {"photo", "a", "of", "ankle", "boot", "sneaker", "pullover"}) {
            const auto ids = tok.encode(w);
            QCOMPARE(ids.size(), std::size_t(1));
            QCOMPARE(tok.tokens(ids)[0], std::string(w) + "</w>");
        }
        QCOMPARE(tok.encode("t-shirt").size(), std::size_t(3));  // "t", "-", "shirt": three pre-tokens
        // Unseen text still encodes (byte fallback) and round-trips.
        QCOMPARE(tok.decode(tok.encode("zebra crossing!")), std::string("zebra crossing ! "));

        // Saved files load with ClipTokenizer::load and tokenize identically.
        const std::string folder = tmp("bpe-vocab");
        saveBpe(bpe, folder);
        QVERIFY(readFile(folder + "/merges.txt").rfind("#version: 0.2\n", 0) == 0);
        const ClipTokenizer loaded = ClipTokenizer::load(folder);
        QCOMPARE(loaded.vocabSize(), bpe.vocabSize());
        QCOMPARE(loaded.mergeCount(), int(bpe.merges.size()));
        for (const auto& t : texts) QVERIFY(loaded.tokenize(t, 32) == tok.tokenize(t, 32));
        QVERIFY(loaded.tokenize("a photo of a coat.", 32) == tok.tokenize("a photo of a coat.", 32));
    }

    void deterministicGreedyMerges() {
        // Pairs: a+"b</w>" 2 (the word "ab" twice), a+b, b+"c</w>", x+"y</w>" once each: a+"b</w>" merges first,
        // then the tie at 1 goes to the pair whose first symbol is smallest.
        const LearnedBpe bpe = learnBpe({"ab ab abc", "xy"}, {10, 1});
        QVERIFY(bpe.merges.size() >= 2);
        QCOMPARE(bpe.merges[0].first, std::string("a"));
        QCOMPARE(bpe.merges[0].second, std::string("b</w>"));
        QCOMPARE(bpe.merges[1].first, std::string("a"));
        QCOMPARE(bpe.merges[1].second, std::string("b"));
        const LearnedBpe again = learnBpe({"ab ab abc", "xy"}, {10, 1});
        QVERIFY(again.merges == bpe.merges);
        // minPairCount 2: only the pair that repeats.
        const LearnedBpe repeated = learnBpe({"ab ab abc", "xy"});
        QCOMPARE(repeated.merges.size(), std::size_t(1));
        // maxMerges caps the count.
        QCOMPARE(learnBpe(captions(), {5, 2}).merges.size(), std::size_t(5));
        QCOMPARE(learnBpe(captions(), {0, 2}).vocabSize(), 514);
        QCOMPARE(learnBpe({}, {}).vocabSize(), 514);
        expectError([] { learnBpe({"a"}, {-1, 2}); }, {"maxMerges"});
        expectError([] { learnBpe({"a"}, {10, 0}); }, {"minPairCount"});
    }
};

CASPL_REGISTER_TEST(IdxReaderTest);
CASPL_REGISTER_TEST(FashionMnistExportTest);
CASPL_REGISTER_TEST(BpeLearnerTest);
#include "test_demo_data.moc"
