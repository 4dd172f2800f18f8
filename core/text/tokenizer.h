#pragma once
// OpenAI CLIP's byte-level BPE tokenizer (clip/simple_tokenizer.py and clip.tokenize), reproduced exactly:
//
//   1. clean: clipCleanText (text_clean.h): ftfy, html.unescape twice, strip, white space runs → ' ', lower;
//   2. pre-tokenise with the reference's regex (ICU, Unicode classes, case-insensitive):
//        <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//   3. map each piece's UTF-8 bytes through the GPT-2 byte-to-unicode table, put "</w>" on the last symbol and
//      apply merges by rank (lowest first, all occurrences left to right) until none applies;
//   4. look the symbols up in the vocabulary; tokenize() adds <|startoftext|> / <|endoftext|> and pads with 0.
//
// Vocabularies: OpenAI's bpe_simple_vocab_16e6.txt.gz (the vocabulary is built from its merges: 256 byte symbols,
// the same with "</w>", one token per merge, then <|startoftext|> = 49406 and <|endoftext|> = 49407), Hugging
// Face's vocab.json + merges.txt (both give identical ids), or any vocabulary and merges in memory (of any size;
// the start/end ids are whatever the vocabulary gives "<|startoftext|>" and "<|endoftext|>").
//
// Thread safety: all const member functions may be called from several threads at once. BPE results are cached
// per pre-token (shared by copies of a tokenizer, guarded by a mutex, emptied when it passes 200,000 entries).
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace caspl {

class ClipTokenizer {
public:
    using Merge = std::pair<std::string, std::string>;

    // Loads the vocabulary at `path`: a .gz file (OpenAI's bpe_simple_vocab_16e6.txt.gz), a vocab.json (merges.txt
    // next to it), a merges.txt (vocab.json next to it), or a folder holding vocab.json + merges.txt (e.g. a Hugging
    // Face CLIP model folder) or bpe_simple_vocab_16e6.txt.gz. Throws caspl::Error naming the path and what was
    // looked for when nothing is there, and naming the file, line or key when a file is malformed.
    static ClipTokenizer load(const std::string& path);

    // OpenAI's gzipped merges file: line 1 is a header, lines 2..48,895 are the merges (later lines are ignored, as
    // the reference does; a shorter file gives a smaller vocabulary).
    static ClipTokenizer fromOpenAiGz(const std::string& gzPath);

    // Hugging Face files: vocab.json maps token → id; merges.txt has one "a b" merge per line, in rank order, after an
    // optional "#version" first line. Every merge's result must be in the vocabulary.
    static ClipTokenizer fromHuggingFace(const std::string& vocabJsonPath, const std::string& mergesTxtPath);

    // In memory. `vocab` maps token → id (it must hold "<|startoftext|>" and "<|endoftext|>" and every merge's
    // result); `merges` are in rank order (rank = index). `origin` names the source in error messages.
    static ClipTokenizer fromVocabAndMerges(const std::unordered_map<std::string, int>& vocab,
                                            const std::vector<Merge>& merges,
                                            const std::string& origin = "in-memory vocabulary");

    // OpenAI's layout built from merges alone: ids 0..255 the byte symbols (byteSymbols() order), 256..511 the same
    // with "</w>", then one id per merge (the two symbols concatenated), then <|startoftext|>, <|endoftext|>.
    static ClipTokenizer fromMerges(const std::vector<Merge>& merges, const std::string& origin = "in-memory merges");

    // The 256 symbols of the byte-to-unicode table (UTF-8), in table order: bytes '!'..'~', '¡'..'¬', '®'..'ÿ'
    // map to themselves, the other 68 bytes in increasing order to U+0100, U+0101, ...
    static std::vector<std::string> byteSymbols();
    // The symbol byte `b` maps to.
    static const std::string& byteSymbol(uint8_t b);

    // BPE ids of the text, without start/end tokens.
    std::vector<int> encode(const std::string& utf8) const;

    // <|startoftext|>, encode(text), <|endoftext|>, zero padded to contextLength. Longer → caspl::Error naming the
    // text and its length, unless `truncate`: then the first contextLength ids are kept and the last is set to
    // <|endoftext|> (clip.tokenize(..., truncate=True)).
    std::vector<int64_t> tokenize(const std::string& utf8, int contextLength = 77, bool truncate = false) const;

    // The pre-tokens of the text after cleaning (for debugging).
    std::vector<std::string> preTokenize(const std::string& utf8) const;

    // The vocabulary tokens of the ids, e.g. {"a</w>", "photo</w>"} (for debugging).
    std::vector<std::string> tokens(const std::vector<int>& ids) const;

    // The reference's decode: tokens concatenated, byte symbols back to bytes (invalid UTF-8 → U+FFFD), "</w>" →
    // ' '. Unknown ids throw caspl::Error. Padding zeros decode to '!': strip them first.
    std::string decode(const std::vector<int>& ids) const;
    std::string decode(const std::vector<int64_t>& ids) const;

    int sotId() const;
    int eotId() const;
    // Number of embedding rows the vocabulary needs: the largest id + 1 (49,408 for OpenAI's).
    int vocabSize() const;
    // Number of merges (48,894 for OpenAI's).
    int mergeCount() const;
    // Where the vocabulary came from (a path, or the origin given to the in-memory factories).
    const std::string& origin() const;

private:
    struct Impl;
    struct Cache;
    explicit ClipTokenizer(std::shared_ptr<const Impl> impl);
    static void finish(Impl& im, const std::vector<Merge>& merges, const std::string& mergeOrigin);
    void appendBpeIds(const std::string& word, std::vector<int>& ids) const;

    std::shared_ptr<const Impl> impl_;
    std::shared_ptr<Cache> cache_;
};

}  // namespace caspl
