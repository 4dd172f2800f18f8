#include "ui/experiment_editor.h"

#include "core/data/benchmarks.h"
#include "core/experiment/spec_loader.h"
#include "ui/engine_backend.h"

#include <QCheckBox>
#include <QColor>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QCoreApplication>
#include <QAbstractSpinBox>
#include <QEvent>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollArea>
#include <QSpinBox>
#include <QTabWidget>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <set>

namespace caspl::ui {

namespace {

constexpr int kNameRole = Qt::UserRole + 1;

QString qs(const std::string& s) { return QString::fromStdString(s); }
std::string ss(const QString& s) { return s.toStdString(); }

QSpinBox* spin(int lo, int hi, QWidget* parent) {
    auto* s = new QSpinBox(parent);
    s->setRange(lo, hi);
    s->setAccelerated(true);
    return s;
}

QDoubleSpinBox* dspin(double lo, double hi, int decimals, double step, QWidget* parent) {
    auto* s = new QDoubleSpinBox(parent);
    s->setRange(lo, hi);
    s->setDecimals(decimals);
    s->setSingleStep(step);
    return s;
}

// Two fields side by side in one form row (text / vision, mean / std).
QWidget* sideBySide(QWidget* a, QWidget* b, QWidget* parent) {
    auto* w = new QWidget(parent);
    auto* l = new QHBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    l->addWidget(a);
    l->addWidget(b);
    return w;
}

template <typename Enum>
void fillCombo(QComboBox* box, std::initializer_list<Enum> values, const char* (*name)(Enum)) {
    for (Enum v : values) box->addItem(QString::fromLatin1(name(v)), int(v));
}

void selectData(QComboBox* box, int value) {
    const int i = box->findData(value);
    if (i >= 0) box->setCurrentIndex(i);
}

QString joinInts(const std::vector<int>& v) {
    QStringList parts;
    for (int x : v) parts << QString::number(x);
    return parts.join(", ");
}

// "1, 2,3" -> {1,2,3}; a malformed list keeps its text so that the loader names it.
std::optional<std::vector<int>> parseInts(const QString& text) {
    std::vector<int> out;
    for (const QString& part : text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int v = part.toInt(&ok);
        if (!ok) return std::nullopt;
        out.push_back(v);
    }
    return out;
}

QWidget* withButton(QWidget* field, QAbstractButton* button, QWidget* parent) {
    auto* w = new QWidget(parent);
    auto* l = new QHBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    l->addWidget(field, 1);
    l->addWidget(button);
    return w;
}

// The presence of a dataset under the root, cheaply (folders and list files, not every image: that is
// `caspl datasets check`).
struct Presence {
    enum State { Present, Incomplete, Missing } state = Missing;
    QString note;
};

Presence datasetPresence(const QString& root, const std::string& name) {
    Presence p;
    if (const caspl::BenchmarkDataset* d = caspl::findBenchmarkDataset(name)) {
        const QDir dir(QDir(root).filePath(qs(d->folder)));
        if (!dir.exists()) {
            p.note = QObject::tr("missing: %1").arg(QDir::toNativeSeparators(dir.path()));
            return p;
        }
        QString required;
        switch (d->layout) {
            case caspl::DatasetLayout::SplitZhou: required = qs(d->splitFile); break;
            case caspl::DatasetLayout::FGVCAircraft: required = QStringLiteral("images_variant_train.txt"); break;
            default: required = QStringLiteral("classnames.txt"); break;
        }
        if (!required.isEmpty() && !QFileInfo::exists(dir.filePath(required))) {
            p.state = Presence::Incomplete;
            p.note = QObject::tr("incomplete: %1 missing").arg(required);
            return p;
        }
        p.state = Presence::Present;
        p.note = QObject::tr("present");
        return p;
    }
    const QDir dir(QDir(root).filePath(qs(name)));
    if (!dir.exists()) {
        p.note = QObject::tr("missing: %1").arg(QDir::toNativeSeparators(dir.path()));
        return p;
    }
    if (QFileInfo::exists(dir.filePath("split.json"))) {
        p.state = Presence::Present;
        p.note = QObject::tr("present (split.json)");
        return p;
    }
    const int classes = int(dir.entryList(QDir::Dirs | QDir::NoDotAndDotDot).size());
    p.state = classes >= 2 ? Presence::Present : Presence::Incomplete;
    p.note = classes >= 2 ? QObject::tr("present (image folder, %1 classes)").arg(classes)
                          : QObject::tr("incomplete: needs class sub-folders or split.json");
    return p;
}

}  // namespace

ExperimentEditor::ExperimentEditor(QWidget* parent) : QWidget(parent) {
    setObjectName("experimentEditor");
    tabs_ = new QTabWidget(this);
    auto* scroll = new QScrollArea(tabs_);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(buildForm());
    tabs_->addTab(scroll, tr("Form"));
    // The wheel scrolls the form: a spin box or list box changes its value by the wheel only once clicked or
    // tabbed into, never while the pointer crosses it on the way down the form.
    formScroll_ = scroll;
    for (QWidget* w : scroll->widget()->findChildren<QWidget*>())
        if (qobject_cast<QAbstractSpinBox*>(w) || qobject_cast<QComboBox*>(w)) {
            w->setFocusPolicy(Qt::StrongFocus);
            w->installEventFilter(this);
        }

    auto* yamlPage = new QWidget(tabs_);
    yaml_ = new QPlainTextEdit(yamlPage);
    yaml_->setObjectName("yamlEdit");
    yaml_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    yaml_->setLineWrapMode(QPlainTextEdit::NoWrap);
    yamlStatus_ = new QLabel(yamlPage);
    yamlStatus_->setObjectName("yamlStatus");
    yamlStatus_->setWordWrap(true);
    yamlStatus_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* apply = new QPushButton(tr("Apply to form"), yamlPage);
    apply->setToolTip(tr("Check the YAML with the experiment loader and show it in the form"));
    auto* revert = new QPushButton(tr("Revert"), yamlPage);
    revert->setToolTip(tr("Show the form's values again"));
    auto* yamlButtons = new QHBoxLayout;
    yamlButtons->addWidget(apply);
    yamlButtons->addWidget(revert);
    yamlButtons->addStretch(1);
    auto* yamlLayout = new QVBoxLayout(yamlPage);
    yamlLayout->setContentsMargins(2, 2, 2, 2);
    yamlLayout->addWidget(yaml_, 1);
    yamlLayout->addWidget(yamlStatus_);
    yamlLayout->addLayout(yamlButtons);
    tabs_->addTab(yamlPage, tr("YAML"));

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(tabs_);

    connect(tabs_, &QTabWidget::currentChanged, this, [this](int i) {
        if (i == 1 && !yamlDirty_) setYamlText(yamlText());
        // Leaving the YAML tab with edits applies them, so that the form shows them (and a change in the form does
        // not drop them); YAML that does not load keeps the tab open, its problems named under it.
        if (i != 1 && yamlDirty_ && !applyYaml(nullptr)) tabs_->setCurrentIndex(1);
    });
    connect(yaml_, &QPlainTextEdit::textChanged, this, [this] {
        if (loading_) return;
        yamlDirty_ = true;
        if (!modified_) {
            modified_ = true;
            Q_EMIT specEdited();
        }
    });
    connect(apply, &QPushButton::clicked, this, [this] {
        QString error;
        applyYaml(&error);
    });
    connect(revert, &QPushButton::clicked, this, [this] {
        yamlDirty_ = false;
        setYamlText(yamlText());
        yamlStatus_->clear();
    });
    connectEdits();
    setSpec(caspl::ExperimentSpec{});
}

QWidget* ExperimentEditor::buildForm() {
    auto* form = new QWidget(this);
    auto* layout = new QVBoxLayout(form);
    layout->setContentsMargins(4, 4, 4, 4);

    // Experiment
    auto* expBox = new QGroupBox(tr("Experiment"), form);
    auto* expForm = new QFormLayout(expBox);
    name_ = new QLineEdit(expBox);
    name_->setObjectName("nameEdit");
    name_->setToolTip(tr("The run folder is <output>/<name>; a changed experiment needs a new name"));
    description_ = new QLabel(expBox);
    description_->setWordWrap(true);
    description_->setObjectName("descriptionLabel");
    output_ = new QLineEdit(expBox);
    output_->setObjectName("outputEdit");
    auto* outBrowse = new QToolButton(expBox);
    outBrowse->setText(QStringLiteral("…"));
    expForm->addRow(tr("Name:"), name_);
    expForm->addRow(tr("Description:"), description_);
    expForm->addRow(tr("Output folder:"), withButton(output_, outBrowse, expBox));
    layout->addWidget(expBox);

    // Data
    auto* dataBox = new QGroupBox(tr("Data"), form);
    auto* dataForm = new QFormLayout(dataBox);
    root_ = new QLineEdit(dataBox);
    root_->setObjectName("dataRootEdit");
    auto* rootBrowse = new QToolButton(dataBox);
    rootBrowse->setText(QStringLiteral("…"));
    protocol_ = new QComboBox(dataBox);
    protocol_->setObjectName("protocolBox");
    fillCombo(protocol_,
              {caspl::Protocol::Base2Novel, caspl::Protocol::FewShot, caspl::Protocol::All, caspl::Protocol::CrossDataset,
               caspl::Protocol::DomainGeneralization},
              &caspl::protocolName);
    datasets_ = new QListWidget(dataBox);
    datasets_->setObjectName("datasetList");
    datasets_->setMinimumHeight(150);
    datasets_->setToolTip(tr("Checked datasets are run; hover one for where to get it"));
    customDataset_ = new QLineEdit(dataBox);
    customDataset_->setPlaceholderText(tr("your dataset (a folder under the data root)"));
    auto* addCustom = new QToolButton(dataBox);
    addCustom->setText(tr("Add"));
    auto* recheck = new QToolButton(dataBox);
    recheck->setText(tr("Check again"));
    shots_ = new QLineEdit(dataBox);
    shots_->setObjectName("shotsEdit");
    shots_->setToolTip(tr("K images per class, e.g. 16 or 1, 2, 4, 8, 16 (-1: every image)"));
    seeds_ = new QLineEdit(dataBox);
    seeds_->setObjectName("seedsEdit");
    seeds_->setToolTip(tr("One run per seed, e.g. 1, 2, 3"));
    dataForm->addRow(tr("Data root:"), withButton(root_, rootBrowse, dataBox));
    dataForm->addRow(tr("Protocol:"), protocol_);
    dataForm->addRow(tr("Datasets:"), datasets_);
    auto* customRow = new QWidget(dataBox);
    auto* customLayout = new QHBoxLayout(customRow);
    customLayout->setContentsMargins(0, 0, 0, 0);
    customLayout->addWidget(customDataset_, 1);
    customLayout->addWidget(addCustom);
    customLayout->addWidget(recheck);
    dataForm->addRow(QString(), customRow);
    dataForm->addRow(tr("Shots:"), shots_);
    dataForm->addRow(tr("Seeds:"), seeds_);
    layout->addWidget(dataBox);

    // Models
    auto* modelBox = new QGroupBox(tr("Models"), form);
    auto* modelForm = new QFormLayout(modelBox);
    modelsDir_ = new QLineEdit(modelBox);
    modelsDir_->setObjectName("modelsDirEdit");
    auto* modelsBrowse = new QToolButton(modelBox);
    modelsBrowse->setText(QStringLiteral("…"));
    const QStringList clips = {"ViT-B/32", "ViT-B/16", "ViT-L/14", "ViT-L/14@336px"};
    student_ = new QComboBox(modelBox);
    student_->setObjectName("studentBox");
    student_->setEditable(true);
    student_->addItems(clips);
    studentInfo_ = new QLabel(modelBox);
    studentInfo_->setObjectName("studentInfo");
    studentInfo_->setWordWrap(true);
    teacher_ = new QComboBox(modelBox);
    teacher_->setObjectName("teacherBox");
    teacher_->setEditable(true);
    teacher_->addItems(clips);
    teacherInfo_ = new QLabel(modelBox);
    teacherInfo_->setObjectName("teacherInfo");
    teacherInfo_->setWordWrap(true);
    modelForm->addRow(tr("Models folder:"), withButton(modelsDir_, modelsBrowse, modelBox));
    modelForm->addRow(tr("Student:"), student_);
    modelForm->addRow(QString(), studentInfo_);
    modelForm->addRow(tr("Teacher (phase 1):"), teacher_);
    modelForm->addRow(QString(), teacherInfo_);
    layout->addWidget(modelBox);

    // Method
    auto* methodBox = new QGroupBox(tr("Base method (adapting prompts)"), form);
    auto* methodForm = new QFormLayout(methodBox);
    method_ = new QComboBox(methodBox);
    method_->setObjectName("methodBox");
    fillCombo(method_,
              {caspl::MethodKind::CoOp, caspl::MethodKind::CoCoOp, caspl::MethodKind::MaPLe, caspl::MethodKind::PromptSRC,
               caspl::MethodKind::IVLP, caspl::MethodKind::ZeroShot},
              &caspl::methodName);
    nCtxText_ = spin(1, 64, methodBox);
    nCtxVision_ = spin(0, 64, methodBox);
    depthText_ = spin(1, 64, methodBox);
    depthVision_ = spin(0, 64, methodBox);
    ctxInit_ = new QLineEdit(methodBox);
    ctxInit_->setToolTip(tr("Initialisation phrase; empty: random N(0, 0.02²)"));
    methodForm->addRow(tr("Method:"), method_);
    methodForm->addRow(tr("Text tokens:"), nCtxText_);
    methodForm->addRow(tr("Vision tokens:"), nCtxVision_);
    methodForm->addRow(tr("Text depth:"), depthText_);
    methodForm->addRow(tr("Vision depth:"), depthVision_);
    methodForm->addRow(tr("Context init:"), ctxInit_);
    // CoOp's own keys.
    coopOptions_ = new QWidget(methodBox);
    {
        auto* f = new QFormLayout(coopOptions_);
        f->setContentsMargins(0, 0, 0, 0);
        csc_ = new QCheckBox(tr("Class-specific context (one context per class)"), coopOptions_);
        csc_->setObjectName("cscBox");
        classTokenPosition_ = new QComboBox(coopOptions_);
        classTokenPosition_->setObjectName("classTokenPositionBox");
        for (const char* p : {"end", "middle", "front"}) classTokenPosition_->addItem(QString::fromLatin1(p), QString::fromLatin1(p));
        f->addRow(QString(), csc_);
        f->addRow(tr("Class token position:"), classTokenPosition_);
    }
    methodForm->addRow(coopOptions_);
    // PromptSRC's own keys.
    promptsrcOptions_ = new QWidget(methodBox);
    {
        auto* f = new QFormLayout(promptsrcOptions_);
        f->setContentsMargins(0, 0, 0, 0);
        textLossWeight_ = dspin(0, 1000, 3, 1, promptsrcOptions_);
        textLossWeight_->setObjectName("textLossWeight");
        imageLossWeight_ = dspin(0, 1000, 3, 1, promptsrcOptions_);
        imageLossWeight_->setObjectName("imageLossWeight");
        gpaMean_ = dspin(0, 100000, 2, 1, promptsrcOptions_);
        gpaMean_->setObjectName("gpaMean");
        gpaStd_ = dspin(0.01, 100000, 2, 1, promptsrcOptions_);
        gpaStd_->setObjectName("gpaStd");
        gpaMean_->setToolTip(tr("Gaussian prompt aggregation: the epoch weighted most (1-based)"));
        f->addRow(tr("L1 text / image weight:"), sideBySide(textLossWeight_, imageLossWeight_, promptsrcOptions_));
        f->addRow(tr("GPA mean / std (epochs):"), sideBySide(gpaMean_, gpaStd_, promptsrcOptions_));
    }
    methodForm->addRow(promptsrcOptions_);
    layout->addWidget(methodBox);

    // Phase 1
    auto* p1Outer = new QGroupBox(tr("CasPL phase 1 (boosting prompts, distilled from the teacher)"), form);
    auto* p1Layout = new QVBoxLayout(p1Outer);
    p1Enabled_ = new QCheckBox(tr("Enabled (cascade the method with boosting prompts)"), p1Outer);
    p1Enabled_->setObjectName("phase1Enabled");
    p1Box_ = new QWidget(p1Outer);
    auto* p1Form = new QFormLayout(p1Box_);
    p1Form->setContentsMargins(0, 0, 0, 0);
    p1NText_ = spin(1, 64, p1Box_);
    p1NVision_ = spin(1, 64, p1Box_);
    p1DepthText_ = spin(1, 64, p1Box_);
    p1DepthVision_ = spin(1, 64, p1Box_);
    p1Epochs_ = spin(1, 100000, p1Box_);
    p1Epochs_->setObjectName("phase1Epochs");
    p1Batch_ = spin(1, 1048576, p1Box_);
    p1Lr_ = dspin(1e-6, 10, 6, 0.0005, p1Box_);
    p1Temperature_ = dspin(0.01, 100, 3, 0.1, p1Box_);
    p1Pool_ = new QComboBox(p1Box_);
    fillCombo(p1Pool_, {caspl::Phase1Pool::Train, caspl::Phase1Pool::Test, caspl::Phase1Pool::Folder}, &caspl::phase1PoolName);
    p1Form->addRow(tr("Text / vision tokens:"), sideBySide(p1NText_, p1NVision_, p1Box_));
    p1Form->addRow(tr("Text / vision depth:"), sideBySide(p1DepthText_, p1DepthVision_, p1Box_));
    p1Form->addRow(tr("Epochs:"), p1Epochs_);
    p1Form->addRow(tr("Batch size:"), p1Batch_);
    p1Form->addRow(tr("Learning rate:"), p1Lr_);
    p1Form->addRow(tr("Temperature:"), p1Temperature_);
    p1Form->addRow(tr("Unlabeled pool:"), p1Pool_);
    p1TeacherCache_ = new QCheckBox(tr("Teacher cache (the teacher's features of each epoch's crops, computed first)"), p1Box_);
    p1TeacherCache_->setObjectName("teacherCache");
    p1TeacherCache_->setToolTip(tr("Same result as running the teacher online; the teacher runs in large batches before each "
                                   "epoch instead of once per step"));
    p1Form->addRow(QString(), p1TeacherCache_);
    p1Layout->addWidget(p1Enabled_);
    p1Layout->addWidget(p1Box_);
    layout->addWidget(p1Outer);

    // Phase 2
    auto* trainBox = new QGroupBox(tr("Phase 2 / training (few-shot, SGD)"), form);
    auto* trainForm = new QFormLayout(trainBox);
    epochs_ = spin(1, 100000, trainBox);
    epochs_->setObjectName("trainEpochs");
    batch_ = spin(1, 1048576, trainBox);
    batch_->setObjectName("trainBatch");
    lr_ = dspin(1e-6, 10, 6, 0.0005, trainBox);
    lr_->setObjectName("trainLr");
    precision_ = new QComboBox(trainBox);
    fillCombo(precision_, {caspl::Precision::Fp32, caspl::Precision::Bf16, caspl::Precision::Fp16}, &caspl::precisionName);
    device_ = new QComboBox(trainBox);
    device_->setObjectName("deviceBox");
    fillCombo(device_, {caspl::Device::Auto, caspl::Device::Cpu, caspl::Device::Cuda}, &caspl::deviceName);
    textChunk_ = spin(0, 100000, trainBox);
    textChunk_->setSpecialValueText(tr("all classes at once"));
    textChunk_->setToolTip(tr("Classes per text-encoder pass: lower it when memory runs out on datasets with many classes "
                              "(in training each chunk is computed again in backward)"));
    trainForm->addRow(tr("Epochs:"), epochs_);
    trainForm->addRow(tr("Batch size:"), batch_);
    trainForm->addRow(tr("Learning rate:"), lr_);
    trainForm->addRow(tr("Precision:"), precision_);
    trainForm->addRow(tr("Device:"), device_);
    trainForm->addRow(tr("Text chunk:"), textChunk_);
    warmupEpochs_ = spin(0, 100000, trainBox);
    warmupEpochs_->setObjectName("warmupEpochs");
    warmupEpochs_->setToolTip(tr("Epochs at the constant warm-up learning rate (train.warmup_lr) before the schedule"));
    trainForm->addRow(tr("Warm-up epochs:"), warmupEpochs_);
    cudaGraphs_ = new QCheckBox(tr("Replay training steps as CUDA graphs"), trainBox);
    cudaGraphs_->setObjectName("cudaGraphs");
    cudaGraphs_->setToolTip(tr("GPU only: each fixed-size step (forward, backward, SGD) is captured once and replayed, "
                               "which removes the per-operation launch cost of small batches. Same arithmetic as eager."));
    trainForm->addRow(QString(), cudaGraphs_);
    tensorboard_ = new QCheckBox(tr("Write TensorBoard files while it runs"), trainBox);
    tensorboard_->setObjectName("tensorboard");
    tensorboard_->setToolTip(tr("The curves and accuracies as TensorBoard event files under <run>/tensorboard, as "
                                "Dassl's trainers write them: tensorboard --logdir runs"));
    trainForm->addRow(QString(), tensorboard_);
    layout->addWidget(trainBox);
    layout->addStretch(1);

    connect(outBrowse, &QToolButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Folder receiving the run folders"), output_->text());
        if (!d.isEmpty()) {
            output_->setText(d);
            edited();
        }
    });
    connect(rootBrowse, &QToolButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Data root (holds oxford_pets/, caltech-101/, …)"), root_->text());
        if (!d.isEmpty()) {
            root_->setText(d);
            refreshDatasets();
            edited();
        }
    });
    connect(modelsBrowse, &QToolButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Models folder"), modelsDir_->text());
        if (!d.isEmpty()) {
            modelsDir_->setText(d);
            refreshModels();
            edited();
        }
    });
    connect(addCustom, &QToolButton::clicked, this, [this] {
        const QString name = customDataset_->text().trimmed();
        if (name.isEmpty()) return;
        for (int i = 0; i < datasets_->count(); ++i)
            if (datasets_->item(i)->data(kNameRole).toString() == name) {
                datasets_->item(i)->setCheckState(Qt::Checked);
                customDataset_->clear();
                return;
            }
        auto* item = new QListWidgetItem(datasets_);
        item->setData(kNameRole, name);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(Qt::Checked);
        customDataset_->clear();
        refreshDatasets();
        edited();
    });
    connect(recheck, &QToolButton::clicked, this, &ExperimentEditor::refreshDatasets);
    return form;
}

