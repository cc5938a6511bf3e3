// Entropy of a real-valued map (method.md, "Entropy of a map"): the channel weight of the two entropy CAMs.
// Two named estimators; neither counts unique float values, and neither feeds signed values to a formula that
// expects probabilities. All sums are accumulated in double.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ec {

enum class EntropyEstimator {
    Spatial,    // p_ij = |x_ij| / sum|x|, H = -sum p ln p (nats), range [0, ln n]
    Histogram,  // Shannon entropy in bits of a B-bin histogram of the values over [min, max]
};

constexpr int kDefaultHistogramBins = 256;
constexpr int kMaxHistogramBins = 1 << 20;  // bins are allocated per call; refuse absurd requests

struct EntropyOptions {
    EntropyEstimator estimator = EntropyEstimator::Spatial;
    int bins = kDefaultHistogramBins;  // only for Histogram
};

// Spatial entropy in nats. Terms with p = 0 contribute 0; an all-zero map (sum|x| = 0) has entropy 0.
double entropy_spatial(const float* x, int64_t n);

// Histogram entropy in bits, numpy.histogram binning: `bins` equal bins over [min, max]; edge i is
// float32(min + i * (max - min) / bins) computed in double (numpy.linspace then a float32 cast); a value v
// falls in bin i when edge[i] <= v < edge[i+1], and the last bin is closed (v == max goes into bin B-1).
// A constant map (max == min) and an empty map have entropy 0. Throws Error if bins is not in
// [1, kMaxHistogramBins] or a value is not finite.
double entropy_hist(const float* x, int64_t n, int bins);

// Dispatches on options.estimator.
double entropy(const float* x, int64_t n, const EntropyOptions& options);

// H of every channel of a channels-last map (positions x channels floats, element (i, k) at
// x[i * channels + k]): the channel weights of the entropy CAMs. The spatial estimator runs eight channels at a
// time with each logarithm split into an exact exponent and a float mantissa logarithm: within 4 float ulp of
// entropy_spatial on the gathered channel. Throws Error if positions < 1 or channels < 1.
std::vector<float> entropy_per_channel(const float* x, int64_t positions, int channels, const EntropyOptions& options);

// "spatial" / "hist"; parse throws Error listing the valid names.
const char* entropy_estimator_name(EntropyEstimator e);
EntropyEstimator parse_entropy_estimator(const std::string& name);

}  // namespace ec
