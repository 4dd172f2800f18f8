#include "core/experiment/sweep.h"

#include "core/util/error.h"

#include <algorithm>

namespace caspl {

namespace {

std::string trimmed(const std::string& s) {
    const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string lastPart(const std::string& key) {
    const auto dot = key.rfind('.');
    return dot == std::string::npos ? key : key.substr(dot + 1);
}

}  // namespace

SweepAxis parseSweepAxis(const std::string& arg) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos || trimmed(arg.substr(0, eq)).empty())
        throw Error("sweep " + arg + ": expected KEY=V1,V2,... (e.g. train.lr=0.001,0.002,0.004)");
    SweepAxis a;
    a.key = trimmed(arg.substr(0, eq));
    const std::string text = arg.substr(eq + 1);
    const auto push = [&](const std::string& raw) {
        const std::string v = trimmed(raw);
        if (v.empty()) throw Error("sweep " + arg + ": an empty value (expected KEY=V1,V2,...)");
        if (std::find(a.values.begin(), a.values.end(), v) != a.values.end())
            throw Error("sweep " + arg + ": the value " + v + " is given twice");
        a.values.push_back(v);
    };
    std::string value;
    int depth = 0;
    char quote = 0;
    for (char c : text) {
        if (quote) {
            if (c == quote) quote = 0;
        } else if ((c == '"' || c == '\'') && trimmed(value).empty()) {
            quote = c;  // a quoted value: its commas are its own
        } else if (c == '[' || c == '{') {
            ++depth;
        } else if (c == ']' || c == '}') {
            if (--depth < 0) throw Error("sweep " + arg + ": a '" + std::string(1, c) + "' closes nothing");
        } else if (c == ',' && depth == 0) {
            push(value);
            value.clear();
            continue;
        }
        value += c;
    }
    if (quote) throw Error("sweep " + arg + ": a quote is not closed");
    if (depth > 0) throw Error("sweep " + arg + ": a bracket is not closed");
    push(value);
    return a;
}

bool sweepableKey(const std::string& key) {
    return key != "name" && key != "description" && key != "source" && key != "output" && key.rfind("reference.", 0) != 0;
}

void checkSweepAxes(const std::vector<SweepAxis>& axes, const std::vector<std::string>& sets) {
    std::size_t runs = 1;
    for (std::size_t i = 0; i < axes.size(); ++i) {
        if (!sweepableKey(axes[i].key))
            throw Error("sweep " + axes[i].key + ": names or documents the experiment, so it cannot be swept (a sweep's "
                        "runs are named after their values)");
        for (std::size_t j = 0; j < i; ++j)
            if (axes[j].key == axes[i].key) throw Error("sweep " + axes[i].key + " is given twice");
        for (const auto& set : sets)
            if (trimmed(set.substr(0, set.find('='))) == axes[i].key)
                throw Error("sweep " + axes[i].key + ": the key is also set (" + trimmed(set) + "); keep one");
        runs *= std::max<std::size_t>(1, axes[i].values.size());
        if (runs > kMaxSweepRuns)
            throw Error("sweep: more than " + std::to_string(kMaxSweepRuns) + " runs; sweep fewer values at a time");
    }
}

std::vector<SweepCombination> sweepCombinations(const std::vector<SweepAxis>& axes) {
    std::vector<SweepCombination> combos{{}};
    for (const auto& axis : axes) {
        std::vector<SweepCombination> next;
        for (const auto& c : combos)
            for (const auto& v : axis.values) {
                next.push_back(c);
                next.back().emplace_back(axis.key, v);
            }
        combos = std::move(next);
    }
    return combos;
}

std::string sweepRunName(const std::string& name, const std::vector<SweepAxis>& axes, const SweepCombination& combination) {
    std::string out = name;
    for (const auto& [key, value] : combination) {
        int sharing = 0;
        for (const auto& a : axes) sharing += lastPart(a.key) == lastPart(key);
        std::string v;
        for (unsigned char c : value) {
            const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                              c == '_' || c == '+' || c == '-';
            v += keep ? char(c) : '_';
        }
        out += "-" + (sharing > 1 ? key : lastPart(key)) + "=" + v;
    }
    return out;
}

std::vector<std::string> sweepRunNames(const std::string& name, const std::vector<SweepAxis>& axes,
                                       const std::vector<SweepCombination>& combinations) {
    std::vector<std::string> names;
    const auto describe = [](const SweepCombination& c) {
        std::string d;
        for (const auto& [k, v] : c) d += (d.empty() ? "" : ", ") + k + "=" + v;
        return d;
    };
    for (std::size_t i = 0; i < combinations.size(); ++i) {
        names.push_back(sweepRunName(name, axes, combinations[i]));
        for (std::size_t j = 0; j < i; ++j)
            if (names[j] == names[i])
                throw Error("sweep: " + describe(combinations[j]) + " and " + describe(combinations[i]) +
                            " would both run into " + names[i] + " (a folder name keeps only letters, digits and ._+-); "
                            "sweep values that differ in those");
    }
    return names;
}

}  // namespace caspl
