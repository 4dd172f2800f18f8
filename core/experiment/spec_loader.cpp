#include "core/experiment/spec_loader.h"

#include "core/data/fewshot.h"
#include "core/util/atomic_file.h"
#include "core/util/suggest.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace caspl {

namespace fs = std::filesystem;

// ------------------------------------------------------------------------------------------------------------------
// Diagnostics

std::string SpecLocation::str() const {
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string SpecDiagnostic::str() const {
    std::string s = where.str();
    if (!key.empty()) s += (s.empty() ? "" : ": ") + key;
    return s + (s.empty() ? "" : ": ") + message;
}

namespace {
std::string joinDiagnostics(const std::vector<SpecDiagnostic>& d) {
    std::string s;
    for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "\n" : "") + d[i].str();
    return s;
}
}  // namespace

SpecError::SpecError(std::vector<SpecDiagnostic> diagnostics)
    : Error(joinDiagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

namespace {

// The first line of toYaml's text: what marks a resolved configuration.
constexpr const char* kResolvedHeader = "# Resolved experiment (caspl)";

// yaml-cpp reports a tab in the indentation as whatever it cannot parse next ("illegal map value", "end of map not
// found"): name the tab when a line up to the error's starts with one.
std::string tabIndentHint(const std::string& text, int errorLine) {
    int line = 1;
    std::size_t start = 0;
    while (start <= text.size() && line <= errorLine) {
        const std::size_t end = std::min(text.find('\n', start), text.size());
        const std::size_t first = text.find_first_not_of(' ', start);
        if (first < end && text[first] == '\t')
            return " (line " + std::to_string(line) + " is indented with a tab; YAML indents with spaces only)";
        start = end + 1;
        ++line;
    }
    return "";
}

using Diags = std::vector<SpecDiagnostic>;

[[noreturn]] void fail(const SpecLocation& where, const std::string& key, const std::string& message) {
    throw SpecError({SpecDiagnostic{where, key, message}});
}

// ------------------------------------------------------------------------------------------------------------------
// A YAML tree that remembers, for every value, the file and position it came from (so that values merged from
// several files still report their own file).

struct TEntry;
struct TNode {
    enum Kind { Null, Scalar, Seq, Map } kind = Null;
    std::string scalar;
    SpecLocation loc;
    std::vector<TNode> items;
    std::vector<TEntry> entries;

    TEntry* find(const std::string& key);
    void erase(const std::string& key);
};
struct TEntry {
    std::string key;
    SpecLocation keyLoc;
    TNode value;
};

TEntry* TNode::find(const std::string& key) {
    for (auto& e : entries)
        if (e.key == key) return &e;
    return nullptr;
}
void TNode::erase(const std::string& key) {
    entries.erase(std::remove_if(entries.begin(), entries.end(), [&](const TEntry& e) { return e.key == key; }),
                  entries.end());
}

const char* kindWord(const TNode& n) {
    switch (n.kind) {
        case TNode::Null: return "nothing";
        case TNode::Scalar: return "a value";
        case TNode::Seq: return "a list";
        case TNode::Map: return "a map";
    }
    return "?";
}

SpecLocation markLoc(const YAML::Mark& m, const std::string& file, const SpecLocation& fallback, bool positions) {
    if (!positions || m.is_null() || m.line < 0) return positions ? fallback : SpecLocation{file, 0, 0};
    return SpecLocation{file, m.line + 1, m.column + 1};
}

TNode convert(const YAML::Node& n, const std::string& file, const SpecLocation& fallback, bool positions,
              const std::string& path, Diags& diags) {
    TNode t;
    t.loc = markLoc(n.Mark(), file, fallback, positions);
    switch (n.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null: t.kind = TNode::Null; break;
        case YAML::NodeType::Scalar:
            t.kind = TNode::Scalar;
            t.scalar = n.Scalar();
            break;
        case YAML::NodeType::Sequence:
            t.kind = TNode::Seq;
            for (std::size_t i = 0; i < n.size(); ++i)
                t.items.push_back(convert(n[i], file, t.loc, positions, path + "[" + std::to_string(i) + "]", diags));
            break;
        case YAML::NodeType::Map:
            t.kind = TNode::Map;
            for (auto it = n.begin(); it != n.end(); ++it) {
                const SpecLocation keyLoc = markLoc(it->first.Mark(), file, t.loc, positions);
                if (!it->first.IsScalar()) {
                    diags.push_back({keyLoc, path, "a key must be a plain name, got " +
                                                       std::string(it->first.IsSequence() ? "a list" : "a map")});
                    continue;
                }
                const std::string key = it->first.Scalar();
                const std::string sub = path.empty() ? key : path + "." + key;
                if (const TEntry* prev = t.find(key)) {
                    diags.push_back({keyLoc, sub, "duplicate key (first given at " + prev->keyLoc.str() + ")"});
                    continue;
                }
                TEntry e;
                e.key = key;
                e.keyLoc = keyLoc;
                e.value = convert(it->second, file, keyLoc, positions, sub, diags);
                t.entries.push_back(std::move(e));
            }
            break;
    }
    return t;
}

// Later wins: maps merge key by key, anything else replaces; an empty section (`train:` and nothing) changes nothing.
void mergeInto(TNode& dst, const TNode& src) {
    if (dst.kind == TNode::Map && src.kind == TNode::Null) return;
    if (dst.kind != TNode::Map || src.kind != TNode::Map) {
        dst = src;
        return;
    }
    for (const auto& e : src.entries) {
        TEntry* d = dst.find(e.key);
        if (!d) {
            dst.entries.push_back(e);
        } else {
            d->keyLoc = e.keyLoc;
            mergeInto(d->value, e.value);
        }
    }
}

// ------------------------------------------------------------------------------------------------------------------
// Scalars

bool parseInteger(const std::string& text, long long& out) {
    std::string s = text;
    if (!s.empty() && s[0] == '+') s.erase(0, 1);
    if (s.empty()) return false;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parseNumber(const std::string& text, double& out) {
    std::string s = text;
    if (!s.empty() && s[0] == '+') s.erase(0, 1);
    if (s.empty()) return false;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out);
}

bool parseBoolean(const std::string& text, bool& out) {
    std::string s = text;
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (s == "true" || s == "yes" || s == "on") {
        out = true;
        return true;
    }
    if (s == "false" || s == "no" || s == "off") {
        out = false;
        return true;
    }
    return false;
}

// Shortest text that reads back to the same double, always recognisable as a float ("25.0", "1.0e-05").
std::string formatDouble(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, r.ptr);
    if (s.find_first_of(".en") == std::string::npos) {
        s += ".0";
    } else if (s.find('e') != std::string::npos && s.find('.') == std::string::npos) {
        s.insert(s.find('e'), ".0");
    }
    return s;
}

std::string quoteForMessage(const std::string& s) {
    const std::string shown = s.size() > 60 ? s.substr(0, 57) + "..." : s;
    return "'" + shown + "'";
}

std::string got(const TNode& n) {
    if (n.kind == TNode::Scalar) return "got " + quoteForMessage(n.scalar);
    return "got " + std::string(kindWord(n));
}

// ------------------------------------------------------------------------------------------------------------------
// The schema: every key, its type, range, default and meaning, with accessors into ExperimentSpec.

enum class FieldKind { Int, Double, Bool, String, Enum, IntList, StringList };

struct Range {
    bool hasLo = false, hasHi = false, loOpen = false, hiOpen = false;
    double lo = 0, hi = 0;
    std::vector<long long> alsoAllowed;  // e.g. -1 for shots

    bool contains(double v) const {
        for (long long a : alsoAllowed)
            if (v == double(a)) return true;
        if (hasLo && (loOpen ? !(v > lo) : !(v >= lo))) return false;
        if (hasHi && (hiOpen ? !(v < hi) : !(v <= hi))) return false;
        return true;
    }
    std::string str() const {
        std::string s;
        auto num = [](double v) {
            std::string t = formatDouble(v);
            if (t.size() > 2 && t.compare(t.size() - 2, 2, ".0") == 0) t.resize(t.size() - 2);
            return t;
        };
        if (hasLo) s += std::string(loOpen ? "> " : ">= ") + num(lo);
        if (hasHi) s += std::string(s.empty() ? "" : " and ") + (hiOpen ? "< " : "<= ") + num(hi);
        for (long long a : alsoAllowed) s += " (or " + std::to_string(a) + ")";
        return s;
    }
};
Range atLeast(double lo) {
    Range r;
    r.hasLo = true;
    r.lo = lo;
    return r;
}
Range above(double lo) {
    Range r = atLeast(lo);
    r.loOpen = true;
    return r;
}
Range between(double lo, double hi) {
    Range r = atLeast(lo);
    r.hasHi = true;
    r.hi = hi;
    return r;
}
Range aboveUpTo(double lo, double hi) {
    Range r = between(lo, hi);
    r.loOpen = true;
    return r;
}
Range belowOpen(Range r) {
    r.hiOpen = true;
    return r;
}

struct FieldValue {
    bool unset = false;  // an optional field without a value (FieldDef::optional)
    long long i = 0;
    double d = 0;
    bool b = false;
    std::string s;
    std::vector<long long> il;
    std::vector<std::string> sl;
};

struct FieldDef {
    std::string path;  // "train.lr" or "name"
    std::string section, key;
    FieldKind kind = FieldKind::String;
    Range range;
    std::vector<std::string> choices;  // Enum, and allowed items of a StringList (empty: any)
    bool nonEmpty = false;             // lists
    bool optional = false;             // may hold no value (`key: ~`); written only when it holds one
    std::string help;
    std::function<FieldValue(const ExperimentSpec&)> get;
    std::function<void(ExperimentSpec&, const FieldValue&)> set;
};

FieldDef makeField(const std::string& path, FieldKind kind, const std::string& help) {
    FieldDef f;
    f.path = path;
    const auto dot = path.find('.');
    if (dot != std::string::npos) {
        f.section = path.substr(0, dot);
        f.key = path.substr(dot + 1);
    } else {
        f.key = path;
    }
    f.kind = kind;
    f.help = help;
    return f;
}

template <class Ref>
FieldDef intField(const std::string& path, Ref ref, Range range, const std::string& help) {
    FieldDef f = makeField(path, FieldKind::Int, help);
    f.range = range;
    f.get = [ref](const ExperimentSpec& e) {
        FieldValue v;
        v.i = ref(const_cast<ExperimentSpec&>(e));
        return v;
    };
    f.set = [ref](ExperimentSpec& e, const FieldValue& v) { ref(e) = int(v.i); };
    return f;
}
template <class Ref>
FieldDef doubleField(const std::string& path, Ref ref, Range range, const std::string& help) {
    FieldDef f = makeField(path, FieldKind::Double, help);
    f.range = range;
    f.get = [ref](const ExperimentSpec& e) {
        FieldValue v;
        v.d = ref(const_cast<ExperimentSpec&>(e));
        return v;
    };
    f.set = [ref](ExperimentSpec& e, const FieldValue& v) { ref(e) = v.d; };
    return f;
}
template <class Ref>  // Ref yields a std::optional<double>&
FieldDef optionalDoubleField(const std::string& path, Ref ref, Range range, const std::string& help) {
    FieldDef f = makeField(path, FieldKind::Double, help);
    f.range = range;
    f.optional = true;
    f.get = [ref](const ExperimentSpec& e) {
        FieldValue v;
        const auto& x = ref(const_cast<ExperimentSpec&>(e));
        v.unset = !x.has_value();
        v.d = x.value_or(0.0);
        return v;
    };
    f.set = [ref](ExperimentSpec& e, const FieldValue& v) {
        auto& dst = ref(e);
        if (v.unset) dst.reset();
        else dst = v.d;
    };
    return f;
}
template <class Ref>
FieldDef boolField(const std::string& path, Ref ref, const std::string& help) {
    FieldDef f = makeField(path, FieldKind::Bool, help);
    f.get = [ref](const ExperimentSpec& e) {
        FieldValue v;
        v.b = ref(const_cast<ExperimentSpec&>(e));
        return v;
    };
    f.set = [ref](ExperimentSpec& e, const FieldValue& v) { ref(e) = v.b; };
    return f;
}
template <class Ref>
FieldDef stringField(const std::string& path, Ref ref, const std::string& help) {
    FieldDef f = makeField(path, FieldKind::String, help);
    f.get = [ref](const ExperimentSpec& e) {
        FieldValue v;
        v.s = ref(const_cast<ExperimentSpec&>(e));
        return v;
    };
    f.set = [ref](ExperimentSpec& e, const FieldValue& v) { ref(e) = v.s; };
    return f;
}
template <class E, class Ref>
FieldDef enumField(const std::string& path, Ref ref, std::vector<E> values, const char* (*nameOf)(E),
                   const std::string& help) {
    FieldDef f = makeField(path, FieldKind::Enum, help);
    for (E v : values) f.choices.push_back(nameOf(v));
    f.get = [ref, nameOf](const ExperimentSpec& e) {
        FieldValue v;
        v.s = nameOf(ref(const_cast<ExperimentSpec&>(e)));
        return v;
    };
    f.set = [ref, values, nameOf](ExperimentSpec& e, const FieldValue& v) {
        for (E x : values)
            if (v.s == nameOf(x)) ref(e) = x;
    };
    return f;
}
template <class Ref>
FieldDef choiceField(const std::string& path, Ref ref, std::vector<std::string> choices, const std::string& help) {
    FieldDef f = stringField(path, ref, help);
    f.kind = FieldKind::Enum;
    f.choices = std::move(choices);
    return f;
}
template <class Ref>
FieldDef intListField(const std::string& path, Ref ref, Range range, bool nonEmpty, const std::string& help) {
    FieldDef f = makeField(path, FieldKind::IntList, help);
    f.range = range;
    f.nonEmpty = nonEmpty;
    f.get = [ref](const ExperimentSpec& e) {
        FieldValue v;
        for (int x : ref(const_cast<ExperimentSpec&>(e))) v.il.push_back(x);
        return v;
    };
    f.set = [ref](ExperimentSpec& e, const FieldValue& v) {
        auto& dst = ref(e);
        dst.clear();
        for (long long x : v.il) dst.push_back(int(x));
    };
    return f;
}
template <class Ref>
FieldDef stringListField(const std::string& path, Ref ref, std::vector<std::string> choices,
                         const std::string& help) {
    FieldDef f = makeField(path, FieldKind::StringList, help);
    f.choices = std::move(choices);
    f.get = [ref](const ExperimentSpec& e) {
        FieldValue v;
        v.sl = ref(const_cast<ExperimentSpec&>(e));
        return v;
    };
    f.set = [ref](ExperimentSpec& e, const FieldValue& v) { ref(e) = v.sl; };
    return f;
}

#define CASPL_REF(member) [](ExperimentSpec& e) -> auto& { return e.member; }

const std::vector<std::string> kSections{"data", "models", "method", "phase1", "train", "eval", "reference"};
const std::vector<std::string> kPerFileKeys{"extends", "abstract"};

const std::vector<FieldDef>& schema() {
    static const std::vector<FieldDef> fields = [] {
        std::vector<FieldDef> f;
        const std::vector<MethodKind> methods{MethodKind::ZeroShot, MethodKind::CoOp,  MethodKind::CoCoOp,
                                              MethodKind::IVLP,     MethodKind::MaPLe, MethodKind::PromptSRC};
        f.push_back(stringField("name", CASPL_REF(name), "the experiment's name (default: the preset name / file stem)"));
        f.push_back(stringField("description", CASPL_REF(description), "one line saying what the experiment is"));
        f.push_back(stringField("source", CASPL_REF(source), "where the values come from (config files, spec sections)"));

        f.push_back(stringField("data.root", CASPL_REF(data.root),
                                "folder holding the datasets in CoOp's layout (oxford_pets/, caltech-101/, ...)"));
        f.push_back(stringListField("data.datasets", CASPL_REF(data.datasets), {},
                                    "datasets trained on, by Dassl name (ImageNet, Caltech101, OxfordPets, "
                                    "StanfordCars, OxfordFlowers, Food101, FGVCAircraft, SUN397, "
                                    "DescribableTextures, EuroSAT, UCF101) or your own dataset's name"));
        f.push_back(enumField("data.protocol", CASPL_REF(data.protocol),
                              std::vector<Protocol>{Protocol::Base2Novel, Protocol::FewShot, Protocol::All,
                                                    Protocol::CrossDataset, Protocol::DomainGeneralization},
                              protocolName, "evaluation protocol (spec §5)"));
        {
            Range r = atLeast(1);
            r.alsoAllowed = {-1};
            f.push_back(intListField("data.shots", CASPL_REF(data.shots), r, true,
                                     "K images per class (-1: every image); several values: one run per K"));
        }
        f.push_back(intListField("data.seeds", CASPL_REF(data.seeds), atLeast(1), true,
                                 "run seeds (one run per seed)"));
        f.push_back(stringField("data.image_cache", CASPL_REF(data.imageCache),
                                "folder of the decoded evaluation-image cache (\"\": no cache)"));
        f.push_back(intField("data.loader_threads", CASPL_REF(data.loaderThreads), between(0, 1024),
                             "image decoding threads (0: every core)"));
        f.push_back(stringListField("data.eval_splits", CASPL_REF(data.evalSplits), {"base", "novel", "all"},
                                    "test splits: base, novel, all (default from the protocol)"));
        f.push_back(stringListField("data.eval_datasets", CASPL_REF(data.evalDatasets), {},
                                    "cross_dataset / domain_generalization: datasets tested (default from the "
                                    "protocol)"));

        f.push_back(stringField("models.dir", CASPL_REF(models.dir), "folder where CLIP names are looked up"));
        f.push_back(stringField("models.student", CASPL_REF(models.student),
                                "student CLIP: a name (ViT-B/16) or a checkpoint path"));
        f.push_back(stringField("models.teacher", CASPL_REF(models.teacher),
                                "phase-1 teacher CLIP: a name (ViT-L/14) or a checkpoint path"));

        f.push_back(enumField("method.name", CASPL_REF(method.kind), methods, methodName,
                              "the base method (required)"));
        f.push_back(intField("method.n_ctx_text", CASPL_REF(method.nCtxText), between(1, 64),
                             "text context tokens per layer"));
        f.push_back(intField("method.n_ctx_vision", CASPL_REF(method.nCtxVision), between(0, 64),
                             "vision prompt tokens per layer"));
        f.push_back(intField("method.depth_text", CASPL_REF(method.depthText), between(1, 64),
                             "text layers 0..depth-1 carry prompts"));
        f.push_back(intField("method.depth_vision", CASPL_REF(method.depthVision), between(0, 64),
                             "vision layers 0..depth-1 carry prompts"));
        f.push_back(stringField("method.ctx_init", CASPL_REF(method.ctxInit),
                                "context initialisation phrase (\"\": random N(0, 0.02^2))"));
        f.push_back(boolField("method.csc", CASPL_REF(method.csc), "class-specific context (CoOp)"));
        f.push_back(choiceField("method.class_token_position", CASPL_REF(method.classTokenPosition),
                                {"end", "middle", "front"}, "class token position (CoOp)"));
        f.push_back(doubleField("method.text_loss_weight", CASPL_REF(method.textLossWeight), atLeast(0),
                                "PromptSRC L1 text-feature weight"));
        f.push_back(doubleField("method.image_loss_weight", CASPL_REF(method.imageLossWeight), atLeast(0),
                                "PromptSRC L1 image-feature weight"));
        f.push_back(doubleField("method.gpa_mean", CASPL_REF(method.gpaMean), atLeast(0),
                                "PromptSRC Gaussian prompt aggregation: mean epoch"));
        f.push_back(doubleField("method.gpa_std", CASPL_REF(method.gpaStd), above(0),
                                "PromptSRC Gaussian prompt aggregation: standard deviation (epochs)"));

        f.push_back(boolField("phase1.enabled", CASPL_REF(phase1.enabled),
                              "CasPL: train (or load) boosting prompts and cascade them with the method's"));
        f.push_back(intField("phase1.n_text", CASPL_REF(phase1.nText), between(1, 64), "text boosting tokens"));
        f.push_back(intField("phase1.n_vision", CASPL_REF(phase1.nVision), between(1, 64), "vision boosting tokens"));
        f.push_back(intField("phase1.depth_text", CASPL_REF(phase1.depthText), between(1, 64),
                             "text layers carrying boosting tokens"));
        f.push_back(intField("phase1.depth_vision", CASPL_REF(phase1.depthVision), between(1, 64),
                             "vision layers carrying boosting tokens"));
        f.push_back(stringField("phase1.ctx_init", CASPL_REF(phase1.ctxInit),
                                "boosting text initialisation phrase (used only when n_text <= 4)"));
        f.push_back(intField("phase1.epochs", CASPL_REF(phase1.epochs), atLeast(1), "phase-1 epochs"));
        f.push_back(intField("phase1.batch_size", CASPL_REF(phase1.batchSize), between(1, 1 << 20),
                             "phase-1 batch size"));
        f.push_back(doubleField("phase1.lr", CASPL_REF(phase1.lr), aboveUpTo(0, 10), "phase-1 learning rate"));
        f.push_back(doubleField("phase1.temperature", CASPL_REF(phase1.temperature), above(0),
                                "distillation temperature"));
        f.push_back(enumField("phase1.pool", CASPL_REF(phase1.pool),
                              std::vector<Phase1Pool>{Phase1Pool::Train, Phase1Pool::Test, Phase1Pool::Folder},
                              phase1PoolName,
                              "unlabeled images distilled on: the dataset's train split (all classes), its test "
                              "split, or pool_folder"));
        f.push_back(stringField("phase1.pool_folder", CASPL_REF(phase1.poolFolder),
                                "pool: folder: a folder of unlabeled images"));
        f.push_back(boolField("phase1.teacher_cache", CASPL_REF(phase1.teacherCache),
                              "precompute the teacher's image features of each epoch's exact crops before the epoch (same result as online)"));
        f.push_back(stringField("phase1.artifact", CASPL_REF(phase1.artifact),
                                "boosting prompts to reuse instead of training phase 1 (\"\": train)"));
        f.push_back(intField("phase1.seed", CASPL_REF(phase1.seed), atLeast(1),
                             "phase-1 seed (trained once, reused by every phase-2 seed)"));

        f.push_back(intField("train.epochs", CASPL_REF(train.epochs), atLeast(1), "epochs"));
        f.push_back(intField("train.batch_size", CASPL_REF(train.batchSize), between(1, 1 << 20), "batch size"));
        f.push_back(doubleField("train.lr", CASPL_REF(train.lr), aboveUpTo(0, 10), "SGD learning rate"));
        f.push_back(doubleField("train.momentum", CASPL_REF(train.momentum), belowOpen(between(0, 1)),
                                "SGD momentum"));
        f.push_back(doubleField("train.weight_decay", CASPL_REF(train.weightDecay), between(0, 1),
                                "SGD weight decay"));
        f.push_back(intField("train.warmup_epochs", CASPL_REF(train.warmupEpochs), atLeast(0),
                             "warm-up epochs (both phases)"));
        f.push_back(doubleField("train.warmup_lr", CASPL_REF(train.warmupLr), aboveUpTo(0, 10),
                                "warm-up learning rate (constant warm-up)"));
        f.push_back(enumField("train.warmup_type", CASPL_REF(train.warmupType),
                              std::vector<WarmupType>{WarmupType::Constant, WarmupType::Linear}, warmupTypeName,
                              "warm-up type"));
        f.push_back(enumField("train.lr_scheduler", CASPL_REF(train.lrScheduler),
                              std::vector<LrScheduler>{LrScheduler::Cosine, LrScheduler::Constant}, lrSchedulerName,
                              "learning-rate schedule after warm-up (stepped per epoch)"));
        f.push_back(enumField("train.precision", CASPL_REF(train.precision),
                              std::vector<Precision>{Precision::Fp32, Precision::Bf16, Precision::Fp16},
                              precisionName, "compute precision (prompts stay fp32)"));
        f.push_back(enumField("train.device", CASPL_REF(train.device),
                              std::vector<Device>{Device::Auto, Device::Cpu, Device::Cuda}, deviceName,
                              "where to run (auto: CUDA when available)"));
        f.push_back(intField("train.text_chunk", CASPL_REF(train.textChunk), atLeast(0),
                             "classes per text-encoder pass (0: all at once); in training each chunk is recomputed in backward, so a step holds one chunk's activations"));
        f.push_back(doubleField("train.crop_scale_min", CASPL_REF(train.cropScaleMin), aboveUpTo(0, 1),
                                "smallest RandomResizedCrop area fraction, both phases (torchvision: 0.08)"));
        f.push_back(boolField("train.cuda_graphs", CASPL_REF(train.cudaGraphs),
                              "capture each training step once as a CUDA graph and replay it (both phases; same "
                              "arithmetic as eager; ignored off CUDA)"));
        f.push_back(boolField("train.tensorboard", CASPL_REF(train.tensorboard),
                              "write the curves and accuracies as TensorBoard event files under <run>/tensorboard while "
                              "the run runs (tensorboard --logdir runs), as Dassl's trainers do"));

        f.push_back(intField("eval.batch_size", CASPL_REF(eval.batchSize), between(1, 1 << 20), "test batch size"));
        f.push_back(enumField("eval.rounding", CASPL_REF(eval.rounding),
                              std::vector<Rounding>{Rounding::Paper, Rounding::None}, roundingName,
                              "paper: each seed's accuracy rounded to 1 decimal before averaging (spec §2.4)"));

        // Published numbers shown next to the results; not part of the experiment (resolvedHash leaves them out).
        f.push_back(stringField("reference.source", CASPL_REF(reference.source),
                                "where the reference numbers come from (e.g. \"CasPL paper, Fig. 3\")"));
        f.push_back(stringField("reference.dataset", CASPL_REF(reference.dataset),
                                "the dataset the reference numbers belong to (\"\": the experiment's only dataset)"));
        f.push_back(stringField("reference.method", CASPL_REF(reference.method),
                                "the method they belong to, as results name it (coop, coop+caspl, ...; \"\": the "
                                "experiment's own)"));
        {
            Range r = atLeast(0);
            r.alsoAllowed = {-1};
            f.push_back(intField("reference.shots", CASPL_REF(reference.shots), r,
                                 "the K the reference numbers were measured at (0: the experiment's K, when it runs one)"));
        }
        f.push_back(optionalDoubleField("reference.base", CASPL_REF(reference.base), between(0, 100),
                                        "published base-class accuracy, percent (base2novel)"));
        f.push_back(optionalDoubleField("reference.novel", CASPL_REF(reference.novel), between(0, 100),
                                        "published novel-class accuracy, percent (base2novel)"));
        f.push_back(optionalDoubleField("reference.hm", CASPL_REF(reference.hm), between(0, 100),
                                        "published harmonic mean of base and novel (default: computed from them)"));
        f.push_back(optionalDoubleField("reference.all", CASPL_REF(reference.all), between(0, 100),
                                        "published accuracy on all classes, percent (fewshot, all, transfer)"));

        f.push_back(stringField("output", CASPL_REF(output), "folder receiving the run folders"));
        return f;
    }();
    return fields;
}

const FieldDef* findField(const std::string& section, const std::string& key) {
    for (const auto& f : schema())
        if (f.section == section && f.key == key) return &f;
    return nullptr;
}

std::vector<std::string> keysOf(const std::string& section) {
    std::vector<std::string> out;
    for (const auto& f : schema())
        if (f.section == section) out.push_back(f.key);
    return out;
}

std::vector<std::string> topLevelKeys() {
    std::vector<std::string> out = keysOf("");
    out.insert(out.end(), kSections.begin(), kSections.end());
    return out;
}

// "did you mean 'lr'?": a close sibling key, else the same key in other sections, else a close key in another
// section; without any, the valid keys.
std::string unknownKeyMessage(const std::string& section, const std::string& key) {
    const auto siblings = section.empty() ? topLevelKeys() : keysOf(section);
    std::string msg = "unknown key '" + key + "' " + (section.empty() ? "at the top level" : "in " + section);
    const std::string near = closestMatch(key, siblings);
    if (!near.empty()) return msg + "; did you mean '" + near + "'?";
    std::vector<std::string> elsewhere;
    // The experiment's own sections first: `reference:` repeats a few of their names (dataset, shots).
    for (const auto& f : schema())
        if (f.key == key && f.section != section && !f.section.empty() && f.section != "reference")
            elsewhere.push_back("'" + f.path + "'");
    if (elsewhere.empty())
        for (const auto& s : kSections)
            if (s != section && s != "reference") {
                const std::string other = closestMatch(key, keysOf(s));
                if (!other.empty()) elsewhere.push_back("'" + s + "." + other + "'");
            }
    if (elsewhere.empty())
        for (const auto& f : schema())
            if (f.key == key && f.section != section && f.section == "reference") elsewhere.push_back("'" + f.path + "'");
    if (elsewhere.empty())
        for (const auto& s : kSections)
            if (s != section) {
                const std::string other = closestMatch(key, keysOf(s));
                if (!other.empty()) elsewhere.push_back("'" + s + "." + other + "'");
            }
    if (!elsewhere.empty()) return msg + "; did you mean " + joinNames(elsewhere, " or ") + "?";
    return msg + " (valid keys: " + joinNames(siblings) + ")";
}

// ------------------------------------------------------------------------------------------------------------------
// Reading typed values from the tree.

std::string typeWord(const FieldDef& f) {
    switch (f.kind) {
        case FieldKind::Int: return "an integer";
        case FieldKind::Double: return "a number";
        case FieldKind::Bool: return "true or false";
        case FieldKind::String: return "a string";
        case FieldKind::Enum: return "one of " + joinNames(f.choices);
        case FieldKind::IntList: return "a list of integers";
        case FieldKind::StringList: return "a list of strings";
    }
    return "?";
}

bool readInt(const TNode& n, const FieldDef& f, long long& out, Diags& diags) {
    if (n.kind != TNode::Scalar || !parseInteger(n.scalar, out)) {
        diags.push_back({n.loc, f.path, "expected an integer, " + got(n)});
        return false;
    }
    if (out > std::numeric_limits<int>::max() || out < std::numeric_limits<int>::min()) {
        diags.push_back({n.loc, f.path, "out of range: expected an integer of at most 32 bits, " + got(n)});
        return false;
    }
    if (!f.range.contains(double(out))) {
        diags.push_back({n.loc, f.path, "out of range: expected an integer " + f.range.str() + ", " + got(n)});
        return false;
    }
    return true;
}

bool readValue(const TNode& n, const FieldDef& f, FieldValue& v, Diags& diags) {
    switch (f.kind) {
        case FieldKind::Int: return readInt(n, f, v.i, diags);
        case FieldKind::Double:
            if (f.optional && n.kind == TNode::Null) {
                v.unset = true;
                return true;
            }
            if (n.kind != TNode::Scalar || !parseNumber(n.scalar, v.d)) {
                diags.push_back({n.loc, f.path, "expected a number, " + got(n)});
                return false;
            }
            if (!f.range.contains(v.d)) {
                diags.push_back({n.loc, f.path, "out of range: expected a number " + f.range.str() + ", " + got(n)});
                return false;
            }
            return true;
        case FieldKind::Bool:
            if (n.kind != TNode::Scalar || !parseBoolean(n.scalar, v.b)) {
                diags.push_back({n.loc, f.path, "expected true or false, " + got(n)});
                return false;
            }
            return true;
        case FieldKind::String:
            if (n.kind == TNode::Null) {
                v.s.clear();
                return true;
            }
            if (n.kind != TNode::Scalar) {
                diags.push_back({n.loc, f.path, "expected a string, " + got(n)});
                return false;
            }
            v.s = n.scalar;
            return true;
        case FieldKind::Enum: {
            if (n.kind != TNode::Scalar ||
                std::find(f.choices.begin(), f.choices.end(), n.scalar) == f.choices.end()) {
                std::string msg = "expected one of " + joinNames(f.choices) + ", " + got(n);
                const std::string near = n.kind == TNode::Scalar ? closestMatch(n.scalar, f.choices) : "";
                if (!near.empty()) msg += "; did you mean '" + near + "'?";
                diags.push_back({n.loc, f.path, msg});
                return false;
            }
            v.s = n.scalar;
            return true;
        }
        case FieldKind::IntList:
        case FieldKind::StringList: {
            std::vector<const TNode*> items;
            if (n.kind == TNode::Seq) {
                for (const auto& it : n.items) items.push_back(&it);
            } else if (n.kind == TNode::Scalar) {
                items.push_back(&n);  // a single value stands for a one-element list
            } else if (n.kind != TNode::Null) {
                diags.push_back({n.loc, f.path, "expected " + typeWord(f) + ", " + got(n)});
                return false;
            }
            if (f.nonEmpty && items.empty()) {
                diags.push_back({n.loc, f.path, "expected a non-empty list, got an empty one"});
                return false;
            }
            bool ok = true;
            for (const TNode* it : items) {
                if (f.kind == FieldKind::IntList) {
                    long long x = 0;
                    if (readInt(*it, f, x, diags)) v.il.push_back(x);
                    else ok = false;
                    continue;
                }
                if (it->kind != TNode::Scalar || it->scalar.empty()) {
                    diags.push_back({it->loc, f.path, "expected a non-empty string in the list, " + got(*it)});
                    ok = false;
                    continue;
                }
                if (!f.choices.empty() &&
                    std::find(f.choices.begin(), f.choices.end(), it->scalar) == f.choices.end()) {
                    std::string msg = "expected items among " + joinNames(f.choices) + ", " + got(*it);
                    const std::string near = closestMatch(it->scalar, f.choices);
                    if (!near.empty()) msg += "; did you mean '" + near + "'?";
                    diags.push_back({it->loc, f.path, msg});
                    ok = false;
                    continue;
                }
                v.sl.push_back(it->scalar);
            }
            return ok;
        }
    }
    return false;
}

// ------------------------------------------------------------------------------------------------------------------
// Files, extends and overrides.

struct FileResult {
    TNode tree;          // the file merged on top of what it extends; no extends/abstract keys
    bool abstract = false;
    bool resolved = false;  // a resolved configuration (toYaml's header): a run's config.yaml, every key written
};

class Loader {
public:
    std::vector<std::string> layers;

    FileResult loadFile(const std::string& path, const SpecLocation* referencedFrom) {
        std::error_code ec;
        if (!fs::is_regular_file(path, ec)) {
            if (referencedFrom)
                fail(*referencedFrom, "extends",
                     "file not found: " + path + (fs::exists(path, ec) ? " (not a regular file)" : ""));
            fail(SpecLocation{path}, "", fs::exists(path, ec) ? "not a regular file" : "file not found");
        }
        std::string text;
        try {
            text = readFile(path);
        } catch (const Error& e) {
            fail(referencedFrom ? *referencedFrom : SpecLocation{path}, referencedFrom ? "extends" : "", e.what());
        }
        return loadText(text, path, fs::path(path).parent_path().string(), canonical(path), referencedFrom);
    }

    FileResult loadText(const std::string& text, const std::string& display, const std::string& baseDir,
                        const std::string& identity, const SpecLocation* referencedFrom) {
        const auto inStack = std::find(stack_.begin(), stack_.end(), identity);
        if (inStack != stack_.end()) {
            std::string chain;
            for (auto it = inStack; it != stack_.end(); ++it) chain += displayOf_[*it] + " -> ";
            chain += display;
            fail(referencedFrom ? *referencedFrom : SpecLocation{display}, "extends", "cycle: " + chain);
        }
        YAML::Node root;
        try {
            root = YAML::Load(text);
        } catch (const YAML::ParserException& e) {
            fail(SpecLocation{display, e.mark.line + 1, e.mark.column + 1}, "",
                 "YAML syntax error: " + e.msg + tabIndentHint(text, e.mark.line + 1));
        } catch (const YAML::Exception& e) {
            fail(SpecLocation{display, e.mark.line + 1, e.mark.column + 1}, "", "YAML error: " + e.msg);
        }
        Diags diags;
        TNode tree = convert(root, display, SpecLocation{display, 1, 1}, true, "", diags);
        if (!diags.empty()) throw SpecError(diags);
        if (tree.kind == TNode::Null) {
            tree.kind = TNode::Map;
        } else if (tree.kind != TNode::Map) {
            fail(tree.loc, "", "expected a map of keys at the top level (data:, method:, train:, ...), " + got(tree));
        }

        FileResult result;
        result.resolved = isResolvedConfigText(text);
        if (const TEntry* a = tree.find("abstract")) {
            if (a->value.kind != TNode::Scalar || !parseBoolean(a->value.scalar, result.abstract))
                fail(a->value.loc, "abstract", "expected true or false, " + got(a->value));
        }
        std::vector<std::pair<std::string, SpecLocation>> parents;
        if (const TEntry* ex = tree.find("extends")) {
            std::vector<const TNode*> items;
            if (ex->value.kind == TNode::Seq)
                for (const auto& it : ex->value.items) items.push_back(&it);
            else if (ex->value.kind == TNode::Scalar)
                items.push_back(&ex->value);
            else if (ex->value.kind != TNode::Null)
                fail(ex->value.loc, "extends", "expected a file path or a list of file paths, " + got(ex->value));
            for (const TNode* it : items) {
                if (it->kind != TNode::Scalar || it->scalar.empty())
                    fail(it->loc, "extends", "expected a file path, " + got(*it));
                const fs::path p(it->scalar);
                const std::string resolved =
                    p.is_absolute() ? p.lexically_normal().string() : (fs::path(baseDir) / p).lexically_normal().string();
                parents.emplace_back(resolved, it->loc);
            }
        }
        tree.erase("extends");
        tree.erase("abstract");

        stack_.push_back(identity);
        displayOf_[identity] = display;
        TNode merged;
        merged.kind = TNode::Map;
        for (const auto& [path, loc] : parents) {
            FileResult parent = loadFile(path, &loc);
            for (const char* own : {"name", "description", "source"}) parent.tree.erase(own);
            mergeInto(merged, parent.tree);
        }
        stack_.pop_back();
        mergeInto(merged, tree);
        layers.push_back(display);
        result.tree = std::move(merged);
        return result;
    }

private:
    static std::string canonical(const std::string& path) {
        std::error_code ec;
        const auto c = fs::weakly_canonical(path, ec);
        return ec ? fs::absolute(path).lexically_normal().string() : c.string();
    }

    std::vector<std::string> stack_;
    std::map<std::string, std::string> displayOf_;
};

void applyOverride(TNode& root, const std::string& arg, Diags& diags, const std::string& flag = "--set") {
    const SpecLocation loc{flag + " " + arg, 0, 0};
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
        diags.push_back({loc, "", "expected key=value (e.g. --set train.lr=0.002)"});
        return;
    }
    const std::string key = arg.substr(0, eq);
    const std::string text = arg.substr(eq + 1);
    std::vector<std::string> parts;
    for (std::size_t start = 0;;) {
        const auto dot = key.find('.', start);
        parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    const bool isSection = std::find(kSections.begin(), kSections.end(), parts[0]) != kSections.end();
    if (parts.size() == 1) {
        if (!isSection && !findField("", parts[0])) {
            diags.push_back({loc, key, unknownKeyMessage("", parts[0])});
            return;
        }
    } else if (parts.size() == 2 && isSection) {
        if (!findField(parts[0], parts[1])) {
            diags.push_back({loc, key, unknownKeyMessage(parts[0], parts[1])});
            return;
        }
    } else if (!isSection) {
        diags.push_back({loc, key, unknownKeyMessage("", parts[0])});
        return;
    } else {
        diags.push_back({loc, key, "keys are section.key (e.g. train.lr); '" + key + "' is too deep"});
        return;
    }
    YAML::Node value;
    try {
        value = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        diags.push_back({loc, key, "the value is not valid YAML: " + e.msg});
        return;
    }
    Diags local;
    TNode node = convert(value, loc.file, loc, false, key, local);
    if (!local.empty()) {
        diags.insert(diags.end(), local.begin(), local.end());
        return;
    }
    TNode* cur = &root;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (cur->kind != TNode::Map) {
            cur->kind = TNode::Map;
            cur->scalar.clear();
            cur->items.clear();
        }
        TEntry* e = cur->find(parts[i]);
        if (!e) {
            cur->entries.push_back(TEntry{parts[i], loc, TNode{}});
            e = &cur->entries.back();
            e->value.loc = loc;
            if (i + 1 < parts.size()) e->value.kind = TNode::Map;
        }
        e->keyLoc = loc;
        if (i + 1 == parts.size()) mergeInto(e->value, node);
        cur = &e->value;
    }
}

