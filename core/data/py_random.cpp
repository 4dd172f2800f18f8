#include "core/data/py_random.h"

#include "core/util/error.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace caspl {

namespace {
constexpr int kN = 624;
constexpr int kM = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfU;
constexpr uint32_t kUpperMask = 0x80000000U;
constexpr uint32_t kLowerMask = 0x7fffffffU;

int bitLength(uint64_t n) {
    int k = 0;
    while (n) {
        ++k;
        n >>= 1;
    }
    return k;
}
}  // namespace

void PyRandom::initGenrand(uint32_t s) {
    mt_[0] = s;
    for (int i = 1; i < kN; ++i) mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + uint32_t(i);
    mti_ = kN;
}

void PyRandom::seedKey(const std::vector<uint32_t>& keyIn) {
    const std::vector<uint32_t> key = keyIn.empty() ? std::vector<uint32_t>{0} : keyIn;
    const size_t keyLength = key.size();
    initGenrand(19650218U);
    size_t i = 1, j = 0;
    for (size_t k = std::max<size_t>(kN, keyLength); k; --k) {
        mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525U)) + key[j] + uint32_t(j);
        ++i;
        ++j;
        if (i >= size_t(kN)) {
            mt_[0] = mt_[kN - 1];
            i = 1;
        }
        if (j >= keyLength) j = 0;
    }
    for (size_t k = kN - 1; k; --k) {
        mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941U)) - uint32_t(i);
        ++i;
        if (i >= size_t(kN)) {
            mt_[0] = mt_[kN - 1];
            i = 1;
        }
    }
    mt_[0] = 0x80000000U;
    mti_ = kN;
}

void PyRandom::seed(int64_t a) {
    // |a| without overflow for INT64_MIN.
    uint64_t u = a < 0 ? uint64_t(0) - uint64_t(a) : uint64_t(a);
    std::vector<uint32_t> key;
    while (u) {
        key.push_back(uint32_t(u & 0xffffffffU));
        u >>= 32;
    }
    seedKey(key);
}

std::vector<uint32_t> PyRandom::keyFromDecimal(const std::string& decimal) {
    size_t pos = 0;
    if (pos < decimal.size() && (decimal[pos] == '-' || decimal[pos] == '+')) ++pos;
    if (pos == decimal.size())
        throw Error("random seed '" + decimal + "': expected a decimal integer (optional sign, then digits)");
    std::vector<uint32_t> words;  // little-endian base 2^32
    for (; pos < decimal.size(); ++pos) {
        const char c = decimal[pos];
        if (c < '0' || c > '9')
            throw Error("random seed '" + decimal + "': expected a decimal integer, found '" + std::string(1, c) +
                        "'");
        uint64_t carry = uint64_t(c - '0');
        for (auto& w : words) {
            const uint64_t v = uint64_t(w) * 10U + carry;
            w = uint32_t(v & 0xffffffffU);
            carry = v >> 32;
        }
        if (carry) words.push_back(uint32_t(carry));
    }
    if (words.empty()) words.push_back(0);
    return words;
}

void PyRandom::seedDecimal(const std::string& decimal) { seedKey(keyFromDecimal(decimal)); }

void PyRandom::twist() {
    // In place, increasing kk, using words already updated in this pass (as genrand_uint32 does).
    int kk = 0;
    for (; kk < kN - kM; ++kk) {
        const uint32_t y = (mt_[kk] & kUpperMask) | (mt_[kk + 1] & kLowerMask);
        mt_[kk] = mt_[kk + kM] ^ (y >> 1) ^ ((y & 1U) ? kMatrixA : 0U);
    }
    for (; kk < kN - 1; ++kk) {
        const uint32_t y = (mt_[kk] & kUpperMask) | (mt_[kk + 1] & kLowerMask);
        mt_[kk] = mt_[kk + (kM - kN)] ^ (y >> 1) ^ ((y & 1U) ? kMatrixA : 0U);
    }
    const uint32_t y = (mt_[kN - 1] & kUpperMask) | (mt_[0] & kLowerMask);
    mt_[kN - 1] = mt_[kM - 1] ^ (y >> 1) ^ ((y & 1U) ? kMatrixA : 0U);
    mti_ = 0;
}

