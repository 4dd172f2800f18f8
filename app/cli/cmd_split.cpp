// `caspl split`: the few-shot and base/new lists a CoOp dataset class builds from its split file, as JSON.
// The sampling lives in core/data/fewshot; this file parses options and does the I/O.
#include "app/cli/cli.h"
#include "core/data/fewshot.h"
#include "core/data/split_zhou.h"
#include "core/util/atomic_file.h"

#include <cstdint>
#include <iostream>
#include <memory>

namespace caspl::cli {

namespace {
struct SplitOptions {
    std::string dataset;
    std::string splitJson;
    std::string imageRoot;
    std::string out;
    std::string subsample = "all";
    int shots = -1;
    int64_t seed = 1;
};

int runSplit(const SplitOptions& o) {
    const DatasetProtocol& protocol = datasetProtocol(o.dataset);
    SplitZhouOptions readOpts;
    readOpts.imageDir = o.imageRoot;
    readOpts.requireVal = protocol.kind == DatasetKind::Standard;      // ImageNet: val is the test list
    readOpts.requireTrain = protocol.kind != DatasetKind::TestOnly;    // test-only sets: the "test" list is the data
    const DatasetSplit full = readSplitZhou(o.splitJson, readOpts);

    FewShotOptions fs;
    fs.numShots = o.shots;
    fs.seed = o.seed;
    fs.subsample = parseSubsample(o.subsample);
    if (protocol.kind == DatasetKind::TestOnly && (fs.numShots >= 1 || fs.subsample != Subsample::All))
        std::cerr << "caspl: note: " << protocol.name
                  << " is a test-only dataset; as in CoOp, it is neither few-shot sampled nor subsampled\n";
    const DatasetSplit result = buildFewShotSplit(full, protocol, fs);
    const std::string json = splitZhouToJson(result);
    if (o.out.empty()) {
        std::cout << json;
        std::cout.flush();
    } else {
        writeFileAtomically(o.out, json);
        std::cout << "wrote " << o.out << ": train " << result.train.size() << ", val " << result.val.size()
                  << ", test " << result.test.size() << " items\n";
    }
    return kOk;
}
}  // namespace

void addSplitCommand(CLI::App& app, Action* action) {
    auto o = std::make_shared<SplitOptions>();
    auto* cmd = app.add_subcommand(
        "split",
        "Print the few-shot / base-to-novel lists a dataset's split file gives, exactly as Dassl and CoOp sample "
        "them (Python random, same seed, same images)");
    std::string names;
    for (const auto& p : knownDatasets()) names += (names.empty() ? "" : ", ") + p.name;
    cmd->add_option("--dataset", o->dataset, "DATASET.NAME, one of: " + names)->required();
    cmd->add_option("--split-json", o->splitJson,
                    "split file {\"train\"|\"val\"|\"test\": [[impath, label, classname], ...]} "
                    "(split_zhou_<Name>.json; ImageNet needs no \"val\", test-only sets only \"test\")")
        ->required();
    cmd->add_option("--shots", o->shots,
                    "K: sample K images per class from train and min(K, 4) from val (ImageNet: train only); "
                    "below 1 keeps the lists whole")
        ->default_val(-1);
    cmd->add_option("--seed", o->seed, "run seed given to Python's random.seed (train.py seeds only with S >= 1)")
        ->default_val(1)
        ->check(atLeast(1));
    cmd->add_option("--subsample", o->subsample, "classes kept and relabelled from 0: all, base (first half) or new")
        ->default_val("all")
        ->check(CLI::IsMember({"all", "base", "new"}));
    cmd->add_option("--image-root", o->imageRoot,
                    "join this directory in front of every image path (default: paths as stored in the file)");
    cmd->add_option("--out", o->out, "write the JSON to this file (atomically) instead of standard output");
    cmd->callback([o, action] { *action = [o] { return runSplit(*o); }; });
}

}  // namespace caspl::cli
