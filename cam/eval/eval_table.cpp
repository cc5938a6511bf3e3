#include "cam/eval/eval_table.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "cam/cam_methods.h"
#include "cam/eval/metrics.h"
#include "io/json.h"
#include "io/text_io.h"
#include "nn/tensor.h"

namespace ec {

namespace {

struct MetricInfo {
    const char* name;
    const char* column;
    const char* title;
    bool lower_is_better;
    bool percent;      // printed with one decimal, else three
    bool optional;     // a CSV column only in the files of runs that asked for it (ROAD: slow, opt-in)
    bool added_later;  // absent from the CSVs of versions before it (they still read, with NaN here)
};
const MetricInfo kMetrics[kEvalMetricCount] = {
    {"deletion", "deletion_auc", "Deletion AUC ↓", true, false, false, false},
    {"insertion", "insertion_auc", "Insertion AUC ↑", false, false, false, false},
    {"drop", "average_drop", "Average Drop % ↓", true, true, false, false},
    {"increase", "increase", "Increase in Confidence % ↑", false, true, false, false},
    {"pointing", "pointing", "Energy pointing game ↑", false, false, false, false},
    {"pointing_hit", "pointing_hit", "Pointing hit rate ↑", false, false, false, true},
    {"road_morf", "road_morf", "ROAD MoRF ↓", true, false, true, false},
    {"road_lerf", "road_lerf", "ROAD LeRF ↑", false, false, true, false},
};

const MetricInfo& info(int metric) {
    if (metric < 0 || metric >= kEvalMetricCount) throw Error("no evaluation metric " + std::to_string(metric));
    return kMetrics[metric];
}

double to_float_precision(double v) { return std::isnan(v) ? v : double(float(v)); }





std::string printed_mean(double mean, bool percent) {
    char buf[64];
    std::snprintf(buf, sizeof buf, percent ? "%.1f" : "%.3f", mean);
    return buf;
}

std::string cell(const MeanCI& r, bool percent) {
    if (r.n == 0) return "–";
    char buf[64];
    const char* f = percent ? "%.1f" : "%.3f";
    std::string s;
    std::snprintf(buf, sizeof buf, f, r.mean);
    s = buf;
    if (std::isnan(r.half_width)) return s + " ± n/a";
    std::snprintf(buf, sizeof buf, f, r.half_width);
    return s + " ± " + buf;
}

auto group_key(const EvalRow& r) { return std::tie(r.model, r.layer, r.steps, r.class_from); }

// [begin, end) index ranges of consecutive rows with equal keys.
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

struct MethodSummary {
    std::string method;
    int images = 0;
    MeanCI metric[kEvalMetricCount];
};

// Per group: its first row and one summary per method, in row order.
std::vector<std::pair<const EvalRow*, std::vector<MethodSummary>>> summarize(const std::vector<EvalRow>& rows) {
    std::vector<std::pair<const EvalRow*, std::vector<MethodSummary>>> groups;
    auto same_group = [&](size_t a, size_t b) { return group_key(rows[a]) == group_key(rows[b]); };
    for (auto [gb, ge] : runs(0, rows.size(), same_group)) {
        std::vector<MethodSummary> methods;
        for (auto [mb, me] : runs(gb, ge, [&](size_t a, size_t b) { return rows[a].method == rows[b].method; })) {
            MethodSummary s;
            s.method = rows[mb].method;
            s.images = int(me - mb);
            for (int k = 0; k < kEvalMetricCount; ++k) {
                std::vector<double> v;
                for (size_t i = mb; i < me; ++i) v.push_back(rows[i].metric[k]);
                s.metric[k] = mean_ci95(v);
            }
            methods.push_back(s);
        }
        groups.push_back({&rows[gb], methods});
    }
    return groups;
}

}  // namespace

const char* eval_metric_name(int metric) { return info(metric).name; }
const char* eval_metric_column(int metric) { return info(metric).column; }
const char* eval_metric_title(int metric) { return info(metric).title; }
bool eval_metric_lower_is_better(int metric) { return info(metric).lower_is_better; }
bool eval_metric_optional(int metric) { return info(metric).optional; }
bool eval_metric_may_be_absent(int metric) { return info(metric).optional || info(metric).added_later; }

bool eval_rows_have_optional(const std::vector<EvalRow>& rows) {
    for (const EvalRow& r : rows)
        for (int k = 0; k < kEvalMetricCount; ++k)
            if (kMetrics[k].optional && !std::isnan(r.metric[k])) return true;
    return false;
}

int parse_eval_metric(const std::string& name) {
    std::string valid;
    for (int k = 0; k < kEvalMetricCount; ++k) {
        if (name == kMetrics[k].name) return k;
        valid += std::string(k ? ", " : "") + kMetrics[k].name;
    }
    throw Error("unknown metric '" + name + "' (valid: " + valid + ")");
}

std::string eval_method_title(const std::string& method) {
    if (method == "center") return "Centre baseline";
    if (method == "random") return "Random baseline";
    try {
        return cam_method_title(parse_cam_method(method));
    } catch (const Error&) {
        return method;
    }
}

namespace {
template <size_t N>
std::vector<std::string> method_order_with_baselines(const CamMethod (&methods)[N]) {
    std::vector<std::string> order;
    for (CamMethod m : methods) order.push_back(cam_method_name(m));
    order.push_back("center");
    order.push_back("random");
    return order;
}
}  // namespace

std::vector<std::string> default_method_order() { return method_order_with_baselines(kAllCamMethods); }
std::vector<std::string> every_method_order() { return method_order_with_baselines(kEveryCamMethod); }

void round_row(EvalRow& row) {
    row.prob = to_float_precision(row.prob);
    row.prob_masked = to_float_precision(row.prob_masked);
    for (double& v : row.metric) v = to_float_precision(v);
}

EvalRow scored_eval_row(EvalRow row, const MapScores& scores, const bool (&want)[kEvalMetricCount]) {
    row.prob_masked = scores.prob_masked;
    row.metric[kDeletion] = scores.deletion_auc;
    row.metric[kInsertion] = scores.insertion_auc;
    row.metric[kAverageDrop] = scores.average_drop;
    row.metric[kIncrease] = scores.increase;
    row.metric[kPointing] = scores.pointing;
    row.metric[kPointingHit] = scores.pointing_hit;
    row.metric[kRoadMorf] = scores.road_morf;
    row.metric[kRoadLerf] = scores.road_lerf;
    for (int k = 0; k < kEvalMetricCount; ++k)
        if (!want[k]) row.metric[k] = std::nan("");
    if (!want[kAverageDrop] && !want[kIncrease]) row.prob_masked = std::nan("");
    round_row(row);
    return row;
}

std::vector<std::string> eval_csv_header(bool with_optional) {
    std::vector<std::string> h = {"input", "index", "model", "layer", "steps", "class_from", "method",
                                  "class", "label", "prob", "prob_masked"};
    for (const MetricInfo& m : kMetrics)
        if (with_optional || !m.optional) h.push_back(m.column);
    return h;
}

std::string eval_csv_line(const EvalRow& r, bool with_optional) {
    std::vector<std::string> f = {r.input, std::to_string(r.index), r.model, r.layer, std::to_string(r.steps),
                                  r.class_from, r.method, std::to_string(r.cls), r.label, csv_number(r.prob),
                                  csv_number(r.prob_masked)};
    for (int k = 0; k < kEvalMetricCount; ++k)
        if (with_optional || !kMetrics[k].optional) f.push_back(csv_number(r.metric[k]));
    std::string line;
    for (size_t i = 0; i < f.size(); ++i) line += (i ? "," : "") + csv_escape(f[i]);
    return line + "\n";
}

namespace {

constexpr size_t kIdentityColumns = 11;  // input .. prob_masked; the metrics follow

// The column of each metric in `header` (kNoMetricColumn where a column that may be absent is), or false when
// the header is not eval_csv_header(true) less some of those columns.
constexpr size_t kNoMetricColumn = size_t(-1);
bool metric_columns(const std::vector<std::string>& header, size_t (&column)[kEvalMetricCount]) {
    const std::vector<std::string> full = eval_csv_header(true);
    if (header.size() < kIdentityColumns || !std::equal(full.begin(), full.begin() + long(kIdentityColumns), header.begin()))
        return false;
    size_t c = kIdentityColumns;
    for (int k = 0; k < kEvalMetricCount; ++k) {
        if (c < header.size() && header[c] == kMetrics[k].column) column[k] = c++;
        else if (eval_metric_may_be_absent(k)) column[k] = kNoMetricColumn;
        else return false;
    }
    return c == header.size();
}

}  // namespace

std::vector<EvalRow> eval_rows_from_csv(const CsvTable& table, const std::string& name) {
    size_t column[kEvalMetricCount];
    if (!metric_columns(table.header, column)) {
        std::string expected;
        for (const std::string& h : eval_csv_header()) expected += (expected.empty() ? "" : ",") + h;
        throw Error(name + ": not an `entropycam evaluate` CSV: expected the header " + expected +
                    " (ROAD runs: then road_morf,road_lerf; older versions: without pointing_hit)");
    }
    std::vector<EvalRow> rows;
    for (size_t i = 0; i < table.rows.size(); ++i) {
        const std::vector<std::string>& f = table.rows[i];
        const std::string where = name + ": row " + std::to_string(i + 1);
        EvalRow r;
        r.input = f[0];
        r.index = parse_csv_whole(f[1], where);
        r.model = f[2];
        r.layer = f[3];
        r.steps = int(parse_csv_whole(f[4], where));
        r.class_from = f[5];
        r.method = f[6];
        r.cls = int(parse_csv_whole(f[7], where));
        r.label = f[8];
        r.prob = parse_csv_number(f[9], where);
        r.prob_masked = parse_csv_number(f[10], where);
        for (int k = 0; k < kEvalMetricCount; ++k)  // a column the file lacks reads NaN
            r.metric[k] = column[k] == kNoMetricColumn ? std::nan("") : parse_csv_number(f[column[k]], where);
        rows.push_back(r);
    }
    return rows;
}

void sort_eval_rows(std::vector<EvalRow>& rows, const std::vector<std::string>& method_order) {
    auto rank = [&](const std::string& m) {
        auto it = std::find(method_order.begin(), method_order.end(), m);
        return size_t(it - method_order.begin());
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const EvalRow& a, const EvalRow& b) {
        if (group_key(a) != group_key(b)) return group_key(a) < group_key(b);
        const size_t ra = rank(a.method), rb = rank(b.method);
        if (ra != rb) return ra < rb;
        if (a.method != b.method) return a.method < b.method;
        return std::tie(a.index, a.input) < std::tie(b.index, b.input);
    });
}

