#include "cam/render/outline.h"

#include <algorithm>
#include <string>

#include "nn/error.h"

namespace ec {

void draw_mask_outline(ImageU8& image, int x, int y, int w, int h, const std::vector<uint8_t>& mask, int mask_w,
                       int mask_h, Rgb8 color) {
    if (w < 1 || h < 1 || mask_w < 1 || mask_h < 1 || mask.size() != size_t(mask_w) * size_t(mask_h))
        throw Error("draw_mask_outline: a " + std::to_string(mask_w) + "x" + std::to_string(mask_h) + " mask of " +
                    std::to_string(mask.size()) + " values onto a " + std::to_string(w) + "x" + std::to_string(h) + " rectangle");
    std::vector<int> sx(static_cast<size_t>(w)), sy(static_cast<size_t>(h));
    for (int i = 0; i < w; ++i) sx[size_t(i)] = std::min(int((int64_t(i) * 2 + 1) * mask_w / (2 * int64_t(w))), mask_w - 1);
    for (int i = 0; i < h; ++i) sy[size_t(i)] = std::min(int((int64_t(i) * 2 + 1) * mask_h / (2 * int64_t(h))), mask_h - 1);
    auto inside = [&](int i, int j) {  // rectangle coordinates
        return i >= 0 && j >= 0 && i < w && j < h && mask[size_t(sy[size_t(j)]) * size_t(mask_w) + size_t(sx[size_t(i)])] != 0;
    };
    for (int j = 0; j < h; ++j)
        for (int i = 0; i < w; ++i) {
            if (!inside(i, j) || (inside(i - 1, j) && inside(i + 1, j) && inside(i, j - 1) && inside(i, j + 1))) continue;
            const int px = x + i, py = y + j;
            if (px < 0 || py < 0 || px >= image.width || py >= image.height) continue;
            uint8_t* p = &image.rgb[(size_t(py) * size_t(image.width) + size_t(px)) * 3];
            p[0] = color.r, p[1] = color.g, p[2] = color.b;
        }
}

}  // namespace ec
