#include "cam/entropy.h"

#include <algorithm>
#include <cmath>
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

std::vector<float> entropy_per_channel(const float* x, int64_t positions, int channels, const EntropyOptions& options) {
    if (positions < 1 || channels < 1)
        throw Error("entropy_per_channel: empty map (" + std::to_string(positions) + " positions, " + std::to_string(channels) + " channels)");
    std::vector<float> h(static_cast<size_t>(channels));
    // Channels are independent, each computed as on one thread: threads take blocks of them (a logarithm per
    // value, 1280 x 49 of them at MobileNetV2's last layer, was the largest serial part of `explain`). An error
    // is reported for the lowest channel that has one, as a serial loop would.
    std::vector<std::exception_ptr> errors(static_cast<size_t>(channels));
#pragma omp parallel if (positions * channels * 8 >= kParallelMin)
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
