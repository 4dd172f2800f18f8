#include "ui/runs_view.h"

#include "core/engine/tensorboard.h"
#include "core/util/atomic_file.h"
#include "core/util/dir_lock.h"
#include "ui/plot_image.h"
#include "ui/results_view.h"
#include "ui/text_format.h"
#include "ui/save_path.h"

#include <qcustomplot.h>

#include <QAbstractItemDelegate>
#include <QCheckBox>
#include <QUrl>
#include <QMenu>
#include <QMessageBox>
#include <QGuiApplication>
#include <QDesktopServices>
#include <QClipboard>
#include <QColor>
#include <QComboBox>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFont>
#include <QFontMetrics>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMouseEvent>
#include <QPointer>
#include <QPushButton>
#include <QSet>
#include <QSplitter>
#include <QThreadPool>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>

namespace caspl::ui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

const char* const kFigureNames[] = {"Base", "Novel", "HM", "All"};

}  // namespace

// ---------------------------------------------------------------------------------------------------------------

RunsTableModel::RunsTableModel(QObject* parent) : QAbstractTableModel(parent) {}

int RunsTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(table_.rows.size()); }

int RunsTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : FixedColumns + int(table_.keys.size()) + FigureCount;
}

std::optional<double> RunsTableModel::figureOf(const caspl::RunFolderStatus& s, Figure f) {
    switch (f) {
        case Base: return s.base;
        case Novel: return s.novel;
        case Hm: return s.hm;
        case All: return s.accuracy;
        default: return std::nullopt;
    }
}

std::optional<double> RunsTableModel::number(const std::string& value) { return caspl::configNumber(value); }

bool RunsTableModel::numericKey(int key) const { return key >= 0 && key < int(numeric_.size()) && numeric_[std::size_t(key)]; }

void RunsTableModel::setTable(caspl::RunsTable table) {
    beginResetModel();
    table_ = std::move(table);
    numeric_.assign(table_.keys.size(), true);
    for (std::size_t k = 0; k < table_.keys.size(); ++k)
        for (const auto& r : table_.rows)
            if (!r.values[k].empty() && !number(r.values[k])) numeric_[k] = false;  // a run without the key: no point
    endResetModel();
}

QVariant RunsTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    const int keys = int(table_.keys.size());
    if (role == Qt::DisplayRole) {
        switch (section) {
            case ColRun: return tr("Run");
            case ColMethod: return tr("Method");
            case ColState: return tr("State");
            case ColResults: return tr("Results");
            case ColRuntime: return tr("Runtime");
            case ColTags: return tr("Tags");
            case ColNote: return tr("Note");
            default: break;
        }
        if (section < FixedColumns + FigureCount) return tr(kFigureNames[section - FixedColumns]);
        if (section < FixedColumns + FigureCount + keys) return qs(table_.keys[std::size_t(section - FixedColumns - FigureCount)]);
    }
    if (role == Qt::ToolTipRole) {
        if (section == ColResults) return tr("Evaluations done of those the experiment plans (dataset × shots × seed)");
        if (section == ColRuntime)
            return tr("The time the run's processes have spent on it (W&B's runtime): every attempt, not the pauses "
                      "between a stop and its resume, nor re-evaluations; up to now for a running run");
        if (section == ColTags) return tr("The run's tags, comma-separated; double-click to edit (kept in its notes.json)");
        if (section == ColNote) return tr("The run's note; double-click to edit (kept in its notes.json)");
        if (section >= FixedColumns && section < FixedColumns + FigureCount)
            return tr("Mean over seeds (averaged over datasets when the run has several); shown for runs of one method "
                      "and shot count");
        if (section >= FixedColumns + FigureCount) return tr("A configuration key whose value differs between these runs");
    }
    return {};
}

QVariant RunsTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= int(table_.rows.size())) return {};
    const caspl::RunsTableRow& row = table_.rows[std::size_t(index.row())];
    const caspl::RunFolderStatus& s = row.status;
    const int c = index.column();
    const int keys = int(table_.keys.size());
    const bool best = table_.best && *table_.best == std::size_t(index.row());
    switch (role) {
        case FolderRole: return qs(s.folder);
        case BestRole: return best;
        case Qt::FontRole:
            if (best) {
                QFont f;
                f.setBold(true);
                return f;
            }
            return {};
        case Qt::ForegroundRole:
            if (c == ColState && (s.state == "failed" || s.state == "unreadable" || s.state == "crashed")) return QColor(183, 28, 28);
            return {};
        case Qt::ToolTipRole:
            if (c == ColRun) return qs(s.folder) + (best ? tr("\nthe best run of the table") : QString());
            if (c == ColResults && !s.resultsError.empty()) return qs(s.resultsError);
            if (c == ColState && !s.message.empty()) return qs(s.message);
            if (c == ColState && s.state == "queued")
                return tr("Queued in this window: its folder is made when it starts (tags and notes then)");
            if ((c == ColNote || c == ColTags) && !row.notesError.empty()) return qs(row.notesError);
            if (c == ColNote && !row.notes.note.empty()) return qs(row.notes.note);
            return {};
        case Qt::EditRole:
            if (c == ColTags) return qs(caspl::joinTags(row.notes.tags));
            if (c == ColNote) return qs(row.notes.note);
            return data(index, Qt::DisplayRole);
        case Qt::TextAlignmentRole:
            if ((c >= FixedColumns && c < FixedColumns + FigureCount) || c == ColResults || c == ColRuntime)
                return int(Qt::AlignRight | Qt::AlignVCenter);
            return {};
        default: break;
    }
    if (role != Qt::DisplayRole && role != SortRole) return {};
    const bool sort = role == SortRole;
    switch (c) {
        case ColRun: return folderName(qs(s.folder));
        case ColMethod: return qs(s.method);
        case ColState:
            return qs(s.state) + (s.pid && !sort ? tr(" (pid %1%2)").arg(s.pid).arg(s.host.empty() ? QString() : tr(" on %1").arg(qs(s.host)))
                                                 : QString());
        case ColResults:
            if (sort) return s.evaluations ? double(s.evaluated) / s.evaluations : 0.0;
            return QStringLiteral("%1/%2").arg(s.evaluated).arg(s.evaluations);
        case ColRuntime:
            if (sort) return s.runtime.value_or(-std::numeric_limits<double>::infinity());
            return s.runtime ? durationText(*s.runtime) : QString();
        case ColTags:
            if (!row.notesError.empty() && !sort) return tr("(notes.json unreadable)");
            return qs(caspl::joinTags(row.notes.tags));
        case ColNote: {
            // The first line; the whole note is the tooltip.
            const QString note = qs(row.notes.note);
            const int newline = note.indexOf('\n');
            return newline < 0 || sort ? note : note.left(newline) + QStringLiteral(" …");
        }
        default: break;
    }
    if (c < FixedColumns + FigureCount) {
        const auto v = figureOf(s, Figure(c - FixedColumns));
        if (sort) return v.value_or(-std::numeric_limits<double>::infinity());  // runs without a figure sort last descending
        return v ? fixedNumber(*v) : QString();
    }
    const int k = c - FixedColumns - FigureCount;
    if (k >= keys) return {};
    const std::string& v = row.values[std::size_t(k)];
    if (sort && numericKey(k)) return number(v).value_or(-std::numeric_limits<double>::infinity());
    return v.empty() && !sort ? QStringLiteral("–") : qs(v);
}

bool RunsTableModel::notesWritable(const QModelIndex& index) const {
    if (!index.isValid() || index.row() >= int(table_.rows.size())) return false;
    const caspl::RunsTableRow& row = table_.rows[std::size_t(index.row())];
    // A queued run has no folder yet to hold its notes.json.
    return row.status.state != "unreadable" && row.status.state != "queued" && row.notesError.empty();
}

Qt::ItemFlags RunsTableModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    // Tags in the cell; the note, which may span lines, in a dialog (RunsView::editNote).
    if (index.column() == ColTags && notesWritable(index)) f |= Qt::ItemIsEditable;
    return f;
}

bool RunsTableModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (role != Qt::EditRole || (index.column() != ColTags && index.column() != ColNote) || !notesWritable(index)) return false;
    const caspl::RunsTableRow& row = table_.rows[std::size_t(index.row())];
    if (index.column() == ColNote) {
        const std::string note = value.toString().toStdString();
        return updateNotes(index.row(), [&note](caspl::RunNotes& n) { n.note = note; });
    }
    std::vector<std::string> typed;
    try {
        typed = caspl::parseTags(value.toString().toStdString());
    } catch (const std::exception& e) {
        Q_EMIT notesFailed(QString::fromUtf8(e.what()));
        return false;
    }
    // The cell showed row.notes.tags: what the edit changed from those is applied to the file as it is now.
    const std::vector<std::string> shown = row.notes.tags;
    return updateNotes(index.row(), [&](caspl::RunNotes& n) { caspl::applyTagEdit(n.tags, shown, typed); });
}

bool RunsTableModel::updateNotes(int r, const std::function<void(caspl::RunNotes&)>& change) {
    if (r < 0 || r >= int(table_.rows.size())) return false;
    caspl::RunsTableRow& row = table_.rows[std::size_t(r)];
    if (!notesWritable(index(r, ColNote))) {
        Q_EMIT notesFailed(tr("The notes of %1 cannot be written: %2")
                               .arg(qs(row.status.folder), qs(row.notesError.empty() ? row.status.message : row.notesError)));
        return false;
    }
    try {
        row.notes = caspl::updateRunNotes(row.status.folder, change);  // as written: tags sorted, unique
    } catch (const std::exception& e) {
        Q_EMIT notesFailed(QString::fromUtf8(e.what()));
        return false;
    }
    Q_EMIT dataChanged(index(r, ColTags), index(r, ColNote));
    return true;
}

