// `entropycam explain`: CAM overlays per input and method, optional raw maps and weights, and the poster's
// grid figure. Everything is checked (model, layer, class, inputs, output folder) before anything is written.
#include <cstdio>

#include "cam/explain.h"
#include "io/png_write.h"
#include "cam/postprocess.h"
#include "cam/render/render.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/json.h"
#include "cli/paths.h"
#include "io/npy.h"
#include "weights/model.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam explain [--model M] [--layer NAME] [--methods all|LIST] [--class K | --top N]\n"
    "                          [--entropy spatial|hist] [--bins B] [--out DIR] [--raw] [--json] INPUT...\n"
    "Writes DIR/<input>_<method>.png overlays (with --top N: <input>_c<class>_<method>.png), DIR/grid.png\n"
    "(rows: inputs; columns: input, then the methods), and with --raw the raw maps and channel weights as .npy.\n"
    "  --model M     model name (build/weights/M.ecw) or file; default mobilenet_v2_1.0_224_quant\n"
    "  --layer NAME  target tensor (see `entropycam layers`); default: the model's default layer\n"
    "  --methods     all (default) or a comma list of gradcam,hirescam,respondcam,gradentropycam,featentropycam\n"
    "  --class K     explain output index K;  --top N  explain the N best classes (default: the top-1 class)\n"
    "  --entropy     entropy estimator of the entropy CAMs: spatial (default) or hist, with --bins B (256)\n"
    "  --out DIR     output folder (created if missing); default out/explain\n";

struct Row {  // one explained (input, class)
    std::string file;
    ImageU8 display;
    ImageExplanation e;
    std::vector<std::vector<std::string>> files;  // per method: the overlay PNG, then with --raw the .npy files
};

const char* kClassFreeWarning = "Feature Entropy-CAM does not depend on the class: it is the same map for every class";

std::string degenerate_warning(const std::string& layer) {
    return "at layer '" + layer + "' the gradient is constant over space (global pooling follows): Grad-CAM, "
           "HiResCAM and Respond-CAM coincide and Grad Entropy-CAM degenerates; choose an earlier --layer";
}

}  // namespace

