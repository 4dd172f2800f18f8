#include "ui/per_class_dialog.h"

#include "core/util/atomic_file.h"
#include "ui/confusion_view.h"
#include "ui/text_format.h"
#include "ui/save_path.h"

#include <QBrush>
#include <QColor>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

#include <map>
#include <set>

namespace caspl::ui {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }
QString withStd(const std::optional<double>& v, const std::optional<double>& s) {
    if (!v) return {};
    QString t = fixedNumber(*v);
    if (s) t += QStringLiteral(" ± ") + fixedNumber(*s);
    return t;
}

bool sameEvaluation(const PerClassRow& r, const PerClassKey& k, bool withMethod) {
    return r.dataset == k.dataset && r.split == k.split && r.shots == k.shots && (!withMethod || r.method == k.method);
}

// Rows of one kind family for one evaluation and seed: kind `one` ("class" / "macro") of that seed; for the mean,
// kind `mean` ("class_mean" / "macro_mean"), or `one` where a single seed was evaluated. With `withMethod` false, the
// method is B's first one for that dataset, shots and split.
std::vector<const PerClassRow*> pick(const std::vector<PerClassRow>& rows, PerClassKey key, bool withMethod,
                                     std::optional<int> seed, const char* one, const char* mean) {
    if (!withMethod) {
        bool found = false;
        for (const auto& r : rows)
            if (r.kind == one && sameEvaluation(r, key, false)) {
                key.method = r.method;
                found = true;
                break;
            }
        if (!found) return {};
    }
    std::vector<const PerClassRow*> out;
    if (seed) {
        for (const auto& r : rows)
            if (r.kind == one && r.seed == seed && sameEvaluation(r, key, true)) out.push_back(&r);
        return out;
    }
    for (const auto& r : rows)
        if (r.kind == mean && sameEvaluation(r, key, true)) out.push_back(&r);
    if (!out.empty()) return out;
    std::set<int> seeds;
    for (const auto& r : rows)
        if (r.kind == one && sameEvaluation(r, key, true) && r.seed) seeds.insert(*r.seed);
    if (seeds.size() == 1)
        for (const auto& r : rows)
            if (r.kind == one && sameEvaluation(r, key, true)) out.push_back(&r);
    return out;
}

}  // namespace

std::optional<double> PerClassModel::Row::delta() const {
    if (!a || !b) return std::nullopt;
    return *b - *a;
}

PerClassModel::PerClassModel(QObject* parent) : QAbstractTableModel(parent) {}

int PerClassModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }
int PerClassModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant PerClassModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
        case ColIndex: return tr("#");
        case ColName: return tr("Class");
        case ColImages: return tr("Images");
        case ColA: return tr("A: %1").arg(labelA_);
        case ColB: return tr("B: %1").arg(labelB_);
        case ColDelta: return tr("B − A");
        case ColConfused: return tr("Most confused with (A)");
        default: return {};
    }
}

QVariant PerClassModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= int(rows_.size())) return {};
    const Row& r = rows_[std::size_t(index.row())];
    const auto number = [](const std::optional<double>& v) { return v ? QVariant(*v) : QVariant(); };
    if (role == SortRole) {
        switch (index.column()) {
            case ColIndex: return qlonglong(r.index);
            case ColName: return r.name;
            case ColImages: return qlonglong(r.images);
            case ColA: return number(r.a);
            case ColB: return number(r.b);
            case ColDelta: return number(r.delta());
            case ColConfused: return qlonglong(r.confusedImages);
            default: return {};
        }
    }
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
            case ColIndex: return qlonglong(r.index);
            case ColName: return r.name;
            case ColImages: return qlonglong(r.images);
            case ColA: return withStd(r.a, r.stdA);
            case ColB: return withStd(r.b, r.stdB);
            case ColDelta: return r.delta() ? signedNumber(*r.delta()) : QString();
            case ColConfused:
                return r.confused.isEmpty() ? QString() : QStringLiteral("%1 (%2)").arg(r.confused).arg(r.confusedImages);
            default: return {};
        }
    }
    if (role == Qt::ForegroundRole && index.column() == ColDelta && r.delta() && *r.delta() != 0)
        return QBrush(*r.delta() > 0 ? QColor(0x1e, 0x7d, 0x32) : QColor(0xb0, 0x1e, 0x1e));
    if (role == Qt::TextAlignmentRole && index.column() != ColName && index.column() != ColConfused)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole && index.column() == ColConfused && !r.confused.isEmpty())
        return tr("%1 of the %2 images of %3 were predicted as %4").arg(r.confusedImages).arg(r.images).arg(r.name, r.confused);
    return {};
}

