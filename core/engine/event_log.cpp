#include "core/engine/event_log.h"

#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>

#include <sys/stat.h>
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
    char buf[64];  // as printf's "%.9g" in the C locale, whatever the process's locale
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 9);
    return std::string(buf, r.ptr);
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

namespace {

LogLevel levelNamed(const std::string& name) {
    if (name == "debug") return LogLevel::Debug;
    if (name == "warning") return LogLevel::Warning;
    if (name == "error") return LogLevel::Error;
    return LogLevel::Info;
}

// The fields that metric and progress lines share: which run, phase and training, and where in it.
template <typename Event>
void readTraining(const json& j, const std::string& where, Event& e) {
    e.run = field<std::string>(j, "run", "", where);
    e.phase = field<std::string>(j, "phase", "", where);
    e.dataset = field<std::string>(j, "dataset", "", where);
    e.shots = field<int>(j, "shots", 0, where);
    e.seed = field<int>(j, "seed", 0, where);
    e.epoch = field<int>(j, "epoch", 0, where);
    e.step = field<int64_t>(j, "step", 0, where);
}

// One line of events.jsonl (already parsed) handed to the sink; `where` is file:line for messages. `curvesOnly`:
// metric and eval lines only, the others not even looked at (a damaged progress line does not stop the curves).
void dispatchLine(const json& j, const std::string& where, EventSink& sink, bool curvesOnly = false) {
    if (!j.is_object()) throw Error(where + ": expected a JSON object per line");
    const std::string type = field<std::string>(j, "type", "", where);
    if (curvesOnly && type != "metric" && type != "eval") return;
    if (type == "metric") {
        MetricEvent e;
        readTraining(j, where, e);
        auto v = j.find("values");
        if (v == j.end() || !v->is_object()) throw Error(where + ": a metric line needs 'values' (an object of numbers)");
        for (auto it = v->begin(); it != v->end(); ++it) {
            // JSON has no NaN: nlohmann writes a non-finite value as null.
            if (it->is_null()) e.values[it.key()] = std::nan("");
            else if (it->is_number()) e.values[it.key()] = it->get<double>();
            else throw Error(where + ": values." + it.key() + ": expected a number, found " + it->type_name());
        }
        const auto t = j.find("time");
        if (t != j.end() && t->is_string()) e.time = parseEventTime(t->get<std::string>());
        sink.metric(e);
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
        sink.evalRow(r);
    } else if (type == "progress") {
        ProgressEvent e;
        readTraining(j, where, e);
        e.epochs = field<int>(j, "epochs", 0, where);
        e.steps = field<int64_t>(j, "steps", 0, where);
        e.elapsedSeconds = field<double>(j, "elapsed_s", 0.0, where);
        e.etaSeconds = field<double>(j, "eta_s", -1.0, where);
        sink.progress(e);
    } else if (type == "log") {
        sink.log(levelNamed(field<std::string>(j, "level", "info", where)), field<std::string>(j, "message", "", where));
    } else if (type == "phase") {
        sink.phaseChanged(field<std::string>(j, "run", "", where), field<std::string>(j, "phase", "", where));
    }
    // Other types (none today) are skipped: a newer writer's lines do not stop an older reader.
}

// Collects what readEventLog returns; `time` is that of the line being dispatched.
struct Collector : EventSink {
    RunEventLog* log;
    double time = 0;
    explicit Collector(RunEventLog* l) : log(l) {}
    void metric(const MetricEvent& e) override {
        log->metrics.push_back(e);
        log->metricTimes.push_back(time);
    }
    void evalRow(const EvalRow& r) override {
        log->evals.push_back(r);
        log->evalTimes.push_back(time);
        log->evalAfterMetrics.push_back(log->metrics.size());
    }
};

}  // namespace

double parseEventTime(const std::string& s) {
    std::tm tm{};
    int consumed = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                    &tm.tm_sec, &consumed) != 6)
        return 0;
    // An optional fraction of a second (written since events carry milliseconds), then the 'Z' of UTC.
    std::size_t i = std::size_t(consumed);
    double fraction = 0;
    if (i < s.size() && s[i] == '.') {
        double scale = 0.1;
        const std::size_t digits = ++i;
        for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10) fraction += (s[i] - '0') * scale;
        if (i == digits) return 0;
    }
    if (i + 1 != s.size() || s[i] != 'Z') return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return double(timegm(&tm)) + fraction;
}

std::string formatEventTime(double seconds) {
    // Milliseconds, rounded; the whole seconds from the rounded total so that .9996 becomes the next second.
    const auto ms = static_cast<int64_t>(std::llround(seconds * 1000.0));
    const std::time_t whole = std::time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    std::tm tm{};
    gmtime_r(&whole, &tm);
    char buf[96];  // far more than the 24 characters a year of four digits needs
    const auto sub = int(ms - int64_t(whole) * 1000);
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, sub);
    return buf;
}

