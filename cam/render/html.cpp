#include "cam/render/html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "io/png_write.h"
#include "nn/error.h"

namespace ec {
namespace {

// The one style sheet of every page: readable widths, images that never overflow, compact tables.
const char* kStyle = R"(body{font-family:sans-serif;margin:1.5em auto;max-width:1250px;padding:0 1em;color:#222;line-height:1.4}
h1,h2,h3{font-weight:600}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}
th{background:#f0f0f0;cursor:pointer;user-select:none}th.sorted-asc::after{content:" \25B2"}th.sorted-desc::after{content:" \25BC"}
td:first-child,th:first-child{text-align:left}img{max-width:100%;height:auto;image-rendering:auto}
figure{display:inline-block;margin:.3em;text-align:center;vertical-align:top}figcaption{font-size:.85em}
.warning{background:#fff4e0;border-left:4px solid #e69500;padding:.3em .6em;margin:.3em 0}
.note{color:#555;font-size:.9em}.formula{font-family:monospace;background:#f6f6f6;padding:.3em .6em;display:inline-block}
nav a{margin-right:.6em}.input{border-top:1px solid #ddd;padding-top:.5em}svg{background:#fff}
.atlas figure img{width:84px;image-rendering:pixelated}.pixelated{image-rendering:pixelated})";

// Sorts a table's body by the clicked column: numeric when both keys parse as numbers, else text.
const char* kScript = R"(document.querySelectorAll("table.sortable th").forEach(function(th){var col=th.cellIndex;
th.addEventListener("click",function(){var t=th.closest("table"),b=t.tBodies[0],asc=!th.classList.contains("sorted-asc");
t.querySelectorAll("th").forEach(function(h){h.classList.remove("sorted-asc","sorted-desc");});
th.classList.add(asc?"sorted-asc":"sorted-desc");
function key(r){var c=r.cells[col];var v=c.getAttribute("data-value");return v===null||v===""?c.textContent:v;}
var rows=Array.prototype.slice.call(b.rows);rows.sort(function(a,c){var x=key(a),y=key(c),nx=parseFloat(x),ny=parseFloat(y);
var d=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?d:-d;});rows.forEach(function(r){b.appendChild(r);});});});)";

const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

// Axes with 5 ticks each; returns the SVG text. Plot area [l, r] x [t, b] in pixels.
struct Frame {
    double l, r, t, b, x0, x1, y0, y1;
    double px(double x) const { return l + (x - x0) / (x1 - x0) * (r - l); }
    double py(double y) const { return b - (y - y0) / (y1 - y0) * (b - t); }
};

std::string axes(const Frame& f, const std::string& x_label, const std::string& y_label) {
    std::string s = "<rect x=\"" + num(f.l) + "\" y=\"" + num(f.t) + "\" width=\"" + num(f.r - f.l) + "\" height=\"" +
                    num(f.b - f.t) + "\" fill=\"none\" stroke=\"#888\"/>";
    for (int i = 0; i <= 4; ++i) {
        const double xv = f.x0 + (f.x1 - f.x0) * i / 4, yv = f.y0 + (f.y1 - f.y0) * i / 4;
        s += "<text x=\"" + num(f.px(xv)) + "\" y=\"" + num(f.b + 14) + "\" font-size=\"11\" text-anchor=\"middle\">" +
             format_number(xv, 3) + "</text>";
        s += "<text x=\"" + num(f.l - 4) + "\" y=\"" + num(f.py(yv) + 4) + "\" font-size=\"11\" text-anchor=\"end\">" +
             format_number(yv, 3) + "</text>";
        s += "<line x1=\"" + num(f.l) + "\" x2=\"" + num(f.r) + "\" y1=\"" + num(f.py(yv)) + "\" y2=\"" + num(f.py(yv)) +
             "\" stroke=\"#eee\"/>";
    }
    s += "<text x=\"" + num((f.l + f.r) / 2) + "\" y=\"" + num(f.b + 30) + "\" font-size=\"12\" text-anchor=\"middle\">" +
         html_escape(x_label) + "</text>";
    s += "<text transform=\"translate(12," + num((f.t + f.b) / 2) + ") rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">" +
         html_escape(y_label) + "</text>";
    return s;
}

}  // namespace

