#include "core/engine/tensorboard.h"

#include "core/experiment/results.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <algorithm>
#include <array>
#include <chrono>
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
//   summary.proto (Debian packages neither) for the few fields written here (Event.wall_time, .step,
//   .file_version, .summary, .session_log; Summary.Value.tag, .simple_value; SessionLog.status). Their encoding is
//   fixed by the protobuf wire format; the test compares the bytes with what protobuf's own library writes.

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

// Event { session_log = 7 } with SessionLog { status = 1 } = START (1): TensorBoard's event loader drops what it
// holds of this training from `step` on when it reads it.
std::string sessionStartEvent(double wallTime, int64_t step) {
    std::string log;
    putInt(log, 1, 1);
    std::string event;
    putDouble(event, 1, wallTime);
    putInt(event, 2, step);
    putBytes(event, 7, log);
    return event;
}

// A folder name from a dataset, run or method name: ASCII letters, digits, '.', '_', '-' and every byte of a
// non-ASCII UTF-8 character kept, anything else '_'. Not std::isalnum, which depends on the locale.
std::string safeName(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                          c == '_' || c == '-' || c >= 0x80;
        out.push_back(keep ? char(c) : '_');
    }
    if (out.empty() || out == "." || out == "..") out = "_" + out;
    return out;
}

std::string trainingFolder(const std::string& dataset, bool phase1, int shots, int seed) {
    const std::string ds = safeName(dataset);
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
    std::string method, target, split;  // target: the dataset evaluated where it is not the one trained, else ""
    int epoch;
    bool operator<(const EvalKey& o) const {
        return std::tie(method, target, split, epoch) < std::tie(o.method, o.target, o.split, o.epoch);
    }
};

struct Training {
    std::string dataset;  // "" for a folder of lines that name no dataset
    bool phase1 = false;
    int seed = 0;
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
    if (!scalars.empty()) {
        int64_t first = scalars.front().step;
        for (const auto& s : scalars) first = std::min(first, s.step);
        out += tfRecord(sessionStartEvent(startTime, first));
    }
    for (const auto& s : scalars) out += tfRecord(scalarEvent(s));
    return out;
}

// ---------------------------------------------------------------------------------------------------------------
// HParams (tensorboard/plugins/hparams: plugin_data.proto, api.proto; google/protobuf/struct.proto). The few fields
// written, by number:
//   Summary.Value { tag = 1; metadata = 9 }  SummaryMetadata { plugin_data = 1 }  PluginData { plugin_name = 1;
//   content = 2 }  HParamsPluginData { version = 1 (0: not written); experiment = 2; session_start_info = 3;
//   session_end_info = 4 }  SessionStartInfo { map<string, Value> hparams = 1 (entries { key = 1; value = 2 });
//   model_uri = 2; start_time_secs = 5 }  SessionEndInfo { status = 1; end_time_secs = 2 }
//   Experiment { time_created_secs = 3; hparam_infos = 4; metric_infos = 5 }  HParamInfo { name = 1; type = 4
//   (1 string, 2 bool, 3 float64); domain_discrete = 5 (ListValue { values = 1 }); domain_interval = 6 (Interval
//   { min_value = 1; max_value = 2 }) }  MetricInfo { name = 1 (MetricName { group = 1; tag = 2 }); display_name = 3;
//   description = 4 }  Value { number_value = 2; string_value = 3; bool_value = 4 }
// The summary value carries the plugin's null tensor (Summary.Value.tensor = 8: TensorProto { dtype = 1 DT_FLOAT;
// tensor_shape = 2 { dim = 2 { } } }, an empty float tensor), as TensorBoard's own hparams writers attach it; PyTorch's
// writer leaves it out, which early releases of TensorBoard's fast loader dropped.

namespace {

const std::string kNullTensor("\x08\x01\x12\x02\x12\x00", 6);

std::string protoValue(const std::string& text, TbHParamType type) {
    std::string v;
    if (type == TbHParamType::Number) putDouble(v, 2, configNumber(text).value_or(0));
    else if (type == TbHParamType::Bool) putInt(v, 4, text == "true" ? 1 : 0);
    else putBytes(v, 3, text);
    return v;
}

TbHParamType typeOfValues(const std::vector<std::string>& v) {
    if (!v.empty() && std::all_of(v.begin(), v.end(), [](const std::string& x) { return configNumber(x).has_value(); }))
        return TbHParamType::Number;
    if (!v.empty() && std::all_of(v.begin(), v.end(), [](const std::string& x) { return x == "true" || x == "false"; }))
        return TbHParamType::Bool;
    return TbHParamType::Text;
}

std::string hparamsSummaryEvent(const std::string& tag, int dataField, const std::string& data, double wallTime) {
    std::string pluginData;  // HParamsPluginData; version 0 is proto3's default and is not written
    putBytes(pluginData, dataField, data);
    std::string plugin;
    putBytes(plugin, 1, "hparams");
    putBytes(plugin, 2, pluginData);
    std::string metadata;
    putBytes(metadata, 1, plugin);
    std::string value;
    putBytes(value, 1, tag);
    putBytes(value, 8, kNullTensor);
    putBytes(value, 9, metadata);
    std::string summary;
    putBytes(summary, 1, value);
    std::string event;
    putDouble(event, 1, wallTime);  // step 0: proto3 leaves it out
    putBytes(event, 5, summary);
    return event;
}

}  // namespace

