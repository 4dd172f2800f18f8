#include "core/experiment/per_class.h"

#include "core/experiment/results.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/number_text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>
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
    if (!j.is_object() || !j.contains("format") || !j["format"].is_string() || j["format"].get<std::string>() != "caspl-per-class")
        throw Error(source + ": not a caspl per-class file (expected \"format\": \"caspl-per-class\")");
    if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != 1)
        throw Error(source + ": unsupported per-class file version " + (j.contains("version") ? j["version"].dump() : "(none)") +
                    " (this build reads version 1)");
    if (!j.contains("evaluations") || !j["evaluations"].is_array()) throw Error(source + ": expected an \"evaluations\" array");
    const auto isStr = [](const nlohmann::json& v) { return v.is_string(); };
    const auto isCount = [](const nlohmann::json& v) { return v.is_number_integer() && v.get<int64_t>() >= 0; };
    // An int field: an integer within [lo, hi].
    const auto intIn = [](int64_t lo, int64_t hi) {
        return [lo, hi](const nlohmann::json& v) { return v.is_number_integer() && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi; };
    };
    constexpr int64_t kIntMax = 2147483647;
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
        ev.split = need(e, at, "split", [](const nlohmann::json& v) {
                       return v.is_string() && (v == "base" || v == "novel" || v == "all");
                   }, "base, novel or all").get<std::string>();
        ev.shots = e.contains("shots") ? int(need(e, at, "shots", intIn(0, kIntMax), "an integer >= 0").get<int64_t>()) : 0;
        ev.seed = int(need(e, at, "seed", intIn(-kIntMax - 1, kIntMax), "an integer (32 bits)").get<int64_t>());
        ev.epoch = e.contains("epoch") ? int(need(e, at, "epoch", intIn(0, kIntMax), "an integer >= 0").get<int64_t>()) : 0;
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
                const int64_t wrongImages = r.total - r.correct;
                int64_t wrong = 0;
                std::set<int64_t> seen;
                for (std::size_t k = 0; k < cw.size(); ++k) {
                    const auto& p = cw[k];
                    const std::string pat = cat + ".confused_with[" + std::to_string(k) + "]";
                    if (!p.is_array() || p.size() != 2 || !isCount(p[0]) || !isCount(p[1]))
                        throw Error(pat + ": expected [class index, images]");
                    const int64_t cls = p[0].get<int64_t>(), n = p[1].get<int64_t>();
                    if (cls >= int64_t(classes.size()) || cls == int64_t(c))
                        throw Error(pat + ": class " + std::to_string(cls) + " is not another class of this evaluation (0-" +
                                    std::to_string(classes.size() - 1) + ")");
                    if (!seen.insert(cls).second) throw Error(pat + ": class " + std::to_string(cls) + " is listed twice");
                    if (n > wrongImages - wrong)  // before adding: no overflow
                        throw Error(cat + ".confused_with: more wrong predictions than the " + std::to_string(wrongImages) +
                                    " images that were wrong");
                    wrong += n;
                    r.confusedWith.emplace_back(cls, n);
                }
                // Most images first, then by class, whatever order the file has.
                std::sort(r.confusedWith.begin(), r.confusedWith.end(),
                          [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
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

namespace {

// <run>/<dataset>/k<K>_seed<S> folders, by dataset, then K and seed as numbers (k16_seed2 before k16_seed10).
std::vector<std::string> seedFolders(const std::string& runDir) {
    std::error_code ec;
    if (!fs::is_directory(runDir, ec)) throw Error(runDir + ": not a folder (expected a run folder written by `caspl run`)");
    static const std::regex seedDir("k([0-9]{1,9})_seed(-?[0-9]{1,9})");
    std::vector<std::tuple<std::string, long long, long long, std::string>> found;
    for (const auto& ds : fs::directory_iterator(runDir, ec)) {
        if (!ds.is_directory()) continue;
        std::error_code inner;
        for (const auto& sd : fs::directory_iterator(ds.path(), inner)) {
            std::smatch m;
            const std::string name = sd.path().filename().string();
            if (!sd.is_directory() || !std::regex_match(name, m, seedDir)) continue;
            found.emplace_back(ds.path().filename().string(), std::stoll(m[1].str()), std::stoll(m[2].str()), sd.path().string());
        }
    }
    std::sort(found.begin(), found.end());
    std::vector<std::string> out;
    for (const auto& f : found) out.push_back(std::get<3>(f));
    return out;
}

}  // namespace

std::vector<std::string> findPerClassFiles(const std::string& runDir) {
    std::vector<std::string> out;
    for (const auto& f : seedFolders(runDir))
        if (fs::is_regular_file(fs::path(f) / "per_class.json")) out.push_back((fs::path(f) / "per_class.json").string());
    return out;
}

std::vector<std::string> seedFoldersWithoutPerClass(const std::string& runDir) {
    std::vector<std::string> out;
    for (const auto& f : seedFolders(runDir))
        if (fs::is_regular_file(fs::path(f) / "result.json") && !fs::exists(fs::path(f) / "per_class.json")) out.push_back(f);
    return out;
}

std::vector<PerClassEval> readRunPerClass(const std::string& runDir) {
    fs::path folder = fs::absolute(runDir).lexically_normal();
    if (folder.filename().empty()) folder = folder.parent_path();
    std::vector<PerClassEval> out;
    for (const auto& f : findPerClassFiles(runDir)) {
        auto evals = readPerClassJson(f);
        for (auto& e : evals) {
            // Named after the folder as it is now: a run moved or copied before it was resumed has seeds written
            // under either name, and they are one run.
            e.run = folder.filename().string();
            out.push_back(std::move(e));
        }
    }
    return out;
}

namespace {

// Images and correct predictions of an evaluation, summed over its classes.
std::pair<int64_t, int64_t> totals(const PerClassEval& e) {
    int64_t images = 0, correct = 0;
    for (const auto& r : e.classes) {
        images += r.total;
        correct += r.correct;
    }
    return {images, correct};
}

// The name of class `index` of `e` (its number where the evaluation has no such class).
std::string nameOf(const PerClassEval& e, int64_t index) {
    return index >= 0 && index < int64_t(e.classes.size()) ? e.classes[std::size_t(index)].name : std::to_string(index);
}

// Mean and std of a row's values (std only from two values on: the population std of one value says nothing).
void setMean(PerClassRow& row, const std::vector<double>& values) {
    row.n = int(values.size());
    if (values.empty()) return;
    const SeedStat st = statOf(values);  // population std, as results' std rows
    row.accuracy = st.mean;
    if (values.size() > 1) row.std = st.std;
}

std::string fixed2(double v) { return fixedText(v, 2); }

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
                row.confusedWith = nameOf(e, r.confusedWith.front().first);
                row.confusedImages = r.confusedWith.front().second;
            }
            rows.push_back(std::move(row));
        }
        PerClassRow macro = base;
        macro.kind = "macro";
        macro.accuracy = meanClassAccuracy(e);
        std::tie(macro.images, macro.correct) = totals(e);
        rows.push_back(std::move(macro));
        const Key k{e.run, e.dataset, e.method, e.shots, e.split};
        if (!groups.count(k)) order.push_back(k);
        for (const PerClassEval* o : groups[k])
            if (o->seed == e.seed)
                throw Error("two per-class evaluations of run '" + e.run + "', " + e.dataset + " / " + e.method + " / " +
                            std::to_string(e.shots) + " shots / seed " + std::to_string(e.seed) + " / " + e.split +
                            " (the same run given twice, two run folders of the same name, or a copied seed folder)");
        groups[k].push_back(&e);
    }
    for (const Key& k : order) {
        const auto& g = groups[k];
        if (g.size() < 2) continue;
        PerClassRow base;
        std::tie(base.run, base.dataset, base.method, base.shots, base.split) = k;
        // Classes matched by index: the seeds that have class c and agree on its name (a class named differently in
        // some seed gets no mean row). n: the seeds that gave it an accuracy (had images of it).
        std::size_t classes = 0;
        for (const PerClassEval* e : g) classes = std::max(classes, e->classes.size());
        for (std::size_t c = 0; c < classes; ++c) {
            const std::string* name = nullptr;
            std::vector<double> acc;
            int64_t images = 0, correct = 0;
            std::map<int64_t, int64_t> wrong;
            bool same = true;
            const PerClassEval* names = nullptr;  // a seed holding class c, for the confused class's name
            for (const PerClassEval* e : g) {
                if (c >= e->classes.size()) continue;
                const ClassResult& r = e->classes[c];
                if (!name) {
                    name = &r.name;
                    names = e;
                } else if (r.name != *name) {
                    same = false;
                    break;
                }
                images += r.total;
                correct += r.correct;
                if (r.total > 0) acc.push_back(classAccuracy(r));
                for (const auto& [p, n] : r.confusedWith) wrong[p] += n;
            }
            if (!same || !name) continue;
            PerClassRow row = base;
            row.kind = "class_mean";
            setMean(row, acc);
            row.classIndex = int64_t(c);
            row.className = *name;
            row.images = images;
            row.correct = correct;
            int64_t best = 0, bestClass = -1;
            for (const auto& [p, n] : wrong)
                if (n > best) {
                    best = n;
                    bestClass = p;
                }
            if (bestClass >= 0) {
                row.confusedWith = nameOf(*names, bestClass);
                row.confusedImages = best;
            }
            rows.push_back(std::move(row));
        }
        std::vector<double> macros;
        int64_t images = 0, correct = 0;
        for (const PerClassEval* e : g) {
            if (const auto m = meanClassAccuracy(*e)) macros.push_back(*m);
            const auto [i, c] = totals(*e);
            images += i;
            correct += c;
        }
        PerClassRow macro = base;
        macro.kind = "macro_mean";
        setMean(macro, macros);
        macro.images = images;
        macro.correct = correct;
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
        const std::vector<std::string> f{csvField(r.kind),
                                         csvField(r.run),
                                         csvField(r.dataset),
                                         csvField(r.method),
                                         std::to_string(r.shots),
                                         opt(r.seed),
                                         opt(r.n),
                                         csvField(r.split),
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

std::optional<double> ConfusionMatrix::percent(int64_t truth, int64_t predicted) const {
    const int64_t n = images[std::size_t(truth)];
    if (n <= 0) return std::nullopt;
    return 100.0 * double(at(truth, predicted)) / double(n);
}

ConfusionMatrix confusionMatrix(const std::vector<const PerClassEval*>& evals) {
    if (evals.empty()) throw Error("confusion matrix: no evaluation");
    ConfusionMatrix m;
    const PerClassEval& first = *evals.front();
    for (const auto& c : first.classes) m.names.push_back(c.name);
    const std::size_t n = m.names.size();
    m.counts.assign(n * n, 0);
    m.images.assign(n, 0);
    for (const PerClassEval* e : evals) {
        const auto describe = [](const PerClassEval& x) {
            return "'" + x.run + "' " + x.dataset + " / " + x.method + " / " + std::to_string(x.shots) + " shots / seed " +
                   std::to_string(x.seed) + " / " + x.split;
        };
        if (e->classes.size() != n)
            throw Error("confusion matrix: " + describe(*e) + " has " + std::to_string(e->classes.size()) +
                        " classes, " + describe(first) + " has " + std::to_string(n));
        for (std::size_t t = 0; t < n; ++t) {
            const ClassResult& r = e->classes[t];
            if (r.name != m.names[t])
                throw Error("confusion matrix: class " + std::to_string(t) + " is '" + r.name + "' in " + describe(*e) +
                            " but '" + m.names[t] + "' in " + describe(first));
            m.images[t] += r.total;
            m.counts[t * n + t] += r.correct;
            for (const auto& [p, k] : r.confusedWith) {
                if (p < 0 || std::size_t(p) >= n || std::size_t(p) == t)
                    throw Error("confusion matrix: " + describe(*e) + ", class " + std::to_string(t) +
                                ": a wrong prediction of class " + std::to_string(p) + " (expected another of the " +
                                std::to_string(n) + " classes)");
                m.counts[t * n + std::size_t(p)] += k;
            }
        }
        ++m.evaluations;
    }
    return m;
}

std::string confusionMatrixCsvText(const ConfusionMatrix& m) {
    std::string out = csvField("true \\ predicted");
    for (const auto& name : m.names) out += "," + csvField(name);
    out += "\n";
    for (int64_t t = 0; t < m.classes(); ++t) {
        out += csvField(m.names[std::size_t(t)]);
        for (int64_t p = 0; p < m.classes(); ++p) out += "," + std::to_string(m.at(t, p));
        out += "\n";
    }
    return out;
}

std::string confusionDifferenceCsvText(const ConfusionMatrix& a, const ConfusionMatrix& b) {
    if (a.names != b.names)
        throw Error("confusion matrix difference: the two matrices have different classes (" + std::to_string(a.classes()) +
                    " and " + std::to_string(b.classes()) + ")");
    std::string out = csvField("true \\ predicted (B - A in points)");
    for (const auto& name : b.names) out += "," + csvField(name);
    out += "\n";
    for (int64_t t = 0; t < b.classes(); ++t) {
        out += csvField(b.names[std::size_t(t)]);
        for (int64_t p = 0; p < b.classes(); ++p) {
            const auto x = a.percent(t, p), y = b.percent(t, p);
            out += "," + (x && y ? fixed2(*y - *x) : std::string());
        }
        out += "\n";
    }
    return out;
}

std::string confusionCsvText(const std::vector<PerClassEval>& evals) {
    std::string out = "run,dataset,method,shots,seed,split,class,classname,predicted,predicted_name,images,percent\n";
    for (const auto& e : evals) {
        const ConfusionMatrix m = confusionMatrix({&e});
        const std::string head = csvField(e.run) + "," + csvField(e.dataset) + "," + csvField(e.method) + "," +
                                 std::to_string(e.shots) + "," + std::to_string(e.seed) + "," + csvField(e.split) + ",";
        for (int64_t t = 0; t < m.classes(); ++t)
            for (int64_t p = 0; p < m.classes(); ++p) {
                const int64_t k = m.at(t, p);
                if (k == 0) continue;
                const auto pct = m.percent(t, p);
                out += head + std::to_string(t) + "," + csvField(m.names[std::size_t(t)]) + "," + std::to_string(p) + "," +
                       csvField(m.names[std::size_t(p)]) + "," + std::to_string(k) + "," + (pct ? fixed2(*pct) : "") + "\n";
            }
    }
    return out;
}

}  // namespace caspl
