#include "core/data/dataset_check.h"

#include "core/data/split_zhou.h"
#include "core/image/image.h"
#include "core/util/error.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_set>

namespace caspl {

namespace fs = std::filesystem;

namespace {

void compareCount(const char* list, int64_t got, int64_t expected, bool approximate, const BenchmarkDataset& d,
                  DatasetCheckResult& r) {
    if (expected < 0) return;
    if (got == expected) return;
    CheckIssue issue;
    issue.what = std::string(list) + " list has " + std::to_string(got) + " items, expected " +
                 std::to_string(expected) + (approximate ? " (an approximate count, recalled from the CoOp paper)" : "");
    if (got == 0) {
        issue.fix = d.layout == DatasetLayout::SplitZhou
                        ? "the split file lists no " + std::string(list) + " images: re-download " + d.splitFile +
                              " (link in CoOp's DATASETS.md)"
                        : "no images found: " + d.howToGet;
        r.problems.push_back(issue);
    } else if (approximate) {
        issue.fix = d.layout == DatasetLayout::SplitZhou
                        ? "if the images are complete, make sure " + d.splitFile +
                              " is CoOp's published file (re-download it); otherwise nothing to do"
                        : "compare with the dataset's official release; re-extract the archive if files are missing";
        r.warnings.push_back(issue);
    } else {
        issue.fix = "re-download the dataset: " + d.howToGet;
        r.problems.push_back(issue);
    }
}

}  // namespace

void checkImages(const std::vector<const std::string*>& listed, const CheckOptions& options,
                 DatasetCheckResult& result) {
    // A file listed in several splits is checked (and counted) once.
    std::vector<const std::string*> paths;
    std::unordered_set<std::string_view> seen;
    for (const std::string* p : listed)
        if (seen.insert(*p).second) paths.push_back(p);
    const std::size_t n = paths.size();
    const int threads = std::max(1, std::min<int>(options.threads, int(std::max<std::size_t>(n, 1))));
    // Per-image verdicts, so that firstBad is in list order whatever the thread count.
    std::vector<std::string> reasons(n);
    std::vector<char> bad(n, 0);
    std::atomic<std::size_t> next{0};
    auto work = [&] {
        for (;;) {
            if (options.cancel && options.cancel->load()) return;
            const std::size_t i = next.fetch_add(1);
            if (i >= n) return;
            const std::string& p = *paths[i];
            std::error_code ec;
            const auto st = fs::status(p, ec);
            if (ec || !fs::exists(st)) {
                bad[i] = 1;
                reasons[i] = "missing";
            } else if (!fs::is_regular_file(st)) {
                bad[i] = 1;
                reasons[i] = "not a regular file";
            } else if (options.decode) {
                try {
                    decodeImage(p);
                } catch (const std::exception& e) {
                    bad[i] = 1;
                    reasons[i] = e.what();
                }
            }
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    const std::size_t done = std::min(next.load(), n);
    result.imagesChecked += int64_t(done);
    for (std::size_t i = 0; i < done; ++i) {
        if (!bad[i]) continue;
        ++result.badImages;
        if (result.firstBad.size() < options.maxListed) result.firstBad.push_back({*paths[i], reasons[i]});
    }
}

DatasetCheckResult checkBenchmarkDataset(const std::string& root, const BenchmarkDataset& d,
                                         const CheckOptions& options) {
    DatasetCheckResult r;
    r.dataset = &d;
    r.folder = joinPath(absolutePath(root), d.folder);
    std::error_code ec;
    r.present = fs::is_directory(r.folder, ec);
    if (!r.present) {
        r.problems.push_back({r.folder + ": folder not found", d.howToGet});
        return r;
    }
    LoadedDataset data;
    try {
        data = readBenchmarkDataset(root, d.name);
        r.readable = true;
    } catch (const std::exception& e) {
        r.problems.push_back({e.what(), d.howToGet});
        return r;
    }
    const auto& s = data.split;
    r.counts.train = d.testOnly ? -1 : int64_t(s.train.size());
    r.counts.val = d.expected.val < 0 && s.val.empty() ? -1 : int64_t(s.val.size());
    r.counts.test = int64_t(s.test.size());
    compareCount("train", r.counts.train, d.expected.train, d.countsApproximate, d, r);
    compareCount("val", r.counts.val, d.expected.val, d.countsApproximate, d, r);
    compareCount("test", r.counts.test, d.expected.test, d.countsApproximate, d, r);

    // Classes: every label of the class list needs a name, and the count must be the dataset's.
    r.numClasses = int(data.classnames.size());
    std::set<int> labels;
    for (const auto* list : {&s.train, &s.val, &s.test})
        for (const auto& it : *list) labels.insert(it.label);
    if (r.numClasses != d.numClasses)
        r.problems.push_back({std::to_string(r.numClasses) + " classes (1 + the largest label of the " +
                                  (d.testOnly ? "test" : "train") + " list), expected " +
                                  std::to_string(d.numClasses),
                              d.layout == DatasetLayout::SplitZhou
                                  ? "re-download " + d.splitFile + " (CoOp's DATASETS.md)"
                                  : "check the class folders and classnames.txt: " + d.howToGet});
    if (int(labels.size()) != r.numClasses && r.numClasses == d.numClasses) {
        std::vector<int> missing;
        for (int l = 0; l < r.numClasses && missing.size() < 5; ++l)
            if (!labels.count(l)) missing.push_back(l);
        std::string m;
        for (int l : missing) m += (m.empty() ? "" : ", ") + std::to_string(l);
        r.warnings.push_back({"labels without any image: " + m + (missing.size() == 5 ? ", ..." : ""),
                              "re-download the split file / re-extract the images"});
    }
    // Entries whose label disagrees with the class name given for it elsewhere.
    std::map<int, std::string> first;
    int64_t mismatched = 0;
    for (const auto* list : {&s.train, &s.val, &s.test})
        for (const auto& it : *list) {
            auto ins = first.emplace(it.label, it.classname);
            if (!ins.second && ins.first->second != it.classname) ++mismatched;
        }
    if (mismatched > 0)
        r.warnings.push_back({std::to_string(mismatched) + " entries give another class name for their label "
                                                           "than the first entry of that label",
                              "the split file looks edited or mixed from two versions; re-download it"});

    std::vector<const std::string*> paths;
    for (const auto* list : {&s.train, &s.val, &s.test})
        for (const auto& it : *list) paths.push_back(&it.impath);
    checkImages(paths, options, r);
    if (r.badImages > 0) {
        const bool anyMissing =
            std::any_of(r.firstBad.begin(), r.firstBad.end(), [](const ImageProblem& p) { return p.reason == "missing"; });
        r.problems.push_back(
            {std::to_string(r.badImages) + " of " + std::to_string(r.imagesChecked) + " images " +
                 (options.decode ? "missing or undecodable" : "missing"),
             anyMissing ? "re-extract the image archive into " + joinPath(r.folder, d.imageDir) +
                              " (see `caspl datasets list` and CoOp's DATASETS.md); the loader skips missing images"
                        : "re-download the damaged files or delete them; the loader skips undecodable images"});
    }
    if (options.cancel && options.cancel->load())
        r.warnings.push_back({"check interrupted after " + std::to_string(r.imagesChecked) + " images", "run it again"});
    return r;
}

}  // namespace caspl
