// The results of `entropycam evaluate` as data: one row per (input, method), its CSV form (written by
// evaluate, read back by evaluate --resume and by summarize), the Markdown table of means with 95 %
// confidence intervals, and the JSON document. evaluate and summarize build their tables with the same
// function from rows in the same order, so a merged set of sharded CSVs gives exactly the unsharded table.
#pragma once
#include <string>
#include <vector>

#include "cam/eval/evaluate.h"
#include "io/text_io.h"

namespace ec {

// The per-image metrics, in table order. Values are NaN where a metric was not asked for or is undefined
// (pointing and pointing_hit without a mask, or with an all-zero map). `--metrics pointing` asks for both.
// ROAD (cam/eval/road.h): the means of its MoRF and LeRF curves; optional columns, opt-in (slow).
enum EvalMetric {
    kDeletion, kInsertion, kAverageDrop, kIncrease, kPointing, kPointingHit, kRoadMorf, kRoadLerf, kEvalMetricCount
};
const char* eval_metric_name(int metric);    // "deletion", "insertion", "drop", "increase", "pointing", "road_morf", ...
const char* eval_metric_column(int metric);  // CSV column: "deletion_auc", "insertion_auc", "average_drop", ...
const char* eval_metric_title(int metric);   // "Deletion AUC ↓", ...
bool eval_metric_lower_is_better(int metric);
// True for the ROAD metrics: CSV columns only in the files of runs that asked for them, so that the CSVs of
// runs without them keep their bytes; files without the columns read as NaN there.
bool eval_metric_optional(int metric);
// True for the optional metrics and for those added after the CSV format first appeared (pointing_hit): a CSV
// without their columns still reads (eval_rows_from_csv, the report), with NaN there.
bool eval_metric_may_be_absent(int metric);
// Throws Error naming the valid names (the CLI reports it as a usage error).
int parse_eval_metric(const std::string& name);

struct EvalRow {
    std::string input;        // the path as listed (directories expanded)
    long index = 0;           // 0-based position in the full, unsharded input list (the random baseline's seed)
    std::string model;
    std::string layer;
    int steps = 0;            // curve steps n
    std::string class_from;   // "top1" or the labels.csv path
    std::string method;       // cam_method_name, "center" or "random"
    int cls = -1;             // the explained output index
    std::string label;
    double prob = 0;          // Y: class probability on the clean image
    double prob_masked = 0;   // O: on input (.) map; NaN when Average Drop was not asked for
    double metric[kEvalMetricCount] = {};  // per-image values; Average Drop and Increase are this image's terms in %
};

// Every number is rounded to float precision when the row is made (round_row) and printed with 9 significant
// digits, so that a row read back from its CSV line is bit-identical to the row in memory.
void round_row(EvalRow& row);
// The row of one (input, method) from its scores: the metrics asked for (want[k]) and NaN for the others
// (prob_masked too when neither Average Drop nor Increase is asked), rounded by round_row. `row` holds the
// identity fields (input ... prob) already.
EvalRow scored_eval_row(EvalRow row, const MapScores& scores, const bool (&want)[kEvalMetricCount]);

// with_optional: with the optional (ROAD) columns.
std::vector<std::string> eval_csv_header(bool with_optional = false);
// One CSV line, with its final '\n'.
std::string eval_csv_line(const EvalRow& row, bool with_optional = false);
// True when a row has a value in an optional column (its CSV needs them).
bool eval_rows_have_optional(const std::vector<EvalRow>& rows);
// Rows of a CSV table whose header is eval_csv_header(true) less any columns that may be absent
// (eval_metric_may_be_absent: the ROAD columns of runs without ROAD, pointing_hit in the files of older versions),
// the others in that order; absent columns read as NaN. Error naming `name` and the line for another header or a
// bad field.
std::vector<EvalRow> eval_rows_from_csv(const CsvTable& table, const std::string& name);

// Sorts rows for aggregation: by (model, layer, steps, class_from), then method (the order of
// `method_order`, unknown methods after, by name), then index and input. Every sum runs in this order.
void sort_eval_rows(std::vector<EvalRow>& rows, const std::vector<std::string>& method_order);
// The methods `evaluate` scores without --methods: the poster's five CAMs in its order, then center, random.
std::vector<std::string> default_method_order();
// `evaluate --methods all`: every CAM method (kEveryCamMethod order), then center, random. Rows are sorted in
// this order.
std::vector<std::string> every_method_order();

// Markdown: per group of (model, layer, steps, class_from) a caption and a table with one row per method and
// one column per metric that has a value in the group (mean ± 1.96 sd / sqrt(n) over images; the best mean
// in bold) and the number of images. Rows must be sorted (sort_eval_rows).
std::string eval_markdown(const std::vector<EvalRow>& rows);
// JSON: {"rows": [...every field of every row...], "summary": [{model, layer, steps, class_from, method,
// images, <metric>: {mean, ci95, n}}...]}.
std::string eval_json(const std::vector<EvalRow>& rows);

// The title shown for a method name: cam_method_title for CAMs, "Centre baseline", "Random baseline".
std::string eval_method_title(const std::string& method);

}  // namespace ec
