#include "core/data/image_folder.h"

#include "core/data/benchmarks.h"
#include "core/data/py_random.h"
#include "core/data/split_zhou.h"
#include "core/image/preprocess.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <sstream>

namespace caspl {

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool hasImageExtension(const std::string& name, const std::vector<std::string>& exts) {
    const auto dot = name.find_last_of('.');
    if (dot == std::string::npos) return false;
    const std::string ext = lower(name.substr(dot));
    return std::find(exts.begin(), exts.end(), ext) != exts.end();
}

std::string fraction(double f) {
    std::ostringstream os;
    os << f;
    return os.str();
}

std::string relativeTo(const std::string& root, const std::string& path) {
    const std::string prefix = root.back() == '/' ? root : root + "/";
    if (path.compare(0, prefix.size(), prefix) == 0) return path.substr(prefix.size());
    return path;
}

}  // namespace

ImageFolderDataset splitImageFolder(const std::string& root, const ImageFolderOptions& options) {
    const double pTrn = options.trainFraction, pVal = options.valFraction;
    if (!(pTrn > 0 && pTrn <= 1) || !(pVal >= 0 && pVal < 1) || pTrn + pVal > 1 + 1e-9)
        throw Error("image folder split: train fraction " + fraction(pTrn) + " and val fraction " + fraction(pVal) +
                    " are invalid (expected 0 < train <= 1, 0 <= val < 1, train + val <= 1)");
    const double pTst = 1 - pTrn - pVal;
    ImageFolderDataset out;
    out.root = absolutePath(root);
    const auto classes = listSubfolders(out.root);
    if (classes.empty())
        throw Error(out.root + ": no class folders; expected one sub-folder per class holding its images");
    PyRandom rng(options.seed);
    for (size_t label = 0; label < classes.size(); ++label) {
        const std::string classDir = joinPath(out.root, classes[label]);
        std::vector<std::string> images;
        for (const auto& f : listFiles(classDir))
            if (hasImageExtension(f, options.extensions)) images.push_back(joinPath(classDir, f));
        if (images.empty())
            throw Error(classDir + ": no images in class folder '" + classes[label] +
                        "' (expected image files: .jpg, .png, ...); remove the folder or add images");
        rng.shuffle(images);
        const int64_t n = int64_t(images.size());
        const int64_t nTrn = int64_t(roundHalfEven(double(n) * pTrn));
        const int64_t nVal = int64_t(roundHalfEven(double(n) * pVal));
        const int64_t nTst = n - nTrn - nVal;
        if (nTrn < 1 || nTst < 0 || (pVal > 0 && nVal < 1) || (pTst > 1e-9 && nTst < 1))
            throw Error(classDir + ": class '" + classes[label] + "' has " + std::to_string(n) +
                        " images, too few for a " + fraction(pTrn) + "/" + fraction(pVal) + "/" + fraction(pTst) +
                        " train/val/test split (every list with a fraction above 0 needs at least one image); "
                        "add images or change the fractions");
        auto add = [&](std::vector<Datum>& list, int64_t from, int64_t to) {
            for (int64_t i = from; i < to; ++i) {
                Datum d;
                d.impath = images[size_t(i)];
                d.label = int(label);
                d.classname = classes[label];
                list.push_back(std::move(d));
            }
        };
        add(out.split.train, 0, nTrn);
        add(out.split.val, nTrn, nTrn + nVal);
        add(out.split.test, nTrn + nVal, n);
        out.classnames.push_back(classes[label]);
    }
    return out;
}

std::string imageFolderSplitToJson(const ImageFolderDataset& data, const ImageFolderOptions& options) {
    DatasetSplit rel = data.split;
    for (auto* list : {&rel.train, &rel.val, &rel.test})
        for (auto& d : *list) d.impath = relativeTo(data.root, d.impath);
    nlohmann::json meta;
    meta["seed"] = options.seed;
    meta["train_fraction"] = options.trainFraction;
    meta["val_fraction"] = options.valFraction;
    meta["classes"] = data.classnames;
    const std::string lists = splitZhouToJson(rel);  // "{\n  \"train\": ..."
    return "{\n  \"image_folder\": " + meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ",\n" +
           lists.substr(2);
}

void writeImageFolderSplit(const std::string& path, const ImageFolderDataset& data,
                           const ImageFolderOptions& options) {
    writeFileAtomically(path, imageFolderSplitToJson(data, options));
}

ImageFolderDataset readImageFolderSplit(const std::string& path, const std::string& root) {
    ImageFolderDataset out;
    out.root = absolutePath(root);
    const std::string text = readFile(path);
    SplitZhouOptions opts;
    opts.imageDir = out.root;
    out.split = parseSplitZhou(text, path, opts);
    const auto j = nlohmann::json::parse(text, nullptr, false);
    const auto meta = j.is_object() ? j.find("image_folder") : j.end();
    if (j.is_object() && meta != j.end() && meta->is_object() && meta->contains("classes")) {
        const auto& c = (*meta)["classes"];
        if (!c.is_array()) throw Error(path + ": \"image_folder.classes\" must be a list of class names");
        for (const auto& n : c) {
            if (!n.is_string()) throw Error(path + ": \"image_folder.classes\" must be a list of strings");
            out.classnames.push_back(n.get<std::string>());
        }
        for (const auto* list : {&out.split.train, &out.split.val, &out.split.test})
            for (size_t i = 0; i < list->size(); ++i)
                if (size_t((*list)[i].label) >= out.classnames.size())
                    throw Error(path + ": label " + std::to_string((*list)[i].label) + " of " + (*list)[i].impath +
                                " is outside \"image_folder.classes\" (" + std::to_string(out.classnames.size()) +
                                " classes)");
    } else {
        out.classnames = classnamesFromLists(out.split.train, {&out.split.val, &out.split.test});
    }
    return out;
}

ImageFolderDataset loadOrCreateImageFolderSplit(const std::string& root, const std::string& splitPath,
                                                const ImageFolderOptions& options, bool* created) {
    std::error_code ec;
    if (std::filesystem::exists(splitPath, ec)) {
        if (created) *created = false;
        return readImageFolderSplit(splitPath, root);
    }
    ImageFolderDataset data = splitImageFolder(root, options);
    writeImageFolderSplit(splitPath, data, options);
    if (created) *created = true;
    return data;
}

}  // namespace caspl
