// Safetensors reader/writer: every fixture file reads, values survive a round trip, malformed files are
// rejected with a message naming the file, the tensor and the problem.
#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "test_support.h"

#include <QDir>
#include <QDirIterator>

#include <cmath>
#include <cstring>
#include <fstream>

using namespace caspl;

namespace {

std::string writeRaw(const QString& name, const std::string& header, const std::string& data, int64_t lenOverride = -1) {
    const std::string path = QDir(caspl::test::tempDir()).filePath(name).toStdString();
    std::ofstream out(path, std::ios::binary);
    uint64_t n = lenOverride >= 0 ? uint64_t(lenOverride) : header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << data;
    return path;
}

// Expects SafetensorsFile::open(path) to throw an Error whose message names the file and contains every fragment.
void expectRejected(const std::string& path, std::initializer_list<const char*> fragments) {
    std::vector<std::string> all{path};
    all.insert(all.end(), fragments.begin(), fragments.end());
    caspl::test::expectError([&] { SafetensorsFile::open(path); }, all);
}

}  // namespace

class SafetensorsTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readsEveryFixtureFile() {
        CASPL_REQUIRE_FIXTURE(dir, "clip-tiny-a");
        int files = 0;
        QDirIterator it(QString::fromStdString(dir), {"*.safetensors"}, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const std::string path = it.next().toStdString();
            auto f = SafetensorsFile::open(path);
            QVERIFY2(!f.tensors().empty(), path.c_str());
            uint64_t covered = 0;
            for (const auto& t : f.tensors()) covered += t.nbytes();
            QVERIFY(covered > 0);
            ++files;
        }
        QCOMPARE(files, 3);
    }

    void readsKnownValues() {
        CASPL_REQUIRE_FIXTURE(path, "clip-tiny-a/weights_openai.safetensors");
        auto f = SafetensorsFile::open(path);
        QCOMPARE(int(f.tensors().size()), 62);
        QCOMPARE(f.metadata().at("embed_dim"), std::string("32"));
        QCOMPARE(f.metadata().at("vision_heads"), std::string("2"));
        const auto& te = f.at("token_embedding.weight");
        QCOMPARE(te.dtype, DType::F32);
        QCOMPARE(te.shape, (std::vector<int64_t>{49408, 32}));
        const auto& ls = f.at("logit_scale");
        QVERIFY(ls.shape.empty());
        QCOMPARE(ls.numel(), int64_t(1));
        // README: logit_scale is now 2.672416, so exp() = 14.4749.
        QVERIFY(std::abs(f.toFloat(ls)[0] - 2.672416f) < 1e-5f);

        CASPL_REQUIRE_FIXTURE(golden, "clip-tiny-a/golden.safetensors");
        auto g = SafetensorsFile::open(golden);
        const auto& img = g.at("image_raw_0");
        QCOMPARE(img.dtype, DType::U8);
        QCOMPARE(img.shape, (std::vector<int64_t>{40, 57, 3}));
        const auto eot = g.toInt64(g.at("text_eot_index"));
        QCOMPARE(eot, (std::vector<int64_t>{14, 10, 11, 76}));
    }

    void roundTripsEveryDtype() {
        const std::string path = QDir(caspl::test::tempDir()).filePath("roundtrip.safetensors").toStdString();
        std::vector<float> f32{1.5f, -2.25f, 3.0f, 0.0f, 1e-8f, -7.0f};
        std::vector<uint16_t> f16{0x3c00, 0xc000, 0x0001, 0x7bff};  // 1, -2, smallest subnormal, 65504
        std::vector<uint16_t> bf16{0x3f80, 0xc040};                  // 1, -3
        std::vector<int64_t> i64{-1, 1LL << 40};
        std::vector<int32_t> i32{7, -9, 11};
        std::vector<uint8_t> u8{0, 255, 17};
        writeSafetensors(path,
                         {{"f32", DType::F32, {2, 3}, f32.data(), f32.size() * 4},
                          {"f16", DType::F16, {4}, f16.data(), f16.size() * 2},
                          {"bf16", DType::BF16, {2}, bf16.data(), bf16.size() * 2},
                          {"i64", DType::I64, {2}, i64.data(), i64.size() * 8},
                          {"i32", DType::I32, {3}, i32.data(), i32.size() * 4},
                          {"u8", DType::U8, {1, 3}, u8.data(), u8.size()},
                          {"empty", DType::F32, {0, 4}, nullptr, 0}},
                         {{"producer", "caspl test"}});
        auto f = SafetensorsFile::open(path);
        QCOMPARE(f.metadata().at("producer"), std::string("caspl test"));
        QCOMPARE(f.toFloat(f.at("f32")), f32);
        const auto h = f.toFloat(f.at("f16"));
        QCOMPARE(h[0], 1.0f);
        QCOMPARE(h[1], -2.0f);
        QCOMPARE(h[2], std::ldexp(1.0f, -24));
        QCOMPARE(h[3], 65504.0f);
        QCOMPARE(f.toFloat(f.at("bf16")), (std::vector<float>{1.0f, -3.0f}));
        QCOMPARE(f.toInt64(f.at("i64")), i64);
        QCOMPARE(f.toInt64(f.at("i32")), (std::vector<int64_t>{7, -9, 11}));
        QCOMPARE(f.toInt64(f.at("u8")), (std::vector<int64_t>{0, 255, 17}));
        QCOMPARE(f.at("empty").numel(), int64_t(0));
        // Every tensor aligned to its element size, header padded to 8 bytes.
        for (const auto& t : f.tensors()) QCOMPARE(t.begin % dtypeSize(t.dtype), uint64_t(0));
        std::ifstream in(path, std::ios::binary);
        uint64_t n = 0;
        in.read(reinterpret_cast<char*>(&n), 8);
        QCOMPARE(n % 8, uint64_t(0));
    }

    void writerRejectsSizeMismatch() {
        std::vector<float> v(3);
        const std::string path = QDir(caspl::test::tempDir()).filePath("bad_write.safetensors").toStdString();
        QVERIFY_THROWS_EXCEPTION(Error, writeSafetensors(path, {{"x", DType::F32, {2, 2}, v.data(), 12}}));
        QVERIFY(!QFileInfo::exists(QString::fromStdString(path)));  // nothing half-written left behind
    }

    void writeIsAtomic() {
        // A failing second write leaves the first file intact.
        const std::string path = QDir(caspl::test::tempDir()).filePath("atomic.safetensors").toStdString();
        std::vector<float> v{1, 2};
        writeSafetensors(path, {{"x", DType::F32, {2}, v.data(), 8}});
        QVERIFY_THROWS_EXCEPTION(Error, writeSafetensors(path, {{"x", DType::F32, {3}, v.data(), 8}}));
        auto f = SafetensorsFile::open(path);
        QCOMPARE(f.toFloat(f.at("x")), v);
        QCOMPARE(QDir(caspl::test::tempDir()).entryList({"atomic.safetensors.tmp*"}).size(), 0);
    }

    void rejectsTruncatedFile() {
        const std::string p = QDir(caspl::test::tempDir()).filePath("tiny.safetensors").toStdString();
        std::ofstream(p, std::ios::binary) << "abc";
        expectRejected(p, {"truncated"});
    }

    void rejectsHeaderPastEnd() {
        expectRejected(writeRaw("pastend.safetensors", "{}", "", 4096), {"header length 4096", "past the end"});
    }

    void rejectsBadJson() { expectRejected(writeRaw("badjson.safetensors", "{\"a\": ", ""), {"not valid JSON"}); }

    void rejectsUnknownDtype() {
        expectRejected(writeRaw("dtype.safetensors", R"({"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})", "x"),
                       {"tensor 'w'", "unknown dtype 'F8'"});
    }

    void rejectsShapeSizeMismatch() {
        expectRejected(writeRaw("shape.safetensors", R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}})",
                                std::string(8, '\0')),
                       {"tensor 'w'", "[2, 2]", "needs 16 bytes", "cover 8"});
    }

    void rejectsOffsetsOutOfRange() {
        expectRejected(writeRaw("range.safetensors", R"({"w":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})",
                                std::string(4, '\0')),
                       {"tensor 'w'", "past the end of the data"});
        expectRejected(writeRaw("reversed.safetensors", R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})",
                                std::string(4, '\0')),
                       {"tensor 'w'", "end before"});
    }

    void rejectsOverlappingOffsets() {
        expectRejected(writeRaw("overlap.safetensors",
                                R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                                std::string(6, '\0')),
                       {"overlaps"});
    }

    void rejectsNonStringMetadata() {
        expectRejected(writeRaw("meta.safetensors", R"({"__metadata__":{"n":3}})", ""), {"__metadata__['n']"});
    }

    void missingKeyIsNamed() {
        std::vector<float> v{1};
        const std::string path = QDir(caspl::test::tempDir()).filePath("keys.safetensors").toStdString();
        writeSafetensors(path, {{"present", DType::F32, {1}, v.data(), 4}});
        auto f = SafetensorsFile::open(path);
        try {
            f.at("absent");
            QFAIL("no error for a missing key");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("'absent'") != std::string::npos);
        }
    }
};

CASPL_REGISTER_TEST(SafetensorsTest);
#include "test_safetensors.moc"