std::string eval_markdown(const std::vector<EvalRow>& rows) {
    std::string out;
    for (const auto& [first, methods] : summarize(rows)) {
        bool shown[kEvalMetricCount] = {};
        int images = 0;
        for (const MethodSummary& s : methods) {
            images = std::max(images, s.images);
            for (int k = 0; k < kEvalMetricCount; ++k) shown[k] = shown[k] || s.metric[k].n > 0;
        }
        if (!out.empty()) out += "\n";
        out += "model " + first->model + ", layer " + first->layer + ", " + std::to_string(first->steps) +
               " curve steps, class: " + (first->class_from == "top1" ? "top-1 on the clean image" : first->class_from) +
               ", " + std::to_string(images) + (images == 1 ? " image.\n" : " images.\n") +
               "Cells: mean ± 95 % confidence interval over images (1.96 · sd / √n); ↓ lower is better, ↑ higher "
               "is better; the best mean in bold.\n\n| method |";
        for (int k = 0; k < kEvalMetricCount; ++k)
            if (shown[k]) out += std::string(" ") + kMetrics[k].title + " |";
        out += " images |\n|---|";
        for (int k = 0; k < kEvalMetricCount; ++k)
            if (shown[k]) out += "---|";
        out += "---|\n";
        for (const MethodSummary& s : methods) {
            out += "| " + eval_method_title(s.method) + " |";
            for (int k = 0; k < kEvalMetricCount; ++k) {
                if (!shown[k]) continue;
                // Bold: the best mean as printed, so methods that tie at the printed precision are all bold.
                const MethodSummary* top = nullptr;
                for (const MethodSummary& o : methods)
                    if (o.metric[k].n > 0 && (!top || (kMetrics[k].lower_is_better ? o.metric[k].mean < top->metric[k].mean
                                                                                    : o.metric[k].mean > top->metric[k].mean)))
                        top = &o;
                const bool best = s.metric[k].n > 0 && printed_mean(s.metric[k].mean, kMetrics[k].percent) ==
                                                           printed_mean(top->metric[k].mean, kMetrics[k].percent);
                std::string c = cell(s.metric[k], kMetrics[k].percent);
                if (s.metric[k].n > 0 && s.metric[k].n != s.images) c += " (n=" + std::to_string(s.metric[k].n) + ")";
                out += " " + (best ? "**" + c + "**" : c) + " |";
            }
            out += " " + std::to_string(s.images) + " |\n";
        }
    }
    return out;
}

