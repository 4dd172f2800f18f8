#include "ui/results_view.h"

#include "core/experiment/paper_table.h"
#include "core/experiment/results.h"
#include "ui/results_model.h"

#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QKeyEvent>
#include <QLabel>
#include <QHash>
#include <QItemSelectionModel>
#include <QMenu>
#include <QPushButton>
#include <QToolButton>
#include <QScrollBar>
#include <QVBoxLayout>

#include <map>
#include <set>

namespace caspl::ui {

ResultsTable::ResultsTable(QWidget* parent) : QTableView(parent) {
    setObjectName("resultsTable");
    setSortingEnabled(true);
    setSelectionMode(QAbstractItemView::ExtendedSelection);
    setSelectionBehavior(QAbstractItemView::SelectItems);
    setEditTriggers(QAbstractItemView::NoEditTriggers);
    setAlternatingRowColors(true);
    verticalHeader()->hide();
    horizontalHeader()->setStretchLastSection(true);
    horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
}

QString ResultsTable::selectionAsTsv() const {
    const QModelIndexList sel = selectionModel() ? selectionModel()->selectedIndexes() : QModelIndexList{};
    if (sel.isEmpty()) return {};
    // View order: visual row (after sorting, the proxy's row) and visual column (after moving sections).
    std::set<int> rows, cols;
    std::map<std::pair<int, int>, QString> cells;
    for (const QModelIndex& i : sel) {
        const int col = horizontalHeader()->visualIndex(i.column());
        rows.insert(i.row());
        cols.insert(col);
        QString text = i.data(Qt::DisplayRole).toString();
        text.replace('\t', ' ').replace('\n', ' ');
        cells[{i.row(), col}] = text;
    }
    QString out;
    for (int r : rows) {
        QStringList line;
        for (int c = *cols.begin(); c <= *cols.rbegin(); ++c) {
            if (!cols.count(c)) continue;  // a column with nothing selected in it is left out
            auto it = cells.find({r, c});
            line << (it == cells.end() ? QString() : it->second);
        }
        out += line.join('\t') + '\n';
    }
    return out;
}

void ResultsTable::copySelection() const {
    const QString tsv = selectionAsTsv();
    if (!tsv.isEmpty()) QApplication::clipboard()->setText(tsv);
}

void ResultsTable::keyPressEvent(QKeyEvent* event) {
    if (event->matches(QKeySequence::Copy)) {
        copySelection();
        event->accept();
        return;
    }
    QTableView::keyPressEvent(event);
}

void ResultsRunFilter::setRun(const QString& runDir) {
    if (runDir == run_) return;
    run_ = runDir;
    invalidateFilter();
}

bool ResultsRunFilter::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    if (run_.isEmpty()) return true;
    return sourceModel()->index(sourceRow, 0, sourceParent).data(ResultsModel::RunRole).toString() == run_;
}

