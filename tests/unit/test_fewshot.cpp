// CPython `random` port and the Dassl/CoOp few-shot protocol, checked against the reference data made with the
// real Python code (fixtures/fewshot): every low-level vector of rng_vectors.json, and for every case file every
// (seed, shots) case's few-shot train/val lists and base/new lists, item by item.
#include "core/data/fewshot.h"
#include "core/data/py_random.h"
#include "core/data/split_zhou.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "test_support.h"

#include <QDir>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

using namespace caspl;
using nlohmann::json;

namespace {

json loadJson(const std::string& path) { return json::parse(readFile(path)); }

// Python's hex(n) of a non-negative int given as 32-bit words, least significant first.
std::string pyHex(const std::vector<uint32_t>& words) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (size_t w = words.size(); w-- > 0;)
        for (int shift = 28; shift >= 0; shift -= 4) s += digits[(words[w] >> shift) & 0xf];
    const auto first = s.find_first_not_of('0');
    return "0x" + (first == std::string::npos ? std::string("0") : s.substr(first));
}

std::vector<uint32_t> toWords(uint64_t v) { return {uint32_t(v & 0xffffffffU), uint32_t(v >> 32)}; }

std::string describe(const Datum& d) {
    return "[" + d.impath + ", " + std::to_string(d.label) + ", " + d.classname + "]";
}

// Compares a list against the fixture's list of impath strings; returns the number of items compared.
int compareImpaths(const std::vector<Datum>& got, const json& expected, const std::string& where) {
    if (got.size() != expected.size())
        throw std::runtime_error(where + ": " + std::to_string(got.size()) + " items, expected " +
                                 std::to_string(expected.size()));
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i].impath != expected[i].get<std::string>())
            throw std::runtime_error(where + "[" + std::to_string(i) + "]: got " + got[i].impath + ", expected " +
                                     expected[i].get<std::string>());
    return int(got.size());
}

// Compares a list against the fixture's list of [impath, label, classname].
int compareTriples(const std::vector<Datum>& got, const json& expected, const std::string& where) {
    if (got.size() != expected.size())
        throw std::runtime_error(where + ": " + std::to_string(got.size()) + " items, expected " +
                                 std::to_string(expected.size()));
    for (size_t i = 0; i < got.size(); ++i) {
        const auto& e = expected[i];
        if (got[i].impath != e[0].get<std::string>() || got[i].label != e[1].get<int>() ||
            got[i].classname != e[2].get<std::string>())
            throw std::runtime_error(where + "[" + std::to_string(i) + "]: got " + describe(got[i]) +
                                     ", expected " + e.dump());
    }
    return int(got.size());
}

std::vector<Datum> make(std::initializer_list<std::pair<const char*, int>> items) {
    std::vector<Datum> out;
    for (const auto& [path, label] : items) out.push_back({path, label, "class" + std::to_string(label)});
    return out;
}

std::string writeTemp(const QString& name, const std::string& content) {
    const std::string path = QDir(caspl::test::tempDir()).filePath(name).toStdString();
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

void expectSplitRejected(const std::string& content, std::initializer_list<const char*> fragments) {
    static int counter = 0;
    const std::string path = writeTemp(QString("bad_split_%1.json").arg(++counter), content);
    std::vector<std::string> all{path};
    all.insert(all.end(), fragments.begin(), fragments.end());
    caspl::test::expectError([&] { readSplitZhou(path); }, all);
}

}  // namespace

class PyRandomTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void matchesEveryRngVector() {
        CASPL_REQUIRE_FIXTURE(path, "fewshot/rng_vectors.json");
        const json doc = loadJson(path);
        int seeds = 0, states = 0, outputs = 0, bits = 0, below = 0, samples = 0, shuffles = 0, randoms = 0,
            choices = 0;
        for (const auto& s : doc.at("seeds")) {
            const std::string seedText = s.at("seed").get<std::string>();
            const std::string tag = "seed " + seedText;
            QCOMPARE(PyRandom::keyFromDecimal(seedText), s.at("key_words").get<std::vector<uint32_t>>());

            PyRandom rng;
            rng.seedDecimal(seedText);
            // int64 seeding agrees with the decimal one wherever the seed fits.
            if (seedText.size() < 19) {
                PyRandom viaInt(std::strtoll(seedText.c_str(), nullptr, 10));
                QVERIFY2(viaInt.state() == rng.state(), tag.c_str());
            }
            const auto& st = s.at("state_after_seed");
            const auto first8 = st.at("mt_first8").get<std::vector<uint32_t>>();
            const auto last2 = st.at("mt_last2").get<std::vector<uint32_t>>();
            for (size_t i = 0; i < first8.size(); ++i) QVERIFY2(rng.state()[i] == first8[i], tag.c_str());
            QVERIFY2(rng.state()[622] == last2[0] && rng.state()[623] == last2[1], tag.c_str());
            QCOMPARE(rng.index(), st.at("index").get<int>());
            ++states;

            for (uint32_t v : s.at("uint32_first16").get<std::vector<uint32_t>>()) {
                QVERIFY2(rng.next32() == v, tag.c_str());
                ++outputs;
            }
            rng.seedDecimal(seedText);
            int position = 0;
            for (const auto& pv : s.at("uint32_at")) {
                const int want = pv[0].get<int>();
                uint32_t v = 0;
                while (position <= want) {
                    v = rng.next32();
                    ++position;
                }
                QVERIFY2(v == pv[1].get<uint32_t>(), (tag + " output " + std::to_string(want)).c_str());
                ++outputs;
            }

            // getrandbits: once through the word form, once through the 64-bit form where it applies.
            rng.seedDecimal(seedText);
            for (const auto& kv : s.at("getrandbits")) {
                const int k = kv[0].get<int>();
                QCOMPARE(pyHex(rng.getrandbitsWords(k)), kv[1].get<std::string>());
                ++bits;
            }
            rng.seedDecimal(seedText);
            for (const auto& kv : s.at("getrandbits")) {
                const int k = kv[0].get<int>();
                const std::string got = k <= 64 ? pyHex(toWords(rng.getrandbits(k))) : pyHex(rng.getrandbitsWords(k));
                QCOMPARE(got, kv[1].get<std::string>());
            }

            rng.seedDecimal(seedText);
            for (const auto& nv : s.at("randbelow")) {
                const uint64_t n = nv[0].get<uint64_t>();
                QVERIFY2(rng.randbelow(n) == nv[1].get<uint64_t>(), (tag + " randbelow " + std::to_string(n)).c_str());
                ++below;
            }

            rng.seedDecimal(seedText);
            for (const auto& t : s.at("sample")) {
                const size_t n = t[0].get<size_t>(), k = t[1].get<size_t>();
                QCOMPARE(rng.sample(n, k), t[2].get<std::vector<size_t>>());
                ++samples;
            }

            rng.seedDecimal(seedText);
            for (const auto& t : s.at("shuffle")) {
                QCOMPARE(rng.shufflePermutation(t[0].get<size_t>()), t[1].get<std::vector<size_t>>());
                ++shuffles;
            }

            rng.seedDecimal(seedText);
            for (const auto& h : s.at("random")) {
                const std::string hex = h.get<std::string>();
                const double want = std::strtod(hex.c_str(), nullptr);
                const double got = rng.random();
                QVERIFY2(got == want, (tag + " random " + hex).c_str());
                ++randoms;
            }

            rng.seedDecimal(seedText);
            for (const auto& t : s.at("choices")) {
                QCOMPARE(rng.choices(t[0].get<size_t>(), t[1].get<size_t>()), t[2].get<std::vector<size_t>>());
                ++choices;
            }
            ++seeds;
        }
        QCOMPARE(seeds, 12);
        qInfo("rng_vectors.json: %d seeds; %d states, %d uint32 outputs, %d getrandbits, %d randbelow, %d sample, "
              "%d shuffle, %d random, %d choices vectors matched",
              seeds, states, outputs, bits, below, samples, shuffles, randoms, choices);
    }

    void sampleSetSizeThresholds() {
        // README table: 21 for K <= 5, then the smallest power of 4 that is at least 3K, plus 21.
        QCOMPARE(PyRandom::sampleSetSize(1), uint64_t(21));
        QCOMPARE(PyRandom::sampleSetSize(5), uint64_t(21));
        QCOMPARE(PyRandom::sampleSetSize(6), uint64_t(85));
        QCOMPARE(PyRandom::sampleSetSize(21), uint64_t(85));
        QCOMPARE(PyRandom::sampleSetSize(22), uint64_t(277));
        QCOMPARE(PyRandom::sampleSetSize(85), uint64_t(277));
        QCOMPARE(PyRandom::sampleSetSize(86), uint64_t(1045));
        QCOMPARE(PyRandom::sampleSetSize(341), uint64_t(1045));
        QCOMPARE(PyRandom::sampleSetSize(342), uint64_t(4117));
        QCOMPARE(PyRandom::sampleSetSize(1365), uint64_t(4117));
        for (size_t k = 6; k <= 200000; ++k) {
            uint64_t p = 1;
            while (p < 3 * k) p *= 4;
            QCOMPARE(PyRandom::sampleSetSize(k), 21 + p);
        }
    }

    void negativeSeedEqualsAbsoluteValue() {
        PyRandom a(-5), b(5);
        QVERIFY(a.state() == b.state());
        PyRandom c(INT64_MIN), d;
        d.seedDecimal("9223372036854775808");
        QVERIFY(c.state() == d.state());
    }

    void rejectsBadArguments() {
        PyRandom rng(1);
        QVERIFY_THROWS_EXCEPTION(Error, rng.sample(3, 4));
        QVERIFY_THROWS_EXCEPTION(Error, rng.randbelow(0));
        QVERIFY_THROWS_EXCEPTION(Error, rng.randrange(5, 5));
        QVERIFY_THROWS_EXCEPTION(Error, rng.seedDecimal("12a"));
        QVERIFY_THROWS_EXCEPTION(Error, rng.seedDecimal("-"));
        QVERIFY(rng.sample(3, 0).empty());
        const auto r = rng.randint(3, 5);
        QVERIFY(r >= 3 && r <= 5);
    }
};

class FewShotTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void reproducesEveryFixtureCase_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("a_pets37") << "fewshot/a_pets37.json";
        QTest::newRow("b_eurosat10_small") << "fewshot/b_eurosat10_small.json";
        QTest::newRow("c_dtd47") << "fewshot/c_dtd47.json";
    }

    void reproducesEveryFixtureCase() {
        QFETCH(QString, file);
        CASPL_REQUIRE_FIXTURE(path, file);
        const json doc = loadJson(path);
        const auto& meta = doc.at("meta");
        // The dataset class the reference used is named by its split file: split_zhou_<Name>.json.
        std::string name = meta.at("split_file").get<std::string>();
        QVERIFY(name.rfind("split_zhou_", 0) == 0 && name.size() > 16);
        name = name.substr(11, name.size() - 11 - 5);
        const DatasetProtocol& protocol = datasetProtocol(name);
        QCOMPARE(int(protocol.kind), int(DatasetKind::Standard));

        const DatasetSplit full = parseSplitZhou(doc.at("split").dump(), path + " (split)");
        QCOMPARE(full.train.size(), doc.at("split").at("train").size());
        QCOMPARE(full.test.size(), doc.at("split").at("test").size());

        int cases = 0, fewshotItems = 0, subsampledItems = 0;
        for (const auto& c : doc.at("cases")) {
            FewShotOptions opt;
            opt.seed = c.at("seed").get<int64_t>();
            opt.numShots = c.at("num_shots").get<int>();
            const std::string where =
                name + " seed " + std::to_string(opt.seed) + " shots " + std::to_string(opt.numShots);
            try {
                const DatasetSplit all = buildFewShotSplit(full, protocol, opt);
                fewshotItems += compareImpaths(all.train, c.at("train"), where + " train");
                fewshotItems += compareImpaths(all.val, c.at("val"), where + " val");
                QCOMPARE(all.test, full.test);
                for (Subsample sub : {Subsample::Base, Subsample::New}) {
                    opt.subsample = sub;
                    const std::string subName = subsampleName(sub);
                    const DatasetSplit s = buildFewShotSplit(full, protocol, opt);
                    const auto& e = c.at(subName);
                    subsampledItems += compareTriples(s.train, e.at("train"), where + " " + subName + " train");
                    subsampledItems += compareTriples(s.val, e.at("val"), where + " " + subName + " val");
                    subsampledItems += compareTriples(s.test, e.at("test"), where + " " + subName + " test");
                }
            } catch (const std::exception& e) {
                QFAIL(e.what());
            }
            ++cases;
        }
        QCOMPARE(cases, 15);
        qInfo("%s: %d cases (seeds x shots) matched: %d few-shot train/val items, %d base/new train/val/test items",
              qPrintable(file), cases, fewshotItems, subsampledItems);
    }

    void imageNetSamplesTrainOnly() {
        // ImageNet draws only train (the first draw of the stream, so it equals the Standard train list), then
        // subsample_classes(train, test) and val = test.
        CASPL_REQUIRE_FIXTURE(path, "fewshot/b_eurosat10_small.json");
        const json doc = loadJson(path);
        const DatasetSplit full = parseSplitZhou(doc.at("split").dump(), path);
        for (const auto& c : doc.at("cases")) try {
            FewShotOptions opt;
            opt.seed = c.at("seed").get<int64_t>();
            opt.numShots = c.at("num_shots").get<int>();
            const DatasetSplit in = buildFewShotSplit(full, datasetProtocol("ImageNet"), opt);
            QCOMPARE(compareImpaths(in.train, c.at("train"), "ImageNet train"), int(c.at("train").size()));
            QCOMPARE(in.val, in.test);
            QCOMPARE(in.test, full.test);
            opt.subsample = Subsample::New;
            const DatasetSplit nw = buildFewShotSplit(full, datasetProtocol("ImageNet"), opt);
            QCOMPARE(compareTriples(nw.train, c.at("new").at("train"), "ImageNet new train"),
                     int(c.at("new").at("train").size()));
            compareTriples(nw.test, c.at("new").at("test"), "ImageNet new test");
            QCOMPARE(nw.val, nw.test);
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
    }

    void testOnlyDatasetsAreNeverSampled() {
        DatasetSplit full;
        full.test = make({{"a.jpg", 0}, {"b.jpg", 1}, {"c.jpg", 1}});
        FewShotOptions opt;
        opt.numShots = 1;
        opt.subsample = Subsample::Base;
        const DatasetSplit s = buildFewShotSplit(full, datasetProtocol("ImageNetR"), opt);
        QCOMPARE(s.train, full.test);
        QCOMPARE(s.test, full.test);
        QVERIFY(s.val.empty());
    }

    void groupsByFirstAppearance() {
        const auto data = make({{"x1", 5}, {"y1", 2}, {"x2", 5}, {"z1", 9}, {"y2", 2}});
        const auto groups = splitDatasetByLabel(data);
        QCOMPARE(int(groups.size()), 3);
        QCOMPARE(groups[0].first, 5);
        QCOMPARE(groups[1].first, 2);
        QCOMPARE(groups[2].first, 9);
        QCOMPARE(groups[0].second[1].impath, std::string("x2"));
    }

    void smallClassesAreTakenWholeWithoutDrawing() {
        const auto data = make({{"a", 0}, {"b", 1}, {"c", 0}});
        PyRandom rng(3), untouched(3);
        const auto out = generateFewshotDataset(data, 4, rng);
        QCOMPARE(out.size(), size_t(3));
        QCOMPARE(out[0].impath, std::string("a"));
        QCOMPARE(out[1].impath, std::string("c"));
        QCOMPARE(out[2].impath, std::string("b"));
        QCOMPARE(rng.next32(), untouched.next32());
        PyRandom r2(3);
        QCOMPARE(generateFewshotDataset(data, 0, r2), data);
        QCOMPARE(generateFewshotDataset(data, -1, r2), data);
        // repeat=True draws random.choices(items, k=K) for small classes.
        const auto rep = generateFewshotDataset(data, 4, r2, true);
        QCOMPARE(rep.size(), size_t(8));
    }

    void subsampleRelabelsHalves() {
        const auto train = make({{"t7", 7}, {"t3", 3}, {"t1", 1}, {"t9", 9}, {"t3b", 3}});
        const auto test = make({{"s9", 9}, {"s1", 1}, {"s4", 4}, {"s7", 7}, {"s3", 3}});
        // labels {1, 3, 7, 9}: m = 2; base {1->0, 3->1}, new {7->0, 9->1}; label 4 is absent from train.
        const auto base = subsampleClasses({train, test}, Subsample::Base);
        QCOMPARE(int(base[0].size()), 3);
        QCOMPARE(base[0][0].impath, std::string("t3"));
        QCOMPARE(base[0][0].label, 1);
        QCOMPARE(base[0][1].label, 0);
        QCOMPARE(base[0][0].classname, std::string("class3"));
        QCOMPARE(int(base[1].size()), 2);
        QCOMPARE(base[1][0].impath, std::string("s1"));
        const auto nw = subsampleClasses({train, test}, Subsample::New);
        QCOMPARE(nw[0][0].impath, std::string("t7"));
        QCOMPARE(nw[0][0].label, 0);
        QCOMPARE(nw[0][1].label, 1);
        QCOMPARE(nw[1][0].impath, std::string("s9"));
        QCOMPARE(nw[1][0].label, 1);
        QCOMPARE(int(nw[1].size()), 2);
        // odd count: ceil goes to base
        const auto odd = make({{"a", 0}, {"b", 1}, {"c", 2}});
        QCOMPARE(int(subsampleClasses({odd}, Subsample::Base)[0].size()), 2);
        QCOMPARE(int(subsampleClasses({odd}, Subsample::New)[0].size()), 1);
        QCOMPARE(subsampleClasses({odd}, Subsample::All)[0], odd);
        QCOMPARE(parseSubsample("new"), Subsample::New);
        QVERIFY_THROWS_EXCEPTION(Error, parseSubsample("novel"));
        QVERIFY_THROWS_EXCEPTION(Error, datasetProtocol("Pets"));
    }

    void readsSplitFileAndJoinsImageDir() {
        CASPL_REQUIRE_FIXTURE(path, "fewshot/c_dtd47.json");
        const json doc = loadJson(path);
        const std::string splitPath = writeTemp("split_zhou_DescribableTextures.json", doc.at("split").dump());
        SplitZhouOptions opt;
        opt.imageDir = "/data/dtd/images";
        const DatasetSplit s = readSplitZhou(splitPath, opt);
        const auto& t = doc.at("split").at("train");
        QCOMPARE(s.train.size(), t.size());
        QCOMPARE(s.val.size(), doc.at("split").at("val").size());
        QCOMPARE(s.train[5].impath, "/data/dtd/images/" + t[5][0].get<std::string>());
        QCOMPARE(s.train[5].label, t[5][1].get<int>());
        QCOMPARE(s.train[5].classname, t[5][2].get<std::string>());
        // Round trip through the writer.
        const DatasetSplit back = parseSplitZhou(splitZhouToJson(s), "round trip");
        QCOMPARE(back.train, s.train);
        QCOMPARE(back.val, s.val);
        QCOMPARE(back.test, s.test);
        QCOMPARE(joinPath("dir/", "a.jpg"), std::string("dir/a.jpg"));
        QCOMPARE(joinPath("dir", "/abs/a.jpg"), std::string("/abs/a.jpg"));
        QCOMPARE(joinPath("", "a.jpg"), std::string("a.jpg"));
    }

    void rejectsMalformedSplitFiles() {
        expectSplitRejected("{\"train\": [], \"val\": []", {"not valid JSON", "line"});
        expectSplitRejected("[1, 2]", {"expected a JSON object"});
        expectSplitRejected("{\"train\": [], \"test\": []}", {"missing key \"val\""});
        expectSplitRejected("{\"train\": {}, \"val\": [], \"test\": []}", {"\"train\" must be a list"});
        expectSplitRejected("{\"train\": [[\"a.jpg\", 0, \"x\"], [\"b.jpg\", 1]], \"val\": [], \"test\": []}",
                            {"\"train\"[1]", "expected [impath, label, classname]"});
        expectSplitRejected("{\"train\": [], \"val\": [[\"a.jpg\", \"0\", \"x\"]], \"test\": []}",
                            {"\"val\"[0]", "label must be an integer"});
        expectSplitRejected("{\"train\": [], \"val\": [], \"test\": [[\"a.jpg\", -1, \"x\"]]}",
                            {"\"test\"[0]", "0-based"});
        expectSplitRejected("{\"train\": [[5, 0, \"x\"]], \"val\": [], \"test\": []}", {"\"train\"[0]", "impath"});
        expectSplitRejected("{\"train\": [[\"a\", 0, null]], \"val\": [], \"test\": []}",
                            {"\"train\"[0]", "classname must be a string"});
        QVERIFY_THROWS_EXCEPTION(Error, readSplitZhou(QDir(caspl::test::tempDir()).filePath("absent.json").toStdString()));
        SplitZhouOptions lenient;
        lenient.requireVal = false;
        const auto s = parseSplitZhou("{\"train\": [[\"a\", 0, \"x\"]], \"test\": []}", "inline", lenient);
        QVERIFY(s.val.empty());
    }
};

CASPL_REGISTER_TEST(PyRandomTest);
CASPL_REGISTER_TEST(FewShotTest);
#include "test_fewshot.moc"
