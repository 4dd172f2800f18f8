#pragma once
// Live curves (QCustomPlot): the loss terms and the learning rate per step of phase 1 (boosting distillation) and of
// phase 2 (the method's training), and the accuracy of every evaluation (base / novel / all). Several runs are
// overlaid, one colour per run (a checkable list shows or hides each run); loss terms differ by line style, the
// learning rate is dotted on the right axis. The x axis of the phase plots has four modes (a choice under the run
// list, TensorBoard's Step / Relative / Wall): steps continue across the trainings of a run (each seed's training
// continues where the previous one ended; the default); every training (dataset x shots x seed) starts at step 1
// and is drawn as its own curve, overlaid, in a lighter shade of the run's colour (or the seeds of one dataset and K
// as their mean and a band from the lowest to the highest, W&B's grouping); the time since the run's first
// step (what a method costs, phase 1 included); the wall-clock time (this computer's time zone). The
// panel keeps every point, so switching redraws everything.
//
// Appending is cheap; redraws are coalesced (PlotJuggler style): new data marks the panel dirty and one single-shot
// timer replots at most every kRedrawMs. QCustomPlot's adaptive sampling keeps long curves fast to draw.
//
// qcustomplot.h is included only by plot_panel.cpp: it uses Qt's `signals:` keyword, and this header is included by
// code built with QT_NO_KEYWORDS.
#include "core/engine/events.h"

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QMap>
#include <QSet>
#include <QString>
#include <QTimer>
#include <QWidget>

#include <optional>

class QCustomPlot;
class QCPAxis;
class QCPItemStraightLine;
class QCPGraph;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QListWidget;
class QListWidgetItem;

namespace caspl::ui {

class PlotPanel : public QWidget {
    Q_OBJECT
public:
    enum PlotId { Phase1Plot, Phase2Plot, AccuracyPlot, PlotCount };
    // The order of the choice under the run list. SeedMean: as Overlay, the seeds of one dataset and K drawn as W&B
    // draws a group of runs: their mean as a line, their range (lowest to highest at each step) as a band.
    enum class StepAxis { Continue, Overlay, SeedMean, Relative, Wall };
    static constexpr int kRedrawMs = 40;

    explicit PlotPanel(QWidget* parent = nullptr);

    // Names a run (the legend and the run list); called when a run starts.
    void setRunLabel(int job, const QString& label);
    void addMetrics(int job, const QList<caspl::MetricEvent>& batch);
    void addEvaluation(int job, const caspl::EvalRow& row);
    // Published accuracy the run is compared with (its experiment's `reference:`): horizontal lines across the
    // accuracy plot in the run's colour, dotted for base, dash-dotted for novel (or all), shown and hidden with the
    // run. Nothing given: no lines. Kept by clear() and clearRun() (they are not points), gone with removeRun().
    void setReference(int job, std::optional<double> base, std::optional<double> novel, const QString& source);
    // The y values of a run's reference lines, and whether they are shown (tests).
    QVector<double> referenceValues(int job) const;
    bool referenceShown(int job) const;
    // A plot's y axis range (tests).
    QPair<double, double> valueRange(PlotId plot) const;
    void setRunVisible(int job, bool visible);
    bool isRunVisible(int job) const;
    void removeRun(int job);
    // Removes a run's points only: it keeps its name, colour, visibility and place in the run list.
    void clearRun(int job);
    // Removes every point; the runs keep their names, colours and visibility (Results > Clear Plots).
    void clear();
    void setStepAxis(StepAxis axis);
    // TensorBoard's smoothing of the loss curves: an exponential moving average with weight `w` in [0, 0.999]
    // (0 = raw), debiased at the start of every training (so the first points are not pulled towards zero), the
    // raw curve drawn faintly behind it. The learning rate and the accuracy are never smoothed; CSV exports are raw.
    void setSmoothing(double w);
    double smoothing() const { return smoothing_; }
    // TensorBoard's log scale for the loss axis of the phase plots (values at or below 0 are not drawn on it; the
    // learning rate's axis stays linear), and its "ignore outliers in chart scaling": the loss axis spans the 5th to
    // 95th percentile of the values shown (all of them below 20 points).
    void setLogScale(bool on);
    bool logScale() const { return logScale_; }
    void setIgnoreOutliers(bool on);
    bool ignoreOutliers() const { return ignoreOutliers_; }
    // The three plots stacked in one file: PNG or JPEG (twice the screen resolution) or PDF (vector), by the
    // suffix; written atomically. Returns what went wrong, empty on success.
    QString saveImage(const QString& path);
    StepAxis stepAxis() const { return axis_; }

