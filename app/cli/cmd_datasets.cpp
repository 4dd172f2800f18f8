// `caspl datasets`: the benchmark datasets and the user's image folders.
//   list          the known datasets, their folders, class counts and expected list sizes
//   check         which datasets are present under a root, their counts against the expected ones, missing or
//                 undecodable images, and what to do about each problem (exit 0: all present datasets complete,
//                 3: problems)
//   split-folder  the seeded train/val/test split of an image folder (one sub-folder per class), written as a
//                 split_zhou-style JSON file
// The logic lives in core/data (benchmarks, dataset_check, image_folder); this file parses options and prints.
#include "app/cli/cli.h"
#include "core/data/benchmarks.h"
#include "core/data/dataset_check.h"
#include "core/data/image_folder.h"
#include "core/data/split_zhou.h"
#include "core/util/error.h"

#include <cstdint>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

namespace caspl::cli {

namespace {

std::string expectedText(int64_t v, bool approx) {
    if (v < 0) return "-";
    return (approx ? "~" : "") + std::to_string(v);
}

void printList() {
    std::cout << "dataset              folder                 classes  train / val / test (~: approximate)\n";
    for (const auto& d : benchmarkDatasets()) {
        std::string name = d.name, folder = d.folder + "/";
        name.resize(std::max<std::size_t>(name.size(), 20), ' ');
        folder.resize(std::max<std::size_t>(folder.size(), 22), ' ');
        std::string classes = std::to_string(d.numClasses);
        classes.insert(0, std::max<int>(0, 7 - int(classes.size())), ' ');
        std::cout << name << " " << folder << " " << classes << "  "
                  << expectedText(d.expected.train, d.countsApproximate) << " / "
                  << expectedText(d.expected.val, d.countsApproximate) << " / "
                  << expectedText(d.expected.test, d.countsApproximate) << (d.testOnly ? "  (test only)" : "")
                  << "\n";
    }
}

struct CheckCmd {
    std::string root;
    std::vector<std::string> datasets;
    bool decode = false;
    bool strict = false;
    int jobs = 0;
    int listMax = 5;
};

void printIssues(const char* label, const std::vector<CheckIssue>& issues) {
    for (const auto& i : issues) {
        std::cout << "    " << label << ": " << i.what << "\n";
        if (!i.fix.empty()) std::cout << "      what to do: " << i.fix << "\n";
    }
}

int runCheck(const CheckCmd& o) {
    const std::string root = absolutePath(o.root);
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec))
        throw Error(root + (std::filesystem::exists(root, ec) ? ": is a file" : ": dataset root folder not found") +
                    "; expected the folder that holds oxford_pets/, "
                           "caltech-101/, ... (CoOp's DATASETS.md layout)");
    std::vector<const BenchmarkDataset*> selected;
    for (const auto& n : o.datasets) selected.push_back(&benchmarkDataset(n));
    const bool explicitList = !selected.empty();
    if (!explicitList)
        for (const auto& d : benchmarkDatasets()) selected.push_back(&d);

    CheckOptions opts;
    opts.decode = o.decode;
    opts.threads = o.jobs > 0 ? o.jobs : int(std::max(1u, std::min(4u, std::thread::hardware_concurrency())));
    opts.maxListed = std::size_t(std::max(0, o.listMax));

