// Datasets: the benchmark readers on tiny fake trees in CoOp's layouts (split_zhou JSON, FGVC-Aircraft txt files,
// ImageNet and its variants), the image-folder split, the threaded loader (order, determinism across thread counts,
// drop_last, skipped images, cancellation) and the decoded-image cache (hits equal fresh decodes byte for byte,
// invalidation). Every image is drawn here with OpenCV.
#include "core/data/benchmarks.h"
#include "core/data/dataset_check.h"
#include "core/data/fewshot.h"
#include "core/data/image_cache.h"
#include "core/data/image_folder.h"
#include "core/data/loader.h"
#include "core/data/split_zhou.h"
#include "core/data/templates.h"
#include "core/image/image.h"
#include "core/image/preprocess.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "test_support.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <QDir>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/stat.h>
#include <set>

using namespace caspl;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the test executable's temporary directory.
std::string freshDir(const std::string& name) {
    const std::string p = QDir(caspl::test::tempDir()).filePath(QString::fromStdString(name)).toStdString();
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
}

// Draws a small picture (gradient, a circle and a rectangle that depend on `seed`) and writes it; the format
// follows the extension.
void drawImage(const std::string& path, int w, int h, int seed) {
    fs::create_directories(fs::path(path).parent_path());
    cv::Mat m(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            m.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t((x * 5 + seed * 17) & 255), uint8_t((y * 7 + seed * 31) & 255),
                                              uint8_t(((x + y) * 3 + seed * 59) & 255));
    cv::circle(m, cv::Point((seed * 7) % w, (seed * 11) % h), 3 + seed % 9, cv::Scalar(255, 255 - seed, seed), -1);
    cv::rectangle(m, cv::Rect(seed % (w / 2), seed % (h / 2), w / 3, h / 4), cv::Scalar(seed * 13 % 256, 0, 200), 2);
    if (!cv::imwrite(path, m)) throw std::runtime_error("cannot write " + path);
}

void writeText(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

std::string errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// 20 images of varied sizes and formats, labels i % 4.
std::vector<Datum> makeItems(const std::string& dir, int n = 20) {
    std::vector<Datum> items;
    for (int i = 0; i < n; ++i) {
        Datum d;
        d.impath = dir + "/img_" + std::to_string(i) + (i % 3 == 0 ? ".jpg" : ".png");
        drawImage(d.impath, 40 + (i * 7) % 30, 30 + (i * 5) % 25, i + 1);
        d.label = i % 4;
        d.classname = "class" + std::to_string(i % 4);
        items.push_back(d);
    }
    return items;
}

std::vector<Batch> runEpoch(ImageLoader& loader, uint64_t epoch) {
    loader.start(epoch);
    std::vector<Batch> out;
    Batch b;
    while (loader.next(b)) out.push_back(b);
    return out;
}

bool sameBatches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].number != b[i].number || a[i].labels != b[i].labels || a[i].indices != b[i].indices ||
            a[i].pixels.size() != b[i].pixels.size() ||
            std::memcmp(a[i].pixels.data(), b[i].pixels.data(), a[i].pixels.size() * sizeof(float)) != 0)
            return false;
    return true;
}

