#pragma once
// A tiny experiment for the integration and GUI tests: model folders holding
// symlinks to the fixture CLIPs (the tiny student, the phase-1 teacher) and the tokenizer, a synthetic 4-class
// image-folder dataset, and a YAML experiment (CasPL phase 1 + CoOp phase 2, base-to-novel, CPU) that runs in a
// second or two.
#include "core/image/image.h"
#include "core/util/atomic_file.h"
#include "test_support.h"

#include <cstdint>
#include <QDir>
#include <QFileInfo>
#include <QString>

#include <algorithm>
#include <filesystem>
#include <random>

namespace caspl::test {

struct TinyExperimentOptions {
    QString name = "tiny";
    int phase1Epochs = 2;
    int trainEpochs = 3;
    QString seeds = "[1, 2]";
    QString datasets = "[synth]";
};

// Where the tiny experiment's pieces are.
struct TinyExperiment {
    QString base;      // the folder holding models/, data/, runs/
    QString yamlPath;  // the experiment file
    QString runDir;    // <base>/runs/<name>
};

// The fixture files a tiny experiment needs; "" when all exist, else the first missing path.
inline QString missingTinyFixture() {
    for (const char* f : {"clip-tiny-a/weights_openai.safetensors", "method-steps/caspl_phase1_teacher.safetensors",
                          "tokenizer/vocab.json", "tokenizer/merges.txt"})
        if (!QFileInfo::exists(fixturePath(f))) return fixturePath(f);
    return {};
}

inline void makeTinyModelFolder(const std::filesystem::path& dir, const QString& weights) {
    namespace fs = std::filesystem;
    if (fs::exists(dir / "model.safetensors")) return;
    fs::create_directories(dir);
    fs::create_symlink(weights.toStdString(), dir / "model.safetensors");
    fs::create_symlink(fixturePath("tokenizer/vocab.json").toStdString(), dir / "vocab.json");
    fs::create_symlink(fixturePath("tokenizer/merges.txt").toStdString(), dir / "merges.txt");
}

inline void makeTinyDataset(const std::filesystem::path& root) {
    namespace fs = std::filesystem;
    if (fs::exists(root)) return;
    const char* classes[] = {"red", "green", "blue", "white"};
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> u(-25, 25);
    for (int c = 0; c < 4; ++c) {
        fs::create_directories(root / classes[c]);
        for (int i = 0; i < 10; ++i) {
            caspl::Image img(36, 36, 3);
            for (int y = 0; y < 36; ++y)
                for (int x = 0; x < 36; ++x)
                    for (int k = 0; k < 3; ++k)
                        img.at(y, x, k) = uint8_t(std::clamp((c == 3 || c == k ? 200 : 40) + u(rng), 0, 255));
            caspl::encodeImageFile(img, (root / classes[c] / ("img" + std::to_string(i) + ".png")).string());
        }
    }
}

inline QString tinyExperimentYaml(const QString& base, const TinyExperimentOptions& o) {
    const QDir b(base);
    return QStringLiteral(
               "name: %1\n"
               "description: tiny CasPL run for the GUI tests\n"
               "data:\n  root: %2\n  datasets: %3\n  protocol: base2novel\n  shots: [2]\n  seeds: %4\n"
               "  loader_threads: 1\n"
               "models:\n  dir: %5\n  student: %6\n  teacher: %7\n"
               "method:\n  name: coop\n  n_ctx_text: 2\n  ctx_init: \"\"\n"
               "phase1:\n  enabled: true\n  n_text: 2\n  n_vision: 2\n  depth_text: 2\n  depth_vision: 2\n  epochs: %8\n"
               "  batch_size: 4\n  lr: 0.01\n"
               "train:\n  epochs: %9\n  batch_size: 2\n  lr: 0.01\n  device: cpu\n"
               "eval:\n  batch_size: 8\n  rounding: none\n"
               "output: %10\n")
        .arg(o.name, b.filePath("data"), o.datasets, o.seeds, b.filePath("models"), b.filePath("models/student"),
             b.filePath("models/teacher"))
        .arg(o.phase1Epochs)
        .arg(o.trainEpochs)
        .arg(b.filePath("runs"));
}

// Builds (or reuses) the models and the dataset under `base` and writes <base>/<name>.yaml.
inline TinyExperiment makeTinyExperiment(const QString& base, const TinyExperimentOptions& o = {}) {
    namespace fs = std::filesystem;
    const fs::path b = base.toStdString();
    makeTinyModelFolder(b / "models/student", fixturePath("clip-tiny-a/weights_openai.safetensors"));
    makeTinyModelFolder(b / "models/teacher", fixturePath("method-steps/caspl_phase1_teacher.safetensors"));
    makeTinyDataset(b / "data/synth");
    TinyExperiment t;
    t.base = base;
    t.yamlPath = QDir(base).filePath(o.name + ".yaml");
    t.runDir = QDir(base).filePath("runs/" + o.name);
    caspl::writeFileAtomically(t.yamlPath.toStdString(), tinyExperimentYaml(base, o).toStdString());
    return t;
}

}  // namespace caspl::test

#define CASPL_REQUIRE_TINY_FIXTURES()                                                                         \
    do {                                                                                                      \
        const QString missing_ = caspl::test::missingTinyFixture();                                           \
        if (!missing_.isEmpty())                                                                              \
            QFAIL(qPrintable(QStringLiteral("missing reference data: %1 (set CASPL_FIXTURES or the CMake cache " \
                                            "variable CASPL_FIXTURES_DIR to the shared fixtures folder)")      \
                                 .arg(missing_)));                                                            \
    } while (0)
