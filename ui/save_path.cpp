#include "ui/save_path.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QMessageBox>

namespace caspl::ui {

QString savePathWithSuffix(QWidget* parent, const QString& chosen, const QString& suffix) {
    if (chosen.isEmpty() || !QFileInfo(chosen).suffix().isEmpty()) return chosen;
    const QString path = chosen + QLatin1Char('.') + suffix;
    if (!QFileInfo::exists(path)) return path;
    QMessageBox box(QMessageBox::Question, QCoreApplication::translate("SavePath", "Replace the file?"),
                    QCoreApplication::translate("SavePath", "%1 already exists. Replace it?").arg(QDir::toNativeSeparators(path)),
                    QMessageBox::Yes | QMessageBox::No, parent);
    box.setObjectName(QStringLiteral("replaceFileQuestion"));
    box.setDefaultButton(QMessageBox::No);
    return box.exec() == QMessageBox::Yes ? path : QString();
}

}  // namespace caspl::ui
