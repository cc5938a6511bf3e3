// `entropycam report`: the audit report (DIR/index.html and further pages, images in DIR/img) and, with
// --walkthrough, one image explained step by step (DIR/walkthrough.html, images inline). The model, layer,
// methods, inputs and CSVs are all checked before anything is written; the pages are built by
// cam/render/html_report.h and html_walkthrough.h; this file runs the pipeline, writes files and prints paths.
#include <cctype>
#include <cstdio>

#include "api/network.h"
#include "cam/pipeline.h"
#include "cam/render/html_report.h"
#include "cam/render/html_walkthrough.h"
#include "cam/render/render.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/paths.h"
#include "io/png_write.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam report [--model M] [--layer L] [--methods all|LIST] [--evaluate CSV[,CSV...]]\n"
    "                         [--sanity CSV[,CSV...]] [--per-page N] [--entropy spatial|hist] [--bins B]\n"
    "                         --out DIR INPUT|DIR...\n"
    "       entropycam report --walkthrough IMAGE [--model M] [--layer L] [--methods LIST] --out DIR\n"
    "Writes DIR/index.html (and DIR/page-2.html ... for more than N inputs, default 100 per page) with the\n"
    "settings, the grid, per input its overlays, top-5 classes and warnings, and the tables and plots of\n"
    "`entropycam evaluate` / `entropycam sanity` CSVs; images go to DIR/img. Everything the pages show is in DIR.\n"
    "With --walkthrough: DIR/walkthrough.html, one image explained step by step (images inline).\n"
    "  --model M     model name (build/weights/M.ecw) or file; default mobilenet_v2_1.0_224_quant\n"
    "  --layer NAME  target tensor (see `entropycam layers`); default: the model's default layer\n"
    "  --methods     all (every method of `entropycam explain --help`) or a comma list of them; default: the\n"
    "                poster's five (gradcam,hirescam,respondcam,gradentropycam,featentropycam)\n"
    "  --out DIR     output folder (created if missing); required\n";

ExplainRequest parse_request(const Args& a) {
    ExplainRequest req;
    const std::string methods = a.get("--methods");
    if (methods == "all") req.methods.assign(std::begin(kEveryCamMethod), std::end(kEveryCamMethod));
    else if (!methods.empty())
        for (const std::string& m : split_list(methods, "--methods")) {
            try { req.methods.push_back(parse_cam_method(m)); } catch (const Error& e) { throw UsageError(e.what()); }
        }
    try { req.cam.entropy.estimator = parse_entropy_estimator(a.get("--entropy", "spatial")); }
    catch (const Error& e) { throw UsageError(e.what()); }
    req.cam.entropy.bins = a.get_int("--bins", kDefaultHistogramBins, 1, 1 << 20);
    req.layer = a.get("--layer");
    return req;
}

ReportSettings settings_of(const Model& model, const ExplainPlan& plan) {
    ReportSettings st;
    st.model = model.name;
    const Preprocessing& pre = model.preprocessing;
    st.input_size = std::to_string(pre.width) + " x " + std::to_string(pre.height) + " x 3";
    st.classes = plan.outputs;
    st.layer = plan.layer;
    st.layer_shape = model.graph.tensors[size_t(plan.options.target)].shape.str();
    for (CamMethod m : plan.options.methods) {
        st.methods.push_back(cam_method_name(m));
        st.method_titles.push_back(cam_method_title(m));
    }
    const EntropyOptions& e = plan.options.cam.entropy;
    st.entropy = entropy_estimator_name(e.estimator);
    if (e.estimator == EntropyEstimator::Histogram) st.entropy += " (" + std::to_string(e.bins) + " bins)";
    for (const ExplainWarning& w : plan.warnings) st.warnings.push_back(w.message);
    return st;
}

// Reads the CSVs of a comma list and builds their sections once, so a bad file fails before anything is written.
void read_csvs(const Args& a, const std::string& flag, std::vector<CsvTable>& tables, std::vector<std::string>& names, bool evaluate) {
    if (!a.has(flag)) return;
    for (const std::string& path : split_list(a.get(flag), flag)) {
        tables.push_back(read_csv(path));
        names.push_back(path);
        (void)(evaluate ? evaluate_section(tables.back(), path) : sanity_section(tables.back(), path));
    }
}

int run_walkthrough(const Args& a, const Model& model, const Network& net, const ExplainPlan& plan, const std::string& out_dir) {
    const std::string image = a.get("--walkthrough");
    const LoadedInput loaded = load_input(image, model.preprocessing);
    ensure_writable_dir(out_dir);
    std::fprintf(stderr, "explaining %s step by step\n", image.c_str());
    const std::string html = walkthrough_page(net, model.labels, plan, loaded, image, model.name);
    const std::string path = out_dir + "/walkthrough.html";
    write_file_atomic(path, html);
    std::printf("%s\n", path.c_str());
    return kExitOk;
}

