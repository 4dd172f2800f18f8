#include "core/methods/debug_step.h"

#include "core/clip/clip_checkpoint.h"
#include "core/data/templates.h"
#include "core/methods/prompted_clip.h"
#include "core/text/tokenizer.h"
#include "core/train/trainer.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace caspl {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json readJson(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(path + ": cannot open (the case's settings file)");
    try {
        return json::parse(in);
    } catch (const json::exception& e) {
        throw Error(path + ": not valid JSON: " + e.what());
    }
}

template <typename T>
T get(const json& j, const std::string& key, const T& fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    return it->get<T>();
}

// Maps the case's settings to our method configuration.
MethodConfig configFromCase(const json& c, const std::string& path) {
    const std::string method = get<std::string>(c, "method", "");
    if (method.empty()) throw Error(path + ": missing key 'method'");
    if (!c.contains("prompt")) throw Error(path + ": missing key 'prompt'");
    const json& p = c["prompt"];
    const json cfgKeys = c.value("config", json::object());
    MethodConfig m;
    std::string base = method;
    if (method == "caspl_phase1") {
        base = "ivlp";
        m.phase1 = true;
        m.kdTemperature = cfgKeys.value("KD.TEMPERATURE", c.value("loss", json::object()).value("temperature", 1.0));
    } else if (method.rfind("caspl_", 0) == 0) {
        base = method.substr(6);
        if (!p.contains("boosting")) throw Error(path + ": missing key 'prompt.boosting' for a CasPL phase-2 case");
        const json& b = p["boosting"];
        m.boosting.nText = b.at("n_text").get<int>();
        m.boosting.nVision = b.at("n_vision").get<int>();
        m.boosting.depthText = b.at("depth_text").get<int>();
        m.boosting.depthVision = b.at("depth_vision").get<int>();
    }
    m.kind = parseMethodKind(base);
    m.nCtxText = get<int>(p, "n_ctx_text", 4);
    m.nCtxVision = get<int>(p, "n_ctx_vision", 0);
    m.depthText = std::max(1, get<int>(p, "depth_text", 1));
    m.depthVision = get<int>(p, "depth_vision", 0);
    m.ctxInit = get<std::string>(p, "ctx_init", "");
    for (const char* node : {"TRAINER.COOP.", "TRAINER.COCOOP."}) {
        const std::string n = node;
        if (cfgKeys.contains(n + "CSC")) m.csc = cfgKeys[n + "CSC"].get<bool>();
        if (cfgKeys.contains(n + "CLASS_TOKEN_POSITION")) m.classTokenPosition = cfgKeys[n + "CLASS_TOKEN_POSITION"].get<std::string>();
    }
    if (m.kind == MethodKind::CoCoOp) m.csc = false, m.classTokenPosition = "end";
    const json loss = c.value("loss", json::object());
    m.textLossWeight = loss.value("text_loss_weight", cfgKeys.value("TRAINER.PROMPTSRC.TEXT_LOSS_WEIGHT", 25.0));
    m.imageLossWeight = loss.value("image_loss_weight", cfgKeys.value("TRAINER.PROMPTSRC.IMAGE_LOSS_WEIGHT", 10.0));
    if (m.kind == MethodKind::CoOp || m.kind == MethodKind::CoCoOp) {
        m.depthText = 1;
        m.nCtxVision = 0;
        m.depthVision = 0;
    }
    return m;
}

std::string findNextToCase(const fs::path& caseDir, const std::string& sidecarPath, const std::string& fallbackName) {
    // The sidecar names files as "shared/fixtures/<folder>/<file>"; look for <folder>/<file> next to the case folder.
    std::vector<fs::path> candidates;
    if (!sidecarPath.empty()) {
        fs::path sp(sidecarPath);
        auto it = sp.end();
        if (std::distance(sp.begin(), sp.end()) >= 2) {
            --it;
            auto file = *it;
            --it;
            candidates.push_back(caseDir.parent_path() / *it / file);
        }
        candidates.push_back(sp);
    }
    if (!fallbackName.empty()) candidates.push_back(caseDir.parent_path() / fallbackName);
    for (const auto& c : candidates)
        if (fs::exists(c)) return c.string();
    std::string tried;
    for (const auto& c : candidates) tried += " " + c.string();
    throw Error("cannot find " + (sidecarPath.empty() ? fallbackName : sidecarPath) + " (tried:" + tried + "); pass it explicitly");
}

}  // namespace

bool DebugStepReport::allOk() const {
    for (const auto& c : comparisons)
        if (!c.ok) return false;
    return true;
}

std::string DebugStepReport::summary() const {
    std::ostringstream s;
    int bad = 0;
    char line[256];
    for (const auto& c : comparisons) {
        std::snprintf(line, sizeof line, "%-64s max|diff| %.3e  max|ref| %.3e  %s\n", c.name.c_str(), c.maxAbsDiff, c.maxAbsRef,
                      c.ok ? "ok" : "FAIL");
        s << line;
        bad += c.ok ? 0 : 1;
    }
    s << method << ": " << comparisons.size() - std::size_t(bad) << " of " << comparisons.size()
      << " reference tensors within tolerance\n";
    return s.str();
}

