// The trainer: Dassl's LR schedule (against a table), GPA weights, the loss falling on a tiny synthetic problem,
// exact resume after a stop, NaN guard, evaluation.
#include "core/clip/clip_checkpoint.h"
#include "core/image/image.h"
#include "core/runtime.h"
#include "core/text/tokenizer.h"
#include "core/train/trainer.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "test_support.h"

#include <torch/torch.h>

#include <QDir>

#include <cmath>
#include <random>

using namespace caspl;

namespace {

std::shared_ptr<ClipTokenizer> tokenizer() {
    static auto t = std::make_shared<ClipTokenizer>(
        ClipTokenizer::load(caspl::test::fixturePath("tokenizer/bpe_simple_vocab_16e6.txt.gz").toStdString()));
    return t;
}

const std::vector<std::string> kClasses{"red square", "green circle", "blue stripes", "dark noise"};

// 4 classes x n images of 40x36 pixels, each class a distinct colour pattern plus noise.
std::vector<Datum> syntheticImages(const QString& dir, int perClass) {
    QDir().mkpath(dir);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> noise(-30, 30);
    std::vector<Datum> items;
    for (int c = 0; c < 4; ++c) {
        for (int i = 0; i < perClass; ++i) {
            Image img(40, 36, 3);
            for (int y = 0; y < img.height; ++y)
                for (int x = 0; x < img.width; ++x) {
                    int base[3] = {c == 0 ? 200 : 40, c == 1 ? 200 : 40, c == 2 ? ((x / 4) % 2 ? 220 : 30) : 40};
                    if (c == 3) base[0] = base[1] = base[2] = 60;
                    for (int k = 0; k < 3; ++k) img.at(y, x, k) = uint8_t(std::clamp(base[k] + noise(rng), 0, 255));
                }
            const std::string path = QDir(dir).filePath(QString("c%1_%2.png").arg(c).arg(i)).toStdString();
            encodeImageFile(img, path);
            items.push_back({path, c, kClasses[std::size_t(c)], 0});
        }
    }
    return items;
}

struct CollectSink : EventSink {
    std::vector<MetricEvent> metrics;
    std::vector<std::string> logs;
    int64_t progressCount = 0;
    int64_t stopAtStep = -1;
    StopToken* stop = nullptr;
    void progress(const ProgressEvent& e) override {
        ++progressCount;
        if (stop && e.step == stopAtStep) stop->request();
    }
    void metric(const MetricEvent& e) override { metrics.push_back(e); }
    void log(LogLevel, const std::string& m) override { logs.push_back(m); }
};

std::unique_ptr<PromptedClip> makeModel(MethodKind kind, uint64_t seed, const ClipLoadOptions& load = {}) {
    torch::manual_seed(seed);
    MethodConfig c;
    c.kind = kind;
    c.ctxInit = "";
    c.nCtxText = 4;
    if (kind == MethodKind::IVLP || kind == MethodKind::PromptSRC) {
        c.nCtxVision = 2; c.depthText = 2; c.depthVision = 2;
    }
    auto m = std::make_unique<PromptedClip>(loadClip(caspl::test::fixturePath("clip-tiny-a/weights_openai.safetensors").toStdString(), load),
                                            c, tokenizer());
    m->setClassNames(kClasses);
    // Real CLIPs have exp(logit_scale) = 100; the random fixture's 14.5 makes every problem look uniform.
    torch::NoGradGuard g;
    m->clip()->logit_scale.fill_(std::log(100.0));
    return m;
}

LoaderOptions trainLoader() {
    LoaderOptions o;
    o.mode = TransformMode::Train;
    o.imageSize = 32;
    o.batchSize = 4;
    o.dropLast = true;
    o.shuffle = true;
    o.seed = 3;
    o.threads = 2;
    return o;
}

}  // namespace

