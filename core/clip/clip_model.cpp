#include "core/clip/clip_model.h"

#include "core/clip/fused_linear.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cmath>

namespace caspl {

namespace F = torch::nn::functional;

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, bool causal) {
#if TORCH_VERSION_MAJOR >= 2
    return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/causal);
#else
    const double scale = 1.0 / std::sqrt(double(q.size(-1)));
    auto scores = torch::matmul(q * scale, k.transpose(-2, -1));
    if (causal) {
        const auto L = q.size(-2);
        auto mask = torch::ones({L, L}, torch::TensorOptions().dtype(torch::kBool).device(q.device())).triu(1);
        scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
    }
    auto p = scores.to(torch::kFloat32).softmax(-1).to(q.scalar_type());
    return torch::matmul(p, v);
#endif
}

ClipLayerNormImpl::ClipLayerNormImpl(int64_t width) {
    weight = register_parameter("weight", torch::ones({width}));
    bias = register_parameter("bias", torch::zeros({width}));
}

namespace {
// Whether this LibTorch's layer_norm takes a bf16/fp16 input with fp32 weight and bias (computing in fp32 and
// writing the input's dtype, as LibTorch 2.x does on CUDA): -1 not tried yet, 0 no, 1 yes.
std::atomic<int> gMixedLayerNorm{-1};
}  // namespace

torch::Tensor ClipLayerNormImpl::forward(const torch::Tensor& x) {
    const auto opts = F::LayerNormFuncOptions({weight.size(0)}).weight(weight.to(torch::kFloat32)).bias(bias.to(torch::kFloat32)).eps(1e-5);
    if (x.scalar_type() == torch::kFloat32) return F::layer_norm(x, opts);
    // Reduced-precision towers: OpenAI's LayerNorm computes in fp32 and casts back. One mixed-dtype kernel does
    // the same arithmetic without the two casting passes over the activations, where LibTorch offers it.
    if (gMixedLayerNorm.load() != 0) {
        try {
            auto y = F::layer_norm(x, opts);
            if (y.scalar_type() == x.scalar_type()) {
                gMixedLayerNorm.store(1);
                return y;
            }
        } catch (const c10::Error&) {
        }
        gMixedLayerNorm.store(0);
    }
    return F::layer_norm(x.to(torch::kFloat32), opts).to(x.scalar_type());
}

ClipAttentionImpl::ClipAttentionImpl(int64_t width, int64_t heads_) : heads(heads_) {
    in_proj_weight = register_parameter("in_proj_weight", torch::zeros({3 * width, width}));  // loaders overwrite it
    in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
    out_proj = register_module("out_proj", torch::nn::Linear(width, width));
}

torch::Tensor ClipAttentionImpl::mergedHeads(const torch::Tensor& x, bool causal) {
    const auto N = x.size(0), L = x.size(1), D = x.size(2);
    const auto hd = D / heads;
    auto qkv = F::linear(x, in_proj_weight, in_proj_bias).view({N, L, 3, heads, hd}).permute({2, 0, 3, 1, 4});
    auto out = attention(qkv[0], qkv[1], qkv[2], causal);  // [N, H, L, hd]
    return out.transpose(1, 2).reshape({N, L, D});
}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor& x, bool causal) { return out_proj(mergedHeads(x, causal)); }

ClipMlpImpl::ClipMlpImpl(int64_t width) {
    c_fc = register_module("c_fc", torch::nn::Linear(width, 4 * width));
    c_proj = register_module("c_proj", torch::nn::Linear(4 * width, width));
}

torch::Tensor ClipMlpImpl::hidden(const torch::Tensor& x) {
    // QuickGELU(h) = h * sigmoid(1.702 h) = silu(1.702 h) / 1.702. The two factors ride in the matrix products'
    // alpha (and a scaled copy of c_fc's bias), so the activation is one SiLU pass instead of three elementwise
    // passes over the 4x-wide hidden state; the arithmetic is the same up to rounding.
    auto h = torch::addmm(c_fc->bias * kQuickGeluScale, x.reshape({-1, x.size(-1)}), c_fc->weight.t(), /*beta=*/1,
                          /*alpha=*/kQuickGeluScale);
    return torch::GradMode::is_enabled() ? torch::silu(h) : torch::silu_(h);
}

torch::Tensor ClipMlpImpl::forward(const torch::Tensor& x) {
    auto y = torch::addmm(c_proj->bias, hidden(x), c_proj->weight.t(), /*beta=*/1, /*alpha=*/1.0 / kQuickGeluScale);
    auto shape = x.sizes().vec();
    shape.back() = y.size(-1);
    return y.view(shape);
}

