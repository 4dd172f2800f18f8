#include "core/train/trainer.h"

#include "core/image/preprocess.h"
#include "core/runtime.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>

#ifdef CASPL_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace caspl {

namespace fs = std::filesystem;

void PromptSgd::step(TensorMap& params, double lr) {
    torch::NoGradGuard g;
    for (auto& [name, p] : params) {
        if (!p.grad().defined()) continue;
        auto d = p.grad();
        if (wd_ != 0) d = d + wd_ * p;
        auto it = buf_.find(name);
        if (momentum_ != 0) {
            if (it == buf_.end()) it = buf_.emplace(name, d.detach().clone()).first;
            else it->second.mul_(momentum_).add_(d);
            d = it->second;
        }
        p.sub_(lr * d);
    }
}

void PromptSgd::stepOnDevice(TensorMap& params, const torch::Tensor& lr, const torch::Tensor& apply) {
    torch::NoGradGuard g;
    for (auto& [name, p] : params) {
        if (!p.grad().defined()) continue;
        auto d = p.grad();
        if (wd_ != 0) d = d + wd_ * p;
        if (momentum_ != 0) {
            auto it = buf_.find(name);
            if (it == buf_.end()) throw Error("PromptSgd: no momentum buffer for '" + name + "' (take one step() first)");
            it->second.copy_(torch::where(apply, it->second * momentum_ + d, it->second));
            d = it->second;
        }
        p.copy_(torch::where(apply, p - lr * d, p));
    }
}

torch::Tensor normalizeRawPixels(const torch::Tensor& raw) {
    // toNormalizedCHW's float32 operations in the same order: x / 255, then (v - mean) / std. The divisors are
    // tensors on the pixels' device, never host scalars, which LibTorch's CUDA division would turn into
    // multiplications by a reciprocal (not bit-identical).
    // The three constant tensors are made once per device (not three small host-to-device copies per batch).
    struct Constants {
        torch::Tensor scale, mean, stdv;
    };
    static std::mutex mutex;
    // Never destroyed: device tensors must not be freed after the CUDA runtime has shut down at exit.
    static auto* perDevice = new std::map<std::string, Constants>;
    Constants k;
    {
        std::lock_guard<std::mutex> lock(mutex);
        auto& c = (*perDevice)[raw.device().str()];
        if (!c.scale.defined()) {
            torch::NoGradGuard g;
            c.scale = torch::full({1}, 255.0f, torch::kFloat32).to(raw.device());
            c.mean = torch::tensor({kClipMean[0], kClipMean[1], kClipMean[2]}, torch::kFloat32).view({1, 3, 1, 1}).to(raw.device());
            c.stdv = torch::tensor({kClipStd[0], kClipStd[1], kClipStd[2]}, torch::kFloat32).view({1, 3, 1, 1}).to(raw.device());
        }
        k = c;
    }
    auto x = raw.permute({0, 3, 1, 2}).to(torch::kFloat32).div(k.scale);
    return x.sub(k.mean).div(k.stdv).contiguous();
}

namespace {
// The batch's pixel memory as a tensor (no copy): [B, R, R, 3] uint8 for raw batches, else [B, 3, R, R] float.
torch::Tensor hostPixels(const Batch& batch) {
    const int64_t B = batch.size(), R = batch.imageSize;
    if (!batch.raw.empty()) return torch::from_blob(const_cast<uint8_t*>(batch.raw.data()), {B, R, R, 3}, torch::kUInt8);
    return torch::from_blob(const_cast<float*>(batch.pixels.data()), {B, 3, R, R}, torch::kFloat32);
}
}  // namespace

torch::Tensor batchPixels(const Batch& batch, torch::Device device) {
    const auto t = hostPixels(batch);
    if (!batch.raw.empty()) return normalizeRawPixels(device.is_cpu() ? t : t.to(device));
    return device.is_cpu() ? t.clone() : t.to(device);
}

