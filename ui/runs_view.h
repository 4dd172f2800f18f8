#pragma once
// The Runs tab: every run of the queue side by side, as W&B's runs table shows a sweep. One row per run folder
// (state, evaluations done, tags and note, base / novel / HM / all, the configuration keys whose values differ),
// from core's RunsTable (the same table as `caspl status --config` and `caspl export --runs`), and one per run still
// waiting in the queue; sortable, filtered by text, the best run by HM in bold; and under it, for the filtered runs,
// a scatter of one figure against one numeric key (HM against train.lr for a learning-rate sweep), W&B's parallel
// coordinates (one vertical axis per differing key, the figure's axis last, each run a line coloured by the
// figure), or each key's correlation with the figure (core's keyCorrelations) as bars; hover for a run, click to
// select its row.
#include "core/experiment/runs_table.h"

#include <QAbstractTableModel>
#include <QPointF>
#include <QPointer>
#include <QSortFilterProxyModel>
#include <QStringList>
#include <QVector>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QCPBars;
class QCPGraph;
class QCPItemLine;
class QCPItemRect;
class QCPLayerable;
class QCustomPlot;
class QLabel;
class QLineEdit;
class QMenu;
class QMouseEvent;
class QPushButton;

namespace caspl::ui {

class ResultsTable;

class RunsTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    // Fixed columns, the figures (figureColumn), then one per differing key (keyColumn): the figures stay in view
    // however many keys differ.
    enum FixedColumn { ColRun, ColMethod, ColState, ColResults, ColRuntime, ColTags, ColNote, FixedColumns };
    enum Figure { Base, Novel, Hm, All, FigureCount };
    enum Role { SortRole = Qt::UserRole + 1, FolderRole, BestRole };
    explicit RunsTableModel(QObject* parent = nullptr);
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    // Tags ("a, b") and the note are edited in place: the run's notes.json is written at once (run_notes.h). A tag
    // that is not one, or a file that cannot be written, leaves the row as it was and emits notesFailed. A tag edit
    // applies what it changed against the row as shown (tags added or removed) to the file as it is now, so tags
    // that another writer (`caspl notes`) added meanwhile stay; a note replaces the note.
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool notesWritable(const QModelIndex& index) const;  // a readable run whose notes.json is absent or readable
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    // Changes the notes of the model's row `row` as `change` says, on its notes.json as it is now (under the file's
    // lock: caspl::updateRunNotes), and shows them as written. False (and notesFailed) when they cannot be.
    bool updateNotes(int row, const std::function<void(caspl::RunNotes&)>& change);

    void setTable(caspl::RunsTable table);
    const caspl::RunsTable& table() const { return table_; }
    int figureColumn(Figure f) const { return FixedColumns + int(f); }
    int keyColumn(int key) const { return FixedColumns + FigureCount + key; }
    static std::optional<double> figureOf(const caspl::RunFolderStatus& s, Figure f);
    // Whether every run's value of key `key` is a number (those keys can be plotted), and that number.
    bool numericKey(int key) const;
    static std::optional<double> number(const std::string& value);

Q_SIGNALS:
    void notesFailed(const QString& message);

private:
    caspl::RunsTable table_;
    std::vector<bool> numeric_;  // per key
};

class RunsView : public QWidget {
    Q_OBJECT
public:
    explicit RunsView(QWidget* parent = nullptr);
    // Reads the run folders (core's readRunsTable) on a worker thread and shows them when read (tableRead); the
    // selection (by folder) stays. A read asked for while one is under way starts when that one ends, and only its
    // table is shown. About 1.5 ms a folder: a sweep of thousands of runs does not freeze the window.
    // `queued`: runs of the queue whose folder has no config.yaml yet (by folder), shown as "queued" rows with their
    // configuration.
    void setFolders(const QStringList& folders, const std::map<std::string, caspl::ExperimentSpec>& queued = {});
    void reload();  // the same folders again
    bool reading() const { return reading_; }
    int readsStarted() const { return readsStarted_; }  // how many reads of the folders have been started
    // Shows a table read elsewhere (reload's second half): the selection, column widths and plot follow.
    void setTable(caspl::RunsTable table);
    QStringList folders() const { return folders_; }
    // The runs table as CSV (runsTableCsvText), atomically. "" on success, else what went wrong.
    QString exportCsv(const QString& path) const;
    // The shown runs (the filter's) that have an events.jsonl, as TensorBoard files under `dir` with their HParams
    // sessions (core's exportRunsToTensorBoard, as `caspl export --tensorboard`), on a worker thread: reading the
    // logs of thousands of runs takes seconds. "" when the export started (tensorBoardExported follows, and the
    // status line says what was written), else why it did not (no shown run, an export already under way).
    QString exportTensorBoard(const QString& dir);
    bool exportingTensorBoard() const { return exporting_; }
    // The plot shown (scatter, parallel coordinates or correlations) as PNG/JPEG/PDF (plot_image.h), atomically. ""
    // on success, else what went wrong.
    QString saveImage(const QString& path);

