// `caspl run`, `resume`, `eval`, `export`, `status`: experiments headless, in batch.
#include "app/cli/cli.h"
#include "app/cli/cli_sink.h"
#include "core/engine/event_log.h"
#include "core/engine/run_status.h"
#include "core/engine/runner.h"
#include "core/engine/tensorboard.h"
#include "core/experiment/paper_table.h"
#include "core/experiment/per_class.h"
#include "core/experiment/presets.h"
#include "core/experiment/runs_table.h"
#include "core/experiment/spec_loader.h"
#include "core/experiment/sweep.h"
#include "core/util/atomic_file.h"
#include "core/util/dir_lock.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace caspl::cli {

namespace {

std::string opt(const std::optional<double>& v, const char* fmt = "%6.2f") {
    if (!v) return "     -";
    char b[32];
    std::snprintf(b, sizeof b, fmt, *v);
    return b;
}

std::string meanStd(const std::optional<SeedStat>& s) {
    if (!s) return "         -    ";
    char b[48];
    if (s->n > 1) std::snprintf(b, sizeof b, "%6.2f ± %-5.2f", s->mean, s->std);
    else std::snprintf(b, sizeof b, "%6.2f        ", s->mean);
    return b;
}

// Seconds since an ISO 8601 UTC time ("2026-12-07T01:02:03Z"); -1 when it does not parse.
double secondsSince(const std::string& iso) {
    const double t = parseEventTime(iso);
    return t > 0 ? std::difftime(std::time(nullptr), std::time_t(t)) : -1;
}

// The progress column: where the run is (or stopped), and for a running one its ETA and how fresh that line is.
std::string progressText(const RunFolderStatus& r) {
    if (!r.progress || r.state == "done") return "";
    const ProgressEvent& e = *r.progress;
    std::string t = e.phase;
    if (const std::string label = seriesLabel(e); !label.empty()) t += " (" + label + ")";
    if (e.epochs > 0) t += " epoch " + std::to_string(e.epoch) + "/" + std::to_string(e.epochs);
    if (e.steps > 0) t += " step " + std::to_string(e.step) + "/" + std::to_string(e.steps);
    if (r.state == "running") {
        if (e.etaSeconds >= 0) t += ", ETA " + clockText(e.etaSeconds);
        if (const double age = secondsSince(r.progressTime); age >= 0) t += ", " + clockText(age) + " ago";
    }
    return t;
}

}  // namespace

std::string formatSummaryTable(const ResultsSummary& s) {
    std::ostringstream o;
    char line[256];
    std::snprintf(line, sizeof line, "%-22s %-20s %5s  %-15s %-15s %-15s %6s\n", "dataset", "method", "shots", "base", "novel", "all",
                  "HM");
    o << line;
    // Published numbers the experiment names (`reference:`), and the run's difference to them.
    auto reference = [&](const std::string& dataset, const std::string& method, int shots,
                         std::optional<double> base, std::optional<double> novel, std::optional<double> all,
                         std::optional<double> hm) {
        const ReferenceRow* ref = findReference(s, dataset, method, shots);
        if (!ref) return;
        std::snprintf(line, sizeof line, "  %-20s %-20s %5s  %s         %s         %s         %s\n", "reference", "", "",
                      opt(ref->base).c_str(), opt(ref->novel).c_str(), opt(ref->all).c_str(), opt(ref->hm).c_str());
        o << line;
        auto diff = [](const std::optional<double>& mine, const std::optional<double>& theirs) {
            return mine && theirs ? opt(*mine - *theirs, "%+6.2f") : opt(std::nullopt);
        };
        std::snprintf(line, sizeof line, "  %-20s %-20s %5s  %s         %s         %s         %s\n", "difference", "", "",
                      diff(base, ref->base).c_str(), diff(novel, ref->novel).c_str(), diff(all, ref->all).c_str(),
                      diff(hm, ref->hm).c_str());
        o << line;
        if (!ref->source.empty()) o << "  (reference: " << ref->source << ")\n";
    };
    auto mean = [](const std::optional<SeedStat>& x) { return x ? std::optional<double>(x->mean) : std::nullopt; };
    for (const auto& g : s.groups) {
        std::snprintf(line, sizeof line, "%-22s %-20s %5d  %s %s %s %s\n", g.dataset.c_str(), g.method.c_str(), g.shots,
                      meanStd(g.base).c_str(), meanStd(g.novel).c_str(), meanStd(g.all).c_str(), opt(g.hm).c_str());
        o << line;
        reference(g.dataset, g.method, g.shots, mean(g.base), mean(g.novel), mean(g.all), g.hm);
    }
    for (const auto& a : s.averages) {
        std::snprintf(line, sizeof line, "%-22s %-20s %5d  %s         %s         %s         %s\n",
                      ("average of " + std::to_string(a.datasets.size())).c_str(), a.method.c_str(), a.shots, opt(a.base).c_str(),
                      opt(a.novel).c_str(), opt(a.all).c_str(), opt(a.hm).c_str());
        o << line;
        reference("average", a.method, a.shots, a.base, a.novel, a.all, a.hm);
    }
    return o.str();
}

