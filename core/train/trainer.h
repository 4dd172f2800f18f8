#pragma once
// Training and evaluating a PromptedClip (spec §2.3-2.4): Dassl's SGD (momentum 0.9, weight decay 5e-4, no
// dampening, no Nesterov) on the learnable prompts only, the per-epoch LR of schedule.h, drop_last batches from the
// deterministic loader, PromptSRC's Gaussian prompt aggregation, a NaN/Inf guard, events every step, cancellation
// every step, and an atomic checkpoint after every epoch and on stop, from which a run resumes exactly.
//
// Resume is exact because nothing random is left in a checkpoint's future but (seed, epoch, index): the loader's
// order and every crop are functions of those (core/data/loader.h), and the prompts' initial draw happened before
// the first step. A checkpoint holds the prompts, the momentum buffers, the GPA accumulator, the epoch and the
// number of batches done in it.
//
// Includes LibTorch: include only from engine .cpp files.
#include "core/data/loader.h"
#include "core/engine/events.h"
#include "core/experiment/per_class.h"
#include "core/methods/prompted_clip.h"
#include "core/train/schedule.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace caspl {

// How a training step runs. Eager: forward, loss check, backward, SGD, one LibTorch call after another.
// CudaGraph: after `eagerSteps` eager steps (they create the momentum buffers and warm up cuBLAS/cuDNN), the whole
// step (forward, backward and the SGD update, with the learning rate as a device tensor and the update skipped
// on device when the loss is not finite) is captured once as a CUDA graph and replayed for every later batch of
// the same size, so a step costs one launch instead of thousands. Off CUDA the same static-buffer step runs
// without capture (what the CPU tests check against Eager). Batches of another size run eagerly.
enum class StepMode { Eager, CudaGraph };

struct TrainOptions {
    std::string run;                 // run id for events
    std::string phase = "phase2";    // event label and checkpoint prefix
    std::string dataset;             // for the metric events: which training of the run this is
    int shots = 0, seed = 0;
    LrSchedule schedule;             // baseLr, maxEpoch (= epochs), warm-up
    double momentum = 0.9;
    double weightDecay = 5e-4;
    bool gpa = false;                // PromptSRC's Gaussian prompt aggregation
    double gpaMean = 15, gpaStd = 1;
    std::string checkpointDir;       // empty: no checkpoints
    int64_t metricEvery = 1;         // metric events every N steps (and the last step of each epoch)
    // Called before each epoch's first batch (e.g. to fill the phase-1 teacher cache for that epoch's crops).
    std::function<void(int epoch)> beforeEpoch;
    StepMode stepMode = StepMode::Eager;
    int eagerSteps = 2;              // CudaGraph: eager steps before the capture (at least 1)
};

struct TrainResult {
    int epochs = 0;          // epochs completed
    int64_t steps = 0;       // optimisation steps taken in this call
    double finalLoss = 0;    // mean loss of the last epoch
    bool resumed = false;
    int resumedFromEpoch = 0;
    int64_t skippedImages = 0;
};

// Dassl/PyTorch SGD written out (d = g + wd*p; buf = d on the first step, else momentum*buf + d; p -= lr*buf) so its
// state can be checkpointed and compared with the reference exactly.
class PromptSgd {
public:
    PromptSgd(double momentum, double weightDecay) : momentum_(momentum), wd_(weightDecay) {}
    void step(TensorMap& params, double lr);
    // The same update with the learning rate in a 0-dim fp32 tensor and every write skipped where `apply` (a 0-dim
    // bool tensor) is false; no host value is read, so it can be captured in a CUDA graph. Needs the momentum
    // buffers of an earlier step() when momentum is used.
    void stepOnDevice(TensorMap& params, const torch::Tensor& lr, const torch::Tensor& apply);
    TensorMap& buffers() { return buf_; }

private:
    double momentum_, wd_;
    TensorMap buf_;
};

// One optimisation step per call (forward, loss, backward, SGD), eager or through static buffers that CUDA
// captures as a graph (StepMode). The trainer's step; public for `caspl bench`.
class TrainStep {
public:
    TrainStep(PromptedClip& model, PromptSgd& sgd, StepMode mode, int eagerSteps = 2);
    ~TrainStep();
    // Trains on `batch` with learning rate `lr`. `checkLoss` (optional) sees the loss and may throw to stop: an
    // eager step then has not updated anything; a static step has skipped its update on the device when the loss
    // is not finite. The returned output lives until the next call.
    const MethodOutput& run(const Batch& batch, double lr, const std::function<void(double loss)>& checkLoss = {});
    bool captured() const;  // a CUDA graph is being replayed
    // Why the CUDA graph could not be captured ("" when it was, or was not tried); the steps then run eagerly.
    const std::string& captureError() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Trains `model` on `loader` (train mode, drop_last as configured) for schedule.maxEpoch epochs, resuming from the
// checkpoint in options.checkpointDir when one exists. Throws caspl::Error on a NaN/Inf loss, and Interrupted
// after writing a checkpoint when `stop` is requested.
TrainResult trainPrompts(PromptedClip& model, ImageLoader& loader, const TrainOptions& options, EventSink& sink,
                         const StopToken& stop);

struct EvalResult {
    int64_t correct = 0;
    int64_t total = 0;
    int64_t skipped = 0;
    ClassTallies classes;  // per true class: images, correct, where the wrong ones went
    double accuracy() const { return total ? 100.0 * double(correct) / double(total) : 0.0; }
};

// Top-1 accuracy of `model` over `loader` (eval mode). Text features are computed once (all methods but CoCoOp).
// Progress events name the training evaluated (`dataset`, `shots`, `seed`). A stop, or a loader that ends early,
// throws Interrupted; an evaluation that could read no image throws caspl::Error: never a partial count.
EvalResult evaluatePrompts(PromptedClip& model, ImageLoader& loader, EventSink* sink = nullptr, const StopToken* stop = nullptr,
                           const std::string& run = "", const std::string& phase = "eval", const std::string& dataset = "",
                           int shots = 0, int seed = 0);

// CasPL phase-1 teacher cache: the teacher's image features of every item of `items` under epoch `epoch`'s
// training crops (the same crops the student's loader makes: same seed, size and crop options), computed in
// batches of `batchSize`. Row i belongs to item i; rows of images that fail to load stay zero.
torch::Tensor computeTeacherFeatures(ClipModel& teacher, const std::vector<Datum>& items, const LoaderOptions& studentLoader,
                                     int epoch, int batchSize, const StopToken* stop = nullptr);

// Pixels of a loader batch as a normalised [B, 3, R, R] float tensor on `device`. A batch of raw bytes
// (LoaderOptions::rawPixels) moves as bytes and is normalised there, bit-identical to the loader's own floats.
torch::Tensor batchPixels(const Batch& batch, torch::Device device);
// [B, R, R, 3] uint8 (HWC) -> [B, 3, R, R] float32, CLIP mean/std normalised, on the tensor's device.
torch::Tensor normalizeRawPixels(const torch::Tensor& raw);

// Checkpoint files: <dir>/<phase>.checkpoint.safetensors + <phase>.checkpoint.json.
bool hasCheckpoint(const std::string& dir, const std::string& phase);

}  // namespace caspl
