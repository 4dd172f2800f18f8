#include "core/engine/runner.h"

#include "core/engine/boosting.h"
#include "core/engine/tensorboard.h"

#include "core/clip/clip_checkpoint.h"
#include "core/clip/fused_linear.h"
#include "core/data/benchmarks.h"
#include "core/data/fewshot.h"
#include "core/data/image_folder.h"
#include "core/data/split_zhou.h"
#include "core/data/templates.h"
#include "core/engine/caspl_phases.h"
#include "core/engine/event_log.h"
#include "core/engine/run_status.h"
#include "core/experiment/per_class.h"
#include "core/experiment/run_notes.h"
#include "core/experiment/spec_loader.h"
#include "core/runtime.h"
#include "core/text/tokenizer.h"
#include "core/train/trainer.h"
#include "core/util/atomic_file.h"
#include "core/util/dir_lock.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace caspl {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string nowIso() {
    char buf[32];
    std::time_t t = std::time(nullptr);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

// A log whose last line was cut (a crash, a power loss or a full disk while it was written) ends after its last
// whole line again, so that the lines a resumed run appends are not glued to the cut one (which readers would then
// find in the middle of the file, not as its last line).
void dropCutLastLine(const std::string& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec || size == 0) return;
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    char last = 0;
    in.seekg(std::streamoff(size - 1));
    in.get(last);
    if (last == '\n') return;
    std::uintmax_t keep = 0;  // up to and including the last newline
    std::vector<char> chunk(1 << 16);
    for (std::uintmax_t end = size; end > 0 && keep == 0;) {
        const std::uintmax_t start = end > chunk.size() ? end - chunk.size() : 0;
        in.seekg(std::streamoff(start));
        in.read(chunk.data(), std::streamsize(end - start));
        if (!in) return;
        for (std::uintmax_t i = end - start; i > 0; --i)
            if (chunk[i - 1] == '\n') {
                keep = start + i;
                break;
            }
        end = start;
    }
    in.close();
    fs::resize_file(path, keep, ec);
    if (ec) throw Error(path + ": its last line is cut and cannot be removed (" + ec.message() + ")");
}

// Writes every event to events.jsonl and passes it on.
class JsonlSink : public EventSink {
public:
    JsonlSink(const std::string& path, EventSink& next) : out_((dropCutLastLine(path), path), std::ios::app), next_(next) {
        if (!out_) throw Error(path + ": cannot open for writing");
    }
    // Called on a progress event at most every `seconds` (the run's status file keeps the time spent fresh).
    void setTick(double seconds, std::function<void()> tick) {
        std::lock_guard<std::mutex> lock(mu_);
        tickEvery_ = seconds;
        tick_ = std::move(tick);
        lastTick_ = std::chrono::steady_clock::now();
    }
    void progress(const ProgressEvent& e) override {
        std::function<void()> due;
        {
            std::lock_guard<std::mutex> lock(mu_);
            const auto now = std::chrono::steady_clock::now();
            if (tick_ && std::chrono::duration<double>(now - lastTick_).count() >= tickEvery_) {
                lastTick_ = now;
                due = tick_;
            }
        }
        if (due) due();  // outside the lock: it writes run.json, which may take a while
        // Progress is frequent: keep one line per 1% and the last step.
        const int64_t every = std::max<int64_t>(1, e.steps / 100);
        if (e.step % every == 0 || e.step == e.steps)
            write({{"type", "progress"}, {"run", e.run}, {"phase", e.phase}, {"dataset", e.dataset}, {"shots", e.shots},
                   {"seed", e.seed}, {"epoch", e.epoch}, {"epochs", e.epochs},
                   {"step", e.step}, {"steps", e.steps}, {"elapsed_s", e.elapsedSeconds}, {"eta_s", e.etaSeconds}});
        next_.progress(e);
    }
    void metric(const MetricEvent& e) override {
        // The time the event was stamped with (TensorBoardSink, in front of this one), so that the log, the
        // TensorBoard files and the front end agree; now for an event that comes unstamped.
        MetricEvent stamped = e;
        if (stamped.time <= 0) stamped.time = nowEventTime();
        write({{"type", "metric"}, {"run", e.run}, {"phase", e.phase}, {"dataset", e.dataset}, {"shots", e.shots}, {"seed", e.seed},
               {"epoch", e.epoch}, {"step", e.step}, {"values", e.values}},
              stamped.time);
        next_.metric(stamped);
    }
    void evalRow(const EvalRow& r) override {
        write({{"type", "eval"}, {"run", r.run}, {"dataset", r.dataset}, {"method", r.method}, {"seed", r.seed},
               {"split", r.split}, {"epoch", r.epoch}, {"accuracy", r.accuracy}, {"correct", r.correct}, {"total", r.total},
               {"skipped_images", r.skippedImages}, {"shots", r.shots}});
        next_.evalRow(r);
    }
    void log(LogLevel l, const std::string& m) override {
        write({{"type", "log"}, {"level", logLevelName(l)}, {"message", m}});
        next_.log(l, m);
    }
    void phaseChanged(const std::string& run, const std::string& phase) override {
        write({{"type", "phase"}, {"run", run}, {"phase", phase}});
        next_.phaseChanged(run, phase);
    }

private:
    void write(json j, double time = 0) {
        j["time"] = formatEventTime(time > 0 ? time : nowEventTime());
        std::lock_guard<std::mutex> lock(mu_);
        out_ << j.dump() << "\n";
        out_.flush();
    }
    std::ofstream out_;
    EventSink& next_;
    std::mutex mu_;
    std::function<void()> tick_;
    double tickEvery_ = 60;
    std::chrono::steady_clock::time_point lastTick_{};
};

