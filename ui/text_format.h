#pragma once
// Small text helpers shared by the studio's tables and dialogs.
#include <QChar>
#include <QFileInfo>
#include <QString>

#include <cmath>

namespace caspl::ui {

// "+1.23" / "−1.23" (a real minus sign, U+2212): a difference, two decimals unless told.
inline QString signedNumber(double v, int decimals = 2) {
    return (v < 0 ? QString(QChar(0x2212)) : QStringLiteral("+")) + QString::number(std::abs(v), 'f', decimals);
}

// A run folder as the studio names it: its last path component.
inline QString folderName(const QString& dir) { return QFileInfo(dir).fileName(); }

}  // namespace caspl::ui
