#include "core/experiment/results.h"

#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <tuple>

namespace caspl {

ResultRecord toResultRecord(const EvalRow& row, int shots) {
    ResultRecord r;
    r.run = row.run;
    r.dataset = row.dataset;
    r.method = row.method;
    r.shots = shots;
    r.seed = row.seed;
    r.split = row.split;
    r.epoch = row.epoch;
    r.accuracy = row.accuracy;
    r.correct = row.correct;
    r.total = row.total;
    r.skippedImages = row.skippedImages;
    return r;
}

double accuracyPercent(int64_t correct, int64_t total) {
    if (total <= 0) return 0;
    return 100.0 * double(correct) / double(total);
}

double roundToPaper(double accuracy) {
    // Correctly rounded from the exact binary value, as Python's "{:.1f}" (and printf) do, in every locale.
    char buf[64];
    const auto w = std::to_chars(buf, buf + sizeof buf, accuracy, std::chars_format::fixed, 1);
    double v = 0;
    const auto r = std::from_chars(buf, w.ptr, v);
    if (w.ec != std::errc() || r.ec != std::errc()) return accuracy;  // not finite: nothing to round
    return v;
}

double harmonicMean(double base, double novel) {
    if (base + novel == 0) return 0;
    return 2 * base * novel / (base + novel);
}

SeedStat statOf(const std::vector<double>& v) {
    SeedStat s;
    s.n = int(v.size());
    if (v.empty()) return s;
    double sum = 0;
    for (double x : v) sum += x;
    s.mean = sum / double(v.size());
    double sq = 0;
    for (double x : v) sq += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(sq / double(v.size()));
    return s;
}

namespace {

struct GroupKey {
    std::string dataset, method;
    int shots;
    bool operator<(const GroupKey& o) const {
        return std::tie(dataset, method, shots) < std::tie(o.dataset, o.method, o.shots);
    }
};

}  // namespace

ResultsSummary summarizeResults(const std::vector<ResultRecord>& records, Rounding rounding) {
    // The record that counts per (group, seed, split): the latest epoch; the same epoch twice is an error.
    std::vector<GroupKey> order;
    std::map<GroupKey, std::map<int, std::map<std::string, const ResultRecord*>>> chosen;
    for (const auto& r : records) {
        if (r.split != "base" && r.split != "novel" && r.split != "all")
            throw Error("result of " + r.dataset + " / " + r.method + " seed " + std::to_string(r.seed) +
                        ": unknown split '" + r.split + "' (expected base, novel or all)");
        const GroupKey key{r.dataset, r.method, r.shots};
        if (!chosen.count(key)) order.push_back(key);
        const ResultRecord*& slot = chosen[key][r.seed][r.split];
        if (slot && slot->epoch == r.epoch)
            throw Error("two results for " + r.dataset + " / " + r.method + " / " + std::to_string(r.shots) +
                        " shots / seed " + std::to_string(r.seed) + " / " + r.split + " at epoch " +
                        std::to_string(r.epoch) + (r.run.empty() ? "" : " (runs '" + slot->run + "' and '" + r.run + "')"));
        if (!slot || r.epoch > slot->epoch) slot = &r;
    }
    auto value = [&](const ResultRecord& r) { return rounding == Rounding::Paper ? roundToPaper(r.accuracy) : r.accuracy; };

    ResultsSummary out;
    out.rounding = rounding;
    for (const auto& key : order) {
        GroupResult g;
        g.dataset = key.dataset;
        g.method = key.method;
        g.shots = key.shots;
        std::vector<double> base, novel, all;
        for (const auto& [seed, splits] : chosen[key]) {
            g.seeds.push_back(seed);
            SeedResult s;
            s.dataset = key.dataset;
            s.method = key.method;
            s.shots = key.shots;
            s.seed = seed;
            for (const auto& [split, rec] : splits) {
                const double v = value(*rec);
                s.skippedImages += rec->skippedImages;
                if (split == "base") {
                    s.base = v;
                    s.baseCorrect = rec->correct;
                    s.baseTotal = rec->total;
                    base.push_back(v);
                } else if (split == "novel") {
                    s.novel = v;
                    s.novelCorrect = rec->correct;
                    s.novelTotal = rec->total;
                    novel.push_back(v);
                } else {
                    s.all = v;
                    s.allCorrect = rec->correct;
                    s.allTotal = rec->total;
                    all.push_back(v);
                }
            }
            if (s.base && s.novel) s.hm = harmonicMean(*s.base, *s.novel);
            out.seeds.push_back(s);
        }
        if (!base.empty()) g.base = statOf(base);
        if (!novel.empty()) g.novel = statOf(novel);
        if (!all.empty()) g.all = statOf(all);
        if (g.base && g.novel) g.hm = harmonicMean(g.base->mean, g.novel->mean);
        out.groups.push_back(g);
    }

    // Averages over datasets, per (method, shots).
    std::vector<std::pair<std::string, int>> methods;
    for (const auto& g : out.groups)
        if (std::find(methods.begin(), methods.end(), std::make_pair(g.method, g.shots)) == methods.end())
            methods.emplace_back(g.method, g.shots);
    for (const auto& [method, shots] : methods) {
        AverageResult a;
        a.method = method;
        a.shots = shots;
        double b = 0, n = 0, al = 0;
        int nbn = 0, nall = 0;
        std::set<std::string> datasets;
        for (const auto& g : out.groups) {
            if (g.method != method || g.shots != shots) continue;
            if (g.base && g.novel) {
                b += g.base->mean;
                n += g.novel->mean;
                ++nbn;
                datasets.insert(g.dataset);
            }
            if (g.all) {
                al += g.all->mean;
                ++nall;
                datasets.insert(g.dataset);
            }
        }
        if (datasets.size() < 2) continue;
        for (const auto& g : out.groups)
            if (g.method == method && g.shots == shots && datasets.count(g.dataset)) a.datasets.push_back(g.dataset);
        if (nbn > 0) {
            a.base = b / nbn;
            a.novel = n / nbn;
            a.hm = harmonicMean(*a.base, *a.novel);
        }
        if (nall > 0) a.all = al / nall;
        out.averages.push_back(a);
    }
    return out;
}

std::optional<ReferenceResult> referenceOf(const ExperimentSpec& spec) {
    const ReferenceSpec& r = spec.reference;
    if (r.empty()) return std::nullopt;
    ReferenceResult out;
    out.dataset = r.dataset;
    if (out.dataset.empty()) {
        // The loader refuses an unnamed dataset unless the experiment tests exactly one (with a transfer protocol
        // it tests the evaluation datasets too); a hand-made spec gets nothing.
        const bool transfer = spec.data.protocol == Protocol::CrossDataset ||
                              spec.data.protocol == Protocol::DomainGeneralization;
        if (spec.data.datasets.size() != 1 || (transfer && !spec.data.evalDatasets.empty())) return std::nullopt;
        out.dataset = spec.data.datasets.front();
    }
    out.method = r.method.empty() ? methodLabel(spec) : r.method;
    // K 0 stands for the experiment's one K (the loader asks for it when there are several).
    out.shots = r.shots == 0 && spec.data.shots.size() == 1 ? spec.data.shots.front() : r.shots;
    out.base = r.base;
    out.novel = r.novel;
    out.all = r.all;
    out.hm = r.hm;
    out.source = r.source;
    return out;
}

void attachReferences(ResultsSummary& summary, const std::vector<ReferenceResult>& references) {
    summary.references.clear();
    for (const auto& g : summary.groups) {
        // The reference of this K first, then one for any K.
        const ReferenceResult* match = nullptr;
        for (int pass = 0; pass < 2 && !match; ++pass)
            for (const auto& ref : references)
                if (ref.dataset == g.dataset && ref.method == g.method && ref.shots == (pass == 0 ? g.shots : 0)) {
                    match = &ref;
                    break;
                }
        if (!match) continue;
        // Only the splits the group has results for (a base-to-novel reference says nothing of `all`).
        ReferenceRow row;
        row.dataset = g.dataset;
        row.method = g.method;
        row.shots = g.shots;
        if (g.base) row.base = match->base;
        if (g.novel) row.novel = match->novel;
        if (g.all) row.all = match->all;
        if (row.base && row.novel) row.hm = match->hm ? match->hm : std::optional<double>(harmonicMean(*row.base, *row.novel));
        row.source = match->source;
        if (row.base || row.novel || row.all) summary.references.push_back(row);
    }
    for (const auto& a : summary.averages) {
        std::vector<const ReferenceRow*> parts;
        for (const auto& d : a.datasets)
            if (const ReferenceRow* r = findReference(summary, d, a.method, a.shots)) parts.push_back(r);
        if (parts.empty() || parts.size() != a.datasets.size()) continue;
        ReferenceRow row;
        row.dataset = "average";
        row.method = a.method;
        row.shots = a.shots;
        row.n = int(parts.size());
        auto mean = [&](std::optional<double> ReferenceRow::*field) -> std::optional<double> {
            double sum = 0;
            for (const ReferenceRow* r : parts) {
                if (!(r->*field)) return std::nullopt;
                sum += *(r->*field);
            }
            return sum / double(parts.size());
        };
        // Only the splits the results average too.
        if (a.base) row.base = mean(&ReferenceRow::base);
        if (a.novel) row.novel = mean(&ReferenceRow::novel);
        if (a.all) row.all = mean(&ReferenceRow::all);
        if (row.base && row.novel) row.hm = harmonicMean(*row.base, *row.novel);
        std::vector<std::string> sources;
        for (const ReferenceRow* r : parts)
            if (std::find(sources.begin(), sources.end(), r->source) == sources.end()) sources.push_back(r->source);
        for (const auto& src : sources) row.source += (row.source.empty() ? "" : "; ") + src;
        if (row.base || row.novel || row.all) summary.references.push_back(row);
    }
}

ResultsSummary summarizeWithReference(const std::vector<ResultRecord>& records, const ExperimentSpec& spec) {
    ResultsSummary s = summarizeResults(records, spec.eval.rounding);
    if (const auto ref = referenceOf(spec)) attachReferences(s, {*ref});
    return s;
}

const ReferenceRow* findReference(const ResultsSummary& summary, const std::string& dataset, const std::string& method,
                                  int shots) {
    for (const auto& r : summary.references)
        if (r.dataset == dataset && r.method == method && r.shots == shots) return &r;
    return nullptr;
}

CombinedRuns combineRuns(const std::vector<RunRecords>& runs) {
    std::map<std::tuple<std::string, std::string, int, int, std::string>, std::set<std::size_t>> owners;
    for (std::size_t i = 0; i < runs.size(); ++i)
        for (const auto& r : runs[i].records) owners[{r.dataset, r.method, r.shots, r.seed, r.split}].insert(i);
    std::set<std::string> shared;
    for (const auto& [key, who] : owners)
        if (who.size() > 1) shared.insert(std::get<1>(key));
    std::vector<std::string> labels;
    std::map<std::string, int> nameCount;
    for (const auto& run : runs) {
        auto p = std::filesystem::path(run.folder).lexically_normal();
        if (p.filename().empty()) p = p.parent_path();
        labels.push_back(p.filename().string());
        ++nameCount[labels.back()];
    }
    std::vector<ResultRecord> all;
    std::vector<ReferenceResult> references;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const std::string label = " [" + (nameCount[labels[i]] > 1 ? runs[i].folder : labels[i]) + "]";
        for (ResultRecord r : runs[i].records) {
            if (runs[i].rounding == Rounding::Paper) r.accuracy = roundToPaper(r.accuracy);
            if (shared.count(r.method)) r.method += label;
            all.push_back(std::move(r));
        }
        for (ReferenceResult ref : runs[i].references) {
            if (shared.count(ref.method)) ref.method += label;
            references.push_back(std::move(ref));
        }
    }
    CombinedRuns out;
    out.summary = summarizeResults(all, Rounding::None);
    attachReferences(out.summary, references);
    out.labelledMethods.assign(shared.begin(), shared.end());
    return out;
}

