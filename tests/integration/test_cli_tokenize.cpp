// `caspl tokenize` run as a user would: JSON lines in, the same objects with "ids" out; bad lines and too long
// texts are bad input (exit code 3) with the line number in the message.
#include "cli_runner.h"
#include "test_support.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

namespace {
using Result = caspl::test::CliResult;
Result runCaspl(const QStringList& args, const QByteArray& input = {}) { return caspl::test::runCasplProcess(args, input); }

QList<int> toInts(const QJsonArray& a) {
    QList<int> out;
    for (const auto& v : a) out << v.toInt();
    return out;
}
}  // namespace

class TokenizeCliTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void addsIdsAndKeepsEveryField() {
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        const QByteArray in = "{\"id\": 7, \"text\": \"a photo of a dog.\", \"extra\": [1, \"x\"]}\n"
                              "\n"
                              "{\"text\": \"Caf\xC3\xA9 &amp; cr\xC3\xA8me\"}\n";
        const auto r = runCaspl({"tokenize", "--vocab", QString::fromStdString(gz)}, in);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QStringList lines = r.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 2);
        const QJsonObject first = QJsonDocument::fromJson(lines[0].toUtf8()).object();  // all fields, in order
        QCOMPARE(first.keys().size(), 4);
        QVERIFY(lines[0].startsWith("{\"id\":7,\"text\":\"a photo of a dog.\",\"extra\":[1,\"x\"],\"ids\":["));
        const QList<int> ids = toInts(first.value("ids").toArray());
        QCOMPARE(ids.size(), 77);
        QCOMPARE(ids.mid(0, 9), (QList<int>{49406, 320, 1125, 539, 320, 1929, 269, 49407, 0}));
        const QJsonObject second = QJsonDocument::fromJson(lines[1].toUtf8()).object();
        QCOMPARE(second.value("text").toString(), QString::fromUtf8("Caf\xC3\xA9 &amp; cr\xC3\xA8me"));
        QVERIFY(lines[1].contains(QString::fromUtf8("Caf\xC3\xA9")));
        QCOMPARE(toInts(second.value("ids").toArray()).front(), 49406);
    }

    void matchesTheGoldenFileWithBothVocabularies() {
        CASPL_REQUIRE_FIXTURE(golden, "tokenizer/golden.jsonl");
        CASPL_REQUIRE_FIXTURE(folder, "tokenizer");
        CASPL_REQUIRE_FIXTURE(vocab, "tokenizer/vocab.json");
        QFile f(QString::fromStdString(golden));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray in = f.readAll();
        QList<QJsonObject> want;
        for (const QByteArray& line : in.split('\n'))
            if (!line.trimmed().isEmpty()) want << QJsonDocument::fromJson(line).object();
        for (const QString& v : {QString::fromStdString(folder), QString::fromStdString(vocab)}) {
            const auto r = runCaspl({"tokenize", "--vocab", v, "--truncate"}, in);
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
            const QStringList lines = r.out.split('\n', Qt::SkipEmptyParts);
            QCOMPARE(lines.size(), want.size());
            int same = 0;
            for (int i = 0; i < lines.size(); ++i) {
                const QJsonObject got = QJsonDocument::fromJson(lines[i].toUtf8()).object();
                QCOMPARE(got.value("text").toString(), want[i].value("text").toString());
                QCOMPARE(got.value("category").toString(), want[i].value("category").toString());
                if (got.value("ids") == want[i].value("ids"))
                    ++same;
                else  // only lines whose ids depend on ftfy's repairs may differ
                    QVERIFY2(want[i].value("ftfy_changed").toBool(), qPrintable("line " + QString::number(i + 1)));
            }
            qInfo("caspl tokenize: %d of %d golden lines identical", same, int(lines.size()));
        }
    }

    void contextLengthPadsAndTruncates() {
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        const auto r = runCaspl({"tokenize", "--vocab", QString::fromStdString(gz), "--context-length", "5",
                                 "--truncate"},
                                "{\"text\": \"a b c d e f\"}\n{\"text\": \"a\"}\n");
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QStringList lines = r.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 2);
        QCOMPARE(toInts(QJsonDocument::fromJson(lines[0].toUtf8()).object().value("ids").toArray()),
                 (QList<int>{49406, 320, 321, 322, 49407}));
        QCOMPARE(toInts(QJsonDocument::fromJson(lines[1].toUtf8()).object().value("ids").toArray()),
                 (QList<int>{49406, 320, 49407, 0, 0}));
    }

    void tooLongTextIsBadInputNamingTheLine() {
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        const auto r = runCaspl({"tokenize", "--vocab", QString::fromStdString(gz), "--context-length", "5"},
                                "{\"text\": \"a b c\"}\n{\"text\": \"a b c d e f\"}\n");
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains("line 2") && r.err.contains("context length 5"), qPrintable(r.err));
        QCOMPARE(r.out.split('\n', Qt::SkipEmptyParts).size(), 1);  // the first line was answered
    }

    void badLinesAreBadInputNamingTheLine() {
        CASPL_REQUIRE_FIXTURE(gz, "tokenizer/bpe_simple_vocab_16e6.txt.gz");
        const QString v = QString::fromStdString(gz);
        const auto notJson = runCaspl({"tokenize", "--vocab", v}, "{\"text\": \"ok\"}\n{\"text\": \n");
        QCOMPARE(notJson.exitCode, 3);
        QVERIFY2(notJson.err.contains("line 2") && notJson.err.contains("JSON"), qPrintable(notJson.err));
        const auto noText = runCaspl({"tokenize", "--vocab", v}, "\n\n{\"txt\": \"x\"}\n");
        QCOMPARE(noText.exitCode, 3);
        QVERIFY2(noText.err.contains("line 3") && noText.err.contains("\"text\""), qPrintable(noText.err));
        const auto notString = runCaspl({"tokenize", "--vocab", v}, "{\"text\": 5}\n");
        QCOMPARE(notString.exitCode, 3);
        QVERIFY2(notString.err.contains("line 1"), qPrintable(notString.err));
    }

    void missingVocabularyIsBadInput() {
        const QString missing = caspl::test::tempDir() + "/no-vocab-here.txt.gz";
        const auto r = runCaspl({"tokenize", "--vocab", missing}, "{\"text\": \"x\"}\n");
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains(missing), qPrintable(r.err));
        QCOMPARE(runCaspl({"tokenize"}).exitCode, 2);  // --vocab is required
        QCOMPARE(runCaspl({"tokenize", "--vocab", missing, "--context-length", "0"}).exitCode, 2);
    }
};

CASPL_REGISTER_TEST(TokenizeCliTest);
#include "test_cli_tokenize.moc"