struct DatasetData {
    std::string name;
    DatasetSplit full;
    std::vector<std::string> classnames;
    std::string promptTemplate;
    DatasetProtocol protocol;
};

DatasetData readDataset(const ExperimentSpec& spec, const std::string& name, const std::string& runDir) {
    DatasetData d;
    d.name = name;
    if (findBenchmarkDataset(name)) {
        LoadedDataset ld = readBenchmarkDataset(spec.data.root, name);
        d.full = std::move(ld.split);
        d.classnames = std::move(ld.classnames);
        d.promptTemplate = ld.promptTemplate;
        d.protocol = datasetProtocol(name);
        return d;
    }
    // A user's dataset: <root>/<name>/ with split.json or split_zhou_<Name>.json (impaths relative to images/ or
    // the folder itself), or class sub-folders split once with a recorded seed.
    const fs::path dir = fs::path(spec.data.root) / name;
    if (!fs::is_directory(dir))
        throw Error(dir.string() + ": dataset '" + name + "' not found: expected one of the benchmark datasets (caspl datasets "
                                   "list) or a folder with class sub-folders or a split.json under data.root");
    ImageFolderDataset f;
    fs::path splitFile = dir / "split.json";
    if (!fs::exists(splitFile))
        for (const auto& e : fs::directory_iterator(dir)) {
            const std::string fn = e.path().filename().string();
            if (e.is_regular_file() && fn.rfind("split_zhou_", 0) == 0 && e.path().extension() == ".json") splitFile = e.path();
        }
    if (fs::exists(splitFile)) {
        const fs::path images = fs::is_directory(dir / "images") ? dir / "images" : dir;
        f = readImageFolderSplit(splitFile.string(), images.string());
    } else {
        fs::create_directories(fs::path(runDir) / name);
        f = loadOrCreateImageFolderSplit(dir.string(), (fs::path(runDir) / name / "split.json").string());
    }
    d.full = std::move(f.split);
    d.classnames = std::move(f.classnames);
    d.promptTemplate = customTemplate(name);
    d.protocol = DatasetProtocol{name, DatasetKind::Standard};
    return d;
}

std::vector<std::string> namesOf(const DatasetSplit& s) {
    return classnamesFromLists(s.train, {&s.val, &s.test});
}

torch::Device pickDevice(Device d, EventSink& sink) {
    if (d == Device::Cpu) return torch::kCPU;
    if (cudaAvailable()) return torch::Device(torch::kCUDA, 0);
    if (d == Device::Cuda) throw Error("train.device is cuda but no CUDA device is available to this build or machine");
    (void)sink;
    return torch::kCPU;
}

LoaderOptions trainLoaderOptions(int imageSize, int batch, uint64_t seed, int threads, const StopToken& stop,
                                 double cropScaleMin) {
    LoaderOptions o;
    o.crop.scaleMin = cropScaleMin;
    o.mode = TransformMode::Train;
    o.imageSize = imageSize;
    o.batchSize = batch;
    o.dropLast = true;
    o.shuffle = true;
    o.seed = seed;
    o.threads = threads;
    o.cancel = stop.flag();
    return o;
}

LoaderOptions evalLoaderOptions(const ExperimentSpec& spec, int imageSize, int threads, const StopToken& stop) {
    LoaderOptions o;
    o.mode = TransformMode::Eval;
    o.imageSize = imageSize;
    o.batchSize = spec.eval.batchSize;
    o.threads = threads;
    o.cacheDir = spec.data.imageCache;
    o.cancel = stop.flag();
    return o;
}

std::vector<Datum> folderPool(const std::string& folder) {
    std::vector<Datum> out;
    if (!fs::is_directory(folder)) throw Error(folder + ": phase1.pool_folder is not a folder");
    for (const auto& e : fs::recursive_directory_iterator(folder)) {
        if (!e.is_regular_file()) continue;
        std::string ext = e.path().extension().string();
        for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
        if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".webp")
            out.push_back({e.path().string(), 0, "", 0});
    }
    std::sort(out.begin(), out.end(), [](const Datum& a, const Datum& b) { return a.impath < b.impath; });
    if (out.empty()) throw Error(folder + ": phase1.pool_folder holds no images");
    return out;
}

// The time a run's earlier processes spent on it, from its run.json (`j`) and events.jsonl: run.json's runtime_s,
// plus, for a process that died (run.json still says running while this process holds the folder), the time from
// its last write of run.json to the last line it logged. A run.json from before runtime_s was kept: the event log's
// count (runtimeFromEventLog).
double runtimeSpent(const json& j, const std::string& eventsPath) {
    const auto kept = j.find("runtime_s");
    if (kept == j.end() || !kept->is_number()) return runtimeFromEventLog(eventsPath);
    double t = std::max(0.0, kept->get<double>());
    const auto status = j.find("status"), updated = j.find("updated");
    if (status != j.end() && *status == "running" && updated != j.end() && updated->is_string()) {
        const double since = parseEventTime(updated->get<std::string>()), last = attemptEnd(eventsPath, since);
        if (since > 0 && last > since) t += last - since;
    }
    return t;
}