// ------------------------------------------------------------------------------------------------------------------
// CSV

bool ResultsCsvRow::operator==(const ResultsCsvRow& o) const {
    return std::tie(kind, dataset, method, shots, seed, n, base, novel, hm, all, baseCorrect, baseTotal, novelCorrect,
                    novelTotal, allCorrect, allTotal, skippedImages) ==
           std::tie(o.kind, o.dataset, o.method, o.shots, o.seed, o.n, o.base, o.novel, o.hm, o.all, o.baseCorrect,
                    o.baseTotal, o.novelCorrect, o.novelTotal, o.allCorrect, o.allTotal, o.skippedImages);
}

const std::vector<std::string>& resultsCsvHeader() {
    static const std::vector<std::string> h{"kind",          "dataset",      "method",        "shots",
                                            "seed",          "n",            "base",          "novel",
                                            "hm",            "all",          "base_correct",  "base_total",
                                            "novel_correct", "novel_total",  "all_correct",   "all_total",
                                            "skipped_images"};
    return h;
}

std::vector<ResultsCsvRow> resultsCsvRows(const ResultsSummary& s) {
    std::vector<ResultsCsvRow> rows;
    auto referenceRow = [&](const ReferenceRow* ref) {
        if (!ref) return;
        ResultsCsvRow r;
        r.kind = "reference";
        r.dataset = ref->dataset;
        r.method = ref->method;
        r.shots = ref->shots;
        r.n = ref->n;
        r.base = ref->base;
        r.novel = ref->novel;
        r.hm = ref->hm;
        r.all = ref->all;
        rows.push_back(r);
    };
    for (const auto& g : s.groups) {
        for (const auto& sr : s.seeds) {
            if (sr.dataset != g.dataset || sr.method != g.method || sr.shots != g.shots) continue;
            ResultsCsvRow r;
            r.kind = "seed";
            r.dataset = sr.dataset;
            r.method = sr.method;
            r.shots = sr.shots;
            r.seed = sr.seed;
            r.n = 1;
            r.base = sr.base;
            r.novel = sr.novel;
            r.hm = sr.hm;
            r.all = sr.all;
            r.baseCorrect = sr.baseCorrect;
            r.baseTotal = sr.baseTotal;
            r.novelCorrect = sr.novelCorrect;
            r.novelTotal = sr.novelTotal;
            r.allCorrect = sr.allCorrect;
            r.allTotal = sr.allTotal;
            r.skippedImages = sr.skippedImages;
            rows.push_back(r);
        }
        ResultsCsvRow mean, sd;
        mean.kind = "mean";
        sd.kind = "std";
        for (ResultsCsvRow* r : {&mean, &sd}) {
            r->dataset = g.dataset;
            r->method = g.method;
            r->shots = g.shots;
            r->n = int(g.seeds.size());
        }
        if (g.base) mean.base = g.base->mean, sd.base = g.base->std;
        if (g.novel) mean.novel = g.novel->mean, sd.novel = g.novel->std;
        if (g.all) mean.all = g.all->mean, sd.all = g.all->std;
        mean.hm = g.hm;
        rows.push_back(mean);
        rows.push_back(sd);
        referenceRow(findReference(s, g.dataset, g.method, g.shots));
    }
    for (const auto& a : s.averages) {
        ResultsCsvRow r;
        r.kind = "average";
        r.dataset = "average";
        r.method = a.method;
        r.shots = a.shots;
        r.n = int(a.datasets.size());
        r.base = a.base;
        r.novel = a.novel;
        r.hm = a.hm;
        r.all = a.all;
        rows.push_back(r);
        referenceRow(findReference(s, "average", a.method, a.shots));
    }
    return rows;
}

