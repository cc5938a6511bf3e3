// A small seeded pseudo-random generator whose output is the same on every platform and standard library
// (std::uniform_*_distribution and std::normal_distribution are not): Sebastiano Vigna's splitmix64, a 64-bit
// state advanced by a constant and mixed by two multiply-xorshifts. Used where results must be reproducible
// byte for byte: the synthetic dataset, weight initialisation, shuffling.
#pragma once
#include <cstdint>

namespace ec {

struct SplitMix64 {
    uint64_t state = 0;
    explicit SplitMix64(uint64_t seed) : state(seed) {}
    uint64_t next();
    double uniform();                      // [0, 1), 53 random bits
    double uniform(double lo, double hi);  // [lo, hi)
    int below(int n);                      // 0..n-1 for n >= 1: the high 64 bits of next() * n (bias < n / 2^64)
    double normal();                       // standard normal (Box-Muller, one value per call)
};

}  // namespace ec