ResidualAttentionBlockImpl::ResidualAttentionBlockImpl(int64_t width, int64_t heads) {
    attn = register_module("attn", ClipAttention(width, heads));
    ln_1 = register_module("ln_1", ClipLayerNorm(width));
    mlp = register_module("mlp", ClipMlp(width));
    ln_2 = register_module("ln_2", ClipLayerNorm(width));
}

torch::Tensor ResidualAttentionBlockImpl::forward(const torch::Tensor& x, bool causal) {
    // x + attn(ln_1(x)), then y + mlp(ln_2(y)); each output product takes its residual add with it (fused into
    // one cuBLASLt product where nothing records gradients on a GPU, see core/clip/fused_linear.h).
    auto y = residualLinear(x, attn->mergedHeads(ln_1(x), causal), attn->out_proj->weight, attn->out_proj->bias);
    return residualLinear(y, mlp->hidden(ln_2(y)), mlp->c_proj->weight, mlp->c_proj->bias, 1.0 / ClipMlpImpl::kQuickGeluScale);
}

bool DeepPrompts::empty() const {
    for (std::size_t i = 1; i < layers.size(); ++i)
        if (!layers[i].empty()) return false;
    return true;
}

DeepPrompts DeepPrompts::single(const std::vector<torch::Tensor>& perLayer, int64_t offset) {
    DeepPrompts d;
    d.layers.resize(perLayer.size());
    for (std::size_t i = 1; i < perLayer.size(); ++i)
        if (perLayer[i].defined()) d.layers[i].push_back({offset, perLayer[i]});
    return d;
}

TransformerImpl::TransformerImpl(int64_t width_, int64_t layers_, int64_t heads) : width(width_), layers(layers_) {
    resblocks = register_module("resblocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < layers; ++i) resblocks->push_back(ResidualAttentionBlock(width, heads));
}

namespace {
// Expands [n, D] prompt tokens to [N, n, D] in the hidden state's dtype.
torch::Tensor batchTokens(const torch::Tensor& tokens, const torch::Tensor& like) {
    auto t = tokens.to(like.scalar_type());
    if (t.dim() == 2) t = t.unsqueeze(0).expand({like.size(0), t.size(0), t.size(1)});
    return t;
}
}  // namespace

torch::Tensor TransformerImpl::forward(torch::Tensor x, bool causal, const DeepPrompts* prompts, ClipTrace* trace,
                                       const std::string& tracePrefix) {
    for (int64_t i = 0; i < layers; ++i) {
        if (prompts && i >= 1 && std::size_t(i) < prompts->layers.size() && !prompts->layers[std::size_t(i)].empty()) {
            // Overwrite the insertion ranges, keeping every other position's hidden state.
            auto ins = prompts->layers[std::size_t(i)];
            std::sort(ins.begin(), ins.end(), [](const PromptInsertion& a, const PromptInsertion& b) { return a.offset < b.offset; });
            std::vector<torch::Tensor> pieces;
            int64_t pos = 0;
            for (const auto& in : ins) {
                auto tokens = batchTokens(in.tokens, x);
                const auto n = tokens.size(1);
                TORCH_CHECK(in.offset >= pos && in.offset + n <= x.size(1), "prompt insertion [", in.offset, ", ",
                            in.offset + n, ") overlaps another or leaves the sequence of ", x.size(1), " tokens");
                if (in.offset > pos) pieces.push_back(x.narrow(1, pos, in.offset - pos));
                pieces.push_back(tokens);
                pos = in.offset + n;
            }
            if (pos < x.size(1)) pieces.push_back(x.narrow(1, pos, x.size(1) - pos));
            x = torch::cat(pieces, 1);
        }
        x = resblocks[std::size_t(i)]->as<ResidualAttentionBlock>()->forward(x, causal);
        if (trace && i == 0) (*trace)[tracePrefix + "block0_out"] = x;
    }
    if (trace) (*trace)[tracePrefix + "transformer_out"] = x;
    return x;
}

VisionTransformerImpl::VisionTransformerImpl(const ClipConfig& cfg) {
    const int64_t w = cfg.visionWidth;
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, w, cfg.patchSize).stride(cfg.patchSize).bias(false)));
    class_embedding = register_parameter("class_embedding", torch::zeros({w}));
    positional_embedding = register_parameter("positional_embedding", torch::zeros({cfg.visionTokens(), w}));
    ln_pre = register_module("ln_pre", ClipLayerNorm(w));
    transformer = register_module("transformer", Transformer(w, cfg.visionLayers, cfg.visionHeads));
    ln_post = register_module("ln_post", ClipLayerNorm(w));
    proj = register_parameter("proj", torch::zeros({w, cfg.embedDim}));
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& pixels, const torch::Tensor& appended,
                                             const DeepPrompts* prompts, ClipTrace* trace) {
    auto x = conv1(pixels.to(conv1->weight.scalar_type()));  // [N, W, g, g]
    if (trace) (*trace)["vision_conv1_out"] = x;
    const auto N = x.size(0), W = x.size(1);
    x = x.reshape({N, W, -1}).permute({0, 2, 1});  // [N, g*g, W]
    auto cls = class_embedding.to(x.scalar_type()).view({1, 1, W}).expand({N, 1, W});
    x = torch::cat({cls, x}, 1) + positional_embedding.to(x.scalar_type());
    if (appended.defined()) x = torch::cat({x, batchTokens(appended, x)}, 1);
    x = ln_pre(x);
    if (trace) (*trace)["vision_ln_pre_out"] = x;
    x = transformer(x, /*causal=*/false, prompts, trace, "vision_");
    x = ln_post(x.select(1, 0));
    if (trace) (*trace)["vision_ln_post_out"] = x;
    return torch::matmul(x, proj.to(x.scalar_type()));
}

