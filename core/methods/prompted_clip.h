#pragma once
// Every prompt-learning method of spec §2-§4 on one frozen CLIP: zero-shot, CoOp (generic / class-specific context,
// class token end / middle / front), CoCoOp (Meta-Net), IVLP, MaPLe (coupled projections), PromptSRC (self-
// regularising losses), CasPL phase 1 (boosting prompts distilled from a teacher) and CasPL phase 2 (a base
// method's prompts cascaded with frozen boosting prompts).
//
// Token layouts (0-based):
//   text   [SOS | adapting (n_a) | boosting (n_b) | class tokens | "." | EOT | pad]   (+ positional embedding on all)
//   vision [CLS | patches | boosting (n_bv) | adapting (n_av)]                        (appended after the positional add)
// Deeper layers overwrite those ranges with each layer's tokens; other positions keep their hidden states.
// Learnable and frozen tensors carry the reference implementations' parameter names (e.g. "prompt_learner.ctx",
// "image_encoder.transformer.resblocks.1.VPT_shallow", "prompt_learner_teacher.ctx", "...VPT_shallow_FIRST"), so
// checkpoints and the reference's one-step fixtures map one to one.
//
// Includes LibTorch: include only from engine .cpp files.
#include "core/clip/clip_model.h"
#include "core/io/tensor_io.h"
#include "core/methods/method_config.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace caspl {

class ClipTokenizer;

// Where each prompt group sits in the text sequence (positions of layer 0 and of the deeper layers).
struct TextLayout {
    std::string prefix;      // the template text before the class name ("X X X X", "a photo of a", ...)
    int64_t adaptOffset = 1, adaptCount = 0;
    int64_t boostOffset = 0, boostDeepOffset = 0, boostCount = 0;
    int64_t visionAdaptOffset = 0, visionBoostOffset = 0;  // relative to the start of the sequence
};

struct MethodOutput {
    torch::Tensor logits;  // [B, C]
    torch::Tensor loss;    // the training loss (undefined for evaluation forwards)
    TensorMap values;      // named terms and intermediates: "loss.ce", "image_features", "zs_logits", ...
};

class PromptedClip {
public:
    // `clip` is frozen by this constructor. Learnable tensors are initialised from torch's global generator
    // (seed it first for reproducible runs): N(0, 0.02^2), or word embeddings of the init phrase (spec §2.1, §4.9.5).
    PromptedClip(ClipModel clip, const MethodConfig& config, std::shared_ptr<const ClipTokenizer> tokenizer);

    const MethodConfig& config() const { return cfg_; }
    ClipModel& clip() { return clip_; }
    const TextLayout& layout() const { return layout_; }

    // Builds each class's prompt, tokens and frozen embeddings; recomputes PromptSRC's 60-template features and the
    // teacher's text features for these classes. Call again to evaluate on other classes (base -> novel).
    // `fixedEmbeddings` ([C, E]) replaces PromptSRC's 60-template pass (60 x C prompts), e.g. values computed before.
    void setClassNames(const std::vector<std::string>& classnames, const torch::Tensor& fixedEmbeddings = {});
    const std::vector<std::string>& classNames() const { return classnames_; }
    std::vector<std::string> promptStrings() const;   // the template filled with each class name
    // Throws caspl::Error naming the class when its prompt (the learnable tokens, the class name, "." and the start
    // and end tokens) is longer than the model's context: the check setClassNames makes, without its text-encoder
    // work, so that a run can make it before phase 1 trains for hours.
    void checkPromptsFit(const std::vector<std::string>& classnames) const;
    const torch::Tensor& tokens() const { return tokens_; }      // [C, 77]
    const torch::Tensor& eotIndex() const { return eot_; }       // [C]

    // CasPL phase 1: the frozen teacher and its hand-written template (spec §4.2).
    void setTeacher(ClipModel teacher, const std::string& teacherTemplate);
    // PromptSRC's frozen text features [C, E] (mean of the unnormalised 60-template features) and the teacher's
    // [C, E'] (not normalised); computed by setClassNames, exposed for tests and debug-step.
    const torch::Tensor& fixedEmbeddings() const { return fixedEmbeddings_; }
    const torch::Tensor& teacherTextFeatures() const { return teacherText_; }
    bool hasTeacher() const { return bool(teacher_); }
    ClipModel& teacher() { return teacher_; }
    // Phase-1 teacher cache: the teacher's image features [N, E'] of every item of the current epoch's crops
    // (row = loader item index). Undefined: the teacher runs online on each batch.
    // A new epoch's features of the same shape are copied into the existing tensor: a captured training step
    // (CUDA graph) keeps reading the memory it saw at capture.
    void setTeacherImageFeatures(torch::Tensor features);

