// How alike two saliency maps are, by the measures of Adebayo et al. 2018 ("Sanity Checks for Saliency Maps",
// NeurIPS, section 3): Spearman rank correlation of the signed map and of its absolute value, the structural
// similarity index (SSIM) and the Pearson correlation of histogram-of-oriented-gradients (HOG) descriptors.
// Plain math on maps: knows nothing of networks. Undefined values (a correlation with a constant map) are NaN.
#pragma once
#include <vector>

#include "cam/heatmap.h"

namespace ec {

// 1-based ranks of v in ascending order; tied values share the average of the ranks they span
// (e.g. {10, 20, 20, 30} -> {1, 2.5, 2.5, 4}), as scipy.stats.rankdata's default. Error if a value is NaN.
std::vector<double> average_ranks(const std::vector<float>& v);

// Pearson correlation sum(da db) / sqrt(sum da^2 * sum db^2) (da = a - mean a), in double, clamped to [-1, 1].
// NaN when either vector is constant (or has fewer than 2 values). Error if the sizes differ.
// Identical non-constant vectors give exactly 1 (sqrt(s * s) == s in IEEE arithmetic).
double pearson_correlation(const std::vector<double>& a, const std::vector<double>& b);

// Spearman's rho: the Pearson correlation of the average ranks (so ties are handled as scipy.stats.spearmanr).
double spearman_rank_correlation(const std::vector<float>& a, const std::vector<float>& b);

// SSIM (Wang et al. 2004) with the defaults of scikit-image's structural_similarity, which the sanity-check
// papers call: a uniform 7x7 window, sample (n - 1) variances and covariance, C1 = (0.01 L)^2, C2 = (0.03 L)^2,
// data range L = 1 (maps in [0, 1]); per window
//   S = (2 mx my + C1)(2 sxy + C2) / ((mx^2 + my^2 + C1)(sx^2 + sy^2 + C2)),
// averaged over every window that lies wholly inside the map (scikit-image's crop of the border). Computed in
// double from summed-area tables. Error if the sizes differ or a side is below 7.
constexpr int kSsimWindow = 7;
double ssim(const Heatmap& a, const Heatmap& b);

// HOG descriptor with scikit-image's defaults (Dalal & Triggs 2005): gradients by centred differences
// [-1, 0, 1] (zero on the border rows/columns), unsigned orientation in [0, 180) degrees in 9 bins of 20
// degrees (each pixel's magnitude into its one bin), cells of 8x8 pixels (histogram = mean over the cell),
// blocks of 3x3 cells with a stride of one cell, each block L2-Hys normalised (v / sqrt(|v|^2 + 1e-10),
// clipped at 0.2, normalised again). Returns the concatenated block vectors; empty when the map is smaller
// than one block (24 x 24 pixels).
std::vector<double> hog_descriptor(const Heatmap& map);

// What a map is compared by, computed once per map (the original map is compared with many others).
struct MapFeatures {
    std::vector<double> signed_ranks;  // average ranks of the upsampled raw (signed) map
    std::vector<double> abs_ranks;     // ... of its absolute value
    Heatmap display;                   // the displayed map: ReLU, min-max to [0, 1], upsampled (postprocess_cam)
    std::vector<double> hog;           // hog_descriptor(display)
};

// raw: a CAM's raw map (before ReLU). The rank features use upsample_bilinear(raw) (Spearman is invariant to
// the min-max scaling, and the signed map keeps what ReLU would cut); SSIM and HOG use the displayed map,
// i.e. normalised to [0, 1] as the paper normalises before SSIM and HOG.
MapFeatures map_features(const Heatmap& raw, int out_h, int out_w);

struct MapSimilarity {
    double spearman_abs = 0;  // Spearman of |map|
    double spearman = 0;      // Spearman of the signed map
    double ssim = 0;          // SSIM of the displayed maps
    double hog = 0;           // Pearson correlation of their HOG descriptors (NaN when either is all zero)
};
MapSimilarity compare_maps(const MapFeatures& a, const MapFeatures& b);

}  // namespace ec
