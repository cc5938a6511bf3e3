#include "cam/eval/road.h"

#include <Eigen/Sparse>
#include <Eigen/SparseCholesky>
#include <algorithm>
#include <cmath>
#include <exception>
#include <string>

#include "cam/eval/metrics.h"
#include "cam/eval/metrics_baselines.h"
#include "cam/postprocess.h"

namespace ec {
namespace {

// One N(0, 1) draw: Box-Muller on two uniform splitmix64 draws, u1 in (0, 1] so that log(u1) is finite.
double standard_normal(uint64_t& state) {
    const double u1 = double((splitmix64(state) >> 11) + 1) * 0x1p-53;
    const double u2 = double(splitmix64(state) >> 11) * 0x1p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

struct Neighbour {
    int dy, dx;
    double weight;
};
constexpr Neighbour kNeighbours[] = {
    {-1, -1, kRoadDiagonalWeight}, {-1, 0, kRoadDirectWeight}, {-1, 1, kRoadDiagonalWeight},
    {0, -1, kRoadDirectWeight},    {0, 1, kRoadDirectWeight},  {1, -1, kRoadDiagonalWeight},
    {1, 0, kRoadDirectWeight},     {1, 1, kRoadDiagonalWeight},
};

void require_image(const char* what, const Tensor& image) {
    if (image.shape.rank != 4 || image.shape.n() != 1 || image.shape.h() < 1 || image.shape.w() < 1 || image.shape.c() < 1)
        throw Error(std::string(what) + ": expected a 1 x H x W x C image, got shape " + image.shape.str());
}

}  // namespace

Tensor noisy_linear_impute(const Tensor& image, const std::vector<uint8_t>& removed, double noise_std, uint64_t seed) {
    require_image("noisy_linear_impute", image);
    const int h = image.shape.h(), w = image.shape.w(), c = image.shape.c();
    const int64_t pixels = int64_t(h) * w;
    if (int64_t(removed.size()) != pixels)
        throw Error("noisy_linear_impute: mask has " + std::to_string(removed.size()) + " values for a " +
                    std::to_string(h) + "x" + std::to_string(w) + " image");
    if (!(noise_std >= 0.0) || !std::isfinite(noise_std))
        throw Error("noisy_linear_impute: noise_std must be finite and >= 0, got " + std::to_string(noise_std));
    std::vector<int64_t> unknown(size_t(pixels), -1);  // pixel -> row of the system, -1 if kept
    int64_t n = 0;
    for (int64_t p = 0; p < pixels; ++p)
        if (removed[size_t(p)]) unknown[size_t(p)] = n++;
    Tensor out = image;
    if (n == 0) return out;
    if (n == pixels) throw Error("noisy_linear_impute: every pixel is removed; nothing to impute from");

    // Row r (removed pixel p): (sum_q w_q) x_p - sum_{q removed} w_q x_q = sum_{q kept} w_q v_q, q over the
    // in-image neighbours: x_p is the weighted mean of its neighbours (the authors' system, negated to be SPD).
    std::vector<Eigen::Triplet<double>> entries;
    entries.reserve(size_t(n) * 9);
    Eigen::MatrixXd rhs = Eigen::MatrixXd::Zero(n, c);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const int64_t r = unknown[size_t(int64_t(y) * w + x)];
            if (r < 0) continue;
            double diagonal = 0.0;
            for (const Neighbour& nb : kNeighbours) {
                const int qy = y + nb.dy, qx = x + nb.dx;
                if (qy < 0 || qy >= h || qx < 0 || qx >= w) continue;
                diagonal += nb.weight;
                const int64_t q = int64_t(qy) * w + qx;
                if (unknown[size_t(q)] >= 0) {
                    entries.emplace_back(r, unknown[size_t(q)], -nb.weight);
                } else {
                    for (int ch = 0; ch < c; ++ch) rhs(r, ch) += nb.weight * image[q * c + ch];
                }
            }
            entries.emplace_back(r, r, diagonal);
        }
    Eigen::SparseMatrix<double> system(n, n);
    system.setFromTriplets(entries.begin(), entries.end());
    // Symmetric (w_pq = w_qp) and, since every connected group of removed pixels touches a kept one, positive
    // definite: LDL^T with a fill-reducing ordering.
    Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver(system);
    if (solver.info() != Eigen::Success) throw Error("noisy_linear_impute: the sparse factorisation failed");
    const Eigen::MatrixXd values = solver.solve(rhs);
    if (solver.info() != Eigen::Success) throw Error("noisy_linear_impute: the sparse solve failed");

