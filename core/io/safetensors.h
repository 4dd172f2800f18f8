#pragma once
// Safetensors reading and writing, without LibTorch (core/io/tensor_io.h converts to and from torch::Tensor).
//
// Format: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the first byte after the header) plus an
// optional "__metadata__" object of string -> string, then the raw little-endian row-major tensor bytes.
//
// SafetensorsFile memory-maps the file, validates the whole header up front and throws caspl::Error naming the
// file, the tensor and the problem for anything malformed.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace caspl {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

std::size_t dtypeSize(DType dtype);
const char* dtypeName(DType dtype);  // "F32", "BF16", ... as safetensors spells them
bool parseDType(const std::string& name, DType* out);

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // byte offsets relative to the data section
    uint64_t end = 0;

    int64_t numel() const;
    uint64_t nbytes() const { return end - begin; }
};

std::string shapeToString(const std::vector<int64_t>& shape);  // "[3, 32, 32]"

class SafetensorsFile {
public:
    // Opens and validates `path`. Throws caspl::Error on any problem.
    static SafetensorsFile open(const std::string& path);

    SafetensorsFile(SafetensorsFile&&) noexcept;
    SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
    ~SafetensorsFile();

    const std::string& path() const { return path_; }
    // Tensors in the order of their data offsets.
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find(const std::string& name) const;
    // Like find(), but throws caspl::Error naming the file and the key when it is absent.
    const TensorInfo& at(const std::string& name) const;
    bool contains(const std::string& name) const { return find(name) != nullptr; }
    std::vector<std::string> names() const;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    // Pointer to the tensor's bytes inside the mapping (valid while this object lives).
    const uint8_t* data(const TensorInfo& info) const;
    // The tensor's values converted to float (F64/F32/F16/BF16/integers/bool), for tests and tools.
    std::vector<float> toFloat(const TensorInfo& info) const;
    std::vector<int64_t> toInt64(const TensorInfo& info) const;

private:
    SafetensorsFile() = default;
    std::string path_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, std::size_t> index_;
    std::map<std::string, std::string> metadata_;
    const uint8_t* map_ = nullptr;
    std::size_t mapSize_ = 0;
    const uint8_t* dataStart_ = nullptr;
};

// A tensor to write: the bytes must hold exactly numel(shape) * dtypeSize(dtype) bytes, little-endian, row-major.
struct TensorView {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const void* data = nullptr;
    std::size_t nbytes = 0;
};

// Writes a safetensors file atomically (temporary file + rename). Tensors are laid out by element size (largest
// first), then by name, so each is aligned to its element size; the header is padded with spaces to 8 bytes.
void writeSafetensors(const std::string& path, const std::vector<TensorView>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace caspl
