#include "cam/entropy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <vector>

#include "nn/parallel.h"
#include "nn/tensor.h"

namespace ec {

// method.md, `spatial`: p_ij = |X_ij| / sum|X|, H = -sum p_ij ln p_ij.
double entropy_spatial(const float* x, int64_t n) {
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) total += std::fabs(double(x[i]));
    if (total == 0.0) return 0.0;  // all-zero map: no distribution, defined as 0
    double h = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        double p = std::fabs(double(x[i])) / total;
        if (p > 0.0) h -= p * std::log(p);
    }
    return h;
}

// method.md, `hist`: H = -sum_b q_b log2 q_b with q_b = count_b / n, bins as numpy.histogram(x, bins, (min, max)).
double entropy_hist(const float* x, int64_t n, int bins) {
    if (bins < 1 || bins > kMaxHistogramBins)
        throw Error("entropy_hist: bins must be in [1, " + std::to_string(kMaxHistogramBins) + "], got " + std::to_string(bins));
    if (n <= 0) return 0.0;
    float lo = x[0], hi = x[0];
    for (int64_t i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) throw Error("entropy_hist: value " + std::to_string(i) + " is not finite");
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    if (lo == hi) return 0.0;  // constant map: every value in one bin

    // Bin edges exactly as numpy.linspace(lo, hi, bins + 1) cast to float32: the last edge is hi itself.
    const double step = (double(hi) - double(lo)) / bins;
    std::vector<float> edge(size_t(bins) + 1);
    for (int b = 0; b < bins; ++b) edge[size_t(b)] = float(double(lo) + b * step);
    edge[size_t(bins)] = hi;

    std::vector<int64_t> count(size_t(bins), 0);
    const double scale = bins / (double(hi) - double(lo));
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        int b = int((double(v) - double(lo)) * scale);
        b = std::clamp(b, 0, bins - 1);  // v == hi lands on index `bins`: the closed last bin
        // The edges decide, as in numpy (its estimate is corrected the same way): edge[b] <= v < edge[b+1].
        while (b > 0 && v < edge[size_t(b)]) --b;
        while (b < bins - 1 && v >= edge[size_t(b) + 1]) ++b;
        ++count[size_t(b)];
    }
    double h = 0.0;
    for (int64_t c : count) {
        if (c == 0) continue;
        double q = double(c) / double(n);
        h -= q * std::log2(q);
    }
    return h;
}

double entropy(const float* x, int64_t n, const EntropyOptions& options) {
    switch (options.estimator) {
        case EntropyEstimator::Spatial: return entropy_spatial(x, n);
        case EntropyEstimator::Histogram: return entropy_hist(x, n, options.bins);
    }
    throw Error("entropy: unknown estimator " + std::to_string(int(options.estimator)));
}