std::string csvField(const std::string& f) {
    if (f.find_first_of(",\"\r\n") == std::string::npos) return f;
    std::string q = "\"";
    for (char c : f) {
        if (c == '"') q += '"';
        q += c;
    }
    return q + "\"";
}

namespace {

std::string numberText(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}
template <class T>
std::string cell(const std::optional<T>& v) {
    if (!v) return "";
    if constexpr (std::is_floating_point_v<T>) return numberText(*v);
    else return std::to_string(*v);
}

}  // namespace

std::string resultsCsvText(const ResultsSummary& summary) {
    std::string out;
    auto line = [&](const std::vector<std::string>& fields) {
        for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csvField(fields[i]);
        out += "\r\n";
    };
    line(resultsCsvHeader());
    for (const auto& r : resultsCsvRows(summary))
        line({r.kind, r.dataset, r.method, cell(r.shots), cell(r.seed), cell(r.n), cell(r.base), cell(r.novel),
              cell(r.hm), cell(r.all), cell(r.baseCorrect), cell(r.baseTotal), cell(r.novelCorrect),
              cell(r.novelTotal), cell(r.allCorrect), cell(r.allTotal), cell(r.skippedImages)});
    return out;
}

void writeResultsCsv(const std::string& path, const ResultsSummary& summary) {
    writeFileAtomically(path, resultsCsvText(summary));
}

