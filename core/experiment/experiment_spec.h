#pragma once
// What an experiment is: the resolved, validated content of a preset (presets/*.yaml) or of a user's YAML file
// after layering and command-line overrides (spec_loader.h). Plain structs, no LibTorch, no Qt: the trainer, the
// run store, the CLI and the GUI all read this.
//
// YAML layout (snake_case keys; every key, its type, range and default: `caspl presets keys`):
//   name, description, source    what the experiment is and where its values come from (per file, not inherited)
//   data:    root, datasets, protocol, shots, seeds, image_cache, loader_threads, eval_splits, eval_datasets
//   models:  dir, student, teacher
//   method:  name, n_ctx_text, n_ctx_vision, depth_text, depth_vision, ctx_init, csc, class_token_position,
//            text_loss_weight, image_loss_weight, gpa_mean, gpa_std
//   phase1:  enabled, n_text, n_vision, depth_text, depth_vision, ctx_init, epochs, batch_size, lr, temperature,
//            pool, pool_folder, teacher_cache, artifact, seed
//   train:   epochs, batch_size, lr, momentum, weight_decay, warmup_epochs, warmup_lr, warmup_type, lr_scheduler,
//            precision, device, text_chunk, crop_scale_min, cuda_graphs, tensorboard
//   eval:    batch_size, rounding
//   reference: source, dataset, method, shots, base, novel, hm, all   (published numbers to compare with)
//   output   the folder that receives the run folders
// plus, per file only: extends (files merged first, in order) and abstract (a fragment, not a runnable preset).
//
// Defaults are Dassl's / the CoOp lineage's common settings (spec §2.3, §4.4); method, prompt sizes, epochs, batch
// size and learning rate come from the presets. Relative paths (data.root, models.dir, image_cache, pool_folder,
// artifact, output) are relative to the working directory of the run.
#include "core/methods/method_config.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace caspl {

// Spec §5: which classes are trained and evaluated.
enum class Protocol {
    Base2Novel,            // train on the base half of the classes (K shots), test on base and on novel (§5.4)
    FewShot,               // train on all classes with K shots, test on all (§5.3, §6.3)
    All,                   // all classes, K shots (or every image with K = -1), test on all
    CrossDataset,          // train on one dataset (ImageNet), test on other datasets whole (§5.7)
    DomainGeneralization,  // train on ImageNet, test on ImageNetV2/-Sketch/-A/-R (§5.7)
};
enum class Phase1Pool { Train, Test, Folder };  // the unlabeled images phase 1 distils on (§4.2)
enum class Precision { Fp32, Bf16, Fp16 };
enum class Device { Auto, Cpu, Cuda };          // auto: CUDA when the build and the machine have it
enum class WarmupType { Constant, Linear };     // Dassl WARMUP_TYPE
enum class LrScheduler { Cosine, Constant };
enum class Rounding {
    Paper,  // each seed's accuracy rounded to 1 decimal (as the reference logs it) before averaging (§2.4)
    None,   // exact accuracies
};

const char* protocolName(Protocol p);      // "base2novel", "fewshot", "all", "cross_dataset", "domain_generalization"
const char* phase1PoolName(Phase1Pool p);  // "train", "test", "folder"
const char* precisionName(Precision p);    // "fp32", "bf16", "fp16"
const char* deviceName(Device d);          // "auto", "cpu", "cuda"
const char* warmupTypeName(WarmupType w);  // "constant", "linear"
const char* lrSchedulerName(LrScheduler s);  // "cosine", "constant"
const char* roundingName(Rounding r);      // "paper", "none"
// The inverses throw caspl::Error listing the valid names.
Protocol parseProtocol(const std::string& name);
Phase1Pool parsePhase1Pool(const std::string& name);
Precision parsePrecision(const std::string& name);
Device parseDevice(const std::string& name);
WarmupType parseWarmupType(const std::string& name);
LrScheduler parseLrScheduler(const std::string& name);
Rounding parseRounding(const std::string& name);

struct DataSpec {
    std::string root = "data";           // the folder holding oxford_pets/, caltech-101/, ... (CoOp's layout)
    std::vector<std::string> datasets;   // Dassl names (e.g. "OxfordPets"); other names: the user's own datasets
    Protocol protocol = Protocol::Base2Novel;
    std::vector<int> shots{16};          // K per class; -1: every training image. Several: one run per K
    std::vector<int> seeds{1, 2, 3};     // one run per seed (>= 1)
    std::string imageCache;              // folder of the decoded evaluation-image cache; "" = none
    int loaderThreads = 0;               // image decoding threads; 0 = every core
    // Resolved at load time from the protocol when not given: base2novel [base, novel]; others [all].
    std::vector<std::string> evalSplits;
    // cross_dataset / domain_generalization: the datasets tested (resolved from the protocol when not given).
    std::vector<std::string> evalDatasets;
};

struct ModelsSpec {
    std::string dir = "models";         // where CLIP names are looked up (resolveModelPath)
    std::string student = "ViT-B/16";   // a CLIP name or a path to a checkpoint file/folder
    std::string teacher = "ViT-L/14";   // phase 1 only
};

// The base method's own (adapting) prompts: the fields of MethodConfig (core/methods/method_config.h).
struct MethodSpec {
    MethodKind kind = MethodKind::CoOp;  // method.name (required in a file)
    int nCtxText = 4;
    int nCtxVision = 0;
    int depthText = 1;
    int depthVision = 0;
    std::string ctxInit = "a photo of a";
    bool csc = false;
    std::string classTokenPosition = "end";
    double textLossWeight = 25.0;
    double imageLossWeight = 10.0;
    double gpaMean = 15.0;
    double gpaStd = 1.0;
};

