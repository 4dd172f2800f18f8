#pragma once
// CoOp's split files `split_zhou_<Name>.json`: {"train": [[impath, label, classname], ...], "val": [...],
// "test": [...]}, impath relative to the dataset's image directory (OxfordPets.read_split / save_split).
#include "core/data/dataset.h"

#include <string>

namespace caspl {

struct SplitZhouOptions {
    // Joined in front of every impath as Python's os.path.join does (an absolute impath stays as it is). Empty:
    // the paths stay as stored in the file.
    std::string imageDir;
    // Which lists must be present. A list that is not required and is absent reads as empty.
    bool requireTrain = true;
    bool requireVal = true;
    bool requireTest = true;
};

// Reads a split file. Throws caspl::Error naming the file, the list and the entry index (e.g. `"train"[12]`)
// and what was expected, when the file cannot be read, is not JSON or an entry is not
// [non-empty string, integer label >= 0, string]. The lists keep file order.
DatasetSplit readSplitZhou(const std::string& path, const SplitZhouOptions& options = {});
// The same for JSON text already in memory; `source` names it in error messages.
DatasetSplit parseSplitZhou(const std::string& jsonText, const std::string& source,
                            const SplitZhouOptions& options = {});

// The three lists in the split-file format, one entry per line:
// {"train": [[impath, label, classname], ...], "val": [...], "test": [...]}.
std::string splitZhouToJson(const DatasetSplit& split);

// os.path.join(dir, rel) for two components: rel if it is absolute or dir is empty, else dir + '/' + rel
// (no second '/' when dir already ends with one).
std::string joinPath(const std::string& dir, const std::string& rel);

}  // namespace caspl
