#pragma once
// Process-wide engine settings, callable from code that never includes LibTorch (the app's main()).
#include <exception>
#include <string>

namespace caspl {

// Sets LibTorch's intra-op thread count: `threads` > 0 as given, otherwise the machine's hardware concurrency
// (LibTorch starts with 1 thread on small machines), and the host allocator (core/util/host_memory.h). Returns the
// thread count in effect.
int initRuntime(int threads = 0);

// "LibTorch 1.13.1 (CPU)" or "LibTorch 2.11.0 (CUDA, 1 device: NVIDIA H200)".
std::string runtimeDescription();

bool cudaAvailable();

// An exception's message for one line of a log or a JSON field: LibTorch's errors without their C++ backtrace,
// cut at the first line break.
std::string errorSummary(const std::exception& e);

// Memory of the compute device, for the GUI's device panel. On the CPU (or without CUDA) only `device` and the
// host figures are set.
struct DeviceStats {
    std::string device;          // "CPU (2 threads)" or "CUDA:0 NVIDIA H200"
    bool cuda = false;
    long long allocatedBytes = 0;      // in use on the device now (CUDA runtime's free/total: every process's use)
    long long peakAllocatedBytes = 0;  // the highest value deviceStats() has seen since the last reset
    long long reservedBytes = 0;       // held by LibTorch's caching allocator (tensors and cached blocks)
    long long tensorBytes = 0;         // in tensors now (the allocator's count, torch.cuda.memory_allocated)
    long long peakTensorBytes = 0;     // peak in tensors since the last reset (torch.cuda.max_memory_allocated)
    long long totalBytes = 0;          // the device's memory
    // This process's resident host memory (Linux /proc/self/status VmRSS, VmHWM); 0 where unknown. The peak is
    // since the last resetPeakDeviceMemory() where the kernel allows resetting it, else since the start.
    long long hostRssBytes = 0;
    long long hostPeakRssBytes = 0;
};
DeviceStats deviceStats();
// Starts the peaks afresh; on CUDA it also returns the allocator's cached blocks to the device, so that the next
// measurement does not include what earlier work left cached.
void resetPeakDeviceMemory();

}  // namespace caspl
