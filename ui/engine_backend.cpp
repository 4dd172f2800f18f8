#include "ui/engine_backend.h"

namespace caspl::ui {

void registerEngineMetaTypes() {
    qRegisterMetaType<caspl::ProgressEvent>("caspl::ProgressEvent");
    qRegisterMetaType<caspl::MetricEvent>("caspl::MetricEvent");
    qRegisterMetaType<QList<caspl::MetricEvent>>("QList<caspl::MetricEvent>");
    qRegisterMetaType<caspl::EvalRow>("caspl::EvalRow");
    qRegisterMetaType<caspl::LogLevel>("caspl::LogLevel");
    qRegisterMetaType<caspl::ExperimentSpec>("caspl::ExperimentSpec");
}

}  // namespace caspl::ui
