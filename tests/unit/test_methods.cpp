// Prompt-learning methods against the reference's one-step cases (fixtures/method-steps): every shared case within
// |port - ref| <= 1e-4 + 1e-4 * max|ref| per tensor (fp32, CPU), plus trainable sets, token layouts and
// behaviour the cases do not cover (CoCoOp, MaPLe, cascades, CoOp positions).
#include "core/clip/clip_checkpoint.h"
#include "core/methods/debug_step.h"
#include "core/methods/prompted_clip.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"
#include "test_support.h"

#include <torch/torch.h>

#include <limits>

#include <QDir>

using namespace caspl;

namespace {
std::shared_ptr<ClipTokenizer> tokenizer() {
    static std::shared_ptr<ClipTokenizer> t =
        std::make_shared<ClipTokenizer>(ClipTokenizer::load(caspl::test::fixturePath("tokenizer/bpe_simple_vocab_16e6.txt.gz").toStdString()));
    return t;
}
ClipModel tinyClip() { return loadClip(caspl::test::fixturePath("clip-tiny-a/weights_openai.safetensors").toStdString()); }
const std::vector<std::string> kClasses{"cat", "golden retriever", "airplane", "red sports car"};
}  // namespace

class MethodStepTest : public QObject {
    Q_OBJECT

    void runCase(const char* name) {
        CASPL_REQUIRE_FIXTURE(path, QString("method-steps/%1.json").arg(name));
        CASPL_REQUIRE_FIXTURE(vocab, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        DebugStepOptions o;
        o.casePath = path.substr(0, path.size() - 5);
        o.vocab = vocab;
        o.out = QDir(caspl::test::tempDir()).filePath(QString("%1_out.safetensors").arg(name)).toStdString();
        const auto r = runDebugStep(o);
        qInfo("%s", r.summary().c_str());
        QVERIFY2(r.comparisons.size() >= 10, "too few reference tensors compared");
        for (const auto& c : r.comparisons)
            QVERIFY2(c.ok, qPrintable(QString("%1: max|diff| %2 (max|ref| %3)").arg(c.name.c_str()).arg(c.maxAbsDiff).arg(c.maxAbsRef)));
    }

private Q_SLOTS:
    void coop() { runCase("coop"); }
    void ivlp() { runCase("ivlp"); }
    void promptsrc() { runCase("promptsrc"); }
    void casplPhase1() { runCase("caspl_phase1"); }
    void casplPromptsrc() { runCase("caspl_promptsrc"); }
};

class MethodLayoutTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        CASPL_REQUIRE_FIXTURE(w, "clip-tiny-a/weights_openai.safetensors");
        CASPL_REQUIRE_FIXTURE(v, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
    }

    void trainableSetsAndShapes() {
        struct Case {
            MethodConfig cfg;
            std::map<std::string, std::vector<int64_t>> expect;
        };
        MethodConfig coop;
        coop.kind = MethodKind::CoOp;
        coop.ctxInit = "";
        coop.nCtxText = 16;
        MethodConfig cocoop;
        cocoop.kind = MethodKind::CoCoOp;
        MethodConfig ivlp;
        ivlp.kind = MethodKind::IVLP;
        ivlp.nCtxText = 2; ivlp.nCtxVision = 3; ivlp.depthText = 2; ivlp.depthVision = 2;
        MethodConfig maple;
        maple.kind = MethodKind::MaPLe;
        maple.nCtxText = 2; maple.depthText = 2;
        std::vector<Case> cases{
            {coop, {{"prompt_learner.ctx", {16, 32}}}},
            {cocoop, {{"prompt_learner.ctx", {4, 32}}, {"prompt_learner.meta_net.linear1.weight", {2, 32}},
                      {"prompt_learner.meta_net.linear1.bias", {2}}, {"prompt_learner.meta_net.linear2.weight", {32, 2}},
                      {"prompt_learner.meta_net.linear2.bias", {32}}}},
            {ivlp, {{"prompt_learner.ctx", {2, 32}}, {"text_encoder.transformer.resblocks.1.VPT_shallow", {2, 32}},
                    {"image_encoder.VPT", {3, 128}}, {"image_encoder.transformer.resblocks.1.VPT_shallow", {3, 128}}}},
            {maple, {{"prompt_learner.ctx", {2, 32}}, {"prompt_learner.proj.weight", {128, 32}}, {"prompt_learner.proj.bias", {128}},
                     {"prompt_learner.compound_prompts_text.0", {2, 32}},
                     {"prompt_learner.compound_prompt_projections.0.weight", {128, 32}},
                     {"prompt_learner.compound_prompt_projections.0.bias", {128}}}},
        };
        for (auto& c : cases) {
            PromptedClip m(tinyClip(), c.cfg, tokenizer());
            m.setClassNames(kClasses);
            QCOMPARE(m.trainable().size(), c.expect.size());
            for (const auto& [name, shape] : c.expect) {
                QVERIFY2(m.trainable().count(name), name.c_str());
                QCOMPARE(m.trainable().at(name).sizes().vec(), shape);
                QVERIFY(m.trainable().at(name).requires_grad());
            }
            for (const auto& p : m.clip()->parameters()) QVERIFY(!p.requires_grad());
        }
    }