namespace {

std::string ckptBase(const std::string& dir, const std::string& phase) { return (fs::path(dir) / (phase + ".checkpoint")).string(); }

struct CheckpointState {
    int epoch = 0;            // epochs fully done
    int64_t batchesDone = 0;  // batches done in epoch `epoch` (0 when it ended cleanly)
    double lastEpochLoss = 0;
    int64_t skipped = 0;
    double lossSum = 0;       // the loss summed over the batches done in epoch `epoch`, and their count
    int64_t lossCount = 0;
};

// The state as text in the tensor file's metadata, numbers written so that they read back exactly.
std::map<std::string, std::string> stateMetadata(const std::string& phase, const std::string& method, const CheckpointState& st) {
    const auto num = [](auto v) { return nlohmann::json(v).dump(); };
    return {{"stamp", std::to_string(st.epoch) + ":" + std::to_string(st.batchesDone)},
            {"phase", phase},
            {"method", method},
            {"epoch", num(st.epoch)},
            {"batches_done", num(st.batchesDone)},
            {"last_epoch_loss", num(st.lastEpochLoss)},
            {"skipped_images", num(st.skipped)},
            {"loss_sum", num(st.lossSum)},
            {"loss_count", num(st.lossCount)}};
}

void saveCheckpoint(const std::string& dir, const std::string& phase, PromptedClip& model, PromptSgd& sgd,
                    const TensorMap& gpaSum, const CheckpointState& st) {
    fs::create_directories(dir);
    TensorMap t;
    for (auto& [k, v] : model.trainable()) t["prompt." + k] = v;
    for (auto& [k, v] : sgd.buffers()) t["momentum." + k] = v;
    for (auto& [k, v] : gpaSum) t["gpa." + k] = v;
    const std::string base = ckptBase(dir, phase);
    // The tensor file is the checkpoint: it is replaced atomically and carries the whole state in its metadata, so a
    // kill at any moment leaves the previous checkpoint or this one, both resumable. The JSON beside it says the same
    // for people and scripts; a kill between the two files leaves it one checkpoint behind, which resume ignores.
    const auto meta = stateMetadata(phase, model.config().describe(), st);
    saveSafetensors(base + ".safetensors", t, meta);
    nlohmann::json j{{"phase", phase},          {"epoch", st.epoch},          {"batches_done", st.batchesDone},
                     {"stamp", meta.at("stamp")}, {"last_epoch_loss", st.lastEpochLoss},
                     {"skipped_images", st.skipped}, {"method", model.config().describe()}};
    writeFileAtomically(base + ".json", j.dump(2));
}

bool loadCheckpoint(const std::string& dir, const std::string& phase, PromptedClip& model, PromptSgd& sgd, TensorMap& gpaSum,
                    CheckpointState& st) {
    const std::string base = ckptBase(dir, phase);
    const bool haveTensors = fs::exists(base + ".safetensors"), haveJson = fs::exists(base + ".json");
    if (!haveTensors && !haveJson) return false;
    if (!haveTensors) throw Error(base + ".safetensors: missing (its " + base + ".json is there); delete the .json to restart the phase");
    std::map<std::string, std::string> meta;
    TensorMap t = loadSafetensors(base + ".safetensors", &meta);
    if (meta.count("epoch")) {
        // The tensor file holds its own state (this version's checkpoints): the JSON may be one checkpoint behind.
        try {
            const auto num = [&](const char* key) { return nlohmann::json::parse(meta.at(key)); };
            st.epoch = num("epoch").get<int>();
            st.batchesDone = num("batches_done").get<int64_t>();
            st.lastEpochLoss = num("last_epoch_loss").get<double>();
            st.skipped = num("skipped_images").get<int64_t>();
            st.lossSum = meta.count("loss_sum") ? num("loss_sum").get<double>() : 0.0;
            st.lossCount = meta.count("loss_count") ? num("loss_count").get<int64_t>() : 0;
        } catch (const std::exception& e) {
            throw Error(base + ".safetensors: the checkpoint's state in its metadata cannot be read (" + e.what() + ")");
        }
        if (meta["method"] != model.config().describe())
            throw Error(base + ".safetensors: checkpoint of '" + meta["method"] + "', but this run is '" + model.config().describe() + "'");
    } else {
        // A checkpoint of an earlier version: its state is in the JSON, which must match the tensor file.
        if (!haveJson) return false;  // the tensors of a first checkpoint whose JSON was never written: start over
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(readFile(base + ".json"));
        } catch (const nlohmann::json::exception& e) {
            throw Error(base + ".json: corrupt checkpoint description: " + e.what());
        }
        if (meta["stamp"] != j.value("stamp", ""))
            throw Error(base + ".safetensors: does not match " + base + ".json (stamp " + meta["stamp"] + " vs " +
                        j.value("stamp", "") + "); the run was interrupted while saving: delete both to restart the phase");
        if (j.value("method", "") != model.config().describe())
            throw Error(base + ".json: checkpoint of '" + j.value("method", "") + "', but this run is '" + model.config().describe() + "'");
        st.epoch = j.value("epoch", 0);
        st.batchesDone = j.value("batches_done", int64_t(0));
        st.lastEpochLoss = j.value("last_epoch_loss", 0.0);
        st.skipped = j.value("skipped_images", int64_t(0));
    }
    TensorMap prompts;
    for (auto& [k, v] : t) {
        if (k.rfind("prompt.", 0) == 0) prompts[k.substr(7)] = v;
        else if (k.rfind("momentum.", 0) == 0) sgd.buffers()[k.substr(9)] = v.to(model.device());
        else if (k.rfind("gpa.", 0) == 0) gpaSum[k.substr(4)] = v.to(model.device());
    }
    TensorMap trainableOnly;
    for (auto& [k, v] : prompts) trainableOnly[k] = v;
    model.loadPrompts(trainableOnly, base + ".safetensors", false);
    for (auto& [k, v] : model.trainable())
        if (!prompts.count(k)) throw Error(base + ".safetensors: missing prompt '" + k + "'");
    return true;
}

}  // namespace

