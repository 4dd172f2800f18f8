#include "core/data/benchmarks.h"

#include "core/data/split_zhou.h"
#include "core/data/templates.h"
#include "core/util/error.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>

namespace caspl {

namespace fs = std::filesystem;

namespace {

BenchmarkDataset splitDataset(const char* name, const char* title, const char* folder, const char* imageDir,
                              int classes, SplitCounts counts, const std::string& download) {
    BenchmarkDataset d;
    d.name = name;
    d.title = title;
    d.folder = folder;
    d.imageDir = imageDir;
    d.splitFile = std::string("split_zhou_") + name + ".json";
    d.layout = DatasetLayout::SplitZhou;
    d.numClasses = classes;
    d.expected = counts;
    d.howToGet = "create " + d.folder + "/ under the root; " + download + "; download " + d.splitFile +
                 " (link in CoOp's DATASETS.md) into " + d.folder + "/";
    return d;
}

BenchmarkDataset variantDataset(const char* name, const char* title, const char* folder, const char* imageDir,
                                DatasetLayout layout, int classes, int64_t test, const std::string& download) {
    BenchmarkDataset d;
    d.name = name;
    d.title = title;
    d.folder = folder;
    d.imageDir = imageDir;
    d.layout = layout;
    d.numClasses = classes;
    d.expected = {-1, -1, test};
    d.testOnly = true;
    d.howToGet = "create " + d.folder + "/ under the root; " + download + "; copy imagenet/classnames.txt (from " +
                 "CoOp's DATASETS.md) into " + d.folder + "/";
    return d;
}

std::vector<BenchmarkDataset> makeRegistry() {
    std::vector<BenchmarkDataset> r;
    {
        BenchmarkDataset d;
        d.name = "ImageNet";
        d.title = "ImageNet (ILSVRC-2012)";
        d.folder = "imagenet";
        d.imageDir = "images";
        d.layout = DatasetLayout::ImageNet;
        d.numClasses = 1000;
        d.expected = {1281167, -1, 50000};
        d.howToGet =
            "create imagenet/images/ under the root and extract the ILSVRC-2012 training and validation sets into "
            "images/train/<wnid>/ and images/val/<wnid>/ (validation images sorted into class folders); download "
            "classnames.txt (link in CoOp's DATASETS.md) into imagenet/";
        r.push_back(d);
    }
    r.push_back(splitDataset("Caltech101", "Caltech-101", "caltech-101", "101_ObjectCategories", 100,
                             {4128, 1649, 2465}, "extract 101_ObjectCategories.tar.gz into it"));
    r.push_back(splitDataset("OxfordPets", "Oxford-IIIT Pets", "oxford_pets", "images", 37, {2944, 736, 3669},
                             "extract images.tar.gz and annotations.tar.gz into it"));
    r.push_back(splitDataset("StanfordCars", "Stanford Cars", "stanford_cars", "", 196, {6509, 1635, 8041},
                             "extract cars_train.tgz, cars_test.tgz and the devkit into it (cars_train/, "
                             "cars_test/)"));
    r.push_back(splitDataset("OxfordFlowers", "Flowers-102", "oxford_flowers", "jpg", 102, {4093, 1633, 2463},
                             "extract 102flowers.tgz into it (jpg/) and add imagelabels.mat and cat_to_name.json"));
    r.push_back(splitDataset("Food101", "Food-101", "food-101", "images", 101, {50500, 20200, 30300},
                             "extract food-101.tar.gz next to it (it creates food-101/images/)"));
    {
        BenchmarkDataset d;
        d.name = "FGVCAircraft";
        d.title = "FGVC-Aircraft";
        d.folder = "fgvc_aircraft";
        d.imageDir = "images";
        d.layout = DatasetLayout::FGVCAircraft;
        d.numClasses = 100;
        d.expected = {3334, 3333, 3333};
        d.howToGet = "extract fgvc-aircraft-2013b.tar.gz and move its data/ folder under the root, renamed "
                     "fgvc_aircraft/ (it holds images/, variants.txt and images_variant_{train,val,test}.txt)";
        r.push_back(d);
    }
    r.push_back(splitDataset("SUN397", "SUN397", "sun397", "SUN397", 397, {15880, 3970, 19850},
                             "extract SUN397.tar.gz into it (SUN397/)"));
    r.push_back(splitDataset("DescribableTextures", "DTD (Describable Textures)", "dtd", "images", 47,
                             {2820, 1128, 1692}, "extract dtd-r1.0.1.tar.gz next to it (it creates dtd/images/)"));
    r.push_back(splitDataset("EuroSAT", "EuroSAT", "eurosat", "2750", 10, {13500, 5400, 8100},
                             "extract EuroSAT.zip into it (2750/)"));
    r.push_back(splitDataset("UCF101", "UCF101 (middle frames)", "ucf101", "UCF-101-midframes", 101,
                             {7639, 1898, 3783}, "extract UCF-101-midframes.zip into it (UCF-101-midframes/)"));
    r.push_back(variantDataset("ImageNetV2", "ImageNetV2 (matched frequency)", "imagenetv2",
                               "imagenetv2-matched-frequency-format-val", DatasetLayout::ImageNetV2, 1000, 10000,
                               "extract imagenetv2-matched-frequency.tar.gz into it "
                               "(imagenetv2-matched-frequency-format-val/0 ... /999)"));
    r.push_back(variantDataset("ImageNetSketch", "ImageNet-Sketch", "imagenet-sketch", "images",
                               DatasetLayout::ClassFolders, 1000, 50889,
                               "extract ImageNet-Sketch into it as images/<wnid>/"));
    r.push_back(variantDataset("ImageNetA", "ImageNet-A", "imagenet-adversarial", "imagenet-a",
                               DatasetLayout::ClassFolders, 200, 7500, "extract imagenet-a.tar into it (imagenet-a/)"));
    r.push_back(variantDataset("ImageNetR", "ImageNet-R", "imagenet-rendition", "imagenet-r",
                               DatasetLayout::ClassFolders, 200, 30000,
                               "extract imagenet-r.tar into it (imagenet-r/)"));
    return r;
}

bool isHidden(const std::string& name) { return !name.empty() && name[0] == '.'; }

std::vector<std::string> listEntries(const std::string& dir, bool wantDirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error(dir + ": folder not found (expected a folder)");
    std::vector<std::string> names;
    fs::directory_iterator it(dir, ec), end;
    if (ec) throw Error(dir + ": cannot list the folder: " + ec.message());
    for (; it != end; it.increment(ec)) {
        if (ec) throw Error(dir + ": error while listing the folder: " + ec.message());
        const std::string name = it->path().filename().string();
        if (isHidden(name)) continue;
        std::error_code sec;
        const bool dir = it->is_directory(sec);  // follows symlinks
        if (wantDirs ? dir : (!dir && it->is_regular_file(sec))) names.push_back(name);
    }
    if (ec) throw Error(dir + ": error while listing the folder: " + ec.message());
    std::sort(names.begin(), names.end());
    return names;
}

std::string strip(const std::string& s) {
    const char* ws = " \t\r\n\v\f";
    const auto b = s.find_first_not_of(ws);
    if (b == std::string::npos) return {};
    const auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

std::vector<std::string> readLines(const std::string& path, const std::string& expected, const std::string& hint) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error(path + ": not found; expected " + expected + " (" + hint + ")");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot be opened; expected " + expected);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    if (in.bad()) throw Error(path + ": read error");
    return lines;
}

void requireFolder(const std::string& path, const std::string& expected, const BenchmarkDataset& d) {
    std::error_code ec;
    if (!fs::is_directory(path, ec))
        throw Error(path + ": folder not found; expected " + expected + " (" + d.howToGet + ")");
}

// Images of the class folders `folders` under `dir`, label = position in `folders`.
void appendClassFolders(const std::string& dir, const std::vector<std::string>& folders,
                        const std::vector<std::string>& classnames, std::vector<Datum>& out) {
    for (size_t label = 0; label < folders.size(); ++label) {
        const std::string classDir = joinPath(dir, folders[label]);
        for (const auto& im : listFiles(classDir)) {
            Datum d;
            d.impath = joinPath(classDir, im);
            d.label = int(label);
            d.classname = classnames[label];
            out.push_back(std::move(d));
        }
    }
}

std::map<std::string, std::string> classnameMap(const std::vector<std::pair<std::string, std::string>>& v) {
    std::map<std::string, std::string> m;
    for (const auto& [k, name] : v) m[k] = name;  // a repeated wnid: the last line wins (OrderedDict assignment)
    return m;
}

// Names of `folders` looked up in classnames.txt; throws naming the first folder without a line.
std::vector<std::string> lookupNames(const std::vector<std::string>& folders,
                                     const std::map<std::string, std::string>& names, const std::string& namesPath,
                                     const std::string& where) {
    std::vector<std::string> out;
    out.reserve(folders.size());
    for (const auto& f : folders) {
        auto it = names.find(f);
        if (it == names.end())
            throw Error(namesPath + ": no line for class folder '" + f + "' (found in " + where +
                        "); expected a line '<wnid> <class name>' for every class folder (use ImageNet's "
                        "classnames.txt from CoOp's DATASETS.md)");
        out.push_back(it->second);
    }
    return out;
}

void readSplitLayout(const BenchmarkDataset& d, const std::string& dir, LoadedDataset& out) {
    const std::string splitPath = joinPath(dir, d.splitFile);
    std::error_code ec;
    if (!fs::exists(splitPath, ec))
        throw Error(splitPath + ": not found; expected CoOp's split file of " + d.name + " (download " + d.splitFile +
                    " from the link in CoOp's DATASETS.md into " + dir + "/)");
    const std::string imageDir = d.imageDir.empty() ? dir : joinPath(dir, d.imageDir);
    requireFolder(imageDir, "the images folder of " + d.name, d);
    SplitZhouOptions opts;
    opts.imageDir = imageDir;
    out.split = readSplitZhou(splitPath, opts);
}

void readAircraft(const BenchmarkDataset& d, const std::string& dir, LoadedDataset& out) {
    const std::string imageDir = joinPath(dir, d.imageDir);
    const std::string variantsPath = joinPath(dir, "variants.txt");
    const auto variantLines =
        readLines(variantsPath, "one aircraft variant (class name) per line, in label order", d.howToGet);
    std::map<std::string, int> cname2lab;
    for (size_t i = 0; i < variantLines.size(); ++i) cname2lab[strip(variantLines[i])] = int(i);
    // (as in CoOp, every line is a class, so a trailing blank line only adds an unused "" class)
    requireFolder(imageDir, "the images folder of FGVCAircraft (images/<image id>.jpg)", d);
    auto readList = [&](const char* file) {
        const std::string path = joinPath(dir, file);
        const auto lines = readLines(path, "lines '<image id> <variant name>'", d.howToGet);
        std::vector<Datum> items;
        for (size_t i = 0; i < lines.size(); ++i) {
            const std::string line = strip(lines[i]);
            if (line.empty()) continue;
            const auto sp = line.find(' ');
            if (sp == std::string::npos)
                throw Error(path + ":" + std::to_string(i + 1) + ": expected '<image id> <variant name>', found '" +
                            line + "'");
            Datum dt;
            dt.impath = joinPath(imageDir, line.substr(0, sp) + ".jpg");
            dt.classname = line.substr(sp + 1);
            auto it = cname2lab.find(dt.classname);
            if (it == cname2lab.end())
                throw Error(path + ":" + std::to_string(i + 1) + ": variant '" + dt.classname +
                            "' is not a line of " + variantsPath + " (expected one of its class names)");
            dt.label = it->second;
            items.push_back(std::move(dt));
        }
        return items;
    };
    out.split.train = readList("images_variant_train.txt");
    out.split.val = readList("images_variant_val.txt");
    out.split.test = readList("images_variant_test.txt");
}

void readImageNet(const BenchmarkDataset& d, const std::string& dir, LoadedDataset& out) {
    const std::string namesPath = joinPath(dir, "classnames.txt");
    std::error_code ec;
    if (!fs::exists(namesPath, ec))
        throw Error(namesPath + ": not found; expected lines '<wnid> <class name>' (" + d.howToGet + ")");
    const auto names = classnameMap(readImageNetClassnames(namesPath));
    const std::string imageDir = joinPath(dir, d.imageDir);
    for (const char* sub : {"train", "val"}) {
        const std::string splitDir = joinPath(imageDir, sub);
        requireFolder(splitDir, std::string("images/") + sub + "/<wnid>/ class folders", d);
        const auto folders = listSubfolders(splitDir);
        if (folders.empty())
            throw Error(splitDir + ": no class folders; expected one folder per wnid (" + d.howToGet + ")");
        const auto classnames = lookupNames(folders, names, namesPath, splitDir);
        appendClassFolders(splitDir, folders, classnames, std::string(sub) == "train" ? out.split.train
                                                                                    : out.split.test);
    }
}

void readImageNetV2(const BenchmarkDataset& d, const std::string& dir, LoadedDataset& out) {
    const std::string namesPath = joinPath(dir, "classnames.txt");
    std::error_code ec;
    if (!fs::exists(namesPath, ec))
        throw Error(namesPath + ": not found; expected ImageNet's classnames.txt ('<wnid> <class name>' lines) (" +
                    d.howToGet + ")");
    const auto names = readImageNetClassnames(namesPath);
    const std::string imageDir = joinPath(dir, d.imageDir);
    requireFolder(imageDir, "class folders 0 ... " + std::to_string(names.size() - 1), d);
    for (size_t label = 0; label < names.size(); ++label) {
        const std::string classDir = joinPath(imageDir, std::to_string(label));
        if (!fs::is_directory(classDir, ec))
            throw Error(classDir + ": folder not found; expected one folder per class, named 0 ... " +
                        std::to_string(names.size() - 1) + " like the lines of " + namesPath + " (" + d.howToGet +
                        ")");
        for (const auto& im : listFiles(classDir)) {
            Datum dt;
            dt.impath = joinPath(classDir, im);
            dt.label = int(label);
            dt.classname = names[label].second;
            out.split.test.push_back(std::move(dt));
        }
    }
}

void readClassFolders(const BenchmarkDataset& d, const std::string& dir, LoadedDataset& out) {
    const std::string namesPath = joinPath(dir, "classnames.txt");
    std::error_code ec;
    if (!fs::exists(namesPath, ec))
        throw Error(namesPath + ": not found; expected ImageNet's classnames.txt ('<wnid> <class name>' lines) (" +
                    d.howToGet + ")");
    const auto names = classnameMap(readImageNetClassnames(namesPath));
    const std::string imageDir = joinPath(dir, d.imageDir);
    requireFolder(imageDir, "one folder per wnid", d);
    const auto folders = listSubfolders(imageDir);  // README.txt of ImageNet-A/-R is a file, not listed
    if (folders.empty()) throw Error(imageDir + ": no class folders; expected one folder per wnid");
    const auto classnames = lookupNames(folders, names, namesPath, imageDir);
    appendClassFolders(imageDir, folders, classnames, out.split.test);
}

}  // namespace

const std::vector<BenchmarkDataset>& benchmarkDatasets() {
    static const std::vector<BenchmarkDataset> r = makeRegistry();
    return r;
}

const BenchmarkDataset* findBenchmarkDataset(const std::string& name) {
    for (const auto& d : benchmarkDatasets())
        if (d.name == name) return &d;
    return nullptr;
}

const BenchmarkDataset& benchmarkDataset(const std::string& name) {
    if (const auto* d = findBenchmarkDataset(name)) return *d;
    std::string known;
    for (const auto& d : benchmarkDatasets()) known += (known.empty() ? "" : ", ") + d.name;
    throw Error("dataset '" + name + "' is unknown; expected one of " + known);
}

std::string absolutePath(const std::string& path) {
    std::error_code ec;
    fs::path p = fs::absolute(path.empty() ? "." : path, ec);
    if (ec) throw Error(path + ": cannot make the path absolute: " + ec.message());
    std::string s = p.lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

std::vector<std::string> listSubfolders(const std::string& dir) { return listEntries(dir, true); }
std::vector<std::string> listFiles(const std::string& dir) { return listEntries(dir, false); }

std::vector<std::pair<std::string, std::string>> readImageNetClassnames(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot be opened; expected lines '<wnid> <class name>'");
    std::vector<std::pair<std::string, std::string>> out;
    std::string line;
    while (std::getline(in, line)) {
        line = strip(line);
        if (line.empty()) continue;
        const auto sp = line.find(' ');
        if (sp == std::string::npos)
            out.emplace_back(line, "");
        else
            out.emplace_back(line.substr(0, sp), line.substr(sp + 1));
    }
    if (in.bad()) throw Error(path + ": read error");
    return out;
}

std::vector<std::string> classnamesFromLists(const std::vector<Datum>& primary,
                                             const std::vector<const std::vector<Datum>*>& others) {
    int maxLabel = -1;
    for (const auto& d : primary) maxLabel = std::max(maxLabel, d.label);
    if (primary.empty())
        for (const auto* l : others)
            for (const auto& d : *l) maxLabel = std::max(maxLabel, d.label);
    std::vector<std::string> names(size_t(maxLabel + 1));
    std::vector<char> have(names.size(), 0);
    for (const auto& d : primary) {
        names[size_t(d.label)] = d.classname;
        have[size_t(d.label)] = 1;
    }
    for (const auto* l : others)
        for (const auto& d : *l)
            if (size_t(d.label) < names.size() && !have[size_t(d.label)]) {
                names[size_t(d.label)] = d.classname;
                have[size_t(d.label)] = 2;
            }
    return names;
}

LoadedDataset readBenchmarkDataset(const std::string& root, const std::string& name) {
    const BenchmarkDataset& d = benchmarkDataset(name);
    const std::string absRoot = absolutePath(root);
    std::error_code ec;
    if (!fs::is_directory(absRoot, ec))
        throw Error(absRoot + ": dataset root folder not found; expected the folder that holds " + d.folder + "/");
    LoadedDataset out;
    out.name = d.name;
    out.datasetDir = joinPath(absRoot, d.folder);
    if (!fs::is_directory(out.datasetDir, ec))
        throw Error(out.datasetDir + ": folder not found; expected the " + d.name + " dataset there (" + d.howToGet +
                    ")");
    switch (d.layout) {
        case DatasetLayout::SplitZhou: readSplitLayout(d, out.datasetDir, out); break;
        case DatasetLayout::FGVCAircraft: readAircraft(d, out.datasetDir, out); break;
        case DatasetLayout::ImageNet: readImageNet(d, out.datasetDir, out); break;
        case DatasetLayout::ImageNetV2: readImageNetV2(d, out.datasetDir, out); break;
        case DatasetLayout::ClassFolders: readClassFolders(d, out.datasetDir, out); break;
    }
    if (d.testOnly)
        out.classnames = classnamesFromLists(out.split.test);
    else
        out.classnames = classnamesFromLists(out.split.train, {&out.split.val, &out.split.test});
    out.promptTemplate = customTemplate(d.name);
    return out;
}

}  // namespace caspl
