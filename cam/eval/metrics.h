// Faithfulness and localisation metrics of a saliency map (method.md, "Faithfulness and localisation
// metrics"), as plain math on maps, images and probabilities: the pixel order of Deletion/Insertion, the
// per-step pixel replacement, the trapezoid AUC, the Insertion blur substrate, Average Drop, Increase in
// Confidence, the energy pointing game, the pointing hit and the mean with its 95 % confidence interval.
// Running perturbed images through a network is cam/eval/evaluate.h; the two baseline maps are cam/eval/metrics_baselines.h.
// Images here are one 1 x H x W x C (NHWC) tensor or its raw floats; maps are H x W, row-major.
#pragma once
#include <cstdint>
#include <vector>

#include "cam/heatmap.h"
#include "nn/tensor.h"

namespace ec {

// ---- Deletion / Insertion (RISE, Petsiuk 2018) ----

// Pixel indices (y * w + x) ranked by the map, descending; ties keep the lower (row-major) index first, i.e.
// a stable sort (method.md). Throws Error if a value is not finite.
std::vector<int32_t> pixel_order(const Heatmap& map);

// Pixels changed per step: ceil(pixels / steps) (method.md). Throws Error unless pixels >= 1 and steps >= 1.
int64_t pixels_per_step(int64_t pixels, int steps);

// How many pixels have been changed after `step` steps (0..steps): min(step * per_step, pixels).
int64_t pixels_changed_after(int64_t pixels, int steps, int step);

// Copies, for every pixel order[i] with begin <= i < end, all `channels` values of `source` into `image`
// (both h*w*channels floats, channels last). This is one step of Deletion (source = substrate) and of
// Insertion (source = the original image).
void copy_pixels(float* image, const float* source, const int32_t* order, int64_t begin, int64_t end, int channels);

// Area under a curve sampled at n + 1 evenly spaced x in [0, 1] (x_i = i / n), by the trapezoid rule:
// (1/n) * sum_{i<n} (y_i + y_{i+1}) / 2, accumulated in double (RISE's `auc`). Throws Error for fewer than 2 points.
double trapezoid_auc(const std::vector<float>& y);
// The same for arbitrary increasing x (same length as y, at least 2 points; Error otherwise).
double trapezoid_auc(const std::vector<double>& x, const std::vector<double>& y);

// The Insertion substrate (method.md, as RISE's `blur`): each channel convolved with the normalised 11x11
// Gaussian, sigma 5 (k(dy,dx) = g(dy) g(dx), g(d) = exp(-d^2 / (2 sigma^2)) / sum_d' exp(...)), with zero
// padding of 5 on every side, so the output has the input's size. Note that RISE builds its kernel with
// scipy's gaussian_filter on an 11x11 impulse (reflect mode), which folds the tails back; we use the plain
// normalised Gaussian that method.md states. Input: a 1 x H x W x C tensor (Error otherwise).
constexpr int kBlurKernelSize = 11;
constexpr double kBlurSigma = 5.0;
std::vector<double> gaussian_kernel_1d(int size, double sigma);  // normalised to sum 1
Tensor gaussian_blur(const Tensor& image, int size = kBlurKernelSize, double sigma = kBlurSigma);

// ---- Average Drop and Increase in Confidence (Chattopadhay 2018) ----

// The image multiplied by the map, pixel by pixel over all channels, in normalised input space (method.md):
// out[y,x,c] = image[y,x,c] * map[y,x]. The map must have the image's H x W (Error otherwise).
Tensor multiply_by_map(const Tensor& image, const Heatmap& map);

// One image's terms, in percent, whose means over images are the two metrics:
//   drop = 100 * max(0, Y - O) / Y   (Average Drop %, lower is better; Error if Y <= 0)
//   increase = 100 * [O > Y]         (Increase in Confidence %, higher is better)
// Y is the class probability on the image, O on the image multiplied by the map.
double average_drop_term(double y, double o);
double increase_term(double y, double o);
// The metrics over images: 100 * mean_i max(0, Y_i - O_i) / Y_i and 100 * mean_i [O_i > Y_i].
double average_drop(const std::vector<double>& y, const std::vector<double>& o);
double increase_in_confidence(const std::vector<double>& y, const std::vector<double>& o);

// ---- Energy pointing game (Score-CAM) ----

// A binary object mask on an H x W grid: inside[y * w + x] != 0 for object pixels.
struct Mask {
    int h = 0, w = 0;
    std::vector<uint8_t> inside;
};

// Nearest-neighbour resampling with half-pixel centres: src = min(floor((dst + 0.5) * in / out), in - 1)
// per axis (so a same-size resize is the identity and a 2x downsample takes the lower-right pixel of each pair).
// Throws Error if a size is not positive.
Mask resize_mask_nearest(const Mask& mask, int out_h, int out_w);

// sum(map inside the mask) / sum(map) (the map is non-negative after post-processing). NaN when sum(map) is 0
// (a constant map: no energy to point with). Error if the sizes differ or a value is negative.
double energy_pointing_game(const Heatmap& map, const Mask& mask);

// Pointing hit (the pointing game of Zhang et al. 2016, "Top-down neural attention by excitation backprop",
// without its 15-pixel tolerance): 1 when the map's maximum lies inside the mask, else 0. Ties for the maximum:
// the first pixel in row-major order (smallest y * w + x), as pixel_order breaks them, so a constant non-zero map
// points at the top-left pixel. NaN when the map is all zero (no maximum to point with; a post-processed map is all
// zero when its CAM was zero after ReLU). The mean over images is the hit rate. Error if the sizes differ or a
// value is negative or not finite.
double pointing_hit(const Heatmap& map, const Mask& mask);

// ---- Aggregation over images ----

// mean +- 1.96 * sd / sqrt(n), sd the sample standard deviation (n - 1); NaN values are skipped and not counted.
// half_width is NaN when fewer than 2 values remain, and mean is NaN when none remains.
struct MeanCI {
    double mean = 0;
    double half_width = 0;
    int n = 0;
};
MeanCI mean_ci95(const std::vector<double>& values);

}  // namespace ec
