// `entropycam sanity`: the sanity checks of Adebayo et al. 2018 for the CAM methods (cam/eval/sanity.h) on
// every input: cascading and independent randomisation of the model's parameter blocks, and class
// sensitivity. CSV rows (one write per input), a Markdown summary or JSON on stdout, and with --out the
// Figure-2-like grid per input and the similarity-against-depth plots.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "api/network.h"
#include "cam/eval/sanity.h"
#include "cam/postprocess.h"
#include "cam/render/render.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/paths.h"
#include "cli/sanity_table.h"
#include "cli/shard_progress.h"
#include "io/image.h"
#include "io/png_write.h"
#include "weights/model.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam sanity [--model M] [--layer L] [--methods all|LIST] [--seed S] [--csv FILE] [--json]\n"
    "         [--out DIR] [--shard I/N|auto] INPUT|DIR...\n"
    "Sanity checks of the CAM methods (Adebayo et al. 2018): does a map change when the model is randomised,\n"
    "or when another class is explained? Per input and method, the original model's map for its top-1 class\n"
    "is compared with\n"
    "  cascading     the map after re-initialising the parameter blocks from the logits down, one more per step\n"
    "  independent   the map with one block re-initialised, the rest intact\n"
    "  class_bottom  the map for a class drawn from the bottom half of the logit ranking\n"
    "  class_top2    the map for the top-2 class\n"
    "by Spearman rank correlation of |map| and of the signed map (upsampled raw maps), SSIM and the Pearson\n"
    "correlation of HOG descriptors (displayed maps: ReLU, min-max to [0, 1], upsampled to the input).\n"
    "Blocks: parameters grouped by the name segment after the scope every parameter shares (MobileNetV2:\n"
    "Logits, Conv_1, expanded_conv_16 ... Conv). Re-initialisation: a Gaussian with each tensor's own mean and\n"
    "standard deviation, seeded; the loaded model is never modified.\n"
    "  --model M     model name (build/weights/M.ecw) or file; default mobilenet_v2_1.0_224_quant\n"
    "  --layer L     CAM target tensor; default: the model's default layer\n"
    "  --methods     all (every method of `entropycam explain --help`) or a comma list of them; default: the\n"
    "                poster's five (gradcam, hirescam, respondcam, gradentropycam, featentropycam)\n"
    "  --seed S      seed of the re-initialisation and of the bottom-half class (default 0)\n"
    "  --csv FILE    one row per (input, method, test, step); written whole per input\n"
    "  --json        print rows and summary as one JSON document instead of the Markdown summary\n"
    "  --out DIR     STEM_cascading.png per input (rows: methods; columns: input, original, each cascading\n"
    "                step) and cascading_<measure>.png, independent_spearman_abs.png (mean against depth)\n"
    "  --shard I/N   every N-th input from the I-th (0-based); `entropycam summarize` merges the CSVs\n"
    "  --shard auto  I and N from a Slurm job array or a Kubernetes Indexed Job (as `entropycam evaluate`)\n";

uint64_t parse_seed(const std::string& s) {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError("--seed takes a whole number from 0 to 9999999999999999999, got '" + s + "'");
    return std::stoull(s);
}

std::vector<CamMethod> parse_methods(const std::string& text) {
    if (text == "all") return {std::begin(kEveryCamMethod), std::end(kEveryCamMethod)};
    std::vector<CamMethod> out;
    for (const std::string& name : split_list(text, "--methods")) {
        CamMethod m;
        try { m = parse_cam_method(name); } catch (const Error& e) { throw UsageError(e.what()); }
        for (CamMethod seen : out)
            if (seen == m) throw UsageError("--methods lists '" + name + "' twice");
        out.push_back(m);
    }
    return out;
}

void write_all(int fd, const std::string& text, const std::string& path) {
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
        done += size_t(n);
    }
}

// The seed of input i's bottom-half class: the run's seed mixed with the input's position in the full list,
// so a sharded run draws the same classes as an unsharded one.
uint64_t class_seed(uint64_t seed, size_t index) { return seed ^ (uint64_t(index + 1) * 0xD1B54A32D192ED03ull); }

ImageU8 cascade_figure(const SanityResult& r, const SanityModels& models, const LoadedInput& in, const Model& model) {
    std::vector<std::string> titles = {"Input", "Original"};
    for (const ParamBlock& b : models.blocks) titles.push_back(b.name);
    std::vector<GridRow> rows;
    for (size_t m = 0; m < r.methods.size(); ++m) {
        GridRow row{in.display, r.cascade_maps[m], std::string(cam_method_title(r.methods[m]))};
        if (m == 0) row.label += ": " + grid_row_label(label_of(model, r.cls), r.prob) + ", randomised from the logits down";
        rows.push_back(std::move(row));
    }
    GridStyle style;
    style.cell = 112;
    style.text_scale = 1;
    return render_grid(rows, titles, style);
}

}  // namespace

