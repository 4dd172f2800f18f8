#include "core/data/loader.h"

#include "core/data/image_cache.h"
#include "core/image/image.h"
#include "core/util/error.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>

namespace caspl {

namespace {
// Waits re-check the external cancel flag this often (it cannot notify our condition variables).
constexpr auto kPoll = std::chrono::milliseconds(50);
}  // namespace

std::vector<int64_t> epochOrder(std::size_t n, uint64_t seed, uint64_t epoch, bool shuffle) {
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), int64_t(0));
    if (shuffle && n > 1) {
        AugmentRng rng = AugmentRng::forSample(seed, epoch, 0, kShuffleStream);
        for (std::size_t i = n - 1; i > 0; --i) {
            const auto j = std::size_t(rng.uniformInt(0, int64_t(i)));
            std::swap(order[i], order[j]);
        }
    }
    return order;
}

ImageLoader::ImageLoader(std::vector<Datum> items, LoaderOptions options)
    : items_(std::move(items)), opt_(std::move(options)) {
    if (opt_.imageSize < 1) throw Error("loader: image size " + std::to_string(opt_.imageSize) + " (expected >= 1)");
    if (opt_.batchSize < 1) throw Error("loader: batch size " + std::to_string(opt_.batchSize) + " (expected >= 1)");
    if (opt_.prefetch < 1) throw Error("loader: prefetch " + std::to_string(opt_.prefetch) + " (expected >= 1)");
    if (opt_.threads < 0) throw Error("loader: threads " + std::to_string(opt_.threads) + " (expected >= 0)");
    if (opt_.threads == 0) opt_.threads = int(std::max(1u, std::thread::hardware_concurrency()));
}

ImageLoader::~ImageLoader() {
    stop();
    finishEpoch(false);
}

int64_t ImageLoader::nominalBatches() const {
    const int64_t n = int64_t(items_.size()), b = opt_.batchSize;
    return opt_.dropLast ? n / b : (n + b - 1) / b;
}

bool ImageLoader::cancelled() const {
    return stop_.load() || (opt_.cancel && opt_.cancel->load());
}

bool ImageLoader::stopRequested() const { return cancelled(); }

void ImageLoader::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cvWorkers_.notify_all();
    cvAssembler_.notify_all();
    cvConsumer_.notify_all();
}

std::vector<SkippedImage> ImageLoader::skipped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return skipped_;
}

LoaderStats ImageLoader::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    LoaderStats s = stats_;
    s.skipped = int64_t(skipped_.size());
    s.cacheHits = cacheHits_.load();
    s.cacheMisses = cacheMisses_.load();
    s.cacheError = cacheError_;
    if (cache_) s.cacheDamaged = int64_t(cache_->damaged());
    return s;
}

void ImageLoader::start(uint64_t epoch) {
    if (running_) {
        stop();
        finishEpoch(false);
    }
    if (opt_.mode == TransformMode::Eval && !opt_.cacheDir.empty() && !cacheOpened_) {
        cacheOpened_ = true;
        std::vector<std::string> paths;
        paths.reserve(items_.size());
        for (const auto& d : items_) paths.push_back(d.impath);
        try {
            cache_ = ImageCache::open(opt_.cacheDir, paths, opt_.imageSize);
        } catch (const std::exception& e) {
            cacheError_ = std::string("image cache off: ") + e.what();
        }
    }
    stop_ = false;
    epoch_ = epoch;
    order_ = epochOrder(items_.size(), opt_.seed, epoch, opt_.shuffle);
    window_ = int64_t(opt_.batchSize) + 4 * int64_t(opt_.threads);
    slots_.resize(std::size_t(window_));
    for (auto& s : slots_) s.ready = false;
    nextClaim_ = 0;
    consumed_ = 0;
    while (!ready_.empty()) {
        spare_.push_back(std::move(ready_.front()));
        ready_.pop_front();
    }
    assemblerDone_ = false;
    skipped_.clear();
    reported_ = 0;
    stats_ = LoaderStats{};
    cacheHits_ = 0;
    cacheMisses_ = 0;
    running_ = true;
    for (int t = 0; t < opt_.threads; ++t) workers_.emplace_back([this] { workerLoop(); });
    assembler_ = std::thread([this] { assemblerLoop(); });
}