std::map<std::string, TbHParamType> tbHParamTypes(const std::vector<TbSession>& sessions) {
    std::map<std::string, std::vector<std::string>> values;
    for (const auto& s : sessions)
        for (const auto& [name, value] : s.hparams) values[name].push_back(value);
    std::map<std::string, TbHParamType> types;
    for (const auto& [name, v] : values) types[name] = typeOfValues(v);
    return types;
}

std::string tbSessionEventFile(const TbSession& session, double wallTime, const std::map<std::string, TbHParamType>& types) {
    const double start = session.startTime > 0 ? session.startTime : wallTime;
    std::string out = tfRecord(versionEvent(start));
    std::string startInfo;
    for (const auto& [name, value] : session.hparams) {
        const auto t = types.find(name);
        std::string entry;
        putBytes(entry, 1, name);
        putBytes(entry, 2, protoValue(value, t != types.end() ? t->second : typeOfValues({value})));
        putBytes(startInfo, 1, entry);
    }
    if (!session.modelUri.empty()) putBytes(startInfo, 2, session.modelUri);
    putDouble(startInfo, 5, start);
    out += tfRecord(hparamsSummaryEvent("_hparams_/session_start_info", 3, startInfo, start));
    const double end = session.endTime > 0 ? session.endTime : start;
    for (const auto& [tag, value] : session.metrics) out += tfRecord(scalarEvent({tag, 0, end, value}));
    // The plugin takes a session's status from its end record only: a running run gets one too, without an end time.
    if (session.status >= 1 && session.status <= 3) {
        std::string endInfo;
        putInt(endInfo, 1, session.status);
        if (session.status != 3) putDouble(endInfo, 2, end);
        out += tfRecord(hparamsSummaryEvent("_hparams_/session_end_info", 4, endInfo, session.status != 3 ? end : start));
    }
    return out;
}

std::string tbExperimentEventFile(const std::vector<TbSession>& sessions, double wallTime) {
    // The names in order of first appearance, each with the values the sessions give it, typed as the sessions write
    // them (tbHParamTypes).
    std::vector<std::string> names, tags;
    std::map<std::string, std::vector<std::string>> values;
    for (const auto& s : sessions) {
        for (const auto& [name, value] : s.hparams) {
            auto& v = values[name];
            if (v.empty()) names.push_back(name);
            v.push_back(value);
        }
        for (const auto& [tag, value] : s.metrics)
            if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(tag);
    }
    std::string experiment;
    putDouble(experiment, 3, wallTime);
    for (const auto& name : names) {
        const auto& v = values[name];
        const TbHParamType type = typeOfValues(v);
        std::string info;
        putBytes(info, 1, name);
        putInt(info, 4, int(type));
        if (type == TbHParamType::Number) {
            double lo = *configNumber(v.front()), hi = lo;
            for (const auto& x : v) lo = std::min(lo, *configNumber(x)), hi = std::max(hi, *configNumber(x));
            std::string interval;
            putDouble(interval, 1, lo);
            putDouble(interval, 2, hi);
            putBytes(info, 6, interval);
        } else {
            std::vector<std::string> distinct = v;
            std::sort(distinct.begin(), distinct.end());
            distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
            std::string list;
            for (const auto& x : distinct) putBytes(list, 1, protoValue(x, type));
            putBytes(info, 5, list);
        }
        putBytes(experiment, 4, info);
    }
    for (const auto& tag : tags) {
        std::string metricName;
        putBytes(metricName, 2, tag);  // group "": the session's own folder
        std::string info;
        putBytes(info, 1, metricName);
        const std::string figure = tag.substr(tag.find('/') + 1);
        const std::string display = figure == "hm"          ? "HM"
                                    : figure == "all"       ? "All"
                                    : figure == "base"      ? "Base"
                                    : figure == "novel"     ? "Novel"
                                    : figure == "runtime_s" ? "Runtime (s)"
                                                            : figure;
        putBytes(info, 3, display);
        putBytes(info, 4, figure == "runtime_s" ? "the time the run's processes spent on it, in seconds"
                                                : "mean over seeds (averaged over datasets when several), in percent");
        putBytes(experiment, 5, info);
    }
    std::string out = tfRecord(versionEvent(wallTime));
    out += tfRecord(hparamsSummaryEvent("_hparams_/experiment", 2, experiment, wallTime));
    return out;
}