    RunsTableModel* model() const { return model_; }
    QSortFilterProxyModel* proxy() const { return proxy_; }
    ResultsTable* table() const { return table_; }
    QLineEdit* filterEdit() const { return filter_; }
    // The scatter's x: a numeric key (its index in the table's keys), or the runs' runtime (kRuntimeKey).
    QComboBox* plotKeyBox() const { return keyBox_; }
    static constexpr int kRuntimeKey = -2;
    QComboBox* plotFigureBox() const { return figureBox_; }
    QCheckBox* logXBox() const { return logX_; }
    enum PlotKind { Scatter, ParallelCoordinates, Correlation };
    QComboBox* plotKindBox() const { return kindBox_; }
    QString summaryText() const;  // the runs, keys and best run in words
    QString statusText() const;   // what the line above the table says now (the summary, or the last problem)
    // The points drawn (x: the key's value, y: the figure) and the folder of each, in the table's order.
    QVector<QPointF> plottedPoints() const { return points_; }
    QStringList plottedFolders() const { return pointFolders_; }
    // Parallel coordinates: the axes (the differing keys, then the figure) and, per run drawn, its position on each
    // axis (0 bottom to 1 top; NaN where the run lacks the key or the figure) and its folder.
    const std::vector<caspl::ParallelAxis>& parallelAxes() const { return axes_; }
    QVector<QVector<double>> parallelLines() const { return lines_; }
    QStringList parallelFolders() const { return lineFolders_; }
    // Parallel coordinates brushed as in W&B: a drag along an axis picks a range of its values, a click on an axis
    // clears its range. Runs with a value in every range are drawn as before (the highest of them red) and selected
    // in the table; the others pale grey. The ranges are kept in values (core's ParallelBrush), so they hold while
    // the filter or a reload changes the runs drawn; a range on an axis no longer drawn does nothing.
    const std::vector<caspl::ParallelBrush>& parallelBrushes() const { return brushes_; }
    void brushParallelAxis(int axis, double from, double to);  // positions (0 bottom, 1 top) on parallelAxes()[axis]
    void clearParallelBrush(int axis);                         // -1: every range
    // The axes' order and which are drawn, as in W&B and TensorBoard: an axis's label dragged sideways moves the axis,
    // and a right-click on an axis or its label moves it left or right, hides it, shows the hidden ones or puts back
    // the table's order. Kept by key name while the runs shown change; the figure's axis stays last. A hidden axis
    // loses its range.
    void moveParallelAxis(int axis, int to);  // indices into parallelAxes(), key axes only
    void hideParallelAxis(int axis);
    void resetParallelAxes();  // every key's axis, in the table's order
    QStringList hiddenParallelAxes() const;
    QStringList parallelAxisOrder() const { return axisOrder_; }  // the keys the user moved, in their order
    void setParallelAxisLayout(const QStringList& order, const QStringList& hidden);  // as a session left them
    // The right-click menu of the parallel coordinates at `axis` (an index into parallelAxes(), -1 off any axis).
    void fillAxisMenu(QMenu* menu, int axis);
    QStringList brushedFolders() const;  // the runs drawn inside every range (every run drawn without a range)
    // Correlation: how strongly each differing key went with the figure over the shown runs (core's keyCorrelations),
    // strongest first, as horizontal bars; a click on a numeric key's bar shows the scatter against it.
    const std::vector<caspl::KeyCorrelation>& correlations() const { return correlations_; }
    QString plotMessage() const;  // why nothing is drawn, "" when something is
    QPointF plotPixel(double x, double y) const;  // where plot coordinates are drawn, in the plot widget's pixels
    void selectFolder(const QString& folder);
    void editNote(int row);  // the note of the model's row `row`, in a dialog (double-click on the Note column)
    QStringList selectedFolders() const;
    // The right-click menu for these runs (the rows selected): Compare the Two Runs (two runs with folders),
    // Per-Class Accuracy (one or two), Plot Only These Runs' Curves (any, as W&B's charts follow the runs picked),
    // Edit Note (one), Show in the Queue (one), Open the Run Folder (one), Copy the Paths. Queued and unreadable
    // runs have no folder to compare or open.
    void fillContextMenu(QMenu* menu, const QStringList& folders);

Q_SIGNALS:
    void runActivated(const QString& folder);  // a row double-clicked
    void tableRead();                          // a read of the folders is shown
    void compareRequested(const QString& folderA, const QString& folderB);
    void perClassRequested(const QString& folderA, const QString& folderB);  // folderB "" for one run
    void curvesRequested(const QStringList& folders);  // show only these runs in the live plots
    void tensorBoardExported(const QString& problem);  // an export ended: "" when it wrote files, else what went wrong

private:
    void replot();
    void replotScatter();
    void replotParallel();
    void replotCorrelation();
    PlotKind plotKind() const;
    void refillKeyBox();
    void onPlotMouseMove(QMouseEvent* event);
    void onPlotClick(QMouseEvent* event);
    void onPlotRelease(QMouseEvent* event);
    int axisNear(const QPointF& pixel) const;  // parallel coordinates: the axis within a few pixels, -1 when none
    int axisLabelNear(const QPointF& pixel) const;  // the axis whose label (below the plot) is there, -1 when none
    int moveTarget(const QPointF& pixel) const;     // where an axis dragged sideways to there would go
    void addBrush(caspl::ParallelBrush brush);
    int axisIndex(const std::string& name) const;  // in axes_, -1 when not drawn now
    void selectBrushedRuns();
    QString brushText() const;  // what the ranges brushed pick, "" without any
    int pointNear(const QPointF& pixel) const;  // index into points_, -1 when none within a few pixels
    // Index into lines_ of the nearest line within a few pixels, the one drawn on top among equally near ones (-1 when
    // none); `others`: how many more are within those pixels.
    int lineNear(const QPointF& pixel, int* others = nullptr) const;