void PerClassModel::setRows(std::vector<Row> rows, const QString& labelA, const QString& labelB) {
    beginResetModel();
    rows_ = std::move(rows);
    labelA_ = labelA;
    labelB_ = labelB;
    endResetModel();
    Q_EMIT headerDataChanged(Qt::Horizontal, 0, ColumnCount - 1);
}

std::vector<PerClassKey> perClassKeys(const std::vector<PerClassRow>& rows) {
    std::vector<PerClassKey> out;
    for (const auto& r : rows) {
        if (r.kind != "macro") continue;
        const PerClassKey k{r.dataset, r.method, r.split, r.shots};
        if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
    }
    return out;
}

std::vector<int> perClassSeeds(const std::vector<PerClassRow>& rows, const PerClassKey& key) {
    std::set<int> seeds;
    for (const auto& r : rows)
        if (r.kind == "macro" && sameEvaluation(r, key, true) && r.seed) seeds.insert(*r.seed);
    return {seeds.begin(), seeds.end()};
}

std::vector<PerClassModel::Row> perClassTable(const std::vector<PerClassRow>& a, const std::vector<PerClassRow>* b,
                                              const PerClassKey& key, std::optional<int> seed,
                                              std::optional<PerClassRow>* macroA, std::optional<PerClassRow>* macroB) {
    std::vector<PerClassModel::Row> out;
    // B's class for A's: the same index and name, else the one class of that name (none where the name repeats).
    std::map<std::pair<int64_t, std::string>, const PerClassRow*> byIndex;
    std::map<std::string, std::vector<const PerClassRow*>> byName;
    if (b)
        for (const PerClassRow* r : pick(*b, key, false, seed, "class", "class_mean")) {
            byIndex.emplace(std::make_pair(r->classIndex.value_or(-1), r->className), r);
            byName[r->className].push_back(r);
        }
    for (const PerClassRow* r : pick(a, key, true, seed, "class", "class_mean")) {
        PerClassModel::Row row;
        row.index = r->classIndex.value_or(0);
        row.name = qs(r->className);
        row.images = r->images.value_or(0);
        row.a = r->accuracy;
        row.stdA = r->std;
        row.confused = qs(r->confusedWith);
        row.confusedImages = r->confusedImages.value_or(0);
        const PerClassRow* other = nullptr;
        if (const auto it = byIndex.find({r->classIndex.value_or(-1), r->className}); it != byIndex.end()) other = it->second;
        else if (const auto n = byName.find(r->className); n != byName.end() && n->second.size() == 1) other = n->second.front();
        if (other) {
            row.b = other->accuracy;
            row.stdB = other->std;
        }
        out.push_back(std::move(row));
    }
    if (macroA) {
        const auto m = pick(a, key, true, seed, "macro", "macro_mean");
        *macroA = m.empty() ? std::nullopt : std::optional<PerClassRow>(*m.front());
    }
    if (macroB) {
        const auto m = b ? pick(*b, key, false, seed, "macro", "macro_mean") : std::vector<const PerClassRow*>{};
        *macroB = m.empty() ? std::nullopt : std::optional<PerClassRow>(*m.front());
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------------------

PerClassDialog::PerClassDialog(QWidget* parent) : QDialog(parent) {
    setObjectName("perClassDialog");
    setWindowTitle(tr("Per-class accuracy"));
    resize(900, 640);
    model_ = new PerClassModel(this);
    sorted_ = new QSortFilterProxyModel(this);
    sorted_->setSourceModel(model_);
    sorted_->setSortRole(PerClassModel::SortRole);

    boxA_ = new QComboBox(this);
    boxB_ = new QComboBox(this);
    evalBox_ = new QComboBox(this);
    seedBox_ = new QComboBox(this);
    boxA_->setObjectName("perClassRunA");
    boxB_->setObjectName("perClassRunB");
    evalBox_->setObjectName("perClassEvaluation");
    seedBox_->setObjectName("perClassSeed");
    for (QComboBox* b : {boxA_, boxB_}) {
        b->setMinimumContentsLength(24);
        b->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    }
    boxB_->addItem(tr("(none)"), QString());
    auto* add = new QPushButton(tr("Add run folder…"), this);
    auto* reloadButton = new QPushButton(tr("Reload"), this);
    reloadButton->setToolTip(tr("Read the runs' per_class.json files again (a run still evaluating adds seeds)"));
    auto* exportButton = new QPushButton(tr("Export CSV…"), this);
    exportButton->setObjectName("perClassExport");
    status_ = new QLabel(this);
    status_->setObjectName("perClassStatus");
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    view_ = new QTableView(this);
    view_->setModel(sorted_);
    view_->setSortingEnabled(true);
    view_->sortByColumn(PerClassModel::ColA, Qt::AscendingOrder);  // worst classes first
    view_->verticalHeader()->hide();
    view_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view_->horizontalHeader()->setStretchLastSection(true);
    view_->setColumnWidth(PerClassModel::ColIndex, 50);
    view_->setColumnWidth(PerClassModel::ColName, 220);
    view_->setColumnWidth(PerClassModel::ColA, 140);
    view_->setColumnWidth(PerClassModel::ColB, 140);

    confusion_ = new ConfusionView(this);
    confusionRun_ = new QComboBox(this);
    confusionRun_->setObjectName("perClassConfusionRun");
    confusionRun_->addItems({tr("A"), tr("B"), tr("B − A")});
    auto* confusionPage = new QWidget(this);
    auto* confusionRow = new QHBoxLayout;
    confusionRow->addWidget(new QLabel(tr("Matrix of run:"), confusionPage));
    confusionRow->addWidget(confusionRun_);
    confusionRow->addStretch(1);
    auto* confusionLayout = new QVBoxLayout(confusionPage);
    confusionLayout->addLayout(confusionRow);
    confusionLayout->addWidget(confusion_, 1);
    tabs_ = new QTabWidget(this);
    tabs_->setObjectName("perClassTabs");
    tabs_->addTab(view_, tr("Classes"));
    tabs_->addTab(confusionPage, tr("Confusion matrix"));

    auto* runs = new QHBoxLayout;
    runs->addWidget(new QLabel(tr("A:"), this));
    runs->addWidget(boxA_, 1);
    runs->addWidget(new QLabel(tr("compared with B:"), this));
    runs->addWidget(boxB_, 1);
    runs->addWidget(add);
    runs->addWidget(reloadButton);
    auto* which = new QHBoxLayout;
    which->addWidget(new QLabel(tr("Evaluation:"), this));
    which->addWidget(evalBox_, 2);
    which->addWidget(new QLabel(tr("Seed:"), this));
    which->addWidget(seedBox_, 1);
    auto* close = new QPushButton(tr("Close"), this);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(exportButton);
    buttons->addStretch(1);
    buttons->addWidget(close);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(runs);
    layout->addLayout(which);
    layout->addWidget(status_);
    layout->addWidget(tabs_, 1);
    layout->addLayout(buttons);

    connect(add, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Choose a run folder (it holds config.yaml)"));
        if (dir.isEmpty()) return;
        filling_ = true;
        const bool toA = boxA_->currentData().toString().isEmpty();
        for (QComboBox* b : {boxA_, boxB_})
            if (b->findData(dir) < 0) b->addItem(folderName(dir), dir);
        (toA ? boxA_ : boxB_)->setCurrentIndex((toA ? boxA_ : boxB_)->findData(dir));
        filling_ = false;
        reload();
    });
    connect(reloadButton, &QPushButton::clicked, this, [this] { reload(); });
    connect(exportButton, &QPushButton::clicked, this, [this] {
        const QString start = QDir(boxA_->currentData().toString()).filePath(QStringLiteral("per_class.csv"));
        const QString path = savePathWithSuffix(
            this, QFileDialog::getSaveFileName(this, tr("Export the per-class accuracy"), start, tr("CSV files (*.csv)")),
            QStringLiteral("csv"));
        if (path.isEmpty()) return;
        const QString problem = exportCsv(path);
        if (!problem.isEmpty()) {
            status_->setStyleSheet(QStringLiteral("color: #b01e1e"));
            status_->setText(problem);
        }
    });
    connect(close, &QPushButton::clicked, this, &QDialog::accept);
    for (QComboBox* b : {boxA_, boxB_})
        connect(b, &QComboBox::currentIndexChanged, this, [this] {
            if (!filling_) reload();
        });
    connect(evalBox_, &QComboBox::currentIndexChanged, this, [this] {
        if (filling_) return;
        fillSeeds();
        refreshTable();
    });
    connect(seedBox_, &QComboBox::currentIndexChanged, this, [this] {
        if (!filling_) refreshTable();
    });
    connect(confusionRun_, &QComboBox::currentIndexChanged, this, [this] {
        if (!filling_) refreshConfusion();
    });
}

void PerClassDialog::setConfusionOf(ConfusionOf which) { confusionRun_->setCurrentIndex(int(which)); }
void PerClassDialog::showConfusionTab(bool shown) { tabs_->setCurrentIndex(shown ? 1 : 0); }

void PerClassDialog::refreshConfusion() {
    const QString dirB = boxB_->currentData().toString();
    filling_ = true;
    confusionRun_->setEnabled(!dirB.isEmpty());
    if (dirB.isEmpty()) confusionRun_->setCurrentIndex(0);
    filling_ = false;
    const int which = confusionRun_->currentIndex();  // 0 A, 1 B, 2 B − A
    const int e = evalBox_->currentIndex();
    if (e < 0 || e >= int(keys_.size())) {
        confusion_->setMatrix(std::nullopt, tr("No evaluation chosen."));
        return;
    }
    const PerClassKey key = keys_[std::size_t(e)];
    const QVariant s = seedBox_->currentData();
    const bool oneSeed = s.isValid();  // else: summed over the seeds
    const int seed = s.toInt();
    // A run's matrix for this evaluation and seed (or its seeds summed); B's evaluation of the same dataset, shots
    // and split, whatever its method (as in the class table). Sets `problem` when there is none.
    QString problem;
    int firstSeed = 0;  // the seed of the last matrix made from one evaluation
    const auto matrixOf = [&](bool ofB, QString& title) -> std::optional<caspl::ConfusionMatrix> {
        const auto& evals = ofB ? evalsB_ : evalsA_;
        std::string method = key.method;
        if (ofB) {
            const auto same = std::find_if(evals.begin(), evals.end(), [&key](const PerClassEval& x) {
                return x.dataset == key.dataset && x.shots == key.shots && x.split == key.split;
            });
            if (same != evals.end()) method = same->method;
        }
        std::vector<const PerClassEval*> chosen;
        for (const auto& x : evals)
            if (x.dataset == key.dataset && x.method == method && x.shots == key.shots && x.split == key.split &&
                (!oneSeed || x.seed == seed))
                chosen.push_back(&x);
        const QString run = folderName((ofB ? boxB_ : boxA_)->currentData().toString());
        if (chosen.empty()) {
            problem = tr("%1 has no per-class results for this evaluation%2.").arg(run, oneSeed ? tr(" and seed") : QString());
            return std::nullopt;
        }
        title = run;
        if (qs(method) != run) title += QStringLiteral(" · ") + qs(method);
        firstSeed = chosen.front()->seed;
        try {
            return caspl::confusionMatrix(chosen);
        } catch (const std::exception& x) {
            problem = QString::fromUtf8(x.what());
            return std::nullopt;
        }
    };
    QString where = qs(key.dataset);
    if (key.shots > 0) where += QStringLiteral(" · ") + tr("%1 shots").arg(key.shots);
    where += QStringLiteral(" · ") + qs(key.split);
    QString titleA, titleB;
    if (which == 2) {
        auto a = matrixOf(false, titleA);
        auto b = a ? matrixOf(true, titleB) : std::nullopt;
        if (!a || !b) {
            confusion_->setMatrix(std::nullopt, problem);
            return;
        }
        const QString seeds = oneSeed ? tr("seed %1").arg(seed) : tr("seeds summed");
        confusion_->setDifference(std::move(*a), std::move(*b),
                                  tr("B − A: %1 − %2 · %3 · %4").arg(titleB, titleA, where, seeds));
        return;
    }
    QString title;
    auto m = matrixOf(which == 1, title);
    if (!m) {
        confusion_->setMatrix(std::nullopt, problem);
        return;
    }
    title += QStringLiteral(" · ") + where + QStringLiteral(" · ");
    title += m->evaluations == 1 ? tr("seed %1").arg(firstSeed) : tr("summed over %1 seeds").arg(m->evaluations);
    confusion_->setMatrix(std::move(m), title);
}

void PerClassDialog::setRuns(const QStringList& runDirs) {
    // Adds the runs not offered yet; folders added by hand and the current choices stay. Reads nothing: showRuns
    // does.
    filling_ = true;
    for (const QString& d : runDirs)
        for (QComboBox* box : {boxA_, boxB_})
            if (box->findData(d) < 0) {
                box->addItem(folderName(d), d);
                box->setItemData(box->count() - 1, d, Qt::ToolTipRole);
            }
    filling_ = false;
}

QString PerClassDialog::runB() const { return boxB_->currentData().toString(); }

QString PerClassDialog::showRuns(const QString& dirA, const QString& dirB) {
    filling_ = true;
    for (const QString& d : {dirA, dirB})
        if (!d.isEmpty())
            for (QComboBox* b : {boxA_, boxB_})
                if (b->findData(d) < 0) b->addItem(folderName(d), d);
    boxA_->setCurrentIndex(dirA.isEmpty() ? -1 : boxA_->findData(dirA));
    boxB_->setCurrentIndex(dirB.isEmpty() ? 0 : boxB_->findData(dirB));
    filling_ = false;
    reload();
    return loadProblem_;
}

void PerClassDialog::reload() {
    evalsA_.clear();
    evalsB_.clear();
    loadProblem_.clear();
    const QString dirA = boxA_->currentData().toString(), dirB = boxB_->currentData().toString();
    QStringList problems, without, partly;
    const auto read = [&](const QString& dir, std::vector<PerClassEval>& evals, std::vector<PerClassRow>& rows) {
        if (dir.isEmpty()) return;
        try {
            evals = caspl::readRunPerClass(dir.toStdString());
            rows = caspl::perClassRows(evals);
            if (evals.empty()) without << dir;
            else if (const auto missing = caspl::seedFoldersWithoutPerClass(dir.toStdString()); !missing.empty())
                partly << tr("%1 (%2 of its seeds)").arg(dir).arg(missing.size());
        } catch (const std::exception& e) {
            evals.clear();
            rows.clear();
            problems << QString::fromUtf8(e.what());
        }
    };
    rowsA_.clear();
    rowsB_.clear();
    read(dirA, evalsA_, rowsA_);
    read(dirB, evalsB_, rowsB_);
    const QString advice = tr("Run > Evaluate Selected Run Again (or caspl eval RUN_DIR) writes them without training.");
    if (!without.isEmpty())
        problems << tr("No per-class results in %1: no seed has been evaluated yet, or it was evaluated by a version "
                       "that did not record them.")
                            .arg(without.join(QStringLiteral(", "))) +
                        ' ' + advice;
    if (!partly.isEmpty())
        problems << tr("Seeds without per-class results in %1 are left out.").arg(partly.join(QStringLiteral(", "))) + ' ' + advice;
    loadProblem_ = problems.join('\n');
    fillEvaluations();
    fillSeeds();
    refreshTable();
}

void PerClassDialog::fillEvaluations() {
    filling_ = true;
    const int before = evalBox_->currentIndex();
    const PerClassKey previous = before >= 0 && before < int(keys_.size()) ? keys_[std::size_t(before)] : PerClassKey{};
    keys_ = perClassKeys(rowsA_);
    std::set<std::string> methods;
    for (const auto& k : keys_) methods.insert(k.method);
    evalBox_->clear();
    int select = 0;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
        const PerClassKey& k = keys_[i];
        QString text = qs(k.dataset);
        if (k.shots > 0) text += QStringLiteral(" · ") + tr("%1 shots").arg(k.shots);
        text += QStringLiteral(" · ") + qs(k.split);
        if (methods.size() > 1) text += QStringLiteral(" · ") + qs(k.method);
        evalBox_->addItem(text);
        if (k == previous) select = int(i);
    }
    if (!keys_.empty()) evalBox_->setCurrentIndex(select);
    filling_ = false;
}

