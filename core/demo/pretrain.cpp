// Contrastive pretraining of the demo's CLIPs, see pretrain.h.
#include "core/demo/pretrain.h"

#include "core/clip/clip_checkpoint.h"
#include "core/clip/clip_model.h"
#include "core/data/loader.h"
#include "core/data/templates.h"
#include "core/train/trainer.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <tuple>
#include <unistd.h>

namespace caspl {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;
using nlohmann::json;

namespace {

constexpr int kPretrainFormat = 1;
constexpr uint64_t kCaptionStream = 0x43415054494f4eULL;  // "CAPTION"

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    return h;
}

std::string fixed(double v, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

std::string sci(double v) {
    std::ostringstream s;
    s << std::scientific << std::setprecision(2) << v;
    return s.str();
}

// ---- Options <-> JSON (the stamp, and user overrides) -------------------------------------------------------------

json archToJson(const ClipConfig& c) {
    return {{"embed_dim", c.embedDim},         {"image_resolution", c.imageResolution},
            {"vision_layers", c.visionLayers}, {"vision_width", c.visionWidth},
            {"vision_heads", c.visionHeads},   {"patch_size", c.patchSize},
            {"context_length", c.contextLength}, {"text_width", c.textWidth},
            {"text_heads", c.textHeads},       {"text_layers", c.textLayers}};
}

json pretrainToJson(const ClipPretrainOptions& o) {
    return {{"architecture", archToJson(o.architecture)},
            {"epochs", o.epochs},
            {"batch_size", o.batchSize},
            {"lr", o.lr},
            {"weight_decay", o.weightDecay},
            {"warmup_fraction", o.warmupFraction},
            {"grad_clip", o.gradClip},
            {"seed", o.seed},
            {"max_steps", o.maxSteps},
            {"crop",
             {{"scale_min", o.crop.scaleMin},
              {"scale_max", o.crop.scaleMax},
              {"ratio_min", o.crop.ratioMin},
              {"ratio_max", o.crop.ratioMax},
              {"flip_probability", o.crop.flipProbability}}},
            {"templates", o.templates.empty() ? demoCaptionTemplates() : o.templates}};
}

// Overlays the keys of `j` on `v`; unknown keys and wrong types are errors naming `where`.
template <class T>
void take(const json& j, const char* key, T& v, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end()) return;
    try {
        v = it->get<T>();
    } catch (const json::exception&) {
        throw Error(where + "." + key + ": expected a " + (std::is_same_v<T, std::string> ? "string" : "number") +
                    ", got " + it->dump());
    }
}

void requireKnown(const json& j, const std::vector<std::string>& keys, const std::string& where) {
    if (!j.is_object()) throw Error(where + ": expected a JSON object, got " + j.dump());
    for (auto it = j.begin(); it != j.end(); ++it)
        if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) {
            std::string list;
            for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
            throw Error(where + ": unknown key \"" + it.key() + "\"; expected one of " + list);
        }
}

void archFromJson(const json& j, ClipConfig& c, const std::string& where) {
    requireKnown(j, {"embed_dim", "image_resolution", "vision_layers", "vision_width", "vision_heads", "patch_size",
                     "context_length", "text_width", "text_heads", "text_layers"},
                 where);
    take(j, "embed_dim", c.embedDim, where);
    take(j, "image_resolution", c.imageResolution, where);
    take(j, "vision_layers", c.visionLayers, where);
    take(j, "vision_width", c.visionWidth, where);
    take(j, "vision_heads", c.visionHeads, where);
    take(j, "patch_size", c.patchSize, where);
    take(j, "context_length", c.contextLength, where);
    take(j, "text_width", c.textWidth, where);
    take(j, "text_heads", c.textHeads, where);
    take(j, "text_layers", c.textLayers, where);
}

