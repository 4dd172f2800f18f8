// CasPL: phase-1 distillation on a tiny teacher/student pair, the teacher cache equal to the online teacher, the
// boosting artifact (round trip, refusals), and phase 2 leaving the boosting prompts untouched.
#include "core/clip/clip_checkpoint.h"
#include "core/engine/caspl_phases.h"
#include "core/image/image.h"
#include "core/text/tokenizer.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "test_support.h"

#include <torch/torch.h>

#include <QDir>

#include <random>

using namespace caspl;

namespace {

std::shared_ptr<ClipTokenizer> tok() {
    static auto t = std::make_shared<ClipTokenizer>(
        ClipTokenizer::load(caspl::test::fixturePath("tokenizer/bpe_simple_vocab_16e6.txt.gz").toStdString()));
    return t;
}
std::string student() { return caspl::test::fixturePath("clip-tiny-a/weights_openai.safetensors").toStdString(); }
std::string teacher() { return caspl::test::fixturePath("method-steps/caspl_phase1_teacher.safetensors").toStdString(); }

const std::vector<std::string> kClasses{"cat", "golden retriever", "airplane", "red sports car"};

std::vector<Datum> images(const QString& dir, int n) {
    QDir().mkpath(dir);
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> u(0, 255);
    std::vector<Datum> items;
    for (int i = 0; i < n; ++i) {
        Image img(44, 38, 3);
        const int c = i % 4;
        for (int y = 0; y < img.height; ++y)
            for (int x = 0; x < img.width; ++x)
                for (int k = 0; k < 3; ++k) img.at(y, x, k) = uint8_t((k == c % 3 ? 150 : 0) + u(rng) / 3);
        const std::string p = QDir(dir).filePath(QString("img%1.png").arg(i)).toStdString();
        encodeImageFile(img, p);
        items.push_back({p, c, kClasses[std::size_t(c)], 0});
    }
    return items;
}

std::unique_ptr<PromptedClip> phase1Model(uint64_t seed) {
    torch::manual_seed(seed);
    MethodConfig c;
    c.kind = MethodKind::IVLP;
    c.phase1 = true;
    c.ctxInit = "";
    c.nCtxText = 2; c.nCtxVision = 2; c.depthText = 2; c.depthVision = 2;
    auto m = std::make_unique<PromptedClip>(loadClip(student()), c, tok());
    m->setTeacher(loadClip(teacher()), "a photo of a {}.");
    m->setClassNames(kClasses);
    return m;
}

LoaderOptions loaderOptions() {
    LoaderOptions o;
    o.mode = TransformMode::Train;
    o.imageSize = 32;
    o.batchSize = 4;
    o.dropLast = true;
    o.shuffle = true;
    o.seed = 1;
    o.threads = 2;
    return o;
}

struct Sink : EventSink {
    std::vector<MetricEvent> metrics;
    void metric(const MetricEvent& e) override { metrics.push_back(e); }
};

}  // namespace

