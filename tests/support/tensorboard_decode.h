#pragma once
// A reader of TensorBoard event files for the tests, kept apart from the writer's code (core/engine/tensorboard.cpp):
// the TFRecord framing with every CRC checked, and the protobuf wire format read field by field.
#include "core/engine/tensorboard.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace caspl::test {

// A reader of the records and of the Event fields written, kept apart from the writer's code: the protobuf wire
// format read field by field, every CRC checked.
struct DecodedEvent {
    double wallTime = 0;
    int64_t step = 0;
    std::string fileVersion, tag;
    float value = 0;
    bool sessionStart = false;
    // Summary.Value.metadata.plugin_data: which plugin, and its content (the hparams plugin's HParamsPluginData).
    std::string pluginName, pluginContent;
    std::string tensor;  // Summary.Value.tensor, as bytes (the hparams plugin's null tensor)
};

inline uint64_t varint(const std::string& s, std::size_t& i) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        if (i >= s.size()) throw std::runtime_error("varint runs past the end");
        const uint8_t b = uint8_t(s[i++]);
        v |= uint64_t(b & 0x7F) << shift;
        if (!(b & 0x80)) return v;
    }
}

// Calls f(field, wire type, the value's bytes) for each field of a message; throws on a malformed one.
template <typename F>
inline void fields(const std::string& m, F f) {
    std::size_t i = 0;
    while (i < m.size()) {
        const uint64_t key = varint(m, i);
        const int field = int(key >> 3), wt = int(key & 7);
        std::size_t begin = i, end = i;
        if (wt == 0) varint(m, end);
        else if (wt == 1) end += 8;
        else if (wt == 5) end += 4;
        else if (wt == 2) {
            const uint64_t n = varint(m, begin);  // the length, then the bytes
            end = begin + n;
        } else throw std::runtime_error("unexpected wire type " + std::to_string(wt));
        if (end > m.size()) throw std::runtime_error("a field runs past the end");
        f(field, wt, m.substr(begin, end - begin));
        i = end;
    }
}

inline std::vector<DecodedEvent> decodeEventFile(const std::string& bytes) {
    std::vector<DecodedEvent> events;
    std::size_t i = 0;
    while (i < bytes.size()) {
        if (bytes.size() - i < 16) throw std::runtime_error("a truncated record");
        uint64_t n;
        uint32_t lengthCrc, dataCrc;
        std::memcpy(&n, bytes.data() + i, 8);
        std::memcpy(&lengthCrc, bytes.data() + i + 8, 4);
        if (lengthCrc != maskedCrc32c(bytes.data() + i, 8)) throw std::runtime_error("length CRC");
        const std::string payload = bytes.substr(i + 12, n);
        std::memcpy(&dataCrc, bytes.data() + i + 12 + n, 4);
        if (dataCrc != maskedCrc32c(payload.data(), payload.size())) throw std::runtime_error("data CRC");
        i += 16 + n;
        DecodedEvent e;
        fields(payload, [&](int field, int wt, const std::string& v) {
            if (field == 1 && wt == 1) std::memcpy(&e.wallTime, v.data(), 8);
            else if (field == 2 && wt == 0) {
                std::size_t k = 0;
                e.step = int64_t(varint(v, k));
            } else if (field == 3 && wt == 2) e.fileVersion = v;
            else if (field == 7 && wt == 2) e.sessionStart = v == std::string("\x08\x01", 2);
            else if (field == 5 && wt == 2)
                fields(v, [&](int sf, int swt, const std::string& value) {
                    if (sf != 1 || swt != 2) throw std::runtime_error("unexpected Summary field");
                    fields(value, [&](int vf, int vwt, const std::string& x) {
                        if (vf == 1 && vwt == 2) e.tag = x;
                        else if (vf == 2 && vwt == 5) std::memcpy(&e.value, x.data(), 4);
                        else if (vf == 8 && vwt == 2) e.tensor = x;
                        else if (vf == 9 && vwt == 2)  // SummaryMetadata { plugin_data = 1 { plugin_name = 1; content = 2 } }
                            fields(x, [&](int mf, int mwt, const std::string& metadata) {
                                if (mf != 1 || mwt != 2) throw std::runtime_error("unexpected SummaryMetadata field");
                                fields(metadata, [&](int pf, int pwt, const std::string& y) {
                                    if (pf == 1 && pwt == 2) e.pluginName = y;
                                    else if (pf == 2 && pwt == 2) e.pluginContent = y;
                                    else throw std::runtime_error("unexpected PluginData field");
                                });
                            });
                        else throw std::runtime_error("unexpected Summary.Value field");
                    });
                });
            else throw std::runtime_error("unexpected Event field " + std::to_string(field));
        });
        events.push_back(e);
    }
    return events;
}

}  // namespace caspl::test
