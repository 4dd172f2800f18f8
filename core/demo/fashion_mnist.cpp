// Fashion-MNIST IDX reader and PNG/split export, see fashion_mnist.h.
#include "core/demo/fashion_mnist.h"

#include "core/data/split_zhou.h"
#include "core/image/image.h"
#include "core/io/gzip_file.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unistd.h>

namespace caspl {

namespace fs = std::filesystem;

namespace {

constexpr int kExportFormat = 1;
constexpr const char* kSplitName = "split_zhou_FashionMNIST.json";
constexpr const char* kPretrainSplitName = "split_pretrain.json";
constexpr const char* kStampName = "export.json";

std::string readMaybeGz(const std::string& path, const char* expected) {
    return readGzipFile(path, expected, "Debian package dataset-fashion-mnist, installed by scripts/install-deps.sh");
}

uint32_t bigEndian32(const std::string& d, std::size_t at) {
    return (uint32_t(uint8_t(d[at])) << 24) | (uint32_t(uint8_t(d[at + 1])) << 16) |
           (uint32_t(uint8_t(d[at + 2])) << 8) | uint32_t(uint8_t(d[at + 3]));
}

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", v);
    return buf;
}

// Checks the header of an unsigned-byte IDX file with `dims` dimensions and returns them.
std::vector<uint32_t> idxHeader(const std::string& data, const std::string& path, int dims, const char* what) {
    const uint32_t magic = 0x00000800u | uint32_t(dims);
    const std::size_t headerBytes = 4 + 4 * std::size_t(dims);
    const std::string expected = std::string("an IDX ") + what + " file (magic " + hex32(magic) + ")";
    auto tooShort = [&] {
        return Error(path + ": " + std::to_string(data.size()) + " bytes, too short for the " +
                     std::to_string(headerBytes) + "-byte header of " + expected);
    };
    if (data.size() < 4) throw tooShort();
    const uint32_t found = bigEndian32(data, 0);
    if (found != magic) {
        std::string hint;
        if (found == 0x00000801u) hint = " (an IDX label file)";
        if (found == 0x00000803u) hint = " (an IDX image file)";
        if ((found >> 16) == 0x8B1Fu || (found >> 16) == 0x1F8Bu) hint = " (gzip data inside gzip?)";
        throw Error(path + ": magic number " + hex32(found) + hint + "; expected " + expected);
    }
    if (data.size() < headerBytes) throw tooShort();
    std::vector<uint32_t> size;
    uint64_t total = 1;
    for (int i = 0; i < dims; ++i) {
        size.push_back(bigEndian32(data, 4 + 4 * std::size_t(i)));
        total *= size.back();
    }
    const uint64_t have = data.size() - headerBytes;
    if (have != total) {
        std::string shape;
        for (auto s : size) shape += (shape.empty() ? "" : " x ") + std::to_string(s);
        throw Error(path + ": the header announces " + shape + " = " + std::to_string(total) + " bytes of data, but " +
                    std::to_string(have) + " follow (" + (have < total ? "truncated" : "trailing bytes") +
                    "); expected " + expected);
    }
    return size;
}

bool processAlive(long pid) { return pid > 0 && (::kill(pid_t(pid), 0) == 0 || errno == EPERM); }

// Removes "<name>.tmp-<pid>" / "<name>.old-<pid>" folders left by processes that no longer run.
void removeStaleTemporaries(const fs::path& parent, const std::string& name) {
    std::error_code ec;
    if (!fs::is_directory(parent, ec)) return;
    for (const auto& e : fs::directory_iterator(parent, ec)) {
        const std::string n = e.path().filename().string();
        for (const char* tag : {".tmp-", ".old-"}) {
            const std::string prefix = name + tag;
            if (n.rfind(prefix, 0) != 0) continue;
            char* end = nullptr;
            const long pid = std::strtol(n.c_str() + prefix.size(), &end, 10);
            if (end && *end == '\0' && !processAlive(pid)) fs::remove_all(e.path(), ec);
        }
    }
}

std::string folderOf(const std::string& classname) {
    std::string f = classname;
    for (char& c : f)
        if (c == ' ') c = '_';
    return f;
}

std::string fileName(const char* set, int64_t index) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s_%05lld.png", set, static_cast<long long>(index));
    return buf;
}

nlohmann::json stampJson(const FashionMnistOptions& o) {
    return {{"format", kExportFormat},
            {"source", o.sourceDir},
            {"pretrain_per_class", o.pretrainPerClass},
            {"train_per_class", o.trainPerClass},
            {"val_per_class", o.valPerClass},
            {"test_per_class", o.testPerClass}};
}

