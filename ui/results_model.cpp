#include "ui/results_model.h"

#include "ui/text_format.h"

#include <QFileInfo>
#include <QFont>

#include <algorithm>

namespace caspl::ui {

namespace {

std::optional<caspl::SeedStat> single(const std::optional<double>& v) {
    if (!v) return std::nullopt;
    return caspl::SeedStat{*v, 0.0, 1};
}

// "82.57 (−2.07)": a published value and the run's difference to it.
QString withDelta(const std::optional<double>& value, const std::optional<double>& delta) {
    if (!value) return {};
    QString text = fixedNumber(*value);
    if (delta) text += QStringLiteral(" (%1)").arg(signedNumber(*delta));
    return text;
}

QString seedRange(const std::vector<int>& seeds) {
    if (seeds.empty()) return {};
    bool consecutive = true;
    for (std::size_t i = 1; i < seeds.size(); ++i) consecutive = consecutive && seeds[i] == seeds[i - 1] + 1;
    QString list;
    if (consecutive && seeds.size() > 2) list = QStringLiteral("%1–%2").arg(seeds.front()).arg(seeds.back());
    else
        for (std::size_t i = 0; i < seeds.size(); ++i) list += (i ? QStringLiteral(",") : QString()) + QString::number(seeds[i]);
    return list;
}

}  // namespace

ResultsModel::ResultsModel(QObject* parent) : QAbstractTableModel(parent) {}

int ResultsModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }

int ResultsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ResultsModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
        case ColRun: return tr("Run");
        case ColKind: return tr("Row");
        case ColDataset: return tr("Dataset");
        case ColMethod: return tr("Method");
        case ColShots: return tr("Shots");
        case ColSeed: return tr("Seed");
        case ColBase: return tr("Base");
        case ColNovel: return tr("Novel");
        case ColHm: return tr("HM");
        case ColAll: return tr("All");
        default: return {};
    }
}

QString ResultsModel::formatValue(const std::optional<double>& v) {
    return v ? fixedNumber(*v) : QString();
}

QString ResultsModel::formatStat(const std::optional<caspl::SeedStat>& s) {
    if (!s) return {};
    if (s->n > 1) return QStringLiteral("%1 ± %2").arg(fixedNumber(s->mean)).arg(fixedNumber(s->std));
    return fixedNumber(s->mean);
}