struct TrainStep::Impl {
    Impl(PromptedClip& model, PromptSgd& sgd, StepMode mode, int eagerSteps)
        : model_(model), sgd_(sgd), mode_(mode), eagerLeft_(std::max(1, eagerSteps)), device_(model.device()) {}

    // Trains on `batch` with learning rate `lr`. `checkLoss` sees the loss before anything is returned and throws
    // to stop; in the static path the update of a non-finite step has already been skipped on the device.
    const MethodOutput& run(const Batch& batch, double lr, const std::function<void(double)>& checkLoss) {
        if (mode_ == StepMode::Eager || eagerLeft_ > 0 || (staticReady_ && batch.size() != px_.size(0))) {
            if (eagerLeft_ > 0) --eagerLeft_;
            return runEager(batch, lr, checkLoss);
        }
        if (!staticReady_) setupStatic(batch);
        upload(batch, lr);
#ifdef CASPL_WITH_CUDA
        if (device_.is_cuda()) {
            // A step that cannot be captured (an operation that reads the device from the host, say) trains on
            // eagerly; captureError() says why.
            if (!graph_ && !capture()) return runEager(batch, lr, checkLoss);
            graph_->replay();
        } else {
            body();
        }
#else
        body();
#endif
        const double loss = out_.loss.item<double>();
        if (checkLoss) checkLoss(loss);
        return out_;
    }

    std::string captureError_;

    bool captured() const {
#ifdef CASPL_WITH_CUDA
        return bool(graph_);
#else
        return false;
#endif
    }

    const MethodOutput& runEager(const Batch& batch, double lr, const std::function<void(double)>& checkLoss) {
        auto px = batchPixels(batch, device_);
        auto labels = torch::from_blob(const_cast<int64_t*>(batch.labels.data()), {batch.size()}, torch::kInt64).clone().to(device_);
        auto idx = torch::from_blob(const_cast<int64_t*>(batch.indices.data()), {batch.size()}, torch::kInt64).clone();
        for (auto& [k, p] : model_.trainable())
            if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
        eagerOut_ = model_.trainForward(px, labels, idx);
        const double loss = eagerOut_.loss.item<double>();
        if (checkLoss) checkLoss(loss);
        eagerOut_.loss.backward();
        sgd_.step(model_.trainable(), lr);
        // A captured graph writes its gradients into the tensors it saw at capture: hand those back.
        for (auto& [k, g] : staticGrads_) model_.trainable().at(k).mutable_grad() = g;
        return eagerOut_;
    }

