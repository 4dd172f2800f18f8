#pragma once
// Results as the tables of a paper, ready to paste: Markdown (a README, a wiki, an issue) or LaTeX (booktabs).
//   base-to-novel  one table per dataset, the dataset average first where there is one (the layout of the CoOp /
//                  CoCoOp / MaPLe / PromptSRC / CasPL papers): a row per method (and K where several), columns
//                  Base, Novel, HM;
//   all classes    one table (cross-dataset, domain generalisation, few-shot): a row per method and K, a column per
//                  dataset, then the average where every row has one.
// Means over seeds with 2 decimals; the best value of each column in bold (every one of a tie). Methods named as the
// papers name them ("coop+caspl" -> "CoOp + CasPL"), datasets by their short names ("DescribableTextures" ->
// "DTD"). No LibTorch, no Qt.
#include "core/experiment/results.h"

#include <string>

namespace caspl {

enum class TableFormat { Markdown, Latex };

// "markdown" / "latex"; throws caspl::Error naming the value otherwise.
TableFormat parseTableFormat(const std::string& name);

// "coop+caspl" -> "CoOp + CasPL", "zeroshot" -> "CLIP"; a method labelled with its run ("coop [runs/x]", a sweep)
// keeps the label. Unknown names are kept as they are.
std::string paperMethodName(const std::string& method);
// "DescribableTextures" -> "DTD", "OxfordFlowers" -> "Flowers102"; others as they are.
std::string paperDatasetName(const std::string& dataset);

// The tables of `summary` (its groups and averages), separated by a blank line; "" when it holds no results. With
// `withReference`, each row whose experiment names published numbers (summary.references, e.g. the paper's Fig. 3)
// is followed by a row "<method> (published)" holding them; those rows are not candidates for bold.
std::string paperTablesText(const ResultsSummary& summary, TableFormat format, bool withReference = false);

}  // namespace caspl