void pretrainFromJson(const json& j, ClipPretrainOptions& o, const std::string& where) {
    requireKnown(j, {"architecture", "epochs", "batch_size", "lr", "weight_decay", "warmup_fraction", "grad_clip",
                     "seed", "max_steps", "crop", "templates", "loader_threads"},
                 where);
    if (j.contains("architecture")) archFromJson(j["architecture"], o.architecture, where + ".architecture");
    take(j, "epochs", o.epochs, where);
    take(j, "batch_size", o.batchSize, where);
    take(j, "lr", o.lr, where);
    take(j, "weight_decay", o.weightDecay, where);
    take(j, "warmup_fraction", o.warmupFraction, where);
    take(j, "grad_clip", o.gradClip, where);
    take(j, "seed", o.seed, where);
    take(j, "max_steps", o.maxSteps, where);
    take(j, "loader_threads", o.loaderThreads, where);
    if (j.contains("crop")) {
        const json& c = j["crop"];
        const std::string w = where + ".crop";
        requireKnown(c, {"scale_min", "scale_max", "ratio_min", "ratio_max", "flip_probability"}, w);
        take(c, "scale_min", o.crop.scaleMin, w);
        take(c, "scale_max", o.crop.scaleMax, w);
        take(c, "ratio_min", o.crop.ratioMin, w);
        take(c, "ratio_max", o.crop.ratioMax, w);
        take(c, "flip_probability", o.crop.flipProbability, w);
    }
    if (j.contains("templates")) {
        const json& t = j["templates"];
        if (!t.is_array()) throw Error(where + ".templates: expected a list of strings with \"{}\"");
        o.templates.clear();
        for (const auto& s : t) {
            if (!s.is_string() || s.get<std::string>().find("{}") == std::string::npos)
                throw Error(where + ".templates: expected strings holding \"{}\", got " + s.dump());
            o.templates.push_back(s.get<std::string>());
        }
    }
}

void validate(const ClipPretrainOptions& o) {
    const std::string w = o.phase + " options: ";
    if (o.epochs < 1) throw Error(w + "epochs must be at least 1, got " + std::to_string(o.epochs));
    if (o.batchSize < 2) throw Error(w + "batch size must be at least 2, got " + std::to_string(o.batchSize));
    if (!(o.lr > 0)) throw Error(w + "lr must be positive, got " + std::to_string(o.lr));
    if (o.weightDecay < 0) throw Error(w + "weight decay must be at least 0");
    if (o.warmupFraction < 0 || o.warmupFraction >= 1) throw Error(w + "warmup fraction must be in [0, 1)");
    if (o.architecture.contextLength < 3) throw Error(w + "context length must be at least 3");
}

// ---- Model ------------------------------------------------------------------------------------------------------------

// OpenAI's initialisation (see pretrain.h).
void initializeClip(ClipModel& m) {
    torch::NoGradGuard g;
    namespace init = torch::nn::init;
    const auto& c = m->config();
    init::normal_(m->token_embedding->weight, 0, 0.02);
    init::normal_(m->positional_embedding, 0, 0.01);
    const double tw = c.textWidth, tl = c.textLayers;
    const double projStd = std::pow(tw, -0.5) * std::pow(2 * tl, -0.5), attnStd = std::pow(tw, -0.5),
                 fcStd = std::pow(2 * tw, -0.5);
    for (const auto& mod : *m->transformer->resblocks) {
        auto* b = mod->as<ResidualAttentionBlockImpl>();
        init::normal_(b->attn->in_proj_weight, 0, attnStd);
        init::zeros_(b->attn->in_proj_bias);
        init::normal_(b->attn->out_proj->weight, 0, projStd);
        init::zeros_(b->attn->out_proj->bias);
        init::normal_(b->mlp->c_fc->weight, 0, fcStd);
        init::normal_(b->mlp->c_proj->weight, 0, projStd);
    }
    init::normal_(m->text_projection, 0, attnStd);
    auto& v = m->visual;
    const double scale = std::pow(double(c.visionWidth), -0.5);
    v->class_embedding.copy_(scale * torch::randn_like(v->class_embedding));
    v->positional_embedding.copy_(scale * torch::randn_like(v->positional_embedding));
    v->proj.copy_(scale * torch::randn_like(v->proj));
    for (const auto& mod : *v->transformer->resblocks) {  // nn.MultiheadAttention's _reset_parameters
        auto* b = mod->as<ResidualAttentionBlockImpl>();
        init::xavier_uniform_(b->attn->in_proj_weight);
        init::zeros_(b->attn->in_proj_bias);
        init::zeros_(b->attn->out_proj->bias);
    }
    m->logit_scale.fill_(std::log(1.0 / 0.07));
}

// encodeText on tokens cut after the longest caption's end token (identical: the causal mask hides later positions).
torch::Tensor encodeCaptions(ClipModel& m, const torch::Tensor& tokens) {
    const int64_t L = tokens.size(1);
    auto x = m->token_embedding(tokens) + m->positional_embedding.narrow(0, 0, L);
    x = m->transformer->forward(x, /*causal=*/true);
    x = m->ln_final(x);
    auto rows = torch::arange(x.size(0), torch::kLong);
    return torch::matmul(x.index({rows, tokens.argmax(-1)}), m->text_projection);
}

