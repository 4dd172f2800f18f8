// OpenAI CLIP's BPE tokenizer, see tokenizer.h.
#include "core/text/tokenizer.h"

#include "core/io/gzip_file.h"
#include "core/text/text_clean.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>
#include <unicode/regex.h>
#include <unicode/uniset.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace caspl {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSot = "<|startoftext|>";
constexpr const char* kEot = "<|endoftext|>";
constexpr const char* kEndOfWord = "</w>";
constexpr int kOpenAiMergeCount = 49152 - 256 - 2;  // 48,894: the reference reads lines [1, 48895) of the gz file
constexpr std::size_t kCacheLimit = 200000;
const char kPairSeparator = '\xff';  // never part of UTF-8 text

std::string rankKey(const std::string& a, const std::string& b) {
    std::string key;
    key.reserve(a.size() + b.size() + 1);
    key += a;
    key += kPairSeparator;
    key += b;
    return key;
}

void appendUtf8(std::string& out, UChar32 c) {
    uint8_t buf[4];
    int32_t n = 0;
    U8_APPEND_UNSAFE(buf, n, c);  // c is a valid code point below U+0200
    out.append(reinterpret_cast<const char*>(buf), std::size_t(n));
}

// GPT-2's bytes_to_unicode(): byte → code point, and the table order (the order of the first 256 vocabulary ids).
struct ByteTable {
    std::array<std::string, 256> symbol;  // by byte, UTF-8
    std::vector<uint8_t> order;           // bytes in table order
    std::array<int, 512> byteOf;          // code point (all < 512) → byte, -1 if none
};

const ByteTable& byteTable() {
    static const ByteTable table = [] {
        ByteTable t;
        t.byteOf.fill(-1);
        std::array<UChar32, 256> cp{};
        std::array<bool, 256> printable{};
        for (int b = '!'; b <= '~'; ++b) printable[std::size_t(b)] = true;
        for (int b = 0xA1; b <= 0xAC; ++b) printable[std::size_t(b)] = true;
        for (int b = 0xAE; b <= 0xFF; ++b) printable[std::size_t(b)] = true;
        for (int b = 0; b < 256; ++b)
            if (printable[std::size_t(b)]) {
                cp[std::size_t(b)] = b;
                t.order.push_back(uint8_t(b));
            }
        int n = 0;
        for (int b = 0; b < 256; ++b)
            if (!printable[std::size_t(b)]) {
                cp[std::size_t(b)] = 256 + n++;
                t.order.push_back(uint8_t(b));
            }
        for (int b = 0; b < 256; ++b) {
            appendUtf8(t.symbol[std::size_t(b)], cp[std::size_t(b)]);
            t.byteOf[std::size_t(cp[std::size_t(b)])] = b;
        }
        return t;
    }();
    return table;
}

// The reference's pre-tokenizer, compiled with the `regex` module and IGNORECASE:
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// How `regex` (2022.10.31, Unicode 15.0 as ICU 72) applies IGNORECASE is reproduced piece by piece, as checked
// against it on every code point:
//   - the literals match case-insensitively ("'ſ" is a contraction): ICU's (?i:...);
//   - a set of one property, [\p{L}] or [\p{N}], matches the property as is, without case variants;
//   - the negated set of several items [^\s\p{L}\p{N}] excludes every character one of whose case variants is
//     white space, a letter or a number: U+0345 COMBINING GREEK YPOGEGRAMMENI (a variant of ι) is matched by no
//     alternative and dropped. Here: the complement of the case closure of [\p{White_Space}\p{L}\p{N}].
// `regex`'s \s is the White_Space property (ICU's \s is documented as [\t\n\f\r\p{Z}]); after whitespace_clean
// only ' ' is left anyway.
const icu::RegexPattern& preTokenPattern() {
    static const std::unique_ptr<icu::RegexPattern> pattern = [] {
        UErrorCode status = U_ZERO_ERROR;
        icu::UnicodeSet other(icu::UnicodeString::fromUTF8("[[\\p{White_Space}][\\p{L}][\\p{N}]]"), status);
        if (U_FAILURE(status))
            throw std::runtime_error(std::string("ICU cannot build the pre-tokenizer's set: ") + u_errorName(status));
        other.closeOver(USET_CASE_INSENSITIVE).removeAllStrings().complement();
        icu::UnicodeString otherPattern;
        other.toPattern(otherPattern, true);
        const icu::UnicodeString regex =
            icu::UnicodeString::fromUTF8(R"((?i:<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d))"
                                         R"(|[\p{L}]+|[\p{N}]|)") +
            otherPattern + icu::UnicodeString(u"+");
        UParseError pe;
        std::unique_ptr<icu::RegexPattern> p(icu::RegexPattern::compile(regex, 0, pe, status));
        if (U_FAILURE(status))
            throw std::runtime_error(std::string("ICU cannot compile the pre-tokenizer regex: ") + u_errorName(status));
        return p;
    }();
    return *pattern;
}

