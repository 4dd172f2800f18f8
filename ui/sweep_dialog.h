#pragma once
// Run > Sweep…: the experiment in the editor run for every combination of up to three keys' values (as
// `caspl run --sweep`), each into a run folder named after its values. The dialog lists the runs it will queue and
// checks every one of them (keys, types, ranges, as the YAML loader does) before anything is queued.
#include "core/experiment/experiment_spec.h"

#include <QDialog>

#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;
class QTimer;

namespace caspl::ui {

class SweepDialog : public QDialog {
    Q_OBJECT
public:
    static constexpr int kAxes = 3;
    explicit SweepDialog(const caspl::ExperimentSpec& base, QWidget* parent = nullptr);
    // Axis `row` (0..kAxes-1): a key (e.g. "train.lr") and its values ("0.001, 0.002"); an empty key is no axis.
    void setAxis(int row, const QString& key, const QString& values);
    // The experiments of the sweep, validated and named (`base`'s name with the values); empty, with `error` set,
    // when an axis or a value is wrong.
    std::vector<caspl::ExperimentSpec> experiments(QString* error) const;
    // The runs' names as the list shows them; the status line (how many runs, or what is wrong).
    QStringList runNames() const;
    QString statusText() const;

private:
    void refresh();
    caspl::ExperimentSpec base_;
    QComboBox* keys_[kAxes] = {};
    QLineEdit* values_[kAxes] = {};
    QListWidget* preview_;
    QLabel* status_;
    QPushButton* ok_ = nullptr;
    QTimer* typing_ = nullptr;
};

}  // namespace caspl::ui
