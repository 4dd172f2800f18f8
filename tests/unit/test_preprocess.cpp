// CLIP image preprocessing: the Pillow-compatible bicubic resize, center crop and normalisation reproduce the
// reference (clip-tiny-a golden data) exactly; RandomResizedCrop follows torchvision's algorithm and is a pure
// function of (seed, epoch, index); decoding handles errors, grey, alpha and palette images.
#include "core/image/image.h"
#include "core/image/preprocess.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "test_support.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <zlib.h>

#include <QDir>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <tuple>

using namespace caspl;

namespace {

std::string tempFile(const char* name) { return QDir(caspl::test::tempDir()).filePath(name).toStdString(); }

Image goldenImage(const SafetensorsFile& f, const std::string& key) {
    const TensorInfo& t = f.at(key);
    if (t.dtype != DType::U8 || t.shape.size() != 3 || t.shape[2] != 3)
        throw Error(f.path() + ": tensor '" + key + "' is not a [H, W, 3] uint8 image");
    Image img(int(t.shape[1]), int(t.shape[0]), 3);
    std::memcpy(img.data.data(), f.data(t), img.data.size());
    return img;
}

// Number of differing bytes and the largest absolute difference; sizes must already match.
std::pair<int, int> compareImages(const Image& a, const Image& b) {
    int n = 0, maxd = 0;
    for (std::size_t i = 0; i < a.data.size(); ++i) {
        const int d = std::abs(int(a.data[i]) - int(b.data[i]));
        n += d != 0;
        maxd = std::max(maxd, d);
    }
    return {n, maxd};
}

std::string sizeOf(const Image& img) {
    return std::to_string(img.height) + "x" + std::to_string(img.width) + "x" + std::to_string(img.channels);
}

// A deterministic test pattern with structure in both directions and in every channel.
Image pattern(int w, int h) {
    Image img(w, h, 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            img.at(y, x, 0) = uint8_t((x * 7 + y * 3) & 255);
            img.at(y, x, 1) = uint8_t(((x / 2 + y / 2) % 2) * 255);
            img.at(y, x, 2) = uint8_t((x * y) & 255);
        }
    return img;
}

using caspl::test::expectError;

// A minimal 8-bit palette PNG (colour type 3), written by hand because OpenCV cannot write palette images.
std::vector<uint8_t> palettePng(int w, int h, const std::vector<std::array<uint8_t, 3>>& palette,
                                const std::vector<uint8_t>& indices) {
    std::vector<uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    auto be32 = [](std::vector<uint8_t>& v, uint32_t x) {
        for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
    };
    auto chunk = [&](const char* type, const std::vector<uint8_t>& body) {
        be32(png, uint32_t(body.size()));
        std::vector<uint8_t> tb(type, type + 4);
        tb.insert(tb.end(), body.begin(), body.end());
        png.insert(png.end(), tb.begin(), tb.end());
        be32(png, uint32_t(crc32(0L, tb.data(), uInt(tb.size()))));
    };
    std::vector<uint8_t> ihdr;
    be32(ihdr, uint32_t(w));
    be32(ihdr, uint32_t(h));
    ihdr.insert(ihdr.end(), {8, 3, 0, 0, 0});  // bit depth 8, palette, deflate, no filter, no interlace
    chunk("IHDR", ihdr);
    std::vector<uint8_t> plte;
    for (const auto& c : palette) plte.insert(plte.end(), c.begin(), c.end());
    chunk("PLTE", plte);
    std::vector<uint8_t> raw;
    for (int y = 0; y < h; ++y) {
        raw.push_back(0);  // filter: none
        raw.insert(raw.end(), indices.begin() + y * w, indices.begin() + (y + 1) * w);
    }
    uLongf zlen = compressBound(uLong(raw.size()));
    std::vector<uint8_t> z(zlen);
    compress(z.data(), &zlen, raw.data(), uLong(raw.size()));
    z.resize(zlen);
    chunk("IDAT", z);
    chunk("IEND", {});
    return png;
}

}  // namespace

class PreprocessTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // ---- parity with the reference (Pillow 9.4 + torchvision 0.14) ----

    void resizeMatchesGolden() {
        CASPL_REQUIRE_FIXTURE(path, "clip-tiny-a/golden.safetensors");
        const auto g = SafetensorsFile::open(path);
        for (int i = 0; i < 3; ++i) {
            const std::string k = std::to_string(i);
            const Image raw = goldenImage(g, "image_raw_" + k);
            const Image want = goldenImage(g, "image_resized_" + k);
            const Image got = resizeShorterSide(raw, 32);
            QVERIFY2(got.width == want.width && got.height == want.height,
                     ("image " + k + ": resized to " + sizeOf(got) + ", reference " + sizeOf(want)).c_str());
            const auto [n, maxd] = compareImages(got, want);
            qInfo("image_resized_%d (%dx%d): %d differing bytes, max abs diff %d", i, want.height, want.width, n, maxd);
            QCOMPARE(maxd, 0);
        }
    }

    void centerCropMatchesGolden() {
        CASPL_REQUIRE_FIXTURE(path, "clip-tiny-a/golden.safetensors");
        const auto g = SafetensorsFile::open(path);
        for (int i = 0; i < 3; ++i) {
            const std::string k = std::to_string(i);
            const Image want = goldenImage(g, "image_cropped_" + k);
            // Crop alone, from the reference's resized image.
            const Image cropped = centerCrop(goldenImage(g, "image_resized_" + k), 32);
            QCOMPARE(sizeOf(cropped), sizeOf(want));
            QCOMPARE(compareImages(cropped, want).second, 0);
            // The whole uint8 evaluation transform from the raw image.
            const Image full = evalTransform(goldenImage(g, "image_raw_" + k), 32);
            QCOMPARE(sizeOf(full), sizeOf(want));
            const auto [n, maxd] = compareImages(full, want);
            qInfo("image_cropped_%d: %d differing bytes, max abs diff %d", i, n, maxd);
            QCOMPARE(maxd, 0);
        }
    }

    void pixelValuesMatchGolden() {
        CASPL_REQUIRE_FIXTURE(path, "clip-tiny-a/golden.safetensors");
        const auto g = SafetensorsFile::open(path);
        const TensorInfo& pv = g.at("pixel_values");
        QCOMPARE(pv.dtype, DType::F32);
        QCOMPARE(pv.shape, (std::vector<int64_t>{3, 3, 32, 32}));
        const std::vector<float> want = g.toFloat(pv);
        const std::size_t per = 3 * 32 * 32;
        double maxFromCropped = 0, maxFromRaw = 0;
        std::size_t unequal = 0;
        for (int i = 0; i < 3; ++i) {
            const std::string k = std::to_string(i);
            const std::vector<float> a = toNormalizedCHW(goldenImage(g, "image_cropped_" + k));
            const std::vector<float> b = preprocessEval(goldenImage(g, "image_raw_" + k), 32);
            QCOMPARE(a.size(), per);
            QCOMPARE(b.size(), per);
            for (std::size_t j = 0; j < per; ++j) {
                const float w = want[std::size_t(i) * per + j];
                maxFromCropped = std::max(maxFromCropped, double(std::abs(a[j] - w)));
                maxFromRaw = std::max(maxFromRaw, double(std::abs(b[j] - w)));
                unequal += (a[j] != w) + (b[j] != w);
            }
        }
        qInfo("pixel_values: max abs diff %g (from image_cropped_*), %g (from image_raw_*), %zu of %zu values not "
              "bit-identical",
              maxFromCropped, maxFromRaw, unequal, 2 * want.size());
        QVERIFY(maxFromCropped <= 1e-6);
        QVERIFY(maxFromRaw <= 1e-6);
        // torchvision's ToTensor/Normalize are plain IEEE float32 divisions and subtractions, so we match exactly.
        QCOMPARE(unequal, std::size_t(0));
    }

    // ---- resize, crop, flip, normalise ----

    void shorterSideSizeTruncates() {
        QCOMPARE(shorterSideSize(57, 40, 32), (std::array<int, 2>{45, 32}));  // int(45.6)
        QCOMPARE(shorterSideSize(40, 50, 32), (std::array<int, 2>{32, 40}));
        QCOMPARE(shorterSideSize(26, 20, 32), (std::array<int, 2>{41, 32}));  // int(41.6), upscaling
        QCOMPARE(shorterSideSize(500, 375, 224), (std::array<int, 2>{298, 224}));
        QCOMPARE(shorterSideSize(224, 224, 224), (std::array<int, 2>{224, 224}));
        QVERIFY_THROWS_EXCEPTION(Error, shorterSideSize(0, 10, 32));
    }

    void resizeKeepsConstantsAndIdentity() {
        Image flat(37, 23, 3);
        for (std::size_t i = 0; i < flat.data.size(); ++i) flat.data[i] = uint8_t(i % 3 == 0 ? 0 : i % 3 == 1 ? 255 : 91);
        for (auto [w, h] : {std::pair{10, 7}, std::pair{80, 50}, std::pair{37, 5}, std::pair{3, 23}, std::pair{1, 1}}) {
            const Image r = resizeBicubicPil(flat, w, h);
            QCOMPARE(r.width, w);
            QCOMPARE(r.height, h);
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) {
                    QCOMPARE(int(r.at(y, x, 0)), 0);
                    QCOMPARE(int(r.at(y, x, 1)), 255);
                    QCOMPARE(int(r.at(y, x, 2)), 91);
                }
        }
        const Image p = pattern(19, 13);
        QVERIFY(resizeBicubicPil(p, 19, 13) == p);
        // One-axis resizes touch only that axis: each row (column) is resampled on its own.
        const Image wOnly = resizeBicubicPil(p, 7, 13);
        Image row0(19, 1, 3);
        std::memcpy(row0.data.data(), p.row(5), p.rowBytes());
        const Image row0r = resizeBicubicPil(row0, 7, 1);
        QVERIFY(std::equal(row0r.data.begin(), row0r.data.end(), wOnly.row(5)));
        // Channels are resampled independently: a one-channel image gives channel 2 of the RGB result.
        Image grey(19, 13, 1);
        for (int y = 0; y < 13; ++y)
            for (int x = 0; x < 19; ++x) grey.at(y, x, 0) = p.at(y, x, 2);
        const Image rgbSmall = resizeBicubicPil(p, 8, 29), greySmall = resizeBicubicPil(grey, 8, 29);
        for (int y = 0; y < 29; ++y)
            for (int x = 0; x < 8; ++x) QCOMPARE(greySmall.at(y, x, 0), rgbSmall.at(y, x, 2));
        expectError([&] { resizeBicubicPil(p, 0, 5); }, {"invalid output size"});
        expectError([&] { resizeBicubicPil(Image(), 5, 5); }, {"invalid input image"});
    }

    void centerCropRoundsHalfToEven() {
        QCOMPARE(roundHalfEven(6.5), 6.0);
        QCOMPARE(roundHalfEven(4.5), 4.0);
        QCOMPARE(roundHalfEven(7.5), 8.0);
        QCOMPARE(roundHalfEven(4.0), 4.0);
        QCOMPARE(roundHalfEven(4.49), 4.0);
        QCOMPARE(roundHalfEven(4.51), 5.0);
        QCOMPARE(roundHalfEven(-2.5), -2.0);
        QCOMPARE(roundHalfEven(-1.5), -2.0);
        // Each pixel holds its own coordinates: the crop's first pixel is its offset.
        Image img(45, 41, 3);
        for (int y = 0; y < img.height; ++y)
            for (int x = 0; x < img.width; ++x) {
                img.at(y, x, 0) = uint8_t(x);
                img.at(y, x, 1) = uint8_t(y);
            }
        const Image c = centerCrop(img, 32);
        QCOMPARE(c.width, 32);
        QCOMPARE(c.height, 32);
        QCOMPARE(int(c.at(0, 0, 0)), 6);  // round(6.5) = 6, not 7
        QCOMPARE(int(c.at(0, 0, 1)), 4);  // round(4.5) = 4, not 5
        QCOMPARE(int(c.at(31, 31, 0)), 37);
        // Smaller than the crop: zero padding as torchvision (left (32-30)//2 = 1, top (32-29)//2 = 1).
        const Image small = centerCrop(pattern(30, 29), 32);
        QCOMPARE(small.width, 32);
        QCOMPARE(small.height, 32);
        QCOMPARE(int(small.at(0, 5, 1)), 0);
        QCOMPARE(int(small.at(1, 1, 1)), int(pattern(30, 29).at(0, 0, 1)));
        QCOMPARE(int(small.at(5, 0, 1)), 0);
        expectError([&] { crop(img, 10, 20, 32, 32); }, {"not inside"});
    }

    void flipFlips() {
        const Image p = pattern(9, 4);
        const Image f = flipHorizontal(p);
        for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 9; ++x)
                for (int c = 0; c < 3; ++c) QCOMPARE(f.at(y, x, c), p.at(y, 8 - x, c));
        QVERIFY(flipHorizontal(f) == p);
        // applyCrop flips after the resize.
        CropParams params{3, 2, 20, 25, false, false};
        const Image big = pattern(40, 30);
        const Image plain = applyCrop(big, params, 16);
        params.flip = true;
        QVERIFY(applyCrop(big, params, 16) == flipHorizontal(plain));
        QVERIFY(applyCrop(big, params, 16) != plain);
    }

    void normalizesLikeTorchvision() {
        Image img(2, 1, 3);
        img.data = {0, 128, 255, 255, 0, 64};
        const auto v = toNormalizedCHW(img);
        QCOMPARE(v.size(), std::size_t(6));
        // CHW: channel 0 holds pixels (0, 255), channel 1 (128, 0), channel 2 (255, 64).
        const float m0 = float(0.48145466), s0 = float(0.26862954);
        // Exact float equality (QCOMPARE on floats would be fuzzy).
        QVERIFY(v[0] == (0.0f / 255.0f - m0) / s0);
        QVERIFY(v[1] == (255.0f / 255.0f - m0) / s0);
        QVERIFY(v[2] == (128.0f / 255.0f - float(0.4578275)) / float(0.26130258));
        QVERIFY(v[5] == (64.0f / 255.0f - float(0.40821073)) / float(0.27577711));
        const auto id = toNormalizedCHW(img, {0, 0, 0}, {1, 1, 1});
        QVERIFY(id[1] == 1.0f);
        QVERIFY(id[3] == 0.0f);
        QVERIFY(id[4] == 1.0f);
        expectError([] { toNormalizedCHW(Image(2, 2, 1)); }, {"1 channels", "expected 3"});
    }

    // ---- RandomResizedCrop + flip ----

    void randomResizedCropStaysInRange() {
        const RandomResizedCropOptions opt;
        int accepted = 0, flips = 0, total = 0, small = 0, large = 0;
        for (auto [H, W] : {std::pair{375, 500}, std::pair{500, 333}, std::pair{224, 224}, std::pair{40, 57},
                            std::pair{31, 7}}) {
            for (uint64_t idx = 0; idx < 400; ++idx) {
                AugmentRng rng = AugmentRng::forSample(7, 3, idx);
                const CropParams p = sampleRandomResizedCrop(H, W, rng, opt);
                ++total;
                flips += p.flip;
                QVERIFY(p.top >= 0 && p.left >= 0 && p.height > 0 && p.width > 0);
                QVERIFY(p.top + p.height <= H && p.left + p.width <= W);
                if (p.fallback) continue;
                ++accepted;
                // w = round(sqrt(A r)), h = round(sqrt(A / r)) with A/(H W) in [0.08, 1], r in [3/4, 4/3]: undo the
                // rounding (at most 0.5 each) and the ranges must hold.
                const double w = p.width, h = p.height, area = double(H) * W;
                QVERIFY2((w + 0.5) * (h + 0.5) >= 0.08 * area && (w - 0.5) * (h - 0.5) <= area,
                         qPrintable(QString("area %1x%2 of %3x%4").arg(w).arg(h).arg(W).arg(H)));
                QVERIFY2((w + 0.5) / (h - 0.5) >= 0.75 && (w - 0.5) / (h + 0.5) <= 4.0 / 3.0,
                         qPrintable(QString("ratio %1x%2").arg(w).arg(h)));
                if (H >= 224) {
                    const double frac = w * h / area;
                    small += frac < 0.2;
                    large += frac > 0.8;
                }
            }
        }
        QVERIFY(accepted > total * 9 / 10);
        QVERIFY(small > 50 && large > 50);         // the area fraction spreads over the range
        QVERIFY(flips > total * 4 / 10 && flips < total * 6 / 10);  // p = 0.5
    }

    void randomResizedCropIsAFunctionOfSeedEpochIndex() {
        auto params = [](uint64_t s, uint64_t e, uint64_t i) {
            AugmentRng rng = AugmentRng::forSample(s, e, i);
            const CropParams p = sampleRandomResizedCrop(375, 500, rng);
            return std::make_tuple(p.top, p.left, p.height, p.width, p.flip);
        };
        // Same arguments, any order, fresh generators: same crop.
        QCOMPARE(params(1, 2, 3), params(1, 2, 3));
        const auto later = params(5, 9, 1234);
        for (int i = 0; i < 5; ++i) params(5, 9, uint64_t(i));
        QCOMPARE(params(5, 9, 1234), later);
        // Each argument changes the stream.
        auto firstWords = [](uint64_t s, uint64_t e, uint64_t i, uint64_t stream = 0) {
            AugmentRng r = AugmentRng::forSample(s, e, i, stream);
            return std::make_tuple(r.nextU64(), r.nextU64());
        };
        const auto base = firstWords(1, 2, 3);
        QVERIFY(firstWords(2, 2, 3) != base);
        QVERIFY(firstWords(1, 3, 3) != base);
        QVERIFY(firstWords(1, 2, 4) != base);
        QVERIFY(firstWords(1, 2, 3, 1) != base);
        QVERIFY(firstWords(3, 2, 1) != base);  // arguments are not interchangeable
        // Crops over indices and epochs are (nearly) all different.
        std::set<std::tuple<int, int, int, int, bool>> seen;
        for (uint64_t e = 0; e < 4; ++e)
            for (uint64_t i = 0; i < 50; ++i) seen.insert(params(42, e, i));
        QVERIFY(seen.size() >= 195);
        // The image follows the parameters.
        const Image img = pattern(120, 90);
        CropParams p1, p2;
        const Image a = trainTransform(img, 32, 42, 1, 17, {}, &p1);
        const Image b = trainTransform(img, 32, 42, 1, 17, {}, &p2);
        QVERIFY(a == b);
        QCOMPARE(std::tie(p1.top, p1.left, p1.height, p1.width, p1.flip),
                 std::tie(p2.top, p2.left, p2.height, p2.width, p2.flip));
        QCOMPARE(a.width, 32);
        QCOMPARE(a.height, 32);
        QCOMPARE(a.channels, 3);
        QVERIFY(a == applyCrop(img, p1, 32));
        const auto f = preprocessTrain(img, 32, 42, 1, 17);
        QVERIFY(f == toNormalizedCHW(a));
    }

    void randomResizedCropFallsBack() {
        // 1000 wide, 10 high: a crop of ratio <= 4/3 and height <= 10 covers at most 130 of the 800 pixels the
        // smallest scale asks for, so all 10 tries fail; the fallback clamps the ratio to 4/3.
        for (uint64_t i = 0; i < 20; ++i) {
            AugmentRng rng = AugmentRng::forSample(0, 0, i);
            const CropParams p = sampleRandomResizedCrop(10, 1000, rng);
            QVERIFY(p.fallback);
            QCOMPARE(std::tie(p.top, p.left, p.height, p.width), std::make_tuple(0, 493, 10, 13));  // round(13.33)
            AugmentRng rng2 = AugmentRng::forSample(0, 0, i);
            const CropParams q = sampleRandomResizedCrop(1000, 10, rng2);  // tall: ratio clamped to 3/4
            QVERIFY(q.fallback);
            QCOMPARE(std::tie(q.top, q.left, q.height, q.width), std::make_tuple(493, 0, 13, 10));
        }
        // No tries at all: an image whose ratio is inside the range is taken whole.
        RandomResizedCropOptions none;
        none.maxTries = 0;
        AugmentRng rng(5);
        const CropParams w = sampleRandomResizedCrop(300, 350, rng, none);
        QVERIFY(w.fallback);
        QCOMPARE(std::tie(w.top, w.left, w.height, w.width), std::make_tuple(0, 0, 300, 350));
        const Image out = applyCrop(pattern(1000, 10), sampleRandomResizedCrop(10, 1000, rng), 24);
        QCOMPARE(out.width, 24);
        QCOMPARE(out.height, 24);
        RandomResizedCropOptions bad;
        bad.ratioMin = 2.0;
        bad.ratioMax = 1.0;
        expectError([&] { sampleRandomResizedCrop(10, 10, rng, bad); }, {"invalid options"});
    }

    void rngDrawsAreUniformAndBounded() {
        AugmentRng rng(123);
        int counts[5] = {0, 0, 0, 0, 0};
        double lo = 1, hi = 0;
        for (int i = 0; i < 50000; ++i) {
            const int64_t v = rng.uniformInt(-2, 2);
            QVERIFY(v >= -2 && v <= 2);
            ++counts[v + 2];
            const double u = rng.uniform();
            QVERIFY(u >= 0.0 && u < 1.0);
            lo = std::min(lo, u);
            hi = std::max(hi, u);
        }
        for (int c : counts) QVERIFY(c > 9000 && c < 11000);
        QVERIFY(lo < 0.001 && hi > 0.999);
        QCOMPARE(rng.uniformInt(7, 7), int64_t(7));
        QVERIFY_THROWS_EXCEPTION(Error, rng.uniformInt(3, 2));
        // The generator is fully specified here, independent of the standard library: pin its first output so a
        // change (which would silently change every cached crop) is noticed.
        AugmentRng a(0), b(0);
        QCOMPARE(a.nextU64(), b.nextU64());
        // (Value recorded from this implementation when it was written; it is a regression pin, not a reference.)
        QCOMPARE(AugmentRng::forSample(0, 0, 0).nextU64(), uint64_t(0xbf1b7115e5fdde72ULL));
    }

    // ---- decoding ----

    void decodeRoundTripsPng() {
        // Written by OpenCV itself (BGR order in the Mat), read back as RGB.
        cv::Mat bgr(7, 11, CV_8UC3);
        for (int y = 0; y < bgr.rows; ++y)
            for (int x = 0; x < bgr.cols; ++x) bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x * 20), uint8_t(y * 30), 200);
        const std::string path = tempFile("roundtrip.png");
        QVERIFY(cv::imwrite(path, bgr));
        const Image img = decodeImage(path);
        QCOMPARE(img.width, 11);
        QCOMPARE(img.height, 7);
        QCOMPARE(img.channels, 3);
        for (int y = 0; y < 7; ++y)
            for (int x = 0; x < 11; ++x) {
                QCOMPARE(int(img.at(y, x, 0)), 200);     // R
                QCOMPARE(int(img.at(y, x, 1)), y * 30);  // G
                QCOMPARE(int(img.at(y, x, 2)), x * 20);  // B
            }
        // From memory, and through our own writer.
        std::vector<uint8_t> buf;
        QVERIFY(cv::imencode(".png", bgr, buf));
        QVERIFY(decodeImage(buf) == img);
        const std::string again = tempFile("again.png");
        encodeImageFile(img, again);
        QVERIFY(decodeImage(again) == img);
    }

    void decodeGreyAlphaPalette() {
        cv::Mat grey(3, 4, CV_8UC1);
        for (int i = 0; i < 12; ++i) grey.data[i] = uint8_t(i * 21);
        const std::string gp = tempFile("grey.png");
        QVERIFY(cv::imwrite(gp, grey));
        const Image g = decodeImage(gp);
        QCOMPARE(g.channels, 3);
        for (int i = 0; i < 12; ++i)
            for (int c = 0; c < 3; ++c) QCOMPARE(int(g.data[std::size_t(i) * 3 + c]), i * 21);

        cv::Mat bgra(2, 2, CV_8UC4, cv::Scalar(10, 20, 30, 0));  // fully transparent: alpha is dropped, not applied
        const std::string ap = tempFile("alpha.png");
        QVERIFY(cv::imwrite(ap, bgra));
        const Image a = decodeImage(ap);
        QCOMPARE(a.channels, 3);
        QCOMPARE(std::vector<int>(a.data.begin(), a.data.begin() + 3), (std::vector<int>{30, 20, 10}));

        const auto png = palettePng(3, 2, {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 99, 199}}, {0, 1, 2, 3, 3, 0});
        const Image p = decodeImage(png, "palette.png");
        QCOMPARE(p.width, 3);
        QCOMPARE(p.height, 2);
        QCOMPARE(std::vector<int>(p.data.begin(), p.data.end()),
                 (std::vector<int>{255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 99, 199, 9, 99, 199, 255, 0, 0}));

        cv::Mat deep(2, 2, CV_16UC3, cv::Scalar(0x1234, 0xABCD, 0xFF00));
        const std::string dp = tempFile("deep.png");
        QVERIFY(cv::imwrite(dp, deep));
        const Image d = decodeImage(dp);
        QCOMPARE(d.channels, 3);
        QVERIFY(std::abs(int(d.data[0]) - 0xFF) <= 1 && std::abs(int(d.data[2]) - 0x12) <= 1);
    }

    void decodeIgnoresExifOrientation() {
        // Pillow's Image.open does not apply EXIF orientation, so neither do we (plain cv::imread would rotate).
        cv::Mat bgr(20, 40, CV_8UC3, cv::Scalar(10, 100, 200));
        std::vector<uint8_t> jpg;
        QVERIFY(cv::imencode(".jpg", bgr, jpg));
        // APP1 "Exif" with a little-endian TIFF IFD holding one entry: Orientation (0x0112) = 6 (rotate 90 CW).
        const std::vector<uint8_t> app1{0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,
                                        'I', 'I', 0x2A, 0, 8, 0, 0, 0,
                                        1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0,
                                        0, 0, 0, 0};
        jpg.insert(jpg.begin() + 2, app1.begin(), app1.end());
        const cv::Mat rotated = cv::imdecode(jpg, cv::IMREAD_COLOR);
        QCOMPARE(rotated.cols, 20);  // the tag is effective
        const Image img = decodeImage(jpg, "exif.jpg");
        QCOMPARE(img.width, 40);
        QCOMPARE(img.height, 20);
    }

    void decodeErrorsNameTheFile() {
        const std::string missing = tempFile("no_such_image.jpg");
        expectError([&] { decodeImage(missing); }, {missing, "not found"});
        const std::string junk = tempFile("junk.png");
        std::ofstream(junk, std::ios::binary) << "this is not an image";
        expectError([&] { decodeImage(junk); }, {junk, "cannot decode"});
        const std::string empty = tempFile("empty.png");
        std::ofstream(empty, std::ios::binary).flush();
        expectError([&] { decodeImage(empty); }, {empty, "empty"});
        expectError([&] { decodeImage(caspl::test::tempDir().toStdString()); }, {"not a regular file"});
        const std::vector<uint8_t> bytes{1, 2, 3, 4};
        expectError([&] { decodeImage(bytes, "shard-3/cat_01.jpg"); }, {"shard-3/cat_01.jpg", "cannot decode"});
        expectError([&] { encodeImageFile(pattern(2, 2), tempFile("no_dir/x.png")); }, {"no_dir/x.png"});
    }
};

CASPL_REGISTER_TEST(PreprocessTest);
#include "test_preprocess.moc"