// ------------------------------------------------------------------------------------------------------------------
// From the merged tree to the spec, then the checks that involve several keys.

struct Resolved {
    ExperimentSpec spec;
    std::map<std::string, SpecLocation> where;  // key path -> where its value was set
};

void readTree(const TNode& root, Resolved& r, Diags& diags) {
    auto readField = [&](const FieldDef& f, const TNode& value) {
        FieldValue v;
        if (readValue(value, f, v, diags)) {
            f.set(r.spec, v);
            r.where[f.path] = value.loc;
        }
    };
    for (const auto& e : root.entries) {
        if (std::find(kSections.begin(), kSections.end(), e.key) != kSections.end()) {
            if (e.value.kind == TNode::Null) continue;
            if (e.value.kind != TNode::Map) {
                diags.push_back({e.value.loc, e.key,
                                 "expected a map of keys (" + joinNames(keysOf(e.key)) + "), " + got(e.value)});
                continue;
            }
            r.where[e.key] = e.keyLoc;
            for (const auto& s : e.value.entries) {
                const FieldDef* f = findField(e.key, s.key);
                if (!f) {
                    diags.push_back({s.keyLoc, e.key + "." + s.key, unknownKeyMessage(e.key, s.key)});
                    continue;
                }
                readField(*f, s.value);
            }
            continue;
        }
        const FieldDef* f = findField("", e.key);
        if (!f) {
            const bool perFile = std::find(kPerFileKeys.begin(), kPerFileKeys.end(), e.key) != kPerFileKeys.end();
            diags.push_back({e.keyLoc, e.key,
                             perFile ? "'" + e.key + "' is a file-level key and cannot be overridden"
                                     : unknownKeyMessage("", e.key)});
            continue;
        }
        readField(*f, e.value);
    }
}

