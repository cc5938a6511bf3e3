// `entropycam explain`: CAM overlays per input and method, optional raw maps and weights, and the poster's
// grid figure. Everything is checked (model, layer, class, inputs, output folder) before anything is written.
#include <cstdio>

#include "api/network.h"
#include "cam/pipeline.h"
#include "cam/render/render.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/paths.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/png_write.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam explain [--model M] [--layer NAME] [--methods all|LIST] [--class K | --top N]\n"
    "                          [--entropy spatial|hist] [--bins B] [--out DIR] [--raw] [--json] INPUT...\n"
    "Writes DIR/<input>_<method>.png overlays (with --top N: <input>_c<class>_<method>.png), DIR/grid.png\n"
    "(rows: inputs; columns: input, then the methods), and with --raw the raw maps and channel weights as .npy.\n"
    "  --model M     model name (build/weights/M.ecw) or file; default mobilenet_v2_1.0_224_quant\n"
    "  --layer NAME  target tensor (see `entropycam layers`); default: the model's default layer\n"
    "                A,B,...: each method's maps at these layers, ReLU'd, min-max normalised, upsampled to the\n"
    "                finest and averaged (one backward pass serves every layer)\n"
    "  --methods     a comma list of gradcam,hirescam,respondcam,gradentropycam,featentropycam (the poster's five,\n"
    "                the default), gradcampp,xgradcam,layercam,eigencam,scorecam,signedgradentropycam,\n"
    "                posgradentropycam; or all: every method (scorecam runs the network once per channel)\n"
    "  --class K     explain output index K;  --top N  explain the N best classes (default: the top-1 class)\n"
    "  --entropy     entropy estimator of the entropy CAMs: spatial (default) or hist, with --bins B (256)\n"
    "  --out DIR     output folder (created if missing); default out/explain\n";

struct Row {  // one explained (input, class)
    std::string file;
    const ImageU8* display;
    ClassExplanation c;
    std::vector<std::vector<std::string>> files;  // per method: the overlay PNG, then with --raw the .npy files
};

ExplainRequest parse_request(const Args& a) {
    if (a.has("--class") && a.has("--top")) throw UsageError("--class and --top exclude each other");
    ExplainRequest req;
    req.classes.top = a.get_int("--top", 1, 1, 100);
    const std::string methods = a.get("--methods");
    if (methods == "all") req.methods.assign(std::begin(kEveryCamMethod), std::end(kEveryCamMethod));
    else if (a.has("--methods"))
        for (const std::string& m : split_list(methods, "--methods")) {
            try { req.methods.push_back(parse_cam_method(m)); } catch (const Error& e) { throw UsageError(e.what()); }
        }
    try { req.cam.entropy.estimator = parse_entropy_estimator(a.get("--entropy", "spatial")); }
    catch (const Error& e) { throw UsageError(e.what()); }
    req.cam.entropy.bins = a.get_int("--bins", kDefaultHistogramBins, 1, 1 << 20);
    if (a.has("--layer")) {  // A,B: multi-layer fusion
        const std::vector<std::string> layers = split_list(a.get("--layer"), "--layer");
        req.layer = layers.front();
        req.more_layers.assign(layers.begin() + 1, layers.end());
    }
    return req;
}

// Writes the overlay PNGs (and with --raw the .npy files) of one explained class; returns their paths per method.
std::vector<std::vector<std::string>> write_maps(const ClassExplanation& c, const ImageU8& display,
                                                 const std::string& base, bool raw) {
    std::vector<std::vector<std::string>> files;
    for (const ExplainedMap& m : c.maps) {
        const std::string name = base + "_" + cam_method_name(m.method);
        std::vector<std::string> written = {name + ".png"};
        write_png(written.back(), overlay_heatmap(display, m.upsampled));
        if (raw) {
            written.push_back(name + "_raw.npy");
            write_npy(written.back(), m.cam.raw.values.data(), {m.cam.raw.h, m.cam.raw.w});
            if (!m.cam.weights.empty()) {
                written.push_back(name + "_weights.npy");
                write_npy(written.back(), m.cam.weights.data(), {int64_t(m.cam.weights.size())});
            }
        }
        files.push_back(std::move(written));
    }
    return files;
}

std::string warnings_json(const std::vector<ExplainWarning>& warnings) {
    std::vector<std::string> items;
    for (const ExplainWarning& w : warnings) items.push_back(json_string(w.message));
    return json_array(items);
}