void ImageLoader::processItem(int64_t index, Slot& slot, Image& scratch) {
    slot.ok = false;
    slot.reason.clear();
    const std::size_t px = std::size_t(3) * std::size_t(opt_.imageSize) * std::size_t(opt_.imageSize);
    if (opt_.rawPixels) {
        if (slot.raw.size() != px) slot.raw.resize(px);
    } else if (slot.pixels.size() != px) {
        slot.pixels.resize(px);
    }
    // The transformed image (HWC bytes) into the slot: as is, or normalised to CHW floats.
    const auto emit = [&](const Image& im) {
        if (!opt_.rawPixels) {
            toNormalizedCHW(im, slot.pixels.data());
            return;
        }
        if (im.channels != 3 || im.data.size() != px)
            throw Error("transformed image is " + std::to_string(im.width) + "x" + std::to_string(im.height) + "x" +
                        std::to_string(im.channels) + ", expected " + std::to_string(opt_.imageSize) + " square RGB");
        std::memcpy(slot.raw.data(), im.data.data(), px);
    };
    const Datum& d = items_[std::size_t(index)];
    try {
        if (opt_.mode == TransformMode::Eval) {
            ImageCache* cache = cache_.get();
            if (cache) {
                std::string reason;
                if (cache->lookup(std::size_t(index), scratch, &reason)) {
                    emit(scratch);
                    slot.ok = true;
                    ++cacheHits_;
                    return;
                }
                if (!reason.empty()) {  // recorded as undecodable and unchanged since
                    slot.reason = reason;
                    ++cacheHits_;
                    return;
                }
            }
            Image img;
            try {
                img = evalTransform(decodeImage(d.impath), opt_.imageSize);
            } catch (const Error& e) {
                if (cache && !cacheBroken_) cache->storeFailure(std::size_t(index), e.what());
                throw;
            }
            if (cache && !cacheBroken_) {
                try {
                    cache->store(std::size_t(index), img);
                    ++cacheMisses_;
                } catch (const std::exception& e) {
                    cacheBroken_ = true;
                    std::lock_guard<std::mutex> lock(mu_);
                    if (cacheError_.empty()) cacheError_ = std::string("image cache not written: ") + e.what();
                }
            }
            emit(img);
        } else {
            const Image img = trainTransform(decodeImage(d.impath), opt_.imageSize, opt_.seed, epoch_,
                                             uint64_t(index), opt_.crop);
            emit(img);
        }
        slot.ok = true;
    } catch (const std::exception& e) {
        slot.reason = e.what();
    } catch (...) {
        slot.reason = "unknown error while loading the image";
    }
}

void ImageLoader::workerLoop() {
    Image scratch;
    const int64_t n = int64_t(order_.size());
    for (;;) {
        int64_t p;
        {
            std::unique_lock<std::mutex> lock(mu_);
            while (!(cancelled() || nextClaim_ >= n || nextClaim_ < consumed_ + window_))
                cvWorkers_.wait_for(lock, kPoll);
            if (cancelled() || nextClaim_ >= n) return;
            p = nextClaim_++;
        }
        Slot& slot = slots_[std::size_t(p % window_)];
        processItem(order_[std::size_t(p)], slot, scratch);
        {
            std::lock_guard<std::mutex> lock(mu_);
            slot.ready = true;
        }
        cvAssembler_.notify_all();
    }
}

