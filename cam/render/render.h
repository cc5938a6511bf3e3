// Display of CAMs (method.md, step 4): jet colouring, the alpha blend over the input image, small drawing
// helpers on RGB u8 images, and the poster's grid figure (Figure 1 layout). Images are io/image.h's ImageU8
// (row-major RGB, the type image loading returns); resizing uses its resize_bilinear_u8. Writing PNGs is
// io/png_write.h. Nothing here normalises a map: maps are expected in [0, 1] (values outside are clamped
// by the colormap).
#pragma once
#include <string>
#include <vector>

#include "cam/render/colormap.h"
#include "cam/heatmap.h"
#include "io/image.h"

namespace ec {

constexpr float kOverlayAlpha = 0.5f;  // method.md step 4: the colormap blended at alpha 0.5

// A width x height image filled with one colour. Throws Error for a negative size.
ImageU8 make_image(int width, int height, Rgb8 fill);
// Fills the rectangle [x, x + w) x [y, y + h), clipped to the image.
void fill_rect(ImageU8& image, int x, int y, int w, int h, Rgb8 color);
// Copies src with its top-left corner at (x, y) of dst, clipped to dst.
void blit(ImageU8& dst, const ImageU8& src, int x, int y);

// Each map value through jet_color: an image of map.w x map.h.
ImageU8 colorize_jet(const Heatmap& map);
// out = floor((1 - alpha) * image + alpha * jet(map) + 0.5) per channel. The map must have the image's size
// (upsample it first: cam/postprocess.h); Error otherwise, or if alpha is not in [0, 1].
ImageU8 overlay_heatmap(const ImageU8& image, const Heatmap& map, float alpha = kOverlayAlpha);

// One row of the grid figure: an input image and its maps, one per method column.
struct GridRow {
    ImageU8 input;              // any size; resized (bilinear) to the cell
    std::vector<Heatmap> maps;  // normalised maps in [0, 1], any size; resampled (upsample_bilinear) to the cell
    std::string label;          // drawn above the row, e.g. grid_row_label("tabby, tabby cat", 0.431)
};

struct GridStyle {
    int cell = 224;                  // side of every square panel, pixels
    int text_scale = 2;              // font pixels per glyph pixel (5x7 glyphs -> 10x14 at 2)
    float alpha = kOverlayAlpha;
    Rgb8 background{255, 255, 255};
    Rgb8 text{0, 0, 0};
};

// "label (43.1 %)": prob in [0, 1] shown as a percentage with one decimal.
std::string grid_row_label(const std::string& class_label, double prob);

// Heights of the text bands, in pixels: the header holds up to two lines of column title (titles wrap at
// spaces, so "Feature Entropy-CAM" fits a 224 cell at scale 2); each row has a one-line label band above it.
//   header_height = (2 * 9 + 4) * text_scale     (44 at scale 2)
//   label_height  = (9 + 4) * text_scale         (26 at scale 2)
int grid_header_height(const GridStyle& style);
int grid_label_height(const GridStyle& style);

// The figure: columns = input + one per map, titled by column_titles (one per column, the input's included,
// e.g. {"Input", "Grad-CAM", ...}); one row per GridRow. Its exact size is
//   width  = column_titles.size() * cell
//   height = grid_header_height + rows.size() * (grid_label_height + cell)
// (1344 x 544 for 2 rows of the five methods at the defaults). Titles too long for two lines are cut with "..";
// a label too long for the figure width likewise. Throws Error if a row's map count is not
// column_titles.size() - 1, an input is empty, or the style is invalid (cell < 8, text_scale < 1).
ImageU8 render_grid(const std::vector<GridRow>& rows, const std::vector<std::string>& column_titles,
                    const GridStyle& style = {});

}  // namespace ec
