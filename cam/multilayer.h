// Multi-layer CAMs (issue 12, `--layer A,B`): one method's maps at several target layers fused into one map.
#pragma once
#include <vector>

#include "cam/heatmap.h"

namespace ec {

// The fusion rule: each raw map goes through the first two steps of the shared post-processing (ReLU, then
// min-max normalisation; a constant map becomes zeros), is resampled with upsample_bilinear to the size of the
// largest map (most positions; the first such map on ties), and the fused map is the element-wise mean of
// them. Every layer thus counts equally whatever its value scale, and the finest layer's resolution is kept.
// The result lies in [0, 1] and is itself a valid raw map for postprocess_cam (whose ReLU is then a no-op and
// whose min-max rescales it). One map is returned normalised. Throws Error for no maps or an empty map.
Heatmap fuse_layer_maps(const std::vector<Heatmap>& raw_maps);

}  // namespace ec
