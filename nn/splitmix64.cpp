#include "nn/splitmix64.h"

#include <cmath>

namespace ec {

uint64_t SplitMix64::next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double SplitMix64::uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }

double SplitMix64::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int SplitMix64::below(int n) { return int((unsigned __int128)next() * uint64_t(n) >> 64); }

double SplitMix64::normal() {
    const double u1 = 1.0 - uniform(), u2 = uniform();  // u1 in (0, 1]: the log is finite
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace ec
