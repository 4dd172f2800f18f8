// CLIP image preprocessing. The resampler restates Pillow 9.4's libImaging/Resample.c (ImagingResample with the
// BICUBIC filter, 8 bits per channel) operation for operation, so that results match Pillow bit for bit; see the
// "Image preprocessing" notes of the clip-tiny-a fixture. This file is compiled with -ffp-contract=off (see
// core/CMakeLists.txt): a fused multiply-add in the kernel or the tap centres could move a fixed-point weight by
// one unit and break the equality.
#include "core/image/preprocess.h"

#include "core/util/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace caspl {

namespace {

std::string sizeStr(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

void requireImage(const Image& img, const char* op) {
    if (img.width <= 0 || img.height <= 0 || img.channels < 1 ||
        img.data.size() != std::size_t(img.width) * std::size_t(img.height) * std::size_t(img.channels))
        throw Error(std::string(op) + ": invalid input image " + sizeStr(img.width, img.height) + "x" +
                    std::to_string(img.channels) + " with " + std::to_string(img.data.size()) +
                    " bytes (expected a non-empty image whose buffer holds width*height*channels bytes)");
}

// ---- Pillow's bicubic resampling --------------------------------------------------------------------------------

constexpr double kBicubicSupport = 2.0;
constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

// Keys' cubic convolution kernel with a = -0.5, written as Pillow writes it.
double bicubicFilter(double x) {
    constexpr double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

// Per output pixel along one axis: the first source tap, the number of taps and their fixed-point weights.
struct AxisCoeffs {
    int ksize = 0;
    std::vector<int> first;    // [outSize]
    std::vector<int> count;    // [outSize]
    std::vector<int32_t> kk;   // [outSize * ksize]
};

// Pillow's precompute_coeffs() for the box [0, inSize) followed by normalize_coeffs_8bpc().
AxisCoeffs precomputeCoeffs(int inSize, int outSize) {
    const float in0 = 0.0f, in1 = float(inSize);
    const double scale = double(in1 - in0) / outSize;
    double filterscale = scale;
    if (filterscale < 1.0) filterscale = 1.0;
    const double support = kBicubicSupport * filterscale;
    const int ksize = int(std::ceil(support)) * 2 + 1;

    AxisCoeffs c;
    c.ksize = ksize;
    c.first.resize(std::size_t(outSize));
    c.count.resize(std::size_t(outSize));
    c.kk.assign(std::size_t(outSize) * std::size_t(ksize), 0);
    std::vector<double> k(static_cast<std::size_t>(ksize));
    for (int xx = 0; xx < outSize; ++xx) {
        const double center = in0 + (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        int xmin = int(center - support + 0.5);  // truncation toward zero, as Pillow's (int) cast
        if (xmin < 0) xmin = 0;
        int xmax = int(center + support + 0.5);
        if (xmax > inSize) xmax = inSize;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            const double w = bicubicFilter((x + xmin - center + 0.5) * ss);
            k[std::size_t(x)] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; ++x)
            if (ww != 0.0) k[std::size_t(x)] /= ww;
        int32_t* out = &c.kk[std::size_t(xx) * std::size_t(ksize)];
        for (int x = 0; x < xmax; ++x) {
            const double v = k[std::size_t(x)];
            out[x] = v < 0 ? int32_t(-0.5 + v * (1 << kPrecisionBits)) : int32_t(0.5 + v * (1 << kPrecisionBits));
        }
        c.first[std::size_t(xx)] = xmin;
        c.count[std::size_t(xx)] = xmax;
    }
    return c;
}

inline uint8_t clip8(int64_t acc) {
    if (acc >= (int64_t(1) << kPrecisionBits << 8)) return 255;
    if (acc <= 0) return 0;
    return uint8_t(acc >> kPrecisionBits);
}

// Pillow's ImagingResampleHorizontal_8bpc: rows [rowOffset, rowOffset + out.height) of `in` into `out`.
// Accumulators are 64-bit (Pillow's are 32-bit and never overflow for this kernel, so the results agree).
// CH > 0 fixes the channel count at compile time (the common RGB case); CH == 0 reads it from the image.
template <int CH>
void resampleHorizontalImpl(const Image& in, Image& out, int rowOffset, const AxisCoeffs& c) {
    const int ch = CH > 0 ? CH : in.channels;
    constexpr int64_t kHalf = int64_t(1) << (kPrecisionBits - 1);
    std::vector<int64_t> accBuf(static_cast<std::size_t>(ch));
    int64_t* acc = accBuf.data();
    for (int yy = 0; yy < out.height; ++yy) {
        const uint8_t* src = in.row(yy + rowOffset);
        uint8_t* dst = out.row(yy);
        for (int xx = 0; xx < out.width; ++xx) {
            const int xmin = c.first[std::size_t(xx)];
            const int n = c.count[std::size_t(xx)];
            const int32_t* k = &c.kk[std::size_t(xx) * std::size_t(c.ksize)];
            for (int q = 0; q < ch; ++q) acc[q] = kHalf;
            const uint8_t* p = src + std::size_t(xmin) * std::size_t(ch);
            for (int x = 0; x < n; ++x, p += ch)
                for (int q = 0; q < ch; ++q) acc[q] += int64_t(p[q]) * k[x];
            uint8_t* d = dst + std::size_t(xx) * std::size_t(ch);
            for (int q = 0; q < ch; ++q) d[q] = clip8(acc[q]);
        }
    }
}

void resampleHorizontal(const Image& in, Image& out, int rowOffset, const AxisCoeffs& c) {
    if (in.channels == 3)
        resampleHorizontalImpl<3>(in, out, rowOffset, c);
    else
        resampleHorizontalImpl<0>(in, out, rowOffset, c);
}

// Pillow's ImagingResampleVertical_8bpc; `rowShift` is subtracted from every tap row (the rows of `in` start at
// source row rowShift).
void resampleVertical(const Image& in, Image& out, int rowShift, const AxisCoeffs& c) {
    const std::size_t rowLen = out.rowBytes();
    std::vector<int64_t> acc(rowLen);
    for (int yy = 0; yy < out.height; ++yy) {
        const int ymin = c.first[std::size_t(yy)] - rowShift;
        const int n = c.count[std::size_t(yy)];
        const int32_t* k = &c.kk[std::size_t(yy) * std::size_t(c.ksize)];
        std::fill(acc.begin(), acc.end(), int64_t(1) << (kPrecisionBits - 1));
        for (int y = 0; y < n; ++y) {
            const uint8_t* src = in.row(y + ymin);
            const int64_t w = k[y];
            for (std::size_t i = 0; i < rowLen; ++i) acc[i] += int64_t(src[i]) * w;
        }
        uint8_t* dst = out.row(yy);
        for (std::size_t i = 0; i < rowLen; ++i) dst[i] = clip8(acc[i]);
    }
}

}  // namespace

// ---- Resampling -------------------------------------------------------------------------------------------------

Image resizeBicubicPil(const Image& img, int outW, int outH) {
    requireImage(img, "resizeBicubicPil");
    if (outW <= 0 || outH <= 0)
        throw Error("resizeBicubicPil: invalid output size " + sizeStr(outW, outH) + " for a " +
                    sizeStr(img.width, img.height) + " image (expected positive width and height)");
    const bool needH = outW != img.width;
    const bool needV = outH != img.height;
    if (!needH && !needV) return img;  // Pillow returns a copy

    const AxisCoeffs ch = precomputeCoeffs(img.width, outW);
    const AxisCoeffs cvert = precomputeCoeffs(img.height, outH);
    if (!needV) {
        Image out(outW, outH, img.channels);
        resampleHorizontal(img, out, 0, ch);
        return out;
    }
    if (!needH) {
        Image out(outW, outH, img.channels);
        resampleVertical(img, out, 0, cvert);
        return out;
    }
    // Horizontal pass over the source rows the vertical pass reads, into a uint8 intermediate, then vertical.
    const int rowFirst = cvert.first.front();
    const int rowLast = cvert.first.back() + cvert.count.back();
    Image tmp(outW, rowLast - rowFirst, img.channels);
    resampleHorizontal(img, tmp, rowFirst, ch);
    Image out(outW, outH, img.channels);
    resampleVertical(tmp, out, rowFirst, cvert);
    return out;
}

std::array<int, 2> shorterSideSize(int width, int height, int size) {
    if (width <= 0 || height <= 0 || size <= 0)
        throw Error("resize: invalid sizes (image " + sizeStr(width, height) + ", target " + std::to_string(size) +
                    "; expected positive numbers)");
    const bool wide = width >= height;
    const int shortSide = wide ? height : width;
    const int longSide = wide ? width : height;
    // torchvision: new_long = int(size * long / short), a true division in double, then truncation.
    const double q = double(int64_t(size) * longSide) / double(shortSide);
    if (q >= double(std::numeric_limits<int>::max()))
        throw Error("resize: a " + sizeStr(width, height) + " image resized to shorter side " + std::to_string(size) +
                    " is too large");
    const int newLong = int(q);
    return wide ? std::array<int, 2>{newLong, size} : std::array<int, 2>{size, newLong};
}

Image resizeShorterSide(const Image& img, int size) {
    requireImage(img, "resizeShorterSide");
    const auto wh = shorterSideSize(img.width, img.height, size);
    return resizeBicubicPil(img, wh[0], wh[1]);
}

// ---- Cropping and flipping --------------------------------------------------------------------------------------

double roundHalfEven(double x) {
    if (!std::isfinite(x)) return x;
    double r = std::floor(x);
    const double d = x - r;  // exact
    if (d > 0.5 || (d == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
    return r == 0.0 ? std::copysign(0.0, x) : r;
}

Image crop(const Image& img, int top, int left, int height, int width) {
    requireImage(img, "crop");
    if (top < 0 || left < 0 || height <= 0 || width <= 0 || int64_t(top) + height > img.height ||
        int64_t(left) + width > img.width)
        throw Error("crop: rectangle top=" + std::to_string(top) + " left=" + std::to_string(left) + " height=" +
                    std::to_string(height) + " width=" + std::to_string(width) + " is not inside the " +
                    sizeStr(img.width, img.height) + " image (expected a non-empty rectangle inside it)");
    Image out(width, height, img.channels);
    const std::size_t len = out.rowBytes();
    for (int y = 0; y < height; ++y)
        std::memcpy(out.row(y), img.row(top + y) + std::size_t(left) * std::size_t(img.channels), len);
    return out;
}

Image centerCrop(const Image& img, int size) {
    requireImage(img, "centerCrop");
    if (size <= 0) throw Error("centerCrop: invalid size " + std::to_string(size) + " (expected a positive size)");
    const Image* src = &img;
    Image padded;
    if (size > img.width || size > img.height) {
        // torchvision pads with zeros: left/top get (size - W) // 2, right/bottom the rest.
        const int padL = size > img.width ? (size - img.width) / 2 : 0;
        const int padT = size > img.height ? (size - img.height) / 2 : 0;
        const int padR = size > img.width ? (size - img.width + 1) / 2 : 0;
        const int padB = size > img.height ? (size - img.height + 1) / 2 : 0;
        padded = Image(img.width + padL + padR, img.height + padT + padB, img.channels);
        for (int y = 0; y < img.height; ++y)
            std::memcpy(padded.row(y + padT) + std::size_t(padL) * std::size_t(img.channels), img.row(y),
                        img.rowBytes());
        if (padded.width == size && padded.height == size) return padded;
        src = &padded;
    }
    const int top = int(roundHalfEven((src->height - size) / 2.0));
    const int left = int(roundHalfEven((src->width - size) / 2.0));
    return crop(*src, top, left, size, size);
}

Image flipHorizontal(const Image& img) {
    requireImage(img, "flipHorizontal");
    Image out(img.width, img.height, img.channels);
    const std::size_t ch = std::size_t(img.channels);
    for (int y = 0; y < img.height; ++y) {
        const uint8_t* src = img.row(y);
        uint8_t* dst = out.row(y);
        for (int x = 0; x < img.width; ++x)
            std::memcpy(dst + std::size_t(x) * ch, src + std::size_t(img.width - 1 - x) * ch, ch);
    }
    return out;
}

// ---- Normalisation ----------------------------------------------------------------------------------------------

void toNormalizedCHW(const Image& img, float* out, const std::array<float, 3>& mean,
                     const std::array<float, 3>& stddev) {
    requireImage(img, "toNormalizedCHW");
    if (img.channels != 3)
        throw Error("toNormalizedCHW: the image has " + std::to_string(img.channels) +
                    " channels (expected 3, RGB)");
    const std::size_t plane = std::size_t(img.width) * std::size_t(img.height);
    for (int c = 0; c < 3; ++c) {
        const float m = mean[std::size_t(c)];
        const float s = stddev[std::size_t(c)];
        float* dst = out + std::size_t(c) * plane;
        const uint8_t* src = img.data.data() + c;
        for (std::size_t i = 0; i < plane; ++i) {
            // ToTensor: float32(x) / 255, then Normalize: (v - mean) / std, each an IEEE float32 operation.
            const float v = float(src[i * 3]) / 255.0f;
            dst[i] = (v - m) / s;
        }
    }
}

std::vector<float> toNormalizedCHW(const Image& img, const std::array<float, 3>& mean,
                                   const std::array<float, 3>& stddev) {
    requireImage(img, "toNormalizedCHW");
    std::vector<float> out(img.data.size());
    toNormalizedCHW(img, out.data(), mean, stddev);
    return out;
}

// ---- Evaluation transform ---------------------------------------------------------------------------------------

Image evalTransform(const Image& img, int size) { return centerCrop(resizeShorterSide(img, size), size); }

std::vector<float> preprocessEval(const Image& img, int size) { return toNormalizedCHW(evalTransform(img, size)); }

// ---- Training augmentation --------------------------------------------------------------------------------------

namespace {

inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// SplitMix64's output function (a bijection on 64-bit words).
inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

}  // namespace

AugmentRng::AugmentRng(uint64_t seed) {
    // SplitMix64 stream from the seed fills the xoshiro256** state (never all zero: the four words are images of
    // four distinct counters under a bijection, so at most one of them can be zero).
    uint64_t x = seed;
    for (uint64_t& s : s_) {
        x += kGolden;
        s = mix64(x);
    }
}

AugmentRng AugmentRng::forSample(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t stream) {
    // Chained bijective mixing: for fixed other arguments, distinct values of any one argument give distinct keys.
    uint64_t h = mix64(seed + kGolden);
    h = mix64(h ^ mix64(epoch + 0x632BE59BD9B4E019ULL));
    h = mix64(h ^ mix64(index + 0x8CB92BA72F3D8DD7ULL));
    h = mix64(h ^ mix64(stream + 0xD6E8FEB86659FD93ULL));
    return AugmentRng(h);
}

uint64_t AugmentRng::nextU64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

double AugmentRng::uniform() { return double(nextU64() >> 11) * 0x1.0p-53; }

double AugmentRng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int64_t AugmentRng::uniformInt(int64_t lo, int64_t hi) {
    if (lo > hi)
        throw Error("AugmentRng::uniformInt: empty range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    const uint64_t range = uint64_t(hi) - uint64_t(lo) + 1;  // 0 means the full 64-bit range
    if (range == 0) return int64_t(nextU64());
    // Reject the lowest 2^64 mod range values so that x % range is exactly uniform.
    const uint64_t threshold = (0 - range) % range;
    uint64_t x = nextU64();
    while (x < threshold) x = nextU64();
    return int64_t(uint64_t(lo) + x % range);
}

bool AugmentRng::bernoulli(double p) { return uniform() < p; }

CropParams sampleRandomResizedCrop(int height, int width, AugmentRng& rng, const RandomResizedCropOptions& opt) {
    if (height <= 0 || width <= 0)
        throw Error("RandomResizedCrop: invalid image size " + sizeStr(width, height) + " (expected a non-empty image)");
    if (!(opt.scaleMin >= 0.0 && opt.scaleMin <= opt.scaleMax) || !(opt.ratioMin > 0.0 && opt.ratioMin <= opt.ratioMax) ||
        opt.maxTries < 0 || !(opt.flipProbability >= 0.0 && opt.flipProbability <= 1.0))
        throw Error("RandomResizedCrop: invalid options scale=(" + std::to_string(opt.scaleMin) + ", " +
                    std::to_string(opt.scaleMax) + ") ratio=(" + std::to_string(opt.ratioMin) + ", " +
                    std::to_string(opt.ratioMax) + ") tries=" + std::to_string(opt.maxTries) +
                    " flip=" + std::to_string(opt.flipProbability) +
                    " (expected 0 <= scale min <= max, 0 < ratio min <= max, tries >= 0, 0 <= flip <= 1)");
    CropParams p;
    const double area = double(height) * double(width);
    const double logLo = std::log(opt.ratioMin);
    const double logHi = std::log(opt.ratioMax);
    bool found = false;
    for (int t = 0; t < opt.maxTries && !found; ++t) {
        const double targetArea = area * rng.uniform(opt.scaleMin, opt.scaleMax);
        const double aspect = std::exp(rng.uniform(logLo, logHi));
        const double wf = roundHalfEven(std::sqrt(targetArea * aspect));
        const double hf = roundHalfEven(std::sqrt(targetArea / aspect));
        if (wf > 0 && wf <= width && hf > 0 && hf <= height) {
            p.width = int(wf);
            p.height = int(hf);
            p.top = int(rng.uniformInt(0, height - p.height));
            p.left = int(rng.uniformInt(0, width - p.width));
            found = true;
        }
    }
    if (!found) {
        // Center crop with the image's ratio clamped into [ratioMin, ratioMax].
        const double inRatio = double(width) / double(height);
        if (inRatio < opt.ratioMin) {
            p.width = width;
            p.height = int(roundHalfEven(p.width / opt.ratioMin));
        } else if (inRatio > opt.ratioMax) {
            p.height = height;
            p.width = int(roundHalfEven(p.height * opt.ratioMax));
        } else {
            p.width = width;
            p.height = height;
        }
        // Guard the degenerate sizes torchvision would produce as 0 (never for ratios within [1e-9, 1e9]).
        p.width = std::clamp(p.width, 1, width);
        p.height = std::clamp(p.height, 1, height);
        p.top = (height - p.height) / 2;
        p.left = (width - p.width) / 2;
        p.fallback = true;
    }
    p.flip = rng.bernoulli(opt.flipProbability);
    return p;
}

Image applyCrop(const Image& img, const CropParams& params, int size) {
    if (size <= 0) throw Error("applyCrop: invalid output size " + std::to_string(size) + " (expected positive)");
    Image out = resizeBicubicPil(crop(img, params.top, params.left, params.height, params.width), size, size);
    return params.flip ? flipHorizontal(out) : out;
}

Image trainTransform(const Image& img, int size, AugmentRng& rng, const RandomResizedCropOptions& opt,
                     CropParams* params) {
    requireImage(img, "trainTransform");
    const CropParams p = sampleRandomResizedCrop(img.height, img.width, rng, opt);
    if (params) *params = p;
    return applyCrop(img, p, size);
}

Image trainTransform(const Image& img, int size, uint64_t seed, uint64_t epoch, uint64_t index,
                     const RandomResizedCropOptions& opt, CropParams* params) {
    AugmentRng rng = AugmentRng::forSample(seed, epoch, index);
    return trainTransform(img, size, rng, opt, params);
}

std::vector<float> preprocessTrain(const Image& img, int size, uint64_t seed, uint64_t epoch, uint64_t index,
                                   const RandomResizedCropOptions& opt, CropParams* params) {
    return toNormalizedCHW(trainTransform(img, size, seed, epoch, index, opt, params));
}

}  // namespace caspl