    void setupStatic(const Batch& batch) {
        const int64_t B = batch.size(), R = batch.imageSize;
        const auto on = torch::TensorOptions().device(device_);
        px_ = torch::empty({B, 3, R, R}, on.dtype(torch::kFloat32));
        labels_ = torch::empty({B}, on.dtype(torch::kInt64));
        idx_ = torch::empty({B}, on.dtype(torch::kInt64));
        lr_ = torch::zeros({}, on.dtype(torch::kFloat32));
        staticReady_ = true;
    }

    void upload(const Batch& batch, double lr) {
        const int64_t B = batch.size(), R = batch.imageSize;
        const bool raw = !batch.raw.empty();
        const auto px = hostPixels(batch);
        const auto labels = torch::from_blob(const_cast<int64_t*>(batch.labels.data()), {B}, torch::kInt64);
        const auto idx = torch::from_blob(const_cast<int64_t*>(batch.indices.data()), {B}, torch::kInt64);
        if (device_.is_cuda()) {
            // Page-locked staging: the host-to-device copies run as DMA without a bounce buffer. The previous
            // step's copies are done (its loss was read on the host), so the staging buffers are free.
            const auto pinned = torch::TensorOptions().pinned_memory(true);
            if (!hostPx_.defined() || hostPx_.sizes() != px.sizes() || hostPx_.scalar_type() != px.scalar_type())
                hostPx_ = torch::empty(px.sizes(), pinned.dtype(px.scalar_type()));
            if (!hostLabels_.defined()) {
                hostLabels_ = torch::empty({B}, pinned.dtype(torch::kInt64));
                hostIdx_ = torch::empty({B}, pinned.dtype(torch::kInt64));
            }
            hostPx_.copy_(px);
            hostLabels_.copy_(labels);
            hostIdx_.copy_(idx);
            if (raw) {
                if (!rawDev_.defined()) rawDev_ = torch::empty({B, R, R, 3}, torch::TensorOptions().dtype(torch::kUInt8).device(device_));
                rawDev_.copy_(hostPx_, /*non_blocking=*/true);
                px_.copy_(normalizeRawPixels(rawDev_));
            } else {
                px_.copy_(hostPx_, /*non_blocking=*/true);
            }
            labels_.copy_(hostLabels_, true);
            idx_.copy_(hostIdx_, true);
        } else {
            px_.copy_(raw ? normalizeRawPixels(px) : px);
            labels_.copy_(labels);
            idx_.copy_(idx);
        }
        lr_.fill_(lr);
    }

    // The step as device work only: no host reads, no host-dependent branches.
    void body() {
        for (auto& [k, p] : model_.trainable())
            if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
        out_ = model_.trainForward(px_, labels_, idx_);
        out_.loss.backward();
        const auto finite = torch::isfinite(out_.loss.detach());
        sgd_.stepOnDevice(model_.trainable(), lr_, finite);
    }

#ifdef CASPL_WITH_CUDA
    // Captures body() as a graph; false (and eager steps from now on) when the capture fails. Capture records the
    // work without running it, so a failed capture has changed nothing on the device: the eager step that follows
    // starts from the same prompts, momentum and (reset) gradients.
    bool capture() {
        cudaDeviceSynchronize();
        auto stream = c10::cuda::getStreamFromPool();
        graph_ = std::make_unique<at::cuda::CUDAGraph>();
        try {
            c10::cuda::CUDAStreamGuard guard(stream);
            graph_->capture_begin();
            try {
                body();
            } catch (...) {
                try {
                    graph_->capture_end();  // leaves capture mode; the partial graph is dropped below
                } catch (...) {
                }
                throw;
            }
            graph_->capture_end();
        } catch (const std::exception& e) {
            graph_.reset();
            (void)cudaGetLastError();
            cudaDeviceSynchronize();
            captureError_ = errorSummary(e);
            mode_ = StepMode::Eager;
            return false;
        }
        cudaDeviceSynchronize();
        // The replay that follows runs the captured work for this batch.
        for (auto& [k, p] : model_.trainable())
            if (p.grad().defined()) staticGrads_[k] = p.grad();
        return true;
    }
    std::unique_ptr<at::cuda::CUDAGraph> graph_;
#endif

