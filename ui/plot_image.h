#pragma once
// Saving QCustomPlot plots as one image, for the plot panel and the confusion matrix: the plots stacked top to
// bottom, PNG/JPEG (and whatever Qt's image writers know) at twice the size, or PDF as vector graphics, by the
// file's suffix; written atomically (QSaveFile), so a failed save never replaces a good file.
//
// qcustomplot.h stays out of this header (it uses Qt's `signals:` keyword; the tests build with QT_NO_KEYWORDS).
#include <QString>

#include <vector>

class QCustomPlot;

namespace caspl::ui {

struct PlotImagePart {
    QCustomPlot* plot = nullptr;
    int height = 0;  // pixels (points in a PDF)
};

// Returns "" or the problem (an unknown image type, a file that cannot be written or encoded).
QString savePlotImage(const QString& path, const std::vector<PlotImagePart>& parts, int width);

}  // namespace caspl::ui
