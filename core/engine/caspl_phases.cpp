#include "core/engine/caspl_phases.h"

#include "core/util/error.h"

#include <torch/torch.h>

#include <ctime>
#include <filesystem>

namespace caspl {

void saveBoostingArtifact(const std::string& folder, PromptedClip& phase1, BoostingManifest m) {
    const auto& cfg = phase1.config();
    if (!cfg.phase1) throw Error("saveBoostingArtifact: the model is not a CasPL phase-1 model");
    std::filesystem::create_directories(folder);
    m.nText = cfg.nCtxText;
    m.nVision = cfg.nCtxVision;
    m.depthText = cfg.depthText;
    m.depthVision = cfg.depthVision;
    m.studentArch = phase1.clip()->config().name();
    m.studentSignature = clipSignature(phase1.clip()->config());
    if (m.classListHash.empty()) m.classListHash = classListHash(phase1.classNames());
    if (m.classes == 0) m.classes = int(phase1.classNames().size());
    if (phase1.hasTeacher() && m.teacherArch.empty()) m.teacherArch = phase1.teacher()->config().name();
    m.temperature = cfg.kdTemperature;
    if (m.created.empty()) {
        char buf[32];
        std::time_t t = std::time(nullptr);
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
        m.created = buf;
    }
    if (m.producer.empty()) m.producer = "caspl";
    // Tensors first: a manifest never points at missing or half-written tensors.
    saveSafetensors(boostingTensorsPath(folder), phase1.trainable(),
                    {{"format", "caspl-boosting-1"}, {"student_signature", m.studentSignature}});
    writeBoostingManifest(folder, m);
}

BoostingManifest loadBoostingArtifact(PromptedClip& phase2, const std::string& folderOrFile) {
    const auto& cfg = phase2.config();
    if (!cfg.cascaded()) throw Error("loadBoostingArtifact: the run has no boosting prompts (CasPL is off)");
    BoostingManifest m = readBoostingManifest(folderOrFile);
    const std::string tensors = boostingTensorsPath(folderOrFile);
    checkBoostingCompatible(m, phase2.clip()->config(), cfg.boosting.nText, cfg.boosting.nVision, cfg.boosting.depthText,
                            cfg.boosting.depthVision, tensors);
    TensorMap t = loadSafetensors(tensors);
    for (const auto& [name, v] : phase2.frozen())
        if (!t.count(name))
            throw Error(tensors + ": missing boosting tensor '" + name + "' (expected shape " + shapeToString(v.sizes().vec()) + ")");
    TensorMap used;
    for (const auto& [name, v] : t)
        if (phase2.frozen().count(name)) used[name] = v;
    phase2.loadPrompts(used, tensors, false);
    return m;
}

}  // namespace caspl
