#include "core/data/image_cache.h"

#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>
#include <opencv2/core/version.hpp>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace caspl {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "caspl-image-cache";
constexpr int kVersion = 2;  // 2: a CRC-32 per entry

uint64_t fnv1a(const std::string& s, uint64_t h) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

std::string hex64(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// Size and status-change time from stat(2) (std::filesystem gives no ctime); the modification time as
// std::filesystem gives it, the unit of every index written so far.
void statFile(const std::string& path, int64_t& size, int64_t& mtime, int64_t& ctime) {
    size = mtime = ctime = -1;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    std::error_code ec;
    const auto t = fs::last_write_time(path, ec);
    if (ec) return;
    size = int64_t(st.st_size);
    mtime = int64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
    ctime = int64_t(st.st_ctim.tv_sec) * 1000000000 + int64_t(st.st_ctim.tv_nsec);
}

void pwriteAll(int fd, const uint8_t* p, std::size_t n, uint64_t offset, const std::string& what) {
    while (n > 0) {
        const ssize_t w = ::pwrite(fd, p, n, off_t(offset));
        if (w < 0) {
            if (errno == EINTR) continue;
            throw Error(what + ": write failed: " + std::strerror(errno));
        }
        p += w;
        n -= std::size_t(w);
        offset += uint64_t(w);
    }
}

void preadAll(int fd, uint8_t* p, std::size_t n, uint64_t offset, const std::string& what) {
    while (n > 0) {
        const ssize_t r = ::pread(fd, p, n, off_t(offset));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) throw Error(what + ": read failed: " + (r < 0 ? std::strerror(errno) : "unexpected end"));
        p += r;
        n -= std::size_t(r);
        offset += uint64_t(r);
    }
}

uint32_t crcOf(const uint8_t* p, std::size_t n) {
    uLong crc = ::crc32(0L, Z_NULL, 0);
    while (n > 0) {  // zlib takes at most UINT_MAX bytes a call
        const auto chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
        crc = ::crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return uint32_t(crc);
}

const char* stateName(ImageCache::State s) {
    switch (s) {
        case ImageCache::State::Ok: return "ok";
        case ImageCache::State::Failed: return "failed";
        default: return "absent";
    }
}

}  // namespace

std::string evalCacheParams(int imageSize) {
    return std::string(kFormat) + " v" + std::to_string(kVersion) +
           "; evalTransform(size=" + std::to_string(imageSize) +
           "): resizeShorterSide Pillow bicubic, centerCrop; uint8 RGB HWC; decoder OpenCV " CV_VERSION;
}

