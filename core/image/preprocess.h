#pragma once
// CLIP image preprocessing, bit-exact with the reference (Pillow 9.4 + torchvision 0.14, spec §1.7).
//
// Evaluation:  resizeShorterSide (Pillow antialiased bicubic) -> centerCrop -> toNormalizedCHW
// Training:    sampleRandomResizedCrop (torchvision's algorithm, our own seeded generator) -> applyCrop
//              (crop, Pillow bicubic to size x size, optional horizontal flip) -> toNormalizedCHW
//
// Everything here works on uint8 HWC images (core/image/image.h) and returns float32 CHW for the model.
#include "core/image/image.h"

#include <array>
#include <cstdint>
#include <vector>

namespace caspl {

// ---- Resampling -------------------------------------------------------------------------------------------------

// Pillow's Image.resize((outW, outH), Image.BICUBIC) on an 8-bit image: Keys cubic (a = -0.5) whose support is
// widened by the downscale factor (antialiasing), weights normalised and rounded to 22-bit fixed point, horizontal
// pass into a uint8 intermediate first, then the vertical pass. An axis whose size does not change is copied.
// Throws caspl::Error for an empty input or a non-positive output size.
Image resizeBicubicPil(const Image& img, int outW, int outH);

// The output size of torchvision's Resize(size) for an int size: the shorter side becomes `size`, the longer one
// int(size * long / short) (truncated). Returns {width, height}.
std::array<int, 2> shorterSideSize(int width, int height, int size);

// torchvision Resize(size, BICUBIC) on a PIL image: resizeBicubicPil to shorterSideSize().
Image resizeShorterSide(const Image& img, int size);

// ---- Cropping and flipping --------------------------------------------------------------------------------------

// Python's round(): nearest integer, halves to even (round(6.5) = 6, round(4.5) = 4, round(-0.5) = -0).
double roundHalfEven(double x);

// Copies the rectangle [top, top + height) x [left, left + width); throws caspl::Error unless it lies inside.
Image crop(const Image& img, int top, int left, int height, int width);

// torchvision CenterCrop(size): top = round((H - size) / 2), left = round((W - size) / 2) with Python's round.
// Like torchvision, an image smaller than `size` is first zero-padded ((size - W) // 2 left, the rest right, the
// same vertically); CLIP's transform never needs that, because its resize makes the shorter side exactly `size`.
Image centerCrop(const Image& img, int size);

Image flipHorizontal(const Image& img);

// ---- Normalisation ----------------------------------------------------------------------------------------------

// CLIP's Normalize constants (the float32 values torchvision uses: the Python doubles rounded to float).
inline constexpr std::array<float, 3> kClipMean{static_cast<float>(0.48145466), static_cast<float>(0.4578275),
                                                static_cast<float>(0.40821073)};
inline constexpr std::array<float, 3> kClipStd{static_cast<float>(0.26862954), static_cast<float>(0.26130258),
                                               static_cast<float>(0.27577711)};

// ToTensor + Normalize in float32, the way torchvision computes it: v = float(x) / 255.f, then (v - mean) / std
// (both IEEE float32 divisions, no reciprocal multiply). Writes channels * height * width floats, CHW, to `out`.
// The image must have 3 channels (throws caspl::Error otherwise).
void toNormalizedCHW(const Image& img, float* out, const std::array<float, 3>& mean = kClipMean,
                     const std::array<float, 3>& stddev = kClipStd);
std::vector<float> toNormalizedCHW(const Image& img, const std::array<float, 3>& mean = kClipMean,
                                   const std::array<float, 3>& stddev = kClipStd);

// ---- Evaluation transform ---------------------------------------------------------------------------------------

// clip._transform(size) up to ToTensor: resizeShorterSide then centerCrop, uint8 size x size RGB.
Image evalTransform(const Image& img, int size);
// The full evaluation transform: size * size * 3 floats, CHW, normalised with CLIP's mean/std.
std::vector<float> preprocessEval(const Image& img, int size);

// ---- Training augmentation --------------------------------------------------------------------------------------

// A small, portable, seeded generator for data augmentation: xoshiro256** (Blackman & Vigna), seeded through
// SplitMix64. Every draw is defined here bit for bit (no std:: distributions, whose output differs between
// standard libraries), so crops are reproducible across compilers and platforms.
//
// forSample() derives an independent generator from (seed, epoch, index[, stream]) by hashing, so an image's
// augmentation depends only on those numbers: it can be recomputed at any time (e.g. to look up a cached teacher
// feature of the same crop) without replaying a stream, and in any order or thread.
class AugmentRng {
public:
    explicit AugmentRng(uint64_t seed);
    static AugmentRng forSample(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t stream = 0);