std::string splitJson(const std::vector<std::tuple<std::string, int, std::string>>& train,
                      const std::vector<std::tuple<std::string, int, std::string>>& val,
                      const std::vector<std::tuple<std::string, int, std::string>>& test) {
    DatasetSplit s;
    auto fill = [](std::vector<Datum>& out, const std::vector<std::tuple<std::string, int, std::string>>& in) {
        for (const auto& [p, l, c] : in) {
            Datum d;
            d.impath = p;
            d.label = l;
            d.classname = c;
            out.push_back(d);
        }
    };
    fill(s.train, train);
    fill(s.val, val);
    fill(s.test, test);
    return splitZhouToJson(s);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------

class DatasetReadersTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void registryCoversEveryDasslDataset() {
        QCOMPARE(int(benchmarkDatasets().size()), 15);
        std::set<std::string> folders;
        for (const auto& p : knownDatasets()) {
            const BenchmarkDataset* d = findBenchmarkDataset(p.name);
            QVERIFY2(d, p.name.c_str());
            QCOMPARE(d->testOnly, p.kind == DatasetKind::TestOnly);
            QVERIFY(d->numClasses > 0);
            QVERIFY(d->expected.test > 0);
            QVERIFY(d->countsApproximate);  // the spec's table is RECALLED
            QVERIFY(!d->howToGet.empty());
            QVERIFY(folders.insert(d->folder).second);
            QVERIFY(d->layout != DatasetLayout::SplitZhou || d->splitFile == "split_zhou_" + d->name + ".json");
        }
        QCOMPARE(benchmarkDataset("OxfordPets").folder, std::string("oxford_pets"));
        QCOMPARE(benchmarkDataset("ImageNetA").numClasses, 200);
        const std::string e = errorOf([] { benchmarkDataset("Pets"); });
        QVERIFY2(contains(e, "'Pets'") && contains(e, "OxfordPets") && contains(e, "ImageNetR"), e.c_str());
    }

    void splitZhouDataset() {
        const std::string root = freshDir("readers/split");
        const std::string images = root + "/oxford_pets/images";
        for (const char* f : {"Abyssinian_1.jpg", "Abyssinian_2.jpg", "beagle_1.jpg", "beagle_2.jpg", "pug_1.png",
                              "pug_2.png"})
            drawImage(images + "/" + f, 32, 24, int(std::strlen(f)));
        writeText(root + "/oxford_pets/split_zhou_OxfordPets.json",
                  splitJson({{"Abyssinian_1.jpg", 0, "abyssinian"}, {"beagle_1.jpg", 1, "beagle"},
                             {"pug_1.png", 2, "pug"}},
                            {{"beagle_2.jpg", 1, "beagle"}}, {{"Abyssinian_2.jpg", 0, "abyssinian"},
                                                              {"pug_2.png", 2, "pug"}}));
        // A root given with "." and a trailing '/' gives normalised absolute paths, as os.path.abspath.
        const LoadedDataset d = readBenchmarkDataset(root + "/./", "OxfordPets");
        QCOMPARE(d.name, std::string("OxfordPets"));
        QCOMPARE(d.datasetDir, root + "/oxford_pets");
        QCOMPARE(int(d.split.train.size()), 3);
        QCOMPARE(int(d.split.val.size()), 1);
        QCOMPARE(int(d.split.test.size()), 2);
        QCOMPARE(d.split.train[1].impath, images + "/beagle_1.jpg");
        QCOMPARE(d.split.test[1].label, 2);
        QCOMPARE(d.classnames, (std::vector<std::string>{"abyssinian", "beagle", "pug"}));
        QCOMPARE(d.promptTemplate, customTemplate("OxfordPets"));
        QCOMPARE(fillTemplate(d.promptTemplate, d.classnames[0]), std::string("a photo of a abyssinian, a type of pet."));
        // Feeds the few-shot protocol as is.
        FewShotOptions fs;
        fs.numShots = 1;
        const DatasetSplit few = buildFewShotSplit(d.split, datasetProtocol("OxfordPets"), fs);
        QCOMPARE(int(few.train.size()), 3);
    }

    void stanfordCarsPathsAreRelativeToTheFolder() {
        const std::string root = freshDir("readers/cars");
        drawImage(root + "/stanford_cars/cars_train/00001.jpg", 30, 20, 1);
        writeText(root + "/stanford_cars/split_zhou_StanfordCars.json",
                  splitJson({{"cars_train/00001.jpg", 0, "2012 Tesla Model S"}}, {}, {}));
        const LoadedDataset d = readBenchmarkDataset(root, "StanfordCars");
        QCOMPARE(d.split.train[0].impath, root + "/stanford_cars/cars_train/00001.jpg");
        QCOMPARE(d.classnames[0], std::string("2012 Tesla Model S"));
    }

    void missingFilesAreNamed() {
        const std::string root = freshDir("readers/missing");
        fs::create_directories(root + "/oxford_pets/images");
        std::string e = errorOf([&] { readBenchmarkDataset(root, "OxfordPets"); });
        QVERIFY2(contains(e, "oxford_pets/split_zhou_OxfordPets.json: not found") && contains(e, "DATASETS.md"),
                 e.c_str());
        e = errorOf([&] { readBenchmarkDataset(root, "Caltech101"); });
        QVERIFY2(contains(e, root + "/caltech-101: folder not found") && contains(e, "101_ObjectCategories"),
                 e.c_str());
        // The images folder is checked too.
        writeText(root + "/eurosat/split_zhou_EuroSAT.json", splitJson({{"a.jpg", 0, "x"}}, {}, {}));
        e = errorOf([&] { readBenchmarkDataset(root, "EuroSAT"); });
        QVERIFY2(contains(e, "eurosat/2750: folder not found"), e.c_str());
        // A malformed split file: the entry is named.
        fs::create_directories(root + "/dtd/images");
        writeText(root + "/dtd/split_zhou_DescribableTextures.json",
                  R"({"train": [["a.jpg", 0, "banded"], ["b.jpg", "one", "banded"]], "val": [], "test": []})");
        e = errorOf([&] { readBenchmarkDataset(root, "DescribableTextures"); });
        QVERIFY2(contains(e, "split_zhou_DescribableTextures.json") && contains(e, "\"train\"[1]"), e.c_str());
    }

    void fgvcAircraftTextFiles() {
        const std::string root = freshDir("readers/aircraft");
        const std::string dir = root + "/fgvc_aircraft";
        writeText(dir + "/variants.txt", "707-320\nF/A-18\nCessna 172\n");
        writeText(dir + "/images_variant_train.txt", "1025794 707-320\n0056978 Cessna 172\r\n\n");
        writeText(dir + "/images_variant_val.txt", "0001234 F/A-18\n");
        writeText(dir + "/images_variant_test.txt", "0004321 Cessna 172\n0004322 707-320\n");
        for (const char* id : {"1025794", "0056978", "0001234", "0004321", "0004322"})
            drawImage(dir + "/images/" + id + ".jpg", 30, 20, id[6] - '0');
        const LoadedDataset d = readBenchmarkDataset(root, "FGVCAircraft");
        QCOMPARE(int(d.split.train.size()), 2);
        QCOMPARE(d.split.train[0].impath, dir + "/images/1025794.jpg");
        QCOMPARE(d.split.train[1].label, 2);
        QCOMPARE(d.split.train[1].classname, std::string("Cessna 172"));
        QCOMPARE(d.split.val[0].label, 1);
        QCOMPARE(int(d.split.test.size()), 2);
        QCOMPARE(d.classnames, (std::vector<std::string>{"707-320", "F/A-18", "Cessna 172"}));
        QCOMPARE(d.promptTemplate, std::string("a photo of a {}, a type of aircraft."));
        // An unknown variant is reported with file and line.
        writeText(dir + "/images_variant_val.txt", "0001234 F/A-18\n0009999 Boeing 999\n");
        const std::string e = errorOf([&] { readBenchmarkDataset(root, "FGVCAircraft"); });
        QVERIFY2(contains(e, "images_variant_val.txt:2") && contains(e, "Boeing 999") && contains(e, "variants.txt"),
                 e.c_str());
        fs::remove(dir + "/variants.txt");
        const std::string e2 = errorOf([&] { readBenchmarkDataset(root, "FGVCAircraft"); });
        QVERIFY2(contains(e2, "fgvc_aircraft/variants.txt: not found"), e2.c_str());
    }

    void imageNetLayout() {
        const std::string root = freshDir("readers/imagenet");
        const std::string dir = root + "/imagenet";
        writeText(dir + "/classnames.txt", "n01440764 tench\nn01443537 goldfish\nn01484850 great white shark\n");
        // Created out of order; hidden files and stray sub-folders are ignored.
        drawImage(dir + "/images/train/n01484850/b.JPEG", 30, 20, 1);
        drawImage(dir + "/images/train/n01484850/a.JPEG", 30, 20, 2);
        drawImage(dir + "/images/train/n01440764/z.JPEG", 30, 20, 3);
        drawImage(dir + "/images/train/n01443537/m.JPEG", 30, 20, 4);
        writeText(dir + "/images/train/n01443537/.DS_Store", "x");
        fs::create_directories(dir + "/images/train/n01443537/sub");
        drawImage(dir + "/images/val/n01440764/v1.JPEG", 30, 20, 5);
        drawImage(dir + "/images/val/n01484850/v2.JPEG", 30, 20, 6);
        const LoadedDataset d = readBenchmarkDataset(root, "ImageNet");
        QCOMPARE(int(d.split.train.size()), 4);
        QCOMPARE(d.split.train[0].impath, dir + "/images/train/n01440764/z.JPEG");
        QCOMPARE(d.split.train[1].label, 1);
        QCOMPARE(d.split.train[2].impath, dir + "/images/train/n01484850/a.JPEG");
        QCOMPARE(d.split.train[3].classname, std::string("great white shark"));
        QVERIFY(d.split.val.empty());
        QCOMPARE(int(d.split.test.size()), 2);
        QCOMPARE(d.split.test[1].label, 1);  // val has two class folders: labels follow the sorted folders there
        QCOMPARE(d.classnames, (std::vector<std::string>{"tench", "goldfish", "great white shark"}));
        // A class folder without a line in classnames.txt.
        drawImage(dir + "/images/train/n09999999/q.JPEG", 30, 20, 7);
        const std::string e = errorOf([&] { readBenchmarkDataset(root, "ImageNet"); });
        QVERIFY2(contains(e, "imagenet/classnames.txt: no line for class folder 'n09999999'"), e.c_str());
    }

    void imageNetVariants() {
        const std::string root = freshDir("readers/variants");
        const std::string names = "n01440764 tench\nn01443537 goldfish\nn01484850 great white shark\n";
        // ImageNetV2: folders named by label.
        writeText(root + "/imagenetv2/classnames.txt", names);
        for (int label = 0; label < 3; ++label)
            drawImage(root + "/imagenetv2/imagenetv2-matched-frequency-format-val/" + std::to_string(label) +
                          "/x" + std::to_string(label) + ".jpeg",
                      30, 20, label);
        LoadedDataset v2 = readBenchmarkDataset(root, "ImageNetV2");
        QVERIFY(v2.split.train.empty());
        QCOMPARE(int(v2.split.test.size()), 3);
        QCOMPARE(v2.split.test[2].label, 2);
        QCOMPARE(v2.split.test[2].classname, std::string("great white shark"));
        QCOMPARE(v2.classnames.size(), std::size_t(3));
        fs::remove_all(root + "/imagenetv2/imagenetv2-matched-frequency-format-val/1");
        const std::string e = errorOf([&] { readBenchmarkDataset(root, "ImageNetV2"); });
        QVERIFY2(contains(e, "imagenetv2-matched-frequency-format-val/1: folder not found"), e.c_str());
        // ImageNet-A: a 2-class subset, labels in sorted wnid order, README.txt ignored.
        writeText(root + "/imagenet-adversarial/classnames.txt", names);
        writeText(root + "/imagenet-adversarial/imagenet-a/README.txt", "readme");
        drawImage(root + "/imagenet-adversarial/imagenet-a/n01484850/a.jpg", 30, 20, 1);
        drawImage(root + "/imagenet-adversarial/imagenet-a/n01443537/b.jpg", 30, 20, 2);
        drawImage(root + "/imagenet-adversarial/imagenet-a/n01443537/c.jpg", 30, 20, 3);
        const LoadedDataset a = readBenchmarkDataset(root, "ImageNetA");
        QCOMPARE(int(a.split.test.size()), 3);
        QCOMPARE(a.classnames, (std::vector<std::string>{"goldfish", "great white shark"}));
        QCOMPARE(a.split.test[2].label, 1);
        // Few-shot protocol: test-only datasets use the test list as data.
        const DatasetSplit dg = buildFewShotSplit(a.split, datasetProtocol("ImageNetA"), FewShotOptions{});
        QCOMPARE(dg.test.size(), a.split.test.size());
        // ImageNet-Sketch without classnames.txt.
        drawImage(root + "/imagenet-sketch/images/n01440764/s.jpg", 30, 20, 4);
        const std::string e2 = errorOf([&] { readBenchmarkDataset(root, "ImageNetSketch"); });
        QVERIFY2(contains(e2, "imagenet-sketch/classnames.txt: not found"), e2.c_str());
    }

    void checkReportsMissingImages() {
        const std::string root = freshDir("readers/check");
        const std::string images = root + "/eurosat/2750";
        std::vector<std::tuple<std::string, int, std::string>> train, test;
        for (int i = 0; i < 6; ++i) {
            const std::string name = "Forest/Forest_" + std::to_string(i) + ".jpg";
            if (i != 4) drawImage(images + "/" + name, 16, 16, i);
            (i < 4 ? train : test).emplace_back(name, 0, "Forest");
        }
        writeText(images + "/Forest/Forest_5.jpg", "not an image");
        writeText(root + "/eurosat/split_zhou_EuroSAT.json", splitJson(train, {{"Forest/Forest_0.jpg", 0, "Forest"}}, test));
        CheckOptions opt;
        opt.threads = 3;
        DatasetCheckResult r = checkBenchmarkDataset(root, benchmarkDataset("EuroSAT"), opt);
        QVERIFY(r.present && r.readable);
        QCOMPARE(r.counts.train, int64_t(4));
        QCOMPARE(r.counts.test, int64_t(2));
        QCOMPARE(r.imagesChecked, int64_t(6));  // Forest_0 is listed in train and val: checked once
        QCOMPARE(r.badImages, int64_t(1));
        QCOMPARE(r.firstBad[0].path, images + "/Forest/Forest_4.jpg");
        QVERIFY(!r.complete());  // missing image, 1 class of 10
        QVERIFY(!r.warnings.empty());  // counts off the (approximate) table
        opt.decode = true;
        r = checkBenchmarkDataset(root, benchmarkDataset("EuroSAT"), opt);
        QCOMPARE(r.badImages, int64_t(2));
        QCOMPARE(r.firstBad[1].path, images + "/Forest/Forest_5.jpg");
        const DatasetCheckResult absent = checkBenchmarkDataset(root, benchmarkDataset("SUN397"), opt);
        QVERIFY(!absent.present);
        QVERIFY(contains(absent.problems.at(0).what, "sun397: folder not found"));
    }
};

