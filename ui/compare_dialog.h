#pragma once
// Comparing two runs: the difference of their configurations (each run folder's config.yaml, key by key, flattened
// to dotted keys) and their metrics side by side (base / novel / HM / all per dataset and shots, the dataset
// averages, and the change B − A).
#include "core/experiment/results.h"

#include <QAbstractTableModel>
#include <QDialog>
#include <QSortFilterProxyModel>

#include <map>
#include <vector>

class QComboBox;
class QLabel;
class QTableView;
class QCheckBox;

namespace caspl::ui {

// Flattens a YAML document to dotted keys in document order ("train.lr" -> "0.002", lists as "[a, b]"). Throws
// caspl::Error for malformed YAML, naming `source` and the position.
std::vector<std::pair<QString, QString>> flattenYaml(const QString& yaml, const QString& source);

class ConfigDiffModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ColKey, ColA, ColB, ColumnCount };
    enum Role { DifferentRole = Qt::UserRole + 1 };
    explicit ConfigDiffModel(QObject* parent = nullptr);
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void setConfigs(const QString& labelA, const std::vector<std::pair<QString, QString>>& a, const QString& labelB,
                    const std::vector<std::pair<QString, QString>>& b);
    void clear();
    int differenceCount() const;
    QStringList differentKeys() const;

private:
    struct Row {
        QString key;
        std::optional<QString> a, b;
        bool different() const { return a != b; }
    };
    std::vector<Row> rows_;
    QString labelA_, labelB_;
};

class DiffOnlyFilter : public QSortFilterProxyModel {
    Q_OBJECT
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    void setDifferencesOnly(bool on);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    bool only_ = false;
};

class MetricsCompareModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ColDataset, ColShots, ColBaseA, ColBaseB, ColNovelA, ColNovelB, ColHmA, ColHmB, ColAllA, ColAllB, ColDelta, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1 };
    explicit MetricsCompareModel(QObject* parent = nullptr);
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Rows are matched by dataset and shots (the methods may differ: that is usually the point).
    void setSummaries(const QString& labelA, const caspl::ResultsSummary& a, const QString& labelB, const caspl::ResultsSummary& b);
    void clear();

private:
    struct Side {
        std::optional<double> base, novel, hm, all;
        QString method;
    };
    struct Row {
        QString dataset;
        int shots = 0;
        bool average = false;
        Side a, b;
        std::optional<double> delta() const;
    };
    std::vector<Row> rows_;
    QString labelA_, labelB_;
};

// A run folder read for comparison.
struct RunSnapshot {
    QString dir;
    QString configYaml;
    caspl::ResultsSummary summary;
    bool hasResults = false;
};
// Reads <dir>/config.yaml and <dir>/result.json (results are optional: a run may not have finished a seed). Throws
// caspl::Error saying what is missing.
RunSnapshot readRunSnapshot(const QString& dir);

class CompareDialog : public QDialog {
    Q_OBJECT
public:
    explicit CompareDialog(QWidget* parent = nullptr);
    // The run folders offered in the two boxes (the queue's and the results' runs).
    void setRuns(const QStringList& runDirs);
    // Compares two run folders; returns "" or the problem (also shown in the dialog).
    QString compare(const QString& dirA, const QString& dirB);

    ConfigDiffModel* configModel() const { return config_; }
    MetricsCompareModel* metricsModel() const { return metrics_; }
    DiffOnlyFilter* configFilter() const { return filter_; }
    QString statusText() const;

private:
    void addFolder();
    void compareSelected();
    ConfigDiffModel* config_;
    DiffOnlyFilter* filter_;
    MetricsCompareModel* metrics_;
    QComboBox* boxA_;
    QComboBox* boxB_;
    QCheckBox* onlyDiff_;
    QLabel* status_;
    QTableView* configView_;
    QTableView* metricsView_;
};

}  // namespace caspl::ui
