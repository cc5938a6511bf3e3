// `entropycam evaluate`: faithfulness and localisation metrics (method.md) of every CAM method and the two
// baselines, per input, as CSV rows (written whole, one write() per input, so an interrupted run can
// --resume), then a Markdown table of means with 95 % confidence intervals (or --json).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "api/network.h"
#include "cam/eval/eval_inputs.h"
#include "cam/eval/eval_table.h"
#include "cam/eval/evaluate.h"
#include "cam/eval/metrics_baselines.h"
#include "cam/eval/shard.h"
#include "cam/pipeline.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/paths.h"
#include "cli/shard_progress.h"
#include "io/image.h"
#include "nn/file_util.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam evaluate [--model M] [--layer NAME] [--methods all|LIST] [--metrics LIST] [--steps N]\n"
    "         [--class-from top1|labels.csv] [--masks DIR] [--csv FILE] [--json] [--shard I/N|auto] [--resume] INPUT|DIR...\n"
    "Scores each CAM method (map: raw -> ReLU -> min-max -> bilinear upsampling to the input size) and the\n"
    "baselines by the softmax probability of the explained class, and prints a Markdown table: one row per\n"
    "method, mean ± 95 % confidence interval over images (1.96 * sd / sqrt(n)) per metric, and the image count.\n"
    "  --model M       model name (build/weights/M.ecw) or file; default mobilenet_v2_1.0_224_quant\n"
    "  --layer NAME    CAM target tensor (see `entropycam layers`); default: the model's default layer\n"
    "  --methods       all (every CAM method of `entropycam explain --help`, then center, random) or a comma\n"
    "                  list of center, random and those methods; default: the poster's five CAMs, center, random\n"
    "  --metrics       comma list of deletion, insertion, drop (Average Drop %), increase (Increase in\n"
    "                  Confidence %), pointing (needs --masks: the energy pointing game, the share of the map's\n"
    "                  energy inside the mask, and pointing_hit, 1 when the map's maximum is inside the mask,\n"
    "                  else 0, ties to the first pixel in row-major order; pointing_hit alone: only the latter),\n"
    "                  road (ROAD, Rong et al. 2022: road_morf and road_lerf, the means of its curves over\n"
    "                  10..90 % removed; slow: 18 sparse solves per map, 0.2-1 s each at 224 x 224);\n"
    "                  default: all but road\n"
    "  --steps N       Deletion/Insertion steps, ceil(H*W/N) pixels each (default 50; RISE: 224)\n"
    "  --class-from    top1 (default: the top-1 class on the clean image) or a CSV with columns file and\n"
    "                  imagenet_index (e.g. imagenet-dev/labels.csv; +1 for 1001-output models) or file and\n"
    "                  class_index (the model's output index, e.g. the labels.csv of `entropycam synth`);\n"
    "                  an input is matched by its file name, without the folder (in `file` too)\n"
    "  --masks DIR     object masks (non-zero = object) for the pointing game. The mask of input STEM.ext is\n"
    "                  the first image in DIR named STEM.*, else STEM_mask.*, else (when STEM is P_<digits>)\n"
    "                  P_mask_<digits>.*; it is resized to the input (nearest neighbour). Inputs that are the\n"
    "                  mask of another input are not evaluated.\n"
    "  --csv FILE      one row per (input, method) with every metric; appended and flushed per input\n"
    "  --resume        keep FILE's rows and skip what it already holds (a partial last line is dropped)\n"
    "  --shard I/N     evaluate every N-th input from the I-th (0-based); `entropycam summarize` merges CSVs\n"
    "  --shard auto    I and N from a Slurm job array (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of\n"
    "                  SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX of ENTROPYCAM_SHARDS)\n"
    "  --json          print rows and summary as one JSON document instead of the table\n"
    "Directories are expanded to their image files (.jpg .jpeg .png .bmp .gif .tga), sorted. The random\n"
    "baseline is seeded with the input's 0-based position in the full, unsharded input list.\n";

