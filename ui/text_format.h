#pragma once
// Small text helpers shared by the studio's tables and dialogs.
#include "core/util/number_text.h"

#include <QChar>
#include <QFileInfo>
#include <QString>

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

// A run folder as the studio names it: its last path component.
inline QString folderName(const QString& dir) { return QFileInfo(dir).fileName(); }

}  // namespace caspl::ui
