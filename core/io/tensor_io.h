#pragma once
// Safetensors <-> torch::Tensor. Includes LibTorch: include it only from engine .cpp files.
#include "core/io/safetensors.h"

#include <torch/types.h>

#include <map>
#include <string>

namespace caspl {

using TensorMap = std::map<std::string, torch::Tensor>;

torch::Dtype toTorchDtype(DType dtype);
DType fromTorchDtype(torch::Dtype dtype);  // throws caspl::Error for dtypes safetensors cannot hold

// Copies one tensor out of the mapping into a new CPU tensor.
torch::Tensor readTensor(const SafetensorsFile& file, const TensorInfo& info);
torch::Tensor readTensor(const SafetensorsFile& file, const std::string& name);
TensorMap loadSafetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

// Writes atomically; tensors are moved to CPU and made contiguous first.
void saveSafetensors(const std::string& path, const TensorMap& tensors,
                     const std::map<std::string, std::string>& metadata = {});

}  // namespace caspl
