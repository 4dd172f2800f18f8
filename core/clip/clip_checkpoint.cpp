#include "core/clip/clip_checkpoint.h"

#include "core/io/safetensors.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

namespace caspl {

namespace fs = std::filesystem;

namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<int64_t> shapeOf(const std::map<std::string, std::vector<int64_t>>& shapes, const std::string& key,
                             const std::string& source) {
    auto it = shapes.find(key);
    if (it == shapes.end()) throw Error(source + ": missing key '" + key + "' (needed to infer the CLIP architecture)");
    return it->second;
}

int countLayers(const std::map<std::string, std::vector<int64_t>>& shapes, const std::string& prefix) {
    std::set<std::string> ids;
    for (const auto& [k, v] : shapes) {
        if (k.rfind(prefix, 0) == 0) {
            auto rest = k.substr(prefix.size());
            ids.insert(rest.substr(0, rest.find('.')));
        }
    }
    return int(ids.size());
}

int metaInt(const std::map<std::string, std::string>& meta, const std::string& key, int fallback, const std::string& source) {
    auto it = meta.find(key);
    if (it == meta.end()) return fallback;
    try {
        std::size_t used = 0;
        int v = std::stoi(it->second, &used);
        if (used != it->second.size()) throw std::invalid_argument("trailing characters");
        return v;
    } catch (const std::exception&) {
        throw Error(source + ": metadata '" + key + "' = '" + it->second + "' is not an integer");
    }
}

std::map<std::string, std::vector<int64_t>> shapesOf(const TensorMap& t) {
    std::map<std::string, std::vector<int64_t>> out;
    for (const auto& [k, v] : t) out[k] = v.sizes().vec();
    return out;
}

// Architecture from a Hugging Face config.json.
ClipConfig configFromHfJson(const std::string& path) {
    nlohmann::json j;
    try {
        std::ifstream in(path);
        if (!in) throw Error(path + ": cannot open");
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": not valid JSON: " + e.what());
    }
    const auto get = [&](const char* section, const char* key) -> int {
        if (!j.contains(section) || !j[section].contains(key) || !j[section][key].is_number_integer())
            throw Error(path + ": missing integer '" + std::string(section) + "." + key + "'");
        return j[section][key].get<int>();
    };
    ClipConfig c;
    if (!j.contains("projection_dim") || !j["projection_dim"].is_number_integer())
        throw Error(path + ": missing integer 'projection_dim'");
    c.embedDim = j["projection_dim"].get<int>();
    c.textWidth = get("text_config", "hidden_size");
    c.textHeads = get("text_config", "num_attention_heads");
    c.textLayers = get("text_config", "num_hidden_layers");
    c.contextLength = get("text_config", "max_position_embeddings");
    c.vocabSize = get("text_config", "vocab_size");
    c.visionWidth = get("vision_config", "hidden_size");
    c.visionHeads = get("vision_config", "num_attention_heads");
    c.visionLayers = get("vision_config", "num_hidden_layers");
    c.imageResolution = get("vision_config", "image_size");
    c.patchSize = get("vision_config", "patch_size");
    for (const char* section : {"text_config", "vision_config"}) {
        if (j[section].contains("hidden_act") && j[section]["hidden_act"] != "quick_gelu")
            throw Error(path + ": " + section + ".hidden_act is " + j[section]["hidden_act"].dump() +
                        "; only CLIP's quick_gelu is supported");
        if (j[section].contains("intermediate_size") &&
            j[section]["intermediate_size"].get<int>() != 4 * j[section]["hidden_size"].get<int>())
            throw Error(path + ": " + section + ".intermediate_size must be 4 x hidden_size as in CLIP");
    }
    c.validate(path);
    return c;
}

TensorMap readJitArchive(const std::string& path) {
    torch::jit::Module m;
    try {
        m = torch::jit::load(path, torch::kCPU);
    } catch (const c10::Error& e) {
        throw Error(path + ": not a TorchScript archive that LibTorch can open (OpenAI's released .pt files are); "
                           "convert other checkpoints to safetensors. LibTorch said: " +
                    std::string(e.what_without_backtrace()));
    }
    TensorMap out;
    for (const auto& p : m.named_parameters(/*recurse=*/true)) out[p.name] = p.value.detach().clone();
    for (const auto& b : m.named_buffers(/*recurse=*/true)) out.emplace(b.name, b.value.detach().clone());
    // The archives also hold these scalars, which build_model drops.
    for (const char* k : {"input_resolution", "context_length", "vocab_size"}) out.erase(k);
    return out;
}

bool isHfName(const std::string& k) { return k.rfind("text_model.", 0) == 0 || k.rfind("vision_model.", 0) == 0; }

