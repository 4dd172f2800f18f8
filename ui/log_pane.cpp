#include "ui/log_pane.h"

#include <QColor>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

namespace caspl::ui {

LogModel::LogModel(QObject* parent) : QAbstractTableModel(parent) {}

int LogModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(lines_.size()); }

int LogModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LogModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
        case ColTime: return tr("Time");
        case ColLevel: return tr("Level");
        case ColRun: return tr("Run");
        case ColMessage: return tr("Message");
        default: return {};
    }
}

QVariant LogModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const LogLine& l = lines_[std::size_t(index.row())];
    switch (role) {
        case LevelRole: return int(l.level);
        case SortRole:
            if (index.column() == ColTime) return l.time.toMSecsSinceEpoch();
            if (index.column() == ColLevel) return int(l.level);
            return data(index, Qt::DisplayRole);
        case Qt::ForegroundRole:
            if (l.level == caspl::LogLevel::Error) return QColor(190, 30, 30);
            if (l.level == caspl::LogLevel::Warning) return QColor(170, 100, 0);
            if (l.level == caspl::LogLevel::Debug) return QColor(120, 120, 120);
            return {};
        case Qt::ToolTipRole:
            return index.column() == ColMessage ? QVariant(l.text) : QVariant();
        case Qt::DisplayRole:
            switch (index.column()) {
                case ColTime: return l.time.toString("HH:mm:ss.zzz");
                case ColLevel: return QString::fromLatin1(caspl::logLevelName(l.level));
                case ColRun: return l.run;
                case ColMessage: {
                    // One line in the table; the tooltip has the whole text.
                    const int nl = l.text.indexOf('\n');
                    return nl < 0 ? l.text : l.text.left(nl) + QStringLiteral(" …");
                }
                default: return {};
            }
        default: return {};
    }
}

void LogModel::append(caspl::LogLevel level, const QString& run, const QString& text) {
    if (int(lines_.size()) >= maxLines_) {
        const int drop = maxLines_ / 10;
        beginRemoveRows({}, 0, drop - 1);
        lines_.erase(lines_.begin(), lines_.begin() + drop);
        endRemoveRows();
    }
    const int row = int(lines_.size());
    beginInsertRows({}, row, row);
    lines_.push_back({QDateTime::currentDateTime(), level, run, text});
    endInsertRows();
}

void LogModel::clear() {
    if (lines_.empty()) return;
    beginResetModel();
    lines_.clear();
    endResetModel();
}

void LogFilterProxy::setMinimumLevel(caspl::LogLevel level) {
    if (level == minLevel_) return;
    minLevel_ = level;
    invalidateFilter();
}

void LogFilterProxy::setText(const QString& text) {
    if (text == text_) return;
    text_ = text;
    invalidateFilter();
}

bool LogFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    const QModelIndex i = sourceModel()->index(sourceRow, LogModel::ColMessage, sourceParent);
    if (sourceModel()->data(i, LogModel::LevelRole).toInt() < int(minLevel_)) return false;
    if (text_.isEmpty()) return true;
    const auto* m = qobject_cast<const LogModel*>(sourceModel());
    if (!m) return true;
    const LogLine& l = m->line(sourceRow);
    return l.text.contains(text_, Qt::CaseInsensitive) || l.run.contains(text_, Qt::CaseInsensitive);
}

LogPane::LogPane(QWidget* parent) : QWidget(parent) {
    setObjectName("logPane");
    model_ = new LogModel(this);
    proxy_ = new LogFilterProxy(this);
    proxy_->setSourceModel(model_);

    level_ = new QComboBox(this);
    level_->setObjectName("logLevelFilter");
    level_->addItem(tr("Debug and above"), int(caspl::LogLevel::Debug));
    level_->addItem(tr("Info and above"), int(caspl::LogLevel::Info));
    level_->addItem(tr("Warnings and errors"), int(caspl::LogLevel::Warning));
    level_->addItem(tr("Errors only"), int(caspl::LogLevel::Error));
    level_->setCurrentIndex(1);
    filter_ = new QLineEdit(this);
    filter_->setObjectName("logTextFilter");
    filter_->setPlaceholderText(tr("Filter messages…"));
    filter_->setClearButtonEnabled(true);
    counts_ = new QLabel(this);
    auto* clearButton = new QPushButton(tr("Clear"), this);

    view_ = new QTableView(this);
    view_->setObjectName("logView");
    view_->setModel(proxy_);
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view_->setWordWrap(false);
    view_->verticalHeader()->hide();
    view_->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 4);
    view_->horizontalHeader()->setStretchLastSection(true);
    view_->horizontalHeader()->setSectionResizeMode(LogModel::ColTime, QHeaderView::ResizeToContents);
    view_->horizontalHeader()->setSectionResizeMode(LogModel::ColLevel, QHeaderView::ResizeToContents);
    view_->setColumnWidth(LogModel::ColRun, 110);

    auto* bar = new QHBoxLayout;
    bar->addWidget(level_);
    bar->addWidget(filter_, 1);
    bar->addWidget(counts_);
    bar->addWidget(clearButton);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addLayout(bar);
    layout->addWidget(view_, 1);

    connect(level_, &QComboBox::currentIndexChanged, this,
            [this] { proxy_->setMinimumLevel(caspl::LogLevel(level_->currentData().toInt())); });
    connect(filter_, &QLineEdit::textChanged, proxy_, &LogFilterProxy::setText);
    connect(clearButton, &QPushButton::clicked, this, &LogPane::clear);
    updateCounts();
}

void LogPane::setMinimumLevel(caspl::LogLevel level) {
    const int i = level_->findData(int(level));
    if (i >= 0) level_->setCurrentIndex(i);
}

void LogPane::append(caspl::LogLevel level, const QString& run, const QString& text) {
    QScrollBar* sb = view_->verticalScrollBar();
    const bool atEnd = sb->value() >= sb->maximum() - 2;
    model_->append(level, run, text);
    if (level == caspl::LogLevel::Warning) ++warnings_;
    if (level == caspl::LogLevel::Error) ++errors_;
    updateCounts();
    if (atEnd) view_->scrollToBottom();
}

void LogPane::clear() {
    model_->clear();
    warnings_ = errors_ = 0;
    updateCounts();
}

void LogPane::updateCounts() {
    counts_->setText(tr("%n warning(s)", nullptr, warnings_) + QStringLiteral(", ") + tr("%n error(s)", nullptr, errors_));
}

}  // namespace caspl::ui
