// The report's sections made from CSV files: `entropycam evaluate` (metric tables, AUC charts, curves when
// the CSV holds them, per-image scores) and `entropycam sanity` (randomisation curves, class-sensitivity
// table). Columns are found by name, so files with extra columns (or columns in another order) still read;
// a missing column is an Error naming the file and the column.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

#include "cam/eval/eval_table.h"
#include "cam/render/html.h"
#include "cam/render/html_report.h"
#include "nn/error.h"

namespace ec {
namespace {

size_t column_of(const CsvTable& t, const std::string& column, const std::string& name) {
    for (size_t i = 0; i < t.header.size(); ++i)
        if (t.header[i] == column) return i;
    throw Error(name + ": no column '" + column + "'");
}

constexpr size_t kNoColumn = size_t(-1);

// An optional metric's column (ROAD), or kNoColumn when the file has none.
size_t optional_column_of(const CsvTable& t, const std::string& column) {
    for (size_t i = 0; i < t.header.size(); ++i)
        if (t.header[i] == column) return i;
    return kNoColumn;
}

// A CSV number; NaN for an empty field; Error naming the file and row otherwise.
double field_number(const std::string& s, const std::string& name, size_t row) {
    if (s.empty()) return std::nan("");
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || errno == ERANGE)
        throw Error(name + ": row " + std::to_string(row + 1) + ": '" + s.substr(0, 40) + "' is not a number");
    return v;
}

// Mean and 95 % half-width (1.96 sd / sqrt(n), sample sd) of the finite values.
struct Stat {
    double sum = 0, sum2 = 0;
    long n = 0;
    void add(double v) { if (std::isfinite(v)) { sum += v; sum2 += v * v; ++n; } }
    double mean() const { return n ? sum / double(n) : std::nan(""); }
    double ci95() const {
        if (n < 2) return std::nan("");
        const double var = std::max(0.0, (sum2 - sum * sum / double(n)) / double(n - 1));
        return 1.96 * std::sqrt(var / double(n));
    }
};

// Values in order of first appearance.
std::vector<std::string> distinct(const CsvTable& t, size_t col) {
    std::vector<std::string> out;
    for (const auto& r : t.rows)
        if (std::find(out.begin(), out.end(), r[col]) == out.end()) out.push_back(r[col]);
    return out;
}

std::string full(double v) { return std::isnan(v) ? "" : format_number(v, 9); }

// Curves written as numbers separated by spaces or semicolons (an optional evaluate column).
std::vector<double> parse_curve(const std::string& s) {
    std::vector<double> out;
    const char* p = s.c_str();
    while (*p) {
        while (*p == ' ' || *p == ';') ++p;
        if (!*p) break;
        char* end = nullptr;
        const double v = std::strtod(p, &end);
        if (end == p) return {};
        out.push_back(v);
        p = end;
    }
    return out;
}

std::string curve_plots(const CsvTable& t, const std::string& name, size_t method_col) {
    std::string s;
    for (const char* curve : {"deletion_curve", "insertion_curve"}) {
        size_t col = 0;
        try { col = column_of(t, curve, name); } catch (const Error&) { continue; }
        std::vector<SvgSeries> series;
        for (const std::string& m : distinct(t, method_col)) {
            std::vector<double> sum;
            long n = 0;
            for (const auto& r : t.rows) {
                if (r[method_col] != m) continue;
                const std::vector<double> c = parse_curve(r[col]);
                if (c.empty()) continue;
                if (sum.empty()) sum.assign(c.size(), 0.0);
                if (c.size() != sum.size()) continue;
                for (size_t i = 0; i < c.size(); ++i) sum[i] += c[i];
                ++n;
            }
            if (!n) continue;
            SvgSeries se{eval_method_title(m), {}, {}};
            for (size_t i = 0; i < sum.size(); ++i) {
                se.x.push_back(sum.size() > 1 ? double(i) / double(sum.size() - 1) : 0.0);
                se.y.push_back(sum[i] / double(n));
            }
            series.push_back(se);
        }
        if (series.empty()) continue;
        SvgPlotStyle st;
        st.x_label = "fraction of pixels " + std::string(curve[0] == 'd' ? "deleted" : "inserted");
        st.y_label = "mean class probability";
        s += "<figure class=\"curve\">" + svg_line_plot(series, st) + "<figcaption>Mean " +
             (curve[0] == 'd' ? "Deletion" : "Insertion") + " curve per method</figcaption></figure>";
    }
    return s;
}


// The evaluate CSV's columns, found by name.
struct EvalColumns {
    size_t input, method, cls, label, prob, model, layer, metric[kEvalMetricCount];
    EvalColumns(const CsvTable& t, const std::string& name)
        : input(column_of(t, "input", name)), method(column_of(t, "method", name)), cls(column_of(t, "class", name)),
          label(column_of(t, "label", name)), prob(column_of(t, "prob", name)), model(column_of(t, "model", name)),
          layer(column_of(t, "layer", name)) {
        for (int k = 0; k < kEvalMetricCount; ++k)
            metric[k] = eval_metric_may_be_absent(k) ? optional_column_of(t, eval_metric_column(k)) : column_of(t, eval_metric_column(k), name);
    }
};

// Every CSV row with its exact numbers as data-value (the text shows 4 significant digits).
std::string eval_rows_table(const CsvTable& t, const std::string& name, const EvalColumns& c) {
    HtmlTable per{"eval-rows", {"input", "method", "class", "label", "prob"}, {}};
    for (int k = 0; k < kEvalMetricCount; ++k)
        if (c.metric[k] != kNoColumn) per.header.push_back(eval_metric_title(k));
    for (size_t r = 0; r < t.rows.size(); ++r) {
        const auto& f = t.rows[r];
        std::vector<HtmlCell> row = {{f[c.input], ""}, {eval_method_title(f[c.method]), f[c.method]}, {f[c.cls], f[c.cls]},
                                     {f[c.label], ""}, {format_number(field_number(f[c.prob], name, r), 4), f[c.prob]}};
        for (int k = 0; k < kEvalMetricCount; ++k)
            if (c.metric[k] != kNoColumn) row.push_back({format_number(field_number(f[c.metric[k]], name, r), 4), f[c.metric[k]]});
        per.rows.push_back(row);
    }
    return "<details><summary>Per-image scores (" + std::to_string(t.rows.size()) + " rows)</summary>\n" + html_table(per) + "</details>\n";
}

// Mean Deletion and Insertion AUC per method with 95 % whiskers.
std::string auc_charts(const std::vector<std::string>& methods, const std::vector<Stat>& del, const std::vector<Stat>& ins) {
    std::string s;
    for (int k : {int(kDeletion), int(kInsertion)}) {
        SvgBars bars;
        bars.y_label = eval_metric_title(k);
        for (size_t m = 0; m < methods.size(); ++m) {
            const Stat& st = k == kDeletion ? del[m] : ins[m];
            bars.values.push_back(st.mean());
            bars.whiskers.push_back(st.ci95());
            bars.labels.push_back(eval_method_title(methods[m]));
        }
        s += "<figure class=\"auc\">" + svg_bar_chart(bars) + "<figcaption>Mean " + eval_metric_title(k) + " per method</figcaption></figure>";
    }
    return s;
}

const char* const kSanityScores[] = {"spearman_abs", "spearman", "ssim", "hog"};

// Per randomisation test, per score: the mean over inputs per method and step, steps in order of appearance.
std::string randomisation_plots(const CsvTable& t, const std::string& name, size_t method, size_t test, size_t step,
                                const size_t (&score)[4]) {
    std::string s;
    const std::vector<std::string> methods = distinct(t, method);
    for (const char* kind : {"cascading", "independent"}) {
        std::vector<std::string> steps;
        for (const auto& r : t.rows)
            if (r[test] == kind && std::find(steps.begin(), steps.end(), r[step]) == steps.end()) steps.push_back(r[step]);
        if (steps.empty()) continue;
        for (int k = 0; k < 4; ++k) {
            std::vector<SvgSeries> series;
            for (const std::string& m : methods) {
                SvgSeries se{eval_method_title(m), {}, {}};
                for (size_t i = 0; i < steps.size(); ++i) {
                    Stat st;
                    for (size_t r = 0; r < t.rows.size(); ++r)
                        if (t.rows[r][test] == kind && t.rows[r][method] == m && t.rows[r][step] == steps[i])
                            st.add(field_number(t.rows[r][score[k]], name, r));
                    se.x.push_back(double(i));
                    se.y.push_back(st.mean());
                }
                series.push_back(se);
            }
            SvgPlotStyle style;
            style.x_label = std::string(kind) + " randomisation step (0 = " + steps.front() + ", last = " + steps.back() + ")";
            style.y_label = std::string("mean ") + kSanityScores[k];
            style.y_min = style.y_max = 0;
            s += "<figure class=\"randomisation\" data-test=\"" + std::string(kind) + "\">" + svg_line_plot(series, style) +
                 "<figcaption>" + kind + " randomisation: mean " + kSanityScores[k] + " per method</figcaption></figure>";
        }
    }
    return s;
}

// One row per method and class test: the mean of each score.
HtmlTable class_sensitivity(const CsvTable& t, const std::string& name, size_t method, size_t test, const size_t (&score)[4]) {
    HtmlTable cls{"sanity-class", {"method", "test", "rows"}, {}};
    for (const char* k : kSanityScores) cls.header.push_back(std::string("mean ") + k);
    for (const std::string& m : distinct(t, method))
        for (const char* kind : {"class_bottom", "class_top2"}) {
            Stat st[4];
            long n = 0;
            for (size_t r = 0; r < t.rows.size(); ++r) {
                if (t.rows[r][method] != m || t.rows[r][test] != kind) continue;
                ++n;
                for (int k = 0; k < 4; ++k) st[k].add(field_number(t.rows[r][score[k]], name, r));
            }
            if (!n) continue;
            std::vector<HtmlCell> row = {{eval_method_title(m), m}, {kind, ""}, {std::to_string(n), std::to_string(n)}};
            for (int k = 0; k < 4; ++k) row.push_back({format_number(st[k].mean(), 4), full(st[k].mean())});
            cls.rows.push_back(row);
        }
    return cls;
}

}  // namespace