// ---------------------------------------------------------------------------------------------------------------

RunsView::RunsView(QWidget* parent) : QWidget(parent) {
    setObjectName("runsView");
    model_ = new RunsTableModel(this);
    proxy_ = new QSortFilterProxyModel(this);
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(RunsTableModel::SortRole);
    proxy_->setFilterKeyColumn(-1);
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    proxy_->setDynamicSortFilter(true);
    table_ = new ResultsTable(this);
    table_->setObjectName("runsTable");
    table_->setModel(proxy_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setWordWrap(false);
    // Tags and notes are edited in place (a double-click elsewhere selects the run in the queue).
    table_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
    table_->sortByColumn(-1, Qt::AscendingOrder);  // the order the runs were given until the user sorts

    filter_ = new QLineEdit(this);
    filter_->setObjectName("runsFilter");
    filter_->setPlaceholderText(tr("Filter: text in any column (a run's name, a value, a state)"));
    filter_->setClearButtonEnabled(true);
    summary_ = new QLabel(this);
    summary_->setObjectName("runsSummary");
    auto* reloadButton = new QPushButton(tr("Reload"), this);
    reloadButton->setToolTip(tr("Read the run folders again"));
    auto* exportButton = new QPushButton(tr("Export CSV…"), this);
    exportButton->setToolTip(tr("One row per run, as caspl export --runs writes it"));
    auto* tbButton = tbButton_ = new QPushButton(tr("TensorBoard…"), this);
    tbButton->setObjectName("runsExportTensorBoard");
    tbButton->setToolTip(tr("The shown runs' curves and accuracies as TensorBoard files, with its HParams dashboard "
                            "(as caspl export --tensorboard)"));
    auto* bar = new QHBoxLayout;
    bar->addWidget(filter_, 1);
    bar->addWidget(summary_, 1);
    bar->addWidget(reloadButton);
    bar->addWidget(exportButton);
    bar->addWidget(tbButton);

    figureBox_ = new QComboBox(this);
    figureBox_->setObjectName("runsPlotFigure");
    for (int f = 0; f < RunsTableModel::FigureCount; ++f) figureBox_->addItem(tr(kFigureNames[f]), f);
    figureBox_->setCurrentIndex(RunsTableModel::Hm);
    keyBox_ = new QComboBox(this);
    keyBox_->setObjectName("runsPlotKey");
    keyBox_->setMinimumContentsLength(18);
    logX_ = new QCheckBox(tr("log x"), this);
    logX_->setObjectName("runsPlotLogX");
    logX_->setToolTip(tr("A logarithmic x axis (for learning rates); only when every value is positive"));
    kindBox_ = new QComboBox(this);
    kindBox_->setObjectName("runsPlotKind");
    kindBox_->addItem(tr("Scatter"), Scatter);
    kindBox_->addItem(tr("Parallel coordinates"), ParallelCoordinates);
    kindBox_->addItem(tr("Correlation"), Correlation);
    kindBox_->setToolTip(tr("Scatter: the figure against one numeric key. Parallel coordinates: an axis per key that "
                            "differs, the figure's axis last, a line per run coloured by the figure (the highest thick and "
                            "red); drag along an axis to pick a range, drag its label sideways to move it, right-click it to "
                            "hide it. Correlation: how strongly each key went with the figure (Spearman's rho for numbers, the "
                            "correlation ratio eta for text), strongest first; click a bar for its scatter"));
    againstLabel_ = new QLabel(tr("against"), this);
    plotNote_ = new QLabel(this);
    plotNote_->setObjectName("runsPlotNote");
    auto* plotBar = new QHBoxLayout;
    plotBar->addWidget(kindBox_);
    plotBar->addWidget(new QLabel(tr("of"), this));
    plotBar->addWidget(figureBox_);
    plotBar->addWidget(againstLabel_);
    plotBar->addWidget(keyBox_);
    plotBar->addWidget(logX_);
    plotBar->addWidget(plotNote_, 1);
    auto* saveButton = new QPushButton(tr("Save Image…"), this);
    saveButton->setToolTip(tr("The plot as PNG, JPEG or PDF (vector graphics)"));
    plotBar->addWidget(saveButton);

    plot_ = new QCustomPlot(this);
    plot_->setObjectName("runsPlot");
    plot_->setMinimumHeight(160);
    graph_ = plot_->addGraph();
    graph_->setLineStyle(QCPGraph::lsNone);
    graph_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(31, 119, 180), QColor(31, 119, 180, 90), 8));
    bestGraph_ = plot_->addGraph();
    bestGraph_->setLineStyle(QCPGraph::lsNone);
    bestGraph_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssStar, QColor(214, 39, 40), QColor(214, 39, 40), 14));

    auto* plotPage = new QWidget(this);
    auto* plotLayout = new QVBoxLayout(plotPage);
    plotLayout->setContentsMargins(0, 0, 0, 0);
    plotLayout->addLayout(plotBar);
    plotLayout->addWidget(plot_, 1);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(table_);
    split->addWidget(plotPage);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addLayout(bar);
    layout->addWidget(split, 1);

    connect(filter_, &QLineEdit::textChanged, this, [this](const QString& text) {
        // The proxy announces the rows it hides and shows range by range (thousands of signals for a sweep of
        // thousands of runs): one replot after it has finished, not one per range.
        refiltering_ = true;
        proxy_->setFilterFixedString(text);
        refiltering_ = false;
        summary_->setText(summaryText());
        replot();
    });
    connect(reloadButton, &QPushButton::clicked, this, &RunsView::reload);
    connect(exportButton, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export Runs Table"), QStringLiteral("runs.csv"), tr("CSV (*.csv)"));
        if (path.isEmpty()) return;
        const QString error = exportCsv(path);
        summary_->setText(error.isEmpty() ? tr("wrote %1").arg(path) : error);
    });
    connect(tbButton, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Export the Shown Runs for TensorBoard (a folder outside the runs)"));
        if (dir.isEmpty()) return;
        const QString problem = exportTensorBoard(dir);
        if (!problem.isEmpty()) summary_->setText(problem);
    });
    connect(saveButton, &QPushButton::clicked, this, [this] {
        QString path = QFileDialog::getSaveFileName(this, tr("Save the plot as an image"),
                                                    plotKind() == ParallelCoordinates ? QStringLiteral("runs_parallel.png")
                                                    : plotKind() == Correlation       ? QStringLiteral("runs_correlation.png")
                                                                                      : QStringLiteral("runs_scatter.png"),
                                                    tr("Images (*.png *.jpg *.pdf)"));
        path = savePathWithSuffix(this, path, QStringLiteral("png"));
        if (path.isEmpty()) return;
        const QString problem = saveImage(path);
        summary_->setText(problem.isEmpty() ? tr("wrote %1").arg(QDir::toNativeSeparators(path)) : problem);
    });
    // Right-click: what can be done with the runs selected (the row under the mouse when it is not among them).
    table_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(table_, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        const QModelIndex at = table_->indexAt(pos);
        if (at.isValid() && !table_->selectionModel()->isRowSelected(at.row(), QModelIndex())) {
            table_->clearSelection();
            table_->selectionModel()->select(at, QItemSelectionModel::Select | QItemSelectionModel::Rows);
        }
        QMenu menu(this);
        fillContextMenu(&menu, selectedFolders());
        menu.exec(table_->viewport()->mapToGlobal(pos));
    });
    connect(table_, &QAbstractItemView::doubleClicked, this, [this](const QModelIndex& i) {
        if (i.column() == RunsTableModel::ColTags) return;  // edited in place
        if (i.column() == RunsTableModel::ColNote) {
            editNote(proxy_->mapToSource(i).row());
            return;
        }
        Q_EMIT runActivated(i.data(RunsTableModel::FolderRole).toString());
    });
    connect(model_, &RunsTableModel::notesFailed, this, [this](const QString& message) { summary_->setText(message); });
    // A tag or note written while a read is under way: that read may hold the notes from before; read again.
    connect(model_, &QAbstractItemModel::dataChanged, this, [this] {
        if (reading_) changedWhileReading_ = true;
    });
    // Sorted (the points' order), or rows filtered in or out (an edited tag under a filter): the summary and points.
    const auto shownChanged = [this] {
        if (refiltering_) return;
        summary_->setText(summaryText());
        replot();
    };
    connect(proxy_, &QAbstractItemModel::layoutChanged, this, shownChanged);
    connect(proxy_, &QAbstractItemModel::rowsInserted, this, shownChanged);
    connect(proxy_, &QAbstractItemModel::rowsRemoved, this, shownChanged);
    connect(figureBox_, &QComboBox::currentIndexChanged, this, &RunsView::replot);
    connect(keyBox_, &QComboBox::currentIndexChanged, this, &RunsView::replot);
    connect(logX_, &QCheckBox::toggled, this, &RunsView::replot);
    connect(kindBox_, &QComboBox::currentIndexChanged, this, &RunsView::replot);
    connect(plot_, &QCustomPlot::mouseMove, this, &RunsView::onPlotMouseMove);
    connect(plot_, &QCustomPlot::mousePress, this, &RunsView::onPlotClick);
    connect(plot_, &QCustomPlot::mouseRelease, this, &RunsView::onPlotRelease);
    plot_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(plot_, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        if (plotKind() != ParallelCoordinates) return;
        int a = axisNear(pos);
        if (a < 0) a = axisLabelNear(pos);
        QMenu menu(this);
        fillAxisMenu(&menu, a);
        if (!menu.isEmpty()) menu.exec(plot_->mapToGlobal(pos));
    });
    connect(
        table_->itemDelegate(), &QAbstractItemDelegate::closeEditor, this,
        [this] {
            if (!readAfterEdit_) return;
            readAfterEdit_ = false;
            reload();
        },
        Qt::QueuedConnection);  // after the edit is committed
    refillKeyBox();
    replot();
}