std::string quote(const std::string& s, std::size_t maxBytes = 80) {
    if (s.size() <= maxBytes) return "\"" + s + "\"";
    std::size_t cut = maxBytes;
    while (cut > 0 && (uint8_t(s[cut]) & 0xC0) == 0x80) --cut;  // do not cut a UTF-8 sequence
    return "\"" + s.substr(0, cut) + "...\"";
}

// Throws when `data` is not UTF-8, naming the file and line (the reference decodes the files strictly).
void requireUtf8(const std::string& data, const std::string& path) {
    const auto* p = reinterpret_cast<const uint8_t*>(data.data());
    const int32_t n = int32_t(data.size());
    for (int32_t i = 0; i < n;) {
        const int32_t at = i;
        UChar32 c;
        U8_NEXT(p, i, n, c);
        if (c < 0) {
            const long line = 1 + long(std::count(data.begin(), data.begin() + at, '\n'));
            throw Error(path + ": line " + std::to_string(line) + ": invalid UTF-8 (byte offset " + std::to_string(at) +
                        "); expected a UTF-8 text file");
        }
    }
}

std::vector<std::string> splitLines(const std::string& data) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (;;) {
        const std::size_t nl = data.find('\n', start);
        if (nl == std::string::npos) {
            lines.push_back(data.substr(start));
            return lines;
        }
        lines.push_back(data.substr(start, nl - start));
        start = nl + 1;
    }
}

// Python's str.split() for the ASCII white space that can occur in merge files.
std::vector<std::string> splitFields(const std::string& line) {
    std::vector<std::string> out;
    std::size_t i = 0;
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
    while (i < line.size()) {
        while (i < line.size() && space(line[i])) ++i;
        std::size_t j = i;
        while (j < line.size() && !space(line[j])) ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

bool blank(const std::string& line) { return splitFields(line).empty(); }

// Parses merge lines [first, last) of `lines` (1-based line number = index + 1); trailing blank lines are ignored.
std::vector<ClipTokenizer::Merge> parseMerges(const std::vector<std::string>& lines, std::size_t first,
                                              std::size_t last, const std::string& path,
                                              std::vector<std::size_t>* lineNumbers) {
    last = std::min(last, lines.size());
    while (last > first && blank(lines[last - 1])) --last;
    std::vector<ClipTokenizer::Merge> merges;
    merges.reserve(last > first ? last - first : 0);
    for (std::size_t i = first; i < last; ++i) {
        auto f = splitFields(lines[i]);
        if (f.size() != 2)
            throw Error(path + ": line " + std::to_string(i + 1) +
                        ": expected a merge, two symbols separated by a space, got " + quote(lines[i]));
        merges.emplace_back(std::move(f[0]), std::move(f[1]));
        if (lineNumbers) lineNumbers->push_back(i + 1);
    }
    if (merges.empty()) throw Error(path + ": holds no merges; expected one \"a b\" merge per line after the header");
    return merges;
}

}  // namespace

struct ClipTokenizer::Impl {
    std::string origin;
    std::unordered_map<std::string, int> encoder;
    std::vector<std::string> decoder;  // id → token; empty where no token has that id
    std::unordered_map<std::string, int> ranks;
    int sot = -1;
    int eot = -1;
    int merges = 0;
};

struct ClipTokenizer::Cache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int>> words;
};

