#include "core/tools/bench.h"

#include "core/engine/tensorboard.h"

#include "core/clip/clip_model.h"
#include "core/clip/fused_linear.h"
#include "core/methods/prompted_clip.h"
#include "core/runtime.h"
#include "core/text/tokenizer.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "core/data/loader.h"
#include "core/image/image.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#ifdef CASPL_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace caspl {

namespace {

using Clock = std::chrono::steady_clock;

void sync(const torch::Device& d) {
#ifdef CASPL_WITH_CUDA
    if (d.is_cuda()) cudaDeviceSynchronize();
#else
    (void)d;
#endif
}

// Mean seconds per call of f over `iters` calls after `warmup` calls.
double timeIt(const torch::Device& d, int warmup, int iters, const std::function<void()>& f) {
    for (int i = 0; i < warmup; ++i) f();
    sync(d);
    const auto t0 = Clock::now();
    for (int i = 0; i < iters; ++i) f();
    sync(d);
    return std::chrono::duration<double>(Clock::now() - t0).count() / iters;
}

ClipConfig vit(int width, int layers, int patch, int embed, int textWidth, int textLayers, int res = 224) {
    ClipConfig c;
    c.visionWidth = width;
    c.visionLayers = layers;
    c.visionHeads = std::max(1, width / 64);
    c.patchSize = patch;
    c.imageResolution = res;
    c.embedDim = embed;
    c.textWidth = textWidth;
    c.textHeads = std::max(1, textWidth / 64);
    c.textLayers = textLayers;
    return c;
}

ClipModel randomClip(const ClipConfig& c, torch::Device d, torch::Dtype dt) {
    ClipModel m(c);
    {
        torch::NoGradGuard g;
        for (auto& p : m->parameters()) p.normal_(0, 0.02);
        m->logit_scale.fill_(std::log(100.0));
        for (auto& kv : m->named_parameters(true)) {
            const bool keep32 = kv.key().find("ln_") != std::string::npos || kv.key() == "logit_scale";
            if (!keep32 && dt != torch::kFloat32) kv.value().set_data(kv.value().to(dt));
        }
    }
    m->to(d);
    m->freeze();
    m->eval();
    return m;
}

std::vector<std::string> classNames(int n) {
    std::vector<std::string> v;
    for (int i = 0; i < n; ++i) v.push_back("class " + std::to_string(i));
    return v;
}

// A folder under the system's temporary folder, removed with its contents at scope exit.
struct ScratchDir {
    std::string path;
    explicit ScratchDir(const std::string& prefix) {
        std::random_device rd;
        path = (std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(rd()))).string();
        std::filesystem::create_directories(path);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
};

// `n` 500x375 colour JPEGs (smooth gradients plus noise, so they compress like photos), written by all cores.
std::vector<Datum> syntheticJpegs(const std::string& dir, int n, int classes) {
    std::vector<Datum> items(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        items[std::size_t(i)] = {(std::filesystem::path(dir) / ("img_" + std::to_string(i) + ".jpg")).string(), i % classes,
                                 "class " + std::to_string(i % classes), 0};
    std::atomic<int> next{0};
    std::vector<std::thread> workers;
    const int threads = int(std::max(1u, std::thread::hardware_concurrency()));
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            std::mt19937 rng(uint32_t(t + 17));
            for (int i = next++; i < n; i = next++) {
                Image img(500, 375, 3);
                for (int y = 0; y < img.height; ++y)
                    for (int x = 0; x < img.width; ++x)
                        for (int k = 0; k < 3; ++k)
                            img.at(y, x, k) = uint8_t(((x * (k + 1) + y * (3 - k) + i * 7) / 4 + int(rng() % 24)) & 255);
                encodeImageFile(img, items[std::size_t(i)].impath);
            }
        });
    for (auto& w : workers) w.join();
    return items;
}

