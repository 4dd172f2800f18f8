#pragma once
// Dassl's optimisation schedule (spec §2.3), without LibTorch: the learning rate of each epoch and PromptSRC's
// Gaussian prompt-aggregation weights.
#include <string>
#include <vector>

namespace caspl {

struct LrSchedule {
    double baseLr = 0.002;
    int maxEpoch = 10;
    int warmupEpochs = 1;        // 0: none
    double warmupLr = 1e-5;      // constant warm-up LR
    std::string scheduler = "cosine";  // cosine | constant
    // The LR used during 0-based epoch k. Dassl steps its scheduler once per epoch, after the epoch's last batch;
    // the cosine is not stepped during the constant warm-up: k < W -> warmupLr, else
    // baseLr * (1 + cos(pi * (k - W) / maxEpoch)) / 2 (eta_min 0).
    double lrAt(int epoch) const;
    void validate() const;  // throws caspl::Error naming the field
};

// PromptSRC's GPA: w_e = N(e; mean, std) / sum_k N(k; mean, std), e = 1..epochs (index 0 = epoch 1).
std::vector<double> gpaWeights(int epochs, double mean, double stddev);

}  // namespace caspl
