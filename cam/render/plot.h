// A small line plot for training curves (loss, accuracy per epoch): axes with tick labels in the project's
// bitmap font, one polyline per series, a legend. Not a general plotting library: linear axes only.
#pragma once
#include <string>
#include <vector>

#include "cam/render/colormap.h"
#include "io/image.h"

namespace ec {

struct PlotSeries {
    std::string name;          // in the legend
    std::vector<double> x, y;  // same length; non-finite points are skipped (the line breaks there)
    Rgb8 color{0, 0, 255};
};

struct PlotStyle {
    int width = 480, height = 320;  // whole image, pixels (at least 120 x 100)
    int text_scale = 1;
    std::string title, x_label;
    // The y range; when y_min >= y_max it is taken from the data (padded 5 %).
    double y_min = 0, y_max = 0;
};

// Draws line from (x0, y0) to (x1, y1), clipped to the image (Bresenham).
void draw_line(ImageU8& image, int x0, int y0, int x1, int y1, Rgb8 color);

// The plot on a white background. The x range is the data's. Error if the style is too small, a series'
// x and y differ in length, or there is no finite point at all.
ImageU8 render_line_plot(const std::vector<PlotSeries>& series, const PlotStyle& style);

}  // namespace ec
