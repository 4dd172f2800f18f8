#include "core/tools/clip_tools.h"

#include "core/clip/clip_checkpoint.h"
#include "core/image/image.h"
#include "core/image/preprocess.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <sstream>

namespace caspl {

namespace {

// "FILE:KEY" -> the tensor; the key may be omitted when the file holds exactly one tensor.
torch::Tensor tensorFromSpec(const std::string& spec, const char* what) {
    std::string file = spec, key;
    const auto colon = spec.rfind(':');
    if (colon != std::string::npos && colon + 1 < spec.size() && spec.find('/', colon) == std::string::npos) {
        file = spec.substr(0, colon);
        key = spec.substr(colon + 1);
    }
    auto st = SafetensorsFile::open(file);
    if (key.empty()) {
        if (st.tensors().size() != 1)
            throw Error(file + ": holds " + std::to_string(st.tensors().size()) + " tensors; name the " + what +
                        " tensor as FILE:KEY");
        return readTensor(st, st.tensors().front());
    }
    return readTensor(st, key);
}

torch::Device parseDevice(const std::string& d) {
    if (d == "cpu") return torch::kCPU;
    if (d == "cuda" || d.rfind("cuda:", 0) == 0) {
        if (!torch::cuda::is_available())
            throw Error("--device " + d + ": no CUDA device is available (this LibTorch build or machine has none)");
        return torch::Device(d);
    }
    throw Error("--device '" + d + "': expected cpu or cuda[:N]");
}

}  // namespace

std::string describeClipModel(const std::string& modelPath) {
    ClipCheckpoint ck = readClipCheckpoint(modelPath);
    {
        // What `encode` and `run` would refuse (a missing or mistyped tensor) is an error here too.
        ClipModel check(ck.config);
        loadStateDict(check, ck.stateDict, ck.source);
    }
    std::map<std::string, std::pair<int, int64_t>> dtypes;  // dtype -> (tensors, elements)
    int64_t total = 0;
    for (const auto& [k, v] : ck.stateDict) {
        auto& e = dtypes[c10::toString(v.scalar_type())];
        e.first += 1;
        e.second += v.numel();
        total += v.numel();
    }
    std::ostringstream s;
    s << "source: " << ck.source << "\n"
      << "format: " << ck.format << "\n"
      << ck.config.describe() << "tensors: " << ck.stateDict.size() << " (" << total << " values)\n"
      << "dtypes:";
    for (const auto& [name, e] : dtypes) s << " " << name << " (" << e.first << " tensors, " << e.second << " values)";
    s << "\n";
    return s.str();
}

ClipConfig peekClipConfig(const std::string& modelPath) { return readClipConfig(modelPath); }

EncodeSummary encodeWithClip(const EncodeOptions& o) {
    if (o.out.empty()) throw Error("--out is required");
    if (o.pixels.empty() && o.images.empty() && o.tokens.empty() && o.texts.empty())
        throw Error("nothing to encode: give --pixels, --images, --tokens or --texts");
    if (!o.pixels.empty() && !o.images.empty()) throw Error("give either --pixels or --images, not both");
    if (!o.tokens.empty() && !o.texts.empty()) throw Error("give either --tokens or --texts, not both");

    const torch::Device device = parseDevice(o.device);
    ClipCheckpoint info;
    ClipLoadOptions lo;
    lo.device = device;
    ClipModel model = loadClip(o.model, lo, &info);
    const auto& cfg = model->config();
    torch::NoGradGuard noGrad;

    TensorMap out;
    EncodeSummary summary;
    torch::Tensor imageFeatures, textFeatures;

    torch::Tensor pixels;
    if (!o.pixels.empty()) {
        pixels = tensorFromSpec(o.pixels, "pixel").to(torch::kFloat32);
        if (pixels.dim() != 4 || pixels.size(1) != 3 || pixels.size(2) != cfg.imageResolution ||
            pixels.size(3) != cfg.imageResolution)
            throw Error(o.pixels + ": expected pixels of shape [N, 3, " + std::to_string(cfg.imageResolution) + ", " +
                        std::to_string(cfg.imageResolution) + "] for this model, found " +
                        shapeToString(pixels.sizes().vec()));
    } else if (!o.images.empty()) {
        const int R = cfg.imageResolution;
        pixels = torch::empty({int64_t(o.images.size()), 3, R, R});
        for (std::size_t i = 0; i < o.images.size(); ++i) {
            Image img = decodeImage(o.images[i]);
            toNormalizedCHW(evalTransform(img, R), pixels[int64_t(i)].data_ptr<float>());
        }
    }
    if (pixels.defined()) {
        imageFeatures = model->encodeImage(pixels.to(device));
        out["image_features"] = imageFeatures.to(torch::kFloat32);
        if (o.savePixels) out["pixel_values"] = pixels;
        summary.images = int(pixels.size(0));
    }

    torch::Tensor tokens;
    if (!o.tokens.empty()) {
        tokens = tensorFromSpec(o.tokens, "token").to(torch::kInt64);
        if (tokens.dim() != 2 || tokens.size(1) != cfg.contextLength)
            throw Error(o.tokens + ": expected token ids of shape [N, " + std::to_string(cfg.contextLength) + "], found " +
                        shapeToString(tokens.sizes().vec()));
        if (tokens.min().item<int64_t>() < 0 || tokens.max().item<int64_t>() >= cfg.vocabSize)
            throw Error(o.tokens + ": token ids must lie in [0, " + std::to_string(cfg.vocabSize) + ")");
    } else if (!o.texts.empty()) {
        ClipTokenizer tok = ClipTokenizer::load(o.vocab.empty() ? info.folder : o.vocab);
        tokens = torch::zeros({int64_t(o.texts.size()), cfg.contextLength}, torch::kInt64);
        for (std::size_t i = 0; i < o.texts.size(); ++i) {
            const auto ids = tok.tokenize(o.texts[i], cfg.contextLength, o.truncate);
            for (std::size_t j = 0; j < ids.size(); ++j) tokens[int64_t(i)][int64_t(j)] = ids[j];
        }
        out["text_tokens"] = tokens;
    }
    if (tokens.defined()) {
        textFeatures = model->encodeText(tokens.to(device));
        out["text_features"] = textFeatures.to(torch::kFloat32);
        summary.texts = int(tokens.size(0));
    }
    if (imageFeatures.defined() && textFeatures.defined())
        out["logits_per_image"] = model->logits(imageFeatures, textFeatures).to(torch::kFloat32);

    saveSafetensors(o.out, out, {{"model", info.source}, {"architecture", cfg.name()}, {"producer", "caspl encode"}});
    for (const auto& [k, v] : out) summary.written.push_back(k);
    return summary;
}

}  // namespace caspl