ClipTokenizer::ClipTokenizer(std::shared_ptr<const Impl> impl)
    : impl_(std::move(impl)), cache_(std::make_shared<Cache>()) {}

// Ranks (the last of duplicate merges wins, as Python's dict(zip(merges, range(...))) does), the checks shared by
// every factory, and the special tokens. Merge i is named "<mergeOrigin> #<i+1>" in messages.
void ClipTokenizer::finish(Impl& im, const std::vector<Merge>& merges, const std::string& mergeOrigin) {
    auto where = [&](std::size_t i) { return mergeOrigin + " #" + std::to_string(i + 1); };
    im.ranks.reserve(merges.size());
    for (std::size_t i = 0; i < merges.size(); ++i) {
        const auto& [a, b] = merges[i];
        if (a.empty() || b.empty()) throw Error(where(i) + ": a merge needs two non-empty symbols");
        if (!im.encoder.count(a + b))
            throw Error(where(i) + ": merge " + quote(a + " " + b) + " makes " + quote(a + b) +
                        ", which is not in the vocabulary");
        im.ranks[rankKey(a, b)] = int(i);
    }
    im.merges = int(merges.size());
    auto special = [&](const char* name) {
        auto it = im.encoder.find(name);
        if (it == im.encoder.end())
            throw Error(im.origin + ": the vocabulary has no \"" + name + "\" token; a CLIP vocabulary needs " + kSot +
                        " and " + kEot);
        return it->second;
    };
    im.sot = special(kSot);
    im.eot = special(kEot);
}

std::vector<std::string> ClipTokenizer::byteSymbols() {
    const auto& t = byteTable();
    std::vector<std::string> out;
    for (uint8_t b : t.order) out.push_back(t.symbol[b]);
    return out;
}

const std::string& ClipTokenizer::byteSymbol(uint8_t b) { return byteTable().symbol[b]; }

ClipTokenizer ClipTokenizer::fromVocabAndMerges(const std::unordered_map<std::string, int>& vocab,
                                                const std::vector<Merge>& merges, const std::string& origin) {
    auto im = std::make_shared<Impl>();
    im->origin = origin;
    int maxId = -1;
    for (const auto& [token, id] : vocab) {
        if (id < 0) throw Error(origin + ": token " + quote(token) + " has a negative id " + std::to_string(id));
        maxId = std::max(maxId, id);
    }
    if (maxId < 0) throw Error(origin + ": the vocabulary is empty");
    im->decoder.assign(std::size_t(maxId) + 1, std::string());
    for (const auto& [token, id] : vocab) {
        if (token.empty()) throw Error(origin + ": the vocabulary has an empty token (id " + std::to_string(id) + ")");
        std::string& slot = im->decoder[std::size_t(id)];
        if (!slot.empty())
            throw Error(origin + ": id " + std::to_string(id) + " is given to both " + quote(slot) + " and " +
                        quote(token));
        slot = token;
    }
    im->encoder = vocab;
    finish(*im, merges, origin + ": merge");
    return ClipTokenizer(std::move(im));
}

ClipTokenizer ClipTokenizer::fromMerges(const std::vector<Merge>& merges, const std::string& origin) {
    auto im = std::make_shared<Impl>();
    im->origin = origin;
    std::vector<std::string>& list = im->decoder;
    list = byteSymbols();
    for (std::size_t i = 0; i < 256; ++i) list.push_back(list[i] + kEndOfWord);
    for (const auto& [a, b] : merges) list.push_back(a + b);
    list.push_back(kSot);
    list.push_back(kEot);
    im->encoder.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) im->encoder[list[i]] = int(i);  // last duplicate wins
    finish(*im, merges, origin + ": merge");
    return ClipTokenizer(std::move(im));
}

