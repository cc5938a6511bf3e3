// The outline of a binary mask drawn over a rectangle of an image: where the evidence really is, drawn on top
// of a CAM overlay so the eye can compare the two (the synthetic benchmark's grid figure).
#pragma once
#include <cstdint>
#include <vector>

#include "cam/render/colormap.h"
#include "io/image.h"

namespace ec {

// The mask (mask_w x mask_h, row-major, non-zero = inside) is resampled to the rectangle (x, y, w, h) of the
// image by nearest neighbour with half-pixel centres (src = min(floor((dst + 0.5) * in / out), in - 1)). A
// rectangle pixel is on the outline when it is inside and a 4-neighbour is outside or beyond the rectangle;
// those pixels are set to `color`. Pixels beyond the image are clipped. Error if the mask size does not match
// its buffer or a size is not positive.
void draw_mask_outline(ImageU8& image, int x, int y, int w, int h, const std::vector<uint8_t>& mask, int mask_w,
                       int mask_h, Rgb8 color);

}  // namespace ec
