#include "ui/compare_dialog.h"

#include "core/experiment/runs_table.h"
#include "core/util/error.h"
#include "ui/text_format.h"

#include <QCheckBox>
#include <QColor>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFont>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>
#include <set>

namespace caspl::ui {

namespace {

QString fmt(const std::optional<double>& v) { return v ? fixedNumber(*v) : QString(); }

}  // namespace

std::vector<std::pair<QString, QString>> flattenYaml(const QString& yaml, const QString& source) {
    std::vector<std::pair<QString, QString>> out;
    for (const auto& [key, value] : caspl::flattenYaml(yaml.toStdString(), source.toStdString()))
        out.emplace_back(QString::fromStdString(key), QString::fromStdString(value));
    return out;
}

// ---------------------------------------------------------------------------------------------------------------

ConfigDiffModel::ConfigDiffModel(QObject* parent) : QAbstractTableModel(parent) {}

int ConfigDiffModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }

int ConfigDiffModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ConfigDiffModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::ToolTipRole) return section == ColA ? labelA_ : section == ColB ? labelB_ : QVariant();
    if (role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
        case ColKey: return tr("Key");
        case ColA: return tr("A: %1").arg(folderName(labelA_));
        case ColB: return tr("B: %1").arg(folderName(labelB_));
        default: return {};
    }
}

QVariant ConfigDiffModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Row& r = rows_[std::size_t(index.row())];
    switch (role) {
        case DifferentRole: return r.different();
        case Qt::BackgroundRole: return r.different() ? QVariant(QColor(255, 236, 179)) : QVariant();
        case Qt::FontRole:
            if (r.different()) {
                QFont f;
                f.setBold(true);
                return f;
            }
            return {};
        case Qt::DisplayRole:
        case Qt::ToolTipRole:
            switch (index.column()) {
                case ColKey: return r.key;
                case ColA: return r.a ? *r.a : tr("(absent)");
                case ColB: return r.b ? *r.b : tr("(absent)");
                default: return {};
            }
        default: return {};
    }
}

void ConfigDiffModel::setConfigs(const QString& labelA, const std::vector<std::pair<QString, QString>>& a,
                                 const QString& labelB, const std::vector<std::pair<QString, QString>>& b) {
    beginResetModel();
    labelA_ = labelA;
    labelB_ = labelB;
    rows_.clear();
    std::map<QString, std::size_t> at;
    for (const auto& [k, v] : a) {
        at[k] = rows_.size();
        rows_.push_back({k, v, std::nullopt});
    }
    for (const auto& [k, v] : b) {
        auto it = at.find(k);
        if (it != at.end()) rows_[it->second].b = v;
        else {
            at[k] = rows_.size();
            rows_.push_back({k, std::nullopt, v});
        }
    }
    endResetModel();
    Q_EMIT headerDataChanged(Qt::Horizontal, 0, ColumnCount - 1);
}

void ConfigDiffModel::clear() {
    beginResetModel();
    rows_.clear();
    endResetModel();
}

int ConfigDiffModel::differenceCount() const {
    int n = 0;
    for (const auto& r : rows_) n += r.different() ? 1 : 0;
    return n;
}

QStringList ConfigDiffModel::differentKeys() const {
    QStringList out;
    for (const auto& r : rows_)
        if (r.different()) out << r.key;
    return out;
}

void DiffOnlyFilter::setDifferencesOnly(bool on) {
    if (on == only_) return;
    only_ = on;
    invalidateFilter();
}

bool DiffOnlyFilter::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    if (!only_) return true;
    return sourceModel()->index(sourceRow, 0, sourceParent).data(ConfigDiffModel::DifferentRole).toBool();
}

// ---------------------------------------------------------------------------------------------------------------

MetricsCompareModel::MetricsCompareModel(QObject* parent) : QAbstractTableModel(parent) {}

int MetricsCompareModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }

int MetricsCompareModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

std::optional<double> MetricsCompareModel::Row::delta() const {
    if (a.hm && b.hm) return *b.hm - *a.hm;
    if (a.all && b.all) return *b.all - *a.all;
    return std::nullopt;
}

