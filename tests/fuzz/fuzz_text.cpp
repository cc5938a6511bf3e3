// libFuzzer target: the label and CSV readers (io/text_io.h) and the evaluate CSV rows read from them
// (cli/eval_table.h, what `evaluate --resume` and `summarize` read). Properties: csv_escape round-trips every
// table parse_csv returns, and an evaluate row read from CSV is written back to the same row.
#include <cstdlib>

#include "weights/labels.h"
#include "cli/eval_table.h"
#include "io/text_io.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ec;
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        std::vector<std::string> labels = parse_labels(text, "fuzz.txt");
        if (labels.empty()) std::abort();
    } catch (const Error& e) {
        fuzz::check_one_line(e);
    }
    try {
        CsvTable t = parse_csv(text, "fuzz.csv");
        // Re-encode; a one-column row holding "" is a blank line, which the reader skips by design. The leading
        // blank line keeps a header that starts with BOM bytes (after blank lines in the input) from being read
        // as a byte order mark.
        bool blank_row = false;
        std::string again = "\n";
        for (size_t r = 0; r <= t.rows.size(); ++r) {
            const std::vector<std::string>& rec = r == 0 ? t.header : t.rows[r - 1];
            std::string line;
            for (size_t i = 0; i < rec.size(); ++i) line += (i ? "," : "") + csv_escape(rec[i]);
            if (line.empty()) blank_row = true;
            again += line + "\n";
        }
        if (!blank_row) {
            CsvTable u = parse_csv(again, "again.csv");
            if (u.header != t.header || u.rows != t.rows) std::abort();
        }
        std::vector<cli::EvalRow> rows = cli::eval_rows_from_csv(t, "fuzz.csv");
        std::string csv;
        for (const std::string& h : cli::eval_csv_header()) csv += (csv.empty() ? "" : ",") + h;
        csv += "\n";
        for (const cli::EvalRow& row : rows) csv += cli::eval_csv_line(row);
        std::vector<cli::EvalRow> back = cli::eval_rows_from_csv(parse_csv(csv, "back.csv"), "back.csv");
        if (back.size() != rows.size()) std::abort();
        for (size_t i = 0; i < rows.size(); ++i)
            if (cli::eval_csv_line(back[i]) != cli::eval_csv_line(rows[i])) std::abort();
        cli::sort_eval_rows(rows, cli::default_method_order());
        cli::eval_markdown(rows);
        cli::eval_json(rows);
    } catch (const Error& e) {
        fuzz::check_one_line(e);
    }
    return 0;
}
