#include "core/io/safetensors.h"

#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace caspl {

namespace {
struct DTypeEntry {
    DType dtype;
    const char* name;
    std::size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::Bool, "BOOL", 1},
};

float halfToFloat(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400) == 0) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

template <typename T>
T loadLE(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));  // x86-64 and aarch64 are little-endian, as the format is
    return v;
}
}  // namespace

std::size_t dtypeSize(DType dtype) {
    for (const auto& e : kDTypes)
        if (e.dtype == dtype) return e.size;
    return 0;
}

const char* dtypeName(DType dtype) {
    for (const auto& e : kDTypes)
        if (e.dtype == dtype) return e.name;
    return "?";
}

bool parseDType(const std::string& name, DType* out) {
    for (const auto& e : kDTypes) {
        if (name == e.name) {
            *out = e.dtype;
            return true;
        }
    }
    return false;
}

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

std::string shapeToString(const std::vector<int64_t>& shape) {
    std::ostringstream s;
    s << '[';
    for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    s << ']';
    return s.str();
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
    SafetensorsFile f;
    f.path_ = path;
    const auto fail = [&](const std::string& what) -> Error { return Error(path + ": " + what); };

    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw fail(std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        throw fail(std::string("cannot stat: ") + std::strerror(errno));
    }
    const auto fileSize = static_cast<uint64_t>(st.st_size);
    if (fileSize < 8) {
        ::close(fd);
        throw fail("truncated: " + std::to_string(fileSize) + " bytes, fewer than the 8-byte header length");
    }
    void* m = ::mmap(nullptr, fileSize, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) throw fail(std::string("cannot map: ") + std::strerror(errno));
    f.map_ = static_cast<const uint8_t*>(m);
    f.mapSize_ = fileSize;

    const uint64_t headerLen = loadLE<uint64_t>(f.map_);
    if (headerLen > fileSize - 8)
        throw fail("header length " + std::to_string(headerLen) + " runs past the end of the file (" +
                   std::to_string(fileSize) + " bytes): truncated or not a safetensors file");
    const uint64_t dataSize = fileSize - 8 - headerLen;
    f.dataStart_ = f.map_ + 8 + headerLen;

    nlohmann::json header;
    try {
        header = nlohmann::json::parse(f.map_ + 8, f.map_ + 8 + headerLen);
    } catch (const nlohmann::json::exception& e) {
        throw fail(std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) throw fail("header is not a JSON object");

    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const auto& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object()) throw fail("__metadata__ is not an object of strings");
            for (auto m2 = v.begin(); m2 != v.end(); ++m2) {
                if (!m2.value().is_string())
                    throw fail("__metadata__['" + m2.key() + "'] is not a string");
                f.metadata_[m2.key()] = m2.value().get<std::string>();
            }
            continue;
        }
        const auto bad = [&](const std::string& what) { return fail("tensor '" + name + "': " + what); };
        if (!v.is_object()) throw bad("entry is not an object");
        TensorInfo info;
        info.name = name;
        if (!v.contains("dtype") || !v["dtype"].is_string()) throw bad("missing or non-string 'dtype'");
        const std::string dt = v["dtype"].get<std::string>();
        if (!parseDType(dt, &info.dtype))
            throw bad("unknown dtype '" + dt + "' (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL)");
        if (!v.contains("shape") || !v["shape"].is_array()) throw bad("missing or non-array 'shape'");
        for (const auto& d : v["shape"]) {
            if (!d.is_number_integer() || d.get<int64_t>() < 0) throw bad("shape has a non-integer or negative dimension");
            info.shape.push_back(d.get<int64_t>());
        }
        if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2 ||
            !v["data_offsets"][0].is_number_unsigned() || !v["data_offsets"][1].is_number_unsigned())
            throw bad("'data_offsets' must be two non-negative integers");
        info.begin = v["data_offsets"][0].get<uint64_t>();
        info.end = v["data_offsets"][1].get<uint64_t>();
        if (info.end < info.begin)
            throw bad("data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) + "] end before they begin");
        if (info.end > dataSize)
            throw bad("data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                      "] run past the end of the data (" + std::to_string(dataSize) + " bytes): truncated file?");
        const uint64_t expected = uint64_t(info.numel()) * dtypeSize(info.dtype);
        if (info.nbytes() != expected)
            throw bad("shape " + shapeToString(info.shape) + " of " + dt + " needs " + std::to_string(expected) +
                      " bytes but data_offsets cover " + std::to_string(info.nbytes()));
        f.tensors_.push_back(std::move(info));
    }
    std::sort(f.tensors_.begin(), f.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    for (std::size_t i = 1; i < f.tensors_.size(); ++i) {
        const auto& a = f.tensors_[i - 1];
        const auto& b = f.tensors_[i];
        if (b.begin < a.end && b.nbytes() > 0 && a.nbytes() > 0)
            throw fail("tensor '" + b.name + "' overlaps tensor '" + a.name + "' (bytes " + std::to_string(b.begin) +
                       ".." + std::to_string(b.end) + " vs " + std::to_string(a.begin) + ".." + std::to_string(a.end) + ")");
    }
    for (std::size_t i = 0; i < f.tensors_.size(); ++i) f.index_[f.tensors_[i].name] = i;
    return f;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept { *this = std::move(o); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
    if (this != &o) {
        if (map_) ::munmap(const_cast<uint8_t*>(map_), mapSize_);
        path_ = std::move(o.path_);
        tensors_ = std::move(o.tensors_);
        index_ = std::move(o.index_);
        metadata_ = std::move(o.metadata_);
        map_ = o.map_;
        mapSize_ = o.mapSize_;
        dataStart_ = o.dataStart_;
        o.map_ = nullptr;
        o.mapSize_ = 0;
        o.dataStart_ = nullptr;
    }
    return *this;
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), mapSize_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafetensorsFile::at(const std::string& name) const {
    const TensorInfo* t = find(name);
    if (!t) throw Error(path_ + ": no tensor named '" + name + "'");
    return *t;
}

std::vector<std::string> SafetensorsFile::names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& t : tensors_) out.push_back(t.name);
    return out;
}