void validateOptions(const FashionMnistOptions& o) {
    auto check = [](int v, const char* name, int min) {
        if (v < min)
            throw Error(std::string("Fashion-MNIST export: ") + name + " must be at least " + std::to_string(min) +
                        ", got " + std::to_string(v));
    };
    check(o.pretrainPerClass, "pretrainPerClass", 0);
    check(o.trainPerClass, "trainPerClass", 1);
    check(o.valPerClass, "valPerClass", 0);
    check(o.testPerClass, "testPerClass", 1);
}

// True when `root` holds a complete export made with these options.
bool exportComplete(const fs::path& root, const nlohmann::json& stamp) {
    std::error_code ec;
    const fs::path s = root / kStampName;
    if (!fs::is_regular_file(s, ec) || !fs::is_regular_file(root / kSplitName, ec) ||
        !fs::is_regular_file(root / kPretrainSplitName, ec))
        return false;
    try {
        const auto j = nlohmann::json::parse(readFile(s.string()));
        return j.is_object() && j.contains("options") && j["options"] == stamp;
    } catch (const std::exception&) {
        return false;
    }
}

FashionMnistData readExport(const fs::path& root) {
    FashionMnistData d;
    d.root = root.string();
    d.imageDir = (root / "images").string();
    d.splitPath = (root / kSplitName).string();
    d.pretrainSplitPath = (root / kPretrainSplitName).string();
    d.classnames = fashionMnistClassnames();
    SplitZhouOptions so;
    so.imageDir = d.imageDir;
    d.split = readSplitZhou(d.splitPath, so);
    so.requireVal = so.requireTest = false;
    d.pretrain = readSplitZhou(d.pretrainSplitPath, so).train;
    return d;
}

void logTo(EventSink* sink, const std::string& msg) {
    if (sink) sink->log(LogLevel::Info, msg);
}

}  // namespace

IdxImages readIdxImages(const std::string& path) {
    const std::string data = readMaybeGz(path, "an IDX image file (magic 0x00000803)");
    const auto size = idxHeader(data, path, 3, "image");
    IdxImages out;
    out.count = int64_t(size[0]);
    out.rows = int(size[1]);
    out.cols = int(size[2]);
    if ((out.rows == 0 || out.cols == 0) && out.count > 0)
        throw Error(path + ": images of " + std::to_string(out.rows) + " x " + std::to_string(out.cols) +
                    " pixels; expected a non-empty image size");
    out.pixels.assign(data.begin() + 16, data.end());
    return out;
}

std::vector<uint8_t> readIdxLabels(const std::string& path) {
    const std::string data = readMaybeGz(path, "an IDX label file (magic 0x00000801)");
    idxHeader(data, path, 1, "label");
    return std::vector<uint8_t>(data.begin() + 8, data.end());
}

const std::vector<std::string>& fashionMnistClassnames() {
    static const std::vector<std::string> names{"t-shirt", "trouser", "pullover", "dress", "coat",
                                                "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
    return names;
}

bool fashionMnistAvailable(const std::string& sourceDir) {
    std::error_code ec;
    for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                          "t10k-labels-idx1-ubyte.gz"})
        if (!fs::is_regular_file(fs::path(sourceDir) / f, ec)) return false;
    return true;
}

std::string fashionMnistStamp(const FashionMnistOptions& options) { return stampJson(options).dump(); }

