// The results of `entropycam sanity` as data: one row per (input, method, test, step), its CSV form (written
// by sanity, read back by summarize), the Markdown summary of means with 95 % confidence intervals, the JSON
// document, and the per-step means behind the depth plot. sanity and summarize build their output with the
// same functions from rows in the same order, so merged shards give exactly the unsharded summary.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cam/eval/metrics.h"
#include "io/text_io.h"

namespace ec::cli {

// The similarity measures, in column order.
enum SanityMeasure { kSpearmanAbs, kSpearman, kSsim, kHog, kSanityMeasureCount };
const char* sanity_measure_column(int measure);  // "spearman_abs", "spearman", "ssim", "hog"
const char* sanity_measure_title(int measure);   // "Spearman |map|", ...

struct SanityRow {
    std::string input;   // the path as listed (directories expanded)
    long index = 0;      // 0-based position in the full, unsharded input list (seeds the bottom-half class)
    std::string model;
    std::string layer;
    std::string seed;    // the --seed, as given (decimal)
    std::string method;  // cam_method_name
    std::string test;    // sanity_test_name
    std::string step;    // block name, or the compared class index
    int depth = 0;       // see SanityComparison::depth
    int cls = -1;        // the class explained on the compared side
    double measure[kSanityMeasureCount] = {};  // NaN where undefined (a constant map)
};

// Numbers are rounded to float precision (round_sanity_row) and printed with 9 significant digits, so a row
// read back from its CSV line equals the row in memory.
void round_sanity_row(SanityRow& row);
std::vector<std::string> sanity_csv_header();
std::string sanity_csv_line(const SanityRow& row);  // with its final '\n'
// True when the table has the columns of a sanity CSV (summarize uses it to tell sanity from evaluate CSVs).
bool is_sanity_csv(const CsvTable& table);
// Error naming `name` and the line for a wrong header or a bad field.
std::vector<SanityRow> sanity_rows_from_csv(const CsvTable& table, const std::string& name);

// Sorts by (model, layer, seed), test (cascading, independent, class_bottom, class_top2), depth, method (the
// poster's order), index, input. Every sum runs in this order.
void sort_sanity_rows(std::vector<SanityRow>& rows);

// Mean ± 95 % CI per (test, step, method) of one measure within one (model, layer, seed) group.
struct SanityStepMeans {
    std::string test, step;
    int depth = 0;
    std::vector<std::string> methods;  // in the group's method order
    std::vector<MeanCI> values;        // one per method
};
// The steps of one test in depth order, for the first (model, layer, seed) group of sorted rows.
std::vector<SanityStepMeans> sanity_step_means(const std::vector<SanityRow>& rows, const std::string& test, int measure);

// Markdown: per group an overview table (one row per method: the fully randomised cascade's four measures,
// the independent test's Spearman |map| averaged over blocks per image, and the two class tests), then one
// table per test and measure (rows: steps; columns: methods). Rows must be sorted.
std::string sanity_markdown(const std::vector<SanityRow>& rows);
// JSON: {"rows": [...], "summary": [{model, layer, seed, test, step, depth, method, <measure>: {mean, ci95, n}}]}.
std::string sanity_json(const std::vector<SanityRow>& rows);

// The first group's mean against depth, as PNG line plots in `dir` (one series per method): cascading_<measure>.png
// for the four measures (x: "original", then each cascading step) and independent_spearman_abs.png.
void write_sanity_plots(const std::vector<SanityRow>& rows, const std::string& dir);

}  // namespace ec::cli
