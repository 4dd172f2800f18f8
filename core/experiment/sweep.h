#pragma once
// A sweep: every combination of a few keys' values (`caspl run --sweep train.lr=0.001,0.002 --sweep
// method.n_ctx_text=4,8`, the studio's Run > Sweep…), each an experiment of its own with its values in its name, so
// that each gets its own run folder (runs/<name>-lr=0.001-n_ctx_text=4). No LibTorch, no Qt.
#include <string>
#include <utility>
#include <vector>

namespace caspl {

struct SweepAxis {
    std::string key;                  // a schema key, e.g. "train.lr"
    std::vector<std::string> values;  // as they would follow "--set key="
};
using SweepCombination = std::vector<std::pair<std::string, std::string>>;  // (key, value) per axis

// The most runs one sweep makes (a sweep of more is a mistake more often than a plan).
constexpr std::size_t kMaxSweepRuns = 1000;

// "KEY=V1,V2,...": the values split at the commas outside brackets and quotes (a list such as [1, 2] stays whole; a
// value that starts with a quote is quoted up to its closing quote), spaces around them trimmed. Throws caspl::Error
// naming `arg` for a missing '=', no value, an empty value, a value given twice, or an unbalanced bracket or quote.
// The key itself is checked where the values are applied (loadExperiment's overrides).
SweepAxis parseSweepAxis(const std::string& arg);
// Whether a key may be swept: not what names or documents the experiment (name, description, source, output,
// reference.*): the runs are named by their values, and would share one folder otherwise.
bool sweepableKey(const std::string& key);
// Throws caspl::Error for a key that cannot be swept, one swept twice, one also in `sets` ("key=value" overrides),
// or more than kMaxSweepRuns combinations.
void checkSweepAxes(const std::vector<SweepAxis>& axes, const std::vector<std::string>& sets);
// Every combination, the last axis varying fastest; one empty combination for no axes.
std::vector<SweepCombination> sweepCombinations(const std::vector<SweepAxis>& axes);
// The run name of one combination: `name` then "-<key>=<value>" per axis, the key's last part (all of it where two
// axes share the last part), the value's characters other than ASCII letters, digits and ._+- as '_'.
std::string sweepRunName(const std::string& name, const std::vector<SweepAxis>& axes, const SweepCombination& combination);
// The run names of all combinations; throws caspl::Error naming both when two combinations get the same name
// (values that differ only in characters a folder name does not keep).
std::vector<std::string> sweepRunNames(const std::string& name, const std::vector<SweepAxis>& axes,
                                       const std::vector<SweepCombination>& combinations);

}  // namespace caspl