double nowEventTime() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

RunEventLog readEventLog(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open (a run folder's event log)");
    RunEventLog log;
    Collector collect(&log);
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
        const auto t = j.find("time");  // end() for a line that is not an object (dispatchLine says so)
        collect.time = t != j.end() && t->is_string() ? parseEventTime(t->get<std::string>()) : 0;
        dispatchLine(j, where, collect, /*curvesOnly=*/true);
    }
    log.lines = lineNo;
    return log;
}

EventLogFollower::EventLogFollower(std::string path) : path_(std::move(path)) {}

EventLogFollower::Poll EventLogFollower::poll(EventSink& sink) {
    Poll result;
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) return result;  // not written yet (a run that has not started), or moved away
    std::ifstream in(path_, std::ios::binary);
    if (!in) return result;
    in.seekg(0, std::ios::end);
    const int64_t size = int64_t(in.tellg());
    // Replaced by a new file (a run that took the folder over renames the old log away): another inode, or a file
    // shorter than what was read. Read it from the start.
    const bool replaced = (offset_ > 0 && (static_cast<uint64_t>(st.st_ino) != inode_ || static_cast<uint64_t>(st.st_dev) != device_)) ||
                          size < offset_;
    inode_ = static_cast<uint64_t>(st.st_ino);
    device_ = static_cast<uint64_t>(st.st_dev);
    if (replaced) {  // said before anything of the new file is handed over: the caller drops the old, then polls
        offset_ = 0;
        lineNo_ = 0;
        result.restarted = true;
        return result;
    }
    if (size == offset_) return result;
    in.seekg(offset_);
    std::string chunk(std::size_t(size - offset_), '\0');
    in.read(chunk.data(), std::streamsize(chunk.size()));
    chunk.resize(std::size_t(in.gcount()));
    std::size_t begin = 0;
    for (std::size_t nl; (nl = chunk.find('\n', begin)) != std::string::npos; begin = nl + 1) {
        // Advance first: a line that throws is not read again on the next call.
        offset_ += int64_t(nl + 1 - begin);
        ++lineNo_;
        const std::string line = chunk.substr(begin, nl - begin);
        if (line.empty()) continue;
        const std::string where = path_ + ":" + std::to_string(lineNo_);
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception& e) {
            throw Error(where + ": not a JSON object (" + e.what() + ")");
        }
        dispatchLine(j, where, sink);
        ++result.lines;
    }
    // What follows the last newline is a line still being written: it is read again, whole, next time.
    return result;
}

std::optional<ProgressEvent> lastProgressEvent(const std::string& path, std::string* time) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    in.seekg(0, std::ios::end);
    const int64_t size = int64_t(in.tellg());
    struct Last : EventSink {
        std::optional<ProgressEvent> event;
        void progress(const ProgressEvent& e) override { event = e; }
    };
    // Tails of growing size until one holds a progress line (a run writes one per 1% of a phase, so the first
    // 64 KiB almost always does).
    for (int64_t tail = 64 * 1024;; tail *= 4) {
        const int64_t from = std::max<int64_t>(0, size - tail);
        std::string chunk(std::size_t(size - from), '\0');
        in.clear();
        in.seekg(from);
        in.read(chunk.data(), std::streamsize(chunk.size()));
        chunk.resize(std::size_t(in.gcount()));
        // Whole lines only: the first is cut unless the tail starts the file, the last may be in the writing.
        std::size_t end = chunk.rfind('\n');
        while (end != std::string::npos && end > 0) {
            std::size_t begin = chunk.rfind('\n', end - 1);
            const bool whole = begin != std::string::npos || from == 0;
            begin = begin == std::string::npos ? 0 : begin + 1;
            if (!whole) break;
            const std::string line = chunk.substr(begin, end - begin);
            if (line.find("\"progress\"") != std::string::npos) {
                try {
                    const json j = json::parse(line);
                    if (j.is_object() && j.value("type", std::string()) == "progress") {
                        Last last;
                        dispatchLine(j, path, last);
                        if (time) *time = j.value("time", std::string());
                        return last.event;
                    }
                } catch (const std::exception&) {
                    // a damaged line: look further back
                }
            }
            if (begin == 0) break;
            end = begin - 1;
        }
        if (from == 0) return std::nullopt;
    }
}

namespace {

// A line's "time" without parsing the whole line (the writer's lines are flat: the key appears once, as a key).
double lineTime(const std::string& line) {
    const auto at = line.find("\"time\":\"");
    if (at == std::string::npos) return 0;
    const auto begin = at + 8, end = line.find('"', begin);
    return end == std::string::npos ? 0 : parseEventTime(line.substr(begin, end - begin));
}

}  // namespace