QVariant ResultsModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Row& r = rows_[std::size_t(index.row())];
    const auto statValue = [](const std::optional<caspl::SeedStat>& s) { return s ? QVariant(s->mean) : QVariant(); };
    switch (role) {
        case KindRole: return r.kind;
        case AverageRole: return r.average;
        case RunRole: return r.run;
        case Qt::FontRole:
            if (r.kind == QLatin1String("reference")) {
                QFont f;
                f.setItalic(true);
                return f;
            }
            if (r.kind != QLatin1String("seed")) {
                QFont f;
                f.setBold(true);
                return f;
            }
            return {};
        case DeltaRole:
            switch (index.column()) {
                case ColBase: return r.dBase ? QVariant(*r.dBase) : QVariant();
                case ColNovel: return r.dNovel ? QVariant(*r.dNovel) : QVariant();
                case ColAll: return r.dAll ? QVariant(*r.dAll) : QVariant();
                case ColHm: return r.dHm ? QVariant(*r.dHm) : QVariant();
                default: return {};
            }
        case Qt::TextAlignmentRole:
            return index.column() >= ColShots ? QVariant(int(Qt::AlignRight | Qt::AlignVCenter)) : QVariant();
        case Qt::ToolTipRole:
            if (index.column() == ColRun) return r.run;
            if (r.kind == QLatin1String("reference"))
                return tr("published numbers the experiment compares with (reference:)%1; in brackets: this run minus "
                          "the published value")
                    .arg(r.source.isEmpty() ? QString() : QStringLiteral(": ") + r.source);
            if (index.column() == ColHm) return tr("harmonic mean 2·B·N/(B+N) of the seed-averaged base and novel accuracy");
            return {};
        case SortRole:
            switch (index.column()) {
                case ColShots: return r.shots;
                case ColSeed: return r.seedSort;
                case ColBase: return statValue(r.base);
                case ColNovel: return statValue(r.novel);
                case ColAll: return statValue(r.all);
                case ColHm: return r.hm ? QVariant(*r.hm) : QVariant();
                default: return data(index, Qt::DisplayRole);
            }
        case Qt::DisplayRole:
            switch (index.column()) {
                case ColRun: return QFileInfo(r.run).fileName();
                case ColKind: return r.kind == QLatin1String("mean") ? tr("mean ± std") : r.kind;
                case ColDataset: return r.dataset;
                case ColMethod: return r.method;
                case ColShots: return r.shots > 0 ? QVariant(r.shots) : QVariant(QString());
                case ColSeed: return r.seed;
                case ColBase:
                case ColNovel:
                case ColHm:
                case ColAll:
                    if (r.kind == QLatin1String("reference")) {
                        const auto value = [](const std::optional<caspl::SeedStat>& x) {
                            return x ? std::optional<double>(x->mean) : std::nullopt;
                        };
                        if (index.column() == ColBase) return withDelta(value(r.base), r.dBase);
                        if (index.column() == ColNovel) return withDelta(value(r.novel), r.dNovel);
                        if (index.column() == ColAll) return withDelta(value(r.all), r.dAll);
                        return withDelta(r.hm, r.dHm);
                    }
                    break;
                default: break;
            }
            switch (index.column()) {
                case ColBase: return formatStat(r.base);
                case ColNovel: return formatStat(r.novel);
                case ColHm: return formatValue(r.hm);
                case ColAll: return formatStat(r.all);
                default: return {};
            }
        default: return {};
    }
}

void ResultsModel::setRunRecords(const QString& runDir, const std::vector<caspl::ResultRecord>& records,
                                 caspl::Rounding rounding, const std::vector<caspl::ReferenceResult>& references) {
    RunData d;
    d.records = records;
    d.rounding = rounding;
    d.references = references;
    d.summary = caspl::summarizeResults(records, rounding);  // may throw: nothing changed yet
    caspl::attachReferences(d.summary, references);
    if (!runs_.count(runDir)) order_.push_back(runDir);
    runs_[runDir] = std::move(d);
    rebuild();
}

void ResultsModel::addEvalRow(const QString& runDir, const caspl::EvalRow& row, int shots, caspl::Rounding rounding,
                              const std::vector<caspl::ReferenceResult>& references) {
    std::vector<caspl::ResultRecord> recs;
    if (auto it = runs_.find(runDir); it != runs_.end()) recs = it->second.records;
    const caspl::ResultRecord r = caspl::toResultRecord(row, shots);
    // The same evaluation again (e.g. a re-evaluation) replaces the earlier one.
    for (auto it = recs.begin(); it != recs.end();)
        if (it->dataset == r.dataset && it->method == r.method && it->shots == r.shots && it->seed == r.seed &&
            it->split == r.split && it->epoch == r.epoch)
            it = recs.erase(it);
        else
            ++it;
    recs.push_back(r);
    setRunRecords(runDir, recs, rounding, references);
}

void ResultsModel::removeRun(const QString& runDir) {
    if (!runs_.erase(runDir)) return;
    order_.erase(std::remove(order_.begin(), order_.end(), runDir), order_.end());
    rebuild();
}

void ResultsModel::clear() {
    runs_.clear();
    order_.clear();
    rebuild();
}

QStringList ResultsModel::runs() const {
    QStringList out;
    for (const auto& r : order_) out << r;
    return out;
}

const caspl::ResultsSummary* ResultsModel::summary(const QString& runDir) const {
    auto it = runs_.find(runDir);
    return it == runs_.end() ? nullptr : &it->second.summary;
}

