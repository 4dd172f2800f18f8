#pragma once
// Results of experiments: one record per (dataset, method, shots, seed, split), their aggregation into the
// paper's tables (spec §2.4, §5.4) and the files that carry them: a run's result.json and results.csv.
//
// Aggregation, per dataset x method x shots:
//   - each seed's accuracy, rounded to 1 decimal first with Rounding::Paper (what the reference logs and averages,
//     spec §2.4), exact with Rounding::None;
//   - mean and standard deviation over seeds of base, novel and all (population std, as numpy.std);
//   - HM = 2 B N / (B + N) of the seed-averaged B and N (spec §5.4; per seed too, for information);
// and per method x shots over datasets (the "Average" row): B and N averaged over the datasets that have both,
// HM of those two averages (not the mean of the per-dataset HMs, spec §5.4), `all` averaged likewise.
//
// results.csv (RFC 4180: comma separated, CRLF line ends, fields with a comma, quote or line break quoted, quotes
// doubled), one header line, then for each group its seed rows, a mean row and a std row, then the average rows:
//   kind,dataset,method,shots,seed,n,base,novel,hm,all,base_correct,base_total,novel_correct,novel_total,
//   all_correct,all_total,skipped_images
// kind: seed | mean | std | average (dataset "average") | reference; n: seeds (mean/std) or datasets (average);
// empty cells where a value does not apply. A reference row (published numbers an experiment names under
// `reference:`) follows the std row of its dataset (or the average row: the average of the datasets' references,
// when every averaged dataset has one; n datasets); its seed is empty and it carries no counts (nor the
// reference's source: that stays in the run's config.yaml). Numbers are written exactly (shortest text that reads back to the same double).
#include "core/engine/events.h"
#include "core/experiment/experiment_spec.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace caspl {

struct ResultRecord {
    std::string run;          // run id (folder name), may be empty
    std::string dataset;
    std::string method;       // e.g. "promptsrc+caspl"
    int shots = 0;            // K (0: not recorded)
    int seed = 0;
    std::string split;        // "base", "novel", "all"
    int epoch = 0;            // the epoch evaluated; of several records for one key the latest epoch counts
    double accuracy = 0;      // top-1, percent
    int64_t correct = 0;
    int64_t total = 0;
    int64_t skippedImages = 0;
};

ResultRecord toResultRecord(const EvalRow& row, int shots = 0);
// 100 * correct / total, computed as Dassl does (0 when total is 0).
double accuracyPercent(int64_t correct, int64_t total);
// One decimal, as Python's "{:.1f}" prints it (the reference's log line and result file name).
double roundToPaper(double accuracy);
// 2 B N / (B + N); 0 when B + N is 0.
double harmonicMean(double base, double novel);

struct SeedStat {
    double mean = 0;
    double std = 0;  // population standard deviation
    int n = 0;
};
// Mean and population standard deviation of `values` (n = their count; all 0 when empty).
SeedStat statOf(const std::vector<double>& values);

struct SeedResult {
    std::string dataset, method;
    int shots = 0;
    int seed = 0;
    std::optional<double> base, novel, all, hm;  // after rounding
    std::optional<int64_t> baseCorrect, baseTotal, novelCorrect, novelTotal, allCorrect, allTotal;
    int64_t skippedImages = 0;                   // summed over the splits
};

struct GroupResult {
    std::string dataset, method;
    int shots = 0;
    std::vector<int> seeds;  // ascending
    std::optional<SeedStat> base, novel, all;
    std::optional<double> hm;  // of base.mean and novel.mean
};

struct AverageResult {
    std::string method;
    int shots = 0;
    std::vector<std::string> datasets;  // the datasets averaged
    std::optional<double> base, novel, hm, all;
};

// Published numbers for one dataset and method (an experiment's `reference:`, experiment_spec.h).
struct ReferenceResult {
    std::string dataset, method;  // method as results name it ("coop+caspl")
    int shots = 0;                // the K they were measured at; 0: any
    std::optional<double> base, novel, all;
    std::optional<double> hm;     // published; when not given, the HM of base and novel
    std::string source;
};
// The reference an experiment names, with its dataset resolved (the experiment's only one when not named) and
// its method labelled as the run's results are; nullopt when it names no numbers.
std::optional<ReferenceResult> referenceOf(const ExperimentSpec& spec);

// A reference set against one group (dataset "average": against an average row).
struct ReferenceRow {
    std::string dataset, method;
    int shots = 0;  // the group's K
    int n = 1;      // datasets averaged
    std::optional<double> base, novel, hm, all;  // hm: the published one, else of base and novel (averages: of the
                                                 // averaged base and novel, as for the results)
    std::string source;
};