    PromptedClip& model_;
    PromptSgd& sgd_;
    StepMode mode_;
    int eagerLeft_;
    torch::Device device_;
    bool staticReady_ = false;
    torch::Tensor px_, labels_, idx_, lr_, hostPx_, hostLabels_, hostIdx_, rawDev_;
    MethodOutput out_, eagerOut_;
    TensorMap staticGrads_;
};

TrainStep::TrainStep(PromptedClip& model, PromptSgd& sgd, StepMode mode, int eagerSteps)
    : impl_(std::make_unique<Impl>(model, sgd, mode, eagerSteps)) {}
TrainStep::~TrainStep() = default;
const MethodOutput& TrainStep::run(const Batch& batch, double lr, const std::function<void(double)>& checkLoss) {
    return impl_->run(batch, lr, checkLoss);
}
bool TrainStep::captured() const { return impl_->captured(); }
const std::string& TrainStep::captureError() const { return impl_->captureError_; }

bool hasCheckpoint(const std::string& dir, const std::string& phase) {
    return !dir.empty() && (fs::exists(ckptBase(dir, phase) + ".safetensors") || fs::exists(ckptBase(dir, phase) + ".json"));
}

TrainResult trainPrompts(PromptedClip& model, ImageLoader& loader, const TrainOptions& o, EventSink& sink, const StopToken& stop) {
    o.schedule.validate();
    if (model.trainable().empty()) throw Error("nothing to train: " + model.config().describe() + " has no learnable prompts");
    const int E = o.schedule.maxEpoch;
    TrainResult result;
    PromptSgd sgd(o.momentum, o.weightDecay);
    TensorMap gpaSum;
    CheckpointState st;
    if (!o.checkpointDir.empty() && loadCheckpoint(o.checkpointDir, o.phase, model, sgd, gpaSum, st)) {
        result.resumed = true;
        result.resumedFromEpoch = st.epoch;
        sink.log(LogLevel::Info, o.phase + ": resuming after epoch " + std::to_string(st.epoch) +
                                     (st.batchesDone ? " and " + std::to_string(st.batchesDone) + " batches of the next" : ""));
    }
    {
        std::string names;
        for (const auto& [k, v] : model.trainable()) names += "\n  " + k + " " + shapeToString(v.sizes().vec());
        sink.log(LogLevel::Info, o.phase + ": " + model.config().describe() + "; " + std::to_string(model.trainable().size()) +
                                     " trainable tensors, " + std::to_string(model.trainableCount()) + " values:" + names);
    }
    const std::vector<double> gpaW = o.gpa ? gpaWeights(E, o.gpaMean, o.gpaStd) : std::vector<double>{};
    const int64_t perEpoch = loader.nominalBatches();
    const int64_t totalSteps = perEpoch * E;
    const auto t0 = std::chrono::steady_clock::now();
    int64_t stepsAtStart = st.epoch * perEpoch + st.batchesDone;
    TrainStep steps(model, sgd, o.stepMode, o.eagerSteps);
    bool captureWarned = false;
    result.skippedImages = st.skipped;
    result.finalLoss = st.lastEpochLoss;

    Batch batch;
    for (int epoch = st.epoch; epoch < E; ++epoch) {
        const double lr = o.schedule.lrAt(epoch);
        if (o.beforeEpoch) o.beforeEpoch(epoch);
        loader.start(uint64_t(epoch));
        int64_t b = 0;
        const int64_t skipBatches = epoch == st.epoch ? st.batchesDone : 0;
        // Resumed inside this epoch: its mean loss goes on from the batches trained before the stop.
        double lossSum = skipBatches ? st.lossSum : 0;
        int64_t lossCount = skipBatches ? st.lossCount : 0;
        while (loader.next(batch)) {
            if (b < skipBatches) {  // resuming inside an epoch: these batches (and their skipped images) were counted
                ++b;                // before the stop
                continue;
            }
            result.skippedImages += int64_t(batch.skipped.size());
            for (const auto& s : batch.skipped) sink.log(LogLevel::Warning, "skipped image " + s.path + ": " + s.reason);
            double loss = 0;
            const MethodOutput& out = steps.run(batch, lr, [&](double l) {
                loss = l;
                if (!std::isfinite(l))
                    throw RunFailed(o.phase + ": the loss is " + std::string(std::isnan(l) ? "NaN" : "infinite") + " at epoch " +
                                std::to_string(epoch + 1) + ", batch " + std::to_string(b + 1) +
                                "; lower the learning rate or use fp32 precision, then resume");
            });
            if (!captureWarned && !steps.captureError().empty()) {
                captureWarned = true;
                sink.log(LogLevel::Warning, o.phase + ": the training step could not be captured as a CUDA graph (" +
                                                steps.captureError() + "); training goes on with eager steps");
            }
            ++b;
            ++result.steps;
            lossSum += loss;
            ++lossCount;
            const int64_t done = epoch * perEpoch + b;
            const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            ProgressEvent pe{o.run, o.phase, epoch + 1, E, done, totalSteps, elapsed, -1, o.dataset, o.shots, o.seed};
            const int64_t doneHere = done - stepsAtStart;
            if (doneHere > 0) pe.etaSeconds = elapsed / double(doneHere) * double(totalSteps - done);
            sink.progress(pe);
            if (o.metricEvery <= 1 || b % o.metricEvery == 0 || b == perEpoch) {
                MetricEvent me{o.run, o.phase, epoch + 1, done, {{"loss", loss}, {"lr", lr}}, o.dataset, o.shots, o.seed};
                for (const auto& [k, v] : out.values)
                    if (k.rfind("loss.", 0) == 0 && k != "loss.total" && v.numel() == 1) me.values[k] = v.item<double>();
                sink.metric(me);
            }
            if (stop.requested()) {
                if (!o.checkpointDir.empty())
                    saveCheckpoint(o.checkpointDir, o.phase, model, sgd, gpaSum, {epoch, b, result.finalLoss, result.skippedImages, lossSum, lossCount});
                loader.stop();
                throw Interrupted{o.phase + " epoch " + std::to_string(epoch + 1) + " batch " + std::to_string(b)};
            }
        }
        if (stop.requested()) {
            if (!o.checkpointDir.empty())
                saveCheckpoint(o.checkpointDir, o.phase, model, sgd, gpaSum, {epoch, b, result.finalLoss, result.skippedImages, lossSum, lossCount});
            throw Interrupted{o.phase + " epoch " + std::to_string(epoch + 1)};
        }
        if (lossCount) result.finalLoss = lossSum / double(lossCount);
        if (o.gpa) {
            torch::NoGradGuard g;
            const double w = gpaW[std::size_t(epoch)];
            for (auto& [k, p] : model.trainable()) {
                auto it = gpaSum.find(k);
                if (it == gpaSum.end()) gpaSum[k] = p.detach() * w;
                else it->second.add_(p.detach() * w);
            }
        }
        result.epochs = epoch + 1;
        if (!o.checkpointDir.empty())
            saveCheckpoint(o.checkpointDir, o.phase, model, sgd, gpaSum, {epoch + 1, 0, result.finalLoss, result.skippedImages});
        sink.log(LogLevel::Info, o.phase + ": epoch " + std::to_string(epoch + 1) + "/" + std::to_string(E) + " mean loss " +
                                     std::to_string(result.finalLoss) + ", lr " + std::to_string(lr));
    }
    result.epochs = E;
    if (o.gpa && !gpaSum.empty()) {
        // The aggregated prompts replace the last ones (spec §3.6).
        torch::NoGradGuard g;
        for (auto& [k, p] : model.trainable()) {
            const torch::Tensor& mean = gpaSum.at(k);
            // Finite prompts of every epoch give finite weighted sums; this guards the sum itself, so that a bad
            // aggregate is never saved and evaluated as if it were trained prompts.
            if (!torch::isfinite(mean).all().item<bool>())
                throw RunFailed(o.phase + ": the Gaussian prompt aggregation of " + k +
                                " is not finite; check method.gpa_mean and method.gpa_std against train.epochs");
            p.copy_(mean);
        }
    }
    return result;
}