void checkDatasetName(const std::string& name, const SpecLocation& loc, const std::string& key, bool mustBeKnown,
                      Diags& diags) {
    std::vector<std::string> names;
    for (const auto& p : knownDatasets()) {
        if (p.name == name) return;
        names.push_back(p.name);
    }
    // The names papers and tables use for the benchmarks, which are not Dassl's.
    static const std::vector<std::pair<std::string, std::string>> kAliases{
        {"dtd", "DescribableTextures"}, {"textures", "DescribableTextures"}, {"flowers102", "OxfordFlowers"},
        {"flowers", "OxfordFlowers"},   {"pets", "OxfordPets"},             {"cars", "StanfordCars"},
        {"aircraft", "FGVCAircraft"},   {"fgvc", "FGVCAircraft"},           {"caltech", "Caltech101"},
        {"sun", "SUN397"},              {"ucf", "UCF101"},                  {"food", "Food101"},
        {"in", "ImageNet"},             {"in1k", "ImageNet"}};
    std::string lowered = name;
    for (auto& c : lowered) c = char(std::tolower(static_cast<unsigned char>(c)));
    std::string near;
    for (const auto& [alias, target] : kAliases)
        if (lowered == alias) near = target;
    if (near.empty()) near = closestMatch(name, names);
    if (!near.empty()) {
        diags.push_back({loc, key, "unknown dataset '" + name + "'; did you mean '" + near + "'?"});
    } else if (mustBeKnown) {
        diags.push_back({loc, key, "unknown dataset '" + name + "' (expected one of " + joinNames(names) + ")"});
    }
}

