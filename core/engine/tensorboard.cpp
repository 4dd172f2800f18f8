#include "core/engine/tensorboard.h"

#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <tuple>

// Written here rather than with a library:
// - CRC-32C: Debian 12 packages no C or C++ CRC-32C library (google/crc32c is not packaged; zlib has only the
//   other CRC-32; Boost.CRC would add Boost for one function). A 256-entry table is the whole algorithm, and the
//   test checks it against the published test vectors (RFC 3720, B.4).
// - Protobuf: libprotobuf would need protoc at build time and a copy of TensorFlow's event.proto and
//   summary.proto (Debian packages neither) for the five fields written here (Event.wall_time, .step,
//   .file_version, .summary; Summary.Value.tag, .simple_value). Their encoding is fixed by the protobuf wire
//   format; the test decodes what is written with an independent reader.

namespace caspl {

namespace fs = std::filesystem;

namespace {

const std::array<uint32_t, 256>& crcTable() {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    return table;
}

// Protobuf wire format: a field's key is (number << 3 | wire type); 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit.
void putVarint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(char(uint8_t(v) | 0x80));
        v >>= 7;
    }
    out.push_back(char(uint8_t(v)));
}
void putFixed(std::string& out, const void* p, std::size_t n) {  // little endian (x86-64, aarch64)
    out.append(static_cast<const char*>(p), n);
}
void putDouble(std::string& out, int field, double v) {
    putVarint(out, uint64_t(field) << 3 | 1);
    putFixed(out, &v, 8);
}
void putFloat(std::string& out, int field, float v) {
    putVarint(out, uint64_t(field) << 3 | 5);
    putFixed(out, &v, 4);
}
void putInt(std::string& out, int field, int64_t v) {
    putVarint(out, uint64_t(field) << 3 | 0);
    putVarint(out, uint64_t(v));  // int64: two's complement, ten bytes when negative
}
void putBytes(std::string& out, int field, const std::string& bytes) {
    putVarint(out, uint64_t(field) << 3 | 2);
    putVarint(out, bytes.size());
    out += bytes;
}

// Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
// Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
std::string scalarEvent(const TbScalar& s) {
    std::string value;
    putBytes(value, 1, s.tag);
    putFloat(value, 2, float(s.value));
    std::string summary;
    putBytes(summary, 1, value);
    std::string event;
    putDouble(event, 1, s.wallTime);
    putInt(event, 2, s.step);
    putBytes(event, 5, summary);
    return event;
}

std::string versionEvent(double wallTime) {
    std::string event;
    putDouble(event, 1, wallTime);
    putBytes(event, 3, "brain.Event:2");
    return event;
}

// A folder name from a dataset, run or method name: letters, digits, '.', '_', '-' kept, anything else '_'.
std::string safeName(const std::string& s) {
    std::string out;
    for (unsigned char c : s) out.push_back(std::isalnum(c) || c == '.' || c == '_' || c == '-' ? char(c) : '_');
    if (out.empty() || out == "." || out == "..") out = "_" + out;
    return out;
}

std::string trainingFolder(const std::string& dataset, bool phase1, int shots, int seed) {
    const std::string ds = safeName(dataset.empty() ? std::string("run") : dataset);
    if (phase1) return ds + "/phase1";
    return ds + "/" + (shots > 0 ? std::to_string(shots) + "shots" : std::string("all")) + "_seed" + std::to_string(seed);
}

struct Point {
    int64_t step;
    int epoch;
    double time;
    const std::map<std::string, double>* values;
};

struct EvalKey {
    std::string method, split;
    int epoch;
    bool operator<(const EvalKey& o) const { return std::tie(method, split, epoch) < std::tie(o.method, o.split, o.epoch); }
};

struct Training {
    std::vector<Point> points;
    std::map<EvalKey, std::pair<double, double>> evals;  // -> (accuracy, time)
    std::size_t order = 0;                                // first seen: folders keep the log's order
};

}  // namespace