// ---------------------------------------------------------------------------------------------------------------

class ImageFolderTest : public QObject {
    Q_OBJECT
    std::string root_;
private Q_SLOTS:
    void initTestCase() {
        root_ = freshDir("folder/data");
        const std::pair<const char*, int> classes[] = {{"bee", 7}, {"ant", 10}, {"cat", 4}};
        for (const auto& [name, n] : classes)
            for (int i = 0; i < n; ++i) {
                char file[32];
                std::snprintf(file, sizeof file, "img_%02d.png", i);
                drawImage(root_ + "/" + name + "/" + file, 12, 10, i);
            }
        writeText(root_ + "/ant/notes.txt", "not an image");
        writeText(root_ + "/ant/.hidden.png", "hidden");
        writeText(root_ + "/README", "a file at the top level is not a class");
    }

    void splitMatchesDasslReadAndSplitData() {
        // Expected lists computed with CPython 3: random.seed(1), then Dassl's read_and_split_data(p_trn=0.5,
        // p_val=0.2) over the sorted class folders, each with its sorted file list.
        const ImageFolderDataset d = splitImageFolder(root_);
        QCOMPARE(d.classnames, (std::vector<std::string>{"ant", "bee", "cat"}));
        auto rel = [&](const std::vector<Datum>& l) {
            std::vector<std::string> out;
            for (const auto& x : l) out.push_back(x.impath.substr(root_.size() + 1));
            return out;
        };
        QCOMPARE(rel(d.split.train),
                 (std::vector<std::string>{"ant/img_06.png", "ant/img_08.png", "ant/img_09.png", "ant/img_07.png",
                                           "ant/img_05.png", "bee/img_02.png", "bee/img_05.png", "bee/img_04.png",
                                           "bee/img_03.png", "cat/img_01.png", "cat/img_00.png"}));
        QCOMPARE(rel(d.split.val),
                 (std::vector<std::string>{"ant/img_03.png", "ant/img_00.png", "bee/img_00.png", "cat/img_02.png"}));
        QCOMPARE(rel(d.split.test), (std::vector<std::string>{"ant/img_04.png", "ant/img_01.png", "ant/img_02.png",
                                                              "bee/img_01.png", "bee/img_06.png", "cat/img_03.png"}));
        QCOMPARE(d.split.train[5].label, 1);
        QCOMPARE(d.split.train[5].classname, std::string("bee"));
    }

