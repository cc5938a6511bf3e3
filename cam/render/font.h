// A 5x7 bitmap font for printable ASCII (32..126), drawn into an RGB u8 image at an integer scale. Enough
// for the labels of a figure; no kerning, no Unicode (other bytes are drawn as '?').
#pragma once
#include <string>

#include "cam/render/colormap.h"
#include "io/image.h"

namespace ec {

constexpr int kGlyphWidth = 5;    // pixels at scale 1
constexpr int kGlyphHeight = 7;
constexpr int kGlyphAdvance = 6;  // glyph width + 1 column of spacing

// Width in pixels of `text` drawn at `scale`: n * kGlyphAdvance * scale - scale (no trailing spacing), 0 if empty.
int text_width(const std::string& text, int scale);

// Draws `text` with its top-left corner at (x, y); each font pixel becomes a scale x scale block. Pixels
// outside the image are clipped. Throws Error if scale < 1 or the image buffer does not match its size.
void draw_text(ImageU8& image, int x, int y, const std::string& text, Rgb8 color, int scale = 1);

}  // namespace ec
