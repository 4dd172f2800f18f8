#include "core/experiment/paper_table.h"

#include "core/util/error.h"
#include "core/util/number_text.h"

#include <algorithm>
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

std::string two(double x) { return fixedText(x, 2); }

std::string latexEscape(const std::string& s) {
    std::string out;
    for (const char c : s) {
        switch (c) {
            case '\\': out += "\\textbackslash{}"; break;
            case '&': case '%': case '$': case '#': case '_': case '{': case '}': out += '\\'; out += c; break;
            case '~': out += "\\textasciitilde{}"; break;
            case '<': out += "\\textless{}"; break;
            case '>': out += "\\textgreater{}"; break;
            case '|': out += "\\textbar{}"; break;
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
            // A row starting with '[' right after \midrule or \\ would be read as their optional argument.
            out += (t.rows[r].rfind('[', 0) == 0 ? "{}" : "") + latexEscape(t.rows[r]);
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

std::vector<std::string> tableSources(const ExperimentSpec& spec) {
    return spec.data.evalDatasets.empty() ? std::vector<std::string>{} : spec.data.datasets;
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

std::string paperTablesText(const ResultsSummary& summary, TableFormat format, const PaperTableOptions& options) {
    std::vector<Table> tables;
    const auto shotsLabel = [](const std::string& method, int shots, bool withShots) {
        if (!withShots || shots <= 0) return paperMethodName(method);
        return paperMethodName(method) + " (" + std::to_string(shots) + (shots == 1 ? " shot)" : " shots)");
    };
    const auto groupOf = [&summary](const std::string& dataset, const std::string& method, int shots) -> const GroupResult* {
        for (const auto& g : summary.groups)
            if (g.dataset == dataset && g.method == method && g.shots == shots) return &g;
        return nullptr;
    };
    using RowKey = std::pair<std::string, int>;  // method, shots

    // Base-to-novel: the groups with base and novel.
    const auto isB2n = [](const GroupResult& g) { return g.base.has_value() && g.novel.has_value(); };
    std::vector<RowKey> b2nRows;
    std::vector<std::string> b2nDatasets;
    std::set<int> b2nShots;
    for (const auto& g : summary.groups) {
        if (!isB2n(g)) continue;
        if (std::find(b2nRows.begin(), b2nRows.end(), RowKey{g.method, g.shots}) == b2nRows.end()) b2nRows.push_back({g.method, g.shots});
        if (std::find(b2nDatasets.begin(), b2nDatasets.end(), g.dataset) == b2nDatasets.end()) b2nDatasets.push_back(g.dataset);
        b2nShots.insert(g.shots);
    }
    const bool b2nWithShots = b2nShots.size() > 1;

    // The averages over datasets, one table per set of datasets (rows averaging different datasets are not compared):
    // base and novel averaged, the HM of the two averages, as results.csv's average rows.
    std::vector<std::pair<std::vector<std::string>, std::vector<RowKey>>> averageSets;  // datasets (sorted) -> rows
    for (const auto& key : b2nRows) {
        std::vector<std::string> ds;
        for (const auto& d : b2nDatasets)
            if (const GroupResult* g = groupOf(d, key.first, key.second); g && isB2n(*g)) ds.push_back(d);
        if (ds.size() < 2) continue;
        std::sort(ds.begin(), ds.end());
        auto it = std::find_if(averageSets.begin(), averageSets.end(), [&ds](const auto& e) { return e.first == ds; });
        if (it == averageSets.end()) averageSets.push_back({ds, {key}});
        else it->second.push_back(key);
    }
    for (const auto& [ds, keys] : averageSets) {
        Table t;
        std::string title = "Average over " + std::to_string(ds.size()) + " datasets";
        if (averageSets.size() > 1) {  // several sets: name them
            title = "Average of ";
            for (std::size_t i = 0; i < ds.size(); ++i) title += (i ? ", " : "") + paperDatasetName(ds[i]);
        }
        t.header = {title, "Base", "Novel", "HM"};
        for (const auto& key : keys) {
            double b = 0, n = 0;
            for (const auto& d : ds) {
                const GroupResult* g = groupOf(d, key.first, key.second);
                b += g->base->mean;
                n += g->novel->mean;
            }
            b /= double(ds.size());
            n /= double(ds.size());
            t.add(shotsLabel(key.first, key.second, b2nWithShots), {b, n, harmonicMean(b, n)});
            if (options.withReference) {  // where every dataset averaged has published base and novel
                double pb = 0, pn = 0;
                bool all = true;
                for (const auto& d : ds) {
                    const ReferenceRow* ref = findReference(summary, d, key.first, key.second);
                    all = all && ref && ref->base && ref->novel;
                    if (all) {
                        pb += *ref->base;
                        pn += *ref->novel;
                    }
                }
                if (all) {
                    pb /= double(ds.size());
                    pn /= double(ds.size());
                    t.add(shotsLabel(key.first, key.second, b2nWithShots) + " (published)", {pb, pn, harmonicMean(pb, pn)}, true);
                }
            }
        }
        tables.push_back(std::move(t));
    }
    for (const auto& d : b2nDatasets) {
        Table t;
        t.header = {paperDatasetName(d), "Base", "Novel", "HM"};
        for (const auto& key : b2nRows) {
            const GroupResult* g = groupOf(d, key.first, key.second);
            if (!g || !isB2n(*g)) continue;
            t.add(shotsLabel(key.first, key.second, b2nWithShots), {meanOf(g->base), meanOf(g->novel), g->hm});
            if (options.withReference)
                if (const ReferenceRow* ref = findReference(summary, d, key.first, key.second))
                    t.add(shotsLabel(key.first, key.second, b2nWithShots) + " (published)", {ref->base, ref->novel, ref->hm}, true);
        }
        tables.push_back(std::move(t));
    }

    // All classes: one table, a row per (method, K), a column per dataset (the sources first), then the average over
    // the targets where every row has them all.
    std::vector<RowKey> allRows;
    std::vector<std::string> allDatasets;
    std::set<int> allShots;
    for (const auto& g : summary.groups) {
        if (!g.all) continue;
        if (std::find(allRows.begin(), allRows.end(), RowKey{g.method, g.shots}) == allRows.end()) allRows.push_back({g.method, g.shots});
        if (std::find(allDatasets.begin(), allDatasets.end(), g.dataset) == allDatasets.end()) allDatasets.push_back(g.dataset);
        allShots.insert(g.shots);
    }
    if (!allRows.empty()) {
        const auto isSource = [&options](const std::string& d) {
            return std::find(options.sources.begin(), options.sources.end(), d) != options.sources.end();
        };
        std::stable_partition(allDatasets.begin(), allDatasets.end(), isSource);
        std::vector<std::string> targets;
        for (const auto& d : allDatasets)
            if (!isSource(d)) targets.push_back(d);
        const auto allOf = [&](const std::string& d, const RowKey& key) -> std::optional<double> {
            const GroupResult* g = groupOf(d, key.first, key.second);
            return g ? meanOf(g->all) : std::nullopt;
        };
        bool averageColumn = targets.size() > 1;
        for (const auto& key : allRows)
            for (const auto& d : targets) averageColumn = averageColumn && allOf(d, key).has_value();
        Table t;
        t.header = {"Method"};
        for (const auto& d : allDatasets) t.header.push_back(paperDatasetName(d));
        if (averageColumn) t.header.push_back("Average");
        const bool withShots = allShots.size() > 1;
        for (const auto& key : allRows) {
            std::vector<std::optional<double>> values, published;
            bool anyPublished = false;
            for (const auto& d : allDatasets) {
                values.push_back(allOf(d, key));
                const ReferenceRow* ref = findReference(summary, d, key.first, key.second);
                published.push_back(ref ? ref->all : std::nullopt);
                anyPublished = anyPublished || (ref && ref->all);
            }
            if (averageColumn) {
                double sum = 0, psum = 0;
                bool allPublished = true;
                for (const auto& d : targets) {
                    sum += *allOf(d, key);
                    const ReferenceRow* ref = findReference(summary, d, key.first, key.second);
                    allPublished = allPublished && ref && ref->all;
                    if (allPublished) psum += *ref->all;
                }
                values.push_back(sum / double(targets.size()));
                published.push_back(allPublished ? std::optional<double>(psum / double(targets.size())) : std::nullopt);
            }
            t.add(shotsLabel(key.first, key.second, withShots), std::move(values));
            if (options.withReference && anyPublished)
                t.add(shotsLabel(key.first, key.second, withShots) + " (published)", std::move(published), true);
        }
        tables.push_back(std::move(t));
    }

    std::string out;
    for (const auto& t : tables) out += (out.empty() ? "" : "\n") + render(t, format);
    return out;
}

}  // namespace caspl