    void deterministicForASeed() {
        ImageFolderOptions o;
        o.seed = 7;
        const auto a = splitImageFolder(root_, o), b = splitImageFolder(root_, o);
        QVERIFY(a.split.train == b.split.train && a.split.val == b.split.val && a.split.test == b.split.test);
        o.seed = 8;
        const auto c = splitImageFolder(root_, o);
        QVERIFY(!(a.split.train == c.split.train));
        // Every image exactly once.
        std::set<std::string> all;
        for (const auto* l : {&a.split.train, &a.split.val, &a.split.test})
            for (const auto& x : *l) QVERIFY(all.insert(x.impath).second);
        QCOMPARE(int(all.size()), 21);
        // Other fractions: no val.
        o.valFraction = 0;
        o.trainFraction = 0.75;
        const auto e = splitImageFolder(root_, o);
        QVERIFY(e.split.val.empty());
        QCOMPARE(int(e.split.train.size()), 8 + 5 + 3);  // round(7.5) = 8, round(5.25) = 5, round(3.0) = 3
    }

    void splitFileRoundTrip() {
        const std::string dir = freshDir("folder/run");
        const std::string path = dir + "/split.json";
        bool created = false;
        ImageFolderOptions o;
        o.seed = 3;
        const auto a = loadOrCreateImageFolderSplit(root_, path, o, &created);
        QVERIFY(created);
        const std::string text = readFile(path);
        QVERIFY(contains(text, "\"image_folder\""));
        QVERIFY(contains(text, "[\"ant/img_"));  // paths relative to the folder
        QVERIFY(!contains(text, root_));
        // The Python-compatible reader reads it too.
        SplitZhouOptions so;
        so.imageDir = root_;
        QVERIFY(readSplitZhou(path, so).train == a.split.train);
        // Loading again reads the record (other options are ignored).
        o.seed = 4;
        const auto b = loadOrCreateImageFolderSplit(root_, path, o, &created);
        QVERIFY(!created);
        QVERIFY(a.split.train == b.split.train && a.split.val == b.split.val && a.split.test == b.split.test);
        QCOMPARE(a.classnames, b.classnames);
    }

