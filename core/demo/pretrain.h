#pragma once
// Contrastive image-text pretraining of small CLIPs for the demo, and the demo's models: a larger "teacher" and a
// smaller "student" CLIP trained from scratch on Fashion-MNIST captions, since real CLIP weights cannot be
// downloaded everywhere. The interface has no LibTorch (the CLI and the GUI call it); pretrain.cpp has.
//
// Model: the project's ClipModel (core/clip/clip_model.h) with the architecture given, initialised as OpenAI's
// clip/model.py does: the text tower by CLIP.initialize_parameters (token embedding N(0, 0.02), positional
// N(0, 0.01), attention in_proj N(0, width^-0.5), out_proj and c_proj N(0, width^-0.5 (2 layers)^-0.5), c_fc
// N(0, (2 width)^-0.5), text_projection N(0, width^-0.5)); the vision tower as VisionTransformer.__init__ does
// (class/positional embeddings and proj width^-0.5 N(0, 1), conv1 and the blocks' Linear layers PyTorch's default
// Kaiming-uniform, in_proj Xavier-uniform as nn.MultiheadAttention); biases 0 except the Linear layers' default
// uniform biases, LayerNorms 1/0, logit_scale log(1/0.07). The draws come from torch::manual_seed(seed).
//
// Data: (image, caption) pairs. An image's caption in an epoch is one of the templates filled with its class name
// (fillTemplate), the template drawn from AugmentRng::forSample(seed, epoch, index, caption stream). Images go
// through the project's loader (core/data/loader.h) in train mode (its RandomResizedCrop + flip at the model's
// resolution, by default flips only, see `crop`), CLIP's normalisation; each image appears once per epoch and at
// most once per batch.
//
// Loss: CLIP's symmetric InfoNCE over the batch, logits = exp(logit_scale) * cos(image_i, caption_j), with the
// label-aware targets of UniCL (Yang et al., 2022): as captions repeat class names, caption j is a positive of
// image i whenever both have the same class (the target row is uniform over those), rather than only when j = i,
// so images of one class are not pushed away from their own class's captions. With all classes distinct this is
// CLIP's loss exactly. logit_scale is learnable and clamped to [0, ln 100] after every step, as in CLIP.
// Optimiser: torch::optim::AdamW (betas 0.9/0.98, eps 1e-6; weight decay on matrices only, not on gains, biases
// or logit_scale, as open_clip), linear warm-up then cosine decay to 0 per step, gradient norm clipped at 1.
// Text: a batch's distinct captions are encoded once, cut after the longest one's end token (the causal mask makes
// the result identical to the full context).
#include "core/clip/clip_config.h"
#include "core/data/dataset.h"
#include "core/demo/bpe_learner.h"
#include "core/demo/fashion_mnist.h"
#include "core/engine/events.h"
#include "core/image/preprocess.h"

#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

struct ClipPretrainOptions {
    std::string phase = "pretrain";  // event label, e.g. "pretrain-teacher"
    std::string run;                 // run id for events
    ClipConfig architecture;         // vocabSize is replaced by the tokenizer's
    int epochs = 10;
    int batchSize = 128;
    double lr = 2e-3;
    double weightDecay = 0.1;
    double warmupFraction = 0.1;     // of all steps
    double gradClip = 1.0;           // max global gradient norm; 0: no clipping
    uint64_t seed = 1;
    int64_t maxSteps = 0;            // > 0: stop after this many steps (smoke tests)
    int loaderThreads = 1;
    // Train-time augmentation. Default: horizontal flips only (scale and ratio 1: the crop is the whole image and
    // the resize to the same size is a copy). Random resized crops of 28-pixel images blur them through the bicubic
    // resampling, unlike the test images, and cost the small models several points of zero-shot accuracy.
    RandomResizedCropOptions crop{1.0, 1.0, 1.0, 1.0, 10, 0.5};
    std::vector<std::string> templates;  // caption templates with "{}"; empty: demoCaptionTemplates()
};

struct ClipPretrainResult {
    std::string folder;               // model.safetensors + vocab.json + merges.txt + pretrain.json
    bool cached = false;              // found complete, nothing trained
    int64_t steps = 0;
    double seconds = 0;               // training time (of the original run when cached)
    std::vector<double> epochLoss;    // mean loss per epoch
    std::vector<double> stepLoss;     // every step's loss
    double logitScale = 0;            // exp(logit_scale) at the end
    int64_t parameters = 0;
};

// The caption templates: simple ones ("a photo of a {}.", "a {}.", ...) and a subset of imagenetTemplates().
const std::vector<std::string>& demoCaptionTemplates();
// Every caption: each template filled with each class name (template-major).
std::vector<std::string> demoCaptions(const std::vector<std::string>& classnames,
                                      const std::vector<std::string>& templates);