std::unique_ptr<ImageCache> ImageCache::open(const std::string& dir, const std::vector<std::string>& paths,
                                             int imageSize) {
    if (imageSize < 1) throw Error("image cache: image size " + std::to_string(imageSize) + " (expected >= 1)");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
        throw Error(dir + ": cannot create the image cache folder" + (ec ? ": " + ec.message() : std::string()));
    std::unique_ptr<ImageCache> c(new ImageCache);
    c->dir_ = dir;
    c->size_ = imageSize;
    c->paths_ = paths;
    c->params_ = evalCacheParams(imageSize);
    uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
    h1 = fnv1a(c->params_ + "\n", h1);
    h2 = fnv1a(c->params_ + "\n", h2);
    for (const auto& p : paths) {
        h1 = fnv1a(p + "\n", h1);
        h2 = fnv1a(p + "\n", h2);
    }
    c->key_ = "eval-" + std::to_string(imageSize) + "px-" + hex64(h1) + hex64(h2);
    c->indexPath_ = (fs::path(dir) / (c->key_ + ".json")).string();
    const std::size_t n = paths.size();
    c->fileSize_.resize(n);
    c->fileMtime_.resize(n);
    c->fileCtime_.resize(n);
    c->state_.assign(n, uint8_t(State::Absent));
    c->fresh_.assign(n, 0);
    c->reason_.resize(n);
    c->crc_.assign(n, 0);
    for (std::size_t i = 0; i < n; ++i) statFile(paths[i], c->fileSize_[i], c->fileMtime_[i], c->fileCtime_[i]);

    // The old index, if it matches in every respect; anything unexpected means "start empty".
    if (fs::exists(c->indexPath_, ec)) {
        try {
            const auto j = nlohmann::json::parse(readFile(c->indexPath_));
            const auto& entries = j.at("entries");
            const std::string dataName = j.at("data").get<std::string>();
            const std::string dataPath = (fs::path(dir) / dataName).string();
            const bool matches = j.at("format") == kFormat && j.at("version") == kVersion &&
                                 j.at("params") == c->params_ && j.at("image_size") == imageSize &&
                                 entries.is_array() && entries.size() == n && dataName.find('/') == std::string::npos &&
                                 fs::exists(dataPath, ec) &&
                                 fs::file_size(dataPath, ec) == uint64_t(n) * c->imageBytes();
            if (matches) {
                c->mapData(dataPath);
                c->dataName_ = dataName;
                for (std::size_t i = 0; i < n; ++i) {
                    const auto& e = entries[i];
                    if (e.at("path").get<std::string>() != paths[i]) {  // hash collision: not our list
                        std::fill(c->state_.begin(), c->state_.end(), uint8_t(State::Absent));
                        c->validAtOpen_ = 0;
                        break;
                    }
                    const std::string st = e.at("state").get<std::string>();
                    if (st == "absent") continue;
                    if (e.at("size").get<int64_t>() != c->fileSize_[i] || e.at("mtime").get<int64_t>() != c->fileMtime_[i] ||
                        (e.contains("ctime") && e.at("ctime").get<int64_t>() != c->fileCtime_[i]))
                        continue;  // the source changed: decode again
                    if (st == "ok" && c->fileSize_[i] >= 0) {
                        c->state_[i] = uint8_t(State::Ok);
                        c->crc_[i] = e.at("crc32").get<uint32_t>();
                    } else if (st == "failed") {
                        c->state_[i] = uint8_t(State::Failed);
                        c->reason_[i] = e.value("reason", std::string("failed to decode"));
                    } else {
                        continue;
                    }
                    ++c->validAtOpen_;
                }
            }
        } catch (const std::exception&) {
            std::fill(c->state_.begin(), c->state_.end(), uint8_t(State::Absent));
            c->validAtOpen_ = 0;
        }
    }
    // Entries that are not valid any more are dropped by the next commit.
    for (std::size_t i = 0; i < n; ++i)
        if (c->state_[i] == uint8_t(State::Absent)) c->reason_[i].clear();
    return c;
}

ImageCache::~ImageCache() {
    unmapData();
    if (writeFd_ >= 0) {
        ::close(writeFd_);
        std::remove(writeTmp_.c_str());
    }
}

void ImageCache::mapData(const std::string& path) {
    const std::size_t bytes = paths_.size() * imageBytes();
    if (bytes == 0) return;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open the image cache data: " + std::strerror(errno));
    void* p = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) throw Error(path + ": cannot map the image cache data: " + std::strerror(err));
    map_ = static_cast<const uint8_t*>(p);
    mapSize_ = bytes;
}

void ImageCache::unmapData() {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), mapSize_);
    map_ = nullptr;
    mapSize_ = 0;
}