std::vector<std::string> parse_methods(const std::string& text) {
    if (text == "all") return every_method_order();
    std::vector<std::string> out;
    for (const std::string& m : split_list(text, "--methods")) {
        if (m != "center" && m != "random") {
            try { parse_cam_method(m); } catch (const Error& e) {
                throw UsageError(std::string(e.what()) + "; or the baselines center, random");
            }
        }
        if (std::find(out.begin(), out.end(), m) != out.end()) throw UsageError("--methods lists '" + m + "' twice");
        out.push_back(m);
    }
    return out;
}

void write_all(int fd, const std::string& text, const std::string& path) {
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
        done += size_t(n);
    }
}

std::string csv_header_line(bool road) {
    std::string header;
    for (const std::string& h : eval_csv_header(road)) header += (header.empty() ? "" : ",") + h;
    return header + "\n";
}

// Opens the CSV for appending. With resume, reads the rows already there (after dropping a partial last line,
// the trace of a killed run; Error when its columns are not this run's: with or without ROAD, or an older
// version's without pointing_hit); otherwise truncates. Writes the header into an empty file.
int open_csv(const std::string& path, bool resume, bool road, std::vector<EvalRow>& existing) {
    struct stat st;
    if (resume && ::stat(path.c_str(), &st) == 0) {
        std::vector<uint8_t> bytes = read_file_bytes(path, kMaxTextFileBytes);
        size_t keep = bytes.size();
        while (keep > 0 && bytes[keep - 1] != '\n') --keep;
        if (keep != bytes.size()) {
            std::fprintf(stderr, "entropycam evaluate: %s: dropping a partial last line (%zu bytes) of an interrupted run\n",
                         path.c_str(), bytes.size() - keep);
            if (::truncate(path.c_str(), off_t(keep)) != 0)
                throw Error(path + ": cannot truncate the partial last line (" + std::strerror(errno) + ")");
        }
        if (keep > 0) existing = eval_rows_from_csv(parse_csv(std::string(bytes.begin(), bytes.begin() + long(keep)), path), path);
        const std::string header = csv_header_line(road);  // a valid evaluate CSV: with or without ROAD?
        if (keep > 0 && std::string(bytes.begin(), bytes.begin() + long(std::min(keep, header.size()))) != header)
            throw Error(path + ": its columns are not this run's (" + (road ? "without" : "with") +
                        " road_morf,road_lerf, or an older version's without pointing_hit); use another --csv or the "
                        "same --metrics");
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | (resume ? 0 : O_TRUNC), 0644);
    if (fd < 0) throw Error(path + ": cannot open for writing (" + std::strerror(errno) + ")");
    if (::fstat(fd, &st) == 0 && st.st_size == 0) {
        write_all(fd, csv_header_line(road), path);
    }
    return fd;
}

// What every input of one evaluate run shares.
struct EvalRun {
    const Model& model;
    const Network& net;
    const ExplainPlan& plan;  // the layer and every CAM of --methods
    EvaluateOptions options;
    bool want[kEvalMetricCount];
    int steps;
    std::string class_from;
    bool warned_constant;     // the gradient-constant warning is printed once per run
};

