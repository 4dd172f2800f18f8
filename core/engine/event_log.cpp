#include "core/engine/event_log.h"

#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

namespace caspl {

using nlohmann::json;

namespace {

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::string number(double v) {
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

template <typename T>
T field(const json& j, const char* key, const T& fallback, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    try {
        return it->get<T>();
    } catch (const json::exception&) {
        throw Error(where + ": key '" + key + "' has the wrong type (" + it->type_name() + ")");
    }
}

}  // namespace

RunEventLog readEventLog(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open (a run folder's event log)");
    RunEventLog log;
    std::string line;
    int64_t lineNo = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        const bool last = in.peek() == std::char_traits<char>::eof();
        if (line.empty()) continue;
        const std::string where = path + ":" + std::to_string(lineNo);
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception& e) {
            if (last) {  // the run stopped while writing this line
                log.truncatedLastLine = true;
                break;
            }
            throw Error(where + ": not a JSON object (" + e.what() + ")");
        }
        if (!j.is_object()) throw Error(where + ": expected a JSON object per line");
        const std::string type = field<std::string>(j, "type", "", where);
        if (type == "metric") {
            MetricEvent e;
            e.run = field<std::string>(j, "run", "", where);
            e.phase = field<std::string>(j, "phase", "", where);
            e.epoch = field<int>(j, "epoch", 0, where);
            e.step = field<int64_t>(j, "step", 0, where);
            e.dataset = field<std::string>(j, "dataset", "", where);
            e.shots = field<int>(j, "shots", 0, where);
            e.seed = field<int>(j, "seed", 0, where);
            auto v = j.find("values");
            if (v == j.end() || !v->is_object()) throw Error(where + ": a metric line needs 'values' (an object of numbers)");
            for (auto it = v->begin(); it != v->end(); ++it) {
                // JSON has no NaN: nlohmann writes a non-finite value as null.
                if (it->is_null()) e.values[it.key()] = std::nan("");
                else if (it->is_number()) e.values[it.key()] = it->get<double>();
                else throw Error(where + ": values." + it.key() + ": expected a number, found " + it->type_name());
            }
            log.metrics.push_back(std::move(e));
        } else if (type == "eval") {
            EvalRow r;
            r.run = field<std::string>(j, "run", "", where);
            r.dataset = field<std::string>(j, "dataset", "", where);
            r.method = field<std::string>(j, "method", "", where);
            r.seed = field<int>(j, "seed", 0, where);
            r.split = field<std::string>(j, "split", "", where);
            r.epoch = field<int>(j, "epoch", 0, where);
            r.accuracy = field<double>(j, "accuracy", 0.0, where);
            r.correct = field<int64_t>(j, "correct", 0, where);
            r.total = field<int64_t>(j, "total", 0, where);
            r.skippedImages = field<int64_t>(j, "skipped_images", 0, where);
            r.shots = field<int>(j, "shots", 0, where);
            log.evals.push_back(std::move(r));
        }
    }
    log.lines = lineNo;
    return log;
}

std::string curvesCsvText(const std::vector<MetricEvent>& metrics) {
    std::set<std::string> keys;
    for (const auto& e : metrics)
        for (const auto& [k, v] : e.values) keys.insert(k);
    std::ostringstream out;
    out << "run,phase,dataset,shots,seed,epoch,step";
    for (const auto& k : keys) out << "," << csvField(k);
    out << "\n";
    for (const auto& e : metrics) {
        out << csvField(e.run) << "," << csvField(e.phase) << "," << csvField(e.dataset) << "," << e.shots << "," << e.seed << ","
            << e.epoch << "," << e.step;
        for (const auto& k : keys) {
            out << ",";
            auto it = e.values.find(k);
            if (it != e.values.end()) out << number(it->second);
        }
        out << "\n";
    }
    return out.str();
}

}  // namespace caspl