class TrainerTest : public QObject {
    Q_OBJECT
    std::vector<Datum> items_;

private Q_SLOTS:
    void initTestCase() {
        CASPL_REQUIRE_FIXTURE(w, "clip-tiny-a/weights_openai.safetensors");
        CASPL_REQUIRE_FIXTURE(v, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        items_ = syntheticImages(QDir(caspl::test::tempDir()).filePath("synthetic"), 6);
    }

    void lrScheduleMatchesDassl() {
        // Dassl: constant warm-up epoch at 1e-5, then cosine over max_epoch not stepped during the warm-up.
        LrSchedule s{0.0025, 20, 1, 1e-5, "cosine"};
        const double table[][2] = {{0, 1e-5},
                                   {1, 0.0025},
                                   {2, 0.0025 * (1 + std::cos(M_PI * 1 / 20)) / 2},
                                   {10, 0.0025 * (1 + std::cos(M_PI * 9 / 20)) / 2},
                                   {19, 0.0025 * (1 + std::cos(M_PI * 18 / 20)) / 2}};
        for (const auto& row : table) QVERIFY(std::abs(s.lrAt(int(row[0])) - row[1]) < 1e-15);
        QVERIFY(s.lrAt(19) > 0);  // the last epoch keeps a small non-zero LR
        QVERIFY(std::abs(s.lrAt(2) - 0.00248461) < 1e-8);
        LrSchedule none{0.002, 10, 0, 1e-5, "cosine"};
        QCOMPARE(none.lrAt(0), 0.002);
        QVERIFY_THROWS_EXCEPTION(Error, (LrSchedule{-1, 10, 1, 1e-5, "cosine"}.validate()));
    }

    void gpaWeightsMatchThePaperSetting() {
        const auto w = gpaWeights(20, 15, 1);
        double sum = 0;
        for (double x : w) sum += x;
        QVERIFY(std::abs(sum - 1) < 1e-12);
        QVERIFY(std::abs(w[14] - 0.3989) < 1e-4);  // epoch 15 (spec §3.6)
        QVERIFY(std::abs(w[13] - 0.2420) < 1e-4);
        QVERIFY(w[0] < 1e-20);
        // Every density underflows (mean 1000, std 1; 15.5 and 0.01): still weights that sum to 1, on the nearest
        // epochs, never 0/0.
        const auto far = gpaWeights(20, 1000, 1);
        QCOMPARE(far.back(), 1.0);
        QCOMPARE(far[18], 0.0);
        const auto between = gpaWeights(20, 15.5, 0.01);
        QVERIFY(std::abs(between[14] - 0.5) < 1e-12 && std::abs(between[15] - 0.5) < 1e-12);
    }

    void lossFallsOnSyntheticProblem() {
        auto m = makeModel(MethodKind::IVLP, 1);
        ImageLoader loader(items_, trainLoader());
        TrainOptions o;
        o.schedule = {0.05, 10, 1, 1e-5, "cosine"};
        CollectSink sink;
        StopToken stop;
        trainPrompts(*m, loader, o, sink, stop);
        // Mean loss of the first real epoch (epoch 2; epoch 1 is the warm-up) vs the last.
        double first = 0, last = 0;
        int nf = 0, nl = 0;
        for (const auto& e : sink.metrics) {
            if (e.epoch == 2) first += e.values.at("loss"), ++nf;
            if (e.epoch == 10) last += e.values.at("loss"), ++nl;
        }
        QVERIFY(nf > 0 && nl > 0);
        qInfo("IVLP on synthetic data: loss %.4f (epoch 2) -> %.4f (epoch 10)", first / nf, last / nl);
        QVERIFY(last / nl < 0.8 * first / nf);
        // The log lists the trainable tensors and their count.
        bool listed = false;
        for (const auto& l : sink.logs) listed |= l.find("prompt_learner.ctx [4, 32]") != std::string::npos;
        QVERIFY(listed);
        LoaderOptions eo;
        eo.imageSize = 32;
        eo.batchSize = 8;
        ImageLoader evalLoader(items_, eo);
        auto r = evaluatePrompts(*m, evalLoader);
        QCOMPARE(r.total, int64_t(items_.size()));
        qInfo("train accuracy after 10 epochs: %.1f%%", r.accuracy());
    }

    void resumeContinuesExactly() {
        const QString dir = QDir(caspl::test::tempDir()).filePath("resume");
        TrainOptions o;
        o.schedule = {0.01, 2, 0, 1e-5, "cosine"};
        o.gpa = true;
        o.gpaMean = 1;
        o.gpaStd = 1;
        // Straight: 2 epochs.
        auto a = makeModel(MethodKind::IVLP, 5);
        TrainResult straight;
        {
            ImageLoader l(items_, trainLoader());
            CollectSink s;
            StopToken st;
            straight = trainPrompts(*a, l, o, s, st);
        }
        // Stopped after 4 steps (inside epoch 1 of 2), then resumed by a fresh process-like model.
        o.checkpointDir = dir.toStdString();
        {
            auto b = makeModel(MethodKind::IVLP, 5);
            ImageLoader l(items_, trainLoader());
            CollectSink s;
            StopToken st;
            s.stop = &st;
            s.stopAtStep = 4;
            bool interrupted = false;
            try {
                trainPrompts(*b, l, o, s, st);
            } catch (const Interrupted&) {
                interrupted = true;
            }
            QVERIFY(interrupted);
            QVERIFY(hasCheckpoint(o.checkpointDir, o.phase));
        }
        // A kill between the tensor file and the JSON beside it leaves the JSON a checkpoint behind: the tensor file
        // holds the whole state, so resume goes on from it.
        const std::string json = dir.toStdString() + "/" + o.phase + ".checkpoint.json";
        std::string stale = readFile(json);
        const auto at = stale.find("\"stamp\": \"");
        QVERIFY(at != std::string::npos);
        stale.replace(at, stale.find('"', at + 10) - at + 1, "\"stamp\": \"0:1\"");
        writeFileAtomically(json, stale);
        auto c = makeModel(MethodKind::IVLP, 99);  // a different init: the checkpoint must override it
        ImageLoader l(items_, trainLoader());
        CollectSink s;
        StopToken st;
        auto r = trainPrompts(*c, l, o, s, st);
        QVERIFY(r.resumed);
        for (auto& [k, v] : a->trainable()) QVERIFY2(torch::equal(v, c->trainable().at(k)), k.c_str());
        // The epoch's mean loss goes on from the batches trained before the stop: the same as the straight run's.
        QCOMPARE(r.finalLoss, straight.finalLoss);
    }

    void nanLossStopsWithClearError_data() {
        QTest::addColumn<int>("mode");
        QTest::newRow("eager") << int(StepMode::Eager);
        QTest::newRow("static step (CUDA graph path)") << int(StepMode::CudaGraph);
    }
    void nanLossStopsWithClearError() {
        QFETCH(int, mode);
        auto m = makeModel(MethodKind::CoOp, 1);
        ImageLoader loader(items_, trainLoader());
        TrainOptions o;
        o.schedule = {1e6, 2, 0, 1e-5, "cosine"};  // diverges
        o.stepMode = StepMode(mode);
        o.eagerSteps = 1;
        CollectSink sink;
        StopToken stop;
        try {
            trainPrompts(*m, loader, o, sink, stop);
            QFAIL("no error for a diverging run");
        } catch (const RunFailed& e) {  // a failed run (exit code 1), not bad input
            QVERIFY2(std::string(e.what()).find("lower the learning rate") != std::string::npos, e.what());
        }
        // The step whose loss was not finite changed nothing: the prompts are those of the step before.
        for (auto& [k, v] : m->trainable()) QVERIFY2(torch::isfinite(v).all().item<bool>(), k.c_str());
    }

    // The static-buffer step (what CUDA captures as a graph; on the CPU it runs uncaptured) computes the same
    // training as the eager step: same prompts after two epochs, GPA and momentum included.
    void staticStepMatchesEager_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<bool>("raw");
        QTest::newRow("coop") << int(MethodKind::CoOp) << false;
        QTest::newRow("ivlp") << int(MethodKind::IVLP) << false;
        QTest::newRow("promptsrc") << int(MethodKind::PromptSRC) << false;
        QTest::newRow("promptsrc, raw pixels") << int(MethodKind::PromptSRC) << true;
    }
    void staticStepMatchesEager() {
        QFETCH(int, kind);
        QFETCH(bool, raw);
        TrainOptions o;
        o.schedule = {0.01, 2, 1, 1e-5, "cosine"};
        o.gpa = MethodKind(kind) == MethodKind::PromptSRC;
        o.gpaMean = 1;
        o.gpaStd = 1;
        std::map<std::string, torch::Tensor> eager;
        std::vector<double> eagerLosses, staticLosses;
        for (StepMode mode : {StepMode::Eager, StepMode::CudaGraph}) {
            auto m = makeModel(MethodKind(kind), 11);
            o.stepMode = mode;
            o.eagerSteps = 1;
            auto lo = trainLoader();
            lo.rawPixels = raw && mode == StepMode::CudaGraph;  // raw bytes normalised by the step == loader floats
            ImageLoader l(items_, lo);
            CollectSink s;
            StopToken st;
            auto r = trainPrompts(*m, l, o, s, st);
            QCOMPARE(r.steps, int64_t(12));
            auto& losses = mode == StepMode::Eager ? eagerLosses : staticLosses;
            for (const auto& e : s.metrics) losses.push_back(e.values.at("loss"));
            if (mode == StepMode::Eager) {
                for (auto& [k, v] : m->trainable()) eager[k] = v.detach().clone();
                continue;
            }
            for (auto& [k, v] : m->trainable()) {
                const double d = (v - eager.at(k)).abs().max().item<double>();
                QVERIFY2(d <= 1e-7, (k + " differs by " + std::to_string(d)).c_str());
            }
        }
        QCOMPARE(staticLosses.size(), eagerLosses.size());
        for (std::size_t i = 0; i < eagerLosses.size(); ++i) QVERIFY(std::abs(staticLosses[i] - eagerLosses[i]) <= 1e-6);
    }

