#include "core/image/image.h"

#include "core/util/error.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <system_error>

namespace caspl {

namespace {

// IMREAD_COLOR: 8-bit, 3 channels (grey replicated, alpha dropped, palette expanded, 16-bit scaled down).
// IMREAD_IGNORE_ORIENTATION: Pillow's Image.open does not rotate by EXIF orientation, so neither do we.
constexpr int kDecodeFlags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;

Image fromBgrMat(const cv::Mat& bgr, const std::string& what) {
    if (bgr.type() != CV_8UC3)
        throw Error("decoding " + what + " gave an unexpected pixel type (expected 8-bit, 3 channels)");
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    Image img(rgb.cols, rgb.rows, 3);
    for (int y = 0; y < rgb.rows; ++y) std::memcpy(img.row(y), rgb.ptr<uint8_t>(y), img.rowBytes());
    return img;
}

Image decodeBuffer(const uint8_t* bytes, std::size_t size, const std::string& what) {
    if (size == 0) throw Error("cannot decode " + what + ": it is empty (expected an encoded image: PNG, JPEG, ...)");
    if (size > std::size_t(std::numeric_limits<int>::max()))
        throw Error("cannot decode " + what + ": " + std::to_string(size) + " bytes (expected less than 2 GiB)");
    cv::Mat decoded;
    try {
        const cv::Mat buf(1, int(size), CV_8UC1, const_cast<uint8_t*>(bytes));
        decoded = cv::imdecode(buf, kDecodeFlags);
    } catch (const cv::Exception& e) {
        throw Error("cannot decode " + what + ": " + e.what());
    }
    if (decoded.empty())
        throw Error("cannot decode " + what +
                    ": not an image in a format OpenCV reads, or corrupt (expected PNG, JPEG, BMP, WebP, TIFF, ...)");
    return fromBgrMat(decoded, what);
}

}  // namespace

Image::Image(int w, int h, int c) {
    if (w < 0 || h < 0 || c < 1)
        throw Error("invalid image size " + std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(c) +
                    " (expected non-negative width and height and at least one channel)");
    width = w;
    height = h;
    channels = c;
    data.assign(std::size_t(w) * std::size_t(h) * std::size_t(c), 0);
}

Image decodeImage(const std::string& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) throw Error("image file not found: " + path);
    if (!std::filesystem::is_regular_file(status)) throw Error("image path is not a regular file: " + path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot open image file: " + path);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw Error("error while reading image file: " + path);
    return decodeBuffer(bytes.data(), bytes.size(), "image file '" + path + "'");
}

Image decodeImage(const uint8_t* bytes, std::size_t size, const std::string& what) {
    return decodeBuffer(bytes, size, what);
}

Image decodeImage(const std::vector<uint8_t>& bytes, const std::string& what) {
    return decodeBuffer(bytes.data(), bytes.size(), what);
}

void encodeImageFile(const Image& img, const std::string& path) {
    if (img.empty() || img.data.size() != std::size_t(img.width) * img.height * img.channels)
        throw Error("cannot write image file '" + path + "': the image is empty or its buffer has the wrong size");
    if (img.channels != 1 && img.channels != 3 && img.channels != 4)
        throw Error("cannot write image file '" + path + "': " + std::to_string(img.channels) +
                    " channels (expected 1, 3 or 4)");
    const cv::Mat view(img.height, img.width, CV_8UC(img.channels), const_cast<uint8_t*>(img.data.data()));
    cv::Mat out;
    if (img.channels == 3)
        cv::cvtColor(view, out, cv::COLOR_RGB2BGR);
    else if (img.channels == 4)
        cv::cvtColor(view, out, cv::COLOR_RGBA2BGRA);
    else
        out = view;
    bool ok = false;
    std::string why = "the encoder failed (unwritable folder or unsupported extension?)";
    try {
        ok = cv::imwrite(path, out);
    } catch (const cv::Exception& e) {
        why = e.what();
    }
    if (!ok) throw Error("cannot write image file '" + path + "': " + why);
}

}  // namespace caspl
