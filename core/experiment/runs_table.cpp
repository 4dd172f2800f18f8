#include "core/experiment/runs_table.h"

#include "core/experiment/results.h"
#include "core/experiment/spec_loader.h"
#include "core/util/error.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>

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
std::string figure(const std::optional<double>& v) {
    if (!v) return {};
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, *v, std::chars_format::fixed, 2);
    return std::string(buf, r.ptr);
}

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

bool runsTableKey(const std::string& key) {
    return key != "name" && key != "description" && key != "source" && key != "output" && key != "reference" &&
           key.rfind("reference.", 0) != 0;
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
    // A row without a configuration (one that does not load) is left out of the comparison: it would make every key
    // differ.
    for (const auto& key : order) {
        if (!runsTableKey(key)) continue;
        const auto& values = byKey[key];
        const std::optional<std::string>* first = nullptr;
        bool differs = false;
        for (std::size_t i = 0; i < values.size() && !differs; ++i) {
            if (rows[i].config.empty()) continue;
            if (!first) first = &values[i];
            else differs = values[i] != *first;
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

RunsTable readRunsTable(const std::vector<std::string>& folders) {
    std::vector<RunsTableRow> rows;
    for (const auto& folder : folders) {
        RunsTableRow row;
        try {
            // The experiment as this version resolves it: a key that an earlier version did not write has its
            // default, as it has when the run is resumed.
            ExperimentSpec spec;
            row.status = readRunFolderStatus(folder, &spec);
            row.config = flattenYaml(toYaml(spec), (std::filesystem::path(folder) / "config.yaml").string());
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
    for (const char* h : {"base", "novel", "hm", "all", "tags", "note"}) header.push_back(h);
    line(header);
    for (const auto& r : table.rows) {
        const RunFolderStatus& s = r.status;
        std::vector<std::string> fields{s.folder, s.name, s.method, s.state, std::to_string(s.evaluated), std::to_string(s.evaluations)};
        fields.insert(fields.end(), r.values.begin(), r.values.end());
        for (const auto* v : {&s.base, &s.novel, &s.hm, &s.accuracy}) fields.push_back(figure(*v));
        fields.push_back(joinTags(r.notes.tags));
        fields.push_back(r.notes.note);
        line(fields);
    }
    return out;
}

}  // namespace caspl