namespace {

// Runs one experiment. `stop` is the command's one token, which the signal handlers set (StopHandlers): a
// Ctrl-C between two runs of a batch stops the next one at its start.
int runAndReport(const ExperimentSpec& spec, const RunOptions& ro, bool json, StopToken& stop,
                 ResultsSummary* summary = nullptr) {
    CliSink sink(json);
    try {
        auto out = runExperiment(spec, ro, sink, stop);
        if (summary) *summary = out.summary;
        if (!json) {
            std::cout << "\n" << formatSummaryTable(out.summary);
            std::cout << "run folder: " << out.runDir << " (results.csv, result.json, events.jsonl; per class: caspl export --per-class " << out.runDir << ")\n";
            if (out.skippedImages) std::cout << "skipped images: " << out.skippedImages << " (see events.jsonl)\n";
        }
        return kOk;
    } catch (const Interrupted& i) {
        std::cerr << "\ncaspl: interrupted during " << i.where << "; checkpoint saved. Resume with: caspl resume "
                  << (ro.runDir.empty() ? defaultRunDir(spec) : ro.runDir) << "\n";
        return kInterrupted;
    }
}

// The runs of a sweep side by side, best HM (else best accuracy on all classes) marked.
void printSweepSummary(const std::vector<std::string>& runDirs, const std::vector<std::optional<ResultsSummary>>& summaries,
                       const std::vector<std::string>& failures, const char* what) {
    std::size_t width = 3;
    for (const auto& d : runDirs) width = std::max(width, std::filesystem::path(d).filename().string().size());
    char line[512];
    std::cout << "\n" << what << ": " << runDirs.size() << " runs\n";
    std::snprintf(line, sizeof line, "%-*s  %-16s %5s  %6s  %6s  %6s  %6s\n", int(width), "run", "dataset", "shots", "base", "novel",
                  "all", "HM");
    std::cout << line;
    std::optional<double> best;
    std::string bestRun;
    std::size_t scoreParts = 0;
    const bool anyHm = std::any_of(summaries.begin(), summaries.end(), [](const auto& s) {
        return s && std::any_of(s->groups.begin(), s->groups.end(), [](const GroupResult& g) { return g.hm.has_value(); });
    });
    for (std::size_t i = 0; i < runDirs.size(); ++i) {
        const std::string name = std::filesystem::path(runDirs[i]).filename().string();
        if (!summaries[i]) {
            std::snprintf(line, sizeof line, "%-*s  failed: %s\n", int(width), name.c_str(), failures[i].c_str());
            std::cout << line;
            continue;
        }
        const auto mean = [](const std::optional<SeedStat>& x) { return x ? std::optional<double>(x->mean) : std::nullopt; };
        // A run of several datasets is ranked by its average (the paper's "average over datasets").
        std::optional<double> score;
        for (const auto& g : summaries[i]->groups) {
            std::snprintf(line, sizeof line, "%-*s  %-16s %5d  %s  %s  %s  %s\n", int(width), name.c_str(), g.dataset.c_str(),
                          g.shots, opt(mean(g.base)).c_str(), opt(mean(g.novel)).c_str(), opt(mean(g.all)).c_str(),
                          opt(g.hm).c_str());
            std::cout << line;
        }
        for (const auto& a : summaries[i]->averages) {
            std::snprintf(line, sizeof line, "%-*s  %-16s %5d  %s  %s  %s  %s\n", int(width), name.c_str(),
                          ("average of " + std::to_string(a.datasets.size())).c_str(), a.shots, opt(a.base).c_str(),
                          opt(a.novel).c_str(), opt(a.all).c_str(), opt(a.hm).c_str());
            std::cout << line;
        }
        // The score: the mean over the run's averages (several datasets), else over its groups (several K), of the
        // HM (or of the accuracy on all classes); none when one of them lacks it.
        std::vector<std::optional<double>> parts;
        for (const auto& av : summaries[i]->averages) parts.push_back(anyHm ? av.hm : av.all);
        if (parts.empty())
            for (const auto& g : summaries[i]->groups) parts.push_back(anyHm ? g.hm : mean(g.all));
        if (!parts.empty() && std::all_of(parts.begin(), parts.end(), [](const auto& p) { return p.has_value(); })) {
            double sum = 0;
            for (const auto& p : parts) sum += *p;
            score = sum / double(parts.size());
            scoreParts = std::max(scoreParts, parts.size());
        }
        if (score && (!best || *score > *best)) {
            best = score;
            bestRun = name;
        }
    }
    if (best) {
        std::snprintf(line, sizeof line, "%.2f", *best);
        std::cout << "best " << (anyHm ? "HM" : "accuracy (all)")
                  << (scoreParts > 1 ? " (mean over each run's " + std::to_string(scoreParts) + " rows)" : std::string())
                  << ": " << bestRun << " (" << line << ")\n";
    }
    std::cout << "one CSV of them all: caspl export --csv";
    for (const auto& d : runDirs) std::cout << " " << d;
    std::cout << "\n";
}

}  // namespace

