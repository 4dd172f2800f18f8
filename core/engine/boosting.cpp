#include "core/engine/boosting.h"

#include "core/clip/clip_config.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace caspl {

namespace fs = std::filesystem;

std::string classListHash(const std::vector<std::string>& classnames) {
    // FNV-1a 64 over the names joined by '\n': stable across platforms, enough to tell class lists apart.
    uint64_t h = 1469598103934665603ULL;
    for (const auto& n : classnames) {
        for (unsigned char ch : n + "\n") {
            h ^= ch;
            h *= 1099511628211ULL;
        }
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

std::string clipSignature(const ClipConfig& c) {
    return "E" + std::to_string(c.embedDim) + "-R" + std::to_string(c.imageResolution) + "-P" + std::to_string(c.patchSize) +
           "-V" + std::to_string(c.visionWidth) + "x" + std::to_string(c.visionLayers) + "h" + std::to_string(c.visionHeads) +
           "-T" + std::to_string(c.textWidth) + "x" + std::to_string(c.textLayers) + "h" + std::to_string(c.textHeads) + "-C" +
           std::to_string(c.contextLength) + "-Vocab" + std::to_string(c.vocabSize);
}

std::string boostingTensorsPath(const std::string& p) {
    return fs::is_directory(p) || fs::path(p).extension() != ".safetensors" ? (fs::path(p) / "boosting.safetensors").string() : p;
}

std::string boostingManifestPath(const std::string& p) {
    return fs::is_directory(p) || fs::path(p).extension() != ".safetensors" ? (fs::path(p) / "boosting.json").string()
                                                                              : (fs::path(p).parent_path() / "boosting.json").string();
}

void copyBoostingArtifact(const std::string& from, const std::string& folder) {
    const std::string tensors = boostingTensorsPath(from), manifest = boostingManifestPath(from);
    for (const auto& f : {tensors, manifest})
        if (!fs::is_regular_file(f))
            throw Error(f + ": not found (boosting prompts are a folder with boosting.safetensors and boosting.json, as "
                            "phase 1 writes them)");
    fs::create_directories(folder);
    writeFileAtomically((fs::path(folder) / "boosting.safetensors").string(), readFile(tensors));
    writeFileAtomically((fs::path(folder) / "boosting.json").string(), readFile(manifest));
}

bool sameBoostingTensors(const std::string& a, const std::string& b) {
    try {
        const std::string ta = boostingTensorsPath(a), tb = boostingTensorsPath(b);
        std::error_code ec1, ec2;
        if (fs::file_size(ta, ec1) != fs::file_size(tb, ec2) || ec1 || ec2) return false;
        return readFile(ta) == readFile(tb);
    } catch (const std::exception&) {
        return false;
    }
}

void writeBoostingManifest(const std::string& folder, const BoostingManifest& m) {
    nlohmann::ordered_json j{{"format", "caspl-boosting-1"},
                             {"teacher", m.teacher},
                             {"teacher_arch", m.teacherArch},
                             {"student", m.student},
                             {"student_arch", m.studentArch},
                             {"student_signature", m.studentSignature},
                             {"dataset", m.dataset},
                             {"class_list_hash", m.classListHash},
                             {"classes", m.classes},
                             {"n_text", m.nText},
                             {"n_vision", m.nVision},
                             {"depth_text", m.depthText},
                             {"depth_vision", m.depthVision},
                             {"epochs", m.epochs},
                             {"seed", m.seed},
                             {"final_loss", m.finalLoss},
                             {"temperature", m.temperature},
                             {"pool", m.pool},
                             {"pool_images", m.poolImages},
                             {"created", m.created},
                             {"producer", m.producer}};
    writeFileAtomically(boostingManifestPath(folder), j.dump(2) + "\n");
}

BoostingManifest readBoostingManifest(const std::string& folderOrFile) {
    const std::string path = boostingManifestPath(folderOrFile);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(readFile(path));
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": not valid JSON: " + e.what());
    }
    if (j.value("format", "") != "caspl-boosting-1")
        throw Error(path + ": not a boosting-prompt manifest (key 'format' should be 'caspl-boosting-1')");
    BoostingManifest m;
    try {
        m.teacher = j.value("teacher", "");
        m.teacherArch = j.value("teacher_arch", "");
        m.student = j.value("student", "");
        m.studentArch = j.value("student_arch", "");
        m.studentSignature = j.at("student_signature").get<std::string>();
        m.dataset = j.value("dataset", "");
        m.classListHash = j.value("class_list_hash", "");
        m.classes = j.value("classes", 0);
        m.nText = j.at("n_text").get<int>();
        m.nVision = j.at("n_vision").get<int>();
        m.depthText = j.at("depth_text").get<int>();
        m.depthVision = j.at("depth_vision").get<int>();
        m.epochs = j.value("epochs", 0);
        m.seed = j.value("seed", uint64_t(0));
        m.finalLoss = j.value("final_loss", 0.0);
        m.temperature = j.value("temperature", 1.0);
        m.pool = j.value("pool", "");
        m.poolImages = j.value("pool_images", int64_t(0));
        m.created = j.value("created", "");
        m.producer = j.value("producer", "");
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": " + e.what());
    }
    return m;
}

void checkBoostingCompatible(const BoostingManifest& m, const ClipConfig& student, int nText, int nVision, int depthText,
                             int depthVision, const std::string& source) {
    const std::string sig = clipSignature(student);
    if (m.studentSignature != sig)
        throw Error(source + ": boosting prompts were learned for student " + m.studentArch + " (" + m.studentSignature +
                    "), but this run's student is " + student.name() + " (" + sig + ")");
    if (m.nText != nText || m.nVision != nVision || m.depthText != depthText || m.depthVision != depthVision)
        throw Error(source + ": boosting layout is text " + std::to_string(m.nText) + "x" + std::to_string(m.depthText) +
                    ", vision " + std::to_string(m.nVision) + "x" + std::to_string(m.depthVision) + "; this run expects text " +
                    std::to_string(nText) + "x" + std::to_string(depthText) + ", vision " + std::to_string(nVision) + "x" +
                    std::to_string(depthVision));
}

}  // namespace caspl
