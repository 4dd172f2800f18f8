#pragma once
// Data the tests make for themselves: result records and run results (result.json), and a locale with decimal
// commas built from the system's locale sources.
#include "core/experiment/results.h"

#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QString>

#include <cstdint>
#include <string>

namespace caspl::test {

// One evaluation's record: `correct` of `total` images (accuracy from them).
inline caspl::ResultRecord resultRecord(const std::string& dataset, const std::string& method, int shots, int seed,
                                        const std::string& split, int64_t correct, int64_t total = 100) {
    caspl::ResultRecord r;
    r.dataset = dataset;
    r.method = method;
    r.shots = shots;
    r.seed = seed;
    r.split = split;
    r.correct = correct;
    r.total = total;
    r.accuracy = caspl::accuracyPercent(correct, total);
    return r;
}

// <runDir>/result.json with one seed's base and novel results (the tiny experiment's dataset, method and K).
inline void writeBaseNovelResult(const QString& runDir, int64_t baseCorrect, int64_t novelCorrect, int64_t total = 100) {
    caspl::ResultFile rf;
    rf.records.push_back(resultRecord("synth", "coop+caspl", 2, 1, "base", baseCorrect, total));
    rf.records.push_back(resultRecord("synth", "coop+caspl", 2, 1, "novel", novelCorrect, total));
    caspl::writeResultJson(QDir(runDir).filePath("result.json").toStdString(), rf);
}

// Builds de_DE.UTF-8 (decimal commas) into `dir` with localedef, for LOCPATH=dir. "" on success, else why not (no
// locale sources on this machine: Debian's `locales` package).
inline QString buildDecimalCommaLocale(const QString& dir) {
    QDir().mkpath(dir);
    QProcess def;
    def.start("localedef", {"-i", "de_DE", "-f", "UTF-8", dir + "/de_DE.UTF-8"});
    if (!def.waitForFinished(60000) || def.exitStatus() != QProcess::NormalExit || !QFileInfo::exists(dir + "/de_DE.UTF-8"))
        return "localedef cannot build de_DE.UTF-8 here (no locale sources): nothing to test against";
    return {};
}

}  // namespace caspl::test
