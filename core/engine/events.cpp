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

std::string seriesLabel(const MetricEvent& e) {
    std::string s = e.dataset;
    if (e.shots > 0) s += (s.empty() ? "" : " · ") + std::to_string(e.shots) + " shots";
    if (e.shots > 0 || e.seed > 0) s += (s.empty() ? "" : " · ") + std::string("seed ") + std::to_string(e.seed);
    return s;
}

}  // namespace caspl