void RunsView::setFolders(const QStringList& folders, const std::map<std::string, caspl::ExperimentSpec>& queued) {
    // The same runs again (a refresh after an evaluation): the read under way stays valid and is followed by another;
    // only other folders, or other queued runs, make it out of date.
    if (folders != folders_ || queued != queued_) ++foldersGeneration_;  // ExperimentSpec::operator==: the experiment
    folders_ = folders;
    queued_ = queued;
    reload();
}

void RunsView::reload() {
    if (reading_) {
        readAgain_ = true;  // when the one under way ends: these folders may have changed since it started
        return;
    }
    startRead();
}

void RunsView::startRead() {
    ++readsStarted_;
    reading_ = true;
    readAgain_ = false;
    changedWhileReading_ = false;
    const quint64 generation = foldersGeneration_;
    if (model_->rowCount() == 0 && !folders_.isEmpty())
        summary_->setText(folders_.size() == 1 ? tr("Reading 1 run folder…") : tr("Reading %1 run folders…").arg(folders_.size()));
    std::vector<std::string> folders;
    for (const QString& f : folders_) folders.push_back(f.toStdString());
    // The result comes back through the application object, which outlives this view: the worker never touches the
    // view, and a view closed meanwhile is noticed on the GUI thread (the QPointer). The global pool is waited for
    // when the application ends.
    QPointer<RunsView> self(this);
    QThreadPool::globalInstance()->start([folders = std::move(folders), queued = queued_, self, generation] {
        auto table = std::make_shared<caspl::RunsTable>();
        auto error = std::make_shared<QString>();
        try {
            *table = caspl::readRunsTable(folders, queued);
        } catch (const std::exception& e) {  // readRunsTable turns a folder's problems into rows; this is the rest
            *error = QString::fromUtf8(e.what());
        }
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [self, table, error, generation] {
                if (!self) return;
                self->reading_ = false;
                // Shown unless it is out of date: other folders were set meanwhile, or a tag or note was edited (or a
                // table set) after this read may have read the notes. Shown even when another read of the same
                // folders was asked for: it is newer than the table on screen, and requests that keep coming must
                // not keep the table from ever updating.
                const bool outdated = generation != self->foldersGeneration_ || self->changedWhileReading_;
                // A tag being typed in a cell: a new table now would close the editor and drop the text. The
                // folders are read again when the editor closes (the edit may change them).
                if (!outdated && self->table_->editing()) {
                    self->readAfterEdit_ = true;
                    if (self->readAgain_) self->startRead();
                    return;
                }
                const bool again = self->readAgain_ || outdated;
                if (!outdated) {
                    if (error->isEmpty()) self->applyTable(std::move(*table));
                    else self->summary_->setText(tr("Cannot read the runs: %1").arg(*error));
                }
                if (again) self->startRead();
                if (!outdated) Q_EMIT self->tableRead();
            },
            Qt::QueuedConnection);
    });
}

void RunsView::setTable(caspl::RunsTable table) {
    if (reading_) changedWhileReading_ = true;  // a read under way would bring back what it read before this
    applyTable(std::move(table));
}

void RunsView::applyTable(caspl::RunsTable table) {
    const QStringList selected = selectedFolders();
    const bool first = model_->rowCount() == 0;
    const int columns = model_->columnCount();
    model_->setTable(std::move(table));
    for (const QString& f : selected) selectFolder(f);
    // Columns fit their contents when they appear (not on every reload: widths the user set stay).
    if (first || columns != model_->columnCount()) {
        table_->resizeColumnsToContents();
        for (int c = 0; c < model_->columnCount(); ++c) table_->setColumnWidth(c, std::min(table_->columnWidth(c), 280));
    }
    refillKeyBox();
    summary_->setText(summaryText());
    replot();
}

QString RunsView::statusText() const { return summary_->text(); }

QString RunsView::summaryText() const {
    const auto& t = model_->table();
    if (t.rows.empty()) return tr("No runs yet: run an experiment or open a run folder.");
    QString text = t.rows.size() == 1 ? tr("1 run") : tr("%1 runs").arg(t.rows.size());
    if (proxy_->rowCount() != int(t.rows.size())) text += tr(", %1 shown").arg(proxy_->rowCount());
    text += t.keys.size() == 1 ? tr(", 1 key differs") : tr(", %1 keys differ").arg(t.keys.size());
    if (t.best) {
        const auto& b = t.rows[*t.best].status;
        const bool hm = b.hm.has_value();
        text += tr("; best %1: %2 (%3)")
                    .arg(hm ? tr("HM") : tr("accuracy"), folderName(qs(b.folder)),
                         fixedNumber(hm ? *b.hm : b.accuracy.value_or(0.0)));
    }
    return text;
}

QString RunsView::exportCsv(const QString& path) const {
    try {
        caspl::writeFileAtomically(path.toStdString(), caspl::runsTableCsvText(model_->table()));
    } catch (const std::exception& e) {
        return tr("Cannot write %1: %2").arg(path, QString::fromUtf8(e.what()));
    }
    return {};
}

QString RunsView::exportTensorBoard(const QString& dir) {
    if (exporting_) return tr("An export for TensorBoard is under way: wait for it to end");
    std::vector<std::string> folders;
    for (int r = 0; r < proxy_->rowCount(); ++r) {
        const auto& row = model_->table().rows[std::size_t(proxy_->mapToSource(proxy_->index(r, 0)).row())];
        if (row.status.state != "queued") folders.push_back(row.status.folder);  // a queued run has no folder yet
    }
    if (folders.empty()) return tr("Nothing to export: no shown run has logged anything yet");
    exporting_ = true;
    if (tbButton_) tbButton_->setEnabled(false);
    summary_->setText(tr("Exporting %n run(s) for TensorBoard…", nullptr, int(folders.size())));
    // As startRead: the worker never touches the view; the result comes back through the application object.
    QPointer<RunsView> self(this);
    QThreadPool::globalInstance()->start([folders = std::move(folders), dir, host = caspl::DirLock::hostName(),
                                          now = double(QDateTime::currentSecsSinceEpoch()), self] {
        QString problem, text;
        try {
            std::vector<std::string> logged;  // the runs that have logged something
            int without = 0;
            for (const auto& f : folders) {
                if (QFileInfo::exists(QDir(qs(f)).filePath(QStringLiteral("events.jsonl")))) logged.push_back(f);
                else ++without;
            }
            if (logged.empty()) problem = tr("Nothing to export: no shown run has logged anything yet");
            else {
                const auto written = caspl::exportRunsToTensorBoard(logged, dir.toStdString(), host, now);
                if (written.files.empty()) problem = tr("Nothing exported: the shown runs have no metric or evaluation lines yet");
                else {
                    text = tr("wrote %n event file(s) under %1 (tensorboard --logdir %1)", nullptr, int(written.files.size()))
                               .arg(QDir::toNativeSeparators(dir));
                    if (without) text += tr("; %n run(s) that have not logged anything left out", nullptr, without);
                    if (!written.warnings.empty())
                        text += tr("; %n warning(s): %1", nullptr, int(written.warnings.size())).arg(qs(written.warnings.front()));
                }
            }
        } catch (const std::exception& e) {
            problem = tr("Cannot export for TensorBoard: %1").arg(QString::fromUtf8(e.what()));
        }
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [self, problem, text] {
                if (!self) return;
                self->exporting_ = false;
                if (self->tbButton_) self->tbButton_->setEnabled(true);
                self->summary_->setText(problem.isEmpty() ? text : problem);
                Q_EMIT self->tensorBoardExported(problem);
            },
            Qt::QueuedConnection);
    });
    return {};
}

int RunsView::rowOfFolder(const QString& folder) const {
    const auto& rows = model_->table().rows;
    for (std::size_t r = 0; r < rows.size(); ++r)
        if (qs(rows[r].status.folder) == folder) return int(r);
    return -1;
}

