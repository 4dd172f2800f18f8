#pragma once
// The results table: base / novel / HM / all accuracy per run, dataset, method, shots and seed, then each group's
// mean ± std over seeds, then the dataset-average rows ("average of 11 datasets"), as summarizeResults computes them
// (core/experiment/results.h). Each run is summarised on its own (two runs may hold the same dataset and seed).
//
// DisplayRole: formatted text ("84.73 ± 0.51"); SortRole: the number (mean for mean rows); KindRole: seed | mean |
// average.
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
    enum Role { SortRole = Qt::UserRole + 1, KindRole, RunRole };

    explicit ResultsModel(QObject* parent = nullptr);
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Replaces the records of one run (keyed by its folder) and re-summarises it. Throws caspl::Error when the
    // records contradict each other (summarizeResults' rule), leaving the model unchanged.
    void setRunRecords(const QString& runDir, const std::vector<caspl::ResultRecord>& records, caspl::Rounding rounding);
    // One evaluation of a running run (its shots come from the run's spec).
    void addEvalRow(const QString& runDir, const caspl::EvalRow& row, int shots, caspl::Rounding rounding);
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
        QString kind;  // seed | mean | average
        QString dataset, method;
        int shots = 0;
        QString seed;  // "1", "1–3 (3)", "11 datasets"
        std::optional<caspl::SeedStat> base, novel, all;
        std::optional<double> hm;
        double seedSort = 0;
    };
    struct RunData {
        std::vector<caspl::ResultRecord> records;
        caspl::Rounding rounding = caspl::Rounding::Paper;
        caspl::ResultsSummary summary;
    };
    void rebuild();
    std::vector<QString> order_;
    std::map<QString, RunData> runs_;
    std::vector<Row> rows_;
};

}  // namespace caspl::ui