ResultsView::ResultsView(ResultsModel* model, QWidget* parent) : QWidget(parent), model_(model) {
    setObjectName("resultsView");
    proxy_ = new ResultsRunFilter(this);
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(ResultsModel::SortRole);
    proxy_->setDynamicSortFilter(true);
    table_ = new ResultsTable(this);
    table_->setModel(proxy_);
    table_->sortByColumn(-1, Qt::AscendingOrder);  // source order (grouped) until the user sorts
    const std::pair<int, int> widths[] = {{ResultsModel::ColRun, 90},    {ResultsModel::ColKind, 85},  {ResultsModel::ColDataset, 150},
                                          {ResultsModel::ColMethod, 110}, {ResultsModel::ColShots, 45}, {ResultsModel::ColSeed, 60},
                                          {ResultsModel::ColBase, 105},   {ResultsModel::ColNovel, 105}, {ResultsModel::ColHm, 60}};
    for (const auto& [c, w] : widths) table_->setColumnWidth(c, w);

    runBox_ = new QComboBox(this);
    runBox_->setObjectName("resultsRunBox");
    runBox_->setMinimumContentsLength(24);
    summary_ = new QLabel(this);
    auto* copy = new QPushButton(tr("Copy"), this);
    copy->setToolTip(tr("Copy the selected cells as tab-separated text (Ctrl+C)"));
    auto* tableButton = new QToolButton(this);
    tableButton->setObjectName("resultsCopyTable");
    tableButton->setText(tr("Copy as Table"));
    tableButton->setToolTip(tr("The shown results as a paper's tables (Base / Novel / HM per dataset, the average "
                               "first, best in bold), for a paper (LaTeX) or a README (Markdown)"));
    tableButton->setPopupMode(QToolButton::InstantPopup);
    auto* tableMenu = new QMenu(tableButton);
    connect(tableMenu->addAction(tr("Markdown")), &QAction::triggered, this, [this] { copyPaperTables(false); });
    connect(tableMenu->addAction(tr("LaTeX (booktabs)")), &QAction::triggered, this, [this] { copyPaperTables(true); });
    tableMenu->addSeparator();
    withReferenceAction_ = tableMenu->addAction(tr("With the Published Numbers"));
    withReferenceAction_->setCheckable(true);
    withReferenceAction_->setToolTip(tr("A row of the published numbers (the experiment's reference:) after each row "
                                        "that has them"));
    connect(withReferenceAction_, &QAction::toggled, this, [this](bool on) {
        summary_->setText(on ? tr("Copied tables will carry the published numbers.")
                             : tr("Copied tables will carry this run's numbers only."));
    });
    tableButton->setMenu(tableMenu);
    auto* exportButton = new QPushButton(tr("Export CSV…"), this);
    auto* compare = new QPushButton(tr("Compare runs…"), this);
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Run:"), this));
    bar->addWidget(runBox_);
    bar->addWidget(summary_, 1);
    bar->addWidget(copy);
    bar->addWidget(tableButton);
    bar->addWidget(exportButton);
    bar->addWidget(compare);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addLayout(bar);
    layout->addWidget(table_, 1);

    connect(runBox_, &QComboBox::currentIndexChanged, this, [this] { proxy_->setRun(runBox_->currentData().toString()); });
    connect(runBox_, &QComboBox::activated, this, [this] { runChosen_ = true; });
    connect(copy, &QPushButton::clicked, table_, &ResultsTable::copySelection);
    connect(exportButton, &QPushButton::clicked, this, &ResultsView::exportRequested);
    connect(compare, &QPushButton::clicked, this, &ResultsView::compareRequested);
    connect(model_, &QAbstractItemModel::modelAboutToBeReset, this, &ResultsView::rememberSelection);
    connect(model_, &QAbstractItemModel::modelReset, this, &ResultsView::refreshRuns);
    connect(model_, &QAbstractItemModel::modelReset, this, &ResultsView::restoreSelection);
    refreshRuns();
}

QString ResultsView::rowKey(const QModelIndex& proxyIndex) const {
    const auto cell = [&](int column) { return proxyIndex.sibling(proxyIndex.row(), column).data(Qt::DisplayRole).toString(); };
    const QString kind = proxyIndex.sibling(proxyIndex.row(), 0).data(ResultsModel::KindRole).toString();
    // A mean row's seed cell ("1–3 (3)") grows as seeds finish, an average row's dataset cell ("Average of 3
    // datasets") as datasets do: the same row without them.
    const bool average = proxyIndex.sibling(proxyIndex.row(), 0).data(ResultsModel::AverageRole).toBool();
    return QStringList{proxyIndex.sibling(proxyIndex.row(), 0).data(ResultsModel::RunRole).toString(), kind,
                       average ? QString() : cell(ResultsModel::ColDataset), cell(ResultsModel::ColMethod),
                       cell(ResultsModel::ColShots), kind == QLatin1String("seed") ? cell(ResultsModel::ColSeed) : QString()}
        .join(QChar(0x1f));
}

void ResultsView::rememberSelection() {
    // A new evaluation rebuilds the table: what the user selected and where they scrolled stay.
    kept_.clear();
    const QItemSelectionModel* sel = table_->selectionModel();
    for (const QModelIndex& i : sel->selectedIndexes()) kept_.append({rowKey(i), i.column()});
    keptCurrent_ = sel->currentIndex().isValid() ? qMakePair(rowKey(sel->currentIndex()), sel->currentIndex().column())
                                                 : qMakePair(QString(), -1);
    keptScroll_ = table_->verticalScrollBar()->value();
}