// Explains input number i (0-based) of the run, writes its input and overlay PNGs under out_dir/img, and
// returns what the page shows of it; its row of the page's grid goes to `grid`.
ReportInput explain_one(const Model& model, const Network& net, Session& session, const ExplainPlan& plan,
                        const std::string& path, size_t i, const std::string& out_dir, std::vector<GridRow>& grid) {
    const LoadedInput in = load_input(path, model.preprocessing);
    const ImageU8& display = in.display;
    InputExplanation ex = explain_input(net, session, plan, in.input, {display.height, display.width});
    const ClassExplanation& c = ex.classes.at(0);
    char number[24];
    std::snprintf(number, sizeof number, "%04zu", i + 1);
    // The number keeps equal stems apart; characters a URL would read specially (# ? % space ...) become _.
    std::string stem = file_stem(path);
    for (char& ch : stem)
        if (!std::isalnum((unsigned char)ch) && ch != '-' && ch != '_' && ch != '.') ch = '_';
    const std::string base = std::string("img/") + number + "_" + stem;
    ReportInput r;
    r.path = path;
    r.image = base + "_input.png";
    write_png(out_dir + "/" + r.image, display);
    r.explained = {c.cls, label_of(model, c.cls), c.prob};
    for (const ExplainWarning& w : ex.warnings)
        if (w.kind != ExplainWarningKind::ClassFree) r.warnings.push_back(w.message);  // ClassFree is run-wide
    GridRow gr{display, {}, grid_row_label(r.explained.label, c.prob)};
    for (const ExplainedMap& m : c.maps) {
        r.overlays.push_back(base + "_" + cam_method_name(m.method) + ".png");
        write_png(out_dir + "/" + r.overlays.back(), overlay_heatmap(display, m.upsampled));
        std::vector<std::string> mw;
        for (const ExplainWarning& w : m.warnings) mw.push_back(w.message);
        r.map_warnings.push_back(mw);
        gr.maps.push_back(m.normalized);
    }
    for (const Prediction& pr : classify_input(net, session, in.input, 5)) r.top5.push_back({pr.index, label_of(model, pr.index), pr.prob});
    grid.push_back(std::move(gr));
    return r;
}

}  // namespace

int cmd_report(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--model", "--layer", "--methods", "--evaluate", "--sanity", "--out", "--per-page",
                               "--entropy", "--bins", "--walkthrough"},
                        {"--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (!a.has("--out")) throw UsageError("--out DIR is required");
    const bool walkthrough = a.has("--walkthrough");
    if (walkthrough && !a.positional.empty()) throw UsageError("--walkthrough takes one IMAGE and no other input");
    if (!walkthrough && a.positional.empty()) throw UsageError("no INPUT given");
    const int per_page = a.get_int("--per-page", 100, 1, 100000);
    const ExplainRequest request = parse_request(a);
    const std::string out_dir = a.get("--out");

    const Model model = open_model(a.get("--model", kDefaultModel));
    const Network net = network_of(model);
    const ExplainPlan plan = plan_explain(net, request);
    if (walkthrough) return run_walkthrough(a, model, net, plan, out_dir);

    ReportOptions options;
    options.inputs_per_page = per_page;
    read_csvs(a, "--evaluate", options.evaluate, options.evaluate_names, true);
    read_csvs(a, "--sanity", options.sanity, options.sanity_names, false);
    const std::vector<std::string> inputs = expand_inputs(a.positional);
    if (inputs.empty()) throw Error("no images found in " + a.positional[0]);
    for (const std::string& path : inputs) (void)load_input(path, model.preprocessing);  // every input is readable
    ensure_writable_dir(out_dir + "/img");

    const ReportSettings settings = settings_of(model, plan);
    std::vector<std::string> titles = {"Input"};
    for (const std::string& t : settings.method_titles) titles.push_back(t);
    std::vector<ReportInput> report;
    Session session;
    const int pages = report_page_count(inputs.size(), per_page);
    for (int p = 0; p < pages; ++p) {
        std::vector<GridRow> grid;
        for (size_t i = size_t(p) * size_t(per_page); i < inputs.size() && i < size_t(p + 1) * size_t(per_page); ++i) {
            std::fprintf(stderr, "[%zu/%zu] %s\n", i + 1, inputs.size(), inputs[i].c_str());
            report.push_back(explain_one(model, net, session, plan, inputs[i], i, out_dir, grid));
        }
        GridStyle style;
        if (grid.size() > 10) { style.cell = 112; style.text_scale = 1; }  // a long page keeps a readable figure size
        const std::string grid_file = "img/grid" + (p ? "-" + std::to_string(p + 1) : std::string()) + ".png";
        write_png(out_dir + "/" + grid_file, render_grid(grid, titles, style));
        options.grids.push_back(grid_file);
    }
    for (const ReportPage& page : report_pages(settings, report, options)) write_file_atomic(out_dir + "/" + page.file, page.html);
    std::printf("%s/index.html\n", out_dir.c_str());
    return kExitOk;
}

}  // namespace ec::cli