DebugStepReport runDebugStep(const DebugStepOptions& o) {
    if (o.casePath.empty()) throw Error("--case is required (PATH without extension)");
    const std::string jsonPath = o.casePath + ".json", tensorPath = o.casePath + ".safetensors";
    const json c = readJson(jsonPath);
    const fs::path caseDir = fs::path(o.casePath).parent_path().empty() ? fs::path(".") : fs::path(o.casePath).parent_path();
    MethodConfig cfg = configFromCase(c, jsonPath);
    DebugStepReport report;
    report.method = c.value("method", "");

    const std::string backbone =
        !o.backbone.empty() ? o.backbone
                            : findNextToCase(caseDir, c.value("backbone", json::object()).value("weights", ""), "");
    std::string vocab = o.vocab;
    if (vocab.empty()) vocab = findNextToCase(caseDir, "", "tokenizer");
    auto tok = std::make_shared<ClipTokenizer>(ClipTokenizer::load(vocab));

    auto st = SafetensorsFile::open(tensorPath);
    const auto t = [&](const std::string& name) { return readTensor(st, name); };

    torch::manual_seed(0);
    PromptedClip model(loadClip(backbone), cfg, tok);
    if (cfg.phase1) {
        const std::string teacherPath = o.teacher.empty() ? o.casePath + "_teacher.safetensors" : o.teacher;
        std::string tmpl = customTemplate(c.value("dataset_name", ""));
        if (c.contains("teacher") && c["teacher"].is_object() && c["teacher"].contains("template"))
            tmpl = c["teacher"]["template"].get<std::string>();
        model.setTeacher(loadClip(teacherPath), tmpl);
    }
    std::vector<std::string> classnames = c.at("classnames").get<std::vector<std::string>>();
    model.setClassNames(classnames);

    // Our template and tokenizer must give the reference's token ids.
    if (st.contains("tokens.prompts") && !torch::equal(model.tokens().cpu(), t("tokens.prompts"))) {
        std::string mine;
        for (const auto& p : model.promptStrings()) mine += " '" + p + "'";
        throw Error(tensorPath + ": tokens.prompts differ from this port's prompts:" + mine);
    }

    // Initial values.
    TensorMap init, frozen;
    for (const auto& info : st.tensors()) {
        if (info.name.rfind("init.", 0) == 0) init[info.name.substr(5)] = readTensor(st, info);
        else if (info.name.rfind("frozen.", 0) == 0 && info.name != "frozen.fixed_embeddings" &&
                 info.name != "frozen.teacher_text_features")
            frozen[info.name.substr(7)] = readTensor(st, info);
    }
    model.loadPrompts(init, tensorPath, false);
    model.loadPrompts(frozen, tensorPath, false);
    for (const auto& [name, v] : model.trainable())
        if (!init.count(name)) throw Error(tensorPath + ": missing 'init." + name + "' for this method's learnable tensor");
    for (const auto& [name, v] : model.frozen())
        if (!frozen.count(name)) throw Error(tensorPath + ": missing 'frozen." + name + "' (boosting prompt)");

    TensorMap out;
    const auto images = t("inputs.images"), labels = t("inputs.labels"), test = t("inputs.test_images");
    {
        torch::NoGradGuard g;
        auto fw = model.evalLogits(test);
        out["eval.logits"] = fw;
        if (!model.textDependsOnImage()) {
            // Unnormalised eval features, for comparison.
            auto r = model.trainForward(test, torch::zeros({test.size(0)}, torch::kInt64));
            out["eval.image_features"] = r.values.at("image_features");
            out["eval.text_features"] = r.values.at("text_features");
        }
    }
    auto r = model.trainForward(images, labels);
    for (const auto& [k, v] : r.values) out["out." + k] = v.detach();
    r.loss.backward();
    for (auto& [name, p] : model.trainable()) {
        if (!p.grad().defined()) throw Error("no gradient reached '" + name + "'");
        out["grad." + name] = p.grad().detach().clone();
    }
    // The engine's own SGD (trainer.h), so the fixture checks the update the trainer makes.
    const json opt = c.value("optimizer", json::object());
    if (opt.value("dampening", 0.0) != 0.0 || opt.value("nesterov", false))
        throw Error(jsonPath + ": optimizer: only dampening 0 without Nesterov is supported (Dassl's defaults)");
    PromptSgd sgd(opt.value("momentum", 0.9), opt.value("weight_decay", 5e-4));
    sgd.step(model.trainable(), opt.value("lr", 0.002));
    for (auto& [name, p] : model.trainable()) out["sgd1." + name] = p.detach().clone();
    {
        torch::NoGradGuard g;
        out["eval.logits_after_sgd1"] = model.evalLogits(test);
    }
    if (model.fixedEmbeddings().defined()) out["frozen.fixed_embeddings"] = model.fixedEmbeddings();
    if (model.teacherTextFeatures().defined()) out["frozen.teacher_text_features"] = model.teacherTextFeatures();

    for (auto& [k, v] : out) v = v.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    if (!o.out.empty()) saveSafetensors(o.out, out, {{"case", c.value("case", "")}, {"producer", "caspl debug-step"}});
    for (const auto& [k, v] : out) report.written.push_back(k);

    // Compare with the reference tensors the case holds.
    for (const auto& info : st.tensors()) {
        auto it = out.find(info.name);
        if (it == out.end()) continue;
        auto ref = readTensor(st, info).to(torch::kFloat64);
        DebugStepComparison cmp;
        cmp.name = info.name;
        if (ref.sizes() != it->second.sizes()) {
            cmp.ok = false;
            cmp.maxAbsDiff = std::numeric_limits<double>::infinity();
        } else {
            cmp.maxAbsDiff = ref.numel() ? (it->second.to(torch::kFloat64) - ref).abs().max().item<double>() : 0.0;
            cmp.maxAbsRef = ref.numel() ? ref.abs().max().item<double>() : 0.0;
            cmp.ok = cmp.maxAbsDiff <= o.atol + o.rtol * cmp.maxAbsRef;
        }
        report.comparisons.push_back(cmp);
    }
    return report;
}

}  // namespace caspl