namespace {

// A started loader's batches with the next one uploaded ahead: while the device computes on batch i, batch i+1 is
// fetched and, on CUDA, copied through a page-locked buffer on a side stream (events order the copy before its
// use and the reuse of a buffer after its last use). Usage: while (advance()) { launch work on pixels();
// prefetch(); read the results; }. Off CUDA the pixels are the loader's memory.
class PrefetchedBatches {
public:
    PrefetchedBatches(ImageLoader& loader, torch::Device device) : loader_(loader), device_(device) {}

    bool advance() {
        if (!prefetched_) prefetch();
        prefetched_ = false;
        Slot& s = slots_[std::size_t(pending_)];
        if (!s.have) return false;
#ifdef CASPL_WITH_CUDA
        if (current_ >= 0 && device_.is_cuda()) slots_[std::size_t(current_)].consumed.record(c10::cuda::getCurrentCUDAStream());
        if (device_.is_cuda()) {
            const auto compute = c10::cuda::getCurrentCUDAStream();
            s.ready.block(compute);
            // The buffer was allocated on the side stream: tell the allocator the compute stream uses it too, so
            // that freeing it (a reallocation, the end) waits for this work.
            s.dev.record_stream(compute);
        }
#endif
        current_ = pending_;
        pixels_ = s.batch.raw.empty() ? s.dev : normalizeRawPixels(s.dev);
        return true;
    }
    const Batch& batch() const { return slots_[std::size_t(current_)].batch; }
    const torch::Tensor& pixels() const { return pixels_; }

