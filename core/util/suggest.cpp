#include "core/util/suggest.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace caspl {

int editDistance(const std::string& a, const std::string& b) {
    std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = int(j);
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = int(i);
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const int sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

namespace {
std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

std::string closestMatch(const std::string& word, const std::vector<std::string>& candidates) {
    const std::string w = lower(word);
    const int limit = std::max<int>(2, int(w.size()) / 3);
    std::string best;
    int bestScore = std::numeric_limits<int>::max();
    for (const auto& c : candidates) {
        const std::string lc = lower(c);
        int d = editDistance(w, lc);
        if (d > limit && w.size() >= 3 && lc.compare(0, w.size(), w) == 0) d = limit;  // a prefix: close enough
        if (d <= limit && d < bestScore) {
            bestScore = d;
            best = c;
        }
    }
    return best;
}

std::string joinNames(const std::vector<std::string>& names, const std::string& separator) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) out += (i ? separator : "") + names[i];
    return out;
}

}  // namespace caspl