    // A loader delivering bytes (for the GPU) and batchPixels' normalisation give exactly the loader's own floats,
    // with train-mode crops and from the eval-mode decoded-image cache.
    void rawPixelsNormaliseLikeTheLoader() {
        for (bool train : {true, false}) {
            LoaderOptions lo = trainLoader();
            if (!train) {
                lo = LoaderOptions{};
                lo.imageSize = 32;
                lo.batchSize = 5;
                lo.cacheDir = QDir(caspl::test::tempDir()).filePath("raw_cache").toStdString();
            }
            for (int pass = 0; pass < (train ? 1 : 2); ++pass) {  // eval: cold, then from the cache
                LoaderOptions raw = lo;
                raw.rawPixels = true;
                ImageLoader a(items_, lo), b(items_, raw);
                a.start(1);
                b.start(1);
                Batch x, y;
                int batches = 0;
                while (a.next(x)) {
                    QVERIFY(b.next(y));
                    QVERIFY(x.raw.empty() && y.pixels.empty());
                    QCOMPARE(y.raw.size(), std::size_t(y.size()) * 32 * 32 * 3);
                    QCOMPARE(y.indices, x.indices);
                    const auto fx = batchPixels(x, torch::kCPU), fy = batchPixels(y, torch::kCPU);
                    QCOMPARE(fy.sizes().vec(), fx.sizes().vec());
                    QVERIFY2(torch::equal(fx, fy), qPrintable(QString("max |diff| %1").arg((fx - fy).abs().max().item<double>())));
                    ++batches;
                }
                QVERIFY(!b.next(y));
                QVERIFY(batches > 0);
            }
        }
    }