QVariant MetricsCompareModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::ToolTipRole) {
        if (section == ColDelta) return tr("B − A of the harmonic mean (of the accuracy on all classes when there is no HM)");
        if (section >= ColBaseA && section <= ColAllB) return (section - ColBaseA) % 2 == 0 ? labelA_ : labelB_;
        return {};
    }
    if (role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
        case ColDataset: return tr("Dataset");
        case ColShots: return tr("Shots");
        case ColBaseA: return tr("Base A");
        case ColBaseB: return tr("Base B");
        case ColNovelA: return tr("Novel A");
        case ColNovelB: return tr("Novel B");
        case ColHmA: return tr("HM A");
        case ColHmB: return tr("HM B");
        case ColAllA: return tr("All A");
        case ColAllB: return tr("All B");
        case ColDelta: return tr("Δ (B − A)");
        default: return {};
    }
}

QVariant MetricsCompareModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Row& r = rows_[std::size_t(index.row())];
    const auto value = [&](int col) -> std::optional<double> {
        switch (col) {
            case ColBaseA: return r.a.base;
            case ColBaseB: return r.b.base;
            case ColNovelA: return r.a.novel;
            case ColNovelB: return r.b.novel;
            case ColHmA: return r.a.hm;
            case ColHmB: return r.b.hm;
            case ColAllA: return r.a.all;
            case ColAllB: return r.b.all;
            case ColDelta: return r.delta();
            default: return std::nullopt;
        }
    };
    switch (role) {
        case SortRole: {
            if (index.column() == ColDataset) return r.dataset;
            if (index.column() == ColShots) return r.shots;
            const auto v = value(index.column());
            return v ? QVariant(*v) : QVariant();
        }
        case Qt::TextAlignmentRole:
            return index.column() >= ColShots ? QVariant(int(Qt::AlignRight | Qt::AlignVCenter)) : QVariant();
        case Qt::ForegroundRole:
            if (index.column() == ColDelta) {
                const auto d = r.delta();
                if (d && *d > 0) return QColor(20, 130, 40);
                if (d && *d < 0) return QColor(190, 30, 30);
            }
            return {};
        case Qt::FontRole:
            if (r.average) {
                QFont f;
                f.setBold(true);
                return f;
            }
            return {};
        case Qt::ToolTipRole:
            if (index.column() >= ColBaseA && index.column() <= ColAllB)
                return (index.column() - ColBaseA) % 2 == 0 ? r.a.method : r.b.method;
            return {};
        case Qt::DisplayRole:
            if (index.column() == ColDataset) return r.dataset;
            if (index.column() == ColShots) return r.shots > 0 ? QVariant(r.shots) : QVariant(QString());
            if (index.column() == ColDelta) {
                const auto d = r.delta();
                return d ? (*d > 0 ? QStringLiteral("+") : QString()) + fixedNumber(*d) : QString();
            }
            return fmt(value(index.column()));
        default: return {};
    }
}

void MetricsCompareModel::setSummaries(const QString& labelA, const caspl::ResultsSummary& a, const QString& labelB,
                                       const caspl::ResultsSummary& b) {
    beginResetModel();
    labelA_ = labelA;
    labelB_ = labelB;
    rows_.clear();
    std::map<std::pair<QString, int>, std::size_t> at;
    const auto rowFor = [&](const QString& dataset, int shots, bool average) -> Row& {
        const auto key = std::make_pair((average ? QStringLiteral("\x01") : QString()) + dataset, shots);
        auto it = at.find(key);
        if (it != at.end()) return rows_[it->second];
        at[key] = rows_.size();
        rows_.push_back({dataset, shots, average, {}, {}});
        return rows_.back();
    };
    const auto mean = [](const std::optional<caspl::SeedStat>& s) { return s ? std::optional<double>(s->mean) : std::nullopt; };
    const auto fill = [&](const caspl::ResultsSummary& s, bool sideA) {
        for (const auto& g : s.groups) {
            Side& side = sideA ? rowFor(QString::fromStdString(g.dataset), g.shots, false).a
                               : rowFor(QString::fromStdString(g.dataset), g.shots, false).b;
            side = {mean(g.base), mean(g.novel), g.hm, mean(g.all), QString::fromStdString(g.method)};
        }
        for (const auto& av : s.averages) {
            const QString name = tr("Average of %n dataset(s)", nullptr, int(av.datasets.size()));
            Row& row = rowFor(tr("Average"), av.shots, true);
            row.dataset = name;
            Side& side = sideA ? row.a : row.b;
            side = {av.base, av.novel, av.hm, av.all, QString::fromStdString(av.method)};
        }
    };
    fill(a, true);
    fill(b, false);
    // Averages last.
    std::stable_partition(rows_.begin(), rows_.end(), [](const Row& r) { return !r.average; });
    endResetModel();
}

