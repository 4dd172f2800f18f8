#include "ui/plot_panel.h"

#include "ui/plot_image.h"

#include <qcustomplot.h>

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QImage>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMouseEvent>
#include <QToolTip>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace caspl::ui {

namespace {

const QColor kPalette[] = {QColor(31, 119, 180), QColor(214, 39, 40),  QColor(44, 160, 44),  QColor(148, 103, 189),
                           QColor(255, 127, 14), QColor(140, 86, 75),  QColor(227, 119, 194), QColor(127, 127, 127),
                           QColor(188, 189, 34), QColor(23, 190, 207)};

// What a series key ends with when its graph is not a curve of its own: the faint raw curve behind a smoothed one,
// the lower and upper edges of a band of seeds.
bool auxiliary(const QString& key) {
    return key.endsWith(QLatin1String("/~raw")) || key.endsWith(QLatin1String("/~lo")) || key.endsWith(QLatin1String("/~hi"));
}

// "job/plot/key", or "job/plot/key/training" for a curve of one training (overlay mode).
QString seriesKey(int job, int plot, const QString& key, const QString& training = {}) {
    QString k = QStringLiteral("%1/%2/%3").arg(job).arg(plot).arg(key);
    if (!training.isEmpty()) k += QLatin1Char('/') + training;
    return k;
}

int plotOfPhase(const std::string& phase) {
    if (phase == "phase1") return PlotPanel::Phase1Plot;
    if (phase == "phase2" || phase == "train") return PlotPanel::Phase2Plot;
    return -1;
}

Qt::PenStyle styleFor(const QString& key, int termIndex) {
    if (key == QLatin1String("loss")) return Qt::SolidLine;
    static const Qt::PenStyle styles[] = {Qt::DashLine, Qt::DashDotLine, Qt::DashDotDotLine, Qt::DotLine};
    return styles[termIndex % 4];
}

void setupPlot(QCustomPlot* p, const QString& title, const QString& xLabel, const QString& yLabel, const QString& y2Label) {
    p->plotLayout()->insertRow(0);
    auto* t = new QCPTextElement(p, title, QFont(p->font().family(), p->font().pointSize() + 1, QFont::Bold));
    p->plotLayout()->addElement(0, 0, t);
    p->xAxis->setLabel(xLabel);
    p->yAxis->setLabel(yLabel);
    if (!y2Label.isEmpty()) {
        p->yAxis2->setVisible(true);
        p->yAxis2->setLabel(y2Label);
    }
    p->legend->setVisible(true);
    QFont lf = p->font();
    lf.setPointSize(std::max(6, lf.pointSize() - 2));
    p->legend->setFont(lf);
    p->legend->setBrush(QColor(255, 255, 255, 210));
    p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    p->setNoAntialiasingOnDrag(true);
    p->setPlottingHint(QCP::phFastPolylines, true);
    p->setMinimumHeight(150);
}

}  // namespace

PlotPanel::PlotPanel(QWidget* parent) : QWidget(parent) {
    setObjectName("plotPanel");
    auto* splitter = new QSplitter(Qt::Vertical, this);
    const QString titles[PlotCount] = {tr("Phase 1 — boosting prompts (distillation)"),
                                       tr("Phase 2 — method training (adapting prompts)"),
                                       tr("Accuracy per evaluation")};
    const char* names[PlotCount] = {"phase1Plot", "phase2Plot", "accuracyPlot"};
    for (int i = 0; i < PlotCount; ++i) {
        auto* p = new QCustomPlot(splitter);
        p->setObjectName(names[i]);
        if (i == AccuracyPlot) {
            setupPlot(p, titles[i], tr("evaluation # (dataset × shots × seed, in run order)"), tr("top-1 accuracy (%)"), {});
            p->yAxis->setRange(0, 100);
            p->xAxis->setRange(0, 4);
            QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
            ticker->setTickStep(1.0);
            ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
            p->xAxis->setTicker(ticker);
        } else {
            setupPlot(p, titles[i], tr("step (continues across seeds)"), tr("loss"), tr("learning rate"));
        }
        plots_[i] = p;
        splitter->addWidget(p);
    }
    runList_ = new QListWidget(this);
    runList_->setObjectName("plotRunList");
    runList_->setMaximumWidth(200);
    runList_->setToolTip(tr("Runs shown in the plots (uncheck to hide a run)"));
    axisBox_ = new QComboBox(this);
    axisBox_->setObjectName("plotStepAxis");
    axisBox_->addItem(tr("Steps continue across seeds"));
    axisBox_->addItem(tr("Each seed from step 1"));
    axisBox_->addItem(tr("Seeds' mean and range"));
    axisBox_->addItem(tr("Time since the run started"));
    axisBox_->addItem(tr("Wall-clock time"));
    axisBox_->setMaximumWidth(200);
    axisBox_->setToolTip(tr("Phase plots: one long curve per run; one curve per training (dataset × shots × seed) "
                            "starting at step 1, overlaid; the seeds of each dataset and K as their mean with a band "
                            "from the lowest to the highest value (W&B's run groups); the time since the run's first step, which shows "
                            "what each method costs; or the time of day (TensorBoard's Step, Relative and Wall)"));
    smoothingBox_ = new QDoubleSpinBox(this);
    smoothingBox_->setObjectName("plotSmoothing");
    smoothingBox_->setRange(0, 0.99);
    smoothingBox_->setSingleStep(0.05);
    smoothingBox_->setDecimals(2);
    smoothingBox_->setMaximumWidth(200);
    smoothingBox_->setToolTip(tr("Smoothing of the loss curves (TensorBoard's: an exponential moving average, debiased "
                                 "at the start of each training; the raw curve stays faintly behind it). 0 = raw. "
                                 "The learning rate and the accuracy stay raw, and so do the CSV exports; Save Plots as "
                                 "Image saves what is shown."));
    logScaleBox_ = new QCheckBox(tr("Log scale (loss)"), this);
    logScaleBox_->setObjectName("plotLogScale");
    logScaleBox_->setToolTip(tr("The loss axis of the phase plots on a logarithmic scale (TensorBoard's log scale); "
                                "points at or below 0 are not drawn on it. The learning rate stays linear."));
    outliersBox_ = new QCheckBox(tr("Ignore outliers in scaling"), this);
    outliersBox_->setObjectName("plotIgnoreOutliers");
    outliersBox_->setToolTip(tr("The loss axis spans the 5th to 95th percentile of the values shown (TensorBoard's "
                                "\"ignore outliers in chart scaling\"), so that a spike or the first steps' high "
                                "loss do not flatten the rest; drag or zoom to see them"));
    auto* side = new QVBoxLayout;
    side->addWidget(new QLabel(tr("Runs"), this));
    side->addWidget(runList_, 1);
    side->addWidget(new QLabel(tr("x axis"), this));
    side->addWidget(axisBox_);
    side->addWidget(new QLabel(tr("Smoothing"), this));
    side->addWidget(smoothingBox_);
    side->addWidget(logScaleBox_);
    side->addWidget(outliersBox_);
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(splitter, 1);
    layout->addLayout(side);

    redraw_.setSingleShot(true);
    redraw_.setInterval(kRedrawMs);
    connect(&redraw_, &QTimer::timeout, this, &PlotPanel::replotDirty);
    slice_.setSingleShot(true);
    slice_.setInterval(0);
    connect(&slice_, &QTimer::timeout, this, &PlotPanel::replotDirty);
    meansTimer_.setSingleShot(true);
    connect(&meansTimer_, &QTimer::timeout, this, &PlotPanel::replotDirty);
    connect(axisBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) { setStepAxis(StepAxis(i)); });
    connect(smoothingBox_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this](double w) { setSmoothing(w); });
    connect(logScaleBox_, &QCheckBox::toggled, this, [this](bool on) { setLogScale(on); });
    connect(outliersBox_, &QCheckBox::toggled, this, [this](bool on) { setIgnoreOutliers(on); });
    for (int i : {int(Phase1Plot), int(Phase2Plot)}) {  // zooming in on a time axis shows finer labels
        QCPAxis* x = plots_[i]->xAxis;
        connect(x, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this, x] { fitTimeLabels(x); });
    }
    for (int i = 0; i < PlotCount; ++i) {
        QCustomPlot* p = plots_[i];
        p->setMouseTracking(true);
        connect(p, &QCustomPlot::mouseMove, this, [this, i, p](QMouseEvent* e) {
            if (e->buttons() != Qt::NoButton) return;  // dragging the view
            const QString text = p->axisRect()->rect().contains(e->pos()) ? valuesAt(PlotId(i), p->xAxis->pixelToCoord(e->pos().x())) : QString();
            if (text.isEmpty()) QToolTip::hideText();
            else QToolTip::showText(e->globalPosition().toPoint(), text, p);
        });
    }
    connect(runList_, &QListWidget::itemChanged, this, [this](QListWidgetItem* item) {
        setRunVisible(item->data(Qt::UserRole).toInt(), item->checkState() == Qt::Checked);
    });
}