    // On CUDA: evaluation and the teacher cache (raw bytes uploaded ahead on a side stream, normalised on the GPU)
    // give what the CPU gives.
    void cudaPipelinesMatchCpu() {
        // The CPU half runs everywhere (it checks the prefetching loop against plain batch counts).
        auto mc = makeModel(MethodKind::ZeroShot, 1);
        LoaderOptions eo;
        eo.imageSize = 32;
        eo.batchSize = 5;  // several batches and a short last one
        ImageLoader lc(items_, eo);
        const auto rc = evaluatePrompts(*mc, lc);
        QCOMPARE(rc.total, int64_t(items_.size()));
        auto lo = trainLoader();
        const auto fc = computeTeacherFeatures(mc->clip(), items_, lo, 2, 7);
        QCOMPARE(fc.size(0), int64_t(items_.size()));
        QVERIFY((fc.abs().sum(-1) > 0).all().item<bool>());  // every row filled
        if (!cudaAvailable()) QSKIP("no CUDA device in this build or machine");
        ClipLoadOptions gpu;
        gpu.device = torch::Device(torch::kCUDA, 0);
        auto mg = makeModel(MethodKind::ZeroShot, 1, gpu);
        eo.rawPixels = true;
        ImageLoader lg(items_, eo);
        const auto rg = evaluatePrompts(*mg, lg);
        qInfo("CPU %lld/%lld, CUDA %lld/%lld correct", (long long)rc.correct, (long long)rc.total, (long long)rg.correct,
              (long long)rg.total);
        QCOMPARE(rg.total, rc.total);
        QVERIFY(std::abs(rg.correct - rc.correct) <= 1);  // a near-tie may flip
        lo.rawPixels = true;
        const auto fg = computeTeacherFeatures(mg->clip(), items_, lo, 2, 7).cpu();
        const double d = (fc - fg).abs().max().item<double>();
        qInfo("teacher cache CUDA vs CPU max|diff| = %.3g", d);
        QVERIFY(d <= 1e-4);
    }