uint32_t crc32c(const void* data, std::size_t size) {
    const auto& t = crcTable();
    const auto* p = static_cast<const uint8_t*>(data);
    uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < size; ++i) c = t[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

uint32_t maskedCrc32c(const void* data, std::size_t size) {
    const uint32_t c = crc32c(data, size);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string tfRecord(const std::string& payload) {
    std::string out;
    const uint64_t n = payload.size();
    putFixed(out, &n, 8);
    const uint32_t lengthCrc = maskedCrc32c(&n, 8);
    putFixed(out, &lengthCrc, 4);
    out += payload;
    const uint32_t dataCrc = maskedCrc32c(payload.data(), payload.size());
    putFixed(out, &dataCrc, 4);
    return out;
}

std::string tfEventFile(const std::vector<TbScalar>& scalars, double startTime) {
    std::string out = tfRecord(versionEvent(startTime));
    for (const auto& s : scalars) out += tfRecord(scalarEvent(s));
    return out;
}

std::vector<TbTraining> tensorBoardTrainings(const RunEventLog& log, double fallbackTime) {
    const auto timeOf = [&](const std::vector<double>& times, std::size_t i) {
        return i < times.size() && times[i] > 0 ? times[i] : fallbackTime;
    };
    std::map<std::string, Training> trainings;
    const auto training = [&](const std::string& folder) -> Training& {
        auto [it, added] = trainings.try_emplace(folder);
        if (added) it->second.order = trainings.size();
        return it->second;
    };
    for (std::size_t i = 0; i < log.metrics.size(); ++i) {
        const MetricEvent& m = log.metrics[i];
        Training& t = training(trainingFolder(m.dataset, m.phase == "phase1", m.shots, m.seed));
        // A resumed training logs again from its checkpoint: what was logged from this step on is replaced.
        if (!t.points.empty() && m.step <= t.points.back().step)
            t.points.erase(std::find_if(t.points.begin(), t.points.end(), [&](const Point& p) { return p.step >= m.step; }),
                           t.points.end());
        t.points.push_back({m.step, m.epoch, timeOf(log.metricTimes, i), &m.values});
    }
    for (std::size_t i = 0; i < log.evals.size(); ++i) {
        const EvalRow& r = log.evals[i];
        training(trainingFolder(r.dataset, false, r.shots, r.seed)).evals[{r.method, r.split, r.epoch}] = {r.accuracy,
                                                                                                         timeOf(log.evalTimes, i)};
    }

    std::vector<std::pair<std::size_t, TbTraining>> ordered;
    for (auto& [folder, t] : trainings) {
        TbTraining out;
        out.folder = folder;
        for (const Point& p : t.points)
            for (const auto& [key, v] : *p.values) out.scalars.push_back({"train/" + key, p.step, p.time, v});
        // The step an evaluation stands at: the last step of the epoch it evaluated.
        std::map<int, int64_t> lastStepOf;
        for (const Point& p : t.points) lastStepOf[p.epoch] = std::max(lastStepOf[p.epoch], p.step);
        const int64_t stepsPerEpoch = lastStepOf.count(1) ? lastStepOf[1] : 0;
        const auto stepOf = [&](int epoch) -> int64_t {
            if (epoch <= 0) return 0;
            if (auto it = lastStepOf.find(epoch); it != lastStepOf.end()) return it->second;
            return stepsPerEpoch > 0 ? int64_t(epoch) * stepsPerEpoch : epoch;
        };
        std::set<std::string> methods;
        for (const auto& [k, v] : t.evals) methods.insert(k.method);
        const auto tagOf = [&](const std::string& method, const std::string& name) {
            return "eval/" + (methods.size() > 1 ? method + "/" : std::string()) + name;
        };
        for (const auto& [k, v] : t.evals) {
            out.scalars.push_back({tagOf(k.method, k.split), stepOf(k.epoch), v.second, v.first});
            if (k.split != "base") continue;
            const auto novel = t.evals.find({k.method, "novel", k.epoch});
            if (novel == t.evals.end()) continue;
            const double b = v.first, n = novel->second.first;
            out.scalars.push_back({tagOf(k.method, "hm"), stepOf(k.epoch), std::max(v.second, novel->second.second),
                                   b + n > 0 ? 2 * b * n / (b + n) : 0.0});
        }
        std::stable_sort(out.scalars.begin(), out.scalars.end(), [](const TbScalar& a, const TbScalar& b) { return a.step < b.step; });
        ordered.emplace_back(t.order, std::move(out));
    }
    std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<TbTraining> result;
    for (auto& [order, t] : ordered) result.push_back(std::move(t));
    return result;
}

TbExportSummary writeTensorBoard(const std::vector<std::pair<std::string, RunEventLog>>& runs, const std::string& outDir,
                                 const std::string& host, double now) {
    TbExportSummary summary;
    std::set<std::string> names;
    for (const auto& [runName, log] : runs) {
        std::string name = safeName(runName);
        for (int k = 2; !names.insert(name).second; ++k) name = safeName(runName) + "_" + std::to_string(k);
        for (const TbTraining& t : tensorBoardTrainings(log, now)) {
            const fs::path dir = fs::path(outDir) / name / t.folder;
            std::error_code ec;
            fs::create_directories(dir, ec);
            if (ec) throw Error(dir.string() + ": cannot create the folder (" + ec.message() + ")");
            // TensorBoard reads a folder's event files in the order of their names; the time keeps that order.
            const std::string file = "events.out.tfevents." + std::to_string(int64_t(now)) + "." + safeName(host) + ".caspl";
            writeFileAtomically((dir / file).string(), tfEventFile(t.scalars, now));
            for (const auto& entry : fs::directory_iterator(dir, ec)) {
                const std::string f = entry.path().filename().string();
                if (f != file && f.rfind("events.out.tfevents.", 0) == 0 && f.size() > 6 && f.compare(f.size() - 6, 6, ".caspl") == 0)
                    fs::remove(entry.path(), ec);  // an earlier export's file: the new one holds all of it
            }
            summary.files.push_back((fs::path(name) / t.folder / file).string());
            summary.scalars += int64_t(t.scalars.size());
        }
    }
    return summary;
}

}  // namespace caspl