const uint8_t* SafetensorsFile::data(const TensorInfo& info) const { return dataStart_ + info.begin; }

std::vector<float> SafetensorsFile::toFloat(const TensorInfo& info) const {
    const uint8_t* p = data(info);
    const auto n = std::size_t(info.numel());
    std::vector<float> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        switch (info.dtype) {
            case DType::F64: out[i] = float(loadLE<double>(p + 8 * i)); break;
            case DType::F32: out[i] = loadLE<float>(p + 4 * i); break;
            case DType::F16: out[i] = halfToFloat(loadLE<uint16_t>(p + 2 * i)); break;
            case DType::BF16: {
                uint32_t bits = uint32_t(loadLE<uint16_t>(p + 2 * i)) << 16;
                std::memcpy(&out[i], &bits, 4);
                break;
            }
            case DType::I64: out[i] = float(loadLE<int64_t>(p + 8 * i)); break;
            case DType::I32: out[i] = float(loadLE<int32_t>(p + 4 * i)); break;
            case DType::I16: out[i] = float(loadLE<int16_t>(p + 2 * i)); break;
            case DType::I8: out[i] = float(int8_t(p[i])); break;
            case DType::U8:
            case DType::Bool: out[i] = float(p[i]); break;
        }
    }
    return out;
}

std::vector<int64_t> SafetensorsFile::toInt64(const TensorInfo& info) const {
    const uint8_t* p = data(info);
    const auto n = std::size_t(info.numel());
    std::vector<int64_t> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        switch (info.dtype) {
            case DType::I64: out[i] = loadLE<int64_t>(p + 8 * i); break;
            case DType::I32: out[i] = loadLE<int32_t>(p + 4 * i); break;
            case DType::I16: out[i] = loadLE<int16_t>(p + 2 * i); break;
            case DType::I8: out[i] = int8_t(p[i]); break;
            case DType::U8:
            case DType::Bool: out[i] = p[i]; break;
            default:
                throw Error(path_ + ": tensor '" + info.name + "' is " + dtypeName(info.dtype) + ", expected an integer dtype");
        }
    }
    return out;
}

void writeSafetensors(const std::string& path, const std::vector<TensorView>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    std::vector<const TensorView*> order;
    for (const auto& t : tensors) {
        int64_t numel = 1;
        for (auto d : t.shape) {
            if (d < 0) throw Error(path + ": tensor '" + t.name + "' has a negative dimension");
            numel *= d;
        }
        if (std::size_t(numel) * dtypeSize(t.dtype) != t.nbytes)
            throw Error(path + ": tensor '" + t.name + "' shape " + shapeToString(t.shape) + " of " + dtypeName(t.dtype) +
                        " needs " + std::to_string(std::size_t(numel) * dtypeSize(t.dtype)) + " bytes, got " +
                        std::to_string(t.nbytes));
        if (t.name == "__metadata__") throw Error(path + ": '__metadata__' is reserved and cannot name a tensor");
        order.push_back(&t);
    }
    std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
        const auto sa = dtypeSize(a->dtype), sb = dtypeSize(b->dtype);
        return sa != sb ? sa > sb : a->name < b->name;
    });
    for (std::size_t i = 1; i < order.size(); ++i)
        if (order[i]->name == order[i - 1]->name) throw Error(path + ": tensor name '" + order[i]->name + "' appears twice");

    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const TensorView* t : order) {
        header[t->name] = {{"dtype", dtypeName(t->dtype)}, {"shape", t->shape}, {"data_offsets", {offset, offset + t->nbytes}}};
        offset += t->nbytes;
    }
    std::string json = header.dump();
    while (json.size() % 8 != 0) json.push_back(' ');
    writeFileAtomically(path, [&](std::ostream& out) {
        uint64_t n = json.size();
        char len[8];
        std::memcpy(len, &n, 8);
        out.write(len, 8);
        out.write(json.data(), std::streamsize(json.size()));
        for (const TensorView* t : order)
            if (t->nbytes) out.write(static_cast<const char*>(t->data), std::streamsize(t->nbytes));
    });
}

}  // namespace caspl