// Moves `tmp` to `dest`, an existing `dest` aside first.
void moveIntoPlace(const fs::path& tmp, const fs::path& dest) {
    std::error_code ec;
    if (fs::exists(dest, ec)) {
        const fs::path old = dest.string() + ".old-" + std::to_string(::getpid());
        fs::remove_all(old, ec);
        fs::rename(dest, old, ec);
        if (ec) throw Error(dest.string() + ": cannot move the previous model aside: " + ec.message());
        fs::remove_all(old, ec);
    }
    fs::rename(tmp, dest, ec);
    if (ec) throw Error(dest.string() + ": cannot move the trained model into place: " + ec.message());
}

bool processAlive(long pid) { return pid > 0 && (::kill(pid_t(pid), 0) == 0 || errno == EPERM); }

void removeStaleTemporaries(const fs::path& dest) {
    std::error_code ec;
    const fs::path parent = dest.parent_path();
    const std::string name = dest.filename().string();
    for (const auto& e : fs::directory_iterator(parent, ec))
        for (const char* tag : {".tmp-", ".old-"}) {
            const std::string n = e.path().filename().string(), prefix = name + tag;
            if (n.rfind(prefix, 0) != 0) continue;
            char* end = nullptr;
            const long pid = std::strtol(n.c_str() + prefix.size(), &end, 10);
            if (end && *end == '\0' && !processAlive(pid)) fs::remove_all(e.path(), ec);
        }
}

json stampKey(const ClipPretrainOptions& o, const LearnedBpe& bpe, const std::string& dataStamp,
              const std::vector<std::string>& classnames, std::size_t items) {
    std::ostringstream h;
    h << std::hex << fnv1a(bpe.mergesText());
    return {{"format", kPretrainFormat}, {"options", pretrainToJson(o)}, {"vocab_merges_fnv1a", h.str()},
            {"vocab_size", bpe.vocabSize()}, {"data", dataStamp}, {"classes", classnames}, {"items", items}};
}

