#pragma once
// Small text helpers shared by the studio's tables and dialogs.
#include "core/util/number_text.h"

#include <QChar>
#include <QFileInfo>
#include <QString>

#include <algorithm>
#include <clocale>
#include <cmath>

namespace caspl::ui {

// A figure with `decimals` digits after the point, rounded as results.csv, `caspl status`, the paper tables, printf and
// Python round it (ties to even: 12.125 -> "12.12"; QString::number would say "12.13"), always with a point.
inline QString fixedNumber(double v, int decimals = 2) { return QString::fromStdString(caspl::fixedText(v, decimals)); }

// "+1.23" / "−1.23" (a real minus sign, U+2212): a difference, two decimals unless told.
inline QString signedNumber(double v, int decimals = 2) {
    return (v < 0 ? QString(QChar(0x2212)) : QStringLiteral("+")) + fixedNumber(std::abs(v), decimals);
}

// Qt sets the C library's locale from the environment when the application object is made. In a locale with decimal
// commas (de_DE, fr_FR, ...) that would make the engine's printf/strtod write "70,00" into CSV files and event logs
// and read "0.002" as 0: the numeric category goes back to "C" (the user's language, collation and Qt's own QLocale
// formatting stay). Called right after the QApplication is made.
inline void keepCNumericLocale() { std::setlocale(LC_NUMERIC, "C"); }

// A duration as the runs table shows it: "42 s", "12:05" (minutes), "3:02:05" (hours past 24 too); whole seconds.
inline QString durationText(double seconds) {
    const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
    if (s < 60) return QStringLiteral("%1 s").arg(s);
    const QString ms = QStringLiteral("%1:%2").arg(s / 60 % 60, s >= 3600 ? 2 : 1, 10, QChar('0')).arg(s % 60, 2, 10, QChar('0'));
    return s < 3600 ? ms : QStringLiteral("%1:").arg(s / 3600) + ms;
}

// A run folder as the studio names it: its last path component.
inline QString folderName(const QString& dir) { return QFileInfo(dir).fileName(); }

}  // namespace caspl::ui
