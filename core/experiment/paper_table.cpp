#include "core/experiment/paper_table.h"

#include "core/util/error.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace caspl {

namespace {

struct Table {
    std::vector<std::string> header;                     // the top-left cell, then the value columns
    std::vector<std::string> rows;                       // row labels
    std::vector<std::vector<std::optional<double>>> v;  // [row][column]
    std::vector<bool> published;                         // per row: published numbers (never bold)
    void add(std::string label, std::vector<std::optional<double>> values, bool isPublished = false) {
        rows.push_back(std::move(label));
        v.push_back(std::move(values));
        published.push_back(isPublished);
    }
};

std::string two(double x) {  // whatever the C library's locale
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed, 2);
    return std::string(buf, r.ptr);
}

std::string latexEscape(const std::string& s) {
    std::string out;
    for (const char c : s) {
        switch (c) {
            case '\\': out += "\\textbackslash{}"; break;
            case '&': case '%': case '$': case '#': case '_': case '{': case '}': out += '\\'; out += c; break;
            case '~': out += "\\textasciitilde{}"; break;
            case '^': out += "\\textasciicircum{}"; break;
            default: out += c;
        }
    }
    return out;
}

std::string markdownEscape(const std::string& s) {
    std::string out;
    for (const char c : s) {
        if (c == '|') out += '\\';
        out += c;
    }
    return out;
}

std::string render(const Table& t, TableFormat format) {
    const std::size_t cols = t.header.size() - 1;
    // The best of each column, as printed (a tie in the printed digits is a tie).
    std::vector<std::string> best(cols);
    std::size_t measured = 0;
    for (std::size_t r = 0; r < t.rows.size(); ++r) measured += t.published[r] ? 0 : 1;
    for (std::size_t c = 0; c < cols; ++c) {
        std::optional<double> m;
        for (std::size_t r = 0; r < t.rows.size(); ++r)
            if (!t.published[r] && t.v[r][c] && (!m || *t.v[r][c] > *m)) m = t.v[r][c];
        if (m) best[c] = two(*m);
    }
    const bool latex = format == TableFormat::Latex;
    const auto cell = [&](const std::optional<double>& x, std::size_t c, bool published) -> std::string {
        if (!x) return latex ? "--" : "–";
        const std::string s = two(*x);
        if (published || measured < 2 || s != best[c]) return s;
        return latex ? "\\textbf{" + s + "}" : "**" + s + "**";
    };
    std::string out;
    if (latex) {
        out += "\\begin{tabular}{l" + std::string(cols, 'c') + "}\n\\toprule\n";
        for (std::size_t c = 0; c <= cols; ++c) out += (c ? " & " : "") + latexEscape(t.header[c]);
        out += " \\\\\n\\midrule\n";
        for (std::size_t r = 0; r < t.rows.size(); ++r) {
            out += latexEscape(t.rows[r]);
            for (std::size_t c = 0; c < cols; ++c) out += " & " + cell(t.v[r][c], c, t.published[r]);
            out += " \\\\\n";
        }
        out += "\\bottomrule\n\\end{tabular}\n";
    } else {
        out += "|";
        for (const auto& h : t.header) out += " " + markdownEscape(h) + " |";
        out += "\n|---|";
        for (std::size_t c = 0; c < cols; ++c) out += "---:|";
        out += "\n";
        for (std::size_t r = 0; r < t.rows.size(); ++r) {
            out += "| " + markdownEscape(t.rows[r]) + " |";
            for (std::size_t c = 0; c < cols; ++c) out += " " + cell(t.v[r][c], c, t.published[r]) + " |";
            out += "\n";
        }
    }
    return out;
}

std::optional<double> meanOf(const std::optional<SeedStat>& s) { return s ? std::optional<double>(s->mean) : std::nullopt; }

}  // namespace

TableFormat parseTableFormat(const std::string& name) {
    if (name == "markdown") return TableFormat::Markdown;
    if (name == "latex") return TableFormat::Latex;
    throw Error("table format '" + name + "': expected markdown or latex");
}

std::string paperMethodName(const std::string& method) {
    // "<method>[+caspl][ [<run>]]"
    const auto bracket = method.find(" [");
    const std::string core = method.substr(0, bracket);
    const std::string rest = bracket == std::string::npos ? std::string() : method.substr(bracket);
    std::string base = core;
    bool caspl = false;
    if (base.size() > 6 && base.compare(base.size() - 6, 6, "+caspl") == 0) {
        base.resize(base.size() - 6);
        caspl = true;
    }
    static const std::map<std::string, std::string> names{{"zeroshot", "CLIP"}, {"coop", "CoOp"},   {"cocoop", "CoCoOp"},
                                                           {"ivlp", "IVLP"},     {"maple", "MaPLe"}, {"promptsrc", "PromptSRC"}};
    const auto it = names.find(base);
    if (it == names.end()) return method;
    return it->second + (caspl ? " + CasPL" : "") + rest;
}

std::string paperDatasetName(const std::string& dataset) {
    static const std::map<std::string, std::string> names{{"DescribableTextures", "DTD"}, {"OxfordFlowers", "Flowers102"}};
    const auto it = names.find(dataset);
    return it == names.end() ? dataset : it->second;
}