QColor PlotPanel::runColor(int job) const {
    const int i = colorIndex_.value(job, 0);
    return kPalette[i % int(sizeof kPalette / sizeof kPalette[0])];
}

void PlotPanel::setRunLabel(int job, const QString& label) {
    if (!colorIndex_.contains(job)) colorIndex_[job] = colorIndex_.size();
    if (!visible_.contains(job)) visible_[job] = true;
    labels_[job] = label;
    // Rename existing graphs.
    for (auto it = series_.begin(); it != series_.end(); ++it) {
        const QStringList parts = it.key().split('/');
        if (parts.value(0).toInt() == job) it->graph->setName(label + QStringLiteral(" · ") + parts.mid(2).join(QStringLiteral(" · ")));
    }
    updateRunList(job);
    for (int i = 0; i < PlotCount; ++i) scheduleReplot(PlotId(i));
}

void PlotPanel::updateRunList(int job) {
    QListWidgetItem* item = nullptr;
    for (int i = 0; i < runList_->count(); ++i)
        if (runList_->item(i)->data(Qt::UserRole).toInt() == job) item = runList_->item(i);
    QSignalBlocker block(runList_);
    if (!item) {
        item = new QListWidgetItem(runList_);
        item->setData(Qt::UserRole, job);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    }
    item->setText(labels_.value(job, QString::number(job)));
    item->setForeground(runColor(job));
    item->setCheckState(visible_.value(job, true) ? Qt::Checked : Qt::Unchecked);
}

QCPGraph* PlotPanel::series(int job, PlotId plot, const QString& key, const QString& training, int shade) {
    const QString k = seriesKey(job, plot, key, training);
    auto it = series_.find(k);
    if (it != series_.end()) return it->graph;
    if (!labels_.contains(job)) setRunLabel(job, tr("run %1").arg(job));
    QCustomPlot* p = plots_[plot];
    const bool lr = key == QLatin1String("lr");
    QCPGraph* g = p->addGraph(p->xAxis, lr ? p->yAxis2 : p->yAxis);
    // Later trainings of a run (overlay mode) in lighter shades of its colour.
    QPen pen(shade > 0 ? runColor(job).lighter(100 + 35 * std::min(shade, 4)) : runColor(job));
    if (plot == AccuracyPlot) {
        pen.setWidthF(1.6);
        const bool novel = key == QLatin1String("novel");
        pen.setStyle(novel ? Qt::DashLine : Qt::SolidLine);
        g->setScatterStyle(QCPScatterStyle(novel ? QCPScatterStyle::ssTriangle : QCPScatterStyle::ssDisc, 7));
    } else if (lr) {
        pen.setStyle(Qt::DotLine);
        pen.setWidthF(1.0);
    } else {
        // Loss terms differ by line style, the same for a term in every training.
        QStringList terms;
        for (auto s = series_.cbegin(); s != series_.cend(); ++s) {
            const QString t = s.key().section('/', 2, 2);
            if (s.key().startsWith(QStringLiteral("%1/%2/loss.").arg(job).arg(plot)) && !terms.contains(t)) terms << t;
        }
        const qsizetype known = terms.indexOf(key);
        pen.setStyle(styleFor(key, int(known >= 0 ? known : terms.size())));
        pen.setWidthF(key == QLatin1String("loss") ? 1.8 : 1.2);
    }
    g->setPen(pen);
    g->setAdaptiveSampling(true);
    g->setName(labels_.value(job) + QStringLiteral(" · ") + key + (training.isEmpty() ? QString() : QStringLiteral(" · ") + training));
    if (!visible_.value(job, true)) {
        g->setVisible(false);
        g->removeFromLegend();
    }
    series_.insert(k, Series{g});
    return g;
}