void ImageLoader::assemblerLoop() {
    const int64_t n = int64_t(order_.size());
    const int64_t B = opt_.batchSize;
    const std::size_t px = std::size_t(3) * std::size_t(opt_.imageSize) * std::size_t(opt_.imageSize);
    auto fresh = [&]() {
        Batch b;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!spare_.empty()) {
                b = std::move(spare_.back());
                spare_.pop_back();
            }
        }
        b.imageSize = opt_.imageSize;
        if (opt_.rawPixels) {
            b.raw.resize(std::size_t(B) * px);
            b.pixels.clear();
        } else {
            b.pixels.resize(std::size_t(B) * px);
            b.raw.clear();
        }
        b.labels.clear();
        b.indices.clear();
        b.skipped.clear();
        return b;
    };
    Batch cur = fresh();
    int64_t number = 0;
    bool aborted = false;
    auto push = [&](Batch&& b) {
        std::unique_lock<std::mutex> lock(mu_);
        while (!(cancelled() || int64_t(ready_.size()) < opt_.prefetch)) cvAssembler_.wait_for(lock, kPoll);
        if (cancelled()) return false;
        ready_.push_back(std::move(b));
        lock.unlock();
        cvConsumer_.notify_all();
        return true;
    };
    for (int64_t p = 0; p < n && !aborted; ++p) {
        Slot& slot = slots_[std::size_t(p % window_)];
        {
            std::unique_lock<std::mutex> lock(mu_);
            while (!(cancelled() || slot.ready)) cvAssembler_.wait_for(lock, kPoll);
            if (cancelled()) {
                aborted = true;
                break;
            }
        }
        const int64_t index = order_[std::size_t(p)];
        if (slot.ok) {
            const std::size_t k = cur.labels.size();
            if (opt_.rawPixels) std::memcpy(cur.raw.data() + k * px, slot.raw.data(), px);
            else std::memcpy(cur.pixels.data() + k * px, slot.pixels.data(), px * sizeof(float));
            cur.labels.push_back(items_[std::size_t(index)].label);
            cur.indices.push_back(index);
        } else {
            SkippedImage s{index, items_[std::size_t(index)].impath, slot.reason};
            cur.skipped.push_back(s);
            std::lock_guard<std::mutex> lock(mu_);
            skipped_.push_back(std::move(s));
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            slot.ready = false;
            ++consumed_;
        }
        cvWorkers_.notify_all();
        if (int64_t(cur.labels.size()) == B) {
            cur.number = number++;
            if (!push(std::move(cur))) {
                aborted = true;
                break;
            }
            cur = fresh();
        }
    }
    if (!aborted && !cur.labels.empty() && !opt_.dropLast) {
        if (opt_.rawPixels) cur.raw.resize(cur.labels.size() * px);
        else cur.pixels.resize(cur.labels.size() * px);
        cur.number = number++;
        push(std::move(cur));
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        assemblerDone_ = true;
    }
    cvConsumer_.notify_all();
}

bool ImageLoader::next(Batch& batch) {
    if (!running_) return false;
    Batch got;
    bool have = false;
    {
        std::unique_lock<std::mutex> lock(mu_);
        while (!(cancelled() || !ready_.empty() || assemblerDone_)) cvConsumer_.wait_for(lock, kPoll);
        if (!cancelled() && !ready_.empty()) {
            got = std::move(ready_.front());
            ready_.pop_front();
            have = true;
        }
    }
    if (!have) {
        finishEpoch();
        return false;
    }
    cvAssembler_.notify_all();
    std::swap(batch, got);
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!got.pixels.empty() || !got.raw.empty()) spare_.push_back(std::move(got));
        stats_.images += batch.size();
        reported_ += int64_t(batch.skipped.size());
    }
    if (opt_.onSkip)
        for (const auto& s : batch.skipped) opt_.onSkip(s);
    return true;
}

void ImageLoader::finishEpoch(bool report) {
    if (!running_) return;
    const bool wasCancelled = cancelled();
    if (wasCancelled) {
        cvWorkers_.notify_all();
        cvAssembler_.notify_all();
    }
    for (auto& t : workers_) t.join();
    workers_.clear();
    if (assembler_.joinable()) assembler_.join();
    running_ = false;
    if (cache_ && cache_->dirty()) {
        try {
            cache_->commit();
        } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mu_);
            cacheError_ = std::string("image cache not saved: ") + e.what();
        }
    }
    // Skipped images not delivered with a batch (the dropped last batch, trailing failures, a stop).
    std::vector<SkippedImage> rest;
    {
        std::lock_guard<std::mutex> lock(mu_);
        rest.assign(skipped_.begin() + std::min<std::ptrdiff_t>(reported_, std::ptrdiff_t(skipped_.size())),
                    skipped_.end());
        reported_ = int64_t(skipped_.size());
    }
    if (report && opt_.onSkip)
        for (const auto& s : rest) opt_.onSkip(s);
}

}  // namespace caspl
