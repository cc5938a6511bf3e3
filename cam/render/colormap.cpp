#include "cam/render/colormap.h"

#include <algorithm>
#include <cmath>

namespace ec {
namespace {

uint8_t unit_to_u8(double c) { return uint8_t(std::floor(255.0 * std::clamp(c, 0.0, 1.0) + 0.5)); }

}  // namespace

Rgb8 jet_color(float v) {
    const double t = std::isnan(v) ? 0.0 : std::clamp(double(v), 0.0, 1.0);
    // Three overlapping ramps centred at 3/4 (red), 1/2 (green) and 1/4 (blue).
    return Rgb8{unit_to_u8(1.5 - std::fabs(4.0 * t - 3.0)), unit_to_u8(1.5 - std::fabs(4.0 * t - 2.0)),
                unit_to_u8(1.5 - std::fabs(4.0 * t - 1.0))};
}

}  // namespace ec
