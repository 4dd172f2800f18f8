#pragma once
// The results table: base / novel / HM / all accuracy per run, dataset, method, shots and seed, then each group's
// mean ± std over seeds, then the dataset-average rows ("average of 11 datasets"), as summarizeResults computes them
// (core/experiment/results.h). Each run is summarised on its own (two runs may hold the same dataset and seed).
// Where the run's experiment names published numbers (`reference:`), a reference row follows the mean row (and the
// average row): each value with the run's difference to it, "82.57 (−2.07)".
//
// DisplayRole: formatted text ("84.73 ± 0.51"); SortRole: the number (mean for mean rows, the published value for
// reference rows); KindRole: seed | mean | average | reference; DeltaRole (reference rows): the run's value minus
// the published one; AverageRole: whether the row is (or sets a reference against) a dataset-average row.
#include "core/experiment/results.h"

#include <QAbstractTableModel>
#include <QString>

#include <map>
#include <vector>

namespace caspl::ui {

class ResultsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ColRun, ColKind, ColDataset, ColMethod, ColShots, ColSeed, ColBase, ColNovel, ColHm, ColAll, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1, KindRole, RunRole, DeltaRole, AverageRole };

    explicit ResultsModel(QObject* parent = nullptr);
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Replaces the records of one run (keyed by its folder) and re-summarises it. Throws caspl::Error when the
    // records contradict each other (summarizeResults' rule), leaving the model unchanged.
    // `references`: what the run's experiment compares with (caspl::referenceOf).
    void setRunRecords(const QString& runDir, const std::vector<caspl::ResultRecord>& records, caspl::Rounding rounding,
                       const std::vector<caspl::ReferenceResult>& references = {});
    // One evaluation of a running run (its shots come from the run's spec).
    void addEvalRow(const QString& runDir, const caspl::EvalRow& row, int shots, caspl::Rounding rounding,
                    const std::vector<caspl::ReferenceResult>& references = {});
    void removeRun(const QString& runDir);
    void clear();

    QStringList runs() const;  // run folders, in order of arrival
    const caspl::ResultsSummary* summary(const QString& runDir) const;
    const std::vector<caspl::ResultRecord>* records(const QString& runDir) const;
    // The summary of every run's records together (for a combined export); throws caspl::Error on conflicts.
    caspl::ResultsSummary combinedSummary() const;

    static QString formatStat(const std::optional<caspl::SeedStat>& s);
    static QString formatValue(const std::optional<double>& v);

private:
    struct Row {
        QString run;
        QString kind;  // seed | mean | average | reference
        QString dataset, method;
        int shots = 0;
        QString seed;  // "1", "1–3 (3)", "11 datasets"
        std::optional<caspl::SeedStat> base, novel, all;
        std::optional<double> hm;
        double seedSort = 0;
        std::optional<double> dBase, dNovel, dAll, dHm;  // reference rows: the run's value minus the published one
        QString source;                                  // reference rows
        bool average = false;                            // an average row, or the reference of one
    };
    struct RunData {
        std::vector<caspl::ResultRecord> records;
        caspl::Rounding rounding = caspl::Rounding::Paper;
        std::vector<caspl::ReferenceResult> references;
        caspl::ResultsSummary summary;
    };
    void rebuild();
    // A reference row after `results` (a mean or average row) when the summary has one for it.
    void addReference(const QString& run, const caspl::ResultsSummary& s, const std::string& dataset,
                      const std::string& method, int shots, const Row& results);
    std::vector<QString> order_;
    std::map<QString, RunData> runs_;
    std::vector<Row> rows_;
};

}  // namespace caspl::ui
