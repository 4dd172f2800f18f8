#include "core/methods/method_config.h"

#include "core/util/error.h"

#include <sstream>

namespace caspl {

const char* methodName(MethodKind kind) {
    switch (kind) {
        case MethodKind::ZeroShot: return "zeroshot";
        case MethodKind::CoOp: return "coop";
        case MethodKind::CoCoOp: return "cocoop";
        case MethodKind::IVLP: return "ivlp";
        case MethodKind::MaPLe: return "maple";
        case MethodKind::PromptSRC: return "promptsrc";
    }
    return "?";
}

int ctxInitWords(const std::string& ctxInit) {
    std::istringstream in(ctxInit);
    std::string w;
    int n = 0;
    while (in >> w) ++n;
    return n;
}

MethodKind parseMethodKind(const std::string& name) {
    for (auto k : {MethodKind::ZeroShot, MethodKind::CoOp, MethodKind::CoCoOp, MethodKind::IVLP, MethodKind::MaPLe,
                   MethodKind::PromptSRC})
        if (name == methodName(k)) return k;
    throw Error("unknown method '" + name + "' (expected zeroshot, coop, cocoop, ivlp, maple or promptsrc)");
}

void MethodConfig::validate() const {
    const auto bad = [](const char* field, const std::string& what) {
        return MethodConfigError(field, "method configuration: " + what);
    };
    if (kind == MethodKind::ZeroShot) {
        if (boosting.enabled() || phase1) throw bad("phase1", "zero-shot CLIP has no prompts to cascade or distil");
        return;
    }
    if (nCtxText < 1) throw bad("n_ctx_text", "n_ctx_text must be >= 1");
    if (nCtxVision < 0 || depthText < 1 || depthVision < 0)
        throw bad(nCtxVision < 0 ? "n_ctx_vision" : depthText < 1 ? "depth_text" : "depth_vision",
                  "prompt depths and counts must be >= 0 (text depth >= 1)");
    if ((kind == MethodKind::CoOp || kind == MethodKind::CoCoOp) && (depthText != 1 || nCtxVision != 0))
        throw bad(depthText != 1 ? "depth_text" : "n_ctx_vision",
                  std::string(methodName(kind)) + " has text context at layer 0 only (depth_text 1, no vision prompts)");
    if (kind == MethodKind::MaPLe && nCtxVision != nCtxText)
        throw bad("n_ctx_vision", "MaPLe's vision prompts are projections of its text prompts: n_ctx_vision must equal n_ctx_text");
    if (kind == MethodKind::MaPLe && depthVision != depthText)
        throw bad("depth_vision", "MaPLe couples both towers: depth_vision must equal depth_text");
    if ((kind == MethodKind::IVLP || kind == MethodKind::PromptSRC) && ((nCtxVision == 0) != (depthVision == 0)))
        throw bad(nCtxVision == 0 ? "depth_vision" : "n_ctx_vision", "n_ctx_vision and depth_vision must both be 0 or both be >= 1");
    if (classTokenPosition != "end" && classTokenPosition != "middle" && classTokenPosition != "front")
        throw bad("class_token_position", "class_token_position must be end, middle or front, got '" + classTokenPosition + "'");
    if (classTokenPosition != "end" && kind != MethodKind::CoOp)
        throw bad("class_token_position", "class_token_position applies to CoOp only");
    if (csc && kind != MethodKind::CoOp) throw bad("csc", "class-specific context (csc) applies to CoOp only");
    if (phase1 && kind != MethodKind::IVLP) throw bad("kind", "CasPL phase 1 trains IVLP-shaped boosting prompts");
    if (phase1 && kdTemperature <= 0) throw bad("kd_temperature", "the distillation temperature must be > 0");
    if (cascaded()) {
        if (boosting.nText < 1 || boosting.nVision < 1 || boosting.depthText < 1 || boosting.depthVision < 1)
            throw bad(boosting.nText < 1      ? "boosting.n_text"
                      : boosting.nVision < 1  ? "boosting.n_vision"
                      : boosting.depthText < 1 ? "boosting.depth_text"
                                               : "boosting.depth_vision",
                      "boosting prompts need >= 1 token and >= 1 layer in each tower");
        if (csc || classTokenPosition != "end")
            throw bad(csc ? "csc" : "class_token_position", "CasPL cascades CoOp with a generic context and the class token at the end");
        if ((kind == MethodKind::CoOp || kind == MethodKind::CoCoOp || kind == MethodKind::MaPLe) &&
            boosting.nText != boosting.nVision)
            throw bad("boosting.n_vision",
                      "CasPL with " + std::string(methodName(kind)) +
                          " needs as many text as vision boosting tokens (the released code sizes the text block by the "
                          "vision count), got " + std::to_string(boosting.nText) + " and " + std::to_string(boosting.nVision));
        if (kind == MethodKind::IVLP) throw bad("phase1", "CasPL phase 2 is defined for CoOp, CoCoOp, MaPLe and PromptSRC");
    }
    if (textLossWeight < 0 || imageLossWeight < 0)
        throw bad(textLossWeight < 0 ? "text_loss_weight" : "image_loss_weight", "PromptSRC loss weights must be >= 0");
    if (gpaStd <= 0) throw bad("gpa_std", "gpa_std must be > 0");
}

std::string MethodConfig::describe() const {
    std::ostringstream s;
    s << (phase1 ? "caspl-phase1" : methodName(kind));
    if (kind != MethodKind::ZeroShot)
        s << " text " << nCtxText << "x" << depthText << ", vision " << nCtxVision << "x" << depthVision << ", init '"
          << ctxInit << "'";
    if (cascaded())
        s << " + boosting text " << boosting.nText << "x" << boosting.depthText << ", vision " << boosting.nVision << "x"
          << boosting.depthVision;
    return s.str();
}

}  // namespace caspl