std::string evaluate_section(const CsvTable& t, const std::string& name) {
    const EvalColumns c(t, name);
    std::string s = "<section class=\"evaluate\" data-csv=\"" + html_escape(name) + "\">\n<h3>Evaluation: " + html_escape(name) + "</h3>\n";
    auto joined = [](const std::vector<std::string>& v) { std::string o; for (const auto& x : v) o += (o.empty() ? "" : ", ") + x; return o; };
    s += "<p>" + std::to_string(distinct(t, c.input).size()) + " inputs; model " + html_escape(joined(distinct(t, c.model))) +
         "; layer " + html_escape(joined(distinct(t, c.layer))) +
         ". Mean &plusmn; 95 % confidence interval (1.96 sd / &radic;n) per method. Click a column to sort.</p>\n";

    // The means table, one row per method; data-value holds the mean at full precision.
    HtmlTable means{"eval-means", {"method", "images"}, {}};
    for (int k = 0; k < kEvalMetricCount; ++k)
        if (c.metric[k] != kNoColumn) means.header.push_back(eval_metric_title(k));
    const std::vector<std::string> methods = distinct(t, c.method);
    std::vector<Stat> del(methods.size()), ins(methods.size());
    for (size_t m = 0; m < methods.size(); ++m) {
        Stat st[kEvalMetricCount];
        long images = 0;
        for (size_t r = 0; r < t.rows.size(); ++r) {
            if (t.rows[r][c.method] != methods[m]) continue;
            ++images;
            for (int k = 0; k < kEvalMetricCount; ++k)
                if (c.metric[k] != kNoColumn) st[k].add(field_number(t.rows[r][c.metric[k]], name, r));
        }
        del[m] = st[kDeletion];
        ins[m] = st[kInsertion];
        std::vector<HtmlCell> row = {{eval_method_title(methods[m]), methods[m]}, {std::to_string(images), std::to_string(images)}};
        for (int k = 0; k < kEvalMetricCount; ++k)
            if (c.metric[k] != kNoColumn) row.push_back({st[k].n ? format_number(st[k].mean(), 4) + " ± " + format_number(st[k].ci95(), 2) : "n/a", full(st[k].mean())});
        means.rows.push_back(row);
    }
    s += html_table(means) + auc_charts(methods, del, ins);
    const std::string curves = curve_plots(t, name, c.method);
    if (curves.empty())
        s += "<p class=\"note\">This CSV holds the area under each Deletion and Insertion curve, not the curves' points, so "
             "the charts show the mean AUCs (with 95 % intervals) instead of the mean curves.</p>\n";
    return s + curves + eval_rows_table(t, name, c) + "</section>\n";
}

