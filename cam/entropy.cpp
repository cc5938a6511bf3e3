#include "cam/entropy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <vector>

#ifdef __AVX__
#include <immintrin.h>
#endif

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

// Eight channels at a time in GCC/Clang vector types: their logarithms as floats (one ymm), their sums as doubles
// (two ymm of four). Plain scalar code where the target has no SIMD.
constexpr int kEntropyLanes = 8;
typedef float Floats __attribute__((vector_size(4 * kEntropyLanes)));
typedef int32_t Ints __attribute__((vector_size(4 * kEntropyLanes)));
typedef float Floats4 __attribute__((vector_size(16)));
typedef double Doubles __attribute__((vector_size(32)));  // four channels: half a step
typedef uint64_t Bits __attribute__((vector_size(32)));
typedef int64_t Masks __attribute__((vector_size(32)));

Doubles splat(double v) { return Doubles{} + v; }
#ifdef __AVX__  // GCC 12 converts a generic half in two 2-lane pieces
Doubles low_half(Floats v) { return Doubles(_mm256_cvtps_pd(_mm256_castps256_ps128(__m256(v)))); }
Doubles high_half(Floats v) { return Doubles(_mm256_cvtps_pd(_mm256_extractf128_ps(__m256(v), 1))); }
#else
Doubles low_half(Floats v) { return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3), Doubles); }
Doubles high_half(Floats v) { return __builtin_convertvector(__builtin_shufflevector(v, v, 4, 5, 6, 7), Doubles); }
#endif
Floats to_floats(Doubles lo, Doubles hi) {
    const Floats4 l = __builtin_convertvector(lo, Floats4), h = __builtin_convertvector(hi, Floats4);
    return __builtin_shufflevector(l, h, 0, 1, 2, 3, 4, 5, 6, 7);
}

// A logarithm as its two parts: a = m 2^e with m in [sqrt(1/2), sqrt(2)), ln a = e ln 2 + ln m, e exact and
// |ln m| <= 0.347. ln m = 2 atanh(s) = 2 sum_k s^(2k+1) / (2k+1) with s = (m - 1) / (m + 1), |s| <= 0.1716.
template <class V>
struct LogParts {
    V exponent, ln_mantissa;
};

// For normal positive doubles (a channel's sum T), eleven terms: a truncation below 1e-17, within a few ulp.
LogParts<Doubles> log_parts(Doubles a) {
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
    return {e, 2.0 * s * poly};
}

// For floats >= 0 (subnormals scaled by 2^24 first; 0 gives e = -151, m = 1), in float, six terms: a truncation below 2e-11, so
// ln m is within a few float ulp, an absolute error below 1e-7 whatever the size of a.
LogParts<Floats> log_parts(Floats a) {
    const Ints subnormal = a < 1.17549435e-38f;
    a = subnormal ? a * 16777216.0f : a;
    const Ints bits = (Ints)a;
    const Ints e = ((bits >> 23) & 0xff) - 127 - (subnormal & 24);
    Floats m = (Floats)((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
    const Ints high = m > 1.41421356f;
    m = high ? m * 0.5f : m;
    const Floats f = m - 1.0f;  // exact (Sterbenz)
    const Floats s = f / (f + 2.0f), z = s * s;
    Floats poly = Floats{} + 1.0f / 11.0f;
    for (int k = 4; k >= 0; --k) poly = poly * z + 1.0f / float(2 * k + 1);
    return {__builtin_convertvector(e - high, Floats), 2.0f * s * poly};  // high is -1: e - high = e + 1
}

Floats load_abs(const float* x) {
    Floats a;
    std::memcpy(&a, x, sizeof a);
    return (Floats)((Ints)a & 0x7fffffff);
}

// Spatial entropy of the kEntropyLanes channels at x of a map with `stride` floats a position, one lane per
// channel. With a = |x| and T = sum a, H = -sum (a/T) ln(a/T) = (1/T) sum a (ln T - ln a): every term >= 0, no
// division per value. ln T - ln a = (e_T - e_a) ln 2 + (ln m_T - ln m_a): the exponents, which carry the size of
// the values, subtract exactly, so ln T - ln a is a float within a few ulp of its own value (no cancellation of
// two large logarithms) and the mantissa logarithms add less than 1e-7 to it. T, the products with a and their
// sum are doubles. A channel with fewer than two nonzero values has H = 0 exactly.
void entropy_spatial_channels(const float* x, int64_t positions, int64_t stride, float* h) {
    Doubles total_lo = {}, total_hi = {};
    Ints nonzero = {};
    for (int64_t i = 0; i < positions; ++i) {
        const Floats a = load_abs(x + i * stride);
        nonzero -= a > 0.0f;  // true is -1
        total_lo += low_half(a);
        total_hi += high_half(a);
    }
    const Masks empty_lo = total_lo == 0.0, empty_hi = total_hi == 0.0;
    const LogParts<Doubles> t_lo = log_parts(empty_lo ? splat(1.0) : total_lo);
    const LogParts<Doubles> t_hi = log_parts(empty_hi ? splat(1.0) : total_hi);
    const Floats exponent_total = to_floats(t_lo.exponent, t_hi.exponent);
    const Floats ln_mantissa_total = to_floats(t_lo.ln_mantissa, t_hi.ln_mantissa);
    Doubles sum_lo = {}, sum_hi = {};
    for (int64_t i = 0; i < positions; ++i) {
        const Floats a = load_abs(x + i * stride);
        // A zero adds 0 (0 ln 0 = 0 by continuity): log_parts(0) is finite (2^-151 with m = 1), times a = 0.
        const LogParts<Floats> l = log_parts(a);
        // ln T - ln a in float; the product with a in double (a float product of a subnormal a would round away
        // most of its digits).
        const Floats log_ratio = (exponent_total - l.exponent) * 0.693147180559945f + (ln_mantissa_total - l.ln_mantissa);
        sum_lo += low_half(a) * low_half(log_ratio);
        sum_hi += high_half(a) * high_half(log_ratio);
    }
    const Doubles entropy_lo = sum_lo / (empty_lo ? splat(1.0) : total_lo);
    const Doubles entropy_hi = sum_hi / (empty_hi ? splat(1.0) : total_hi);
    for (int c = 0; c < kEntropyLanes; ++c) {
        const double total = c < 4 ? total_lo[c] : total_hi[c - 4];
        const double entropy = c < 4 ? entropy_lo[c] : entropy_hi[c - 4];
        h[c] = nonzero[c] < 2 && std::isfinite(total) ? 0.0f : float(entropy);  // a NaN or infinity stays visible
    }
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
            entropy_spatial_channels(x + b * kEntropyLanes, positions, channels, h.data() + b * kEntropyLanes);
        if (const int rest = channels - blocks * kEntropyLanes) {  // the last few channels, padded with zero ones
            std::vector<float> padded(size_t(positions) * kEntropyLanes, 0.0f);
            for (int64_t i = 0; i < positions; ++i)
                std::copy_n(x + i * channels + blocks * kEntropyLanes, rest, padded.data() + i * kEntropyLanes);
            float tail[kEntropyLanes];
            entropy_spatial_channels(padded.data(), positions, kEntropyLanes, tail);
            std::copy_n(tail, rest, h.data() + blocks * kEntropyLanes);
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