    void errorsNameTheFolder() {
        const std::string root = freshDir("folder/bad");
        fs::create_directories(root + "/empty");
        drawImage(root + "/ok/a.png", 8, 8, 1);
        std::string e = errorOf([&] { splitImageFolder(root); });
        QVERIFY2(contains(e, root + "/empty") && contains(e, "no images"), e.c_str());
        fs::remove_all(root + "/empty");
        e = errorOf([&] { splitImageFolder(root); });  // one image cannot fill train, val and test
        QVERIFY2(contains(e, "class 'ok' has 1 images, too few"), e.c_str());
        ImageFolderOptions o;
        o.trainFraction = 0.9;
        o.valFraction = 0.3;
        e = errorOf([&] { splitImageFolder(root, o); });
        QVERIFY2(contains(e, "fraction"), e.c_str());
        e = errorOf([&] { splitImageFolder(root + "/nothing"); });
        QVERIFY2(contains(e, "nothing: folder not found"), e.c_str());
    }
};

// ---------------------------------------------------------------------------------------------------------------

class LoaderTest : public QObject {
    Q_OBJECT
    std::vector<Datum> items_;
private Q_SLOTS:
    void initTestCase() { items_ = makeItems(freshDir("loader/images")); }

    void evalBatchesInOrder() {
        LoaderOptions o;
        o.imageSize = 16;
        o.batchSize = 6;
        o.threads = 2;
        ImageLoader loader(items_, o);
        QCOMPARE(loader.nominalBatches(), int64_t(4));
        const auto batches = runEpoch(loader, 0);
        QCOMPARE(int(batches.size()), 4);
        QCOMPARE(batches[3].size(), int64_t(2));
        int64_t k = 0;
        for (const auto& b : batches) {
            QCOMPARE(b.number, int64_t(&b - batches.data()));
            QCOMPARE(b.pixels.size(), std::size_t(b.size()) * 3 * 16 * 16);
            for (int64_t j = 0; j < b.size(); ++j, ++k) {
                QCOMPARE(b.indices[std::size_t(j)], k);
                QCOMPARE(b.labels[std::size_t(j)], int64_t(items_[std::size_t(k)].label));
                const auto expect = preprocessEval(decodeImage(items_[std::size_t(k)].impath), 16);
                QVERIFY(std::memcmp(expect.data(), b.pixels.data() + j * 3 * 16 * 16, expect.size() * 4) == 0);
            }
        }
        QCOMPARE(k, int64_t(20));
        QCOMPARE(loader.stats().images, int64_t(20));
    }

    void trainIdenticalForAnyThreadCount() {
        LoaderOptions o;
        o.mode = TransformMode::Train;
        o.imageSize = 16;
        o.batchSize = 4;
        o.shuffle = true;
        o.seed = 5;
        o.threads = 1;
        ImageLoader one(items_, o);
        o.threads = 3;
        o.prefetch = 1;
        ImageLoader three(items_, o);
        const auto a = runEpoch(one, 2), b = runEpoch(three, 2);
        QCOMPARE(int(a.size()), 5);
        QVERIFY(sameBatches(a, b));
        // The order is the epoch's permutation; each crop depends on (seed, epoch, item index) only.
        const auto order = epochOrder(items_.size(), 5, 2, true);
        for (int64_t p = 0; p < 20; ++p) QCOMPARE(a[std::size_t(p / 4)].indices[std::size_t(p % 4)], order[std::size_t(p)]);
        const int64_t idx = a[1].indices[2];
        const auto expect = preprocessTrain(decodeImage(items_[std::size_t(idx)].impath), 16, 5, 2, uint64_t(idx));
        QVERIFY(std::memcmp(expect.data(), a[1].pixels.data() + 2 * 3 * 16 * 16, expect.size() * 4) == 0);
        // Another epoch: another order and other crops; the same epoch again: the same batches.
        const auto c = runEpoch(one, 3);
        QVERIFY(!sameBatches(a, c));
        QVERIFY(sameBatches(a, runEpoch(three, 2)));
    }