void ExperimentEditor::connectEdits() {
    for (QLineEdit* e : {name_, output_, shots_, seeds_, ctxInit_}) connect(e, &QLineEdit::textEdited, this, &ExperimentEditor::edited);
    for (QLineEdit* e : {root_, modelsDir_}) connect(e, &QLineEdit::textEdited, this, &ExperimentEditor::edited);
    connect(root_, &QLineEdit::editingFinished, this, &ExperimentEditor::refreshDatasets);
    connect(modelsDir_, &QLineEdit::editingFinished, this, &ExperimentEditor::refreshModels);
    for (QComboBox* c : {protocol_, method_, p1Pool_, precision_, device_, classTokenPosition_})
        connect(c, &QComboBox::currentIndexChanged, this, &ExperimentEditor::edited);
    connect(method_, &QComboBox::currentIndexChanged, this, &ExperimentEditor::updateMethodOptions);
    for (QComboBox* c : {student_, teacher_}) {
        connect(c, &QComboBox::currentTextChanged, this, &ExperimentEditor::edited);
        connect(c, &QComboBox::currentTextChanged, this, [this] {
            if (!loading_) refreshModels();
        });
    }
    for (QSpinBox* s : {nCtxText_, nCtxVision_, depthText_, depthVision_, p1NText_, p1NVision_, p1DepthText_, p1DepthVision_,
                        p1Epochs_, p1Batch_, epochs_, batch_, textChunk_, warmupEpochs_})
        connect(s, &QSpinBox::valueChanged, this, &ExperimentEditor::edited);
    for (QDoubleSpinBox* s : {p1Lr_, p1Temperature_, lr_, textLossWeight_, imageLossWeight_, gpaMean_, gpaStd_})
        connect(s, &QDoubleSpinBox::valueChanged, this, &ExperimentEditor::edited);
    for (QCheckBox* c : {cudaGraphs_, tensorboard_, csc_, p1TeacherCache_}) connect(c, &QCheckBox::toggled, this, &ExperimentEditor::edited);
    connect(p1Enabled_, &QCheckBox::toggled, this, [this] {
        updatePhase1Enabled();
        edited();
    });
    connect(datasets_, &QListWidget::itemChanged, this, &ExperimentEditor::edited);
}

