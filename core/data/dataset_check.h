#pragma once
// Checks the benchmark datasets under a root folder (what `caspl datasets check` prints): which are present, the
// item counts of each list against the expected ones, the class count, and missing or undecodable images. Every
// problem comes with what to do about it.
#include "core/data/benchmarks.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace caspl {

struct CheckOptions {
    bool decode = false;      // decode every image (slow) instead of only checking that the file exists
    int threads = 1;          // workers for the image pass
    std::size_t maxListed = 5;  // bad images listed by path (all are counted)
    const std::atomic<bool>* cancel = nullptr;
};

struct CheckIssue {
    std::string what;  // the problem, naming the file/folder
    std::string fix;   // what to do about it
};

struct ImageProblem {
    std::string path;
    std::string reason;
};

struct DatasetCheckResult {
    const BenchmarkDataset* dataset = nullptr;
    std::string folder;  // absolute <root>/<folder>
    bool present = false;
    bool readable = false;  // the lists could be read
    SplitCounts counts;     // -1 where not applicable or not read
    int numClasses = 0;
    int64_t imagesChecked = 0;
    int64_t badImages = 0;                  // missing or (with decode) undecodable
    std::vector<ImageProblem> firstBad;     // up to maxListed, in list order
    std::vector<CheckIssue> problems;       // make the dataset unusable or incomplete
    std::vector<CheckIssue> warnings;       // worth knowing (e.g. counts differ from the approximate table)
    bool complete() const { return present && problems.empty(); }
};

// Checks one dataset. Never throws for bad data (it becomes a problem); throws only for invalid arguments.
DatasetCheckResult checkBenchmarkDataset(const std::string& root, const BenchmarkDataset& dataset,
                                         const CheckOptions& options = {});

// Checks the image files of `items` (existence, or decoding with options.decode) with options.threads workers:
// adds to imagesChecked, badImages and firstBad of `result`. A path listed twice is checked and counted once.
void checkImages(const std::vector<const std::string*>& paths, const CheckOptions& options,
                 DatasetCheckResult& result);

}  // namespace caspl
