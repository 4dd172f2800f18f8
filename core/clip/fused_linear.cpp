#include "core/clip/fused_linear.h"

#include <torch/torch.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#if defined(CASPL_WITH_CUDA) && __has_include(<cublasLt.h>)
#define CASPL_FUSED_RESIDUAL_COMPILED 1
#include <c10/cuda/CUDAStream.h>
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <map>
#include <tuple>
#endif

namespace caspl {

namespace {

bool enabledByEnvironment() {
    const char* v = std::getenv("CASPL_FUSED_RESIDUAL");
    return !(v && std::string(v) == "0");
}

std::atomic<bool> gEnabled{enabledByEnvironment()};
std::atomic<int> gChecked{-1};
std::atomic<long long> gFusedCalls{0};
std::mutex gErrorMutex;
std::string gError;

[[maybe_unused]] void setError(const std::string& e) {
    std::lock_guard<std::mutex> lock(gErrorMutex);
    gError = e;
}

// What CLIP's code computes: the product with its bias, rounded to the activations' dtype, then the add.
torch::Tensor unfused(const torch::Tensor& residual, const torch::Tensor& h2, const torch::Tensor& weight,
                      const torch::Tensor& bias, double alpha) {
    return residual + torch::addmm(bias, h2, weight.t(), /*beta=*/1, alpha).view(residual.sizes());
}

#ifdef CASPL_FUSED_RESIDUAL_COMPILED

// cuBLASLt's entry points, looked up in the process (LibTorch's CUDA library loaded cuBLASLt with itself): linking
// the toolkit's copy could put two different minor versions of the same library in one process.
struct LtApi {
    decltype(&cublasLtCreate) create = nullptr;
    decltype(&cublasLtMatmulDescCreate) descCreate = nullptr;
    decltype(&cublasLtMatmulDescDestroy) descDestroy = nullptr;
    decltype(&cublasLtMatmulDescSetAttribute) descSet = nullptr;
    decltype(&cublasLtMatrixLayoutCreate) layoutCreate = nullptr;
    decltype(&cublasLtMatrixLayoutDestroy) layoutDestroy = nullptr;
    decltype(&cublasLtMatmulPreferenceCreate) prefCreate = nullptr;
    decltype(&cublasLtMatmulPreferenceDestroy) prefDestroy = nullptr;
    decltype(&cublasLtMatmulPreferenceSetAttribute) prefSet = nullptr;
    decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic = nullptr;
    decltype(&cublasLtMatmul) matmul = nullptr;
    std::string error;  // empty when every entry point was found
};

template <class T>
bool lookUp(void* lib, const char* name, T& fn) {
    fn = reinterpret_cast<T>(dlsym(lib, name));
    return fn != nullptr;
}

const LtApi& ltApi() {
    static const LtApi api = [] {
        LtApi a;
        void* lib = RTLD_DEFAULT;
        const std::string soname = "libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR);
        if (!dlsym(lib, "cublasLtMatmul")) {
            lib = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!lib) {
                a.error = "cuBLASLt is not loaded in this process and " + soname + " cannot be opened";
                return a;
            }
        }
        const bool ok = lookUp(lib, "cublasLtCreate", a.create) && lookUp(lib, "cublasLtMatmulDescCreate", a.descCreate) &&
                        lookUp(lib, "cublasLtMatmulDescDestroy", a.descDestroy) &&
                        lookUp(lib, "cublasLtMatmulDescSetAttribute", a.descSet) &&
                        lookUp(lib, "cublasLtMatrixLayoutCreate", a.layoutCreate) &&
                        lookUp(lib, "cublasLtMatrixLayoutDestroy", a.layoutDestroy) &&
                        lookUp(lib, "cublasLtMatmulPreferenceCreate", a.prefCreate) &&
                        lookUp(lib, "cublasLtMatmulPreferenceDestroy", a.prefDestroy) &&
                        lookUp(lib, "cublasLtMatmulPreferenceSetAttribute", a.prefSet) &&
                        lookUp(lib, "cublasLtMatmulAlgoGetHeuristic", a.heuristic) && lookUp(lib, "cublasLtMatmul", a.matmul);
        if (!ok) a.error = "cuBLASLt (" + soname + ") lacks an entry point this build uses";
        return a;
    }();
    return api;
}

void check(cublasStatus_t s, const char* what) {
    if (s != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string("cuBLASLt ") + what + " failed (status " + std::to_string(int(s)) + ")");
}

cublasLtHandle_t handleFor(int device) {
    static std::mutex m;
    static std::map<int, cublasLtHandle_t> handles;
    std::lock_guard<std::mutex> lock(m);
    auto it = handles.find(device);
    if (it != handles.end()) return it->second;
    cublasLtHandle_t h = nullptr;
    check(ltApi().create(&h), "create");
    handles[device] = h;
    return h;
}

// The largest power of two up to 256 that divides the address and the row pitch (cuBLASLt picks kernels by the
// alignment it is promised).
uint32_t alignment(const void* p, int64_t rowBytes) {
    const auto v = uint64_t(reinterpret_cast<uintptr_t>(p)) | uint64_t(rowBytes);
    uint32_t a = 256;
    while (a > 1 && (v % a) != 0) a /= 2;
    return a;
}

// Owns cuBLASLt descriptors for the duration of one call.
struct LtCall {
    const LtApi& api;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    explicit LtCall(const LtApi& x) : api(x) {}
    ~LtCall() {
        if (pref) api.prefDestroy(pref);
        if (c) api.layoutDestroy(c);
        if (b) api.layoutDestroy(b);
        if (a) api.layoutDestroy(a);
        if (op) api.descDestroy(op);
    }
    LtCall(const LtCall&) = delete;
    LtCall& operator=(const LtCall&) = delete;
};

constexpr size_t kWorkspaceBytes = size_t(32) << 20;

// The algorithm cuBLASLt's heuristic picked for one problem, found once per shape, dtype and alignment.
struct Plan {
    bool found = false;
    cublasLtMatmulAlgo_t algo{};
    size_t workspace = 0;
};
using PlanKey = std::tuple<int, int, int64_t, int64_t, int64_t, uint32_t, uint32_t, uint32_t>;

torch::Tensor fusedProduct(const torch::Tensor& r2, const torch::Tensor& h2, const torch::Tensor& weight,
                           const torch::Tensor& bias, double alpha) {
    const LtApi& api = ltApi();
    if (!api.error.empty()) throw std::runtime_error(api.error);
    // Row-major [T, N] = column-major N x T: D (N x T) = op(W) (N x K) * h (K x T) + C + bias (per row of D).
    const int64_t T = h2.size(0), K = h2.size(1), N = weight.size(0);
    const cudaDataType_t dt = r2.scalar_type() == torch::kBFloat16 ? CUDA_R_16BF : CUDA_R_16F;
    const int64_t elt = int64_t(r2.element_size());
    auto out = torch::empty_like(r2);
    const uint32_t alignA = alignment(weight.data_ptr(), K * elt), alignB = alignment(h2.data_ptr(), K * elt);
    const uint32_t alignCD = std::min(alignment(r2.data_ptr(), N * elt), alignment(out.data_ptr(), N * elt));
    if (alignment(bias.data_ptr(), 0) < 16) throw std::runtime_error("the bias is not 16-byte aligned");

    LtCall call(api);
    check(api.descCreate(&call.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul descriptor");
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    const void* biasPtr = bias.data_ptr();
    check(api.descSet(call.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "TRANSA");
    check(api.descSet(call.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "TRANSB");
    check(api.descSet(call.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)), "EPILOGUE");
    check(api.descSet(call.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &biasPtr, sizeof(biasPtr)), "BIAS_POINTER");
    check(api.layoutCreate(&call.a, dt, uint64_t(K), uint64_t(N), K), "layout of the weight");
    check(api.layoutCreate(&call.b, dt, uint64_t(K), uint64_t(T), K), "layout of the input");
    check(api.layoutCreate(&call.c, dt, uint64_t(N), uint64_t(T), N), "layout of the residual");

    const int device = r2.get_device();
    Plan plan;
    {
        static std::mutex m;
        static std::map<PlanKey, Plan> plans;
        const PlanKey key{device, int(dt), T, N, K, alignA, alignB, alignCD};
        std::lock_guard<std::mutex> lock(m);
        auto it = plans.find(key);
        if (it == plans.end()) {
            check(api.prefCreate(&call.pref), "preference");
            const uint64_t ws = kWorkspaceBytes;
            check(api.prefSet(call.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)), "workspace preference");
            check(api.prefSet(call.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &alignA, sizeof(alignA)), "alignment A");
            check(api.prefSet(call.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &alignB, sizeof(alignB)), "alignment B");
            check(api.prefSet(call.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &alignCD, sizeof(alignCD)), "alignment C");
            check(api.prefSet(call.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &alignCD, sizeof(alignCD)), "alignment D");
            cublasLtMatmulHeuristicResult_t result{};
            int found = 0;
            Plan p;
            if (api.heuristic(handleFor(device), call.op, call.a, call.b, call.c, call.c, call.pref, 1, &result, &found) ==
                    CUBLAS_STATUS_SUCCESS &&
                found > 0) {
                p.found = true;
                p.algo = result.algo;
                p.workspace = result.workspaceSize;
            }
            it = plans.emplace(key, p).first;
        }
        plan = it->second;
    }
    if (!plan.found)
        throw std::runtime_error("cuBLASLt has no algorithm for " + std::to_string(T) + "x" + std::to_string(K) + " @ " +
                                 std::to_string(K) + "x" + std::to_string(N) + " with a bias and a residual");
    auto workspace = torch::empty({int64_t(std::max<size_t>(plan.workspace, 1))}, r2.options().dtype(torch::kUInt8));
    const float a = float(alpha), b = 1.0f;
    check(api.matmul(handleFor(device), call.op, &a, weight.data_ptr(), call.a, h2.data_ptr(), call.b, &b, r2.data_ptr(),
                     call.c, out.data_ptr(), call.c, &plan.algo, workspace.data_ptr(), plan.workspace,
                     c10::cuda::getCurrentCUDAStream(device).stream()),
          "matmul");
    ++gFusedCalls;
    return out;
}

bool capturing(int device) {
    cudaStreamCaptureStatus s = cudaStreamCaptureStatusNone;
    return cudaStreamIsCapturing(c10::cuda::getCurrentCUDAStream(device).stream(), &s) == cudaSuccess &&
           s != cudaStreamCaptureStatusNone;
}

#endif  // CASPL_FUSED_RESIDUAL_COMPILED

}  // namespace

torch::Tensor residualLinear(const torch::Tensor& residual, const torch::Tensor& h, const torch::Tensor& weight,
                             const torch::Tensor& bias, double alpha) {
    TORCH_CHECK(weight.dim() == 2 && bias.dim() == 1 && bias.size(0) == weight.size(0) && h.size(-1) == weight.size(1) &&
                    residual.size(-1) == weight.size(0) && h.numel() / h.size(-1) == residual.numel() / residual.size(-1),
                "residualLinear: shapes ", residual.sizes(), " + ", h.sizes(), " @ ", weight.sizes(), "^T + ", bias.sizes(),
                " do not fit");
    const auto h2 = h.reshape({-1, h.size(-1)});
#ifdef CASPL_FUSED_RESIDUAL_COMPILED
    const auto dt = residual.scalar_type();
    const bool applies = gEnabled.load() && gChecked.load() != 0 && !torch::GradMode::is_enabled() && residual.is_cuda() &&
                         residual.numel() > 0 &&
                         (dt == torch::kBFloat16 || dt == torch::kFloat16) && h.scalar_type() == dt &&
                         weight.scalar_type() == dt && bias.scalar_type() == dt && h.device() == residual.device() &&
                         weight.device() == residual.device() && bias.device() == residual.device() &&
                         residual.is_contiguous() && h2.is_contiguous() && weight.is_contiguous() && bias.is_contiguous();
    if (applies) {
        const auto r2 = residual.view({-1, residual.size(-1)});
        const int device = residual.get_device();
        if (gChecked.load() == -1) {
            // The self-check reads a result on the host, which a CUDA graph capture cannot do: it waits for the
            // next product outside a capture.
            if (capturing(device)) return unfused(residual, h2, weight, bias, alpha);
            static std::mutex m;
            std::lock_guard<std::mutex> lock(m);
            if (gChecked.load() == -1) {
                auto reference = unfused(residual, h2, weight, bias, alpha);
                try {
                    auto fused = fusedProduct(r2, h2, weight, bias, alpha).view(residual.sizes());
                    const double diff = (fused.to(torch::kFloat32) - reference.to(torch::kFloat32)).abs().max().item<double>();
                    const double scale = std::max(reference.to(torch::kFloat32).abs().max().item<double>(), 1e-3);
                    if (!(diff <= 2e-2 * scale)) {
                        setError("the fused residual product differs from the unfused one by " + std::to_string(diff) +
                                 " (largest value " + std::to_string(scale) + ")");
                        gChecked.store(0);
                        return reference;
                    }
                    gChecked.store(1);
                    setError("");
                    return fused;
                } catch (const std::exception& e) {
                    // No algorithm for this one shape (or alignment) is no verdict on the others: a later product
                    // checks again, up to three times.
                    setError(e.what());
                    static int failures = 0;
                    if (++failures >= 3 || !ltApi().error.empty()) gChecked.store(0);
                    return reference;
                }
            }
            if (gChecked.load() == 0) return unfused(residual, h2, weight, bias, alpha);
        }
        try {
            return fusedProduct(r2, h2, weight, bias, alpha).view(residual.sizes());
        } catch (const std::exception& e) {
            setError(e.what());  // this shape (or alignment) only: the next one tries again
        }
    }
#endif
    return unfused(residual, h2, weight, bias, alpha);
}

FusedResidualInfo fusedResidualInfo() {
    FusedResidualInfo i;
#ifdef CASPL_FUSED_RESIDUAL_COMPILED
    i.compiled = true;
#endif
    i.enabled = i.compiled && gEnabled.load();
    i.checked = gChecked.load();
    i.fusedCalls = gFusedCalls.load();
    std::lock_guard<std::mutex> lock(gErrorMutex);
    i.error = gError;
    return i;
}

bool setFusedResidualEnabled(bool on) { return gEnabled.exchange(on); }

}  // namespace caspl