std::string eval_json(const std::vector<EvalRow>& rows) {
    std::vector<std::string> items;
    for (const EvalRow& r : rows) {
        JsonObject o;
        o.add("input", json_string(r.input)).add("index", json_number(double(r.index))).add("model", json_string(r.model));
        o.add("layer", json_string(r.layer)).add("steps", json_number(r.steps)).add("class_from", json_string(r.class_from));
        o.add("method", json_string(r.method)).add("class", json_number(r.cls)).add("label", json_string(r.label));
        o.add("prob", json_number(r.prob)).add("prob_masked", json_number(r.prob_masked));
        for (int k = 0; k < kEvalMetricCount; ++k)
            if (!kMetrics[k].optional || !std::isnan(r.metric[k])) o.add(kMetrics[k].column, json_number(r.metric[k]));
        items.push_back(o.str());
    }
    std::vector<std::string> summary;
    for (const auto& [first, methods] : summarize(rows))
        for (const MethodSummary& s : methods) {
            JsonObject o;
            o.add("model", json_string(first->model)).add("layer", json_string(first->layer));
            o.add("steps", json_number(first->steps)).add("class_from", json_string(first->class_from));
            o.add("method", json_string(s.method)).add("images", json_number(s.images));
            for (int k = 0; k < kEvalMetricCount; ++k)
                if (!kMetrics[k].optional || s.metric[k].n > 0)
                    o.add(kMetrics[k].column, JsonObject()
                                                  .add("mean", json_number(s.metric[k].mean))
                                                  .add("ci95", json_number(s.metric[k].half_width))
                                                  .add("n", json_number(s.metric[k].n))
                                                  .str());
            summary.push_back(o.str());
        }
    return JsonObject()
               .add("confidence_interval", json_string("mean +- 1.96 * sd / sqrt(n) over images"))
               .add("rows", json_array(items))
               .add("summary", json_array(summary))
               .str() + "\n";
}

}  // namespace ec