void PlotPanel::addMetrics(int job, const QList<caspl::MetricEvent>& batch) {
    bool restart = false;  // the relative axis's 0 moved: every point is drawn again
    for (const caspl::MetricEvent& e : batch) {
        const int plot = plotOfPhase(e.phase);
        if (plot < 0) continue;
        Cursor& c = cursors_[QStringLiteral("%1/%2").arg(job).arg(QString::fromStdString(e.phase))];
        const QString training = QString::fromStdString(caspl::seriesLabel(e));
        QList<Training>& trainings = history_[qMakePair(job, plot)];
        const double step = double(e.step);
        // A new training (the next seed or dataset) starts at step 1, or names itself differently.
        const bool fresh = trainings.isEmpty() || step <= c.lastStep || training != c.training;
        if (fresh) {
            if (!trainings.isEmpty()) c.offset += c.lastStep;
            Training t;
            t.label = training.isEmpty() ? tr("training %1").arg(trainings.size() + 1) : training;
            t.index = int(trainings.size());
            t.offset = c.offset;
            t.group = QString::fromStdString(e.dataset);
            if (e.shots > 0) t.group += (t.group.isEmpty() ? QString() : QStringLiteral(" · ")) + tr("%1 shots").arg(e.shots);
            if (t.group.isEmpty()) t.group = t.label;  // an event that names no dataset: its own group
            trainings.append(t);
            c.training = training;
        }
        c.lastStep = step;
        Training& t = trainings.last();
        if (e.time > 0) {
            auto start = runStart_.find(job);
            if (start == runStart_.end()) {
                runStart_.insert(job, e.time);
            } else if (e.time < *start) {  // an earlier step than any so far (lines out of order): a new 0
                *start = e.time;
                restart = axis_ == StepAxis::Relative;
            }
        }
        for (const auto& [key, value] : e.values) {
            if (!std::isfinite(value)) continue;
            const QString k = QString::fromStdString(key);
            const Point point{step, e.time, value};
            t.points[k].append(point);
            if (axis_ == StepAxis::SeedMean) staleMeans_.insert(qMakePair(job, plot));  // drawn again at a redraw
            else if (!restart) addPoint(job, PlotId(plot), t, k, point);
        }
        if (axis_ != StepAxis::SeedMean) dirty_[plot] = true;  // the means mark it when they are drawn again
    }
    if (restart) rebuildPhasePlots();
    if (!redraw_.isActive()) redraw_.start();  // one timer for every plot; replotDirty draws only what changed
}

std::optional<double> PlotPanel::xOf(int job, const Training& t, const Point& p) const {
    switch (axis_) {
    case StepAxis::Continue: return t.offset + p.step;
    case StepAxis::Overlay:
    case StepAxis::SeedMean: return p.step;
    case StepAxis::Relative:
        if (p.time <= 0) return std::nullopt;
        return p.time - runStart_.value(job, p.time);
    case StepAxis::Wall:
        if (p.time <= 0) return std::nullopt;
        return p.time;
    }
    return std::nullopt;
}

void PlotPanel::addPoint(int job, PlotId plot, const Training& t, const QString& key, const Point& point) {
    const std::optional<double> at = xOf(job, t, point);
    if (!at) return;
    const double x = *at;
    double value = point.value;
    // Only the overlay draws a curve per training; on the other axes a run's trainings follow one another.
    const QString training = stepsFromOne() ? t.label : QString();
    const int shade = stepsFromOne() ? t.index : 0;
    if (smoothing_ > 0 && key != QLatin1String("lr")) {
        rawSeries(job, plot, key, training, shade)->addData(x, shown(key, value));
        // The average restarts with every training (a new seed's loss starts high again).
        value = smoothed(seriesKey(job, plot, key) + QLatin1Char('/') + QString::number(t.index), value);
    }
    series(job, plot, key, training, shade)->addData(x, shown(key, value));
}

double PlotPanel::shown(const QString& key, double value) const {
    // A log scale has no place for 0 or less: a gap in the curve (QCustomPlot breaks a line at NaN).
    return logScale_ && value <= 0 && key != QLatin1String("lr") ? std::numeric_limits<double>::quiet_NaN() : value;
}

double PlotPanel::smoothed(const QString& seriesAndTraining, double value) {
    // TensorBoard's smoothing: last = last * w + (1 - w) * value, divided by 1 - w^n so that the first points are
    // not pulled towards the average's start at 0.
    Ema& e = ema_[seriesAndTraining];
    e.last = e.last * smoothing_ + (1 - smoothing_) * value;
    ++e.count;
    return e.last / (1 - std::pow(smoothing_, e.count));
}

QCPGraph* PlotPanel::rawSeries(int job, PlotId plot, const QString& key, const QString& training, int shade) {
    // Keyed after the series, with a suffix that no metric name has; not in the legend.
    const QString k = seriesKey(job, plot, key, training) + QStringLiteral("/~raw");
    auto it = series_.find(k);
    if (it != series_.end()) return it->graph;
    QCPGraph* main = series(job, plot, key, training, shade);
    QCustomPlot* p = plots_[plot];
    QCPGraph* g = p->addGraph(p->xAxis, p->yAxis);
    QPen pen = main->pen();
    QColor c = pen.color();
    c.setAlpha(60);
    pen.setColor(c);
    pen.setWidthF(1.0);
    g->setPen(pen);
    g->setAdaptiveSampling(true);
    g->removeFromLegend();
    g->setVisible(visible_.value(job, true));
    // Behind the smoothed curves: on a layer of its own under QCustomPlot's "main".
    if (!p->layer("raw")) p->addLayer("raw", p->layer("main"), QCustomPlot::limBelow);
    g->setLayer("raw");
    g->setName(main->name() + tr(" (raw)"));
    series_.insert(k, Series{g});
    return g;
}

void PlotPanel::setSmoothing(double w) {
    w = std::clamp(w, 0.0, 0.999);
    if (std::abs(smoothingBox_->value() - w) > 1e-9) {
        QSignalBlocker block(smoothingBox_);
        smoothingBox_->setValue(w);
    }
    if (w == smoothing_) return;
    smoothing_ = w;
    rebuildPhasePlots();
}

