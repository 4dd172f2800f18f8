// `caspl info` and `caspl encode`: the CLIP model as a tool (architecture, feature extraction).
#include "app/cli/cli.h"
#include "core/tools/clip_tools.h"

#include <iostream>

namespace caspl::cli {

void addInfoCommand(CLI::App& app, Action* action) {
    auto* cmd = app.add_subcommand("info", "Print a CLIP checkpoint's architecture, parameter count and dtypes");
    auto model = std::make_shared<std::string>();
    cmd->add_option("--model", *model, "Checkpoint: Hugging Face folder, .safetensors or OpenAI .pt")->required();
    cmd->callback([action, model] {
        *action = [model] {
            std::cout << describeClipModel(*model);
            return kOk;
        };
    });
}

void addEncodeCommand(CLI::App& app, Action* action) {
    auto* cmd = app.add_subcommand("encode", "Encode images and texts with a CLIP model into a safetensors file");
    auto o = std::make_shared<EncodeOptions>();
    cmd->add_option("--model", o->model, "Checkpoint: Hugging Face folder, .safetensors or OpenAI .pt")->required();
    auto* px = cmd->add_option("--pixels", o->pixels, "Preprocessed pixels as FILE.safetensors:KEY ([N,3,R,R] float)");
    auto* im = cmd->add_option("--images", o->images, "Image files (CLIP's evaluation preprocessing is applied)");
    px->excludes(im);
    auto* tk = cmd->add_option("--tokens", o->tokens, "Token ids as FILE.safetensors:KEY ([N,77] integers)");
    auto* tx = cmd->add_option("--texts", o->texts, "Texts to tokenize and encode");
    tk->excludes(tx);
    cmd->add_option("--vocab", o->vocab, "Tokenizer files (bpe .gz, vocab.json or a folder); default: next to the model");
    cmd->add_flag("--truncate", o->truncate, "Cut texts longer than the context length instead of failing");
    cmd->add_flag("--save-pixels", o->savePixels, "Also write pixel_values");
    cmd->add_option("--device", o->device, "cpu or cuda")->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
    cmd->add_option("--out", o->out, "Output .safetensors (written atomically)")->required();
    cmd->callback([action, o] {
        *action = [o] {
            const auto s = encodeWithClip(*o);
            std::cerr << "encoded " << s.images << " image(s), " << s.texts << " text(s) -> " << o->out << " (";
            for (std::size_t i = 0; i < s.written.size(); ++i) std::cerr << (i ? ", " : "") << s.written[i];
            std::cerr << ")\n";
            return kOk;
        };
    });
}

}  // namespace caspl::cli