ClipModelImpl::ClipModelImpl(const ClipConfig& cfg) : cfg_(cfg) {
    cfg.validate("CLIP model");
    transformer = register_module("transformer", Transformer(cfg.textWidth, cfg.textLayers, cfg.textHeads));
    visual = register_module("visual", VisionTransformer(cfg));
    token_embedding = register_module("token_embedding", torch::nn::Embedding(cfg.vocabSize, cfg.textWidth));
    positional_embedding = register_parameter("positional_embedding", torch::zeros({cfg.contextLength, cfg.textWidth}));
    ln_final = register_module("ln_final", ClipLayerNorm(cfg.textWidth));
    text_projection = register_parameter("text_projection", torch::zeros({cfg.textWidth, cfg.embedDim}));
    logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1.0 / 0.07)));
}

torch::Tensor ClipModelImpl::encodeImage(const torch::Tensor& pixels, ClipTrace* trace) {
    auto f = visual->forward(pixels, torch::Tensor(), nullptr, trace);
    if (trace) (*trace)["image_features"] = f;
    return f;
}

torch::Tensor ClipModelImpl::embedTokens(const torch::Tensor& tokens) { return token_embedding(tokens); }

torch::Tensor ClipModelImpl::encodeText(const torch::Tensor& tokens, ClipTrace* trace) {
    auto eot = tokens.argmax(-1);
    // One host read of the longest prompt (a device sync when the tokens live on the GPU).
    const int64_t length = trace || tokens.size(0) == 0 ? 0 : eot.max().item<int64_t>() + 1;
    return encodeTextEmbeddings(embedTokens(tokens), eot, nullptr, trace, length);
}

torch::Tensor ClipModelImpl::encodeTextEmbeddings(const torch::Tensor& embeddings, const torch::Tensor& eotIndex,
                                                  const DeepPrompts* prompts, ClipTrace* trace, int64_t length) {
    auto dtype = text_projection.scalar_type();
    const int64_t L = embeddings.size(1);
    const bool cut = length > 0 && length < L;
    auto x = cut ? embeddings.narrow(1, 0, length).to(dtype) + positional_embedding.narrow(0, 0, length).to(dtype)
                 : embeddings.to(dtype) + positional_embedding.to(dtype);
    if (trace) (*trace)["text_embeddings"] = x;
    x = transformer(x, /*causal=*/true, prompts, trace, "text_");
    x = ln_final(x);
    if (trace) (*trace)["text_ln_final_out"] = x;
    auto rows = torch::arange(x.size(0), torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    auto pooled = x.index({rows, eotIndex.to(x.device()).to(torch::kLong)});
    auto g = torch::matmul(pooled, text_projection);
    if (trace) (*trace)["text_features"] = g;
    return g;
}

torch::Tensor ClipModelImpl::logitScaleExp() { return logit_scale.exp(); }

torch::Tensor ClipModelImpl::logits(const torch::Tensor& imageFeatures, const torch::Tensor& textFeatures) {
    auto f = imageFeatures / imageFeatures.norm(2, -1, true);
    auto g = textFeatures / textFeatures.norm(2, -1, true);
    return logitScaleExp().to(f.scalar_type()) * torch::matmul(f, g.to(f.scalar_type()).t());
}

void ClipModelImpl::freeze() {
    for (auto& p : parameters()) p.set_requires_grad(false);
}

}  // namespace caspl
