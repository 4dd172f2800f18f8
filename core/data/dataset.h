#pragma once
// Plain dataset records, as Dassl's `Datum` and the three lists a CoOp dataset class holds. No LibTorch, no Qt:
// loaders and models are built on top of these.
#include <string>
#include <vector>

namespace caspl {

// One labelled image (Dassl's Datum): the image path, the 0-based class label, the class name as stored in the
// split file (may contain '_' or spaces) and the domain (always 0 for the CoOp datasets).
struct Datum {
    std::string impath;
    int label = 0;
    std::string classname;
    int domain = 0;

    bool operator==(const Datum& o) const {
        return impath == o.impath && label == o.label && classname == o.classname && domain == o.domain;
    }
    bool operator!=(const Datum& o) const { return !(*this == o); }
};

// The lists a dataset holds: Dassl's train_x, val and test.
struct DatasetSplit {
    std::vector<Datum> train, val, test;
};

}  // namespace caspl