    // For tests and the status bar.
    int replotCount() const { return replots_; }
    double maxReplotMs() const { return maxReplotMs_; }  // the longest redraw of one plot
    int graphCount(PlotId plot) const;
    // key: "loss", "lr", "base", ...; `training` (overlay mode): the training's label, e.g. "dtd · 16 shots · seed 1".
    int pointCount(int job, PlotId plot, const QString& key, const QString& training = {}) const;
    // What the tooltip shows when the mouse is over a plot at x (TensorBoard's hover): for every shown curve its
    // value at the nearest step ("#1 dtd · loss: 0.4123 (raw 0.5001)"), under the step (or the time, with each
    // curve's step, on a time axis). Empty when nothing is drawn.
    QString valuesAt(PlotId plot, double x) const;
    // The y values drawn for a series (smoothed when smoothing is on), and their x values.
    QVector<double> seriesValues(int job, PlotId plot, const QString& key, const QString& training = {}) const;
    QVector<double> seriesKeys(int job, PlotId plot, const QString& key, const QString& training = {}) const;
    // An x value of a phase plot as its axis labels it: a step, "1:02:03" (relative) or a date and time (wall).
    QString xText(double x) const;
    QWidget* plotWidget(PlotId plot) const;
    // Draws pending data now (tests, screenshots).
    void flush();

private:
    struct Series {
        QCPGraph* graph = nullptr;
    };
    struct Cursor {  // x offset bookkeeping per (job, phase)
        double lastStep = 0;
        double offset = 0;
        QString training;
    };
    // Every point of a phase plot, per training, with its step within the training and its wall time: the source
    // for every mode.
    struct Point {
        double step = 0;
        double time = 0;  // seconds since 1970-01-01 UTC; 0 = unknown (not drawn on a time axis)
        double value = 0;
    };
    struct Training {
        QString label;
        int index = 0;     // 0, 1, ... in order of arrival within (job, plot)
        double offset = 0;  // the x offset of this training in Continue mode
        QString group;      // its dataset and K without the seed ("dtd · 16 shots"): the seeds averaged in SeedMean
        QMap<QString, QVector<Point>> points;  // key -> its points in order
    };
    // Where a point goes on the x axis in the current mode; nullopt: not drawn (no time on a time axis).
    std::optional<double> xOf(int job, const Training& t, const Point& p) const;
    // The point of a drawn series at x (its step and time), found in the history.
    std::optional<Point> pointAt(const QString& seriesKey, double x) const;
    void applyXAxis();
    bool stepsFromOne() const { return axis_ == StepAxis::Overlay || axis_ == StepAxis::SeedMean; }
    // SeedMean: each (run, plot, group)'s mean line and band, drawn from the history.
    void drawSeedMeans(int job, PlotId plot, const QList<Training>& trainings);
    // SeedMean: the (run, plot)s that got points since their means were drawn; drawn again by redrawStaleMeans, at
    // once (`now`) or when a fifth of the time since the last such drawing allows (false: not yet, a timer is set).
    bool redrawStaleMeans(bool now);
    QSet<QPair<int, int>> staleMeans_;
    QElapsedTimer meansClock_;
    double lastMeansMs_ = 0;
    QTimer meansTimer_;
    // The loss axis's range before its headroom: the shown values' extent, or their 5th to 95th percentile.
    std::optional<QPair<double, double>> lossRange(int plot) const;
    void fitTimeLabels(QCPAxis* x);
    QCPGraph* series(int job, PlotId plot, const QString& key, const QString& training = {}, int shade = 0);
    // The faint raw curve behind a smoothed one.
    QCPGraph* rawSeries(int job, PlotId plot, const QString& key, const QString& training, int shade);
    double smoothed(const QString& seriesAndTraining, double value);
    // The value a curve of `key` draws: NaN (a gap) for one at or below 0 on the log scale, but for the learning rate.
    double shown(const QString& key, double value) const;
    void addPoint(int job, PlotId plot, const Training& t, const QString& key, const Point& point);
    void rebuildPhasePlots();
    QColor runColor(int job) const;
    void scheduleReplot(PlotId plot);
    void replotDirty();
    void replotPlot(int plot);
    void updateRunList(int job);

    QCustomPlot* plots_[PlotCount] = {};
    bool dirty_[PlotCount] = {};
    QTimer redraw_;
    QTimer slice_;  // the next dirty plot, after pending events
    int nextPlot_ = 0;
    QListWidget* runList_ = nullptr;
    QHash<QString, Series> series_;  // "job/plot/key"
    QHash<QString, Cursor> cursors_;  // "job/phase"
    QMap<QPair<int, int>, QList<Training>> history_;  // (job, plot) -> its trainings in order
    QMap<int, double> runStart_;  // job -> the earliest time of its steps (the relative axis's 0)
    StepAxis axis_ = StepAxis::Continue;
    QComboBox* axisBox_ = nullptr;
    double smoothing_ = 0;
    QDoubleSpinBox* smoothingBox_ = nullptr;
    bool logScale_ = false, ignoreOutliers_ = false;
    QCheckBox* logScaleBox_ = nullptr;
    QCheckBox* outliersBox_ = nullptr;
    struct Ema {
        double last = 0;
        int count = 0;
    };
    QHash<QString, Ema> ema_;  // per series and training
    QMap<int, QString> labels_;
    QMap<int, int> colorIndex_;
    QMap<int, bool> visible_;
    QMap<int, int> evalCount_;
    QMap<int, QList<QCPItemStraightLine*>> references_;  // job -> its reference lines on the accuracy plot
    int replots_ = 0;
    double maxReplotMs_ = 0;
};

}  // namespace caspl::ui