    void startRead();
    int rowOfFolder(const QString& folder) const;  // the model's row of that run, -1 when none
    void applyTable(caspl::RunsTable table);  // setTable without marking a read under way as out of date

    QStringList folders_;
    std::map<std::string, caspl::ExperimentSpec> queued_;
    bool reading_ = false;      // a read is under way
    bool readAgain_ = false;    // another was asked for meanwhile
    bool changedWhileReading_ = false;  // a tag, note or table set meanwhile: the read under way is out of date
    quint64 foldersGeneration_ = 0;     // counts changes of the folders (or queued runs): a read of others is out of date
    int readsStarted_ = 0;
    bool refiltering_ = false;  // the filter text is being applied: one replot after it
    bool exporting_ = false;    // a TensorBoard export is under way
    bool readAfterEdit_ = false;  // a read ended while a cell was being edited: read again when the editor closes
    QPushButton* tbButton_ = nullptr;
    RunsTableModel* model_;
    QSortFilterProxyModel* proxy_;
    ResultsTable* table_;
    QLineEdit* filter_;
    QLabel* summary_;
    QComboBox* figureBox_;
    QComboBox* keyBox_;
    QCheckBox* logX_;
    QComboBox* kindBox_;
    QLabel* againstLabel_;
    QLabel* plotNote_;
    QCustomPlot* plot_;
    QCPGraph* graph_ = nullptr;
    QCPGraph* bestGraph_ = nullptr;
    QVector<QPointF> points_;
    QStringList pointFolders_;
    QStringList pointNames_;
    std::vector<caspl::ParallelAxis> axes_;
    std::vector<std::size_t> axisKeys_;  // per key axis drawn (axes_ but the figure's): its index in the table's keys
    QStringList axisOrder_;               // the keys in the order the user put their axes; the others follow
    QStringList hiddenAxes_;              // the keys whose axes the user hid
    std::optional<std::string> movingAxis_;  // an axis being dragged sideways by its label
    QPointer<QCPItemLine> moveMarker_;       // where it would go
    QVector<QVector<double>> lines_;
    QStringList lineFolders_;
    QStringList lineTips_;
    QVector<int> drawOrder_;                  // indices into lines_, bottom to top
    QCPLayerable* parallelLayer_ = nullptr;  // draws lines_
    std::vector<caspl::ParallelBrush> brushes_;
    QVector<bool> lineBrushed_;  // per line of lines_: inside every range brushed on a drawn axis
    int activeBrushes_ = 0;      // ranges on axes drawn now
    std::optional<caspl::ParallelAxis> dragAxis_;  // a drag along this axis (as it was at the press) is under way
    double brushFrom_ = 0;
    QPointF pressPixel_;
    QPointer<QCPItemRect> dragRect_;  // the range being dragged (a replot meanwhile deletes it)
    std::vector<caspl::KeyCorrelation> correlations_;
    QVector<QCPBars*> bars_;
};

}  // namespace caspl::ui