    void epochOrderIsASeededPermutation() {
        const auto a = epochOrder(100, 1, 0, true);
        QCOMPARE(a, epochOrder(100, 1, 0, true));
        QVERIFY(a != epochOrder(100, 1, 1, true));
        QVERIFY(a != epochOrder(100, 2, 0, true));
        auto s = a;
        std::sort(s.begin(), s.end());
        QCOMPARE(s, epochOrder(100, 1, 0, false));
        QCOMPARE(epochOrder(1, 1, 0, true), std::vector<int64_t>{0});
        QVERIFY(epochOrder(0, 1, 0, true).empty());
    }

    void dropLast() {
        LoaderOptions o;
        o.imageSize = 8;
        o.batchSize = 6;
        o.dropLast = true;
        ImageLoader loader(items_, o);
        QCOMPARE(loader.nominalBatches(), int64_t(3));
        const auto b = runEpoch(loader, 0);
        QCOMPARE(int(b.size()), 3);
        for (const auto& x : b) QCOMPARE(x.size(), int64_t(6));
        QCOMPARE(b[2].indices.back(), int64_t(17));
    }

    void badImagesAreSkippedAndReported() {
        // Items 3 (missing) and 6 (corrupt): batches are filled from the next items, so shapes stay fixed.
        std::vector<Datum> items(items_.begin(), items_.begin() + 10);
        const std::string dir = freshDir("loader/bad");
        items[3].impath = dir + "/missing.jpg";
        items[6].impath = dir + "/corrupt.jpg";
        writeText(items[6].impath, "this is not a JPEG file");
        for (int threads : {1, 3}) {
            LoaderOptions o;
            o.imageSize = 8;
            o.batchSize = 4;
            o.threads = threads;
            std::vector<SkippedImage> seen;
            o.onSkip = [&](const SkippedImage& s) { seen.push_back(s); };
            ImageLoader loader(items, o);
            const auto b = runEpoch(loader, 0);
            QCOMPARE(int(b.size()), 2);
            QCOMPARE(b[0].indices, (std::vector<int64_t>{0, 1, 2, 4}));
            QCOMPARE(b[1].indices, (std::vector<int64_t>{5, 7, 8, 9}));
            QCOMPARE(int(b[0].skipped.size()), 1);
            QCOMPARE(int(seen.size()), 2);
            QCOMPARE(seen[0].index, int64_t(3));
            QCOMPARE(seen[1].path, items[6].impath);
            QVERIFY2(contains(seen[0].reason, "not found"), seen[0].reason.c_str());
            QVERIFY2(contains(seen[1].reason, "corrupt.jpg"), seen[1].reason.c_str());
            QCOMPARE(int(loader.skipped().size()), 2);
            QCOMPARE(loader.stats().skipped, int64_t(2));
        }
        // A skip in the dropped last batch is still reported.
        LoaderOptions o;
        o.imageSize = 8;
        o.batchSize = 3;
        o.dropLast = true;
        int reported = 0;
        o.onSkip = [&](const SkippedImage&) { ++reported; };
        std::vector<Datum> tail(items_.begin(), items_.begin() + 5);
        tail[4].impath = dir + "/missing.jpg";
        ImageLoader loader(tail, o);
        QCOMPARE(int(runEpoch(loader, 0).size()), 1);
        QCOMPARE(reported, 1);
    }

    void stopBetweenBatches() {
        LoaderOptions o;
        o.imageSize = 8;
        o.batchSize = 2;
        o.prefetch = 1;
        o.threads = 2;
        ImageLoader loader(items_, o);
        loader.start(0);
        Batch b;
        QVERIFY(loader.next(b));
        loader.stop();
        QVERIFY(loader.stopRequested());
        QVERIFY(!loader.next(b));
        QVERIFY(!loader.next(b));
        // A new epoch runs in full.
        QCOMPARE(int(runEpoch(loader, 1).size()), 10);
        // External flag.
        std::atomic<bool> cancel{false};
        o.cancel = &cancel;
        ImageLoader flagged(items_, o);
        flagged.start(0);
        QVERIFY(flagged.next(b));
        cancel = true;
        QVERIFY(!flagged.next(b));
        // Restarting mid-epoch and destroying a running loader are safe.
        cancel = false;
        flagged.start(1);
        QVERIFY(flagged.next(b));
        flagged.start(2);
        QVERIFY(flagged.next(b));
        QCOMPARE(b.number, int64_t(0));
    }

