#include "core/data/fewshot.h"

#include "core/util/error.h"

#include <algorithm>
#include <unordered_map>

namespace caspl {

std::vector<std::pair<int, std::vector<Datum>>> splitDatasetByLabel(const std::vector<Datum>& data) {
    std::vector<std::pair<int, std::vector<Datum>>> groups;
    std::unordered_map<int, size_t> slot;  // label -> position in `groups` (insertion order of a dict)
    for (const auto& d : data) {
        auto [it, inserted] = slot.emplace(d.label, groups.size());
        if (inserted) groups.emplace_back(d.label, std::vector<Datum>{});
        groups[it->second].second.push_back(d);
    }
    return groups;
}

std::vector<Datum> generateFewshotDataset(const std::vector<Datum>& data, int numShots, PyRandom& rng, bool repeat) {
    if (numShots < 1) return data;
    const size_t k = size_t(numShots);
    std::vector<Datum> out;
    for (const auto& [label, items] : splitDatasetByLabel(data)) {
        (void)label;
        if (items.size() >= k) {
            for (size_t idx : rng.sample(items.size(), k)) out.push_back(items[idx]);
        } else if (repeat) {
            for (size_t idx : rng.choices(items.size(), k)) out.push_back(items[idx]);
        } else {
            out.insert(out.end(), items.begin(), items.end());
        }
    }
    return out;
}

Subsample parseSubsample(const std::string& name) {
    if (name == "all") return Subsample::All;
    if (name == "base") return Subsample::Base;
    if (name == "new") return Subsample::New;
    throw Error("subsample classes: '" + name + "' is not one of all, base, new");
}

const char* subsampleName(Subsample s) {
    switch (s) {
    case Subsample::All: return "all";
    case Subsample::Base: return "base";
    case Subsample::New: return "new";
    }
    return "?";
}

std::vector<std::vector<Datum>> subsampleClasses(const std::vector<std::vector<Datum>>& lists, Subsample subsample) {
    if (subsample == Subsample::All || lists.empty()) return lists;
    std::vector<int> labels;
    for (const auto& d : lists[0]) labels.push_back(d.label);
    std::sort(labels.begin(), labels.end());
    labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
    const size_t m = (labels.size() + 1) / 2;  // ceil(n / 2)
    const auto first = subsample == Subsample::Base ? labels.begin() : labels.begin() + std::ptrdiff_t(m);
    const auto last = subsample == Subsample::Base ? labels.begin() + std::ptrdiff_t(m) : labels.end();
    std::unordered_map<int, int> relabel;
    int next = 0;
    for (auto it = first; it != last; ++it) relabel.emplace(*it, next++);

    std::vector<std::vector<Datum>> out;
    out.reserve(lists.size());
    for (const auto& list : lists) {
        std::vector<Datum> kept;
        for (const auto& d : list) {
            auto r = relabel.find(d.label);
            if (r == relabel.end()) continue;
            Datum nd;
            nd.impath = d.impath;
            nd.label = r->second;
            nd.classname = d.classname;
            kept.push_back(std::move(nd));
        }
        out.push_back(std::move(kept));
    }
    return out;
}

const std::vector<DatasetProtocol>& knownDatasets() {
    static const std::vector<DatasetProtocol> all = {
        {"ImageNet", DatasetKind::ImageNet},
        {"Caltech101", DatasetKind::Standard},
        {"OxfordPets", DatasetKind::Standard},
        {"StanfordCars", DatasetKind::Standard},
        {"OxfordFlowers", DatasetKind::Standard},
        {"Food101", DatasetKind::Standard},
        {"FGVCAircraft", DatasetKind::Standard},
        {"SUN397", DatasetKind::Standard},
        {"DescribableTextures", DatasetKind::Standard},
        {"EuroSAT", DatasetKind::Standard},
        {"UCF101", DatasetKind::Standard},
        {"ImageNetV2", DatasetKind::TestOnly},
        {"ImageNetSketch", DatasetKind::TestOnly},
        {"ImageNetA", DatasetKind::TestOnly},
        {"ImageNetR", DatasetKind::TestOnly},
    };
    return all;
}

const DatasetProtocol& datasetProtocol(const std::string& name) {
    for (const auto& p : knownDatasets())
        if (p.name == name) return p;
    std::string known;
    for (const auto& p : knownDatasets()) known += (known.empty() ? "" : ", ") + p.name;
    throw Error("dataset '" + name + "' is unknown; expected one of " + known);
}

DatasetSplit buildFewShotSplit(const DatasetSplit& full, const DatasetProtocol& protocol,
                               const FewShotOptions& options) {
    DatasetSplit out;
    if (protocol.kind == DatasetKind::TestOnly) {
        out.train = full.test;
        out.test = full.test;
        return out;
    }
    std::vector<Datum> train = full.train;
    std::vector<Datum> val = full.val;
    if (options.numShots >= 1) {
        // set_random_seed(cfg.SEED): random.seed(S) on the module-level generator; nothing else draws before
        // the dataset constructor.
        PyRandom rng(options.seed);
        train = generateFewshotDataset(train, options.numShots, rng);
        if (protocol.kind == DatasetKind::Standard)
            val = generateFewshotDataset(val, std::min(options.numShots, 4), rng);
    }
    if (protocol.kind == DatasetKind::ImageNet) {
        auto lists = subsampleClasses({train, full.test}, options.subsample);
        out.train = std::move(lists[0]);
        out.test = std::move(lists[1]);
        out.val = out.test;
    } else {
        auto lists = subsampleClasses({train, val, full.test}, options.subsample);
        out.train = std::move(lists[0]);
        out.val = std::move(lists[1]);
        out.test = std::move(lists[2]);
    }
    return out;
}

}  // namespace caspl