void PlotPanel::setLogScale(bool on) {
    if (logScaleBox_->isChecked() != on) {
        QSignalBlocker block(logScaleBox_);
        logScaleBox_->setChecked(on);
    }
    if (on == logScale_) return;
    logScale_ = on;
    for (int plot : {int(Phase1Plot), int(Phase2Plot)}) {
        QCPAxis* y = plots_[plot]->yAxis;
        y->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
        if (on) {
            QSharedPointer<QCPAxisTickerLog> ticker(new QCPAxisTickerLog);
            ticker->setSubTickCount(8);  // 2..9 between the powers of ten
            y->setTicker(ticker);
            y->setNumberFormat(QStringLiteral("gb"));
        } else {
            y->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
            y->setNumberFormat(QStringLiteral("gbd"));
        }
    }
    rebuildPhasePlots();  // values at or below 0 are left out of the curves on a log scale
}

void PlotPanel::setIgnoreOutliers(bool on) {
    if (outliersBox_->isChecked() != on) {
        QSignalBlocker block(outliersBox_);
        outliersBox_->setChecked(on);
    }
    if (on == ignoreOutliers_) return;
    ignoreOutliers_ = on;
    scheduleReplot(Phase1Plot);
    scheduleReplot(Phase2Plot);
}

std::optional<QPair<double, double>> PlotPanel::lossRange(int plot) const {
    // The curves' own values on the loss axis (smoothed where smoothing is on; not the faint raw curves nor the seeds'
    // bands), only positive ones on a log scale; at most about 100,000 of them, evenly taken: a redraw of a long run
    // stays quick, and the percentiles of such a sample are those of all the values to well within a pixel.
    const QCustomPlot* p = plots_[plot];
    std::size_t total = 0;
    std::vector<const QCPGraph*> graphs;
    for (int g = 0; g < p->graphCount(); ++g) {
        const QCPGraph* graph = p->graph(g);
        if (!graph->visible() || graph->valueAxis() != p->yAxis || graph->layer() != p->layer(QStringLiteral("main"))) continue;
        graphs.push_back(graph);
        total += std::size_t(graph->dataCount());
    }
    const std::size_t stride = std::max<std::size_t>(1, total / 100000);
    std::vector<double> v;
    v.reserve(total / stride + graphs.size());
    std::size_t i = 0;
    for (const QCPGraph* graph : graphs)
        for (auto d = graph->data()->constBegin(); d != graph->data()->constEnd(); ++d, ++i)
            if (i % stride == 0 && std::isfinite(d->value) && (!logScale_ || d->value > 0)) v.push_back(d->value);
    if (v.empty()) return std::nullopt;
    if (v.size() < 20) {  // a handful of points has no outliers to speak of
        const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
        return qMakePair(*lo, *hi);
    }
    // TensorBoard's: the 5th and 95th percentiles, by linear interpolation between the nearest ranks (d3.quantile).
    const auto quantile = [&v](double q) {
        const double pos = q * double(v.size() - 1);
        const auto i = std::size_t(pos);
        std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(i), v.end());
        const double a = v[i];
        if (i + 1 >= v.size()) return a;
        const double b = *std::min_element(v.begin() + std::ptrdiff_t(i) + 1, v.end());
        return a + (b - a) * (pos - double(i));
    };
    const double lo = quantile(0.05), hi = quantile(0.95);
    return qMakePair(lo, hi);
}

void PlotPanel::setStepAxis(StepAxis axis) {
    if (axisBox_->currentIndex() != int(axis)) {
        QSignalBlocker block(axisBox_);
        axisBox_->setCurrentIndex(int(axis));
    }
    if (axis == axis_) return;
    axis_ = axis;
    applyXAxis();
    rebuildPhasePlots();
}

void PlotPanel::applyXAxis() {
    for (int plot : {int(Phase1Plot), int(Phase2Plot)}) {
        QCPAxis* x = plots_[plot]->xAxis;
        switch (axis_) {
        case StepAxis::Continue:
            x->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
            x->setLabel(tr("step (continues across seeds)"));
            break;
        case StepAxis::Overlay:
            x->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
            x->setLabel(tr("step within each training (seeds overlaid)"));
            break;
        case StepAxis::SeedMean:
            x->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
            x->setLabel(tr("step within each training (mean of the seeds, their range shaded)"));
            break;
        case StepAxis::Relative:
            x->setTicker(QSharedPointer<QCPAxisTickerTime>(new QCPAxisTickerTime));
            x->setLabel(tr("time since the run's first step"));
            break;
        case StepAxis::Wall:
            x->setTicker(QSharedPointer<QCPAxisTickerDateTime>(new QCPAxisTickerDateTime));  // local time
            x->setLabel(tr("wall-clock time (this computer's time zone)"));
            break;
        }
        fitTimeLabels(x);
    }
}

void PlotPanel::fitTimeLabels(QCPAxis* x) {
    // Labels as precise as the range shown needs: a run of seconds (the demo) in seconds and milliseconds, one of
    // hours in h:mm. The largest unit of a format takes what is above it (minutes past 60, hours past 24).
    const double span = x->range().size(), upper = x->range().upper;
    if (auto time = qSharedPointerDynamicCast<QCPAxisTickerTime>(x->ticker())) {
        const QString format = upper < 120 ? (span < 10 ? QStringLiteral("%s.%z s") : QStringLiteral("%s s"))
                               : upper < 7200 ? QStringLiteral("%m:%s")
                               : span < 600   ? QStringLiteral("%h:%m:%s")
                                              : QStringLiteral("%h:%m");
        if (time->timeFormat() != format) {
            time->setTimeFormat(format);
            // The largest unit without a leading zero ("5.250 s", "5:07", "1:02:03"), the others with theirs.
            const bool secondsFirst = format.startsWith(QLatin1String("%s"));
            time->setFieldWidth(QCPAxisTickerTime::tuSeconds, secondsFirst ? 1 : 2);
            time->setFieldWidth(QCPAxisTickerTime::tuMinutes, format.startsWith(QLatin1String("%m")) ? 1 : 2);
            time->setFieldWidth(QCPAxisTickerTime::tuHours, 1);
        }
    } else if (auto date = qSharedPointerDynamicCast<QCPAxisTickerDateTime>(x->ticker())) {
        const QString format = span < 10 ? QStringLiteral("HH:mm:ss.zzz") : QStringLiteral("HH:mm:ss\nd MMM");
        if (date->dateTimeFormat() != format) date->setDateTimeFormat(format);
    }
}