    uint64_t nextU64();
    // Uniform double in [0, 1) with 53 random bits.
    double uniform();
    // Uniform double in [lo, hi).
    double uniform(double lo, double hi);
    // Uniform integer in [lo, hi] (inclusive), unbiased (Lemire's multiply-and-reject). Requires lo <= hi.
    int64_t uniformInt(int64_t lo, int64_t hi);
    // True with probability p.
    bool bernoulli(double p);

private:
    uint64_t s_[4];
};

struct CropParams {
    int top = 0;
    int left = 0;
    int height = 0;
    int width = 0;
    bool flip = false;      // horizontal flip after the resize
    bool fallback = false;  // true when all tries failed and the clamped-ratio center crop was used
};

struct RandomResizedCropOptions {
    double scaleMin = 0.08, scaleMax = 1.0;            // crop area as a fraction of the image area
    double ratioMin = 3.0 / 4.0, ratioMax = 4.0 / 3.0;  // crop aspect ratio width / height
    int maxTries = 10;
    double flipProbability = 0.5;  // RandomHorizontalFlip(p); 0 disables flipping
};

// torchvision 0.14 RandomResizedCrop.get_params for an H x W image, followed by RandomHorizontalFlip's coin:
// up to maxTries times draw target_area = H*W*U(scaleMin, scaleMax) and aspect = exp(U(log ratioMin, log ratioMax)),
// w = round(sqrt(area*aspect)), h = round(sqrt(area/aspect)) (Python round); accept if 0 < w <= W and 0 < h <= H
// with top = U{0..H-h}, left = U{0..W-w}. Otherwise a center crop ((H-h)//2, (W-w)//2) whose ratio W/H is clamped
// into [ratioMin, ratioMax]. Draws come from `rng` (not torch's generator, so crops differ from a Python run's).
// Throws caspl::Error for an empty image or invalid options.
CropParams sampleRandomResizedCrop(int height, int width, AugmentRng& rng, const RandomResizedCropOptions& opt = {});

// torchvision resized_crop + hflip on a PIL image: crop the rectangle, resizeBicubicPil to size x size, then flip
// when params.flip. Throws caspl::Error when the rectangle is not inside the image.
Image applyCrop(const Image& img, const CropParams& params, int size);

// sampleRandomResizedCrop + applyCrop. `params`, when given, receives the crop that was used.
Image trainTransform(const Image& img, int size, AugmentRng& rng, const RandomResizedCropOptions& opt = {},
                     CropParams* params = nullptr);
// The same with the generator AugmentRng::forSample(seed, epoch, index).
Image trainTransform(const Image& img, int size, uint64_t seed, uint64_t epoch, uint64_t index,
                     const RandomResizedCropOptions& opt = {}, CropParams* params = nullptr);
// trainTransform + toNormalizedCHW with CLIP's mean/std.
std::vector<float> preprocessTrain(const Image& img, int size, uint64_t seed, uint64_t epoch, uint64_t index,
                                   const RandomResizedCropOptions& opt = {}, CropParams* params = nullptr);

}  // namespace caspl
