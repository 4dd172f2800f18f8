#pragma once
// The benchmark datasets of the CoOp lineage in CoOp's folder layout (its DATASETS.md), read the way CoOp's dataset
// classes read them (spec §5.1, §5.2): the 11 base-to-novel / few-shot datasets and the four ImageNet variants of
// domain generalisation. A reader returns the FULL lists (before few-shot sampling, see core/data/fewshot.h) with
// absolute image paths, the class names by label and the dataset's hand-written template (core/data/templates.h).
//
// Layouts under <root>/<folder>/:
//   SplitZhou     split_zhou_<Name>.json, impaths relative to the images folder (StanfordCars: to the folder)
//   FGVCAircraft  variants.txt (class order), images_variant_{train,val,test}.txt ("<image id> <variant words>"),
//                 images/<image id>.jpg
//   ImageNet      classnames.txt ("<wnid> <class name>"), images/train/<wnid>/*, images/val/<wnid>/*; the
//                 official val set is the test list, val stays empty (CoOp uses test as val)
//   ImageNetV2    classnames.txt, imagenetv2-matched-frequency-format-val/<label 0..999>/*; label = folder number,
//                 class name = line <label> of classnames.txt
//   ClassFolders  classnames.txt, <images>/<wnid>/* (ImageNet-Sketch, -A, -R): labels in sorted folder order,
//                 names looked up by wnid
// Test-only datasets (the ImageNet variants) return their data as the `test` list; train and val stay empty,
// which is what buildFewShotSplit() expects.
//
// Deviation from CoOp, on purpose: Dassl lists a class folder's images with os.listdir (file-system order, not
// sorted); we sort them by name (byte order), so lists are the same on every machine. Hidden entries (".*") are
// skipped, as Dassl's listdir_nohidden does; so are sub-folders inside a class folder.
#include "core/data/dataset.h"

#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

enum class DatasetLayout { SplitZhou, FGVCAircraft, ImageNet, ImageNetV2, ClassFolders };

// Item counts of the three lists; -1 where the dataset has no such list.
struct SplitCounts {
    int64_t train = -1;
    int64_t val = -1;
    int64_t test = -1;
};

struct BenchmarkDataset {
    std::string name;       // Dassl DATASET.NAME, e.g. "OxfordPets"
    std::string title;      // human name, e.g. "Oxford-IIIT Pets"
    std::string folder;     // folder under the root, e.g. "oxford_pets"
    std::string imageDir;   // images folder relative to `folder` ("" = the folder itself)
    std::string splitFile;  // SplitZhou: split file relative to `folder`; empty otherwise
    DatasetLayout layout = DatasetLayout::SplitZhou;
    int numClasses = 0;
    SplitCounts expected;            // the spec's table (§5.1)
    bool countsApproximate = true;   // the spec marks the table RECALLED from the CoOp paper: not verified
    bool testOnly = false;           // ImageNetV2/-Sketch/-A/-R: one list, used for evaluation only
    std::string howToGet;            // what to download and where to put it (from CoOp's DATASETS.md)
};

// Every dataset, in the order of the spec's table (ImageNet, the 10 others, then the 4 ImageNet variants).
const std::vector<BenchmarkDataset>& benchmarkDatasets();
// By Dassl name; nullptr when unknown.
const BenchmarkDataset* findBenchmarkDataset(const std::string& name);
// By Dassl name; throws caspl::Error listing the known names when unknown.
const BenchmarkDataset& benchmarkDataset(const std::string& name);

struct LoadedDataset {
    std::string name;        // Dassl name
    std::string datasetDir;  // absolute <root>/<folder>
    DatasetSplit split;      // full lists, absolute image paths
    // Class names by label, as CoOp's DatasetBase.get_lab2cname derives them from train_x (the `test` list for a
    // test-only dataset): size = max label + 1; a label absent from that list takes its name from the other lists.
    std::vector<std::string> classnames;
    std::string promptTemplate;  // customTemplate(name)
};

// Reads dataset `name` under `root` (the folder that holds oxford_pets/, caltech-101/, ...). Throws caspl::Error
// naming the missing or malformed file/folder (and line or entry) and saying what was expected and how to get it.
// The root is made absolute (as os.path.abspath), so the image paths are absolute.
LoadedDataset readBenchmarkDataset(const std::string& root, const std::string& name);

// get_lab2cname: label -> class name from `primary` (the last entry of a label wins, as in CoOp); labels absent
// from it are filled from `others`. Size = 1 + the largest label in `primary` (or in `others` if primary is empty).
std::vector<std::string> classnamesFromLists(const std::vector<Datum>& primary,
                                             const std::vector<const std::vector<Datum>*>& others = {});

// ImageNet.read_classnames: "<wnid> <class name...>" per line, in file order (blank lines skipped). Throws naming
// the file when it cannot be read.
std::vector<std::pair<std::string, std::string>> readImageNetClassnames(const std::string& path);

// Sorted names of the non-hidden sub-folders / regular files of `dir` (byte order). Throws caspl::Error naming the
// folder when it cannot be listed.
std::vector<std::string> listSubfolders(const std::string& dir);
std::vector<std::string> listFiles(const std::string& dir);

// os.path.abspath: absolute, lexically normalised, no trailing '/'.
std::string absolutePath(const std::string& path);

}  // namespace caspl
