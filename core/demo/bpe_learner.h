#pragma once
// Learning a byte-level BPE vocabulary in OpenAI CLIP's format from a list of texts (the demo's captions), so that
// the demo's small CLIPs get a vocabulary of their own. No LibTorch.
//
// Words are made exactly as ClipTokenizer makes them (its public helpers, not a copy): the text is cleaned and
// split by ClipTokenizer::preTokenize, each piece's UTF-8 bytes become ClipTokenizer::byteSymbol()s and "</w>" is
// appended to the last symbol. Word frequencies are counted over all texts; then, greedily, the adjacent symbol
// pair with the highest frequency is merged everywhere (ties: the pair whose first symbol, then second symbol, is
// smallest in byte order), until `maxMerges` merges are made or no pair occurs at least `minPairCount` times.
//
// The vocabulary has OpenAI's layout (ClipTokenizer::fromMerges): 256 byte symbols, the same 256 with "</w>", one
// token per merge, then <|startoftext|> and <|endoftext|> as the last two ids. A merge may make a string that an
// earlier merge already made; as in ClipTokenizer::fromMerges, the later id is the one the string maps to.
#include "core/text/tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace caspl {

struct BpeLearnOptions {
    int maxMerges = 4000;
    int64_t minPairCount = 2;  // 2: stop when no pair repeats
};

struct LearnedBpe {
    std::vector<ClipTokenizer::Merge> merges;  // in rank order
    std::vector<std::string> vocabulary;       // id -> token, OpenAI layout
    int64_t words = 0;                         // word occurrences counted
    int64_t distinctWords = 0;

    int vocabSize() const { return int(vocabulary.size()); }
    // ClipTokenizer::fromMerges(merges).
    ClipTokenizer tokenizer() const;
    // vocab.json text: {token: id} in id order (a token made twice keeps its last id).
    std::string vocabJson() const;
    // merges.txt text: "#version: 0.2", then one "a b" line per merge.
    std::string mergesText() const;
};

// Learns the vocabulary. Throws caspl::Error for options out of range (maxMerges < 0, minPairCount < 1).
LearnedBpe learnBpe(const std::vector<std::string>& texts, const BpeLearnOptions& options = {});

// Writes <folder>/vocab.json and <folder>/merges.txt (atomically; the folder is created), readable by
// ClipTokenizer::load(folder).
void saveBpe(const LearnedBpe& bpe, const std::string& folder);

}  // namespace caspl
