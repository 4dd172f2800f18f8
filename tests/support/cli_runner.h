#pragma once
// Runs the real `caspl` executable (CASPL_EXE, defined for the caspl_tests_cli executable) as a user would.
#include <QByteArray>
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace caspl::test {

struct CliResult {
    int exitCode;  // -1: timed out, -2: crashed
    QString out;
    QString err;
};

inline CliResult runCasplProcess(const QStringList& args, const QByteArray& input = {},
                                 const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment(),
                                 int timeoutMs = 120000) {
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(CASPL_EXE), args);
    if (!input.isEmpty()) p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs)) return {-1, {}, "timeout"};
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

}  // namespace caspl::test