std::vector<std::vector<std::string>> parseCsv(const std::string& text, const std::string& source) {
    std::vector<std::vector<std::string>> records;
    std::vector<std::string> record;
    std::string field;
    bool quoted = false;     // inside a quoted field
    bool wasQuoted = false;  // the current field was quoted (only a separator may follow)
    int line = 1, col = 0;
    auto error = [&](const std::string& what) {
        throw Error(source + ":" + std::to_string(line) + ":" + std::to_string(col) + ": CSV: " + what);
    };
    auto endField = [&] {
        record.push_back(field);
        field.clear();
        wasQuoted = false;
    };
    auto endRecord = [&] {
        endField();
        records.push_back(record);
        record.clear();
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        ++col;
        if (quoted) {
            if (c == '"') {
                if (i + 1 < text.size() && text[i + 1] == '"') {
                    field += '"';
                    ++i;
                    ++col;
                } else {
                    quoted = false;
                    wasQuoted = true;
                }
            } else {
                field += c;
                if (c == '\n') ++line, col = 0;
            }
            continue;
        }
        if (c == ',') {
            endField();
        } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
            ++i;
            endRecord();
            ++line;
            col = 0;
        } else if (c == '\n') {
            endRecord();
            ++line;
            col = 0;
        } else if (c == '"') {
            if (!field.empty() || wasQuoted) error("a quote inside an unquoted field (quote the field and double it)");
            quoted = true;
        } else {
            if (wasQuoted) error("text after a closing quote (expected a comma or the end of the line)");
            field += c;
        }
    }
    if (quoted) error("unterminated quoted field");
    if (!field.empty() || wasQuoted || !record.empty()) endRecord();
    return records;
}

