// CLIP BPE tokenizer and text cleaning: exact ids on the shared golden file (234 strings tokenized by openai/CLIP
// with ftfy 6.3.1), both vocabulary formats, the spec's vectors (§1.8), cleaning steps one by one, and errors that
// name the file, line or key.
#include "core/text/text_clean.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"
#include "test_support.h"

#include <QDir>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <fstream>
#include <sstream>
#include <thread>

using namespace caspl;

namespace {

// Golden lines whose ids depend on ftfy's repairs that must keep matching (all 35 do now; lower it only with a
// reason in text_clean.h's list of what is not reproduced).
constexpr int kFtfyLinesMatchingAtLeast = 35;

struct GoldenLine {
    int line = 0;
    std::string text;
    std::string category;
    std::vector<int64_t> ids;
    int nTokens = 0;
    bool ftfyChanged = false;
};

std::vector<GoldenLine> readGolden(const std::string& path) {
    std::ifstream in(path);
    std::vector<GoldenLine> out;
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        const auto j = nlohmann::json::parse(line);
        GoldenLine g;
        g.line = n;
        g.text = j.at("text").get<std::string>();
        g.category = j.at("category").get<std::string>();
        g.ids = j.at("ids").get<std::vector<int64_t>>();
        g.nTokens = j.at("n_tokens").get<int>();
        g.ftfyChanged = j.at("ftfy_changed").get<bool>();
        out.push_back(std::move(g));
    }
    return out;
}

template <class T>
std::string join(const std::vector<T>& v) {
    std::ostringstream s;
    for (std::size_t i = 0; i < v.size(); ++i) s << (i ? " " : "") << v[i];
    return s.str();
}

std::string describe(const GoldenLine& g, const std::vector<int64_t>& got) {
    return "golden.jsonl line " + std::to_string(g.line) + " (" + g.category + ") " + nlohmann::json(g.text).dump() +
           "\n   got: " + join(got) + "\n  want: " + join(g.ids);
}

using caspl::test::expectError;

std::string tempPath(const QString& name) { return QDir(caspl::test::tempDir()).filePath(name).toStdString(); }

std::string writeText(const QString& name, const std::string& content) {
    const std::string path = tempPath(name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

std::string writeGz(const QString& name, const std::string& content) {
    const std::string path = tempPath(name);
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, content.data(), unsigned(content.size()));
    gzclose(f);
    return path;
}

// A UTF-8 literal as std::string (the sources are UTF-8).
std::string utf8(const char* s) { return std::string(s); }

}  // namespace

class TokenizerTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void goldenLinesNotNeedingFtfyMatchExactly() {
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        CASPL_REQUIRE_FIXTURE(golden, "tokenizer/golden.jsonl");
        const auto tok = ClipTokenizer::load(gz);
        const auto lines = readGolden(golden);
        QCOMPARE(int(lines.size()), 234);
        int checked = 0;
        for (const auto& g : lines) {
            if (g.ftfyChanged) continue;
            const auto got = tok.tokenize(g.text, 77, true);
            QVERIFY2(got == g.ids, describe(g, got).c_str());
            QCOMPARE(int(tok.encode(g.text).size()) + 2, g.nTokens);  // the untruncated length too
            ++checked;
        }
        QCOMPARE(checked, 199);
    }

    void goldenLinesNeedingFtfyMatch() {
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        CASPL_REQUIRE_FIXTURE(golden, "tokenizer/golden.jsonl");
        const auto tok = ClipTokenizer::load(gz);
        int flagged = 0, matching = 0;
        for (const auto& g : readGolden(golden)) {
            if (!g.ftfyChanged) continue;
            ++flagged;
            const auto got = tok.tokenize(g.text, 77, true);
            if (got == g.ids)
                ++matching;
            else
                qInfo("ftfy line differs: %s", describe(g, got).c_str());
        }
        qInfo("golden lines that depend on ftfy: %d of %d match", matching, flagged);
        QCOMPARE(flagged, 35);
        QVERIFY2(matching >= kFtfyLinesMatchingAtLeast, qPrintable(QString("only %1 match").arg(matching)));
    }

    void bothVocabularyFormatsGiveIdenticalIds() {
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        CASPL_REQUIRE_FIXTURE(vocab, "tokenizer/vocab.json");
        CASPL_REQUIRE_FIXTURE(merges, "tokenizer/merges.txt");
        CASPL_REQUIRE_FIXTURE(golden, "tokenizer/golden.jsonl");
        CASPL_REQUIRE_FIXTURE(folder, "tokenizer");
        const auto a = ClipTokenizer::fromOpenAiGz(gz);
        const auto b = ClipTokenizer::fromHuggingFace(vocab, merges);
        for (const auto* t : {&a, &b}) {
            QCOMPARE(t->vocabSize(), 49408);
            QCOMPARE(t->mergeCount(), 48894);
            QCOMPARE(t->sotId(), 49406);
            QCOMPARE(t->eotId(), 49407);
        }
        // The factory accepts the gz, vocab.json, merges.txt and the folder.
        QCOMPARE(ClipTokenizer::load(gz).origin(), gz);
        QCOMPARE(ClipTokenizer::load(vocab).origin(), vocab);
        QCOMPARE(ClipTokenizer::load(merges).origin(), vocab);
        const auto c = ClipTokenizer::load(folder);
        QCOMPARE(c.vocabSize(), 49408);
        for (const auto& g : readGolden(golden)) {
            const auto ids = a.encode(g.text);
            QVERIFY2(ids == b.encode(g.text), ("gz and vocab.json differ on line " + std::to_string(g.line)).c_str());
            QVERIFY2(ids == c.encode(g.text), ("folder load differs on line " + std::to_string(g.line)).c_str());
        }
        // Same vocabulary, id by id.
        std::vector<int> all(49408);
        for (int i = 0; i < 49408; ++i) all[std::size_t(i)] = i;
        QVERIFY(a.tokens(all) == b.tokens(all));
    }

    void specUnitVectors() {
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        const auto tok = ClipTokenizer::load(gz);
        QCOMPARE(tok.encode("a photo of a dog."), (std::vector<int>{320, 1125, 539, 320, 1929, 269}));
        QCOMPARE(tok.tokens(tok.encode("a photo of a dog.")),
                 (std::vector<std::string>{"a</w>", "photo</w>", "of</w>", "a</w>", "dog</w>", ".</w>"}));
        QCOMPARE(tok.encode("X X X X"), (std::vector<int>{343, 343, 343, 343}));
        QCOMPARE(tok.encode("a photo of a Yorkshire Terrier, a type of pet."),
                 (std::vector<int>{320, 1125, 539, 320, 8633, 14455, 267, 320, 3877, 539, 3703, 269}));
        QCOMPARE(tok.encode("Hello World!!"), (std::vector<int>{3306, 1002, 748}));
        QCOMPARE(tok.tokens(tok.encode("Hello World!!")),
                 (std::vector<std::string>{"hello</w>", "world</w>", "!!</w>"}));
        QCOMPARE(tok.encode("a centered satellite photo of Annual Crop Land."),
                 (std::vector<int>{320, 24584, 10316, 1125, 539, 2906, 9955, 973, 269}));
        QCOMPARE(tok.encode("it's 2 dogs' toys"), (std::vector<int>{585, 568, 273, 3255, 262, 7162}));
        QCOMPARE(tok.preTokenize("it's 2 dogs' toys"),
                 (std::vector<std::string>{"it", "'s", "2", "dogs", "'", "toys"}));
        // Digits are one piece each; special tokens survive lowercasing; U+0345 is matched by no alternative of
        // the reference's IGNORECASE regex and dropped.
        QCOMPARE(tok.preTokenize("A300"), (std::vector<std::string>{"a", "3", "0", "0"}));
        QCOMPARE(tok.encode("<|ENDOFTEXT|>"), (std::vector<int>{49407}));
        QCOMPARE(tok.preTokenize(utf8("a\u0345b")), (std::vector<std::string>{"a", "b"}));

        const auto padded = tok.tokenize("a photo of a dog.");
        QCOMPARE(int(padded.size()), 77);
        QCOMPARE(std::vector<int64_t>(padded.begin(), padded.begin() + 9),
                 (std::vector<int64_t>{49406, 320, 1125, 539, 320, 1929, 269, 49407, 0}));
        QCOMPARE(padded.back(), int64_t(0));
        QCOMPARE(tok.tokenize("", 5), (std::vector<int64_t>{49406, 49407, 0, 0, 0}));
        QCOMPARE(tok.decode(tok.encode("a photo of a Dog.")), std::string("a photo of a dog . "));  // as the reference
        expectError([&] { tok.decode(std::vector<int>{5, 49408}); }, {"49408", "not in the vocabulary"});
    }

    void tooLongTextThrowsUnlessTruncated() {
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        const auto tok = ClipTokenizer::load(gz);
        std::string text;
        for (int i = 0; i < 100; ++i) text += "a ";
        expectError([&] { tok.tokenize(text); }, {"102 tokens", "200 characters", "context length 77", "a a a"});
        const auto cut = tok.tokenize(text, 77, true);
        QCOMPARE(int(cut.size()), 77);
        QCOMPARE(cut.front(), int64_t(49406));
        QCOMPARE(cut[75], int64_t(320));
        QCOMPARE(cut.back(), int64_t(49407));
        // 75 ids fit exactly; 76 do not.
        std::string fits;
        for (int i = 0; i < 75; ++i) fits += "a ";
        QCOMPARE(tok.tokenize(fits).back(), int64_t(49407));
        expectError([&] { tok.tokenize(fits + "a"); }, {"78 tokens"});
        expectError([&] { tok.tokenize("a", 0); }, {"context length"});
    }

    void missingVocabularyThrowsNamingThePath() {
        const std::string missing = tempPath("no-such-vocab.txt.gz");
        expectError([&] { ClipTokenizer::load(missing); }, {missing, "not found"});
        expectError([&] { ClipTokenizer::fromOpenAiGz(missing); }, {missing});
        const std::string folder = tempPath("empty-model-folder");
        QVERIFY(QDir().mkpath(QString::fromStdString(folder)));
        expectError([&] { ClipTokenizer::load(folder); },
                    {folder, "vocab.json", "merges.txt", "bpe_simple_vocab_16e6.txt.gz"});
        const std::string lonely = tempPath("lonely/vocab.json");
        QVERIFY(QDir().mkpath(QFileInfo(QString::fromStdString(lonely)).path()));
        writeText("lonely/vocab.json", "{}");
        expectError([&] { ClipTokenizer::load(lonely); }, {lonely, "merges.txt"});
        const std::string other = writeText("vocab.bin", "x");
        expectError([&] { ClipTokenizer::load(other); }, {other, "not a CLIP vocabulary"});
    }

    void malformedVocabularyThrowsNamingTheFile() {
        // Not gzip at all (zlib reads it as plain text): no merges.
        const std::string notGz = writeText("plain.txt.gz", "just some text");
        expectError([&] { ClipTokenizer::load(notGz); }, {notGz, "no merges"});
        // A bad merge line.
        const std::string badLine = writeGz("badline.txt.gz", "header\na b\nthree symbols here\n");
        expectError([&] { ClipTokenizer::load(badLine); }, {badLine, "line 3", "two symbols"});
        // Invalid UTF-8.
        const std::string badUtf8 = writeGz("badutf8.txt.gz", "header\na b\n\xff\xfe c\n");
        expectError([&] { ClipTokenizer::load(badUtf8); }, {badUtf8, "line 3", "UTF-8"});
        // A truncated gzip stream.
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        std::ifstream in(gz, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const std::string truncated = writeText("truncated.txt.gz", bytes.substr(0, bytes.size() / 2));
        expectError([&] { ClipTokenizer::load(truncated); }, {truncated, "gzip"});

        // Hugging Face files.
        QVERIFY(QDir().mkpath(QString::fromStdString(tempPath("hf"))));
        const std::string merges = writeText("hf/merges.txt", "#version: 0.2\na b\n");
        const std::string vocab = writeText("hf/vocab.json", "{\"a\": 0, \"b\": ");
        expectError([&] { ClipTokenizer::load(vocab); }, {vocab, "not valid JSON"});
        writeText("hf/vocab.json", "[1, 2]");
        expectError([&] { ClipTokenizer::load(vocab); }, {vocab, "object"});
        writeText("hf/vocab.json", "{\"a\": 0, \"b\": \"one\"}");
        expectError([&] { ClipTokenizer::load(vocab); }, {vocab, "\"b\"", "integer id"});
        writeText("hf/vocab.json", "{\"a\": 0, \"b\": 1, \"<|startoftext|>\": 2, \"<|endoftext|>\": 3}");
        expectError([&] { ClipTokenizer::load(vocab); }, {merges, "line 2", "\"ab\"", vocab});
        writeText("hf/vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 1, \"<|startoftext|>\": 2, \"<|endoftext|>\": 3}");
        expectError([&] { ClipTokenizer::load(vocab); }, {vocab, "id 1"});
        writeText("hf/vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2, \"<|endoftext|>\": 3}");
        expectError([&] { ClipTokenizer::load(vocab); }, {vocab, "<|startoftext|>"});
        writeText("hf/merges.txt", "#version: 0.2\na\n");
        expectError([&] { ClipTokenizer::load(vocab); }, {merges, "line 2"});
    }

    void inMemoryVocabulary() {
        // Any size; the start/end ids are the vocabulary's.
        const std::unordered_map<std::string, int> vocab{
            {"l", 0},  {"o", 1},      {"w", 2},        {"e", 3},       {"r</w>", 4},           {"w</w>", 5},
            {"lo", 6}, {"low</w>", 7}, {"er</w>", 8},  {"o</w>", 9},   {"<|startoftext|>", 10}, {"<|endoftext|>", 12}};
        const std::vector<ClipTokenizer::Merge> merges{{"l", "o"}, {"lo", "w</w>"}, {"e", "r</w>"}};
        const auto tok = ClipTokenizer::fromVocabAndMerges(vocab, merges, "demo");
        QCOMPARE(tok.sotId(), 10);
        QCOMPARE(tok.eotId(), 12);
        QCOMPARE(tok.vocabSize(), 13);
        QCOMPARE(tok.encode("low LOWER lo"), (std::vector<int>{7, 6, 2, 8, 0, 9}));  // "o</w>" is not "o": no merge
        QCOMPARE(tok.tokenize("low", 4), (std::vector<int64_t>{10, 7, 12, 0}));
        QCOMPARE(tok.decode(std::vector<int>{7, 6, 2, 8}), std::string("low lower "));
        expectError([&] { tok.encode("x"); }, {"demo", "\"x</w>\"", "not in the vocabulary"});
        expectError([&] { ClipTokenizer::fromVocabAndMerges(vocab, {{"w", "e"}}, "demo2"); },
                    {"demo2", "merge #1", "\"we\""});

        // OpenAI's layout from merges alone.
        const auto small = ClipTokenizer::fromMerges({{"l", "o"}, {"lo", "w</w>"}});
        QCOMPARE(small.vocabSize(), 516);
        QCOMPARE(small.sotId(), 514);
        QCOMPARE(small.eotId(), 515);
        QCOMPARE(small.encode("low lo"), (std::vector<int>{513, 75, 256 + 78}));  // 'l' is byte symbol 75, 'o' 78
        QCOMPARE(ClipTokenizer::byteSymbols().size(), std::size_t(256));
        QCOMPARE(ClipTokenizer::byteSymbols()[0], std::string("!"));
        QCOMPARE(ClipTokenizer::byteSymbol(' '), std::string("\xC4\xA0"));  // U+0120
        QCOMPARE(ClipTokenizer::byteSymbol(0), std::string("\xC4\x80"));    // U+0100
    }

    void cleaningSteps() {
        // Python's html.unescape.
        QCOMPARE(htmlUnescape("Tom &amp; Jerry"), std::string("Tom & Jerry"));
        QCOMPARE(htmlUnescape("&notit;"), utf8("\u00ACit;"));
        QCOMPARE(htmlUnescape("&ampx"), std::string("&x"));
        QCOMPARE(htmlUnescape("&lt&gt"), std::string("<>"));
        QCOMPARE(htmlUnescape("&eacute"), utf8("\u00E9"));
        QCOMPARE(htmlUnescape("&EACUTE;"), std::string("&EACUTE;"));
        QCOMPARE(htmlUnescape("&#128;"), utf8("\u20AC"));
        QCOMPARE(htmlUnescape("&#0;"), utf8("\uFFFD"));
        QCOMPARE(htmlUnescape("&#x110000;"), utf8("\uFFFD"));
        QCOMPARE(htmlUnescape("&#1;"), std::string());
        QCOMPARE(htmlUnescape("&#13;"), std::string("\r"));
        QCOMPARE(htmlUnescape("&#12a;"), std::string("\x0c" "a;"));
        QCOMPARE(htmlUnescape("&#x1F600;"), utf8("\U0001F600"));
        QCOMPARE(htmlUnescape("&notanentity;"), utf8("\u00ACanentity;"));  // legacy "&not" without ';'
        QCOMPARE(htmlUnescape("&nosuchname;"), std::string("&nosuchname;"));
        // ftfy: its own entity table (needs ';', knows upper-case names), skipped when the text holds '<'.
        QCOMPARE(ftfy::unescapeHtml("&EACUTE;"), utf8("\u00C9"));
        QCOMPARE(ftfy::unescapeHtml("&SZLIG;"), std::string("SS"));
        QCOMPARE(ftfy::unescapeHtml("&amp"), std::string("&amp"));
        QCOMPARE(ftfy::unescapeHtml("&#x3b;"), std::string("&#x3b;"));
        QCOMPARE(ftfyFixText("&amp;amp;amp; x"), std::string("& x"));
        QCOMPARE(ftfyFixText("<b>&amp;</b>"), std::string("<b>&amp;</b>"));
        QCOMPARE(ftfyFixText("1 &lt; 2"), std::string("1 < 2"));
        QCOMPARE(ftfyFixText("a &lt;\n<b>\n&amp;"), std::string("a <\n<b>\n&amp;"));  // off from the first '<' on
        // The other repairs.
        QCOMPARE(ftfy::fixLatinLigatures(utf8("\uFB05\uFB01\u01F1\u0149")), utf8("\u017Ftfi" "DZ" "\u02BCn"));
        QCOMPARE(ftfy::fixCharacterWidth(utf8("\uFF21\uFF22\u3000\uFF76\uFF9E")), utf8("AB \u30AB\u3099"));
        QCOMPARE(ftfyFixText(utf8("\uFF8A\uFF9F")), utf8("\u30D1"));  // width, then NFC
        QCOMPARE(ftfy::uncurlQuotes(utf8("\u201Cit\u2019s\u201D \u02BC")), std::string("\"it's\" '"));
        QCOMPARE(ftfy::fixLineBreaks(utf8("a\r\nb\rc\u2028d\u2029e\u0085f")), std::string("a\nb\nc\nd\ne\nf"));
        QCOMPARE(ftfy::removeTerminalEscapes("\x1b[31;1mred\x1b[0m"), std::string("red"));
        QCOMPARE(ftfy::removeControlChars(utf8("a\x01\x0b\x1f\x7f\uFEFF\u206A\uFFFCb\t\n\x0c\r")),
                 std::string("ab\t\n\x0c\r"));
        QCOMPARE(ftfy::fixC1Controls(utf8("\u0080\u0081\u0093")), utf8("\u20AC\u0081\u201C"));
        QCOMPARE(ftfy::fixEncoding(utf8("\u00E2\u20AC\u0153quote\u00E2\u20AC\u009D")), utf8("\u201Cquote\u201D"));
        QCOMPARE(ftfy::fixEncoding(utf8("caf\u00E9")), utf8("caf\u00E9"));
        QCOMPARE(ftfyFixText(utf8("cafe\u0301 \x1b[1mbold")), utf8("caf\u00E9 bold"));
        // CLIP's own steps.
        QCOMPARE(whitespaceClean(utf8(" a\u00A0\u3000b\u2003\n\tc\u0085 ")), std::string("a b c"));
        QCOMPARE(pyStrip("\x1c a \x1f"), std::string("a"));
        QCOMPARE(unicodeLower(utf8("\u0130stanbul")), utf8("i\u0307stanbul"));
        QCOMPARE(unicodeLower(utf8("\u039F\u0394\u039F\u03A3 \u039F\u0394\u039F\u03A3.")),
                 utf8("\u03BF\u03B4\u03BF\u03C2 \u03BF\u03B4\u03BF\u03C2."));
        QCOMPARE(clipCleanText(utf8("  &amp;lt; Caf\u00C9\u00A0 &#x1F600;  ")), utf8("< caf\u00E9 \U0001F600"));
    }

    void concurrentEncodingGivesTheSameIds() {
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        CASPL_REQUIRE_FIXTURE(golden, "tokenizer/golden.jsonl");
        const auto lines = readGolden(golden);
        const auto reference = ClipTokenizer::load(gz);
        std::vector<std::vector<int64_t>> expected;
        for (const auto& g : lines) expected.push_back(reference.tokenize(g.text, 77, true));
        const auto tok = ClipTokenizer::load(gz);  // a fresh cache, filled by four threads at once
        std::vector<std::vector<int64_t>> results[4];
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (int rep = 0; rep < 3; ++rep)
                    for (const auto& g : lines) results[t].push_back(tok.tokenize(g.text, 77, true));
            });
        for (auto& th : threads) th.join();
        for (int t = 0; t < 4; ++t) {
            QCOMPARE(int(results[t].size()), 3 * int(lines.size()));
            for (std::size_t i = 0; i < results[t].size(); ++i)
                QVERIFY2(results[t][i] == expected[i % lines.size()],
                         describe(lines[i % lines.size()], results[t][i]).c_str());
        }
    }
};

CASPL_REGISTER_TEST(TokenizerTest);
#include "test_tokenizer.moc"
