#pragma once
// The few-shot protocol of Dassl / CoOp (and CoCoOp, MaPLe, PromptSRC, CasPL, which reuse it), reproduced image
// for image:
//   - Dassl DatasetBase.split_dataset_by_label and generate_fewshot_dataset, drawing from a PyRandom (CPython's
//     `random`), so that the same seed gives the same lists as the Python code;
//   - CoOp OxfordPets.subsample_classes (base / new halves of the classes, relabelled from 0);
//   - the per-dataset constructor sequence: seed, sample train with K shots, then val with min(K, 4) shots from
//     the same stream (ImageNet: train only, val = test), then subsample.
#include "core/data/dataset.h"
#include "core/data/py_random.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace caspl {

// split_dataset_by_label: labels in the order they first appear in `data` (not sorted), each with its items in
// list order.
std::vector<std::pair<int, std::vector<Datum>>> splitDatasetByLabel(const std::vector<Datum>& data);

// generate_fewshot_dataset(data, num_shots=K, repeat=...) for one list. K < 1 returns `data` unchanged and
// draws nothing. Otherwise, per label in first-appearance order: random.sample(items, K) when the class has at
// least K items (a class of exactly K items is still sampled: a random permutation); else all its items in list
// order without drawing (repeat == false, what CoOp uses) or random.choices(items, k=K) (repeat == true).
std::vector<Datum> generateFewshotDataset(const std::vector<Datum>& data, int numShots, PyRandom& rng,
                                          bool repeat = false);

enum class Subsample { All, Base, New };
// "all", "base" or "new"; throws caspl::Error naming the value otherwise.
Subsample parseSubsample(const std::string& name);
const char* subsampleName(Subsample s);

// subsample_classes(*lists, subsample=...): with All the lists are returned unchanged. Otherwise the sorted
// distinct labels of lists[0] (n of them) are cut at m = ceil(n / 2): Base keeps the first m, New the rest;
// every list is filtered in order to the kept labels, which are renumbered 0, 1, ... in ascending order of the
// old label. Class names are kept; domain becomes 0 (a fresh Datum, as in CoOp).
std::vector<std::vector<Datum>> subsampleClasses(const std::vector<std::vector<Datum>>& lists, Subsample subsample);

// How a CoOp dataset class builds its lists.
enum class DatasetKind {
    Standard,  // train and val sampled (K and min(K, 4) shots), then subsample_classes(train, val, test)
    ImageNet,  // train sampled only, then subsample_classes(train, test) and val = test
    TestOnly,  // ImageNetV2/-Sketch/-A/-R: one list used as train_x and test, never sampled nor subsampled
};
struct DatasetProtocol {
    std::string name;  // DATASET.NAME, e.g. "OxfordPets", "DescribableTextures"
    DatasetKind kind;
};
// The protocol of a CoOp DATASET.NAME; throws caspl::Error listing the known names for an unknown one.
const DatasetProtocol& datasetProtocol(const std::string& name);
const std::vector<DatasetProtocol>& knownDatasets();

struct FewShotOptions {
    int numShots = -1;  // DATASET.NUM_SHOTS; < 1: the lists are used whole and nothing is drawn
    int64_t seed = 1;   // the run seed given to random.seed() (train.py seeds only when --seed is >= 1)
    Subsample subsample = Subsample::All;  // DATASET.SUBSAMPLE_CLASSES
};

// What the dataset constructor of `protocol` holds (train_x, val, test) for the full split `full` read from
// its split file, after seeding a fresh generator with options.seed. For TestOnly datasets `full.test` is the
// data: the result has train = test = full.test and an empty val, whatever the options (as the Python classes
// ignore NUM_SHOTS and SUBSAMPLE_CLASSES).
DatasetSplit buildFewShotSplit(const DatasetSplit& full, const DatasetProtocol& protocol,
                               const FewShotOptions& options);

}  // namespace caspl