bool looksHf(const TensorMap& t) {
    for (const auto& [k, v] : t)
        if (isHfName(k)) return true;
    return false;
}

}  // namespace

ClipConfig inferClipConfig(const std::map<std::string, std::vector<int64_t>>& shapes,
                           const std::map<std::string, std::string>& meta, const std::string& source) {
    if (!shapes.count("visual.proj")) {
        if (shapes.count("visual.attnpool.positional_embedding"))
            throw Error(source + ": a ResNet CLIP checkpoint; only ViT towers are supported (prompt methods need a ViT)");
        throw Error(source + ": missing key 'visual.proj': not a CLIP ViT checkpoint with OpenAI key names");
    }
    ClipConfig c;
    const auto conv = shapeOf(shapes, "visual.conv1.weight", source);
    if (conv.size() != 4) throw Error(source + ": key 'visual.conv1.weight': expected 4 dimensions, found " + shapeToString(conv));
    c.visionWidth = int(conv[0]);
    c.patchSize = int(conv[3]);
    c.visionLayers = countLayers(shapes, "visual.transformer.resblocks.");
    const auto vpos = shapeOf(shapes, "visual.positional_embedding", source);
    const int grid = int(std::lround(std::sqrt(double(vpos[0] - 1))));
    c.imageResolution = c.patchSize * grid;
    c.embedDim = int(shapeOf(shapes, "text_projection", source).at(1));
    c.contextLength = int(shapeOf(shapes, "positional_embedding", source).at(0));
    c.vocabSize = int(shapeOf(shapes, "token_embedding.weight", source).at(0));
    c.textWidth = int(shapeOf(shapes, "ln_final.weight", source).at(0));
    c.textLayers = countLayers(shapes, "transformer.resblocks.");
    c.visionHeads = metaInt(meta, "vision_heads", c.visionWidth / 64, source);
    c.textHeads = metaInt(meta, "transformer_heads", c.textWidth / 64, source);
    if (c.visionHeads == 0 || c.textHeads == 0)
        throw Error(source + ": cannot infer the number of attention heads (width / 64 is 0 for width " +
                    std::to_string(c.visionHeads == 0 ? c.visionWidth : c.textWidth) +
                    "); give 'vision_heads' and 'transformer_heads' in the safetensors __metadata__");
    // Metadata, when present, must agree with the shapes.
    const auto check = [&](const char* key, int inferred) {
        int v = metaInt(meta, key, inferred, source);
        if (v != inferred)
            throw Error(source + ": metadata '" + key + "' = " + std::to_string(v) + " but the weights' shapes give " +
                        std::to_string(inferred));
    };
    check("embed_dim", c.embedDim);
    check("image_resolution", c.imageResolution);
    check("vision_layers", c.visionLayers);
    check("vision_width", c.visionWidth);
    check("vision_patch_size", c.patchSize);
    check("context_length", c.contextLength);
    check("vocab_size", c.vocabSize);
    check("transformer_width", c.textWidth);
    check("transformer_layers", c.textLayers);
    c.validate(source);
    return c;
}

