#pragma once
// CLIP ViT in LibTorch, exactly as OpenAI's clip/model.py (spec §1.2-1.5), with the prompt slots every
// prompt-learning method needs (spec §2.2). Parameters are registered under OpenAI's checkpoint names, so loading
// a checkpoint is a name-to-tensor copy (core/clip/clip_checkpoint.h).
//
// Layout: batch-first [N, L, D] everywhere (the reference runs sequence-first; the arithmetic is the same).
// Precision: LayerNorm always computes in fp32 and casts back; attention softmax in fp32.
//
// Includes LibTorch: include only from engine .cpp files.
#include "core/clip/clip_config.h"

#include <cstdint>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <vector>

namespace caspl {

// Records named intermediate activations when passed to a forward (parity tests, debugging).
using ClipTrace = std::map<std::string, torch::Tensor>;

// scaled_dot_product_attention where LibTorch has it (2.x), the explicit formula otherwise.
// q, k, v: [N, H, L, Dh]. `causal` adds the text tower's mask (-inf above the diagonal).
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, bool causal);

// LayerNorm computed in fp32 whatever the input dtype (CLIP's LayerNorm subclass), eps 1e-5.
class ClipLayerNormImpl : public torch::nn::Module {
public:
    explicit ClipLayerNormImpl(int64_t width);
    torch::Tensor forward(const torch::Tensor& x);
    torch::Tensor weight, bias;
};
TORCH_MODULE(ClipLayerNorm);

// nn.MultiheadAttention's parameters (packed in_proj, out_proj) and arithmetic.
class ClipAttentionImpl : public torch::nn::Module {
public:
    ClipAttentionImpl(int64_t width, int64_t heads);
    torch::Tensor forward(const torch::Tensor& x, bool causal);  // out_proj(mergedHeads(x))
    // The attention's output before out_proj: the heads merged back to [N, L, D].
    torch::Tensor mergedHeads(const torch::Tensor& x, bool causal);
    torch::Tensor in_proj_weight, in_proj_bias;
    torch::nn::Linear out_proj{nullptr};
    int64_t heads;
};
TORCH_MODULE(ClipAttention);