// CasPL phase 1 (spec §4.2): boosting prompts distilled from the teacher. Momentum, weight decay, warm-up,
// scheduler, precision and device are those of `train`.
struct Phase1Spec {
    bool enabled = false;
    int nText = 8, nVision = 8;
    int depthText = 12, depthVision = 12;
    std::string ctxInit = "a photo of a";  // used only when n_text <= 4 (§4.9 item 5)
    int epochs = 20;
    int batchSize = 4;
    double lr = 0.0025;
    double temperature = 1.0;
    Phase1Pool pool = Phase1Pool::Train;
    std::string poolFolder;      // pool == Folder: a folder of unlabeled images
    bool teacherCache = false;   // precompute the teacher's features of each epoch's exact crops (docs/caspl-decisions.md)
    std::string artifact;        // boosting prompts to reuse instead of training phase 1; "" = train them
    int seed = 1;                // the reference trains phase 1 once (seed 1) for all phase-2 seeds
};

// The method's training (CasPL phase 2, or the only phase without CasPL). SGD as Dassl (§2.3).
struct TrainSpec {
    int epochs = 10;
    int batchSize = 32;
    double lr = 0.002;
    double momentum = 0.9;
    double weightDecay = 5e-4;
    int warmupEpochs = 1;
    double warmupLr = 1e-5;
    WarmupType warmupType = WarmupType::Constant;
    LrScheduler lrScheduler = LrScheduler::Cosine;
    Precision precision = Precision::Fp32;
    Device device = Device::Auto;
    int textChunk = 0;  // classes per text-encoder pass (memory); 0 = all at once
    double cropScaleMin = 0.08;  // RandomResizedCrop's smallest crop area fraction (torchvision's 0.08)
    bool cudaGraphs = false;     // replay each fixed-size training step as a CUDA graph (both phases; CUDA only)
    bool tensorboard = true;     // write TensorBoard event files under <run>/tensorboard while the run runs
};

struct EvalSpec {
    int batchSize = 100;
    Rounding rounding = Rounding::Paper;
};

// Published numbers to compare the results with (`reference:`), such as the paper's table row for this dataset and
// method. Shown next to the run's own numbers (studio, results.csv, `caspl export`) for the results of the same
// dataset, method and K: an experiment that extends a preset and changes one of them compares with nothing. Never
// used in training, and not part of the experiment's identity (resolvedHash): adding or correcting one keeps a run
// folder resumable.
struct ReferenceSpec {
    std::string source;     // where the numbers come from, e.g. "CasPL paper, Fig. 3"
    std::string dataset;    // the dataset they belong to ("" = the experiment's only tested dataset)
    std::string method;     // the method, as results name it ("coop+caspl"; "" = the experiment's own)
    int shots = 0;          // the K they were measured at (0 = the experiment's K; required when it runs several)
    std::optional<double> base, novel, all;  // accuracy, percent
    std::optional<double> hm;  // the published HM (computed from unrounded means, so it may differ from the HM of
                               // the rounded base and novel by 0.01); when not given, the HM of base and novel
    bool empty() const { return !base && !novel && !all && !hm; }
    bool operator==(const ReferenceSpec& o) const;
    bool operator!=(const ReferenceSpec& o) const { return !(*this == o); }
};

struct ExperimentSpec {
    std::string name;         // defaults to the preset name / the file's stem
    std::string description;
    std::string source;       // where the values come from (config files, spec sections)
    DataSpec data;
    ModelsSpec models;
    MethodSpec method;
    Phase1Spec phase1;
    TrainSpec train;
    EvalSpec eval;
    ReferenceSpec reference;
    std::string output = "runs";

    // Not part of the experiment (not serialised, not hashed): the files merged, in order, then each "--set k=v".
    std::vector<std::string> layers;

    bool operator==(const ExperimentSpec& o) const;  // compares the experiment, not `layers`
    bool operator!=(const ExperimentSpec& o) const { return !(*this == o); }
};

// The phase-2 (or only) method: the method's prompts, plus the frozen boosting layout when phase 1 is enabled.
// `dataset` (optional) fills zeroShotTemplate with that dataset's hand-written template.
MethodConfig toMethodConfig(const ExperimentSpec& spec, const std::string& dataset = "");
// The phase-1 method: IVLP-shaped boosting prompts trained by distillation at phase1.temperature.
MethodConfig toPhase1MethodConfig(const ExperimentSpec& spec);
// The method as results name it: "promptsrc", "promptsrc+caspl", ...
std::string methodLabel(const ExperimentSpec& spec);

// A model given by CLIP name ("ViT-B/16") or path. An existing file or folder is returned as is; otherwise the
// name is looked up under models.dir as <dir>/ViT-B-16.safetensors, <dir>/ViT-B-16.pt, <dir>/ViT-B-16/ and (for
// OpenAI's released sizes) the Hugging Face folder name, e.g. <dir>/clip-vit-base-patch16/. Throws caspl::Error
// naming every place tried.
std::string resolveModelPath(const ModelsSpec& models, const std::string& nameOrPath);
// The candidate paths resolveModelPath tries, in order.
std::vector<std::string> modelPathCandidates(const ModelsSpec& models, const std::string& nameOrPath);
// Transformer layers per tower of a released CLIP name (12 for ViT-B/*, 24 for ViT-L/14*), -1 when unknown.
int clipLayersByName(const std::string& name);

}  // namespace caspl