    std::cout << "Datasets under " << root << (o.decode ? " (decoding every image)" : " (checking that images exist; "
                                                                                      "--decode to decode them)")
              << "\n";
    int present = 0, complete = 0, withProblems = 0;
    std::vector<std::string> absent;
    for (const auto* d : selected) {
        const std::string folder = joinPath(root, d->folder);
        if (!explicitList && !std::filesystem::is_directory(folder, ec)) {
            absent.push_back(d->name + " (" + d->folder + "/)");
            continue;
        }
        std::cout << "\n" << d->name << " (" << d->folder << "/):";
        std::cout.flush();
        const DatasetCheckResult r = checkBenchmarkDataset(root, *d, opts);
        if (!r.present) {
            std::cout << " not present\n";
            printIssues("PROBLEM", r.problems);
            ++withProblems;
            continue;
        }
        ++present;
        std::cout << "\n";
        if (r.readable) {
            const bool a = d->countsApproximate;
            std::cout << "    lists: train " << (r.counts.train < 0 ? std::string("-") : std::to_string(r.counts.train))
                      << " (expected " << expectedText(d->expected.train, a) << "), val "
                      << (r.counts.val < 0 ? std::string("-") : std::to_string(r.counts.val)) << " (expected "
                      << expectedText(d->expected.val, a) << "), test " << r.counts.test << " (expected "
                      << expectedText(d->expected.test, a) << "); classes " << r.numClasses << " (expected "
                      << d->numClasses << ")\n";
            std::cout << "    images: " << r.imagesChecked << " checked, " << r.badImages
                      << (o.decode ? " missing or undecodable" : " missing") << "\n";
            if (!r.firstBad.empty()) {
                std::cout << "    first " << r.firstBad.size() << " of " << r.badImages << ":\n";
                for (const auto& b : r.firstBad) std::cout << "      " << b.path << ": " << b.reason << "\n";
            }
        }
        printIssues("PROBLEM", r.problems);
        printIssues("warning", r.warnings);
        const bool ok = r.problems.empty() && (!o.strict || r.warnings.empty());
        std::cout << "    => " << (ok ? "complete" : "PROBLEMS") << "\n";
        if (ok)
            ++complete;
        else
            ++withProblems;
    }
    if (!absent.empty()) {
        std::cout << "\nnot present:";
        for (const auto& a : absent) std::cout << " " << a;
        std::cout << "\n";
    }
    std::cout << "\nsummary: " << present << " present, " << complete << " complete, " << withProblems
              << " with problems\n";
    if (present == 0 && withProblems == 0) {
        std::cout << "no benchmark dataset found under " << root
                  << "; see `caspl datasets list` for the expected folders\n";
        return kBadInput;
    }
    return withProblems > 0 ? kBadInput : kOk;
}

struct SplitFolderCmd {
    std::string root;
    std::string out;
    int64_t seed = 1;
    double train = 0.5;
    double val = 0.2;
};

int runSplitFolder(const SplitFolderCmd& o) {
    ImageFolderOptions opts;
    opts.seed = o.seed;
    opts.trainFraction = o.train;
    opts.valFraction = o.val;
    const ImageFolderDataset data = splitImageFolder(o.root, opts);
    writeImageFolderSplit(o.out, data, opts);
    std::cout << "wrote " << o.out << ": " << data.classnames.size() << " classes, train " << data.split.train.size()
              << ", val " << data.split.val.size() << ", test " << data.split.test.size() << " images (seed "
              << o.seed << ")\n";
    return kOk;
}

}  // namespace

void addDatasetsCommand(CLI::App& app, Action* action) {
    auto* cmd = app.add_subcommand("datasets", "Benchmark datasets and image folders: list, check, split-folder");
    cmd->require_subcommand(1);

    auto* list = cmd->add_subcommand("list", "List the known datasets, their folders and expected sizes");
    list->callback([action] { *action = [] { printList(); return kOk; }; });

    auto c = std::make_shared<CheckCmd>();
    auto* check = cmd->add_subcommand(
        "check", "Check the datasets under a root folder: presence, list sizes, classes, missing images "
                 "(exit 0: every present dataset complete, 3: problems)");
    check->add_option("--root", c->root, "folder holding the dataset folders (oxford_pets/, caltech-101/, ...)")
        ->required();
    std::string names;
    for (const auto& d : benchmarkDatasets()) names += (names.empty() ? "" : ", ") + d.name;
    oneValueEach(check->add_option("--dataset", c->datasets,
                                   "check only this dataset (repeatable; it must then be present): " + names));
    check->add_flag("--decode", c->decode, "decode every image (slow) instead of only checking that it exists");
    check->add_flag("--strict", c->strict, "count warnings (e.g. list sizes off the approximate table) as problems");
    check->add_option("--jobs", c->jobs, "threads for the image pass (default: up to 4)")->check(atLeast(0));
    check->add_option("--list-max", c->listMax, "bad images listed by path per dataset")
        ->default_val(5)
        ->check(atLeast(0));
    check->callback([c, action] { *action = [c] { return runCheck(*c); }; });

    auto s = std::make_shared<SplitFolderCmd>();
    auto* split = cmd->add_subcommand(
        "split-folder",
        "Split an image folder (one sub-folder per class) into train/val/test per class with a seed, like Dassl's "
        "DTD split, and write it as a split_zhou-style JSON file (paths relative to the folder)");
    split->add_option("--root", s->root, "the image folder")->required();
    split->add_option("--out", s->out, "the split file to write (atomically)")->required();
    split->add_option("--seed", s->seed, "seed of Python's random.shuffle per class")->default_val(1);
    split->add_option("--train", s->train, "fraction of each class for training")->default_val(0.5);
    split->add_option("--val", s->val, "fraction of each class for validation (test gets the rest)")->default_val(0.2);
    split->callback([s, action] { *action = [s] { return runSplitFolder(*s); }; });
}

}  // namespace caspl::cli
