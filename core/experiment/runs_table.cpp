#include "core/experiment/runs_table.h"

#include "core/experiment/results.h"
#include "core/experiment/spec_loader.h"
#include "core/util/error.h"
#include "core/util/number_text.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

namespace caspl {

namespace {

std::string scalarText(const YAML::Node& n) {
    if (n.IsNull()) return "null";
    if (n.IsScalar()) return n.Scalar();
    YAML::Emitter e;
    e << YAML::Flow << n;
    return e.c_str();
}

void flatten(const YAML::Node& n, const std::string& prefix, FlatConfig& out) {
    if (n.IsMap()) {
        for (auto it = n.begin(); it != n.end(); ++it) {
            const std::string key = it->first.as<std::string>();
            flatten(it->second, prefix.empty() ? key : prefix + '.' + key, out);
        }
        return;
    }
    out.emplace_back(prefix, scalarText(n));
}

// Two decimals whatever the C library's locale (a studio started in a locale with decimal commas).
std::string figure(const std::optional<double>& v) { return v ? fixedText(*v, 2) : std::string(); }

}  // namespace

FlatConfig flattenYaml(const std::string& yaml, const std::string& source) {
    FlatConfig out;
    try {
        const YAML::Node root = YAML::Load(yaml);
        if (root.IsDefined() && !root.IsNull()) flatten(root, {}, out);
    } catch (const YAML::Exception& e) {
        throw Error(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    return out;
}

FlatConfig runConfig(const ExperimentSpec& spec, const std::string& source) {
    FlatConfig flat = flattenYaml(toYaml(spec), source);
    std::set<std::string> inert;
    for (const auto& k : inertKeys(spec)) inert.insert(k.key);
    flat.erase(std::remove_if(flat.begin(), flat.end(), [&](const auto& kv) { return inert.count(kv.first) > 0; }),
               flat.end());
    return flat;
}

bool runsTableKey(const std::string& key) {
    return key != "name" && !isOperationalKey(key) && key != "reference" && key.rfind("reference.", 0) != 0;
}

RunsTable makeRunsTable(std::vector<RunsTableRow> rows) {
    RunsTable t;
    // Every key in order of first appearance, and the values each row gives it.
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::optional<std::string>>> byKey;
    for (std::size_t i = 0; i < rows.size(); ++i)
        for (const auto& [key, value] : rows[i].config) {
            auto& values = byKey[key];
            if (values.empty()) {
                order.push_back(key);
                values.resize(rows.size());
            }
            if (!values[i]) values[i] = value;  // a key given twice (malformed YAML aside): the first counts
        }
    // A key differs when two runs that use it give it different values. A row without a configuration (one that
    // does not load) is left out of the comparison: it would make every key differ. So is a run without the key (one
    // for which it has no effect, runConfig): a CoOp run beside PromptSRC runs does not make PromptSRC's loss weights
    // differ.
    for (const auto& key : order) {
        if (!runsTableKey(key)) continue;
        const auto& values = byKey[key];
        const std::string* first = nullptr;
        bool differs = false;
        for (std::size_t i = 0; i < values.size() && !differs; ++i) {
            if (rows[i].config.empty() || !values[i]) continue;
            if (!first) first = &*values[i];
            else differs = *values[i] != *first;
        }
        if (differs) t.keys.push_back(key);
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
        rows[i].values.clear();
        for (const auto& key : t.keys) rows[i].values.push_back(byKey[key][i].value_or(std::string()));
    }
    // The best row: by HM where any row has one, else by the accuracy on all classes.
    bool anyHm = false;
    for (const auto& r : rows) anyHm = anyHm || r.status.hm.has_value();
    std::size_t withFigure = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const std::optional<double> v = anyHm ? rows[i].status.hm : rows[i].status.accuracy;
        if (!v) continue;
        ++withFigure;
        const auto& b = t.best ? (anyHm ? rows[*t.best].status.hm : rows[*t.best].status.accuracy) : std::optional<double>();
        if (!b || *v > *b) t.best = i;
    }
    if (withFigure < 2) t.best.reset();
    t.rows = std::move(rows);
    return t;
}

RunsTable readRunsTable(const std::vector<std::string>& folders, const std::map<std::string, ExperimentSpec>& notStarted) {
    std::vector<RunsTableRow> rows;
    for (const auto& folder : folders) {
        RunsTableRow row;
        const auto planned = notStarted.find(folder);
        std::error_code ec;  // a folder that cannot be searched is read below as a run, and named there as unreadable
        if (planned != notStarted.end() && !std::filesystem::exists(std::filesystem::path(folder) / "config.yaml", ec) && !ec) {
            const ExperimentSpec& spec = planned->second;
            row.status.folder = folder;
            row.status.name = spec.name;
            row.status.method = methodLabel(spec);
            row.status.state = "queued";
            row.status.evaluations = plannedEvaluations(spec);
            try {
                row.config = runConfig(spec, folder + " (queued)");
            } catch (const std::exception& e) {
                row.config.clear();
                row.status.state = "unreadable";
                row.status.message = e.what();
            }
            rows.push_back(std::move(row));
            continue;
        }
        try {
            // The experiment as this version resolves it: a key that an earlier version did not write has its
            // default, as it has when the run is resumed.
            ExperimentSpec spec;
            row.status = readRunFolderStatus(folder, &spec);
            row.config = runConfig(spec, (std::filesystem::path(folder) / "config.yaml").string());
            try {
                row.notes = readRunNotes(folder);
            } catch (const std::exception& e) {
                row.notesError = e.what();
            }
        } catch (const std::exception& e) {
            row = RunsTableRow{};
            row.status.folder = folder;
            row.status.name = std::filesystem::path(folder).filename().string();
            row.status.state = "unreadable";
            row.status.message = e.what();
        }
        rows.push_back(std::move(row));
    }
    return makeRunsTable(std::move(rows));
}

RunsTable runsWithTags(const RunsTable& table, const std::vector<std::string>& tags) {
    std::vector<RunsTableRow> rows;
    for (const auto& r : table.rows) {
        bool all = true;
        for (const auto& t : tags) all = all && std::find(r.notes.tags.begin(), r.notes.tags.end(), t) != r.notes.tags.end();
        if (all) rows.push_back(r);
    }
    return makeRunsTable(std::move(rows));
}

std::optional<double> configNumber(const std::string& value) {
    // A list of one number ("[4]": data.shots or data.seeds swept one value at a time) is that number.
    if (value.size() > 2 && value.front() == '[' && value.back() == ']') {
        const auto b = value.find_first_not_of(' ', 1), e = value.find_last_not_of(' ', value.size() - 2);
        if (b == std::string::npos || b > e || value[b] == '[') return std::nullopt;
        return configNumber(value.substr(b, e - b + 1));
    }
    // from_chars: the same in every locale ("0.002" is a number in de_DE too).
    double v = 0;
    const char* end = value.data() + value.size();
    const auto r = std::from_chars(value.data(), end, v);
    if (value.empty() || r.ec != std::errc() || r.ptr != end || !std::isfinite(v)) return std::nullopt;
    return v;
}

namespace {

// A number between the labelled values, for an axis label: 3 significant digits ("0.0035", "1.2e+03").
std::string shortNumber(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 3);
    return std::string(buf, r.ptr);
}

}  // namespace

std::optional<double> ParallelAxis::position(double v) const {
    if (!numeric || !std::isfinite(v) || v < low || v > high) return std::nullopt;
    if (high == low) return 0.5;
    if (logScale) return (std::log(v) - std::log(low)) / (std::log(high) - std::log(low));
    return (v - low) / (high - low);
}

double ParallelAxis::valueAt(double p) const {
    p = std::clamp(p, 0.0, 1.0);
    if (high == low || p <= 0) return low;
    if (p >= 1) return high;
    if (logScale) return std::exp(std::log(low) + p * (std::log(high) - std::log(low)));
    return low + p * (high - low);
}

ParallelBrush ParallelBrush::between(const ParallelAxis& axis, double from, double to) {
    if (from > to) std::swap(from, to);
    ParallelBrush b;
    b.axis = axis.name;
    b.numeric = axis.numeric;
    if (axis.numeric) {
        if (axis.high == axis.low) {  // every value at 0.5
            const bool in = from <= 0.5 && to >= 0.5;
            b.low = in ? axis.low : 1;
            b.high = in ? axis.high : 0;
        } else {
            b.low = axis.valueAt(from);
            b.high = axis.valueAt(to);
        }
        return b;
    }
    for (const auto& c : axis.categories) {
        const double at = *axis.position(c);
        if (at >= from && at <= to) b.categories.push_back(c);
    }
    return b;
}

bool ParallelBrush::contains(double value) const { return numeric && std::isfinite(value) && value >= low && value <= high; }

bool ParallelBrush::contains(const std::string& value) const {
    if (value.empty()) return false;
    if (numeric) {
        const auto v = configNumber(value);
        return v && contains(*v);
    }
    return std::find(categories.begin(), categories.end(), value) != categories.end();
}

std::optional<std::pair<double, double>> ParallelBrush::span(const ParallelAxis& on) const {
    if (on.numeric != numeric) return std::nullopt;
    if (numeric) {
        if (low > high || high < on.low || low > on.high) return std::nullopt;
        return std::pair{*on.position(std::max(low, on.low)), *on.position(std::min(high, on.high))};
    }
    std::optional<std::pair<double, double>> out;
    for (const auto& c : categories)
        if (const auto at = on.position(c)) out = out ? std::pair{std::min(out->first, *at), std::max(out->second, *at)} : std::pair{*at, *at};
    return out;
}

std::optional<double> ParallelAxis::position(const std::string& value) const {
    if (value.empty()) return std::nullopt;
    if (numeric) {
        const auto v = configNumber(value);
        return v ? position(*v) : std::nullopt;
    }
    const auto it = std::find(categories.begin(), categories.end(), value);
    if (it == categories.end()) return std::nullopt;
    if (categories.size() == 1) return 0.5;
    return double(it - categories.begin()) / double(categories.size() - 1);
}

std::vector<std::pair<double, std::string>> ParallelAxis::ticks() const {
    std::vector<std::pair<double, std::string>> out;
    constexpr std::size_t kAll = 8;
    if (!numeric) {
        for (const auto& c : categories) out.emplace_back(*position(c), c);
        return out;
    }
    if (values.empty()) return out;
    // A config key's few values are each written (a sweep's grid); a figure's are not (they would crowd together).
    if (values.size() == 1 || (values.size() <= kAll && decimals < 0)) {
        for (const auto& [v, text] : values) out.emplace_back(*position(v), text);
        return out;
    }
    out.emplace_back(0.0, values.front().second);
    if (logScale) {
        for (double p = std::pow(10.0, std::ceil(std::log10(low))); p < high; p *= 10)
            if (p > low) out.emplace_back(*position(p), shortNumber(p));
    } else {
        for (int i = 1; i <= 3; ++i) {
            const double v = low + (high - low) * i / 4;
            out.emplace_back(*position(v), decimals >= 0 ? fixedText(v, decimals) : shortNumber(v));
        }
    }
    out.emplace_back(1.0, values.back().second);
    // Close values with few decimals read the same ("70.00" three times): one label each.
    out.erase(std::unique(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second == b.second; }), out.end());
    return out;
}