std::vector<std::pair<std::string, double>> tensorBoardSessionMetrics(const RunFolderStatus& status) {
    std::vector<std::pair<std::string, double>> out;
    const std::pair<const char*, const std::optional<double>*> figures[] = {
        {"result/base", &status.base}, {"result/novel", &status.novel}, {"result/hm", &status.hm}, {"result/all", &status.accuracy}};
    for (const auto& [tag, v] : figures)
        if (*v) out.emplace_back(tag, **v);
    // W&B's runtime next to the figures: what a method's accuracy cost (seconds).
    if (status.runtime) out.emplace_back("result/runtime_s", *status.runtime);
    return out;
}

TbSession tensorBoardLiveSession(const ExperimentSpec& spec, const std::string& runDir) {
    TbSession s;
    s.hparams.emplace_back("method", methodLabel(spec));
    for (const auto& [key, value] : runConfig(spec, runDir))
        if (runsTableKey(key)) s.hparams.emplace_back(key, value);
    s.modelUri = runDir;
    return s;
}

std::vector<std::optional<TbSession>> tensorBoardSessions(const RunsTable& table) {
    std::vector<std::optional<TbSession>> out;
    for (const auto& row : table.rows) {
        if (row.config.empty()) {  // unreadable
            out.emplace_back();
            continue;
        }
        TbSession s;
        s.hparams.emplace_back("method", row.status.method);
        for (std::size_t k = 0; k < table.keys.size(); ++k)
            if (!row.values[k].empty()) s.hparams.emplace_back(table.keys[k], row.values[k]);
        s.metrics = tensorBoardSessionMetrics(row.status);
        const std::string& state = row.status.state;
        s.status = state == "done" ? 1 : state == "failed" ? 2 : state == "running" ? 3 : 0;
        s.modelUri = row.status.folder;
        out.push_back(std::move(s));
    }
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
    // Metric lines, in the log's order; metricFolder[i] is where line i went.
    std::vector<std::string> metricFolder(log.metrics.size());
    std::map<std::string, std::pair<int, int64_t>> unnamed;  // phase -> (n, last step) of lines without a dataset
    for (std::size_t i = 0; i < log.metrics.size(); ++i) {
        const MetricEvent& m = log.metrics[i];
        std::string folder;
        if (m.dataset.empty()) {  // no identity: a step that starts again is another training, not a resume
            auto [it, added] = unnamed.try_emplace(m.phase, 1, m.step);
            if (!added && m.step <= it->second.second) ++it->second.first;
            it->second.second = m.step;
            folder = "unnamed/" + safeName(m.phase.empty() ? std::string("train") : m.phase) + "_" + std::to_string(it->second.first);
        } else {
            folder = trainingFolder(m.dataset, m.phase == "phase1", m.shots, m.seed);
        }
        metricFolder[i] = folder;
        Training& t = training(folder);
        t.dataset = m.dataset;
        t.phase1 = m.phase == "phase1";
        t.seed = m.seed;
        // A resumed training logs again from its checkpoint: what was logged from this step on is replaced.
        if (!t.points.empty() && m.step <= t.points.back().step)
            t.points.erase(std::find_if(t.points.begin(), t.points.end(), [&](const Point& p) { return p.step >= m.step; }),
                           t.points.end());
        t.points.push_back({m.step, m.epoch, timeOf(log.metricTimes, i), &m.values});
    }
    // Evaluations: with the training before them in the log of the same K and seed (the runner evaluates right
    // after training; another dataset's evaluation goes there under the dataset's name), else with their own
    // training, else (logs of early versions) with the one training of their dataset and seed, else in a folder of
    // their own.
    for (std::size_t i = 0; i < log.evals.size(); ++i) {
        const EvalRow& r = log.evals[i];
        std::string folder = trainingFolder(r.dataset, false, r.shots, r.seed), target;
        std::size_t before = log.metrics.size();
        if (i < log.evalAfterMetrics.size())
            for (std::size_t j = std::min(log.evalAfterMetrics[i], log.metrics.size()); j-- > 0;) {
                const MetricEvent& m = log.metrics[j];
                if (m.phase != "phase1" && !m.dataset.empty() && m.shots == r.shots && m.seed == r.seed) {
                    before = j;
                    break;
                }
            }
        const auto own = trainings.find(folder);
        if (before < log.metrics.size()) {
            folder = metricFolder[before];
            if (log.metrics[before].dataset != r.dataset) target = safeName(r.dataset);
        } else if (own == trainings.end() || own->second.points.empty()) {
            std::vector<std::string> sameDataset;  // a log of an early version has evaluations without their K
            if (r.shots == 0)
                for (const auto& [f, t] : trainings)
                    if (!t.points.empty() && !t.phase1 && t.dataset == r.dataset && t.seed == r.seed) sameDataset.push_back(f);
            if (sameDataset.size() == 1) {
                folder = sameDataset.front();
            } else {
                const std::size_t after = i < log.evalAfterMetrics.size() ? log.evalAfterMetrics[i] : log.metrics.size();
                for (std::size_t j = std::min(after, log.metrics.size()); j-- > 0;) {
                    const MetricEvent& m = log.metrics[j];
                    if (m.phase != "phase1" && !m.dataset.empty() && m.shots == r.shots && m.seed == r.seed) {
                        folder = metricFolder[j];
                        target = safeName(r.dataset);
                        break;
                    }
                }
            }
        }
        training(folder).evals[{r.method, target, r.split, r.epoch}] = {r.accuracy, timeOf(log.evalTimes, i)};
    }

    std::vector<std::pair<std::size_t, TbTraining>> ordered;
    for (auto& [folder, t] : trainings) {
        TbTraining out;
        out.folder = folder;
        for (const Point& p : t.points)
            for (const auto& [key, v] : *p.values) out.scalars.push_back({"train/" + key, p.step, p.time, v});
        // The step an evaluation stands at: the last step of the epoch it evaluated.
        std::map<int, int64_t> lastStepOf;
        for (const Point& p : t.points) {
            auto [it, added] = lastStepOf.try_emplace(p.epoch, p.step);
            if (!added) it->second = std::max(it->second, p.step);
        }
        const int64_t stepsPerEpoch = lastStepOf.count(1) ? lastStepOf[1] : 0;
        const auto stepOf = [&](int epoch) -> int64_t {
            if (epoch <= 0) return 0;
            if (auto it = lastStepOf.find(epoch); it != lastStepOf.end()) return it->second;
            return stepsPerEpoch > 0 ? int64_t(epoch) * stepsPerEpoch : epoch;
        };
        std::set<std::string> methods;
        for (const auto& [k, v] : t.evals) methods.insert(k.method);
        const auto tagOf = [&](const EvalKey& k, const std::string& name) {
            return "eval/" + (methods.size() > 1 ? k.method + "/" : std::string()) + (k.target.empty() ? "" : k.target + "/") + name;
        };
        for (const auto& [k, v] : t.evals) {
            out.scalars.push_back({tagOf(k, k.split), stepOf(k.epoch), v.second, v.first});
            if (k.split != "base") continue;
            const auto novel = t.evals.find({k.method, k.target, "novel", k.epoch});
            if (novel == t.evals.end()) continue;
            out.scalars.push_back({tagOf(k, "hm"), stepOf(k.epoch), std::max(v.second, novel->second.second),
                                   harmonicMean(v.first, novel->second.first)});
        }
        std::stable_sort(out.scalars.begin(), out.scalars.end(), [](const TbScalar& a, const TbScalar& b) { return a.step < b.step; });
        ordered.emplace_back(t.order, std::move(out));
    }
    std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<TbTraining> result;
    for (auto& [order, t] : ordered) result.push_back(std::move(t));
    return result;
}

