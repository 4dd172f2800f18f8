#pragma once
// A run's curves and accuracies as TensorBoard event files (`caspl export --tensorboard`), so that runs of this
// tool sit next to the runs researchers already keep in TensorBoard (Dassl's trainers write there) and in
// Weights & Biases (`wandb sync DIR` uploads such files). No LibTorch, no Qt.
//
// The file format is TensorFlow's TFRecord of `Event` messages: per record the payload's length (uint64, little
// endian), the masked CRC-32C of those 8 bytes, the payload, the masked CRC-32C of the payload. The first event
// names the format version ("brain.Event:2"), the second marks a session start at the file's first step (so that
// a TensorBoard that had read an earlier export of the same training drops what it had from that step on); each
// further event holds one scalar summary (tag, float value) at a step and a wall time. The few protobuf fields this
// needs are written here (see tensorboard.cpp for why).
#include "core/engine/event_log.h"
#include "core/experiment/runs_table.h"

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace caspl {

// CRC-32C (Castagnoli polynomial, reflected, initial value and final xor 0xFFFFFFFF), as TFRecord uses it.
uint32_t crc32c(const void* data, std::size_t size);
// TFRecord's masked form of it: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t maskedCrc32c(const void* data, std::size_t size);
// One TFRecord: length, masked CRC of the length, payload, masked CRC of the payload.
std::string tfRecord(const std::string& payload);

struct TbScalar {
    std::string tag;        // "train/loss", "eval/novel", ...
    int64_t step = 0;
    double wallTime = 0;    // seconds since 1970-01-01 UTC
    double value = 0;       // written as a 32-bit float, as TensorBoard's simple_value is
};

// The bytes of one event file: the version event at `startTime`, a session-start event at the smallest step of
// `scalars` (none when there are no scalars), then one event per scalar in the given order.
std::string tfEventFile(const std::vector<TbScalar>& scalars, double startTime);

// One folder of the export: one training of a run (TensorBoard's "run"), with its scalars.
struct TbTraining {
    std::string folder;              // relative to the run's folder: "dtd/phase1", "dtd/16shots_seed1", "dtd/all_seed1"
    std::vector<TbScalar> scalars;   // sorted by step (ties keep the log's order)
};

// What the export writes for one run's event log:
// - each metric line's values as "train/<key>" (loss, loss.ce, lr, ...) at its step, in the folder of its training
//   (phase 1: "<dataset>/phase1"; phase 2 or a plain training: "<dataset>/<K>shots_seed<S>", "all_seed<S>" for K 0).
//   Lines that name no dataset (logs of early versions) go to "unnamed/<phase>_<n>", a new n each time the step
//   starts again.
// - each evaluation as "eval/<split>" (top-1 accuracy in percent), and "eval/hm" where base and novel were evaluated
//   at the same epoch, in the folder of the training it evaluated, at the last step of the epoch it evaluated (0
//   before training). An evaluation on another dataset than the one trained (cross-dataset, domain generalisation)
//   goes to the training that came before it in the log with the same K and seed, as "eval/<dataset>/<split>".
//   An evaluation without a training (zero-shot) has a folder of its own, at step 0. Where one folder holds
//   evaluations of several methods, the method comes first: "eval/<method>/...".
// - A resumed run logs the steps after its last checkpoint again: a step at or below one already seen in the same
//   training replaces what was logged from that step on. Evaluations repeated for the same method, dataset, split
//   and epoch keep the last one.
// A line's wall time is its "time" (RunEventLog::metricTimes / evalTimes); one without a time takes `fallbackTime`.
std::vector<TbTraining> tensorBoardTrainings(const RunEventLog& log, double fallbackTime);

// The HParams dashboard (TensorBoard's hparams plugin, as PyTorch's SummaryWriter.add_hparams and Keras's hp.hparams
// feed it): each exported run is a session with its hyperparameters and its headline figures, so that TensorBoard
// shows a sweep as a table, parallel coordinates and a scatter matrix.
struct TbSession {
    // Hyperparameter name -> value as config.yaml writes it: a number ("0.002") is written as a number, "true" and
    // "false" as booleans, anything else as text.
    std::vector<std::pair<std::string, std::string>> hparams;
    std::vector<std::pair<std::string, double>> metrics;  // scalar tag -> value, written at step 0 ("result/hm")
    int status = 0;         // the plugin's Status: 0 unknown, 1 success, 2 failure, 3 running
    double startTime = 0;   // seconds since 1970; 0: the run's first logged time
    double endTime = 0;     // 0 when it has not ended
    std::string modelUri;   // where the run keeps its checkpoints (its folder)
};

// The sessions of a runs table (runs_table.h), one per row that has a configuration: as hyperparameters "method"
// (methodLabel) and every key that differs between the runs; as metrics result/base, result/novel, result/hm,
// result/all (means over seeds, as `caspl status` shows them) and result/runtime_s where the run has them; the status from the run's state
// (done: success, failed: failure, running: running, else unknown).
std::vector<std::optional<TbSession>> tensorBoardSessions(const RunsTable& table);

// The headline figures of a run as session metrics: result/base, result/novel, result/hm and result/all where it has
// them (means over seeds, as `caspl status` shows them), and result/runtime_s, its runtime in seconds.
std::vector<std::pair<std::string, double>> tensorBoardSessionMetrics(const RunFolderStatus& status);
// The session a run writes while it runs (TensorBoardLiveWriter::sessionStart): "method" (methodLabel) and every key
// that the runs table compares (runConfig: not its name, the operational keys, the reference numbers or the keys
// without effect), as config.yaml writes them; its folder as model_uri.
TbSession tensorBoardLiveSession(const ExperimentSpec& spec, const std::string& runDir);

// How a hyperparameter's values are written (the plugin's DataType): as numbers when every session's value of it is
// a number, as booleans when every one is true/false, else all as text ("0.002" and "null" of one key both as text):
// TensorBoard filters a key's values by type, so one key has one type in every session and in the experiment.
enum class TbHParamType { Text = 1, Bool = 2, Number = 3 };
std::map<std::string, TbHParamType> tbHParamTypes(const std::vector<TbSession>& sessions);

// An event file holding one session: its start (tag _hparams_/session_start_info), each hyperparameter in its type
// (`types`; a name it lacks is typed from this session's value alone), its metrics as scalars at step 0, and its
// status (_hparams_/session_end_info; the plugin reads the status from there only, so a running run has one too,
// without an end time).
std::string tbSessionEventFile(const TbSession& session, double wallTime, const std::map<std::string, TbHParamType>& types = {});
// An event file holding the experiment (_hparams_/experiment): one hyperparameter per name in the sessions, typed
// from their values (all numbers: a number with their range; all booleans: a boolean; else text with the values
// seen), and one metric per tag, so that TensorBoard shows these and not every curve of every training as metrics.
std::string tbExperimentEventFile(const std::vector<TbSession>& sessions, double wallTime);

// One run to export: the name of its folder (the name it has in TensorBoard), the folder's path (recorded in the
// export so that another run of the same name does not take its place), its event log.
struct TbRun {
    std::string name;
    std::string source;
    RunEventLog log;
    std::optional<TbSession> session = std::nullopt;  // its HParams session, written into <name>/ itself
};

struct TbExportSummary {
    std::vector<std::string> files;     // the event files written, relative to the output folder
    int64_t scalars = 0;
    std::vector<std::string> warnings;  // runs with nothing to export, earlier files that could not be removed
};

// Writes `outDir/<name>/<training folder>/events.out.tfevents.<time>.<host>.caspl` for each run:
// - <name> is the run's name made safe for a folder (ASCII letters, digits, '.', '_', '-' and non-ASCII UTF-8 kept,
//   anything else '_'). `outDir/<name>/.caspl-run` records the run's `source`; a folder of that name that holds
//   another run's export, or a second run of the same name in `runs`, makes it "<name>_2", "<name>_3", ...
// - Refuses (caspl::Error naming the folder) to write into a run folder (one with config.yaml or run.json), whether
//   `outDir` is one or `outDir/<name>` would be (`outDir` the runs' folder).
// - Each file is written to a temporary name and renamed into place; only then are the event files an earlier export
//   of this tool left in that folder (names ending in ".caspl") removed, so that TensorBoard does not show a curve
//   twice and a failed export never loses the previous one. The new file's time is later than theirs, so that
//   TensorBoard, which reads a folder's files in name order, takes it as the newest.
// - A run with a session gets `outDir/<name>/events...caspl` with it (tbSessionEventFile; its model_uri the run's
//   `source`; hyperparameters that every exported session holds with the same value are left out, the method
//   stays; one type per key over the sessions), and when any run has one, `outDir` itself gets the experiment of
//   this export's sessions (tbExperimentEventFile), replacing an earlier export's: the HParams dashboard describes the
//   runs exported last (export a sweep's runs together): the session files earlier exports left in the folders of
//   other runs (those with `.caspl-run`) are removed, their curves stay.
// Throws caspl::Error naming the path on a write error.
TbExportSummary writeTensorBoard(const std::vector<TbRun>& runs, const std::string& outDir, const std::string& host,
                                 double now);

// `caspl export --tensorboard` and the studio's Runs tab: each run folder's events.jsonl (throws caspl::Error naming
// it when it is missing) exported by writeTensorBoard under its folder's name, each with its HParams session
// (tensorBoardSessions over these runs). A log whose last line is incomplete, or a run whose config.yaml does not
// load (no session), is named in the summary's warnings.
TbExportSummary exportRunsToTensorBoard(const std::vector<std::string>& runDirs, const std::string& outDir,
                                        const std::string& host, double now);

// A run's curves and accuracies written as TensorBoard event files while it runs, as Dassl's trainers do with
// SummaryWriter (`train.tensorboard`, on by default): `tensorboard --logdir runs` shows every run as it trains.
// The runner writes into <run>/tensorboard/<training folder>/, with the folders and tags of the export above:
// - Each process that runs the run (its start, each resume) writes one new file per training
//   (events.out.tfevents.<time>.<host>.caspl, named after the folder's earlier files so that TensorBoard reads it
//   last), appended and flushed event by event.
// - A new file's session-start event stands at the first step this process logs in that training, so that
//   TensorBoard drops what the earlier files hold from that step on: a resumed training logs the steps after its
//   last checkpoint again, and its evaluations after them are redone. A file that starts with an evaluation (the
//   training had ended) starts its session after the training's last step, dropping nothing.
// - An evaluation is "eval/<split>" at the last step of the epoch it evaluated, "eval/hm" once base and novel are
//   both there for that step; another dataset's (cross-dataset, domain generalisation) is "eval/<dataset>/<split>"
//   in the training before it with the same K and seed; one without a training (zero-shot) has a folder of its own
//   at step 0.
// `earlier` is the run's events.jsonl as it was before this process (empty for a new run): the steps, epochs and
// evaluations it holds place this process's evaluations. Not thread-safe: TensorBoardSink serialises the calls.
class TensorBoardLiveWriter {
public:
    TensorBoardLiveWriter(std::string dir, std::string host, const RunEventLog& earlier);
    // Throw caspl::Error naming the file when it cannot be written.
    void metric(const MetricEvent& e, double wallTime);
    void evaluation(const EvalRow& r, double wallTime);
    // The run as a session of the HParams dashboard, as PyTorch's SummaryWriter.add_hparams writes one, in a file of
    // this process in `dir` itself (the session; its trainings' folders hold its curves): sessionStart writes its
    // hyperparameters, without a status (TensorBoard may keep the first status it reads for a session, so a "running"
    // would stay); sessionEnd appends the headline figures as scalars at step 0 ("result/hm") and, for 1 (success)
    // or 2 (failure), the status with the end time (a stopped run, which resumes later, gets none). A resumed run's
    // process writes a newer file, which TensorBoard reads last. With no experiment summary in the log folder,
    // TensorBoard builds the dashboard from these sessions: `tensorboard --logdir runs` shows every run's keys.
    void sessionStart(const TbSession& session, double wallTime);
    void sessionEnd(int status, const std::vector<std::pair<std::string, double>>& metrics, double wallTime);
    const std::vector<std::string>& files() const { return files_; }  // written by this process, relative to dir
    int64_t scalars() const { return scalars_; }

private:
    struct Folder {
        std::string name;                         // relative to dir
        int64_t lastStep = -1;                   // the training's last step so far (-1: none)
        std::map<int, int64_t> lastStepOfEpoch;
        std::map<std::tuple<std::string, std::string, int64_t>, double> accuracy;  // (target, split, step) -> %
        std::unique_ptr<std::ofstream> out;       // this process's file, once something was written
        std::string path;
    };
    // Updates the bookkeeping; returns the folder and fills what an evaluation is written as.
    Folder* noteMetric(const MetricEvent& e);  // null for a line that names no dataset (early logs)
    Folder& noteEval(const EvalRow& r, std::string& tagPrefix, int64_t& step, std::optional<double>& hm);
    void write(Folder& f, int64_t sessionStep, const std::vector<TbScalar>& scalars);
    Folder& folder(const std::string& name);
    std::string dir_, host_;
    std::map<std::string, Folder> folders_;
    std::map<std::pair<int, int>, std::string> lastTraining_;  // (K, seed) -> the last phase-2 training's folder
    std::vector<std::string> files_;
    int64_t scalars_ = 0;
    Folder* open_ = nullptr;  // the one folder whose file is open (a run has many trainings)
    std::string sessionPath_;  // this process's HParams session file ("" before sessionStart)
};

// Passes every event on to `next` and writes metrics and evaluations with `writer` (may be null: nothing written).
// A write error is logged once, as a warning through `next`, and ends the writing; the run goes on.
class TensorBoardSink : public EventSink {
public:
    TensorBoardSink(std::unique_ptr<TensorBoardLiveWriter> writer, EventSink& next);
    void progress(const ProgressEvent& e) override { next_.progress(e); }
    void metric(const MetricEvent& e) override;
    void evalRow(const EvalRow& r) override;
    void log(LogLevel l, const std::string& m) override { next_.log(l, m); }
    void phaseChanged(const std::string& run, const std::string& phase) override { next_.phaseChanged(run, phase); }
    // TensorBoardLiveWriter::sessionStart / sessionEnd, guarded as the events are.
    void sessionStart(const TbSession& session);
    void sessionEnd(int status, const std::vector<std::pair<std::string, double>>& metrics);
    const TensorBoardLiveWriter* writer() const { return writer_.get(); }

private:
    template <typename F>
    void guarded(F f);
    std::unique_ptr<TensorBoardLiveWriter> writer_;
    EventSink& next_;
    std::mutex mu_;
};

}  // namespace caspl
