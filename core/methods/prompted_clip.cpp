#include "core/methods/prompted_clip.h"

#include "core/data/templates.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"

#include <torch/torch.h>

#include <sstream>

namespace caspl {

namespace F = torch::nn::functional;

namespace {

std::string xs(int64_t n) {
    std::string s;
    for (int64_t i = 0; i < n; ++i) s += (i ? " X" : "X");
    return s;
}

std::string idx(const char* pattern, int i) {
    std::string s = pattern;
    auto p = s.find("{}");
    return s.substr(0, p) + std::to_string(i) + s.substr(p + 2);
}

torch::Tensor normalize(const torch::Tensor& x) { return x / x.norm(2, -1, true); }

// Dassl/PyTorch nn.Linear default initialisation (kaiming uniform a=sqrt(5); bias U(-1/sqrt(in), 1/sqrt(in))).
std::pair<torch::Tensor, torch::Tensor> linearInit(int64_t in, int64_t out) {
    torch::nn::Linear l(in, out);
    return {l->weight.detach().clone(), l->bias.detach().clone()};
}

}  // namespace

PromptedClip::PromptedClip(ClipModel clip, const MethodConfig& config, std::shared_ptr<const ClipTokenizer> tokenizer)
    : clip_(std::move(clip)), cfg_(config), tok_(std::move(tokenizer)) {
    if (!tok_) throw Error("PromptedClip: a tokenizer is required");
    clip_->freeze();
    clip_->eval();
    // CoOp and CoCoOp force the context length to the init phrase's word count (spec §3.2).
    if ((cfg_.kind == MethodKind::CoOp || cfg_.kind == MethodKind::CoCoOp) && !cfg_.ctxInit.empty())
        cfg_.nCtxText = ctxInitWords(cfg_.ctxInit);
    if (cfg_.kind == MethodKind::MaPLe) {
        cfg_.nCtxVision = cfg_.nCtxText;
        cfg_.depthVision = cfg_.depthText;
    }
    // MaPLe + CasPL: the released code takes the text boosting depth from the vision depth (spec §4.9.3).
    if (cfg_.cascaded() && cfg_.kind == MethodKind::MaPLe) cfg_.boosting.depthText = cfg_.boosting.depthVision;
    cfg_.validate();
    setupLayout();
    initParameters();
}

torch::Device PromptedClip::device() const { return clip_->positional_embedding.device(); }

torch::Tensor PromptedClip::param(const std::string& name) const {
    auto it = trainable_.find(name);
    if (it != trainable_.end()) return it->second;
    auto jt = frozen_.find(name);
    if (jt != frozen_.end()) return jt->second;
    return {};
}

void PromptedClip::setupLayout() {
    const auto k = cfg_.kind;
    if (k == MethodKind::ZeroShot) return;
    const int64_t nA = cfg_.nCtxText;
    const bool coopLike = k == MethodKind::CoOp || k == MethodKind::CoCoOp;
    initUsed_ = !cfg_.ctxInit.empty() && (coopLike || nA <= 4);
    if (initUsed_) initTokens_ = tok_->encode(cfg_.ctxInit);
    const std::string prefixA = initUsed_ ? cfg_.ctxInit : xs(nA);
    layout_.adaptOffset = 1;
    layout_.adaptCount = nA;
    const int64_t grid = clip_->config().gridSize();
    const int64_t visBase = 1 + grid * grid;
    if (cfg_.cascaded()) {
        const int64_t nB = cfg_.boosting.nText;
        layout_.boostCount = nB;
        if (k == MethodKind::PromptSRC) {
            layout_.prefix = initUsed_ ? cfg_.ctxInit + " " + xs(nB) : xs(nA + nB);
            layout_.boostOffset = 1 + nA;
            // Released code: with 2 adapting tokens the deep boosting rows go to positions 5.. (spec §4.9.4).
            layout_.boostDeepOffset = nA == 2 ? 5 : 1 + nA;
        } else if (k == MethodKind::MaPLe) {
            layout_.prefix = initUsed_ ? cfg_.ctxInit + " " + xs(nB) : xs(nA + nB);
            layout_.boostOffset = initUsed_ ? 1 + int64_t(initTokens_.size()) : 1 + nA;
            layout_.boostDeepOffset = layout_.boostOffset;
        } else {  // CoOp, CoCoOp
            layout_.prefix = prefixA + " " + xs(nB);
            layout_.boostOffset = 1 + nA;
            layout_.boostDeepOffset = layout_.boostOffset;
        }
        layout_.visionBoostOffset = visBase;
        layout_.visionAdaptOffset = visBase + cfg_.boosting.nVision;
    } else {
        layout_.prefix = prefixA;
        layout_.visionAdaptOffset = visBase;
    }
}

void PromptedClip::initParameters() {
    if (cfg_.kind == MethodKind::ZeroShot) return;
    torch::NoGradGuard g;
    const int64_t Dt = clip_->config().textWidth, Dv = clip_->config().visionWidth, E = clip_->config().embedDim;
    const int64_t nA = cfg_.nCtxText;
    const bool p1 = cfg_.phase1;
    const std::string sfx = p1 ? "_FIRST" : "";
    const auto normal = [](std::vector<int64_t> shape) { return torch::randn(shape) * 0.02; };

    // Layer-0 text context.
    torch::Tensor ctx;
    if (initUsed_) {
        auto ids = torch::tensor(std::vector<int64_t>(initTokens_.begin(), initTokens_.end()), torch::kInt64);
        auto emb = clip_->token_embedding->weight.index_select(0, ids.to(device())).to(torch::kCPU, torch::kFloat32);
        if (emb.size(0) < nA)
            throw Error("ctx_init '" + cfg_.ctxInit + "' has " + std::to_string(emb.size(0)) + " tokens, fewer than n_ctx " +
                        std::to_string(nA));
        ctx = emb.narrow(0, 0, nA).clone();
    } else if (cfg_.csc) {
        ctx = torch::Tensor();  // class-specific: sized when the class names are known (setClassNames)
    } else {
        ctx = normal({nA, Dt});
    }
    if (ctx.defined()) trainable_[p1 ? "prompt_learner_teacher.ctx" : "prompt_learner.ctx"] = ctx;

    // Deep text prompts.
    for (int i = 1; i < cfg_.depthText; ++i) {
        if (cfg_.kind == MethodKind::MaPLe) trainable_[idx("prompt_learner.compound_prompts_text.{}", i - 1)] = normal({nA, Dt});
        else trainable_[idx("text_encoder.transformer.resblocks.{}.VPT_shallow", i) + sfx] = normal({nA, Dt});
    }
    // Vision prompts.
    if (cfg_.kind == MethodKind::MaPLe) {
        auto [w, b] = linearInit(Dt, Dv);
        trainable_["prompt_learner.proj.weight"] = w;
        trainable_["prompt_learner.proj.bias"] = b;
        // MaPLe clones one Linear for every deep layer: all start identical.
        auto [dw, db] = linearInit(Dt, Dv);
        for (int i = 1; i < cfg_.depthText; ++i) {
            trainable_[idx("prompt_learner.compound_prompt_projections.{}.weight", i - 1)] = dw.clone();
            trainable_[idx("prompt_learner.compound_prompt_projections.{}.bias", i - 1)] = db.clone();
        }
    } else if (cfg_.nCtxVision > 0) {
        trainable_[std::string("image_encoder.VPT") + sfx] = normal({cfg_.nCtxVision, Dv});
        for (int i = 1; i < cfg_.depthVision; ++i)
            trainable_[idx("image_encoder.transformer.resblocks.{}.VPT_shallow", i) + sfx] = normal({cfg_.nCtxVision, Dv});
    }
    if (cfg_.kind == MethodKind::CoCoOp) {
        const int64_t hidden = E / 16;
        if (hidden < 1) throw Error("CoCoOp's Meta-Net needs embed_dim >= 16");
        auto [w1, b1] = linearInit(E, hidden);
        auto [w2, b2] = linearInit(hidden, Dt);
        trainable_["prompt_learner.meta_net.linear1.weight"] = w1;
        trainable_["prompt_learner.meta_net.linear1.bias"] = b1;
        trainable_["prompt_learner.meta_net.linear2.weight"] = w2;
        trainable_["prompt_learner.meta_net.linear2.bias"] = b2;
    }
    // Frozen boosting prompts (phase 2): random until loadPrompts() brings the phase-1 artifact.
    if (cfg_.cascaded()) {
        const auto& b = cfg_.boosting;
        frozen_["prompt_learner_teacher.ctx"] = normal({b.nText, Dt});
        for (int i = 1; i < b.depthText; ++i)
            frozen_[idx("text_encoder.transformer.resblocks.{}.VPT_shallow_FIRST", i)] = normal({b.nText, Dt});
        frozen_["image_encoder.VPT_FIRST"] = normal({b.nVision, Dv});
        for (int i = 1; i < b.depthVision; ++i)
            frozen_[idx("image_encoder.transformer.resblocks.{}.VPT_shallow_FIRST", i)] = normal({b.nVision, Dv});
    }
    const auto dev = device();
    for (auto& [n, t] : trainable_) t = t.to(dev).set_requires_grad(true);
    for (auto& [n, t] : frozen_) t = t.to(dev);
}

int64_t PromptedClip::trainableCount() const {
    int64_t n = 0;
    for (const auto& [k, v] : trainable_) n += v.numel();
    return n;
}

void PromptedClip::loadPrompts(const TensorMap& tensors, const std::string& source, bool requireAll) {
    torch::NoGradGuard g;
    std::size_t found = 0;
    for (const auto& [name, value] : tensors) {
        torch::Tensor dst = param(name);
        if (!dst.defined())
            throw Error(source + ": tensor '" + name + "' is not a prompt of " + cfg_.describe());
        if (dst.sizes() != value.sizes())
            throw Error(source + ": tensor '" + name + "': expected shape " + shapeToString(dst.sizes().vec()) + ", found " +
                        shapeToString(value.sizes().vec()));
        // Prompts that are not finite (a damaged file, or one saved from a diverged training) would be evaluated as
        // chance-level accuracy, or trained on into NaN: named here instead.
        if (value.is_floating_point() && !torch::isfinite(value).all().item<bool>())
            throw Error(source + ": tensor '" + name + "' holds values that are not finite (NaN or infinite): the file is "
                                 "damaged or was saved from a diverged training");
        dst.copy_(value);
        ++found;
    }
    if (requireAll) {
        for (const auto* set : {&trainable_, &frozen_})
            for (const auto& [name, t] : *set)
                if (!tensors.count(name))
                    throw Error(source + ": missing tensor '" + name + "' (expected shape " + shapeToString(t.sizes().vec()) + ")");
    }
    (void)found;
}

std::vector<std::string> PromptedClip::promptStrings() const { return promptStringsFor(classnames_); }

void PromptedClip::checkPromptsFit(const std::vector<std::string>& classnames) const {
    const int ctxLen = clip_->config().contextLength;
    const auto prompts = promptStringsFor(classnames);
    for (std::size_t c = 0; c < prompts.size(); ++c) {
        try {
            tok_->tokenize(prompts[c], ctxLen, /*truncate=*/false);
        } catch (const Error& e) {
            throw Error("the prompt of class '" + classnames[c] + "' does not fit the student's context of " + std::to_string(ctxLen) +
                        " tokens (" + e.what() + "); fewer learnable text tokens (method.n_ctx_text, phase1.n_text) make room");
        }
    }
}

std::vector<std::string> PromptedClip::promptStringsFor(const std::vector<std::string>& classnames) const {
    std::vector<std::string> out;
    for (const auto& c : classnames) {
        std::string name = c;
        for (auto& ch : name)
            if (ch == '_') ch = ' ';
        if (cfg_.kind == MethodKind::ZeroShot) out.push_back(fillTemplate(cfg_.zeroShotTemplate, c));
        else out.push_back(layout_.prefix + " " + name + ".");
    }
    return out;
}

void PromptedClip::setClassNames(const std::vector<std::string>& classnames, const torch::Tensor& fixedEmbeddings) {
    if (classnames.empty()) throw Error("no class names given");
    classnames_ = classnames;
    const int ctxLen = clip_->config().contextLength;
    const auto prompts = promptStrings();
    const auto C = int64_t(prompts.size());
    tokens_ = torch::zeros({C, ctxLen}, torch::kInt64);
    nameLengths_.clear();
    for (int64_t c = 0; c < C; ++c) {
        const auto ids = tok_->tokenize(prompts[std::size_t(c)], ctxLen, /*truncate=*/false);
        std::memcpy(tokens_[c].data_ptr<int64_t>(), ids.data(), sizeof(int64_t) * ids.size());
        std::string name = classnames[std::size_t(c)];
        for (auto& ch : name)
            if (ch == '_') ch = ' ';
        nameLengths_.push_back(int64_t(tok_->encode(name).size()));
    }
    {
        auto eotCpu = tokens_.argmax(-1);
        eotHost_.assign(eotCpu.data_ptr<int64_t>(), eotCpu.data_ptr<int64_t>() + C);
    }
    tokens_ = tokens_.to(device());
    eot_ = tokens_.argmax(-1);
    torch::NoGradGuard g;
    embeddings_ = clip_->embedTokens(tokens_);

    if (cfg_.csc && cfg_.kind == MethodKind::CoOp && !initUsed_) {
        auto& ctx = trainable_["prompt_learner.ctx"];
        if (!ctx.defined() || ctx.size(0) != C)
            ctx = (torch::randn({C, cfg_.nCtxText, clip_->config().textWidth}) * 0.02).to(device()).set_requires_grad(true);
    }
    if (cfg_.kind == MethodKind::PromptSRC && fixedEmbeddings.defined()) {
        if (fixedEmbeddings.dim() != 2 || fixedEmbeddings.size(0) != C || fixedEmbeddings.size(1) != clip_->config().embedDim)
            throw Error("fixed embeddings: expected shape [" + std::to_string(C) + ", " + std::to_string(clip_->config().embedDim) +
                        "], found " + shapeToString(fixedEmbeddings.sizes().vec()));
        fixedEmbeddings_ = fixedEmbeddings.to(device(), torch::kFloat32);
    } else if (cfg_.kind == MethodKind::PromptSRC) {
        // Mean of the unnormalised features of the 60 templates (spec §3.6).
        const auto& templates = imagenetTemplates();
        torch::Tensor sum;
        for (const auto& t : templates) {
            auto tk = torch::zeros({C, ctxLen}, torch::kInt64);
            for (int64_t c = 0; c < C; ++c) {
                const auto ids = tok_->tokenize(fillTemplate(t, classnames[std::size_t(c)]), ctxLen, true);
                std::memcpy(tk[c].data_ptr<int64_t>(), ids.data(), sizeof(int64_t) * ids.size());
            }
            auto f = clip_->encodeText(tk.to(device())).to(torch::kFloat32);
            sum = sum.defined() ? sum + f : f;
        }
        fixedEmbeddings_ = sum / double(templates.size());
    }
    if (teacher_) {
        auto tk = torch::zeros({C, teacher_->config().contextLength}, torch::kInt64);
        for (int64_t c = 0; c < C; ++c) {
            const auto ids = tok_->tokenize(fillTemplate(teacherTemplate_, classnames[std::size_t(c)]), int(tk.size(1)), true);
            std::memcpy(tk[c].data_ptr<int64_t>(), ids.data(), sizeof(int64_t) * ids.size());
        }
        teacherText_ = teacher_->encodeText(tk.to(device())).to(torch::kFloat32);
    }
}

void PromptedClip::setTeacherImageFeatures(torch::Tensor features) {
    if (features.defined() && teacherImageCache_.defined() && features.sizes() == teacherImageCache_.sizes() &&
        features.device() == teacherImageCache_.device() && features.scalar_type() == teacherImageCache_.scalar_type()) {
        torch::NoGradGuard g;
        teacherImageCache_.copy_(features);
        return;
    }
    teacherImageCache_ = std::move(features);
}

void PromptedClip::setTeacher(ClipModel teacher, const std::string& teacherTemplate) {
    teacher_ = std::move(teacher);
    teacher_->freeze();
    teacher_->eval();
    teacherTemplate_ = teacherTemplate;
    if (teacher_->config().imageResolution != clip_->config().imageResolution)
        throw Error("teacher resolution " + std::to_string(teacher_->config().imageResolution) + " differs from the student's " +
                    std::to_string(clip_->config().imageResolution) + ": both see the same augmented batch");
    if (!classnames_.empty()) setClassNames(classnames_);
}

torch::Tensor PromptedClip::adaptTextLayer(int layer) {
    if (cfg_.kind == MethodKind::ZeroShot) return {};
    if (layer == 0) return param(cfg_.phase1 ? "prompt_learner_teacher.ctx" : "prompt_learner.ctx");
    if (layer >= cfg_.depthText) return {};
    if (cfg_.kind == MethodKind::MaPLe) return param(idx("prompt_learner.compound_prompts_text.{}", layer - 1));
    return param(idx("text_encoder.transformer.resblocks.{}.VPT_shallow", layer) + (cfg_.phase1 ? "_FIRST" : ""));
}

torch::Tensor PromptedClip::boostTextLayer(int layer) {
    if (!cfg_.cascaded() || layer >= cfg_.boosting.depthText) return {};
    return layer == 0 ? param("prompt_learner_teacher.ctx") : param(idx("text_encoder.transformer.resblocks.{}.VPT_shallow_FIRST", layer));
}

torch::Tensor PromptedClip::boostVisionLayer(int layer) {
    if (!cfg_.cascaded() || layer >= cfg_.boosting.depthVision) return {};
    return layer == 0 ? param("image_encoder.VPT_FIRST") : param(idx("image_encoder.transformer.resblocks.{}.VPT_shallow_FIRST", layer));
}

torch::Tensor PromptedClip::adaptVisionLayer(int layer) {
    if (cfg_.kind == MethodKind::MaPLe) {
        if (layer >= cfg_.depthText) return {};
        if (layer == 0) return F::linear(param("prompt_learner.ctx"), param("prompt_learner.proj.weight"), param("prompt_learner.proj.bias"));
        return F::linear(param(idx("prompt_learner.compound_prompts_text.{}", layer - 1)),
                         param(idx("prompt_learner.compound_prompt_projections.{}.weight", layer - 1)),
                         param(idx("prompt_learner.compound_prompt_projections.{}.bias", layer - 1)));
    }
    if (cfg_.nCtxVision == 0 || layer >= cfg_.depthVision) return {};
    const std::string sfx = cfg_.phase1 ? "_FIRST" : "";
    return layer == 0 ? param("image_encoder.VPT" + sfx) : param(idx("image_encoder.transformer.resblocks.{}.VPT_shallow", layer) + sfx);
}

torch::Tensor PromptedClip::textLayer0(const torch::Tensor& adaptCtx) {
    // adaptCtx: [n, D] (shared), [C, n, D] (class-specific) or undefined (zero-shot).
    auto emb = embeddings_;
    const int64_t C = emb.size(0);
    if (!adaptCtx.defined()) return emb;
    auto ctx = adaptCtx.to(emb.scalar_type());
    if (ctx.dim() == 2) ctx = ctx.unsqueeze(0).expand({C, ctx.size(0), ctx.size(1)});
    const int64_t n = ctx.size(1);
    const std::string& pos = cfg_.classTokenPosition;
    if (pos == "end") {
        std::vector<torch::Tensor> pieces{emb.narrow(1, 0, 1), ctx};
        auto boost = boostTextLayer(0);
        int64_t at = 1 + n;
        if (boost.defined()) {
            const int64_t off = layout_.boostOffset;
            if (off > at) pieces.push_back(emb.narrow(1, at, off - at));
            pieces.push_back(boost.to(emb.scalar_type()).unsqueeze(0).expand({C, boost.size(0), boost.size(1)}));
            at = off + boost.size(0);
        }
        pieces.push_back(emb.narrow(1, at, emb.size(1) - at));
        return torch::cat(pieces, 1);
    }
    // CoOp "middle" / "front": per class, around the class-name tokens (spec §3.2).
    std::vector<torch::Tensor> rows;
    const int64_t half = n / 2;
    for (int64_t c = 0; c < C; ++c) {
        const int64_t len = nameLengths_[std::size_t(c)];
        auto e = emb[c];
        auto prefix = e.narrow(0, 0, 1);
        auto cls = e.narrow(0, 1 + n, len);
        auto suffix = e.narrow(0, 1 + n + len, e.size(0) - 1 - n - len);
        if (pos == "middle") rows.push_back(torch::cat({prefix, ctx[c].narrow(0, 0, half), cls, ctx[c].narrow(0, half, n - half), suffix}, 0));
        else rows.push_back(torch::cat({prefix, cls, ctx[c], suffix}, 0));
    }
    return torch::stack(rows, 0);
}

DeepPrompts PromptedClip::textDeep() {
    DeepPrompts d;
    const int L = int(clip_->config().textLayers);
    d.layers.resize(std::size_t(L));
    for (int i = 1; i < L; ++i) {
        auto a = adaptTextLayer(i);
        if (a.defined()) d.layers[std::size_t(i)].push_back({layout_.adaptOffset, a});
        auto b = boostTextLayer(i);
        if (b.defined()) d.layers[std::size_t(i)].push_back({layout_.boostDeepOffset, b});
    }
    return d;
}

torch::Tensor PromptedClip::visionAppended() {
    std::vector<torch::Tensor> parts;
    auto b = boostVisionLayer(0);
    if (b.defined()) parts.push_back(b);
    auto a = adaptVisionLayer(0);
    if (a.defined()) parts.push_back(a);
    if (parts.empty()) return {};
    return parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
}

DeepPrompts PromptedClip::visionDeep() {
    DeepPrompts d;
    const int L = int(clip_->config().visionLayers);
    d.layers.resize(std::size_t(L));
    for (int i = 1; i < L; ++i) {
        auto b = boostVisionLayer(i);
        if (b.defined()) d.layers[std::size_t(i)].push_back({layout_.visionBoostOffset, b});
        auto a = adaptVisionLayer(i);
        if (a.defined()) d.layers[std::size_t(i)].push_back({layout_.visionAdaptOffset, a});
    }
    return d;
}

torch::Tensor PromptedClip::encodeImagePrompted(const torch::Tensor& pixels) {
    auto appended = visionAppended();
    auto deep = visionDeep();
    return clip_->visual->forward(pixels, appended, deep.empty() ? nullptr : &deep);
}

namespace {

// One chunk of classes through the text tower, as a closure the checkpoint below can run twice.
struct TextChunkPass : torch::CustomClassHolder {
    ClipModel clip{nullptr};
    torch::Tensor eot;
    int64_t length = 0;
    int64_t layers = 0;
    std::vector<std::pair<std::size_t, int64_t>> slots;  // (layer, offset) of each deep token group, in order
    std::vector<bool> needsGrad;                         // per input: embeddings, then the deep groups

