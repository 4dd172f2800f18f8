// CLIP's text cleaning: ftfy 6.3.1 fix_text (see text_clean.h for what is and is not reproduced), Python's
// html.unescape, str.strip, the `regex` module's \s and str.lower, all on ICU.
#include "core/text/text_clean.h"

#include "core/text/html_entities.h"

#include <cstdint>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/ucnv.h>
#include <unicode/uniset.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <unordered_map>

namespace caspl {

namespace {

using icu::UnicodeString;

// ICU failing on our own constant patterns or data is a bug or a broken installation, not bad input.
void checkIcu(UErrorCode status, const char* what) {
    if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU failure in ") + what + ": " + u_errorName(status));
}

UnicodeString fromUtf8(const std::string& s) {
    return UnicodeString::fromUTF8(icu::StringPiece(s.data(), int32_t(s.size())));
}

std::string toUtf8(const UnicodeString& u) {
    std::string out;
    u.toUTF8String(out);
    return out;
}

std::unique_ptr<icu::RegexPattern> compilePattern(const char* pattern, uint32_t flags = 0) {
    UErrorCode status = U_ZERO_ERROR;
    UParseError pe;
    std::unique_ptr<icu::RegexPattern> p(
        icu::RegexPattern::compile(UnicodeString::fromUTF8(pattern), flags, pe, status));
    checkIcu(status, pattern);
    return p;
}

std::unique_ptr<const icu::UnicodeSet> makeSet(const char* pattern) {
    UErrorCode status = U_ZERO_ERROR;
    auto set = std::make_unique<icu::UnicodeSet>(UnicodeString::fromUTF8(pattern), status);
    checkIcu(status, pattern);
    set->freeze();
    return set;
}

// Python `regex` \s (and `re` \s without 0x1C..0x1F): exactly the White_Space property.
const icu::UnicodeSet& regexWhiteSpace() {
    static const auto set = makeSet("[\\p{White_Space}]");
    return *set;
}

// Python str.isspace(): White_Space plus the four information separators U+001C..U+001F.
const icu::UnicodeSet& pyIsSpace() {
    static const auto set = makeSet("[\\p{White_Space}\\u001C-\\u001F]");
    return *set;
}

// Replaces every regex match of `pattern` in `text` by replace(match text); the rest is copied.
template <class F>
UnicodeString substitute(const icu::RegexPattern& pattern, const UnicodeString& text, F&& replace) {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> m(pattern.matcher(text, status));
    checkIcu(status, "regex matcher");
    UnicodeString out;
    int32_t last = 0;
    while (m->find(status)) {
        checkIcu(status, "regex find");
        const int32_t start = m->start(status), end = m->end(status);
        out.append(text, last, start - last);
        out.append(replace(text.tempSubStringBetween(start, end), *m));
        last = end;
    }
    checkIcu(status, "regex find");
    out.append(text, last, text.length() - last);
    return out;
}

// Calls f(code point) for each code point; f appends to `out` what the code point becomes.
template <class F>
UnicodeString mapCodePoints(const UnicodeString& text, F&& f) {
    UnicodeString out;
    for (int32_t i = 0; i < text.length();) {
        const UChar32 c = text.char32At(i);
        i += U16_LENGTH(c);
        f(c, out);
    }
    return out;
}

// The 32 characters that bytes 0x80..0x9F are in ftfy's "sloppy-windows-1252": Windows-1252, with the five
// unassigned bytes (81 8D 8F 90 9D) passing through as U+0081 etc. ICU's ibm-5348 (its windows-1252) maps them
// the same way. html.unescape reads &#128;..&#159; with the same table.
const std::array<UChar32, 32>& sloppyCp1252High() {
    static const auto table = [] {
        std::array<UChar32, 32> t{};
        UErrorCode status = U_ZERO_ERROR;
        UConverter* cnv = ucnv_open("ibm-5348_P100-1997", &status);
        checkIcu(status, "opening the windows-1252 converter");
        for (int b = 0x80; b < 0xA0; ++b) {
            const char in[1] = {char(b)};
            UChar out[4];
            status = U_ZERO_ERROR;
            const int32_t n = ucnv_toUChars(cnv, out, 4, in, 1, &status);
            t[std::size_t(b - 0x80)] = (U_SUCCESS(status) && n == 1 && out[0] != 0xFFFD && out[0] != 0x1A) ? out[0] : b;
        }
        ucnv_close(cnv);
        return t;
    }();
    return table;
}

// ---------------------------------------------------------------------------------------------------------------
// Python's html.unescape

const std::unordered_map<std::string, std::string>& html5Table() {
    static const auto table = [] {
        std::unordered_map<std::string, std::string> t;
        t.reserve(detail::kHtml5EntityCount);
        for (std::size_t i = 0; i < detail::kHtml5EntityCount; ++i)
            t.emplace(detail::kHtml5Entities[i].name, detail::kHtml5Entities[i].utf8);
        return t;
    }();
    return table;
}

bool isInvalidHtmlCodePoint(uint32_t n) {  // html._invalid_codepoints
    return (n >= 0x1 && n <= 0x8) || n == 0xB || (n >= 0xE && n <= 0x1F) || (n >= 0x7F && n <= 0x9F) ||
           (n >= 0xFDD0 && n <= 0xFDEF) || (n & 0xFFFE) == 0xFFFE;
}

// One numeric reference as html._replace_charref does it. `digits` are ASCII digits of the given base.
UnicodeString numericCharref(const UnicodeString& digits, int base) {
    uint32_t num = 0;
    for (int32_t i = 0; i < digits.length(); ++i) {
        const UChar ch = digits.charAt(i);
        const uint32_t d = ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
        num = num * uint32_t(base) + d;
        if (num > 0x10FFFF) {  // saturate: Python's big integer is > 0x10FFFF from here on too
            num = 0x110000;
            break;
        }
    }
    if (num == 0) return UnicodeString(UChar32(0xFFFD));
    if (num == 0x0D) return UnicodeString(UChar32(0x0D));
    if (num >= 0x80 && num <= 0x9F)  // html._invalid_charrefs: these numbers are read as Windows-1252 bytes
        return UnicodeString(sloppyCp1252High()[num - 0x80]);
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return UnicodeString(UChar32(0xFFFD));
    if (isInvalidHtmlCodePoint(num)) return UnicodeString();
    return UnicodeString(UChar32(num));
}

// `ref` is the group after '&': "#123;", "#x1F;", "amp;", "notit;" ...
UnicodeString replaceCharref(const UnicodeString& ref) {
    if (ref.charAt(0) == '#') {
        const bool hex = ref.charAt(1) == 'x' || ref.charAt(1) == 'X';
        int32_t end = ref.length();
        if (ref.charAt(end - 1) == ';') --end;
        const int32_t begin = hex ? 2 : 1;
        return numericCharref(ref.tempSubStringBetween(begin, end), hex ? 16 : 10);
    }
    const auto& table = html5Table();
    const std::string name = toUtf8(ref);
    if (auto it = table.find(name); it != table.end()) return fromUtf8(it->second);
    // The longest prefix (at least 2 code points, shorter than the whole) that is a name, as the standard says.
    const int32_t n = ref.countChar32();
    for (int32_t x = n - 1; x > 1; --x) {
        const int32_t cut = ref.moveIndex32(0, x);
        if (auto it = table.find(toUtf8(ref.tempSubStringBetween(0, cut))); it != table.end())
            return fromUtf8(it->second) + ref.tempSubStringBetween(cut);
    }
    return UnicodeString(u'&') + ref;
}

UnicodeString htmlUnescapeU(const UnicodeString& s) {
    if (s.indexOf(u'&') < 0) return s;
    static const auto pattern = compilePattern("&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\\t\\n\\f <&#;]{1,32};?)");
    return substitute(*pattern, s, [](const UnicodeString&, icu::RegexMatcher& m) {
        UErrorCode status = U_ZERO_ERROR;
        UnicodeString group = m.group(1, status);
        checkIcu(status, "regex group");
        return replaceCharref(group);
    });
}

// ---------------------------------------------------------------------------------------------------------------
// Case mapping, normalisation

UnicodeString lowerU(UnicodeString s) { return s.toLower(icu::Locale::getRoot()); }
UnicodeString upperU(UnicodeString s) { return s.toUpper(icu::Locale::getRoot()); }

const icu::Normalizer2& nfcNormalizer() {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
    checkIcu(status, "NFC normalizer");
    return *n;
}

UnicodeString nfcU(const UnicodeString& s) {
    UErrorCode status = U_ZERO_ERROR;
    const auto& n = nfcNormalizer();
    if (n.isNormalized(s, status) && U_SUCCESS(status)) return s;
    status = U_ZERO_ERROR;
    UnicodeString out = n.normalize(s, status);
    checkIcu(status, "NFC");
    return out;
}

UnicodeString stripU(const UnicodeString& s) {
    const auto& ws = pyIsSpace();
    int32_t b = 0, e = s.length();
    while (b < e && ws.contains(s.charAt(b))) ++b;  // all white space is in the BMP
    while (e > b && ws.contains(s.charAt(e - 1))) --e;
    return UnicodeString(s, b, e - b);  // a copy: `s` may be a temporary
}

// ---------------------------------------------------------------------------------------------------------------
// ftfy 6.3.1

// ftfy's HTML_ENTITIES: "&name;" of every HTML5 name ending in ';', plus "&NAME;" → char.upper() for lower-case
// names whose upper-case form html.unescape leaves alone.
const std::unordered_map<std::string, std::string>& ftfyEntities() {
    static const auto table = [] {
        std::unordered_map<std::string, std::string> t;
        for (std::size_t i = 0; i < detail::kHtml5EntityCount; ++i) {
            const std::string name = detail::kHtml5Entities[i].name;
            if (name.empty() || name.back() != ';') continue;
            const std::string value = detail::kHtml5Entities[i].utf8;
            t["&" + name] = value;
            bool lower = true;  // names are ASCII
            std::string upper = name;
            for (char& c : upper) {
                if (c >= 'A' && c <= 'Z') lower = false;
                if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
            }
            if (!lower) continue;
            const UnicodeString entityUpper = UnicodeString::fromUTF8("&" + upper);
            if (htmlUnescapeU(entityUpper) == entityUpper) t["&" + upper] = toUtf8(upperU(fromUtf8(value)));
        }
        return t;
    }();
    return table;
}

UnicodeString ftfyUnescapeHtml(const UnicodeString& s) {
    if (s.indexOf(u'&') < 0) return s;
    static const auto pattern = compilePattern("&#?[0-9A-Za-z]{1,24};");
    return substitute(*pattern, s, [](const UnicodeString& match, icu::RegexMatcher&) -> UnicodeString {
        const auto& table = ftfyEntities();
        if (auto it = table.find(toUtf8(match)); it != table.end()) return fromUtf8(it->second);
        if (match.startsWith(UnicodeString(u"&#"))) {
            UnicodeString unescaped = htmlUnescapeU(match);
            return unescaped.indexOf(u';') >= 0 ? match : unescaped;  // only a reference that consumed its ';'
        }
        return match;
    });
}

bool isAscii(const UnicodeString& s) {
    for (int32_t i = 0; i < s.length(); ++i)
        if (s.charAt(i) >= 0x80) return false;
    return true;
}

// Decodes `bytes` as strict UTF-8 (no surrogates, no overlong forms), or returns false.
bool decodeStrictUtf8(const std::string& bytes, UnicodeString& out) {
    out.remove();
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    const int32_t n = int32_t(bytes.size());
    for (int32_t i = 0; i < n;) {
        UChar32 c;
        U8_NEXT(p, i, n, c);
        if (c < 0) return false;
        out.append(c);
    }
    return true;
}

// One step of the limited mojibake repair (see text_clean.h).
UnicodeString fixEncodingOneStep(const UnicodeString& s) {
    if (s.isEmpty() || isAscii(s)) return s;
    const auto& high = sloppyCp1252High();
    for (int encoding = 0; encoding < 2; ++encoding) {  // ftfy's order: latin-1, then sloppy-windows-1252
        std::string bytes;
        bool ok = true;
        for (int32_t i = 0; i < s.length() && ok;) {
            const UChar32 c = s.char32At(i);
            i += U16_LENGTH(c);
            if (c < 0x80 || (c >= 0xA0 && c < 0x100) || (encoding == 0 && c < 0x100)) {
                bytes.push_back(char(c));
                continue;
            }
            ok = false;
            if (encoding == 1)
                for (int k = 0; k < 32; ++k)
                    if (high[std::size_t(k)] == c) {
                        bytes.push_back(char(0x80 + k));
                        ok = true;
                        break;
                    }
        }
        UnicodeString decoded;
        if (ok && decodeStrictUtf8(bytes, decoded)) return decoded;
    }
    return s;
}

UnicodeString ftfyFixEncoding(UnicodeString s) {
    for (;;) {
        UnicodeString fixed = fixEncodingOneStep(s);
        if (fixed == s) return s;
        s = fixed;
    }
}

UnicodeString ftfyFixC1Controls(const UnicodeString& s) {
    const auto& high = sloppyCp1252High();
    return mapCodePoints(s, [&](UChar32 c, UnicodeString& out) {
        out.append(c >= 0x80 && c <= 0x9F ? high[std::size_t(c - 0x80)] : c);
    });
}

UnicodeString ftfyFixLatinLigatures(const UnicodeString& s) {
    // ftfy's LIGATURES (not NFKC: ﬅ becomes ſt, not st).
    return mapCodePoints(s, [](UChar32 c, UnicodeString& out) {
        switch (c) {
        case 0x0132: out.append(u"IJ"); break;
        case 0x0133: out.append(u"ij"); break;
        case 0x0149: out.append(u"\u02BCn"); break;
        case 0x01F1: out.append(u"DZ"); break;
        case 0x01F2: out.append(u"Dz"); break;
        case 0x01F3: out.append(u"dz"); break;
        case 0x01C4: out.append(u"D\u017D"); break;
        case 0x01C5: out.append(u"D\u017E"); break;
        case 0x01C6: out.append(u"d\u017E"); break;
        case 0x01C7: out.append(u"LJ"); break;
        case 0x01C8: out.append(u"Lj"); break;
        case 0x01C9: out.append(u"lj"); break;
        case 0x01CA: out.append(u"NJ"); break;
        case 0x01CB: out.append(u"Nj"); break;
        case 0x01CC: out.append(u"nj"); break;
        case 0xFB00: out.append(u"ff"); break;
        case 0xFB01: out.append(u"fi"); break;
        case 0xFB02: out.append(u"fl"); break;
        case 0xFB03: out.append(u"ffi"); break;
        case 0xFB04: out.append(u"ffl"); break;
        case 0xFB05: out.append(u"\u017Ft"); break;
        case 0xFB06: out.append(u"st"); break;
        default: out.append(c);
        }
    });
}

UnicodeString ftfyFixCharacterWidth(const UnicodeString& s) {
    // ftfy's WIDTH_MAP: U+3000 → ' ', and each of U+FF01..U+FFEF that NFKC changes → its NFKC form.
    static const auto widthMap = [] {
        std::unordered_map<UChar32, UnicodeString> m;
        m[0x3000] = UnicodeString(u' ');
        UErrorCode status = U_ZERO_ERROR;
        const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(status);
        checkIcu(status, "NFKC normalizer");
        for (UChar32 c = 0xFF01; c < 0xFFF0; ++c) {
            const UnicodeString ch(c);
            UnicodeString alt = nfkc->normalize(ch, status);
            checkIcu(status, "NFKC");
            if (alt != ch) m[c] = alt;
        }
        return m;
    }();
    return mapCodePoints(s, [&](UChar32 c, UnicodeString& out) {
        if (c == 0x3000 || (c >= 0xFF01 && c < 0xFFF0)) {
            if (auto it = widthMap.find(c); it != widthMap.end()) {
                out.append(it->second);
                return;
            }
        }
        out.append(c);
    });
}

UnicodeString ftfyUncurlQuotes(const UnicodeString& s) {
    return mapCodePoints(s, [](UChar32 c, UnicodeString& out) {
        if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B))
            out.append(u'\'');
        else if (c >= 0x201C && c <= 0x201F)
            out.append(u'"');
        else
            out.append(c);
    });
}