namespace {

bool isOurEventFile(const std::string& f) {
    return f.rfind("events.out.tfevents.", 0) == 0 && f.size() > 26 && f.compare(f.size() - 6, 6, ".caspl") == 0;
}

// The time in an event file's name ("events.out.tfevents.<time>.<host>.caspl"), 0 when there is none.
int64_t timeInName(const std::string& f) {
    const std::size_t from = std::strlen("events.out.tfevents.");
    std::size_t end = from;
    while (end < f.size() && f[end] >= '0' && f[end] <= '9') ++end;
    return end > from && end - from < 18 ? std::stoll(f.substr(from, end - from)) : 0;
}

std::string readSmallFile(const fs::path& p) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return {};
    try {
        return readFile(p.string());
    } catch (const std::exception&) {
        return {};
    }
}

}  // namespace

TbExportSummary writeTensorBoard(const std::vector<TbRun>& runs, const std::string& outDir, const std::string& host,
                                 double now) {
    TbExportSummary summary;
    if (fs::exists(fs::path(outDir) / "config.yaml") || fs::exists(fs::path(outDir) / "run.json"))
        throw Error(outDir + ": is a run folder; export the TensorBoard files to a folder outside the runs "
                             "(e.g. a 'tensorboard' folder next to 'runs')");
    // Nor a folder inside one (its tensorboard/ folders: the export would replace the run's live files there). A run
    // folder above holds both files (a project folder may well have a config.yaml of its own).
    {
        std::error_code ec;
        const fs::path out = fs::weakly_canonical(fs::absolute(outDir), ec);
        for (fs::path p = out.parent_path(); !ec && !p.empty(); p = p.parent_path()) {
            if (fs::exists(p / "config.yaml", ec) && fs::exists(p / "run.json", ec))
                throw Error(outDir + ": is inside the run folder " + p.string() +
                            "; export the TensorBoard files to a folder outside the runs (e.g. a 'tensorboard' folder "
                            "next to 'runs')");
            if (p == p.root_path()) break;
        }
    }
    // Writes `bytes` as a new event file in `dir`, named after the folder's earlier files of this tool (TensorBoard
    // reads a folder's files in name order: the new one comes last), then removes those: the new one holds all of it.
    const auto writeEventFile = [&](const fs::path& dir, const std::string& bytes) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) throw Error(dir.string() + ": cannot create the folder (" + ec.message() + ")");
        int64_t time = int64_t(now);
        std::vector<fs::path> earlier;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string f = it->path().filename().string();
            if (!isOurEventFile(f)) continue;
            earlier.push_back(it->path());
            time = std::max(time, timeInName(f) + 1);
        }
        if (ec) throw Error(dir.string() + ": cannot list the folder (" + ec.message() + ")");
        const std::string file = "events.out.tfevents." + std::to_string(time) + "." + safeName(host) + ".caspl";
        writeFileAtomically((dir / file).string(), bytes);
        for (const auto& old : earlier) {
            fs::remove(old, ec);
            if (ec)
                summary.warnings.push_back(old.string() + ": could not be removed (" + ec.message() +
                                           "); TensorBoard shows its curves as well until it is deleted");
        }
        return file;
    };
    std::set<std::string> taken;
    std::vector<TbSession> sessions;
    std::vector<std::string> sessionFolders;  // each session's folder in the export
    for (const TbRun& run : runs) {
        const auto trainings = tensorBoardTrainings(run.log, now);
        if (trainings.empty()) {
            summary.warnings.push_back(run.source + ": nothing to export yet (no metric or evaluation lines in its events.jsonl)");
            continue;
        }
        // The run's folder in the export: its name, unless another run's export has it.
        const std::string base = safeName(run.name);
        std::string name;
        for (int k = 1;; ++k) {
            name = k == 1 ? base : base + "_" + std::to_string(k);
            if (taken.count(name)) continue;
            const std::string owner = readSmallFile(fs::path(outDir) / name / ".caspl-run");
            if (owner.empty() || owner == run.source) break;
        }
        taken.insert(name);
        const fs::path runOut = fs::path(outDir) / name;
        if (fs::exists(runOut / "config.yaml") || fs::exists(runOut / "run.json"))
            throw Error(runOut.string() + ": is a run folder; export the TensorBoard files to a folder outside the runs "
                                          "(e.g. a 'tensorboard' folder next to 'runs')");
        double first = now, last = 0;
        for (const TbTraining& t : trainings) {
            double start = now;
            for (const auto& s : t.scalars) {
                start = std::min(start, s.wallTime);
                last = std::max(last, s.wallTime);
            }
            first = std::min(first, start);
            const std::string file = writeEventFile(runOut / t.folder, tfEventFile(t.scalars, start));
            summary.files.push_back((fs::path(name) / t.folder / file).string());
            summary.scalars += int64_t(t.scalars.size());
        }
        if (run.session) {
            TbSession s = *run.session;
            if (s.startTime <= 0) s.startTime = first;
            if (s.endTime <= 0 && (s.status == 1 || s.status == 2)) s.endTime = std::max(last, s.startTime);
            s.modelUri = run.source;  // the folder, absolute
            sessions.push_back(std::move(s));
            sessionFolders.push_back(name);
        }
        writeFileAtomically((runOut / ".caspl-run").string(), run.source);
    }
    if (sessions.empty()) return summary;
    // Hyperparameters that every exported session holds with the same value say nothing (they differed only in runs
    // with nothing to export); the method stays.
    std::map<std::string, std::set<std::string>> seen;
    std::map<std::string, std::size_t> holders;
    for (const auto& s : sessions)
        for (const auto& [k, v] : s.hparams) seen[k].insert(v), ++holders[k];
    for (auto& s : sessions)
        s.hparams.erase(std::remove_if(s.hparams.begin(), s.hparams.end(),
                                       [&](const auto& kv) {
                                           return kv.first != "method" && seen[kv.first].size() == 1 && holders[kv.first] == sessions.size();
                                       }),
                        s.hparams.end());
    // One type per key over all sessions: TensorBoard filters a key's values by type.
    const auto types = tbHParamTypes(sessions);
    for (std::size_t i = 0; i < sessions.size(); ++i) {
        const std::string file = writeEventFile(fs::path(outDir) / sessionFolders[i], tbSessionEventFile(sessions[i], now, types));
        summary.files.push_back((fs::path(sessionFolders[i]) / file).string());
        summary.scalars += int64_t(sessions[i].metrics.size());
    }
    summary.files.push_back(writeEventFile(fs::path(outDir), tbExperimentEventFile(sessions, now)));
    // The experiment is this export's: sessions that earlier exports left in other runs' folders would show with
    // stale figures and, typed by another experiment, break the dashboard's filters. Their curves stay.
    const std::set<std::string> current(sessionFolders.begin(), sessionFolders.end());
    std::error_code ec;
    for (fs::directory_iterator it(outDir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string folder = it->path().filename().string();
        if (!it->is_directory() || current.count(folder) || !fs::exists(it->path() / ".caspl-run")) continue;
        std::error_code inner;
        for (fs::directory_iterator f(it->path(), inner), fend; !inner && f != fend; f.increment(inner)) {
            if (!f->is_regular_file() || !isOurEventFile(f->path().filename().string())) continue;
            std::error_code rm;
            fs::remove(f->path(), rm);
            summary.warnings.push_back(f->path().string() + (rm ? ": an earlier export's HParams session could not be removed (" + rm.message() + ")"
                                                                : ": an earlier export's HParams session, removed (this export's experiment "
                                                                  "does not hold that run; its curves stay)"));
        }
    }
    return summary;
}

