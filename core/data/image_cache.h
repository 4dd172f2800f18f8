#pragma once
// A disk cache of preprocessed evaluation images, so repeated evaluations skip JPEG decoding and resizing.
//
// One cache per (image list, image size, preprocessing) lives in a cache folder as two files:
//   <key>.json        the index: format/version, the preprocessing string, the image size, the data file's name and
//                     one entry per image {path, size, mtime, ctime, state: "ok" | "failed" | "absent", reason, crc32}
//   <key>.<gen>.u8    the data: N x R x R x 3 uint8 RGB (entry i at byte i * R * R * 3), read through mmap
// <key> is a hash of the preprocessing string and the list of absolute paths in order, so another list (e.g. the
// base-class test subset) or size gets its own files. The stored bytes are evalTransform(decodeImage(path), R),
// exactly what a fresh decode gives.
//
// Invalidation is automatic: when the cache is opened every source file is stat()ed and an entry is used only if
// the file's size, modification time and status-change time (ctime; nanoseconds) equal the recorded ones; the
// preprocessing string (which names the transform, its version and the OpenCV version that decodes) must match too,
// or the whole cache is rebuilt. The ctime catches a source replaced by another file of the same size whose
// modification time was set back (`cp -p`, `rsync -a`, `touch -r`): writing, renaming or setting the times of a file
// all set its ctime to the present, and no tool sets it back. A ctime that changed without the content (chmod, a hard
// link added) only costs a decode. Entries of an index written before ctimes were recorded check size and
// modification time only, until the index is next written.
// An image that failed to decode is recorded as "failed" with the reason, and is not retried until it changes.
// Each stored image's CRC-32 is checked when it is read: bytes that changed on disk since are taken as absent (the
// image is decoded again and stored over them) and counted (damaged()).
//
// Writing: new entries go with pwrite() into a temporary data file (so a full disk gives an error, not SIGBUS);
// commit() copies the still-valid old entries over, syncs, renames it to a fresh <key>.<gen>.u8, then replaces the
// index atomically (write-then-rename) and deletes the old data file. A crash leaves the old cache intact (at worst
// an orphan file). Two processes filling the same cache at once do not corrupt it: the last index written wins.
#include "core/image/image.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace caspl {

// The preprocessing string of the evaluation transform at `imageSize` (includes the cache format version and the
// OpenCV version, whose codecs decode the images).
std::string evalCacheParams(int imageSize);

class ImageCache {
public:
    enum class State : uint8_t { Absent, Ok, Failed };

    // Opens the cache of `paths` (absolute paths, in list order) at `imageSize` under `dir` (created if needed),
    // validating every entry against its source file. Throws caspl::Error naming the folder when it cannot be
    // created; an unreadable or mismatched index is ignored (the cache starts empty).
    static std::unique_ptr<ImageCache> open(const std::string& dir, const std::vector<std::string>& paths,
                                            int imageSize);
    ~ImageCache();
    ImageCache(const ImageCache&) = delete;
    ImageCache& operator=(const ImageCache&) = delete;

    int imageSize() const { return size_; }
    std::size_t count() const { return paths_.size(); }
    std::size_t imageBytes() const { return std::size_t(size_) * std::size_t(size_) * 3; }
    const std::string& indexPath() const { return indexPath_; }

    // Entry state after open() (and after this session's store/storeFailure).
    State state(std::size_t i) const { return State(state_[i]); }
    // Ok: copies the R x R x 3 image into `out` and returns true. Failed: returns false with the recorded reason
    // in `reason`. Absent: returns false, `reason` empty.
    bool lookup(std::size_t i, Image& out, std::string* reason = nullptr) const;
    // Records entry i (an R x R x 3 image) / a failure. Thread-safe for distinct i; throws caspl::Error when the
    // data file cannot be written (the caller may go on without the cache).
    void store(std::size_t i, const Image& img);
    void storeFailure(std::size_t i, const std::string& reason);

    // Makes this session's entries durable (see above). Call when no store() is running. Does nothing when nothing
    // changed. Throws caspl::Error on I/O failure (the old cache stays as it was).
    void commit();
    bool dirty() const { return dirty_.load(); }

    // Entries that were valid when opened (Ok or Failed) / found stale or absent.
    std::size_t validAtOpen() const { return validAtOpen_; }
    // Entries whose stored bytes did not match their CRC-32 when read (decoded again instead).
    std::size_t damaged() const { return damaged_.load(); }

private:
    ImageCache() = default;
    void openWriteFile();
    void commitImpl();
    void mapData(const std::string& path);
    void unmapData();

    std::string dir_, key_, indexPath_, params_;
    int size_ = 0;
    std::vector<std::string> paths_;
    std::vector<int64_t> fileSize_, fileMtime_, fileCtime_;  // stat at open; -1 when the file is missing
    std::vector<uint8_t> state_;                 // State
    std::vector<uint8_t> fresh_;                 // 1: written in this session (lives in the write file)
    std::vector<std::string> reason_;
    std::vector<uint32_t> crc_;  // of each Ok entry's bytes
    std::size_t validAtOpen_ = 0;
    mutable std::atomic<std::size_t> damaged_{0};

    std::string dataName_;  // current data file (read map), "" if none
    const uint8_t* map_ = nullptr;
    std::size_t mapSize_ = 0;

    std::mutex writeMutex_;
    int writeFd_ = -1;
    std::string writeTmp_;
    std::atomic<bool> dirty_{false};
};

}  // namespace caspl
