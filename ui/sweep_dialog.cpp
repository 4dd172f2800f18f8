#include "ui/sweep_dialog.h"

#include "core/experiment/spec_loader.h"
#include "core/experiment/sweep.h"
#include "core/util/error.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QTimer>
#include <QVBoxLayout>

namespace caspl::ui {

SweepDialog::SweepDialog(const caspl::ExperimentSpec& base, QWidget* parent) : QDialog(parent), base_(base) {
    setObjectName("sweepDialog");
    setWindowTitle(tr("Sweep"));
    resize(640, 520);
    auto* intro = new QLabel(tr("Runs the experiment in the editor for every combination of these values, each into a "
                                "run folder named after them (as caspl run --sweep). Values are separated by commas; "
                                "a list value keeps its brackets: [1, 2]."),
                             this);
    intro->setWordWrap(true);
    typing_ = new QTimer(this);
    typing_->setSingleShot(true);
    typing_->setInterval(250);
    connect(typing_, &QTimer::timeout, this, [this] { refresh(); });
    auto* form = new QFormLayout;
    for (int i = 0; i < kAxes; ++i) {
        keys_[i] = new QComboBox(this);
        keys_[i]->setObjectName(QStringLiteral("sweepKey%1").arg(i));
        keys_[i]->addItem(tr("(none)"), QString());
        for (const auto& k : caspl::specKeys())
            if (caspl::sweepableKey(k.key)) {
                keys_[i]->addItem(QString::fromStdString(k.key), QString::fromStdString(k.key));
                keys_[i]->setItemData(keys_[i]->count() - 1,
                                      QString::fromStdString(k.type + (k.range.empty() ? "" : " " + k.range) + ": " + k.help),
                                      Qt::ToolTipRole);
            }
        values_[i] = new QLineEdit(this);
        values_[i]->setObjectName(QStringLiteral("sweepValues%1").arg(i));
        values_[i]->setPlaceholderText(tr("e.g. 0.001, 0.002, 0.004"));
        auto* row = new QHBoxLayout;
        row->addWidget(keys_[i], 1);
        row->addWidget(values_[i], 2);
        form->addRow(tr("Key %1:").arg(i + 1), row);
        connect(keys_[i], &QComboBox::currentIndexChanged, this, [this] { refresh(); });
        // Typing: the runs are checked once the typing pauses (a sweep of hundreds of runs loads each one).
        connect(values_[i], &QLineEdit::textChanged, this, [this] { typing_->start(); });
    }
    preview_ = new QListWidget(this);
    preview_->setObjectName("sweepRuns");
    status_ = new QLabel(this);
    status_->setObjectName("sweepStatus");
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
    ok_ = buttons->addButton(tr("Queue and Run"), QDialogButtonBox::AcceptRole);
    ok_->setObjectName("sweepRun");
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addLayout(form);
    layout->addWidget(new QLabel(tr("Runs:"), this));
    layout->addWidget(preview_, 1);
    layout->addWidget(status_);
    layout->addWidget(buttons);
    refresh();
}

void SweepDialog::setAxis(int row, const QString& key, const QString& values) {
    if (row < 0 || row >= kAxes) return;
    const int i = keys_[row]->findData(key);
    keys_[row]->setCurrentIndex(std::max(0, i));
    values_[row]->setText(values);
    refresh();
}

std::vector<caspl::ExperimentSpec> SweepDialog::experiments(QString* error) const {
    std::vector<caspl::ExperimentSpec> out;
    try {
        std::vector<caspl::SweepAxis> axes;
        for (int i = 0; i < kAxes; ++i) {
            const QString key = keys_[i]->currentData().toString();
            if (key.isEmpty()) continue;
            if (values_[i]->text().trimmed().isEmpty()) throw caspl::Error(key.toStdString() + ": give its values");
            axes.push_back(caspl::parseSweepAxis(key.toStdString() + "=" + values_[i]->text().toStdString()));
        }
        if (axes.empty()) throw caspl::Error("choose a key and its values");
        caspl::checkSweepAxes(axes, {});
        const auto combos = caspl::sweepCombinations(axes);
        const auto names = caspl::sweepRunNames(base_.name, axes, combos);
        // Each run: the editor's experiment with the values set, checked as a file with --sweep would be.
        const std::string yaml = caspl::toYaml(base_);
        caspl::LoadOptions lo;
        for (std::size_t c = 0; c < combos.size(); ++c) {
            std::vector<std::string> sets;
            for (const auto& [k, v] : combos[c]) sets.push_back(k + "=" + v);
            lo.overrideFlags.assign(sets.size(), "sweep");
            caspl::ExperimentSpec spec =
                caspl::loadExperimentFromString(yaml, "the editor's experiment", QDir::currentPath().toStdString(), sets, lo);
            spec.name = names[c];
            out.push_back(std::move(spec));
        }
    } catch (const std::exception& e) {
        if (error) *error = QString::fromUtf8(e.what());
        return {};
    }
    return out;
}

QStringList SweepDialog::runNames() const {
    QStringList names;
    for (int i = 0; i < preview_->count(); ++i) names << preview_->item(i)->text();
    return names;
}

QString SweepDialog::statusText() const { return status_->text(); }

void SweepDialog::refresh() {
    typing_->stop();
    QString error;
    const auto specs = experiments(&error);
    preview_->clear();
    for (const auto& s : specs) preview_->addItem(QString::fromStdString(s.name));
    ok_->setEnabled(!specs.empty());
    status_->setStyleSheet(specs.empty() ? QStringLiteral("color: #b01e1e") : QString());
    status_->setText(specs.empty() ? error
                                   : specs.size() == 1 ? tr("1 run.")
                                                       : tr("%1 runs, one after the other in the queue.").arg(specs.size()));
}

}  // namespace caspl::ui
