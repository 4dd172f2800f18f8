#pragma once
// Text cleaning of OpenAI CLIP's tokenizer (simple_tokenizer.py), step by step, on UTF-8 strings:
//
//   clipCleanText(t) = unicodeLower(whitespaceClean(basicClean(t)))
//   basicClean(t)    = pyStrip(htmlUnescape(htmlUnescape(ftfyFixText(t))))
//   whitespaceClean  = every run of Unicode white space (Python `regex` \s, i.e. the White_Space property: also
//                      NBSP, U+1680, U+2000..U+200A, U+2028/9, U+202F, U+205F, U+3000, U+0085) → one ' ', then strip
//
// Everything Unicode comes from ICU 72 (Unicode 15.0: the Unicode version of the reference's `regex` module;
// Python 3.11's str.lower/unicodedata use 14.0, which differs only for characters new in 15.0).
//
// htmlUnescape is Python's html.unescape exactly: numeric references (&#65; &#x41;, with or without ';', with the
// HTML5 replacement rules: C1 numbers as Windows-1252, 0 / surrogates / > U+10FFFF → U+FFFD, non-characters and
// most controls → nothing) and all 2,231 HTML5 named references of html.entities.html5 (the full WHATWG table,
// including the longest-prefix rule for legacy names without ';', e.g. "&notit;" → "¬it;").
//
// ftfyFixText reproduces ftfy 6.3.1's fix_text() with its default configuration: the text is cut into lines,
// and each line is fixed by this sequence, repeated until nothing changes:
//   unescape_html  (ftfy's own table: HTML5 names ending in ';' plus upper-case variants such as &EACUTE;
//                   → É; numeric references; skipped for this and all later lines once a line contains '<')
//   fix_encoding   (mojibake; only the simplest case, see below)
//   fix_c1_controls (U+0080..U+009F → their Windows-1252 characters), fix_latin_ligatures (ﬁ → fi, Ǳ → DZ,
//   ŉ → ʼn, ...), fix_character_width (full-/half-width forms → NFKC, U+3000 → space), uncurl_quotes
//   (U+02BC, U+2018..U+201B → ', U+201C..U+201F → "), fix_line_breaks (CRLF, CR, U+2028, U+2029, U+0085 → LF),
//   remove_terminal_escapes (ESC [ digits/; letter), remove_control_chars (U+0000..U+0008, U+000B,
//   U+000E..U+001F, U+007F, U+206A..U+206F, U+FEFF, U+FFF9..U+FFFC), NFC normalisation.
//
// NOT reproduced from ftfy 6.3.1 (text that needs these gets different ids than the reference):
//   - mojibake detection: ftfy's "badness" heuristic (is_bad) is not ported. A line is re-decoded only when ALL of
//     it, encoded as Latin-1 or as (sloppy) Windows-1252, is valid UTF-8 with at least one multi-byte sequence
//     (e.g. "â€œquoteâ€\x9d" → "“quote”"). Not done: the other single-byte encodings (Windows-1250/1251/1253/
//     1254/1257, ISO-8859-2, MacRoman, CP437), mojibake mixed with correct text in one line
//     (decode_inconsistent_utf8), restore_byte_a0 (a space standing for byte A0), replace_lossy_sequences
//     (U+FFFD / '?' inside mojibake) and the "utf-8-variants" decoder (CESU-8, Java's C0 80). Without is_bad, a
//     line that ftfy judges correct but that happens to re-decode as UTF-8 this way is changed where ftfy would
//     leave it (such lines look like mojibake: every non-ASCII character is part of a sequence like "Ã©").
//   - fix_surrogates: not needed, input is UTF-8 (invalid UTF-8 becomes U+FFFD on input).
#include <string>

namespace caspl {

// Python's html.unescape.
std::string htmlUnescape(const std::string& utf8);

// Python's str.strip() (white space as str.isspace: White_Space plus U+001C..U+001F).
std::string pyStrip(const std::string& utf8);

// Python's str.lower(): full Unicode lowercasing (İ → i + U+0307, final sigma), ICU root locale.
std::string unicodeLower(const std::string& utf8);

// Unicode NFC normalisation.
std::string nfc(const std::string& utf8);

// ftfy 6.3.1 fix_text() with its default configuration, minus what the comment above lists.
std::string ftfyFixText(const std::string& utf8);

// The individual ftfy repairs (each one pass of the corresponding ftfy function).
namespace ftfy {
std::string unescapeHtml(const std::string& utf8);
std::string fixEncoding(const std::string& utf8);  // the limited mojibake repair described above
std::string fixC1Controls(const std::string& utf8);
std::string fixLatinLigatures(const std::string& utf8);
std::string fixCharacterWidth(const std::string& utf8);
std::string uncurlQuotes(const std::string& utf8);
std::string fixLineBreaks(const std::string& utf8);
std::string removeTerminalEscapes(const std::string& utf8);
std::string removeControlChars(const std::string& utf8);
}  // namespace ftfy

// CLIP's basic_clean: ftfy, html.unescape twice, strip.
std::string basicClean(const std::string& utf8);

// CLIP's whitespace_clean: runs of white space → one space, strip.
std::string whitespaceClean(const std::string& utf8);

// All of CLIP's cleaning, as the tokenizer applies it before pre-tokenising: lower(whitespace_clean(basic_clean)).
std::string clipCleanText(const std::string& utf8);

}  // namespace caspl