namespace {

// Whether a log line starts a process's lines: "starting run", "resuming run" (counted) or "evaluating run".
enum class Start { None, Run, Eval };
Start startOf(const std::string& line) {
    if (line.find("\"type\":\"log\"") == std::string::npos) return Start::None;
    if (line.find("\"message\":\"starting run ") != std::string::npos || line.find("\"message\":\"resuming run ") != std::string::npos)
        return Start::Run;
    if (line.find("\"message\":\"evaluating run ") != std::string::npos) return Start::Eval;
    return Start::None;
}

// The warnings an earlier version logged just before a process's start line (they belong to that process).
bool logsBeforeStart(const std::string& line) {
    return line.find("\"type\":\"log\"") != std::string::npos &&
           (line.find("\"message\":\"TensorBoard files: ") != std::string::npos ||
            line.find("\"message\":\"TensorBoard HParams session: ") != std::string::npos ||
            line.find("\"message\":\"replacing the earlier configuration of ") != std::string::npos);
}

// Hands the whole lines of a file to `f` from the last to the first (a last line without its newline, one still being
// written or cut by a crash, is left out) until `f` returns false.
template <typename F>
void eachLineBackward(const std::string& path, F f) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    in.seekg(0, std::ios::end);
    int64_t pos = int64_t(in.tellg());
    std::string carry;  // the start of a line whose beginning is in the next chunk back
    bool last = true;   // the file's last piece: what follows its last newline is not a whole line
    while (pos > 0) {
        const int64_t n = std::min<int64_t>(pos, 256 * 1024);
        pos -= n;
        std::string chunk(std::size_t(n), '\0');
        in.seekg(pos);
        in.read(chunk.data(), std::streamsize(n));
        chunk += carry;
        std::size_t end = chunk.size();
        if (last) {
            end = chunk.rfind('\n');
            if (end == std::string::npos) {  // no newline yet: nothing whole so far
                carry.clear();
                if (pos == 0) return;
                continue;
            }
            last = false;
        }
        // chunk[0, end) ends with whole lines; the part before its first newline may go on further back.
        std::size_t lineEnd = end;
        while (true) {
            const std::size_t nl = lineEnd == 0 ? std::string::npos : chunk.rfind('\n', lineEnd - 1);
            if (nl == std::string::npos) break;
            if (!f(chunk.substr(nl + 1, lineEnd - nl - 1))) return;
            lineEnd = nl;
        }
        carry = chunk.substr(0, lineEnd);
        if (pos == 0 && !carry.empty() && !f(carry)) return;
    }
}

}  // namespace

double lastEventTime(const std::string& path) {
    double t = 0;
    eachLineBackward(path, [&](const std::string& line) { return (t = lineTime(line)) <= 0; });
    return t;
}

double attemptEnd(const std::string& path, double since) {
    // Backwards: every `caspl eval` started since then hides the lines before it; the line just before the earliest
    // of them is the process's last. The process's own lines since `since` are few (it wrote run.json every minute).
    double end = 0;
    bool before = false;  // the next line back is the one just before an evaluation's start
    eachLineBackward(path, [&](const std::string& line) {
        const double t = lineTime(line);
        if (t <= 0) return true;
        if (end == 0 || before) {
            end = t;
            before = false;
        }
        if (startOf(line) == Start::Eval && t >= since) {
            before = true;
            end = 0;
            return true;
        }
        return t >= since;
    });
    return end;
}

double runtimeFromEventLog(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return 0;
    double total = 0, first = 0, last = 0, solid = 0;  // solid: the last line not logged before the next start
    bool counted = false;
    std::string line;
    while (std::getline(in, line)) {
        const double t = lineTime(line);
        if (t <= 0) continue;
        if (const Start start = startOf(line); start != Start::None) {
            if (counted && solid > first) total += solid - first;
            counted = start == Start::Run;
            first = last = solid = t;
            continue;
        }
        last = std::max(last, t);
        if (!logsBeforeStart(line)) solid = last;
    }
    if (counted && last > first) total += last - first;
    return total;
}

std::string curvesCsvText(const std::vector<MetricEvent>& metrics) {
    std::set<std::string> keys;
    for (const auto& e : metrics)
        for (const auto& [k, v] : e.values) keys.insert(k);
    std::ostringstream out;
    out << "run,phase,dataset,shots,seed,epoch,step,wall_time";
    for (const auto& k : keys) out << "," << csvField(k);
    out << "\n";
    for (const auto& e : metrics) {
        out << csvField(e.run) << "," << csvField(e.phase) << "," << csvField(e.dataset) << "," << e.shots << "," << e.seed << ","
            << e.epoch << "," << e.step << ",";
        if (e.time > 0) {
            char buf[32];  // to_chars: a point whatever the process's locale
            const auto r = std::to_chars(buf, buf + sizeof buf, e.time, std::chars_format::fixed, 3);
            out << std::string(buf, r.ptr);
        }
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