void applyProtocolDefaults(Resolved& r) {
    DataSpec& d = r.spec.data;
    if (d.evalSplits.empty()) {
        if (d.protocol == Protocol::Base2Novel) d.evalSplits = {"base", "novel"};
        else d.evalSplits = {"all"};
    }
    if (d.evalDatasets.empty()) {
        if (d.protocol == Protocol::CrossDataset) {
            for (const auto& p : knownDatasets())
                if (p.kind == DatasetKind::Standard) d.evalDatasets.push_back(p.name);
        } else if (d.protocol == Protocol::DomainGeneralization) {
            for (const auto& p : knownDatasets())
                if (p.kind == DatasetKind::TestOnly) d.evalDatasets.push_back(p.name);
        }
    }
}

void checkCombinations(const Resolved& r, const std::string& topFile, Diags& diags) {
    const ExperimentSpec& s = r.spec;
    auto at = [&](const std::string& path) {
        const auto it = r.where.find(path);
        if (it != r.where.end()) return it->second;
        const auto dot = path.find('.');
        if (dot != std::string::npos) {
            const auto sec = r.where.find(path.substr(0, dot));
            if (sec != r.where.end()) return sec->second;
        }
        return SpecLocation{topFile};
    };
    auto add = [&](const std::string& path, const std::string& msg) { diags.push_back({at(path), path, msg}); };

    if (!r.where.count("method.name")) {
        std::vector<std::string> names;
        for (auto k : {MethodKind::ZeroShot, MethodKind::CoOp, MethodKind::CoCoOp, MethodKind::IVLP, MethodKind::MaPLe,
                       MethodKind::PromptSRC})
            names.push_back(methodName(k));
        add("method.name", "required: the base method, one of " + joinNames(names));
    }
    if (s.name.empty()) add("name", "must not be empty");
    if (s.output.empty()) add("output", "must not be empty (the folder receiving the run folders)");
    if (s.models.student.empty()) add("models.student", "must not be empty (a CLIP name such as ViT-B/16, or a path)");

    // Data and protocol.
    const DataSpec& d = s.data;
    const bool transfer = d.protocol == Protocol::CrossDataset || d.protocol == Protocol::DomainGeneralization;
    if (d.datasets.empty()) add("data.datasets", "at least one dataset is required (e.g. [OxfordPets])");
    std::set<std::string> seen;
    for (const auto& name : d.datasets) {
        if (!seen.insert(name).second) add("data.datasets", "'" + name + "' is listed twice");
        checkDatasetName(name, at("data.datasets"), "data.datasets", transfer, diags);
        for (const auto& p : knownDatasets())
            if (p.name == name && p.kind == DatasetKind::TestOnly)
                add("data.datasets", name + " is a test-only dataset: it can be tested on (data.eval_datasets with "
                                            "cross_dataset / domain_generalization), not trained on");
    }
    if (transfer) {
        if (d.datasets.size() > 1)
            add("data.datasets", std::string(protocolName(d.protocol)) + " trains on one dataset (ImageNet in the "
                                 "paper), got " + std::to_string(d.datasets.size()));
        for (const auto& name : d.evalDatasets) checkDatasetName(name, at("data.eval_datasets"), "data.eval_datasets", true, diags);
    } else if (r.where.count("data.eval_datasets") && !d.evalDatasets.empty()) {
        add("data.eval_datasets", "applies to the cross_dataset and domain_generalization protocols only (this is " +
                                      std::string(protocolName(d.protocol)) + ")");
    }
    if (d.protocol != Protocol::Base2Novel)
        for (const auto& split : d.evalSplits)
            if (split != "all")
                add("data.eval_splits", std::string(protocolName(d.protocol)) +
                                            " tests on all classes: expected [all], got '" + split + "'");
    if (std::set<std::string>(d.evalSplits.begin(), d.evalSplits.end()).size() != d.evalSplits.size())
        add("data.eval_splits", "a split is listed twice");
    if (d.protocol == Protocol::FewShot)
        for (int k : d.shots)
            if (k < 1) add("data.shots", "fewshot needs K >= 1 images per class, got " + std::to_string(k));
    if (std::set<int>(d.shots.begin(), d.shots.end()).size() != d.shots.size())
        add("data.shots", "a value is listed twice");
    if (std::set<int>(d.seeds.begin(), d.seeds.end()).size() != d.seeds.size())
        add("data.seeds", "a seed is listed twice");

    // Method.
    const MethodSpec& m = s.method;
    if ((m.kind == MethodKind::CoOp || m.kind == MethodKind::CoCoOp) && !m.ctxInit.empty() &&
        ctxInitWords(m.ctxInit) != m.nCtxText)
        add("method.n_ctx_text", std::string(methodName(m.kind)) + " learns one context vector per word of ctx_init ('" +
                                     m.ctxInit + "' has " + std::to_string(ctxInitWords(m.ctxInit)) +
                                     " words), got n_ctx_text " + std::to_string(m.nCtxText) +
                                     "; set n_ctx_text to the word count, or ctx_init: \"\" for a random init");
    const int layers = clipLayersByName(s.models.student);
    if (layers > 0) {
        auto depth = [&](const std::string& key, int v) {
            if (v > layers)
                add(key, "the student " + s.models.student + " has " + std::to_string(layers) +
                             " layers per tower, got depth " + std::to_string(v));
        };
        depth("method.depth_text", m.depthText);
        depth("method.depth_vision", m.depthVision);
        if (s.phase1.enabled) {
            depth("phase1.depth_text", s.phase1.depthText);
            depth("phase1.depth_vision", s.phase1.depthVision);
        }
    }
    // The text prompt holds the start token, the learnable tokens (the method's context, then CasPL's boosting
    // tokens), at least one token of the class name, "." and the end token, within CLIP's 77: a bound checked here,
    // before anything runs (the class names are checked when the dataset is read, before phase 1).
    if (m.kind != MethodKind::ZeroShot) {
        const int boosting = s.phase1.enabled ? s.phase1.nText : 0;
        if (m.nCtxText + boosting > 77 - 4)
            add(boosting ? "phase1.n_text" : "method.n_ctx_text",
                "method.n_ctx_text (" + std::to_string(m.nCtxText) + ")" +
                    (boosting ? " + phase1.n_text (" + std::to_string(boosting) + ")" : std::string()) +
                    " learnable text tokens leave no room in CLIP's 77-token prompt for the start and end tokens, the "
                    "class name and \".\": at most 73 together");
    }
    // MethodConfig's rules, each named at the key at fault (where it was set).
    if (r.where.count("method.name")) {
        try {
            toMethodConfig(s).validate();
        } catch (const MethodConfigError& e) {
            const std::string& f = e.field();
            add(f == "kind"                    ? std::string("method.name")
                : f == "phase1"                ? std::string("phase1.enabled")
                : f == "kd_temperature"        ? std::string("phase1.temperature")
                : f.rfind("boosting.", 0) == 0 ? "phase1." + f.substr(9)
                                               : "method." + f,
                e.what());
        }
    }

    // Phase 1.
    const Phase1Spec& p = s.phase1;
    if (p.enabled) {
        try {
            toPhase1MethodConfig(s).validate();
        } catch (const MethodConfigError& e) {
            // Phase 1's prompts are an IVLP method made of the phase1 keys (toPhase1MethodConfig).
            const std::string& f = e.field();
            add(f == "n_ctx_text"       ? "phase1.n_text"
                : f == "n_ctx_vision"   ? "phase1.n_vision"
                : f == "depth_text"     ? "phase1.depth_text"
                : f == "depth_vision"   ? "phase1.depth_vision"
                : f == "kd_temperature" ? "phase1.temperature"
                                        : "phase1.enabled",
                e.what());
        }
        if (p.artifact.empty() && s.models.teacher.empty())
            add("models.teacher", "phase 1 needs a teacher CLIP (e.g. ViT-L/14), or phase1.artifact to reuse");
        if (p.artifact.empty() && p.epochs <= s.train.warmupEpochs)
            add("phase1.epochs", "must exceed train.warmup_epochs (" + std::to_string(s.train.warmupEpochs) +
                                     ", shared by both phases), got " + std::to_string(p.epochs));
    }
    if (p.pool == Phase1Pool::Folder && p.poolFolder.empty())
        add("phase1.pool", "pool: folder needs phase1.pool_folder (a folder of unlabeled images)");
    if (p.pool != Phase1Pool::Folder && !p.poolFolder.empty())
        add("phase1.pool_folder", "is used only with pool: folder (pool is " + std::string(phase1PoolName(p.pool)) + ")");

    // Training.
    const TrainSpec& t = s.train;
    if (t.warmupEpochs >= t.epochs)
        add("train.warmup_epochs", "must be below train.epochs (" + std::to_string(t.epochs) + "), got " +
                                       std::to_string(t.warmupEpochs) +
                                       ": every epoch would be warm-up (set train.warmup_epochs: 0 for so short a run)");
    if (t.precision == Precision::Fp16 && t.device == Device::Cpu)
        add("train.precision", "fp16 needs a GPU (device cuda or auto); on the CPU use fp32 or bf16");

    // Reference numbers. They apply to the results of their dataset, method and K; an experiment that changes one
    // of these (e.g. `--set data.shots=4` on a preset) compares with nothing, which is not an error. What is checked:
    // that they can be told apart, and names that look mistyped.
    const ReferenceSpec& ref = s.reference;
    if (ref.empty() && r.where.count("reference"))
        add("reference", "gives no numbers: expected base and novel (and hm), or all");
    if (!ref.empty()) {
        // A mistyped HM: the published one comes from unrounded means, so it may differ from the HM of the
        // 2-decimal base and novel by up to 0.015 (accepted: 0.02).
        if (ref.hm && ref.base && ref.novel) {
            const double b = *ref.base, n = *ref.novel, computed = b + n > 0 ? 2 * b * n / (b + n) : 0;
            if (std::abs(*ref.hm - computed) > 0.02) {
                char msg[160];
                std::snprintf(msg, sizeof msg, "%.2f is not the harmonic mean of base %.2f and novel %.2f (%.2f, within "
                                               "0.02 for rounding)", *ref.hm, b, n, computed);
                add("reference.hm", msg);
            }
        }
        if (ref.hm && !ref.base) add("reference.hm", "an HM belongs with base and novel: give reference.base too");
        if (ref.hm && ref.base && !ref.novel)
            add("reference.hm", "an HM belongs with base and novel: give reference.novel too");
        // The runner tests the trained datasets, and with a transfer protocol the evaluation datasets too.
        std::vector<std::string> tested = d.datasets;
        if (transfer)
            for (const auto& e : d.evalDatasets)
                if (std::find(tested.begin(), tested.end(), e) == tested.end()) tested.push_back(e);
        if (ref.dataset.empty() && tested.size() != 1)
            add("reference.dataset", "required: the experiment has " + std::to_string(tested.size()) +
                                         " datasets (" + joinNames(tested) + "); name the one the numbers belong to");
        if (!ref.dataset.empty() && std::find(tested.begin(), tested.end(), ref.dataset) == tested.end())
            checkDatasetName(ref.dataset, at("reference.dataset"), "reference.dataset", false, diags);
        if (ref.shots == 0 && d.shots.size() > 1) {
            std::string ks;
            for (int k : d.shots) ks += (ks.empty() ? "" : ", ") + std::to_string(k);
            add("reference.shots", "required: the experiment runs K = " + ks + "; name the K the numbers were measured at");
        }
        if (!ref.method.empty()) {
            const std::string suffix = "+caspl";
            std::string base = ref.method;
            if (base.size() > suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
                base.resize(base.size() - suffix.size());
            std::vector<std::string> names;
            for (auto k : {MethodKind::ZeroShot, MethodKind::CoOp, MethodKind::CoCoOp, MethodKind::IVLP,
                           MethodKind::MaPLe, MethodKind::PromptSRC})
                names.push_back(methodName(k));
            if (std::find(names.begin(), names.end(), base) == names.end()) {
                std::string msg = "expected a method as results name it (one of " + joinNames(names) +
                                  ", each optionally with +caspl), got '" + ref.method + "'";
                if (const std::string near = closestMatch(base, names); !near.empty())
                    msg += "; did you mean '" + near + (base.size() < ref.method.size() ? suffix : "") + "'?";
                add("reference.method", msg);
            }
        }
    }
}

std::string stemOf(const std::string& display) { return fs::path(display).stem().string(); }

ExperimentSpec finish(FileResult file, Loader& loader, const std::string& topDisplay,
                      const std::vector<std::string>& overrides, const LoadOptions& options) {
    Diags diags;
    for (std::size_t i = 0; i < overrides.size(); ++i) {
        const std::string flag = i < options.overrideFlags.size() ? options.overrideFlags[i] : std::string("--set");
        applyOverride(file.tree, overrides[i], diags, flag);
        loader.layers.push_back(flag + " " + overrides[i]);
    }
    Resolved r;
    readTree(file.tree, r, diags);
    if (!r.where.count("name")) r.spec.name = options.name.empty() ? stemOf(topDisplay) : options.name;
    if (diags.empty()) {
        applyProtocolDefaults(r);
        if (!options.fragment) checkCombinations(r, topDisplay, diags);
    }
    if (diags.empty() && options.warnings && !options.fragment) {
        // The keys without effect that the experiment's own file (not a resolved one) or an override sets.
        for (const auto& k : inertKeys(r.spec)) {
            const auto it = r.where.find(k.key);
            if (it == r.where.end()) continue;
            const bool fromOverride = it->second.line == 0 && it->second.file.rfind("--", 0) == 0;  // "--set k=v"
            const bool own = fromOverride || (it->second.file == topDisplay && !file.resolved);
            if (own) options.warnings->push_back({it->second, k.key, "has no effect: " + k.why});
        }
    }
    if (!diags.empty()) {
        // In reading order: by layer (file, then overrides), line and column.
        auto rank = [&](const SpecDiagnostic& d) {
            const auto it = std::find(loader.layers.begin(), loader.layers.end(), d.where.file);
            return std::make_tuple(it - loader.layers.begin(), d.where.line, d.where.column);
        };
        std::stable_sort(diags.begin(), diags.end(),
                         [&](const SpecDiagnostic& a, const SpecDiagnostic& b) { return rank(a) < rank(b); });
        throw SpecError(diags);
    }
    r.spec.layers = loader.layers;
    return r.spec;
}

// ------------------------------------------------------------------------------------------------------------------
// Writing.

std::string canonicalValue(const FieldDef& f, const FieldValue& v) {
    switch (f.kind) {
        case FieldKind::Int: return std::to_string(v.i);
        case FieldKind::Double: return formatDouble(v.d);
        case FieldKind::Bool: return v.b ? "true" : "false";
        case FieldKind::String:
        case FieldKind::Enum: return nlohmann::json(v.s).dump();
        case FieldKind::IntList: {
            std::string s = "[";
            for (std::size_t i = 0; i < v.il.size(); ++i) s += (i ? "," : "") + std::to_string(v.il[i]);
            return s + "]";
        }
        case FieldKind::StringList: return nlohmann::json(v.sl).dump();
    }
    return "";
}

void emitValue(YAML::Emitter& out, const FieldDef& f, const FieldValue& v) {
    switch (f.kind) {
        case FieldKind::Int: out << v.i; break;
        case FieldKind::Double: out << formatDouble(v.d); break;
        case FieldKind::Bool: out << v.b; break;
        case FieldKind::String:
        case FieldKind::Enum:
            if (v.s.empty()) out << YAML::DoubleQuoted << v.s;
            else out << v.s;
            break;
        case FieldKind::IntList:
            out << YAML::Flow << YAML::BeginSeq;
            for (long long x : v.il) out << x;
            out << YAML::EndSeq;
            break;
        case FieldKind::StringList:
            out << YAML::Flow << YAML::BeginSeq;
            for (const auto& x : v.sl) out << x;
            out << YAML::EndSeq;
            break;
    }
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------------

ExperimentSpec loadExperiment(const std::string& path, const std::vector<std::string>& overrides,
                              const LoadOptions& options) {
    Loader loader;
    FileResult file = loader.loadFile(path, nullptr);
    return finish(std::move(file), loader, path, overrides, options);
}

ExperimentSpec loadExperimentFromString(const std::string& yaml, const std::string& displayName,
                                        const std::string& baseDir, const std::vector<std::string>& overrides,
                                        const LoadOptions& options) {
    Loader loader;
    const std::string identity = (fs::absolute(baseDir.empty() ? "." : baseDir) / displayName).lexically_normal().string();
    FileResult file = loader.loadText(yaml, displayName, baseDir, identity, nullptr);
    return finish(std::move(file), loader, displayName, overrides, options);
}

std::string toYaml(const ExperimentSpec& spec) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    std::string section;
    for (const auto& f : schema()) {
        if (f.section == "reference" && spec.reference.empty()) continue;  // no reference: no section
        const FieldValue value = f.get(spec);
        if (f.optional && value.unset) continue;
        if (f.section != section) {
            if (!section.empty()) out << YAML::EndMap;
            section = f.section;
            if (!section.empty()) out << YAML::Key << section << YAML::Value << YAML::BeginMap;
        }
        out << YAML::Key << f.key << YAML::Value;
        emitValue(out, f, value);
    }
    if (!section.empty()) out << YAML::EndMap;
    out << YAML::EndMap;
    std::string header = std::string(kResolvedHeader) + ", hash " + resolvedHash(spec) + "\n";
    if (!spec.layers.empty()) {
        header += "# from:\n";
        for (const auto& l : spec.layers) header += "#   " + l + "\n";
    }
    return header + out.c_str() + "\n";
}

bool isResolvedConfigText(const std::string& text) { return text.rfind(kResolvedHeader, 0) == 0; }

bool isOperationalKey(const std::string& key) {
    return key == "description" || key == "source" || key == "output" || key == "train.cuda_graphs" || key == "train.tensorboard" ||
           key == "data.loader_threads" || key == "data.image_cache" || key == "train.text_chunk";
}

std::vector<InertKey> inertKeys(const ExperimentSpec& s) {
    std::vector<InertKey> out;
    const auto add = [&](std::initializer_list<const char*> keys, const std::string& why) {
        for (const char* k : keys) out.push_back({k, why});
    };
    const std::string method = methodName(s.method.kind);
    if (s.method.kind == MethodKind::ZeroShot) {
        add({"method.n_ctx_text", "method.n_ctx_vision", "method.depth_text", "method.depth_vision", "method.ctx_init",
             "method.csc", "method.class_token_position"},
            "zero-shot CLIP learns no prompts");
        add({"train.epochs", "train.batch_size", "train.lr", "train.momentum", "train.weight_decay", "train.warmup_epochs",
             "train.warmup_lr", "train.warmup_type", "train.lr_scheduler", "train.crop_scale_min"},
            "zero-shot CLIP does not train");
    }
    if (s.method.kind != MethodKind::PromptSRC)
        add({"method.text_loss_weight", "method.image_loss_weight", "method.gpa_mean", "method.gpa_std"},
            "a PromptSRC option; the method is " + method);
    const std::initializer_list<const char*> phase1Training{
        "phase1.ctx_init", "phase1.epochs",      "phase1.batch_size",    "phase1.lr",   "phase1.temperature",
        "phase1.pool",     "phase1.pool_folder", "phase1.teacher_cache", "phase1.seed", "models.teacher"};
    if (!s.phase1.enabled) {
        add({"phase1.n_text", "phase1.n_vision", "phase1.depth_text", "phase1.depth_vision", "phase1.artifact"},
            "phase 1 is off (phase1.enabled: false)");
        add(phase1Training, "phase 1 is off (phase1.enabled: false)");
    } else if (!s.phase1.artifact.empty()) {
        add(phase1Training, "phase 1 does not train: its prompts come from phase1.artifact");
    }
    return out;
}

std::vector<InertKey> inertKeysAwayFromDefault(const ExperimentSpec& spec) {
    static const ExperimentSpec defaults;
    std::vector<InertKey> out;
    for (auto& k : inertKeys(spec))
        for (const auto& f : schema())
            if (f.path == k.key && canonicalValue(f, f.get(spec)) != canonicalValue(f, f.get(defaults))) out.push_back(k);
    return out;
}

std::string resolvedHash(const ExperimentSpec& spec) {
    // A key with no effect counts with its default value: an experiment that sets one is the one that does not.
    static const ExperimentSpec defaults;
    std::set<std::string> inert;
    for (const auto& k : inertKeys(spec)) inert.insert(k.key);
    std::string text;
    for (const auto& f : schema()) {
        // Documentation, the output folder, how a step is launched (train.cuda_graphs: the same arithmetic), what
        // is logged (train.tensorboard) and how the machine is used (data.loader_threads: the loader is
        // deterministic for any count; data.image_cache: a cache of decoded images; train.text_chunk: memory only,
        // the same arithmetic) do not make another experiment: a run folder stays resumable when they change (on a
        // machine with more cores or less memory).
        // The reference numbers are what the results are compared with, not what runs.
        if (isOperationalKey(f.path) || f.section == "reference") continue;
        text += f.path + "=" + canonicalValue(f, f.get(inert.count(f.path) ? defaults : spec)) + "\n";
    }
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ull;
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

std::vector<SpecKeyInfo> specKeys() {
    const ExperimentSpec defaults;
    std::vector<SpecKeyInfo> out;
    for (const auto& f : schema()) {
        SpecKeyInfo k;
        k.key = f.path;
        switch (f.kind) {
            case FieldKind::Int: k.type = "integer"; break;
            case FieldKind::Double: k.type = "number"; break;
            case FieldKind::Bool: k.type = "boolean"; break;
            case FieldKind::String: k.type = "string"; break;
            case FieldKind::Enum: k.type = joinNames(f.choices, " | "); break;
            case FieldKind::IntList: k.type = "list of integers"; break;
            case FieldKind::StringList:
                k.type = f.choices.empty() ? "list of strings" : "list of " + joinNames(f.choices, " | ");
                break;
        }
        if (f.kind == FieldKind::Int || f.kind == FieldKind::Double || f.kind == FieldKind::IntList)
            k.range = f.range.str();
        const FieldValue d = f.get(defaults);
        k.defaultValue = f.optional && d.unset ? "none" : canonicalValue(f, d);
        k.help = f.help;
        out.push_back(k);
    }
    return out;
}

bool isAbstractFile(const std::string& path) {
    YAML::Node root;
    const std::string text = readFile(path);
    try {
        root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        fail(SpecLocation{path, e.mark.line + 1, e.mark.column + 1}, "",
             "YAML syntax error: " + e.msg + tabIndentHint(text, e.mark.line + 1));
    }
    if (!root.IsMap() || !root["abstract"]) return false;
    bool v = false;
    return root["abstract"].IsScalar() && parseBoolean(root["abstract"].Scalar(), v) && v;
}

}  // namespace caspl
