#include "core/io/tensor_io.h"

#include "core/util/error.h"

#include <torch/torch.h>

#include <cstring>

namespace caspl {

torch::Dtype toTorchDtype(DType dtype) {
    switch (dtype) {
        case DType::F64: return torch::kFloat64;
        case DType::F32: return torch::kFloat32;
        case DType::F16: return torch::kFloat16;
        case DType::BF16: return torch::kBFloat16;
        case DType::I64: return torch::kInt64;
        case DType::I32: return torch::kInt32;
        case DType::I16: return torch::kInt16;
        case DType::I8: return torch::kInt8;
        case DType::U8: return torch::kUInt8;
        case DType::Bool: return torch::kBool;
    }
    return torch::kFloat32;
}

DType fromTorchDtype(torch::Dtype dtype) {
    switch (dtype) {
        case torch::kFloat64: return DType::F64;
        case torch::kFloat32: return DType::F32;
        case torch::kFloat16: return DType::F16;
        case torch::kBFloat16: return DType::BF16;
        case torch::kInt64: return DType::I64;
        case torch::kInt32: return DType::I32;
        case torch::kInt16: return DType::I16;
        case torch::kInt8: return DType::I8;
        case torch::kUInt8: return DType::U8;
        case torch::kBool: return DType::Bool;
        default: throw Error(std::string("safetensors cannot store torch dtype ") + c10::toString(dtype));
    }
}

torch::Tensor readTensor(const SafetensorsFile& file, const TensorInfo& info) {
    auto t = torch::empty(info.shape, torch::TensorOptions().dtype(toTorchDtype(info.dtype)));
    if (info.nbytes()) std::memcpy(t.data_ptr(), file.data(info), info.nbytes());
    return t;
}

torch::Tensor readTensor(const SafetensorsFile& file, const std::string& name) { return readTensor(file, file.at(name)); }

TensorMap loadSafetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
    auto file = SafetensorsFile::open(path);
    TensorMap out;
    for (const auto& info : file.tensors()) out[info.name] = readTensor(file, info);
    if (metadata) *metadata = file.metadata();
    return out;
}

void saveSafetensors(const std::string& path, const TensorMap& tensors, const std::map<std::string, std::string>& metadata) {
    std::vector<torch::Tensor> keep;
    std::vector<TensorView> views;
    keep.reserve(tensors.size());
    for (const auto& [name, t] : tensors) {
        if (!t.defined()) throw Error(path + ": tensor '" + name + "' is undefined");
        keep.push_back(t.detach().to(torch::kCPU).contiguous());
        const auto& c = keep.back();
        views.push_back(TensorView{name, fromTorchDtype(c.scalar_type()), c.sizes().vec(), c.data_ptr(),
                                   std::size_t(c.numel()) * c.element_size()});
    }
    writeSafetensors(path, views, metadata);
}

}  // namespace caspl