namespace {

template <class T>
std::optional<T> parseCell(const std::string& text, const std::string& where) {
    if (text.empty()) return std::nullopt;
    T v{};
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size())
        throw Error(where + ": expected a number, got '" + text + "'");
    return v;
}

}  // namespace

std::vector<ResultsCsvRow> parseResultsCsv(const std::string& text, const std::string& source) {
    const auto records = parseCsv(text, source);
    if (records.empty() || records[0] != resultsCsvHeader())
        throw Error(source + ":1: not a caspl results.csv (expected the header " +
                    [] {
                        std::string h;
                        for (const auto& c : resultsCsvHeader()) h += (h.empty() ? "" : ",") + c;
                        return h;
                    }() +
                    ")");
    std::vector<ResultsCsvRow> rows;
    const auto& header = resultsCsvHeader();
    for (std::size_t i = 1; i < records.size(); ++i) {
        const auto& f = records[i];
        const std::string at = source + ": row " + std::to_string(i + 1);
        if (f.size() != header.size())
            throw Error(at + ": expected " + std::to_string(header.size()) + " fields, got " + std::to_string(f.size()));
        auto w = [&](std::size_t c) { return at + ", column '" + header[c] + "'"; };
        ResultsCsvRow r;
        r.kind = f[0];
        if (r.kind != "seed" && r.kind != "mean" && r.kind != "std" && r.kind != "average" && r.kind != "reference")
            throw Error(w(0) + ": expected seed, mean, std, average or reference, got '" + r.kind + "'");
        r.dataset = f[1];
        r.method = f[2];
        r.shots = parseCell<int>(f[3], w(3));
        r.seed = parseCell<int>(f[4], w(4));
        r.n = parseCell<int>(f[5], w(5));
        r.base = parseCell<double>(f[6], w(6));
        r.novel = parseCell<double>(f[7], w(7));
        r.hm = parseCell<double>(f[8], w(8));
        r.all = parseCell<double>(f[9], w(9));
        r.baseCorrect = parseCell<int64_t>(f[10], w(10));
        r.baseTotal = parseCell<int64_t>(f[11], w(11));
        r.novelCorrect = parseCell<int64_t>(f[12], w(12));
        r.novelTotal = parseCell<int64_t>(f[13], w(13));
        r.allCorrect = parseCell<int64_t>(f[14], w(14));
        r.allTotal = parseCell<int64_t>(f[15], w(15));
        r.skippedImages = parseCell<int64_t>(f[16], w(16));
        rows.push_back(r);
    }
    return rows;
}

std::vector<ResultsCsvRow> readResultsCsv(const std::string& path) { return parseResultsCsv(readFile(path), path); }