    void prefetch() {
        pending_ = current_ < 0 ? 0 : 1 - current_;
        prefetched_ = true;
        Slot& s = slots_[std::size_t(pending_)];
#ifdef CASPL_WITH_CUDA
        if (s.used && device_.is_cuda()) s.ready.synchronize();  // its last copy has left the staging buffer
#endif
        s.have = loader_.next(s.batch);
        if (!s.have) return;
        const auto host = hostPixels(s.batch);
        if (!device_.is_cuda()) {
            s.dev = device_.is_cpu() ? host : host.to(device_);
            return;
        }
#ifdef CASPL_WITH_CUDA
        if (!s.host.defined() || s.host.sizes() != host.sizes() || s.host.scalar_type() != host.scalar_type())
            s.host = torch::empty(host.sizes(), torch::TensorOptions().dtype(host.scalar_type()).pinned_memory(true));
        s.host.copy_(host);
        {
            c10::cuda::CUDAStreamGuard guard(side_);
            // Allocated on the side stream, which writes it first (a block the compute stream freed could still be
            // in use by its queued work).
            if (!s.dev.defined() || s.dev.sizes() != host.sizes() || s.dev.scalar_type() != host.scalar_type()) {
                s.dev = torch::empty(host.sizes(), torch::TensorOptions().dtype(host.scalar_type()).device(device_));
                s.used = false;  // a fresh buffer has no earlier use to wait for
            }
            if (s.used) s.consumed.block(side_);  // the device is done with the previous batch in this buffer
            s.dev.copy_(s.host, /*non_blocking=*/true);
            s.ready.record(side_);
        }
        s.used = true;
#endif
    }

private:
    struct Slot {
        Batch batch;
        bool have = false, used = false;
        torch::Tensor host, dev;
#ifdef CASPL_WITH_CUDA
        at::cuda::CUDAEvent ready, consumed;
#endif
    };
    ImageLoader& loader_;
    torch::Device device_;
    Slot slots_[2];
    int current_ = -1, pending_ = 0;
    bool prefetched_ = false;
    torch::Tensor pixels_;
#ifdef CASPL_WITH_CUDA
    c10::cuda::CUDAStream side_ = c10::cuda::getStreamFromPool();
#endif
};

}  // namespace

