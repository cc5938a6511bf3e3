// The shared post-processing of every CAM (method.md, steps 1-3), as separate named steps a caller can skip
// or reorder: ReLU, per-image min-max normalisation, bilinear upsampling. Each returns a new map.
#pragma once
#include "cam/heatmap.h"

namespace ec {

// method.md writes (map - min) / (max - min + eps) with eps = 1e-7, but the reference (meta.json
// "normalisation": "(m-min)/(max-min), zeros if max==min") uses no eps, and an absolute eps is not scale-free:
// on a map whose max is 2.4e-3 (mobilenet_v2 n03825788_nipple, layer3 HiResCAM) it shifts the result by 4e-5.
// The eps only guards max == min, which the constant-map rule already handles, so the default is 0;
// pass 1e-7 for method.md's variant.
constexpr float kNormalizeEps = 0.0f;

// Step 1: max(raw, 0) elementwise.
Heatmap relu_map(const Heatmap& raw);

// Step 2: (m - min) / (max - min + eps), computed in double; a constant map (max == min) becomes all zeros.
// With the default eps = 0 the maximum maps to exactly 1.
Heatmap minmax_normalize(const Heatmap& map, float eps = kNormalizeEps);

// Step 3: bilinear resampling to out_h x out_w with half-pixel centres (align_corners = false, as PyTorch
// interpolate and OpenCV INTER_LINEAR): src = max((dst + 0.5) * in / out - 0.5, 0), i0 = floor(src),
// i1 = min(i0 + 1, in - 1), f = src - i0; interpolated in double. Not re-normalised afterwards.
// Throws Error if either size is not positive.
Heatmap upsample_bilinear(const Heatmap& map, int out_h, int out_w);

// The three steps in order: upsample_bilinear(minmax_normalize(relu_map(raw)), out_h, out_w).
Heatmap postprocess_cam(const Heatmap& raw, int out_h, int out_w);

}  // namespace ec
