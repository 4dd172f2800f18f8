#pragma once
// Loading CLIP weights (spec §1.1, §1.9) from:
//   - a safetensors file with OpenAI key names (architecture from its __metadata__ when present, else inferred
//     from the shapes as OpenAI's build_model does; head counts from metadata when width/64 does not hold);
//   - a Hugging Face CLIP folder (config.json + model.safetensors [+ vocab.json, merges.txt]) or a safetensors
//     file with Hugging Face names (q/k/v split, transposed projections, `pre_layrnorm`);
//   - OpenAI's released TorchScript archives (*.pt) through torch::jit::load, taking only the parameters.
// Every missing or unexpected key, wrong shape or non-float dtype is an error naming the key, the expected and
// the found shape.
//
// Includes LibTorch: include only from engine .cpp files.
#include "core/clip/clip_model.h"
#include "core/io/tensor_io.h"

#include <cstdint>
#include <map>
#include <string>

namespace caspl {

struct ClipCheckpoint {
    ClipConfig config;
    TensorMap stateDict;   // OpenAI names, as stored (dtype unchanged)
    std::string format;    // "openai-safetensors", "hf-safetensors", "openai-torchscript"
    std::string source;    // the file the weights came from
    std::string folder;    // the folder holding it (where tokenizer files are looked for)
    std::map<std::string, std::string> metadata;
};

// Reads weights and architecture from a file or folder (see above) without building a model.
ClipCheckpoint readClipCheckpoint(const std::string& path);
// The architecture alone, cheaply: a safetensors file's header (or a Hugging Face folder's config.json), without
// reading its tensors; TorchScript archives are read whole. For front ends that describe a model as it is chosen.
ClipConfig readClipConfig(const std::string& path);

// Infers the architecture from OpenAI-named shapes (+ optional metadata with the constructor arguments).
ClipConfig inferClipConfig(const std::map<std::string, std::vector<int64_t>>& shapes,
                           const std::map<std::string, std::string>& metadata, const std::string& source);

// Hugging Face names -> OpenAI names (q/k/v concatenated, projections transposed); drops position_ids buffers.
TensorMap hfToOpenAi(const TensorMap& hf, const std::string& source);

// Copies an OpenAI-named state dict into the model (cast to each parameter's dtype/device), after checking that
// the keys match exactly and every shape agrees.
void loadStateDict(ClipModel& model, const TensorMap& stateDict, const std::string& source);

struct ClipLoadOptions {
    torch::Device device = torch::kCPU;
    torch::Dtype dtype = torch::kFloat32;  // weights' dtype (fp16/bf16 on CUDA); LayerNorm still runs in fp32
};

// readClipCheckpoint + build + loadStateDict; the model is frozen (no parameter requires grad) and in eval mode.
ClipModel loadClip(const std::string& path, const ClipLoadOptions& options = {}, ClipCheckpoint* info = nullptr);

// Writes the model with OpenAI names and the architecture in __metadata__ (readable by readClipCheckpoint).
void saveClipSafetensors(ClipModel& model, const std::string& path, std::map<std::string, std::string> metadata = {});

}  // namespace caspl