bool readCached(const fs::path& folder, const json& key, ClipPretrainResult& r) {
    std::error_code ec;
    for (const char* f : {"model.safetensors", "vocab.json", "merges.txt", "pretrain.json"})
        if (!fs::is_regular_file(folder / f, ec)) return false;
    try {
        const json j = json::parse(readFile((folder / "pretrain.json").string()));
        if (!j.is_object() || !j.contains("key") || j["key"] != key) return false;
        const json& res = j.at("result");
        r.steps = res.at("steps").get<int64_t>();
        r.seconds = res.at("seconds").get<double>();
        r.epochLoss = res.at("epoch_loss").get<std::vector<double>>();
        r.logitScale = res.at("logit_scale").get<double>();
        r.parameters = res.at("parameters").get<int64_t>();
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

}  // namespace

const std::vector<std::string>& demoCaptionTemplates() {
    static const std::vector<std::string> t = [] {
        std::vector<std::string> v{"a photo of a {}.", "a {}.", "a picture of a {}.", "an image of a {}.",
                                   "this is a {}.", "a grayscale photo of a {}.", "a small photo of a {}."};
        // A subset of PromptSRC's ImageNet templates that fit small grey product photos.
        for (const char* s : {"a bad photo of a {}.", "a low resolution photo of the {}.", "a cropped photo of the {}.",
                              "a photo of a hard to see {}.", "a bright photo of a {}.", "a dark photo of the {}.",
                              "a photo of my {}.", "a close-up photo of a {}.", "a black and white photo of the {}.",
                              "a pixelated photo of the {}.", "a blurry photo of the {}.", "a good photo of the {}.",
                              "a photo of the {}.", "a sketch of a {}.", "a drawing of a {}.", "the toy {}."}) {
            if (std::find(imagenetTemplates().begin(), imagenetTemplates().end(), s) == imagenetTemplates().end())
                throw std::logic_error(std::string("demo template not among imagenetTemplates(): ") + s);
            v.push_back(s);
        }
        // Longer captions, with the class name further in: real CLIPs saw long captions, and CasPL's layout puts
        // the class name after the context and boosting tokens (position 9 and beyond in the demo). A student
        // pretrained only on short captions barely trained those positions (docs/demo-models.md).
        for (const char* s : {"a photo of a {}, a type of clothing.",
                              "a centered grayscale photo of a single {} on a black background.",
                              "a small low resolution black and white picture of a {}.",
                              "this is a picture from a fashion catalogue of a {}.",
                              "a photo of a {} that someone might wear or carry.",
                              "an item of the {} kind, photographed from the front.",
                              "look at this nice photo of a {} in a shop.", "a grayscale product photo showing one {}.",
                              "there is a {} in this small photo.", "a tiny photo of a {} made of cloth or leather."})
            v.push_back(s);
        return v;
    }();
    return t;
}

std::vector<std::string> demoCaptions(const std::vector<std::string>& classnames,
                                      const std::vector<std::string>& templates) {
    std::vector<std::string> out;
    for (const auto& t : templates)
        for (const auto& c : classnames) out.push_back(fillTemplate(t, c));
    return out;
}

ClipPretrainResult pretrainClip(const std::vector<Datum>& items, const std::vector<std::string>& classnames,
                                const LearnedBpe& bpe, const ClipPretrainOptions& optionsIn,
                                const std::string& dataStamp, const std::string& outFolder, EventSink& sink,
                                const StopToken& stop) {
    ClipPretrainOptions o = optionsIn;
    if (o.templates.empty()) o.templates = demoCaptionTemplates();
    validate(o);
    if (items.empty()) throw Error(o.phase + ": no training images");
    if (classnames.empty()) throw Error(o.phase + ": no class names");
    for (const auto& d : items)
        if (d.label < 0 || d.label >= int(classnames.size()))
            throw Error(o.phase + ": image " + d.impath + " has label " + std::to_string(d.label) + "; expected 0.." +
                        std::to_string(classnames.size() - 1));
    ClipConfig cfg = o.architecture;
    cfg.vocabSize = bpe.vocabSize();
    cfg.validate(o.phase + " architecture");

    ClipPretrainResult r;
    std::error_code ec;
    const fs::path dest = fs::absolute(outFolder, ec);
    r.folder = dest.string();
    const json key = stampKey(o, bpe, dataStamp, classnames, items.size());
    if (readCached(dest, key, r)) {
        r.cached = true;
        sink.log(LogLevel::Info, o.phase + ": using the model trained before in " + r.folder + " (" +
                                     fixed(r.seconds, 1) + " s, " + std::to_string(r.steps) + " steps)");
        return r;
    }

    // Captions: id = template * classes + class; tokens and end positions precomputed.
    const ClipTokenizer tok = bpe.tokenizer();
    const int64_t C = int64_t(classnames.size()), T = int64_t(o.templates.size()), ctx = cfg.contextLength;
    const auto captions = demoCaptions(classnames, o.templates);
    auto captionTokens = torch::zeros({C * T, ctx}, torch::kLong);
    std::vector<int64_t> captionLength(std::size_t(C * T));
    for (int64_t i = 0; i < C * T; ++i) {
        const auto ids = tok.tokenize(captions[std::size_t(i)], int(ctx));  // throws naming the caption when too long
        captionLength[std::size_t(i)] = int64_t(std::find(ids.begin(), ids.end(), tok.eotId()) - ids.begin()) + 1;
        captionTokens[i] = torch::tensor(ids, torch::kLong);
    }

    torch::manual_seed(o.seed);
    ClipModel model(cfg);
    initializeClip(model);
    model->train();
    r.parameters = cfg.parameterCount();

    std::vector<torch::Tensor> decay, noDecay;
    for (const auto& p : model->named_parameters(true))
        (p.value().dim() >= 2 ? decay : noDecay).push_back(p.value());
    auto adamw = [&](double wd) {
        return std::make_unique<torch::optim::AdamWOptions>(
            torch::optim::AdamWOptions(o.lr).betas({0.9, 0.98}).eps(1e-6).weight_decay(wd));
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, adamw(o.weightDecay));
    groups.emplace_back(noDecay, adamw(0.0));
    torch::optim::AdamW opt(std::move(groups), torch::optim::AdamWOptions(o.lr));
    const auto params = model->parameters();

    LoaderOptions lo;
    lo.mode = TransformMode::Train;
    lo.imageSize = cfg.imageResolution;
    lo.batchSize = o.batchSize;
    lo.dropLast = int64_t(items.size()) >= o.batchSize;
    lo.shuffle = true;
    lo.seed = o.seed;
    lo.threads = std::max(1, o.loaderThreads);
    lo.prefetch = 2;
    lo.crop = o.crop;
    lo.cancel = stop.flag();
    ImageLoader loader(items, lo);
    const int64_t perEpoch = std::max<int64_t>(1, loader.nominalBatches());
    int64_t totalSteps = perEpoch * o.epochs;
    if (o.maxSteps > 0) totalSteps = std::min(totalSteps, o.maxSteps);
    const int64_t warmup = int64_t(std::floor(o.warmupFraction * double(totalSteps)));
    auto lrAt = [&](int64_t step) {  // step 0-based
        if (step < warmup) return o.lr * double(step + 1) / double(warmup);
        const double t = double(step - warmup) / double(std::max<int64_t>(1, totalSteps - warmup));
        return 0.5 * o.lr * (1 + std::cos(std::acos(-1.0) * t));
    };
    {
        std::ostringstream s;
        s << o.phase << ": " << cfg.name() << " (vision " << cfg.visionWidth << " x " << cfg.visionLayers
          << " layers, patch " << cfg.patchSize << "; text " << cfg.textWidth << " x " << cfg.textLayers
          << " layers; embed " << cfg.embedDim << "; context " << cfg.contextLength << "; vocab " << cfg.vocabSize
          << "), " << r.parameters << " parameters; " << items.size() << " images, " << captions.size()
          << " captions, " << o.epochs << " epochs of " << perEpoch << " batches of " << o.batchSize;
        sink.log(LogLevel::Info, s.str());
    }
    sink.phaseChanged(o.run, o.phase);

    const auto t0 = Clock::now();
    Batch batch;
    int64_t step = 0;
    const int epochs = o.maxSteps > 0 ? int((totalSteps + perEpoch - 1) / perEpoch) : o.epochs;
    for (int epoch = 0; epoch < epochs && step < totalSteps; ++epoch) {
        loader.start(uint64_t(epoch));
        double lossSum = 0;
        int64_t lossCount = 0;
        while (step < totalSteps && loader.next(batch)) {
            for (const auto& s : batch.skipped) sink.log(LogLevel::Warning, "skipped image " + s.path + ": " + s.reason);
            const int64_t B = batch.size();
            if (B < 2) continue;
            // Captions of this batch: a template per image, drawn from (seed, epoch, image index).
            std::vector<int64_t> unique;
            std::vector<int64_t> slot(static_cast<std::size_t>(C * T), -1);
            std::vector<int64_t> inverse(static_cast<std::size_t>(B), 0);
            int64_t maxLen = 1;
            for (int64_t i = 0; i < B; ++i) {
                auto rng = AugmentRng::forSample(o.seed, uint64_t(epoch), uint64_t(batch.indices[std::size_t(i)]),
                                                 kCaptionStream);
                const int64_t cap = rng.uniformInt(0, T - 1) * C + batch.labels[std::size_t(i)];
                if (slot[std::size_t(cap)] < 0) {
                    slot[std::size_t(cap)] = int64_t(unique.size());
                    unique.push_back(cap);
                    maxLen = std::max(maxLen, captionLength[std::size_t(cap)]);
                }
                inverse[std::size_t(i)] = slot[std::size_t(cap)];
            }
            auto px = batchPixels(batch, torch::kCPU);
            auto labels = torch::tensor(batch.labels, torch::kLong);
            auto tokens = captionTokens.index_select(0, torch::tensor(unique, torch::kLong)).narrow(1, 0, maxLen);

            const double lr = lrAt(step);
            for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
            opt.zero_grad();
            auto img = F::normalize(model->encodeImage(px), F::NormalizeFuncOptions().dim(-1));
            auto txt = F::normalize(encodeCaptions(model, tokens), F::NormalizeFuncOptions().dim(-1))
                           .index_select(0, torch::tensor(inverse, torch::kLong));
            auto logits = model->logit_scale.exp() * torch::matmul(img, txt.t());
            auto pos = labels.unsqueeze(1).eq(labels.unsqueeze(0)).to(torch::kFloat32);
            auto target = pos / pos.sum(1, true);
            auto lossI = -(target * logits.log_softmax(1)).sum(1).mean();
            auto lossT = -(target * logits.t().log_softmax(1)).sum(1).mean();
            auto loss = 0.5 * (lossI + lossT);
            const double lv = loss.item<double>();
            if (!std::isfinite(lv))
                throw RunFailed(o.phase + ": the loss is " + std::string(std::isnan(lv) ? "NaN" : "infinite") +
                            " at step " + std::to_string(step + 1) + "; lower the learning rate");
            loss.backward();
            if (o.gradClip > 0) torch::nn::utils::clip_grad_norm_(params, o.gradClip);
            opt.step();
            {
                torch::NoGradGuard g;
                model->logit_scale.clamp_(0, std::log(100.0));
            }
            ++step;
            lossSum += lv;
            ++lossCount;
            r.stepLoss.push_back(lv);
            const double elapsed = since(t0);
            ProgressEvent pe{o.run, o.phase, epoch + 1, epochs, step, totalSteps, elapsed,
                             elapsed / double(step) * double(totalSteps - step), "", 0, 0};
            sink.progress(pe);
            sink.metric({o.run, o.phase, epoch + 1, step,
                         {{"loss", lv}, {"lr", lr}, {"logit_scale", model->logit_scale.exp().item<double>()}}, "", 0, 0});
            if (stop.requested()) break;
        }
        if (stop.requested()) {
            loader.stop();
            throw Interrupted{o.phase + " epoch " + std::to_string(epoch + 1) + " step " + std::to_string(step)};
        }
        const double mean = lossCount ? lossSum / double(lossCount) : 0.0;
        r.epochLoss.push_back(mean);
        const double elapsed = since(t0);
        sink.log(LogLevel::Info, o.phase + ": epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs) +
                                     ": loss " + fixed(mean, 4) + ", lr " + sci(lrAt(std::max<int64_t>(0, step - 1))) +
                                     ", logit scale " + fixed(model->logit_scale.exp().item<double>(), 1) + ", " +
                                     fixed(elapsed, 1) + " s, ETA " +
                                     fixed(step ? elapsed / double(step) * double(totalSteps - step) : 0.0, 0) + " s");
    }
    r.steps = step;
    r.seconds = since(t0);
    r.logitScale = model->logit_scale.exp().item<double>();

    // Write into a temporary folder, then into place.
    fs::create_directories(dest.parent_path(), ec);
    removeStaleTemporaries(dest);
    const fs::path tmp = dest.string() + ".tmp-" + std::to_string(::getpid());
    fs::remove_all(tmp, ec);
    try {
        fs::create_directories(tmp);
        model->eval();
        saveClipSafetensors(model, (tmp / "model.safetensors").string(),
                            {{"producer", "caspl demo pretraining"}, {"caspl_phase", o.phase}});
        saveBpe(bpe, tmp.string());
        json res{{"steps", r.steps},          {"seconds", r.seconds}, {"epoch_loss", r.epochLoss},
                 {"logit_scale", r.logitScale}, {"parameters", r.parameters}};
        writeFileAtomically((tmp / "pretrain.json").string(), json{{"key", key}, {"result", res}}.dump(2) + "\n");
        moveIntoPlace(tmp, dest);
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    sink.log(LogLevel::Info, o.phase + ": " + std::to_string(r.steps) + " steps in " + fixed(r.seconds, 1) +
                                 " s, final loss " + fixed(r.epochLoss.empty() ? 0.0 : r.epochLoss.back(), 4) +
                                 "; saved " + r.folder);
    return r;
}

ZeroShotResult zeroShotAccuracy(const std::string& modelFolder, const std::vector<Datum>& items,
                                const std::vector<std::string>& classnames, const std::string& tmpl, int batchSize) {
    if (items.empty()) throw Error("zero-shot evaluation of " + modelFolder + ": no test images");
    torch::NoGradGuard g;
    ClipModel model = loadClip(modelFolder);
    const ClipTokenizer tok = ClipTokenizer::load(modelFolder);
    const int64_t C = int64_t(classnames.size());
    const int ctx = model->config().contextLength;
    auto tokens = torch::zeros({C, ctx}, torch::kLong);
    for (int64_t c = 0; c < C; ++c)
        tokens[c] = torch::tensor(tok.tokenize(fillTemplate(tmpl, classnames[std::size_t(c)]), ctx), torch::kLong);
    auto text = F::normalize(model->encodeText(tokens), F::NormalizeFuncOptions().dim(-1));

    LoaderOptions lo;
    lo.mode = TransformMode::Eval;
    lo.imageSize = model->config().imageResolution;
    lo.batchSize = std::max(1, batchSize);
    lo.threads = 1;
    ImageLoader loader(items, lo);
    loader.start(0);
    Batch batch;
    std::vector<torch::Tensor> sims, labels;
    while (loader.next(batch)) {
        if (!batch.skipped.empty())
            throw Error("zero-shot evaluation: cannot read " + batch.skipped.front().path + ": " +
                        batch.skipped.front().reason);
        auto img = F::normalize(model->encodeImage(batchPixels(batch, torch::kCPU)), F::NormalizeFuncOptions().dim(-1));
        sims.push_back(torch::matmul(img, text.t()));
        labels.push_back(torch::tensor(batch.labels, torch::kLong));
    }
    auto S = torch::cat(sims), Y = torch::cat(labels);
    ZeroShotResult z;
    auto acc = [&](const torch::Tensor& rows, int64_t lo_, int64_t hi) {
        auto s = S.index_select(0, rows).narrow(1, lo_, hi - lo_);
        auto y = Y.index_select(0, rows) - lo_;
        return std::make_pair(s.argmax(1).eq(y).sum().item<int64_t>(), rows.size(0));
    };
    auto rowsOf = [&](int64_t lo_, int64_t hi) { return torch::nonzero((Y >= lo_) & (Y < hi)).flatten(); };
    auto [correct, total] = acc(rowsOf(0, C), 0, C);
    z.correct = correct;
    z.total = total;
    z.accuracy = 100.0 * double(correct) / double(total);
    const int64_t m = (C + 1) / 2;  // Dassl's subsample_classes: base = the first ceil(n / 2) labels
    std::tie(z.baseCorrect, z.baseTotal) = acc(rowsOf(0, m), 0, m);
    z.baseAccuracy = z.baseTotal ? 100.0 * double(z.baseCorrect) / double(z.baseTotal) : 0.0;
    if (m < C) {
        std::tie(z.novelCorrect, z.novelTotal) = acc(rowsOf(m, C), m, C);
        z.novelAccuracy = z.novelTotal ? 100.0 * double(z.novelCorrect) / double(z.novelTotal) : 0.0;
    }
    auto pred = S.argmax(1);
    for (int64_t c = 0; c < C; ++c) {
        auto rows = Y.eq(c);
        const int64_t n = rows.sum().item<int64_t>();
        z.perClass.push_back(n ? 100.0 * double(pred.masked_select(rows).eq(c).sum().item<int64_t>()) / double(n) : 0.0);
    }
    return z;
}

// ---- The demo's models ----------------------------------------------------------------------------------------------

DemoModelsOptions defaultDemoModelsOptions() {
    DemoModelsOptions d;
    ClipConfig base;
    base.imageResolution = 28;
    base.contextLength = 32;

    d.teacher.phase = "pretrain-teacher";
    d.teacher.run = "demo-teacher";
    d.teacher.architecture = base;
    d.teacher.architecture.embedDim = 128;
    d.teacher.architecture.patchSize = 7;
    d.teacher.architecture.visionWidth = 128;
    d.teacher.architecture.visionLayers = 4;
    d.teacher.architecture.visionHeads = 4;
    d.teacher.architecture.textWidth = 128;
    d.teacher.architecture.textLayers = 3;
    d.teacher.architecture.textHeads = 4;
    d.teacher.epochs = 5;
    d.teacher.batchSize = 128;
    d.teacher.seed = 1;

    d.student.phase = "pretrain-student";
    d.student.run = "demo-student";
    d.student.architecture = base;
    d.student.architecture.embedDim = 64;
    d.student.architecture.patchSize = 7;
    d.student.architecture.visionWidth = 64;
    d.student.architecture.visionLayers = 2;
    d.student.architecture.visionHeads = 2;
    d.student.architecture.textWidth = 64;
    d.student.architecture.textLayers = 2;
    d.student.architecture.textHeads = 2;
    d.student.epochs = 1;
    d.student.batchSize = 128;
    d.student.seed = 2;
    return d;
}

std::string demoModelsOptionsToJson(const DemoModelsOptions& o) {
    json j{{"data",
            {{"source_dir", o.data.sourceDir},
             {"pretrain_per_class", o.data.pretrainPerClass},
             {"train_per_class", o.data.trainPerClass},
             {"val_per_class", o.data.valPerClass},
             {"test_per_class", o.data.testPerClass}}},
           {"bpe", {{"max_merges", o.bpe.maxMerges}, {"min_pair_count", o.bpe.minPairCount}}},
           {"teacher", pretrainToJson(o.teacher)},
           {"student", pretrainToJson(o.student)},
           {"zero_shot_template", o.zeroShotTemplate}};
    j["teacher"]["loader_threads"] = o.teacher.loaderThreads;
    j["student"]["loader_threads"] = o.student.loaderThreads;
    return j.dump(2) + "\n";
}

DemoModelsOptions demoModelsOptionsFromJson(const std::string& text, const std::string& source,
                                            DemoModelsOptions o) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw Error(source + ": not valid JSON (" + e.what() + "); expected the demo's options object");
    }
    requireKnown(j, {"data", "bpe", "teacher", "student", "zero_shot_template"}, source);
    if (j.contains("data")) {
        const json& d = j["data"];
        const std::string w = source + ": data";
        requireKnown(d, {"source_dir", "pretrain_per_class", "train_per_class", "val_per_class", "test_per_class"}, w);
        take(d, "source_dir", o.data.sourceDir, w);
        take(d, "pretrain_per_class", o.data.pretrainPerClass, w);
        take(d, "train_per_class", o.data.trainPerClass, w);
        take(d, "val_per_class", o.data.valPerClass, w);
        take(d, "test_per_class", o.data.testPerClass, w);
    }
    if (j.contains("bpe")) {
        const std::string w = source + ": bpe";
        requireKnown(j["bpe"], {"max_merges", "min_pair_count"}, w);
        take(j["bpe"], "max_merges", o.bpe.maxMerges, w);
        take(j["bpe"], "min_pair_count", o.bpe.minPairCount, w);
    }
    if (j.contains("teacher")) pretrainFromJson(j["teacher"], o.teacher, source + ": teacher");
    if (j.contains("student")) pretrainFromJson(j["student"], o.student, source + ": student");
    take(j, "zero_shot_template", o.zeroShotTemplate, source);
    if (o.zeroShotTemplate.find("{}") == std::string::npos)
        throw Error(source + ": zero_shot_template must hold \"{}\", got \"" + o.zeroShotTemplate + "\"");
    return o;
}

