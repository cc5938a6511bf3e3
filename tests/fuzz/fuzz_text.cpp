// libFuzzer target: the label and CSV readers (io/text_io.h) and the evaluate CSV rows read from them
// (cam/eval/eval_table.h, what `evaluate --resume` and `summarize` read). Properties: csv_escape round-trips every
// table parse_csv returns, and an evaluate row read from CSV is written back to the same row.
#include <cstdlib>

#include "weights/labels.h"
#include "cam/eval/eval_table.h"
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
        std::vector<EvalRow> rows = eval_rows_from_csv(t, "fuzz.csv");
        std::string csv;
        for (const std::string& h : eval_csv_header()) csv += (csv.empty() ? "" : ",") + h;
        csv += "\n";
        for (const EvalRow& row : rows) csv += eval_csv_line(row);
        std::vector<EvalRow> back = eval_rows_from_csv(parse_csv(csv, "back.csv"), "back.csv");
        if (back.size() != rows.size()) std::abort();
        for (size_t i = 0; i < rows.size(); ++i)
            if (eval_csv_line(back[i]) != eval_csv_line(rows[i])) std::abort();
        sort_eval_rows(rows, default_method_order());
        eval_markdown(rows);
        eval_json(rows);
    } catch (const Error& e) {
        fuzz::check_one_line(e);
    }
    return 0;
}
