// `caspl tokenize`: CLIP token ids of JSON lines read from standard input, as clip.tokenize gives them.
// The tokenizer lives in core/text/tokenizer; this file parses options and does the I/O.
#include "app/cli/cli.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <string>

namespace caspl::cli {

namespace {
struct TokenizeOptions {
    std::string vocab;
    int contextLength = 77;
    bool truncate = false;
};

int runTokenize(const TokenizeOptions& o) {
    const ClipTokenizer tok = ClipTokenizer::load(o.vocab);
    std::string line;
    long lineNo = 0;
    while (std::getline(std::cin, line)) {
        ++lineNo;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are skipped
        const std::string where = "standard input, line " + std::to_string(lineNo);
        nlohmann::ordered_json j;  // keeps the fields in their order
        try {
            j = nlohmann::ordered_json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            throw Error(where + ": not valid JSON (" + e.what() + "); expected an object like {\"text\": \"...\"}");
        }
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
            const std::string got = !j.is_object()       ? std::string("a JSON ") + j.type_name()
                                    : j.contains("text") ? std::string("an object whose \"text\" is a ") + j["text"].type_name()
                                                         : std::string("an object without one");
            throw Error(where + ": expected a JSON object with a string field \"text\", got " + got);
        }
        try {
            j["ids"] = tok.tokenize(j["text"].get<std::string>(), o.contextLength, o.truncate);
        } catch (const Error& e) {
            throw Error(where + ": " + e.what());
        }
        std::cout << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict) << '\n';
        std::cout.flush();  // one answer per line, for programs that talk to us through a pipe
    }
    return kOk;
}
}  // namespace

void addTokenizeCommand(CLI::App& app, Action* action) {
    auto o = std::make_shared<TokenizeOptions>();
    auto* cmd = app.add_subcommand(
        "tokenize",
        "Read JSON lines {\"text\": ...} on standard input and write each back with \"ids\": the CLIP token ids "
        "(start, BPE ids, end, zero padding), exactly as OpenAI's clip.tokenize");
    cmd->add_option("--vocab", o->vocab,
                    "bpe_simple_vocab_16e6.txt.gz, a Hugging Face vocab.json (merges.txt next to it), or a folder "
                    "holding either")
        ->required();
    cmd->add_option("--context-length", o->contextLength, "ids per text, padding included")
        ->default_val(77)
        ->check(atLeast(1));
    cmd->add_flag("--truncate", o->truncate,
                  "cut texts that are too long and end them with <|endoftext|> (default: a too long text is an error)");
    cmd->callback([o, action] { *action = [o] { return runTokenize(*o); }; });
}

}  // namespace caspl::cli
