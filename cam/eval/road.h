// ROAD, Remove And Debias (Rong, Leemann, Borisov, Kasneci & Kasneci 2022, "A Consistent and Efficient
// Evaluation Strategy for Attribution Methods", ICML): remove a percentage of the pixels a saliency map ranks
// most relevant (MoRF) or least relevant (LeRF), fill them with the paper's noisy linear imputation, and
// record the class probability on the imputed image. The imputation keeps the removed pixels' values tied to
// their surroundings so that the shape of the removed region does not itself leak class information.
// What is not here: running a network (the caller passes a ClassScoreFn), computing maps, files.
// Images are one 1 x H x W x C (NHWC) tensor; maps and masks are H x W, row-major.
#pragma once
#include <cstdint>
#include <vector>

#include "cam/class_score.h"
#include "cam/heatmap.h"
#include "nn/preprocessing.h"
#include "nn/tensor.h"

namespace ec {

// The removal percentages of pytorch-grad-cam's ROADMostRelevantFirstAverage / ROADLeastRelevantFirstAverage /
// ROADCombined (10, 20, ..., 90), i.e. the 10 %-90 % range of the paper's curves. (The authors' own CIFAR-10
// scripts pass lists such as {10, 20, 30, 40, 50, 70, 90}; any list of integers in [1, 99] is accepted.)
inline std::vector<int> road_default_percentages() { return {10, 20, 30, 40, 50, 60, 70, 80, 90}; }

// The authors' NoisyLinearImputer: noise = 0.01, an absolute standard deviation on images in [0, 1] (they
// impute before normalising). For an input normalised to [-1, 1] (u8 / 127.5 - 1) the same noise is 0.02.
constexpr double kRoadNoiseStd01 = 0.01;
// The same noise in the units of a model's input: 0.01 of the u8 range 0..255, times the scale that maps u8 to
// the input (0.02 for u8 / 127.5 - 1).
inline double road_noise_std(const Preprocessing& p) { return kRoadNoiseStd01 * 255.0 * p.scale; }
// The authors' ImputedDataset adds 1e-4 * N(0, 1) to the min-max normalised map before ranking, so that ties
// (large flat regions of a CAM) are removed in random rather than row-major order.
constexpr double kRoadTieJitter = 1e-4;
// Neighbour weights of the imputation (the paper; the authors' `neighbors_weights`).
constexpr double kRoadDirectWeight = 1.0 / 6.0;     // (0, +-1), (+-1, 0)
constexpr double kRoadDiagonalWeight = 1.0 / 12.0;  // (+-1, +-1)

struct RoadOptions {
    std::vector<int> percentages = road_default_percentages();  // of the H * W pixels removed, each in [1, 99]
    double noise_std = kRoadNoiseStd01;  // in the units of the image tensor (see kRoadNoiseStd01); 0 = no noise
    double tie_jitter = kRoadTieJitter;  // 0 = rank ties by pixel index (a stable sort)
    uint64_t seed = 0;                   // seeds the tie jitter and every imputation's noise
    int batch = 16;                      // imputed images per class-score call
};

struct RoadResult {
    std::vector<int> percentages;   // as in the options
    std::vector<float> morf_curve;  // class probability after removing p % most relevant first, per percentage
    std::vector<float> lerf_curve;  // likewise, least relevant first
    double road_morf = 0;           // mean of morf_curve: lower is better
    double road_lerf = 0;           // mean of lerf_curve: higher is better
};

// Noisy linear imputation: every removed pixel (removed[y * W + x] != 0) becomes the weighted mean of its
// in-image 8 neighbours (direct 1/6, diagonal 1/12, renormalised over the neighbours that exist at the image
// border), where removed neighbours are themselves unknowns. All removed pixels are solved together as one
// sparse symmetric positive definite system (Eigen SimplicialLDLT, AMD ordering), one right-hand side per
// channel; then N(0, noise_std^2) noise, one draw per removed value (splitmix64 + Box-Muller from `seed`), is
// added. Kept pixels are copied unchanged. Error if the mask has the wrong size or removes every pixel (the
// system is then singular: nothing to impute from).
Tensor noisy_linear_impute(const Tensor& image, const std::vector<uint8_t>& removed, double noise_std, uint64_t seed);

// Pixel indices ranked most relevant first: the min-max normalised map plus tie_jitter * N(0, 1) noise from
// `seed`, sorted descending, ties by lower index (pixel_order of cam/eval/metrics.h). Error on non-finite values.
std::vector<int32_t> road_pixel_order(const Heatmap& saliency, double tie_jitter, uint64_t seed);

// The removal mask for `percent` % of the pixels of `order`: n = floor(percent * pixels / 100) pixels, the
// first n of the order (MoRF) or the last n (LeRF). Error unless 0 <= percent <= 100.
std::vector<uint8_t> road_removal_mask(const std::vector<int32_t>& order, int percent, bool most_relevant_first);

// The MoRF and LeRF curves of one map on one image and their means. `saliency` must have the image's H x W.
// Imputed images go through class_scores in batches of options.batch (2 * percentages in all); the imputations
// of one batch run in parallel (OpenMP), each with its own noise seed drawn in a fixed order from options.seed,
// so the result does not depend on the thread count.
// Error on shape mismatches, options out of range, or a class-score function that returns the wrong count.
RoadResult road_evaluate(const Tensor& image, const Heatmap& saliency, const ClassScoreFn& class_scores,
                         const RoadOptions& options = {});

}  // namespace ec