// The --json document. Probabilities are printed at float precision, as they always were.
std::string explain_json(const Model& model, const ExplainPlan& plan, const std::vector<Row>& rows,
                         const std::string& grid_path, const std::vector<ExplainWarning>& warnings) {
    std::vector<std::string> items;
    for (const Row& r : rows) {
        std::vector<std::string> methods_json;
        for (size_t m = 0; m < r.c.maps.size(); ++m) {
            std::vector<std::string> files_json;
            for (const std::string& f : r.files[m]) files_json.push_back(json_string(f));
            methods_json.push_back(JsonObject()
                                       .add("method", json_string(cam_method_name(r.c.maps[m].method)))
                                       .add("class", json_number(r.c.cls))
                                       .add("layer", json_string(plan.layer))
                                       .add("files", json_array(files_json))
                                       .add("warnings", warnings_json(r.c.maps[m].warnings))
                                       .str());
        }
        items.push_back(JsonObject()
                            .add("file", json_string(r.file))
                            .add("class", json_number(r.c.cls))
                            .add("label", json_string(label_of(model, r.c.cls)))
                            .add("prob", json_number(float(r.c.prob)))
                            .add("logit", json_number(r.c.logit))
                            .add("layer", json_string(plan.layer))
                            .add("methods", json_array(methods_json))
                            .str());
    }
    return JsonObject()
        .add("model", json_string(model.name))
        .add("layer", json_string(plan.layer))
        .add("explanations", json_array(items))
        .add("grid", json_string(grid_path))
        .add("warnings", warnings_json(warnings))
        .str();
}

std::string write_grid(const Model& model, const ExplainPlan& plan, const std::vector<Row>& rows, const std::string& out_dir) {
    std::vector<std::string> titles = {"Input"};
    for (CamMethod m : plan.options.methods) titles.push_back(cam_method_title(m));
    std::vector<GridRow> grid;
    for (const Row& r : rows) {
        GridRow gr{*r.display, {}, grid_row_label(label_of(model, r.c.cls), float(r.c.prob))};
        for (const ExplainedMap& m : r.c.maps) gr.maps.push_back(m.normalized);
        grid.push_back(std::move(gr));
    }
    const std::string grid_path = out_dir + "/grid.png";
    write_png(grid_path, render_grid(grid, titles));
    return grid_path;
}

}  // namespace

int cmd_explain(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--model", "--layer", "--methods", "--class", "--top", "--entropy", "--bins", "--out"},
                        {"--raw", "--json", "--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (a.positional.empty()) throw UsageError("no INPUT given");
    ExplainRequest request = parse_request(a);
    const std::string out_dir = a.get("--out", "out/explain");

    const Model model = open_model(a.get("--model", kDefaultModel));
    const Network net = network_of(model);
    ExplainPlan plan = plan_explain(net, request);  // the layer is checked first, then the class
    if (a.has("--class")) {
        request.classes.index = a.get_int("--class", -1, 0, 1 << 30);
        check_class_index(request.classes.index, plan.outputs, "--class");
        plan = plan_explain(net, request);
    }

    const std::vector<std::string> inputs = expand_inputs(a.positional);
    std::vector<LoadedInput> loaded;
    for (const std::string& path : inputs) loaded.push_back(load_input(path, model.preprocessing));
    ensure_writable_dir(out_dir);

    std::vector<ExplainWarning> warnings;
    auto warn = [&](const ExplainWarning& w) {
        for (const ExplainWarning& seen : warnings) if (seen.kind == w.kind) return;
        warnings.push_back(w);
        std::fprintf(stderr, "entropycam explain: warning: %s\n", w.message.c_str());
    };
    for (const ExplainWarning& w : plan.warnings) warn(w);

    Session session;
    std::vector<Row> rows;
    const bool per_class_names = request.classes.index < 0 && request.classes.top > 1;
    for (size_t i = 0; i < loaded.size(); ++i) {
        std::fprintf(stderr, "[%zu/%zu] %s\n", i + 1, loaded.size(), inputs[i].c_str());
        const ImageU8& display = loaded[i].display;
        InputExplanation ex = explain_input(net, session, plan, loaded[i].input, {display.height, display.width});
        for (const ExplainWarning& w : ex.warnings) warn(w);
        for (ClassExplanation& c : ex.classes) {
            const std::string base = out_dir + "/" + file_stem(inputs[i]) + (per_class_names ? "_c" + std::to_string(c.cls) : "");
            Row row{inputs[i], &display, std::move(c), {}};
            row.files = write_maps(row.c, display, base, a.has("--raw"));
            rows.push_back(std::move(row));
        }
    }

    const std::string grid_path = write_grid(model, plan, rows, out_dir);
    if (a.has("--json")) {
        std::printf("%s\n", explain_json(model, plan, rows, grid_path, warnings).c_str());
    } else {
        for (const Row& r : rows)
            std::printf("%s: %s (%.1f %%) at %s -> %s_*\n", r.file.c_str(), label_of(model, r.c.cls).c_str(),
                        100.0 * float(r.c.prob), plan.layer.c_str(), r.files[0][0].substr(0, r.files[0][0].rfind('_')).c_str());
        std::printf("grid: %s\n", grid_path.c_str());
    }
    return kExitOk;
}

}  // namespace ec::cli
