#pragma once
// The results tab: the results table (ResultsModel) sortable by any column (numbers sort as numbers), filtered to
// one run or all, with Ctrl+C copying the selected cells as tab-separated text (pastes into a spreadsheet) and CSV
// export of a run (results.csv format, writeResultsCsv).
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QWidget>

#include "core/experiment/paper_table.h"
#include "core/experiment/results.h"

#include <map>
#include <string>
#include <vector>

#include <optional>

class QAction;
class QComboBox;
class QLabel;

namespace caspl::ui {

class ResultsModel;

class ResultsTable : public QTableView {
    Q_OBJECT
public:
    explicit ResultsTable(QWidget* parent = nullptr);
    // The selected cells as TSV: rows and columns in view order, empty fields for unselected cells inside the
    // selection's bounding box, one line per row.
    QString selectionAsTsv() const;
    void copySelection() const;
    bool editing() const { return state() == EditingState; }  // a cell's editor is open

protected:
    void keyPressEvent(QKeyEvent* event) override;
};

class ResultsRunFilter : public QSortFilterProxyModel {
    Q_OBJECT
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    void setRun(const QString& runDir);  // "" = every run
    QString run() const { return run_; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    QString run_;
};

class ResultsView : public QWidget {
    Q_OBJECT
public:
    explicit ResultsView(ResultsModel* model, QWidget* parent = nullptr);
    ResultsTable* table() const { return table_; }
    ResultsRunFilter* proxy() const { return proxy_; }
    QString currentRun() const;  // "" = all runs
    void setCurrentRun(const QString& runDir);
    // A run that just finished: shown alone, unless the user chose what the Run box shows (All runs, or a run).
    void showFinishedRun(const QString& runDir);
    // Writes the shown run's results (all runs together when "All runs" is chosen) as results.csv. Returns "" on
    // success, else what went wrong and what to do.
    QString exportCsv(const QString& path) const;
    // The shown run's results (all runs together for "All runs") as a paper's tables (core's paper_table.h), for
    // pasting into a paper or a README; "" with *problem set when there is nothing to show or runs conflict.
    QString paperTables(bool latex, QString* problem) const;
    // Whether the tables carry the published numbers (reference:) after the rows they belong to (the menu's check).
    void setTablesWithReference(bool on);
    bool tablesWithReference() const;
    QAction* withReferenceAction() const { return withReferenceAction_; }  // also in the Results menu
    // The datasets a run trained on when it tests on others (cross-dataset, domain generalisation): first in its
    // all-classes table and left out of the average (caspl::PaperTableOptions::sources).
    void setRunSources(const QString& runDir, const std::vector<std::string>& sources);
    // paperTables to the clipboard; the summary line says what happened. Returns false when nothing was copied.
    bool copyPaperTables(bool latex);

Q_SIGNALS:
    void exportRequested();
    void compareRequested();

private:
    bool runChosen_ = false;  // the user picked an entry of the Run box
    // The summary exportCsv and paperTables write: the run chosen, or every run; nullopt with *problem set.
    std::optional<caspl::ResultsSummary> shownSummary(QString* problem) const;
    void refreshRuns();
    // The selection and scroll position across a rebuild of the model (each new evaluation rebuilds it), matched by
    // what a row is (run, kind, dataset, method, shots, seed), not by its row number.
    void rememberSelection();
    void restoreSelection();
    QString rowKey(const QModelIndex& proxyIndex) const;
    QList<QPair<QString, int>> kept_;
    QPair<QString, int> keptCurrent_{QString(), -1};
    int keptScroll_ = 0;
    ResultsModel* model_;
    ResultsRunFilter* proxy_;
    ResultsTable* table_;
    QComboBox* runBox_;
    QLabel* summary_;
    caspl::PaperTableOptions tableOptions() const;  // for the shown run (all runs: every run's sources)
    QAction* withReferenceAction_ = nullptr;
    std::map<QString, std::vector<std::string>> sources_;
};

}  // namespace caspl::ui
