#include "core/engine/run_status.h"

#include "core/engine/event_log.h"
#include "core/engine/runner.h"
#include "core/experiment/run_notes.h"
#include "core/experiment/results.h"
#include "core/experiment/spec_loader.h"
#include "core/util/dir_lock.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

namespace caspl {

namespace fs = std::filesystem;

namespace {

bool isRunFolder(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p / "config.yaml", ec);
}

}  // namespace

int plannedEvaluations(const ExperimentSpec& spec) {
    // A transfer run tests the dataset it trained on and then each other dataset of eval_datasets.
    std::set<std::string> tested(spec.data.datasets.begin(), spec.data.datasets.end());
    tested.insert(spec.data.evalDatasets.begin(), spec.data.evalDatasets.end());
    return int(std::max<std::size_t>(1, tested.size()) * std::max<std::size_t>(1, spec.data.shots.size()) *
               std::max<std::size_t>(1, spec.data.seeds.size()));
}

RunFolderStatus readRunFolderStatus(const std::string& folder, ExperimentSpec* specOut) {
    const fs::path dir(folder);
    if (!isRunFolder(dir)) throw Error(folder + ": not a run folder (no config.yaml)");
    RunFolderStatus s;
    s.folder = folder;
    const ExperimentSpec spec = loadExperiment((dir / "config.yaml").string());
    s.name = spec.name;
    s.method = methodLabel(spec);

    std::string status;
    double updated = 0;  // when run.json was written
    {
        std::ifstream in(dir / "run.json");
        if (in) {
            std::stringstream text;
            text << in.rdbuf();
            try {
                const auto j = nlohmann::json::parse(text.str());
                status = j.value("status", std::string());
                s.message = j.value("message", std::string());
                if (const auto r = j.find("runtime_s"); r != j.end() && r->is_number()) s.runtime = std::max(0.0, r->get<double>());
                if (const auto u = j.find("updated"); u != j.end() && u->is_string()) updated = parseEventTime(u->get<std::string>());
            } catch (const std::exception&) {
                s.message = "run.json cannot be read";
            }
        }
    }
    if (const auto holder = DirLock::runningHolder(folder)) {
        s.state = "running";
        s.pid = holder->pid;
        if (!holder->local) s.host = holder->host;
        s.message.clear();
    } else if (status == "done" || status == "failed") {
        s.state = status;
    } else if (status == "interrupted") {
        s.state = "stopped";
    } else if (status == "running") {  // nobody holds the folder: its process is gone
        s.state = "crashed";
        s.message = "its process ended without finishing (killed, out of memory, a crash, or its machine went down); "
                    "caspl resume " + folder + " continues from the last checkpoint";
    } else if (!fs::exists(dir / "run.json")) {
        s.state = "not started";
    } else {
        s.state = status.empty() ? "unknown" : status;
    }
    s.progress = lastProgressEvent((dir / "events.jsonl").string(), &s.progressTime);
    // The time spent since run.json was written: a running run's until now (another machine's clock may differ: never
    // less than what run.json says), a crashed one's until its last line (before any `caspl eval` since).
    // run.json says running only while a run (not `caspl eval`, which leaves it as it was) runs, or after it died.
    if (s.runtime && updated > 0 && status == "running") {
        if (s.state == "running") s.runtime = *s.runtime + std::max(0.0, nowEventTime() - updated);
        else if (s.state == "crashed")
            s.runtime = *s.runtime + std::max(0.0, attemptEnd((dir / "events.jsonl").string(), updated) - updated);
    }

    s.evaluations = plannedEvaluations(spec);
    const fs::path resultPath = dir / "result.json";
    ResultFile rf;
    bool haveResults = false;
    if (fs::exists(resultPath)) {
        try {
            rf = readResultJson(resultPath.string());
            haveResults = true;
        } catch (const std::exception& e) {  // the run is still listed, with its state; the figures are left out
            s.resultsError = e.what();
        }
    }
    if (haveResults) {
        std::set<std::tuple<std::string, int, int>> done;
        for (const auto& r : rf.records) done.insert({r.dataset, r.shots, r.seed});
        s.evaluated = int(done.size());
        try {
            // A transfer run's figure is the average over the datasets it was transferred to, as the papers' tables
            // (and caspl export --table) give it; the source dataset's own accuracy stays in its results.
            std::vector<ResultRecord> headline = rf.records;
            const bool transfer = std::any_of(spec.data.evalDatasets.begin(), spec.data.evalDatasets.end(), [&spec](const std::string& d) {
                return std::find(spec.data.datasets.begin(), spec.data.datasets.end(), d) == spec.data.datasets.end();
            });
            if (transfer)
                headline.erase(std::remove_if(headline.begin(), headline.end(),
                                              [&spec](const ResultRecord& r) {
                                                  return std::find(spec.data.datasets.begin(), spec.data.datasets.end(), r.dataset) !=
                                                         spec.data.datasets.end();
                                              }),
                               headline.end());
            const ResultsSummary sum = summarizeResults(headline, spec.eval.rounding);
            if (sum.averages.size() == 1) {
                const AverageResult& a = sum.averages.front();
                s.base = a.base;
                s.novel = a.novel;
                s.hm = a.hm;
                s.accuracy = a.all;
            } else if (sum.averages.empty() && sum.groups.size() == 1) {
                const GroupResult& g = sum.groups.front();
                if (g.base) s.base = g.base->mean;
                if (g.novel) s.novel = g.novel->mean;
                s.hm = g.hm;
                if (g.all) s.accuracy = g.all->mean;
            }
        } catch (const std::exception&) {
            // records that contradict each other: `caspl export` names them; the status leaves the figure out
        }
    }
    if (specOut) *specOut = spec;
    return s;
}