uint32_t PyRandom::next32() {
    if (mti_ >= kN) twist();
    uint32_t y = mt_[mti_++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= (y >> 18);
    return y;
}

std::vector<uint32_t> PyRandom::getrandbitsWords(int k) {
    if (k < 0) throw Error("getrandbits: number of bits must be non-negative, got " + std::to_string(k));
    std::vector<uint32_t> words;
    if (k == 0) return words;
    if (k <= 32) {
        words.push_back(next32() >> (32 - k));
        return words;
    }
    words.reserve(size_t((k - 1) / 32 + 1));
    for (int remaining = k; remaining > 0; remaining -= 32) {
        uint32_t r = next32();
        if (remaining < 32) r >>= (32 - remaining);
        words.push_back(r);
    }
    return words;
}

uint64_t PyRandom::getrandbits(int k) {
    if (k < 0 || k > 64) throw Error("getrandbits: this overload takes 0..64 bits, got " + std::to_string(k));
    if (k == 0) return 0;
    if (k <= 32) return next32() >> (32 - k);
    const uint64_t lo = next32();
    uint64_t hi = next32();
    if (k < 64) hi >>= (64 - k);
    return lo | (hi << 32);
}

double PyRandom::random() {
    const uint32_t a = next32() >> 5;
    const uint32_t b = next32() >> 6;
    return (double(a) * 67108864.0 + double(b)) * (1.0 / 9007199254740992.0);
}

uint64_t PyRandom::randbelow(uint64_t n) {
    if (n == 0) throw Error("_randbelow: n must be at least 1");
    const int k = bitLength(n);  // n.bit_length(), not (n-1).bit_length()
    uint64_t r = getrandbits(k);
    while (r >= n) r = getrandbits(k);
    return r;
}

int64_t PyRandom::randrange(int64_t start, int64_t stop) {
    if (stop <= start)
        throw Error("randrange: empty range (" + std::to_string(start) + ", " + std::to_string(stop) + ")");
    const uint64_t width = uint64_t(stop) - uint64_t(start);
    return int64_t(uint64_t(start) + randbelow(width));
}

int64_t PyRandom::randint(int64_t a, int64_t b) { return randrange(a, b + 1); }

size_t PyRandom::choiceIndex(size_t n) {
    if (n == 0) throw Error("choice: cannot choose from an empty sequence");
    return size_t(randbelow(n));
}

std::vector<size_t> PyRandom::shufflePermutation(size_t n) {
    std::vector<size_t> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = i;
    shuffle(x);
    return x;
}

uint64_t PyRandom::sampleSetSize(size_t k) {
    uint64_t setsize = 21;  // size of a small set minus size of an empty list
    if (k > 5) {
        // CPython: 4 ** _ceil(_log(k * 3, 4)), math.log(x, base) being log(x) / log(base) in double.
        const double e = std::ceil(std::log(double(k) * 3.0) / std::log(4.0));
        setsize += uint64_t(1) << (2 * int(e));
    }
    return setsize;
}

std::vector<size_t> PyRandom::sample(size_t n, size_t k) {
    if (k > n)
        throw Error("sample: sample larger than population (k = " + std::to_string(k) + ", n = " +
                    std::to_string(n) + ")");
    std::vector<size_t> result(k);
    if (uint64_t(n) <= sampleSetSize(k)) {
        // Pool path: move the last unselected item into the hole.
        std::vector<size_t> pool(n);
        for (size_t i = 0; i < n; ++i) pool[i] = i;
        for (size_t i = 0; i < k; ++i) {
            const size_t j = size_t(randbelow(n - i));
            result[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
    } else {
        // Set path: redraw while already chosen.
        std::unordered_set<size_t> selected;
        selected.reserve(k * 2);
        for (size_t i = 0; i < k; ++i) {
            size_t j = size_t(randbelow(n));
            while (selected.count(j)) j = size_t(randbelow(n));
            selected.insert(j);
            result[i] = j;
        }
    }
    return result;
}

std::vector<size_t> PyRandom::choices(size_t n, size_t k) {
    if (k > 0 && n == 0) throw Error("choices: cannot choose from an empty population");
    std::vector<size_t> result(k);
    const double dn = double(n);
    for (size_t i = 0; i < k; ++i) result[i] = size_t(std::floor(random() * dn));
    return result;
}

}  // namespace caspl
