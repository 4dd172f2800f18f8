#pragma once
// The log pane: every engine log line (and the studio's own messages) with time, level and run, filterable by
// minimum level and text, auto-scrolling, capped at kMaxLines (the oldest lines go first).
#include "core/engine/events.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QSortFilterProxyModel>
#include <QWidget>

#include <algorithm>
#include <deque>

class QComboBox;
class QLineEdit;
class QTableView;
class QLabel;

namespace caspl::ui {

struct LogLine {
    QDateTime time;
    caspl::LogLevel level = caspl::LogLevel::Info;
    QString run;
    QString text;
};

class LogModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ColTime, ColLevel, ColRun, ColMessage, ColumnCount };
    enum Role { LevelRole = Qt::UserRole + 1, SortRole };
    static constexpr int kMaxLines = 20000;

    explicit LogModel(QObject* parent = nullptr);
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void append(caspl::LogLevel level, const QString& run, const QString& text);
    void clear();
    // The most lines kept (kMaxLines by default); beyond it the oldest tenth is dropped at once.
    void setMaxLines(int lines) { maxLines_ = std::max(10, lines); }
    int maxLines() const { return maxLines_; }
    const LogLine& line(int row) const { return lines_[std::size_t(row)]; }

private:
    std::deque<LogLine> lines_;
    int maxLines_ = kMaxLines;
};

// Keeps the lines at or above a level whose message or run contains a text.
class LogFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    void setMinimumLevel(caspl::LogLevel level);
    void setText(const QString& text);
    caspl::LogLevel minimumLevel() const { return minLevel_; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    caspl::LogLevel minLevel_ = caspl::LogLevel::Info;
    QString text_;
};

class LogPane : public QWidget {
    Q_OBJECT
public:
    explicit LogPane(QWidget* parent = nullptr);
    LogModel* model() const { return model_; }
    LogFilterProxy* proxy() const { return proxy_; }
    void setMinimumLevel(caspl::LogLevel level);

public Q_SLOTS:
    void append(caspl::LogLevel level, const QString& run, const QString& text);
    void clear();

private:
    void updateCounts();
    LogModel* model_;
    LogFilterProxy* proxy_;
    QTableView* view_;
    QComboBox* level_;
    QLineEdit* filter_;
    QLabel* counts_;
    int warnings_ = 0, errors_ = 0;
};

}  // namespace caspl::ui
