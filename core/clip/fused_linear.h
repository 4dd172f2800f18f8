#pragma once
// The residual blocks' output products with their residual add: residual + alpha * h @ weight^T + bias.
//
// Where nothing records gradients (evaluation, encoding, the frozen teacher) and the tensors are CUDA bf16/fp16,
// one cuBLASLt matrix product computes it and reads the residual in its epilogue (D = alpha*A*B + C + bias): the
// separate add, a pass that reads two activations and writes a third, is gone, and the sum is rounded once instead
// of twice. Everywhere else (CPU, fp32, training) it is what CLIP's code does: the product with its bias, then the
// add.
//
// The fused path checks itself once per process: its first result is compared with the unfused one, and a
// mismatch or an error (no cuBLASLt, no algorithm for the shape) switches it off with the reason in
// fusedResidualInfo().error. cuBLASLt is taken from the library LibTorch already loaded, so the executables do not
// link a second copy. CASPL_FUSED_RESIDUAL=0 in the environment switches it off.
//
// Includes LibTorch: include only from engine .cpp files.
#include <torch/types.h>

#include <string>

namespace caspl {

// residual: [..., N]; h: [..., K] with the same leading sizes; weight: [N, K]; bias: [N]. Returns [..., N].
torch::Tensor residualLinear(const torch::Tensor& residual, const torch::Tensor& h, const torch::Tensor& weight,
                             const torch::Tensor& bias, double alpha = 1.0);

struct FusedResidualInfo {
    bool compiled = false;     // this build has the cuBLASLt path (a CUDA LibTorch with cuBLASLt's header)
    bool enabled = false;      // not switched off (CASPL_FUSED_RESIDUAL=0, setFusedResidualEnabled(false))
    int checked = -1;          // the self-check: -1 not run yet, 0 failed (error says why), 1 passed
    long long fusedCalls = 0;  // products computed fused since the process started
    std::string error;         // why the fused path is off, or why the last product that wanted it ran unfused
};
FusedResidualInfo fusedResidualInfo();

// Switches the fused path on or off for this process (benchmarks and tests compare both); returns the old value.
bool setFusedResidualEnabled(bool on);

}  // namespace caspl