// Trains a CLIP from scratch on `items` (labels index `classnames`) with the tokenizer in `bpe`, and writes
// <outFolder>/{model.safetensors (saveClipSafetensors), vocab.json, merges.txt, pretrain.json}, atomically (a
// temporary folder renamed into place). When <outFolder>/pretrain.json records the same options, data and
// vocabulary (`dataStamp` names the data; e.g. fashionMnistStamp()), nothing is trained (result.cached). Events go
// to `sink` (progress and loss/lr/logit_scale metrics every step, a log line per epoch); Interrupted when `stop` is
// requested (nothing is written). Throws caspl::Error for bad options or a non-finite loss.
ClipPretrainResult pretrainClip(const std::vector<Datum>& items, const std::vector<std::string>& classnames,
                                const LearnedBpe& bpe, const ClipPretrainOptions& options,
                                const std::string& dataStamp, const std::string& outFolder, EventSink& sink,
                                const StopToken& stop);

struct ZeroShotResult {
    double accuracy = 0;                // top-1 over all classes, percent
    double baseAccuracy = 0;            // classes [0, ceil(n/2)) among themselves (Dassl's base split)
    double novelAccuracy = 0;           // the other classes among themselves
    std::vector<double> perClass;       // over all classes, percent
    int64_t correct = 0, total = 0;
    int64_t baseCorrect = 0, baseTotal = 0, novelCorrect = 0, novelTotal = 0;
};

// Zero-shot top-1 accuracy of the model in `modelFolder` (loadClip + ClipTokenizer::load) on `items`, text
// classifier = the template filled with each class name, images through the eval transform at the model's
// resolution. Throws caspl::Error when a file is missing.
ZeroShotResult zeroShotAccuracy(const std::string& modelFolder, const std::vector<Datum>& items,
                                const std::vector<std::string>& classnames,
                                const std::string& tmpl = "a photo of a {}.", int batchSize = 500);

// ---- The demo's two models ----------------------------------------------------------------------------------------

struct DemoModelsOptions {
    FashionMnistOptions data;
    BpeLearnOptions bpe;
    ClipPretrainOptions teacher, student;
    std::string zeroShotTemplate = "a photo of a {}.";
};

// The defaults, sized for the demo's time budget (pretraining well under four minutes on two CPU cores):
//   data     2,000 pretraining images per class (20,000), 50 few-shot train, 10 val and 150 test images per class;
//   teacher  ViT vision 128 wide x 4 layers (4 heads, patch 7 at 28 px: 16 patches), text 128 x 3 layers (4 heads),
//            embed 128, context 32; 5 epochs of batches of 128 (780 steps), lr 2e-3;
//   student  vision 64 x 2 layers (2 heads, patch 7), text 64 x 2 layers (2 heads), embed 64, context 32; 1 epoch
//            (156 steps), lr 2e-3.
// Fashion-MNIST is close to linearly separable, so a small model trained as long as the teacher comes within a few
// points of it; the student gets a small fraction of the teacher's compute (as small public CLIPs are trained on
// less), which leaves the clear zero-shot gap (about 88% vs 77%) that CasPL's distillation is meant to close.
DemoModelsOptions defaultDemoModelsOptions();

// The options as JSON: {"data": {"source_dir", "pretrain_per_class", "train_per_class", "val_per_class",
// "test_per_class"}, "bpe": {"max_merges", "min_pair_count"}, "teacher" / "student": {"architecture": {"embed_dim",
// "image_resolution", "vision_layers", "vision_width", "vision_heads", "patch_size", "context_length", "text_width",
// "text_heads", "text_layers"}, "epochs", "batch_size", "lr", "weight_decay", "warmup_fraction", "grad_clip",
// "seed", "max_steps", "loader_threads", "crop": {"scale_min", "scale_max", "ratio_min", "ratio_max",
// "flip_probability"}, "templates": [...]}, "zero_shot_template"}.
std::string demoModelsOptionsToJson(const DemoModelsOptions& options);
// Overlays the keys present in `jsonText` on `base`. Throws caspl::Error naming `source` and the key for invalid
// JSON, an unknown key or a value of the wrong type.
DemoModelsOptions demoModelsOptionsFromJson(const std::string& jsonText, const std::string& source,
                                            DemoModelsOptions base = defaultDemoModelsOptions());

struct DemoModels {
    FashionMnistData data;
    std::string vocabFolder;  // <cache>/demo-models/vocab
    LearnedBpe bpe;
    double bpeSeconds = 0;
    ClipPretrainResult teacher, student;    // folders <cache>/demo-models/{teacher,student}
    ZeroShotResult teacherZeroShot, studentZeroShot;
    double zeroShotSeconds = 0;
};

// Exports the data (if needed), learns the BPE vocabulary from the captions, pretrains the teacher and the student
// (each skipped when already trained with the same parameters) and measures both zero-shot on the test split
// (reported to `sink` as EvalRows of dataset "FashionMNIST", methods "zeroshot-teacher" / "zeroshot-student", runs
// the options' run ids, splits "all", "base" and "novel").
DemoModels prepareDemoModels(const std::string& cacheDir, const DemoModelsOptions& options, EventSink& sink,
                             const StopToken& stop);

}  // namespace caspl