TbExportSummary exportRunsToTensorBoard(const std::vector<std::string>& runDirs, const std::string& outDir,
                                        const std::string& host, double now) {
    std::vector<TbRun> runs;
    std::vector<std::string> notes;
    for (const auto& r : runDirs) {
        const std::string path = (fs::path(r) / "events.jsonl").string();
        if (!fs::exists(path)) throw Error(path + ": not found (is " + r + " a run folder written by `caspl run`?)");
        RunEventLog log = readEventLog(path);
        if (log.truncatedLastLine) notes.push_back(path + ": the last line is incomplete and was left out");
        fs::path folder = fs::absolute(r).lexically_normal();
        if (folder.filename().empty()) folder = folder.parent_path();
        runs.push_back({folder.filename().string(), folder.string(), std::move(log)});
    }
    // Each run as a session of TensorBoard's HParams dashboard: the keys that differ between these runs, the method,
    // the headline figures.
    const RunsTable table = readRunsTable(runDirs);
    const auto sessions = tensorBoardSessions(table);
    for (std::size_t i = 0; i < runs.size() && i < sessions.size(); ++i) {
        runs[i].session = sessions[i];
        if (table.rows[i].status.state == "unreadable")
            notes.push_back(table.rows[i].status.message + " (no HParams session for it)");
    }
    TbExportSummary summary = writeTensorBoard(runs, outDir, host, now);
    summary.warnings.insert(summary.warnings.begin(), notes.begin(), notes.end());
    return summary;
}