    void coopWordInitAndForcedLength() {
        MethodConfig c;
        c.kind = MethodKind::CoOp;
        c.ctxInit = "a photo of a";
        c.nCtxText = 16;  // forced to the 4 words
        auto clip = tinyClip();
        auto wordRows = clip->token_embedding->weight.index_select(0, torch::tensor({320, 1125, 539, 320})).clone();
        PromptedClip m(clip, c, tokenizer());
        QCOMPARE(m.config().nCtxText, 4);
        QVERIFY(torch::equal(m.trainable().at("prompt_learner.ctx"), wordRows));
    }

    // A prompt longer than the context is found before any text-encoder work, with the class named.
    void promptsThatDoNotFitAreNamed() {
        MethodConfig c;
        c.kind = MethodKind::CoOp;
        c.ctxInit = "";
        c.nCtxText = 70;
        const auto clip = tinyClip();
        PromptedClip m(clip, c, tokenizer());
        QCOMPARE(clip->config().contextLength, 77);
        m.checkPromptsFit({"red", "blue"});  // 1 + 70 + 1 + 1 + 1 = 74 tokens
        caspl::test::expectError([&] { m.checkPromptsFit({"red", "a bird with a very long and wordy name"}); },
                                 {"the prompt of class 'a bird with a very long and wordy name' does not fit the student's context of 77 tokens",
                                  "method.n_ctx_text, phase1.n_text"});
        caspl::test::expectError([&] { m.setClassNames({"a bird with a very long and wordy name"}); }, {"77"});
    }

    // Prompts that are not finite are refused with the file named, not evaluated as chance-level accuracy.
    void promptsThatAreNotFiniteAreRefused() {
        MethodConfig c;
        c.kind = MethodKind::CoOp;
        c.ctxInit = "";
        c.nCtxText = 4;
        PromptedClip m(tinyClip(), c, tokenizer());
        TensorMap t{{"prompt_learner.ctx", m.trainable().at("prompt_learner.ctx").detach().clone()}};
        m.loadPrompts(t, "good.safetensors", false);
        t["prompt_learner.ctx"][1][2] = std::numeric_limits<float>::quiet_NaN();
        caspl::test::expectError([&] { m.loadPrompts(t, "bad.safetensors", false); },
                                 {"bad.safetensors: tensor 'prompt_learner.ctx' holds values that are not finite"});
    }

    void coopClassTokenPositions() {
        // front and middle put the class tokens around the context, keeping the EOT position.
        for (const char* pos : {"front", "middle", "end"}) {
            MethodConfig c;
            c.kind = MethodKind::CoOp;
            c.ctxInit = "";
            c.nCtxText = 4;
            c.classTokenPosition = pos;
            c.csc = std::string(pos) == "middle";
            PromptedClip m(tinyClip(), c, tokenizer());
            m.setClassNames(kClasses);
            if (c.csc) QCOMPARE(m.trainable().at("prompt_learner.ctx").sizes().vec(), (std::vector<int64_t>{4, 4, 32}));
            auto px = torch::randn({2, 3, 32, 32});
            auto r = m.trainForward(px, torch::tensor({0, 1}));
            QCOMPARE(r.logits.sizes().vec(), (std::vector<int64_t>{2, 4}));
            QVERIFY(std::isfinite(r.loss.item<double>()));
        }
    }