void ResultsView::restoreSelection() {
    if (kept_.isEmpty() && keptCurrent_.second < 0) return;
    QHash<QString, int> rowOf;
    for (int r = 0; r < proxy_->rowCount(); ++r) rowOf.insert(rowKey(proxy_->index(r, 0)), r);
    QItemSelection selection;
    for (const auto& [key, column] : kept_)
        if (auto it = rowOf.find(key); it != rowOf.end()) {
            const QModelIndex i = proxy_->index(*it, column);
            selection.select(i, i);
        }
    QItemSelectionModel* sel = table_->selectionModel();
    if (auto it = rowOf.find(keptCurrent_.first); it != rowOf.end() && keptCurrent_.second >= 0)
        sel->setCurrentIndex(proxy_->index(*it, keptCurrent_.second), QItemSelectionModel::NoUpdate);
    sel->select(selection, QItemSelectionModel::ClearAndSelect);
    table_->verticalScrollBar()->setValue(keptScroll_);
    kept_.clear();
    keptCurrent_ = qMakePair(QString(), -1);
}

QString ResultsView::currentRun() const { return runBox_->currentData().toString(); }

void ResultsView::setCurrentRun(const QString& runDir) {
    const int i = runBox_->findData(runDir);
    if (i >= 0) runBox_->setCurrentIndex(i);
}

void ResultsView::showFinishedRun(const QString& runDir) {
    if (!runChosen_) setCurrentRun(runDir);
}

void ResultsView::refreshRuns() {
    const QString current = currentRun();
    const QStringList runs = model_->runs();
    QSignalBlocker block(runBox_);
    runBox_->clear();
    runBox_->addItem(tr("All runs"), QString());
    for (const QString& r : runs) runBox_->addItem(QFileInfo(r).fileName(), r);
    for (int i = 0; i < runBox_->count(); ++i) runBox_->setItemData(i, runBox_->itemData(i), Qt::ToolTipRole);
    const int i = runBox_->findData(current);
    runBox_->setCurrentIndex(i >= 0 ? i : 0);
    proxy_->setRun(runBox_->currentData().toString());
    summary_->setText(tr("%n run(s)", nullptr, int(runs.size())));
}

std::optional<caspl::ResultsSummary> ResultsView::shownSummary(QString* problem) const {
    const QString run = currentRun();
    if (run.isEmpty()) {
        if (model_->runs().isEmpty()) {
            *problem = tr("There are no results to export yet: run an experiment or open a run folder first.");
            return std::nullopt;
        }
        try {
            return model_->combinedSummary();
        } catch (const std::exception& e) {
            *problem = QString::fromUtf8(e.what()) + "\n" +
                       tr("Two runs hold the same dataset, method, shots and seed: choose one run in the Run box and "
                          "export again.");
            return std::nullopt;
        }
    }
    if (const auto* one = model_->summary(run)) return *one;
    *problem = tr("The run %1 has no results: choose another run in the Run box.").arg(run);
    return std::nullopt;
}

QString ResultsView::paperTables(bool latex, QString* problem) const {
    const auto s = shownSummary(problem);
    if (!s) return {};
    const QString text = QString::fromStdString(
        caspl::paperTablesText(*s, latex ? caspl::TableFormat::Latex : caspl::TableFormat::Markdown, tableOptions()));
    if (text.isEmpty()) *problem = tr("There are no results to put in a table yet.");
    return text;
}

void ResultsView::setRunSources(const QString& runDir, const std::vector<std::string>& sources) { sources_[runDir] = sources; }

caspl::PaperTableOptions ResultsView::tableOptions() const {
    caspl::PaperTableOptions o;
    o.withReference = withReferenceAction_->isChecked();
    const QString run = currentRun();
    // Only runs the table still holds (a run cleared or removed says nothing about the others' datasets).
    const QStringList shown = model_->runs();
    for (const auto& [dir, sources] : sources_)
        if ((run.isEmpty() || dir == run) && shown.contains(dir)) o.sources.insert(o.sources.end(), sources.begin(), sources.end());
    return o;
}

bool ResultsView::tablesWithReference() const { return withReferenceAction_->isChecked(); }

void ResultsView::setTablesWithReference(bool on) { withReferenceAction_->setChecked(on); }

bool ResultsView::copyPaperTables(bool latex) {
    QString problem;
    const QString text = paperTables(latex, &problem);
    if (text.isEmpty()) {
        summary_->setText(problem);
        return false;
    }
    QApplication::clipboard()->setText(text);
    summary_->setText(latex ? tr("Copied as LaTeX tables (booktabs).") : tr("Copied as Markdown tables."));
    return true;
}

QString ResultsView::exportCsv(const QString& path) const {
    QString problem;
    const auto s = shownSummary(&problem);
    if (!s) return problem;
    try {
        caspl::writeResultsCsv(path.toStdString(), *s);
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what()) + "\n" + tr("Check that the folder exists and is writable, then export again.");
    }
    return {};
}

}  // namespace caspl::ui
