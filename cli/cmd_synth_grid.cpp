// `entropycam synth-grid`: the grid figure of `explain` on images of a synth folder, explaining each image's
// true class, with the object's mask (where the evidence really is) outlined over the input and every map.
#include <cstdio>
#include <cstdlib>

#include "api/network.h"
#include "cam/eval/metrics.h"
#include "cam/pipeline.h"
#include "cam/render/outline.h"
#include "cam/render/render.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "io/image.h"
#include "io/png_write.h"
#include "io/text_io.h"
#include "weights/model.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam synth-grid --model M --data DIR --out FILE.png [--rows N] [--first I] [--split S]\n"
    "         [--layer NAME] [--methods all|LIST] [--cell PX]\n"
    "Explains images of a folder written by `entropycam synth` with CAM methods (default: the poster's five), for\n"
    "each image's true class (labels.csv), and draws the grid figure of `explain` with the object's mask outlined\n"
    "in white over the input and every map.\n"
    "  --rows N     images (rows), default 6         --first I   skip the split's first I images, default 0\n"
    "  --split S    test (default) or train          --layer     CAM target, default: the model's default layer\n"
    "  --methods    all (every method of `entropycam explain --help`) or a comma list, default the five\n"
    "  --cell PX    panel side in pixels, default 128\n";

struct Item {
    std::string image, mask;
    int cls = 0;
};

std::vector<Item> read_items(const std::string& dir, const std::string& split, int first, int rows) {
    const CsvTable t = read_csv(dir + "/labels.csv");
    const size_t file = t.column("file"), s = t.column("split"), index = t.column("class_index");
    std::vector<Item> items;
    int seen = 0;
    for (const auto& row : t.rows) {
        if (row[s] != split || seen++ < first) continue;
        if (int(items.size()) == rows) break;
        items.push_back({dir + "/" + split + "/images/" + row[file], dir + "/" + split + "/masks/" + row[file],
                         std::atoi(row[index].c_str())});
    }
    if (int(items.size()) < rows)
        throw Error(dir + "/labels.csv: " + std::to_string(items.size()) + " images of split '" + split + "' after the first " +
                    std::to_string(first) + ", " + std::to_string(rows) + " wanted");
    return items;
}

}  // namespace

int cmd_synth_grid(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--model", "--data", "--out", "--rows", "--first", "--split", "--layer", "--methods", "--cell"},
                        {"--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (!a.positional.empty()) throw UsageError("unexpected argument '" + a.positional[0] + "'");
    for (const char* f : {"--model", "--data", "--out"})
        if (!a.has(f)) throw UsageError(std::string(f) + " is required");
    const int rows = a.get_int("--rows", 6, 1, 100), first = a.get_int("--first", 0, 0, 1 << 30);
    const int cell = a.get_int("--cell", 128, 32, 1024);
    const std::string split = a.get("--split", "test");
    if (split != "test" && split != "train") throw UsageError("--split takes test or train, got '" + split + "'");

    const Model model = open_model(a.get("--model"));
    const Network net = network_of(model);
    ExplainRequest request;  // through the pipeline, which gives Score-CAM its class scores
    request.layer = a.get("--layer");
    if (a.get("--methods") == "all") request.methods.assign(std::begin(kEveryCamMethod), std::end(kEveryCamMethod));
    else if (a.has("--methods"))
        for (const std::string& m : split_list(a.get("--methods"), "--methods")) {
            try { request.methods.push_back(parse_cam_method(m)); } catch (const Error& e) { throw UsageError(e.what()); }
        }
    ExplainPlan plan = plan_explain(net, request);  // no methods asked: the five, in kAllCamMethods order
    const int classes = plan.outputs;
    const std::vector<Item> items = read_items(a.get("--data"), split, first, rows);

    std::vector<GridRow> grid;
    std::vector<Mask> masks;
    Session session;
    for (const Item& it : items) {
        if (it.cls < 0 || it.cls >= classes)
            throw Error(it.image + ": class " + std::to_string(it.cls) + " is not one of the model's " + std::to_string(classes));
        const LoadedInput in = load_input(it.image, model.preprocessing);
        plan.classes.index = it.cls;
        const ClassExplanation ex = explain_input(net, session, plan, in.input).classes[0];
        GridRow row{in.display, {}, grid_row_label(label_of(model, it.cls), ex.prob)};
        for (const ExplainedMap& m : ex.maps) row.maps.push_back(m.normalized);  // ReLU, min-max: as before
        grid.push_back(std::move(row));
        const ImageU8 m = decode_image(it.mask);
        Mask mask{m.height, m.width, std::vector<uint8_t>(size_t(m.width) * size_t(m.height))};
        for (size_t p = 0; p < mask.inside.size(); ++p) mask.inside[p] = m.rgb[3 * p] | m.rgb[3 * p + 1] | m.rgb[3 * p + 2];
        masks.push_back(std::move(mask));
    }
    std::vector<std::string> titles = {"Input"};
    for (CamMethod m : plan.options.methods) titles.push_back(cam_method_title(m));
    GridStyle style;
    style.cell = cell;
    style.text_scale = cell >= 200 ? 2 : 1;
    ImageU8 figure = render_grid(grid, titles, style);
    const int header = grid_header_height(style), band = grid_label_height(style);
    for (size_t r = 0; r < masks.size(); ++r)
        for (size_t c = 0; c < titles.size(); ++c)
            draw_mask_outline(figure, int(c) * cell, header + int(r) * (band + cell) + band, cell, cell, masks[r].inside,
                              masks[r].w, masks[r].h, Rgb8{255, 255, 255});
    write_png(a.get("--out"), figure);
    std::printf("%s: %d images x %zu methods at layer %s, mask outlines in white\n", a.get("--out").c_str(), rows,
                titles.size() - 1, plan.layer.c_str());
    return kExitOk;
}

}  // namespace ec::cli