// `runtimeSeconds`: the time the run's processes have spent on it so far (W&B's runtime), every attempt's.
void writeRunJson(const std::string& runDir, const ExperimentSpec& spec, const std::string& status, const std::string& created,
                  const std::string& cwd, double runtimeSeconds, const std::string& message = "") {
    json j{{"name", spec.name},       {"hash", resolvedHash(spec)},     {"status", status}, {"created", created},
           {"updated", formatEventTime(nowEventTime())}, {"runtime", runtimeDescription()}, {"cwd", cwd}};
    j["runtime_s"] = std::round(runtimeSeconds * 1000) / 1000;
    if (!message.empty()) j["message"] = message;
    writeFileAtomically((fs::path(runDir) / "run.json").string(), j.dump(2) + "\n");
}

// Whether a run folder holds nothing that training produced: only its configuration, run.json, the event log, the
// sampled lists and the lock (what an attempt that failed on bad input leaves).

// The experiment with its relative paths (data root, image cache, model folder and files, phase-1 artifact and pool
// folder) made absolute under `base`: the folder the run started in, so that `caspl resume` and `caspl eval` from
// anywhere read the same data and models. A model given by a released name (ViT-B/16) stays a name.
ExperimentSpec withPathsUnder(ExperimentSpec s, const fs::path& base) {
    std::error_code ec;
    const auto under = [&](std::string& p, bool mustExist) {
        if (p.empty() || fs::path(p).is_absolute()) return;
        const fs::path a = base / p;
        if (!mustExist || fs::exists(a, ec)) p = a.lexically_normal().string();
    };
    under(s.data.root, false);
    under(s.data.imageCache, false);
    under(s.models.dir, false);
    under(s.models.student, true);
    under(s.models.teacher, true);
    under(s.phase1.artifact, false);
    under(s.phase1.poolFolder, false);
    return s;
}

// Deep prompts need a block to go into: a depth beyond the student's layers would train tensors nothing uses.
void checkPromptDepths(const ExperimentSpec& spec, const ClipConfig& student, const std::string& studentPath) {
    const auto check = [&](const char* key, int depth, int prompts, int layers, const char* tower) {
        if (prompts > 0 && depth > layers)
            throw Error(std::string(key) + " is " + std::to_string(depth) + ", but the student (" + studentPath + ") has " +
                        std::to_string(layers) + " " + tower + " layers; set it to " + std::to_string(layers) + " or less");
    };
    const MethodKind k = spec.method.kind;
    if (k == MethodKind::IVLP || k == MethodKind::MaPLe || k == MethodKind::PromptSRC) {
        check("method.depth_text", spec.method.depthText, spec.method.nCtxText, student.textLayers, "text");
        check("method.depth_vision", spec.method.depthVision, k == MethodKind::MaPLe ? spec.method.nCtxText : spec.method.nCtxVision,
              student.visionLayers, "vision");
    }
    if (spec.phase1.enabled && k != MethodKind::ZeroShot && spec.phase1.artifact.empty()) {
        check("phase1.depth_text", spec.phase1.depthText, spec.phase1.nText, student.textLayers, "text");
        check("phase1.depth_vision", spec.phase1.depthVision, spec.phase1.nVision, student.visionLayers, "vision");
    }
}

}  // namespace

std::string defaultRunDir(const ExperimentSpec& spec) {
    std::string n = spec.name.empty() ? std::string("experiment") : spec.name;
    for (auto& c : n)
        if (c == '/' || c == ' ') c = '_';
    return (fs::path(spec.output) / n).string();
}

ExperimentSpec loadRunSpec(const std::string& runDir) {
    const fs::path p = fs::path(runDir) / "config.yaml";
    if (!fs::exists(p)) throw Error(runDir + ": not a run folder (no config.yaml)");
    return loadExperiment(p.string());
}

std::string runStatus(const std::string& runDir) {
    try {
        return json::parse(readFile((fs::path(runDir) / "run.json").string())).value("status", std::string());
    } catch (const std::exception&) {
        return "";
    }
}

std::vector<ResultRecord> loadRunRecords(const std::string& runDir) {
    std::error_code ec;
    if (!fs::is_directory(runDir, ec))
        throw Error(runDir + (fs::exists(runDir, ec) ? ": is a file, expected a run folder" : ": no such run folder"));
    if (!fs::exists(fs::path(runDir) / "config.yaml", ec)) throw Error(runDir + ": not a run folder (no config.yaml)");
    const fs::path p = fs::path(runDir) / "result.json";
    if (!fs::exists(p)) throw Error(runDir + ": no result.json yet (the run has not finished a seed)");
    return readResultJson(p.string()).records;
}

