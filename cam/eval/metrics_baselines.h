// The two baseline "explanations" every evaluation table shows next to the CAMs (method.md, "Baselines"):
// maps that know nothing of the model, so a table says what a map scores for free. A centred object alone
// makes a map look good; these rows show how much.
// Both are returned at the input size, ready for the metrics (no ReLU, min-max or upsampling applied).
#pragma once
#include <cstdint>

#include "cam/heatmap.h"

namespace ec {

// The centre Gaussian is defined on a 224 x 224 grid: exp(-r^2 / (2 * 56^2)) around ((W-1)/2, (H-1)/2).
constexpr int kBaselineGrid = 224;
constexpr double kCenterBaselineSigma = 56.0;

// `center`: exp(-r^2 / (2 * 56^2)), r the distance to the image centre ((w-1)/2, (h-1)/2) measured in
// 224 x 224 pixels, i.e. each axis scaled by 224 / size (so the map is the same at any input size).
// Throws Error if a size is not positive.
Heatmap center_baseline(int h, int w);

// splitmix64 (Steele, Lea & Flood 2014; the reference generator of java.util.SplittableRandom): advances
// `state` by 0x9E3779B97F4A7C15 and returns the mixed value.
uint64_t splitmix64(uint64_t& state);

// `random`: uniform noise in [0, 1), row-major, one splitmix64 draw per pixel from state = seed, value =
// (draw >> 40) * 2^-24 (24 bits: exact in float). The evaluation seeds it with the input's 0-based position
// in the full (unsharded) input list, so a sharded run draws the same maps as an unsharded one.
Heatmap random_baseline(int h, int w, uint64_t seed);

}  // namespace ec