QString PlotPanel::xText(double x) const {
    switch (axis_) {
    case StepAxis::Continue:
    case StepAxis::Overlay:
    case StepAxis::SeedMean: return QStringLiteral("%1").arg(x);
    case StepAxis::Relative: {
        if (x < 120) return QStringLiteral("%1 s").arg(x, 0, 'f', 2);  // a short run: its seconds to 10 ms
        const auto s = qint64(std::llround(x));
        return QStringLiteral("%1:%2:%3").arg(s / 3600).arg(s / 60 % 60, 2, 10, QLatin1Char('0')).arg(s % 60, 2, 10, QLatin1Char('0'));
    }
    case StepAxis::Wall:
        // The second it falls in, as a clock (and the axis's labels) shows it.
        return QDateTime::fromSecsSinceEpoch(qint64(std::floor(x))).toString(QStringLiteral("d MMM yyyy HH:mm:ss"));
    }
    return {};
}

std::optional<PlotPanel::Point> PlotPanel::pointAt(const QString& key, double x) const {
    // "job/plot/key[/training]"; a metric key has no '/' (the loss terms are "loss.ce", ...).
    const QStringList parts = key.split(QLatin1Char('/'));
    if (parts.size() < 3) return std::nullopt;
    const int job = parts[0].toInt();
    const QString metric = parts[2];
    const QString training = parts.mid(3).join(QLatin1Char('/'));
    for (const Training& t : history_.value(qMakePair(job, parts[1].toInt()))) {
        if (!training.isEmpty() && t.label != training) continue;
        const auto points = t.points.constFind(metric);
        if (points == t.points.constEnd()) continue;
        // In order of x (steps rise within a training, and so do times): a binary search; where that fails (a step
        // without a time, a clock set back), every point.
        const auto below = [&](const Point& p) {
            const auto px = xOf(job, t, p);
            return !px || *px < x;
        };
        const auto it = std::partition_point(points->cbegin(), points->cend(), below);
        if (it != points->cend())
            if (const auto px = xOf(job, t, *it); px && *px == x) return *it;
        const auto first = xOf(job, t, points->front()), last = xOf(job, t, points->back());
        if (first && last && (x < *first || x > *last)) continue;  // another training's x
        for (const Point& p : *points)
            if (const auto px = xOf(job, t, p); px && *px == x) return p;
    }
    return std::nullopt;
}

void PlotPanel::rebuildPhasePlots() {
    for (auto it = series_.begin(); it != series_.end();) {
        const int plot = it.key().section('/', 1, 1).toInt();
        if (plot == Phase1Plot || plot == Phase2Plot) {
            it->graph->parentPlot()->removeGraph(it->graph);
            it = series_.erase(it);
        } else {
            ++it;
        }
    }
    ema_.clear();
    staleMeans_.clear();
    for (auto h = history_.cbegin(); h != history_.cend(); ++h) {
        const int job = h.key().first;
        const auto plot = PlotId(h.key().second);
        if (axis_ == StepAxis::SeedMean) {
            drawSeedMeans(job, plot, h.value());
            continue;
        }
        for (const Training& t : h.value())
            for (auto k = t.points.cbegin(); k != t.points.cend(); ++k) {
                const QString training = axis_ == StepAxis::Overlay ? t.label : QString();
                const int shade = axis_ == StepAxis::Overlay ? t.index : 0;
                const bool smooth = smoothing_ > 0 && k.key() != QLatin1String("lr");
                QVector<double> xs, ys, raws;
                xs.reserve(k.value().size());
                ys.reserve(k.value().size());
                const QString emaKey = seriesKey(job, plot, k.key()) + QLatin1Char('/') + QString::number(t.index);
                for (const Point& point : k.value()) {
                    const std::optional<double> x = xOf(job, t, point);
                    if (!x) continue;  // no time, on a time axis
                    xs.append(*x);
                    if (smooth) raws.append(shown(k.key(), point.value));
                    ys.append(shown(k.key(), smooth ? smoothed(emaKey, point.value) : point.value));
                }
                if (xs.isEmpty()) continue;
                if (smooth) rawSeries(job, plot, k.key(), training, shade)->addData(xs, raws);
                // Sorted by step; on a time axis by time as well, except where a clock was set back: let QCustomPlot sort.
                series(job, plot, k.key(), training, shade)->addData(xs, ys, /*alreadySorted=*/axis_ == StepAxis::Continue || axis_ == StepAxis::Overlay);
            }
    }
    scheduleReplot(Phase1Plot);
    scheduleReplot(Phase2Plot);
}

