#pragma once
// An owned 8-bit interleaved image (HWC, row-major, no padding) and its decoding from files and memory.
//
// Decoding uses OpenCV's codecs and always yields 3-channel RGB, meant to equal the reference's
// Image.open(path).convert("RGB") (Pillow, as openai/CLIP and Dassl read images):
//  - grayscale is replicated to three channels; an alpha channel is dropped, not composited (as convert("RGB")
//    does for RGBA/LA); palette images are expanded through the palette (transparency ignored);
//  - EXIF orientation is NOT applied (Pillow's Image.open does not rotate; plain cv::imread would);
//  - 16-bit images keep their high byte. Pillow agrees for 16-bit RGB, but opens 16-bit grayscale as mode "I" and
//    clips it to 255 in convert("RGB"); we deliberately keep the meaningful high byte instead.
// Checked against Pillow 9.4 on Debian 12: RGB/L/LA/RGBA/P/P+tRNS PNG, BMP, TIFF and baseline/subsampled/grey
// JPEG decode identically (both use libjpeg-turbo there); CMYK JPEG differs by at most one level. With another
// libjpeg build JPEG pixels may differ by a level here and there.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

struct Image {
    int width = 0;
    int height = 0;
    int channels = 0;           // 3 (RGB) for decoded images; the resampling code accepts any count >= 1
    std::vector<uint8_t> data;  // height * width * channels bytes, row-major HWC

    Image() = default;
    // A zero-filled image; throws caspl::Error for a negative size or channels < 1.
    Image(int width, int height, int channels);

    bool empty() const { return width <= 0 || height <= 0 || data.empty(); }
    std::size_t rowBytes() const { return std::size_t(width) * std::size_t(channels); }
    uint8_t* row(int y) { return data.data() + std::size_t(y) * rowBytes(); }
    const uint8_t* row(int y) const { return data.data() + std::size_t(y) * rowBytes(); }
    uint8_t& at(int y, int x, int c) { return data[(std::size_t(y) * width + x) * channels + c]; }
    uint8_t at(int y, int x, int c) const { return data[(std::size_t(y) * width + x) * channels + c]; }

    bool operator==(const Image& o) const {
        return width == o.width && height == o.height && channels == o.channels && data == o.data;
    }
    bool operator!=(const Image& o) const { return !(*this == o); }
};

// Decodes an image file (any format OpenCV's imgcodecs reads) into RGB. Throws caspl::Error naming the file when
// it is missing, unreadable or not a decodable image.
Image decodeImage(const std::string& path);

// Decodes an encoded image held in memory (PNG/JPEG/... bytes) into RGB. `what` names the source in error messages
// (e.g. "archive.tar:cat/001.jpg").
Image decodeImage(const uint8_t* bytes, std::size_t size, const std::string& what = "in-memory image");
Image decodeImage(const std::vector<uint8_t>& bytes, const std::string& what = "in-memory image");

// Writes an image to a file; the format follows the extension (".png" is lossless). Input is RGB (or grey/RGBA by
// channel count). Throws caspl::Error naming the file on failure. Meant for tests and tools.
void encodeImageFile(const Image& img, const std::string& path);

}  // namespace caspl
