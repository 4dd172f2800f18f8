#include "core/train/schedule.h"

#include "core/util/error.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace caspl {

double LrSchedule::lrAt(int epoch) const {
    if (epoch < warmupEpochs) return warmupLr;
    if (scheduler == "constant") return baseLr;
    const double k = double(epoch - warmupEpochs);
    return baseLr * (1.0 + std::cos(M_PI * k / double(maxEpoch))) / 2.0;
}

void LrSchedule::validate() const {
    if (baseLr <= 0) throw Error("lr must be > 0, got " + std::to_string(baseLr));
    if (maxEpoch < 1) throw Error("epochs must be >= 1, got " + std::to_string(maxEpoch));
    if (warmupEpochs < 0) throw Error("warmup_epochs must be >= 0");
    if (warmupLr < 0) throw Error("warmup_lr must be >= 0");
    if (scheduler != "cosine" && scheduler != "constant")
        throw Error("lr_scheduler must be cosine or constant, got '" + scheduler + "'");
}

std::vector<double> gpaWeights(int epochs, double mean, double stddev) {
    if (epochs < 1 || stddev <= 0) throw Error("GPA needs epochs >= 1 and std > 0");
    // The Gaussian's density at each epoch, normalised to sum 1 (spec §3.6). Normalised in log space (the largest
    // term is exp(0) = 1): where every density underflows (a mean far outside the epochs for its std, e.g. 1000 and
    // 1), the direct sum is 0 and every weight NaN; here the weight goes to the nearest epochs. The constant factor
    // 1 / (std sqrt(2 pi)) cancels in the normalisation.
    std::vector<double> w(static_cast<std::size_t>(epochs));
    double top = -std::numeric_limits<double>::infinity();
    for (int e = 1; e <= epochs; ++e) {
        const double z = (e - mean) / stddev;
        w[std::size_t(e - 1)] = -0.5 * z * z;
        top = std::max(top, w[std::size_t(e - 1)]);
    }
    double sum = 0;
    for (auto& x : w) sum += (x = std::exp(x - top));
    for (auto& x : w) x /= sum;
    return w;
}

}  // namespace caspl