int cmd_sanity(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--model", "--layer", "--methods", "--seed", "--csv", "--out", "--shard"}, {"--json", "--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (a.positional.empty()) throw UsageError("no INPUT given");
    const std::vector<CamMethod> methods = a.has("--methods") ? parse_methods(a.get("--methods"))
                                                               : std::vector<CamMethod>(std::begin(kAllCamMethods), std::end(kAllCamMethods));
    const std::string seed_text = a.get("--seed", "0");
    const uint64_t seed = parse_seed(seed_text);
    const Shard shard = a.has("--shard") ? shard_option(a.get("--shard")) : Shard{};
    const std::string csv_path = a.get("--csv"), out_dir = a.get("--out");

    // ---- Check everything before the long run starts. ----
    const Model model = open_model(a.get("--model", kDefaultModel));
    const Graph& g = model.graph;
    SanityOptions opt;
    opt.explain.target = a.has("--layer") ? g.tensor(a.get("--layer")) : default_cam_target(g, model.logits);
    check_cam_target(g, opt.explain.target);
    opt.explain.methods = methods;
    opt.out_h = model.preprocessing.height;
    opt.out_w = model.preprocessing.width;
    opt.keep_cascade_maps = !out_dir.empty();
    const std::string layer = g.tensors[size_t(opt.explain.target)].name;
    const std::vector<std::string> inputs = expand_inputs(a.positional);
    if (inputs.empty()) throw Error("no input images found in " + a.positional[0]);
    const std::vector<size_t> todo = shard_positions(shard, inputs.size());
    for (size_t i : todo)  // a missing file fails now, not after the randomised models are made
        if (::access(inputs[i].c_str(), R_OK) != 0) throw Error(inputs[i] + ": cannot read (" + std::strerror(errno) + ")");
    if (!out_dir.empty()) ensure_writable_dir(out_dir);
    int fd = -1;
    if (!csv_path.empty()) {
        fd = ::open(csv_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) throw Error(csv_path + ": cannot open for writing (" + std::strerror(errno) + ")");
        std::string header;
        for (const std::string& h : sanity_csv_header()) header += (header.empty() ? "" : ",") + h;
        write_all(fd, header + "\n", csv_path);
    }

    const SanityModels models = make_sanity_models(g, seed);
    std::string block_list;
    for (const ParamBlock& b : models.blocks) block_list += (block_list.empty() ? "" : ", ") + b.name;
    std::fprintf(stderr, "entropycam sanity: %zu of %zu inputs%s, layer %s, %zu methods, %zu blocks from the logits down: %s\n",
                 todo.size(), inputs.size(), shard.count > 1 ? (" (shard " + a.get("--shard") + ")").c_str() : "",
                 layer.c_str(), methods.size(), models.blocks.size(), block_list.c_str());

    Session session;
    std::vector<SanityRow> rows;
    ProgressLine progress{"sanity"};
    for (size_t t = 0; t < todo.size(); ++t) {
        const size_t i = todo[t];
        const LoadedInput in = load_input(inputs[i], model.preprocessing);
        const SanityResult r = run_sanity_checks(g, models, session, model.logits, in.input, class_seed(seed, i), opt);
        std::string lines;
        for (const SanityComparison& c : r.comparisons) {
            SanityRow row{inputs[i], long(i), model.name, layer, seed_text, cam_method_name(c.method),
                          sanity_test_name(c.test), c.step, c.depth, c.cls, {}};
            row.measure[kSpearmanAbs] = c.similarity.spearman_abs;
            row.measure[kSpearman] = c.similarity.spearman;
            row.measure[kSsim] = c.similarity.ssim;
            row.measure[kHog] = c.similarity.hog;
            round_sanity_row(row);
            lines += sanity_csv_line(row);
            rows.push_back(row);
        }
        if (fd >= 0) write_all(fd, lines, csv_path);  // every row of this input in one write
        if (!out_dir.empty())
            write_png(out_dir + "/" + file_stem(inputs[i]) + "_cascading.png", cascade_figure(r, models, in, model));
        progress.update(t + 1, todo.size(), file_stem(inputs[i]));
    }
    progress.finish();
    if (fd >= 0 && ::close(fd) != 0) throw Error(csv_path + ": cannot close (" + std::strerror(errno) + ")");

    sort_sanity_rows(rows);
    if (!out_dir.empty()) write_sanity_plots(rows, out_dir);
    std::fputs(a.has("--json") ? sanity_json(rows).c_str() : sanity_markdown(rows).c_str(), stdout);
    return kExitOk;
}

}  // namespace ec::cli
