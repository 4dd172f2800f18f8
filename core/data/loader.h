#pragma once
// A threaded, deterministic image loader: decodes and transforms images on worker threads, prefetches a few batches
// and yields them in order. No LibTorch: a batch is plain float / int64 arrays that the training code wraps.
//
// Determinism: the output depends only on (items, options, epoch), never on the thread count or timing.
//   - Order: position p of an epoch holds item order[p], with order = epochOrder(n, seed, epoch, shuffle) (the
//     identity without shuffle; else a Fisher-Yates permutation drawn from AugmentRng::forSample(seed, epoch, 0,
//     kShuffleStream)).
//   - Train transform of item i: trainTransform(decodeImage, size, seed, epoch, i) (RandomResizedCrop + flip from
//     AugmentRng::forSample(seed, epoch, i), i = the item's index in the list, not its position), so an image's crop
//     is the same whatever the order or thread. Eval transform: evalTransform (resize shorter side + center crop).
//   - Skipped images: an item whose image is missing or cannot be decoded is reported (SkippedImage, in position
//     order) and left out, and the batch is filled from the next items, so every batch has exactly batchSize
//     items except possibly the last (dropped when dropLast). A batch is therefore "the next batchSize images that
//     load, in order"; as whether an image loads depends on the file alone, the batches are still the same for
//     any thread count. The epoch may have fewer batches than nominalBatches().
// Threads: `threads` workers decode positions in increasing order into a window of prefetch * batchSize slots; one
// assembler thread copies finished slots, in position order, into batches and queues up to `prefetch` of them.
// Cancellation: stop() (or the options' cancel flag) is checked between items and batches; next() then returns
// false and the workers finish the image they are on and exit.
#include "core/data/dataset.h"
#include "core/image/preprocess.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace caspl {

class ImageCache;

enum class TransformMode { Train, Eval };

struct SkippedImage {
    int64_t index = -1;  // index into the loader's item list
    std::string path;
    std::string reason;
};

struct LoaderOptions {
    TransformMode mode = TransformMode::Eval;
    int imageSize = 224;
    int batchSize = 32;
    bool dropLast = false;
    bool shuffle = false;
    uint64_t seed = 1;                     // order (when shuffling) and train augmentation
    int threads = 2;                       // decoding workers; 0: std::thread::hardware_concurrency()
    int prefetch = 3;                      // batches prepared ahead (>= 1)
    RandomResizedCropOptions crop;         // train mode only
    // Folder of the decoded-image cache (core/data/image_cache.h), eval mode only (ignored in train mode, whose
    // random crop needs the full image). Empty: no cache.
    std::string cacheDir;
    // Optional external cancel flag, checked like stop().
    const std::atomic<bool>* cancel = nullptr;
    // Called on the thread that calls next(), in position order, for every skipped image (optional).
    std::function<void(const SkippedImage&)> onSkip;
    // Deliver the transformed images as bytes (Batch::raw) instead of normalised floats (Batch::pixels): a quarter
    // of the data to move to a GPU, which then normalises them (batchPixels; the same float32 operations).
    bool rawPixels = false;
};

struct Batch {
    int64_t number = -1;        // 0-based batch number within the epoch
    int imageSize = 0;
    std::vector<float> pixels;  // size() x 3 x imageSize x imageSize, CHW per image, CLIP mean/std normalised
    std::vector<uint8_t> raw;   // instead, with LoaderOptions::rawPixels: size() x imageSize x imageSize x 3 (HWC, RGB)
    std::vector<int64_t> labels;
    std::vector<int64_t> indices;        // index of each image in the loader's item list
    std::vector<SkippedImage> skipped;   // images skipped while this batch was filled
    int64_t size() const { return int64_t(labels.size()); }
};

struct LoaderStats {
    int64_t images = 0;      // images delivered in batches this epoch
    int64_t skipped = 0;     // images skipped this epoch
    int64_t cacheHits = 0;   // images read from the cache this epoch
    int64_t cacheMisses = 0; // images decoded (and stored) with a cache
    int64_t cacheDamaged = 0;  // cache entries whose bytes failed their CRC-32 (decoded again), since the cache opened
    std::string cacheError;  // why the cache was turned off or not saved, if it was
};

// The order of an epoch: position -> item index.
std::vector<int64_t> epochOrder(std::size_t n, uint64_t seed, uint64_t epoch, bool shuffle);
inline constexpr uint64_t kShuffleStream = 0x53485546464c45ULL;  // "SHUFFLE"

class ImageLoader {
public:
    // Throws caspl::Error for invalid options (image size or batch size < 1, prefetch < 1).
    ImageLoader(std::vector<Datum> items, LoaderOptions options);
    ~ImageLoader();  // stops and joins the threads
    ImageLoader(const ImageLoader&) = delete;
    ImageLoader& operator=(const ImageLoader&) = delete;

    // Starts epoch `epoch` (ends one still running). With a cache directory, the first start opens the cache
    // (stat of every image) and each epoch's end saves new entries.
    void start(uint64_t epoch);
    // The next batch of the epoch (buffers of `batch` are reused). Returns false when the epoch is over or was
    // stopped; the threads are then joined and the cache saved.
    bool next(Batch& batch);
    // Requests cancellation; thread-safe. Stays in effect until the next start().
    void stop();
    bool stopRequested() const;

    std::size_t size() const { return items_.size(); }
    const std::vector<Datum>& items() const { return items_; }
    const LoaderOptions& options() const { return opt_; }
    // Batches per epoch when nothing is skipped.
    int64_t nominalBatches() const;
    // This epoch's skipped images so far, in position order.
    std::vector<SkippedImage> skipped() const;
    LoaderStats stats() const;

private:
    struct Slot {
        bool ready = false;
        bool ok = false;
        bool fromCache = false;
        std::vector<float> pixels;
        std::vector<uint8_t> raw;
        std::string reason;
    };
    void workerLoop();
    void assemblerLoop();
    void processItem(int64_t index, Slot& slot, Image& scratch);
    void finishEpoch(bool report = true);
    bool cancelled() const;

    std::vector<Datum> items_;
    LoaderOptions opt_;
    std::unique_ptr<ImageCache> cache_;
    bool cacheOpened_ = false;

    // Epoch state (guarded by mu_ unless noted).
    mutable std::mutex mu_;
    std::condition_variable cvWorkers_, cvAssembler_, cvConsumer_;
    uint64_t epoch_ = 0;
    std::vector<int64_t> order_;
    std::vector<Slot> slots_;
    int64_t window_ = 0;
    int64_t nextClaim_ = 0;     // next position a worker takes
    int64_t consumed_ = 0;      // positions the assembler has taken out of the window
    std::deque<Batch> ready_;   // assembled batches
    std::vector<Batch> spare_;  // buffers handed back by next()
    bool assemblerDone_ = true;
    std::vector<SkippedImage> skipped_;
    int64_t reported_ = 0;  // skipped_ entries already passed to onSkip
    LoaderStats stats_;
    std::atomic<bool> stop_{false};
    std::atomic<int64_t> cacheHits_{0}, cacheMisses_{0};
    std::atomic<bool> cacheBroken_{false};
    std::string cacheError_;
    std::vector<std::thread> workers_;
    std::thread assembler_;
    bool running_ = false;
};

}  // namespace caspl
