#pragma once
// The architecture of a CLIP ViT model (spec §1.1), without LibTorch.
#include <cstdint>
#include <string>

namespace caspl {

struct ClipConfig {
    int embedDim = 512;         // E: joint embedding size
    int imageResolution = 224;
    int visionLayers = 12;
    int visionWidth = 768;
    int visionHeads = 12;
    int patchSize = 16;
    int contextLength = 77;
    int vocabSize = 49408;
    int textWidth = 512;
    int textHeads = 8;
    int textLayers = 12;

    int gridSize() const { return imageResolution / patchSize; }
    int visionTokens() const { return gridSize() * gridSize() + 1; }  // class token + patches
    // Parameters of the whole model (both towers and logit_scale), computed from the architecture.
    int64_t parameterCount() const;
    int64_t visionParameterCount() const;
    int64_t textParameterCount() const;
    // "ViT-B/16" for the released sizes, otherwise "ViT-<width>/<patch>".
    std::string name() const;
    // A multi-line human description (used by `caspl info`).
    std::string describe() const;
    // Throws caspl::Error if the numbers are inconsistent (e.g. width not divisible by heads).
    void validate(const std::string& source) const;
    bool operator==(const ClipConfig& o) const;
    bool operator!=(const ClipConfig& o) const { return !(*this == o); }
};

}  // namespace caspl
