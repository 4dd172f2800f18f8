#pragma once
// Prompt templates: each dataset's hand-written template (CUSTOM_TEMPLATES, used by zero-shot CLIP and by CasPL's
// teacher) and PromptSRC's 60 ImageNet templates (its frozen text regulariser).
#include <string>
#include <vector>

namespace caspl {

const std::vector<std::string>& imagenetTemplates();
// The template of a dataset by its Dassl name (e.g. "OxfordPets"); "a photo of a {}." for any other name
// (user image folders).
const std::string& customTemplate(const std::string& dataset);
// Fills "{}" with the class name, underscores replaced by spaces as CoOp does.
std::string fillTemplate(const std::string& tmpl, const std::string& classname);

}  // namespace caspl