void RunsView::editNote(int row) {
    if (row < 0 || row >= model_->rowCount()) return;
    const QModelIndex i = model_->index(row, RunsTableModel::ColNote);
    const QString folder = i.data(RunsTableModel::FolderRole).toString();
    const auto cannot = [this, &folder](const std::string& why) {
        summary_->setText(tr("The notes of %1 cannot be edited: %2").arg(folder, qs(why)));
    };
    if (!model_->notesWritable(i)) {
        const auto& r = model_->table().rows[std::size_t(row)];
        cannot(r.notesError.empty() ? r.status.message : r.notesError);
        return;
    }
    // The note as the file holds it now (`caspl notes` may have written it since the table was read): the dialog
    // starts from it, and a change made elsewhere while the dialog is open is noticed when it is saved.
    std::string opened;
    try {
        opened = caspl::readRunNotes(folder.toStdString()).note;
    } catch (const std::exception& e) {
        cannot(e.what());
        return;
    }
    // The dialog's own copy of the note (its text box turns a no-break space into a space, U+2028 into a line
    // break): what it returns unchanged was not edited, and is not written.
    QInputDialog dialog(this);
    dialog.setWindowTitle(tr("Note"));
    dialog.setLabelText(tr("Note of %1 (kept in its notes.json):").arg(folderName(folder)));
    dialog.setOption(QInputDialog::UsePlainTextEditForTextInput);
    dialog.setTextValue(QString::fromStdString(opened));
    const QString shown = dialog.textValue();
    if (dialog.exec() != QDialog::Accepted) return;
    const QString text = dialog.textValue();
    if (text == shown) return;
    // Where the note cannot be written after all, the text typed is kept on the clipboard.
    const auto keepText = [this, &text](const QString& why) {
        QGuiApplication::clipboard()->setText(text);
        summary_->setText(why + tr(" (your note is on the clipboard)"));
    };
    // The dialog ran an event loop: a read may have replaced the table meanwhile, so the run is found again by its
    // folder (the row it had may now be another run's).
    const int now = rowOfFolder(folder);
    if (now < 0) {
        keepText(tr("%1 is no longer in the table: the note was not written").arg(folder));
        return;
    }
    const std::string mine = text.toStdString();
    std::optional<std::string> theirs;  // the note written elsewhere while the dialog was open
    if (!model_->updateNotes(now, [&](caspl::RunNotes& n) {
            if (n.note != opened && n.note != mine) theirs = n.note;  // left as it is: the user chooses below
            else n.note = mine;
        })) {
        keepText(summary_->text());  // notesFailed said why
        return;
    }
    if (!theirs) return;
    // Nothing is lost without the user's word: both texts are shown, and keeping both is the default.
    QMessageBox box(QMessageBox::Warning, tr("Note changed elsewhere"),
                    tr("The note of %1 was changed by another program (caspl notes, another studio) while you edited it.")
                        .arg(folderName(folder)),
                    QMessageBox::NoButton, this);
    box.setObjectName("noteConflict");
    box.setInformativeText(tr("Keep Both puts yours after its note, a blank line between. Show Details… for both texts."));
    box.setDetailedText(tr("Its note now:\n%1\n\nYours:\n%2").arg(QString::fromStdString(*theirs), text));
    auto* both = box.addButton(tr("Keep Both"), QMessageBox::AcceptRole);
    auto* mineButton = box.addButton(tr("Use Mine"), QMessageBox::DestructiveRole);
    box.addButton(tr("Keep Theirs"), QMessageBox::RejectRole);
    box.setDefaultButton(both);
    box.exec();
    if (box.clickedButton() != both && box.clickedButton() != mineButton) return;
    const int again = rowOfFolder(folder);
    if (again < 0) {
        keepText(tr("%1 is no longer in the table: the note was not written").arg(folder));
        return;
    }
    const bool keepBoth = box.clickedButton() == both;
    if (!model_->updateNotes(again, [&](caspl::RunNotes& n) {
            // Both: theirs as the file holds it now, then a blank line, then mine.
            if (keepBoth) n.note = n.note.empty() ? mine : n.note + (mine.empty() ? "" : "\n\n" + mine);
            else n.note = mine;
        }))
        keepText(summary_->text());
}

void RunsView::fillContextMenu(QMenu* menu, const QStringList& folders) {
    const auto& t = model_->table();
    const auto rowOf = [&t](const QString& folder) -> const caspl::RunsTableRow* {
        for (const auto& r : t.rows)
            if (qs(r.status.folder) == folder) return &r;
        return nullptr;
    };
    // A run that has its folder (not queued, not unreadable) can be compared and looked into.
    const auto hasFolder = [&](const QString& f) {
        const caspl::RunsTableRow* r = rowOf(f);
        return r && r->status.state != "queued" && r->status.state != "unreadable";
    };
    const bool allFolders = !folders.isEmpty() && std::all_of(folders.begin(), folders.end(), hasFolder);
    QAction* compare = menu->addAction(tr("&Compare the Two Runs…"));
    compare->setObjectName("runsCompare");
    compare->setEnabled(folders.size() == 2 && allFolders);
    compare->setToolTip(tr("Their configuration differences and results side by side (select two runs)"));
    connect(compare, &QAction::triggered, this, [this, folders] { Q_EMIT compareRequested(folders.value(0), folders.value(1)); });
    QAction* perClass = menu->addAction(tr("&Per-Class Accuracy…"));
    perClass->setObjectName("runsPerClass");
    perClass->setEnabled((folders.size() == 1 || folders.size() == 2) && allFolders);
    connect(perClass, &QAction::triggered, this, [this, folders] { Q_EMIT perClassRequested(folders.value(0), folders.value(1)); });
    // The runs picked here (by hand, or brushed on the parallel coordinates) as the live plots' only curves.
    QAction* curves = menu->addAction(folders.size() == 1 ? tr("Plot Only This Run's &Curves") : tr("Plot Only These Runs' &Curves"));
    curves->setObjectName("runsPlotCurves");
    curves->setToolTip(tr("The live plots show these runs and hide the others (the list beside the plots shows them again)"));
    curves->setEnabled(std::any_of(folders.begin(), folders.end(), [&](const QString& f) {
        const caspl::RunsTableRow* r = rowOf(f);
        return r && r->status.state != "unreadable";
    }));
    connect(curves, &QAction::triggered, this, [this, folders] { Q_EMIT curvesRequested(folders); });
    menu->addSeparator();
    QAction* note = menu->addAction(tr("Edit &Note…"));
    note->setObjectName("runsEditNote");
    const int noteRow = folders.size() == 1 ? rowOfFolder(folders.front()) : -1;
    note->setEnabled(noteRow >= 0 && model_->notesWritable(model_->index(noteRow, RunsTableModel::ColNote)));
    // By folder, found again when chosen: the menu's event loop may have let a read replace the table.
    connect(note, &QAction::triggered, this, [this, folders] { editNote(rowOfFolder(folders.value(0))); });
    QAction* queue = menu->addAction(tr("Show in the &Queue"));
    queue->setObjectName("runsShowInQueue");
    queue->setEnabled(folders.size() == 1);
    connect(queue, &QAction::triggered, this, [this, folders] { Q_EMIT runActivated(folders.value(0)); });
    QAction* open = menu->addAction(tr("&Open the Run Folder"));
    open->setObjectName("runsOpenFolder");
    open->setEnabled(folders.size() == 1 && allFolders);
    connect(open, &QAction::triggered, this, [folders] { QDesktopServices::openUrl(QUrl::fromLocalFile(folders.value(0))); });
    QAction* copy = menu->addAction(folders.size() == 1 ? tr("Copy the Folder's Path") : tr("Copy the Folders' Paths"));
    copy->setObjectName("runsCopyPaths");
    copy->setEnabled(!folders.isEmpty());
    connect(copy, &QAction::triggered, this, [folders] { QGuiApplication::clipboard()->setText(folders.join(QLatin1Char('\n'))); });
}

QString RunsView::saveImage(const QString& path) {
    if (const QString why = plotMessage(); !why.isEmpty()) return tr("Nothing to save: %1").arg(why);
    return savePlotImage(path, {{plot_, std::max(plot_->height(), 420)}}, std::max(plot_->width(), 760));
}

void RunsView::selectFolder(const QString& folder) {
    for (int r = 0; r < proxy_->rowCount(); ++r) {
        const QModelIndex i = proxy_->index(r, 0);
        if (i.data(RunsTableModel::FolderRole).toString() == folder) {
            table_->selectionModel()->select(i, QItemSelectionModel::Select | QItemSelectionModel::Rows);
            table_->scrollTo(i);
            return;
        }
    }
}

QStringList RunsView::selectedFolders() const {
    QStringList out;
    if (!table_->selectionModel()) return out;
    for (const QModelIndex& i : table_->selectionModel()->selectedRows())
        out << i.data(RunsTableModel::FolderRole).toString();
    return out;
}

void RunsView::refillKeyBox() {
    const QString current = keyBox_->currentText();
    const QSignalBlocker block(keyBox_);
    keyBox_->clear();
    const auto& t = model_->table();
    // Keep the key chosen before; else the one with the most distinct values (a sweep's longest axis), a learning
    // rate first among equals.
    int at = -1, bestDistinct = 0;
    bool bestIsLr = false;
    for (int k = 0; k < int(t.keys.size()); ++k) {
        if (!model_->numericKey(k)) continue;
        keyBox_->addItem(qs(t.keys[std::size_t(k)]), k);
        QSet<QString> distinct;
        for (const auto& r : t.rows)
            if (!r.values[std::size_t(k)].empty()) distinct.insert(qs(r.values[std::size_t(k)]));
        const bool lr = QString::fromStdString(t.keys[std::size_t(k)]).endsWith(QLatin1String("lr"));
        if (distinct.size() > bestDistinct || (distinct.size() == bestDistinct && lr && !bestIsLr)) {
            at = keyBox_->count() - 1;
            bestDistinct = int(distinct.size());
            bestIsLr = lr;
        }
    }
    // The runtime too, where two runs or more have one: a figure against the time it cost (HM against runtime,
    // CasPL's accuracy for its phase 1). Chosen by itself only when no key is a number.
    if (std::count_if(t.rows.begin(), t.rows.end(), [](const caspl::RunsTableRow& r) { return r.status.runtime.has_value(); }) >= 2)
        keyBox_->addItem(tr("runtime (s)"), kRuntimeKey);
    if (const int kept = keyBox_->findText(current); kept >= 0) at = kept;
    keyBox_->setCurrentIndex(std::max(at, 0));
}