std::string paperTablesText(const ResultsSummary& summary, TableFormat format, bool withReference) {
    std::vector<Table> tables;
    const auto isB2n = [](const GroupResult& g) { return g.base.has_value() || g.novel.has_value(); };
    const auto shotsLabel = [](const std::string& method, int shots, bool withShots) {
        return paperMethodName(method) + (withShots && shots > 0 ? " (" + std::to_string(shots) + " shots)" : "");
    };
    // The published row after a measured base-to-novel one, where the experiment names numbers for it.
    const auto addPublished = [&](Table& t, const std::string& dataset, const std::string& method, int shots, bool withShots) {
        if (!withReference) return;
        if (const ReferenceRow* ref = findReference(summary, dataset, method, shots))
            t.add(shotsLabel(method, shots, withShots) + " (published)", {ref->base, ref->novel, ref->hm}, true);
    };

    // Base-to-novel: the average first, then each dataset.
    std::set<int> b2nShots;
    for (const auto& g : summary.groups)
        if (isB2n(g)) b2nShots.insert(g.shots);
    const bool b2nWithShots = b2nShots.size() > 1;
    std::map<std::size_t, Table> averageTables;  // by the number of datasets averaged
    for (const auto& a : summary.averages) {
        if (!a.base && !a.novel) continue;
        Table& t = averageTables[a.datasets.size()];
        t.header = {"Average over " + std::to_string(a.datasets.size()) + " datasets", "Base", "Novel", "HM"};
        t.add(shotsLabel(a.method, a.shots, b2nWithShots), {a.base, a.novel, a.hm});
        addPublished(t, "average", a.method, a.shots, b2nWithShots);
    }
    for (auto it = averageTables.rbegin(); it != averageTables.rend(); ++it) tables.push_back(std::move(it->second));
    std::vector<std::string> datasets;
    for (const auto& g : summary.groups)
        if (isB2n(g) && std::find(datasets.begin(), datasets.end(), g.dataset) == datasets.end()) datasets.push_back(g.dataset);
    for (const auto& d : datasets) {
        Table t;
        t.header = {paperDatasetName(d), "Base", "Novel", "HM"};
        for (const auto& g : summary.groups) {
            if (g.dataset != d || !isB2n(g)) continue;
            t.add(shotsLabel(g.method, g.shots, b2nWithShots), {meanOf(g.base), meanOf(g.novel), g.hm});
            addPublished(t, g.dataset, g.method, g.shots, b2nWithShots);
        }
        tables.push_back(std::move(t));
    }

    // All classes: one table, a row per (method, K), a column per dataset, then the average.
    std::vector<std::pair<std::string, int>> rowKeys;
    std::vector<std::string> allDatasets;
    std::set<int> allShots;
    for (const auto& g : summary.groups) {
        if (isB2n(g) || !g.all) continue;
        const std::pair<std::string, int> key{g.method, g.shots};
        if (std::find(rowKeys.begin(), rowKeys.end(), key) == rowKeys.end()) rowKeys.push_back(key);
        if (std::find(allDatasets.begin(), allDatasets.end(), g.dataset) == allDatasets.end()) allDatasets.push_back(g.dataset);
        allShots.insert(g.shots);
    }
    if (!rowKeys.empty()) {
        Table t;
        t.header = {"Method"};
        for (const auto& d : allDatasets) t.header.push_back(paperDatasetName(d));
        // The average column where every row averages exactly the datasets of the columns.
        std::vector<std::optional<double>> averages;
        bool averageColumn = allDatasets.size() > 1;
        for (const auto& [method, shots] : rowKeys) {
            std::optional<double> avg;
            for (const auto& a : summary.averages)
                if (a.method == method && a.shots == shots && !a.base && !a.novel && a.all) {
                    std::vector<std::string> ds = a.datasets, cols = allDatasets;
                    std::sort(ds.begin(), ds.end());
                    std::sort(cols.begin(), cols.end());
                    if (ds == cols) avg = a.all;
                }
            averageColumn = averageColumn && avg.has_value();
            averages.push_back(avg);
        }
        if (averageColumn) t.header.push_back("Average");
        for (std::size_t r = 0; r < rowKeys.size(); ++r) {
            const auto& [method, shots] = rowKeys[r];
            const std::string label = shotsLabel(method, shots, allShots.size() > 1);
            std::vector<std::optional<double>> values;
            for (const auto& d : allDatasets) {
                std::optional<double> v;
                for (const auto& g : summary.groups)
                    if (g.dataset == d && g.method == method && g.shots == shots && !isB2n(g)) v = meanOf(g.all);
                values.push_back(v);
            }
            if (averageColumn) values.push_back(averages[r]);
            t.add(label, std::move(values));
            if (withReference) {  // the published accuracy of each dataset, where the experiments name one
                std::vector<std::optional<double>> published;
                bool any = false;
                for (const auto& d : allDatasets) {
                    const ReferenceRow* ref = findReference(summary, d, method, shots);
                    published.push_back(ref ? ref->all : std::nullopt);
                    any = any || (ref && ref->all);
                }
                if (averageColumn) {
                    const ReferenceRow* ref = findReference(summary, "average", method, shots);
                    published.push_back(ref ? ref->all : std::nullopt);
                }
                if (any) t.add(label + " (published)", std::move(published), true);
            }
        }
        tables.push_back(std::move(t));
    }

    std::string out;
    for (const auto& t : tables) out += (out.empty() ? "" : "\n") + render(t, format);
    return out;
}

}  // namespace caspl
