#include "core/engine/events.h"

namespace caspl {

const char* logLevelName(LogLevel level) {
    switch (level) {
        case LogLevel::Debug: return "debug";
        case LogLevel::Info: return "info";
        case LogLevel::Warning: return "warning";
        case LogLevel::Error: return "error";
    }
    return "info";
}

std::string trainingLabel(const std::string& dataset, int shots, int seed) {
    std::string s = dataset;
    if (shots > 0) s += (s.empty() ? "" : " · ") + std::to_string(shots) + " shots";
    if (shots > 0 || seed > 0) s += (s.empty() ? "" : " · ") + std::string("seed ") + std::to_string(seed);
    return s;
}

}  // namespace caspl