// The rows of one input (its position `index` in the full list) for the methods still `pending`: its class and
// CAMs from the pipeline (one forward, one backward), the baselines, then the metrics.
std::vector<EvalRow> evaluate_input(EvalRun& run, Session& session, const std::string& path, size_t index,
                                    const std::string& mask_path, int requested_class,
                                    const std::vector<std::string>& pending) {
    const Model& model = run.model;
    const int height = model.preprocessing.height, width = model.preprocessing.width;
    const LoadedInput in = load_input(path, model.preprocessing);
    ExplainPlan plan = run.plan;  // this input's class, and the CAMs a --resume has not done yet
    plan.classes.index = requested_class;
    plan.options.methods.clear();
    for (const std::string& m : pending)
        if (m != "center" && m != "random") plan.options.methods.push_back(parse_cam_method(m));
    const InputExplanation ex = explain_input(run.net, session, plan, in.input, {height, width});
    const ClassExplanation& explained = ex.classes[0];
    const ClassScore clean{explained.cls, explained.prob};
    if (explained.gradient_constant && !run.warned_constant) {
        run.warned_constant = true;
        std::fprintf(stderr, "entropycam evaluate: warning: at layer '%s' the gradient is constant over space (global "
                     "pooling follows): Grad-CAM, HiResCAM and Respond-CAM coincide and Grad Entropy-CAM "
                     "degenerates\n", plan.layer.c_str());
    }
    std::vector<Heatmap> maps;
    size_t cam = 0;
    for (const std::string& m : pending) {
        if (m == "center") maps.push_back(center_baseline(height, width));
        else if (m == "random") maps.push_back(random_baseline(height, width, uint64_t(index)));
        else maps.push_back(explained.maps[cam++].upsampled);
    }
    Mask mask;
    if (!mask_path.empty() && (run.want[kPointing] || run.want[kPointingHit]))
        mask = resize_mask_nearest(load_mask(mask_path), height, width);
    EvaluateOptions options = run.options;
    options.road_options.seed = uint64_t(index);  // like the random baseline: the same draws for every shard
    const std::vector<MapScores> scores = evaluate_maps(model.graph, session, model.logits, in.input, clean, maps,
                                                        mask.h ? &mask : nullptr, options);
    std::vector<EvalRow> rows;
    for (size_t m = 0; m < pending.size(); ++m) {
        const EvalRow identity{path, long(index), model.name, plan.layer, run.steps, run.class_from, pending[m],
                               clean.cls, label_of(model, clean.cls), clean.prob, 0, {}};
        rows.push_back(scored_eval_row(identity, scores[m], run.want));
    }
    return rows;
}

}  // namespace

