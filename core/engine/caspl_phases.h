#pragma once
// CasPL glue between the phases (spec §4): phase 1's learnable tensors become the boosting artifact; phase 2
// loads them as frozen prompts. Includes LibTorch: include only from engine .cpp files.
#include "core/engine/boosting.h"
#include "core/methods/prompted_clip.h"

#include <string>

namespace caspl {

// Writes phase 1's prompts (boosting.safetensors, atomically) and the manifest; the layout fields of `manifest`
// are filled from the model.
void saveBoostingArtifact(const std::string& folder, PromptedClip& phase1, BoostingManifest manifest);

// Loads an artifact into a phase-2 model's frozen boosting prompts after checking the student and the layout.
// Returns the manifest.
BoostingManifest loadBoostingArtifact(PromptedClip& phase2, const std::string& folderOrFile);

}  // namespace caspl