TensorMap hfToOpenAi(const TensorMap& hf, const std::string& source) {
    TensorMap out;
    std::set<std::string> used;
    const auto take = [&](const std::string& key) -> torch::Tensor {
        auto it = hf.find(key);
        if (it == hf.end()) throw Error(source + ": missing key '" + key + "' (Hugging Face CLIP naming)");
        used.insert(key);
        return it->second;
    };
    out["token_embedding.weight"] = take("text_model.embeddings.token_embedding.weight");
    out["positional_embedding"] = take("text_model.embeddings.position_embedding.weight");
    out["ln_final.weight"] = take("text_model.final_layer_norm.weight");
    out["ln_final.bias"] = take("text_model.final_layer_norm.bias");
    out["text_projection"] = take("text_projection.weight").t().contiguous();
    out["visual.class_embedding"] = take("vision_model.embeddings.class_embedding");
    out["visual.conv1.weight"] = take("vision_model.embeddings.patch_embedding.weight");
    out["visual.positional_embedding"] = take("vision_model.embeddings.position_embedding.weight");
    out["visual.ln_pre.weight"] = take("vision_model.pre_layrnorm.weight");
    out["visual.ln_pre.bias"] = take("vision_model.pre_layrnorm.bias");
    out["visual.ln_post.weight"] = take("vision_model.post_layernorm.weight");
    out["visual.ln_post.bias"] = take("vision_model.post_layernorm.bias");
    out["visual.proj"] = take("visual_projection.weight").t().contiguous();
    out["logit_scale"] = take("logit_scale");

    const std::regex layerKey(R"(^(text|vision)_model\.encoder\.layers\.(\d+)\..*)");
    std::set<std::pair<std::string, int>> layers;
    for (const auto& [k, v] : hf) {
        std::smatch m;
        if (std::regex_match(k, m, layerKey)) layers.insert({m[1].str(), std::stoi(m[2].str())});
    }
    for (const auto& [tower, i] : layers) {
        const std::string hp = tower + "_model.encoder.layers." + std::to_string(i) + ".";
        const std::string op = (tower == "text" ? std::string("transformer.resblocks.") : std::string("visual.transformer.resblocks.")) +
                               std::to_string(i) + ".";
        out[op + "attn.in_proj_weight"] = torch::cat({take(hp + "self_attn.q_proj.weight"), take(hp + "self_attn.k_proj.weight"),
                                                      take(hp + "self_attn.v_proj.weight")}, 0);
        out[op + "attn.in_proj_bias"] = torch::cat({take(hp + "self_attn.q_proj.bias"), take(hp + "self_attn.k_proj.bias"),
                                                    take(hp + "self_attn.v_proj.bias")}, 0);
        out[op + "attn.out_proj.weight"] = take(hp + "self_attn.out_proj.weight");
        out[op + "attn.out_proj.bias"] = take(hp + "self_attn.out_proj.bias");
        out[op + "ln_1.weight"] = take(hp + "layer_norm1.weight");
        out[op + "ln_1.bias"] = take(hp + "layer_norm1.bias");
        out[op + "ln_2.weight"] = take(hp + "layer_norm2.weight");
        out[op + "ln_2.bias"] = take(hp + "layer_norm2.bias");
        out[op + "mlp.c_fc.weight"] = take(hp + "mlp.fc1.weight");
        out[op + "mlp.c_fc.bias"] = take(hp + "mlp.fc1.bias");
        out[op + "mlp.c_proj.weight"] = take(hp + "mlp.fc2.weight");
        out[op + "mlp.c_proj.bias"] = take(hp + "mlp.fc2.bias");
    }
    for (const auto& [k, v] : hf) {
        if (used.count(k) || endsWith(k, "position_ids")) continue;
        throw Error(source + ": unexpected key '" + k + "' " + shapeToString(v.sizes().vec()) +
                    " for a Hugging Face CLIP ViT checkpoint");
    }
    return out;
}

namespace {
// The weights file of a checkpoint given as a file or a folder.
fs::path checkpointFile(const std::string& path) {
    fs::path p(path);
    if (!fs::exists(p)) throw Error(path + ": no such file or folder (expected a CLIP checkpoint: a Hugging Face folder, "
                                           "a .safetensors file or an OpenAI .pt archive)");
    if (!fs::is_directory(p)) return p;
    std::vector<fs::path> candidates;
    for (const char* name : {"model.safetensors", "clip.safetensors", "weights.safetensors"})
        if (fs::exists(p / name)) candidates.push_back(p / name);
    if (candidates.empty())
        for (const auto& e : fs::directory_iterator(p))
            if (e.path().extension() == ".safetensors" || e.path().extension() == ".pt") candidates.push_back(e.path());
    std::sort(candidates.begin(), candidates.end());
    if (candidates.empty()) throw Error(path + ": folder holds no model.safetensors, *.safetensors or *.pt file");
    return candidates.front();
}
}  // namespace

ClipConfig readClipConfig(const std::string& path) {
    const fs::path file = checkpointFile(path);
    if (file.extension() == ".safetensors") {
        // The header alone: names, shapes and metadata (the file is mapped, its tensors are not read).
        const auto f = SafetensorsFile::open(file.string());
        std::map<std::string, std::vector<int64_t>> shapes;
        bool hf = false;
        for (const auto& t : f.tensors()) {
            shapes[t.name] = t.shape;
            hf = hf || isHfName(t.name);
        }
        if (!hf) return inferClipConfig(shapes, f.metadata(), file.string());
        const fs::path cfg = file.parent_path() / "config.json";
        if (fs::exists(cfg)) return configFromHfJson(cfg.string());
    }
    return readClipCheckpoint(path).config;  // TorchScript archives, Hugging Face weights without config.json
}

