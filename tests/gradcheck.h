// Finite-difference gradient checks for the op tests, in double precision.
//
// Every check uses the scalar loss L = sum_j out_j * w_j with fixed random weights w, so every output element
// contributes and d L / d out = w is the seed given to the backward kernel. The analytic gradient the backward
// kernel returns is compared with central differences (L(x + h e_i) - L(x - h e_i)) / 2h for every element i.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace ec::test {

// splitmix64: a tiny deterministic generator, so every test draws the same numbers on every machine.
struct Rng {
    uint64_t state;
    explicit Rng(uint64_t seed) : state(seed) {}
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    double uniform(double lo, double hi) { return lo + (hi - lo) * double(next() >> 11) * 0x1.0p-53; }
};

template <typename T = double>
std::vector<T> random_vector(Rng& rng, size_t n, double lo = -1.0, double hi = 1.0) {
    std::vector<T> v(n);
    for (auto& x : v) x = T(rng.uniform(lo, hi));
    return v;
}

inline double weighted_sum(const std::vector<double>& out, const std::vector<double>& w) {
    REQUIRE(out.size() == w.size());
    double s = 0;
    for (size_t i = 0; i < out.size(); ++i) s += out[i] * w[i];
    return s;
}

// Central-difference step and tolerance. For the piecewise-linear ops (conv, pooling, padding, ReLU, ...) the
// difference quotient is exact up to rounding, about eps_double * |L| / h = 1e-16 * 10 / 1e-4 = 1e-11. For the
// smooth ops (softmax) the truncation error h^2 / 6 * |L'''| adds about 2e-9. A wrong backward formula is wrong
// by O(1) relative to the gradient, so a relative tolerance of 1e-6 separates the two by 3 orders either way.
constexpr double kFdStep = 1e-4;
constexpr double kFdRelTol = 1e-6;

// Checks `analytic` against the central differences of loss() with respect to every element of x (which loss()
// must read through the reference it captured). Prints the largest difference and where it is.
template <typename Loss>
void check_gradient(const std::string& what, std::vector<double>& x, const std::vector<double>& analytic, Loss&& loss,
                    double step = kFdStep, double rel_tol = kFdRelTol) {
    REQUIRE(x.size() == analytic.size());
    double max_diff = 0, scale = 0;
    size_t worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double saved = x[i];
        x[i] = saved + step;
        const double up = loss();
        x[i] = saved - step;
        const double down = loss();
        x[i] = saved;
        const double numeric = (up - down) / (2 * step);
        const double diff = std::fabs(numeric - analytic[i]);
        if (diff > max_diff) max_diff = diff, worst = i;
        scale = std::max(scale, std::fabs(analytic[i]));
    }
    INFO(what << ": " << x.size() << " elements, max |analytic - numeric| = " << max_diff << " at " << worst
              << ", max |analytic| = " << scale << ", rel = " << max_diff / std::max(scale, 1e-300)
              << " (tol " << rel_tol << ")");
    CHECK(scale > 0);  // an all-zero gradient would pass vacuously
    CHECK(max_diff <= rel_tol * scale);
}

}  // namespace ec::test
