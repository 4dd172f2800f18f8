#pragma once
// Results as the tables of a paper, ready to paste: Markdown (a README, a wiki, an issue) or LaTeX (booktabs).
//   base-to-novel  one table per dataset, the dataset average first where there is one (the layout of the CoOp /
//                  CoCoOp / MaPLe / PromptSRC / CasPL papers): a row per method (and K where several), columns
//                  Base, Novel, HM;
//   all classes    one table (cross-dataset, domain generalisation, few-shot): a row per method and K, a column per
//                  dataset (the training datasets first), then the average over the targets.
// Means over seeds with 2 decimals; the best value of each column in bold (every one of a tie). Methods named as the
// papers name them ("coop+caspl" -> "CoOp + CasPL"), datasets by their short names ("DescribableTextures" ->
// "DTD"). No LibTorch, no Qt.
#include "core/experiment/experiment_spec.h"
#include "core/experiment/results.h"

#include <string>
#include <vector>

namespace caspl {

enum class TableFormat { Markdown, Latex };

// "markdown" / "latex"; throws caspl::Error naming the value otherwise.
TableFormat parseTableFormat(const std::string& name);

// "coop+caspl" -> "CoOp + CasPL", "zeroshot" -> "CLIP"; a method labelled with its run ("coop [runs/x]", a sweep)
// keeps the label. Unknown names are kept as they are.
std::string paperMethodName(const std::string& method);
// "DescribableTextures" -> "DTD", "OxfordFlowers" -> "Flowers102"; others as they are.
std::string paperDatasetName(const std::string& dataset);

struct PaperTableOptions {
    // Each row whose experiment names published numbers (summary.references, e.g. the paper's Fig. 3) is followed by
    // a row "<method> (published)" holding them; those rows are never bold. An average's published row where every
    // dataset averaged has them.
    bool withReference = false;
    // The datasets the runs trained on, in a table of results on all classes (cross-dataset, domain generalisation:
    // ImageNet): their columns come first and the average is over the other columns (the targets), as the papers
    // average. Usually: tableSources of each experiment.
    std::vector<std::string> sources;
};

// The datasets an experiment trains on when it tests on others (data.eval_datasets named): data.datasets; none
// otherwise.
std::vector<std::string> tableSources(const ExperimentSpec& spec);

// The tables of `summary` (its groups), separated by a blank line; "" when it holds no results. The averages are
// computed here from the groups: base-to-novel rows are averaged over the datasets where they have base and novel,
// one average table per set of datasets (rows over different sets are not compared); the all-classes average is
// over the target columns, shown where every row has them all.
std::string paperTablesText(const ResultsSummary& summary, TableFormat format, const PaperTableOptions& options = {});

}  // namespace caspl