    torch::Tensor run(const torch::Tensor& embeddings, torch::TensorList deep) {
        DeepPrompts d;
        d.layers.resize(std::size_t(layers));
        for (std::size_t i = 0; i < slots.size(); ++i) d.layers[slots[i].first].push_back({slots[i].second, deep[i]});
        return clip->encodeTextEmbeddings(embeddings, eot, slots.empty() ? nullptr : &d, nullptr, length);
    }
};

// Activation checkpointing for a chunk of classes: the forward keeps no activations (only its inputs), the
// backward runs the chunk again with autograd on and differentiates it. Peak memory of a training step's text
// pass is then one chunk's activations instead of all C classes', for one extra forward of the text tower.
struct CheckpointedTextChunk : torch::autograd::Function<CheckpointedTextChunk> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor embeddings, torch::TensorList deep,
                                 c10::intrusive_ptr<TextChunkPass> pass) {
        std::vector<torch::Tensor> saved{embeddings};
        saved.insert(saved.end(), deep.begin(), deep.end());
        ctx->save_for_backward(saved);
        auto out = pass->run(embeddings, deep);  // grad mode is off inside forward
        ctx->saved_data["pass"] = c10::IValue::make_capsule(std::move(pass));
        return out;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
        auto pass = c10::static_intrusive_pointer_cast<TextChunkPass>(ctx->saved_data["pass"].toCapsule());
        const auto saved = ctx->get_saved_variables();
        std::vector<torch::Tensor> inputs, wrt;
        std::vector<std::size_t> wrtIndex;
        for (std::size_t i = 0; i < saved.size(); ++i) {
            auto v = saved[i].detach();
            if (pass->needsGrad[i]) {
                v.set_requires_grad(true);
                wrt.push_back(v);
                wrtIndex.push_back(i);
            }
            inputs.push_back(v);
        }
        torch::Tensor out;
        {
            torch::AutoGradMode on(true);
            out = pass->run(inputs[0], torch::TensorList(inputs).slice(1));
        }
        // One gradient per forward argument: the embeddings, each deep group, none for the pass itself.
        torch::autograd::variable_list result(saved.size() + 1);
        if (!wrt.empty() && out.requires_grad()) {
            auto g = torch::autograd::grad({out}, wrt, {grads[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                                           /*allow_unused=*/true);
            for (std::size_t k = 0; k < wrtIndex.size(); ++k) result[wrtIndex[k]] = g[k];
        }
        return result;
    }
};

}  // namespace

torch::Tensor PromptedClip::encodeTextChunked(const torch::Tensor& embeddings, const DeepPrompts* deep) {
    const int64_t C = embeddings.size(0);
    if (textChunk_ <= 0 || C <= textChunk_)
        return clip_->encodeTextEmbeddings(embeddings, eot_, deep, nullptr, textLength(0, C)).to(torch::kFloat32);
    // Deep token groups in a flat list (the checkpoint's differentiable inputs) with where they go.
    std::vector<torch::Tensor> deepTokens;
    std::vector<std::pair<std::size_t, int64_t>> slots;
    bool anyGrad = embeddings.requires_grad();
    if (deep)
        for (std::size_t l = 0; l < deep->layers.size(); ++l)
            for (const auto& ins : deep->layers[l]) {
                deepTokens.push_back(ins.tokens);
                slots.emplace_back(l, ins.offset);
                anyGrad = anyGrad || ins.tokens.requires_grad();
            }
    const bool checkpoint = anyGrad && torch::GradMode::is_enabled();
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < C; s += textChunk_) {
        const int64_t n = std::min(textChunk_, C - s);
        auto emb = embeddings.narrow(0, s, n);
        if (!checkpoint) {
            parts.push_back(clip_->encodeTextEmbeddings(emb, eot_.narrow(0, s, n), deep, nullptr, textLength(s, n)));
            continue;
        }
        auto pass = c10::make_intrusive<TextChunkPass>();
        pass->clip = clip_;
        pass->eot = eot_.narrow(0, s, n);
        pass->length = textLength(s, n);
        pass->layers = deep ? int64_t(deep->layers.size()) : 0;
        pass->slots = slots;
        pass->needsGrad.push_back(emb.requires_grad());
        for (const auto& t : deepTokens) pass->needsGrad.push_back(t.requires_grad());
        parts.push_back(CheckpointedTextChunk::apply(emb, torch::TensorList(deepTokens), pass));
    }
    return torch::cat(parts, 0).to(torch::kFloat32);
}