FashionMnistData prepareFashionMnist(const std::string& cacheDir, const FashionMnistOptions& o, EventSink* sink,
                                     const StopToken* stop) {
    validateOptions(o);
    const auto t0 = std::chrono::steady_clock::now();
    auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    if (cacheDir.empty()) throw Error("Fashion-MNIST export: no cache folder given");
    std::error_code ec;
    const fs::path parent = fs::absolute(cacheDir, ec);
    const fs::path root = parent / "fashion-mnist";
    const nlohmann::json stamp = stampJson(o);
    if (exportComplete(root, stamp)) {
        FashionMnistData d = readExport(root);
        d.seconds = seconds();
        return d;
    }
    fs::create_directories(parent, ec);
    if (ec) throw Error(parent.string() + ": cannot create the cache folder: " + ec.message());
    removeStaleTemporaries(parent, "fashion-mnist");

    const fs::path src(o.sourceDir);
    const auto& names = fashionMnistClassnames();
    const int numClasses = int(names.size());
    struct Source {
        const char* set;
        IdxImages images;
        std::vector<uint8_t> labels;
        std::string imagePath, labelPath;
    };
    auto readSource = [&](const char* set) {
        Source s;
        s.set = set;
        s.imagePath = (src / (std::string(set) + "-images-idx3-ubyte.gz")).string();
        s.labelPath = (src / (std::string(set) + "-labels-idx1-ubyte.gz")).string();
        s.images = readIdxImages(s.imagePath);
        s.labels = readIdxLabels(s.labelPath);
        if (int64_t(s.labels.size()) != s.images.count)
            throw Error(s.labelPath + ": " + std::to_string(s.labels.size()) + " labels, but " + s.imagePath +
                        " holds " + std::to_string(s.images.count) + " images; expected one label per image");
        if (s.images.rows != 28 || s.images.cols != 28)
            throw Error(s.imagePath + ": images of " + std::to_string(s.images.rows) + " x " +
                        std::to_string(s.images.cols) + " pixels; expected Fashion-MNIST's 28 x 28");
        for (std::size_t i = 0; i < s.labels.size(); ++i)
            if (s.labels[i] >= numClasses)
                throw Error(s.labelPath + ": label " + std::to_string(s.labels[i]) + " at index " + std::to_string(i) +
                            "; expected 0.." + std::to_string(numClasses - 1));
        return s;
    };
    const Source train = readSource("train");
    const Source test = readSource("t10k");

    const fs::path tmp = parent / ("fashion-mnist.tmp-" + std::to_string(::getpid()));
    fs::remove_all(tmp, ec);
    try {
        const fs::path imageDir = tmp / "images";
        for (const auto& n : names) fs::create_directories(imageDir / folderOf(n));
        DatasetSplit split, pretrainSplit;
        Image img(28, 28, 1);
        int64_t written = 0;
        auto emit = [&](const Source& s, int64_t index, std::vector<Datum>& list) {
            if (stop && stop->requested()) throw Interrupted{"Fashion-MNIST export"};
            const int label = s.labels[std::size_t(index)];
            const std::string rel = folderOf(names[std::size_t(label)]) + "/" + fileName(s.set, index);
            std::memcpy(img.data.data(), s.images.image(index), 28 * 28);
            encodeImageFile(img, (imageDir / rel).string());
            list.push_back({rel, label, names[std::size_t(label)], 0});
            ++written;
        };
        // The cuts of each class, in IDX order.
        std::vector<int64_t> seen(std::size_t(numClasses), 0);
        const int64_t p = o.pretrainPerClass, t = p + o.trainPerClass, v = t + o.valPerClass;
        for (int64_t i = 0; i < train.images.count; ++i) {
            const int64_t k = seen[train.labels[std::size_t(i)]]++;
            if (k < p) emit(train, i, pretrainSplit.train);
            else if (k < t) emit(train, i, split.train);
            else if (k < v) emit(train, i, split.val);
        }
        for (int c = 0; c < numClasses; ++c)
            if (seen[std::size_t(c)] < v)
                throw Error(train.labelPath + ": class '" + names[std::size_t(c)] + "' has " +
                            std::to_string(seen[std::size_t(c)]) + " images; the export asks for " + std::to_string(v) +
                            " (pretrain + train + val per class)");
        std::fill(seen.begin(), seen.end(), 0);
        for (int64_t i = 0; i < test.images.count; ++i)
            if (seen[test.labels[std::size_t(i)]]++ < o.testPerClass) emit(test, i, split.test);
        for (int c = 0; c < numClasses; ++c)
            if (seen[std::size_t(c)] < o.testPerClass)
                throw Error(test.labelPath + ": class '" + names[std::size_t(c)] + "' has " +
                            std::to_string(seen[std::size_t(c)]) + " images; the export asks for " +
                            std::to_string(o.testPerClass) + " test images per class");

        writeFileAtomically((tmp / kSplitName).string(), splitZhouToJson(split));
        writeFileAtomically((tmp / kPretrainSplitName).string(), splitZhouToJson(pretrainSplit));
        nlohmann::json st{{"options", stamp},
                          {"classes", names},
                          {"counts",
                           {{"pretrain", pretrainSplit.train.size()},
                            {"train", split.train.size()},
                            {"val", split.val.size()},
                            {"test", split.test.size()}}}};
        writeFileAtomically((tmp / kStampName).string(), st.dump(2) + "\n");

        // Into place: an older export (other options) moves aside first; a concurrent export that got there first
        // with the same options is kept.
        if (fs::exists(root, ec)) {
            if (exportComplete(root, stamp)) {
                fs::remove_all(tmp, ec);
                FashionMnistData d = readExport(root);
                d.seconds = seconds();
                return d;
            }
            const fs::path old = parent / ("fashion-mnist.old-" + std::to_string(::getpid()));
            fs::remove_all(old, ec);
            fs::rename(root, old, ec);
            if (ec) throw Error(root.string() + ": cannot move the previous export aside: " + ec.message());
            fs::remove_all(old, ec);
        }
        fs::rename(tmp, root, ec);
        if (ec) {
            if (exportComplete(root, stamp)) {
                fs::remove_all(tmp, ec);
                FashionMnistData d = readExport(root);
                d.seconds = seconds();
                return d;
            }
            throw Error(root.string() + ": cannot move the export into place: " + ec.message());
        }
        logTo(sink, "exported " + std::to_string(written) + " Fashion-MNIST images to " + root.string());
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    FashionMnistData d = readExport(root);
    d.exported = true;
    d.seconds = seconds();
    return d;
}

}  // namespace caspl
