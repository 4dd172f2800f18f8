#pragma once
// Many runs side by side, as W&B's runs table shows a sweep: one row per run folder with its state, its headline
// figures and the configuration keys whose values differ between the runs (a sweep's keys, a changed learning rate,
// another student), from each folder's config.yaml (`caspl status --config`, `caspl export --runs`, the
// studio's Runs tab), with the notes and tags written about each run (run_notes.h). No LibTorch, no Qt.
#include "core/engine/run_status.h"
#include "core/experiment/run_notes.h"

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace caspl {

// A YAML document as dotted keys in document order ("train.lr" -> "0.002"); sequences and other non-scalars in
// YAML's flow style ("[1, 2, 3]"), null as "null". Throws caspl::Error for malformed YAML, naming
// `source`:line:column.
using FlatConfig = std::vector<std::pair<std::string, std::string>>;
FlatConfig flattenYaml(const std::string& yaml, const std::string& source);
// A run's experiment flattened, without the keys that have no effect on it (inertKeys: PromptSRC's weights in a CoOp
// run, phase-1 keys with phase 1 off); `source` names it in errors.
FlatConfig runConfig(const ExperimentSpec& spec, const std::string& source);

// Whether a key that differs between runs gets a column: not the keys that name or document a run (name,
// description, source, output, reference.*), which differ between any two runs without saying how they differ.
bool runsTableKey(const std::string& key);

struct RunsTableRow {
    RunFolderStatus status;           // folder, name, method, state, evaluated / evaluations, base, novel, hm, accuracy
    FlatConfig config;                // config.yaml as this version resolves it, flattened, without inert keys (runConfig)
    std::vector<std::string> values;  // one per RunsTable::keys; "" where this run's configuration lacks the key
    RunNotes notes;                   // notes.json (run_notes.h)
    std::string notesError;           // why notes.json could not be read ("" when it could, or is absent)
};

struct RunsTable {
    std::vector<std::string> keys;  // the differing keys (runsTableKey), in order of first appearance
    std::vector<RunsTableRow> rows;
    // The row with the highest HM (the highest accuracy on all classes where no row has an HM); none when no row has
    // a figure, or when fewer than two rows do.
    std::optional<std::size_t> best;
};

// The table of rows whose status and config are given (keys, values and best computed). A key differs when two
// rows have different values for it, or when some rows lack it; rows without a configuration (unreadable) are not
// compared.
RunsTable makeRunsTable(std::vector<RunsTableRow> rows);

// Reads each run folder: readRunFolderStatus, and its config.yaml as this version resolves it (keys an earlier
// version did not write get their defaults, as on resume). A folder that cannot be read gets a row of state
// "unreadable" with the reason as its message (the other runs are still shown). A folder that does not hold a
// config.yaml yet and is in `notStarted` (a run queued in the studio, whose folder is made when it starts) gets a row
// of state "queued" with that experiment's configuration and planned evaluations, so a queued sweep shows its grid.
RunsTable readRunsTable(const std::vector<std::string>& folders, const std::map<std::string, ExperimentSpec>& notStarted = {});

// The rows holding every tag of `tags` (all rows when it is empty), keys and best computed again among them.
RunsTable runsWithTags(const RunsTable& table, const std::vector<std::string>& tags);

// A configuration value as a number ("0.002", "5e-4", "16"; a list of one number, "[4]", as a shots or seeds sweep
// writes data.shots, is that number), the same in every locale; none for text, "" or a value that is not finite.
std::optional<double> configNumber(const std::string& value);

// One vertical axis of a parallel-coordinates plot of runs (W&B's parallel coordinates: each run a line through one
// axis per differing key, then one for a figure). Positions run from 0 (bottom) to 1 (top).
struct ParallelAxis {
    std::string name;
    bool numeric = false;   // every value given is a number
    bool logScale = false;  // numeric, all positive and spanning a factor of 10 or more (learning rates, weights)
    double low = 0, high = 0;             // numeric: the smallest and largest value
    std::vector<std::string> categories;  // not numeric: the distinct values, sorted, spread evenly
    // Numeric: the distinct values as the runs wrote them (for the labels), ascending.
    std::vector<std::pair<double, std::string>> values;
    int decimals = -1;  // labels of numbers between those values: fixed decimals, or -1 for 3 significant digits

    // Where a value sits; none for "" (a run without the key) or a value the axis was not made from. All values equal
    // (or one category): 0.5.
    std::optional<double> position(const std::string& value) const;
    std::optional<double> position(double value) const;  // numeric axes
    double valueAt(double position) const;               // numeric axes: the value at a position (0 to 1)
    // What to write along the axis: every category; a key's distinct numbers when there are at most 8; else (and
    // always for a figure) the lowest, the highest and three values between (powers of ten on a log axis); a label
    // that reads as the one before it is left out.
    std::vector<std::pair<double, std::string>> ticks() const;
};

// A range brushed along one parallel axis, as W&B's parallel coordinates let a drag along an axis pick the runs
// whose value lies in a range. Held in values, not positions, so it holds while the axes are made again from other
// runs (a filter typed, a reload).
struct ParallelBrush {
    std::string axis;                     // the ParallelAxis's name
    bool numeric = false;
    double low = 0, high = 0;             // numeric: the values from low to high, both included (low > high: none)
    std::vector<std::string> categories;  // text: the categories inside
    // The values of `axis` between two positions (0 bottom to 1 top, either order; a range reaching an end of the
    // axis takes in its end value exactly).
    static ParallelBrush between(const ParallelAxis& axis, double from, double to);
    bool contains(const std::string& value) const;  // false for "" (a run without the key) and a value of the other kind
    bool contains(double value) const;              // a numeric brush's
    // Where it lies on `axis` (positions, low to high), to draw it; none when no value of it is on that axis.
    std::optional<std::pair<double, double>> span(const ParallelAxis& axis) const;
};

// An axis from the values the runs give a key ("" for a run without it: ignored). Numeric when every non-empty value
// is a number (configNumber).
ParallelAxis makeParallelAxis(std::string name, const std::vector<std::string>& values);
// A figure's axis (HM, accuracy): numeric, linear, labelled with 2 decimals.
ParallelAxis makeFigureAxis(std::string name, const std::vector<double>& values);

// How strongly a key that differs between runs goes with a figure, as W&B's parameter-importance panel ranks keys (its
// correlation column is Pearson's on the raw values; here ranks, so a learning rate swept on a log grid counts by
// order, not by size): for a numeric key Spearman's rank correlation (-1 to 1; the sign says whether higher values go
// with a higher figure), for a text key the correlation ratio eta (0 to 1: the square root of the share of the
// figure's variance between the key's values; no sign, and never below |rho| of the same split: compare a text key's
// eta with other etas).
struct KeyCorrelation {
    std::string key;
    bool numeric = false;  // Spearman's rho; else eta
    double value = 0;
    std::size_t runs = 0;  // the runs it is computed over: those with the key and the figure
};

// figures[i]: row i's figure, none to leave the row out (no figure yet, filtered out; a figure that is not finite
// too). A key is left out where it is not defined or says little: fewer than 3 runs, one value among them, the same
// figure for all, or a text key with fewer than two runs per value on average. Sorted by strength (|value|), strongest first. Throws caspl::Error when figures and rows differ in
// number.
std::vector<KeyCorrelation> keyCorrelations(const RunsTable& table, const std::vector<std::optional<double>>& figures);

// The figure the runs table ranks by: each row's HM where any row has one, else its accuracy on all classes.
std::vector<std::optional<double>> headlineFigures(const RunsTable& table);

// One line per run: folder, run (its name), method, state, evaluated, evaluations, each differing key, base, novel,
// hm, all (figures to 2 decimals, empty when none), tags ("a, b"), note. Fields quoted as CSV needs.
std::string runsTableCsvText(const RunsTable& table);

}  // namespace caspl
