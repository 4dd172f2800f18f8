#include "core/clip/clip_config.h"

#include "core/util/error.h"

#include <sstream>

namespace caspl {

namespace {
int64_t blockParams(int64_t w) {
    // attn in_proj (3w*w + 3w) + out_proj (w*w + w) + 2 LayerNorms (4w) + MLP (4w*w + 4w + 4w*w + w)
    return 3 * w * w + 3 * w + w * w + w + 4 * w + 4 * w * w + 4 * w + 4 * w * w + w;
}
}  // namespace

int64_t ClipConfig::visionParameterCount() const {
    const int64_t w = visionWidth;
    const int64_t tokens = visionTokens();
    return w * 3 * patchSize * patchSize  // conv1
           + w                             // class_embedding
           + tokens * w                    // positional_embedding
           + 2 * w + 2 * w                 // ln_pre, ln_post
           + visionLayers * blockParams(w) + w * embedDim;  // proj
}

int64_t ClipConfig::textParameterCount() const {
    const int64_t w = textWidth;
    return int64_t(vocabSize) * w + int64_t(contextLength) * w + textLayers * blockParams(w) + 2 * w + w * embedDim;
}

int64_t ClipConfig::parameterCount() const { return visionParameterCount() + textParameterCount() + 1; }

std::string ClipConfig::name() const {
    std::string base;
    if (visionWidth == 768 && visionLayers == 12) base = "ViT-B/" + std::to_string(patchSize);
    else if (visionWidth == 1024 && visionLayers == 24) base = "ViT-L/" + std::to_string(patchSize);
    else base = "ViT-" + std::to_string(visionWidth) + "w" + std::to_string(visionLayers) + "l/" + std::to_string(patchSize);
    if (imageResolution != 224) base += "@" + std::to_string(imageResolution) + "px";
    return base;
}

std::string ClipConfig::describe() const {
    std::ostringstream s;
    s << "architecture: " << name() << "\n"
      << "embed_dim: " << embedDim << "\n"
      << "vision: resolution " << imageResolution << ", patch " << patchSize << ", width " << visionWidth << ", layers "
      << visionLayers << ", heads " << visionHeads << ", tokens " << visionTokens() << "\n"
      << "text: context " << contextLength << ", vocab " << vocabSize << ", width " << textWidth << ", layers "
      << textLayers << ", heads " << textHeads << "\n"
      << "parameters: " << parameterCount() << " (vision " << visionParameterCount() << ", text " << textParameterCount()
      << ", logit_scale 1)\n";
    return s.str();
}

void ClipConfig::validate(const std::string& source) const {
    const auto bad = [&](const std::string& what) { return Error(source + ": inconsistent CLIP architecture: " + what); };
    if (embedDim <= 0 || visionWidth <= 0 || textWidth <= 0 || visionLayers <= 0 || textLayers <= 0 || patchSize <= 0 ||
        contextLength <= 0 || vocabSize <= 0 || imageResolution <= 0)
        throw bad("every size must be positive");
    if (visionHeads <= 0 || visionWidth % visionHeads != 0)
        throw bad("vision width " + std::to_string(visionWidth) + " is not divisible by " + std::to_string(visionHeads) + " heads");
    if (textHeads <= 0 || textWidth % textHeads != 0)
        throw bad("text width " + std::to_string(textWidth) + " is not divisible by " + std::to_string(textHeads) + " heads");
    if (imageResolution % patchSize != 0)
        throw bad("resolution " + std::to_string(imageResolution) + " is not a multiple of patch " + std::to_string(patchSize));
}

bool ClipConfig::operator==(const ClipConfig& o) const {
    return embedDim == o.embedDim && imageResolution == o.imageResolution && visionLayers == o.visionLayers &&
           visionWidth == o.visionWidth && visionHeads == o.visionHeads && patchSize == o.patchSize &&
           contextLength == o.contextLength && vocabSize == o.vocabSize && textWidth == o.textWidth &&
           textHeads == o.textHeads && textLayers == o.textLayers;
}

}  // namespace caspl