    // Learnable tensors by reference name (the optimizer's parameters), and the frozen boosting prompts.
    TensorMap& trainable() { return trainable_; }
    TensorMap& frozen() { return frozen_; }
    int64_t trainableCount() const;
    // Copies named tensors into the trainable/frozen sets; every name must exist with the same shape.
    void loadPrompts(const TensorMap& tensors, const std::string& source, bool requireAll);

    // The method's training forward and loss for a batch (pixels [B,3,R,R], labels [B] int64). `indices` (the
    // batch's item indices in the loader) select cached teacher features in phase 1 (setTeacherImageFeatures).
    MethodOutput trainForward(const torch::Tensor& pixels, const torch::Tensor& labels, const torch::Tensor& indices = {});
    // Evaluation logits [B, C] (no regulariser branches). `textFeatures` may pass precomputed, normalised features
    // from normalizedTextFeatures() (all methods but CoCoOp), so a test set reuses them.
    torch::Tensor evalLogits(const torch::Tensor& pixels, const torch::Tensor& textFeatures = {});
    // Normalised class text features [C, E] with the current prompts (not for CoCoOp, whose text depends on the image).
    torch::Tensor normalizedTextFeatures();
    bool textDependsOnImage() const { return cfg_.kind == MethodKind::CoCoOp; }

    // Text encoding runs over C classes in chunks of this many (0 = all at once). In training the chunks are
    // checkpointed (recomputed in backward), so a step holds one chunk's text activations instead of all C
    // classes' (1,000 classes), for one more forward pass of the text tower.
    void setTextChunk(int64_t chunk) { textChunk_ = chunk; }
    torch::Device device() const;

private:
    std::vector<std::string> promptStringsFor(const std::vector<std::string>& classnames) const;
    struct Forward {
        torch::Tensor imageFeatures;  // [B, E] unnormalised
        torch::Tensor textFeatures;   // [C, E] or [B, C, E] (CoCoOp), unnormalised
        torch::Tensor logits;         // [B, C]
    };
    Forward forward(const torch::Tensor& pixels, const torch::Tensor& textNormalized = {});
    void setupLayout();
    void initParameters();
    torch::Tensor textLayer0(const torch::Tensor& adaptCtx);  // [C, 77, D] embeddings with layer-0 prompts
    DeepPrompts textDeep();
    torch::Tensor encodeTextChunked(const torch::Tensor& embeddings, const DeepPrompts* deep);
    torch::Tensor visionAppended();   // layer-0 vision tokens [n, Dv] (boosting then adapting)
    DeepPrompts visionDeep();
    torch::Tensor encodeImagePrompted(const torch::Tensor& pixels);
    torch::Tensor adaptTextLayer(int layer);    // the adapting text tokens of a layer (undefined if none)
    torch::Tensor adaptVisionLayer(int layer);
    torch::Tensor boostTextLayer(int layer);
    torch::Tensor boostVisionLayer(int layer);
    torch::Tensor metaNet(const torch::Tensor& normalizedImageFeatures);
    torch::Tensor param(const std::string& name) const;

    ClipModel clip_;
    MethodConfig cfg_;
    std::shared_ptr<const ClipTokenizer> tok_;
    TextLayout layout_;
    std::vector<int> initTokens_;  // BPE ids of the init phrase (when used)
    bool initUsed_ = false;
    std::vector<std::string> classnames_;
    std::vector<int64_t> nameLengths_;
    torch::Tensor tokens_, eot_, embeddings_;  // [C,77], [C], [C,77,D] (frozen token embeddings)
    std::vector<int64_t> eotHost_;             // eot_ on the host: text passes run positions [0, max EOT] only
    int64_t textLength(int64_t first, int64_t count) const;
    torch::Tensor fixedEmbeddings_;            // PromptSRC [C, E]
    ClipModel teacher_{nullptr};
    std::string teacherTemplate_;
    torch::Tensor teacherText_;                // [C, E'] not normalised
    torch::Tensor teacherImageCache_;          // [N, E'] (phase-1 teacher cache) or undefined
    TensorMap trainable_, frozen_;
    int64_t textChunk_ = 0;
};

}  // namespace caspl
