#include "core/experiment/per_class.h"

#include "core/experiment/results.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <sstream>
#include <tuple>

namespace caspl {

namespace fs = std::filesystem;

void ClassTallies::add(int64_t label, int64_t predicted) {
    if (label < 0 || predicted < 0)
        throw Error("per-class tally: class indices must not be negative (label " + std::to_string(label) + ", predicted " +
                    std::to_string(predicted) + ")");
    if (label >= classes()) {
        total.resize(std::size_t(label + 1), 0);
        correct.resize(std::size_t(label + 1), 0);
        wrong.resize(std::size_t(label + 1));
    }
    ++total[std::size_t(label)];
    if (label == predicted) ++correct[std::size_t(label)];
    else ++wrong[std::size_t(label)][predicted];
}

std::vector<ClassResult> classResults(const ClassTallies& tallies, const std::vector<std::string>& names) {
    const int64_t n = int64_t(names.size());
    if (tallies.classes() > n)
        throw Error("per-class tally: an image of class " + std::to_string(tallies.classes() - 1) + " but only " +
                    std::to_string(n) + " class names");
    std::vector<ClassResult> out(names.size());
    for (int64_t c = 0; c < n; ++c) {
        ClassResult& r = out[std::size_t(c)];
        r.name = names[std::size_t(c)];
        if (c >= tallies.classes()) continue;
        r.total = tallies.total[std::size_t(c)];
        r.correct = tallies.correct[std::size_t(c)];
        for (const auto& [p, k] : tallies.wrong[std::size_t(c)]) {
            if (p >= n)
                throw Error("per-class tally: a prediction of class " + std::to_string(p) + " but only " + std::to_string(n) +
                            " class names");
            r.confusedWith.emplace_back(p, k);
        }
        std::stable_sort(r.confusedWith.begin(), r.confusedWith.end(),
                         [](const auto& a, const auto& b) { return a.second > b.second; });  // map order: index
    }
    return out;
}

double classAccuracy(const ClassResult& c) { return accuracyPercent(c.correct, c.total); }

std::optional<double> meanClassAccuracy(const PerClassEval& e) {
    double sum = 0;
    int n = 0;
    for (const auto& c : e.classes)
        if (c.total > 0) {
            sum += classAccuracy(c);
            ++n;
        }
    if (n == 0) return std::nullopt;
    return sum / n;
}

std::string perClassToJson(const std::vector<PerClassEval>& evals) {
    // One class per line: a 1,000-class evaluation stays readable and a few hundred KB.
    std::ostringstream s;
    s << "{\n \"format\": \"caspl-per-class\",\n \"version\": 1,\n \"evaluations\": [";
    for (std::size_t i = 0; i < evals.size(); ++i) {
        const PerClassEval& e = evals[i];
        nlohmann::ordered_json head{{"run", e.run},     {"dataset", e.dataset}, {"method", e.method}, {"split", e.split},
                            {"shots", e.shots}, {"seed", e.seed},       {"epoch", e.epoch}};
        std::string h = head.dump();
        h.pop_back();  // the closing brace: the classes follow
        s << (i ? ",\n  " : "\n  ") << h << ", \"classes\": [";
        for (std::size_t c = 0; c < e.classes.size(); ++c) {
            const ClassResult& r = e.classes[c];
            nlohmann::ordered_json cj{{"name", r.name}, {"images", r.total}, {"correct", r.correct}, {"confused_with", nlohmann::json::array()}};
            for (const auto& [p, k] : r.confusedWith) cj["confused_with"].push_back(nlohmann::ordered_json::array({p, k}));
            s << (c ? ",\n   " : "\n   ") << cj.dump();
        }
        s << (e.classes.empty() ? "]}" : "\n  ]}");
    }
    s << (evals.empty() ? "]\n}\n" : "\n ]\n}\n");
    return s.str();
}

std::vector<PerClassEval> perClassFromJson(const std::string& text, const std::string& source) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(source + ": not valid JSON: " + e.what());
    }
    if (!j.is_object() || j.value("format", "") != "caspl-per-class")
        throw Error(source + ": not a caspl per-class file (expected \"format\": \"caspl-per-class\")");
    if (j.value("version", 0) != 1)
        throw Error(source + ": unsupported per-class file version " + j.value("version", nlohmann::json()).dump() +
                    " (this build reads version 1)");
    if (!j.contains("evaluations") || !j["evaluations"].is_array()) throw Error(source + ": expected an \"evaluations\" array");
    const auto isStr = [](const nlohmann::json& v) { return v.is_string(); };
    const auto isInt = [](const nlohmann::json& v) { return v.is_number_integer(); };
    const auto isCount = [](const nlohmann::json& v) { return v.is_number_integer() && v.get<int64_t>() >= 0; };
    std::vector<PerClassEval> out;
    std::size_t i = 0;
    for (const auto& e : j["evaluations"]) {
        const std::string at = source + ": evaluations[" + std::to_string(i++) + "]";
        if (!e.is_object()) throw Error(at + ": expected an object");
        auto need = [](const nlohmann::json& o, const std::string& where, const char* key, auto check,
                       const char* what) -> const nlohmann::json& {
            if (!o.contains(key) || !check(o[key])) throw Error(where + "." + key + ": expected " + what);
            return o[key];
        };
        PerClassEval ev;
        ev.run = e.contains("run") ? need(e, at, "run", isStr, "a string").get<std::string>() : "";
        ev.dataset = need(e, at, "dataset", isStr, "a string").get<std::string>();
        ev.method = need(e, at, "method", isStr, "a string").get<std::string>();
        ev.split = need(e, at, "split", isStr, "a string (base, novel or all)").get<std::string>();
        ev.shots = e.contains("shots") ? need(e, at, "shots", isInt, "an integer").get<int>() : 0;
        ev.seed = need(e, at, "seed", isInt, "an integer").get<int>();
        ev.epoch = e.contains("epoch") ? need(e, at, "epoch", isInt, "an integer").get<int>() : 0;
        const auto& classes = need(e, at, "classes", [](const nlohmann::json& v) { return v.is_array(); }, "an array");
        for (std::size_t c = 0; c < classes.size(); ++c) {
            const std::string cat = at + ".classes[" + std::to_string(c) + "]";
            const auto& cj = classes[c];
            if (!cj.is_object()) throw Error(cat + ": expected an object");
            ClassResult r;
            r.name = need(cj, cat, "name", isStr, "a string").get<std::string>();
            r.total = need(cj, cat, "images", isCount, "a count (an integer >= 0)").get<int64_t>();
            r.correct = need(cj, cat, "correct", isCount, "a count (an integer >= 0)").get<int64_t>();
            if (r.correct > r.total) throw Error(cat + ".correct: " + std::to_string(r.correct) + " is more than its " +
                                                 std::to_string(r.total) + " images");
            if (cj.contains("confused_with")) {
                const auto& cw = cj["confused_with"];
                if (!cw.is_array()) throw Error(cat + ".confused_with: expected an array of [class, images] pairs");
                int64_t wrong = 0;
                for (std::size_t k = 0; k < cw.size(); ++k) {
                    const auto& p = cw[k];
                    const std::string pat = cat + ".confused_with[" + std::to_string(k) + "]";
                    if (!p.is_array() || p.size() != 2 || !isCount(p[0]) || !isCount(p[1]))
                        throw Error(pat + ": expected [class index, images]");
                    const int64_t cls = p[0].get<int64_t>();
                    if (cls >= int64_t(classes.size()) || cls == int64_t(c))
                        throw Error(pat + ": class " + std::to_string(cls) + " is not another class of this evaluation (0-" +
                                    std::to_string(classes.size() - 1) + ")");
                    wrong += p[1].get<int64_t>();
                    r.confusedWith.emplace_back(cls, p[1].get<int64_t>());
                }
                if (wrong > r.total - r.correct)
                    throw Error(cat + ".confused_with: " + std::to_string(wrong) + " wrong predictions, but only " +
                                std::to_string(r.total - r.correct) + " images were wrong");
            }
            ev.classes.push_back(std::move(r));
        }
        out.push_back(std::move(ev));
    }
    return out;
}

