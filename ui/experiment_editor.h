#pragma once
// The experiment editor: a form bound to an ExperimentSpec (datasets with a presence check under data.root, the
// teacher and student CLIP with their size and parameter count, the base method and its prompts, CasPL phase 1,
// phase-2 training, shots, seeds, device) and a YAML tab holding the same experiment as text (toYaml). Fields the
// form does not show keep the values of the last spec set, so a preset round-trips unchanged.
//
// Validation goes through the engine's loader (loadExperimentFromString), so the editor reports exactly what
// `caspl run` would: each problem with its key and what was expected.
#include "core/experiment/experiment_spec.h"

#include <QString>
#include <QStringList>
#include <QWidget>

#include <optional>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QScrollArea;
class QSpinBox;
class QTabWidget;

namespace caspl::ui {

class EngineBackend;

class ExperimentEditor : public QWidget {
    Q_OBJECT
public:
    explicit ExperimentEditor(QWidget* parent = nullptr);

    // Used to read model checkpoints' size (without it the editor shows only the resolved path).
    void setBackend(EngineBackend* backend);

    // Shows a spec. `sourcePath`: the file it came from ("" for a new one): the YAML tab's messages name it and
    // relative `extends` resolve against its folder.
    void setSpec(const caspl::ExperimentSpec& spec, const QString& sourcePath = {});
    // The form's values on top of the last spec set (not validated).
    caspl::ExperimentSpec spec() const;
    // spec() checked by the loader. On failure returns nullopt and sets `error` to every problem, one per line
    // ("train.lr: expected a number > 0 ...").
    std::optional<caspl::ExperimentSpec> validatedSpec(QString* error) const;
    QString sourcePath() const { return sourcePath_; }
    bool isModified() const { return modified_; }
    void setModified(bool modified);

    // The YAML tab.
    QString yamlText() const;
    void setYamlText(const QString& text);
    // Parses the YAML tab's text (the loader's full validation) and shows it in the form. On failure returns false
    // and sets `error` to the loader's diagnostics (with line and column in that text).
    bool applyYaml(QString* error);
    // Edits typed in the YAML tab and not applied yet are applied now (Run, Add to Queue and Save As call this, so
    // that what runs is what the user sees); true when there were none or they applied.
    bool applyPendingYaml(QString* error);
    bool hasPendingYaml() const { return yamlDirty_; }

    // Presence of the datasets under data.root and the models' sizes (also refreshed when those fields change).
    void refreshDatasets();
    void refreshModels();
    // For tests and the status line: the dataset names marked present, and the model info lines.
    QStringList presentDatasets() const;
    QString studentInfo() const;
    QString teacherInfo() const;

Q_SIGNALS:
    void specEdited();  // any change of a field by the user

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;  // the wheel over the form scrolls it

private:
    QScrollArea* formScroll_ = nullptr;
    QWidget* buildForm();
    void updateMethodOptions();  // shows the keys of the chosen method
    void connectEdits();
    void populateDatasets(const caspl::ExperimentSpec& spec);
    void updatePhase1Enabled();
    QString describeModel(const QString& nameOrPath, bool* ok) const;
    QString baseDir() const;
    void edited();

    EngineBackend* backend_ = nullptr;
    caspl::ExperimentSpec base_;
    QString sourcePath_;
    bool loading_ = false;
    bool modified_ = false;
    bool yamlDirty_ = false;

    QTabWidget* tabs_;
    // Experiment
    QLineEdit* name_;
    QLabel* description_;
    QLineEdit* output_;
    // Data
    QLineEdit* root_;
    QComboBox* protocol_;
    QListWidget* datasets_;
    QLineEdit* customDataset_;
    QLineEdit* shots_;
    QLineEdit* seeds_;
    // Models
    QLineEdit* modelsDir_;
    QComboBox* student_;
    QLabel* studentInfo_;
    QComboBox* teacher_;
    QLabel* teacherInfo_;
    // Method
    QComboBox* method_;
    QSpinBox* nCtxText_;
    QSpinBox* nCtxVision_;
    QSpinBox* depthText_;
    QSpinBox* depthVision_;
    QLineEdit* ctxInit_;
    // Method-specific keys, shown for their method only
    QWidget* coopOptions_;
    QCheckBox* csc_;
    QComboBox* classTokenPosition_;
    QWidget* promptsrcOptions_;
    QDoubleSpinBox* textLossWeight_;
    QDoubleSpinBox* imageLossWeight_;
    QDoubleSpinBox* gpaMean_;
    QDoubleSpinBox* gpaStd_;
    // Phase 1
    QCheckBox* p1TeacherCache_;
    QCheckBox* p1Enabled_;
    QCheckBox* cudaGraphs_;
    QCheckBox* tensorboard_;
    QSpinBox* p1NText_;
    QSpinBox* p1NVision_;
    QSpinBox* p1DepthText_;
    QSpinBox* p1DepthVision_;
    QSpinBox* p1Epochs_;
    QSpinBox* p1Batch_;
    QDoubleSpinBox* p1Lr_;
    QDoubleSpinBox* p1Temperature_;
    QComboBox* p1Pool_;
    QWidget* p1Box_;
    // Phase 2
    QSpinBox* epochs_;
    QSpinBox* batch_;
    QDoubleSpinBox* lr_;
    QComboBox* precision_;
    QComboBox* device_;
    QSpinBox* textChunk_;
    QSpinBox* warmupEpochs_;
    // YAML tab
    QPlainTextEdit* yaml_;
    QLabel* yamlStatus_;
};

}  // namespace caspl::ui