QPointF RunsView::plotPixel(double x, double y) const {
    return {plot_->xAxis->coordToPixel(x), plot_->yAxis->coordToPixel(y)};
}

RunsView::PlotKind RunsView::plotKind() const { return PlotKind(kindBox_->currentData().toInt()); }

QString RunsView::plotMessage() const {
    const auto& t = model_->table();
    if (t.rows.size() < 2) return tr("Two runs or more are plotted against a key that differs between them.");
    if (plotKind() != Scatter && t.keys.empty()) return tr("No configuration key differs between these runs.");
    if (plotKind() == ParallelCoordinates) {
        if (!lines_.isEmpty()) return {};
        if (!hiddenAxes_.isEmpty() && std::all_of(t.keys.begin(), t.keys.end(), [this](const std::string& k) { return hiddenAxes_.contains(qs(k)); }))
            return tr("Every key's axis is hidden: right-click the plot and choose Show All Axes.");
        return tr("No shown run has a configuration to draw.");
    }
    if (plotKind() == Correlation)
        return correlations_.empty() ? tr("No correlation yet: it needs 3 shown runs or more with the key and the figure, "
                                          "different figures, and a text key's values each held by two runs or more.")
                                     : QString();
    if (keyBox_->count() == 0) return tr("No key with numeric values differs between these runs.");
    if (points_.isEmpty()) return tr("No shown run has this figure yet.");
    return {};
}

void RunsView::replot() {
    const PlotKind kind = plotKind();
    const bool scatter = kind == Scatter;
    againstLabel_->setHidden(!scatter);
    keyBox_->setHidden(!scatter);
    logX_->setHidden(!scatter);
    QToolTip::hideText();
    points_.clear();
    pointFolders_.clear();
    pointNames_.clear();
    axes_.clear();
    axisKeys_.clear();
    lines_.clear();
    lineFolders_.clear();
    lineTips_.clear();
    drawOrder_.clear();
    lineBrushed_.clear();
    activeBrushes_ = 0;
    delete parallelLayer_;  // leaves its layer
    parallelLayer_ = nullptr;
    correlations_.clear();
    for (QCPBars* b : bars_) plot_->removePlottable(b);
    bars_.clear();
    plot_->clearItems();
    graph_->data()->clear();
    bestGraph_->data()->clear();
    // Each kind starts from the same axes: nothing of the previous kind's scale, ticks or range stays.
    for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis}) {
        axis->setVisible(true);
        axis->setScaleType(QCPAxis::stLinear);
        axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        axis->setRange(0, 1);
        axis->setLabel(QString());
        axis->grid()->setVisible(true);
    }
    if (kind == ParallelCoordinates) replotParallel();
    else if (kind == Correlation) replotCorrelation();
    else replotScatter();
    const QString message = plotMessage();
    plotNote_->setText(message.isEmpty() && kind == ParallelCoordinates ? brushText() : message);
    plot_->replot();
}

