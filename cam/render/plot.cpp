#include "cam/render/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "cam/render/font.h"
#include "cam/render/render.h"
#include "nn/error.h"

namespace ec {

void draw_line(ImageU8& image, int x0, int y0, int x1, int y1, Rgb8 color) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        if (x0 >= 0 && y0 >= 0 && x0 < image.width && y0 < image.height) {
            uint8_t* p = &image.rgb[(size_t(y0) * size_t(image.width) + size_t(x0)) * 3];
            p[0] = color.r, p[1] = color.g, p[2] = color.b;
        }
        if (x0 == x1 && y0 == y1) break;
        const int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

namespace {

std::string tick_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

// Four intervals; the range is widened to round numbers only through %.3g labels (no "nice" tick search).
constexpr int kTicks = 4;

}  // namespace

ImageU8 render_line_plot(const std::vector<PlotSeries>& series, const PlotStyle& style) {
    if (style.width < 120 || style.height < 100 || style.text_scale < 1)
        throw Error("render_line_plot: the plot must be at least 120 x 100 with text scale >= 1");
    double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
    for (const PlotSeries& s : series) {
        if (s.x.size() != s.y.size()) throw Error("render_line_plot: series '" + s.name + "' has x and y of different lengths");
        for (size_t i = 0; i < s.x.size(); ++i)
            if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
                x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
                y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
            }
    }
    if (!std::isfinite(x_lo)) throw Error("render_line_plot: no finite point to plot");
    if (style.y_min < style.y_max) y_lo = style.y_min, y_hi = style.y_max;
    else { const double pad = 0.05 * std::max(y_hi - y_lo, 1e-9); y_lo -= pad, y_hi += pad; }
    if (x_hi <= x_lo) x_hi = x_lo + 1;

    const int ts = style.text_scale, line_h = (kGlyphHeight + 3) * ts;
    const int left = 7 * kGlyphAdvance * ts, right = 10, top = 2 * line_h, bottom = 2 * line_h + 4;
    const int pw = style.width - left - right, ph = style.height - top - bottom;
    const Rgb8 black{0, 0, 0}, grey{220, 220, 220};
    ImageU8 im = make_image(style.width, style.height, Rgb8{255, 255, 255});
    auto px = [&](double x) { return left + int(std::lround((x - x_lo) / (x_hi - x_lo) * (pw - 1))); };
    auto py = [&](double y) { return top + ph - 1 - int(std::lround((y - y_lo) / (y_hi - y_lo) * (ph - 1))); };
    for (int k = 0; k <= kTicks; ++k) {
        const double yv = y_lo + (y_hi - y_lo) * k / kTicks, xv = x_lo + (x_hi - x_lo) * k / kTicks;
        const int y = py(yv), x = px(xv);
        draw_line(im, left, y, left + pw - 1, y, grey);
        const std::string yt = tick_text(yv), xt = tick_text(xv);
        draw_text(im, left - 4 - text_width(yt, ts), y - kGlyphHeight * ts / 2, yt, black, ts);
        draw_text(im, x - text_width(xt, ts) / 2, top + ph + 4, xt, black, ts);
    }
    draw_line(im, left, top, left, top + ph - 1, black);
    draw_line(im, left, top + ph - 1, left + pw - 1, top + ph - 1, black);
    draw_text(im, left, 4, style.title, black, ts);
    draw_text(im, left + (pw - text_width(style.x_label, ts)) / 2, top + ph + 4 + line_h, style.x_label, black, ts);
    int legend_x = left + pw;
    for (auto s = series.rbegin(); s != series.rend(); ++s) {  // right-aligned legend on the title line's right
        legend_x -= text_width(s->name, ts) + 14 * ts;
        fill_rect(im, legend_x, 4 + ts, 8 * ts, 5 * ts, s->color);
        draw_text(im, legend_x + 10 * ts, 4, s->name, black, ts);
    }
    for (const PlotSeries& s : series) {
        bool have = false;
        int last_x = 0, last_y = 0;
        for (size_t i = 0; i < s.x.size(); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) { have = false; continue; }
            const int x = px(s.x[i]), y = std::clamp(py(s.y[i]), top, top + ph - 1);
            if (have) draw_line(im, last_x, last_y, x, y, s.color), draw_line(im, last_x, last_y + 1, x, y + 1, s.color);
            fill_rect(im, x - 1, y - 1, 3, 3, s.color);
            have = true, last_x = x, last_y = y;
        }
    }
    return im;
}

}  // namespace ec