class CasplTest : public QObject {
    Q_OBJECT
    std::vector<Datum> items_;

private Q_SLOTS:
    void initTestCase() {
        CASPL_REQUIRE_FIXTURE(a, "clip-tiny-a/weights_openai.safetensors");
        CASPL_REQUIRE_FIXTURE(b, "method-steps/caspl_phase1_teacher.safetensors");
        CASPL_REQUIRE_FIXTURE(c, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        items_ = images(QDir(caspl::test::tempDir()).filePath("pool"), 16);
    }

    void phase1LossFalls() {
        auto m = phase1Model(1);
        ImageLoader loader(items_, loaderOptions());
        TrainOptions o;
        o.phase = "phase1";
        o.schedule = {0.5, 8, 1, 1e-5, "cosine"};
        Sink s;
        StopToken stop;
        trainPrompts(*m, loader, o, s, stop);
        double first = 0, last = 0;
        int nf = 0, nl = 0;
        for (const auto& e : s.metrics) {
            QVERIFY(e.values.count("loss.kd"));
            if (e.epoch == 2) first += e.values.at("loss"), ++nf;
            if (e.epoch == 8) last += e.values.at("loss"), ++nl;
        }
        qInfo("phase-1 KD loss %.4f (epoch 2) -> %.4f (epoch 8)", first / nf, last / nl);
        QVERIFY(last / nl < 0.7 * first / nf);
    }

    void teacherCacheEqualsOnlineTeacher() {
        TrainOptions o;
        o.phase = "phase1";
        o.schedule = {0.5, 2, 0, 1e-5, "cosine"};
        auto online = phase1Model(2);
        {
            ImageLoader l(items_, loaderOptions());
            Sink s;
            StopToken st;
            trainPrompts(*online, l, o, s, st);
        }
        auto cached = phase1Model(2);
        int filled = 0;
        o.beforeEpoch = [&](int epoch) {
            cached->setTeacherImageFeatures(computeTeacherFeatures(cached->teacher(), items_, loaderOptions(), epoch, 16));
            ++filled;
        };
        {
            ImageLoader l(items_, loaderOptions());
            Sink s;
            StopToken st;
            trainPrompts(*cached, l, o, s, st);
        }
        QCOMPARE(filled, 2);
        double maxDiff = 0;
        for (auto& [k, v] : online->trainable())
            maxDiff = std::max(maxDiff, (v - cached->trainable().at(k)).abs().max().item<double>());
        qInfo("cached vs online phase 1: max |prompt difference| = %.3g", maxDiff);
        QVERIFY(maxDiff < 1e-5);
    }

    void artifactRoundTripAndRefusals() {
        auto p1 = phase1Model(3);
        const std::string dir = QDir(caspl::test::tempDir()).filePath("boost").toStdString();
        BoostingManifest m;
        m.dataset = "Synthetic";
        m.epochs = 2;
        m.seed = 1;
        saveBoostingArtifact(dir, *p1, m);
        auto back = readBoostingManifest(dir);
        QCOMPARE(back.nText, 2);
        QCOMPARE(back.depthVision, 2);
        QCOMPARE(back.classes, 4);
        QCOMPARE(back.classListHash, classListHash(kClasses));

        // Phase 2 (PromptSRC + CasPL) loads them as frozen prompts.
        MethodConfig c;
        c.kind = MethodKind::PromptSRC;
        c.ctxInit = "";
        c.nCtxText = 2; c.nCtxVision = 2; c.depthText = 2; c.depthVision = 2;
        c.boosting = {2, 2, 2, 2};
        PromptedClip p2(loadClip(student()), c, tok());
        p2.setClassNames({"cat", "airplane"});
        loadBoostingArtifact(p2, dir);
        for (auto& [k, v] : p2.frozen()) QVERIFY2(torch::equal(v, p1->trainable().at(k)), k.c_str());

        // Boosting prompts do not move in phase 2; the adapting ones do.
        TensorMap before;
        for (auto& [k, v] : p2.frozen()) before[k] = v.clone();
        TensorMap adaptBefore;
        for (auto& [k, v] : p2.trainable()) adaptBefore[k] = v.detach().clone();
        std::vector<Datum> two;
        for (const auto& d : items_)
            if (d.label == 0 || d.label == 2) two.push_back({d.impath, d.label == 0 ? 0 : 1, d.classname, 0});
        ImageLoader l(two, loaderOptions());
        TrainOptions o;
        o.schedule = {0.01, 2, 0, 1e-5, "cosine"};
        o.gpa = true;
        o.gpaMean = 2;
        o.gpaStd = 1;
        Sink s;
        StopToken st;
        trainPrompts(p2, l, o, s, st);
        for (auto& [k, v] : p2.frozen()) {
            QVERIFY2(torch::equal(v, before.at(k)), k.c_str());
            QVERIFY(!v.requires_grad());
        }
        bool moved = false;
        for (auto& [k, v] : p2.trainable()) moved |= !torch::equal(v.detach(), adaptBefore.at(k));
        QVERIFY(moved);

        // Refusals: another layout, another student.
        MethodConfig wrong = c;
        wrong.boosting = {2, 2, 1, 1};
        PromptedClip p3(loadClip(student()), wrong, tok());
        try {
            loadBoostingArtifact(p3, dir);
            QFAIL("a mismatched layout was accepted");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("boosting layout is text 2x2") != std::string::npos, e.what());
        }
        ClipConfig other;  // ViT-B/16: not the tiny student
        try {
            checkBoostingCompatible(back, other, 2, 2, 2, 2, "test");
            QFAIL("a mismatched student was accepted");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("this run's student is ViT-B/16") != std::string::npos, e.what());
        }
    }
};

CASPL_REGISTER_TEST(CasplTest);
#include "test_caspl.moc"