ParallelAxis makeParallelAxis(std::string name, const std::vector<std::string>& values) {
    ParallelAxis a;
    a.name = std::move(name);
    a.numeric = true;
    bool any = false;
    for (const auto& v : values) {
        if (v.empty()) continue;
        any = true;
        if (!configNumber(v)) a.numeric = false;
    }
    a.numeric = a.numeric && any;
    if (!a.numeric) {
        for (const auto& v : values)
            if (!v.empty()) a.categories.push_back(v);
        std::sort(a.categories.begin(), a.categories.end());
        a.categories.erase(std::unique(a.categories.begin(), a.categories.end()), a.categories.end());
        return a;
    }
    for (const auto& v : values)
        if (!v.empty()) a.values.emplace_back(*configNumber(v), v);
    // Ascending; one label per number ("0.002" and "2e-3" are one value: the first written wins).
    std::stable_sort(a.values.begin(), a.values.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    a.values.erase(std::unique(a.values.begin(), a.values.end(), [](const auto& x, const auto& y) { return x.first == y.first; }),
                   a.values.end());
    a.low = a.values.front().first;
    a.high = a.values.back().first;
    a.logScale = a.low > 0 && a.high >= 10 * a.low;
    return a;
}

ParallelAxis makeFigureAxis(std::string name, const std::vector<double>& values) {
    ParallelAxis a;
    a.name = std::move(name);
    a.numeric = true;
    a.decimals = 2;
    for (const double v : values)
        if (std::isfinite(v)) a.values.emplace_back(v, fixedText(v, 2));
    if (a.values.empty()) {
        a.numeric = false;  // nothing to place
        return a;
    }
    std::sort(a.values.begin(), a.values.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    a.values.erase(std::unique(a.values.begin(), a.values.end(), [](const auto& x, const auto& y) { return x.first == y.first; }),
                   a.values.end());
    a.low = a.values.front().first;
    a.high = a.values.back().first;
    return a;
}

namespace {

// Ranks from 1, ties sharing the mean of their ranks (as Spearman's rho needs them).
std::vector<double> averageRanks(const std::vector<double>& v) {
    std::vector<std::size_t> order(v.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<double> rank(v.size());
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
        const double shared = double(i + j) / 2 + 1;
        for (std::size_t k = i; k <= j; ++k) rank[order[k]] = shared;
        i = j + 1;
    }
    return rank;
}

std::optional<double> pearson(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = double(x.size());
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    if (sxx <= 0 || syy <= 0) return std::nullopt;
    return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

}  // namespace

std::vector<KeyCorrelation> keyCorrelations(const RunsTable& table, const std::vector<std::optional<double>>& figures) {
    if (figures.size() != table.rows.size())
        throw Error("keyCorrelations: " + std::to_string(figures.size()) + " figures for " + std::to_string(table.rows.size()) + " runs");
    std::vector<KeyCorrelation> out;
    for (std::size_t k = 0; k < table.keys.size(); ++k) {
        std::vector<std::string> values;
        std::vector<double> ys;
        for (std::size_t i = 0; i < table.rows.size(); ++i) {
            const auto& r = table.rows[i];
            if (!figures[i] || !std::isfinite(*figures[i]) || r.config.empty() || r.values[k].empty()) continue;
            values.push_back(r.values[k]);
            ys.push_back(*figures[i]);
        }
        if (values.size() < 3) continue;
        KeyCorrelation c;
        c.key = table.keys[k];
        c.runs = values.size();
        c.numeric = std::all_of(values.begin(), values.end(), [](const std::string& v) { return configNumber(v).has_value(); });
        if (c.numeric) {
            std::vector<double> xs;
            for (const auto& v : values) xs.push_back(*configNumber(v));
            const auto rho = pearson(averageRanks(xs), averageRanks(ys));
            if (!rho) continue;
            c.value = *rho;
        } else {
            std::map<std::string, std::pair<double, std::size_t>> groups;  // value -> (sum, count)
            double mean = 0;
            for (std::size_t i = 0; i < values.size(); ++i) {
                auto& g = groups[values[i]];
                g.first += ys[i];
                ++g.second;
                mean += ys[i];
            }
            // One value; or fewer than two runs per value on average, where eta is mostly chance (it is 1 when every
            // value is held once, and stays high with a few runs per value even for figures that are pure noise).
            if (groups.size() < 2 || 2 * groups.size() > values.size()) continue;
            mean /= double(values.size());
            double total = 0, between = 0;
            for (const double y : ys) total += (y - mean) * (y - mean);
            for (const auto& [value, g] : groups) {
                const double m = g.first / double(g.second);
                between += double(g.second) * (m - mean) * (m - mean);
            }
            if (total <= 0) continue;
            c.value = std::sqrt(std::clamp(between / total, 0.0, 1.0));
        }
        out.push_back(std::move(c));
    }
    std::stable_sort(out.begin(), out.end(), [](const KeyCorrelation& a, const KeyCorrelation& b) {
        return std::abs(a.value) > std::abs(b.value);
    });
    return out;
}

std::vector<std::optional<double>> headlineFigures(const RunsTable& table) {
    const bool anyHm = std::any_of(table.rows.begin(), table.rows.end(), [](const RunsTableRow& r) { return r.status.hm.has_value(); });
    std::vector<std::optional<double>> out;
    for (const auto& r : table.rows) out.push_back(anyHm ? r.status.hm : r.status.accuracy);
    return out;
}

std::string runsTableCsvText(const RunsTable& table) {
    std::string out;
    const auto line = [&out](const std::vector<std::string>& fields) {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (i) out += ',';
            out += csvField(fields[i]);
        }
        out += '\n';
    };
    std::vector<std::string> header{"folder", "run", "method", "state", "evaluated", "evaluations"};
    header.insert(header.end(), table.keys.begin(), table.keys.end());
    for (const char* h : {"base", "novel", "hm", "all", "runtime_s", "tags", "note"}) header.push_back(h);
    line(header);
    for (const auto& r : table.rows) {
        const RunFolderStatus& s = r.status;
        std::vector<std::string> fields{s.folder, s.name, s.method, s.state, std::to_string(s.evaluated), std::to_string(s.evaluations)};
        fields.insert(fields.end(), r.values.begin(), r.values.end());
        for (const auto* v : {&s.base, &s.novel, &s.hm, &s.accuracy}) fields.push_back(figure(*v));
        fields.push_back(s.runtime ? fixedText(*s.runtime, 1) : std::string());  // seconds, as W&B's export gives them
        fields.push_back(joinTags(r.notes.tags));
        fields.push_back(r.notes.note);
        line(fields);
    }
    return out;
}

}  // namespace caspl