class ClipMlpImpl : public torch::nn::Module {
public:
    explicit ClipMlpImpl(int64_t width);
    torch::Tensor forward(const torch::Tensor& x);  // c_proj(QuickGELU(c_fc(x)))
    // QuickGELU(c_fc(x)) * kQuickGeluScale as [tokens, 4 * width]: c_proj's input, with c_proj's alpha
    // 1 / kQuickGeluScale (see forward).
    torch::Tensor hidden(const torch::Tensor& x);
    static constexpr double kQuickGeluScale = 1.702;
    torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(ClipMlp);

// Pre-norm residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
class ResidualAttentionBlockImpl : public torch::nn::Module {
public:
    ResidualAttentionBlockImpl(int64_t width, int64_t heads);
    torch::Tensor forward(const torch::Tensor& x, bool causal);
    ClipAttention attn{nullptr};
    ClipLayerNorm ln_1{nullptr}, ln_2{nullptr};
    ClipMlp mlp{nullptr};
};
TORCH_MODULE(ResidualAttentionBlock);

// Deep prompts (spec §2.2): token groups written into the hidden state before chosen blocks.
//   layers[i] (i >= 1): the insertions made before block i; an empty list (or i >= size) = no replacement.
//   Each insertion overwrites positions [offset, offset + n) with its tokens ([n, D], or [N, n, D] per sample);
//   every other position keeps its hidden state. Text prompts sit after SOS (offset 1, ...); vision prompts sit
//   after the class and patch tokens (offset 1 + grid^2, ...).
// layers[0] is ignored by the transformer: layer-0 prompts go in through the embeddings (text) or
// VisionTransformer's `appended` argument (vision).
struct PromptInsertion {
    int64_t offset = 0;
    torch::Tensor tokens;
};
struct DeepPrompts {
    std::vector<std::vector<PromptInsertion>> layers;
    // Convenience: one group of `n` tokens at `offset` in every layer 1..size-1 of `perLayer` (undefined = none).
    static DeepPrompts single(const std::vector<torch::Tensor>& perLayer, int64_t offset);
    bool empty() const;
};

class TransformerImpl : public torch::nn::Module {
public:
    TransformerImpl(int64_t width, int64_t layers, int64_t heads);
    // `tracePrefix` names intermediates in `trace`: <prefix>block0_out and <prefix>transformer_out.
    torch::Tensor forward(torch::Tensor x, bool causal, const DeepPrompts* prompts = nullptr,
                          ClipTrace* trace = nullptr, const std::string& tracePrefix = "");
    torch::nn::ModuleList resblocks{nullptr};
    int64_t width, layers;
};
TORCH_MODULE(Transformer);

class VisionTransformerImpl : public torch::nn::Module {
public:
    explicit VisionTransformerImpl(const ClipConfig& cfg);
    // pixels: [N, 3, R, R], normalized. `appended`: layer-0 prompt tokens [n, D] or [N, n, D] appended after the
    // positional add (they get no positional embedding), before ln_pre. Returns features [N, E] (after proj).
    torch::Tensor forward(const torch::Tensor& pixels, const torch::Tensor& appended = {},
                          const DeepPrompts* prompts = nullptr, ClipTrace* trace = nullptr);
    torch::nn::Conv2d conv1{nullptr};
    torch::Tensor class_embedding, positional_embedding, proj;
    ClipLayerNorm ln_pre{nullptr}, ln_post{nullptr};
    Transformer transformer{nullptr};
};
TORCH_MODULE(VisionTransformer);

class ClipModelImpl : public torch::nn::Module {
public:
    explicit ClipModelImpl(const ClipConfig& cfg);

    const ClipConfig& config() const { return cfg_; }

    torch::Tensor encodeImage(const torch::Tensor& pixels, ClipTrace* trace = nullptr);
    // tokens: [N, L] int64 ids. EOT pooling at argmax(tokens). Runs positions up to the last EOT only (see
    // encodeTextEmbeddings), except when tracing, which records all L positions.
    torch::Tensor encodeText(const torch::Tensor& tokens, ClipTrace* trace = nullptr);
    // The text tower from precomputed token embeddings [N, L, D] (before the positional add), pooled at eotIndex [N].
    // This is what prompt learners call after splicing their context vectors into the embeddings.
    // `length` > 0 runs only the first `length` positions (>= every eotIndex + 1): the attention is causal, so no
    // position at or before the EOT token sees a later one and the features are the same as with all L positions,
    // at a fraction of the cost (prompts are ~20 of CLIP's 77 tokens). 0 runs all positions.
    torch::Tensor encodeTextEmbeddings(const torch::Tensor& embeddings, const torch::Tensor& eotIndex,
                                       const DeepPrompts* prompts = nullptr, ClipTrace* trace = nullptr, int64_t length = 0);
    // token_embedding(tokens), [N, L, D].
    torch::Tensor embedTokens(const torch::Tensor& tokens);
    // exp(logit_scale) * normalize(imageFeatures) @ normalize(textFeatures)^T, [Ni, Nt].
    torch::Tensor logits(const torch::Tensor& imageFeatures, const torch::Tensor& textFeatures);
    torch::Tensor logitScaleExp();

    // Freezes every parameter (prompt learners own the trainable tensors).
    void freeze();

    torch::nn::Embedding token_embedding{nullptr};
    torch::Tensor positional_embedding, text_projection, logit_scale;
    Transformer transformer{nullptr};
    ClipLayerNorm ln_final{nullptr};
    VisionTransformer visual{nullptr};

private:
    ClipConfig cfg_;
};
TORCH_MODULE(ClipModel);

}  // namespace caspl
