#include "ui/plot_image.h"

#include <qcustomplot.h>

#include <QCoreApplication>
#include <QFileInfo>
#include <QImage>
#include <QImageWriter>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>

namespace caspl::ui {

namespace {
QString tr(const char* text) { return QCoreApplication::translate("PlotImage", text); }
}  // namespace

QString savePlotImage(const QString& path, const std::vector<PlotImagePart>& parts, int width) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    const bool pdf = suffix == QLatin1String("pdf");
    if (!pdf && !QImageWriter::supportedImageFormats().contains(suffix.toLatin1()))
        return tr("%1: unknown image type '%2' (use .png, .jpg or .pdf)").arg(path, suffix);
    int total = 0;
    for (const auto& p : parts) total += p.height;
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) return tr("%1: cannot write (%2)").arg(path, file.errorString());
    if (pdf) {
        QPdfWriter writer(&file);
        writer.setResolution(72);  // one point per pixel
        writer.setPageSize(QPageSize(QSizeF(width, total), QPageSize::Point));
        writer.setPageMargins(QMarginsF(0, 0, 0, 0));
        writer.setCreator(QStringLiteral("CasPL Studio"));
        QCPPainter painter(&writer);
        int y = 0;
        for (const auto& p : parts) {
            painter.save();
            painter.translate(0, y);
            p.plot->toPainter(&painter, width, p.height);
            painter.restore();
            y += p.height;
        }
        painter.end();
    } else {
        const double scale = 2.0;
        QImage image(int(width * scale), int(total * scale), QImage::Format_ARGB32);
        image.fill(Qt::white);
        QPainter painter(&image);
        int y = 0;
        for (const auto& p : parts) {
            painter.drawPixmap(0, int(y * scale), p.plot->toPixmap(width, p.height, scale));
            y += p.height;
        }
        painter.end();
        if (!image.save(&file, suffix.toLatin1().constData())) {
            file.cancelWriting();
            return tr("%1: the image could not be encoded").arg(path);
        }
    }
    if (!file.commit()) return tr("%1: cannot write (%2)").arg(path, file.errorString());
    return {};
}

}  // namespace caspl::ui
