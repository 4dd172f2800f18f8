#include "ui/confusion_view.h"

#include "core/util/atomic_file.h"
#include "ui/plot_image.h"
#include "ui/text_format.h"
#include "ui/save_path.h"

#include <qcustomplot.h>

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPushButton>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace caspl::ui {

namespace {

constexpr int kNamedTicksUpTo = 50;  // more classes: numbered ticks (the names would overlap)
constexpr int kNameLength = 20;      // tick labels are elided to this many characters
constexpr int kWrittenCellsUpTo = 20;  // up to this many classes, each cell also carries its number

QString elided(const std::string& name) {
    QString s = QString::fromStdString(name);
    return s.size() <= kNameLength ? s : s.left(kNameLength - 1) + QChar(0x2026);
}

QCPColorGradient gradient(const std::vector<std::pair<double, QColor>>& stops) {
    QCPColorGradient g;
    g.clearColorStops();
    for (const auto& [at, color] : stops) g.setColorStopAt(at, color);
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setNanHandling(QCPColorGradient::nhNanColor);
    g.setNanColor(QColor(222, 222, 222));  // cells left out: light grey
    return g;
}

// White to dark blue, like the confusion-matrix plots researchers know (matplotlib's "Blues").
QCPColorGradient blues() {
    return gradient({{0.0, QColor(247, 251, 255)}, {0.35, QColor(158, 202, 225)}, {0.7, QColor(33, 113, 181)}, {1.0, QColor(8, 48, 107)}});
}

// A difference: red where B has less, white for no change, blue where B has more.
QCPColorGradient redWhiteBlue() {
    return gradient({{0.0, QColor(178, 24, 43)}, {0.5, QColor(247, 247, 247)}, {1.0, QColor(33, 102, 172)}});
}

// A change in a cell or a list: "+1.5", "−2", and a plain "0" for no change.
QString signedText(double v, int decimals) { return v == 0 ? QStringLiteral("0") : signedNumber(v, decimals); }

}  // namespace

ConfusionView::ConfusionView(QWidget* parent) : QWidget(parent) {
    setObjectName("confusionView");
    plot_ = new QCustomPlot(this);
    plot_->setObjectName("confusionPlot");
    plot_->setMinimumSize(360, 300);
    plot_->setNoAntialiasingOnDrag(true);
    auto* titleElement = new QCPTextElement(plot_, QString(), QFont(font().family(), font().pointSize(), QFont::Bold));
    titleElement->setObjectName("confusionPlotTitle");
    plot_->plotLayout()->insertRow(0);
    plot_->plotLayout()->addElement(0, 0, titleElement);
    map_ = new QCPColorMap(plot_->xAxis, plot_->yAxis);
    map_->setInterpolate(false);
    map_->setTightBoundary(false);
    scale_ = new QCPColorScale(plot_);
    plot_->plotLayout()->addElement(1, 1, scale_);
    scale_->setType(QCPAxis::atRight);
    map_->setColorScale(scale_);  // the map takes the scale's gradient
    scale_->setGradient(blues());
    auto* margins = new QCPMarginGroup(plot_);
    plot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    plot_->xAxis->setLabel(tr("predicted class"));
    plot_->yAxis->setLabel(tr("true class"));
    plot_->yAxis->setRangeReversed(true);  // the first class at the top, as in a table
    plot_->xAxis->grid()->setVisible(false);
    plot_->yAxis->grid()->setVisible(false);

    title_ = new QLabel(this);
    title_->setObjectName("confusionTitle");
    title_->setWordWrap(true);
    summary_ = new QLabel(this);
    summary_->setObjectName("confusionSummary");
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    cellsBox_ = new QComboBox(this);
    cellsBox_->setObjectName("confusionCells");
    cellsBox_->addItem(tr("% of the true class's images"));
    cellsBox_->addItem(tr("images"));
    diagonal_ = new QCheckBox(tr("Show the diagonal (correct predictions)"), this);
    diagonal_->setObjectName("confusionDiagonal");
    diagonal_->setChecked(true);
    diagonal_->setToolTip(tr("Without it, the colours span the wrong predictions only"));
    saveButton_ = new QPushButton(tr("Save Image…"), this);
    csvButton_ = new QPushButton(tr("Export Matrix CSV…"), this);

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Cells:"), this));
    controls->addWidget(cellsBox_);
    controls->addWidget(diagonal_);
    controls->addStretch(1);
    controls->addWidget(saveButton_);
    controls->addWidget(csvButton_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(controls);
    layout->addWidget(title_);
    layout->addWidget(plot_, 1);
    layout->addWidget(summary_);

    connect(cellsBox_, &QComboBox::currentIndexChanged, this, [this] { redraw(); });
    connect(diagonal_, &QCheckBox::toggled, this, [this] { redraw(); });
    connect(plot_, &QCustomPlot::mouseMove, this, [this](QMouseEvent* e) {
        if (!matrix_) return;
        const double key = plot_->xAxis->pixelToCoord(e->position().x());
        const double value = plot_->yAxis->pixelToCoord(e->position().y());
        const QString text = cellText(int(std::lround(value)), int(std::lround(key)));
        if (text.isEmpty()) QToolTip::hideText();
        else QToolTip::showText(e->globalPosition().toPoint(), text, plot_);
    });
    connect(saveButton_, &QPushButton::clicked, this, [this] {
        const QString path = savePathWithSuffix(this,
                                                QFileDialog::getSaveFileName(this, tr("Save the confusion matrix as an image"),
                                                                             QStringLiteral("confusion_matrix.png"),
                                                                             tr("Images (*.png *.jpg *.pdf)")),
                                                QStringLiteral("png"));
        if (path.isEmpty()) return;
        const QString problem = saveImage(path);
        summary_->setText(problem.isEmpty() ? tr("Wrote %1.").arg(QDir::toNativeSeparators(path)) : problem);
    });
    connect(csvButton_, &QPushButton::clicked, this, [this] {
        QString path = QFileDialog::getSaveFileName(this, tr("Export the confusion matrix"),
                                                    QStringLiteral("confusion_matrix.csv"), tr("CSV files (*.csv)"));
        if (path.isEmpty()) return;
        if (!path.endsWith(QLatin1String(".csv"), Qt::CaseInsensitive)) path += QStringLiteral(".csv");
        const QString problem = exportCsv(path);
        summary_->setText(problem.isEmpty() ? tr("Wrote %1.").arg(QDir::toNativeSeparators(path)) : problem);
    });
    setMatrix(std::nullopt, tr("No evaluation chosen."));
}

bool ConfusionView::setDifference(caspl::ConfusionMatrix a, caspl::ConfusionMatrix b, const QString& title) {
    if (a.names != b.names) {
        setMatrix(std::nullopt, tr("B − A needs the same classes in the same order in both runs (%1 and %2 classes).")
                                    .arg(a.classes())
                                    .arg(b.classes()));
        return false;
    }
    base_ = std::move(a);
    matrix_ = std::move(b);
    title_->setText(title);
    title_->setVisible(false);
    if (auto* t = plot_->findChild<QCPTextElement*>("confusionPlotTitle")) t->setText(title);
    redraw();
    return true;
}

void ConfusionView::setMatrix(std::optional<caspl::ConfusionMatrix> m, const QString& title) {
    base_.reset();
    matrix_ = std::move(m);
    title_->setText(title);
    title_->setVisible(!matrix_);  // with a matrix, the plot's own title says it (and is in the saved image)
    if (auto* t = plot_->findChild<QCPTextElement*>("confusionPlotTitle")) t->setText(matrix_ ? title : QString());
    redraw();
}

void ConfusionView::setCells(Cells c) { cellsBox_->setCurrentIndex(c == Cells::Percent ? 0 : 1); }
ConfusionView::Cells ConfusionView::cells() const { return cellsBox_->currentIndex() == 1 ? Cells::Images : Cells::Percent; }
void ConfusionView::setDiagonalShown(bool shown) { diagonal_->setChecked(shown); }
bool ConfusionView::diagonalShown() const { return diagonal_->isChecked(); }
QString ConfusionView::title() const { return title_->text(); }
QString ConfusionView::summaryText() const { return summary_->text(); }

double ConfusionView::cellValue(int truth, int predicted) const {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (!matrix_ || truth < 0 || predicted < 0 || truth >= matrix_->classes() || predicted >= matrix_->classes()) return nan;
    if (truth == predicted && !diagonalShown()) return nan;
    if (base_) {
        if (cells() == Cells::Images) return double(matrix_->at(truth, predicted) - base_->at(truth, predicted));
        const auto a = base_->percent(truth, predicted), b = matrix_->percent(truth, predicted);
        return a && b ? *b - *a : nan;
    }
    if (cells() == Cells::Images) return double(matrix_->at(truth, predicted));
    return matrix_->percent(truth, predicted).value_or(nan);
}

QString ConfusionView::cellText(int truth, int predicted) const {
    if (!matrix_ || truth < 0 || predicted < 0 || truth >= matrix_->classes() || predicted >= matrix_->classes()) return {};
    const QString t = QString::fromStdString(matrix_->names[std::size_t(truth)]);
    const QString p = QString::fromStdString(matrix_->names[std::size_t(predicted)]);
    const int64_t n = matrix_->images[std::size_t(truth)], k = matrix_->at(truth, predicted);
    if (base_) {
        const auto share = [&](const caspl::ConfusionMatrix& m) {
            const auto pc = m.percent(truth, predicted);
            return pc ? tr("%1 % (%2 of %3)").arg(fixedNumber(*pc, 1)).arg(m.at(truth, predicted)).arg(m.images[std::size_t(truth)])
                      : tr("no image");
        };
        const double v = cellValue(truth, predicted);
        const QString what = truth == predicted ? tr("%1 predicted correctly").arg(t) : tr("%1 predicted as %2").arg(t, p);
        return tr("%1: A %2, B %3%4")
            .arg(what, share(*base_), share(*matrix_),
                 std::isnan(v) ? QString() : QStringLiteral(": ") + (cells() == Cells::Images ? tr("%1 images").arg(signedText(v, 0))
                                                                                              : tr("%1 points").arg(signedText(v, 1))));
    }
    if (n == 0) return tr("No image of %1 was evaluated.").arg(t);
    const QString share = fixedNumber(*matrix_->percent(truth, predicted), 1);
    if (truth == predicted) return tr("%1 of the %2 images of %3 were predicted correctly (%4 %).").arg(k).arg(n).arg(t, share);
    return tr("%1 of the %2 images of %3 were predicted as %4 (%5 %).").arg(k).arg(n).arg(t, p, share);
}

QStringList ConfusionView::largestConfusions(int n) const {
    struct Cell {
        int64_t t, p, k;
        double share;
    };
    std::vector<Cell> cells;
    if (!matrix_) return {};
    if (base_) {  // the largest changes of a confusion, B − A, in points
        for (int64_t t = 0; t < matrix_->classes(); ++t)
            for (int64_t p = 0; p < matrix_->classes(); ++p) {
                const auto a = base_->percent(t, p), b = matrix_->percent(t, p);
                if (p != t && a && b && *a != *b) cells.push_back({t, p, 0, *b - *a});
            }
        std::sort(cells.begin(), cells.end(), [](const Cell& x, const Cell& y) {
            if (std::abs(x.share) != std::abs(y.share)) return std::abs(x.share) > std::abs(y.share);
            return std::make_pair(x.t, x.p) < std::make_pair(y.t, y.p);
        });
        QStringList out;
        for (std::size_t i = 0; i < cells.size() && int(i) < n; ++i)
            out << tr("%1 → %2: %3 points (A %4 %, B %5 %)")
                       .arg(QString::fromStdString(matrix_->names[std::size_t(cells[i].t)]),
                            QString::fromStdString(matrix_->names[std::size_t(cells[i].p)]), signedText(cells[i].share, 1),
                            fixedNumber(*base_->percent(cells[i].t, cells[i].p), 1),
                            fixedNumber(*matrix_->percent(cells[i].t, cells[i].p), 1));
        return out;
    }
    for (int64_t t = 0; t < matrix_->classes(); ++t)
        for (int64_t p = 0; p < matrix_->classes(); ++p)
            if (p != t && matrix_->at(t, p) > 0) cells.push_back({t, p, matrix_->at(t, p), *matrix_->percent(t, p)});
    std::sort(cells.begin(), cells.end(), [](const Cell& a, const Cell& b) {
        if (a.share != b.share) return a.share > b.share;
        if (a.k != b.k) return a.k > b.k;
        return std::make_pair(a.t, a.p) < std::make_pair(b.t, b.p);
    });
    QStringList out;
    for (std::size_t i = 0; i < cells.size() && int(i) < n; ++i) {
        const Cell& c = cells[i];
        out << tr("%1 → %2: %3 of %4 (%5 %)")
                   .arg(QString::fromStdString(matrix_->names[std::size_t(c.t)]),
                        QString::fromStdString(matrix_->names[std::size_t(c.p)]))
                   .arg(c.k)
                   .arg(matrix_->images[std::size_t(c.t)])
                   .arg(fixedNumber(c.share, 1));
    }
    return out;
}

void ConfusionView::redraw() {
    const bool any = matrix_ && matrix_->classes() > 0;
    saveButton_->setEnabled(any);
    csvButton_->setEnabled(any);
    plot_->setVisible(any);
    if (!any) {
        for (QCPItemText* item : cellTexts_) plot_->removeItem(item);
        cellTexts_.clear();
        map_->data()->clear();
        summary_->clear();
        plot_->replot();
        return;
    }
    const int n = int(matrix_->classes());
    map_->data()->setSize(n, n);
    map_->data()->setRange(QCPRange(0, n - 1), QCPRange(0, n - 1));
    double top = 0;
    for (int t = 0; t < n; ++t)
        for (int p = 0; p < n; ++p) {
            const double v = cellValue(t, p);
            map_->data()->setCell(p, t, v);
            if (!std::isnan(v)) top = std::max(top, std::abs(v));
        }
    const bool percent = cells() == Cells::Percent;
    if (base_) {  // symmetric around no change
        scale_->setGradient(redWhiteBlue());
        map_->setDataRange(QCPRange(-std::max(top, 1.0), std::max(top, 1.0)));
        scale_->axis()->setLabel(percent ? tr("B − A, points of the true class's images") : tr("B − A, images"));
    } else {
        // With the diagonal, percentages span 0-100 (maps of two runs compare); without it, up to the largest
        // confusion.
        scale_->setGradient(blues());
        map_->setDataRange(QCPRange(0, percent && diagonalShown() ? 100.0 : std::max(top, 1.0)));
        scale_->axis()->setLabel(percent ? tr("% of the true class's images") : tr("images"));
    }
    plot_->xAxis->setRange(-0.5, n - 0.5);
    plot_->yAxis->setRange(-0.5, n - 0.5);
    for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis}) {
        if (n <= kNamedTicksUpTo) {
            auto ticker = QSharedPointer<QCPAxisTickerText>::create();
            for (int i = 0; i < n; ++i) ticker->addTick(i, elided(matrix_->names[std::size_t(i)]));
            axis->setTicker(ticker);
        } else {
            auto ticker = QSharedPointer<QCPAxisTicker>::create();
            ticker->setTickCount(10);
            axis->setTicker(ticker);
        }
    }
    plot_->xAxis->setTickLabelRotation(n <= kNamedTicksUpTo ? 60 : 0);
    // Small matrices carry their numbers, as researchers' confusion-matrix plots do; dark cells in white.
    for (QCPItemText* item : cellTexts_) plot_->removeItem(item);
    cellTexts_.clear();
    if (n <= kWrittenCellsUpTo) {
        const QCPRange range = map_->dataRange();
        for (int t = 0; t < n; ++t)
            for (int p = 0; p < n; ++p) {
                const double v = cellValue(t, p);
                if (std::isnan(v)) continue;
                auto* item = new QCPItemText(plot_);
                item->position->setCoords(p, t);
                const int decimals = percent && std::abs(v) < 10 && v != 0 ? 1 : 0;
                item->setText(base_ ? signedText(v, decimals) : fixedNumber(v, decimals));
                const double level = range.size() > 0 ? (v - range.lower) / range.size() : 0;
                const bool dark = base_ ? std::abs(level - 0.5) > 0.3 : level > 0.55;
                item->setColor(dark ? Qt::white : QColor(30, 30, 30));
                item->setClipToAxisRect(true);
                cellTexts_.push_back(item);
            }
    }
    const QStringList largest = largestConfusions(5);
    const int64_t wrong = [&] {
        int64_t w = 0;
        for (int t = 0; t < n; ++t)
            for (int p = 0; p < n; ++p) w += t == p ? 0 : matrix_->at(t, p);
        return w;
    }();
    QString text;
    if (base_) {
        int64_t wrongA = 0;
        for (int t = 0; t < n; ++t)
            for (int p = 0; p < n; ++p) wrongA += t == p ? 0 : base_->at(t, p);
        text = tr("Wrong predictions: A %1, B %2. ").arg(wrongA).arg(wrong) +
               (largest.isEmpty() ? tr("No confusion changed.")
                                  : tr("Largest changes: %1").arg(largest.join(QStringLiteral(" · "))));
    } else {
        text = largest.isEmpty() ? tr("No wrong prediction.")
                                 : tr("Largest confusions (of %1 wrong predictions): %2").arg(wrong).arg(largest.join(QStringLiteral(" · ")));
    }
    summary_->setText(text);
    plot_->replot();
}

QString ConfusionView::saveImage(const QString& path) {
    if (!matrix_) return tr("No confusion matrix to save.");
    // The on-screen size, or a square page-like size when the view has not been laid out (hidden, tests).
    return savePlotImage(path, {{plot_, std::max(plot_->height(), 640)}}, std::max(plot_->width(), 760));
}

QString ConfusionView::exportCsv(const QString& path) {
    if (!matrix_) return tr("No confusion matrix to export.");
    try {
        const std::string text = base_ ? caspl::confusionDifferenceCsvText(*base_, *matrix_) : caspl::confusionMatrixCsvText(*matrix_);
        caspl::writeFileAtomically(path.toStdString(), text);
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

}  // namespace caspl::ui
