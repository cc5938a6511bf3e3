// Scores saliency maps of one image with the metrics of cam/eval/metrics.h by running perturbed copies of the
// image through a network: the Deletion and Insertion curves, Average Drop / Increase in Confidence, the energy
// pointing game and the pointing hit. Every perturbed copy of every map goes through one Session in batches (the
// graph runs any batch N; the kernels use every core through OpenMP). Scores are softmax probabilities of one class.
// What is not here: choosing the class from a labels file, computing or post-processing the CAMs, files.
#pragma once
#include <vector>

#include "cam/heatmap.h"
#include "cam/eval/metrics.h"
#include "cam/eval/road.h"
#include "nn/graph.h"

namespace ec {

constexpr int kDefaultCurveSteps = 50;   // RISE uses 224 pixels per step, i.e. 224 steps at 224 x 224
constexpr int kDefaultEvalBatch = 16;

struct EvaluateOptions {
    int steps = kDefaultCurveSteps;  // n: the curves have n + 1 points
    int batch = kDefaultEvalBatch;   // perturbed images per forward pass
    bool deletion = true;
    bool insertion = true;
    bool average_drop = true;        // also gives Increase in Confidence (same forward pass)
    bool road = false;               // ROAD (cam/eval/road.h): one sparse solve per percentage and curve, slow
    RoadOptions road_options;        // set noise_std to road_noise_std(the model's preprocessing)
};

// Softmax probability of output `cls` in row n of a [N, K] logits value, computed in double, max-subtracted.
double class_probability(const Tensor& logits, int n, int cls);

// The explained class and its probability on the clean image (one batch-1 forward pass up to `logits`).
// requested_class < 0 picks the top-1 class (ties: the lower index). Error if requested_class >= K.
struct ClassScore {
    int cls = -1;
    double prob = 0;
};
ClassScore score_clean(const Graph& g, Session& s, int logits, const Tensor& input, int requested_class);

// One map's scores on one image. Values not asked for (or undefined) are NaN; curves not asked for are empty.
struct MapScores {
    std::vector<float> deletion_curve;   // steps + 1 probabilities: before the first step, then after each
    std::vector<float> insertion_curve;  // likewise, starting from the blurred image
    double deletion_auc;                 // lower is better
    double insertion_auc;                // higher is better
    double prob_masked;                  // O: probability on input (.) map (normalised input space)
    double average_drop;                 // this image's term, 100 * max(0, Y - O) / Y
    double increase;                     // this image's term, 100 * [O > Y]
    double pointing;                     // energy pointing game; NaN without a mask
    double pointing_hit;                 // 1 when the map's maximum is inside the mask, else 0; NaN without a mask
    double road_morf, road_lerf;         // ROAD: means of the MoRF (lower is better) and LeRF curves
    MapScores();
};

// Scores each map (H x W of the 1 x H x W x C input, values >= 0 such as postprocess_cam's output or a
// baseline) for class clean.cls, whose clean probability is clean.prob (from score_clean). The curve points
// that every map shares (the clean image, the all-substrate image, the blurred image) are computed once, and a map
// equal to an earlier one (same size, same values bit for bit) gets a copy of the earlier map's scores, ROAD too.
// `mask`, if given, must be at the input's H x W (resize_mask_nearest). Error on shape mismatches, a graph
// without exactly one input, or options out of range.
std::vector<MapScores> evaluate_maps(const Graph& g, Session& s, int logits, const Tensor& input,
                                     const ClassScore& clean, const std::vector<Heatmap>& maps, const Mask* mask,
                                     const EvaluateOptions& options);

}  // namespace ec