    // On CUDA: the captured graph's training equals eager training (fp32 and bf16 towers), and it was captured.
    void cudaGraphStepMatchesEager_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<bool>("bf16");
        QTest::newRow("promptsrc fp32") << int(MethodKind::PromptSRC) << false;
        QTest::newRow("coop bf16") << int(MethodKind::CoOp) << true;
    }
    void cudaGraphStepMatchesEager() {
        QFETCH(int, kind);
        QFETCH(bool, bf16);
        if (!cudaAvailable()) QSKIP("no CUDA device in this build or machine");
        ClipLoadOptions load;
        load.device = torch::Device(torch::kCUDA, 0);
        load.dtype = bf16 ? torch::kBFloat16 : torch::kFloat32;
        std::map<std::string, torch::Tensor> eager;
        for (StepMode mode : {StepMode::Eager, StepMode::CudaGraph}) {
            auto m = makeModel(MethodKind(kind), 21, load);
            PromptSgd sgd(0.9, 5e-4);
            TrainStep step(*m, sgd, mode, 2);
            ImageLoader l(items_, trainLoader());
            l.start(0);
            Batch b;
            int n = 0;
            while (l.next(b)) {
                step.run(b, 0.01);
                ++n;
            }
            QCOMPARE(n, 6);
            QCOMPARE(step.captured(), mode == StepMode::CudaGraph);
            for (auto& [k, v] : m->trainable()) {
                QVERIFY2(torch::isfinite(v).all().item<bool>(), k.c_str());
                if (mode == StepMode::Eager) {
                    eager[k] = v.detach().cpu();
                    continue;
                }
                const double d = (v.detach().cpu() - eager.at(k)).abs().max().item<double>();
                qInfo("%s: graph vs eager max|diff| = %.3g", k.c_str(), d);
                QVERIFY2(d <= (bf16 ? 1e-3 : 1e-5), (k + " differs by " + std::to_string(d)).c_str());
            }
        }
    }
};

CASPL_REGISTER_TEST(TrainerTest);
#include "test_trainer.moc"