std::string sanity_section(const CsvTable& t, const std::string& name) {
    const size_t input = column_of(t, "input", name), method = column_of(t, "method", name);
    const size_t test = column_of(t, "test", name), step = column_of(t, "step", name);
    size_t score[4];
    for (int k = 0; k < 4; ++k) score[k] = column_of(t, kSanityScores[k], name);
    std::string s = "<section class=\"sanity\" data-csv=\"" + html_escape(name) + "\">\n<h3>Sanity checks: " + html_escape(name) + "</h3>\n";
    s += "<p>" + std::to_string(distinct(t, input).size()) + " inputs. Randomisation tests (Adebayo 2018): the map of a "
         "network whose weights were randomised should differ from the original; a method whose similarity stays high "
         "does not depend on what the network learnt. Lower similarity is better.</p>\n";
    s += randomisation_plots(t, name, method, test, step, score);
    const HtmlTable cls = class_sensitivity(t, name, method, test, score);
    if (!cls.rows.empty())
        s += "<h4>Class sensitivity</h4>\n<p>Similarity between the map of the explained class and the map of the "
             "least likely class (class_bottom) or the second most likely class (class_top2).</p>\n" + html_table(cls);

    HtmlTable all{"sanity-rows", {"input", "method", "test", "step"}, {}};
    for (const char* k : kSanityScores) all.header.push_back(k);
    for (size_t r = 0; r < t.rows.size(); ++r) {
        const auto& f = t.rows[r];
        std::vector<HtmlCell> row = {{f[input], ""}, {eval_method_title(f[method]), f[method]}, {f[test], ""}, {f[step], ""}};
        for (int k = 0; k < 4; ++k) row.push_back({format_number(field_number(f[score[k]], name, r), 4), f[score[k]]});
        all.rows.push_back(row);
    }
    s += "<details><summary>Every row (" + std::to_string(t.rows.size()) + ")</summary>\n" + html_table(all) + "</details>\n";
    return s + "</section>\n";
}

}  // namespace ec