// ---------------------------------------------------------------------------------------------------------------
// Written while the run runs.

TensorBoardLiveWriter::TensorBoardLiveWriter(std::string dir, std::string host, const RunEventLog& earlier)
    : dir_(std::move(dir)), host_(std::move(host)) {
    // The earlier log's bookkeeping, in its order: evaluation i came after evalAfterMetrics[i] metric lines.
    std::size_t m = 0;
    for (std::size_t i = 0; i <= earlier.evals.size(); ++i) {
        std::size_t upTo = earlier.metrics.size();
        if (i < earlier.evals.size() && i < earlier.evalAfterMetrics.size()) upTo = std::min(upTo, earlier.evalAfterMetrics[i]);
        for (; m < upTo; ++m) noteMetric(earlier.metrics[m]);
        if (i < earlier.evals.size()) {
            std::string prefix;
            int64_t step = 0;
            std::optional<double> hm;
            noteEval(earlier.evals[i], prefix, step, hm);
        }
    }
}

TensorBoardLiveWriter::Folder& TensorBoardLiveWriter::folder(const std::string& name) {
    auto [it, added] = folders_.try_emplace(name);
    if (added) it->second.name = name;
    return it->second;
}

TensorBoardLiveWriter::Folder* TensorBoardLiveWriter::noteMetric(const MetricEvent& e) {
    if (e.dataset.empty()) return nullptr;
    const bool phase1 = e.phase == "phase1";
    Folder& f = folder(trainingFolder(e.dataset, phase1, e.shots, e.seed));
    if (f.lastStep >= 0 && e.step <= f.lastStep) {
        // A resumed training logs again from its checkpoint: what came from this step on is being redone.
        f.lastStepOfEpoch.erase(f.lastStepOfEpoch.lower_bound(e.epoch), f.lastStepOfEpoch.end());
        for (auto it = f.accuracy.begin(); it != f.accuracy.end();)
            it = std::get<2>(it->first) >= e.step ? f.accuracy.erase(it) : std::next(it);
    }
    f.lastStep = e.step;
    auto [it, added] = f.lastStepOfEpoch.try_emplace(e.epoch, e.step);
    if (!added) it->second = std::max(it->second, e.step);
    if (!phase1) lastTraining_[{e.shots, e.seed}] = f.name;
    return &f;
}