void MetricsCompareModel::clear() {
    beginResetModel();
    rows_.clear();
    endResetModel();
}

// ---------------------------------------------------------------------------------------------------------------

RunSnapshot readRunSnapshot(const QString& dir) {
    RunSnapshot s;
    s.dir = QDir(dir).absolutePath();
    QFile config(QDir(dir).filePath(QStringLiteral("config.yaml")));
    if (!config.open(QIODevice::ReadOnly))
        throw caspl::Error(dir.toStdString() + ": not a run folder (no readable config.yaml); choose the folder a run "
                                               "wrote (it holds config.yaml, run.json and results)");
    s.configYaml = QString::fromUtf8(config.readAll());
    const QString resultPath = QDir(dir).filePath(QStringLiteral("result.json"));
    if (QFileInfo::exists(resultPath)) {
        const caspl::ResultFile rf = caspl::readResultJson(resultPath.toStdString());
        caspl::Rounding rounding = caspl::Rounding::Paper;
        for (const auto& [k, v] : flattenYaml(s.configYaml, config.fileName()))
            if (k == QLatin1String("eval.rounding") && v == QLatin1String("none")) rounding = caspl::Rounding::None;
        s.summary = caspl::summarizeResults(rf.records, rounding);
        s.hasResults = true;
    }
    return s;
}

CompareDialog::CompareDialog(QWidget* parent) : QDialog(parent) {
    setObjectName("compareDialog");
    setWindowTitle(tr("Compare runs"));
    resize(980, 680);
    config_ = new ConfigDiffModel(this);
    filter_ = new DiffOnlyFilter(this);
    filter_->setSourceModel(config_);
    metrics_ = new MetricsCompareModel(this);
    auto* metricsSort = new QSortFilterProxyModel(this);
    metricsSort->setSourceModel(metrics_);
    metricsSort->setSortRole(MetricsCompareModel::SortRole);

    boxA_ = new QComboBox(this);
    boxB_ = new QComboBox(this);
    boxA_->setObjectName("compareRunA");
    boxB_->setObjectName("compareRunB");
    for (QComboBox* b : {boxA_, boxB_}) {
        b->setMinimumContentsLength(30);
        b->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    }
    auto* add = new QPushButton(tr("Add run folder…"), this);
    auto* go = new QPushButton(tr("Compare"), this);
    go->setDefault(true);
    onlyDiff_ = new QCheckBox(tr("Only differences"), this);
    onlyDiff_->setChecked(true);
    filter_->setDifferencesOnly(true);
    status_ = new QLabel(this);
    status_->setObjectName("compareStatus");
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    configView_ = new QTableView(this);
    configView_->setModel(filter_);
    configView_->horizontalHeader()->setStretchLastSection(true);
    configView_->setColumnWidth(ConfigDiffModel::ColKey, 220);
    configView_->setColumnWidth(ConfigDiffModel::ColA, 330);
    configView_->verticalHeader()->hide();
    configView_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    metricsView_ = new QTableView(this);
    metricsView_->setModel(metricsSort);
    metricsView_->setSortingEnabled(true);
    metricsView_->sortByColumn(-1, Qt::AscendingOrder);
    metricsView_->verticalHeader()->hide();
    metricsView_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    metricsView_->setColumnWidth(MetricsCompareModel::ColDataset, 180);

    auto* pick = new QHBoxLayout;
    pick->addWidget(new QLabel(tr("A:"), this));
    pick->addWidget(boxA_, 1);
    pick->addWidget(new QLabel(tr("B:"), this));
    pick->addWidget(boxB_, 1);
    pick->addWidget(add);
    pick->addWidget(go);
    auto* splitter = new QSplitter(Qt::Vertical, this);
    auto* top = new QWidget(splitter);
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    auto* cfgBar = new QHBoxLayout;
    cfgBar->addWidget(new QLabel(tr("<b>Configuration</b> (config.yaml)"), top));
    cfgBar->addStretch(1);
    cfgBar->addWidget(onlyDiff_);
    topLayout->addLayout(cfgBar);
    topLayout->addWidget(configView_);
    auto* bottom = new QWidget(splitter);
    auto* bottomLayout = new QVBoxLayout(bottom);
    bottomLayout->setContentsMargins(0, 0, 0, 0);
    bottomLayout->addWidget(new QLabel(tr("<b>Metrics</b> (mean over seeds; HM of the mean base and novel accuracy)"), bottom));
    bottomLayout->addWidget(metricsView_);
    auto* close = new QPushButton(tr("Close"), this);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(pick);
    layout->addWidget(status_);
    layout->addWidget(splitter, 1);
    layout->addWidget(close, 0, Qt::AlignRight);

    connect(add, &QPushButton::clicked, this, &CompareDialog::addFolder);
    connect(go, &QPushButton::clicked, this, &CompareDialog::compareSelected);
    connect(close, &QPushButton::clicked, this, &QDialog::accept);
    connect(onlyDiff_, &QCheckBox::toggled, filter_, &DiffOnlyFilter::setDifferencesOnly);
}

