#pragma once
// A user's own dataset: an image folder with one sub-folder per class (<root>/<class>/<image>). Class names are the
// folder names, labels follow their sorted (byte) order. Train/val/test lists come from a seeded per-class split
// that is written to a split_zhou-style JSON file, so a run can be reproduced from that file alone.
//
// The split is Dassl's DTD.read_and_split_data(image_dir, p_trn, p_val) run after random.seed(seed): for each class
// in sorted order, its image list (sorted by name; Dassl uses os.listdir order) is shuffled with Python's
// random.shuffle (core/data/py_random.h, one generator for all classes), then cut into n_train = round(n * p_trn),
// n_val = round(n * p_val) (Python's round, halves to even) and n_test = the rest.
#include "core/data/dataset.h"

#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

struct ImageFolderOptions {
    double trainFraction = 0.5;  // per class, like DTD's 50/20/30
    double valFraction = 0.2;    // may be 0 (no val list); test gets 1 - train - val (may be 0)
    int64_t seed = 1;
    // File extensions (lower case, with the dot) that count as images; other files are ignored.
    std::vector<std::string> extensions{".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"};
};

struct ImageFolderDataset {
    std::string root;                     // absolute
    std::vector<std::string> classnames;  // label -> folder name
    DatasetSplit split;                   // absolute image paths
};

// Lists <root>/<class>/ and splits every class. Throws caspl::Error naming the folder when the root has no class
// folders, when a class folder has no images, or when a class has too few images for a non-empty train list (and
// val/test lists, when their fraction is above 0); and for fractions outside [0, 1] or summing above 1.
ImageFolderDataset splitImageFolder(const std::string& root, const ImageFolderOptions& options = {});

// The split file: {"image_folder": {"seed", "train_fraction", "val_fraction", "classes": [...]}, "train": [...],
// "val": [...], "test": [...]} with impaths relative to the root ("<class>/<image>"), readable by readSplitZhou and
// by CoOp's read_split.
std::string imageFolderSplitToJson(const ImageFolderDataset& data, const ImageFolderOptions& options);
// Writes it atomically.
void writeImageFolderSplit(const std::string& path, const ImageFolderDataset& data,
                           const ImageFolderOptions& options);
// Reads a split file back, impaths joined to `root`. Class names: the file's "image_folder.classes" when present,
// else derived from the lists. Throws caspl::Error naming the file for anything malformed.
ImageFolderDataset readImageFolderSplit(const std::string& path, const std::string& root);

// The split recorded at `splitPath` when that file exists (the options are then ignored: the file is the record),
// else a fresh splitImageFolder(root, options) written to `splitPath`. `created`, when given, says which.
ImageFolderDataset loadOrCreateImageFolderSplit(const std::string& root, const std::string& splitPath,
                                                const ImageFolderOptions& options = {}, bool* created = nullptr);

}  // namespace caspl
