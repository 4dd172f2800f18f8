#include "core/runtime.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <thread>

namespace caspl {

int initRuntime(int threads) {
    if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(threads);
    return torch::get_num_threads();
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

}  // namespace caspl
