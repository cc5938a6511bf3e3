#include "cam/multilayer.h"

#include <string>

#include "cam/postprocess.h"
#include "nn/error.h"

namespace ec {

Heatmap fuse_layer_maps(const std::vector<Heatmap>& raw_maps) {
    if (raw_maps.empty()) throw Error("fuse_layer_maps: no maps to fuse");
    size_t largest = 0;
    for (size_t i = 0; i < raw_maps.size(); ++i) {
        const Heatmap& m = raw_maps[i];
        if (m.h <= 0 || m.w <= 0 || m.size() != int64_t(m.h) * m.w)
            throw Error("fuse_layer_maps: map " + std::to_string(i) + " is empty or inconsistent (" +
                        std::to_string(m.h) + "x" + std::to_string(m.w) + ")");
        if (m.size() > raw_maps[largest].size()) largest = i;
    }
    const int h = raw_maps[largest].h, w = raw_maps[largest].w;
    std::vector<double> sum(size_t(int64_t(h) * w), 0.0);
    for (const Heatmap& m : raw_maps) {
        const Heatmap norm = minmax_normalize(relu_map(m));
        const Heatmap up = (m.h == h && m.w == w) ? norm : upsample_bilinear(norm, h, w);
        for (size_t i = 0; i < sum.size(); ++i) sum[i] += up.values[i];
    }
    Heatmap fused(h, w);
    for (size_t i = 0; i < sum.size(); ++i) fused.values[i] = float(sum[i] / double(raw_maps.size()));
    return fused;
}

}  // namespace ec
