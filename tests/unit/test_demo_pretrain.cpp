// The demo's models: a short contrastive pretraining of a tiny CLIP on synthetic images (the loss falls, the folder
// reloads with loadClip + ClipTokenizer::load, the cache and the stop token work), the options' JSON, and (label
// slow) prepareDemoModels with the default options but a shorter teacher pretraining.
#include "core/clip/clip_checkpoint.h"
#include "core/demo/pretrain.h"
#include "core/image/image.h"
#include "core/runtime.h"
#include "core/text/tokenizer.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "test_support.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <QDir>

#include <filesystem>
#include <numeric>
#include <random>

using namespace caspl;
namespace fs = std::filesystem;

namespace {

std::string tmp(const QString& name) { return QDir(caspl::test::tempDir()).filePath(name).toStdString(); }

const std::vector<std::string> kClasses{"top", "trouser", "stripes"};

// 3 classes of 28 x 28 grey images: bright upper half, bright left half, diagonal stripes; plus noise.
std::vector<Datum> syntheticImages(const std::string& dir, int perClass) {
    fs::create_directories(dir);
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> noise(-25, 25);
    std::vector<Datum> items;
    for (int i = 0; i < perClass; ++i)
        for (int c = 0; c < 3; ++c) {
            Image img(28, 28, 1);
            for (int y = 0; y < 28; ++y)
                for (int x = 0; x < 28; ++x) {
                    const bool on = c == 0 ? y < 14 : c == 1 ? x < 14 : ((x + y) / 4) % 2 == 0;
                    img.at(y, x, 0) = uint8_t(std::clamp((on ? 200 : 40) + noise(rng), 0, 255));
                }
            const std::string path = dir + "/c" + std::to_string(c) + "_" + std::to_string(i) + ".png";
            encodeImageFile(img, path);
            items.push_back({path, c, kClasses[std::size_t(c)], 0});
        }
    return items;
}

struct CollectSink : EventSink {
    int64_t progress_ = 0;
    std::vector<MetricEvent> metrics;
    std::vector<std::string> logs;
    std::vector<EvalRow> rows;
    void progress(const ProgressEvent&) override { ++progress_; }
    void metric(const MetricEvent& e) override { metrics.push_back(e); }
    void log(LogLevel, const std::string& m) override { logs.push_back(m); }
    void evalRow(const EvalRow& r) override { rows.push_back(r); }
};

ClipPretrainOptions tinyOptions() {
    ClipPretrainOptions o;
    o.phase = "pretrain-test";
    o.architecture.imageResolution = 28;
    o.architecture.patchSize = 7;
    o.architecture.visionWidth = 32;
    o.architecture.visionLayers = 1;
    o.architecture.visionHeads = 2;
    o.architecture.textWidth = 32;
    o.architecture.textLayers = 1;
    o.architecture.textHeads = 2;
    o.architecture.embedDim = 32;
    o.architecture.contextLength = 16;
    o.batchSize = 24;
    o.epochs = 20;
    o.maxSteps = 45;
    o.lr = 5e-3;
    o.warmupFraction = 0.1;
    o.templates = {"a photo of a {}.", "a picture of a {}.", "the {}."};
    return o;
}

double mean(const std::vector<double>& v, std::size_t from, std::size_t n) {
    return std::accumulate(v.begin() + long(from), v.begin() + long(from + n), 0.0) / double(n);
}

}  // namespace

class DemoPretrainTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { caspl::initRuntime(2); }

    void trainsSavesAndReloads() {
        const auto items = syntheticImages(tmp("synthetic"), 24);
        const ClipPretrainOptions o = tinyOptions();
        const LearnedBpe bpe = learnBpe(demoCaptions(kClasses, o.templates));
        const std::string folder = tmp("models/tiny");
        CollectSink sink;
        StopToken stop;
        const ClipPretrainResult r = pretrainClip(items, kClasses, bpe, o, "synthetic-v1", folder, sink, stop);
        QVERIFY(!r.cached);
        QCOMPARE(r.steps, int64_t(45));
        QCOMPARE(r.stepLoss.size(), std::size_t(45));
        const double first = mean(r.stepLoss, 0, 5), last = mean(r.stepLoss, 40, 5);
        QVERIFY2(last < first - 0.1, qPrintable(QString("loss %1 -> %2").arg(first).arg(last)));
        QCOMPARE(sink.progress_, int64_t(45));
        QCOMPARE(sink.metrics.size(), std::size_t(45));
        QVERIFY(sink.metrics.back().values.count("loss") && sink.metrics.back().values.count("lr") &&
                sink.metrics.back().values.count("logit_scale"));
        QCOMPARE(sink.metrics.back().phase, std::string("pretrain-test"));
        QVERIFY(r.logitScale > 0 && r.logitScale <= 100.0 + 1e-3);

        // The folder: OpenAI-named safetensors with the architecture, the tokenizer files, the stamp.
        for (const char* f : {"model.safetensors", "vocab.json", "merges.txt", "pretrain.json"})
            QVERIFY2(fs::is_regular_file(fs::path(folder) / f), f);
        ClipCheckpoint info;
        ClipModel model = loadClip(folder, {}, &info);
        QCOMPARE(info.format, std::string("openai-safetensors"));
        ClipConfig expected = o.architecture;
        expected.vocabSize = bpe.vocabSize();
        QVERIFY(model->config() == expected);
        const ClipTokenizer tok = ClipTokenizer::load(folder);
        QCOMPARE(tok.vocabSize(), bpe.vocabSize());
        for (const auto& c : demoCaptions(kClasses, o.templates))
            QVERIFY(tok.tokenize(c, 16) == bpe.tokenizer().tokenize(c, 16));
        {
            torch::NoGradGuard g;
            auto ids = tok.tokenize("a photo of a trouser.", 16);
            auto f = model->encodeText(torch::tensor(ids, torch::kLong).unsqueeze(0));
            QCOMPARE(f.size(1), int64_t(32));
            QVERIFY(torch::isfinite(f).all().item<bool>());
        }

        // Zero-shot on the training images: the patterns are easy, the tiny model separates them.
        const ZeroShotResult z = zeroShotAccuracy(folder, items, kClasses);
        QCOMPARE(z.total, int64_t(72));
        QCOMPARE(z.perClass.size(), std::size_t(3));
        QVERIFY2(z.accuracy > 50, qPrintable(QString("zero-shot %1%").arg(z.accuracy)));

        // Cached: the same options, data and vocabulary find the folder.
        const auto stamp = fs::last_write_time(fs::path(folder) / "model.safetensors");
        CollectSink sink2;
        const ClipPretrainResult again = pretrainClip(items, kClasses, bpe, o, "synthetic-v1", folder, sink2, stop);
        QVERIFY(again.cached);
        QCOMPARE(again.steps, r.steps);
        QCOMPARE(sink2.progress_, int64_t(0));
        QVERIFY(fs::last_write_time(fs::path(folder) / "model.safetensors") == stamp);

        // Other data: trained again (a few steps), replacing the folder; no temporaries left next to it.
        ClipPretrainOptions shortRun = o;
        shortRun.maxSteps = 2;
        const ClipPretrainResult other = pretrainClip(items, kClasses, bpe, shortRun, "synthetic-v2", folder, sink2, stop);
        QVERIFY(!other.cached);
        QCOMPARE(other.steps, int64_t(2));
        for (const auto& e : fs::directory_iterator(fs::path(folder).parent_path()))
            QCOMPARE(e.path().filename().string(), std::string("tiny"));
    }

    void stopsWithoutWriting() {
        const auto items = syntheticImages(tmp("synthetic-stop"), 8);
        const ClipPretrainOptions o = tinyOptions();
        const LearnedBpe bpe = learnBpe(demoCaptions(kClasses, o.templates));
        CollectSink sink;
        StopToken stop;
        stop.request();
        bool interrupted = false;
        try {
            pretrainClip(items, kClasses, bpe, o, "s", tmp("models-stop/tiny"), sink, stop);
        } catch (const Interrupted& i) {
            interrupted = true;
            QVERIFY(i.where.find("pretrain-test") != std::string::npos);
        }
        QVERIFY(interrupted);
        QVERIFY(!fs::exists(tmp("models-stop/tiny")));
    }

    void rejectsBadInput() {
        const auto items = syntheticImages(tmp("synthetic-bad"), 2);
        const LearnedBpe bpe = learnBpe(demoCaptions(kClasses, {"a photo of a {}."}));
        CollectSink sink;
        StopToken stop;
        ClipPretrainOptions o = tinyOptions();
        o.architecture.visionHeads = 5;  // 32 not divisible by 5
        QVERIFY_EXCEPTION_THROWN(pretrainClip(items, kClasses, bpe, o, "s", tmp("bad1"), sink, stop), Error);
        o = tinyOptions();
        o.architecture.contextLength = 4;  // captions do not fit
        try {
            pretrainClip(items, kClasses, bpe, o, "s", tmp("bad2"), sink, stop);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("context length 4") != std::string::npos, e.what());
        }
        auto wrong = items;
        wrong[0].label = 7;
        QVERIFY_EXCEPTION_THROWN(pretrainClip(wrong, kClasses, bpe, tinyOptions(), "s", tmp("bad3"), sink, stop), Error);
    }

    void optionsJson() {
        const DemoModelsOptions d = defaultDemoModelsOptions();
        const std::string j = demoModelsOptionsToJson(d);
        QCOMPARE(demoModelsOptionsToJson(demoModelsOptionsFromJson(j, "defaults.json")), j);
        // The defaults respect the demo's constraints: same resolution, context 32, teacher larger than student.
        QCOMPARE(d.teacher.architecture.imageResolution, d.student.architecture.imageResolution);
        QCOMPARE(d.teacher.architecture.contextLength, 32);
        QVERIFY(d.teacher.architecture.parameterCount() > 2 * d.student.architecture.parameterCount());

        const DemoModelsOptions o = demoModelsOptionsFromJson(
            R"({"teacher": {"epochs": 3, "architecture": {"vision_layers": 6}}, "data": {"test_per_class": 20}})", "o.json");
        QCOMPARE(o.teacher.epochs, 3);
        QCOMPARE(o.teacher.architecture.visionLayers, 6);
        QCOMPARE(o.teacher.architecture.visionWidth, d.teacher.architecture.visionWidth);
        QCOMPARE(o.data.testPerClass, 20);
        QCOMPARE(o.student.epochs, d.student.epochs);
        auto expectError = [](const std::string& text, const std::string& part) {
            try {
                demoModelsOptionsFromJson(text, "opts.json");
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find(part) != std::string::npos, e.what());
                QVERIFY2(std::string(e.what()).find("opts.json") != std::string::npos, e.what());
                return;
            }
            QFAIL(qPrintable(QString::fromStdString("no error for " + text)));
        };
        expectError(R"({"teacher": {"epoch": 3}})", "unknown key \"epoch\"");
        expectError(R"({"student": {"lr": "fast"}})", "lr");
        expectError(R"({"student": {"templates": ["no placeholder"]}})", "templates");
        expectError("{not json", "not valid JSON");
    }
};

