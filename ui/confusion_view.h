#pragma once
// A confusion matrix as a heat map (Dassl's TEST.COMPUTE_CMAT, drawn): rows are the true classes, first at the top,
// columns the predicted ones; a cell is the percentage of the true class's images predicted as that class, or the
// number of images. Leaving out the diagonal (the correct predictions) gives the confusions the whole colour range.
// Hovering a cell says "k of the n images of X were predicted as Y"; under the map, the largest confusions in words
// (a map of hundreds of classes cannot carry their names). Up to 20 classes, each cell also carries its number. The map saves as an image; the matrix as CSV.
//
// qcustomplot.h is included only by the .cpp (it uses Qt's `signals:` keyword; the tests build with
// QT_NO_KEYWORDS).
#include "core/experiment/per_class.h"

#include <QWidget>

#include <optional>
#include <vector>

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QCPItemText;
class QLabel;
class QPushButton;

namespace caspl::ui {

class ConfusionView : public QWidget {
    Q_OBJECT
public:
    enum class Cells { Percent, Images };
    explicit ConfusionView(QWidget* parent = nullptr);

    // Shows `m` under `title`; nullopt clears the map and shows `title` as the reason.
    void setMatrix(std::optional<caspl::ConfusionMatrix> m, const QString& title);
    // Shows the change from `a` to `b` (two matrices of the same classes, in the same order): each cell b's share
    // minus a's, in percentage points (or b's images minus a's), blue where b has more, red where it has less.
    // Returns false, showing why, when the classes differ.
    bool setDifference(caspl::ConfusionMatrix a, caspl::ConfusionMatrix b, const QString& title);
    bool isDifference() const { return base_.has_value(); }
    // The matrix shown (b in a difference).
    const std::optional<caspl::ConfusionMatrix>& matrix() const { return matrix_; }
    void setCells(Cells c);
    Cells cells() const;
    void setDiagonalShown(bool shown);
    bool diagonalShown() const;

    // What the map draws at (truth, predicted): NaN where the cell is left out (the diagonal, a class without images).
    double cellValue(int truth, int predicted) const;
    // The cell in words ("" outside the matrix).
    QString cellText(int truth, int predicted) const;
    // The `n` largest confusions (off the diagonal, by share of the true class's images, then images), in words; in
    // a difference, the `n` largest changes of a confusion (by absolute change in points).
    QStringList largestConfusions(int n) const;
    QString title() const;
    QString summaryText() const;
    // The map as PNG/JPG (twice the on-screen size) or PDF; returns "" or the problem. Written atomically.
    QString saveImage(const QString& path);
    // The matrix as CSV (caspl::confusionMatrixCsvText); returns "" or the problem. Written atomically.
    QString exportCsv(const QString& path);

private:
    void redraw();
    QCustomPlot* plot_;
    QCPColorMap* map_;
    QCPColorScale* scale_;
    QLabel* title_;
    QLabel* summary_;
    QComboBox* cellsBox_;
    QCheckBox* diagonal_;
    QPushButton* saveButton_;
    QPushButton* csvButton_;
    std::vector<QCPItemText*> cellTexts_;  // the numbers written in the cells of a small matrix
    std::optional<caspl::ConfusionMatrix> matrix_;
    std::optional<caspl::ConfusionMatrix> base_;  // a in a difference
};

}  // namespace caspl::ui