int64_t PromptedClip::textLength(int64_t first, int64_t count) const {
    // Positions after the last EOT of these classes never reach an EOT row (causal attention): skip them. Every
    // prompt insertion lies before the class name, hence before the EOT.
    int64_t last = 0;
    for (int64_t i = first; i < first + count && std::size_t(i) < eotHost_.size(); ++i) last = std::max(last, eotHost_[std::size_t(i)]);
    return last + 1;
}

torch::Tensor PromptedClip::metaNet(const torch::Tensor& f) {
    auto h = F::relu(F::linear(f, param("prompt_learner.meta_net.linear1.weight"), param("prompt_learner.meta_net.linear1.bias")));
    return F::linear(h, param("prompt_learner.meta_net.linear2.weight"), param("prompt_learner.meta_net.linear2.bias"));
}

torch::Tensor PromptedClip::normalizedTextFeatures() {
    if (classnames_.empty()) throw Error("PromptedClip: set the class names first");
    if (textDependsOnImage()) throw Error("CoCoOp's text features depend on the image");
    auto deep = textDeep();
    auto g = encodeTextChunked(textLayer0(adaptTextLayer(0)), deep.empty() ? nullptr : &deep);
    return normalize(g);
}

PromptedClip::Forward PromptedClip::forward(const torch::Tensor& pixels, const torch::Tensor& textNormalized) {
    if (classnames_.empty()) throw Error("PromptedClip: set the class names first");
    Forward out;
    const auto scale = clip_->logitScaleExp();
    // Features and logits in fp32 whatever the towers' dtype (bf16/fp16 weights on CUDA).
    out.imageFeatures = encodeImagePrompted(pixels.to(device())).to(torch::kFloat32);
    auto f = normalize(out.imageFeatures);
    if (cfg_.kind == MethodKind::CoCoOp) {
        // One text pass per image with ctx + MetaNet(f_b) (spec §3.3).
        auto bias = metaNet(f);  // [B, Dt]
        auto ctx = param("prompt_learner.ctx");
        auto deep = textDeep();
        std::vector<torch::Tensor> feats, logits;
        for (int64_t b = 0; b < pixels.size(0); ++b) {
            auto g = encodeTextChunked(textLayer0(ctx + bias[b].unsqueeze(0)), deep.empty() ? nullptr : &deep);
            feats.push_back(g);
            logits.push_back(scale * torch::matmul(f[b], normalize(g).t()));
        }
        out.textFeatures = torch::stack(feats, 0);
        out.logits = torch::stack(logits, 0);
        return out;
    }
    torch::Tensor gN = textNormalized;
    if (!gN.defined()) {
        auto deep = textDeep();
        out.textFeatures = encodeTextChunked(textLayer0(adaptTextLayer(0)), deep.empty() ? nullptr : &deep);
        gN = normalize(out.textFeatures);
    }
    out.logits = scale * torch::matmul(f, gN.t());
    return out;
}