// Peak memory in tensors since the last resetPeakDeviceMemory() (torch.cuda.max_memory_allocated); -1 off CUDA.
double peakGpuMiB() {
    const auto s = deviceStats();
    return s.cuda ? double(s.peakTensorBytes) / (1024.0 * 1024.0) : -1.0;
}
// The device's memory in use now, as nvidia-smi counts it (CUDA context and the allocator's cache included).
double usedDeviceMiB() {
    const auto s = deviceStats();
    return s.cuda ? double(s.allocatedBytes) / (1024.0 * 1024.0) : -1.0;
}

// Sets the fused residual product on or off for a scope (core/clip/fused_linear.h).
struct FusedResidualSwitch {
    bool before;
    explicit FusedResidualSwitch(bool on) : before(setFusedResidualEnabled(on)) {}
    ~FusedResidualSwitch() { setFusedResidualEnabled(before); }
    FusedResidualSwitch(const FusedResidualSwitch&) = delete;
    FusedResidualSwitch& operator=(const FusedResidualSwitch&) = delete;
};

}  // namespace

int runBenchmarks(const BenchOptions& o, const std::function<void(const std::string&)>& emit) {
    torch::Device device = torch::kCPU;
    if (o.device == "cuda" || (o.device == "auto" && cudaAvailable())) {
        if (!cudaAvailable()) throw Error("--device cuda: no CUDA device is available to this build or machine");
        device = torch::Device(torch::kCUDA, 0);
    } else if (o.device != "cpu" && o.device != "auto") {
        throw Error("--device '" + o.device + "': expected auto, cpu or cuda");
    }
    torch::Dtype dt = device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
    if (o.dtype == "fp32") dt = torch::kFloat32;
    else if (o.dtype == "bf16") dt = torch::kBFloat16;
    else if (o.dtype == "fp16") dt = torch::kFloat16;
    else if (o.dtype != "auto") throw Error("--dtype '" + o.dtype + "': expected auto, fp32, bf16 or fp16");
    const bool tiny = o.tiny || (!device.is_cuda() && !o.full);
    const std::string deviceName = deviceStats().device;
    const std::string dtypeName = dt == torch::kFloat32 ? "fp32" : dt == torch::kBFloat16 ? "bf16" : "fp16";
    torch::NoGradGuard outer;  // re-enabled inside the training steps
    (void)outer;

    const auto report = [&](const std::string& name, int batch, double value, const std::string& unit,
                            nlohmann::json extra = nlohmann::json::object()) {
        nlohmann::json j{{"figure", name},         {"value", value}, {"unit", unit},          {"batch", batch},
                         {"device", deviceName},   {"dtype", dtypeName}, {"libtorch", TORCH_VERSION}, {"tiny", tiny}};
        for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
        emit(j.dump());
    };
    const auto wanted = [&](const std::string& name) { return o.only.empty() || name.find(o.only) != std::string::npos; };
    // Each figure (or section of figures) runs guarded: an error (a LibTorch without a kernel for the dtype, out of
    // memory) becomes a line {"figure", "error"} and the others still run. (A step whose CUDA graph cannot be
    // captured runs eagerly instead: its figure carries "capture_error".)
    int failures = 0;
    const auto guarded = [&](const std::string& name, const std::function<void()>& f) {
        std::string msg;
        try {
            f();
            return;
        } catch (const std::exception& e) {
            msg = errorSummary(e);
        }
        ++failures;
        emit(nlohmann::json{{"figure", name}, {"error", msg}, {"device", deviceName}, {"dtype", dtypeName},
                            {"libtorch", TORCH_VERSION}, {"tiny", tiny}}.dump());
    };
    // A section of several figures runs when --only names part of its prefix or one of its figures.
    const auto sectionWanted = [&](const std::string& prefix) { return wanted(prefix) || o.only.rfind(prefix, 0) == 0; };

    // 1. Image encoding throughput.
    struct Enc {
        std::string name;
        ClipConfig cfg;
        int batch;
    };
    std::vector<Enc> encs = tiny ? std::vector<Enc>{{"encode_image.vit_tiny", vit(128, 2, 8, 64, 64, 2, 32), 32}}
                                 : std::vector<Enc>{{"encode_image.vit_b16", vit(768, 12, 16, 512, 512, 12), 256},
                                                    {"encode_image.vit_l14", vit(1024, 24, 14, 768, 768, 12), 256}};
    // Where the residual blocks' output products take their residual add with them (core/clip/fused_linear.h), the
    // figures that run through the blocks come once more with ".unfused": the same work with separate adds.
    const bool fusable = fusedResidualInfo().enabled && device.is_cuda() && dt != torch::kFloat32;
    const auto fusedFields = [&](long long callsBefore) {
        const auto info = fusedResidualInfo();
        nlohmann::json j{{"fused_residual", info.fusedCalls > callsBefore}};
        if (!info.error.empty()) j["fused_residual_error"] = info.error;
        return j;
    };
    for (const auto& e : encs) {
        for (const bool fused : {true, false}) {
            if (!fused && !fusable) continue;
            const std::string name = e.name + (fused ? "" : ".unfused");
            if (!wanted(name)) continue;
            guarded(name, [&] {
                const FusedResidualSwitch sw(fused && fusable);
                resetPeakDeviceMemory();
                auto m = randomClip(e.cfg, device, dt);
                auto px = torch::randn({e.batch, 3, e.cfg.imageResolution, e.cfg.imageResolution}, torch::TensorOptions().device(device));
                torch::InferenceMode im;
                const long long calls = fusedResidualInfo().fusedCalls;
                const double s = timeIt(device, o.warmup, o.iterations, [&] { m->encodeImage(px); });
                nlohmann::json extra{{"architecture", e.cfg.name()}, {"peak_gpu_mib", peakGpuMiB()}};
                extra.update(fusedFields(calls));
                report(name, e.batch, e.batch / s, "img/s", extra);
            });
        }
    }

    // 1b. Where a ViT-B/16 forward spends its time: the device's own limits (a large matrix product, a copy) and
    //     each operation of one residual block at the encoding figure's shape, timed alone through the model's own
    //     modules. Each line gives milliseconds per block, the share of the whole block, and the rate achieved
    //     (TFLOP/s for products and attention, GB/s for the memory-bound passes), so a figure below its target
    //     says which operation to fuse or replace.
    if (sectionWanted("roofline")) guarded("roofline", [&] {
        const int64_t n = tiny ? 512 : 8192;
        auto a = torch::randn({n, n}, torch::TensorOptions().device(device).dtype(dt));
        auto b = torch::randn({n, n}, torch::TensorOptions().device(device).dtype(dt));
        torch::InferenceMode im;
        const double s = timeIt(device, o.warmup, o.iterations, [&] { torch::mm(a, b); });
        report("roofline.matmul", int(n), 2.0 * double(n) * double(n) * double(n) / s / 1e12, "TFLOP/s", {{"shape", std::to_string(n) + "^3"}});
        auto src = torch::empty({tiny ? (int64_t(1) << 24) : (int64_t(1) << 30)}, torch::TensorOptions().device(device).dtype(torch::kUInt8));
        src.fill_(1);
        auto dst = torch::empty_like(src);
        const double c = timeIt(device, o.warmup, o.iterations, [&] { dst.copy_(src); });
        report("roofline.copy", 1, 2.0 * double(src.numel()) / c / 1e9, "GB/s", {{"bytes", src.numel()}, {"counts", "read + write"}});
    });
    if (sectionWanted("breakdown")) guarded("breakdown", [&] {
        const auto cfg = tiny ? vit(128, 2, 8, 64, 64, 2, 32) : vit(768, 12, 16, 512, 512, 12);
        const int64_t N = tiny ? 32 : 256, L = cfg.visionTokens(), D = cfg.visionWidth, H = cfg.visionHeads, hd = D / H;
        auto m = randomClip(cfg, device, dt);
        auto blk = m->visual->transformer->resblocks[0]->as<ResidualAttentionBlock>();
        auto& attn = *blk->attn;
        auto& mlp = *blk->mlp;
        torch::InferenceMode im;
        auto x = torch::randn({N, L, D}, torch::TensorOptions().device(device).dtype(dt));
        auto x2 = x.view({N * L, D});
        auto qkv = torch::nn::functional::linear(x, attn.in_proj_weight, attn.in_proj_bias).view({N, L, 3, H, hd}).permute({2, 0, 3, 1, 4});
        auto heads = attention(qkv[0], qkv[1], qkv[2], false);
        auto merged = heads.transpose(1, 2).reshape({N, L, D});
        constexpr double k = 1.702;  // as ClipMlpImpl::forward
        auto fcBias = mlp.c_fc->bias * k;
        auto h = torch::addmm(fcBias, x2, mlp.c_fc->weight.t(), 1, k);
        const double elt = double(x.element_size()), tokens = double(N * L);
        const double act = tokens * double(D) * elt;  // bytes of one [N, L, D] activation
        struct Part {
            const char* name;
            int count;       // times per block
            double flops;    // per call (0: memory-bound)
            double bytes;    // moved per call (read + write)
            std::function<void()> f;
        };
        const std::vector<Part> parts{
            {"layer_norm", 2, 0, 2 * act, [&] { blk->ln_1(x); }},
            {"qkv", 1, 2 * tokens * D * 3 * D, 0, [&] { torch::nn::functional::linear(x, attn.in_proj_weight, attn.in_proj_bias); }},
            {"attention", 1, 4 * double(N) * double(L) * double(L) * double(D), 0, [&] { attention(qkv[0], qkv[1], qkv[2], false); }},
            {"attn_merge", 1, 0, 2 * act, [&] { heads.transpose(1, 2).reshape({N, L, D}); }},
            {"out_proj", 1, 2 * tokens * D * D, 0, [&] { attn.out_proj(merged); }},
            {"residual_add", 2, 0, 3 * act, [&] { x + merged; }},
            {"c_fc", 1, 2 * tokens * D * 4 * D, 0, [&] { torch::addmm(fcBias, x2, mlp.c_fc->weight.t(), 1, k); }},
            {"silu", 1, 0, 2 * 4 * act, [&] { torch::silu(h); }},
            {"c_proj", 1, 2 * tokens * 4 * D * D, 0, [&] { torch::addmm(mlp.c_proj->bias, h, mlp.c_proj->weight.t(), 1, 1.0 / k); }},
        };
        const std::string base = std::string("breakdown.") + (tiny ? "vit_tiny." : "vit_b16.");
        const long long calls = fusedResidualInfo().fusedCalls;
        const double block = timeIt(device, o.warmup, o.iterations, [&] { blk->forward(x, false); });
        nlohmann::json blockExtra = fusedFields(calls);
        double sum = 0;
        std::vector<double> secs;
        for (const auto& p : parts) {
            secs.push_back(timeIt(device, o.warmup, o.iterations, p.f) * p.count);
            sum += secs.back();
        }
        for (std::size_t i = 0; i < parts.size(); ++i) {
            const auto& p = parts[i];
            if (!wanted(base + p.name)) continue;
            nlohmann::json extra{{"share_of_block", secs[i] / block}, {"per_block", p.count}, {"architecture", cfg.name()}};
            if (p.flops > 0) extra["tflops"] = p.flops * p.count / secs[i] / 1e12;
            else extra["gbps"] = p.bytes * p.count / secs[i] / 1e9;
            report(base + p.name, int(N), secs[i] * 1000, "ms", extra);
        }
        if (fusable && wanted(base + "fused_residual")) {
            // Both output products with their residual add in one cuBLASLt product each, against the four unfused
            // parts they replace (out_proj, c_proj, the two residual adds).
            const double fusedSecs = timeIt(device, o.warmup, o.iterations, [&] {
                residualLinear(x, merged, attn.out_proj->weight, attn.out_proj->bias);
                residualLinear(x, h, mlp.c_proj->weight, mlp.c_proj->bias, 1.0 / ClipMlpImpl::kQuickGeluScale);
            });
            double replaced = 0;
            for (std::size_t i = 0; i < parts.size(); ++i)
                if (std::string(parts[i].name) == "out_proj" || std::string(parts[i].name) == "c_proj" ||
                    std::string(parts[i].name) == "residual_add")
                    replaced += secs[i];
            nlohmann::json extra{{"replaces_ms", replaced * 1000}, {"per_block", 2}, {"architecture", cfg.name()},
                                 {"tflops", (2 * tokens * D * D + 2 * tokens * 4 * D * D) / fusedSecs / 1e12}};
            extra.update(fusedFields(calls));
            report(base + "fused_residual", int(N), fusedSecs * 1000, "ms", extra);
        }
        if (wanted(base + "block")) {
            blockExtra.update({{"sum_of_parts_ms", sum * 1000}, {"layers", cfg.visionLayers}, {"architecture", cfg.name()},
                               {"img_s_from_blocks", double(N) / (block * double(cfg.visionLayers))}});
            if (fusable) {
                const FusedResidualSwitch sw(false);
                blockExtra["unfused_ms"] = timeIt(device, o.warmup, o.iterations, [&] { blk->forward(x, false); }) * 1000;
            }
            report(base + "block", int(N), block * 1000, "ms", blockExtra);
        }
    });

    auto tok = std::make_shared<ClipTokenizer>(ClipTokenizer::fromMerges({}, "byte-level bench vocabulary"));
    const ClipConfig b16 = tiny ? vit(128, 2, 8, 64, 64, 2, 32) : vit(768, 12, 16, 512, 512, 12);
    const ClipConfig l14 = tiny ? vit(192, 3, 8, 96, 96, 2, 32) : vit(1024, 24, 14, 768, 768, 12);
    const int classes100 = tiny ? 10 : 100;

    // 2. Text encoding: class prompts per second (positions after the last EOT are skipped, see ClipModel).
    if (wanted("encode_text")) guarded("encode_text", [&] {
        resetPeakDeviceMemory();
        MethodConfig c;
        c.kind = MethodKind::CoOp;
        c.ctxInit = "";
        c.nCtxText = 16;
        PromptedClip m(randomClip(b16, device, dt), c, tok);
        const int classes = tiny ? 50 : 1000;
        m.setClassNames(classNames(classes));
        torch::InferenceMode im;
        const double s = timeIt(device, o.warmup, o.iterations, [&] { m.normalizedTextFeatures(); });
        report("encode_text." + std::string(tiny ? "tiny" : "vit_b16"), classes, classes / s, "prompts/s",
               {{"tokens_per_prompt", m.eotIndex().max().item<int64_t>() + 1}, {"peak_gpu_mib", peakGpuMiB()}});
    });

    // Training steps run through the trainer's own TrainStep (loss read on the host every step, as in training),
    // eagerly and, as "<name>.graph", captured as a CUDA graph (on the CPU: the same static step, uncaptured).
    const auto randomBatch = [&](int batch, int resolution, int classes) {
        Batch b;
        b.imageSize = resolution;
        auto px = torch::randn({batch, 3, resolution, resolution});
        b.pixels.assign(px.data_ptr<float>(), px.data_ptr<float>() + px.numel());
        for (int i = 0; i < batch; ++i) {
            b.labels.push_back(i % classes);
            b.indices.push_back(i);
        }
        return b;
    };
    struct StepFigure {
        double seconds = 0;
        bool captured = false;
        std::string captureError;  // why a CUDA graph step ran eagerly
    };
    // Warm-up: at least 3 steps (2 eager + the capture of a CUDA graph) unless `warmup` is given.
    const auto stepTime = [&](PromptedClip& model, int batch, StepMode mode, int iters, int warmup = -1) {
        torch::AutoGradMode ag(true);
        const Batch b = randomBatch(batch, int(model.clip()->config().imageResolution), int(model.classNames().size()));
        PromptSgd sgd(0.9, 5e-4);
        TrainStep step(model, sgd, mode, 2);
        StepFigure f;
        f.seconds = timeIt(device, warmup >= 0 ? warmup : std::max(o.warmup, 3), iters, [&] { step.run(b, 0.002); });
        f.captured = step.captured();
        f.captureError = step.captureError();
        return f;
    };
    // A step figure's fields: whether a CUDA graph was replayed and, when its capture failed, why.
    const auto withCapture = [](nlohmann::json j, const StepFigure& f) {
        j["captured"] = f.captured;
        if (!f.captureError.empty()) j["capture_error"] = f.captureError;
        return j;
    };
    // Named members, not a pair: C++17 lambdas (the guarded figures) cannot capture structured bindings.
    struct Mode {
        std::string suffix;
        StepMode mode;
    };
    const std::vector<Mode> modes{{"", StepMode::Eager}, {".graph", StepMode::CudaGraph}};

    // 3. CoOp step: batch 32, 100 classes, 16 context tokens.
    for (const auto& m0 : modes) {
        const std::string name = "step.coop" + m0.suffix;
        if (!wanted(name)) continue;
        guarded(name, [&] {
            resetPeakDeviceMemory();
            MethodConfig c;
            c.kind = MethodKind::CoOp;
            c.ctxInit = "";
            c.nCtxText = 16;
            torch::manual_seed(1);
            PromptedClip m(randomClip(b16, device, dt), c, tok);
            m.setClassNames(classNames(classes100));
            const int batch = tiny ? 8 : 32;
            const auto f = stepTime(m, batch, m0.mode, o.iterations);
            report(name, batch, f.seconds * 1000, "ms", withCapture({{"classes", classes100}, {"peak_gpu_mib", peakGpuMiB()}}, f));
        });
    }
    // 4. Deep-prompt step (PromptSRC: text + vision prompts + frozen-image regulariser), batch 4 and 32.
    for (int batch : tiny ? std::vector<int>{4} : std::vector<int>{4, 32}) {
        for (const auto& m0 : modes) {
            const std::string name = "step.promptsrc.b" + std::to_string(batch) + m0.suffix;
            if (!wanted(name)) continue;
            guarded(name, [&] {
                resetPeakDeviceMemory();
                MethodConfig c;
                c.kind = MethodKind::PromptSRC;
                c.ctxInit = "a photo of a";
                c.nCtxText = 4; c.nCtxVision = 4;
                c.depthText = tiny ? 2 : 9; c.depthVision = tiny ? 2 : 9;
                torch::manual_seed(1);
                PromptedClip m(randomClip(b16, device, dt), c, tok);
                m.setClassNames(classNames(classes100));
                const auto f = stepTime(m, batch, m0.mode, o.iterations);
                report(name, batch, f.seconds * 1000, "ms", withCapture({{"classes", classes100}, {"peak_gpu_mib", peakGpuMiB()}}, f));
            });
        }
    }
    // 5. CasPL phase 1: ViT-L/14 teacher, ViT-B/16 student with 8+8 prompts in all layers, batch 4, 47 classes (DTD),
    //    with the teacher online (the default) or its features cached per epoch (phase1.teacher_cache); and the
    //    epoch on DTD-sized data (2,820 images) derived from the step, plus, with the cache, the teacher's pass.
    const int dtdImages = tiny ? 64 : 2820, dtdClasses = tiny ? 10 : 47;
    if (wanted("caspl_phase1")) guarded("caspl_phase1", [&] {
        MethodConfig c;
        c.kind = MethodKind::IVLP;
        c.phase1 = true;
        c.ctxInit = "";
        c.nCtxText = 8; c.nCtxVision = 8;
        c.depthText = b16.textLayers; c.depthVision = b16.visionLayers;
        torch::manual_seed(1);
        PromptedClip m(randomClip(b16, device, dt), c, tok);
        m.setTeacher(randomClip(l14, device, dt), "a photo of a {}.");
        m.setClassNames(classNames(dtdClasses));
        const int64_t steps = dtdImages / 4;
        for (const auto& [suffix, mode] : modes) {
            resetPeakDeviceMemory();
            m.setTeacherImageFeatures(torch::Tensor());
            const auto f = stepTime(m, 4, mode, o.iterations);
            report("step.caspl_phase1" + suffix, 4, f.seconds * 1000, "ms",
                   withCapture({{"classes", dtdClasses}, {"teacher", l14.name()}, {"teacher_features", "online"},
                                {"peak_gpu_mib", peakGpuMiB()}}, f));
            report("epoch.caspl_phase1" + suffix, 4, f.seconds * double(steps), "s",
                   {{"images", dtdImages}, {"teacher_features", "online"}, {"derived_from", "step.caspl_phase1" + suffix}});
        }
        // The teacher's pass over one epoch's crops, in batches of 256 as computeTeacherFeatures runs it.
        double teacherSeconds = 0;
        {
            torch::InferenceMode im;
            const int tb = tiny ? 32 : 256;
            auto px = torch::randn({tb, 3, l14.imageResolution, l14.imageResolution}, torch::TensorOptions().device(device));
            const double perBatch = timeIt(device, 1, std::max(2, o.iterations / 3), [&] { m.teacher()->encodeImage(px); });
            teacherSeconds = perBatch * double(dtdImages) / double(tb);
            report("teacher_cache.caspl_phase1", tb, teacherSeconds, "s", {{"images", dtdImages}, {"teacher", l14.name()}});
        }
        m.setTeacherImageFeatures(torch::randn({int64_t(dtdImages), l14.embedDim}, torch::TensorOptions().device(device)));
        for (const auto& [suffix, mode] : modes) {
            resetPeakDeviceMemory();
            const auto f = stepTime(m, 4, mode, o.iterations);
            report("step.caspl_phase1.cached" + suffix, 4, f.seconds * 1000, "ms",
                   withCapture({{"classes", dtdClasses}, {"teacher_features", "cached"}, {"peak_gpu_mib", peakGpuMiB()}}, f));
            report("epoch.caspl_phase1.cached" + suffix, 4, teacherSeconds + f.seconds * double(steps), "s",
                   {{"images", dtdImages}, {"teacher_features", "cached"}, {"teacher_s", teacherSeconds},
                    {"derived_from", "teacher_cache.caspl_phase1 + step.caspl_phase1.cached" + suffix}});
        }
    });
    // 6. PromptSRC + CasPL with 1,000 classes: peak memory of a training step, with the text tower in checkpointed
    //    chunks of 128 classes and, for comparison, in one pass. On CUDA the figure is the allocator's peak bytes in
    //    tensors; on the CPU it is the peak resident memory above what the process held before the step (VmHWM).
    for (const auto& variant : std::vector<std::pair<std::string, int>>{{"", tiny ? 16 : 128}, {".unchunked", 0}}) {
        const std::string& suffix = variant.first;
        const int chunk = variant.second;
        if (!wanted("memory.promptsrc_caspl" + suffix)) continue;
        guarded("memory.promptsrc_caspl" + suffix, [&] {
            MethodConfig c;
            c.kind = MethodKind::PromptSRC;
            c.ctxInit = "";
            c.nCtxText = 8; c.nCtxVision = 8;
            c.depthText = b16.textLayers; c.depthVision = b16.visionLayers;
            c.boosting = {8, 8, b16.textLayers, b16.visionLayers};
            torch::manual_seed(1);
            PromptedClip m(randomClip(b16, device, dt), c, tok);
            const int classes = tiny ? 50 : 1000;
            // On the CPU the 60-template pass (60,000 prompts at full size, most of an hour) is replaced by random
            // fixed embeddings: the figure is the training step's memory, which they do not change.
            const bool cpuFull = !device.is_cuda() && !tiny;
            m.setClassNames(classNames(classes), cpuFull ? torch::randn({classes, b16.embedDim}) : torch::Tensor());
            m.setTextChunk(chunk);
            const long long hostBefore = deviceStats().hostRssBytes;
            resetPeakDeviceMemory();
            // The peak comes with the first step: eager steps need no warm-up for it (--warmup as given).
            const auto f = stepTime(m, 4, StepMode::Eager, std::max(1, o.iterations / 5), o.warmup);
            const auto st = deviceStats();
            const double hostPeakMiB = st.hostPeakRssBytes > 0 ? double(st.hostPeakRssBytes - hostBefore) / (1024.0 * 1024.0) : -1.0;
            report("memory.promptsrc_caspl" + suffix, 4, st.cuda ? peakGpuMiB() : hostPeakMiB, "MiB",
                   {{"classes", classes}, {"text_chunk", chunk}, {"step_ms", f.seconds * 1000}, {"device_used_mib", usedDeviceMiB()},
                    {"measure", st.cuda ? "peak bytes in tensors (torch.cuda.max_memory_allocated)"
                                        : "peak resident host memory above the model's (VmHWM)"},
                    {"fixed_embeddings", cpuFull ? "random (60-template pass skipped on the CPU)" : "60 templates"}});
        });
    }
    // 7. The evaluation pipeline end to end, through evaluatePrompts: JPEG files -> the loader's threads (decode,
    //    resize, crop, normalise; the decoded-image cache) -> the device -> logits. A cold epoch decodes, a warm one
    //    reads the cache; the loader alone (no model) tells whether the device or the host is the limit.
    if (wanted("eval_pipeline")) guarded("eval_pipeline", [&] {
        const int images = tiny ? 64 : 4096, batch = tiny ? 32 : 256;
        const ScratchDir dir("caspl-bench-images");
        const auto items = syntheticJpegs(dir.path, images, classes100);
        torch::manual_seed(1);
        MethodConfig c;
        c.kind = MethodKind::ZeroShot;
        PromptedClip m(randomClip(b16, device, dt), c, tok);
        m.setClassNames(classNames(classes100));
        LoaderOptions lo;
        lo.mode = TransformMode::Eval;
        lo.imageSize = int(b16.imageResolution);
        lo.batchSize = batch;
        lo.threads = 0;  // every core
        lo.cacheDir = (std::filesystem::path(dir.path) / "cache").string();
        lo.rawPixels = device.is_cuda();  // as the runner does: bytes to the GPU, normalised there
        const int threads = int(std::max(1u, std::thread::hardware_concurrency()));
        const std::string base = std::string("eval_pipeline.") + (tiny ? "tiny." : "vit_b16.");
        for (const char* pass : {"cold", "warm", "warm.float_upload"}) {
            if (std::string(pass) == "warm.float_upload") {
                if (!device.is_cuda()) continue;
                lo.rawPixels = false;  // normalised on the host, four times the bytes to move
            }
            ImageLoader loader(items, lo);
            const auto t0 = Clock::now();
            const auto r = evaluatePrompts(m, loader);
            sync(device);
            const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
            report(base + pass, batch, double(r.total) / sec, "img/s",
                   {{"images", r.total}, {"loader_threads", threads}, {"source", "500x375 JPEG"}, {"raw_pixels", lo.rawPixels}});
        }
        lo.rawPixels = device.is_cuda();
        {
            ImageLoader loader(items, lo);
            loader.start(0);
            Batch b;
            int64_t n = 0;
            const auto t0 = Clock::now();
            while (loader.next(b)) n += b.size();
            const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
            report("eval_pipeline.loader_only.warm", batch, double(n) / sec, "img/s", {{"images", n}, {"loader_threads", threads}});
        }
    });
    // 8. The TensorBoard files a run writes while it trains (train.tensorboard): the cost per training step of a
    //    PromptSRC + CasPL metric line (six values), host only, flushed at each step as the runner does.
    if (wanted("tensorboard")) guarded("tensorboard", [&] {
        const ScratchDir dir("caspl-bench-tensorboard");
        const int64_t steps = tiny ? 20000 : 100000;
        TensorBoardLiveWriter w(dir.path, "bench", RunEventLog{});
        MetricEvent m;
        m.phase = "phase2";
        m.dataset = "imagenet";
        m.shots = 16;
        m.seed = 1;
        const auto t0 = Clock::now();
        for (int64_t s = 1; s <= steps; ++s) {
            m.step = s;
            m.epoch = int(1 + s / 4000);
            m.values = {{"loss", 1.0 / double(s)}, {"loss.ce", 0.5}, {"loss.scl_text", 0.1}, {"loss.scl_image", 0.2},
                        {"loss.scl_logits", 0.3}, {"lr", 0.0025}};
            w.metric(m, 1.8e9 + double(s));
        }
        const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
        const auto bytes = std::filesystem::file_size(std::filesystem::path(dir.path) / w.files().front());
        report("tensorboard.live_write", 1, sec / double(steps) * 1e6, "us/step",
               {{"steps", steps}, {"scalars_per_step", 6}, {"bytes_per_step", double(bytes) / double(steps)}});
    });
    return failures;
}

}  // namespace caspl
