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

// "KEY=V1,V2,...": the values split at the commas outside brackets and quotes (a list such as [1, 2] stays whole),
// spaces around them trimmed. Throws caspl::Error naming `arg` for a missing '=', an empty value or a value given
// twice. The key itself is checked where the values are applied (loadExperiment's overrides).
SweepAxis parseSweepAxis(const std::string& arg);
// Throws caspl::Error for a key swept twice, or one also in `sets` ("key=value" overrides).
void checkSweepAxes(const std::vector<SweepAxis>& axes, const std::vector<std::string>& sets);
// Every combination, the last axis varying fastest; one empty combination for no axes.
std::vector<SweepCombination> sweepCombinations(const std::vector<SweepAxis>& axes);
// The run name of one combination: `name` then "-<key>=<value>" per axis, the key's last part (all of it where two
// axes share the last part), the value's characters other than ASCII letters, digits and ._+- as '_'.
std::string sweepRunName(const std::string& name, const std::vector<SweepAxis>& axes, const SweepCombination& combination);

}  // namespace caspl
