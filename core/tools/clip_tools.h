#pragma once
// The CLIP tools behind `caspl info` and `caspl encode`, with a LibTorch-free interface so that front ends can
// call them without including LibTorch.
#include "core/clip/clip_config.h"

#include <string>
#include <vector>

namespace caspl {

// `caspl info --model PATH`: architecture, parameter count and dtypes, as printable text.
std::string describeClipModel(const std::string& modelPath);

// The architecture of a checkpoint (file or folder) without building the model, for front ends that show a
// model's size and parameter count. Throws caspl::Error naming the file for anything unreadable.
ClipConfig peekClipConfig(const std::string& modelPath);

struct EncodeOptions {
    std::string model;                // checkpoint file or folder
    std::string pixels;               // "FILE.safetensors:KEY", [N,3,R,R] float, already normalised
    std::vector<std::string> images;  // image files, preprocessed with CLIP's evaluation transform
    std::string tokens;               // "FILE.safetensors:KEY", [N,L] integer ids
    std::vector<std::string> texts;   // texts, tokenized with the model's (or --vocab's) tokenizer
    std::string vocab;                // tokenizer files; default: looked for next to the model
    bool truncate = false;            // cut texts longer than the context (EOT kept last)
    bool savePixels = false;          // also write pixel_values
    std::string device = "cpu";       // "cpu" or "cuda"
    std::string out;                  // output .safetensors
};

struct EncodeSummary {
    int images = 0;
    int texts = 0;
    std::vector<std::string> written;  // tensor names
};

// Writes image_features [Ni,E] and text_features [Nt,E] (unnormalised), logits_per_image [Ni,Nt] when both are
// given, pixel_values with savePixels, and text_tokens when texts were tokenized. Throws caspl::Error for bad input.
EncodeSummary encodeWithClip(const EncodeOptions& options);

}  // namespace caspl
