#pragma once
// The demo's dataset: Fashion-MNIST (Debian package dataset-fashion-mnist) exported to PNG files plus a CoOp
// split_zhou file, so that every reader, loader and command that works on a CoOp dataset works on it. No LibTorch.
//
// Source: the four IDX files of the package (train 60,000 / t10k 10,000 images, 28 x 28 grey, labels 0..9), read
// through zlib (plain, uncompressed IDX files are read as well).
//
// Export (deterministic, no random draws): for each class, its images in IDX file order are cut into
//   pretrain  the first pretrainPerClass images of the IDX train set (contrastive pretraining of the demo CLIPs
//             only; CasPL's phase 1 distils on the train list below),
//   train     the next trainPerClass (the pool few-shot sampling draws from, and the unlabeled images for CasPL's
//             phase 1),
//   val       the next valPerClass,
// and test = the first testPerClass images of each class of the t10k set. Lists keep IDX order (classes
// interleaved). Layout under <cacheDir>/fashion-mnist/:
//   images/<class folder>/<set>_<index>.png   grey PNG, <set> = "train" or "t10k" (the IDX file), <index> = the
//                                             image's index in that file, 5 digits; class folder = class name with
//                                             spaces as '_' ("ankle_boot")
//   split_zhou_FashionMNIST.json              {"train", "val", "test"}: [["<class folder>/<file>", label, classname]]
//   split_pretrain.json                       the same format, the pretraining pool as "train", "val"/"test" empty
//   export.json                               the stamp: the options and counts the export was made with
// The folder is built under a temporary name and renamed into place when complete, so an interrupted export never
// looks complete; a later call with the same options finds the stamp and does nothing.
#include "core/data/dataset.h"
#include "core/engine/events.h"

#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

// Where Debian's dataset-fashion-mnist package installs the files.
inline constexpr const char* kFashionMnistSourceDir = "/usr/share/datasets/fashion-mnist";

// ---- IDX files ----------------------------------------------------------------------------------------------------

// An IDX image file (magic 0x00000803: unsigned bytes, 3 dimensions): count images of rows x cols bytes, row-major.
struct IdxImages {
    int64_t count = 0;
    int rows = 0;
    int cols = 0;
    std::vector<uint8_t> pixels;  // count * rows * cols
    const uint8_t* image(int64_t i) const { return pixels.data() + i * int64_t(rows) * cols; }
};

// Reads an IDX image file, gzip-compressed or plain. Throws caspl::Error naming the file when it is missing, not
// valid gzip, has the wrong magic number (e.g. a label file), or holds more or fewer bytes than its header says.
IdxImages readIdxImages(const std::string& path);
// Reads an IDX label file (magic 0x00000801: unsigned bytes, 1 dimension), with the same checks.
std::vector<uint8_t> readIdxLabels(const std::string& path);

// ---- Fashion-MNIST ------------------------------------------------------------------------------------------------

// The ten class names in label order: "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
// "sneaker", "bag", "ankle boot".
const std::vector<std::string>& fashionMnistClassnames();

// True when the four IDX files are in `sourceDir`.
bool fashionMnistAvailable(const std::string& sourceDir = kFashionMnistSourceDir);

struct FashionMnistOptions {
    std::string sourceDir = kFashionMnistSourceDir;
    int pretrainPerClass = 2000;  // from the IDX train set
    int trainPerClass = 50;       // few-shot pool, from the IDX train set after the pretraining images
    int valPerClass = 10;         // from the IDX train set after the few-shot pool
    int testPerClass = 150;       // from the t10k set
};

struct FashionMnistData {
    std::string root;               // <cacheDir>/fashion-mnist (absolute)
    std::string imageDir;           // <root>/images
    std::string splitPath;          // <root>/split_zhou_FashionMNIST.json
    std::string pretrainSplitPath;  // <root>/split_pretrain.json
    std::vector<std::string> classnames;
    DatasetSplit split;             // impaths absolute
    std::vector<Datum> pretrain;    // impaths absolute
    bool exported = false;          // true when this call wrote the files, false when a complete export was found
    double seconds = 0;             // time this call took
};

// Exports (or finds) the subset described above under <cacheDir>/fashion-mnist. Throws caspl::Error naming the file
// when a source file is missing or malformed, or when a class has fewer images than the options ask for; Interrupted
// when `stop` is requested (the partial export is removed). `sink`, when given, receives log lines.
FashionMnistData prepareFashionMnist(const std::string& cacheDir, const FashionMnistOptions& options = {},
                                     EventSink* sink = nullptr, const StopToken* stop = nullptr);

// The stamp text an export with these options carries (to compare exports and to key caches built on them).
std::string fashionMnistStamp(const FashionMnistOptions& options);

}  // namespace caspl