void PlotPanel::drawSeedMeans(int job, PlotId plot, const QList<Training>& trainings) {
    // Each seed's curve per key, in order of step: a training logged twice under one name (a resumed run logs the
    // steps after its checkpoint again) is one seed, its later value kept. The groups and seeds in order of arrival.
    // Plain arrays throughout: the means of a long run are drawn again while it runs.
    struct Curve {
        std::vector<std::pair<double, double>> points;  // (step, value)
        bool sorted = true;                             // in rising steps, each once, as one training logs them
    };
    QStringList groups;
    QHash<QString, QStringList> seedsOf;                 // group -> its trainings' labels
    QHash<QString, QHash<QString, Curve>> curves;        // label -> key -> its curve
    for (const Training& t : trainings) {
        if (!seedsOf.contains(t.group)) groups << t.group;
        if (!seedsOf[t.group].contains(t.label)) seedsOf[t.group] << t.label;
        for (auto k = t.points.cbegin(); k != t.points.cend(); ++k) {
            Curve& c = curves[t.label][k.key()];
            for (const Point& p : k.value()) {
                if (!c.points.empty() && p.step <= c.points.back().first) c.sorted = false;
                c.points.emplace_back(p.step, p.value);
            }
        }
    }
    for (const QString& groupName : groups) {
        const QStringList& seeds = seedsOf[groupName];
        const QString label = seeds.size() == 1 ? seeds.front() : tr("%1 · %2 seeds").arg(groupName).arg(seeds.size());
        QStringList keys;
        for (const QString& seed : seeds)
            for (auto k = curves[seed].cbegin(); k != curves[seed].cend(); ++k)
                if (!keys.contains(k.key())) keys << k.key();
        for (const QString& key : keys) {
            // The seeds' curves of this key, each in rising steps (the later of a step logged twice), smoothed per
            // seed first, as each seed's own curve would be.
            const bool smooth = smoothing_ > 0 && key != QLatin1String("lr");
            std::vector<std::vector<std::pair<double, double>>> of;
            for (const QString& seed : seeds) {
                const auto curve = curves[seed].find(key);
                if (curve == curves[seed].end()) continue;
                std::vector<std::pair<double, double>> v = std::move(curve->points);
                if (!curve->sorted) {
                    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
                    std::vector<std::pair<double, double>> unique;  // the last of equal steps: the later value
                    for (std::size_t i = 0; i < v.size(); ++i)
                        if (i + 1 == v.size() || v[i + 1].first != v[i].first) unique.push_back(v[i]);
                    v = std::move(unique);
                }
                if (smooth) {  // TensorBoard's debiased average, as smoothed() computes it
                    double last = 0, weight = 1;
                    for (auto& [step, y] : v) {
                        last = last * smoothing_ + (1 - smoothing_) * y;
                        weight *= smoothing_;
                        y = last / (1 - weight);
                    }
                }
                of.push_back(std::move(v));
            }
            // The steps of all seeds in order, merged: mean, lowest and highest of the seeds that have each.
            QVector<double> xs, mean, lo, hi;
            std::vector<std::size_t> at(of.size(), 0);
            while (true) {
                double step = std::numeric_limits<double>::infinity();
                for (std::size_t c = 0; c < of.size(); ++c)
                    if (at[c] < of[c].size()) step = std::min(step, of[c][at[c]].first);
                if (!std::isfinite(step)) break;
                double sum = 0, low = std::numeric_limits<double>::infinity(), high = -low;
                int n = 0;
                for (std::size_t c = 0; c < of.size(); ++c)
                    if (at[c] < of[c].size() && of[c][at[c]].first == step) {
                        const double y = of[c][at[c]++].second;
                        sum += y;
                        low = std::min(low, y);
                        high = std::max(high, y);
                        ++n;
                    }
                xs << step;
                mean << shown(key, sum / n);
                lo << shown(key, low);
                hi << shown(key, high);
            }
            if (xs.isEmpty()) continue;
            QCPGraph* line = series(job, plot, key, label, 0);
            line->addData(xs, mean, /*alreadySorted=*/true);
            if (seeds.size() < 2) continue;
            // The band: the highest values filled down to the lowest, behind the lines, not in the legend.
            QCustomPlot* p = plots_[plot];
            if (!p->layer("raw")) p->addLayer("raw", p->layer("main"), QCustomPlot::limBelow);
            QCPGraph* band[2] = {};
            const QVector<double>* values[2] = {&lo, &hi};
            for (int b = 0; b < 2; ++b) {
                band[b] = p->addGraph(p->xAxis, line->valueAxis());
                band[b]->setPen(Qt::NoPen);
                band[b]->removeFromLegend();
                band[b]->setLayer("raw");
                band[b]->setVisible(visible_.value(job, true));
                band[b]->setAdaptiveSampling(false);  // the fill needs both edges at the same keys
                band[b]->addData(xs, *values[b], /*alreadySorted=*/true);
                band[b]->setName(line->name() + (b ? tr(" (highest)") : tr(" (lowest)")));
                series_.insert(seriesKey(job, plot, key, label) + (b ? QStringLiteral("/~hi") : QStringLiteral("/~lo")), Series{band[b]});
            }
            QColor fill = line->pen().color();
            fill.setAlpha(key == QLatin1String("lr") ? 25 : 55);
            band[1]->setBrush(fill);
            band[1]->setChannelFillGraph(band[0]);
        }
    }
}

void PlotPanel::addEvaluation(int job, const caspl::EvalRow& row) {
    // One x per (dataset, shots, seed) evaluation: the base and novel splits of a seed share it.
    const QString evalKey =
        QStringLiteral("%1/%2/%3/%4").arg(job).arg(QString::fromStdString(row.dataset)).arg(row.shots).arg(row.seed);
    Cursor& c = cursors_[QStringLiteral("eval/") + evalKey];
    if (c.lastStep == 0) c.lastStep = ++evalCount_[job];
    series(job, AccuracyPlot, QString::fromStdString(row.split))->addData(c.lastStep, row.accuracy);
    dirty_[AccuracyPlot] = true;
    scheduleReplot(AccuracyPlot);
}

void PlotPanel::setReference(int job, std::optional<double> base, std::optional<double> novel, const QString& source) {
    QCustomPlot* p = plots_[AccuracyPlot];
    for (QCPItemStraightLine* line : references_.take(job)) p->removeItem(line);
    if (!labels_.contains(job)) setRunLabel(job, tr("run %1").arg(job));
    for (const auto& [value, style] : {std::pair{base, Qt::DotLine}, std::pair{novel, Qt::DashDotLine}}) {
        if (!value) continue;
        auto* line = new QCPItemStraightLine(p);
        line->point1->setCoords(0, *value);
        line->point2->setCoords(1, *value);
        QPen pen(runColor(job));
        pen.setStyle(style);
        pen.setWidthF(1.2);
        line->setPen(pen);
        line->setSelectable(false);
        line->setVisible(visible_.value(job, true));
        line->setObjectName(source);
        references_[job].append(line);
    }
    scheduleReplot(AccuracyPlot);
}

QVector<double> PlotPanel::referenceValues(int job) const {
    QVector<double> out;
    for (const QCPItemStraightLine* line : references_.value(job)) out << line->point1->coords().y();
    return out;
}

bool PlotPanel::referenceShown(int job) const {
    const auto lines = references_.value(job);
    return !lines.isEmpty() && std::all_of(lines.begin(), lines.end(), [](const QCPItemStraightLine* l) { return l->visible(); });
}

QPair<double, double> PlotPanel::valueRange(PlotId plot) const {
    return {plots_[plot]->yAxis->range().lower, plots_[plot]->yAxis->range().upper};
}

void PlotPanel::scheduleReplot(PlotId plot) {
    dirty_[plot] = true;
    if (!redraw_.isActive()) redraw_.start();
}