ClipTokenizer ClipTokenizer::fromOpenAiGz(const std::string& gzPath) {
    const std::string data = readGzipFile(gzPath, "OpenAI's bpe_simple_vocab_16e6.txt.gz");
    requireUtf8(data, gzPath);
    const auto lines = splitLines(data);
    const auto merges = parseMerges(lines, 1, 1 + std::size_t(kOpenAiMergeCount), gzPath, nullptr);
    return fromMerges(merges, gzPath);
}

ClipTokenizer ClipTokenizer::fromHuggingFace(const std::string& vocabJsonPath, const std::string& mergesTxtPath) {
    std::error_code ec;
    if (!fs::is_regular_file(vocabJsonPath, ec))
        throw Error("CLIP vocabulary '" + vocabJsonPath + "' does not exist or is not a file");
    if (!fs::is_regular_file(mergesTxtPath, ec))
        throw Error("CLIP merges '" + mergesTxtPath + "' do not exist or are not a file (needed with " + vocabJsonPath +
                    ")");
    std::unordered_map<std::string, int> vocab;
    {
        const std::string text = readFile(vocabJsonPath);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw Error(vocabJsonPath + ": not valid JSON (" + e.what() + "); expected an object mapping token → id");
        }
        if (!j.is_object())
            throw Error(vocabJsonPath + ": expected a JSON object mapping token → id, got a JSON " + j.type_name());
        vocab.reserve(j.size());
        for (auto it = j.begin(); it != j.end(); ++it) {
            const auto& v = it.value();
            if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT_MAX / 2)
                throw Error(vocabJsonPath + ": key " + quote(it.key()) + ": expected a non-negative integer id, got " +
                            v.dump());
            vocab[it.key()] = int(v.get<int64_t>());
        }
    }
    const std::string mergesText = readFile(mergesTxtPath);
    requireUtf8(mergesText, mergesTxtPath);
    const auto lines = splitLines(mergesText);
    const std::size_t first = (!lines.empty() && lines[0].rfind("#version", 0) == 0) ? 1 : 0;
    std::vector<std::size_t> lineNo;
    const auto merges = parseMerges(lines, first, lines.size(), mergesTxtPath, &lineNo);
    // Check the merges here too, so that a message names merges.txt and its line.
    for (std::size_t i = 0; i < merges.size(); ++i)
        if (!vocab.count(merges[i].first + merges[i].second))
            throw Error(mergesTxtPath + ": line " + std::to_string(lineNo[i]) + ": merge " +
                        quote(merges[i].first + " " + merges[i].second) + " makes " +
                        quote(merges[i].first + merges[i].second) + ", which " + vocabJsonPath + " lacks");
    return fromVocabAndMerges(vocab, merges, vocabJsonPath);
}

