#include "core/data/templates.h"

#include "core/util/error.h"

#include <map>

namespace caspl {

const std::vector<std::string>& imagenetTemplates() {
    // PromptSRC's IMAGENET_TEMPLATES (spec §5.6), in order.
    static const std::vector<std::string> t{
        "a photo of a {}.",
        "a bad photo of a {}.",
        "a photo of many {}.",
        "a sculpture of a {}.",
        "a photo of the hard to see {}.",
        "a low resolution photo of the {}.",
        "a rendering of a {}.",
        "graffiti of a {}.",
        "a bad photo of the {}.",
        "a cropped photo of the {}.",
        "a tattoo of a {}.",
        "the embroidered {}.",
        "a photo of a hard to see {}.",
        "a bright photo of a {}.",
        "a photo of a clean {}.",
        "a photo of a dirty {}.",
        "a dark photo of the {}.",
        "a drawing of a {}.",
        "a photo of my {}.",
        "the plastic {}.",
        "a photo of the cool {}.",
        "a close-up photo of a {}.",
        "a black and white photo of the {}.",
        "a painting of the {}.",
        "a painting of a {}.",
        "a pixelated photo of the {}.",
        "a sculpture of the {}.",
        "a bright photo of the {}.",
        "a cropped photo of a {}.",
        "a plastic {}.",
        "a photo of the dirty {}.",
        "a jpeg corrupted photo of a {}.",
        "a blurry photo of the {}.",
        "a photo of the {}.",
        "a good photo of the {}.",
        "a rendering of the {}.",
        "a {} in a video game.",
        "a photo of one {}.",
        "a doodle of a {}.",
        "a close-up photo of the {}.",
        "the origami {}.",
        "the {} in a video game.",
        "a sketch of a {}.",
        "a doodle of the {}.",
        "a origami {}.",
        "a low resolution photo of a {}.",
        "the toy {}.",
        "a rendition of the {}.",
        "a photo of the clean {}.",
        "a photo of a large {}.",
        "a rendition of a {}.",
        "a photo of a nice {}.",
        "a photo of a weird {}.",
        "a blurry photo of a {}.",
        "a cartoon {}.",
        "art of a {}.",
        "a sketch of the {}.",
        "a embroidered {}.",
        "a pixelated photo of a {}.",
        "itap of the {}.",
    };
    return t;
}

const std::string& customTemplate(const std::string& dataset) {
    // CoOp's CUSTOM_TEMPLATES (spec §5.5): zero-shot CLIP and CasPL's teacher.
    static const std::map<std::string, std::string> t{
        {"OxfordPets", "a photo of a {}, a type of pet."},
        {"OxfordFlowers", "a photo of a {}, a type of flower."},
        {"FGVCAircraft", "a photo of a {}, a type of aircraft."},
        {"DescribableTextures", "{} texture."},
        {"EuroSAT", "a centered satellite photo of {}."},
        {"StanfordCars", "a photo of a {}."},
        {"Food101", "a photo of {}, a type of food."},
        {"SUN397", "a photo of a {}."},
        {"Caltech101", "a photo of a {}."},
        {"UCF101", "a photo of a person doing {}."},
        {"ImageNet", "a photo of a {}."},
        {"ImageNetSketch", "a photo of a {}."},
        {"ImageNetV2", "a photo of a {}."},
        {"ImageNetA", "a photo of a {}."},
        {"ImageNetR", "a photo of a {}."},
    };
    static const std::string fallback = "a photo of a {}.";
    auto it = t.find(dataset);
    return it == t.end() ? fallback : it->second;
}

std::string fillTemplate(const std::string& tmpl, const std::string& classname) {
    const auto pos = tmpl.find("{}");
    if (pos == std::string::npos) throw Error("template '" + tmpl + "' has no {} placeholder for the class name");
    std::string name = classname;
    for (auto& ch : name)
        if (ch == '_') ch = ' ';
    return tmpl.substr(0, pos) + name + tmpl.substr(pos + 2);
}

}  // namespace caspl
