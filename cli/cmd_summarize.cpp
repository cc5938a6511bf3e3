// `entropycam summarize`: merges per-image CSVs of `entropycam evaluate` (e.g. the shards of one run) into the
// table evaluate prints, built by the same code from the rows in the same order, so the merged shards give
// exactly the unsharded table. With --csv it also writes the merged rows as one CSV, in the order an
// unsharded evaluate writes them, so the merged CSV of a sharded run equals the unsharded run's CSV byte for byte.
#include <algorithm>
#include <cstdio>
#include <set>

#include "cam/eval/eval_table.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/paths.h"
#include "cli/sanity_table.h"
#include "io/text_io.h"
#include "nn/file_util.h"
#include "nn/tensor.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam summarize [--json] [--csv FILE] [--out DIR] CSV...\n"
    "Merges the CSVs of `entropycam evaluate --csv` (e.g. one per --shard) and prints the Markdown table of\n"
    "evaluate: per model, layer and steps one row per method, mean ± 95 % confidence interval over images\n"
    "(1.96 * sd / sqrt(n)) per metric, and the image count. A row (input, model, layer, method) may appear once.\n"
    "CSVs of `entropycam sanity --csv` (recognised by their columns) give the summary sanity prints, and with\n"
    "--out DIR its plots of the mean similarity against the randomised depth.\n"
    "  --json       print rows and summary as one JSON document instead\n"
    "  --csv FILE   (evaluate CSVs) also write the merged rows to FILE (written whole, atomically), ordered as an\n"
    "               unsharded evaluate writes them: by position in the input list, then method\n";

// The order of an unsharded evaluate's CSV: by input position, then (for CSVs of several runs) run options,
// then method in `evaluate --methods all` order.
void sort_in_evaluate_order(std::vector<EvalRow>& rows) {
    const std::vector<std::string> order = every_method_order();
    auto rank = [&](const std::string& m) { return size_t(std::find(order.begin(), order.end(), m) - order.begin()); };
    std::stable_sort(rows.begin(), rows.end(), [&](const EvalRow& a, const EvalRow& b) {
        if (a.index != b.index) return a.index < b.index;
        if (a.input != b.input) return a.input < b.input;
        if (a.model != b.model) return a.model < b.model;
        if (a.layer != b.layer) return a.layer < b.layer;
        if (a.steps != b.steps) return a.steps < b.steps;
        if (a.class_from != b.class_from) return a.class_from < b.class_from;
        if (rank(a.method) != rank(b.method)) return rank(a.method) < rank(b.method);
        return a.method < b.method;
    });
}

void write_merged_csv(const std::string& path, std::vector<EvalRow> rows) {
    sort_in_evaluate_order(rows);
    std::string text;
    const bool road = eval_rows_have_optional(rows);  // the ROAD columns when any row has them
    for (const std::string& h : eval_csv_header(road)) text += (text.empty() ? "" : ",") + h;
    text += "\n";
    for (const EvalRow& r : rows) text += eval_csv_line(r, road);
    write_file_atomic(path, text);
}

// The sanity-CSV branch: the same duplicate check and the same summary as `entropycam sanity`.
int summarize_sanity(const std::vector<std::string>& paths, bool json, const std::string& out_dir) {
    std::vector<SanityRow> rows;
    std::set<std::string> seen;
    for (const std::string& path : paths) {
        for (SanityRow& r : sanity_rows_from_csv(read_csv(path), path)) {
            const std::string key = r.input + "\n" + r.model + "\n" + r.layer + "\n" + r.seed + "\n" + r.method + "\n" +
                                    r.test + "\n" + r.step;
            if (!seen.insert(key).second)
                throw Error(path + ": a second row for input " + r.input + ", method " + r.method + ", test " + r.test +
                            ", step " + r.step + " (overlapping shards?)");
            rows.push_back(std::move(r));
        }
    }
    sort_sanity_rows(rows);
    if (!out_dir.empty()) {
        ensure_writable_dir(out_dir);
        write_sanity_plots(rows, out_dir);
    }
    std::fputs(json ? sanity_json(rows).c_str() : sanity_markdown(rows).c_str(), stdout);
    return kExitOk;
}

}  // namespace

int cmd_summarize(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--out", "--csv"}, {"--json", "--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (a.positional.empty()) throw UsageError("no CSV given");
    if (is_sanity_csv(read_csv(a.positional[0]))) {
        if (a.has("--csv")) throw UsageError("--csv merges evaluate CSVs; these are sanity CSVs");
        return summarize_sanity(a.positional, a.has("--json"), a.get("--out"));
    }
    if (a.has("--out")) throw UsageError("--out draws the plots of sanity CSVs; these are evaluate CSVs");
    std::vector<EvalRow> rows;
    std::set<std::string> seen;
    for (const std::string& path : a.positional) {
        for (EvalRow& r : eval_rows_from_csv(read_csv(path), path)) {
            const std::string key = r.input + "\n" + r.model + "\n" + r.layer + "\n" + std::to_string(r.steps) + "\n" +
                                    r.class_from + "\n" + r.method;
            if (!seen.insert(key).second)
                throw Error(path + ": a second row for input " + r.input + ", method " + r.method + ", layer " + r.layer +
                            " (overlapping shards?)");
            rows.push_back(std::move(r));
        }
    }
    if (a.has("--csv")) write_merged_csv(a.get("--csv"), rows);
    sort_eval_rows(rows, every_method_order());
    std::fputs(a.has("--json") ? eval_json(rows).c_str() : eval_markdown(rows).c_str(), stdout);
    return kExitOk;
}

}  // namespace ec::cli