void PlotPanel::replotPlot(int i) {
    dirty_[i] = false;
    QCustomPlot* p = plots_[i];
    if (p->graphCount() == 0 && (i != AccuracyPlot || references_.isEmpty())) {
        // emptied (cleared or its runs removed): draw the empty frame
        p->replot();
        return;
    }
    if (i == AccuracyPlot) {
        double xMax = 1;
        for (int g = 0; g < p->graphCount(); ++g)
            if (p->graph(g)->visible() && !p->graph(g)->data()->isEmpty())
                xMax = std::max(xMax, (p->graph(g)->data()->constEnd() - 1)->key);
        p->xAxis->setRange(0.5, std::max(xMax + 0.5, 4.5));
        double lo = 100, hi = 0;
        for (int g = 0; g < p->graphCount(); ++g) {
            if (!p->graph(g)->visible()) continue;
            for (auto d = p->graph(g)->data()->constBegin(); d != p->graph(g)->data()->constEnd(); ++d) {
                lo = std::min(lo, d->value);
                hi = std::max(hi, d->value);
            }
        }
        for (auto it = references_.cbegin(); it != references_.cend(); ++it)  // the lines to beat stay in view
            for (const QCPItemStraightLine* line : *it)
                if (line->visible()) {
                    lo = std::min(lo, line->point1->coords().y());
                    hi = std::max(hi, line->point1->coords().y());
                }
        if (hi < lo) lo = 0, hi = 100;
        p->yAxis->setRange(std::max(0.0, std::floor(lo / 10) * 10 - 5), std::min(105.0, std::ceil(hi / 10) * 10 + 5));
    } else {
        p->rescaleAxes(true);  // every shown graph: the faint raw curves and the seeds' bands too
        if (ignoreOutliers_)
            if (const auto loss = lossRange(i)) p->yAxis->setRange(loss->first, loss->second);
        // A little headroom so the curves do not touch the frame (on a log scale, a factor).
        for (QCPAxis* a : {p->yAxis, p->yAxis2}) {
            const QCPRange r = a->range();
            if (a->scaleType() == QCPAxis::stLogarithmic && r.lower > 0) {
                const double f = r.upper > r.lower ? std::pow(r.upper / r.lower, 0.05) : 1.5;
                a->setRange(r.lower / f, r.upper * f);
                continue;
            }
            const double pad = r.size() > 0 ? r.size() * 0.05 : std::max(1e-6, std::abs(r.upper) * 0.05);
            a->setRange(r.lower - pad, r.upper + pad);
        }
    }
    QElapsedTimer clock;
    clock.start();
    p->replot();
    ++replots_;
    maxReplotMs_ = std::max(maxReplotMs_, clock.nsecsElapsed() / 1e6);
}

bool PlotPanel::redrawStaleMeans(bool now) {
    if (staleMeans_.isEmpty()) return true;
    // Not more than a fifth of the time: a long run's means (a second for a million points) do not take the GUI
    // thread over while it runs; the others' curves are drawn meanwhile.
    if (!now && meansClock_.isValid() && double(meansClock_.elapsed()) < 4 * lastMeansMs_) {
        if (!meansTimer_.isActive()) meansTimer_.start(int(4 * lastMeansMs_ - double(meansClock_.elapsed())) + 1);
        return false;
    }
    QElapsedTimer took;
    took.start();
    for (const auto& [job, plot] : std::as_const(staleMeans_)) {
        for (auto it = series_.begin(); it != series_.end();) {
            if (it.key().section('/', 0, 0).toInt() == job && it.key().section('/', 1, 1).toInt() == plot) {
                it->graph->parentPlot()->removeGraph(it->graph);
                it = series_.erase(it);
            } else {
                ++it;
            }
        }
        drawSeedMeans(job, PlotId(plot), history_.value(qMakePair(job, plot)));
        dirty_[plot] = true;
    }
    staleMeans_.clear();
    lastMeansMs_ = double(took.nsecsElapsed()) / 1e6;
    meansClock_.start();
    return true;
}

void PlotPanel::replotDirty() {
    redrawStaleMeans(false);  // the seeds' means and bands, once for every point that came meanwhile
    // One plot per turn of the event loop: a redraw never blocks the GUI thread longer than one plot takes.
    for (int k = 0; k < PlotCount; ++k) {
        const int i = (nextPlot_ + k) % PlotCount;
        if (!dirty_[i]) continue;
        replotPlot(i);
        nextPlot_ = (i + 1) % PlotCount;
        break;
    }
    for (bool d : dirty_)
        if (d) {
            slice_.start();
            break;
        }
}

void PlotPanel::flush() {
    redrawStaleMeans(true);
    meansTimer_.stop();
    redraw_.stop();
    slice_.stop();
    for (int i = 0; i < PlotCount; ++i) replotPlot(i);
}

void PlotPanel::setRunVisible(int job, bool visible) {
    visible_[job] = visible;
    for (QCPItemStraightLine* line : references_.value(job)) line->setVisible(visible);
    for (auto it = series_.begin(); it != series_.end(); ++it) {
        if (it.key().section('/', 0, 0).toInt() != job) continue;
        it->graph->setVisible(visible);
        if (visible && !auxiliary(it.key())) it->graph->addToLegend();
        else it->graph->removeFromLegend();
    }
    updateRunList(job);
    for (int i = 0; i < PlotCount; ++i) scheduleReplot(PlotId(i));
}

bool PlotPanel::isRunVisible(int job) const { return visible_.value(job, true); }

void PlotPanel::removeRun(int job) {
    clearRun(job);
    for (QCPItemStraightLine* line : references_.take(job)) plots_[AccuracyPlot]->removeItem(line);
    scheduleReplot(AccuracyPlot);
    labels_.remove(job);
    visible_.remove(job);
    for (int i = 0; i < runList_->count(); ++i)
        if (runList_->item(i)->data(Qt::UserRole).toInt() == job) delete runList_->takeItem(i--);
}

