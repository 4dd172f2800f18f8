#pragma once
// A faithful subset of CPython 3's `random.Random` (Modules/_randommodule.c and Lib/random.py), enough to
// reproduce the few-shot lists of Dassl/CoOp image for image: MT19937 seeded from a Python int through
// init_by_array, getrandbits, _randbelow, random, randrange/randint, choice, shuffle, sample (both of its code
// paths) and choices. Every draw consumes exactly the 32-bit outputs CPython's consumes, so calls can be
// interleaved in the same order as the Python code they mirror. Results of sample/shuffle/choices are indices
// into the population, so callers apply them to lists of any type.
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace caspl {

class PyRandom {
public:
    // Seeded like `random.Random(1)`; call seed() to reseed.
    PyRandom() { seed(1); }
    explicit PyRandom(int64_t s) { seed(s); }

    // random.seed(a) for a Python int: init_by_array on |a| split into 32-bit words, least significant first
    // (one word 0 for a == 0). A negative seed gives the same stream as its absolute value.
    void seed(int64_t a);
    // The same for an int of any size given in decimal ("-5", "1000000000000000000000000000000"). Throws
    // caspl::Error when `decimal` is not an optional '-' followed by digits.
    void seedDecimal(const std::string& decimal);
    // init_by_array(key) directly; an empty key is treated as {0}, as CPython does.
    void seedKey(const std::vector<uint32_t>& key);
    // The init_by_array key CPython derives from a decimal int (used by seedDecimal).
    static std::vector<uint32_t> keyFromDecimal(const std::string& decimal);

    // The raw generator state (mt[0..623]) and index, for tests.
    const std::array<uint32_t, 624>& state() const { return mt_; }
    int index() const { return mti_; }

    // One tempered 32-bit output (genrand_uint32), the same as getrandbits(32).
    uint32_t next32();
    // getrandbits(k) for 0 <= k <= 64 (k == 0 returns 0 and draws nothing, as CPython >= 3.9).
    uint64_t getrandbits(int k);
    // getrandbits(k) for any k >= 0, as 32-bit words, least significant first (ceil(k/32) words).
    std::vector<uint32_t> getrandbitsWords(int k);
    // random(): 53-bit float in [0, 1) from two outputs.
    double random();
    // _randbelow(n) for n >= 1 (getrandbits-based: k = n.bit_length(), redraw while r >= n).
    uint64_t randbelow(uint64_t n);
    // randrange(start, stop) with step 1, randint(a, b) = randrange(a, b + 1).
    int64_t randrange(int64_t start, int64_t stop);
    int64_t randint(int64_t a, int64_t b);
    // choice(seq) for a sequence of length n >= 1: the index _randbelow(n).
    size_t choiceIndex(size_t n);
    // shuffle(x) applied to the identity permutation of length n: result[i] is the original index now at i.
    std::vector<size_t> shufflePermutation(size_t n);
    template <typename T>
    void shuffle(std::vector<T>& x) {
        for (size_t i = x.size(); i-- > 1;) {
            const size_t j = size_t(randbelow(uint64_t(i) + 1));
            std::swap(x[i], x[j]);
        }
    }
    // sample(range(n), k): k distinct indices in selection order, with CPython's choice between the pool path
    // (n <= setsize) and the set path. Throws caspl::Error unless 0 <= k <= n.
    std::vector<size_t> sample(size_t n, size_t k);
    // The setsize threshold sample() compares n against: 21, plus 4 ** ceil(log(3k, 4)) when k > 5.
    static uint64_t sampleSetSize(size_t k);
    // choices(range(n), k=k) without weights: k times floor(random() * n). Throws caspl::Error if n == 0 < k.
    std::vector<size_t> choices(size_t n, size_t k);

private:
    void initGenrand(uint32_t s);
    void twist();

    std::array<uint32_t, 624> mt_{};
    int mti_ = 625;
};

}  // namespace caspl