// The full demo preparation with the default options (minutes): the teacher must beat the student zero-shot, and
// the student must be well above chance (10%).
class DemoModelsSlowTest : public QObject {
    Q_OBJECT
public:
    DemoModelsSlowTest() {
        // QtTest's watchdog ends a test function after 5 minutes by default; CTest's TIMEOUT (1800 s) is the limit.
        if (qEnvironmentVariableIsEmpty("QTEST_FUNCTION_TIMEOUT")) qputenv("QTEST_FUNCTION_TIMEOUT", "1800000");
    }

private Q_SLOTS:
    // Two LibTorch threads, which CTest runs with OMP_WAIT_POLICY=PASSIVE (tests/CMakeLists.txt): OpenMP threads that
    // spin-wait for each other can be many times slower than one thread on a machine that is busy with something
    // else; passive waiting keeps two threads about 1.3x faster than one on an idle 2-core machine without that risk.
    // The accuracies asserted here do not depend on the thread count.
    void initTestCase() { caspl::initRuntime(2); }

    // The default options, with the teacher's 5 epochs cut to 2 (a whole cosine schedule over 2 epochs): the
    // teacher's 780 steps took 13-14 minutes of a 2-core CI machine, most of the CI's time. `caspl demo` (the README's
    // main command) runs the full defaults; docs/demo-models.md has their figures.
    void prepareDefaultsWithAShorterTeacher() {
        if (!fashionMnistAvailable())
            QFAIL("dataset-fashion-mnist is not installed (scripts/install-deps.sh installs it)");
        CollectSink sink;
        StopToken stop;
        DemoModelsOptions options = defaultDemoModelsOptions();
        QCOMPARE(options.teacher.epochs, 5);
        options.teacher.epochs = 2;
        const DemoModels dm = prepareDemoModels(tmp("demo-cache"), options, sink, stop);
        for (const auto& l : sink.logs) qInfo("%s", l.c_str());
        qInfo("teacher %.2f%% (%.1f s), student %.2f%% (%.1f s)", dm.teacherZeroShot.accuracy, dm.teacher.seconds,
              dm.studentZeroShot.accuracy, dm.student.seconds);
        for (std::size_t c = 0; c < dm.data.classnames.size(); ++c)
            qInfo("  %-12s teacher %5.1f%%  student %5.1f%%", dm.data.classnames[c].c_str(),
                  dm.teacherZeroShot.perClass[c], dm.studentZeroShot.perClass[c]);
        QVERIFY(dm.teacherZeroShot.accuracy > dm.studentZeroShot.accuracy);
        QVERIFY(dm.studentZeroShot.accuracy > 20);
        QCOMPARE(sink.rows.size(), std::size_t(6));
        QVERIFY(loadClip(dm.teacher.folder)->config().parameterCount() >
                loadClip(dm.student.folder)->config().parameterCount());
    }
};

CASPL_REGISTER_TEST(DemoPretrainTest);
CASPL_REGISTER_TEST(DemoModelsSlowTest);
#include "test_demo_pretrain.moc"
