#include "cam/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace ec {

// ---- Deletion / Insertion ----

std::vector<int32_t> pixel_order(const Heatmap& map) {
    for (float v : map.values)
        if (!std::isfinite(v)) throw Error("pixel_order: the map has a non-finite value");
    std::vector<int32_t> order(map.values.size());
    std::iota(order.begin(), order.end(), 0);
    // Descending by value; stable_sort keeps equal values in ascending index order (method.md tie-breaking).
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return map.values[size_t(a)] > map.values[size_t(b)]; });
    return order;
}

int64_t pixels_per_step(int64_t pixels, int steps) {
    if (pixels < 1 || steps < 1)
        throw Error("pixels_per_step: need at least one pixel and one step, got " + std::to_string(pixels) +
                    " pixels and " + std::to_string(steps) + " steps");
    return (pixels + steps - 1) / steps;
}

int64_t pixels_changed_after(int64_t pixels, int steps, int step) {
    return std::min(int64_t(step) * pixels_per_step(pixels, steps), pixels);
}

void copy_pixels(float* image, const float* source, const int32_t* order, int64_t begin, int64_t end, int channels) {
    for (int64_t i = begin; i < end; ++i) {
        const int64_t p = int64_t(order[i]) * channels;
        for (int c = 0; c < channels; ++c) image[p + c] = source[p + c];
    }
}

double trapezoid_auc(const std::vector<float>& y) {
    if (y.size() < 2) throw Error("trapezoid_auc: a curve needs at least 2 points, got " + std::to_string(y.size()));
    const size_t n = y.size() - 1;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += 0.5 * (double(y[i]) + double(y[i + 1]));
    return sum / double(n);
}

double trapezoid_auc(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size() || x.size() < 2)
        throw Error("trapezoid_auc: need x and y of one length >= 2, got " + std::to_string(x.size()) + " and " +
                    std::to_string(y.size()));
    double sum = 0;
    for (size_t i = 0; i + 1 < x.size(); ++i) sum += (x[i + 1] - x[i]) * 0.5 * (y[i] + y[i + 1]);
    return sum;
}

std::vector<double> gaussian_kernel_1d(int size, double sigma) {
    if (size < 1 || size % 2 == 0 || !(sigma > 0))
        throw Error("gaussian_kernel_1d: need an odd size >= 1 and sigma > 0, got " + std::to_string(size) + " and " +
                    std::to_string(sigma));
    std::vector<double> k(static_cast<size_t>(size));
    const int r = size / 2;
    double sum = 0;
    for (int d = -r; d <= r; ++d) sum += k[size_t(d + r)] = std::exp(-double(d) * d / (2 * sigma * sigma));
    for (double& v : k) v /= sum;
    return k;
}

// Separable: the normalised 2-D kernel g(dy) g(dx) is the outer product of the normalised 1-D one, so a
// vertical then a horizontal pass (each with zero padding) equals the 2-D zero-padded convolution.
Tensor gaussian_blur(const Tensor& image, int size, double sigma) {
    if (image.shape.rank != 4 || image.shape.n() != 1)
        throw Error("gaussian_blur: expects a 1 x H x W x C image, got " + image.shape.str());
    const std::vector<double> k = gaussian_kernel_1d(size, sigma);
    const int h = image.shape.h(), w = image.shape.w(), c = image.shape.c(), r = size / 2;
    std::vector<double> vertical(size_t(image.numel()), 0.0);
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; ++y)
        for (int d = -r; d <= r; ++d) {
            const int sy = y + d;
            if (sy < 0 || sy >= h) continue;  // zero padding
            const double kd = k[size_t(d + r)];
            const float* src = image.ptr() + int64_t(sy) * w * c;
            double* dst = vertical.data() + int64_t(y) * w * c;
            for (int64_t i = 0; i < int64_t(w) * c; ++i) dst[i] += kd * src[i];
        }
    Tensor out(image.shape);
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch) {
                double acc = 0;
                for (int d = std::max(-r, -x); d <= std::min(r, w - 1 - x); ++d)
                    acc += k[size_t(d + r)] * vertical[(int64_t(y) * w + (x + d)) * c + ch];
                out[(int64_t(y) * w + x) * c + ch] = float(acc);
            }
    return out;
}

// ---- Average Drop and Increase in Confidence ----

Tensor multiply_by_map(const Tensor& image, const Heatmap& map) {
    if (image.shape.rank != 4 || image.shape.n() != 1 || image.shape.h() != map.h || image.shape.w() != map.w)
        throw Error("multiply_by_map: image " + image.shape.str() + " and map " + std::to_string(map.h) + "x" +
                    std::to_string(map.w) + " differ in size");
    Tensor out(image.shape);
    const int c = image.shape.c();
    for (int64_t p = 0; p < map.size(); ++p)
        for (int ch = 0; ch < c; ++ch) out[p * c + ch] = image[p * c + ch] * map.values[size_t(p)];
    return out;
}