DemoModels prepareDemoModels(const std::string& cacheDir, const DemoModelsOptions& o, EventSink& sink,
                             const StopToken& stop) {
    DemoModels dm;
    dm.data = prepareFashionMnist(cacheDir, o.data, &sink, &stop);
    sink.log(LogLevel::Info, std::string("Fashion-MNIST: ") + (dm.data.exported ? "exported" : "found") + " in " +
                                 dm.data.root + " (" + std::to_string(dm.data.pretrain.size()) + " pretraining, " +
                                 std::to_string(dm.data.split.train.size()) + " train, " +
                                 std::to_string(dm.data.split.val.size()) + " val, " +
                                 std::to_string(dm.data.split.test.size()) + " test images; " +
                                 fixed(dm.data.seconds, 1) + " s)");
    if (stop.requested()) throw Interrupted{"demo data"};

    // One vocabulary for both models, from every caption either is trained with, plus the zero-shot prompt.
    std::vector<std::string> templates;
    for (const auto* opt : {&o.teacher, &o.student})
        for (const auto& t : opt->templates.empty() ? demoCaptionTemplates() : opt->templates)
            if (std::find(templates.begin(), templates.end(), t) == templates.end()) templates.push_back(t);
    if (std::find(templates.begin(), templates.end(), o.zeroShotTemplate) == templates.end())
        templates.push_back(o.zeroShotTemplate);
    const auto t0 = Clock::now();
    dm.bpe = learnBpe(demoCaptions(dm.data.classnames, templates), o.bpe);
    dm.vocabFolder = (fs::absolute(cacheDir) / "demo-models" / "vocab").string();
    saveBpe(dm.bpe, dm.vocabFolder);
    dm.bpeSeconds = since(t0);
    sink.log(LogLevel::Info, "BPE vocabulary: " + std::to_string(dm.bpe.merges.size()) + " merges, " +
                                 std::to_string(dm.bpe.vocabSize()) + " tokens, from " + std::to_string(dm.bpe.words) +
                                 " words (" + std::to_string(dm.bpe.distinctWords) + " distinct) in " +
                                 fixed(dm.bpeSeconds, 2) + " s");

    const std::string dataStamp = fashionMnistStamp(o.data);
    const fs::path models = fs::absolute(cacheDir) / "demo-models";
    dm.teacher = pretrainClip(dm.data.pretrain, dm.data.classnames, dm.bpe, o.teacher, dataStamp,
                              (models / "teacher").string(), sink, stop);
    dm.student = pretrainClip(dm.data.pretrain, dm.data.classnames, dm.bpe, o.student, dataStamp,
                              (models / "student").string(), sink, stop);

    const auto t1 = Clock::now();
    for (auto* which : {&dm.teacher, &dm.student}) {
        if (stop.requested()) throw Interrupted{"demo zero-shot evaluation"};
        const bool teacher = which == &dm.teacher;
        ZeroShotResult z = zeroShotAccuracy(which->folder, dm.data.split.test, dm.data.classnames, o.zeroShotTemplate);
        const std::string run = teacher ? o.teacher.run : o.student.run;
        struct Split {
            const char* name;
            double accuracy;
            int64_t correct, total;
        };
        for (const Split& sp : {Split{"all", z.accuracy, z.correct, z.total},
                                Split{"base", z.baseAccuracy, z.baseCorrect, z.baseTotal},
                                Split{"novel", z.novelAccuracy, z.novelCorrect, z.novelTotal}}) {
            EvalRow row;
            row.run = run;
            row.dataset = "FashionMNIST";
            row.method = teacher ? "zeroshot-teacher" : "zeroshot-student";
            row.split = sp.name;
            row.accuracy = sp.accuracy;
            row.correct = sp.correct;
            row.total = sp.total;
            sink.evalRow(row);
        }
        (teacher ? dm.teacherZeroShot : dm.studentZeroShot) = std::move(z);
    }
    dm.zeroShotSeconds = since(t1);
    return dm;
}

}  // namespace caspl