    void invalidOptions() {
        LoaderOptions o;
        o.batchSize = 0;
        QVERIFY(contains(errorOf([&] { ImageLoader l(items_, o); }), "batch size 0"));
        ImageLoader empty({}, LoaderOptions{});
        Batch b;
        QVERIFY(!empty.next(b));  // not started
        QCOMPARE(int(runEpoch(empty, 0).size()), 0);
    }
};

// ---------------------------------------------------------------------------------------------------------------

// Evaluation images at 16 px through the cache in `cacheDir`, `batch` at a time.
static LoaderOptions cachedEvaluation(const std::string& cacheDir, int batch) {
    LoaderOptions o;
    o.imageSize = 16;
    o.batchSize = batch;
    o.cacheDir = cacheDir;
    return o;
}

class ImageCacheTest : public QObject {
    Q_OBJECT
    std::vector<Datum> items_;
    std::string imageDir_;
private Q_SLOTS:
    void initTestCase() {
        imageDir_ = freshDir("cache/images");
        items_ = makeItems(imageDir_, 12);
    }

    void hitEqualsFreshDecode() {
        const std::string cacheDir = freshDir("cache/c1");
        LoaderOptions o;
        o.imageSize = 20;
        o.batchSize = 5;
        o.threads = 3;
        ImageLoader plain(items_, o);
        const auto expect = runEpoch(plain, 0);
        o.cacheDir = cacheDir;
        {
            ImageLoader cold(items_, o);
            QVERIFY(sameBatches(expect, runEpoch(cold, 0)));
            QCOMPARE(cold.stats().cacheMisses, int64_t(12));
            QCOMPARE(cold.stats().cacheHits, int64_t(0));
            QVERIFY(cold.stats().cacheError.empty());
        }
        {
            ImageLoader warm(items_, o);
            QVERIFY(sameBatches(expect, runEpoch(warm, 0)));
            QCOMPARE(warm.stats().cacheHits, int64_t(12));
            QCOMPARE(warm.stats().cacheMisses, int64_t(0));
            // A second epoch of the same loader reads the committed file.
            QVERIFY(sameBatches(expect, runEpoch(warm, 1)));
            QCOMPARE(warm.stats().cacheHits, int64_t(12));
        }
        // The stored bytes are evalTransform's, byte for byte.
        std::vector<std::string> paths;
        for (const auto& d : items_) paths.push_back(d.impath);
        auto cache = ImageCache::open(cacheDir, paths, 20);
        QCOMPARE(cache->validAtOpen(), std::size_t(12));
        for (std::size_t i = 0; i < paths.size(); ++i) {
            Image img;
            QVERIFY(cache->lookup(i, img));
            QVERIFY(img == evalTransform(decodeImage(paths[i]), 20));
        }
        // Exactly one index and one data file; no temporary file left.
        int json = 0, data = 0, other = 0;
        for (const auto& e : fs::directory_iterator(cacheDir)) {
            const std::string n = e.path().filename().string();
            if (n.size() > 5 && n.substr(n.size() - 5) == ".json")
                ++json;
            else if (n.size() > 3 && n.substr(n.size() - 3) == ".u8" && !contains(n, ".tmp-"))
                ++data;
            else
                ++other;
        }
        QCOMPARE(json, 1);
        QCOMPARE(data, 1);
        QCOMPARE(other, 0);
        // Bytes damaged on disk (same size): found by their CRC-32, decoded again, counted; the batches are right.
        for (const auto& e : fs::directory_iterator(cacheDir)) {
            const std::string n = e.path().filename().string();
            if (n.size() > 3 && n.substr(n.size() - 3) == ".u8") {
                std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
                f.seekp(std::streamoff(3 * 20 * 20 * 3 + 17));  // inside image 3
                f.put(char(0x5a));
            }
        }
        {
            ImageLoader damaged(items_, o);
            QVERIFY(sameBatches(expect, runEpoch(damaged, 0)));
            QCOMPARE(damaged.stats().cacheDamaged, int64_t(1));
            QCOMPARE(damaged.stats().cacheMisses, int64_t(1));
        }
        QCOMPARE(ImageCache::open(cacheDir, paths, 20)->validAtOpen(), std::size_t(12));  // stored again
        // Another size (other preprocessing): its own cache, nothing shared.
        QCOMPARE(ImageCache::open(cacheDir, paths, 24)->validAtOpen(), std::size_t(0));
        // Another list: its own cache too.
        paths.pop_back();
        QCOMPARE(ImageCache::open(cacheDir, paths, 20)->validAtOpen(), std::size_t(0));
    }

    void invalidatedWhenASourceChanges() {
        const std::string cacheDir = freshDir("cache/c2");
        std::vector<Datum> items(items_.begin(), items_.begin() + 6);
        const std::string changed = freshDir("cache/changing") + "/x.png";
        drawImage(changed, 50, 40, 1);
        items[2].impath = changed;
        const LoaderOptions o = cachedEvaluation(cacheDir, 4);
        {
            ImageLoader cold(items, o);
            runEpoch(cold, 0);
        }
        drawImage(changed, 50, 40, 2);  // same size on disk is possible: the mtime is set apart too
        fs::last_write_time(changed, fs::last_write_time(changed) + std::chrono::seconds(5));
        ImageLoader warm(items, o);
        const auto got = runEpoch(warm, 0);
        QCOMPARE(warm.stats().cacheHits, int64_t(5));
        QCOMPARE(warm.stats().cacheMisses, int64_t(1));
        const auto expect = preprocessEval(decodeImage(changed), 16);
        QVERIFY(std::memcmp(expect.data(), got[0].pixels.data() + 2 * 3 * 16 * 16, expect.size() * 4) == 0);
        ImageLoader again(items, o);
        runEpoch(again, 0);
        QCOMPARE(again.stats().cacheHits, int64_t(6));
    }