ClipCheckpoint readClipCheckpoint(const std::string& path) {
    ClipCheckpoint ck;
    const fs::path file = checkpointFile(path);
    ck.source = file.string();
    ck.folder = file.parent_path().string();
    if (ck.folder.empty()) ck.folder = ".";

    TensorMap raw;
    if (file.extension() == ".safetensors") {
        raw = loadSafetensors(ck.source, &ck.metadata);
    } else {
        raw = readJitArchive(ck.source);
        ck.format = "openai-torchscript";
    }
    if (looksHf(raw)) {
        ck.format = "hf-safetensors";
        ck.stateDict = hfToOpenAi(raw, ck.source);
        const fs::path cfg = file.parent_path() / "config.json";
        if (fs::exists(cfg)) {
            ck.config = configFromHfJson(cfg.string());
            // The shapes must agree with config.json.
            auto inferred = inferClipConfig(shapesOf(ck.stateDict),
                                            {{"vision_heads", std::to_string(ck.config.visionHeads)},
                                             {"transformer_heads", std::to_string(ck.config.textHeads)}},
                                            ck.source);
            if (inferred != ck.config)
                throw Error(cfg.string() + ": does not match the weights in " + ck.source + " (config says " + ck.config.name() +
                            ", weights are " + inferred.name() + ")");
        } else {
            ck.config = inferClipConfig(shapesOf(ck.stateDict), ck.metadata, ck.source);
        }
    } else {
        if (ck.format.empty()) ck.format = "openai-safetensors";
        ck.stateDict = std::move(raw);
        ck.config = inferClipConfig(shapesOf(ck.stateDict), ck.metadata, ck.source);
    }
    return ck;
}

void loadStateDict(ClipModel& model, const TensorMap& stateDict, const std::string& source) {
    torch::NoGradGuard noGrad;
    auto params = model->named_parameters(/*recurse=*/true);
    std::set<std::string> expected;
    for (const auto& p : params) expected.insert(p.key());
    for (const auto& [k, v] : stateDict)
        if (!expected.count(k))
            throw Error(source + ": unexpected key '" + k + "' " + shapeToString(v.sizes().vec()) + " for a " +
                        model->config().name() + " CLIP");
    for (auto& p : params) {
        auto it = stateDict.find(p.key());
        if (it == stateDict.end())
            throw Error(source + ": missing key '" + p.key() + "' (expected shape " + shapeToString(p.value().sizes().vec()) + ")");
        auto src = it->second;
        // Some exports store the scalar logit_scale as [1]; it is the same value.
        if (p.key() == "logit_scale" && src.numel() == 1) src = src.reshape({});
        if (src.sizes() != p.value().sizes())
            throw Error(source + ": key '" + p.key() + "': expected shape " + shapeToString(p.value().sizes().vec()) +
                        ", found " + shapeToString(src.sizes().vec()));
        if (!src.is_floating_point())
            throw Error(source + ": key '" + p.key() + "': expected a floating-point tensor, found " +
                        std::string(c10::toString(src.scalar_type())));
        p.value().copy_(src);
    }
}

ClipModel loadClip(const std::string& path, const ClipLoadOptions& options, ClipCheckpoint* info) {
    ClipCheckpoint ck = readClipCheckpoint(path);
    ClipModel model(ck.config);
    loadStateDict(model, ck.stateDict, ck.source);
    if (options.dtype != torch::kFloat32) {
        // Matrices in the low-precision dtype; LayerNorm parameters and embeddings stay fp32 (spec §1.6).
        torch::NoGradGuard g;
        for (auto& p : model->named_parameters(true)) {
            const auto& k = p.key();
            const bool keep32 = k.find("ln_") != std::string::npos || k == "logit_scale";
            if (!keep32) p.value().set_data(p.value().to(options.dtype));
        }
    }
    model->to(options.device);
    model->freeze();
    model->eval();
    ck.stateDict.clear();
    if (info) *info = std::move(ck);
    return model;
}

void saveClipSafetensors(ClipModel& model, const std::string& path, std::map<std::string, std::string> metadata) {
    const auto& c = model->config();
    metadata["format"] = "pt";
    metadata["embed_dim"] = std::to_string(c.embedDim);
    metadata["image_resolution"] = std::to_string(c.imageResolution);
    metadata["vision_layers"] = std::to_string(c.visionLayers);
    metadata["vision_width"] = std::to_string(c.visionWidth);
    metadata["vision_patch_size"] = std::to_string(c.patchSize);
    metadata["vision_heads"] = std::to_string(c.visionHeads);
    metadata["context_length"] = std::to_string(c.contextLength);
    metadata["vocab_size"] = std::to_string(c.vocabSize);
    metadata["transformer_width"] = std::to_string(c.textWidth);
    metadata["transformer_heads"] = std::to_string(c.textHeads);
    metadata["transformer_layers"] = std::to_string(c.textLayers);
    if (!metadata.count("producer")) metadata["producer"] = "caspl";
    TensorMap t;
    for (const auto& p : model->named_parameters(true)) t[p.key()] = p.value();
    saveSafetensors(path, t, metadata);
}

}  // namespace caspl
