// Safetensors <-> torch::Tensor bridge.
#include "core/io/tensor_io.h"
#include "core/util/error.h"
#include "test_support.h"

#include <torch/torch.h>

#include <QDir>

using namespace caspl;

class TensorIoTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void roundTripsTorchDtypes() {
        const std::string path = QDir(caspl::test::tempDir()).filePath("torch.safetensors").toStdString();
        torch::manual_seed(0);
        TensorMap in{{"f32", torch::randn({3, 4})},
                     {"f16", torch::randn({5}).to(torch::kFloat16)},
                     {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
                     {"i64", torch::arange(6, torch::kInt64).reshape({2, 3})},
                     {"u8", torch::tensor({0, 128, 255}, torch::kUInt8)},
                     {"scalar", torch::tensor(2.5f)},
                     {"strided", torch::randn({4, 6}).t()}};  // non-contiguous input
        saveSafetensors(path, in, {{"kind", "test"}});
        std::map<std::string, std::string> meta;
        TensorMap out = loadSafetensors(path, &meta);
        QCOMPARE(meta.at("kind"), std::string("test"));
        QCOMPARE(out.size(), in.size());
        for (const auto& [name, t] : in) {
            QVERIFY2(out.count(name), name.c_str());
            QCOMPARE(out[name].scalar_type(), t.scalar_type());
            QCOMPARE(out[name].sizes().vec(), t.sizes().vec());
            QVERIFY2(torch::equal(out[name], t), name.c_str());
        }
    }

    void readsFixtureIntoTensors() {
        CASPL_REQUIRE_FIXTURE(path, "clip-tiny-a/golden.safetensors");
        TensorMap g = loadSafetensors(path);
        QCOMPARE(g.at("pixel_values").sizes().vec(), (std::vector<int64_t>{3, 3, 32, 32}));
        QCOMPARE(g.at("text_tokens").scalar_type(), torch::kInt64);
        // The EOT index is the argmax of each token row.
        QVERIFY(torch::equal(g.at("text_tokens").argmax(-1), g.at("text_eot_index")));
    }
};

CASPL_REGISTER_TEST(TensorIoTest);
#include "test_tensor_io.moc"