bool ExperimentEditor::eventFilter(QObject* watched, QEvent* event) {
    if (event->type() == QEvent::Wheel && formScroll_) {
        auto* w = qobject_cast<QWidget*>(watched);
        if (w && !w->hasFocus()) {
            QCoreApplication::sendEvent(formScroll_->viewport(), event);
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

void ExperimentEditor::edited() {
    if (loading_) return;
    yamlDirty_ = false;  // the form is the truth again
    setModified(true);
    Q_EMIT specEdited();
}

void ExperimentEditor::setModified(bool modified) { modified_ = modified; }

void ExperimentEditor::setBackend(EngineBackend* backend) {
    backend_ = backend;
    refreshModels();
}

void ExperimentEditor::updateMethodOptions() {
    const auto kind = caspl::MethodKind(method_->currentData().toInt());
    coopOptions_->setVisible(kind == caspl::MethodKind::CoOp);
    promptsrcOptions_->setVisible(kind == caspl::MethodKind::PromptSRC);
}

void ExperimentEditor::updatePhase1Enabled() {
    const bool on = p1Enabled_->isChecked();
    p1Box_->setEnabled(on);
    teacher_->setEnabled(on);
    teacherInfo_->setEnabled(on);
}

void ExperimentEditor::populateDatasets(const caspl::ExperimentSpec& spec) {
    QSignalBlocker block(datasets_);
    datasets_->clear();
    const std::set<std::string> chosen(spec.data.datasets.begin(), spec.data.datasets.end());
    std::set<std::string> listed;
    const auto add = [&](const std::string& name, const QString& label) {
        auto* item = new QListWidgetItem(datasets_);
        item->setData(kNameRole, qs(name));
        item->setData(Qt::UserRole + 2, label);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(chosen.count(name) ? Qt::Checked : Qt::Unchecked);
        listed.insert(name);
    };
    // The experiment's datasets first (in its order), then the other benchmarks.
    for (const auto& n : spec.data.datasets) {
        const caspl::BenchmarkDataset* d = caspl::findBenchmarkDataset(n);
        if (!listed.count(n)) add(n, d ? qs(d->title) : tr("your dataset"));
    }
    for (const auto& d : caspl::benchmarkDatasets())
        if (!listed.count(d.name)) add(d.name, qs(d.title));
}

void ExperimentEditor::refreshDatasets() {
    QSignalBlocker block(datasets_);
    const QString root = root_->text();
    for (int i = 0; i < datasets_->count(); ++i) {
        QListWidgetItem* item = datasets_->item(i);
        const std::string name = ss(item->data(kNameRole).toString());
        const Presence p = datasetPresence(root, name);
        QString label = item->data(Qt::UserRole + 2).toString();
        if (label.isEmpty()) label = tr("your dataset");
        const QString mark = p.state == Presence::Present ? QStringLiteral("✓") : p.state == Presence::Incomplete ? QStringLiteral("⚠") : QStringLiteral("✗");
        item->setText(QStringLiteral("%1 %2 — %3 (%4)").arg(mark, qs(name), label, p.note));
        item->setForeground(p.state == Presence::Present ? QColor(20, 120, 40)
                            : p.state == Presence::Incomplete ? QColor(170, 100, 0)
                                                              : QColor(150, 150, 150));
        item->setData(Qt::UserRole + 3, p.state == Presence::Present);
        const caspl::BenchmarkDataset* d = caspl::findBenchmarkDataset(name);
        item->setToolTip(d ? tr("%1 (%2 classes)\n%3").arg(qs(d->title)).arg(d->numClasses).arg(qs(d->howToGet))
                           : tr("Your dataset: <data root>/%1/ with one sub-folder per class (or a split.json)").arg(qs(name)));
    }
}

QStringList ExperimentEditor::presentDatasets() const {
    QStringList out;
    for (int i = 0; i < datasets_->count(); ++i)
        if (datasets_->item(i)->data(Qt::UserRole + 3).toBool()) out << datasets_->item(i)->data(kNameRole).toString();
    return out;
}

QString ExperimentEditor::describeModel(const QString& nameOrPath, bool* ok) const {
    *ok = false;
    caspl::ModelsSpec models;
    models.dir = ss(modelsDir_->text());
    std::string path;
    try {
        path = caspl::resolveModelPath(models, ss(nameOrPath));
    } catch (const std::exception& e) {
        return tr("not found — put the checkpoint into the models folder or enter a path.\n%1").arg(QString::fromUtf8(e.what()));
    }
    if (!backend_) return tr("found: %1").arg(QDir::toNativeSeparators(qs(path)));
    const ModelSummary m = backend_->describeModel(qs(path));
    if (!m.ok) return tr("cannot read %1: %2").arg(qs(path), m.error);
    *ok = true;
    return tr("%1 · %2 M parameters · %3 px input · %4")
        .arg(m.name)
        .arg(double(m.parameters) / 1e6, 0, 'f', m.parameters < 10'000'000 ? 2 : 1)
        .arg(m.resolution)
        .arg(QDir::toNativeSeparators(qs(path)));
}

void ExperimentEditor::refreshModels() {
    const auto show = [this](QLabel* label, const QString& name) {
        bool ok = false;
        label->setText(describeModel(name, &ok));
        label->setStyleSheet(ok ? QStringLiteral("color: #146e28") : QStringLiteral("color: #a05a00"));
    };
    show(studentInfo_, student_->currentText());
    show(teacherInfo_, teacher_->currentText());
}

QString ExperimentEditor::studentInfo() const { return studentInfo_->text(); }
QString ExperimentEditor::teacherInfo() const { return teacherInfo_->text(); }

void ExperimentEditor::setSpec(const caspl::ExperimentSpec& spec, const QString& sourcePath) {
    loading_ = true;
    base_ = spec;
    sourcePath_ = sourcePath;
    name_->setText(qs(spec.name));
    description_->setText(spec.description.empty() ? tr("(none)") : qs(spec.description));
    output_->setText(qs(spec.output));
    root_->setText(qs(spec.data.root));
    selectData(protocol_, int(spec.data.protocol));
    populateDatasets(spec);
    shots_->setText(joinInts(spec.data.shots));
    seeds_->setText(joinInts(spec.data.seeds));
    modelsDir_->setText(qs(spec.models.dir));
    student_->setCurrentText(qs(spec.models.student));
    teacher_->setCurrentText(qs(spec.models.teacher));
    selectData(method_, int(spec.method.kind));
    nCtxText_->setValue(spec.method.nCtxText);
    nCtxVision_->setValue(spec.method.nCtxVision);
    depthText_->setValue(spec.method.depthText);
    depthVision_->setValue(spec.method.depthVision);
    ctxInit_->setText(qs(spec.method.ctxInit));
    csc_->setChecked(spec.method.csc);
    classTokenPosition_->setCurrentIndex(std::max(0, classTokenPosition_->findData(qs(spec.method.classTokenPosition))));
    textLossWeight_->setValue(spec.method.textLossWeight);
    imageLossWeight_->setValue(spec.method.imageLossWeight);
    gpaMean_->setValue(spec.method.gpaMean);
    gpaStd_->setValue(spec.method.gpaStd);
    updateMethodOptions();
    p1Enabled_->setChecked(spec.phase1.enabled);
    p1TeacherCache_->setChecked(spec.phase1.teacherCache);
    p1NText_->setValue(spec.phase1.nText);
    p1NVision_->setValue(spec.phase1.nVision);
    p1DepthText_->setValue(spec.phase1.depthText);
    p1DepthVision_->setValue(spec.phase1.depthVision);
    p1Epochs_->setValue(spec.phase1.epochs);
    p1Batch_->setValue(spec.phase1.batchSize);
    p1Lr_->setValue(spec.phase1.lr);
    p1Temperature_->setValue(spec.phase1.temperature);
    selectData(p1Pool_, int(spec.phase1.pool));
    epochs_->setValue(spec.train.epochs);
    batch_->setValue(spec.train.batchSize);
    lr_->setValue(spec.train.lr);
    selectData(precision_, int(spec.train.precision));
    selectData(device_, int(spec.train.device));
    textChunk_->setValue(spec.train.textChunk);
    warmupEpochs_->setValue(spec.train.warmupEpochs);
    cudaGraphs_->setChecked(spec.train.cudaGraphs);
    tensorboard_->setChecked(spec.train.tensorboard);
    updatePhase1Enabled();
    yamlDirty_ = false;
    setYamlText(qs(caspl::toYaml(spec)));
    yamlStatus_->clear();
    loading_ = false;
    modified_ = false;
    refreshDatasets();
    refreshModels();
}

caspl::ExperimentSpec ExperimentEditor::spec() const {
    caspl::ExperimentSpec s = base_;
    s.name = ss(name_->text().trimmed());
    s.output = ss(output_->text().trimmed());
    s.data.root = ss(root_->text().trimmed());
    const auto protocol = caspl::Protocol(protocol_->currentData().toInt());
    if (protocol != s.data.protocol) {  // derived lists follow the protocol again
        s.data.evalSplits.clear();
        s.data.evalDatasets.clear();
    }
    s.data.protocol = protocol;
    // Datasets: the earlier order first (it is part of the experiment), then newly checked ones.
    std::vector<std::string> checked;
    for (int i = 0; i < datasets_->count(); ++i)
        if (datasets_->item(i)->checkState() == Qt::Checked) checked.push_back(ss(datasets_->item(i)->data(kNameRole).toString()));
    std::vector<std::string> datasets;
    for (const auto& d : base_.data.datasets)
        if (std::find(checked.begin(), checked.end(), d) != checked.end()) datasets.push_back(d);
    for (const auto& d : checked)
        if (std::find(datasets.begin(), datasets.end(), d) == datasets.end()) datasets.push_back(d);
    s.data.datasets = datasets;
    if (auto v = parseInts(shots_->text())) s.data.shots = *v;
    if (auto v = parseInts(seeds_->text())) s.data.seeds = *v;
    s.models.dir = ss(modelsDir_->text().trimmed());
    s.models.student = ss(student_->currentText().trimmed());
    s.models.teacher = ss(teacher_->currentText().trimmed());
    s.method.kind = caspl::MethodKind(method_->currentData().toInt());
    s.method.nCtxText = nCtxText_->value();
    s.method.nCtxVision = nCtxVision_->value();
    s.method.depthText = depthText_->value();
    s.method.depthVision = depthVision_->value();
    s.method.ctxInit = ss(ctxInit_->text());
    s.method.csc = csc_->isChecked();
    s.method.classTokenPosition = ss(classTokenPosition_->currentData().toString());
    // Spin boxes round to their decimals: keep the exact value unless the user changed it.
    const auto keep = [](double shown, double exact, double tolerance) { return std::abs(shown - exact) > tolerance ? shown : exact; };
    s.method.textLossWeight = keep(textLossWeight_->value(), base_.method.textLossWeight, 0.5e-3);
    s.method.imageLossWeight = keep(imageLossWeight_->value(), base_.method.imageLossWeight, 0.5e-3);
    s.method.gpaMean = keep(gpaMean_->value(), base_.method.gpaMean, 0.5e-2);
    s.method.gpaStd = keep(gpaStd_->value(), base_.method.gpaStd, 0.5e-2);
    s.phase1.enabled = p1Enabled_->isChecked();
    s.phase1.teacherCache = p1TeacherCache_->isChecked();
    s.phase1.nText = p1NText_->value();
    s.phase1.nVision = p1NVision_->value();
    s.phase1.depthText = p1DepthText_->value();
    s.phase1.depthVision = p1DepthVision_->value();
    s.phase1.epochs = p1Epochs_->value();
    s.phase1.batchSize = p1Batch_->value();
    // The spin boxes round to their decimals: keep the exact value unless the user changed it.
    if (std::abs(p1Lr_->value() - base_.phase1.lr) > 0.5e-6) s.phase1.lr = p1Lr_->value();
    if (std::abs(p1Temperature_->value() - base_.phase1.temperature) > 0.5e-3) s.phase1.temperature = p1Temperature_->value();
    s.phase1.pool = caspl::Phase1Pool(p1Pool_->currentData().toInt());
    s.train.epochs = epochs_->value();
    s.train.batchSize = batch_->value();
    if (std::abs(lr_->value() - base_.train.lr) > 0.5e-6) s.train.lr = lr_->value();
    s.train.precision = caspl::Precision(precision_->currentData().toInt());
    s.train.device = caspl::Device(device_->currentData().toInt());
    s.train.textChunk = textChunk_->value();
    s.train.warmupEpochs = warmupEpochs_->value();
    s.train.cudaGraphs = cudaGraphs_->isChecked();
    s.train.tensorboard = tensorboard_->isChecked();
    return s;
}

QString ExperimentEditor::baseDir() const {
    return sourcePath_.isEmpty() ? QDir::currentPath() : QFileInfo(sourcePath_).absolutePath();
}

std::optional<caspl::ExperimentSpec> ExperimentEditor::validatedSpec(QString* error) const {
    QStringList problems;
    if (!parseInts(shots_->text()) || parseInts(shots_->text())->empty())
        problems << tr("data.shots: expected a list of integers such as \"16\" or \"1, 2, 4\", got \"%1\"").arg(shots_->text());
    if (!parseInts(seeds_->text()) || parseInts(seeds_->text())->empty())
        problems << tr("data.seeds: expected a list of integers such as \"1, 2, 3\", got \"%1\"").arg(seeds_->text());
    const caspl::ExperimentSpec s = spec();
    if (s.data.datasets.empty()) problems << tr("data.datasets: choose at least one dataset");
    if (problems.isEmpty()) {
        try {
            caspl::ExperimentSpec checked =
                caspl::loadExperimentFromString(caspl::toYaml(s), "experiment editor", ss(baseDir()));
            checked.layers = s.layers;
            return checked;
        } catch (const caspl::SpecError& e) {
            for (const auto& d : e.diagnostics())
                problems << (d.key.empty() ? qs(d.message) : qs(d.key) + QStringLiteral(": ") + qs(d.message));
        } catch (const std::exception& e) {
            problems << QString::fromUtf8(e.what());
        }
    }
    if (error) *error = problems.join('\n');
    return std::nullopt;
}

QString ExperimentEditor::yamlText() const {
    if (yamlDirty_) return yaml_->toPlainText();
    return qs(caspl::toYaml(spec()));
}

void ExperimentEditor::setYamlText(const QString& text) {
    const bool was = loading_;
    loading_ = true;
    yaml_->setPlainText(text);
    loading_ = was;
}

bool ExperimentEditor::applyPendingYaml(QString* error) {
    if (!yamlDirty_) return true;
    QString why;
    if (applyYaml(&why)) return true;
    if (error) *error = tr("The YAML tab has edits that do not load:\n") + why;
    return false;
}

bool ExperimentEditor::applyYaml(QString* error) {
    const QString display = sourcePath_.isEmpty() ? tr("YAML tab") : QFileInfo(sourcePath_).fileName() + tr(" (YAML tab)");
    try {
        caspl::ExperimentSpec s = caspl::loadExperimentFromString(ss(yaml_->toPlainText()), ss(display), ss(baseDir()));
        const QString source = sourcePath_;
        setSpec(s, source);
        // The tab holds every key: the ones without effect that are not at their defaults are what was changed.
        const auto warnings = caspl::inertKeysAwayFromDefault(s);
        if (warnings.empty()) {
            yamlStatus_->setStyleSheet(QStringLiteral("color: #146e28"));
            yamlStatus_->setText(tr("Applied: the form shows this YAML."));
        } else {
            QStringList lines;
            for (const auto& w : warnings) lines << qs(w.key) + QStringLiteral(": ") + qs(w.why);
            yamlStatus_->setStyleSheet(QStringLiteral("color: #8a5a00"));
            yamlStatus_->setText(tr("Applied, but %n key(s) have no effect on this experiment:", nullptr, int(lines.size())) +
                                 QLatin1Char('\n') + lines.join('\n'));
        }
        modified_ = true;
        Q_EMIT specEdited();
        return true;
    } catch (const std::exception& e) {
        yamlStatus_->setStyleSheet(QStringLiteral("color: #b01e1e"));
        yamlStatus_->setText(QString::fromUtf8(e.what()) + tr("\nFix the lines named above, then Apply again."));
        if (error) *error = QString::fromUtf8(e.what());
        return false;
    }
}

}  // namespace caspl::ui