void RunsView::replotScatter() {
    const auto figure = RunsTableModel::Figure(figureBox_->currentData().toInt());
    const auto& t = model_->table();
    int key = keyBox_->count() ? keyBox_->currentData().toInt() : -1;
    if (key >= int(t.keys.size())) key = -1;  // the box not refilled yet for a new table
    QVector<double> xs, ys, bx, by;
    if (key >= 0 || key == kRuntimeKey) {
        for (int r = 0; r < proxy_->rowCount(); ++r) {
            const int row = proxy_->mapToSource(proxy_->index(r, 0)).row();
            const auto& rr = t.rows[std::size_t(row)];
            const auto x = key == kRuntimeKey ? rr.status.runtime : RunsTableModel::number(rr.values[std::size_t(key)]);
            const auto y = RunsTableModel::figureOf(rr.status, figure);
            if (!x || !y) continue;
            points_ << QPointF(*x, *y);
            pointFolders_ << qs(rr.status.folder);
            pointNames_ << folderName(qs(rr.status.folder));
        }
    }
    // The star: the highest point of the figure shown (of two or more), whichever figure that is.
    int best = -1;
    for (int i = 0; i < points_.size(); ++i)
        if (best < 0 || points_[i].y() > points_[best].y()) best = i;
    if (points_.size() < 2) best = -1;
    for (int i = 0; i < points_.size(); ++i) {
        (i == best ? bx : xs) << points_[i].x();
        (i == best ? by : ys) << points_[i].y();
    }
    const bool positive = std::all_of(points_.begin(), points_.end(), [](const QPointF& p) { return p.x() > 0; });
    logX_->setEnabled(positive && !points_.isEmpty());
    const bool logX = logX_->isChecked() && logX_->isEnabled();
    plot_->xAxis->setScaleType(logX ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (logX) plot_->xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else plot_->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    graph_->setData(xs, ys);
    bestGraph_->setData(bx, by);
    bestGraph_->setName(tr("highest"));
    plot_->xAxis->setLabel(keyBox_->currentText());
    plot_->yAxis->setLabel(figureBox_->currentText() + tr(" (%)"));
    if (!points_.isEmpty()) {
        double x0 = points_[0].x(), x1 = x0, y0 = points_[0].y(), y1 = y0;
        for (const QPointF& p : points_) {
            x0 = std::min(x0, p.x());
            x1 = std::max(x1, p.x());
            y0 = std::min(y0, p.y());
            y1 = std::max(y1, p.y());
        }
        // A margin around the points (a factor on a log axis), a unit where all values are equal.
        if (logX) plot_->xAxis->setRange(x0 / 1.5, x1 * 1.5);
        else {
            const double mx = x1 > x0 ? (x1 - x0) * 0.08 : std::max(std::abs(x0) * 0.1, 1.0);
            plot_->xAxis->setRange(x0 - mx, x1 + mx);
        }
        const double my = y1 > y0 ? (y1 - y0) * 0.1 : 1.0;
        plot_->yAxis->setRange(y0 - my, y1 + my);
    }
}

namespace {

// Every run's line of the parallel-coordinates plot, drawn in one pass by one layerable: a QCPGraph per run cost
// seconds per keystroke in the filter with a few hundred runs (each graph added, removed and laid out on its own).
class ParallelLinesLayer : public QCPLayerable {
public:
    struct Line {
        int index;  // into RunsView's lines_
        QColor colour;
        double width;
    };
    ParallelLinesLayer(QCustomPlot* plot, const QVector<QVector<double>>* ys)
        : QCPLayerable(plot, QStringLiteral("main")), ys_(ys) {}
    std::vector<Line> lines;  // in drawing order: the last on top

protected:
    void applyDefaultAntialiasingHint(QCPPainter* painter) const override {
        applyAntialiasingHint(painter, mAntialiased, QCP::aePlottables);
    }
    QRect clipRect() const override { return mParentPlot->axisRect()->rect(); }
    void draw(QCPPainter* painter) override {
        const QCPAxis* x = mParentPlot->xAxis;
        const QCPAxis* y = mParentPlot->yAxis;
        for (const Line& l : lines) {
            const QVector<double>& ys = (*ys_)[l.index];
            painter->setPen(QPen(l.colour, l.width));
            painter->setBrush(l.colour);
            const double r = l.width + 1;
            QPointF previous;
            bool joined = false;  // a point before this one to join (NaN: the run lacks the key, a gap)
            for (int a = 0; a < ys.size(); ++a) {
                if (std::isnan(ys[a])) {
                    joined = false;
                    continue;
                }
                const QPointF p(x->coordToPixel(a), y->coordToPixel(ys[a]));
                if (joined) painter->drawLine(previous, p);
                painter->drawEllipse(p, r, r);
                previous = p;
                joined = true;
            }
        }
    }

private:
    const QVector<QVector<double>>* ys_;
};

// Low to high figures: dark purple, teal, yellow-green (viridis from 0 to 0.93: its last yellow is too pale on white).
QColor figureColour(double t) {
    static const QColor stops[] = {QColor(68, 1, 84), QColor(33, 145, 140), QColor(189, 223, 38)};
    t = std::clamp(t, 0.0, 1.0) * 2;
    const int i = std::min(int(t), 1);
    const double f = t - i;
    const QColor& a = stops[i];
    const QColor& b = stops[i + 1];
    return QColor(int(std::lround(a.red() + (b.red() - a.red()) * f)), int(std::lround(a.green() + (b.green() - a.green()) * f)),
                  int(std::lround(a.blue() + (b.blue() - a.blue()) * f)));
}

// "method.promptsrc.text_loss_weight" as "method.promptsrc.\ntext_loss_weight": narrow enough to sit under an axis.
QString axisLabel(const std::string& key) {
    QString k = QString::fromStdString(key);
    const int dot = k.lastIndexOf(QLatin1Char('.'));
    if (dot > 0) k.insert(dot + 1, QLatin1Char('\n'));
    return k;
}

}  // namespace

void RunsView::replotCorrelation() {
    const auto figure = RunsTableModel::Figure(figureBox_->currentData().toInt());
    const auto& t = model_->table();
    plot_->xAxis->setScaleType(QCPAxis::stLinear);
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    plot_->xAxis->grid()->setVisible(true);
    plot_->yAxis->grid()->setVisible(false);
    plot_->yAxis->setVisible(true);
    plot_->yAxis->setLabel(QString());
    plot_->xAxis->setLabel(tr("correlation with %1 (ρ: Spearman's, numeric keys; η: correlation ratio, text keys)")
                               .arg(figureBox_->currentText()));
    // The shown runs' figures; the others left out.
    std::vector<std::optional<double>> figures(t.rows.size());
    for (int r = 0; r < proxy_->rowCount(); ++r) {
        const auto row = std::size_t(proxy_->mapToSource(proxy_->index(r, 0)).row());
        figures[row] = RunsTableModel::figureOf(t.rows[row].status, figure);
    }
    correlations_ = caspl::keyCorrelations(t, figures);
    const int n = int(correlations_.size());
    // Strongest at the top: bar i at height n - 1 - i. One bar series per colour.
    auto* positive = new QCPBars(plot_->yAxis, plot_->xAxis);
    auto* negative = new QCPBars(plot_->yAxis, plot_->xAxis);
    auto* ratio = new QCPBars(plot_->yAxis, plot_->xAxis);
    const QColor colours[] = {QColor(31, 119, 180), QColor(214, 39, 40), QColor(127, 127, 127)};
    QCPBars* series[] = {positive, negative, ratio};
    for (int s = 0; s < 3; ++s) {
        series[s]->setWidth(0.6);
        series[s]->setPen(QPen(colours[s].darker(130)));
        series[s]->setBrush(colours[s]);
        bars_ << series[s];
    }
    auto ticker = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
    for (int i = 0; i < n; ++i) {
        const caspl::KeyCorrelation& c = correlations_[std::size_t(i)];
        const double at = n - 1 - i;
        (c.numeric ? (c.value >= 0 ? positive : negative) : ratio)->addData(at, c.value);
        ticker->addTick(at, qs(c.key));
        auto* label = new QCPItemText(plot_);
        label->position->setCoords(c.value, at);
        label->setPositionAlignment((c.value >= 0 ? Qt::AlignLeft : Qt::AlignRight) | Qt::AlignVCenter);
        label->setPadding(QMargins(4, 0, 4, 0));
        label->setText(tr("%1 %2 (%3 runs)")
                           .arg(c.numeric ? QStringLiteral("ρ") : QStringLiteral("η"), c.numeric ? signedNumber(c.value) : fixedNumber(c.value))
                           .arg(c.runs));
        label->setLayer(QStringLiteral("axes"));
    }
    plot_->yAxis->setTicker(ticker);
    plot_->yAxis->setRange(-0.6, std::max(n, 1) - 0.4);
    plot_->xAxis->setRange(-1.35, 1.35);  // room for the labels at the bars' ends
}

void RunsView::replotParallel() {
    const auto figure = RunsTableModel::Figure(figureBox_->currentData().toInt());
    const auto& t = model_->table();
    plot_->xAxis->grid()->setVisible(false);
    plot_->yAxis->grid()->setVisible(false);
    plot_->yAxis->setVisible(false);  // each axis carries its own labels
    if (t.keys.empty()) return;
    // The shown runs that have a configuration (an unreadable folder has none), in the table's order.
    std::vector<std::size_t> rows;
    for (int r = 0; r < proxy_->rowCount(); ++r) {
        const auto row = std::size_t(proxy_->mapToSource(proxy_->index(r, 0)).row());
        if (!t.rows[row].config.empty()) rows.push_back(row);
    }
    if (rows.empty()) return;
    // The keys' axes: those the user moved in their order, then the others in the table's order; hidden ones left out.
    for (const QString& key : axisOrder_)
        for (std::size_t k = 0; k < t.keys.size(); ++k)
            if (qs(t.keys[k]) == key && !hiddenAxes_.contains(key)) axisKeys_.push_back(k);
    for (std::size_t k = 0; k < t.keys.size(); ++k)
        if (!axisOrder_.contains(qs(t.keys[k])) && !hiddenAxes_.contains(qs(t.keys[k]))) axisKeys_.push_back(k);
    if (axisKeys_.empty()) return;  // every key's axis hidden (plotMessage says how to show them)
    for (const std::size_t k : axisKeys_) {
        std::vector<std::string> values;
        for (const std::size_t row : rows) values.push_back(t.rows[row].values[k]);
        axes_.push_back(caspl::makeParallelAxis(t.keys[k], values));
    }
    std::vector<double> figures;
    for (const std::size_t row : rows)
        if (const auto v = RunsTableModel::figureOf(t.rows[row].status, figure)) figures.push_back(*v);
    const QString figureName = figureBox_->currentText();
    axes_.push_back(caspl::makeFigureAxis((figureName + tr(" (%)")).toStdString(), figures));
    const caspl::ParallelAxis& figureAxis = axes_.back();

    auto ticker = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
    for (std::size_t a = 0; a < axes_.size(); ++a) {
        ticker->addTick(double(a), axisLabel(axes_[a].name));
        auto* line = new QCPItemLine(plot_);
        line->start->setCoords(double(a), 0);
        line->end->setCoords(double(a), 1);
        line->setPen(QPen(QColor(120, 120, 120), 1.2));
        for (const auto& [at, text] : axes_[a].ticks()) {
            auto* label = new QCPItemText(plot_);
            label->position->setCoords(double(a), at);
            label->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
            label->setText(QString::fromStdString(text));
            label->setColor(QColor(60, 60, 60));
            label->setBrush(QColor(255, 255, 255, 200));
            label->setPadding(QMargins(4, 0, 2, 0));
            label->setLayer(QStringLiteral("axes"));  // above the lines
            QFont font = label->font();
            font.setPointSizeF(std::max(6.0, font.pointSizeF() - 1));
            label->setFont(font);
        }
    }
    plot_->xAxis->setTicker(ticker);
    plot_->xAxis->setRange(-0.2, double(axes_.size()) - 0.5);
    plot_->yAxis->setRange(-0.06, 1.06);

    const double nan = std::numeric_limits<double>::quiet_NaN();
    QVector<double> xs;
    for (std::size_t a = 0; a < axes_.size(); ++a) xs << double(a);
    struct Drawn {
        int line;
        std::optional<double> figure;
    };
    std::vector<Drawn> order;
    for (const std::size_t row : rows) {
        const auto& rr = t.rows[row];
        QVector<double> ys;
        QString tip = folderName(qs(rr.status.folder));
        for (std::size_t a = 0; a < axisKeys_.size(); ++a) ys << axes_[a].position(rr.values[axisKeys_[a]]).value_or(nan);
        for (std::size_t k = 0; k < t.keys.size(); ++k)  // every key, hidden ones too, in the table's order
            tip += QStringLiteral("\n%1 = %2").arg(qs(t.keys[k]), rr.values[k].empty() ? QStringLiteral("–") : qs(rr.values[k]));
        const auto v = RunsTableModel::figureOf(rr.status, figure);
        ys << (v ? figureAxis.position(*v).value_or(nan) : nan);
        tip += QStringLiteral("\n%1 %2").arg(figureName, v ? fixedNumber(*v) : tr("none yet"));
        // Inside every range brushed on an axis drawn now (a range on another axis does nothing).
        bool in = true;
        for (const auto& b : brushes_)
            for (std::size_t a = 0; a < axes_.size(); ++a)
                if (axes_[a].name == b.axis && axes_[a].numeric == b.numeric)
                    in = in && (a < axisKeys_.size() ? b.contains(rr.values[axisKeys_[a]]) : v && b.contains(*v));
        lineBrushed_ << in;
        order.push_back({int(lines_.size()), v});
        lines_ << ys;
        lineFolders_ << qs(rr.status.folder);
        lineTips_ << tip;
    }
    // Runs outside a brushed range first (pale), then runs without the figure (grey), then by the figure: the
    // highest lines stay on top, the highest of all (of two or more) thick and red.
    std::stable_sort(order.begin(), order.end(), [this](const Drawn& a, const Drawn& b) {
        if (lineBrushed_[a.line] != lineBrushed_[b.line]) return lineBrushed_[b.line];
        if (a.figure.has_value() != b.figure.has_value()) return b.figure.has_value();
        return a.figure && *a.figure < *b.figure;
    });
    const auto ranked = [this](const Drawn& d) { return lineBrushed_[d.line] && d.figure; };
    const bool highest = order.size() >= 2 && ranked(order.back()) && ranked(order[order.size() - 2]);
    auto* layer = new ParallelLinesLayer(plot_, &lines_);
    for (std::size_t i = 0; i < order.size(); ++i) {
        const Drawn& d = order[i];
        const bool top = highest && i + 1 == order.size();
        QColor colour(150, 150, 150, 140);
        if (!lineBrushed_[d.line]) colour = QColor(205, 205, 205, 110);
        else if (top) colour = QColor(214, 39, 40);  // as the scatter's star
        else if (d.figure) colour = figureColour(figureAxis.position(*d.figure).value_or(0.5));
        layer->lines.push_back({d.line, colour, top ? 3.5 : lineBrushed_[d.line] ? 1.6 : 1.0});
        drawOrder_ << d.line;
    }
    parallelLayer_ = layer;
    // The ranges, as bands along their axes.
    for (const auto& b : brushes_)
        for (std::size_t a = 0; a < axes_.size(); ++a) {
            // A range of the other kind (a key whose values turned from numbers to text as the runs shown changed)
            // does nothing until the axis is of its kind again.
            if (axes_[a].name != b.axis || axes_[a].numeric != b.numeric) continue;
            ++activeBrushes_;
            const auto span = b.span(axes_[a]);
            if (!span) continue;  // no value of the range on the axis now: no run passes, nothing to draw
            auto* band = new QCPItemRect(plot_);
            band->topLeft->setCoords(double(a) - 0.06, span->second + 0.015);
            band->bottomRight->setCoords(double(a) + 0.06, span->first - 0.015);
            band->setPen(QPen(QColor(31, 119, 180), 1.2));
            band->setBrush(QColor(31, 119, 180, 45));
        }
}

int RunsView::axisNear(const QPointF& pixel) const {
    if (plotKind() != ParallelCoordinates || axes_.empty()) return -1;
    const double y = plot_->yAxis->pixelToCoord(pixel.y());
    if (y < -0.04 || y > 1.04) return -1;
    for (std::size_t a = 0; a < axes_.size(); ++a)
        if (std::abs(plot_->xAxis->coordToPixel(double(a)) - pixel.x()) <= 8) return int(a);
    return -1;
}

int RunsView::axisLabelNear(const QPointF& pixel) const {
    if (plotKind() != ParallelCoordinates || axes_.empty()) return -1;
    const QRect r = plot_->axisRect()->rect();
    const int labels = plot_->xAxis->tickLabelPadding() + 3 * QFontMetrics(plot_->xAxis->tickLabelFont()).height();  // two lines and room
    if (pixel.y() <= r.bottom() || pixel.y() > r.bottom() + labels) return -1;
    const double spacing =
        axes_.size() > 1 ? std::abs(plot_->xAxis->coordToPixel(1) - plot_->xAxis->coordToPixel(0)) : double(r.width());
    for (std::size_t a = 0; a < axes_.size(); ++a)
        if (std::abs(plot_->xAxis->coordToPixel(double(a)) - pixel.x()) <= spacing / 2) return int(a);
    return -1;
}

int RunsView::moveTarget(const QPointF& pixel) const {
    if (axisKeys_.empty()) return 0;
    const double x = plot_->xAxis->pixelToCoord(pixel.x());
    return int(std::clamp(std::lround(x), 0L, long(axisKeys_.size()) - 1));
}

void RunsView::moveParallelAxis(int axis, int to) {
    const int n = int(axisKeys_.size());
    if (axis < 0 || axis >= n) return;
    to = std::clamp(to, 0, n - 1);
    if (to == axis) return;
    QStringList drawn;
    for (const std::size_t k : axisKeys_) drawn << qs(model_->table().keys[k]);
    // The whole order: the keys placed before, then the drawn ones not among them, as drawn now. The moved key goes
    // next to the drawn key whose place it takes, so keys not drawn now (hidden, or the same in every run shown)
    // keep their places among the others.
    QStringList order = axisOrder_;
    for (const QString& key : std::as_const(drawn))
        if (!order.contains(key)) order << key;
    const QString moved = drawn[axis];
    order.removeAll(moved);
    const int at = int(order.indexOf(drawn[to]));
    order.insert(to > axis ? at + 1 : at, moved);
    axisOrder_ = order;
    replot();
}

void RunsView::hideParallelAxis(int axis) {
    if (axis < 0 || axis >= int(axisKeys_.size())) return;
    const std::string name = axes_[std::size_t(axis)].name;
    hiddenAxes_ << qs(name);
    brushes_.erase(std::remove_if(brushes_.begin(), brushes_.end(), [&name](const caspl::ParallelBrush& b) { return b.axis == name; }),
                   brushes_.end());
    replot();
    selectBrushedRuns();
}

void RunsView::resetParallelAxes() {
    axisOrder_.clear();
    hiddenAxes_.clear();
    replot();
}

QStringList RunsView::hiddenParallelAxes() const { return hiddenAxes_; }

void RunsView::setParallelAxisLayout(const QStringList& order, const QStringList& hidden) {
    axisOrder_ = order;
    axisOrder_.removeDuplicates();
    hiddenAxes_ = hidden;
    hiddenAxes_.removeDuplicates();
    replot();
}

void RunsView::fillAxisMenu(QMenu* menu, int axis) {
    const auto escaped = [](QString text) { return text.replace(QLatin1Char('&'), QStringLiteral("&&")); };
    const int n = int(axisKeys_.size());
    // By name, not index: a read while the menu is open may draw the axes again.
    const auto at = [this](const std::string& name, auto f) { return [this, name, f] { if (const int a = axisIndex(name); a >= 0) f(a); }; };
    if (axis >= 0 && axis < int(axes_.size())) {
        const std::string name = axes_[std::size_t(axis)].name;
        if (axis < n) {
            QAction* left = menu->addAction(tr("Move %1 &Left").arg(escaped(qs(name))), this, at(name, [this](int a) { moveParallelAxis(a, a - 1); }));
            left->setEnabled(axis > 0);
            QAction* right = menu->addAction(tr("Move %1 &Right").arg(escaped(qs(name))), this, at(name, [this](int a) { moveParallelAxis(a, a + 1); }));
            right->setEnabled(axis + 1 < n);
            QAction* hide = menu->addAction(tr("&Hide %1").arg(escaped(qs(name))), this, at(name, [this](int a) { hideParallelAxis(a); }));
            hide->setEnabled(n > 1);  // the last key's axis stays
        }
        if (std::any_of(brushes_.begin(), brushes_.end(), [&name](const caspl::ParallelBrush& b) { return b.axis == name; }))
            menu->addAction(tr("&Clear the Range on %1").arg(escaped(qs(name))), this, at(name, [this](int a) { clearParallelBrush(a); }));
    }
    if (!hiddenAxes_.isEmpty()) {
        if (!menu->isEmpty()) menu->addSeparator();
        QMenu* show = menu->addMenu(tr("&Show Hidden Axis"));
        for (const QString& key : std::as_const(hiddenAxes_))
            show->addAction(escaped(key), this, [this, key] {
                hiddenAxes_.removeAll(key);
                replot();
            });
        menu->addAction(tr("Show &All Axes"), this, [this] {
            hiddenAxes_.clear();
            replot();
        });
    }
    if (!axisOrder_.isEmpty() || !hiddenAxes_.isEmpty()) {
        if (hiddenAxes_.isEmpty() && !menu->isEmpty()) menu->addSeparator();
        menu->addAction(tr("Reset the Axes (All, in the Table's Order)"), this, &RunsView::resetParallelAxes);
    }
    if (!brushes_.empty()) menu->addAction(tr("Clear &Every Range"), this, [this] { clearParallelBrush(-1); });
}

void RunsView::brushParallelAxis(int axis, double from, double to) {
    if (axis < 0 || axis >= int(axes_.size())) return;
    addBrush(caspl::ParallelBrush::between(axes_[std::size_t(axis)], from, to));
}

int RunsView::axisIndex(const std::string& name) const {
    for (std::size_t a = 0; a < axes_.size(); ++a)
        if (axes_[a].name == name) return int(a);
    return -1;
}

void RunsView::addBrush(caspl::ParallelBrush b) {
    if (!b.numeric && b.categories.empty() && axisIndex(b.axis) >= 0 && axes_[std::size_t(axisIndex(b.axis))].categories.empty())
        return;  // an axis with no value yet (a figure no run has): nothing to pick
    brushes_.erase(std::remove_if(brushes_.begin(), brushes_.end(), [&b](const caspl::ParallelBrush& o) { return o.axis == b.axis; }),
                   brushes_.end());
    brushes_.push_back(std::move(b));
    replot();
    selectBrushedRuns();
}

void RunsView::clearParallelBrush(int axis) {
    if (axis < 0) brushes_.clear();
    else if (axis < int(axes_.size())) {
        const std::string& name = axes_[std::size_t(axis)].name;
        brushes_.erase(std::remove_if(brushes_.begin(), brushes_.end(), [&name](const caspl::ParallelBrush& b) { return b.axis == name; }),
                       brushes_.end());
    }
    replot();
    selectBrushedRuns();  // the runs in the ranges left, when any are
}

QStringList RunsView::brushedFolders() const {
    QStringList out;
    for (int l = 0; l < lines_.size(); ++l)
        if (lineBrushed_.value(l, true)) out << lineFolders_[l];
    return out;
}

void RunsView::selectBrushedRuns() {
    if (activeBrushes_ == 0) return;
    const QStringList in = brushedFolders();
    const QSet<QString> wanted(in.begin(), in.end());
    QItemSelection selection;
    QModelIndex first;
    // Consecutive rows as one range: a selection of thousands of one-row ranges makes Qt's row queries quadratic.
    const int rows = proxy_->rowCount(), last = proxy_->columnCount() - 1;
    for (int r = 0; r < rows;) {
        if (!wanted.contains(proxy_->index(r, 0).data(RunsTableModel::FolderRole).toString())) {
            ++r;
            continue;
        }
        int end = r;
        while (end + 1 < rows && wanted.contains(proxy_->index(end + 1, 0).data(RunsTableModel::FolderRole).toString())) ++end;
        selection.select(proxy_->index(r, 0), proxy_->index(end, last));
        if (!first.isValid()) first = proxy_->index(r, 0);
        r = end + 1;
    }
    table_->selectionModel()->select(selection, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    if (first.isValid()) table_->scrollTo(first);
}

QString RunsView::brushText() const {
    if (activeBrushes_ == 0)
        return tr("Drag along an axis to pick the runs in a range of its values; drag a label sideways to move its axis, "
                  "right-click it to hide it.");
    return tr("%1 of %2 runs in the brushed range(s), selected in the table when brushed; a click on an axis clears its range.")
        .arg(brushedFolders().size())
        .arg(lines_.size());
}

int RunsView::pointNear(const QPointF& pixel) const {

    int best = -1;
    double bestDistance = 8.0 * 8.0;  // pixels, squared
    for (int i = 0; i < points_.size(); ++i) {
        const double px = plot_->xAxis->coordToPixel(points_[i].x()), py = plot_->yAxis->coordToPixel(points_[i].y());
        const double d = (px - pixel.x()) * (px - pixel.x()) + (py - pixel.y()) * (py - pixel.y());
        if (d <= bestDistance) {
            bestDistance = d;
            best = i;
        }
    }
    return best;
}

int RunsView::lineNear(const QPointF& pixel, int* others) const {
    if (others) *others = 0;
    const int n = int(axes_.size());
    if (n < 2 || lines_.isEmpty()) return -1;
    const double x = plot_->xAxis->pixelToCoord(pixel.x());
    if (x < -0.1 || x > n - 1 + 0.1) return -1;
    const int i = std::clamp(int(std::floor(x)), 0, n - 2);
    const double f = std::clamp(x - i, 0.0, 1.0);
    int best = -1;
    double bestDistance = 0;
    constexpr double within = 6.0;  // pixels
    // From the line drawn on top down: where lines coincide (runs sharing values), the one seen is the one named.
    for (int o = drawOrder_.size() - 1; o >= 0; --o) {
        const int l = drawOrder_[o];
        const double y0 = lines_[l][i], y1 = lines_[l][i + 1];
        double y;
        if (!std::isnan(y0) && !std::isnan(y1)) y = y0 + (y1 - y0) * f;
        else if (f < 0.15 && !std::isnan(y0)) y = y0;  // a gap (the run lacks a key): only near the drawn point
        else if (f > 0.85 && !std::isnan(y1)) y = y1;
        else continue;
        const double d = std::abs(plot_->yAxis->coordToPixel(y) - pixel.y());
        if (d > within) continue;
        if (best >= 0 && others) ++*others;
        if (best < 0 || d < bestDistance) {
            best = l;
            bestDistance = d;
        }
    }
    return best;
}

void RunsView::onPlotMouseMove(QMouseEvent* event) {
    if (plotKind() == Correlation) return;  // the bars carry their labels
    if (dragAxis_) {  // a range being dragged along an axis
        const double to = std::clamp(plot_->yAxis->pixelToCoord(event->position().y()), 0.0, 1.0);
        const int a = axisIndex(dragAxis_->name);  // where it is drawn now (a read meanwhile may have moved it)
        if (a < 0) return;
        if (!dragRect_) {
            dragRect_ = new QCPItemRect(plot_);
            dragRect_->setPen(QPen(QColor(31, 119, 180), 1.2, Qt::DashLine));
            dragRect_->setBrush(QColor(31, 119, 180, 30));
        }
        dragRect_->topLeft->setCoords(a - 0.06, std::max(brushFrom_, to));
        dragRect_->bottomRight->setCoords(a + 0.06, std::min(brushFrom_, to));
        plot_->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    if (movingAxis_) {  // an axis dragged sideways by its label: a mark where it would go
        const int from = axisIndex(*movingAxis_);
        if (from < 0 || from >= int(axisKeys_.size())) return;
        const int to = moveTarget(event->position());
        if (!moveMarker_) {
            moveMarker_ = new QCPItemLine(plot_);
            moveMarker_->setPen(QPen(QColor(31, 119, 180), 2, Qt::DashLine));
        }
        const double x = to == from ? from : to > from ? to + 0.5 : to - 0.5;
        moveMarker_->start->setCoords(x, -0.05);
        moveMarker_->end->setCoords(x, 1.05);
        plot_->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    if (plotKind() == ParallelCoordinates) {
        if (const int a = axisLabelNear(event->position()); a >= 0) {
            QToolTip::showText(event->globalPosition().toPoint(),
                               a < int(axisKeys_.size()) ? tr("%1\nDrag sideways to move this axis; right-click to hide it").arg(qs(axes_[std::size_t(a)].name))
                                                         : qs(axes_[std::size_t(a)].name),
                               plot_);
            return;
        }
        int others = 0;
        const int l = lineNear(event->position(), &others);
        if (l < 0) QToolTip::hideText();
        else
            QToolTip::showText(event->globalPosition().toPoint(),
                               lineTips_[l] + (others ? tr("\n(and %n more run(s) here)", nullptr, others) : QString()), plot_);
        return;
    }
    const int i = pointNear(event->position());
    if (i < 0) {
        QToolTip::hideText();
        return;
    }
    QToolTip::showText(event->globalPosition().toPoint(),
                       tr("%1\n%2 = %3, %4 %5").arg(pointNames_[i], keyBox_->currentText()).arg(points_[i].x())
                           .arg(figureBox_->currentText(), fixedNumber(points_[i].y())),
                       plot_);
}

void RunsView::onPlotClick(QMouseEvent* event) {
    if (plotKind() == Correlation) {
        // A numeric key's bar: the scatter of the figure against it.
        const int n = int(correlations_.size());
        const double y = plot_->yAxis->pixelToCoord(event->position().y());
        const int at = int(std::lround(y));
        const double x = plot_->xAxis->pixelToCoord(event->position().x());
        if (at < 0 || at >= n || std::abs(y - at) > 0.35) return;  // between the bars (0.6 wide)
        const caspl::KeyCorrelation c = correlations_[std::size_t(n - 1 - at)];  // a copy: the replot below clears them
        if (x < std::min(0.0, c.value) - 0.05 || x > std::max(0.0, c.value) + 0.05) return;
        const int k = keyBox_->findText(qs(c.key));
        if (!c.numeric || k < 0) {
            // A text key, or one with text values in runs that have no figure yet: the scatter has no axis for it.
            plotNote_->setText(tr("%1 has text values: no scatter against it (see its column, or the parallel coordinates)").arg(qs(c.key)));
            return;
        }
        {
            const QSignalBlocker block(keyBox_);
            keyBox_->setCurrentIndex(k);
        }
        kindBox_->setCurrentIndex(kindBox_->findData(Scatter));
        return;
    }
    const bool par = plotKind() == ParallelCoordinates;
    if (par && event->button() == Qt::RightButton && (axisNear(event->position()) >= 0 || axisLabelNear(event->position()) >= 0))
        return;  // the axis's menu, nothing selected
    if (par && event->button() == Qt::LeftButton) {
        // On a key's label: the axis dragged sideways to another place when the button is released.
        if (const int a = axisLabelNear(event->position()); a >= 0 && a < int(axisKeys_.size())) {
            movingAxis_ = axes_[std::size_t(a)].name;
            pressPixel_ = event->position();
            return;
        }
        // On an axis: a range is dragged (or, without a drag, the axis's range cleared) when the button is released.
        if (const int a = axisNear(event->position()); a >= 0) {
            dragAxis_ = axes_[std::size_t(a)];
            brushFrom_ = std::clamp(plot_->yAxis->pixelToCoord(event->position().y()), 0.0, 1.0);
            pressPixel_ = event->position();
            return;
        }
    }
    const int i = par ? lineNear(event->position()) : pointNear(event->position());
    if (i < 0) return;
    table_->clearSelection();
    selectFolder(par ? lineFolders_[i] : pointFolders_[i]);
}

void RunsView::onPlotRelease(QMouseEvent* event) {
    if (movingAxis_) {
        const std::string name = std::move(*movingAxis_);
        movingAxis_.reset();
        if (moveMarker_) plot_->removeItem(moveMarker_);
        const int from = axisIndex(name);  // where it is drawn now (a read meanwhile may have moved it)
        if (from >= 0 && std::abs(event->position().x() - pressPixel_.x()) >= 4) moveParallelAxis(from, moveTarget(event->position()));
        else plot_->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    if (!dragAxis_) return;
    const caspl::ParallelAxis axis = std::move(*dragAxis_);
    dragAxis_.reset();
    if (dragRect_) plot_->removeItem(dragRect_);
    const bool dragged = std::abs(event->position().y() - pressPixel_.y()) >= 4;
    if (dragged) {
        // In values of the axis as it was pressed on: a read meanwhile may have made it again from other runs.
        addBrush(caspl::ParallelBrush::between(axis, brushFrom_, std::clamp(plot_->yAxis->pixelToCoord(event->position().y()), 0.0, 1.0)));
        return;
    }
    const int a = axisIndex(axis.name);
    if (a < 0) return;  // the axis is no longer drawn
    if (std::any_of(brushes_.begin(), brushes_.end(), [&axis](const caspl::ParallelBrush& b) { return b.axis == axis.name; })) {
        clearParallelBrush(a);
        return;
    }
    // A click on an axis without a range there: the run whose line is nearest, as elsewhere.
    plot_->replot(QCustomPlot::rpQueuedReplot);
    const int i = lineNear(event->position());
    if (i < 0) return;
    table_->clearSelection();
    selectFolder(lineFolders_[i]);
}

}  // namespace caspl::ui