RunOutcome runExperiment(const ExperimentSpec& given, const RunOptions& opt, EventSink& userSink, const StopToken& stop) {
    RunOutcome outcome;
    outcome.runDir = opt.runDir.empty() ? defaultRunDir(given) : opt.runDir;
    const std::string runDir = outcome.runDir;
    const std::string runId = fs::path(runDir).filename().string();
    const std::string yaml = toYaml(given);
    const std::string hash = resolvedHash(given);
    std::string created = nowIso();
    double earlierRuntime = 0;  // what the run's earlier processes spent on it
    const auto attemptStart = std::chrono::steady_clock::now();
    std::error_code cwdError;
    std::string cwd = fs::current_path(cwdError).string();  // relative paths are relative to it (run.json keeps it)

    const bool existed = fs::exists(fs::path(runDir) / "config.yaml");
    if (opt.evalOnly && !existed) throw Error(runDir + ": not a run folder (no config.yaml)");
    if (!existed) {
        // A new run goes into a new or empty folder: never among files of something else.
        std::error_code ec;
        // (A temporary file of a write that was killed, config.yaml's of an attempt killed as it started, is not
        // another run's: it is removed below.)
        for (auto it = fs::directory_iterator(runDir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
            if (it->path().filename() != DirLock::kFileName && !isAtomicTempName(it->path().filename().string()))
                throw Error(runDir + ": holds other files (" + it->path().filename().string() +
                            ", ...) but no run; choose a new or empty folder for the run");
    }
    fs::create_directories(runDir);
    const DirLock lock(runDir, "run");  // held until this function returns or throws
    {
        // Holding the folder, no run writes in it but this one: temporary files of writes that were killed (a crash
        // or a kill between a file's bytes and its rename) are left-overs; they take disk space (a checkpoint's
        // worth) and would count as trained files. A note's are not: `caspl notes` writes without this lock.
        std::vector<fs::path> stale;
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(runDir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (isAtomicTempName(name) && name.rfind(std::string(kRunNotesFile) + ".tmp-", 0) != 0 && it->is_regular_file(ec))
                stale.push_back(it->path());
        }
        for (const auto& f : stale) fs::remove(f, ec);
        if (!stale.empty())
            userSink.log(LogLevel::Info, runDir + ": removed " + std::to_string(stale.size()) + " temporary file(s) of writes "
                                                                                             "that were cut (" + stale.front().filename().string() + (stale.size() > 1 ? ", ..." : "") + ")");
    }
    std::string replaced;  // why an earlier attempt's files were replaced, for the log
    if (existed) {
        ExperimentSpec old = loadRunSpec(runDir);
        if (resolvedHash(old) != hash) {
            // An attempt that stopped before training anything (a missing dataset or model, a typo in a path) leaves
            // only its configuration and log: the corrected experiment takes the folder over.
            if (opt.evalOnly || !holdsNothingTrained(runDir))
                throw Error(runDir + ": this folder holds another experiment (hash " + resolvedHash(old) + ", this one " +
                            hash + "); choose another output folder or run name, or delete the folder");
            replaced = "replacing the earlier configuration of " + runDir + " (hash " + resolvedHash(old) +
                       "), which stopped before training anything";
            std::error_code ec;
            fs::rename(fs::path(runDir) / "events.jsonl", fs::path(runDir) / "events.replaced.jsonl", ec);
            // The boosting prompts it copied belong to its phase1.artifact, which the corrected experiment may name
            // differently: copied again.
            for (auto it = fs::directory_iterator(runDir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
                if (it->is_directory(ec) && fs::exists(it->path() / kReusedBoostingFolder)) fs::remove_all(it->path() / kReusedBoostingFolder, ec);
            // Its TensorBoard files too, so that its curves do not continue into the corrected experiment's.
            if (fs::exists(fs::path(runDir) / "tensorboard")) {
                fs::remove_all(fs::path(runDir) / "tensorboard.replaced", ec);
                fs::rename(fs::path(runDir) / "tensorboard", fs::path(runDir) / "tensorboard.replaced", ec);
            }
            writeFileAtomically((fs::path(runDir) / "config.yaml").string(), yaml);
        } else {
            outcome.resumed = true;
            // What documents the experiment without being it (description, source, the published numbers it is
            // compared with) follows the file that resumed the run, so that results.csv, `caspl export`, `caspl eval`
            // and the studio all read the same numbers.
            // So do the choices of how it runs that are not the experiment (TensorBoard files, CUDA graphs), so
            // that `caspl resume` keeps them.
            if (!opt.evalOnly &&
                (old.reference != given.reference || old.description != given.description || old.source != given.source ||
                 old.train.tensorboard != given.train.tensorboard || old.train.cudaGraphs != given.train.cudaGraphs))
                writeFileAtomically((fs::path(runDir) / "config.yaml").string(), yaml);
            try {
                const json j = json::parse(readFile((fs::path(runDir) / "run.json").string()));
                created = j.value("created", created);
                earlierRuntime = runtimeSpent(j, (fs::path(runDir) / "events.jsonl").string());
                // A resumed run reads its relative paths from the folder it started in.
                const std::string started = j.value("cwd", std::string());
                if (!started.empty() && fs::is_directory(started, cwdError)) cwd = started;
            } catch (...) {
            }
        }
    } else {
        writeFileAtomically((fs::path(runDir) / "config.yaml").string(), yaml);
    }
    const ExperimentSpec spec = withPathsUnder(given, cwd);
    // TensorBoard files while the run runs (not for `caspl eval`, which only repeats evaluations). The event log as
    // it was before this process places a resumed run's evaluations.
    std::unique_ptr<TensorBoardLiveWriter> tensorboard;
    std::string tensorboardProblem;
    if (given.train.tensorboard && !opt.evalOnly) {
        try {
            const fs::path log = fs::path(runDir) / "events.jsonl";
            const RunEventLog earlier = fs::exists(log) ? readEventLog(log.string()) : RunEventLog{};
            tensorboard = std::make_unique<TensorBoardLiveWriter>((fs::path(runDir) / "tensorboard").string(),
                                                                  DirLock::hostName(), earlier);
        } catch (const std::exception& e) {
            tensorboardProblem = e.what();
        }
    }
    JsonlSink jsonl((fs::path(runDir) / "events.jsonl").string(), userSink);
    TensorBoardSink sink(std::move(tensorboard), jsonl);
    // The process's first line in the log (runtimeFromEventLog counts each process's time from it).
    sink.log(LogLevel::Info, std::string(opt.evalOnly ? "evaluating run " : outcome.resumed ? "resuming run " : "starting run ") +
                                 runDir + " (" + methodLabel(spec) + ", " + runtimeDescription() + ")");
    if (!tensorboardProblem.empty())
        sink.log(LogLevel::Warning, "TensorBoard files: " + tensorboardProblem + "; the run goes on without them");
    if (!replaced.empty()) sink.log(LogLevel::Warning, replaced);
    // `caspl eval` leaves the run's status as it was (done, interrupted, ...): it re-evaluates, it does not run.
    // run.json is written from the run's thread and, while it runs, from whichever thread reports progress (every
    // minute, so that a crash loses at most that much of the time spent); never "running" again after the end.
    std::mutex runJsonMutex;
    bool ended = false;
    const auto setStatus = [&](const std::string& status, const std::string& message = "") {
        if (opt.evalOnly) return;
        std::lock_guard<std::mutex> lock(runJsonMutex);
        if (ended) return;
        const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - attemptStart).count();
        writeRunJson(runDir, given, status, created, cwd, earlierRuntime + spent, message);
        ended = status != "running";  // after the write: a "done" that cannot be written is followed by "failed"
    };
    setStatus("running");
    jsonl.setTick(opt.statusEverySeconds >= 0 ? opt.statusEverySeconds : 60.0, [&] {  // NaN or less than 0: a minute
        try {
            setStatus("running");
        } catch (const std::exception&) {
            // a full disk: the run's end writes run.json again, and says so if it cannot
        }
    });
    // The tick refers to what is above; it goes before they do.
    struct TickEnd {
        JsonlSink& sink;
        ~TickEnd() { sink.setTick(60, nullptr); }
    } tickEnd{jsonl};
    // The run as a session of TensorBoard's HParams dashboard, from its start; its end says how it ended and its
    // figures.
    try {
        sink.sessionStart(tensorBoardLiveSession(given, runDir));
    } catch (const std::exception& e) {
        sink.log(LogLevel::Warning, "TensorBoard HParams session: " + std::string(e.what()));
    }
    const auto endSession = [&](int status) {
        std::vector<std::pair<std::string, double>> metrics;
        try {
            metrics = tensorBoardSessionMetrics(readRunFolderStatus(runDir));
        } catch (const std::exception&) {
            // no figures yet
        }
        sink.sessionEnd(status, metrics);
    };

    const std::string label = methodLabel(spec);
    ResultFile all;
    // `caspl eval` re-evaluates the seeds one by one: the run's aggregates then hold every seed's result as its
    // folder has it (the new one for a seed evaluated again, the earlier one for a seed not reached yet), so an
    // evaluation that stops or fails part-way never leaves them with fewer seeds than before.
    const auto seedResultsOnDisk = [&] {
        ResultFile out;
        out.meta = all.meta;
        for (const auto& ds : spec.data.datasets)
            for (int K : spec.data.shots)
                for (int seed : spec.data.seeds) {
                    const fs::path f = fs::path(runDir) / ds / ("k" + std::to_string(K) + "_seed" + std::to_string(seed)) / "result.json";
                    if (!fs::exists(f)) continue;
                    auto rf = readResultJson(f.string());
                    for (auto& rec : rf.records) rec.run = runId;  // a seed written before the folder was moved
                    out.records.insert(out.records.end(), rf.records.begin(), rf.records.end());
                }
        return out;
    };
    all.meta = {{"experiment", spec.name}, {"hash", hash}, {"method", label}};

    try {
        const torch::Device device = pickDevice(spec.train.device, sink);
        ClipLoadOptions lo;
        lo.device = device;
        if (!device.is_cpu()) {
            if (spec.train.precision == Precision::Bf16) lo.dtype = torch::kBFloat16;
            if (spec.train.precision == Precision::Fp16) lo.dtype = torch::kFloat16;
        } else if (spec.train.precision != Precision::Fp32) {
            sink.log(LogLevel::Warning, "train.precision " + std::string(precisionName(spec.train.precision)) +
                                            " applies to CUDA only; running fp32 on the CPU");
        }
        const std::string studentPath = resolveModelPath(spec.models, spec.models.student);
        ClipCheckpoint studentInfo;
        ClipModel student = loadClip(studentPath, lo, &studentInfo);
        auto tok = std::make_shared<ClipTokenizer>(ClipTokenizer::load(studentInfo.folder));
        const int R = student->config().imageResolution;
        const int threads = opt.threads > 0 ? opt.threads : spec.data.loaderThreads;
        sink.log(LogLevel::Info, "student " + student->config().name() + " from " + studentInfo.source);

        const bool b2n = spec.data.protocol == Protocol::Base2Novel;
        const bool transfer = spec.data.protocol == Protocol::CrossDataset || spec.data.protocol == Protocol::DomainGeneralization;
        const bool trains = spec.method.kind != MethodKind::ZeroShot;
        checkPromptDepths(spec, student->config(), studentPath);
        int notTrained = 0;  // caspl eval: seeds without prompts yet

        for (const auto& dsName : spec.data.datasets) {
            sink.phaseChanged(runId, "data");
            DatasetData ds = readDataset(spec, dsName, runDir);
            const fs::path dsDir = fs::path(runDir) / dsName;
            fs::create_directories(dsDir);
            sink.log(LogLevel::Info, dsName + ": " + std::to_string(ds.full.train.size()) + " train, " +
                                         std::to_string(ds.full.val.size()) + " val, " + std::to_string(ds.full.test.size()) +
                                         " test images, " + std::to_string(ds.classnames.size()) + " classes");

            // Phase 2's prompts of every class must fit the student's context (77 tokens in CLIP): checked now, not
            // when phase 2 starts after phase 1 has trained (hours on ImageNet). The models made later reseed the
            // generator, so this one leaves the run's numbers as they were.
            if (trains) PromptedClip(student, toMethodConfig(spec, dsName), tok).checkPromptsFit(ds.classnames);

            // CasPL phase 1, once per dataset.
            std::string artifact;
            if (spec.phase1.enabled && trains) {
                if (!spec.phase1.artifact.empty()) {
                    const std::string source = fs::exists(fs::path(spec.phase1.artifact) / dsName / "boosting.json")
                                                   ? (fs::path(spec.phase1.artifact) / dsName).string()
                                                   : spec.phase1.artifact;
                    // The run cascades its own copy (boosting.h): the artifact may be trained again, or deleted,
                    // between two seeds, before a resume or before `caspl eval`.
                    artifact = (dsDir / kReusedBoostingFolder).string();
                    if (!fs::exists(fs::path(artifact) / "boosting.json")) {
                        try {
                            copyBoostingArtifact(source, artifact);
                        } catch (const Error& e) {
                            throw Error("phase1.artifact: " + std::string(e.what()));
                        }
                        sink.log(LogLevel::Info, dsName + ": reusing boosting prompts " + source + " (copied into the run: " +
                                                     artifact + ")");
                        // A run folder from before runs kept this copy: its trained seeds cascaded the artifact as it
                        // was then, which nothing recorded.
                        bool trainedBefore = false;
                        std::error_code dirEc;
                        for (auto it = fs::directory_iterator(dsDir, dirEc); !dirEc && it != fs::directory_iterator(); it.increment(dirEc))
                            trainedBefore = trainedBefore || fs::exists(it->path() / "prompts.safetensors");
                        if (trainedBefore)
                            sink.log(LogLevel::Warning, dsName + ": seeds of this run were trained before it kept a copy of "
                                                                 "its boosting prompts; if " + source + " changed since, "
                                                                 "they cascaded other prompts than the seeds after them");
                    } else if (!fs::exists(boostingManifestPath(source))) {
                        sink.log(LogLevel::Info, dsName + ": reusing the run's copy of the boosting prompts " + artifact + " (" +
                                                     source + " is gone)");
                    } else if (!sameBoostingTensors(source, artifact)) {
                        sink.log(LogLevel::Warning, dsName + ": the boosting prompts " + source +
                                                        " changed since this run copied them; the run goes on with its copy (" +
                                                        artifact + "), so that all its seeds cascade the same prompts; to use "
                                                        "the new ones, start another run (another name or output folder)");
                    } else {
                        sink.log(LogLevel::Info, dsName + ": reusing boosting prompts " + source + " (the run's copy: " + artifact + ")");
                    }
                    // Boosting prompts distil the teacher on one dataset's images and class names: reused on another
                    // dataset they may be what the researcher wants (a transfer study), or a mistaken path. Said.
                    try {
                        const BoostingManifest m = readBoostingManifest(artifact);
                        if (!m.classListHash.empty() && m.classListHash != classListHash(ds.classnames))
                            sink.log(LogLevel::Warning, dsName + ": the boosting prompts " + artifact + " were learned on " +
                                                            (m.dataset.empty() ? std::string("another dataset") : m.dataset) + " (" +
                                                            std::to_string(m.classes) + " classes), not on this dataset's " +
                                                            std::to_string(ds.classnames.size()) +
                                                            " classes; the phase1 keys of this experiment other than its "
                                                            "layout did not make them");
                    } catch (const std::exception&) {
                        // an unreadable manifest is named where the prompts are loaded (loadBoostingArtifact)
                    }
                } else {
                    artifact = (dsDir / "phase1").string();
                    if (fs::exists(fs::path(artifact) / "boosting.json")) {
                        sink.log(LogLevel::Info, dsName + ": phase 1 already done (" + artifact + ")");
                    } else if (opt.evalOnly) {
                        sink.log(LogLevel::Warning, dsName + ": phase 1 has not finished, so no seed has prompts to "
                                                             "evaluate; continue the run with: caspl resume " + runDir);
                        notTrained += int(spec.data.shots.size() * spec.data.seeds.size());
                        continue;
                    } else {
                        sink.phaseChanged(runId, "phase1");
                        const std::string teacherPath = resolveModelPath(spec.models, spec.models.teacher);
                        ClipModel teacher = loadClip(teacherPath, lo);
                        torch::manual_seed(uint64_t(spec.phase1.seed));
                        PromptedClip p1(student, toPhase1MethodConfig(spec), tok);
                        p1.setTeacher(teacher, ds.promptTemplate);
                        p1.setClassNames(ds.classnames);
                        p1.setTextChunk(spec.train.textChunk);
                        std::vector<Datum> pool = spec.phase1.pool == Phase1Pool::Train  ? ds.full.train
                                                  : spec.phase1.pool == Phase1Pool::Test ? ds.full.test
                                                                                          : folderPool(spec.phase1.poolFolder);
                        auto lopt = trainLoaderOptions(R, spec.phase1.batchSize, uint64_t(spec.phase1.seed), threads, stop,
                                                       spec.train.cropScaleMin);
                        if (int64_t(pool.size()) < spec.phase1.batchSize) lopt.dropLast = false;
                        lopt.rawPixels = device.is_cuda();  // bytes over the bus, normalised on the GPU
                        ImageLoader loader(pool, lopt);
                        TrainOptions to;
                        to.run = runId;
                        to.phase = "phase1";
                        to.dataset = dsName;
                        to.schedule = {spec.phase1.lr, spec.phase1.epochs, spec.train.warmupEpochs, spec.train.warmupLr,
                                       lrSchedulerName(spec.train.lrScheduler)};
                        to.momentum = spec.train.momentum;
                        to.weightDecay = spec.train.weightDecay;
                        to.checkpointDir = artifact;
                        to.stepMode = spec.train.cudaGraphs && p1.device().is_cuda() ? StepMode::CudaGraph : StepMode::Eager;
                        // The teacher's pass runs in large batches: 256 on a GPU (the size `caspl bench` times).
                        const int teacherBatch = std::max(device.is_cuda() ? 256 : 32, spec.phase1.batchSize);
                        if (spec.phase1.teacherCache)
                            to.beforeEpoch = [&](int epoch) {
                                sink.log(LogLevel::Info, "phase 1: teacher cache for epoch " + std::to_string(epoch + 1));
                                p1.setTeacherImageFeatures(computeTeacherFeatures(p1.teacher(), pool, lopt, epoch,
                                                                                  teacherBatch, &stop));
                            };
                        auto tr = trainPrompts(p1, loader, to, sink, stop);
                        outcome.skippedImages += tr.skippedImages;
                        BoostingManifest m;
                        m.teacher = given.models.teacher;  // as the experiment names them
                        m.student = given.models.student;
                        m.dataset = dsName;
                        m.epochs = spec.phase1.epochs;
                        m.seed = uint64_t(spec.phase1.seed);
                        m.finalLoss = tr.finalLoss;
                        m.pool = spec.phase1.pool == Phase1Pool::Folder ? spec.phase1.poolFolder : phase1PoolName(spec.phase1.pool);
                        m.poolImages = int64_t(pool.size());
                        saveBoostingArtifact(artifact, p1, m);
                        sink.log(LogLevel::Info, dsName + ": boosting prompts saved to " + artifact + " (final KD loss " +
                                                     std::to_string(tr.finalLoss) + ")");
                    }
                }
            }

            for (int K : spec.data.shots) {
                for (int seed : spec.data.seeds) {
                    const std::string tag = "k" + std::to_string(K) + "_seed" + std::to_string(seed);
                    const fs::path seedDir = dsDir / tag;
                    const fs::path seedResult = seedDir / "result.json";
                    if (fs::exists(seedResult) && !opt.evalOnly) {
                        auto rf = readResultJson(seedResult.string());
                        // Named after the folder as it is now (it may have been moved or copied since this seed ran).
                        for (auto& rec : rf.records) rec.run = runId;
                        all.records.insert(all.records.end(), rf.records.begin(), rf.records.end());
                        sink.log(LogLevel::Info, dsName + " " + tag + ": already done, skipped");
                        continue;
                    }
                    fs::create_directories(seedDir);
                    FewShotOptions fo;
                    fo.numShots = K;
                    fo.seed = seed;
                    fo.subsample = b2n ? Subsample::Base : Subsample::All;
                    DatasetSplit trainSplit = buildFewShotSplit(ds.full, ds.protocol, fo);
                    DatasetSplit novelSplit;
                    if (b2n) {
                        fo.subsample = Subsample::New;
                        novelSplit = buildFewShotSplit(ds.full, ds.protocol, fo);
                    }
                    {
                        json lists{{"dataset", dsName}, {"shots", K}, {"seed", seed}, {"protocol", protocolName(spec.data.protocol)}};
                        lists[b2n ? "base" : "all"] = json::parse(splitZhouToJson(trainSplit));
                        if (b2n) lists["novel"] = json::parse(splitZhouToJson(novelSplit));
                        writeFileAtomically((dsDir / ("lists_" + tag + ".json")).string(), lists.dump(1) + "\n");
                    }
                    const auto trainNames = namesOf(trainSplit);
                    MethodConfig mc = toMethodConfig(spec, dsName);
                    torch::manual_seed(uint64_t(seed));
                    PromptedClip model(student, mc, tok);
                    model.setTextChunk(spec.train.textChunk);
                    model.setClassNames(trainNames);
                    if (mc.cascaded()) loadBoostingArtifact(model, artifact);

                    const fs::path promptsPath = seedDir / "prompts.safetensors";
                    int trainedEpochs = 0;
                    if (trains) {
                        if (opt.evalOnly) {
                            if (!fs::exists(promptsPath)) {
                                sink.log(LogLevel::Warning, dsName + " " + tag + ": not trained yet (no " + promptsPath.string() +
                                                                "); continue the run with: caspl resume " + runDir);
                                ++notTrained;
                                continue;
                            }
                            model.loadPrompts(loadSafetensors(promptsPath.string()), promptsPath.string(), false);
                            trainedEpochs = spec.train.epochs;
                        } else {
                            sink.phaseChanged(runId, spec.phase1.enabled ? "phase2" : "train");
                            auto lopt = trainLoaderOptions(R, spec.train.batchSize, uint64_t(seed), threads, stop, spec.train.cropScaleMin);
                            if (int64_t(trainSplit.train.size()) < spec.train.batchSize) lopt.dropLast = false;
                            lopt.rawPixels = device.is_cuda();
                            ImageLoader loader(trainSplit.train, lopt);
                            TrainOptions to;
                            to.run = runId;
                            to.phase = spec.phase1.enabled ? "phase2" : "train";
                            to.dataset = dsName;
                            to.shots = K;
                            to.seed = seed;
                            to.schedule = {spec.train.lr, spec.train.epochs, spec.train.warmupEpochs, spec.train.warmupLr,
                                           lrSchedulerName(spec.train.lrScheduler)};
                            to.momentum = spec.train.momentum;
                            to.weightDecay = spec.train.weightDecay;
                            to.gpa = spec.method.kind == MethodKind::PromptSRC;
                            to.gpaMean = spec.method.gpaMean;
                            to.gpaStd = spec.method.gpaStd;
                            to.checkpointDir = seedDir.string();
                            to.stepMode = spec.train.cudaGraphs && model.device().is_cuda() ? StepMode::CudaGraph : StepMode::Eager;
                            auto tr = trainPrompts(model, loader, to, sink, stop);
                            outcome.skippedImages += tr.skippedImages;
                            trainedEpochs = tr.epochs;
                            saveSafetensors(promptsPath.string(), model.trainable(),
                                            {{"method", mc.describe()}, {"dataset", dsName}, {"seed", std::to_string(seed)}});
                        }
                    }

                    // Evaluation.
                    sink.phaseChanged(runId, "eval");
                    ResultFile rf;
                    rf.meta = all.meta;
                    std::vector<PerClassEval> perClass;
                    const auto evalOn = [&](const std::string& evalDataset, const std::string& split,
                                            const std::vector<Datum>& test, const std::vector<std::string>& names) {
                        model.setClassNames(names);
                        auto elo = evalLoaderOptions(spec, R, threads, stop);
                        elo.rawPixels = device.is_cuda();
                        ImageLoader loader(test, elo);
                        auto er = evaluatePrompts(model, loader, &sink, &stop, runId, "eval-" + split, evalDataset, K, seed);
                        EvalRow row{runId, evalDataset, label, seed, split, trainedEpochs, er.accuracy(), er.correct, er.total, er.skipped, K};
                        sink.evalRow(row);
                        sink.log(LogLevel::Info, evalDataset + " " + split + " seed " + std::to_string(seed) + ": " +
                                                     std::to_string(er.accuracy()) + "% (" + std::to_string(er.correct) + "/" +
                                                     std::to_string(er.total) + ")");
                        rf.records.push_back(toResultRecord(row, K));
                        try {
                            perClass.push_back({runId, evalDataset, label, split, K, seed, trainedEpochs, classResults(er.classes, names)});
                        } catch (const std::exception& e) {  // bookkeeping: never fails the run
                            sink.log(LogLevel::Warning, evalDataset + " " + split + " seed " + std::to_string(seed) +
                                                            ": per-class results not recorded: " + e.what());
                        }
                        outcome.skippedImages += er.skipped;
                    };
                    if (b2n) {
                        evalOn(dsName, "base", trainSplit.test, trainNames);
                        evalOn(dsName, "novel", novelSplit.test, namesOf(novelSplit));
                    } else if (transfer) {
                        evalOn(dsName, "all", trainSplit.test, trainNames);
                        for (const auto& other : spec.data.evalDatasets) {
                            if (other == dsName) continue;
                            DatasetData od = readDataset(spec, other, runDir);
                            evalOn(other, "all", od.full.test, od.classnames);
                        }
                    } else {
                        evalOn(dsName, "all", trainSplit.test, trainNames);
                    }
                    // Before result.json, which marks the seed as done; a failure here is only a warning.
                    try {
                        writePerClassJson((seedDir / "per_class.json").string(), perClass);
                    } catch (const std::exception& e) {
                        sink.log(LogLevel::Warning, dsName + " " + tag + ": per-class results not written: " + e.what());
                    }
                    writeResultJson(seedResult.string(), rf);
                    all.records.insert(all.records.end(), rf.records.begin(), rf.records.end());
                    // Aggregates after every seed, so a stopped run still has them.
                    const ResultFile aggregate = opt.evalOnly ? seedResultsOnDisk() : all;
                    writeResultJson((fs::path(runDir) / "result.json").string(), aggregate);
                    writeResultsCsv((fs::path(runDir) / "results.csv").string(), summarizeWithReference(aggregate.records, spec));
                }
            }
        }
        if (opt.evalOnly && all.records.empty())
            throw Error(runDir + ": nothing to evaluate: no seed has trained prompts yet (" + std::to_string(notTrained) +
                        " not trained); continue the run with: caspl resume " + runDir);
        if (const auto fr = fusedResidualInfo(); device.is_cuda() && fr.checked == 0)
            sink.log(LogLevel::Warning, "the fused residual product (CASPL_FUSED_RESIDUAL) is off: " + fr.error +
                                            "; inference ran with separate residual adds (same results, slower)");
        if (opt.evalOnly) all.records = seedResultsOnDisk().records;
        outcome.records = all.records;
        outcome.summary = summarizeWithReference(all.records, spec);
        writeResultJson((fs::path(runDir) / "result.json").string(), all);
        writeResultsCsv((fs::path(runDir) / "results.csv").string(), outcome.summary);
        setStatus("done");
        endSession(1);
        sink.phaseChanged(runId, "done");
        return outcome;
    } catch (const Interrupted& i) {
        setStatus("interrupted", "stopped during " + i.where + "; resume with: caspl resume " + runDir);
        endSession(0);
        sink.log(LogLevel::Warning, "stopped during " + i.where + (opt.evalOnly ? "" : "; resume with: caspl resume " + runDir));
        throw;
    } catch (const std::exception& e) {
        setStatus("failed", e.what());
        endSession(2);
        sink.log(LogLevel::Error, e.what());
        throw;
    }
}

}  // namespace caspl
