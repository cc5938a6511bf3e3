// Moved to cam/eval/eval_table.h (the library evaluates; cli/ only parses and prints). This forwarding header
// keeps the old ec::cli names for tests/fuzz/ (owned by another change) until it includes the new header.
#pragma once
#include "cam/eval/eval_table.h"

namespace ec::cli {
using ec::default_method_order;
using ec::eval_csv_header;
using ec::eval_csv_line;
using ec::eval_json;
using ec::eval_markdown;
using ec::eval_rows_from_csv;
using ec::EvalRow;
using ec::kEvalMetricCount;
using ec::round_row;
using ec::sort_eval_rows;
}  // namespace ec::cli