std::vector<std::string> findRunFolders(const std::vector<std::string>& paths) {
    std::vector<std::string> out;
    // A run named twice (`runs runs/tiny`, or one folder by two paths) is listed once, where it came first: counted
    // twice it would skew the runs table's counts, correlations and best run.
    std::set<fs::path> seen;
    const auto add = [&](const std::string& folder) {
        std::error_code ec;
        fs::path key = fs::weakly_canonical(fs::absolute(folder), ec);
        if (ec) key = fs::absolute(folder).lexically_normal();
        if (seen.insert(key).second) out.push_back(folder);
    };
    for (const auto& p : paths) {
        std::error_code ec;
        if (!fs::exists(p, ec)) throw Error(p + ": no such folder (give run folders, or the folder holding them)");
        if (!fs::is_directory(p, ec)) throw Error(p + ": is a file, expected a run folder or the folder holding run folders");
        if (isRunFolder(p)) {
            add(p);
            continue;
        }
        std::vector<std::string> inside;
        for (const auto& e : fs::directory_iterator(p, ec))
            if (e.is_directory() && isRunFolder(e.path())) inside.push_back(e.path().string());
        if (inside.empty())
            throw Error(p + ": holds no run folder (a run folder holds config.yaml; runs go to <output>/<name>, runs/ by default)");
        std::sort(inside.begin(), inside.end());
        for (const auto& f : inside) add(f);
    }
    return out;
}

bool holdsNothingTrained(const std::string& runDir) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(runDir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec)) continue;
        const std::string name = it->path().filename().string();
        const bool top = it->path().parent_path() == fs::path(runDir);
        // TensorBoard files are written from the first step, before anything is saved: an attempt that failed in
        // its first epoch (a diverging learning rate) has them and nothing trained.
        const fs::path rel = it->path().lexically_relative(runDir);
        const bool tensorboard = !rel.empty() && (*rel.begin() == "tensorboard" || *rel.begin() == "tensorboard.replaced") &&
                                 name.rfind("events.out.tfevents.", 0) == 0;
        // notes.json, its lock, and the temporary file of a note being written (caspl notes, the studio) or left by
        // a writer that was killed.
        const bool notes = name == kRunNotesFile || name == kRunNotesLockFile || name.rfind(std::string(kRunNotesFile) + ".tmp-", 0) == 0;
        // The copy of reused boosting prompts (phase1.artifact) is made before training: not trained by this run.
        const bool reusedBoosting = it->path().parent_path().filename() == kReusedBoostingFolder;
        const bool known = (top && (name == "config.yaml" || name == "run.json" || name == "events.jsonl" ||
                                    name == "events.replaced.jsonl" || name == DirLock::kFileName || notes)) ||
                           (name.rfind("lists_k", 0) == 0 && it->path().extension() == ".json") || tensorboard ||
                           reusedBoosting;
        if (!known) return false;
    }
    return !ec;
}

}  // namespace caspl