void writePerClassJson(const std::string& path, const std::vector<PerClassEval>& evals) {
    writeFileAtomically(path, perClassToJson(evals));
}

std::vector<PerClassEval> readPerClassJson(const std::string& path) { return perClassFromJson(readFile(path), path); }

std::vector<std::string> findPerClassFiles(const std::string& runDir) {
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::is_directory(runDir, ec)) throw Error(runDir + ": not a folder");
    static const std::regex seedDir("k[0-9]+_seed-?[0-9]+");
    for (const auto& ds : fs::directory_iterator(runDir, ec)) {
        if (!ds.is_directory()) continue;
        for (const auto& sd : fs::directory_iterator(ds.path(), ec)) {
            if (!sd.is_directory() || !std::regex_match(sd.path().filename().string(), seedDir)) continue;
            const fs::path f = sd.path() / "per_class.json";
            if (fs::is_regular_file(f)) out.push_back(f.string());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<PerClassEval> readRunPerClass(const std::string& runDir) {
    fs::path folder = fs::absolute(runDir).lexically_normal();
    if (folder.filename().empty()) folder = folder.parent_path();
    std::vector<PerClassEval> out;
    for (const auto& f : findPerClassFiles(runDir)) {
        auto evals = readPerClassJson(f);
        for (auto& e : evals) {
            if (e.run.empty()) e.run = folder.filename().string();
            out.push_back(std::move(e));
        }
    }
    return out;
}

namespace {

struct Stat {
    double mean = 0, std = 0;
};
Stat stat(const std::vector<double>& v) {
    Stat s;
    for (double x : v) s.mean += x;
    s.mean /= double(v.size());
    double q = 0;
    for (double x : v) q += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(q / double(v.size()));  // population, as results' std rows
    return s;
}

std::string fixed2(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

}  // namespace

std::vector<PerClassRow> perClassRows(const std::vector<PerClassEval>& evals) {
    std::vector<PerClassRow> rows;
    using Key = std::tuple<std::string, std::string, std::string, int, std::string>;  // run, dataset, method, shots, split
    std::vector<Key> order;
    std::map<Key, std::vector<const PerClassEval*>> groups;
    for (const auto& e : evals) {
        PerClassRow base;
        base.run = e.run;
        base.dataset = e.dataset;
        base.method = e.method;
        base.split = e.split;
        base.shots = e.shots;
        base.seed = e.seed;
        for (std::size_t c = 0; c < e.classes.size(); ++c) {
            const ClassResult& r = e.classes[c];
            PerClassRow row = base;
            row.kind = "class";
            row.classIndex = int64_t(c);
            row.className = r.name;
            row.images = r.total;
            row.correct = r.correct;
            if (r.total > 0) row.accuracy = classAccuracy(r);
            if (!r.confusedWith.empty()) {
                const auto [p, k] = r.confusedWith.front();
                row.confusedWith = p < int64_t(e.classes.size()) ? e.classes[std::size_t(p)].name : std::to_string(p);
                row.confusedImages = k;
            }
            rows.push_back(std::move(row));
        }
        PerClassRow macro = base;
        macro.kind = "macro";
        macro.accuracy = meanClassAccuracy(e);
        int64_t images = 0, correct = 0;
        for (const auto& r : e.classes) {
            images += r.total;
            correct += r.correct;
        }
        macro.images = images;
        macro.correct = correct;
        rows.push_back(std::move(macro));
        const Key k{e.run, e.dataset, e.method, e.shots, e.split};
        if (!groups.count(k)) order.push_back(k);
        groups[k].push_back(&e);
    }
    for (const Key& k : order) {
        const auto& g = groups[k];
        if (g.size() < 2) continue;
        PerClassRow base;
        std::tie(base.run, base.dataset, base.method, base.shots, base.split) = k;
        base.n = int(g.size());
        // Classes matched by index and name: a class whose name differs in some seed gets no mean row.
        const PerClassEval& first = *g.front();
        for (std::size_t c = 0; c < first.classes.size(); ++c) {
            std::vector<double> acc;
            int64_t images = 0, correct = 0;
            std::map<int64_t, int64_t> wrong;
            bool same = true;
            for (const PerClassEval* e : g) {
                if (c >= e->classes.size() || e->classes[c].name != first.classes[c].name) {
                    same = false;
                    break;
                }
                const ClassResult& r = e->classes[c];
                images += r.total;
                correct += r.correct;
                if (r.total > 0) acc.push_back(classAccuracy(r));
                for (const auto& [p, n] : r.confusedWith) wrong[p] += n;
            }
            if (!same) continue;
            PerClassRow row = base;
            row.kind = "class_mean";
            row.classIndex = int64_t(c);
            row.className = first.classes[c].name;
            row.images = images;
            row.correct = correct;
            if (!acc.empty()) {
                const Stat s = stat(acc);
                row.accuracy = s.mean;
                row.std = s.std;
            }
            int64_t best = 0, bestClass = -1;
            for (const auto& [p, n] : wrong)
                if (n > best) {
                    best = n;
                    bestClass = p;
                }
            if (bestClass >= 0) {
                row.confusedWith = bestClass < int64_t(first.classes.size()) ? first.classes[std::size_t(bestClass)].name
                                                                             : std::to_string(bestClass);
                row.confusedImages = best;
            }
            rows.push_back(std::move(row));
        }
        std::vector<double> macros;
        int64_t images = 0, correct = 0;
        for (const PerClassEval* e : g) {
            if (const auto m = meanClassAccuracy(*e)) macros.push_back(*m);
            for (const auto& r : e->classes) {
                images += r.total;
                correct += r.correct;
            }
        }
        PerClassRow macro = base;
        macro.kind = "macro_mean";
        macro.images = images;
        macro.correct = correct;
        if (!macros.empty()) {
            const Stat s = stat(macros);
            macro.accuracy = s.mean;
            macro.std = s.std;
        }
        rows.push_back(std::move(macro));
    }
    return rows;
}

const std::vector<std::string>& perClassCsvHeader() {
    static const std::vector<std::string> h{"kind",  "run",     "dataset",  "method", "shots", "seed",          "n",
                                            "split", "class",   "classname", "images", "correct", "accuracy", "std",
                                            "confused_with", "confused_images"};
    return h;
}

std::string perClassCsvText(const std::vector<PerClassRow>& rows) {
    std::string out;
    const auto& h = perClassCsvHeader();
    for (std::size_t i = 0; i < h.size(); ++i) out += (i ? "," : "") + h[i];
    out += "\n";
    const auto opt = [](const auto& v) { return v ? std::to_string(*v) : std::string(); };
    const auto optD = [](const std::optional<double>& v) { return v ? fixed2(*v) : std::string(); };
    for (const auto& r : rows) {
        const std::vector<std::string> f{r.kind,
                                         csvField(r.run),
                                         csvField(r.dataset),
                                         csvField(r.method),
                                         std::to_string(r.shots),
                                         opt(r.seed),
                                         opt(r.n),
                                         r.split,
                                         opt(r.classIndex),
                                         csvField(r.className),
                                         opt(r.images),
                                         opt(r.correct),
                                         optD(r.accuracy),
                                         optD(r.std),
                                         csvField(r.confusedWith),
                                         opt(r.confusedImages)};
        for (std::size_t i = 0; i < f.size(); ++i) out += (i ? "," : "") + f[i];
        out += "\n";
    }
    return out;
}

}  // namespace caspl