void PerClassDialog::fillSeeds() {
    filling_ = true;
    const QVariant previous = seedBox_->currentData();
    seedBox_->clear();
    const int e = evalBox_->currentIndex();
    if (e >= 0 && e < int(keys_.size())) {
        const auto seeds = perClassSeeds(rowsA_, keys_[std::size_t(e)]);
        if (seeds.size() > 1) seedBox_->addItem(tr("mean of %1 seeds").arg(seeds.size()), QVariant());
        for (int s : seeds) seedBox_->addItem(tr("seed %1").arg(s), s);
        const int i = previous.isValid() ? seedBox_->findData(previous) : 0;
        seedBox_->setCurrentIndex(std::max(0, i));
    }
    filling_ = false;
}

bool PerClassDialog::select(const PerClassKey& key, std::optional<int> seed) {
    const auto k = std::find(keys_.begin(), keys_.end(), key);
    if (k == keys_.end()) return false;
    if (seed) {
        const auto seeds = perClassSeeds(rowsA_, key);
        if (std::find(seeds.begin(), seeds.end(), *seed) == seeds.end()) return false;  // nothing changed
    }
    filling_ = true;
    evalBox_->setCurrentIndex(int(k - keys_.begin()));
    filling_ = false;
    fillSeeds();
    const int i = seed ? seedBox_->findData(*seed) : 0;  // the mean comes first (or the one seed)
    if (i < 0) return false;
    filling_ = true;
    seedBox_->setCurrentIndex(i);
    filling_ = false;
    refreshTable();
    return true;
}