std::string html_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string base64_encode(const std::string& bytes) {
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        const unsigned a = (unsigned char)bytes[i];
        const unsigned b = i + 1 < bytes.size() ? (unsigned char)bytes[i + 1] : 0;
        const unsigned c = i + 2 < bytes.size() ? (unsigned char)bytes[i + 2] : 0;
        const unsigned v = (a << 16) | (b << 8) | c;
        out += k[(v >> 18) & 63];
        out += k[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? k[(v >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? k[v & 63] : '=';
    }
    return out;
}

std::string png_data_uri(const ImageU8& image) { return "data:image/png;base64," + base64_encode(encode_png(image)); }

std::string html_page(const std::string& title, const std::string& body_html) {
    return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(title) +
           "</title>\n<style>\n" + kStyle + "\n</style>\n</head>\n<body>\n" + body_html + "\n<script>\n" + kScript +
           "\n</script>\n</body>\n</html>\n";
}

std::string html_table(const HtmlTable& table) {
    std::string s = "<table class=\"sortable\"" + (table.id.empty() ? "" : " id=\"" + html_escape(table.id) + "\"") + ">\n<thead><tr>";
    for (const std::string& h : table.header) s += "<th>" + html_escape(h) + "</th>";
    s += "</tr></thead>\n<tbody>\n";
    for (const std::vector<HtmlCell>& row : table.rows) {
        if (row.size() != table.header.size())
            throw Error("html table: a row has " + std::to_string(row.size()) + " cells for " + std::to_string(table.header.size()) + " columns");
        s += "<tr>";
        for (const HtmlCell& c : row)
            s += (c.value.empty() ? "<td>" : "<td data-value=\"" + html_escape(c.value) + "\">") + html_escape(c.text) + "</td>";
        s += "</tr>\n";
    }
    return s + "</tbody></table>\n";
}

std::string svg_line_plot(const std::vector<SvgSeries>& series, const SvgPlotStyle& style) {
    Frame f{56, double(style.width) - 150, 10, double(style.height) - 40, 0, 1, style.y_min, style.y_max};
    bool any = false;
    double xmin = 0, xmax = 0, ymin = 0, ymax = 0;
    for (const SvgSeries& s : series)
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
            if (!any) { xmin = xmax = s.x[i]; ymin = ymax = s.y[i]; any = true; }
            xmin = std::min(xmin, s.x[i]); xmax = std::max(xmax, s.x[i]);
            ymin = std::min(ymin, s.y[i]); ymax = std::max(ymax, s.y[i]);
        }
    if (any) { f.x0 = xmin; f.x1 = xmax > xmin ? xmax : xmin + 1; }
    if (style.y_min == style.y_max) { f.y0 = std::min(any ? ymin : 0.0, 0.0); f.y1 = std::max(any ? ymax : 1.0, 1.0); }
    std::string s = "<svg width=\"" + std::to_string(style.width) + "\" height=\"" +
                    std::to_string(style.height) + "\" role=\"img\">" + axes(f, style.x_label, style.y_label);
    for (size_t k = 0; k < series.size(); ++k) {
        const char* color = kPalette[k % 8];
        std::string pts;
        for (size_t i = 0; i < series[k].x.size() && i < series[k].y.size(); ++i)
            if (std::isfinite(series[k].x[i]) && std::isfinite(series[k].y[i]))
                pts += num(f.px(series[k].x[i])) + "," + num(f.py(series[k].y[i])) + " ";
        s += "<polyline fill=\"none\" stroke=\"" + std::string(color) + "\" stroke-width=\"2\" points=\"" + pts + "\"/>";
        const double ly = f.t + 8 + 16.0 * double(k);
        s += "<line x1=\"" + num(f.r + 10) + "\" x2=\"" + num(f.r + 28) + "\" y1=\"" + num(ly) + "\" y2=\"" + num(ly) +
             "\" stroke=\"" + color + "\" stroke-width=\"3\"/><text x=\"" + num(f.r + 32) + "\" y=\"" + num(ly + 4) +
             "\" font-size=\"11\">" + html_escape(series[k].name) + "</text>";
    }
    return s + "</svg>";
}

std::string svg_bar_chart(const SvgBars& bars) {
    const size_t n = bars.values.size();
    double lo = 0, hi = 0;
    for (size_t i = 0; i < n; ++i) {
        const double w = i < bars.whiskers.size() && std::isfinite(bars.whiskers[i]) ? bars.whiskers[i] : 0;
        if (!std::isfinite(bars.values[i])) continue;
        lo = std::min(lo, bars.values[i] - w);
        hi = std::max(hi, bars.values[i] + w);
    }
    if (hi == lo) hi = lo + 1;
    const bool labels = !bars.labels.empty() && n <= 40;
    Frame f{56, double(bars.width) - (labels ? 60 : 10), 10, double(bars.height) - (labels ? 110 : 30), 0, double(std::max<size_t>(n, 1)), lo, hi};
    std::string s = "<svg width=\"" + std::to_string(bars.width) + "\" height=\"" +
                    std::to_string(bars.height) + "\" role=\"img\">" + axes(f, "", bars.y_label);
    // The x ticks of axes() are meaningless for bars: cover them with the label band.
    s += "<rect x=\"0\" y=\"" + num(f.b + 1) + "\" width=\"" + std::to_string(bars.width) + "\" height=\"" + num(double(bars.height) - f.b) + "\" fill=\"#fff\"/>";
    const double slot = (f.r - f.l) / double(std::max<size_t>(n, 1));
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(bars.values[i])) continue;
        const double y0 = f.py(0), y1 = f.py(bars.values[i]);
        const std::string color = i < bars.colors.size() ? bars.colors[i] : "#1f77b4";
        s += "<rect x=\"" + num(f.l + slot * double(i) + slot * 0.1) + "\" y=\"" + num(std::min(y0, y1)) + "\" width=\"" +
             num(std::max(slot * 0.8, 0.5)) + "\" height=\"" + num(std::fabs(y1 - y0)) + "\" fill=\"" + html_escape(color) + "\"/>";
        const double cx = f.l + slot * (double(i) + 0.5);
        if (i < bars.whiskers.size() && std::isfinite(bars.whiskers[i]) && bars.whiskers[i] > 0)
            s += "<line x1=\"" + num(cx) + "\" x2=\"" + num(cx) + "\" y1=\"" + num(f.py(bars.values[i] - bars.whiskers[i])) +
                 "\" y2=\"" + num(f.py(bars.values[i] + bars.whiskers[i])) + "\" stroke=\"#000\"/>";
        if (labels)
            s += "<text transform=\"translate(" + num(cx + 4) + "," + num(f.b + 6) + ") rotate(60)\" font-size=\"11\">" +
                 html_escape(bars.labels[i]) + "</text>";
    }
    return s + "</svg>";
}

std::string format_number(double v, int digits) {
    if (std::isnan(v)) return "n/a";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return buf;
}

}  // namespace ec
