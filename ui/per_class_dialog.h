#pragma once
// Per-class accuracy of a run (each seed's per_class.json, aggregated by core/experiment/per_class.h): one row per
// class of the chosen evaluation (dataset, shots, split) and seed or mean over seeds, with the class most of its
// wrong images went to; optionally against a second run, class by class, with the change B − A. Sorted worst first:
// which classes a method fails on, and which ones a change (CoOp -> CoOp + CasPL) helps.
#include "core/experiment/per_class.h"

#include <QAbstractTableModel>
#include <QDialog>

#include <optional>
#include <vector>

class QComboBox;
class QLabel;
class QTabWidget;
class QTableView;
class QSortFilterProxyModel;

namespace caspl::ui {

class ConfusionView;

class PerClassModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ColIndex, ColName, ColImages, ColA, ColB, ColDelta, ColConfused, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1 };
    struct Row {
        int64_t index = 0;
        QString name;
        int64_t images = 0;
        std::optional<double> a, stdA, b, stdB;
        QString confused;  // A's most frequent wrong class
        int64_t confusedImages = 0;
        std::optional<double> delta() const;
    };
    explicit PerClassModel(QObject* parent = nullptr);
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    void setRows(std::vector<Row> rows, const QString& labelA, const QString& labelB);
    const std::vector<Row>& rows() const { return rows_; }

private:
    std::vector<Row> rows_;
    QString labelA_, labelB_;
};

// One evaluation of a run, as the dialog offers it.
struct PerClassKey {
    std::string dataset, method, split;
    int shots = 0;
    bool operator==(const PerClassKey& o) const {
        return dataset == o.dataset && method == o.method && split == o.split && shots == o.shots;
    }
};
// The evaluations of `rows` (from perClassRows), in order.
std::vector<PerClassKey> perClassKeys(const std::vector<caspl::PerClassRow>& rows);
// The seeds evaluated under `key`.
std::vector<int> perClassSeeds(const std::vector<caspl::PerClassRow>& rows, const PerClassKey& key);
// The table's rows for `key` and `seed` (nullopt: the mean over seeds), B matched to A by class name and the same
// dataset, shots and split (B's method may differ). `macroA` / `macroB` receive the mean class accuracy (and std).
std::vector<PerClassModel::Row> perClassTable(const std::vector<caspl::PerClassRow>& a, const std::vector<caspl::PerClassRow>* b,
                                              const PerClassKey& key, std::optional<int> seed,
                                              std::optional<caspl::PerClassRow>* macroA = nullptr,
                                              std::optional<caspl::PerClassRow>* macroB = nullptr);

class PerClassDialog : public QDialog {
    Q_OBJECT
public:
    explicit PerClassDialog(QWidget* parent = nullptr);
    // Offers these run folders too (the queue's and the results' runs); folders added by hand stay.
    void setRuns(const QStringList& runDirs);
    QString runB() const;  // "" for none
    // Shows run `dirA` (and `dirB`, "" for none); returns "" or the problem (also shown in the dialog).
    QString showRuns(const QString& dirA, const QString& dirB = {});
    // Picks an evaluation and a seed (nullopt: mean over seeds); false when A has no such evaluation or seed.
    bool select(const PerClassKey& key, std::optional<int> seed);
    // Writes the per-class CSV of the runs shown (A, then B unless it is A's folder) to `path` atomically; returns
    // "" or the problem.
    QString exportCsv(const QString& path);

    // The confusion-matrix tab shows A's matrix, B's (same dataset, shots and split), or the change B − A.
    enum class ConfusionOf { A, B, Difference };
    void setConfusionOf(ConfusionOf which);
    void showConfusionTab(bool shown);  // false: the class table
    ConfusionView* confusion() const { return confusion_; }
    PerClassModel* model() const { return model_; }
    QSortFilterProxyModel* sorted() const { return sorted_; }
    QString statusText() const;

private:
    void reload();
    void fillEvaluations();
    void fillSeeds();
    void refreshTable();
    void refreshConfusion();
    QComboBox* boxA_;
    QComboBox* boxB_;
    QComboBox* evalBox_;
    QComboBox* seedBox_;
    QLabel* status_;
    QTableView* view_;
    QTabWidget* tabs_;
    QComboBox* confusionRun_;
    ConfusionView* confusion_;
    PerClassModel* model_;
    QSortFilterProxyModel* sorted_;
    std::vector<caspl::PerClassEval> evalsA_, evalsB_;
    std::vector<caspl::PerClassRow> rowsA_, rowsB_;
    std::vector<PerClassKey> keys_;
    QString loadProblem_;
    bool filling_ = false;
};

}  // namespace caspl::ui