void ImageCache::openWriteFile() {
    std::lock_guard<std::mutex> lock(writeMutex_);
    if (writeFd_ >= 0) return;
    std::random_device rd;
    writeTmp_ = (fs::path(dir_) / (key_ + ".tmp-" + std::to_string(::getpid()) + "-" + hex64((uint64_t(rd()) << 32) ^ rd()) +
                                   ".u8"))
                    .string();
    const int fd = ::open(writeTmp_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(writeTmp_ + ": cannot create the image cache data file: " + std::strerror(errno));
    if (::ftruncate(fd, off_t(paths_.size() * imageBytes())) != 0) {
        const int err = errno;
        ::close(fd);
        std::remove(writeTmp_.c_str());
        throw Error(writeTmp_ + ": cannot size the image cache data file: " + std::strerror(err));
    }
    writeFd_ = fd;
}

bool ImageCache::lookup(std::size_t i, Image& out, std::string* reason) const {
    if (reason) reason->clear();
    const State s = state(i);
    if (s == State::Failed) {
        if (reason) *reason = reason_[i];
        return false;
    }
    if (s != State::Ok) return false;
    if (out.width != size_ || out.height != size_ || out.channels != 3 || out.data.size() != imageBytes())
        out = Image(size_, size_, 3);
    const uint64_t offset = uint64_t(i) * imageBytes();
    if (fresh_[i])
        preadAll(writeFd_, out.data.data(), imageBytes(), offset, writeTmp_);
    else
        std::memcpy(out.data.data(), map_ + offset, imageBytes());
    // Bytes that changed on disk since they were stored (a damaged disk, a file edited by hand) are not this image:
    // taken as absent, so that the image is decoded again and stored over them.
    if (crcOf(out.data.data(), imageBytes()) != crc_[i]) {
        ++damaged_;
        return false;
    }
    return true;
}

void ImageCache::store(std::size_t i, const Image& img) {
    if (img.width != size_ || img.height != size_ || img.channels != 3 || img.data.size() != imageBytes())
        throw Error("image cache: entry " + std::to_string(i) + " (" + paths_[i] + ") is " +
                    std::to_string(img.width) + "x" + std::to_string(img.height) + "x" + std::to_string(img.channels) +
                    ", expected " + std::to_string(size_) + "x" + std::to_string(size_) + "x3");
    openWriteFile();
    pwriteAll(writeFd_, img.data.data(), imageBytes(), uint64_t(i) * imageBytes(), writeTmp_);
    crc_[i] = crcOf(img.data.data(), imageBytes());
    fresh_[i] = 1;
    reason_[i].clear();
    state_[i] = uint8_t(State::Ok);
    dirty_ = true;
}

void ImageCache::storeFailure(std::size_t i, const std::string& reason) {
    fresh_[i] = 0;
    reason_[i] = reason;
    state_[i] = uint8_t(State::Failed);
    dirty_ = true;
}

void ImageCache::commit() {
    if (!dirty_) return;
    try {
        commitImpl();
    } catch (...) {
        // This session's images are lost with the temporary file; forget them so nothing reads a hole.
        if (writeFd_ >= 0) {
            ::close(writeFd_);
            writeFd_ = -1;
            std::remove(writeTmp_.c_str());
        }
        for (std::size_t i = 0; i < fresh_.size(); ++i)
            if (fresh_[i]) {
                fresh_[i] = 0;
                state_[i] = uint8_t(State::Absent);
            }
        throw;
    }
}

void ImageCache::commitImpl() {
    openWriteFile();
    const std::size_t n = paths_.size();
    for (std::size_t i = 0; i < n; ++i)
        if (state_[i] == uint8_t(State::Ok) && !fresh_[i])
            pwriteAll(writeFd_, map_ + uint64_t(i) * imageBytes(), imageBytes(), uint64_t(i) * imageBytes(),
                      writeTmp_);
    if (::fsync(writeFd_) != 0) throw Error(writeTmp_ + ": fsync failed: " + std::strerror(errno));
    ::close(writeFd_);
    writeFd_ = -1;
    std::random_device rd;
    const std::string newName = key_ + "." + hex64((uint64_t(rd()) << 32) ^ rd()) + ".u8";
    const std::string newPath = (fs::path(dir_) / newName).string();
    if (std::rename(writeTmp_.c_str(), newPath.c_str()) != 0) {
        const int err = errno;
        std::remove(writeTmp_.c_str());
        throw Error(newPath + ": cannot rename the image cache data file: " + std::strerror(err));
    }
    nlohmann::json j;
    j["format"] = kFormat;
    j["version"] = kVersion;
    j["params"] = params_;
    j["image_size"] = size_;
    j["data"] = newName;
    auto& entries = j["entries"] = nlohmann::json::array();
    for (std::size_t i = 0; i < n; ++i) {
        nlohmann::json e;
        e["path"] = paths_[i];
        e["size"] = fileSize_[i];
        e["mtime"] = fileMtime_[i];
        e["ctime"] = fileCtime_[i];
        e["state"] = stateName(State(state_[i]));
        if (state_[i] == uint8_t(State::Ok)) e["crc32"] = crc_[i];
        if (state_[i] == uint8_t(State::Failed)) e["reason"] = reason_[i];
        entries.push_back(std::move(e));
    }
    try {
        writeFileAtomically(indexPath_, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } catch (...) {
        std::remove(newPath.c_str());
        throw;
    }
    unmapData();
    if (!dataName_.empty() && dataName_ != newName) std::remove((fs::path(dir_) / dataName_).string().c_str());
    dataName_ = newName;
    mapData(newPath);
    std::fill(fresh_.begin(), fresh_.end(), 0);
    dirty_ = false;
}

}  // namespace caspl
