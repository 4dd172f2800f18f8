#pragma once
// What a prompt-learning method is made of (spec §2-§4), without LibTorch. One PromptedClip (prompted_clip.h)
// runs every method from this description.
#include "core/util/error.h"

#include <string>

namespace caspl {

enum class MethodKind { ZeroShot, CoOp, CoCoOp, IVLP, MaPLe, PromptSRC };

const char* methodName(MethodKind kind);                // "zeroshot", "coop", ...
MethodKind parseMethodKind(const std::string& name);     // throws caspl::Error listing the valid names
// The context tokens an initialisation phrase gives: its white-space separated words ("a photo of a": 4).
int ctxInitWords(const std::string& ctxInit);

// Frozen boosting prompts from CasPL phase 1 (spec §4.2), cascaded with a base method's prompts in phase 2.
struct BoostingLayout {
    int nText = 0, nVision = 0;          // tokens per layer
    int depthText = 0, depthVision = 0;  // layers 0..depth-1 carry boosting tokens
    bool enabled() const { return nText > 0 || nVision > 0; }
};

// What MethodConfig::validate throws: the message, and the field at fault as the experiment's keys name it below
// `method.` ("n_ctx_vision", "csc", "class_token_position", "text_loss_weight", ...), or "kind" (the method),
// "phase1" (CasPL on or off), "boosting.n_text" / "boosting.n_vision" / "boosting.depth_text" /
// "boosting.depth_vision", "kd_temperature".
class MethodConfigError : public Error {
public:
    MethodConfigError(std::string field, const std::string& message) : Error(message), field_(std::move(field)) {}
    const std::string& field() const { return field_; }

private:
    std::string field_;
};

struct MethodConfig {
    MethodKind kind = MethodKind::CoOp;

    // The method's own (adapting) prompts.
    int nCtxText = 4;
    int nCtxVision = 0;
    int depthText = 1;                     // layers 0..depth-1 carry text prompts
    int depthVision = 0;
    std::string ctxInit = "a photo of a";  // word initialisation (CoOp/CoCoOp: forces n = #words; others: n <= 4 only)

    // CoOp / CoCoOp
    bool csc = false;                      // class-specific context (CoOp)
    std::string classTokenPosition = "end";  // end | middle | front (CoOp)

    // PromptSRC
    double textLossWeight = 25.0;
    double imageLossWeight = 10.0;
    double gpaMean = 15.0, gpaStd = 1.0;   // Gaussian prompt aggregation over epochs 1..E

    // CasPL phase 1: the method is IVLP-shaped boosting prompts (names *_FIRST, prompt_learner_teacher.ctx),
    // trained by distillation from a frozen teacher: KL(teacher || student) at this temperature.
    bool phase1 = false;
    double kdTemperature = 1.0;

    // CasPL phase 2: frozen boosting prompts cascaded with the method's prompts.
    BoostingLayout boosting;

    // Zero-shot CLIP's template (the dataset's hand-written template).
    std::string zeroShotTemplate = "a photo of a {}.";

    bool cascaded() const { return boosting.enabled() && !phase1; }
    // Throws MethodConfigError naming the field when the combination is invalid.
    void validate() const;
    std::string describe() const;
};

}  // namespace caspl
