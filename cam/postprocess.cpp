#include "cam/postprocess.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nn/tensor.h"

namespace ec {
namespace {

// One axis of the half-pixel bilinear grid: for each output index, the two source indices and the weight of i1.
struct AxisSample {
    int i0, i1;
    double f;
};

std::vector<AxisSample> half_pixel_axis(int in, int out) {
    std::vector<AxisSample> s(static_cast<size_t>(out));
    const double scale = double(in) / double(out);
    for (int d = 0; d < out; ++d) {
        double src = std::max((d + 0.5) * scale - 0.5, 0.0);
        int i0 = std::min(int(std::floor(src)), in - 1);
        s[size_t(d)] = {i0, std::min(i0 + 1, in - 1), src - i0};
    }
    return s;
}

}  // namespace

Heatmap relu_map(const Heatmap& raw) {
    Heatmap out = raw;
    for (float& v : out.values) v = std::max(v, 0.0f);
    return out;
}

Heatmap minmax_normalize(const Heatmap& map, float eps) {
    Heatmap out(map.h, map.w);
    if (map.values.empty()) return out;
    auto [lo_it, hi_it] = std::minmax_element(map.values.begin(), map.values.end());
    const double lo = *lo_it, hi = *hi_it;
    if (hi == lo) return out;  // constant map: all zeros (method.md)
    const double denom = hi - lo + double(eps);
    for (size_t i = 0; i < map.values.size(); ++i) out.values[i] = float((double(map.values[i]) - lo) / denom);
    return out;
}

Heatmap upsample_bilinear(const Heatmap& map, int out_h, int out_w) {
    if (out_h <= 0 || out_w <= 0 || map.h <= 0 || map.w <= 0)
        throw Error("upsample_bilinear: cannot resample a " + std::to_string(map.h) + "x" + std::to_string(map.w) +
                    " map to " + std::to_string(out_h) + "x" + std::to_string(out_w));
    const std::vector<AxisSample> ys = half_pixel_axis(map.h, out_h), xs = half_pixel_axis(map.w, out_w);
    Heatmap out(out_h, out_w);
    for (int y = 0; y < out_h; ++y) {
        const AxisSample& sy = ys[size_t(y)];
        for (int x = 0; x < out_w; ++x) {
            const AxisSample& sx = xs[size_t(x)];
            // Along x on both source rows, then along y.
            double top = map.at(sy.i0, sx.i0) + sx.f * (double(map.at(sy.i0, sx.i1)) - map.at(sy.i0, sx.i0));
            double bot = map.at(sy.i1, sx.i0) + sx.f * (double(map.at(sy.i1, sx.i1)) - map.at(sy.i1, sx.i0));
            out.at(y, x) = float(top + sy.f * (bot - top));
        }
    }
    return out;
}

Heatmap postprocess_cam(const Heatmap& raw, int out_h, int out_w) {
    return upsample_bilinear(minmax_normalize(relu_map(raw)), out_h, out_w);
}

}  // namespace ec