TensorBoardLiveWriter::Folder& TensorBoardLiveWriter::noteEval(const EvalRow& r, std::string& tagPrefix, int64_t& step,
                                                               std::optional<double>& hm) {
    // The runner evaluates right after the training it evaluates: the last training of this K and seed. An
    // evaluation of another dataset (cross-dataset, domain generalisation) is that training's too, under the
    // dataset's name. One without a training (zero-shot) has its own folder.
    std::string name = trainingFolder(r.dataset, false, r.shots, r.seed), target;
    const auto trained = lastTraining_.find({r.shots, r.seed});
    if (trained != lastTraining_.end()) {
        if (trained->second != name) target = safeName(r.dataset);
        name = trained->second;
    }
    Folder& f = folder(name);
    const auto epoch = f.lastStepOfEpoch.find(r.epoch);
    step = r.epoch <= 0 ? 0 : epoch != f.lastStepOfEpoch.end() ? epoch->second : f.lastStep >= 0 ? f.lastStep : r.epoch;
    tagPrefix = "eval/" + (target.empty() ? std::string() : target + "/");
    f.accuracy[{target, r.split, step}] = r.accuracy;
    hm.reset();
    if (r.split == "base" || r.split == "novel") {
        const auto base = f.accuracy.find({target, "base", step}), novel = f.accuracy.find({target, "novel", step});
        if (base != f.accuracy.end() && novel != f.accuracy.end()) hm = harmonicMean(base->second, novel->second);
    }
    return f;
}

void TensorBoardLiveWriter::sessionStart(const TbSession& session, double wallTime) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw Error(dir_ + ": cannot create the folder (" + ec.message() + ")");
    // After the earlier processes' files, which TensorBoard reads first.
    int64_t time = int64_t(wallTime);
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (isOurEventFile(name)) time = std::max(time, timeInName(name) + 1);
    }
    const std::string file = "events.out.tfevents." + std::to_string(time) + "." + safeName(host_) + ".caspl";
    sessionPath_ = (fs::path(dir_) / file).string();
    // No end record yet: the plugin may keep the first status it reads for a session, so "running" written now could
    // stay after the run ends; the status is unknown until sessionEnd.
    TbSession s = session;
    s.status = 0;
    s.startTime = wallTime;
    s.endTime = 0;
    s.metrics.clear();
    std::ofstream out(sessionPath_, std::ios::binary | std::ios::trunc);
    out << tbSessionEventFile(s, wallTime);
    out.flush();
    if (!out) throw Error(sessionPath_ + ": cannot write (is the disk full?)");
    files_.push_back(file);
}

void TensorBoardLiveWriter::sessionEnd(int status, const std::vector<std::pair<std::string, double>>& metrics, double wallTime) {
    if (sessionPath_.empty()) return;
    std::ofstream out(sessionPath_, std::ios::binary | std::ios::app);
    for (const auto& [tag, value] : metrics) out << tfRecord(scalarEvent({tag, 0, wallTime, value}));
    if (status >= 1 && status <= 2) {  // a stopped run (unknown) gets none, as the export writes it: it resumes later
        std::string endInfo;
        putInt(endInfo, 1, status);
        putDouble(endInfo, 2, wallTime);
        out << tfRecord(hparamsSummaryEvent("_hparams_/session_end_info", 4, endInfo, wallTime));
    }
    out.flush();
    if (!out) throw Error(sessionPath_ + ": cannot write (is the disk full?)");
    scalars_ += int64_t(metrics.size());
}

