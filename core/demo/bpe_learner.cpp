// Byte-level BPE learning in CLIP's format, see bpe_learner.h.
#include "core/demo/bpe_learner.h"

#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace caspl {

namespace {

constexpr const char* kEndOfWord = "</w>";

// Symbols are interned strings; a pair of symbol ids is one 64-bit key.
struct Symbols {
    std::vector<std::string> text;
    std::unordered_map<std::string, int> id;
    int intern(const std::string& s) {
        auto [it, added] = id.emplace(s, int(text.size()));
        if (added) text.push_back(s);
        return it->second;
    }
};

uint64_t pairKey(int a, int b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
int firstOf(uint64_t k) { return int(uint32_t(k >> 32)); }
int secondOf(uint64_t k) { return int(uint32_t(k)); }

struct Word {
    std::vector<int> symbols;
    int64_t count = 0;
};

}  // namespace

ClipTokenizer LearnedBpe::tokenizer() const { return ClipTokenizer::fromMerges(merges, "learned BPE vocabulary"); }

std::string LearnedBpe::vocabJson() const {
    std::unordered_map<std::string, int> last;
    for (std::size_t i = 0; i < vocabulary.size(); ++i) last[vocabulary[i]] = int(i);
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < vocabulary.size(); ++i)
        if (last[vocabulary[i]] == int(i)) j[vocabulary[i]] = int(i);
    return j.dump() + "\n";
}

std::string LearnedBpe::mergesText() const {
    std::string s = "#version: 0.2\n";
    for (const auto& [a, b] : merges) s += a + " " + b + "\n";
    return s;
}

LearnedBpe learnBpe(const std::vector<std::string>& texts, const BpeLearnOptions& options) {
    if (options.maxMerges < 0)
        throw Error("BPE learning: maxMerges must be at least 0, got " + std::to_string(options.maxMerges));
    if (options.minPairCount < 1)
        throw Error("BPE learning: minPairCount must be at least 1, got " + std::to_string(options.minPairCount));

    // Word frequencies, with the tokenizer's own cleaning and pre-tokenizer (an empty-merge tokenizer suffices).
    const ClipTokenizer pre = ClipTokenizer::fromMerges({}, "BPE learner pre-tokenizer");
    LearnedBpe out;
    std::map<std::string, int64_t> counts;  // ordered: deterministic word order
    for (const auto& t : texts)
        for (const auto& piece : pre.preTokenize(t)) {
            ++counts[piece];
            ++out.words;
        }
    out.distinctWords = int64_t(counts.size());

    Symbols sym;
    std::vector<Word> words;
    words.reserve(counts.size());
    for (const auto& [piece, n] : counts) {
        Word w;
        w.count = n;
        for (std::size_t i = 0; i < piece.size(); ++i) {
            std::string s = ClipTokenizer::byteSymbol(uint8_t(piece[i]));
            if (i + 1 == piece.size()) s += kEndOfWord;
            w.symbols.push_back(sym.intern(s));
        }
        words.push_back(std::move(w));
    }

    std::unordered_map<uint64_t, int64_t> pairCount;
    std::unordered_map<uint64_t, std::unordered_set<int>> where;
    auto addPairs = [&](int wi, int64_t sign) {
        const Word& w = words[std::size_t(wi)];
        for (std::size_t i = 0; i + 1 < w.symbols.size(); ++i) {
            const uint64_t k = pairKey(w.symbols[i], w.symbols[i + 1]);
            auto& c = pairCount[k];
            c += sign * w.count;
            if (sign > 0) where[k].insert(wi);
            if (c == 0) pairCount.erase(k);
        }
    };
    for (int wi = 0; wi < int(words.size()); ++wi) addPairs(wi, +1);

    while (int(out.merges.size()) < options.maxMerges) {
        uint64_t best = 0;
        int64_t bestCount = 0;
        for (const auto& [k, c] : pairCount) {
            if (c < bestCount) continue;
            if (c == bestCount) {
                const std::string& a = sym.text[std::size_t(firstOf(k))];
                const std::string& ba = sym.text[std::size_t(firstOf(best))];
                const int cmp = a.compare(ba);
                if (cmp > 0 || (cmp == 0 && sym.text[std::size_t(secondOf(k))] >= sym.text[std::size_t(secondOf(best))]))
                    continue;
            }
            best = k;
            bestCount = c;
        }
        if (bestCount < options.minPairCount || bestCount == 0) break;
        const int a = firstOf(best), b = secondOf(best);
        const std::string first = sym.text[std::size_t(a)], second = sym.text[std::size_t(b)];
        const int m = sym.intern(first + second);
        out.merges.emplace_back(first, second);

        const auto holders = where[best];  // a copy: addPairs edits `where`
        for (int wi : holders) {
            Word& w = words[std::size_t(wi)];
            bool has = false;
            for (std::size_t i = 0; i + 1 < w.symbols.size() && !has; ++i)
                has = w.symbols[i] == a && w.symbols[i + 1] == b;
            if (!has) continue;
            addPairs(wi, -1);
            std::vector<int> merged;
            merged.reserve(w.symbols.size());
            for (std::size_t i = 0; i < w.symbols.size();) {
                if (i + 1 < w.symbols.size() && w.symbols[i] == a && w.symbols[i + 1] == b) {
                    merged.push_back(m);
                    i += 2;
                } else {
                    merged.push_back(w.symbols[i++]);
                }
            }
            w.symbols.swap(merged);
            addPairs(wi, +1);
        }
        where.erase(best);
    }

    out.vocabulary = ClipTokenizer::byteSymbols();
    for (std::size_t i = 0; i < 256; ++i) out.vocabulary.push_back(out.vocabulary[i] + kEndOfWord);
    for (const auto& [x, y] : out.merges) out.vocabulary.push_back(x + y);
    out.vocabulary.push_back("<|startoftext|>");
    out.vocabulary.push_back("<|endoftext|>");
    return out;
}

void saveBpe(const LearnedBpe& bpe, const std::string& folder) {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) throw Error(folder + ": cannot create the vocabulary folder: " + ec.message());
    writeFileAtomically((std::filesystem::path(folder) / "vocab.json").string(), bpe.vocabJson());
    writeFileAtomically((std::filesystem::path(folder) / "merges.txt").string(), bpe.mergesText());
}

}  // namespace caspl