void PlotPanel::clearRun(int job) {
    for (auto it = series_.begin(); it != series_.end();) {
        if (it.key().section('/', 0, 0).toInt() == job) {
            it->graph->parentPlot()->removeGraph(it->graph);
            it = series_.erase(it);
        } else {
            ++it;
        }
    }
    const QString prefix = QStringLiteral("%1/").arg(job);
    for (auto it = cursors_.begin(); it != cursors_.end();) {
        if (it.key().startsWith(prefix) || it.key().startsWith(QStringLiteral("eval/") + prefix)) it = cursors_.erase(it);
        else ++it;
    }
    evalCount_.remove(job);
    for (auto it = ema_.begin(); it != ema_.end();) {
        if (it.key().startsWith(prefix)) it = ema_.erase(it);
        else ++it;
    }
    for (int plot : {int(Phase1Plot), int(Phase2Plot)}) history_.remove(qMakePair(job, plot));
    runStart_.remove(job);
    for (int plot : {int(Phase1Plot), int(Phase2Plot)}) staleMeans_.remove(qMakePair(job, plot));
    for (int i = 0; i < PlotCount; ++i) scheduleReplot(PlotId(i));
}

void PlotPanel::clear() {
    for (QCustomPlot* p : plots_) p->clearGraphs();
    series_.clear();
    cursors_.clear();
    history_.clear();
    runStart_.clear();
    staleMeans_.clear();
    evalCount_.clear();
    ema_.clear();
    // The runs keep their names, colours, visibility and their place in the run list: a run still training goes on
    // in its own colour under its own name (only the points are gone; Run > Remove Selected Run removes a run).
    for (QCustomPlot* p : plots_) p->replot();
    ++replots_;
}

QString PlotPanel::saveImage(const QString& path) {
    flush();
    // The plots' on-screen size, or a page-like size when the panel has not been laid out (hidden, tests).
    std::vector<PlotImagePart> parts;
    for (QCustomPlot* p : plots_) parts.push_back({p, std::max(p->height(), 280)});
    return savePlotImage(path, parts, std::max(plots_[0]->width(), 900));
}

int PlotPanel::graphCount(PlotId plot) const { return plots_[plot]->graphCount(); }

int PlotPanel::pointCount(int job, PlotId plot, const QString& key, const QString& training) const {
    auto it = series_.find(seriesKey(job, plot, key, training));
    return it == series_.end() ? 0 : it->graph->dataCount();
}

QString PlotPanel::valuesAt(PlotId plot, double x) const {
    // The nearest point of a graph to x: (key, value), or nothing when the graph is empty.
    const auto nearest = [x](const QCPGraph* g) -> std::optional<std::pair<double, double>> {
        const auto& data = g->data();
        if (data->isEmpty()) return std::nullopt;
        auto it = data->findBegin(x, false);  // the first point at or after x
        if (it == data->constEnd()) --it;
        if (it != data->constBegin() && std::abs((it - 1)->key - x) < std::abs(it->key - x)) --it;
        return std::make_pair(it->key, it->value);
    };
    const bool timeAxis = plot != AccuracyPlot && (axis_ == StepAxis::Relative || axis_ == StepAxis::Wall);
    const auto text = [&](double at) { return plot == AccuracyPlot ? QString::number(at) : xText(at); };
    struct Hit {
        QString key;
        const QCPGraph* graph;
        std::pair<double, double> point;
    };
    std::vector<Hit> hits;
    for (auto it = series_.cbegin(); it != series_.cend(); ++it) {
        if (it.key().section('/', 1, 1).toInt() != plot || auxiliary(it.key())) continue;
        if (!it->graph->visible()) continue;
        if (const auto p = nearest(it->graph)) hits.push_back({it.key(), it->graph, *p});
    }
    if (hits.empty()) return {};
    // The header names the x of the point nearest to the mouse (the smaller x of two as near); a curve whose nearest
    // point lies elsewhere says where.
    double step = hits.front().point.first;
    for (const Hit& h : hits) {
        const double d = std::abs(h.point.first - x), best = std::abs(step - x);
        if (d < best || (d == best && h.point.first < step)) step = h.point.first;
    }
    QStringList lines;
    for (const Hit& h : hits) {
        const auto& p = h.point;
        QString line = QStringLiteral("%1: %2").arg(h.graph->name()).arg(p.second, 0, 'g', 5);
        if (auto raw = series_.find(h.key + QStringLiteral("/~raw")); raw != series_.end())
            if (const auto r = nearest(raw->graph); r && r->first == p.first) line += tr(" (raw %1)").arg(r->second, 0, 'g', 5);
        {  // a mean of seeds: their range at that step
            const auto low = series_.find(h.key + QStringLiteral("/~lo")), high = series_.find(h.key + QStringLiteral("/~hi"));
            if (low != series_.end() && high != series_.end()) {
                const auto l = nearest(low->graph), u = nearest(high->graph);
                if (l && u && l->first == p.first && u->first == p.first)
                    line += tr(" (seeds %1 to %2)").arg(l->second, 0, 'g', 5).arg(u->second, 0, 'g', 5);
            }
        }
        if (p.first != step && text(p.first) != text(step)) line += tr(" at %1").arg(text(p.first));
        if (timeAxis)  // which step that was, as TensorBoard's tooltip gives both
            if (const auto point = pointAt(h.key, p.first)) line += tr(", step %1").arg(point->step);
        lines << line;
    }
    lines.sort();
    if (plot == AccuracyPlot) lines.prepend(tr("evaluation %1").arg(step));
    else if (axis_ == StepAxis::Relative) lines.prepend(tr("%1 after the run's first step").arg(xText(step)));
    else if (axis_ == StepAxis::Wall) lines.prepend(xText(step));
    else lines.prepend(tr("step %1").arg(step));
    return lines.join('\n');
}

QVector<double> PlotPanel::seriesValues(int job, PlotId plot, const QString& key, const QString& training) const {
    QVector<double> v;
    auto it = series_.find(seriesKey(job, plot, key, training));
    if (it == series_.end()) return v;
    for (auto d = it->graph->data()->constBegin(); d != it->graph->data()->constEnd(); ++d) v.append(d->value);
    return v;
}

QVector<double> PlotPanel::seriesKeys(int job, PlotId plot, const QString& key, const QString& training) const {
    QVector<double> v;
    auto it = series_.find(seriesKey(job, plot, key, training));
    if (it == series_.end()) return v;
    for (auto d = it->graph->data()->constBegin(); d != it->graph->data()->constEnd(); ++d) v.append(d->key);
    return v;
}

QWidget* PlotPanel::plotWidget(PlotId plot) const { return plots_[plot]; }

}  // namespace caspl::ui
