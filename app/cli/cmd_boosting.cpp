// `caspl boosting show|export`: CasPL's boosting prompts as a reusable artifact (phase 2 imports one through the
// experiment key phase1.artifact).
#include "app/cli/cli.h"
#include "core/engine/boosting.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"

#include <cstdint>
#include <filesystem>
#include <iostream>

namespace caspl::cli {

namespace fs = std::filesystem;

void addBoostingCommand(CLI::App& app, Action* action) {
    auto* grp = app.add_subcommand("boosting", "CasPL boosting prompts: show an artifact, export one from a run");
    grp->require_subcommand(1);

    auto path = std::make_shared<std::string>();
    auto* show = grp->add_subcommand("show", "Print an artifact's manifest and tensors");
    show->add_option("path", *path, "Artifact folder (boosting.json + boosting.safetensors)")->required();
    show->callback([action, path] {
        *action = [path] {
            const auto m = readBoostingManifest(*path);
            auto st = SafetensorsFile::open(boostingTensorsPath(*path));
            std::cout << "dataset: " << m.dataset << " (" << m.classes << " classes, class list " << m.classListHash << ")\n"
                      << "student: " << m.student << " [" << m.studentArch << "]\n"
                      << "teacher: " << m.teacher << " [" << m.teacherArch << "]\n"
                      << "layout: text " << m.nText << " x " << m.depthText << " layers, vision " << m.nVision << " x "
                      << m.depthVision << " layers\n"
                      << "training: " << m.epochs << " epochs, seed " << m.seed << ", temperature " << m.temperature
                      << ", pool " << m.pool << " (" << m.poolImages << " images), final KD loss " << m.finalLoss << "\n"
                      << "created: " << m.created << " by " << m.producer << "\n";
            int64_t values = 0;
            for (const auto& t : st.tensors()) {
                std::cout << "  " << t.name << " " << shapeToString(t.shape) << " " << dtypeName(t.dtype) << "\n";
                values += t.numel();
            }
            std::cout << "tensors: " << st.tensors().size() << ", " << values << " values\n";
            return kOk;
        };
    });

    struct ExportArgs {
        std::string run, dataset, out;
    };
    auto x = std::make_shared<ExportArgs>();
    auto* exp = grp->add_subcommand("export", "Copy a run's boosting prompts to a folder other runs can import");
    exp->add_option("run", x->run, "Run folder")->required();
    exp->add_option("--dataset", x->dataset, "Dataset whose phase 1 to export")->required();
    exp->add_option("--out", x->out, "Destination folder (must not exist)")->required();
    exp->callback([action, x] {
        *action = [x] {
            const fs::path src = fs::path(x->run) / x->dataset / "phase1";
            if (!fs::exists(src / "boosting.json"))
                throw Error(src.string() + ": no boosting prompts (phase 1 of " + x->dataset + " has not finished in this run)");
            if (fs::exists(x->out)) throw Error(x->out + ": exists; choose a new folder (nothing is overwritten)");
            readBoostingManifest(src.string());  // validates
            const fs::path tmp = fs::path(x->out).string() + ".tmp-export";
            fs::remove_all(tmp);
            fs::create_directories(tmp);
            fs::copy_file(src / "boosting.safetensors", tmp / "boosting.safetensors");
            fs::copy_file(src / "boosting.json", tmp / "boosting.json");
            fs::rename(tmp, x->out);
            std::cout << "exported to " << x->out << "; use it with --set phase1.artifact=" << x->out << "\n";
            return kOk;
        };
    });
}

}  // namespace caspl::cli
