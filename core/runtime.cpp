#include "core/runtime.h"

#include "core/util/host_memory.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#ifdef CASPL_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace caspl {

int initRuntime(int threads) {
    configureHostAllocator();
    if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(threads);
    return torch::get_num_threads();
}

std::string errorSummary(const std::exception& e) {
    const auto* ce = dynamic_cast<const c10::Error*>(&e);
    std::string msg = ce ? ce->what_without_backtrace() : e.what();
    if (const auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    return msg;
}

bool cudaAvailable() {
#ifdef CASPL_WITH_CUDA
    return torch::cuda::is_available();
#else
    return false;
#endif
}

std::string runtimeDescription() {
    std::string s = std::string("LibTorch ") + TORCH_VERSION;
#ifdef CASPL_WITH_CUDA
    if (torch::cuda::is_available()) {
        s += " (CUDA, " + std::to_string(torch::cuda::device_count()) + " device(s))";
        return s;
    }
    s += " (CUDA build, no device; CPU)";
#else
    s += " (CPU)";
#endif
    s += ", " + std::to_string(torch::get_num_threads()) + " thread(s)";
    return s;
}

namespace {
std::atomic<long long> gPeakUsed{0};

// "VmRSS:     123456 kB" -> bytes; 0 when the file or the field is missing (not Linux).
long long procStatusBytes(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(in, line))
        if (line.compare(0, key.size(), key) == 0) {
            try {
                return std::stoll(line.substr(key.size())) * 1024;
            } catch (...) {
                return 0;
            }
        }
    return 0;
}
}  // namespace

DeviceStats deviceStats() {
    DeviceStats s;
    s.device = "CPU (" + std::to_string(torch::get_num_threads()) + " threads)";
    s.hostRssBytes = procStatusBytes("VmRSS");
    s.hostPeakRssBytes = procStatusBytes("VmHWM");
#ifdef CASPL_WITH_CUDA
    if (torch::cuda::is_available()) {
        // The CUDA runtime's view (stable across LibTorch versions): memory in use on the device, which includes
        // what LibTorch's caching allocator holds; the peak is the highest value seen by these calls.
        s.cuda = true;
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) s.device = std::string("CUDA:0 ") + prop.name;
        size_t freeB = 0, totalB = 0;
        if (cudaMemGetInfo(&freeB, &totalB) == cudaSuccess) {
            s.totalBytes = static_cast<long long>(totalB);
            s.allocatedBytes = static_cast<long long>(totalB - freeB);
            long long prev = gPeakUsed.load();
            while (s.allocatedBytes > prev && !gPeakUsed.compare_exchange_weak(prev, s.allocatedBytes)) {
            }
            s.peakAllocatedBytes = std::max(prev, s.allocatedBytes);
        }
        // Index 0 of the allocator's stat arrays is the aggregate over pool kinds (StatType::AGGREGATE).
        const auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
        s.tensorBytes = static_cast<long long>(st.allocated_bytes[0].current);
        s.peakTensorBytes = static_cast<long long>(st.allocated_bytes[0].peak);
        s.reservedBytes = static_cast<long long>(st.reserved_bytes[0].current);
    }
#endif
    return s;
}

void resetPeakDeviceMemory() {
    gPeakUsed.store(0);
    {
        // Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM) to the current one.
        std::ofstream clear("/proc/self/clear_refs");
        if (clear) clear << "5";
    }
#ifdef CASPL_WITH_CUDA
    if (torch::cuda::is_available()) {
        c10::cuda::CUDACachingAllocator::emptyCache();
        c10::cuda::CUDACachingAllocator::resetPeakStats(0);
    }
#endif
}

}  // namespace caspl