UnicodeString ftfyFixLineBreaks(const UnicodeString& s) {
    UnicodeString out;
    for (int32_t i = 0; i < s.length(); ++i) {
        const UChar c = s.charAt(i);
        if (c == u'\r') {
            if (i + 1 < s.length() && s.charAt(i + 1) == u'\n') ++i;
            out.append(u'\n');
        } else if (c == 0x2028 || c == 0x2029 || c == 0x0085) {
            out.append(u'\n');
        } else {
            out.append(c);
        }
    }
    return out;
}

UnicodeString ftfyRemoveTerminalEscapes(const UnicodeString& s) {
    if (s.indexOf(UChar(0x1B)) < 0) return s;
    // ftfy: "\033\[((?:\d|;)*)([a-zA-Z])", Python's \d being any decimal digit (\p{Nd}), as ICU's.
    static const auto pattern = compilePattern("\\x{1B}\\[(?:\\d|;)*[a-zA-Z]");
    return substitute(*pattern, s, [](const UnicodeString&, icu::RegexMatcher&) { return UnicodeString(); });
}

UnicodeString ftfyRemoveControlChars(const UnicodeString& s) {
    return mapCodePoints(s, [](UChar32 c, UnicodeString& out) {
        const bool control = (c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
                             (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
        if (!control) out.append(c);
    });
}

// ftfy.fix_and_explain on one segment.
UnicodeString ftfyFixSegment(UnicodeString text, bool unescapeHtml) {
    if (text.indexOf(u'<') >= 0) unescapeHtml = false;
    for (int round = 0; round < 1000; ++round) {  // ftfy loops until nothing changes; the bound is only a guard
        const UnicodeString original = text;
        if (unescapeHtml) text = ftfyUnescapeHtml(text);
        text = ftfyFixEncoding(text);
        text = ftfyFixC1Controls(text);
        text = ftfyFixLatinLigatures(text);
        text = ftfyFixCharacterWidth(text);
        text = ftfyUncurlQuotes(text);
        text = ftfyFixLineBreaks(text);
        text = ftfyRemoveTerminalEscapes(text);
        text = ftfyRemoveControlChars(text);
        text = nfcU(text);
        if (text == original) break;
    }
    return text;
}

// Text that every ftfy step leaves alone: printable ASCII, tab and newline, no '&'.
bool ftfyIdentity(const std::string& s) {
    for (unsigned char c : s)
        if (!((c >= 0x20 && c < 0x7F && c != '&') || c == '\t' || c == '\n')) return false;
    return true;
}

UnicodeString ftfyFixTextU(const UnicodeString& text) {
    constexpr int32_t kMaxDecodeLength = 1000000;  // code points, ftfy's default max_decode_length
    UnicodeString out;
    bool unescapeHtml = true;  // "auto": off for this and every later segment once a segment holds '<'
    int32_t pos = 0;
    while (pos < text.length()) {
        const int32_t nl = text.indexOf(u'\n', pos);
        int32_t brk = nl < 0 ? text.length() : nl + 1;
        if (text.countChar32(pos, brk - pos) > kMaxDecodeLength) brk = text.moveIndex32(pos, kMaxDecodeLength);
        const UnicodeString segment = text.tempSubStringBetween(pos, brk);
        if (segment.indexOf(u'<') >= 0) unescapeHtml = false;
        out.append(ftfyFixSegment(segment, unescapeHtml));
        pos = brk;
    }
    return out;
}

UnicodeString whitespaceCleanU(const UnicodeString& s) {
    const auto& ws = regexWhiteSpace();
    UnicodeString out;
    bool inRun = false;
    for (int32_t i = 0; i < s.length(); ++i) {
        const UChar c = s.charAt(i);
        if (ws.contains(c)) {  // all white space is in the BMP
            if (!inRun) out.append(u' ');
            inRun = true;
        } else {
            out.append(c);
            inRun = false;
        }
    }
    return stripU(out);
}

std::string ftfyFixTextUtf8(const std::string& utf8) {
    if (ftfyIdentity(utf8)) return utf8;
    return toUtf8(ftfyFixTextU(fromUtf8(utf8)));
}

UnicodeString basicCleanU(const std::string& utf8) {
    const UnicodeString fixed = ftfyIdentity(utf8) ? fromUtf8(utf8) : ftfyFixTextU(fromUtf8(utf8));
    return stripU(htmlUnescapeU(htmlUnescapeU(fixed)));
}

}  // namespace

std::string htmlUnescape(const std::string& utf8) {
    if (utf8.find('&') == std::string::npos) return utf8;
    return toUtf8(htmlUnescapeU(fromUtf8(utf8)));
}

std::string pyStrip(const std::string& utf8) { return toUtf8(stripU(fromUtf8(utf8))); }
std::string unicodeLower(const std::string& utf8) { return toUtf8(lowerU(fromUtf8(utf8))); }
std::string nfc(const std::string& utf8) { return toUtf8(nfcU(fromUtf8(utf8))); }
std::string ftfyFixText(const std::string& utf8) { return ftfyFixTextUtf8(utf8); }

namespace ftfy {
std::string unescapeHtml(const std::string& utf8) { return toUtf8(ftfyUnescapeHtml(fromUtf8(utf8))); }
std::string fixEncoding(const std::string& utf8) { return toUtf8(ftfyFixEncoding(fromUtf8(utf8))); }
std::string fixC1Controls(const std::string& utf8) { return toUtf8(ftfyFixC1Controls(fromUtf8(utf8))); }
std::string fixLatinLigatures(const std::string& utf8) { return toUtf8(ftfyFixLatinLigatures(fromUtf8(utf8))); }
std::string fixCharacterWidth(const std::string& utf8) { return toUtf8(ftfyFixCharacterWidth(fromUtf8(utf8))); }
std::string uncurlQuotes(const std::string& utf8) { return toUtf8(ftfyUncurlQuotes(fromUtf8(utf8))); }
std::string fixLineBreaks(const std::string& utf8) { return toUtf8(ftfyFixLineBreaks(fromUtf8(utf8))); }
std::string removeTerminalEscapes(const std::string& utf8) {
    return toUtf8(ftfyRemoveTerminalEscapes(fromUtf8(utf8)));
}
std::string removeControlChars(const std::string& utf8) { return toUtf8(ftfyRemoveControlChars(fromUtf8(utf8))); }
}  // namespace ftfy

std::string basicClean(const std::string& utf8) { return toUtf8(basicCleanU(utf8)); }
std::string whitespaceClean(const std::string& utf8) { return toUtf8(whitespaceCleanU(fromUtf8(utf8))); }
std::string clipCleanText(const std::string& utf8) { return toUtf8(lowerU(whitespaceCleanU(basicCleanU(utf8)))); }

}  // namespace caspl
