// Building blocks of entropycam's self-contained HTML pages (cam/render/html_report.h, html_walkthrough.h):
// escaping, base64 data URIs, one inline style sheet and one inline script (table sorting), sortable tables,
// and inline SVG plots (line curves, bar charts). Everything is text; nothing here touches files or the
// network, and no page ever references anything outside its folder (no http:, no external script or style).
#pragma once
#include <string>
#include <vector>

#include "io/image.h"

namespace ec {

// Escapes & < > " ' for text and attribute values.
std::string html_escape(const std::string& text);
// RFC 4648 base64 of bytes.
std::string base64_encode(const std::string& bytes);
// "data:image/png;base64,..." of an RGB image (encode_png).
std::string png_data_uri(const ImageU8& image);

// The page: <!DOCTYPE html> ... <title>title</title>, the inline style sheet and sort script, then body_html.
std::string html_page(const std::string& title, const std::string& body_html);

// A table whose columns sort on a click of their header (the page's inline script). Each cell has the text
// shown and the value sorted by (numbers sort numerically; an empty sort key sorts by the text). The value is
// also written as the cell's data-value attribute, so a test (or a reader's script) finds the exact numbers.
struct HtmlCell {
    std::string text;   // shown, escaped by html_table
    std::string value;  // data-value; empty = sort by text
};
struct HtmlTable {
    std::string id;                          // the table's id attribute (may be empty)
    std::vector<std::string> header;         // column titles (plain text)
    std::vector<std::vector<HtmlCell>> rows; // each row has header.size() cells
};
std::string html_table(const HtmlTable& table);

// One curve of a line plot.
struct SvgSeries {
    std::string name;
    std::vector<double> x, y;  // same length; NaN points are skipped
};
struct SvgPlotStyle {
    int width = 520, height = 300;
    std::string x_label, y_label;
    double y_min = 0, y_max = 1;  // y range; when y_min == y_max: the data's range widened to hold [0, 1]
};
// An inline <svg> line plot with axes, 5 ticks per axis, one colour per series and a legend.
std::string svg_line_plot(const std::vector<SvgSeries>& series, const SvgPlotStyle& style);

// An inline <svg> bar chart: one bar per value (negative bars go down from the zero line), optional
// error whiskers (same length as values, or empty), a label under each bar when labels are given (they are
// skipped when there are more than 40 bars, where they would overlap).
struct SvgBars {
    std::vector<double> values;
    std::vector<double> whiskers;          // +- half-widths; empty = none
    std::vector<std::string> labels;       // empty = none
    std::vector<std::string> colors;       // per bar CSS colour; empty = one colour
    std::string y_label;
    int width = 520, height = 300;
};
std::string svg_bar_chart(const SvgBars& bars);

// Formats v with `digits` significant digits ("%.*g"); "n/a" for NaN.
std::string format_number(double v, int digits = 4);

}  // namespace ec
