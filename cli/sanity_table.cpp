#include "cli/sanity_table.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <tuple>

#include "cam/cam_methods.h"
#include "cam/render/plot.h"
#include "io/json.h"
#include "io/text_io.h"
#include "io/png_write.h"
#include "nn/tensor.h"

namespace ec::cli {

namespace {

const char* kColumns[kSanityMeasureCount] = {"spearman_abs", "spearman", "ssim", "hog"};
const char* kTitles[kSanityMeasureCount] = {"Spearman |map|", "Spearman (signed)", "SSIM", "HOG correlation"};
const char* kTestOrder[] = {"cascading", "independent", "class_bottom", "class_top2"};





int test_rank(const std::string& test) {
    for (int i = 0; i < 4; ++i)
        if (test == kTestOrder[i]) return i;
    return 4;
}

int method_rank(const std::string& m) {
    for (size_t i = 0; i < std::size(kEveryCamMethod); ++i)
        if (m == cam_method_name(kEveryCamMethod[i])) return int(i);
    return int(std::size(kEveryCamMethod));
}

bool is_class_test(const std::string& test) { return test.rfind("class_", 0) == 0; }
// Class tests compare a different class per image: their rows form one step whatever the class.
std::string step_key(const SanityRow& r) { return is_class_test(r.test) ? "" : r.step; }
auto group_key(const SanityRow& r) { return std::tie(r.model, r.layer, r.seed); }

template <class Same>
std::vector<std::pair<size_t, size_t>> runs(size_t begin, size_t end, Same same) {
    std::vector<std::pair<size_t, size_t>> out;
    for (size_t i = begin; i < end;) {
        size_t j = i + 1;
        while (j < end && same(i, j)) ++j;
        out.push_back({i, j});
        i = j;
    }
    return out;
}

std::string cell(const MeanCI& r) {
    if (r.n == 0) return "–";
    char buf[64];
    if (std::isnan(r.half_width)) std::snprintf(buf, sizeof buf, "%.3f ± n/a", r.mean);
    else std::snprintf(buf, sizeof buf, "%.3f ± %.3f", r.mean, r.half_width);
    return buf;
}

// Every (test, step) run of a group, split by method.
struct StepRuns {
    size_t begin, end;
    std::vector<std::pair<size_t, size_t>> methods;
};

std::vector<StepRuns> step_runs(const std::vector<SanityRow>& rows, size_t gb, size_t ge) {
    std::vector<StepRuns> out;
    auto same_step = [&](size_t a, size_t b) {
        return rows[a].test == rows[b].test && rows[a].depth == rows[b].depth && step_key(rows[a]) == step_key(rows[b]);
    };
    for (auto [sb, se] : runs(gb, ge, same_step))
        out.push_back({sb, se, runs(sb, se, [&](size_t a, size_t b) { return rows[a].method == rows[b].method; })});
    return out;
}

MeanCI measure_mean(const std::vector<SanityRow>& rows, size_t b, size_t e, int measure) {
    std::vector<double> v;
    for (size_t i = b; i < e; ++i) v.push_back(rows[i].measure[measure]);
    return mean_ci95(v);
}

std::vector<std::string> group_methods(const std::vector<SanityRow>& rows, size_t gb, size_t ge) {
    std::vector<std::string> m;
    for (size_t i = gb; i < ge; ++i)
        if (std::find(m.begin(), m.end(), rows[i].method) == m.end()) m.push_back(rows[i].method);
    std::stable_sort(m.begin(), m.end(), [](const std::string& a, const std::string& b) { return method_rank(a) < method_rank(b); });
    return m;
}

std::string method_title(const std::string& m) {
    try { return cam_method_title(parse_cam_method(m)); } catch (const Error&) { return m; }
}

// Overview: per method, the deepest cascading step's measures, the independent test's per-image mean over
// blocks, and the class tests' Spearman |map| and SSIM.
std::string overview_table(const std::vector<SanityRow>& rows, size_t gb, size_t ge, const std::vector<std::string>& methods) {
    int deepest = 0;
    std::string deepest_step;
    for (size_t i = gb; i < ge; ++i)
        if (rows[i].test == "cascading" && rows[i].depth > deepest) { deepest = rows[i].depth; deepest_step = rows[i].step; }
    std::string t = "| method | cascading to " + deepest_step + " (all " + std::to_string(deepest) +
                    " blocks): Spearman \\|map\\| | SSIM | HOG | independent, mean over blocks: Spearman \\|map\\| | "
                    "bottom-half class: Spearman \\|map\\| | SSIM | top-2 class: Spearman \\|map\\| | SSIM |\n"
                    "|---|---|---|---|---|---|---|---|---|\n";
    for (const std::string& m : methods) {
        std::vector<double> deep[kSanityMeasureCount], bottom[kSanityMeasureCount], top2[kSanityMeasureCount];
        std::map<std::string, std::pair<double, int>> independent;  // per input: sum, count
        for (size_t i = gb; i < ge; ++i) {
            const SanityRow& r = rows[i];
            if (r.method != m) continue;
            for (int k = 0; k < kSanityMeasureCount; ++k) {
                if (r.test == "cascading" && r.depth == deepest) deep[k].push_back(r.measure[k]);
                if (r.test == "class_bottom") bottom[k].push_back(r.measure[k]);
                if (r.test == "class_top2") top2[k].push_back(r.measure[k]);
            }
            if (r.test == "independent" && !std::isnan(r.measure[kSpearmanAbs])) {
                independent[r.input].first += r.measure[kSpearmanAbs];
                ++independent[r.input].second;
            }
        }
        std::vector<double> per_image;
        for (const auto& [input, sc] : independent) per_image.push_back(sc.first / sc.second);
        t += "| " + method_title(m) + " | " + cell(mean_ci95(deep[kSpearmanAbs])) + " | " + cell(mean_ci95(deep[kSsim])) +
             " | " + cell(mean_ci95(deep[kHog])) + " | " + cell(mean_ci95(per_image)) + " | " +
             cell(mean_ci95(bottom[kSpearmanAbs])) + " | " + cell(mean_ci95(bottom[kSsim])) + " | " +
             cell(mean_ci95(top2[kSpearmanAbs])) + " | " + cell(mean_ci95(top2[kSsim])) + " |\n";
    }
    return t;
}

std::string step_table(const std::vector<SanityRow>& rows, const std::vector<StepRuns>& steps, const std::string& test,
                       int measure, const std::vector<std::string>& methods) {
    std::string t = "| step | block |";
    for (const std::string& m : methods) t += " " + method_title(m) + " |";
    t += "\n|---|---|";
    for (size_t i = 0; i < methods.size(); ++i) t += "---|";
    t += "\n";
    for (const StepRuns& s : steps) {
        if (rows[s.begin].test != test) continue;
        t += "| " + std::to_string(rows[s.begin].depth) + " | " + rows[s.begin].step + " |";
        for (const std::string& m : methods) {
            MeanCI v{std::nan(""), std::nan(""), 0};
            for (auto [mb, me] : s.methods)
                if (rows[mb].method == m) v = measure_mean(rows, mb, me, measure);
            t += " " + cell(v) + " |";
        }
        t += "\n";
    }
    return t;
}

}  // namespace

const char* sanity_measure_column(int m) { return kColumns[m]; }
const char* sanity_measure_title(int m) { return kTitles[m]; }

void round_sanity_row(SanityRow& row) {
    for (double& v : row.measure) v = std::isnan(v) ? v : double(float(v));
}

std::vector<std::string> sanity_csv_header() {
    std::vector<std::string> h = {"input", "index", "model", "layer", "seed", "method", "test", "step", "depth", "class"};
    for (const char* c : kColumns) h.push_back(c);
    return h;
}

std::string sanity_csv_line(const SanityRow& r) {
    std::string line = csv_escape(r.input) + "," + std::to_string(r.index) + "," + csv_escape(r.model) + "," +
                       csv_escape(r.layer) + "," + csv_escape(r.seed) + "," + csv_escape(r.method) + "," +
                       csv_escape(r.test) + "," + csv_escape(r.step) + "," + std::to_string(r.depth) + "," +
                       std::to_string(r.cls);
    for (double v : r.measure) line += "," + csv_number(v);
    return line + "\n";
}

bool is_sanity_csv(const CsvTable& table) {
    return std::find(table.header.begin(), table.header.end(), "test") != table.header.end() &&
           std::find(table.header.begin(), table.header.end(), "spearman_abs") != table.header.end();
}

std::vector<SanityRow> sanity_rows_from_csv(const CsvTable& table, const std::string& name) {
    if (table.header != sanity_csv_header()) throw Error(name + ": not an `entropycam sanity` CSV (unexpected header)");
    std::vector<SanityRow> rows;
    for (size_t i = 0; i < table.rows.size(); ++i) {
        const std::vector<std::string>& f = table.rows[i];
        const std::string where = name + ": row " + std::to_string(i + 1);
        SanityRow r;
        r.input = f[0];
        r.index = parse_csv_whole(f[1], where);
        r.model = f[2];
        r.layer = f[3];
        r.seed = f[4];
        r.method = f[5];
        r.test = f[6];
        r.step = f[7];
        r.depth = int(parse_csv_whole(f[8], where));
        r.cls = int(parse_csv_whole(f[9], where));
        if (test_rank(r.test) == 4) throw Error(where + ": unknown test " + csv_field_for_message(r.test));
        for (int k = 0; k < kSanityMeasureCount; ++k) r.measure[k] = parse_csv_number(f[size_t(10 + k)], where);
        rows.push_back(r);
    }
    return rows;
}

void sort_sanity_rows(std::vector<SanityRow>& rows) {
    std::stable_sort(rows.begin(), rows.end(), [](const SanityRow& a, const SanityRow& b) {
        return std::make_tuple(a.model, a.layer, a.seed, test_rank(a.test), a.depth, step_key(a), method_rank(a.method),
                               a.method, a.index, a.input) <
               std::make_tuple(b.model, b.layer, b.seed, test_rank(b.test), b.depth, step_key(b), method_rank(b.method),
                               b.method, b.index, b.input);
    });
}

std::vector<SanityStepMeans> sanity_step_means(const std::vector<SanityRow>& rows, const std::string& test, int measure) {
    std::vector<SanityStepMeans> out;
    if (rows.empty()) return out;
    size_t ge = 0;
    while (ge < rows.size() && group_key(rows[ge]) == group_key(rows[0])) ++ge;
    const std::vector<std::string> methods = group_methods(rows, 0, ge);
    for (const StepRuns& s : step_runs(rows, 0, ge)) {
        if (rows[s.begin].test != test) continue;
        SanityStepMeans m{test, rows[s.begin].step, rows[s.begin].depth, methods, {}};
        for (const std::string& name : methods) {
            MeanCI v{std::nan(""), std::nan(""), 0};
            for (auto [mb, me] : s.methods)
                if (rows[mb].method == name) v = measure_mean(rows, mb, me, measure);
            m.values.push_back(v);
        }
        out.push_back(m);
    }
    return out;
}

std::string sanity_markdown(const std::vector<SanityRow>& rows) {
    std::string out;
    for (auto [gb, ge] : runs(0, rows.size(), [&](size_t a, size_t b) { return group_key(rows[a]) == group_key(rows[b]); })) {
        std::map<std::string, int> inputs;
        for (size_t i = gb; i < ge; ++i) inputs[rows[i].input] = 1;
        const std::vector<std::string> methods = group_methods(rows, gb, ge);
        const std::vector<StepRuns> steps = step_runs(rows, gb, ge);
        out += "Sanity checks (Adebayo et al. 2018): " + rows[gb].model + ", layer " + rows[gb].layer + ", seed " +
               rows[gb].seed + ", " + std::to_string(inputs.size()) +
               " images. Similarity of each map with the original model's top-1 map, mean ± 95 % CI over images "
               "(1 = unchanged; a method that explains the model should fall towards 0).\n\n";
        out += overview_table(rows, gb, ge, methods) + "\n";
        for (const char* test : {"cascading", "independent"}) {
            const bool present = std::any_of(steps.begin(), steps.end(), [&](const StepRuns& s) { return rows[s.begin].test == test; });
            for (int k = 0; k < kSanityMeasureCount && present; ++k) {
                const std::string table = step_table(rows, steps, test, k, methods);
                out += std::string(test) + " randomisation (" +
                       (std::string(test) == "cascading" ? "blocks re-initialised from the logits down to the named one"
                                                         : "only the named block re-initialised") +
                       "), " + kTitles[k] + ":\n\n" + table + "\n";
            }
        }
    }
    return out;
}

std::string sanity_json(const std::vector<SanityRow>& rows) {
    std::vector<std::string> items, summary;
    for (const SanityRow& r : rows) {
        JsonObject o;
        o.add("input", json_string(r.input)).add("index", json_number(double(r.index))).add("model", json_string(r.model));
        o.add("layer", json_string(r.layer)).add("seed", json_string(r.seed)).add("method", json_string(r.method));
        o.add("test", json_string(r.test)).add("step", json_string(r.step)).add("depth", json_number(r.depth));
        o.add("class", json_number(r.cls));
        for (int k = 0; k < kSanityMeasureCount; ++k) o.add(kColumns[k], json_number(r.measure[k]));
        items.push_back(o.str());
    }
    for (auto [gb, ge] : runs(0, rows.size(), [&](size_t a, size_t b) { return group_key(rows[a]) == group_key(rows[b]); }))
        for (const StepRuns& s : step_runs(rows, gb, ge))
            for (auto [mb, me] : s.methods) {
                const SanityRow& r = rows[mb];
                JsonObject o;
                o.add("model", json_string(r.model)).add("layer", json_string(r.layer)).add("seed", json_string(r.seed));
                o.add("test", json_string(r.test)).add("step", json_string(step_key(r))).add("depth", json_number(r.depth));
                o.add("method", json_string(r.method));
                for (int k = 0; k < kSanityMeasureCount; ++k) {
                    const MeanCI v = measure_mean(rows, mb, me, k);
                    JsonObject m;
                    m.add("mean", json_number(v.mean)).add("ci95", json_number(v.half_width)).add("n", json_number(v.n));
                    o.add(kColumns[k], m.str());
                }
                summary.push_back(o.str());
            }
    JsonObject doc;
    doc.add("rows", json_array(items)).add("summary", json_array(summary));
    return doc.str() + "\n";
}

void write_sanity_plots(const std::vector<SanityRow>& rows, const std::string& dir) {
    struct Plot { const char* test; int measure; };
    for (const Plot p : {Plot{"cascading", kSpearmanAbs}, Plot{"cascading", kSpearman}, Plot{"cascading", kSsim},
                         Plot{"cascading", kHog}, Plot{"independent", kSpearmanAbs}}) {
        const std::vector<SanityStepMeans> steps = sanity_step_means(rows, p.test, p.measure);
        if (steps.empty()) continue;
        LinePlot plot;
        std::map<std::string, int> inputs;
        for (const SanityRow& r : rows)
            if (group_key(r) == group_key(rows[0])) inputs[r.input] = 1;
        plot.title = std::string(p.test) + " randomisation: mean " + sanity_measure_title(p.measure) +
                     " with the original map (" + rows[0].model + ", " + std::to_string(inputs.size()) + " images)";
        plot.y_label = sanity_measure_title(p.measure);
        plot.y_min = -1.0;  // correlations and SSIM range over [-1, 1]
        const bool cascading = std::string(p.test) == "cascading";
        if (cascading) plot.x_ticks.push_back("original");
        for (const SanityStepMeans& s : steps) plot.x_ticks.push_back(s.step);
        for (size_t m = 0; m < steps[0].methods.size(); ++m) {
            PlotSeries ser{method_title(steps[0].methods[m]), plot_color(m), {}};
            if (cascading) ser.y.push_back(1.0);  // the original map compared with itself
            for (const SanityStepMeans& s : steps) ser.y.push_back(s.values[m].mean);
            plot.series.push_back(ser);
        }
        write_png(dir + "/" + p.test + "_" + sanity_measure_column(p.measure) + ".png", render_line_plot(plot));
    }
}

}  // namespace ec::cli
