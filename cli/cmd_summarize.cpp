// `entropycam summarize`: merges per-image CSVs of `entropycam evaluate` (e.g. the shards of one run) into the
// table evaluate prints, built by the same code from the rows in the same order, so the merged shards give
// exactly the unsharded table.
#include <cstdio>
#include <set>

#include "cam/eval/eval_table.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/paths.h"
#include "cli/sanity_table.h"
#include "io/text_io.h"
#include "nn/tensor.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam summarize [--json] [--out DIR] CSV...\n"
    "Merges the CSVs of `entropycam evaluate --csv` (e.g. one per --shard) and prints the Markdown table of\n"
    "evaluate: per model, layer and steps one row per method, mean ± 95 % confidence interval over images\n"
    "(1.96 * sd / sqrt(n)) per metric, and the image count. A row (input, model, layer, method) may appear once.\n"
    "CSVs of `entropycam sanity --csv` (recognised by their columns) give the summary sanity prints, and with\n"
    "--out DIR its plots of the mean similarity against the randomised depth.\n"
    "  --json   print rows and summary as one JSON document instead\n";

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
    Args a = parse_args(argv, {"--out"}, {"--json", "--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (a.positional.empty()) throw UsageError("no CSV given");
    if (is_sanity_csv(read_csv(a.positional[0]))) return summarize_sanity(a.positional, a.has("--json"), a.get("--out"));
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
    sort_eval_rows(rows, default_method_order());
    std::fputs(a.has("--json") ? eval_json(rows).c_str() : eval_markdown(rows).c_str(), stdout);
    return kExitOk;
}

}  // namespace ec::cli