    void cascadeTextLayoutPositionByPosition() {
        // CasPL + PromptSRC, no init: [SOS | A(4) | B(2) | class...]; vision [CLS | 16 patches | B(3) | A(2)].
        MethodConfig c;
        c.kind = MethodKind::PromptSRC;
        c.ctxInit = "";
        c.nCtxText = 4; c.nCtxVision = 2; c.depthText = 2; c.depthVision = 2;
        c.boosting = {2, 3, 2, 2};
        PromptedClip m(tinyClip(), c, tokenizer());
        m.setClassNames(kClasses);
        QCOMPARE(m.promptStrings()[0], std::string("X X X X X X cat."));
        QCOMPARE(m.layout().adaptOffset, int64_t(1));
        QCOMPARE(m.layout().boostOffset, int64_t(5));
        QCOMPARE(m.layout().boostDeepOffset, int64_t(5));
        QCOMPARE(m.layout().visionBoostOffset, int64_t(17));
        QCOMPARE(m.layout().visionAdaptOffset, int64_t(20));
        // Layer-0 text embeddings: positions 1..4 = A, 5..6 = B, 7.. = the template's token embeddings.
        torch::NoGradGuard g;
        auto A = m.trainable().at("prompt_learner.ctx"), B = m.frozen().at("prompt_learner_teacher.ctx");
        auto ids = m.tokens();
        auto plain = m.clip()->embedTokens(ids);
        // Reproduce the engine's layer-0 embedding through the prompted text features: replacing positions by hand
        // and encoding must give the same features.
        auto manual = plain.clone();
        manual.narrow(1, 1, 4).copy_(A.unsqueeze(0).expand({4, 4, 32}));
        manual.narrow(1, 5, 2).copy_(B.unsqueeze(0).expand({4, 2, 32}));
        DeepPrompts deep;
        deep.layers.resize(2);
        deep.layers[1] = {{1, m.trainable().at("text_encoder.transformer.resblocks.1.VPT_shallow")},
                          {5, m.frozen().at("text_encoder.transformer.resblocks.1.VPT_shallow_FIRST")}};
        auto expect = m.clip()->encodeTextEmbeddings(manual, m.eotIndex(), &deep);
        auto got = m.normalizedTextFeatures();
        QVERIFY((got - expect / expect.norm(2, -1, true)).abs().max().item<double>() < 1e-6);
    }

    void promptsrcTwoTokenQuirk() {
        // With 2 adapting text tokens the released code writes deep boosting rows at positions 5.. (spec §4.9.4).
        MethodConfig c;
        c.kind = MethodKind::PromptSRC;
        c.ctxInit = "a photo of a";
        c.nCtxText = 2; c.nCtxVision = 2; c.depthText = 2; c.depthVision = 2;
        c.boosting = {2, 2, 2, 2};
        PromptedClip m(tinyClip(), c, tokenizer());
        m.setClassNames(kClasses);
        QCOMPARE(m.promptStrings()[0], std::string("a photo of a X X cat."));
        QCOMPARE(m.layout().boostOffset, int64_t(3));
        QCOMPARE(m.layout().boostDeepOffset, int64_t(5));
    }

    void mapleCascadeKeepsInitWords() {
        MethodConfig c;
        c.kind = MethodKind::MaPLe;
        c.ctxInit = "a photo of a";
        c.nCtxText = 2; c.depthText = 2;
        c.boosting = {2, 2, 1, 2};
        PromptedClip m(tinyClip(), c, tokenizer());
        m.setClassNames(kClasses);
        QCOMPARE(m.promptStrings()[0], std::string("a photo of a X X cat."));
        QCOMPARE(m.layout().boostOffset, int64_t(5));        // after "a photo of a"
        QCOMPARE(m.config().boosting.depthText, 2);          // text boosting depth follows the vision depth
        auto r = m.trainForward(torch::randn({2, 3, 32, 32}), torch::tensor({1, 2}));
        r.loss.backward();
        for (auto& [n, p] : m.trainable()) QVERIFY2(p.grad().defined(), n.c_str());
        for (auto& [n, p] : m.frozen()) QVERIFY2(!p.requires_grad(), n.c_str());
    }

    void cocoopTextDependsOnImage() {
        torch::manual_seed(4);
        MethodConfig c;
        c.kind = MethodKind::CoCoOp;
        c.boosting = {2, 2, 2, 2};
        PromptedClip m(tinyClip(), c, tokenizer());
        m.setClassNames(kClasses);
        QVERIFY(m.textDependsOnImage());
        auto r = m.trainForward(torch::randn({3, 3, 32, 32}), torch::tensor({0, 1, 2}));
        QCOMPARE(r.values.at("text_features").sizes().vec(), (std::vector<int64_t>{3, 4, 32}));
        r.loss.backward();
        // The Meta-Net's output bias always receives a gradient (its ReLU units may all be inactive for 3 images).
        QVERIFY(m.trainable().at("prompt_learner.meta_net.linear2.bias").grad().abs().sum().item<double>() > 0);
        QVERIFY(m.trainable().at("prompt_learner.ctx").grad().abs().sum().item<double>() > 0);
    }