void CompareDialog::setRuns(const QStringList& runDirs) {
    for (QComboBox* b : {boxA_, boxB_}) {
        const QString current = b->currentData().toString();
        b->clear();
        for (const QString& d : runDirs) {
            b->addItem(folderName(d), d);
            b->setItemData(b->count() - 1, d, Qt::ToolTipRole);
        }
        const int i = b->findData(current);
        if (i >= 0) b->setCurrentIndex(i);
    }
    if (boxA_->currentIndex() == boxB_->currentIndex() && boxB_->count() > 1) boxB_->setCurrentIndex(boxA_->currentIndex() == 0 ? 1 : 0);
}

void CompareDialog::addFolder() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Choose a run folder (it holds config.yaml)"));
    if (dir.isEmpty()) return;
    for (QComboBox* b : {boxA_, boxB_})
        if (b->findData(dir) < 0) b->addItem(folderName(dir), dir);
    boxB_->setCurrentIndex(boxB_->findData(dir));
}

void CompareDialog::compareSelected() {
    if (boxA_->currentIndex() < 0 || boxB_->currentIndex() < 0) {
        status_->setText(tr("Choose two runs (Add run folder… picks a folder from disk)."));
        return;
    }
    compare(boxA_->currentData().toString(), boxB_->currentData().toString());
}

QString CompareDialog::statusText() const { return status_->text(); }

QString CompareDialog::compare(const QString& dirA, const QString& dirB) {
    for (QComboBox* b : {boxA_, boxB_})
        for (const QString& d : {dirA, dirB})
            if (b->findData(d) < 0) b->addItem(folderName(d), d);
    boxA_->setCurrentIndex(boxA_->findData(dirA));
    boxB_->setCurrentIndex(boxB_->findData(dirB));
    try {
        const RunSnapshot a = readRunSnapshot(dirA);
        const RunSnapshot b = readRunSnapshot(dirB);
        config_->setConfigs(a.dir, flattenYaml(a.configYaml, dirA + "/config.yaml"), b.dir,
                            flattenYaml(b.configYaml, dirB + "/config.yaml"));
        metrics_->setSummaries(a.dir, a.summary, b.dir, b.summary);
        QString text = tr("%n configuration key(s) differ.", nullptr, config_->differenceCount());
        if (!a.hasResults || !b.hasResults)
            text += ' ' + tr("%1 has no results yet (no seed finished): its metric columns stay empty.")
                              .arg(!a.hasResults ? folderName(dirA) : folderName(dirB));
        status_->setStyleSheet({});
        status_->setText(text);
        return {};
    } catch (const std::exception& e) {
        config_->clear();
        metrics_->clear();
        const QString msg = QString::fromUtf8(e.what());
        status_->setStyleSheet(QStringLiteral("color: #b01e1e"));
        status_->setText(msg + "\n" + tr("Choose run folders that a run wrote (Add run folder…), then compare again."));
        return msg;
    }
}

}  // namespace caspl::ui
