#pragma once
// Process-wide engine settings, callable from code that never includes LibTorch (the app's main()).
#include <string>

namespace caspl {

// Sets LibTorch's intra-op thread count: `threads` > 0 as given, otherwise the machine's hardware concurrency
// (LibTorch starts with 1 thread on small machines). Returns the count in effect.
int initRuntime(int threads = 0);

// "LibTorch 1.13.1 (CPU)" or "LibTorch 2.11.0 (CUDA, 1 device: NVIDIA H200)".
std::string runtimeDescription();

bool cudaAvailable();

}  // namespace caspl
