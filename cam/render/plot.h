// A line plot drawn with the project's own renderer (cam/render/render.h, font.h): one line per series over
// evenly spaced x positions, a horizontal grid with labelled y ticks, x tick labels written top-down one
// character per line (block names fit without a rotated font), a title and a legend. Enough for the sanity
// checks' "similarity against randomisation depth" figure; no log axes, no automatic ranges.
#pragma once
#include <string>
#include <vector>

#include "cam/render/colormap.h"
#include "io/image.h"

namespace ec {

struct PlotSeries {
    std::string name;       // legend entry
    Rgb8 color;
    std::vector<double> y;  // y[i] at x position i; NaN leaves a gap; values outside [y_min, y_max] are clamped
};

struct LinePlot {
    std::string title;
    std::string y_label;                 // drawn above the y axis
    std::vector<std::string> x_ticks;    // one per x position (at least 2)
    double y_min = 0, y_max = 1, y_step = 0.25;  // axis range and grid spacing
    std::vector<PlotSeries> series;      // each with x_ticks.size() values
    int width = 960, height = 600;       // the whole figure, pixels
    int text_scale = 1;
};

// Throws Error for fewer than 2 x positions, a series of another length, y_max <= y_min, y_step <= 0, or a
// figure too small for its margins.
ImageU8 render_line_plot(const LinePlot& plot);

// Distinct colours for up to 8 series (then repeating): blue, orange, green, red, purple, brown, pink, grey.
Rgb8 plot_color(size_t index);

}  // namespace ec