void PerClassDialog::refreshTable() {
    const QString dirA = boxA_->currentData().toString(), dirB = boxB_->currentData().toString();
    const bool withB = !dirB.isEmpty();
    view_->setColumnHidden(PerClassModel::ColB, !withB);
    view_->setColumnHidden(PerClassModel::ColDelta, !withB);
    const int sortColumn = view_->horizontalHeader()->sortIndicatorSection();
    if (!withB && (sortColumn == PerClassModel::ColB || sortColumn == PerClassModel::ColDelta))
        view_->sortByColumn(PerClassModel::ColA, Qt::AscendingOrder);
    const int e = evalBox_->currentIndex();
    if (e < 0 || e >= int(keys_.size())) {
        model_->setRows({}, folderName(dirA), folderName(dirB));
        status_->setStyleSheet(loadProblem_.isEmpty() ? QString() : QStringLiteral("color: #b01e1e"));
        status_->setText(!loadProblem_.isEmpty() ? loadProblem_
                         : dirA.isEmpty()        ? tr("Choose a run (Add run folder… picks one from disk).")
                                                 : QString());
        refreshConfusion();
        return;
    }
    const PerClassKey& key = keys_[std::size_t(e)];
    const QVariant s = seedBox_->currentData();
    const std::optional<int> seed = s.isValid() ? std::optional<int>(s.toInt()) : std::nullopt;
    std::optional<PerClassRow> macroA, macroB;
    auto rows = perClassTable(rowsA_, withB ? &rowsB_ : nullptr, key, seed, &macroA, &macroB);
    int better = 0, worse = 0, matched = 0;
    for (const auto& r : rows)
        if (const auto d = r.delta()) {
            ++matched;
            better += *d > 0;
            worse += *d < 0;
        }
    const int classes = int(rows.size());
    model_->setRows(std::move(rows), folderName(dirA), folderName(dirB));
    sorted_->sort(view_->horizontalHeader()->sortIndicatorSection(), view_->horizontalHeader()->sortIndicatorOrder());

    // The mean over seeds says over how many (A's and B's may differ).
    const auto seeds = [&seed](const std::optional<PerClassRow>& m) {
        return seed || !m || !m->n ? QString() : tr(" (%1 seeds)").arg(*m->n);
    };
    QStringList parts;
    if (macroA && macroA->accuracy)
        parts << tr("Mean class accuracy A: %1%2").arg(withStd(macroA->accuracy, macroA->std), seeds(macroA));
    else
        parts << tr("A: no class with images");
    if (withB) {
        if (macroB && macroB->accuracy) {
            parts << tr("B: %1%2").arg(withStd(macroB->accuracy, macroB->std), seeds(macroB));
            if (macroA && macroA->accuracy) parts << tr("B − A: %1").arg(signedNumber(*macroB->accuracy - *macroA->accuracy));
        } else {
            parts << tr("B has no per-class results for this evaluation%1").arg(seed ? tr(" and seed") : QString());
        }
    }
    QString text = parts.join(QStringLiteral(" · "));
    text += QStringLiteral(". ") + (classes == 1 ? tr("1 class") : tr("%1 classes").arg(classes));
    if (withB && matched > 0) text += QStringLiteral("; ") + tr("B better on %1, worse on %2").arg(better).arg(worse);
    text += QStringLiteral(".");
    if (!loadProblem_.isEmpty()) text = loadProblem_ + QStringLiteral("\n") + text;
    status_->setStyleSheet(loadProblem_.isEmpty() ? QString() : QStringLiteral("color: #b01e1e"));
    status_->setText(text);
    refreshConfusion();
}

QString PerClassDialog::exportCsv(const QString& path) {
    std::vector<PerClassEval> all = evalsA_;
    const QString a = boxA_->currentData().toString(), b = boxB_->currentData().toString();
    if (!b.isEmpty() && QFileInfo(a).canonicalFilePath() != QFileInfo(b).canonicalFilePath())
        all.insert(all.end(), evalsB_.begin(), evalsB_.end());
    if (all.empty()) return tr("Nothing to export: the runs shown have no per-class results.");
    try {
        caspl::writeFileAtomically(path.toStdString(), caspl::perClassCsvText(caspl::perClassRows(all)));
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
    }
    status_->setStyleSheet({});
    status_->setText(tr("Wrote %1 (%2 evaluations).").arg(QDir::toNativeSeparators(path)).arg(all.size()));
    return {};
}

QString PerClassDialog::statusText() const { return status_->text(); }

}  // namespace caspl::ui