std::vector<ResultRecord> recordsFromCsvRows(const std::vector<ResultsCsvRow>& rows) {
    std::vector<ResultRecord> out;
    for (const auto& r : rows) {
        if (r.kind != "seed") continue;
        auto add = [&](const char* split, const std::optional<double>& acc, const std::optional<int64_t>& correct,
                       const std::optional<int64_t>& total) {
            if (!acc) return;
            ResultRecord rec;
            rec.dataset = r.dataset;
            rec.method = r.method;
            rec.shots = r.shots.value_or(0);
            rec.seed = r.seed.value_or(0);
            rec.split = split;
            rec.accuracy = *acc;
            rec.correct = correct.value_or(0);
            rec.total = total.value_or(0);
            out.push_back(rec);
        };
        const std::size_t first = out.size();
        add("base", r.base, r.baseCorrect, r.baseTotal);
        add("novel", r.novel, r.novelCorrect, r.novelTotal);
        add("all", r.all, r.allCorrect, r.allTotal);
        if (out.size() > first) out[first].skippedImages = r.skippedImages.value_or(0);  // the row's sum
    }
    return out;
}

// ------------------------------------------------------------------------------------------------------------------
// result.json

std::string resultFileToJson(const ResultFile& file) {
    nlohmann::json j;
    j["format"] = "caspl-result";
    j["version"] = 1;
    j["meta"] = nlohmann::json::object();
    for (const auto& [k, v] : file.meta) j["meta"][k] = v;
    j["records"] = nlohmann::json::array();
    for (const auto& r : file.records)
        j["records"].push_back({{"run", r.run},
                                {"dataset", r.dataset},
                                {"method", r.method},
                                {"shots", r.shots},
                                {"seed", r.seed},
                                {"split", r.split},
                                {"epoch", r.epoch},
                                {"accuracy", r.accuracy},
                                {"correct", r.correct},
                                {"total", r.total},
                                {"skipped_images", r.skippedImages}});
    return j.dump(2) + "\n";
}

ResultFile resultFileFromJson(const std::string& text, const std::string& source) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(source + ": not valid JSON: " + e.what());
    }
    if (!j.is_object() || j.value("format", "") != "caspl-result")
        throw Error(source + ": not a caspl result file (expected \"format\": \"caspl-result\")");
    if (j.value("version", 0) != 1)
        throw Error(source + ": unsupported result-file version " + j.value("version", nlohmann::json()).dump() +
                    " (this build reads version 1)");
    ResultFile out;
    if (j.contains("meta")) {
        if (!j["meta"].is_object()) throw Error(source + ": \"meta\" must be an object of strings");
        for (const auto& [k, v] : j["meta"].items()) {
            if (!v.is_string()) throw Error(source + ": meta." + k + ": expected a string");
            out.meta[k] = v.get<std::string>();
        }
    }
    if (!j.contains("records") || !j["records"].is_array()) throw Error(source + ": expected a \"records\" array");
    std::size_t i = 0;
    for (const auto& e : j["records"]) {
        const std::string at = source + ": records[" + std::to_string(i++) + "]";
        if (!e.is_object()) throw Error(at + ": expected an object");
        auto need = [&](const char* key, auto check, const char* what) -> const nlohmann::json& {
            if (!e.contains(key) || !check(e[key])) throw Error(at + "." + key + ": expected " + what);
            return e[key];
        };
        auto isStr = [](const nlohmann::json& v) { return v.is_string(); };
        auto isInt = [](const nlohmann::json& v) { return v.is_number_integer(); };
        auto isNum = [](const nlohmann::json& v) { return v.is_number(); };
        ResultRecord r;
        r.run = e.contains("run") && e["run"].is_string() ? e["run"].get<std::string>() : "";
        r.dataset = need("dataset", isStr, "a string").get<std::string>();
        r.method = need("method", isStr, "a string").get<std::string>();
        r.shots = e.contains("shots") ? need("shots", isInt, "an integer").get<int>() : 0;
        r.seed = need("seed", isInt, "an integer").get<int>();
        r.split = need("split", isStr, "a string (base, novel or all)").get<std::string>();
        r.epoch = e.contains("epoch") ? need("epoch", isInt, "an integer").get<int>() : 0;
        r.accuracy = need("accuracy", isNum, "a number (percent)").get<double>();
        r.correct = e.contains("correct") ? need("correct", isInt, "an integer").get<int64_t>() : 0;
        r.total = e.contains("total") ? need("total", isInt, "an integer").get<int64_t>() : 0;
        r.skippedImages = e.contains("skipped_images") ? need("skipped_images", isInt, "an integer").get<int64_t>() : 0;
        out.records.push_back(r);
    }
    return out;
}

void writeResultJson(const std::string& path, const ResultFile& file) {
    writeFileAtomically(path, resultFileToJson(file));
}

ResultFile readResultJson(const std::string& path) { return resultFileFromJson(readFile(path), path); }

}  // namespace caspl