double average_drop_term(double y, double o) {
    if (!(y > 0)) throw Error("average_drop_term: the probability on the image must be positive, got " + std::to_string(y));
    return 100.0 * std::max(0.0, y - o) / y;
}

double increase_term(double y, double o) { return o > y ? 100.0 : 0.0; }

namespace {
void check_pairs(const std::vector<double>& y, const std::vector<double>& o, const char* what) {
    if (y.size() != o.size() || y.empty())
        throw Error(std::string(what) + ": need Y and O of one non-zero length, got " + std::to_string(y.size()) +
                    " and " + std::to_string(o.size()));
}
}  // namespace

double average_drop(const std::vector<double>& y, const std::vector<double>& o) {
    check_pairs(y, o, "average_drop");
    double sum = 0;
    for (size_t i = 0; i < y.size(); ++i) sum += average_drop_term(y[i], o[i]);
    return sum / double(y.size());
}

double increase_in_confidence(const std::vector<double>& y, const std::vector<double>& o) {
    check_pairs(y, o, "increase_in_confidence");
    double sum = 0;
    for (size_t i = 0; i < y.size(); ++i) sum += increase_term(y[i], o[i]);
    return sum / double(y.size());
}

// ---- Energy pointing game ----

Mask resize_mask_nearest(const Mask& mask, int out_h, int out_w) {
    if (mask.h < 1 || mask.w < 1 || out_h < 1 || out_w < 1 || mask.inside.size() != size_t(int64_t(mask.h) * mask.w))
        throw Error("resize_mask_nearest: bad sizes (mask " + std::to_string(mask.h) + "x" + std::to_string(mask.w) +
                    ", output " + std::to_string(out_h) + "x" + std::to_string(out_w) + ")");
    auto source = [](int dst, int in, int out) {
        return std::min(int((int64_t(2) * dst + 1) * in / (int64_t(2) * out)), in - 1);  // floor((dst+0.5)*in/out), exact
    };
    Mask out{out_h, out_w, std::vector<uint8_t>(size_t(int64_t(out_h) * out_w))};
    for (int y = 0; y < out_h; ++y) {
        const int sy = source(y, mask.h, out_h);
        for (int x = 0; x < out_w; ++x)
            out.inside[size_t(int64_t(y) * out_w + x)] = mask.inside[size_t(int64_t(sy) * mask.w + source(x, mask.w, out_w))];
    }
    return out;
}

double energy_pointing_game(const Heatmap& map, const Mask& mask) {
    if (map.h != mask.h || map.w != mask.w || mask.inside.size() != map.values.size())
        throw Error("energy_pointing_game: map " + std::to_string(map.h) + "x" + std::to_string(map.w) + " and mask " +
                    std::to_string(mask.h) + "x" + std::to_string(mask.w) + " differ in size");
    double inside = 0, total = 0;
    for (size_t i = 0; i < map.values.size(); ++i) {
        const double v = map.values[i];
        if (!(v >= 0)) throw Error("energy_pointing_game: the map has a negative or non-finite value");
        total += v;
        if (mask.inside[i]) inside += v;
    }
    return total > 0 ? inside / total : std::nan("");
}

double pointing_hit(const Heatmap& map, const Mask& mask) {
    if (map.h != mask.h || map.w != mask.w || mask.inside.size() != map.values.size())
        throw Error("pointing_hit: map " + std::to_string(map.h) + "x" + std::to_string(map.w) + " and mask " +
                    std::to_string(mask.h) + "x" + std::to_string(mask.w) + " differ in size");
    size_t best = 0;
    for (size_t i = 0; i < map.values.size(); ++i) {
        const float v = map.values[i];
        if (!(v >= 0) || !std::isfinite(v)) throw Error("pointing_hit: the map has a negative or non-finite value");
        if (v > map.values[best]) best = i;  // strictly greater: the first maximum in row-major order wins
    }
    if (map.values.empty() || !(map.values[best] > 0)) return std::nan("");
    return mask.inside[best] ? 1.0 : 0.0;
}

// ---- Aggregation ----

MeanCI mean_ci95(const std::vector<double>& values) {
    MeanCI r;
    double sum = 0;
    for (double v : values)
        if (!std::isnan(v)) { sum += v; ++r.n; }
    if (r.n == 0) return {std::nan(""), std::nan(""), 0};
    r.mean = sum / r.n;
    if (r.n < 2) { r.half_width = std::nan(""); return r; }
    double ss = 0;
    for (double v : values)
        if (!std::isnan(v)) ss += (v - r.mean) * (v - r.mean);
    r.half_width = 1.96 * std::sqrt(ss / (r.n - 1)) / std::sqrt(double(r.n));
    return r;
}

}  // namespace ec
