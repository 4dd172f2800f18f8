#pragma once
// Per-class accuracy of an evaluation, as Dassl's evaluator prints it with TEST.PER_CLASS_RESULT (each class's
// images, correct predictions and accuracy, and the mean over classes: the "macro" accuracy), and the confusions
// behind it (TEST.COMPUTE_CMAT saves the confusion matrix): for each class, the classes its wrong predictions went
// to. A seed's evaluations are kept in <run>/<dataset>/k<K>_seed<S>/per_class.json next to its result.json, written
// atomically; `caspl export --per-class` and the studio's per-class table read them.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace caspl {

// Counts of (true class, predicted class) pairs, filled one prediction at a time during an evaluation.
struct ClassTallies {
    std::vector<int64_t> total, correct;            // per true class
    std::vector<std::map<int64_t, int64_t>> wrong;  // per true class: predicted class -> images
    void add(int64_t label, int64_t predicted);     // throws caspl::Error for a negative class
    int64_t classes() const { return int64_t(total.size()); }
};

struct ClassResult {
    std::string name;
    int64_t total = 0, correct = 0;
    // Where the class's wrong predictions went: (predicted class index, images), most images first, then by index.
    std::vector<std::pair<int64_t, int64_t>> confusedWith;
};

// One evaluation (one split of one dataset, after one seed's training).
struct PerClassEval {
    std::string run, dataset, method, split;
    int shots = 0, seed = 0, epoch = 0;
    std::vector<ClassResult> classes;  // in the evaluation's label order
};

// The evaluation's classes from its tallies and class names (names.size() classes; a class without images has total
// 0). Throws caspl::Error when a tally names a class beyond `names`.
std::vector<ClassResult> classResults(const ClassTallies& tallies, const std::vector<std::string>& names);
// 100 * correct / total (0 for a class without images).
double classAccuracy(const ClassResult& c);
// Mean of the accuracies of the classes that have images (Dassl's "average" under its per-class table); nullopt
// when no class has images.
std::optional<double> meanClassAccuracy(const PerClassEval& e);

// per_class.json: {"format": "caspl-per-class", "version": 1, "evaluations": [{"run", "dataset", "method", "split",
// "shots", "seed", "epoch", "classes": [{"name", "images", "correct", "confused_with": [[class, images], ...]}]}]}.
std::string perClassToJson(const std::vector<PerClassEval>& evals);
// Throws caspl::Error naming `source` and the entry (e.g. "evaluations[1].classes[3].images: expected ...").
std::vector<PerClassEval> perClassFromJson(const std::string& json, const std::string& source);
void writePerClassJson(const std::string& path, const std::vector<PerClassEval>& evals);  // atomically
std::vector<PerClassEval> readPerClassJson(const std::string& path);
// The per_class.json files of a run folder (<dataset>/k<K>_seed<S>/per_class.json), by dataset, K and seed (as
// numbers). Throws caspl::Error when runDir is not a folder.
std::vector<std::string> findPerClassFiles(const std::string& runDir);
// Seed folders with a result.json but no per_class.json (evaluated by a version before per-class counts were
// recorded; `caspl eval` writes them).
std::vector<std::string> seedFoldersWithoutPerClass(const std::string& runDir);
// Every evaluation of a run folder; `run` is set to the folder's name where a file leaves it empty.
std::vector<PerClassEval> readRunPerClass(const std::string& runDir);

// One line of the per-class CSV.
//   kind "class": one class of one evaluation; "class_mean": a class over the seeds of its run, dataset, method,
//   shots and split (accuracy: mean of the seeds' accuracies, std: their population standard deviation, n: the
//   seeds that had images of the class, images and correct: sums, confused_with: the most frequent wrong class over
//   the seeds); "macro": the mean class accuracy of one evaluation; "macro_mean": its mean (and std) over the seeds.
//   Mean rows come only where a group has several seeds; std only where n > 1.
struct PerClassRow {
    std::string kind, run, dataset, method, split;
    int shots = 0;
    std::optional<int> seed, n;
    std::optional<int64_t> classIndex;
    std::string className;
    std::optional<int64_t> images, correct;
    std::optional<double> accuracy, std;
    std::string confusedWith;  // a class name, "" when no image was wrong
    std::optional<int64_t> confusedImages;
};
// Rows of every evaluation in order (its classes, then its macro row), followed by each group's mean rows, groups in
// order of first appearance. Classes are matched across seeds by index and name. Throws caspl::Error for two
// evaluations of the same run, dataset, method, shots, split and seed.
std::vector<PerClassRow> perClassRows(const std::vector<PerClassEval>& evals);
const std::vector<std::string>& perClassCsvHeader();
// Accuracies with two decimals.
std::string perClassCsvText(const std::vector<PerClassRow>& rows);

// The confusion matrix (Dassl's TEST.COMPUTE_CMAT) of one evaluation, or of several evaluations of the same classes
// summed (the seeds of a run): counts[t * classes() + p] images of true class t predicted as class p. A row's images
// are the class's images (a per_class.json may leave wrong predictions out of confused_with; they are then in no
// cell of the row).
struct ConfusionMatrix {
    std::vector<std::string> names;
    std::vector<int64_t> counts;   // classes() * classes(), row-major
    std::vector<int64_t> images;   // per true class
    int evaluations = 0;           // summed
    int64_t classes() const { return int64_t(names.size()); }
    int64_t at(int64_t truth, int64_t predicted) const { return counts[std::size_t(truth * classes() + predicted)]; }
    // at(truth, predicted) as a percentage of the true class's images; nullopt for a class without images.
    std::optional<double> percent(int64_t truth, int64_t predicted) const;
};
// Throws caspl::Error when `evals` is empty or the evaluations' classes differ (number or names).
ConfusionMatrix confusionMatrix(const std::vector<const PerClassEval*>& evals);
// The matrix as CSV: a header "true \ predicted" and the class names, then one line per true class: its name and
// its counts.
std::string confusionMatrixCsvText(const ConfusionMatrix& m);
// The change from `a` to `b` (the same classes, in the same order) as CSV: the header of confusionMatrixCsvText,
// each cell b's share of the true class's images minus a's, in percentage points with two decimals (empty where a
// class has no images in one of them). Throws caspl::Error when the classes differ.
std::string confusionDifferenceCsvText(const ConfusionMatrix& a, const ConfusionMatrix& b);
// Every evaluation's confusions as CSV in long form, one line per non-zero cell (the diagonal too):
// run,dataset,method,shots,seed,split,class,classname,predicted,predicted_name,images,percent (of the true class's
// images, two decimals). A pivot of it gives each evaluation's matrix.
std::string confusionCsvText(const std::vector<PerClassEval>& evals);

}  // namespace caspl