torch::Tensor PromptedClip::evalLogits(const torch::Tensor& pixels, const torch::Tensor& textFeatures) {
    torch::NoGradGuard g;
    return forward(pixels, textDependsOnImage() ? torch::Tensor() : textFeatures).logits;
}

MethodOutput PromptedClip::trainForward(const torch::Tensor& pixels, const torch::Tensor& labels, const torch::Tensor& indices) {
    MethodOutput out;
    auto fw = forward(pixels);
    out.logits = fw.logits;
    out.values["logits"] = fw.logits;
    out.values["image_features"] = fw.imageFeatures;
    if (fw.textFeatures.defined()) out.values["text_features"] = fw.textFeatures;
    const auto scale = clip_->logitScaleExp();
    const double B = double(pixels.size(0));

    if (cfg_.phase1) {
        if (!teacher_) throw Error("CasPL phase 1 needs a teacher CLIP (setTeacher)");
        torch::Tensor zt, ft;
        {
            torch::NoGradGuard g;
            if (teacherImageCache_.defined() && indices.defined())
                ft = teacherImageCache_.index_select(0, indices.to(teacherImageCache_.device()).to(torch::kLong));
            else
                ft = teacher_->encodeImage(pixels.to(teacher_->positional_embedding.device()));
            // The teacher's logits use the STUDENT's logit scale (spec §4.9.8).
            zt = scale * torch::matmul(normalize(ft.to(torch::kFloat32)), normalize(teacherText_).t());
        }
        const double T = cfg_.kdTemperature;
        auto pt = torch::softmax(zt / T, -1);
        auto logPs = torch::log_softmax(fw.logits / T, -1);
        auto klSum = (pt * (torch::log(pt) - logPs)).sum();
        out.loss = klSum * (T * T) / B;
        out.values["teacher_image_features"] = ft;
        out.values["teacher_logits"] = zt;
        out.values["loss.kl_sum"] = klSum;
        out.values["loss.kd"] = out.loss;
        out.values["loss.total"] = out.loss;
        return out;
    }

    auto ce = F::cross_entropy(fw.logits, labels.to(fw.logits.device()));
    out.values["loss.ce"] = ce;
    out.loss = ce;
    if (cfg_.kind == MethodKind::PromptSRC) {
        torch::Tensor f0;
        {
            torch::NoGradGuard g;
            f0 = clip_->encodeImage(pixels.to(device())).to(torch::kFloat32);
        }
        const double C = double(fw.logits.size(1));
        auto fN = normalize(fw.imageFeatures), gN = normalize(fw.textFeatures);
        auto F0 = normalize(fixedEmbeddings_.to(gN.scalar_type()));
        auto f0N = normalize(f0);
        auto z0 = scale * torch::matmul(f0N, F0.t());
        auto l1Text = (gN - F0).abs().mean();
        auto l1Image = (fN - f0N).abs().mean();
        auto p0 = torch::softmax(z0, -1);
        auto klSum = (p0 * (torch::log(p0) - torch::log_softmax(fw.logits, -1))).sum();
        auto sclText = cfg_.textLossWeight * l1Text;
        auto sclImage = cfg_.imageLossWeight * l1Image;
        auto sclLogits = klSum / (B * C);
        out.loss = ce + (sclLogits + sclText + sclImage);
        out.values["zs_image_features"] = f0;
        out.values["zs_logits"] = z0;
        out.values["text_features_normalized"] = gN;
        out.values["image_features_normalized"] = fN;
        out.values["fixed_embeddings_normalized"] = F0;
        out.values["zs_image_features_normalized"] = f0N;
        out.values["loss.l1_text_mean"] = l1Text;
        out.values["loss.l1_image_mean"] = l1Image;
        out.values["loss.kl_logits_sum"] = klSum;
        out.values["loss.scl_text"] = sclText;
        out.values["loss.scl_image"] = sclImage;
        out.values["loss.scl_logits"] = sclLogits;
    }
    out.values["loss.total"] = out.loss;
    return out;
}

}  // namespace caspl
