#pragma once
// CasPL's boosting prompts as an artifact (spec §4.2): phase 1 writes them once per dataset; many phase-2 runs reuse
// them. A folder holding
//   boosting.safetensors  the tensors under the reference names: prompt_learner_teacher.ctx,
//                         text_encoder.transformer.resblocks.{i}.VPT_shallow_FIRST, image_encoder.VPT_FIRST,
//                         image_encoder.transformer.resblocks.{i}.VPT_shallow_FIRST
//   boosting.json         the manifest below
// Loading refuses an artifact whose student architecture or prompt layout does not match the run, with a message
// naming both.
#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

struct ClipConfig;

struct BoostingManifest {
    std::string teacher;          // teacher checkpoint (as given) and its architecture name
    std::string teacherArch;
    std::string student;
    std::string studentArch;
    std::string studentSignature; // ClipConfig fields, to check compatibility exactly
    std::string dataset;
    std::string classListHash;    // hash of the class names in order (classListHash())
    int classes = 0;
    int nText = 0, nVision = 0, depthText = 0, depthVision = 0;
    int epochs = 0;
    uint64_t seed = 0;
    double finalLoss = 0;
    std::string pool;             // "train", "test" or an image folder
    int64_t poolImages = 0;
    double temperature = 1;
    std::string created;          // ISO time
    std::string producer;
};

std::string classListHash(const std::vector<std::string>& classnames);
std::string clipSignature(const ClipConfig& c);

// Paths of the two files for a folder (or for a path to boosting.safetensors).
std::string boostingTensorsPath(const std::string& folderOrFile);
std::string boostingManifestPath(const std::string& folderOrFile);

BoostingManifest readBoostingManifest(const std::string& folderOrFile);

// A run that reuses boosting prompts (phase1.artifact) keeps a copy of them, so that every seed, a resumed run and a
// later `caspl eval` cascade the prompts the run started with even if the artifact is trained again or deleted.
// Copies the two files into `folder` (created), each atomically, the manifest last: a folder with boosting.json is a
// whole copy. Throws caspl::Error naming the file that cannot be read or written.
void copyBoostingArtifact(const std::string& folderOrFile, const std::string& folder);
// Whether two artifacts hold the same tensors, byte for byte (false when either cannot be read).
bool sameBoostingTensors(const std::string& a, const std::string& b);
void writeBoostingManifest(const std::string& folder, const BoostingManifest& m);

// Throws caspl::Error when the artifact cannot serve a student of `student` with the given layout.
void checkBoostingCompatible(const BoostingManifest& m, const ClipConfig& student, int nText, int nVision, int depthText,
                             int depthVision, const std::string& source);

}  // namespace caspl
