#pragma once
// The path a save dialog's answer names.
#include <QString>

class QWidget;

namespace caspl::ui {

// A file name typed in a save dialog without an extension gets `suffix` ("results" -> "results.csv"). The dialog asked
// about replacing the name as typed, not the one that is written: when the file with the suffix exists, this asks
// before it is replaced. Returns "" when `chosen` is "" or the user keeps the existing file.
QString savePathWithSuffix(QWidget* parent, const QString& chosen, const QString& suffix);

}  // namespace caspl::ui
