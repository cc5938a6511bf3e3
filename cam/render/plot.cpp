#include "cam/render/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "cam/render/font.h"
#include "cam/render/render.h"
#include "nn/error.h"

namespace ec {

namespace {

const Rgb8 kInk{0, 0, 0}, kGrid{220, 220, 220}, kWhite{255, 255, 255};

// A line of the given thickness (Bresenham, each point a thickness x thickness square), clipped to the image.
void draw_line(ImageU8& img, int x0, int y0, int x1, int y1, Rgb8 c, int thickness) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        fill_rect(img, x0 - thickness / 2, y0 - thickness / 2, thickness, thickness, c);
        if (x0 == x1 && y0 == y1) break;
        const int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

std::string tick_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

}  // namespace

Rgb8 plot_color(size_t index) {
    static const Rgb8 kColors[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                   {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};
    return kColors[index % 8];
}

ImageU8 render_line_plot(const LinePlot& p) {
    const size_t n = p.x_ticks.size();
    if (n < 2) throw Error("line plot: needs at least 2 x positions, got " + std::to_string(n));
    if (!(p.y_max > p.y_min) || !(p.y_step > 0)) throw Error("line plot: bad y range or step");
    for (const PlotSeries& s : p.series)
        if (s.y.size() != n)
            throw Error("line plot: series '" + s.name + "' has " + std::to_string(s.y.size()) + " values for " +
                        std::to_string(n) + " x positions");
    const int s = std::max(p.text_scale, 1), line_h = 9 * s;
    size_t longest_tick = 0;
    for (const std::string& t : p.x_ticks) longest_tick = std::max(longest_tick, t.size());
    const int left = text_width("-0.00", s) + 16 * s, right = 16 * s, top = 3 * line_h + 8 * s;
    const int bottom = int(longest_tick) * line_h + 12 * s;
    const int pw = p.width - left - right, ph = p.height - top - bottom;
    if (pw < int(n) || ph < 40) throw Error("line plot: " + std::to_string(p.width) + "x" + std::to_string(p.height) + " is too small");
    ImageU8 img = make_image(p.width, p.height, kWhite);
    auto px = [&](size_t i) { return left + int(std::lround(double(i) * (pw - 1) / double(n - 1))); };
    auto py = [&](double v) {
        v = std::clamp(v, p.y_min, p.y_max);
        return top + int(std::lround((p.y_max - v) / (p.y_max - p.y_min) * (ph - 1)));
    };

    draw_text(img, (p.width - text_width(p.title, s)) / 2, 4 * s, p.title, kInk, s);
    draw_text(img, 4 * s, top - line_h - 4 * s, p.y_label, kInk, s);
    for (int k = 0;; ++k) {  // horizontal grid lines with their values
        const double v = p.y_min + k * p.y_step;
        if (v > p.y_max + 1e-9) break;
        const int y = py(v);
        fill_rect(img, left, y, pw, 1, kGrid);
        const std::string t = tick_text(v);
        draw_text(img, left - 6 * s - text_width(t, s), y - 3 * s, t, kInk, s);
    }
    fill_rect(img, left, top, 1, ph, kInk);
    fill_rect(img, left, top + ph - 1, pw, 1, kInk);
    for (size_t i = 0; i < n; ++i) {  // x ticks, their labels top-down
        fill_rect(img, px(i), top + ph, 1, 4 * s, kInk);
        for (size_t c = 0; c < p.x_ticks[i].size(); ++c)
            draw_text(img, px(i) - 2 * s, top + ph + 6 * s + int(c) * line_h, std::string(1, p.x_ticks[i][c]), kInk, s);
    }
    for (const PlotSeries& ser : p.series) {
        for (size_t i = 0; i < n; ++i) {
            if (std::isnan(ser.y[i])) continue;
            fill_rect(img, px(i) - 2 * s, py(ser.y[i]) - 2 * s, 5 * s, 5 * s, ser.color);
            if (i + 1 < n && !std::isnan(ser.y[i + 1]))
                draw_line(img, px(i), py(ser.y[i]), px(i + 1), py(ser.y[i + 1]), ser.color, 2 * s);
        }
    }
    // Legend in the top-right corner of the plot area.
    int legend_w = 0;
    for (const PlotSeries& ser : p.series) legend_w = std::max(legend_w, text_width(ser.name, s));
    const int lx = left + pw - legend_w - 30 * s, ly = top + 6 * s;
    if (!p.series.empty()) {
        fill_rect(img, lx - 4 * s, ly - 4 * s, legend_w + 30 * s, int(p.series.size()) * line_h + 8 * s, kWhite);
        for (size_t k = 0; k < p.series.size(); ++k) {
            const int y = ly + int(k) * line_h;
            fill_rect(img, lx, y + 2 * s, 16 * s, 3 * s, p.series[k].color);
            draw_text(img, lx + 20 * s, y, p.series[k].name, kInk, s);
        }
    }
    return img;
}

}  // namespace ec