ClipTokenizer ClipTokenizer::load(const std::string& path) {
    static const std::string expected =
        "OpenAI's bpe_simple_vocab_16e6.txt.gz, a Hugging Face vocab.json with merges.txt next to it, or a folder "
        "holding either";
    std::error_code ec;
    const fs::path p(path);
    if (path.empty() || !fs::exists(p, ec))
        throw Error("CLIP vocabulary '" + path + "' not found; expected " + expected);
    if (fs::is_directory(p, ec)) {
        const fs::path vocab = p / "vocab.json", merges = p / "merges.txt", gz = p / "bpe_simple_vocab_16e6.txt.gz";
        if (fs::is_regular_file(vocab, ec) && fs::is_regular_file(merges, ec))
            return fromHuggingFace(vocab.string(), merges.string());
        if (fs::is_regular_file(gz, ec)) return fromOpenAiGz(gz.string());
        throw Error("no CLIP vocabulary in folder '" + path +
                    "': looked for vocab.json + merges.txt (Hugging Face) and bpe_simple_vocab_16e6.txt.gz (OpenAI)");
    }
    const std::string name = p.filename().string();
    auto endsWith = [&](const std::string& suffix) {
        return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (endsWith(".gz")) return fromOpenAiGz(path);
    if (endsWith(".json")) {
        const fs::path merges = p.parent_path() / "merges.txt";
        if (!fs::is_regular_file(merges, ec))
            throw Error("'" + merges.string() + "' not found: the Hugging Face vocabulary '" + path +
                        "' needs merges.txt next to it");
        return fromHuggingFace(path, merges.string());
    }
    if (name == "merges.txt") {
        const fs::path vocab = p.parent_path() / "vocab.json";
        if (!fs::is_regular_file(vocab, ec))
            throw Error("'" + vocab.string() + "' not found: the Hugging Face merges '" + path +
                        "' need vocab.json next to them");
        return fromHuggingFace(vocab.string(), path);
    }
    throw Error("'" + path + "' is not a CLIP vocabulary; expected " + expected);
}

void ClipTokenizer::appendBpeIds(const std::string& word, std::vector<int>& ids) const {
    const Impl& im = *impl_;
    if (word == kSot) return ids.push_back(im.sot);  // the reference's cache holds the two special tokens
    if (word == kEot) return ids.push_back(im.eot);
    {
        std::lock_guard<std::mutex> lock(cache_->mutex);
        if (auto it = cache_->words.find(word); it != cache_->words.end()) {
            ids.insert(ids.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    // Symbols: the word's characters (one per byte), "</w>" on the last.
    std::vector<std::string> sym;
    for (std::size_t i = 0; i < word.size();) {
        const uint8_t lead = uint8_t(word[i]);
        const std::size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        sym.push_back(word.substr(i, len));
        i += len;
    }
    sym.back() += kEndOfWord;
    std::string key;
    while (sym.size() > 1) {
        int best = INT_MAX;
        std::size_t at = 0;
        for (std::size_t i = 0; i + 1 < sym.size(); ++i) {
            key.assign(sym[i]);
            key += kPairSeparator;
            key += sym[i + 1];
            auto it = im.ranks.find(key);
            if (it != im.ranks.end() && it->second < best) {
                best = it->second;
                at = i;
            }
        }
        if (best == INT_MAX) break;
        const std::string first = sym[at], second = sym[at + 1];
        std::vector<std::string> merged;
        merged.reserve(sym.size());
        for (std::size_t i = 0; i < sym.size();) {
            if (i + 1 < sym.size() && sym[i] == first && sym[i + 1] == second) {
                merged.push_back(first + second);
                i += 2;
            } else {
                merged.push_back(std::move(sym[i]));
                ++i;
            }
        }
        sym.swap(merged);
    }
    std::vector<int> out;
    out.reserve(sym.size());
    for (const auto& s : sym) {
        auto it = im.encoder.find(s);
        if (it == im.encoder.end())
            throw Error(im.origin + ": the BPE symbol " + quote(s) + " (of the word " + quote(word) +
                        ") is not in the vocabulary");
        out.push_back(it->second);
    }
    ids.insert(ids.end(), out.begin(), out.end());
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->words.size() >= kCacheLimit) cache_->words.clear();
    cache_->words.emplace(word, std::move(out));
}

std::vector<std::string> ClipTokenizer::preTokenize(const std::string& utf8) const {
    const icu::UnicodeString text = icu::UnicodeString::fromUTF8(clipCleanText(utf8));
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> m(preTokenPattern().matcher(text, status));
    std::vector<std::string> pieces;
    while (U_SUCCESS(status) && m->find(status)) {
        const int32_t start = m->start(status), end = m->end(status);
        std::string piece;
        text.tempSubStringBetween(start, end).toUTF8String(piece);
        pieces.push_back(std::move(piece));
    }
    if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU pre-tokenizer failed: ") + u_errorName(status));
    return pieces;
}

std::vector<int> ClipTokenizer::encode(const std::string& utf8) const {
    const auto& bytes = byteTable();
    std::vector<int> ids;
    std::string word;
    for (const std::string& piece : preTokenize(utf8)) {
        word.clear();
        for (unsigned char b : piece) word += bytes.symbol[b];
        appendBpeIds(word, ids);
    }
    return ids;
}

std::vector<int64_t> ClipTokenizer::tokenize(const std::string& utf8, int contextLength, bool truncate) const {
    if (contextLength < 1) throw Error("context length must be at least 1, got " + std::to_string(contextLength));
    const std::vector<int> ids = encode(utf8);
    std::vector<int64_t> all;
    all.reserve(ids.size() + 2);
    all.push_back(impl_->sot);
    all.insert(all.end(), ids.begin(), ids.end());
    all.push_back(impl_->eot);
    if (all.size() > std::size_t(contextLength)) {
        if (!truncate) {
            const icu::UnicodeString u = icu::UnicodeString::fromUTF8(utf8);
            throw Error("text of " + std::to_string(u.countChar32()) + " characters is " + std::to_string(all.size()) +
                        " tokens long with its start and end tokens, more than the context length " +
                        std::to_string(contextLength) + " (truncation cuts it: --truncate in caspl tokenize and encode): " + quote(utf8));
        }
        all.resize(std::size_t(contextLength));
        all.back() = impl_->eot;
    }
    all.resize(std::size_t(contextLength), 0);
    return all;
}

std::vector<std::string> ClipTokenizer::tokens(const std::vector<int>& ids) const {
    std::vector<std::string> out;
    out.reserve(ids.size());
    for (int id : ids) {
        if (id < 0 || std::size_t(id) >= impl_->decoder.size() || impl_->decoder[std::size_t(id)].empty())
            throw Error(impl_->origin + ": id " + std::to_string(id) + " is not in the vocabulary (" +
                        std::to_string(vocabSize()) + " ids)");
        out.push_back(impl_->decoder[std::size_t(id)]);
    }
    return out;
}

std::string ClipTokenizer::decode(const std::vector<int>& ids) const {
    std::string text;
    for (const auto& t : tokens(ids)) text += t;
    // Byte symbols back to bytes.
    const auto& table = byteTable();
    std::string bytes;
    const auto* p = reinterpret_cast<const uint8_t*>(text.data());
    const int32_t n = int32_t(text.size());
    for (int32_t i = 0; i < n;) {
        const int32_t at = i;
        UChar32 c;
        U8_NEXT(p, i, n, c);
        if (c >= 0 && c < 512 && table.byteOf[std::size_t(c)] >= 0)
            bytes.push_back(char(table.byteOf[std::size_t(c)]));
        else
            bytes.append(text, std::size_t(at), std::size_t(i - at));  // not a byte symbol: keep as is
    }
    std::string out;
    icu::UnicodeString::fromUTF8(bytes).toUTF8String(out);  // invalid UTF-8 → U+FFFD, as errors="replace"
    std::string result;
    for (std::size_t i = 0; i < out.size();) {
        if (out.compare(i, 4, kEndOfWord) == 0) {
            result += ' ';
            i += 4;
        } else {
            result += out[i++];
        }
    }
    return result;
}

std::string ClipTokenizer::decode(const std::vector<int64_t>& ids) const {
    std::vector<int> v;
    v.reserve(ids.size());
    for (int64_t id : ids) v.push_back(id < INT_MIN || id > INT_MAX ? -1 : int(id));
    return decode(v);
}

int ClipTokenizer::sotId() const { return impl_->sot; }
int ClipTokenizer::eotId() const { return impl_->eot; }
int ClipTokenizer::vocabSize() const { return int(impl_->decoder.size()); }
int ClipTokenizer::mergeCount() const { return impl_->merges; }
const std::string& ClipTokenizer::origin() const { return impl_->origin; }

}  // namespace caspl
