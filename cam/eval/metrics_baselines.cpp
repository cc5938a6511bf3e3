#include "cam/eval/metrics_baselines.h"

#include <cmath>
#include <string>

#include "nn/tensor.h"

namespace ec {

namespace {
void check_size(int h, int w, const char* what) {
    if (h < 1 || w < 1)
        throw Error(std::string(what) + ": map size must be positive, got " + std::to_string(h) + "x" + std::to_string(w));
}
}  // namespace

Heatmap center_baseline(int h, int w) {
    check_size(h, w, "center_baseline");
    Heatmap map(h, w);
    const double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0;
    const double sy = double(kBaselineGrid) / h, sx = double(kBaselineGrid) / w;  // pixels -> 224-grid units
    const double two_sigma2 = 2 * kCenterBaselineSigma * kCenterBaselineSigma;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const double dy = (y - cy) * sy, dx = (x - cx) * sx;
            map.at(y, x) = float(std::exp(-(dy * dy + dx * dx) / two_sigma2));
        }
    return map;
}

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

Heatmap random_baseline(int h, int w, uint64_t seed) {
    check_size(h, w, "random_baseline");
    Heatmap map(h, w);
    uint64_t state = seed;
    for (float& v : map.values) v = float(double(splitmix64(state) >> 40) * 0x1p-24);
    return map;
}

}  // namespace ec