void TensorBoardLiveWriter::write(Folder& f, int64_t sessionStep, const std::vector<TbScalar>& scalars) {
    if (open_ != &f) {
        if (open_) open_->out.reset();  // one file open at a time; a folder's file is appended to when it comes back
        open_ = nullptr;
        const double now = scalars.empty() ? 0.0 : scalars.front().wallTime;
        if (f.path.empty()) {
            const fs::path dir = fs::path(dir_) / f.name;
            std::error_code ec;
            fs::create_directories(dir, ec);
            if (ec) throw Error(dir.string() + ": cannot create the folder (" + ec.message() + ")");
            // TensorBoard reads a folder's files in name order: this process's comes after the earlier ones.
            int64_t time = int64_t(now);
            for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
                const std::string name = it->path().filename().string();
                if (isOurEventFile(name)) time = std::max(time, timeInName(name) + 1);
            }
            const std::string file = "events.out.tfevents." + std::to_string(time) + "." + safeName(host_) + ".caspl";
            f.path = (dir / file).string();
            f.out = std::make_unique<std::ofstream>(f.path, std::ios::binary | std::ios::trunc);
            if (!*f.out) throw Error(f.path + ": cannot open for writing");
            *f.out << tfRecord(versionEvent(now)) << tfRecord(sessionStartEvent(now, sessionStep));
            files_.push_back((fs::path(f.name) / file).string());
        } else {
            f.out = std::make_unique<std::ofstream>(f.path, std::ios::binary | std::ios::app);
            if (!*f.out) throw Error(f.path + ": cannot open for writing");
        }
        open_ = &f;
    }
    for (const TbScalar& s : scalars) *f.out << tfRecord(scalarEvent(s));
    f.out->flush();
    if (!*f.out) throw Error(f.path + ": cannot write (is the disk full?)");
    scalars_ += int64_t(scalars.size());
}

void TensorBoardLiveWriter::metric(const MetricEvent& e, double wallTime) {
    Folder* f = noteMetric(e);
    if (!f) return;
    std::vector<TbScalar> scalars;
    for (const auto& [key, v] : e.values) scalars.push_back({"train/" + key, e.step, wallTime, v});
    write(*f, e.step, scalars);
}

void TensorBoardLiveWriter::evaluation(const EvalRow& r, double wallTime) {
    std::string prefix;
    int64_t step = 0;
    std::optional<double> hm;
    Folder& f = noteEval(r, prefix, step, hm);
    std::vector<TbScalar> scalars{{prefix + r.split, step, wallTime, r.accuracy}};
    if (hm) scalars.push_back({prefix + "hm", step, wallTime, *hm});
    // A file that starts with an evaluation starts its session after the training's steps: it redoes none of them.
    write(f, f.lastStep >= 0 ? std::max(step, f.lastStep + 1) : step, scalars);
}

TensorBoardSink::TensorBoardSink(std::unique_ptr<TensorBoardLiveWriter> writer, EventSink& next)
    : writer_(std::move(writer)), next_(next) {}

template <typename F>
void TensorBoardSink::guarded(F f) {
    std::string problem;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!writer_) return;
        try {
            f(*writer_, std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
        } catch (const std::exception& e) {
            problem = e.what();
            writer_.reset();
        }
    }
    if (!problem.empty())
        next_.log(LogLevel::Warning, "TensorBoard files: " + problem +
                                         "; the run goes on without them (train.tensorboard: false turns them off)");
}

void TensorBoardSink::metric(const MetricEvent& e) {
    // Stamped here, the first sink a run's events enter: the TensorBoard files, events.jsonl and the front end
    // then give the step the same wall time.
    MetricEvent stamped = e;
    if (stamped.time <= 0) stamped.time = nowEventTime();
    guarded([&stamped](TensorBoardLiveWriter& w, double) { w.metric(stamped, stamped.time); });
    next_.metric(stamped);
}

void TensorBoardSink::evalRow(const EvalRow& r) {
    guarded([&r](TensorBoardLiveWriter& w, double now) { w.evaluation(r, now); });
    next_.evalRow(r);
}

void TensorBoardSink::sessionStart(const TbSession& session) {
    guarded([&](TensorBoardLiveWriter& w, double now) { w.sessionStart(session, now); });
}

void TensorBoardSink::sessionEnd(int status, const std::vector<std::pair<std::string, double>>& metrics) {
    guarded([&](TensorBoardLiveWriter& w, double now) { w.sessionEnd(status, metrics, now); });
}

}  // namespace caspl