int cmd_explain(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--model", "--layer", "--methods", "--class", "--top", "--entropy", "--bins", "--out"},
                        {"--raw", "--json", "--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (a.positional.empty()) throw UsageError("no INPUT given");
    if (a.has("--class") && a.has("--top")) throw UsageError("--class and --top exclude each other");
    const int top = a.get_int("--top", 1, 1, 100);
    ExplainOptions opt;
    std::string methods = a.get("--methods", "all");
    if (methods != "all")
        for (const std::string& m : split_list(methods, "--methods")) {
            try { opt.methods.push_back(parse_cam_method(m)); } catch (const Error& e) { throw UsageError(e.what()); }
        }
    if (opt.methods.empty()) opt.methods.assign(std::begin(kAllCamMethods), std::end(kAllCamMethods));
    try { opt.cam.entropy.estimator = parse_entropy_estimator(a.get("--entropy", "spatial")); }
    catch (const Error& e) { throw UsageError(e.what()); }
    opt.cam.entropy.bins = a.get_int("--bins", kDefaultHistogramBins, 1, 1 << 20);
    const std::string out_dir = a.get("--out", "out/explain");

    Model model = load_model(resolve_model(a.get("--model", "mobilenet_v2_1.0_224_quant")));
    const Graph& g = model.graph;
    opt.target = a.has("--layer") ? g.tensor(a.get("--layer")) : default_cam_target(g, model.logits);
    check_cam_target(g, opt.target);
    const std::string layer = g.tensors[opt.target].name;
    const int classes = g.tensors[model.logits].shape[1];
    const int fixed_class = a.has("--class") ? a.get_int("--class", -1, 0, 1 << 30) : -1;
    if (fixed_class >= classes)
        throw Error("--class " + std::to_string(fixed_class) + " is out of range: the model has classes 0.." + std::to_string(classes - 1));

    std::vector<std::string> inputs = expand_inputs(a.positional);
    std::vector<LoadedInput> loaded;
    for (const std::string& path : inputs) loaded.push_back(load_input(path, model.preprocessing));
    ensure_writable_dir(out_dir);

    std::vector<std::string> warnings;
    auto warn = [&](const std::string& w) {
        for (const std::string& seen : warnings) if (seen == w) return;
        warnings.push_back(w);
        std::fprintf(stderr, "entropycam explain: warning: %s\n", w.c_str());
    };
    for (CamMethod m : opt.methods)
        if (m == CamMethod::FeatEntropyCam)
            warn(kClassFreeWarning);

    Session session;
    std::vector<Row> rows;
    const int per_input = fixed_class >= 0 ? 1 : top;
    for (size_t i = 0; i < loaded.size(); ++i) {
        std::fprintf(stderr, "[%zu/%zu] %s\n", i + 1, loaded.size(), inputs[i].c_str());
        // The classes of one input go through the network as one batch: one forward, one backward.
        Tensor batch(loaded[i].input.shape.with_batch(per_input));
        for (int r = 0; r < per_input; ++r)
            std::copy(loaded[i].input.data.begin(), loaded[i].input.data.end(), batch.data.begin() + r * loaded[i].input.numel());
        std::vector<int> cls(size_t(per_input), fixed_class);
        if (fixed_class < 0 && per_input > 1) {  // top-1 alone is found by explain's own forward pass
            forward_until(g, session, {&loaded[i].input}, model.logits);
            cls = top_k(session.values[model.logits], 0, per_input);
        }
        std::vector<ImageExplanation> ex = explain(g, session, model.logits, batch, cls, opt);
        for (ImageExplanation& e : ex) {
            if (e.gradient_constant)
                warn(degenerate_warning(layer));
            Row row{inputs[i], loaded[i].display, std::move(e), {}};
            std::string base = out_dir + "/" + file_stem(inputs[i]) + (per_input > 1 ? "_c" + std::to_string(row.e.cls) : "");
            for (size_t m = 0; m < row.e.methods.size(); ++m) {
                const CamResult& r = row.e.results[m];
                std::string name = base + "_" + cam_method_name(row.e.methods[m]);
                Heatmap up = postprocess_cam(r.raw, row.display.height, row.display.width);
                std::vector<std::string> files = {name + ".png"};
                write_png(files.back(), overlay_heatmap(row.display, up));
                if (a.has("--raw")) {
                    files.push_back(name + "_raw.npy");
                    write_npy(files.back(), r.raw.values.data(), {r.raw.h, r.raw.w});
                    if (!r.weights.empty()) {
                        files.push_back(name + "_weights.npy");
                        write_npy(files.back(), r.weights.data(), {int64_t(r.weights.size())});
                    }
                }
                row.files.push_back(std::move(files));
            }
            rows.push_back(std::move(row));
        }
    }

    std::vector<std::string> titles = {"Input"};
    for (CamMethod m : opt.methods) titles.push_back(cam_method_title(m));
    std::vector<GridRow> grid;
    for (const Row& r : rows) {
        GridRow gr{r.display, {}, grid_row_label(label_of(model, r.e.cls), r.e.prob)};
        for (const CamResult& res : r.e.results) gr.maps.push_back(minmax_normalize(relu_map(res.raw)));
        grid.push_back(std::move(gr));
    }
    const std::string grid_path = out_dir + "/grid.png";
    write_png(grid_path, render_grid(grid, titles));

    if (a.has("--json")) {
        std::vector<std::string> items;
        for (const Row& r : rows) {
            std::vector<std::string> methods_json;
            for (size_t m = 0; m < r.e.methods.size(); ++m) {
                std::vector<std::string> files_json, method_warnings;
                for (const std::string& f : r.files[m]) files_json.push_back(json_string(f));
                if (r.e.methods[m] == CamMethod::FeatEntropyCam) method_warnings.push_back(json_string(kClassFreeWarning));
                if (r.e.gradient_constant && r.e.methods[m] != CamMethod::FeatEntropyCam)
                    method_warnings.push_back(json_string(degenerate_warning(layer)));
                methods_json.push_back(JsonObject()
                                           .add("method", json_string(cam_method_name(r.e.methods[m])))
                                           .add("class", json_number(r.e.cls))
                                           .add("layer", json_string(layer))
                                           .add("files", json_array(files_json))
                                           .add("warnings", json_array(method_warnings))
                                           .str());
            }
            items.push_back(JsonObject()
                                .add("file", json_string(r.file))
                                .add("class", json_number(r.e.cls))
                                .add("label", json_string(label_of(model, r.e.cls)))
                                .add("prob", json_number(r.e.prob))
                                .add("logit", json_number(r.e.logit))
                                .add("layer", json_string(layer))
                                .add("methods", json_array(methods_json))
                                .str());
        }
        std::vector<std::string> warnings_json;
        for (const std::string& w : warnings) warnings_json.push_back(json_string(w));
        std::printf("%s\n", JsonObject()
                                .add("model", json_string(model.name))
                                .add("layer", json_string(layer))
                                .add("explanations", json_array(items))
                                .add("grid", json_string(grid_path))
                                .add("warnings", json_array(warnings_json))
                                .str()
                                .c_str());
    } else {
        for (const Row& r : rows)
            std::printf("%s: %s (%.1f %%) at %s -> %s_*\n", r.file.c_str(), label_of(model, r.e.cls).c_str(),
                        100.0 * r.e.prob, layer.c_str(), r.files[0][0].substr(0, r.files[0][0].rfind('_')).c_str());
        std::printf("grid: %s\n", grid_path.c_str());
    }
    return kExitOk;
}

}  // namespace ec::cli