const std::vector<caspl::ResultRecord>* ResultsModel::records(const QString& runDir) const {
    auto it = runs_.find(runDir);
    return it == runs_.end() ? nullptr : &it->second.records;
}

caspl::ResultsSummary ResultsModel::combinedSummary() const {
    // As `caspl export --csv`: each run rounded by its own setting, a sweep's runs labelled by their folder.
    std::vector<caspl::RunRecords> runs;
    for (const auto& run : order_) {
        const RunData& d = runs_.at(run);
        runs.push_back({run.toStdString(), d.records, d.rounding, d.references});
    }
    return caspl::combineRuns(runs).summary;
}

void ResultsModel::addReference(const QString& run, const caspl::ResultsSummary& s, const std::string& dataset,
                                const std::string& method, int shots, const Row& results) {
    const caspl::ReferenceRow* ref = caspl::findReference(s, dataset, method, shots);
    if (!ref) return;
    Row r;
    r.run = run;
    r.kind = QStringLiteral("reference");
    r.dataset = results.dataset;
    r.method = results.method;
    r.shots = results.shots;
    r.seed = QString::fromStdString(ref->source);
    r.source = r.seed;
    r.seedSort = results.seedSort + 0.5;
    r.average = results.average;
    r.base = single(ref->base);
    r.novel = single(ref->novel);
    r.all = single(ref->all);
    r.hm = ref->hm;
    const auto delta = [](const std::optional<caspl::SeedStat>& mine, const std::optional<double>& theirs) {
        return mine && theirs ? std::optional<double>(mine->mean - *theirs) : std::nullopt;
    };
    r.dBase = delta(results.base, ref->base);
    r.dNovel = delta(results.novel, ref->novel);
    r.dAll = delta(results.all, ref->all);
    r.dHm = results.hm && ref->hm ? std::optional<double>(*results.hm - *ref->hm) : std::nullopt;
    rows_.push_back(r);
}

void ResultsModel::rebuild() {
    beginResetModel();
    rows_.clear();
    for (const auto& run : order_) {
        const caspl::ResultsSummary& s = runs_.at(run).summary;
        for (const auto& g : s.groups) {
            for (const auto& sr : s.seeds) {
                if (sr.dataset != g.dataset || sr.method != g.method || sr.shots != g.shots) continue;
                Row r;
                r.run = run;
                r.kind = QStringLiteral("seed");
                r.dataset = QString::fromStdString(sr.dataset);
                r.method = QString::fromStdString(sr.method);
                r.shots = sr.shots;
                r.seed = QString::number(sr.seed);
                r.seedSort = sr.seed;
                r.base = single(sr.base);
                r.novel = single(sr.novel);
                r.all = single(sr.all);
                r.hm = sr.hm;
                rows_.push_back(r);
            }
            Row m;
            m.run = run;
            m.kind = QStringLiteral("mean");
            m.dataset = QString::fromStdString(g.dataset);
            m.method = QString::fromStdString(g.method);
            m.shots = g.shots;
            m.seed = seedRange(g.seeds);
            m.seedSort = 1e6 + double(g.seeds.size());
            m.base = g.base;
            m.novel = g.novel;
            m.all = g.all;
            m.hm = g.hm;
            rows_.push_back(m);
            addReference(run, s, g.dataset, g.method, g.shots, m);
        }
        for (const auto& a : s.averages) {
            Row r;
            r.run = run;
            r.kind = QStringLiteral("average");
            r.average = true;
            r.dataset = tr("Average of %n dataset(s)", nullptr, int(a.datasets.size()));
            r.method = QString::fromStdString(a.method);
            r.shots = a.shots;
            r.seedSort = 2e6;
            r.base = single(a.base);
            r.novel = single(a.novel);
            r.all = single(a.all);
            r.hm = a.hm;
            rows_.push_back(r);
            addReference(run, s, "average", a.method, a.shots, r);
        }
    }
    endResetModel();
}

}  // namespace caspl::ui