struct ResultsSummary {
    Rounding rounding = Rounding::Paper;
    std::vector<SeedResult> seeds;        // grouped, in the groups' order, seeds ascending
    std::vector<GroupResult> groups;      // in order of first appearance of (dataset, method, shots)
    std::vector<AverageResult> averages;  // per (method, shots) with >= 2 datasets, in order of first appearance
    std::vector<ReferenceRow> references; // attachReferences: at most one per group and per average row
};

// Sets summary.references: for each group the first reference of its dataset, method and K (else the first of
// its dataset and method for any K, shots 0), with the values of the splits the group has; for each average row, when every dataset averaged has one, their average (base and novel averaged,
// HM of the two averages, `all` averaged: the way the results are averaged).
void attachReferences(ResultsSummary& summary, const std::vector<ReferenceResult>& references);
// summarizeResults with the experiment's rounding, and its reference attached.
ResultsSummary summarizeWithReference(const std::vector<ResultRecord>& records, const ExperimentSpec& spec);
// The reference row of a group (dataset "average" for an average row), or nullptr.
const ReferenceRow* findReference(const ResultsSummary& summary, const std::string& dataset, const std::string& method,
                                  int shots);

// Throws caspl::Error when two records have the same (dataset, method, shots, seed, split, epoch) or a split is
// not base/novel/all.
ResultsSummary summarizeResults(const std::vector<ResultRecord>& records, Rounding rounding);

// Several runs in one summary (`caspl export --csv RUN...`, the studio's "All runs" export).
struct RunRecords {
    std::string folder;                 // the run folder: its name tells a sweep's rows apart (the whole path where
                                        // two runs' folders have the same name)
    std::vector<ResultRecord> records;
    Rounding rounding = Rounding::Paper;  // the run's own eval.rounding (or one setting chosen for every run)
    std::vector<ReferenceResult> references;  // what its experiment compares with (referenceOf)
};
struct CombinedRuns {
    ResultsSummary summary;
    std::vector<std::string> labelledMethods;  // methods whose rows carry their run's label (see below)
};
// Each run's seeds are rounded by its own setting, so that a run's numbers do not depend on the runs exported with
// it. Runs holding the same method for the same dataset, shots, seed and split (a sweep over a hyper-parameter)
// keep their own rows: that method is written "<method> [<folder name>]" (their references too). The references
// are attached (attachReferences). Throws caspl::Error as summarizeResults.
CombinedRuns combineRuns(const std::vector<RunRecords>& runs);

// One line of results.csv.
struct ResultsCsvRow {
    std::string kind;  // seed | mean | std | average | reference
    std::string dataset, method;
    std::optional<int> shots, seed, n;
    std::optional<double> base, novel, hm, all;
    std::optional<int64_t> baseCorrect, baseTotal, novelCorrect, novelTotal, allCorrect, allTotal, skippedImages;
    bool operator==(const ResultsCsvRow& o) const;
};

const std::vector<std::string>& resultsCsvHeader();
std::vector<ResultsCsvRow> resultsCsvRows(const ResultsSummary& summary);
std::string resultsCsvText(const ResultsSummary& summary);
// Writes results.csv atomically (core/util/atomic_file.h).
void writeResultsCsv(const std::string& path, const ResultsSummary& summary);
// Reads it back; throws caspl::Error naming the file, line and column for malformed content.
std::vector<ResultsCsvRow> readResultsCsv(const std::string& path);
std::vector<ResultsCsvRow> parseResultsCsv(const std::string& text, const std::string& source);
// The records the seed rows stand for (one per split present; run and epoch are not in the CSV).
std::vector<ResultRecord> recordsFromCsvRows(const std::vector<ResultsCsvRow>& rows);

// RFC 4180 records (fields unquoted, "" un-doubled); accepts CRLF or LF. Throws caspl::Error naming `source`,
// the line and column of an unterminated or misplaced quote.
std::vector<std::vector<std::string>> parseCsv(const std::string& text, const std::string& source);
std::string csvField(const std::string& field);  // quoted when needed

// A run's result.json: {"format": "caspl-result", "version": 1, "meta": {string: string}, "records": [...]}.
struct ResultFile {
    std::map<std::string, std::string> meta;  // e.g. experiment name, resolved hash
    std::vector<ResultRecord> records;
};
std::string resultFileToJson(const ResultFile& file);
ResultFile resultFileFromJson(const std::string& json, const std::string& source);
void writeResultJson(const std::string& path, const ResultFile& file);  // atomically
ResultFile readResultJson(const std::string& path);                   // throws naming the file and the entry

}  // namespace caspl