void addRunCommands(CLI::App& app, Action* action) {
    struct RunArgs {
        std::vector<std::string> presets;
        std::vector<std::string> sets, sweeps;
        std::string presetsDir, output, runDir;
        bool json = false;
        int threads = 0;
    };
    auto a = std::make_shared<RunArgs>();
    auto* run = app.add_subcommand("run", "Run experiments (presets or YAML files), resuming runs that exist");
    run->add_option("presets", a->presets, "Preset names (caspl presets list) or YAML files")->required();
    oneValueEach(run->add_option("--set", a->sets, "Override a key, e.g. --set train.epochs=5 (repeatable)")->check(keyValueForm()));
    oneValueEach(run->add_option("--sweep", a->sweeps,
                    "Run every combination of these values, e.g. --sweep train.lr=0.001,0.002 --sweep "
                    "method.n_ctx_text=4,8 (repeatable): one run folder each, named after its values "
                    "(runs/<name>-lr=0.001-n_ctx_text=4), then a table of them all; a run that fails does not stop "
                    "the others")
        ->type_name("KEY=V1,V2,..."));
    run->add_option("--presets,--presets-dir", a->presetsDir,
                    "Folder of presets (default: $CASPL_PRESETS, else the installed presets, else the source tree's "
                    "presets/)");
    run->add_option("--output", a->output, "Folder receiving the run folders (overrides the spec's output)");
    run->add_option("--run-dir", a->runDir, "Exact run folder (one preset only)");
    run->add_option("--loader-threads", a->threads, "Image decoding threads")->check(atLeast(0));
    run->add_flag("--json", a->json, "JSON-lines events on stdout (for scripts)");
    run->callback([action, a] {
        *action = [a] {
            // The sweep's combinations, the last --sweep varying fastest. Its mistakes are usage errors (exit 2).
            std::vector<SweepAxis> axes;
            std::vector<SweepCombination> combos;
            auto fixedSets = a->sets;
            if (!a->output.empty()) fixedSets.push_back("output=" + a->output);
            try {
                for (const auto& w : a->sweeps) axes.push_back(parseSweepAxis(w));
                checkSweepAxes(axes, fixedSets);
                combos = sweepCombinations(axes);
            } catch (const Error& e) {
                throw UsageError(std::string("--") + e.what());
            }
            const bool sweep = !axes.empty();
            if (!a->runDir.empty() && a->presets.size() * combos.size() > 1)
                throw UsageError("--run-dir names one run folder: give one preset with it and sweep nothing, or use "
                                 "--output for several");
            // The presets folder (--presets, $CASPL_PRESETS, the installed one, the source tree's) is needed only
            // for a preset name: experiments given as files run without one.
            std::string dir;
            try {
                dir = findPresetsDir(a->presetsDir, executableDir());
            } catch (const Error&) {
                std::error_code ec;
                const bool allFiles = std::all_of(a->presets.begin(), a->presets.end(),
                                                  [&](const std::string& p) { return std::filesystem::is_regular_file(p, ec); });
                if (!a->presetsDir.empty() || !allFiles) throw;
            }
            std::vector<ExperimentSpec> specs;
            std::vector<SpecDiagnostic> warnings;  // keys set that have no effect, said once each before anything runs
            for (const auto& p : a->presets) {  // validate everything before anything runs
                const std::string file = resolvePresetFile(p, dir);
                if (isAbstractFile(file))
                    throw Error(file + " is a fragment (abstract: true): presets extend it, it does not run on its own; "
                                       "run a preset that extends it (caspl presets list) or a YAML file of your own");
                // Named as `caspl presets show` names it (base2novel/coop/dtd, not dtd), so that every preset gets a
                // run folder of its own (runs/base2novel_coop_dtd); a sweep's runs add their values.
                LoadOptions lo;
                lo.name = presetNameOf(file, dir);
                const std::string presetName = loadExperiment(file, fixedSets, lo).name;
                std::vector<std::string> names;
                try {
                    names = sweepRunNames(presetName, axes, combos);
                } catch (const Error& e) {
                    throw UsageError(std::string("--") + e.what());
                }
                for (std::size_t c = 0; c < combos.size(); ++c) {
                    auto sets = fixedSets;
                    lo.overrideFlags.assign(sets.size(), "--set");
                    for (const auto& [k, v] : combos[c]) {
                        sets.push_back(k + "=" + v);
                        lo.overrideFlags.push_back("--sweep");
                    }
                    std::vector<SpecDiagnostic> found;
                    lo.warnings = &found;
                    ExperimentSpec spec = loadExperiment(file, sets, lo);
                    lo.warnings = nullptr;
                    for (const auto& w : found)
                        if (std::none_of(warnings.begin(), warnings.end(), [&](const SpecDiagnostic& x) { return x.str() == w.str(); }))
                            warnings.push_back(w);
                    spec.name = names[c];
                    specs.push_back(std::move(spec));
                }
            }
            for (const auto& w : warnings) std::cerr << "warning: " << w.str() << "\n";
            // Each experiment into a folder of its own, and no two the same experiment (a sweep's 0.1 and 1e-1, or
            // 4 and [4]): checked before anything runs, not when the second one finds the first one's folder.
            {
                std::map<std::string, std::size_t> byDir, byHash;
                for (std::size_t i = 0; i < specs.size(); ++i) {
                    const std::string dir = a->runDir.empty() ? defaultRunDir(specs[i]) : a->runDir;
                    if (const auto [it, fresh] = byDir.emplace(dir, i); !fresh)
                        throw UsageError("experiments '" + specs[it->second].name + "' and '" + specs[i].name + "' both go to " + dir +
                                         "; give them different names (name:) or run them separately");
                    ExperimentSpec unnamed = specs[i];
                    unnamed.name.clear();
                    if (const auto [it, fresh] = byHash.emplace(resolvedHash(unnamed), i); !fresh)
                        throw UsageError("'" + specs[it->second].name + "' and '" + specs[i].name +
                                         "' are the same experiment (their values differ only in how they are written, "
                                         "or in keys that have no effect on them); give each value once");
                }
            }
            StopToken stop;
            const StopHandlers handlers(stop);
            int rc = kOk;
            std::vector<std::string> runDirs, failures;
            std::vector<std::optional<ResultsSummary>> summaries;
            const bool several = sweep || specs.size() > 1;
            for (const auto& spec : specs) {
                RunOptions ro;
                ro.runDir = a->runDir;
                ro.threads = a->threads;
                if (!several) {
                    rc = runAndReport(spec, ro, a->json, stop);
                    if (rc != kOk) return rc;
                    continue;
                }
                // A sweep, or a batch of experiments, goes on past a run that fails (a learning rate that diverges, a
                // dataset one value names that is missing, a folder another process holds); the table at the end
                // names each failure. Exit code: bad input (3) if a run failed on it, else 1 if a run failed.
                runDirs.push_back(ro.runDir.empty() ? defaultRunDir(spec) : ro.runDir);
                ResultsSummary summary;
                std::string failure;
                int one = kOk;
                try {
                    one = runAndReport(spec, ro, a->json, stop, &summary);
                } catch (const RunFailed& e) {
                    failure = e.what();
                    if (rc == kOk) rc = kRunFailed;
                } catch (const Error& e) {
                    failure = e.what();
                    rc = kBadInput;
                } catch (const std::exception& e) {
                    failure = e.what();
                    if (rc == kOk) rc = kRunFailed;
                }
                if (one == kInterrupted) {
                    summaries.push_back(std::nullopt);
                    failures.push_back("interrupted; the runs after it did not start");
                    if (!a->json) printSweepSummary(runDirs, summaries, failures, sweep ? "sweep" : "batch");
                    return one;
                }
                if (!failure.empty()) std::cerr << "caspl: " << runDirs.back() << " failed: " << failure << "\n";
                summaries.push_back(failure.empty() ? std::optional<ResultsSummary>(std::move(summary)) : std::nullopt);
                failures.push_back(failure);
            }
            if (several && !a->json) printSweepSummary(runDirs, summaries, failures, sweep ? "sweep" : "batch");
            return rc;
        };
    });

    auto r = std::make_shared<RunArgs>();
    auto* resume = app.add_subcommand("resume", "Resume an interrupted or failed run from its folder");
    resume->add_option("run", r->runDir, "Run folder")->required();
    resume->add_flag("--json", r->json, "JSON-lines events on stdout");
    resume->add_option("--loader-threads", r->threads, "Image decoding threads")->check(atLeast(0));
    resume->callback([action, r] {
        *action = [r] {
            RunOptions ro;
            ro.runDir = r->runDir;
            ro.threads = r->threads;
            StopToken stop;
            const StopHandlers handlers(stop);
            return runAndReport(loadRunSpec(r->runDir), ro, r->json, stop);
        };
    });

    auto e = std::make_shared<RunArgs>();
    auto* eval = app.add_subcommand("eval", "Evaluate a run's saved prompts again (base/novel or all)");
    eval->add_option("run", e->runDir, "Run folder")->required();
    eval->add_flag("--json", e->json, "JSON-lines events on stdout");
    eval->callback([action, e] {
        *action = [e] {
            RunOptions ro;
            ro.runDir = e->runDir;
            ro.evalOnly = true;
            StopToken stop;
            const StopHandlers handlers(stop);
            return runAndReport(loadRunSpec(e->runDir), ro, e->json, stop);
        };
    });

    struct ExportArgs {
        std::vector<std::string> runs;
        std::string out;
        bool csv = true;
        bool curves = false;
        bool perClass = false;
        bool confusion = false;
        bool runsTable = false;
        std::vector<std::string> tags;
        std::string table;
        bool withReference = false;
        std::string tensorboard;
        std::string rounding;
    };
    auto x = std::make_shared<ExportArgs>();
    auto* exp = app.add_subcommand(
        "export", "Aggregate the results of run folders into one CSV or a paper's tables (--table); or one row per run (--runs), their per-class accuracy, confusion matrices, or training curves (CSV, TensorBoard)");
    exp->add_option("runs", x->runs, "Run folders")->required();
    exp->add_flag("--csv", x->csv, "CSV output (the default format of the results and of --curves)");
    exp->add_flag("--curves", x->curves,
                  "The training curves instead of the results: one row per step with every loss term and the learning "
                  "rate, from each run's events.jsonl");
    auto* perClass = exp->add_flag(
        "--per-class", x->perClass,
        "Per-class accuracy instead of the results: one row per class of each evaluation (images, correct, accuracy, "
        "the class most of its wrong images went to), each class's mean over seeds, and the mean class accuracy; from "
        "each seed's per_class.json");
    auto* confusion = exp->add_flag(
        "--confusion", x->confusion,
        "The confusion matrices instead of the results, in long form: one row per non-zero cell (true class, "
        "predicted class, images, percent of the true class's images) of each evaluation; from each seed's "
        "per_class.json");
    auto* runsFlag = exp->add_flag(
        "--runs", x->runsTable,
        "One row per run instead of the results: its state, the configuration keys whose values differ between the "
        "runs (a sweep's keys), and its base, novel, HM and all (mean over seeds; averaged over datasets when "
        "several), tags and note (caspl notes); a folder holding run folders (runs/) stands for them all");
    auto* tableOpt = exp->add_option(
        "--table", x->table,
        "The results as a paper's tables instead of CSV, to paste into a paper (latex: booktabs) or a README "
        "(markdown): base-to-novel, one table per dataset (the average first) with Base, Novel, HM; all classes, one "
        "table with a column per dataset; means over seeds, the best of each column in bold")
                         ->type_name("markdown|latex")
                         ->check(CLI::IsMember({"markdown", "latex"}));
    exp->add_flag("--with-reference", x->withReference,
                  "With --table: after each row whose experiment names published numbers (reference:, the paper's), "
                  "a row of them")
        ->needs(tableOpt);
    auto* tagOpt = oneValueEach(
        exp->add_option("--tag", x->tags, "With --runs: only the runs with this tag (repeatable, or a comma-separated list)")
            ->type_name("TAG"));
    tagOpt->needs(runsFlag);
    auto* tb = exp->add_option("--tensorboard", x->tensorboard,
                               "Write the runs' curves and accuracies as TensorBoard event files under this folder, one "
                               "sub-folder per run and training (then: tensorboard --logdir DIR, or wandb sync DIR)")
                  ->type_name("DIR")
                  ->check(CLI::Validator([](std::string& v) { return v.empty() ? std::string("a folder is needed") : std::string(); },
                                         "DIR"));
    auto* outOpt = exp->add_option("--out", x->out, "Output file (default: stdout); written atomically");
    exp->add_option("--rounding", x->rounding,
                    "paper (each seed's accuracy to 1 decimal first) or none (default: each run's own eval.rounding)")
        ->check(CLI::IsMember({"paper", "none"}));
    tb->excludes(outOpt);
    tb->excludes("--curves");
    tb->excludes("--rounding");
    tb->excludes("--csv");
    tb->excludes(perClass);
    perClass->excludes("--curves");
    perClass->excludes("--rounding");
    confusion->excludes(perClass);
    confusion->excludes(tb);
    confusion->excludes("--curves");
    confusion->excludes("--rounding");
    tableOpt->excludes(perClass);
    tableOpt->excludes(confusion);
    tableOpt->excludes(tb);
    tableOpt->excludes("--curves");
    tableOpt->excludes(runsFlag);
    tableOpt->excludes("--csv");
    runsFlag->excludes(perClass);
    runsFlag->excludes(confusion);
    runsFlag->excludes(tb);
    runsFlag->excludes("--curves");
    runsFlag->excludes("--rounding");
    exp->callback([action, x] {
        *action = [x] {
            // The event logs of the runs, each with its folder's name and path.
            const auto readLogs = [&x] {
                std::vector<TbRun> logs;
                for (const auto& r : x->runs) {
                    const std::string path = (std::filesystem::path(r) / "events.jsonl").string();
                    if (!std::filesystem::exists(path))
                        throw Error(path + ": not found (is " + r + " a run folder written by `caspl run`?)");
                    auto log = readEventLog(path);
                    if (log.truncatedLastLine) std::cerr << path << ": the last line is incomplete and was left out\n";
                    std::filesystem::path folder = std::filesystem::absolute(r).lexically_normal();
                    if (folder.filename().empty()) folder = folder.parent_path();
                    logs.push_back({folder.filename().string(), folder.string(), std::move(log), std::nullopt});
                }
                return logs;
            };
            if (!x->tensorboard.empty()) {
                // A folder with an event log is a run (a copy of one may lack its config.yaml); another stands for
                // the run folders in it (a sweep's). Each run once.
                std::vector<std::string> folders;
                std::set<std::filesystem::path> seen;
                for (const auto& p : x->runs) {
                    const std::vector<std::string> these = std::filesystem::exists(std::filesystem::path(p) / "events.jsonl")
                                                               ? std::vector<std::string>{p}
                                                               : findRunFolders({p});
                    for (const auto& f : these) {
                        std::error_code ec;
                        if (seen.insert(std::filesystem::weakly_canonical(std::filesystem::absolute(f), ec)).second) folders.push_back(f);
                    }
                }
                const TbExportSummary written =
                    exportRunsToTensorBoard(folders, x->tensorboard, DirLock::hostName(), double(std::time(nullptr)));
                for (const auto& f : written.files) std::cerr << "wrote " << (std::filesystem::path(x->tensorboard) / f).string() << "\n";
                for (const auto& w : written.warnings) std::cerr << "warning: " << w << "\n";
                if (written.files.empty()) throw Error("nothing exported: the runs have no metric or evaluation lines yet");
                std::cerr << written.files.size() << (written.files.size() == 1 ? " event file, " : " event files, ")
                          << written.scalars << " values; view them with: tensorboard --logdir " << x->tensorboard << "\n";
                return kOk;
            }
            if (x->runsTable) {
                const std::vector<std::string> tags = tagsOption("--tag", x->tags);
                // Problems are named before the tags select runs: a run whose notes do not load has no tags.
                const RunsTable all = readRunsTable(findRunFolders(x->runs));
                for (const auto& r : all.rows) {
                    if (r.status.state == "unreadable") std::cerr << r.status.folder << ": " << r.status.message << "\n";
                    if (!r.status.resultsError.empty()) std::cerr << "warning: " << r.status.resultsError << "\n";
                    if (!r.notesError.empty()) std::cerr << "warning: " << r.notesError << "\n";
                }
                const RunsTable table = runsWithTags(all, tags);
                if (table.rows.empty() && !tags.empty())
                    std::cerr << "none of the " << all.rows.size() << (all.rows.size() == 1 ? " run has" : " runs have")
                              << (tags.size() == 1 ? " the tag " : " every tag of ") << joinTags(tags) << "\n";
                const std::string text = runsTableCsvText(table);
                if (x->out.empty()) std::cout << text;
                else {
                    writeFileAtomically(x->out, text);
                    std::cerr << "wrote " << x->out << " (" << table.rows.size() << " runs, " << table.keys.size()
                              << " differing keys)\n";
                }
                return kOk;
            }
            if (x->perClass || x->confusion) {
                std::vector<PerClassEval> evals;
                for (const auto& r : x->runs) {
                    auto e = readRunPerClass(r);
                    const auto without = seedFoldersWithoutPerClass(r);
                    if (e.empty())
                        std::cerr << r << ": no per-class results (no seed evaluated yet, or evaluated by a version "
                                  << "before per-class counts were recorded: caspl eval " << r << " writes them)\n";
                    else if (!without.empty())
                        std::cerr << r << ": " << without.size() << (without.size() == 1 ? " seed folder has" : " seed folders have")
                                  << " results but no per-class results (" << without.front()
                                  << (without.size() > 1 ? ", ..." : "") << "), left out"
                                  << (x->confusion ? "" : " of the means") << ": caspl eval " << r
                                  << " writes them\n";
                    evals.insert(evals.end(), std::make_move_iterator(e.begin()), std::make_move_iterator(e.end()));
                }
                if (evals.empty()) throw Error("nothing exported: the runs have no per-class results");
                const auto rows = perClassRows(evals);  // also refuses an evaluation given twice
                const std::string text = x->confusion ? confusionCsvText(evals) : perClassCsvText(rows);
                if (x->out.empty()) std::cout << text;
                else {
                    writeFileAtomically(x->out, text);
                    std::cerr << "wrote " << x->out << " (" << evals.size() << " evaluations)\n";
                }
                return kOk;
            }
            if (x->curves) {
                std::vector<MetricEvent> metrics;
                for (auto& run : readLogs()) metrics.insert(metrics.end(), run.log.metrics.begin(), run.log.metrics.end());
                const std::string text = curvesCsvText(metrics);
                if (x->out.empty()) std::cout << text;
                else {
                    writeFileAtomically(x->out, text);
                    std::cerr << "wrote " << x->out << " (" << metrics.size() << " steps)\n";
                }
                return kOk;
            }
            // Each run's seeds are rounded by its own eval.rounding unless --rounding says otherwise (combineRuns).
            std::vector<RunRecords> runs;
            std::size_t records = 0;
            PaperTableOptions tableOptions;
            tableOptions.withReference = x->withReference;
            for (const auto& r : x->runs) {
                RunRecords rr;
                rr.records = loadRunRecords(r);
                const std::string status = runStatus(r);
                if (status != "done")
                    std::cerr << r << ": the run is " << (status.empty() ? "of unknown status" : status)
                              << "; its finished seeds are exported (" << rr.records.size() << " records)\n";
                // The run's configuration gives its rounding (unless --rounding does) and its reference numbers.
                std::optional<ExperimentSpec> spec;
                if (x->rounding.empty()) {
                    spec = loadRunSpec(r);
                    rr.rounding = spec->eval.rounding;
                } else {
                    rr.rounding = parseRounding(x->rounding);
                    try {
                        spec = loadRunSpec(r);
                    } catch (const std::exception& e) {
                        std::cerr << r << ": its configuration does not load, so it is exported without reference "
                                  << "numbers: " << e.what() << "\n";
                    }
                }
                if (spec) {
                    if (const auto ref = referenceOf(*spec)) rr.references.push_back(*ref);
                    for (const auto& d : tableSources(*spec)) tableOptions.sources.push_back(d);
                }
                rr.folder = r;
                records += rr.records.size();
                runs.push_back(std::move(rr));
            }
            const CombinedRuns combined = combineRuns(runs);
            for (const auto& m : combined.labelledMethods)
                std::cerr << "several runs hold " << m << " results for the same dataset, shots and seed: their rows "
                          << "carry the run folder's name after the method\n";
            const ResultsSummary& summary = combined.summary;
            if (!x->table.empty()) {
                const std::string text = paperTablesText(summary, parseTableFormat(x->table), tableOptions);
                if (text.empty()) throw Error("nothing exported: the runs have no results yet");
                if (x->out.empty()) std::cout << text;
                else {
                    writeFileAtomically(x->out, text);
                    std::cerr << "wrote " << x->out << " (" << records << " records)\n";
                }
                return kOk;
            }
            if (x->out.empty()) std::cout << resultsCsvText(summary);
            else {
                writeResultsCsv(x->out, summary);
                std::cerr << "wrote " << x->out << " (" << records << " records)\n";
            }
            return kOk;
        };
    });

    struct StatusArgs {
        std::vector<std::string> paths;
        bool json = false;
        bool config = false;
        std::vector<std::string> tags;
    };
    auto st = std::make_shared<StatusArgs>();
    auto* status = app.add_subcommand(
        "status", "Where runs stand: running (and by which process), done, failed, stopped or crashed; progress and HM");
    status->add_option("runs", st->paths, "Run folders, or folders holding them (default: runs)");
    status->add_flag("--json", st->json,
                     "One JSON object per run on stdout; with --config, then one {\"summary\": {...}} object: the "
                     "figure (hm or all), the best run's folder and each key's correlation with the figure");
    status->add_flag("--config", st->config,
                     "Also the configuration keys whose values differ between the runs (a sweep's keys), one column "
                     "each, the runs' tags (caspl notes), and the best run by HM; runs whose config.yaml does not load "
                     "are listed, not fatal");
    oneValueEach(status->add_option("--tag", st->tags, "Only the runs with this tag (repeatable, or a comma-separated list: every tag given)")
                     ->type_name("TAG"));
    status->callback([action, st] {
        *action = [st] {
            const std::vector<std::string> tags = tagsOption("--tag", st->tags);
            const std::vector<std::string> folders = findRunFolders(st->paths.empty() ? std::vector<std::string>{"runs"} : st->paths);
            RunsTable runsTable;
            std::vector<RunFolderStatus> rows;
            const bool withTable = st->config || !tags.empty();
            if (withTable) {
                const RunsTable all = readRunsTable(folders);
                // Named before the tags select runs: a run whose notes or configuration do not load has no tags.
                for (const auto& r : all.rows) {
                    if (!r.notesError.empty()) std::cerr << "warning: " << r.notesError << "\n";
                    if (!tags.empty() && r.status.state == "unreadable")
                        std::cerr << "warning: " << r.status.folder << ": " << r.status.message << "\n";
                }
                runsTable = runsWithTags(all, tags);
                for (const auto& r : runsTable.rows) rows.push_back(r.status);
                if (!st->config) {
                    runsTable.keys.clear();
                    runsTable.best.reset();
                }
                if (runsTable.rows.empty() && !tags.empty())
                    std::cerr << "none of the " << folders.size() << (folders.size() == 1 ? " run has" : " runs have")
                              << (tags.size() == 1 ? " the tag " : " every tag of ") << joinTags(tags) << "\n";
            } else {
                // A folder whose configuration does not load (damaged, or written by a newer version) is listed as
                // unreadable with the reason, as --config lists it: the other runs are still shown.
                for (const auto& f : folders) {
                    try {
                        rows.push_back(readRunFolderStatus(f));
                    } catch (const std::exception& e) {
                        RunFolderStatus bad;
                        bad.folder = f;
                        bad.name = std::filesystem::path(f).filename().string();
                        bad.state = "unreadable";
                        bad.message = e.what();
                        rows.push_back(bad);
                    }
                }
            }
            if (st->json) {
                for (std::size_t i = 0; i < rows.size(); ++i) {
                    const RunFolderStatus& r = rows[i];
                    nlohmann::json j{{"folder", r.folder}, {"name", r.name},           {"method", r.method},
                                     {"state", r.state},   {"message", r.message},     {"evaluated", r.evaluated},
                                     {"evaluations", r.evaluations}};
                    if (r.pid) j["pid"] = r.pid;
                    if (!r.host.empty()) j["host"] = r.host;
                    if (!r.resultsError.empty()) j["results_error"] = r.resultsError;
                    if (r.base) j["base"] = *r.base;
                    if (r.novel) j["novel"] = *r.novel;
                    if (r.hm) j["hm"] = *r.hm;
                    if (r.accuracy) j["accuracy"] = *r.accuracy;
                    if (r.runtime) j["runtime_s"] = std::round(*r.runtime * 1000) / 1000;
                    if (withTable) {
                        j["tags"] = runsTable.rows[i].notes.tags;
                        j["note"] = runsTable.rows[i].notes.note;
                    }
                    if (st->config) {
                        nlohmann::json config = nlohmann::json::object();
                        for (std::size_t k = 0; k < runsTable.keys.size(); ++k)
                            config[runsTable.keys[k]] = runsTable.rows[i].values[k];
                        j["config"] = std::move(config);
                        j["best"] = runsTable.best == i;
                    }
                    if (r.progress) {
                        const ProgressEvent& e = *r.progress;
                        j["progress"] = {{"phase", e.phase}, {"dataset", e.dataset}, {"shots", e.shots}, {"seed", e.seed},
                                         {"epoch", e.epoch}, {"epochs", e.epochs},   {"step", e.step},   {"steps", e.steps},
                                         {"eta_s", e.etaSeconds}, {"time", r.progressTime}};
                    }
                    std::cout << j.dump() << "\n";
                }
                // After the runs, what `status --config` prints under its table: the best run and the correlations.
                if (st->config) {
                    const bool hm = std::any_of(rows.begin(), rows.end(), [](const RunFolderStatus& r) { return r.hm.has_value(); });
                    nlohmann::json correlations = nlohmann::json::array();
                    for (const auto& c : keyCorrelations(runsTable, headlineFigures(runsTable)))
                        correlations.push_back({{"key", c.key}, {"measure", c.numeric ? "rho" : "eta"}, {"value", c.value}, {"runs", c.runs}});
                    nlohmann::json summary{{"figure", hm ? "hm" : "all"},
                                           {"best", runsTable.best ? nlohmann::json(rows[*runsTable.best].folder) : nlohmann::json()},
                                           {"correlations", std::move(correlations)}};
                    std::cout << nlohmann::json{{"summary", std::move(summary)}}.dump() << "\n";
                }
                return kOk;
            }
            // A tags column where a run shown has tags (--config).
            const bool tagColumn = st->config && std::any_of(runsTable.rows.begin(), runsTable.rows.end(),
                                                             [](const RunsTableRow& r) { return !r.notes.tags.empty(); });
            std::vector<std::vector<std::string>> table{{"run", "method"}};
            if (tagColumn) table.front().push_back("tags");
            table.front().insert(table.front().end(), runsTable.keys.begin(), runsTable.keys.end());
            for (const char* h : {"state", "results", "HM", "runtime", "progress"}) table.front().push_back(h);
            for (std::size_t i = 0; i < rows.size(); ++i) {
                const RunFolderStatus& r = rows[i];
                char figure[32] = "-";
                if (r.hm) std::snprintf(figure, sizeof figure, "%.2f", *r.hm);
                else if (r.accuracy) std::snprintf(figure, sizeof figure, "%.2f (all)", *r.accuracy);
                std::vector<std::string> line{r.folder, r.method};
                if (tagColumn) line.push_back(runsTable.rows[i].notes.tags.empty() ? "-" : joinTags(runsTable.rows[i].notes.tags));
                if (st->config)
                    for (const auto& v : runsTable.rows[i].values) line.push_back(v.empty() ? "-" : v);
                line.push_back(r.state + (r.pid ? " (pid " + std::to_string(r.pid) + (r.host.empty() ? "" : " on " + r.host) + ")" : ""));
                line.push_back(std::to_string(r.evaluated) + "/" + std::to_string(r.evaluations));
                line.push_back(figure);
                line.push_back(r.runtime ? clockText(*r.runtime) : "-");
                line.push_back(progressText(r));
                table.push_back(std::move(line));
            }
            std::vector<std::size_t> width(table.front().size(), 0);
            for (const auto& row : table)
                for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
            for (std::size_t i = 0; i < table.size(); ++i) {
                std::string line;
                for (std::size_t c = 0; c < table[i].size(); ++c) {
                    line += table[i][c];
                    if (c + 1 < table[i].size()) line += std::string(width[c] - table[i][c].size() + 2, ' ');
                }
                while (!line.empty() && line.back() == ' ') line.pop_back();
                std::cout << line << "\n";
                // Why a run failed, stopped or crashed, under it.
                if (i > 0 && !rows[i - 1].message.empty() && rows[i - 1].state != "done")
                    std::cout << "    " << rows[i - 1].message << "\n";
                if (i > 0 && !rows[i - 1].resultsError.empty()) std::cout << "    " << rows[i - 1].resultsError << "\n";
            }
            if (runsTable.best) {
                const RunFolderStatus& b = rows[*runsTable.best];
                char figure[32];
                std::snprintf(figure, sizeof figure, "%.2f", b.hm ? *b.hm : b.accuracy.value_or(0.0));
                std::cout << "best " << (b.hm ? "HM" : "accuracy (all)") << ": " << b.folder << " (" << figure << ")\n";
            }
            // Which keys went with the figure (W&B's parameter importance): rho for numbers, eta for text.
            if (st->config) {
                const auto figures = headlineFigures(runsTable);
                const bool hm = std::any_of(rows.begin(), rows.end(), [](const RunFolderStatus& r) { return r.hm.has_value(); });
                const auto correlations = keyCorrelations(runsTable, figures);
                if (!correlations.empty()) {
                    std::cout << "correlation with " << (hm ? "HM" : "accuracy (all)")
                              << " (Spearman's rho for numeric keys, the correlation ratio eta for text keys):\n";
                    std::size_t width = 0;
                    for (const auto& c : correlations) width = std::max(width, c.key.size());
                    for (const auto& c : correlations) {
                        char value[32];
                        std::snprintf(value, sizeof value, c.numeric ? "rho %+.2f" : "eta %5.2f", c.value);
                        std::cout << "  " << c.key << std::string(width - c.key.size() + 2, ' ') << value << "  (" << c.runs
                                  << " runs)\n";
                    }
                }
            }
            return kOk;
        };
    });
}

}  // namespace caspl::cli
