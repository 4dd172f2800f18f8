// Every item model of the studio under QAbstractItemModelTester (fatal mode: any violation of the model contract
// fails the test), driven through the changes the window makes; plus sorting by numbers, TSV copy and CSV export of
// the results table, the log filter, and the redraw coalescing of the plot panel.
#include "core/experiment/paper_table.h"
#include "core/experiment/per_class.h"
#include "core/experiment/results.h"
#include "core/experiment/runs_table.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/number_text.h"
#include "made_data.h"
#include "test_support.h"
#include "ui/compare_dialog.h"
#include "ui/confusion_view.h"
#include "ui/log_pane.h"
#include "ui/per_class_dialog.h"
#include "ui/latency_probe.h"
#include "ui/plot_panel.h"
#include "ui/results_model.h"
#include "ui/results_view.h"
#include "ui/run_queue_model.h"
#include "ui/runs_view.h"
#include "ui/text_format.h"

#include <QAbstractItemModelTester>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QFont>
#include <QLineEdit>
#include <QImage>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QThreadPool>

#include <cmath>
#include <cstdio>
#include <clocale>
#include <filesystem>
#include <map>

using namespace caspl;

namespace {
MetricEvent metricAt(const std::string& phase, int64_t step, std::map<std::string, double> values, const std::string& dataset = {},
                     int shots = 0, int seed = 0) {
    MetricEvent e;
    e.run = "a";
    e.phase = phase;
    e.epoch = 1;
    e.step = step;
    e.values = std::move(values);
    e.dataset = dataset;
    e.shots = shots;
    e.seed = seed;
    return e;
}
}  // namespace
using caspl::ui::RunQueueModel;

namespace {

ResultRecord rec(const std::string& dataset, int seed, const std::string& split, int64_t correct, int64_t total,
                 const std::string& method = "coop+caspl", int shots = 16) {
    ResultRecord r;
    r.dataset = dataset;
    r.method = method;
    r.shots = shots;
    r.seed = seed;
    r.split = split;
    r.epoch = 10;
    r.correct = correct;
    r.total = total;
    r.accuracy = accuracyPercent(correct, total);
    return r;
}

std::vector<ResultRecord> twoDatasets() {
    std::vector<ResultRecord> v;
    for (int seed = 1; seed <= 3; ++seed) {
        v.push_back(rec("DescribableTextures", seed, "base", 800 + seed * 5, 1000));
        v.push_back(rec("DescribableTextures", seed, "novel", 600 + seed * 7, 1000));
        v.push_back(rec("EuroSAT", seed, "base", 950 + seed, 1000));
        v.push_back(rec("EuroSAT", seed, "novel", 700 + seed * 3, 1000));
    }
    return v;
}

// A done coop run of the Runs tab with this configuration and HM.
RunsTableRow runRow(const char* folder, const FlatConfig& config, std::optional<double> hm) {
    RunsTableRow r;
    r.status.folder = folder;
    r.status.name = folder;
    r.status.method = "coop";
    r.status.state = "done";
    r.status.hm = hm;
    r.config = config;
    return r;
}

QString cell(const QAbstractItemModel* m, int row, int col, int role = Qt::DisplayRole) {
    return m->index(row, col).data(role).toString();
}

}  // namespace

// The Runs tab's parallel coordinates shown on screen and drawn at the shown size; its plot widget (null when the
// window was not exposed).
static QWidget* showParallelCoordinates(ui::RunsView& view) {
    view.show();
    if (!QTest::qWaitForWindowExposed(&view)) return nullptr;
    view.plotKindBox()->setCurrentIndex(ui::RunsView::Scatter);
    view.plotKindBox()->setCurrentIndex(ui::RunsView::ParallelCoordinates);  // replotted at the shown size
    return view.findChild<QWidget*>("runsPlot");
}

class GuiModelsTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // The Runs tab's table and scatter: sorting by numbers, the text filter (also of the points), the log axis only
    // for positive values, a key with a text value not plotted, the selection kept across a reload, the CSV.
    void runsViewTableAndScatter() {
        const auto row = runRow;
        const auto table = [&](std::optional<double> hmOfC) {
            return makeRunsTable({row("/runs/a", {{"train.lr", "0.002"}, {"method.n_ctx_text", "4"}, {"method.ctx_init", "a photo of a"}}, 70.0),
                                  row("/runs/b", {{"train.lr", "5e-4"}, {"method.n_ctx_text", "4"}, {"method.ctx_init", "X X X X"}}, 74.0),
                                  row("/runs/c", {{"train.lr", "0.02"}, {"method.n_ctx_text", "8"}, {"method.ctx_init", "X X X X"}}, hmOfC),
                                  row("/runs/d", {{"train.lr", "0.004"}, {"method.n_ctx_text", "8"}, {"method.ctx_init", "a photo of a"}}, 72.0)});
        };
        ui::RunsView view;
        QAbstractItemModelTester tester(view.model(), QAbstractItemModelTester::FailureReportingMode::Fatal);
        view.setTable(table(std::nullopt));
        auto* m = view.model();
        QCOMPARE(m->columnCount(), ui::RunsTableModel::FixedColumns + ui::RunsTableModel::FigureCount + 3);
        // Plotted against the key with the most distinct values (train.lr); the text key is not offered.
        QCOMPARE(view.plotKeyBox()->count(), 2);
        QCOMPARE(view.plotKeyBox()->currentText(), QString("train.lr"));
        QCOMPARE(view.plotKeyBox()->findText("method.ctx_init"), -1);
        QCOMPARE(view.plottedPoints(), (QVector<QPointF>{{0.002, 70.0}, {0.0005, 74.0}, {0.004, 72.0}}));  // c has no HM
        QVERIFY(view.logXBox()->isEnabled());
        // Sorted by train.lr as numbers (as text, "5e-4" would come first).
        view.table()->sortByColumn(m->keyColumn(0), Qt::DescendingOrder);
        QStringList order;
        for (int r = 0; r < view.proxy()->rowCount(); ++r) order << view.proxy()->index(r, 0).data().toString();
        QCOMPARE(order, (QStringList{"c", "d", "a", "b"}));
        view.table()->sortByColumn(m->figureColumn(ui::RunsTableModel::Hm), Qt::DescendingOrder);
        QCOMPARE(view.proxy()->index(0, 0).data().toString(), QString("b"));
        QCOMPARE(view.proxy()->index(3, 0).data().toString(), QString("c"));  // no HM: last
        QVERIFY(view.proxy()->index(0, 0).data(Qt::FontRole).value<QFont>().bold());
        // The filter narrows the rows and the points.
        view.filterEdit()->setText("photo");
        QCOMPARE(view.proxy()->rowCount(), 2);
        QCOMPARE(view.plottedPoints().size(), 2);
        QVERIFY2(view.summaryText().startsWith("4 runs, 2 shown, 3 keys differ; best HM: b (74.00)"), qPrintable(view.summaryText()));
        view.filterEdit()->clear();
        // The other figure and key.
        view.plotKeyBox()->setCurrentText("method.n_ctx_text");
        view.plotFigureBox()->setCurrentIndex(ui::RunsTableModel::Base);
        QVERIFY(view.plottedPoints().isEmpty());  // no base accuracy in these rows
        QVERIFY(view.plotMessage().contains("No shown run has this figure"));
        view.plotFigureBox()->setCurrentIndex(ui::RunsTableModel::Hm);
        QCOMPARE(view.plottedPoints().size(), 3);

        // Tags are edited in the cell, the note through setData (a dialog in the window); a folder that cannot take
        // notes.json leaves the row as it was and says why.
        QVERIFY(m->flags(m->index(0, ui::RunsTableModel::ColTags)) & Qt::ItemIsEditable);
        QVERIFY(!(m->flags(m->index(0, ui::RunsTableModel::ColNote)) & Qt::ItemIsEditable));
        QSignalSpy failed(m, &ui::RunsTableModel::notesFailed);
        QVERIFY(!m->setData(m->index(0, ui::RunsTableModel::ColTags), "baseline"));  // /runs/a does not exist
        QCOMPARE(failed.count(), 1);
        QVERIFY2(failed.at(0).at(0).toString().contains("/runs/a/notes.json"), qPrintable(failed.at(0).at(0).toString()));
        QVERIFY(m->index(0, ui::RunsTableModel::ColTags).data().toString().isEmpty());
        QVERIFY(!m->setData(m->index(0, ui::RunsTableModel::ColRun), "x"));

        // The scatter as an image.
        const QString png = QDir(test::tempDir()).filePath("runs_scatter.png");
        QCOMPARE(view.saveImage(png), QString());
        QVERIFY(!QImage(png).isNull());
        // A reload keeps the selection (by folder) and the chosen key; c has an HM now and is plotted.
        view.selectFolder("/runs/d");
        view.setTable(table(76.0));
        QCOMPARE(view.selectedFolders(), QStringList{"/runs/d"});
        QCOMPARE(view.plotKeyBox()->currentText(), QString("method.n_ctx_text"));
        QCOMPARE(view.plottedPoints().size(), 4);
        QVERIFY(view.summaryText().contains("best HM: c (76.00)"));

        // The runtime as the x of the scatter (HM against what it cost), offered where two runs or more have one,
        // chosen by itself only where no key is a number.
        {
            auto timed = table(76.0);
            const double runtimes[] = {120.5, 60.0, 3600.0};
            for (std::size_t i = 0; i < 3; ++i) timed.rows[i].status.runtime = runtimes[i];
            view.setTable(timed);
            QCOMPARE(view.plotKeyBox()->currentText(), QString("method.n_ctx_text"));
            const int runtime = view.plotKeyBox()->findText("runtime (s)");
            QVERIFY(runtime >= 0);
            QCOMPARE(view.plotKeyBox()->itemData(runtime).toInt(), ui::RunsView::kRuntimeKey);
            view.plotKeyBox()->setCurrentIndex(runtime);
            // In the table's order (sorted by HM above); d has none.
            QCOMPARE(view.plottedPoints(), (QVector<QPointF>{{3600.0, 76.0}, {60.0, 74.0}, {120.5, 70.0}}));
            timed.rows[1].status.runtime.reset();
            timed.rows[2].status.runtime.reset();
            view.setTable(timed);
            QCOMPARE(view.plotKeyBox()->findText("runtime (s)"), -1);  // one run's runtime: nothing to compare
        }

        // A zero or negative value: no log axis.
        view.setTable(makeRunsTable({row("/runs/a", {{"train.weight_decay", "0"}}, 1.0), row("/runs/b", {{"train.weight_decay", "0.0005"}}, 2.0)}));
        QVERIFY(!view.logXBox()->isEnabled());
        view.setTable(makeRunsTable({row("/runs/a", {}, 1.0)}));
        QVERIFY(view.saveImage(png).startsWith("Nothing to save"));

        // The CSV is core's.
        const QString csv = QDir(test::tempDir()).filePath("runs_table.csv");
        QCOMPARE(view.exportCsv(csv), QString());
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll().toStdString(), runsTableCsvText(view.model()->table()));
        QVERIFY(view.exportCsv(QDir(test::tempDir()).filePath("no/such/folder/x.csv")).startsWith("Cannot write"));
    }

    // In a locale with decimal commas, numbers in files stay "70.00": the studio keeps LC_NUMERIC at "C" (as the
    // command line is), and the runs table's own formatting and parsing do not depend on it.
    void numbersIgnoreTheUsersLocale() {
        const QString dir = QDir(test::tempDir()).filePath("locale");
        if (const QString why = test::buildDecimalCommaLocale(dir); !why.isEmpty()) QSKIP(qPrintable(why));
        qputenv("LOCPATH", dir.toLocal8Bit());
        struct Restore {
            ~Restore() {
                std::setlocale(LC_NUMERIC, "C");
                qunsetenv("LOCPATH");
            }
        } restore;
        if (!std::setlocale(LC_NUMERIC, "de_DE.UTF-8")) QSKIP("the de_DE.UTF-8 locale built here does not load");
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", 70.0);
        QCOMPARE(QString(buf), QString("70,00"));  // the trap
        // The runs table's CSV and number parsing, even without the studio's setting.
        RunsTableRow r;
        r.status.folder = "/runs/a";
        r.status.hm = 70.0;
        r.config = {{"train.lr", "0.002"}};
        RunsTableRow r2 = r;
        r2.status.folder = "/runs/b";
        r2.config = {{"train.lr", "0.004"}};
        const RunsTable t = makeRunsTable({r, r2});
        QVERIFY2(QString::fromStdString(runsTableCsvText(t)).contains(",0.002,,,70.00,"), runsTableCsvText(t).c_str());
        QCOMPARE(ui::RunsTableModel::number("0.002").value_or(0), 0.002);
        // What caspl-studio does right after making its QApplication.
        ui::keepCNumericLocale();
        std::snprintf(buf, sizeof buf, "%.2f", 70.0);
        QCOMPARE(QString(buf), QString("70.00"));
    }

    // The Runs tab reads its folders on a worker thread: a read asked for meanwhile replaces the one under way (only
    // its table is shown), and a view closed while reading drops the result.
    void runsViewReadsOffTheGuiThread() {
        ui::RunsView view;
        QSignalSpy read(&view, &ui::RunsView::tableRead);
        view.setFolders({"/no/such/run_a", "/no/such/run_b"});
        QVERIFY(view.reading());
        QVERIFY(view.statusText().startsWith("Reading 2 run folders"));
        view.setFolders({"/no/such/run_c"});
        QVERIFY(read.wait());
        QVERIFY(!view.reading());
        QCOMPARE(read.count(), 1);
        QCOMPARE(view.model()->rowCount(), 1);
        QCOMPARE(view.model()->table().rows[0].status.folder, std::string("/no/such/run_c"));
        QCOMPARE(view.model()->table().rows[0].status.state, std::string("unreadable"));  // a row, with the reason
        // A tag edited while a read is under way: that read is not shown (it may hold the notes from before), the
        // folders are read again.
        const int started = view.readsStarted();
        view.setFolders({"/no/such/run_c"});  // the same folder: a read that stays valid
        QCOMPARE(view.readsStarted(), started + 1);
        view.setTable(view.model()->table());  // as an edit does to the table on screen
        QVERIFY(read.wait());
        QCOMPARE(read.count(), 2);  // one table shown for the two reads
        QCOMPARE(view.readsStarted(), started + 2);  // the edited-over read was read again, not shown
        QVERIFY(!view.reading());
        // Refreshes of the same folders while a read runs: it is shown (not dropped), then read once more.
        view.setFolders({"/no/such/run_c"});
        view.setFolders({"/no/such/run_c"});
        view.setFolders({"/no/such/run_c"});
        QVERIFY(read.wait());
        QCOMPARE(read.count(), 3);
        QVERIFY(read.wait());
        QCOMPARE(read.count(), 4);
        QCOMPARE(view.readsStarted(), started + 4);
        // A view closed while it reads: the result arrives for a view that is gone and is dropped (no crash; the
        // tests run under the address sanitizer nowhere, so this shows only that nothing is touched visibly).
        auto* closed = new ui::RunsView;
        closed->setFolders({"/no/such/run_d"});
        delete closed;
        QThreadPool::globalInstance()->waitForDone();
        QCoreApplication::processEvents();
        QCOMPARE(read.count(), 4);
    }

    // The Runs tab's parallel coordinates: an axis per differing key and the figure's last, a line per shown run
    // through its values (a gap where it has no figure), the filter narrowing lines and axes, a click on a line
    // selecting its run, the image, and back to the scatter.
    void runsViewParallelCoordinates() {
        const auto row = runRow;
        ui::RunsView view;
        view.resize(1000, 700);
        view.setTable(makeRunsTable({row("/runs/a", {{"train.lr", "0.002"}, {"method.n_ctx_text", "4"}, {"method.ctx_init", "a photo of a"}}, 70.0),
                                     row("/runs/b", {{"train.lr", "5e-4"}, {"method.n_ctx_text", "4"}, {"method.ctx_init", "X X X X"}}, 74.0),
                                     row("/runs/c", {{"train.lr", "0.02"}, {"method.n_ctx_text", "8"}, {"method.ctx_init", "X X X X"}}, std::nullopt),
                                     row("/runs/d", {{"train.lr", "0.004"}, {"method.n_ctx_text", "8"}, {"method.ctx_init", "a photo of a"}}, 72.0)}));
        QVERIFY(view.parallelLines().isEmpty());  // the scatter first
        view.plotKindBox()->setCurrentIndex(ui::RunsView::ParallelCoordinates);
        QVERIFY(view.plottedPoints().isEmpty());
        QVERIFY(view.plotKeyBox()->isHidden());
        QVERIFY(view.logXBox()->isHidden());
        QCOMPARE(view.plotMessage(), QString());
        const auto& axes = view.parallelAxes();
        QCOMPARE(axes.size(), std::size_t(4));
        QCOMPARE(axes[0].name, std::string("train.lr"));
        QCOMPARE(axes[2].name, std::string("method.ctx_init"));
        QCOMPARE(axes[3].name, std::string("HM (%)"));
        QCOMPARE(view.parallelFolders(), (QStringList{"/runs/a", "/runs/b", "/runs/c", "/runs/d"}));
        const auto lines = view.parallelLines();
        // Positions equal to the last bits or so; NaN where a run has no point.
        const auto same = [](const QVector<double>& a, const QVector<double>& b) {
            if (a.size() != b.size()) return false;
            for (int i = 0; i < a.size(); ++i)
                if (std::isnan(a[i]) != std::isnan(b[i]) || (!std::isnan(a[i]) && std::abs(a[i] - b[i]) > 1e-12)) return false;
            return true;
        };
        const double l4 = std::log(4.0) / std::log(40.0), l8 = std::log(8.0) / std::log(40.0);  // lr on a log axis
        QVERIFY(same(lines[0], QVector<double>{l4, 0.0, 1.0, 0.0}));  // "X X X X" sorts before "a photo of a"
        QVERIFY(same(lines[1], QVector<double>{0.0, 0.0, 0.0, 1.0}));
        QVERIFY(same(lines[2].mid(0, 3), QVector<double>{1.0, 1.0, 0.0}));
        QVERIFY(std::isnan(lines[2][3]));  // no HM yet: no point on the figure's axis
        QVERIFY(same(lines[3], QVector<double>{l8, 1.0, 1.0, 0.5}));
        // Another figure: its axis, the lines' last positions.
        view.plotFigureBox()->setCurrentIndex(ui::RunsTableModel::Base);
        QCOMPARE(view.parallelAxes().back().name, std::string("Base (%)"));
        QVERIFY(std::isnan(view.parallelLines()[0][3]));  // no base accuracy in these rows
        view.plotFigureBox()->setCurrentIndex(ui::RunsTableModel::Hm);
        // The filter: the shown runs only, their axes' ranges.
        view.filterEdit()->setText("photo");
        QCOMPARE(view.parallelFolders(), (QStringList{"/runs/a", "/runs/d"}));
        QVERIFY(same(view.parallelLines()[0], QVector<double>{0.0, 0.0, 0.5, 0.0}));  // lr 0.002..0.004: linear
        QVERIFY(same(view.parallelLines()[1], QVector<double>{1.0, 1.0, 0.5, 1.0}));
        view.filterEdit()->clear();

        // A click on d's line halfway between the second and third axes selects d.
        QWidget* plot = showParallelCoordinates(view);
        QVERIFY(plot);
        const QPointF at = view.plotPixel(1.5, 1.0);  // d: n_ctx 8 (1.0) to "a photo of a" (1.0)
        QTest::mouseClick(plot, Qt::LeftButton, {}, at.toPoint());
        QCOMPARE(view.selectedFolders(), QStringList{"/runs/d"});
        QTest::mouseClick(plot, Qt::LeftButton, {}, view.plotPixel(0.5, 0.0).toPoint());  // b: lr 5e-4 (0) to n_ctx 4 (0)
        QCOMPARE(view.selectedFolders(), QStringList{"/runs/b"});

        // Brushing: a drag along the n_ctx axis (4 at 0, 8 at 1) from 0.8 to past the top picks the runs with 7.2 to
        // 8 there, c and d, and selects them in the table.
        QVERIFY(view.plotMessage().isEmpty());
        QCOMPARE(view.brushedFolders(), (QStringList{"/runs/a", "/runs/b", "/runs/c", "/runs/d"}));  // no range yet
        QTest::mousePress(plot, Qt::LeftButton, {}, view.plotPixel(1.0, 0.8).toPoint());
        QTest::mouseMove(plot, view.plotPixel(1.0, 0.9).toPoint());
        QTest::mouseRelease(plot, Qt::LeftButton, {}, view.plotPixel(1.0, 1.04).toPoint());
        QCOMPARE(view.parallelBrushes().size(), std::size_t(1));
        QCOMPARE(view.parallelBrushes()[0].axis, std::string("method.n_ctx_text"));
        QVERIFY(std::abs(view.parallelBrushes()[0].low - 7.2) < 0.1);
        QCOMPARE(view.parallelBrushes()[0].high, 8.0);
        QCOMPARE(view.brushedFolders(), (QStringList{"/runs/c", "/runs/d"}));
        QCOMPARE(view.selectedFolders(), (QStringList{"/runs/c", "/runs/d"}));
        QVERIFY2(view.findChild<QLabel*>("runsPlotNote")->text().startsWith("2 of 4 runs in the brushed range"),
                 qPrintable(view.findChild<QLabel*>("runsPlotNote")->text()));
        // A second range, on HM (70 at 0, 74 at 1): from 72 up, b and d; with the first, d alone (c has no HM).
        view.brushParallelAxis(3, 0.5, 1.0);
        QCOMPARE(view.brushedFolders(), QStringList{"/runs/d"});
        QCOMPARE(view.selectedFolders(), QStringList{"/runs/d"});
        // The ranges are values: a filter that rebuilds the axes from a and d keeps d in them, and a out.
        view.filterEdit()->setText("photo");
        QCOMPARE(view.brushedFolders(), QStringList{"/runs/d"});
        QCOMPARE(view.parallelFolders(), (QStringList{"/runs/a", "/runs/d"}));
        view.filterEdit()->clear();
        // A click on the n_ctx axis, without a drag, clears its range: HM's alone picks b and d.
        QTest::mouseClick(plot, Qt::LeftButton, {}, view.plotPixel(1.0, 0.3).toPoint());
        QCOMPARE(view.parallelBrushes().size(), std::size_t(1));
        QCOMPARE(view.brushedFolders(), (QStringList{"/runs/b", "/runs/d"}));
        // Another figure drops the HM axis: its range does nothing while it is not drawn, and comes back with it.
        view.plotFigureBox()->setCurrentIndex(ui::RunsTableModel::Base);
        QCOMPARE(view.brushedFolders().size(), 4);
        view.plotFigureBox()->setCurrentIndex(ui::RunsTableModel::Hm);
        QCOMPARE(view.brushedFolders(), (QStringList{"/runs/b", "/runs/d"}));
        view.clearParallelBrush(-1);
        QVERIFY(view.parallelBrushes().empty());
        QCOMPARE(view.brushedFolders().size(), 4);

        const QString png = QDir(test::tempDir()).filePath("runs_parallel.png");
        QCOMPARE(view.saveImage(png), QString());
        QVERIFY(!QImage(png).isNull());
        // Back to the scatter: its points and controls.
        view.plotKindBox()->setCurrentIndex(ui::RunsView::Scatter);
        QVERIFY(view.parallelLines().isEmpty());
        QVERIFY(!view.plotKeyBox()->isHidden());
        QCOMPARE(view.plottedPoints().size(), 3);
        // Nothing differs: nothing to draw, and why.
        view.plotKindBox()->setCurrentIndex(ui::RunsView::ParallelCoordinates);
        view.setTable(makeRunsTable({row("/runs/a", {{"train.lr", "0.002"}}, 1.0), row("/runs/b", {{"train.lr", "0.002"}}, 2.0)}));
        QVERIFY(view.parallelLines().isEmpty());
        QVERIFY(view.plotMessage().contains("No configuration key differs"));
        QVERIFY(view.saveImage(png).startsWith("Nothing to save"));
    }

    // The parallel coordinates' axes moved and hidden, as in W&B: by the view's functions, by a label dragged sideways
    // and by an axis's right-click menu; the lines follow their axes, the figure's axis stays last, the order holds
    // by name while the keys drawn change, a hidden axis loses its range, and with every key hidden the note says how
    // to show them.
    void runsViewParallelAxesMoveAndHide() {
        const auto row = runRow;
        const auto table = [&row](bool nCtxDiffers) {
            return makeRunsTable({row("/runs/a", {{"train.lr", "0.002"}, {"method.n_ctx_text", "4"}, {"method.ctx_init", "a photo of a"}}, 70.0),
                                  row("/runs/b", {{"train.lr", "5e-4"}, {"method.n_ctx_text", "4"}, {"method.ctx_init", "X X X X"}}, 74.0),
                                  row("/runs/d", {{"train.lr", "0.004"}, {"method.n_ctx_text", nCtxDiffers ? "8" : "4"}, {"method.ctx_init", "a photo of a"}}, 72.0)});
        };
        ui::RunsView view;
        view.resize(1000, 700);
        view.setTable(table(true));
        view.plotKindBox()->setCurrentIndex(ui::RunsView::ParallelCoordinates);
        const auto names = [&view] {
            QStringList out;
            for (const auto& a : view.parallelAxes()) out << QString::fromStdString(a.name);
            return out;
        };
        QCOMPARE(names(), (QStringList{"train.lr", "method.n_ctx_text", "method.ctx_init", "HM (%)"}));
        const auto before = view.parallelLines();
        QCOMPARE(before.size(), 3);
        view.moveParallelAxis(0, 2);
        QCOMPARE(names(), (QStringList{"method.n_ctx_text", "method.ctx_init", "train.lr", "HM (%)"}));
        for (int l = 0; l < before.size(); ++l)  // each run's positions moved with their axes
            QCOMPARE(view.parallelLines()[l], (QVector<double>{before[l][1], before[l][2], before[l][0], before[l][3]}));
        view.moveParallelAxis(3, 0);  // the figure's axis does not move
        view.moveParallelAxis(2, 9);  // past the end: the last key's place
        QCOMPARE(names(), (QStringList{"method.n_ctx_text", "method.ctx_init", "train.lr", "HM (%)"}));
        // Runs where n_ctx_text does not differ: no axis for it; it comes back first with runs where it does.
        view.setTable(table(false));
        QCOMPARE(names(), (QStringList{"method.ctx_init", "train.lr", "HM (%)"}));
        view.setTable(table(true));
        QCOMPARE(names(), (QStringList{"method.n_ctx_text", "method.ctx_init", "train.lr", "HM (%)"}));
        // A move while n_ctx_text is not drawn leaves it where it was among the others.
        view.setTable(table(false));
        view.moveParallelAxis(1, 0);
        QCOMPARE(names(), (QStringList{"train.lr", "method.ctx_init", "HM (%)"}));
        view.setTable(table(true));
        QCOMPARE(names(), (QStringList{"method.n_ctx_text", "train.lr", "method.ctx_init", "HM (%)"}));
        view.moveParallelAxis(1, 2);
        QCOMPARE(names(), (QStringList{"method.n_ctx_text", "method.ctx_init", "train.lr", "HM (%)"}));

        // Hidden: the axis and its range go; the lines lose its position.
        view.brushParallelAxis(2, 0.3, 1.0);  // lr from about 0.0015 up: a and d
        QCOMPARE(view.brushedFolders(), (QStringList{"/runs/a", "/runs/d"}));
        view.hideParallelAxis(2);
        QCOMPARE(names(), (QStringList{"method.n_ctx_text", "method.ctx_init", "HM (%)"}));
        QCOMPARE(view.hiddenParallelAxes(), QStringList{"train.lr"});
        QVERIFY(view.parallelBrushes().empty());
        QCOMPARE(view.brushedFolders().size(), 3);
        QCOMPARE(view.parallelLines()[0].size(), 3);

        // The menu of an axis: move, hide; off the axes: show the hidden ones, reset.
        const auto trigger = [](QMenu& menu, const QString& text) {
            for (QAction* a : menu.actions())
                if (a->text().remove(QLatin1Char('&')).startsWith(text) && a->isEnabled()) {
                    a->trigger();
                    return true;
                }
            return false;
        };
        {
            QMenu menu;
            view.fillAxisMenu(&menu, 0);
            QVERIFY(!trigger(menu, "Move method.n_ctx_text Left"));  // the first axis: disabled
            QVERIFY(trigger(menu, "Move method.n_ctx_text Right"));
        }
        QCOMPARE(names(), (QStringList{"method.ctx_init", "method.n_ctx_text", "HM (%)"}));
        {
            QMenu menu;
            view.fillAxisMenu(&menu, 2);  // the figure's axis: nothing to move or hide
            QVERIFY(!trigger(menu, "Move"));
            QVERIFY(!trigger(menu, "Hide"));
            QVERIFY(trigger(menu, "Show All Axes"));
        }
        QCOMPARE(names(), (QStringList{"method.ctx_init", "method.n_ctx_text", "train.lr", "HM (%)"}));
        QVERIFY(view.hiddenParallelAxes().isEmpty());

        // A label dragged sideways: ctx_init's, from the first place to the third.
        QWidget* plot = showParallelCoordinates(view);
        QVERIFY(plot);
        const int labelY = int(view.plotPixel(0, -0.06).y()) + 10;  // just below the plot's bottom
        QTest::mousePress(plot, Qt::LeftButton, {}, QPoint(int(view.plotPixel(0, 0).x()), labelY));
        QTest::mouseMove(plot, QPoint(int(view.plotPixel(1.2, 0).x()), labelY));
        QTest::mouseRelease(plot, Qt::LeftButton, {}, QPoint(int(view.plotPixel(1.9, 0).x()), labelY));
        QCOMPARE(names(), (QStringList{"method.n_ctx_text", "train.lr", "method.ctx_init", "HM (%)"}));
        QVERIFY(view.parallelBrushes().empty());  // a drag on a label picks no range
        // A click on a label without a drag moves nothing.
        QTest::mouseClick(plot, Qt::LeftButton, {}, QPoint(int(view.plotPixel(0, 0).x()), labelY));
        QCOMPARE(names(), (QStringList{"method.n_ctx_text", "train.lr", "method.ctx_init", "HM (%)"}));

        // Every key hidden: nothing drawn, and how to show them.
        view.hideParallelAxis(0);
        view.hideParallelAxis(0);
        view.hideParallelAxis(0);
        QVERIFY(view.parallelLines().isEmpty());
        QVERIFY2(view.plotMessage().contains("Show All Axes"), qPrintable(view.plotMessage()));
        view.resetParallelAxes();
        QCOMPARE(names(), (QStringList{"train.lr", "method.n_ctx_text", "method.ctx_init", "HM (%)"}));
        QMenu menu;
        view.fillAxisMenu(&menu, -1);
        QVERIFY(menu.isEmpty());  // nothing moved, hidden or brushed: no menu
    }

    // The Runs tab's correlation bars: core's keyCorrelations over the shown runs, strongest first; the filter
    // narrows them; a click on a numeric key's bar shows the scatter against that key.
    void runsViewCorrelation() {
        const auto row = [](const char* folder, const char* lr, const char* ctx, const char* student, std::optional<double> hm) {
            return runRow(folder, {{"train.lr", lr}, {"method.n_ctx_text", ctx}, {"model.student", student}}, hm);
        };
        ui::RunsView view;
        view.resize(1000, 700);
        view.setTable(makeRunsTable({row("/runs/a", "0.001", "4", "B/16", 70.0), row("/runs/b", "0.002", "4", "B/32", 72.0),
                                     row("/runs/c", "0.004", "8", "B/16", 75.0), row("/runs/d", "0.008", "8", "B/32", 74.0)}));
        view.plotKindBox()->setCurrentIndex(ui::RunsView::Correlation);
        QVERIFY(view.plotKeyBox()->isHidden());
        const auto& c = view.correlations();
        QCOMPARE(c.size(), std::size_t(3));
        QCOMPARE(c[0].key, std::string("method.n_ctx_text"));
        QCOMPARE(c[1].key, std::string("train.lr"));
        QCOMPARE(c[1].value, 0.8);
        QCOMPARE(c[2].key, std::string("model.student"));
        QCOMPARE(view.plotMessage(), QString());
        // Another figure: none of these runs has a base accuracy.
        view.plotFigureBox()->setCurrentIndex(ui::RunsTableModel::Base);
        QVERIFY(view.correlations().empty());
        QVERIFY(view.plotMessage().startsWith("No correlation yet"));
        view.plotFigureBox()->setCurrentIndex(ui::RunsTableModel::Hm);
        // Two shown runs are too few.
        view.filterEdit()->setText("B/16");
        QVERIFY(view.correlations().empty());
        view.filterEdit()->clear();
        QCOMPARE(view.correlations().size(), std::size_t(3));

        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        view.plotKindBox()->setCurrentIndex(ui::RunsView::Scatter);
        view.plotKindBox()->setCurrentIndex(ui::RunsView::Correlation);  // laid out at the shown size
        QWidget* plot = view.findChild<QWidget*>("runsPlot");
        // train.lr's bar is the second from the top (height 1 of 0..2), from 0 to 0.8.
        QTest::mouseClick(plot, Qt::LeftButton, {}, view.plotPixel(0.4, 1.0).toPoint());
        QCOMPARE(view.plotKindBox()->currentData().toInt(), int(ui::RunsView::Scatter));
        QCOMPARE(view.plotKeyBox()->currentText(), QString("train.lr"));
        QCOMPARE(view.plottedPoints().size(), 4);
        // The text key's bar does not switch (no scatter against text).
        view.plotKindBox()->setCurrentIndex(ui::RunsView::Correlation);
        QTest::mouseClick(plot, Qt::LeftButton, {}, view.plotPixel(0.05, 0.0).toPoint());
        QCOMPARE(view.plotKindBox()->currentData().toInt(), int(ui::RunsView::Correlation));
        const QString png = QDir(test::tempDir()).filePath("runs_correlation.png");
        QCOMPARE(view.saveImage(png), QString());
        QVERIFY(!QImage(png).isNull());
    }

    // A figure that is exactly halfway (12.125 = 97 of 800) reads the same in the studio as in results.csv's
    // consumers, `caspl status` and the paper tables: rounded to even, as printf and Python do ("12.12"), not away
    // from zero as Qt 6.4's QString::number does ("12.13").
    void figuresRoundAsTheTablesDo() {
        QCOMPARE(QString::fromStdString(fixedText(12.125, 2)), QString("12.12"));
        QCOMPARE(QString::fromStdString(fixedText(0.375, 2)), QString("0.38"));
        QCOMPARE(ui::signedNumber(-0.125), QString("\u22120.12"));
        // Durations as the Runs table shows a run's runtime.
        QCOMPARE(ui::durationText(42.4), QString("42 s"));
        QCOMPARE(ui::durationText(59.6), QString("1:00"));
        QCOMPARE(ui::durationText(725), QString("12:05"));
        QCOMPARE(ui::durationText(3725), QString("1:02:05"));
        QCOMPARE(ui::durationText(90000), QString("25:00:00"));
        QCOMPARE(ui::durationText(-3), QString("0 s"));
        std::vector<ResultRecord> records{test::resultRecord("synth", "coop", 2, 1, "base", 97, 800),
                                          test::resultRecord("synth", "coop", 2, 1, "novel", 3, 8)};
        QCOMPARE(records[0].accuracy, 12.125);  // exactly
        ui::ResultsModel m;
        m.setRunRecords("/runs/a", records, Rounding::None, {});
        QCOMPARE(cell(&m, 0, ui::ResultsModel::ColBase), QString("12.12"));
        QCOMPARE(cell(&m, 0, ui::ResultsModel::ColNovel), QString("37.50"));
        const std::string table = paperTablesText(m.combinedSummary(), TableFormat::Markdown);
        QVERIFY2(table.find("| 12.12 |") != std::string::npos, table.c_str());
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", 12.125);
        QCOMPARE(QString(buf), QString("12.12"));  // what `caspl status` prints
    }

    void runQueueModel() {
        RunQueueModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::Fatal);
        ExperimentSpec s;
        s.name = "dtd";
        s.data.datasets = {"DescribableTextures"};
        s.data.seeds = {1, 2};
        s.phase1.enabled = true;
        const int a = m.addJob(s, "/runs/dtd");
        const int b = m.addJob(s, "/runs/dtd2");
        QCOMPARE(m.rowCount(), 2);
        QCOMPARE(m.nextQueued(), a);
        QCOMPARE(m.job(a)->unitsTotal, 3);  // phase 1 + two seeds
        m.setState(a, ui::RunState::Running);
        QCOMPARE(m.runningJob(), a);
        QVERIFY(!m.removeJob(a));  // not while it runs
        ProgressEvent e{"dtd", "phase1", 1, 2, 5, 10, 1.0, 1.0, "dtd", 0, 0};
        m.applyProgress(a, e);
        QCOMPARE(cell(&m, 0, RunQueueModel::ColPhase), QString("phase1"));
        QCOMPARE(cell(&m, 0, RunQueueModel::ColEpoch), QString("1/2"));
        QVERIFY(m.index(0, RunQueueModel::ColProgress).data(RunQueueModel::ProgressRole).toDouble() > 0.1);
        e.step = 10;
        m.applyProgress(a, e);  // phase 1 finished: a third of the run
        QCOMPARE(m.job(a)->unitsDone, 1);
        m.applyProgress(a, e);  // the same last step again does not count twice
        QCOMPARE(m.job(a)->unitsDone, 1);
        QCOMPARE(cell(&m, 0, RunQueueModel::ColProgress), QString("33%"));
        m.setPhase(a, "skipped");  // a seed done in an earlier session
        QCOMPARE(m.job(a)->unitsDone, 2);
        m.setState(a, ui::RunState::Done);
        QCOMPARE(cell(&m, 0, RunQueueModel::ColProgress), QString("100%"));
        QCOMPARE(m.index(0, RunQueueModel::ColState).data(RunQueueModel::SortRole).toInt(), int(ui::RunState::Done));
        m.setState(b, ui::RunState::Failed, "out of memory");
        QCOMPARE(m.index(1, 0).data(Qt::ToolTipRole).toString(), QString("out of memory"));
        QCOMPARE(m.removeFinished(), QList<int>({a}));
        QCOMPARE(m.rowCount(), 1);
        QVERIFY(m.removeJob(b));
        QCOMPARE(m.rowCount(), 0);
        QCOMPARE(RunQueueModel::formatDuration(3725), QString("1 h 02 min"));
        QCOMPARE(RunQueueModel::formatDuration(65), QString("1 min 05 s"));
        QCOMPARE(RunQueueModel::formatDuration(-1), QString("–"));
    }

    void logModelAndFilter() {
        ui::LogModel m;
        ui::LogFilterProxy proxy;
        proxy.setSourceModel(&m);
        QAbstractItemModelTester t1(&m, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QAbstractItemModelTester t2(&proxy, QAbstractItemModelTester::FailureReportingMode::Fatal);
        m.append(LogLevel::Debug, "#1 a", "debug line");
        m.append(LogLevel::Info, "#1 a", "phase1: epoch 1/2");
        m.append(LogLevel::Warning, "#1 a", "skipped image x.png");
        m.append(LogLevel::Error, "#2 b", "out of memory\nsecond line");
        QCOMPARE(m.rowCount(), 4);
        QCOMPARE(proxy.rowCount(), 3);  // Info and above by default
        proxy.setMinimumLevel(LogLevel::Warning);
        QCOMPARE(proxy.rowCount(), 2);
        proxy.setText("memory");
        QCOMPARE(proxy.rowCount(), 1);
        QCOMPARE(cell(&proxy, 0, ui::LogModel::ColMessage), QString("out of memory …"));
        proxy.setText("#1");
        QCOMPARE(proxy.rowCount(), 1);  // the run column matches too
        proxy.setText({});
        proxy.setMinimumLevel(LogLevel::Debug);
        QCOMPARE(proxy.rowCount(), 4);
        m.setMaxLines(50);
        for (int i = 0; i < 60; ++i) m.append(LogLevel::Info, "r", "x");
        QVERIFY(m.rowCount() <= 50);
        QCOMPARE(m.line(m.rowCount() - 1).text, QString("x"));
        m.clear();
        QCOMPARE(m.rowCount(), 0);
    }

    // Published numbers (`reference:`) show as a row after the results they compare with, each value with this
    // run's difference to it; the average row gets one when every dataset averaged has numbers.
    void resultsModelShowsTheReference() {
        ui::ResultsModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::Fatal);
        const ReferenceResult dtd{"DescribableTextures", "coop+caspl", 16, 82.57, 54.23, std::nullopt, 65.47, "CasPL, Fig. 3"};
        m.setRunRecords("/runs/a", twoDatasets(), Rounding::Paper, {dtd});
        // 2 datasets x (3 seeds + mean), DTD's reference after its mean row, the average row (EuroSAT has no
        // reference: the average has none)
        QCOMPARE(m.rowCount(), 10);
        QCOMPARE(cell(&m, 3, ui::ResultsModel::ColKind, ui::ResultsModel::KindRole), QString("mean"));
        QCOMPARE(cell(&m, 4, ui::ResultsModel::ColKind, ui::ResultsModel::KindRole), QString("reference"));
        QCOMPARE(cell(&m, 4, ui::ResultsModel::ColDataset), QString("DescribableTextures"));
        QCOMPARE(cell(&m, 4, ui::ResultsModel::ColSeed), QString("CasPL, Fig. 3"));
        QCOMPARE(cell(&m, 4, ui::ResultsModel::ColBase), QString("82.57 (\u22121.57)"));  // the run's 81.00 - 82.57
        QVERIFY(cell(&m, 4, ui::ResultsModel::ColBase, Qt::ToolTipRole).contains("CasPL, Fig. 3"));
        const double runBase = m.index(3, ui::ResultsModel::ColBase).data(ui::ResultsModel::SortRole).toDouble();
        const double runNovel = m.index(3, ui::ResultsModel::ColNovel).data(ui::ResultsModel::SortRole).toDouble();
        QCOMPARE(m.index(4, ui::ResultsModel::ColBase).data(ui::ResultsModel::DeltaRole).toDouble(), runBase - 82.57);
        QCOMPARE(m.index(4, ui::ResultsModel::ColNovel).data(ui::ResultsModel::DeltaRole).toDouble(), runNovel - 54.23);
        QCOMPARE(m.index(4, ui::ResultsModel::ColHm).data(ui::ResultsModel::SortRole).toDouble(), 65.47);  // published
        QCOMPARE(m.index(4, ui::ResultsModel::ColHm).data(ui::ResultsModel::DeltaRole).toDouble(),
                 harmonicMean(runBase, runNovel) - 65.47);
        QVERIFY(!m.index(4, ui::ResultsModel::ColAll).data(ui::ResultsModel::DeltaRole).isValid());
        QCOMPARE(cell(&m, 9, ui::ResultsModel::ColKind, ui::ResultsModel::KindRole), QString("average"));

        const ReferenceResult eurosat{"EuroSAT", "coop+caspl", 0, 92.19, 54.74, std::nullopt, std::nullopt, "CasPL, Fig. 3"};
        m.setRunRecords("/runs/a", twoDatasets(), Rounding::Paper, {dtd, eurosat});
        QCOMPARE(m.rowCount(), 12);
        QCOMPARE(cell(&m, 11, ui::ResultsModel::ColKind, ui::ResultsModel::KindRole), QString("reference"));
        QVERIFY(cell(&m, 11, ui::ResultsModel::ColDataset).contains("2 dataset"));
        QCOMPARE(m.index(11, ui::ResultsModel::ColBase).data(ui::ResultsModel::SortRole).toDouble(), (82.57 + 92.19) / 2);
        // The combined export keeps them (results.csv's reference rows).
        const auto rows = resultsCsvRows(m.combinedSummary());
        QCOMPARE(std::count_if(rows.begin(), rows.end(), [](const ResultsCsvRow& r) { return r.kind == "reference"; }), 3);
    }

    // The run's reference accuracy as lines across the accuracy plot: kept in view, shown and hidden with the run,
    // kept by Clear Plots, gone with the run.
    void plotPanelDrawsTheReference() {
        ui::PlotPanel panel;
        panel.setRunLabel(1, "a");
        panel.setReference(1, 82.57, 54.23, "CasPL, Fig. 3");
        QCOMPARE(panel.referenceValues(1), (QVector<double>{82.57, 54.23}));
        panel.addEvaluation(1, EvalRow{"a", "DescribableTextures", "coop", 1, "base", 10, 30, 30, 100, 0});
        panel.addEvaluation(1, EvalRow{"a", "DescribableTextures", "coop", 1, "novel", 10, 20, 20, 100, 0});
        panel.flush();
        const auto range = panel.valueRange(ui::PlotPanel::AccuracyPlot);
        QVERIFY2(range.second > 82.57 && range.first < 20, qPrintable(QStringLiteral("%1..%2").arg(range.first).arg(range.second)));
        QVERIFY(panel.referenceShown(1));
        panel.setRunVisible(1, false);
        QVERIFY(!panel.referenceShown(1));
        panel.setRunVisible(1, true);
        QVERIFY(panel.referenceShown(1));
        panel.clear();  // the points go, the reference stays
        QCOMPARE(panel.referenceValues(1).size(), 2);
        panel.setReference(1, 70.0, std::nullopt, "other");  // replaced, not added
        QCOMPARE(panel.referenceValues(1), QVector<double>{70.0});
        panel.setReference(2, std::nullopt, std::nullopt, {});
        QVERIFY(panel.referenceValues(2).isEmpty());
        panel.removeRun(1);
        QVERIFY(panel.referenceValues(1).isEmpty());
    }

    void resultsModelSortCopyExport() {
        ui::ResultsModel m;
        QAbstractItemModelTester t1(&m, QAbstractItemModelTester::FailureReportingMode::Fatal);
        ui::ResultsView view(&m);
        QAbstractItemModelTester t2(view.proxy(), QAbstractItemModelTester::FailureReportingMode::Fatal);
        m.setRunRecords("/runs/a", twoDatasets(), Rounding::Paper);
        // 2 datasets x (3 seeds + mean) + the average row
        QCOMPARE(m.rowCount(), 9);
        QCOMPARE(cell(&m, 3, ui::ResultsModel::ColKind, ui::ResultsModel::KindRole), QString("mean"));
        QCOMPARE(cell(&m, 3, ui::ResultsModel::ColBase), QString("81.00 ± 0.41"));  // 80.5, 81.0, 81.5
        QCOMPARE(cell(&m, 8, ui::ResultsModel::ColKind, ui::ResultsModel::KindRole), QString("average"));
        QVERIFY(cell(&m, 8, ui::ResultsModel::ColDataset).contains("2 dataset"));
        // HM of the mean rows = 2BN/(B+N) of the means.
        const double b = m.index(3, ui::ResultsModel::ColBase).data(ui::ResultsModel::SortRole).toDouble();
        const double n = m.index(3, ui::ResultsModel::ColNovel).data(ui::ResultsModel::SortRole).toDouble();
        QCOMPARE(m.index(3, ui::ResultsModel::ColHm).data(ui::ResultsModel::SortRole).toDouble(), harmonicMean(b, n));

        // Sorting by HM sorts numbers (not text): descending puts EuroSAT's best row first.
        view.table()->sortByColumn(ui::ResultsModel::ColHm, Qt::DescendingOrder);
        const auto* p = view.proxy();
        double prev = 1e9;
        for (int r = 0; r < p->rowCount(); ++r) {
            const QVariant v = p->index(r, ui::ResultsModel::ColHm).data(ui::ResultsModel::SortRole);
            QVERIFY(v.toDouble() <= prev);
            prev = v.toDouble();
        }
        QCOMPARE(cell(p, 0, ui::ResultsModel::ColDataset), QString("EuroSAT"));

        // Ctrl+C copies the selected cells as TSV.
        view.table()->sortByColumn(-1, Qt::AscendingOrder);
        auto* sel = view.table()->selectionModel();
        sel->select(p->index(0, ui::ResultsModel::ColDataset), QItemSelectionModel::Select);
        sel->select(p->index(0, ui::ResultsModel::ColBase), QItemSelectionModel::Select);
        sel->select(p->index(1, ui::ResultsModel::ColDataset), QItemSelectionModel::Select);
        sel->select(p->index(1, ui::ResultsModel::ColBase), QItemSelectionModel::Select);
        const QString tsv = view.table()->selectionAsTsv();
        QCOMPARE(tsv, QString("DescribableTextures\t80.50\nDescribableTextures\t81.00\n"));
        view.table()->setFocus();
        QTest::keyClick(view.table(), Qt::Key_C, Qt::ControlModifier);
        QCOMPARE(QApplication::clipboard()->text(), tsv);

        // Live rows, a second run, run filter, export.
        EvalRow row{"b", "EuroSAT", "coop", 1, "base", 10, 90.0, 90, 100, 0};
        m.addEvalRow("/runs/b", row, 16, Rounding::None);
        row.split = "novel";
        row.accuracy = 70.0;
        m.addEvalRow("/runs/b", row, 16, Rounding::None);
        m.addEvalRow("/runs/b", row, 16, Rounding::None);  // the same evaluation again replaces it
        QCOMPARE(m.records("/runs/b")->size(), std::size_t(2));
        QCOMPARE(m.runs(), QStringList({"/runs/a", "/runs/b"}));
        view.setCurrentRun("/runs/b");
        QCOMPARE(view.proxy()->rowCount(), 2);  // seed row + mean row
        const QString csv = QDir(test::tempDir()).filePath("export_b.csv");
        QCOMPARE(view.exportCsv(csv), QString());
        const auto rows = readResultsCsv(csv.toStdString());
        QVERIFY(!rows.empty());
        QCOMPARE(rows.front().dataset, std::string("EuroSAT"));
        // A finished run is shown alone until the user picks an entry of the Run box; then their choice stays.
        view.showFinishedRun("/runs/a");
        QCOMPARE(view.currentRun(), QString("/runs/a"));
        auto* runBox = view.findChild<QComboBox*>("resultsRunBox");
        QVERIFY(runBox);
        runBox->setCurrentIndex(0);
        Q_EMIT runBox->activated(0);  // as a click on "All runs"
        view.showFinishedRun("/runs/b");
        QCOMPARE(view.currentRun(), QString());
        view.setCurrentRun("");
        QCOMPARE(view.exportCsv(QDir(test::tempDir()).filePath("export_all.csv")), QString());  // no conflict: other method
        QVERIFY(view.exportCsv("/nonexistent-dir/x.csv").contains("writable"));
        // A new evaluation rebuilds the table: the selected cells stay on the same rows (matched by what they are).
        view.setCurrentRun("");
        sel->clearSelection();
        const QModelIndex eurosatSeed2 = [&] {
            for (int r = 0; r < p->rowCount(); ++r)
                if (cell(p, r, ui::ResultsModel::ColDataset) == "EuroSAT" && cell(p, r, ui::ResultsModel::ColSeed) == "2" &&
                    p->index(r, 0).data(ui::ResultsModel::RunRole).toString() == "/runs/a")
                    return p->index(r, ui::ResultsModel::ColNovel);
            return QModelIndex();
        }();
        QVERIFY(eurosatSeed2.isValid());
        const QString selectedText = eurosatSeed2.data().toString();
        sel->setCurrentIndex(eurosatSeed2, QItemSelectionModel::ClearAndSelect);
        // Seed 4 of DTD in the same run: its rows come before the selected EuroSAT row.
        m.addEvalRow("/runs/a", EvalRow{"a", "DescribableTextures", "coop+caspl", 4, "base", 10, 82.0, 820, 1000, 0}, 16,
                     Rounding::Paper);
        QCOMPARE(sel->selectedIndexes().size(), 1);
        QCOMPARE(sel->selectedIndexes().first().data().toString(), selectedText);
        QCOMPARE(sel->currentIndex().data().toString(), selectedText);
        QCOMPARE(cell(p, sel->currentIndex().row(), ui::ResultsModel::ColSeed), QString("2"));
        QVERIFY(sel->currentIndex().row() != eurosatSeed2.row());  // it moved, the selection followed
        m.removeRun("/runs/b");
        QCOMPARE(m.rowCount(), 10);  // run a, with DTD's seed 4
        m.clear();
        QCOMPARE(m.rowCount(), 0);
    }

    void compareModels() {
        ui::ConfigDiffModel cfg;
        ui::DiffOnlyFilter filter;
        filter.setSourceModel(&cfg);
        ui::MetricsCompareModel metrics;
        QSortFilterProxyModel sorted;
        sorted.setSourceModel(&metrics);
        sorted.setSortRole(ui::MetricsCompareModel::SortRole);
        QAbstractItemModelTester t1(&cfg, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QAbstractItemModelTester t2(&filter, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QAbstractItemModelTester t3(&metrics, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QAbstractItemModelTester t4(&sorted, QAbstractItemModelTester::FailureReportingMode::Fatal);

        const auto a = ui::flattenYaml("name: a\ntrain:\n  lr: 0.002\n  epochs: 10\ndata:\n  seeds: [1, 2, 3]\n", "a.yaml");
        const auto b = ui::flattenYaml("name: b\ntrain:\n  lr: 0.002\n  epochs: 5\ndata:\n  seeds: [1, 2, 3]\nextra: 1\n", "b.yaml");
        QCOMPARE(a.size(), std::size_t(4));
        QCOMPARE(a[3].first, QString("data.seeds"));
        QCOMPARE(a[3].second, QString("[1, 2, 3]"));
        cfg.setConfigs("/runs/a", a, "/runs/b", b);
        QCOMPARE(cfg.rowCount(), 5);
        QCOMPARE(cfg.differentKeys(), QStringList({"name", "train.epochs", "extra"}));
        QCOMPARE(filter.rowCount(), 5);
        filter.setDifferencesOnly(true);
        QCOMPARE(filter.rowCount(), 3);
        QCOMPARE(cell(&filter, 2, ui::ConfigDiffModel::ColA), QString("(absent)"));
        QVERIFY_THROWS_EXCEPTION(caspl::Error, ui::flattenYaml("a: [1, 2\n", "bad.yaml"));

        const auto sa = summarizeResults(twoDatasets(), Rounding::Paper);
        auto other = twoDatasets();
        for (auto& r : other) {
            r.method = "coop";
            if (r.split == "novel") r.correct -= 50;
            r.accuracy = accuracyPercent(r.correct, r.total);
        }
        const auto sb = summarizeResults(other, Rounding::Paper);
        metrics.setSummaries("/runs/a", sa, "/runs/b", sb);
        QCOMPARE(metrics.rowCount(), 3);  // two datasets + the average
        QVERIFY(cell(&metrics, 2, ui::MetricsCompareModel::ColDataset).startsWith("Average"));
        QVERIFY2(cell(&metrics, 0, ui::MetricsCompareModel::ColDelta).startsWith("-"),
                 qPrintable(cell(&metrics, 0, ui::MetricsCompareModel::ColDataset) + " " + cell(&metrics, 0, ui::MetricsCompareModel::ColHmA) + " " +
                            cell(&metrics, 0, ui::MetricsCompareModel::ColHmB) + " " + cell(&metrics, 0, ui::MetricsCompareModel::ColDelta)));  // B's novel is lower
        sorted.sort(ui::MetricsCompareModel::ColDelta, Qt::AscendingOrder);
        QVERIFY(sorted.index(0, ui::MetricsCompareModel::ColDelta).data(ui::MetricsCompareModel::SortRole).toDouble() <=
                sorted.index(1, ui::MetricsCompareModel::ColDelta).data(ui::MetricsCompareModel::SortRole).toDouble());
        metrics.clear();
        cfg.clear();
        QCOMPARE(metrics.rowCount(), 0);
    }

    // The per-class table of a run, alone and against a second run (matched by class name), per seed and as the
    // mean over seeds; sorted worst first; the CSV export; and what a run without per-class results says.
    void perClassDialog() {
        namespace fs = std::filesystem;
        const QString root = QDir(caspl::test::tempDir()).filePath("per_class_dialog");
        // Run A (CoOp) and B (CoOp + CasPL), two seeds, three novel classes of 10 images each.
        const auto write = [&](const QString& run, const std::string& method, int seed, const std::vector<int64_t>& correct,
                               const std::string& split = "novel") {
            PerClassEval e;
            e.dataset = "dtd";
            e.method = method;
            e.split = split;
            e.shots = 16;
            e.seed = seed;
            const char* names[] = {"banded", "blotchy", "braided"};
            for (std::size_t c = 0; c < 3; ++c) {
                ClassResult r{names[c], 10, correct[c], {}};
                if (correct[c] < 10) r.confusedWith = {{int64_t((c + 1) % 3), 10 - correct[c]}};
                e.classes.push_back(r);
            }
            const fs::path dir = fs::path(run.toStdString()) / "dtd" / ("k16_seed" + std::to_string(seed));
            fs::create_directories(dir);
            const fs::path file = dir / "per_class.json";
            auto evals = fs::exists(file) ? readPerClassJson(file.string()) : std::vector<PerClassEval>{};
            evals.push_back(e);
            writePerClassJson(file.string(), evals);
        };
        const QString a = root + "/coop", b = root + "/coop_caspl", empty = root + "/old";
        write(a, "coop", 1, {9, 4, 6});
        write(a, "coop", 2, {7, 6, 6});
        write(b, "coop+caspl", 1, {9, 8, 5});
        write(b, "coop+caspl", 2, {9, 8, 5});
        write(a, "coop", 1, {10, 10, 10}, "base");  // base classes: seed 1 only
        QDir().mkpath(empty);

        ui::PerClassDialog dlg;
        QAbstractItemModelTester t1(dlg.model(), QAbstractItemModelTester::FailureReportingMode::Fatal);
        QAbstractItemModelTester t2(dlg.sorted(), QAbstractItemModelTester::FailureReportingMode::Fatal);
        dlg.setRuns({a, b, empty});
        QCOMPARE(dlg.showRuns(a), QString());
        // Mean of two seeds, worst class first: blotchy 50 ± 10, braided 60 ± 0, banded 80 ± 10.
        QCOMPARE(dlg.model()->rowCount(), 3);
        const auto* s = dlg.sorted();
        QCOMPARE(cell(s, 0, ui::PerClassModel::ColName), QString("blotchy"));
        QCOMPARE(cell(s, 0, ui::PerClassModel::ColA), QString("50.00 ± 10.00"));
        QCOMPARE(cell(s, 0, ui::PerClassModel::ColImages), QString("20"));
        QCOMPARE(cell(s, 0, ui::PerClassModel::ColConfused), QString("braided (10)"));
        QCOMPARE(cell(s, 2, ui::PerClassModel::ColName), QString("banded"));
        QVERIFY2(dlg.statusText().startsWith("Mean class accuracy A: 63.33 ± 0.00 (2 seeds). 3 classes."), qPrintable(dlg.statusText()));

        // Seed 1 alone.
        QVERIFY(dlg.select({"dtd", "coop", "novel", 16}, 1));
        QCOMPARE(cell(s, 0, ui::PerClassModel::ColName), QString("blotchy"));
        QCOMPARE(cell(s, 0, ui::PerClassModel::ColA), QString("40.00"));
        QVERIFY(!dlg.select({"dtd", "coop", "novel", 16}, 7));
        QVERIFY(!dlg.select({"dtd", "coop", "all", 16}, std::nullopt));
        // A seed the other evaluation lacks: refused, and the table stays on what the boxes show.
        QVERIFY(!dlg.select({"dtd", "coop", "base", 16}, 2));
        QVERIFY(dlg.findChild<QComboBox*>("perClassEvaluation")->currentText().endsWith("novel"));
        QCOMPARE(cell(s, 0, ui::PerClassModel::ColA), QString("40.00"));
        // Driven through the boxes: the base evaluation has one seed, and no "mean" entry.
        auto* evalBox = dlg.findChild<QComboBox*>("perClassEvaluation");
        evalBox->setCurrentIndex(evalBox->findText("dtd · 16 shots · base"));
        QCOMPARE(dlg.findChild<QComboBox*>("perClassSeed")->count(), 1);
        QCOMPARE(cell(s, 0, ui::PerClassModel::ColA), QString("100.00"));
        QVERIFY(dlg.select({"dtd", "coop", "novel", 16}, std::nullopt));

        // Against B, matched by class name although the method differs; the change B − A per class.
        QCOMPARE(dlg.showRuns(a, b), QString());
        QVERIFY(dlg.select({"dtd", "coop", "novel", 16}, std::nullopt));
        std::map<QString, QString> delta;
        for (int r = 0; r < 3; ++r) delta[cell(s, r, ui::PerClassModel::ColName)] = cell(s, r, ui::PerClassModel::ColDelta);
        QCOMPARE(delta["blotchy"], QString("+30.00"));
        QCOMPARE(delta["braided"], QString("−10.00"));
        QCOMPARE(delta["banded"], QString("+10.00"));
        QVERIFY2(dlg.statusText().contains("B: 73.33 ± 0.00 (2 seeds)") && dlg.statusText().contains("B − A: +10.00") &&
                     dlg.statusText().contains("B better on 2, worse on 1"),
                 qPrintable(dlg.statusText()));
        // Sorting by the change puts the class B lost first.
        dlg.sorted()->sort(ui::PerClassModel::ColDelta, Qt::AscendingOrder);
        QCOMPARE(cell(s, 0, ui::PerClassModel::ColName), QString("braided"));

        // The confusion matrix of A, summed over its two seeds (seed 1: 9, 4, 6 of 10 right; seed 2: 7, 6, 6; every
        // wrong image went to the next class).
        auto* cm = dlg.confusion();
        QVERIFY(cm->matrix());
        QCOMPARE(cm->matrix()->evaluations, 2);
        QCOMPARE(cm->matrix()->counts, (std::vector<int64_t>{16, 4, 0, 0, 10, 10, 8, 0, 12}));
        QVERIFY2(cm->title() == "coop · dtd · 16 shots · novel · summed over 2 seeds", qPrintable(cm->title()));
        QCOMPARE(cm->cellValue(1, 2), 50.0);
        QCOMPARE(cm->cellValue(0, 2), 0.0);
        QCOMPARE(cm->cellText(1, 2), QString("10 of the 20 images of blotchy were predicted as braided (50.0 %)."));
        QCOMPARE(cm->cellText(2, 2), QString("12 of the 20 images of braided were predicted correctly (60.0 %)."));
        QCOMPARE(cm->cellText(3, 0), QString());
        QCOMPARE(cm->largestConfusions(2),
                 QStringList({"blotchy → braided: 10 of 20 (50.0 %)", "braided → banded: 8 of 20 (40.0 %)"}));
        QVERIFY2(cm->summaryText().startsWith("Largest confusions (of 22 wrong predictions): blotchy → braided"),
                 qPrintable(cm->summaryText()));
        cm->setDiagonalShown(false);
        QVERIFY(std::isnan(cm->cellValue(0, 0)));
        QCOMPARE(cm->cellValue(2, 0), 40.0);
        cm->setCells(ui::ConfusionView::Cells::Images);
        QCOMPARE(cm->cellValue(2, 0), 8.0);
        cm->setDiagonalShown(true);
        QCOMPARE(cm->cellValue(0, 0), 16.0);
        cm->setCells(ui::ConfusionView::Cells::Percent);
        // B's matrix (its method differs), then one seed of each.
        dlg.setConfusionOf(ui::PerClassDialog::ConfusionOf::B);
        QCOMPARE(cm->matrix()->counts, (std::vector<int64_t>{18, 2, 0, 0, 16, 4, 10, 0, 10}));
        QVERIFY2(cm->title().startsWith("coop_caspl · coop+caspl · dtd"), qPrintable(cm->title()));
        // The change B − A, in points of the true class's images (A: 20, 10, 12 of 20 right; B: 18, 16, 10).
        dlg.setConfusionOf(ui::PerClassDialog::ConfusionOf::Difference);
        QVERIFY(cm->isDifference());
        QVERIFY2(cm->title() == "B − A: coop_caspl · coop+caspl − coop · dtd · 16 shots · novel · seeds summed", qPrintable(cm->title()));
        QCOMPARE(cm->cellValue(1, 2), -30.0);
        QCOMPARE(cm->cellValue(1, 1), 30.0);
        QCOMPARE(cm->cellValue(2, 0), 10.0);
        QCOMPARE(cm->cellText(2, 0), QString("braided predicted as banded: A 40.0 % (8 of 20), B 50.0 % (10 of 20): +10.0 points"));
        QCOMPARE(cm->largestConfusions(2), QStringList({"blotchy → braided: −30.0 points (A 50.0 %, B 20.0 %)",
                                                        "banded → blotchy: −10.0 points (A 20.0 %, B 10.0 %)"}));
        QVERIFY2(cm->summaryText().startsWith("Wrong predictions: A 22, B 16. Largest changes: blotchy → braided"),
                 qPrintable(cm->summaryText()));
        cm->setCells(ui::ConfusionView::Cells::Images);
        QCOMPARE(cm->cellValue(1, 2), -6.0);
        cm->setCells(ui::ConfusionView::Cells::Percent);
        QCOMPARE(cm->exportCsv(root + "/difference.csv"), QString());
        QFile diffCsv(root + "/difference.csv");
        QVERIFY(diffCsv.open(QIODevice::ReadOnly));
        const QString diffText = QString::fromUtf8(diffCsv.readAll());
        QVERIFY2(diffText.startsWith("true \\ predicted (B - A in points),banded,blotchy,braided\nbanded,10.00,-10.00,0.00\n"), qPrintable(diffText));
        QCOMPARE(cm->saveImage(root + "/difference.png"), QString());
        dlg.setConfusionOf(ui::PerClassDialog::ConfusionOf::B);
        QVERIFY(!cm->isDifference());
        QVERIFY(dlg.select({"dtd", "coop", "novel", 16}, 2));
        QCOMPARE(cm->matrix()->evaluations, 1);
        QVERIFY2(cm->title().endsWith("seed 2"), qPrintable(cm->title()));
        dlg.setConfusionOf(ui::PerClassDialog::ConfusionOf::A);
        QCOMPARE(cm->matrix()->counts, (std::vector<int64_t>{7, 3, 0, 0, 6, 4, 4, 0, 6}));
        // Saved as images (the format from the suffix) and as CSV, atomically.
        QCOMPARE(cm->saveImage(root + "/confusion.png"), QString());
        QImage png(root + "/confusion.png");
        QVERIFY(!png.isNull() && png.width() >= 760);
        QCOMPARE(cm->saveImage(root + "/confusion.pdf"), QString());
        QFile pdf(root + "/confusion.pdf");
        QVERIFY(pdf.open(QIODevice::ReadOnly) && pdf.read(4) == "%PDF");
        QVERIFY(cm->saveImage(root + "/confusion.xyz").contains("unknown image type 'xyz'"));
        QVERIFY(!QFileInfo::exists(root + "/confusion.xyz"));
        QCOMPARE(cm->exportCsv(root + "/confusion.csv"), QString());
        QFile cmCsv(root + "/confusion.csv");
        QVERIFY(cmCsv.open(QIODevice::ReadOnly));
        QCOMPARE(cmCsv.readAll().toStdString(), confusionMatrixCsvText(*cm->matrix()));
        QVERIFY(dlg.select({"dtd", "coop", "novel", 16}, std::nullopt));

        // Both runs' rows in one CSV.
        const QString csv = root + "/export.csv";
        QCOMPARE(dlg.exportCsv(csv), QString());
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(f.readAll());
        QVERIFY2(text.contains("\nclass_mean,coop,dtd,coop,16,,2,novel,1,blotchy,20,10,50.00,10.00,braided,10\n") &&
                     text.contains("\nmacro_mean,coop_caspl,dtd,coop+caspl,16,,2,novel,,,60,44,73.33,0.00,,\n"),
                 qPrintable(text));
        // B the same folder as A: compared with itself on screen, written once.
        QCOMPARE(dlg.showRuns(a, a), QString());
        QCOMPARE(dlg.exportCsv(csv), QString());
        QFile again(csv);
        QVERIFY(again.open(QIODevice::ReadOnly));
        QVERIFY(!QString::fromUtf8(again.readAll()).contains("coop_caspl"));

        // A repeated class name in B: only the class of the same index and name is matched.
        const QString c = root + "/repeated";
        {
            PerClassEval e;
            e.dataset = "dtd";
            e.method = "coop";
            e.split = "novel";
            e.shots = 16;
            e.seed = 1;
            e.classes = {ClassResult{"banded", 10, 1, {}}, ClassResult{"banded", 10, 2, {}}, ClassResult{"braided", 10, 3, {}}};
            fs::create_directories(fs::path(c.toStdString()) / "dtd/k16_seed1");
            writePerClassJson((fs::path(c.toStdString()) / "dtd/k16_seed1/per_class.json").string(), {e});
        }
        QCOMPARE(dlg.showRuns(a, c), QString());
        QVERIFY(dlg.select({"dtd", "coop", "novel", 16}, 1));
        std::map<QString, QString> bOf;
        for (int r = 0; r < 3; ++r) bOf[cell(s, r, ui::PerClassModel::ColName)] = cell(s, r, ui::PerClassModel::ColB);
        QCOMPARE(bOf["banded"], QString("10.00"));   // index 0, same name
        QCOMPARE(bOf["blotchy"], QString());         // index 1 is "banded" in B, and that name repeats
        QCOMPARE(bOf["braided"], QString("30.00"));  // index 2, same name

        // A seed without per-class results is named, with what writes them.
        fs::create_directories(fs::path(a.toStdString()) / "dtd/k16_seed3");
        writeFileAtomically((fs::path(a.toStdString()) / "dtd/k16_seed3/result.json").string(), "{}");
        dlg.showRuns(a);
        QVERIFY2(dlg.statusText().contains("Seeds without per-class results in " + a + " (1 of its seeds) are left out") &&
                     dlg.statusText().contains("Mean class accuracy A: 63.33"),
                 qPrintable(dlg.statusText()));

        // A run folder without per_class.json says how to get them.
        dlg.showRuns(empty);
        QCOMPARE(dlg.model()->rowCount(), 0);
        QVERIFY2(dlg.statusText().contains("No per-class results in") && dlg.statusText().contains("caspl eval"),
                 qPrintable(dlg.statusText()));
        QVERIFY(!dlg.exportCsv(root + "/none.csv").isEmpty());
        // A broken file is named.
        writeFileAtomically((fs::path(a.toStdString()) / "dtd/k16_seed2/per_class.json").string(), "{");
        QVERIFY(dlg.showRuns(a).contains("k16_seed2/per_class.json"));
    }

    // New data marks the panel dirty; one timer draws it: many batches, few redraws.
    // The latency probe keeps a bounded window (a run of days does not grow it) and counts every tick.
    void latencyProbeWindowIsBounded() {
        ui::LatencyProbe probe(1, nullptr, 5);
        probe.start();
        QTRY_VERIFY_WITH_TIMEOUT(probe.sampleCount() > 12, 5000);
        probe.stop();
        const auto window = probe.samples();
        QCOMPARE(window.size(), std::size_t(5));
        for (const double v : window) QVERIFY(v >= 0 && v <= probe.maxMs());
        QVERIFY(probe.percentileMs(100) <= probe.maxMs());
        QVERIFY(probe.summary().contains(QString::number(probe.sampleCount()) + " ticks"));
    }

    void plotPanelCoalescesRedraws() {
        ui::PlotPanel panel;
        panel.resize(800, 600);
        panel.show();
        panel.setRunLabel(1, "#1 a");
        panel.setRunLabel(2, "#2 b");
        const int before = panel.replotCount();
        for (int step = 1; step <= 400; ++step) {
            MetricEvent e = metricAt(step <= 200 ? "phase1" : "phase2", step <= 200 ? step : step - 200,
                                     {{"loss", 1.0 / step}, {"lr", 0.01}, {"loss.kd", 0.5 / step}});
            panel.addMetrics(1, {e});
            e.values["loss"] = 2.0 / step;
            panel.addMetrics(2, {e});
        }
        QTest::qWait(3 * ui::PlotPanel::kRedrawMs);
        const int redraws = panel.replotCount() - before;
        QVERIFY2(redraws >= 1 && redraws <= 4, qPrintable(QString::number(redraws)));  // not 800
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase1Plot, "loss"), 200);
        QCOMPARE(panel.pointCount(2, ui::PlotPanel::Phase2Plot, "lr"), 200);
        // Two runs x three series, overlaid in each phase plot.
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase1Plot), 6);
        // A second seed restarts at step 1: its points continue the x axis.
        panel.addMetrics(1, {metricAt("phase2", 1, {{"loss", 0.3}})});
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase2Plot, "loss"), 201);
        panel.addEvaluation(1, EvalRow{"a", "EuroSAT", "coop", 1, "base", 10, 90, 90, 100, 0});
        panel.addEvaluation(1, EvalRow{"a", "EuroSAT", "coop", 1, "novel", 10, 70, 70, 100, 0});
        panel.addEvaluation(1, EvalRow{"a", "EuroSAT", "coop", 2, "base", 10, 91, 91, 100, 0});
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::AccuracyPlot, "base"), 2);
        // Few-shot runs: each shot count of a seed is an evaluation of its own (1, 2, 4 ... shots side by side).
        panel.addEvaluation(1, EvalRow{"a", "EuroSAT", "coop", 1, "base", 10, 60, 60, 100, 0, 1});
        panel.addEvaluation(1, EvalRow{"a", "EuroSAT", "coop", 1, "base", 10, 65, 65, 100, 0, 2});
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::AccuracyPlot, "base"), 4);
        panel.setRunVisible(2, false);
        QVERIFY(!panel.isRunVisible(2));
        panel.removeRun(2);
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase1Plot), 3);
        panel.flush();
        panel.setRunVisible(1, false);
        panel.clear();
        QCOMPARE(panel.graphCount(ui::PlotPanel::AccuracyPlot), 0);
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase1Plot, "loss"), 0);
        // Clear Plots removes the points only: a run still training goes on under its own name, hidden if it was.
        auto* list = panel.findChild<QListWidget*>("plotRunList");
        QVERIFY(list);
        QCOMPARE(list->count(), 1);
        QCOMPARE(list->item(0)->text(), QString("#1 a"));
        panel.addMetrics(1, {metricAt("phase2", 5, {{"loss", 0.2}})});
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase2Plot, "loss"), 1);
        QCOMPARE(list->count(), 1);
        QCOMPARE(list->item(0)->text(), QString("#1 a"));
        QVERIFY(!panel.isRunVisible(1));
    }

    // Two seeds of a training: one continued curve per key, or one curve per seed from step 1; switching either
    // way redraws from the kept points.
    void plotPanelOverlaysSeeds() {
        ui::PlotPanel panel;
        panel.setRunLabel(1, "#1 a");
        for (int seed : {1, 2})
            for (int step = 1; step <= 50; ++step) {
                panel.addMetrics(1, {metricAt("phase2", step, {{"loss", 1.0 / step + seed}, {"lr", 0.002}}, "dtd", 16, seed)});
            }
        QCOMPARE(panel.stepAxis(), ui::PlotPanel::StepAxis::Continue);
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase2Plot, "loss"), 100);
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase2Plot), 2);
        auto* box = panel.findChild<QComboBox*>("plotStepAxis");
        QVERIFY(box);
        box->setCurrentIndex(1);  // as the user does
        QCOMPARE(panel.stepAxis(), ui::PlotPanel::StepAxis::Overlay);
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase2Plot), 4);  // (loss, lr) x 2 seeds
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase2Plot, "loss", "dtd · 16 shots · seed 1"), 50);
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase2Plot, "loss", "dtd · 16 shots · seed 2"), 50);
        // New data in overlay mode goes to its training's curve: a third seed makes two more graphs.
        panel.addMetrics(1, {metricAt("phase2", 1, {{"loss", 0.5}, {"lr", 0.002}}, "dtd", 16, 3)});
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase2Plot), 6);
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase2Plot, "loss", "dtd · 16 shots · seed 3"), 1);
        panel.setStepAxis(ui::PlotPanel::StepAxis::Continue);
        QCOMPARE(box->currentIndex(), 0);
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase2Plot), 2);
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase2Plot, "loss"), 101);
        panel.flush();
    }

    // TensorBoard's Relative and Wall axes: a run's steps at their time since its first step (phase 1 included, each
    // run from its own 0) or at their wall time; a step without a time is left out there and drawn again on a step
    // axis; hovering names each curve's step; a step earlier than the first moves the 0.
    void plotPanelTimeAxes() {
        ui::PlotPanel panel;
        panel.setRunLabel(1, "#1 a");
        panel.setRunLabel(2, "#2 b");
        const double t0 = 1796620800;  // 2026-12-07T05:20:00Z
        const auto at = [](MetricEvent e, double time) {
            e.time = time;
            return e;
        };
        for (int step = 1; step <= 3; ++step) {
            panel.addMetrics(1, {at(metricAt("phase1", step, {{"loss", 1.0 * step}}, "dtd"), t0 + step - 1)});
            panel.addMetrics(1, {at(metricAt("phase2", step, {{"loss", 10.0 + step}}, "dtd", 16, 1), t0 + 9.5 + step)});
        }
        for (int step = 1; step <= 3; ++step)
            panel.addMetrics(1, {at(metricAt("phase2", step, {{"loss", 20.0 + step}}, "dtd", 16, 2), t0 + 19 + step)});
        panel.addMetrics(1, {metricAt("phase2", 4, {{"loss", 24}}, "dtd", 16, 2)});  // no time
        panel.addMetrics(2, {at(metricAt("phase2", 1, {{"loss", 31}}, "dtd", 16, 1), t0 + 100),
                             at(metricAt("phase2", 2, {{"loss", 32}}, "dtd", 16, 1), t0 + 101)});
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase2Plot, "loss"), 7);
        auto* box = panel.findChild<QComboBox*>("plotStepAxis");
        QVERIFY(box);
        QCOMPARE(box->count(), 5);
        box->setCurrentIndex(3);  // as the user does
        QCOMPARE(panel.stepAxis(), ui::PlotPanel::StepAxis::Relative);
        QCOMPARE(panel.seriesKeys(1, ui::PlotPanel::Phase1Plot, "loss"), QVector<double>({0, 1, 2}));
        QCOMPARE(panel.seriesKeys(1, ui::PlotPanel::Phase2Plot, "loss"), QVector<double>({10.5, 11.5, 12.5, 20, 21, 22}));
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss"), QVector<double>({11, 12, 13, 21, 22, 23}));
        QCOMPARE(panel.seriesKeys(2, ui::PlotPanel::Phase2Plot, "loss"), QVector<double>({0, 1}));
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase2Plot), 2);  // one curve per run, its seeds one after another
        QCOMPARE(panel.valuesAt(ui::PlotPanel::Phase2Plot, 11.4),
                 QString("11.50 s after the run's first step\n#1 a · loss: 12, step 2\n#2 b · loss: 32 at 1.00 s, step 2"));
        QCOMPARE(panel.xText(3725), QString("1:02:05"));
        QCOMPARE(panel.xText(90000), QString("25:00:00"));
        // A live step goes on the time axis at once.
        panel.addMetrics(2, {at(metricAt("phase2", 3, {{"loss", 33}}, "dtd", 16, 1), t0 + 103.25)});
        QCOMPARE(panel.seriesKeys(2, ui::PlotPanel::Phase2Plot, "loss"), QVector<double>({0, 1, 3.25}));
        // A step earlier than the run's first (a line written out of order) moves its 0: every point is placed again.
        panel.addMetrics(2, {at(metricAt("phase1", 1, {{"loss", 5}}, "dtd"), t0 + 90)});
        QCOMPARE(panel.seriesKeys(2, ui::PlotPanel::Phase2Plot, "loss"), QVector<double>({10, 11, 13.25}));
        QCOMPARE(panel.seriesKeys(2, ui::PlotPanel::Phase1Plot, "loss"), QVector<double>({0}));

        panel.setStepAxis(ui::PlotPanel::StepAxis::Wall);
        QCOMPARE(box->currentIndex(), 4);
        QCOMPARE(panel.seriesKeys(1, ui::PlotPanel::Phase2Plot, "loss").first(), t0 + 10.5);
        const QString wall = panel.valuesAt(ui::PlotPanel::Phase2Plot, t0 + 10.5);
        QVERIFY2(wall.startsWith(QDateTime::fromSecsSinceEpoch(qint64(t0) + 10).toString("d MMM yyyy HH:mm:ss") + "\n"), qPrintable(wall));
        QVERIFY2(wall.contains("#1 a · loss: 11, step 1"), qPrintable(wall));

        panel.setStepAxis(ui::PlotPanel::StepAxis::Continue);
        QCOMPARE(panel.pointCount(1, ui::PlotPanel::Phase2Plot, "loss"), 7);  // the step without a time is back
        QCOMPARE(panel.valuesAt(ui::PlotPanel::Phase2Plot, 4), QString("step 4\n#1 a · loss: 21\n#2 b · loss: 33 at 3"));
        panel.clearRun(2);
        panel.setStepAxis(ui::PlotPanel::StepAxis::Relative);
        QCOMPARE(panel.pointCount(2, ui::PlotPanel::Phase2Plot, "loss"), 0);
        panel.addMetrics(2, {at(metricAt("phase2", 1, {{"loss", 1}}, "dtd", 16, 1), t0 + 500)});
        QCOMPARE(panel.seriesKeys(2, ui::PlotPanel::Phase2Plot, "loss"), QVector<double>({0}));  // a cleared run starts again at 0
        panel.flush();
    }

    // W&B's run groups for the seeds of a run: per dataset and K, the mean over the seeds at each step as one line,
    // the band from the lowest to the highest value behind it (not in the legend), the range on hover; a seed still
    // running counts at the steps it has; a lone seed is its own line; smoothing applies per seed first.
    void plotPanelSeedMeanAndRange() {
        ui::PlotPanel panel;
        panel.setRunLabel(1, "#1 a");
        panel.setStepAxis(ui::PlotPanel::StepAxis::SeedMean);
        for (int seed : {1, 2, 3})
            for (int step = 1; step <= (seed == 3 ? 2 : 4); ++step)  // seed 3 still at step 2
                panel.addMetrics(1, {metricAt("phase2", step, {{"loss", 10.0 * seed + step}, {"lr", 0.5}}, "dtd", 16, seed)});
        panel.addMetrics(1, {metricAt("phase2", 1, {{"loss", 7}}, "eurosat", 16, 1)});
        panel.addMetrics(1, {metricAt("phase1", 1, {{"loss", 3}}, "dtd"), metricAt("phase1", 2, {{"loss", 2}}, "dtd")});
        panel.flush();  // the means are drawn once for the points that came meanwhile
        const QString group = "dtd · 16 shots · 3 seeds";
        QCOMPARE(panel.seriesKeys(1, ui::PlotPanel::Phase2Plot, "loss", group), QVector<double>({1, 2, 3, 4}));
        // (11 + 21 + 31) / 3 = 21, (12 + 22 + 32) / 3 = 22, then seeds 1 and 2 only: (13 + 23) / 2 = 18, 19.
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss", group), QVector<double>({21, 22, 18, 19}));
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "lr", group), QVector<double>({0.5, 0.5, 0.5, 0.5}));
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss", "eurosat · 16 shots · seed 1"), QVector<double>({7}));
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase1Plot, "loss", "dtd"), QVector<double>({3, 2}));
        // Lines: loss and lr of dtd, loss of eurosat; bands: two edges each for dtd's loss and lr.
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase2Plot), 3 + 4);
        QCOMPARE(panel.valuesAt(ui::PlotPanel::Phase2Plot, 2.1),
                 QString("step 2\n#1 a · loss · dtd · 16 shots · 3 seeds: 22 (seeds 12 to 32)\n"
                         "#1 a · loss · eurosat · 16 shots · seed 1: 7 at 1\n#1 a · lr · dtd · 16 shots · 3 seeds: 0.5 (seeds 0.5 to 0.5)"));
        // A live point is drawn with the next redraw: seed 3's third step brings step 3 back to three seeds. (After
        // eurosat's step it starts another training of the same name, as a resumed run logs steps again: one seed.)
        panel.addMetrics(1, {metricAt("phase2", 3, {{"loss", 33}, {"lr", 0.5}}, "dtd", 16, 3)});
        panel.flush();
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss", group), QVector<double>({21, 22, 23, 19}));
        // A seed's step logged again (a resume from a checkpoint) counts once, with its later value; drawn by the
        // panel's own timers while a run runs (no flush).
        panel.addMetrics(1, {metricAt("phase2", 2, {{"loss", 25}, {"lr", 0.5}}, "dtd", 16, 2)});
        QTRY_COMPARE_WITH_TIMEOUT(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss", group), QVector<double>({21, 23, 23, 19}), 5000);
        // Hidden with its run, band and all.
        panel.setRunVisible(1, false);
        QCOMPARE(panel.valuesAt(ui::PlotPanel::Phase2Plot, 2), QString());
        panel.setRunVisible(1, true);
        // Smoothing applies to each seed's curve, then the mean is taken.
        panel.setSmoothing(0.5);
        QVector<double> v = panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss", group);
        QCOMPARE(v.size(), 4);
        QVERIFY(std::abs(v[0] - 21) < 1e-12);  // a debiased average starts at the first value
        // Step 2: each seed's (0.25 first + 0.5 second) / 0.75, then the mean: (35 / 3 + 71 / 3 + 95 / 3) / 3 = 67 / 3
        // (unsmoothed: 23).
        QVERIFY2(std::abs(v[1] - 67.0 / 3) < 1e-12, qPrintable(QString::number(v[1])));
        // Back to one curve per seed: the seeds' own curves, no band.
        panel.setSmoothing(0);
        panel.setStepAxis(ui::PlotPanel::StepAxis::Overlay);
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss", "dtd · 16 shots · seed 3"), QVector<double>({31, 32, 33}));
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase2Plot), 2 * 3 + 1);  // (loss, lr) x 3 seeds of dtd, eurosat's loss
        panel.flush();
    }

    // TensorBoard's log scale and "ignore outliers in chart scaling" for the loss axis: a first step's loss of 1000
    // over a run of losses near 1 sets the axis only when outliers count; on a log scale the axis stays positive
    // (a loss of 0 is not drawn there) and its headroom is a factor; the learning rate's axis is untouched.
    void plotPanelLogScaleAndOutliers() {
        ui::PlotPanel panel;
        panel.setRunLabel(1, "#1 a");
        panel.addMetrics(1, {metricAt("phase2", 1, {{"loss", 1000}, {"lr", 0.002}}, "dtd", 16, 1)});
        for (int step = 2; step <= 100; ++step)
            panel.addMetrics(1, {metricAt("phase2", step, {{"loss", 1.0 + 0.01 * step}, {"lr", 0.002}}, "dtd", 16, 1)});
        panel.addMetrics(1, {metricAt("phase2", 101, {{"loss", 0.0}, {"lr", 0.002}}, "dtd", 16, 1)});
        panel.flush();
        auto range = panel.valueRange(ui::PlotPanel::Phase2Plot);
        QVERIFY2(range.first < 0 && range.second > 1000, qPrintable(QString("%1 %2").arg(range.first).arg(range.second)));
        auto* outliers = panel.findChild<QCheckBox*>("plotIgnoreOutliers");
        QVERIFY(outliers);
        outliers->setChecked(true);  // as the user does
        QVERIFY(panel.ignoreOutliers());
        panel.flush();
        range = panel.valueRange(ui::PlotPanel::Phase2Plot);
        // The 5th and 95th percentiles of 0, 1.02..1.99 and 1000, with 5% headroom: about 1.06 to 1.95.
        QVERIFY2(range.first > 0.9 && range.first < 1.1 && range.second > 1.8 && range.second < 2.1,
                 qPrintable(QString("%1 %2").arg(range.first).arg(range.second)));
        auto* log = panel.findChild<QCheckBox*>("plotLogScale");
        QVERIFY(log);
        log->setChecked(true);
        QVERIFY(panel.logScale());
        QVERIFY(std::isnan(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss").last()));  // 0: a gap on a log scale
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss").first(), 1000.0);
        outliers->setChecked(false);
        panel.flush();
        range = panel.valueRange(ui::PlotPanel::Phase2Plot);
        // 1.02 to 1000 (the 0 left out), a factor of 1000^(1/20) ≈ 1.41 each side.
        QVERIFY2(range.first > 0.6 && range.first < 0.8 && range.second > 1300 && range.second < 1500,
                 qPrintable(QString("%1 %2").arg(range.first).arg(range.second)));
        log->setChecked(false);
        panel.flush();
        QVERIFY(panel.valueRange(ui::PlotPanel::Phase2Plot).first < 0);
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss").last(), 0.0);
        // Smoothed, the faint raw curve's spike stays in view unless outliers are ignored.
        panel.setSmoothing(0.9);
        panel.flush();
        QVERIFY(panel.valueRange(ui::PlotPanel::Phase2Plot).second > 1000);
        panel.setSmoothing(0);
        // A handful of points: all of them count, outliers or not.
        ui::PlotPanel few;
        few.setIgnoreOutliers(true);
        for (int step = 1; step <= 5; ++step) few.addMetrics(1, {metricAt("phase1", step, {{"loss", step == 1 ? 100.0 : 1.0}}, "dtd")});
        few.flush();
        QVERIFY(few.valueRange(ui::PlotPanel::Phase1Plot).second > 100);
    }

    // The loss curves' smoothing is TensorBoard's debiased moving average, restarted with every training; the raw
    // curve stays behind it, the learning rate is never smoothed, and switching it off gives the raw values back.
    void plotPanelSmoothsLikeTensorBoard() {
        ui::PlotPanel panel;
        panel.setRunLabel(1, "#1 a");
        const double ys[] = {1, 0, 1, 0};
        for (int seed : {1, 2})
            for (int step = 1; step <= 4; ++step)
                panel.addMetrics(1, {metricAt("phase2", step, {{"loss", ys[step - 1]}, {"lr", 0.5 * step}}, "dtd", 16, seed)});
        const QVector<double> raw{1, 0, 1, 0, 1, 0, 1, 0};
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss"), raw);
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase2Plot), 2);
        auto* box = panel.findChild<QDoubleSpinBox*>("plotSmoothing");
        QVERIFY(box);
        box->setValue(0.5);  // as the user does
        QCOMPARE(panel.smoothing(), 0.5);
        // last = 0.5 last + 0.5 y, shown as last / (1 - 0.5^n): 0.5/0.5, 0.25/0.75, 0.625/0.875, 0.3125/0.9375
        const double expect[] = {1.0, 1.0 / 3, 5.0 / 7, 1.0 / 3};
        QVector<double> v = panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss");
        QCOMPARE(v.size(), 8);
        for (int i = 0; i < 8; ++i) QVERIFY2(std::abs(v[i] - expect[i % 4]) < 1e-12, qPrintable(QString::number(v[i])));
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "lr"), QVector<double>({0.5, 1, 1.5, 2, 0.5, 1, 1.5, 2}));
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase2Plot), 3);  // + the faint raw loss
        // Hovering reads the values at the nearest step, smoothed and raw.
        QCOMPARE(panel.valuesAt(ui::PlotPanel::Phase2Plot, 2.2), QString("step 2\n#1 a · loss: 0.33333 (raw 0)\n#1 a · lr: 1"));
        QCOMPARE(panel.valuesAt(ui::PlotPanel::Phase2Plot, 100), QString("step 8\n#1 a · loss: 0.33333 (raw 0)\n#1 a · lr: 2"));
        QCOMPARE(panel.valuesAt(ui::PlotPanel::AccuracyPlot, 1), QString());
        // A live point continues its training's average: 0.65625 / (1 - 0.5^5).
        panel.addMetrics(1, {metricAt("phase2", 5, {{"loss", 1}}, "dtd", 16, 2)});
        v = panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss");
        QVERIFY(std::abs(v.last() - 0.65625 / 0.96875) < 1e-12);
        // Each seed's own curve in overlay mode, smoothed alike.
        panel.setStepAxis(ui::PlotPanel::StepAxis::Overlay);
        v = panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss", "dtd · 16 shots · seed 1");
        QCOMPARE(v.size(), 4);
        for (int i = 0; i < 4; ++i) QVERIFY(std::abs(v[i] - expect[i]) < 1e-12);
        panel.setRunVisible(1, false);
        panel.setRunVisible(1, true);
        panel.setSmoothing(0);
        QCOMPARE(box->value(), 0.0);
        QCOMPARE(panel.seriesValues(1, ui::PlotPanel::Phase2Plot, "loss", "dtd · 16 shots · seed 1"), QVector<double>({1, 0, 1, 0}));
        QCOMPARE(panel.graphCount(ui::PlotPanel::Phase2Plot), 4);  // (loss, lr) x 2 seeds, no raw copies
        panel.flush();
    }
};

CASPL_REGISTER_TEST(GuiModelsTest);
#include "test_models.moc"
