// Colours for display: an 8-bit RGB colour and the jet colormap (method.md, step 4).
#pragma once
#include <cstdint>

namespace ec {

struct Rgb8 {
    uint8_t r = 0, g = 0, b = 0;
    bool operator==(const Rgb8& o) const { return r == o.r && g == o.g && b == o.b; }
    bool operator!=(const Rgb8& o) const { return !(*this == o); }
};

// MATLAB-style jet, piecewise linear: r = clamp(1.5 - |4v - 3|), g = clamp(1.5 - |4v - 2|),
// b = clamp(1.5 - |4v - 1|), each to [0, 1], then u8 = floor(255 c + 0.5). 0 -> dark blue (0, 0, 128),
// 0.5 -> green-ish (128, 255, 128), 1 -> dark red (128, 0, 0). v is clamped to [0, 1]; NaN counts as 0.
Rgb8 jet_color(float v);

}  // namespace ec
