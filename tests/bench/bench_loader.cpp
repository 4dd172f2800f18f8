// caspl_bench_loader: throughput of the image loader (core/data/loader.h), not a test. Generates N synthetic JPEGs
// of a typical dataset size (500 x 375, quality 90, textured so they compress like photos) in a temporary folder and
// prints images/s for the train transform (RandomResizedCrop + flip) and the eval transform (resize + center crop),
// with 1 and 2 decoding threads, and for eval with the decoded-image cache cold (first pass, filling it) and warm.
//
//   caspl_bench_loader [--images N] [--size R] [--batch B] [--threads-max T] [--keep DIR]
#include "core/data/dataset.h"
#include "core/data/loader.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace caspl;

namespace {

std::vector<Datum> makeImages(const std::string& dir, int n, uint64_t* bytes) {
    std::vector<Datum> items;
    cv::RNG rng(12345);
    *bytes = 0;
    for (int i = 0; i < n; ++i) {
        cv::Mat small(24, 32, CV_8UC3);
        rng.fill(small, cv::RNG::UNIFORM, 0, 255);
        cv::Mat img;
        cv::resize(small, img, cv::Size(500, 375), 0, 0, cv::INTER_CUBIC);
        for (int k = 0; k < 12; ++k)
            cv::circle(img, cv::Point(rng.uniform(0, 500), rng.uniform(0, 375)), rng.uniform(5, 80),
                       cv::Scalar(rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)), -1, cv::LINE_AA);
        cv::Mat noise(img.size(), CV_8UC3);
        rng.fill(noise, cv::RNG::NORMAL, 0, 12);
        img += noise;
        Datum d;
        d.impath = dir + "/img_" + std::to_string(i) + ".jpg";
        d.label = i % 10;
        if (!cv::imwrite(d.impath, img, {cv::IMWRITE_JPEG_QUALITY, 90})) {
            std::fprintf(stderr, "cannot write %s\n", d.impath.c_str());
            std::exit(1);
        }
        *bytes += fs::file_size(d.impath);
        items.push_back(d);
    }
    return items;
}

double run(const std::vector<Datum>& items, LoaderOptions o, int64_t* skipped = nullptr) {
    ImageLoader loader(items, o);
    const auto t0 = std::chrono::steady_clock::now();
    loader.start(0);
    Batch b;
    int64_t n = 0;
    double checksum = 0;
    while (loader.next(b)) {
        n += b.size();
        checksum += b.pixels[0];
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (skipped) *skipped = loader.stats().skipped;
    if (checksum == 12345.678) std::printf(" ");  // keep the loop observable
    return double(n) / s;
}

}  // namespace

int main(int argc, char** argv) {
    int n = 200, size = 224, batch = 32, threadsMax = 2;
    std::string keep;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--images") n = std::atoi(value().c_str());
        else if (a == "--size") size = std::atoi(value().c_str());
        else if (a == "--batch") batch = std::atoi(value().c_str());
        else if (a == "--threads-max") threadsMax = std::atoi(value().c_str());
        else if (a == "--keep") keep = value();
        else {
            std::fprintf(stderr, "usage: %s [--images N] [--size R] [--batch B] [--threads-max T] [--keep DIR]\n",
                         argv[0]);
            return 2;
        }
    }
    if (n < 1 || size < 1 || batch < 1 || threadsMax < 1) {
        std::fprintf(stderr, "all values must be >= 1\n");
        return 2;
    }
    const std::string dir = keep.empty() ? (fs::temp_directory_path() /
                                            ("caspl_bench_loader-" + std::to_string(
                                                                          std::chrono::steady_clock::now()
                                                                              .time_since_epoch()
                                                                              .count())))
                                               .string()
                                         : keep;
    fs::create_directories(dir + "/images");
    uint64_t bytes = 0;
    const auto items = makeImages(dir + "/images", n, &bytes);
    std::printf("caspl_bench_loader: %d JPEGs 500x375 (%.1f KiB each on average), output %dx%d, batch %d, "
                "%u hardware threads\n",
                n, double(bytes) / n / 1024.0, size, size, batch, std::thread::hardware_concurrency());
    std::printf("%-34s %8s %12s\n", "configuration", "threads", "images/s");
    LoaderOptions base;
    base.imageSize = size;
    base.batchSize = batch;
    for (int t = 1; t <= threadsMax; t *= 2) {
        LoaderOptions o = base;
        o.threads = t;
        o.mode = TransformMode::Train;
        o.shuffle = true;
        std::printf("%-34s %8d %12.1f\n", "train (RandomResizedCrop + flip)", t, run(items, o));
    }
    for (int t = 1; t <= threadsMax; t *= 2) {
        LoaderOptions o = base;
        o.threads = t;
        std::printf("%-34s %8d %12.1f\n", "eval, no cache", t, run(items, o));
    }
    for (int t = 1; t <= threadsMax; t *= 2) {
        LoaderOptions o = base;
        o.threads = t;
        o.cacheDir = dir + "/cache-" + std::to_string(t);
        fs::remove_all(o.cacheDir);
        std::printf("%-34s %8d %12.1f\n", "eval, cache cold (filling it)", t, run(items, o));
        std::printf("%-34s %8d %12.1f\n", "eval, cache warm", t, run(items, o));
    }
    if (keep.empty()) fs::remove_all(dir);
    return 0;
}