    uint64_t state = seed;
    for (int64_t p = 0; p < pixels; ++p) {
        const int64_t r = unknown[size_t(p)];
        if (r < 0) continue;
        for (int ch = 0; ch < c; ++ch) {
            const double noise = noise_std > 0.0 ? noise_std * standard_normal(state) : 0.0;
            out[p * c + ch] = float(values(r, ch) + noise);
        }
    }
    return out;
}

std::vector<int32_t> road_pixel_order(const Heatmap& saliency, double tie_jitter, uint64_t seed) {
    if (!(tie_jitter >= 0.0) || !std::isfinite(tie_jitter))
        throw Error("road_pixel_order: tie_jitter must be finite and >= 0, got " + std::to_string(tie_jitter));
    for (float v : saliency.values)
        if (!std::isfinite(v)) throw Error("road_pixel_order: the saliency map has a non-finite value");
    Heatmap ranked = minmax_normalize(saliency);
    if (tie_jitter > 0.0) {
        uint64_t state = seed;
        for (float& v : ranked.values) v = float(double(v) + tie_jitter * standard_normal(state));
    }
    return pixel_order(ranked);
}

std::vector<uint8_t> road_removal_mask(const std::vector<int32_t>& order, int percent, bool most_relevant_first) {
    if (percent < 0 || percent > 100)
        throw Error("road_removal_mask: percent must be in [0, 100], got " + std::to_string(percent));
    const int64_t pixels = int64_t(order.size());
    const int64_t count = int64_t(percent) * pixels / 100;  // floor, in integers: no 0.3 * n rounding surprises
    std::vector<uint8_t> removed(order.size(), 0);
    const int64_t begin = most_relevant_first ? 0 : pixels - count;
    for (int64_t i = begin; i < begin + count; ++i) removed[size_t(order[size_t(i)])] = 1;
    return removed;
}

RoadResult road_evaluate(const Tensor& image, const Heatmap& saliency, const ClassScoreFn& class_scores,
                         const RoadOptions& options) {
    require_image("road_evaluate", image);
    if (saliency.h != image.shape.h() || saliency.w != image.shape.w() || saliency.size() != int64_t(saliency.h) * saliency.w)
        throw Error("road_evaluate: the saliency map is " + std::to_string(saliency.h) + "x" + std::to_string(saliency.w) +
                    ", the image " + std::to_string(image.shape.h()) + "x" + std::to_string(image.shape.w()));
    if (options.percentages.empty()) throw Error("road_evaluate: no percentages");
    for (int p : options.percentages)
        if (p < 1 || p > 99) throw Error("road_evaluate: percentages must be in [1, 99], got " + std::to_string(p));
    if (options.batch < 1) throw Error("road_evaluate: batch must be at least 1, got " + std::to_string(options.batch));
    if (!class_scores) throw Error("road_evaluate: no class-score function");

    uint64_t seeds = options.seed;
    const std::vector<int32_t> order = road_pixel_order(saliency, options.tie_jitter, splitmix64(seeds));
    const size_t steps = options.percentages.size(), images = 2 * steps;  // MoRF for every percentage, then LeRF
    std::vector<uint64_t> noise_seed(images);  // drawn in a fixed order: results do not depend on threads
    for (uint64_t& s : noise_seed) s = splitmix64(seeds);
    std::vector<float> probs(images);
    const int64_t image_size = image.numel();

    Tensor batch;
    std::vector<float> scores;
    for (size_t first = 0; first < images; first += size_t(options.batch)) {
        const size_t rows = std::min<size_t>(size_t(options.batch), images - first);
        batch.reshape_storage(image.shape.with_batch(int(rows)));
        // The imputations are independent sparse solves: one per thread. An Error must not leave the parallel
        // region, so the first one is kept and rethrown after it.
        std::string error;
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t b = 0; b < int64_t(rows); ++b) {
            const size_t j = first + size_t(b);
            try {
                const std::vector<uint8_t> removed = road_removal_mask(order, options.percentages[j % steps], j < steps);
                const Tensor imputed = noisy_linear_impute(image, removed, options.noise_std, noise_seed[j]);
                std::copy(imputed.data.begin(), imputed.data.end(), batch.data.begin() + b * image_size);
            } catch (const std::exception& e) {
#pragma omp critical(road_error)
                if (error.empty()) error = e.what();
            }
        }
        if (!error.empty()) throw Error("road_evaluate: " + error);
        class_scores(batch, scores);
        if (scores.size() != rows)
            throw Error("road_evaluate: the class-score function returned " + std::to_string(scores.size()) +
                        " scores for a batch of " + std::to_string(rows));
        std::copy(scores.begin(), scores.end(), probs.begin() + int64_t(first));
    }
    RoadResult r;
    r.percentages = options.percentages;
    r.morf_curve.assign(probs.begin(), probs.begin() + int64_t(steps));
    r.lerf_curve.assign(probs.begin() + int64_t(steps), probs.end());
    double morf = 0.0, lerf = 0.0;
    for (size_t i = 0; i < steps; ++i) {
        morf += r.morf_curve[i];
        lerf += r.lerf_curve[i];
    }
    r.road_morf = morf / double(steps);
    r.road_lerf = lerf / double(steps);
    return r;
}

}  // namespace ec