torch::Tensor computeTeacherFeatures(ClipModel& teacher, const std::vector<Datum>& items, const LoaderOptions& studentLoader,
                                     int epoch, int batchSize, const StopToken* stop) {
    torch::NoGradGuard g;
    LoaderOptions lo = studentLoader;
    lo.shuffle = false;  // order does not change an item's crop; sequential reads are kinder to the disk
    lo.dropLast = false;
    lo.batchSize = batchSize;
    lo.onSkip = nullptr;
    if (stop) lo.cancel = stop->flag();
    ImageLoader loader(items, lo);
    const auto dev = teacher->positional_embedding.device();
    torch::Tensor out = torch::zeros({int64_t(items.size()), teacher->config().embedDim}, torch::TensorOptions().device(dev));
    loader.start(uint64_t(epoch));
    PrefetchedBatches batches(loader, dev);
    while (batches.advance()) {
        const Batch& batch = batches.batch();
        auto f = teacher->encodeImage(batches.pixels()).to(torch::kFloat32);
        auto idx = torch::from_blob(const_cast<int64_t*>(batch.indices.data()), {batch.size()}, torch::kInt64).clone().to(dev);
        out.index_copy_(0, idx, f);
        batches.prefetch();
    }
    if (stop && stop->requested()) throw Interrupted{"teacher cache"};
    return out;
}

EvalResult evaluatePrompts(PromptedClip& model, ImageLoader& loader, EventSink* sink, const StopToken* stop,
                           const std::string& run, const std::string& phase, const std::string& dataset, int shots, int seed) {
    torch::NoGradGuard g;
    EvalResult r;
    torch::Tensor text;
    if (!model.textDependsOnImage()) text = model.normalizedTextFeatures();
    loader.start(0);
    const int64_t steps = loader.nominalBatches();
    int64_t b = 0;
    const auto t0 = std::chrono::steady_clock::now();
    PrefetchedBatches batches(loader, model.device());
    while (batches.advance()) {
        const Batch& batch = batches.batch();
        r.skipped += int64_t(batch.skipped.size());
        if (sink)
            for (const auto& s : batch.skipped) sink->log(LogLevel::Warning, "skipped image " + s.path + ": " + s.reason);
        auto predDevice = model.evalLogits(batches.pixels(), text).argmax(-1);
        batches.prefetch();  // the next batch loads and uploads while this one computes
        auto pred = predDevice.to(torch::kCPU).contiguous();
        auto labels = torch::from_blob(const_cast<int64_t*>(batch.labels.data()), {batch.size()}, torch::kInt64);
        r.correct += pred.eq(labels).sum().item<int64_t>();
        r.total += batch.size();
        const int64_t* predicted = pred.data_ptr<int64_t>();
        for (int64_t i = 0; i < batch.size(); ++i) r.classes.add(batch.labels[std::size_t(i)], predicted[i]);
        ++b;
        if (sink) {
            const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            sink->progress({run, phase, 1, 1, b, steps, el, b ? el / double(b) * double(std::max<int64_t>(0, steps - b)) : -1, dataset, shots, seed});
        }
        if (stop && stop->requested()) {
            loader.stop();
            throw Interrupted{phase};
        }
    }
    if (sink) {
        const LoaderStats ls = loader.stats();
        if (ls.cacheDamaged > 0)
            sink->log(LogLevel::Warning, phase + ": " + std::to_string(ls.cacheDamaged) + " image(s) of the image cache (" +
                                             loader.options().cacheDir + ") did not match their checksum and were decoded again");
        if (!ls.cacheError.empty()) sink->log(LogLevel::Warning, phase + ": " + ls.cacheError);
    }
    // A loader that was stopped (its cancel flag is the stop token's) ends its epoch early, without a batch: what was
    // counted is not the split's accuracy and is never returned as one.
    if ((stop && stop->requested()) || loader.stopRequested()) throw Interrupted{phase};
    if (!loader.options().dropLast && r.total + r.skipped != int64_t(loader.size()))
        throw Error(phase + ": the evaluation ended after " + std::to_string(r.total + r.skipped) + " of " +
                    std::to_string(loader.size()) + " images");
    if (r.total == 0)
        throw Error(phase + ": none of the " + std::to_string(loader.size()) +
                    " images could be read (each skipped image is named in the log), so there is no accuracy");
    return r;
}

}  // namespace caspl
