// Runs the real `caspl` executable as a user would.
#include "test_support.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

namespace {
struct Result {
    int exitCode;
    QString out;
    QString err;
};
Result runCaspl(const QStringList& args, const QByteArray& input = {}) {
    QProcess p;
    p.start(QStringLiteral(CASPL_EXE), args);
    p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(120000)) return {-1, {}, "timeout"};
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}
}  // namespace

class CliTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void versionPrintsVersionAndRuntime() {
        const auto r = runCaspl({"--version"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.startsWith("caspl " CASPL_TEST_VERSION), qPrintable(r.out));
        QVERIFY2(r.out.contains("LibTorch"), qPrintable(r.out));
    }

    void helpListsCommands() {
        const auto r = runCaspl({"--help"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("version"), qPrintable(r.out));
        QVERIFY2(r.out.contains("Exit codes"), qPrintable(r.out));
    }

    void unknownCommandIsUsageError() {
        const auto r = runCaspl({"no-such-command"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(!r.err.isEmpty());
    }

    void benchPrintsJsonLines() {
        const auto r = runCaspl({"bench", "--only", "encode_image", "--warmup", "0", "--iterations", "1"});
        QCOMPARE(r.exitCode, 0);
        const auto lines = r.out.trimmed().split('\n');
        QVERIFY2(!lines.isEmpty(), qPrintable(r.err));
        const auto doc = QJsonDocument::fromJson(lines.first().toUtf8());
        QVERIFY2(doc.isObject(), qPrintable(lines.first()));
        const auto o = doc.object();
        for (const char* key : {"figure", "value", "unit", "batch", "device", "dtype", "libtorch"}) QVERIFY2(o.contains(key), key);
        QVERIFY(o["value"].toDouble() > 0);
    }

    void missingCommandIsUsageError() {
        const auto r = runCaspl({});
        QCOMPARE(r.exitCode, 2);
    }
};

CASPL_REGISTER_TEST(CliTest);
#include "test_cli.moc"