namespace {

// Four channels at a time in GCC/Clang vector types (one ymm; plain scalar code without SIMD).
constexpr int kEntropyLanes = 4;
typedef double Doubles __attribute__((vector_size(8 * kEntropyLanes)));
typedef uint64_t Bits __attribute__((vector_size(8 * kEntropyLanes)));
typedef int64_t Masks __attribute__((vector_size(8 * kEntropyLanes)));
typedef float Floats __attribute__((vector_size(4 * kEntropyLanes)));

Doubles splat(double v) { return Doubles{} + v; }

// ln(a) for normal positive doubles (every float is a normal double), with no branch or table: a = m 2^e with m
// in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) = 2 sum_k s^(2k+1) / (2k+1) with s = (m - 1) / (m + 1), |s| <= 0.1716:
// eleven terms leave a truncation below 1e-17 (within a few ulp of std::log; tests/test_cam.cpp).
Doubles log_of_normal(Doubles a) {
    const Bits bits = (Bits)a;
    // The exponent as a double without an int64 -> double conversion (none in AVX2): (2^52 + e) - 2^52.
    Doubles e = (Doubles)((bits >> 52) | 0x4330000000000000ull) - splat(4503599627370496.0 + 1023.0);
    Doubles m = (Doubles)((bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull);  // [1, 2)
    const Masks high = m > splat(1.4142135623730951);
    m = high ? m * 0.5 : m;
    e = high ? e + 1.0 : e;
    const Doubles f = m - 1.0;  // exact (Sterbenz)
    const Doubles s = f / (f + 2.0), z = s * s;
    Doubles poly = splat(1.0 / 21.0);
    for (int k = 9; k >= 0; --k) poly = poly * z + 1.0 / double(2 * k + 1);
    return e * 0.6931471805599453094 + 2.0 * s * poly;
}

// Spatial entropy of the kEntropyLanes channels from c0 (c0 + kEntropyLanes <= channels), one lane per
// channel: with a = |x| and T = sum a, H = -sum (a/T) ln(a/T) = (1/T) sum a (ln T - ln a), every term >= 0 and no
// division per value; a channel with one nonzero value gets exactly 0 (ln T and ln a are the same function of
// the same double).
Doubles load_abs(const float* x) {
    Floats row;
    std::memcpy(&row, x, sizeof row);
    return (Doubles)((Bits)__builtin_convertvector(row, Doubles) & 0x7fffffffffffffffull);
}

void entropy_spatial_channels(const float* x, int64_t positions, int channels, int c0, float* h) {
    Doubles total = {};
    for (int64_t i = 0; i < positions; ++i) total += load_abs(x + i * channels + c0);
    const Masks empty = total == 0.0;
    const Doubles log_total = log_of_normal(empty ? splat(1.0) : total);
    Doubles sum = {};
    for (int64_t i = 0; i < positions; ++i) {
        const Doubles a = load_abs(x + i * channels + c0);
        // A zero adds 0 (0 ln 0 = 0 by continuity), with no branch around the logarithm.
        sum += a * (log_total - log_of_normal(a > 0.0 ? a : total));
    }
    const Doubles entropy = empty ? splat(0.0) : sum / (empty ? splat(1.0) : total);
    for (int c = 0; c < kEntropyLanes; ++c) h[c] = float(entropy[c]);
}

}  // namespace

std::vector<float> entropy_per_channel(const float* x, int64_t positions, int channels, const EntropyOptions& options) {
    if (positions < 1 || channels < 1)
        throw Error("entropy_per_channel: empty map (" + std::to_string(positions) + " positions, " + std::to_string(channels) + " channels)");
    std::vector<float> h(static_cast<size_t>(channels));
    const bool parallel = positions * channels * 8 >= kParallelMin;
    if (options.estimator == EntropyEstimator::Spatial) {
        // Eight channels per step, straight from the channels-last rows (a logarithm per value, 960 x 49 of them
        // at the default CAM layer, was the largest part of `explain` after its backward). Each channel is
        // summed in position order whatever the thread count.
        const int blocks = channels / kEntropyLanes;
#pragma omp parallel for schedule(static) if (parallel)
        for (int b = 0; b < blocks; ++b)
            entropy_spatial_channels(x, positions, channels, b * kEntropyLanes, h.data() + b * kEntropyLanes);
        for (int c = blocks * kEntropyLanes; c < channels; ++c) {  // the last few channels, one at a time
            std::vector<float> channel(static_cast<size_t>(positions));
            for (int64_t i = 0; i < positions; ++i) channel[size_t(i)] = x[i * channels + c];
            h[size_t(c)] = float(entropy_spatial(channel.data(), positions));
        }
        return h;
    }
    // Channels are independent, each computed as on one thread: threads take blocks of them. An error is
    // reported for the lowest channel that has one, as a serial loop would.
    std::vector<std::exception_ptr> errors(static_cast<size_t>(channels));
#pragma omp parallel if (parallel)
    {
        std::vector<float> channel(static_cast<size_t>(positions));  // entropy() reads one contiguous channel
#pragma omp for schedule(static)
        for (int k = 0; k < channels; ++k) {
            try {
                for (int64_t i = 0; i < positions; ++i) channel[size_t(i)] = x[i * channels + k];
                h[size_t(k)] = float(entropy(channel.data(), positions, options));
            } catch (...) {
                errors[size_t(k)] = std::current_exception();
            }
        }
    }
    for (const std::exception_ptr& e : errors)
        if (e) std::rethrow_exception(e);
    return h;
}

const char* entropy_estimator_name(EntropyEstimator e) {
    switch (e) {
        case EntropyEstimator::Spatial: return "spatial";
        case EntropyEstimator::Histogram: return "hist";
    }
    return "unknown";
}

EntropyEstimator parse_entropy_estimator(const std::string& name) {
    if (name == "spatial") return EntropyEstimator::Spatial;
    if (name == "hist") return EntropyEstimator::Histogram;
    throw Error("unknown entropy estimator '" + name + "' (valid: spatial, hist)");
}

}  // namespace ec