    void chunkedTextTrainsLikeOnePass_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<int>("chunk");
        for (const char* m : {"promptsrc+caspl", "coop", "cocoop+caspl", "maple+caspl"})
            for (int chunk : {1, 3}) QTest::newRow(qPrintable(QString("%1/%2").arg(m).arg(chunk))) << QString(m) << chunk;
    }
    void chunkedTextTrainsLikeOnePass() {
        // Chunked text passes are checkpointed in training (recomputed in backward): the loss, every gradient and
        // the prompts after an SGD step equal those of one pass over all classes.
        QFETCH(QString, method);
        QFETCH(int, chunk);
        const std::vector<std::string> classes{"cat", "golden retriever", "airplane", "red sports car", "dog", "tabby cat", "ship"};
        MethodConfig c;
        const bool cascaded = method.endsWith("+caspl");
        c.kind = parseMethodKind(method.section('+', 0, 0).toStdString());
        c.nCtxText = 2; c.nCtxVision = 2; c.depthText = 2; c.depthVision = 2;
        if (c.kind == MethodKind::CoOp || c.kind == MethodKind::CoCoOp) c.nCtxVision = 0, c.depthText = 1, c.depthVision = 0;
        if (cascaded) c.boosting = {2, 2, 2, 2};
        const auto px = (torch::manual_seed(11), torch::randn({2, 3, 32, 32}));
        const auto labels = torch::tensor({4, 1});
        std::map<std::string, torch::Tensor> grads[2];
        double loss[2] = {0, 0};
        for (int k = 0; k < 2; ++k) {
            torch::manual_seed(7);
            PromptedClip m(tinyClip(), c, tokenizer());
            m.setClassNames(classes);
            m.setTextChunk(k == 0 ? 0 : chunk);
            auto r = m.trainForward(px, labels);
            r.loss.backward();
            loss[k] = r.loss.item<double>();
            for (auto& [n, p] : m.trainable()) {
                QVERIFY2(p.grad().defined(), n.c_str());
                grads[k][n] = p.grad().clone();
            }
            torch::NoGradGuard g;  // evaluation with chunks (no checkpoint) gives the same features too
            if (!m.textDependsOnImage()) grads[k]["eval.text"] = m.normalizedTextFeatures();
        }
        QVERIFY2(std::abs(loss[0] - loss[1]) < 1e-6, qPrintable(QString("loss %1 vs %2").arg(loss[0]).arg(loss[1])));
        QCOMPARE(grads[0].size(), grads[1].size());
        for (const auto& [n, g] : grads[0]) {
            const double scale = std::max(1.0, g.abs().max().item<double>());
            const double diff = (g - grads[1].at(n)).abs().max().item<double>();
            QVERIFY2(diff < 1e-5 * scale, qPrintable(QString("%1: max|diff| %2").arg(n.c_str()).arg(diff)));
            QVERIFY2(g.abs().sum().item<double>() > 0 || n.find("meta_net") != std::string::npos, n.c_str());
        }
    }

    void fixedEmbeddingsCanBeGiven() {
        // PromptSRC's 60-template features computed once can be handed back instead of recomputed.
        MethodConfig c;
        c.kind = MethodKind::PromptSRC;
        c.nCtxText = 2; c.nCtxVision = 2; c.depthText = 2; c.depthVision = 2;
        PromptedClip m(tinyClip(), c, tokenizer());
        m.setClassNames(kClasses);
        const auto computed = m.fixedEmbeddings().clone();
        m.setClassNames({"dog"});
        QCOMPARE(m.fixedEmbeddings().size(0), int64_t(1));
        m.setClassNames(kClasses, computed * 2);
        QVERIFY(torch::equal(m.fixedEmbeddings(), computed * 2));
        caspl::test::expectError([&] { m.setClassNames(kClasses, computed.narrow(0, 0, 3)); }, {"fixed embeddings", "[4, 32]", "[3, 32]"});
    }

    void invalidCombinationsAreRejected() {
        MethodConfig c;
        c.kind = MethodKind::CoOp;
        c.boosting = {2, 3, 1, 1};
        QVERIFY_THROWS_EXCEPTION(Error, c.validate());  // unequal text/vision boosting for CoOp
        MethodConfig d;
        d.kind = MethodKind::CoOp;
        d.classTokenPosition = "side";
        QVERIFY_THROWS_EXCEPTION(Error, d.validate());
        QVERIFY_THROWS_EXCEPTION(Error, parseMethodKind("coopp"));
    }

    void zeroShotUsesTheTemplate() {
        MethodConfig c;
        c.kind = MethodKind::ZeroShot;
        c.zeroShotTemplate = "a photo of a {}, a type of pet.";
        PromptedClip m(tinyClip(), c, tokenizer());
        m.setClassNames({"abyssinian"});
        QCOMPARE(m.promptStrings()[0], std::string("a photo of a abyssinian, a type of pet."));
        QVERIFY(m.trainable().empty());
        torch::NoGradGuard g;
        auto expect = m.clip()->encodeText(m.tokens());
        QVERIFY((m.normalizedTextFeatures() - expect / expect.norm(2, -1, true)).abs().max().item<double>() < 1e-6);
    }
};

CASPL_REGISTER_TEST(MethodStepTest);
CASPL_REGISTER_TEST(MethodLayoutTest);
#include "test_methods.moc"
