#pragma once
// The host allocator's settings for tensor work on the CPU.
//
// LibTorch takes every CPU tensor from malloc. With glibc's defaults a block of a few MiB is either mapped afresh on
// every allocation or taken from the top of the heap, which glibc hands back to the system as soon as it is freed:
// a training step that allocates and frees the same activations every time then faults their pages in again on
// every step (the demo's teacher pretraining ran 1.5-2x slower so). configureHostAllocator() keeps
// blocks up to 32 MiB in the heap and lets up to 256 MiB of free heap stay mapped, which ends the churn for the
// models this application trains on the CPU; larger tensors are still mapped and unmapped one by one.
#include <string>

namespace caspl {

// Applies the settings above, once per process, unless the user chose malloc settings of their own
// (GLIBC_TUNABLES naming glibc.malloc, or MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_): returns what it did, for
// the log ("malloc: ...").
std::string configureHostAllocator();

constexpr long kHostMmapThreshold = 32L << 20;  // bytes
constexpr long kHostTrimThreshold = 256L << 20;

}  // namespace caspl