int cmd_evaluate(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--model", "--layer", "--methods", "--metrics", "--steps", "--class-from", "--masks",
                               "--csv", "--shard"},
                        {"--json", "--resume", "--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (a.positional.empty()) throw UsageError("no INPUT given");
    const std::vector<std::string> methods = a.has("--methods") ? parse_methods(a.get("--methods")) : default_method_order();
    bool want[kEvalMetricCount] = {};
    if (a.has("--metrics")) {
        for (const std::string& m : split_list(a.get("--metrics"), "--metrics")) {
            if (m == "road") { want[kRoadMorf] = want[kRoadLerf] = true; continue; }
            if (m == "pointing") { want[kPointing] = want[kPointingHit] = true; continue; }
            try { want[parse_eval_metric(m)] = true; } catch (const Error& e) { throw UsageError(e.what()); }
        }
    } else {
        std::fill(std::begin(want), std::end(want), true);
        want[kPointing] = want[kPointingHit] = a.has("--masks");
        want[kRoadMorf] = want[kRoadLerf] = false;  // ROAD is slow: only when --metrics names it
    }
    if ((want[kPointing] || want[kPointingHit]) && !a.has("--masks"))
        throw UsageError("the pointing metric needs --masks DIR");
    const int steps = a.get_int("--steps", kDefaultCurveSteps, 1, 1 << 24);
    const Shard shard = a.has("--shard") ? shard_option(a.get("--shard")) : Shard{};
    const std::string class_from = a.get("--class-from", "top1");
    const std::string csv_path = a.get("--csv");
    const bool road = want[kRoadMorf] || want[kRoadLerf];  // the CSV has the ROAD columns
    if (a.has("--resume") && csv_path.empty()) throw UsageError("--resume needs --csv FILE");

    // ---- Check everything before the long run starts. ----
    const Model model = open_model(a.get("--model", kDefaultModel));
    const Network net = network_of(model);
    ExplainRequest request;
    request.layer = a.get("--layer");
    ExplainPlan plan = plan_explain(net, request);
    plan.options.methods.clear();  // only the CAMs of --methods; none when only baselines are asked
    for (const std::string& m : methods)
        if (m != "center" && m != "random") plan.options.methods.push_back(parse_cam_method(m));
    const std::string& layer = plan.layer;
    const int height = model.preprocessing.height, width = model.preprocessing.width;
    if (int64_t(steps) > int64_t(height) * width)
        throw UsageError("--steps " + std::to_string(steps) + " exceeds the " + std::to_string(height * width) +
                         " pixels of the input");

    std::vector<std::string> inputs = expand_inputs(a.positional);
    std::vector<std::string> masks(inputs.size());
    if (a.has("--masks")) {
        struct stat st;
        const std::string dir = a.get("--masks");
        if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) throw Error(dir + ": --masks must be a folder");
        InputsWithMasks paired = pair_inputs_with_masks(inputs, expand_inputs({dir}));
        inputs.swap(paired.inputs);
        masks.swap(paired.masks);
    }
    if (inputs.empty()) throw Error("no input images found in " + a.positional[0]);
    std::vector<size_t> todo;  // positions in the full list: this shard's
    for (size_t i = 0; i < inputs.size(); ++i)
        if (in_shard(shard, i)) todo.push_back(i);
    std::vector<int> requested_class(inputs.size(), -1);
    if (class_from != "top1") {
        const GroundTruth truth = read_ground_truth(class_from);
        for (size_t i : todo) requested_class[i] = ground_truth_class(truth, inputs[i], plan.outputs, class_from);
    }

    std::vector<EvalRow> existing;
    const int fd = csv_path.empty() ? -1 : open_csv(csv_path, a.has("--resume"), road, existing);
    std::set<std::string> done;  // input + '\n' + method, for this layer
    for (const EvalRow& r : existing) {
        if (r.model != model.name || r.steps != steps || r.class_from != class_from)
            throw Error(csv_path + ": holds rows of another run (model " + r.model + ", " + std::to_string(r.steps) +
                        " steps, class from " + r.class_from + "); use another --csv or the same options");
        if (r.layer == layer) done.insert(r.input + "\n" + r.method);
    }

    const std::string shard_text =
        " (shard " + std::to_string(shard.index) + "/" + std::to_string(shard.count) + ", " + shard.origin + ")";
    std::fprintf(stderr, "entropycam evaluate: %zu of %zu inputs%s, layer %s, %zu methods, %d steps\n", todo.size(),
                 inputs.size(), shard.count > 1 ? shard_text.c_str() : "", layer.c_str(),
                 methods.size(), steps);
    EvaluateOptions options;
    options.steps = steps;
    options.deletion = want[kDeletion];
    options.insertion = want[kInsertion];
    options.average_drop = want[kAverageDrop] || want[kIncrease];
    options.road = road;
    options.road_options.noise_std = road_noise_std(model.preprocessing);
    EvalRun run{model, net, plan, options, {}, steps, class_from, false};
    std::copy(std::begin(want), std::end(want), std::begin(run.want));

    Session session;
    std::vector<EvalRow> new_rows;
    ProgressLine progress{"evaluate"};
    for (size_t t = 0; t < todo.size(); ++t) {
        const size_t i = todo[t];
        std::vector<std::string> pending;
        for (const std::string& m : methods)
            if (!done.count(inputs[i] + "\n" + m)) pending.push_back(m);
        if (pending.empty()) continue;

        std::string lines;
        for (const EvalRow& r : evaluate_input(run, session, inputs[i], i, masks[i], requested_class[i], pending)) {
            lines += eval_csv_line(r, road);
            new_rows.push_back(r);
        }
        if (fd >= 0) write_all(fd, lines, csv_path);  // every row of this input in one write: never half an input
        progress.update(t + 1, todo.size(), file_stem(inputs[i]));
    }
    progress.finish();
    if (fd >= 0 && ::close(fd) != 0) throw Error(csv_path + ": cannot close (" + std::strerror(errno) + ")");

    // The table covers the whole CSV (earlier rows of a resumed run too), read back as summarize reads it.
    std::vector<EvalRow> rows = csv_path.empty() ? new_rows : eval_rows_from_csv(read_csv(csv_path), csv_path);
    sort_eval_rows(rows, every_method_order());
    std::fputs(a.has("--json") ? eval_json(rows).c_str() : eval_markdown(rows).c_str(), stdout);
    return kExitOk;
}

}  // namespace ec::cli
