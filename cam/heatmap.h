// A single-channel float map on an H x W grid (row-major): what every CAM method returns and what the
// post-processing steps (cam/postprocess.h) consume and produce. Plain data, no invariants beyond the size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ec {

struct Heatmap {
    int h = 0, w = 0;
    std::vector<float> values;  // h * w, row-major: values[y * w + x]

    Heatmap() = default;
    Heatmap(int h_, int w_, float fill = 0.0f) : h(h_), w(w_), values(size_t(int64_t(h_) * w_), fill) {}
    int64_t size() const { return int64_t(values.size()); }
    float& at(int y, int x) { return values[size_t(int64_t(y) * w + x)]; }
    float at(int y, int x) const { return values[size_t(int64_t(y) * w + x)]; }
};

}  // namespace ec
