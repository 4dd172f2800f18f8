#include "core/experiment/experiment_spec.h"

#include "core/data/templates.h"
#include "core/util/error.h"
#include "core/util/suggest.h"

#include <filesystem>
#include <tuple>

namespace caspl {

namespace {

template <class E, std::size_t N>
E parseEnum(const std::string& name, const char* what, const E (&values)[N], const char* (*nameOf)(E)) {
    std::vector<std::string> names;
    for (E v : values) {
        if (name == nameOf(v)) return v;
        names.push_back(nameOf(v));
    }
    std::string msg = "unknown " + std::string(what) + " '" + name + "' (expected " + joinNames(names, ", ") + ")";
    const std::string near = closestMatch(name, names);
    if (!near.empty()) msg += "; did you mean '" + near + "'?";
    throw Error(msg);
}

constexpr Protocol kProtocols[] = {Protocol::Base2Novel, Protocol::FewShot, Protocol::All, Protocol::CrossDataset,
                                   Protocol::DomainGeneralization};
constexpr Phase1Pool kPools[] = {Phase1Pool::Train, Phase1Pool::Test, Phase1Pool::Folder};
constexpr Precision kPrecisions[] = {Precision::Fp32, Precision::Bf16, Precision::Fp16};
constexpr Device kDevices[] = {Device::Auto, Device::Cpu, Device::Cuda};
constexpr WarmupType kWarmups[] = {WarmupType::Constant, WarmupType::Linear};
constexpr LrScheduler kSchedulers[] = {LrScheduler::Cosine, LrScheduler::Constant};
constexpr Rounding kRoundings[] = {Rounding::Paper, Rounding::None};

}  // namespace

const char* protocolName(Protocol p) {
    switch (p) {
        case Protocol::Base2Novel: return "base2novel";
        case Protocol::FewShot: return "fewshot";
        case Protocol::All: return "all";
        case Protocol::CrossDataset: return "cross_dataset";
        case Protocol::DomainGeneralization: return "domain_generalization";
    }
    return "?";
}
const char* phase1PoolName(Phase1Pool p) {
    switch (p) {
        case Phase1Pool::Train: return "train";
        case Phase1Pool::Test: return "test";
        case Phase1Pool::Folder: return "folder";
    }
    return "?";
}
const char* precisionName(Precision p) {
    switch (p) {
        case Precision::Fp32: return "fp32";
        case Precision::Bf16: return "bf16";
        case Precision::Fp16: return "fp16";
    }
    return "?";
}
const char* deviceName(Device d) {
    switch (d) {
        case Device::Auto: return "auto";
        case Device::Cpu: return "cpu";
        case Device::Cuda: return "cuda";
    }
    return "?";
}
const char* warmupTypeName(WarmupType w) {
    switch (w) {
        case WarmupType::Constant: return "constant";
        case WarmupType::Linear: return "linear";
    }
    return "?";
}
const char* lrSchedulerName(LrScheduler s) {
    switch (s) {
        case LrScheduler::Cosine: return "cosine";
        case LrScheduler::Constant: return "constant";
    }
    return "?";
}
const char* roundingName(Rounding r) {
    switch (r) {
        case Rounding::Paper: return "paper";
        case Rounding::None: return "none";
    }
    return "?";
}

Protocol parseProtocol(const std::string& n) { return parseEnum(n, "protocol", kProtocols, protocolName); }
Phase1Pool parsePhase1Pool(const std::string& n) { return parseEnum(n, "phase-1 pool", kPools, phase1PoolName); }
Precision parsePrecision(const std::string& n) { return parseEnum(n, "precision", kPrecisions, precisionName); }
Device parseDevice(const std::string& n) { return parseEnum(n, "device", kDevices, deviceName); }
WarmupType parseWarmupType(const std::string& n) { return parseEnum(n, "warm-up type", kWarmups, warmupTypeName); }
LrScheduler parseLrScheduler(const std::string& n) {
    return parseEnum(n, "learning-rate scheduler", kSchedulers, lrSchedulerName);
}
Rounding parseRounding(const std::string& n) { return parseEnum(n, "rounding", kRoundings, roundingName); }

namespace {
auto tieData(const DataSpec& d) {
    return std::tie(d.root, d.datasets, d.protocol, d.shots, d.seeds, d.imageCache, d.loaderThreads, d.evalSplits,
                    d.evalDatasets);
}
auto tieModels(const ModelsSpec& m) { return std::tie(m.dir, m.student, m.teacher); }
auto tieMethod(const MethodSpec& m) {
    return std::tie(m.kind, m.nCtxText, m.nCtxVision, m.depthText, m.depthVision, m.ctxInit, m.csc,
                    m.classTokenPosition, m.textLossWeight, m.imageLossWeight, m.gpaMean, m.gpaStd);
}
auto tiePhase1(const Phase1Spec& p) {
    return std::tie(p.enabled, p.nText, p.nVision, p.depthText, p.depthVision, p.ctxInit, p.epochs, p.batchSize, p.lr,
                    p.temperature, p.pool, p.poolFolder, p.teacherCache, p.artifact, p.seed);
}
auto tieTrain(const TrainSpec& t) {
    return std::tie(t.epochs, t.batchSize, t.lr, t.momentum, t.weightDecay, t.warmupEpochs, t.warmupLr, t.warmupType,
                    t.lrScheduler, t.precision, t.device, t.textChunk, t.cropScaleMin, t.cudaGraphs,
                    t.tensorboard);
}
}  // namespace

bool ExperimentSpec::operator==(const ExperimentSpec& o) const {
    return name == o.name && description == o.description && source == o.source && output == o.output &&
           tieData(data) == tieData(o.data) && tieModels(models) == tieModels(o.models) &&
           tieMethod(method) == tieMethod(o.method) && tiePhase1(phase1) == tiePhase1(o.phase1) &&
           tieTrain(train) == tieTrain(o.train) && eval.batchSize == o.eval.batchSize &&
           eval.rounding == o.eval.rounding && reference == o.reference;
}

bool ReferenceSpec::operator==(const ReferenceSpec& o) const {
    return std::tie(source, dataset, method, shots, base, novel, hm, all) ==
           std::tie(o.source, o.dataset, o.method, o.shots, o.base, o.novel, o.hm, o.all);
}

MethodConfig toMethodConfig(const ExperimentSpec& spec, const std::string& dataset) {
    const MethodSpec& m = spec.method;
    MethodConfig c;
    c.kind = m.kind;
    c.nCtxText = m.nCtxText;
    c.nCtxVision = m.nCtxVision;
    c.depthText = m.depthText;
    c.depthVision = m.depthVision;
    c.ctxInit = m.ctxInit;
    c.csc = m.csc;
    c.classTokenPosition = m.classTokenPosition;
    c.textLossWeight = m.textLossWeight;
    c.imageLossWeight = m.imageLossWeight;
    c.gpaMean = m.gpaMean;
    c.gpaStd = m.gpaStd;
    c.phase1 = false;
    c.kdTemperature = spec.phase1.temperature;
    if (spec.phase1.enabled) {
        c.boosting.nText = spec.phase1.nText;
        c.boosting.nVision = spec.phase1.nVision;
        c.boosting.depthText = spec.phase1.depthText;
        c.boosting.depthVision = spec.phase1.depthVision;
    }
    if (!dataset.empty()) c.zeroShotTemplate = customTemplate(dataset);
    return c;
}

MethodConfig toPhase1MethodConfig(const ExperimentSpec& spec) {
    const Phase1Spec& p = spec.phase1;
    MethodConfig c;
    c.kind = MethodKind::IVLP;
    c.phase1 = true;
    c.nCtxText = p.nText;
    c.nCtxVision = p.nVision;
    c.depthText = p.depthText;
    c.depthVision = p.depthVision;
    c.ctxInit = p.ctxInit;
    c.kdTemperature = p.temperature;
    return c;
}

std::string methodLabel(const ExperimentSpec& spec) {
    std::string label = methodName(spec.method.kind);
    if (spec.phase1.enabled) label += "+caspl";
    return label;
}

namespace {
struct KnownClip {
    const char* name;
    const char* hfFolder;
    int layers;
};
constexpr KnownClip kKnownClips[] = {
    {"ViT-B/32", "clip-vit-base-patch32", 12},
    {"ViT-B/16", "clip-vit-base-patch16", 12},
    {"ViT-L/14", "clip-vit-large-patch14", 24},
    {"ViT-L/14@336px", "clip-vit-large-patch14-336", 24},
};
}  // namespace

int clipLayersByName(const std::string& name) {
    for (const auto& k : kKnownClips)
        if (name == k.name) return k.layers;
    return -1;
}

std::vector<std::string> modelPathCandidates(const ModelsSpec& models, const std::string& nameOrPath) {
    namespace fs = std::filesystem;
    std::vector<std::string> out{nameOrPath};
    std::string stem = nameOrPath;
    for (auto& c : stem)
        if (c == '/' || c == '@') c = '-';
    const fs::path dir = models.dir.empty() ? fs::path(".") : fs::path(models.dir);
    for (const char* ext : {".safetensors", ".pt"}) out.push_back((dir / (stem + ext)).string());
    out.push_back((dir / stem).string());
    for (const auto& k : kKnownClips)
        if (nameOrPath == k.name) out.push_back((dir / k.hfFolder).string());
    return out;
}

std::string resolveModelPath(const ModelsSpec& models, const std::string& nameOrPath) {
    if (nameOrPath.empty()) throw Error("no model given (models.student / models.teacher is empty)");
    const auto candidates = modelPathCandidates(models, nameOrPath);
    std::error_code ec;
    for (const auto& c : candidates)
        if (std::filesystem::exists(c, ec)) return c;
    throw Error("model '" + nameOrPath + "' not found; looked for " + joinNames(candidates, ", ") +
                " (set models.dir to the folder holding the checkpoints, or give a path)");
}

}  // namespace caspl