    // A source replaced by another image of the same size whose modification time was set back (as `cp -p` or
    // `rsync -a` leave it): its status-change time differs, so it is decoded again.
    void replacedWithTheSameSizeAndTimeIsNoticed() {
        const std::string cacheDir = freshDir("cache/c5");
        const std::string dir = freshDir("cache/replaced");
        std::vector<Datum> items(items_.begin(), items_.begin() + 3);
        items[1].impath = dir + "/x.bmp";  // BMP: the same size for the same dimensions
        drawImage(items[1].impath, 30, 30, 4);
        const LoaderOptions o = cachedEvaluation(cacheDir, 3);
        {
            ImageLoader cold(items, o);
            runEpoch(cold, 0);
        }
        const auto size = fs::file_size(items[1].impath);
        const auto mtime = fs::last_write_time(items[1].impath);
        const auto ctimeOf = [](const std::string& path) {
            struct stat st {};
            return ::stat(path.c_str(), &st) == 0 ? std::pair<long, long>(st.st_ctim.tv_sec, st.st_ctim.tv_nsec) : std::pair<long, long>();
        };
        const auto oldCtime = ctimeOf(items[1].impath);
        const std::string other = dir + "/y.bmp";
        drawImage(other, 30, 30, 5);
        QCOMPARE(fs::file_size(other), size);
        fs::last_write_time(other, mtime);
        // A file system whose clock ticks coarsely (whole seconds on some) may give both the same ctime: set the
        // times again until it has moved on, as a copy made later would have it.
        for (int i = 0; i < 30 && ctimeOf(other) == oldCtime; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            fs::last_write_time(other, mtime);
        }
        QVERIFY(ctimeOf(other) != oldCtime);
        fs::rename(other, items[1].impath);
        QVERIFY(fs::last_write_time(items[1].impath) == mtime);
        ImageLoader warm(items, o);
        const auto got = runEpoch(warm, 0);
        QCOMPARE(warm.stats().cacheHits, int64_t(2));
        QCOMPARE(warm.stats().cacheMisses, int64_t(1));
        const auto expect = preprocessEval(decodeImage(items[1].impath), 16);
        QVERIFY(std::memcmp(expect.data(), got[0].pixels.data() + 1 * 3 * 16 * 16, expect.size() * 4) == 0);
        ImageLoader again(items, o);
        runEpoch(again, 0);
        QCOMPARE(again.stats().cacheHits, int64_t(3));
    }

    void failuresAreRecordedUntilTheFileChanges() {
        const std::string cacheDir = freshDir("cache/c3");
        const std::string dir = freshDir("cache/failing");
        std::vector<Datum> items(items_.begin(), items_.begin() + 4);
        items[1].impath = dir + "/bad.jpg";
        writeText(items[1].impath, "garbage");
        const LoaderOptions o = cachedEvaluation(cacheDir, 4);
        std::string firstReason;
        {
            ImageLoader cold(items, o);
            const auto b = runEpoch(cold, 0);
            QCOMPARE(b.at(0).size(), int64_t(3));
            firstReason = cold.skipped().at(0).reason;
        }
        {
            ImageLoader warm(items, o);
            const auto b = runEpoch(warm, 0);
            QCOMPARE(b.at(0).size(), int64_t(3));
            QCOMPARE(warm.skipped().at(0).reason, firstReason);  // from the index, not decoded again
            QCOMPARE(warm.stats().cacheHits, int64_t(4));
        }
        drawImage(items[1].impath, 30, 30, 3);  // repaired
        ImageLoader fixed(items, o);
        const auto b = runEpoch(fixed, 0);
        QCOMPARE(b.at(0).size(), int64_t(4));
        QCOMPARE(fixed.stats().cacheMisses, int64_t(1));
    }

    void corruptIndexStartsEmpty() {
        const std::string cacheDir = freshDir("cache/c4");
        std::vector<std::string> paths{items_[0].impath, items_[1].impath};
        {
            auto c = ImageCache::open(cacheDir, paths, 8);
            c->store(0, evalTransform(decodeImage(paths[0]), 8));
            c->commit();
            QVERIFY(!c->dirty());
        }
        auto c = ImageCache::open(cacheDir, paths, 8);
        QCOMPARE(c->state(0), ImageCache::State::Ok);
        QCOMPARE(c->state(1), ImageCache::State::Absent);
        writeText(c->indexPath(), "{ not json");
        QCOMPARE(ImageCache::open(cacheDir, paths, 8)->validAtOpen(), std::size_t(0));
        Image wrong(4, 4, 3);
        QVERIFY(contains(errorOf([&] { c->store(1, wrong); }), "expected 8x8x3"));
    }
};

CASPL_REGISTER_TEST(DatasetReadersTest);
CASPL_REGISTER_TEST(ImageFolderTest);
CASPL_REGISTER_TEST(LoaderTest);
CASPL_REGISTER_TEST(ImageCacheTest);
#include "test_datasets.moc"
