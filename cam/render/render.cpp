#include "cam/render/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cam/render/font.h"
#include "cam/postprocess.h"
#include "nn/tensor.h"

namespace ec {
namespace {

constexpr int kLineHeight = 9;  // glyph height 7 + 2 rows of spacing, at scale 1
constexpr int kBandPadding = 4; // at scale 1, split above and below the text

std::string size_text(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

void check_image(const char* what, const ImageU8& image) {
    if (image.width < 0 || image.height < 0 || int64_t(image.rgb.size()) != int64_t(image.width) * image.height * 3)
        throw Error(std::string(what) + ": " + std::to_string(image.rgb.size()) + " bytes for a " +
                    size_text(image.width, image.height) + " RGB image");
}

uint8_t* pixel(ImageU8& image, int x, int y) { return &image.rgb[(size_t(y) * size_t(image.width) + size_t(x)) * 3]; }

// The longest prefix of `text` that fits max_width pixels, ending in ".." when something was cut.
std::string fit_text(const std::string& text, int max_width, int scale) {
    if (text_width(text, scale) <= max_width) return text;
    std::string cut = text;
    while (!cut.empty() && text_width(cut + "..", scale) > max_width) cut.pop_back();
    return cut.empty() ? std::string() : cut + "..";
}

// Greedy word wrap into at most max_lines lines of max_width pixels; the last line is cut with ".." if needed.
std::vector<std::string> wrap_text(const std::string& text, int max_width, int scale, int max_lines) {
    std::vector<std::string> words;
    size_t start = 0;
    while (start <= text.size()) {
        size_t space = text.find(' ', start);
        if (space == std::string::npos) space = text.size();
        if (space > start) words.push_back(text.substr(start, space - start));
        start = space + 1;
    }
    std::vector<std::string> lines;
    for (const std::string& word : words) {
        if (lines.empty()) {
            lines.push_back(word);
            continue;
        }
        const std::string joined = lines.back() + " " + word;
        // At the line limit every remaining word joins the last line, which fit_text then cuts.
        if (text_width(joined, scale) <= max_width || int(lines.size()) == max_lines) lines.back() = joined;
        else lines.push_back(word);
    }
    for (std::string& line : lines) line = fit_text(line, max_width, scale);
    return lines;
}

}  // namespace

ImageU8 make_image(int width, int height, Rgb8 fill) {
    if (width < 0 || height < 0) throw Error("make_image: negative size " + size_text(width, height));
    ImageU8 image;
    image.width = width;
    image.height = height;
    image.rgb.resize(size_t(width) * size_t(height) * 3);
    for (size_t i = 0; i < image.rgb.size(); i += 3) {
        image.rgb[i] = fill.r;
        image.rgb[i + 1] = fill.g;
        image.rgb[i + 2] = fill.b;
    }
    return image;
}

void fill_rect(ImageU8& image, int x, int y, int w, int h, Rgb8 color) {
    check_image("fill_rect", image);
    const int x0 = std::max(x, 0), y0 = std::max(y, 0);
    const int x1 = int(std::min<int64_t>(int64_t(x) + w, image.width)), y1 = int(std::min<int64_t>(int64_t(y) + h, image.height));
    for (int py = y0; py < y1; ++py)
        for (int px = x0; px < x1; ++px) {
            uint8_t* p = pixel(image, px, py);
            p[0] = color.r;
            p[1] = color.g;
            p[2] = color.b;
        }
}

void blit(ImageU8& dst, const ImageU8& src, int x, int y) {
    check_image("blit (destination)", dst);
    check_image("blit (source)", src);
    const int x0 = std::max(x, 0), y0 = std::max(y, 0);
    const int x1 = int(std::min<int64_t>(int64_t(x) + src.width, dst.width));
    const int y1 = int(std::min<int64_t>(int64_t(y) + src.height, dst.height));
    if (x1 <= x0) return;
    for (int py = y0; py < y1; ++py) {
        const uint8_t* from = &src.rgb[(size_t(py - y) * size_t(src.width) + size_t(x0 - x)) * 3];
        std::copy(from, from + size_t(x1 - x0) * 3, pixel(dst, x0, py));
    }
}

ImageU8 colorize_jet(const Heatmap& map) {
    ImageU8 image = make_image(map.w, map.h, Rgb8{});
    for (int64_t i = 0; i < map.size(); ++i) {
        Rgb8 c = jet_color(map.values[size_t(i)]);
        image.rgb[size_t(i) * 3] = c.r;
        image.rgb[size_t(i) * 3 + 1] = c.g;
        image.rgb[size_t(i) * 3 + 2] = c.b;
    }
    return image;
}

ImageU8 overlay_heatmap(const ImageU8& image, const Heatmap& map, float alpha) {
    check_image("overlay_heatmap", image);
    if (map.w != image.width || map.h != image.height)
        throw Error("overlay_heatmap: map " + size_text(map.w, map.h) + " does not match image " +
                    size_text(image.width, image.height) + " (upsample the map first)");
    if (!(alpha >= 0.0f && alpha <= 1.0f)) throw Error("overlay_heatmap: alpha " + std::to_string(alpha) + " not in [0, 1]");
    const ImageU8 colors = colorize_jet(map);
    ImageU8 out = image;
    for (size_t i = 0; i < out.rgb.size(); ++i)
        out.rgb[i] = uint8_t(std::floor((1.0 - alpha) * image.rgb[i] + double(alpha) * colors.rgb[i] + 0.5));
    return out;
}

std::string grid_row_label(const std::string& class_label, double prob) {
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f", 100.0 * prob);
    return class_label + " (" + pct + " %)";
}

int grid_header_height(const GridStyle& style) { return (2 * kLineHeight + kBandPadding) * style.text_scale; }
int grid_label_height(const GridStyle& style) { return (kLineHeight + kBandPadding) * style.text_scale; }

ImageU8 render_grid(const std::vector<GridRow>& rows, const std::vector<std::string>& column_titles, const GridStyle& style) {
    if (style.cell < 8 || style.text_scale < 1)
        throw Error("render_grid: invalid style (cell " + std::to_string(style.cell) + ", text_scale " +
                    std::to_string(style.text_scale) + ")");
    if (column_titles.empty()) throw Error("render_grid: no columns (column_titles is empty)");
    const int cols = int(column_titles.size());
    const int cell = style.cell, s = style.text_scale;
    const int header = grid_header_height(style), label_band = grid_label_height(style);
    for (size_t r = 0; r < rows.size(); ++r) {
        if (int(rows[r].maps.size()) != cols - 1)
            throw Error("render_grid: row " + std::to_string(r) + " has " + std::to_string(rows[r].maps.size()) +
                        " maps for " + std::to_string(cols) + " columns (input + " + std::to_string(cols - 1) + " maps)");
        if (rows[r].input.width <= 0 || rows[r].input.height <= 0)
            throw Error("render_grid: row " + std::to_string(r) + " has an empty input image");
    }
    const int64_t height = header + int64_t(rows.size()) * (label_band + cell);
    if (int64_t(cols) * cell > kMaxImageSide || height > kMaxImageSide)
        throw Error("render_grid: figure " + std::to_string(cols * cell) + "x" + std::to_string(height) +
                    " exceeds the image side limit " + std::to_string(kMaxImageSide));
    ImageU8 figure = make_image(cols * cell, int(height), style.background);

    // Header: each title centred in its column, wrapped to at most two lines.
    const int pad = kBandPadding / 2 * s;
    for (int c = 0; c < cols; ++c) {
        std::vector<std::string> lines = wrap_text(column_titles[size_t(c)], cell - 2 * pad, s, 2);
        const int top = pad + (2 - int(lines.size())) * kLineHeight * s / 2;  // one line: vertically centred
        for (size_t l = 0; l < lines.size(); ++l) {
            const int x = c * cell + (cell - text_width(lines[l], s)) / 2;
            draw_text(figure, x, top + int(l) * kLineHeight * s + s, lines[l], style.text, s);
        }
    }

    for (size_t r = 0; r < rows.size(); ++r) {
        const GridRow& row = rows[r];
        const int band_y = header + int(r) * (label_band + cell);
        const int cell_y = band_y + label_band;
        draw_text(figure, pad, band_y + pad + s, fit_text(row.label, figure.width - 2 * pad, s), style.text, s);
        const ImageU8 input = resize_bilinear_u8(row.input, cell, cell);
        blit(figure, input, 0, cell_y);
        for (size_t m = 0; m < row.maps.size(); ++m) {
            const Heatmap map = upsample_bilinear(row.maps[m], cell, cell);
            blit(figure, overlay_heatmap(input, map, style.alpha), int(m + 1) * cell, cell_y);
        }
    }
    return figure;
}

}  // namespace ec
