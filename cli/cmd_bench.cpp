// `entropycam bench`: the micro-benchmarking command. Loads the model (timed), then times the whole-model passes
// of cam/pass_timing.h and prints median and minimum per pass, as text or one JSON object.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdint>

#include "api/network.h"
#include "cam/op_profile.h"
#include "cam/pass_timing.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "io/image.h"
#include "io/json.h"
#include "nn/fma_peak.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam bench [--model M] [--batch B] [--iters N] [--threads T] [--input IMAGE] [--ops] [--json]\n"
    "Times model load, forward, forward + backward to the default CAM layer, forward + backward to the input,\n"
    "and explain with all five methods: median and minimum of N runs after one warm-up, in milliseconds.\n"
    "  --batch B    images per pass (default 1)      --iters N    timed runs per pass (default 20)\n"
    "  --threads T  OpenMP threads (default: OMP_NUM_THREADS or every core)\n"
    "  --input IMAGE  the image to run (default: a fixed pseudo-random image of the model's input size)\n"
    "  --json       one object: load_ms, forward_ms, backward_ms, backward_input_ms, explain_ms (each also\n"
    "               with _min), batch, threads, gflops (forward multiply-adds x 2 / median forward time),\n"
    "               peak_gflops (the FMA throughput measured on as many threads; 0 without AVX2/AVX-512),\n"
    "               and with --ops an array ops\n"
    "  --ops        also the forward's time node by node (mean of N runs, slowest first): name, op, ms, share\n"
    "               of the sum, multiply-adds per image, GMAC/s (a fused conv + ReLU6 counts on the conv), and\n"
    "               backward_ms: the node's time in the backward from the top-1 logit to the input\n";

// A deterministic image of the model's input size (xorshift), so that runs on any machine time the same input.
ImageU8 noise_image(int width, int height) {
    ImageU8 img;
    img.width = width;
    img.height = height;
    img.rgb.resize(size_t(width) * size_t(height) * 3);
    uint32_t x = 2463534242u;
    for (uint8_t& p : img.rgb) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p = uint8_t(x >> 24);
    }
    return img;
}

}  // namespace

int cmd_bench(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--model", "--batch", "--iters", "--threads", "--input"}, {"--json", "--ops", "--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (!a.positional.empty()) throw UsageError("unexpected argument '" + a.positional[0] + "' (the image is --input)");
    PassTimingOptions opt;
    opt.batch = a.get_int("--batch", 1, 1, 256);
    opt.iters = a.get_int("--iters", 20, 1, 100000);
    if (a.has("--threads")) omp_set_num_threads(a.get_int("--threads", 1, 1, 1024));
    const int threads = omp_get_max_threads();

    const std::string spec = a.get("--model", kDefaultModel);
    std::vector<double> load_ms;
    Model model;
    for (int i = 0; i < 5; ++i) {  // a load is milliseconds: five of them, first one included (cold file cache aside)
        const auto start = std::chrono::steady_clock::now();
        model = open_model(spec);
        load_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    const TimingSummary load = summarize_times(load_ms);
    const Tensor input = a.has("--input") ? load_input(a.get("--input"), model.preprocessing).input
                                          : image_to_input(noise_image(model.preprocessing.width, model.preprocessing.height),
                                                           model.preprocessing);
    std::fprintf(stderr, "entropycam bench: %s, batch %d, %d thread(s), %d runs per pass\n", model.name.c_str(), opt.batch,
                 threads, opt.iters);
    const PassTimings t = time_model_passes(network_of(model), input, opt);
    const double gflops = 2.0 * double(t.forward_multiply_adds) * opt.batch / (t.forward.median_ms * 1e6);
    const double peak = fma_peak_gflops(threads, 0.2);

    const std::vector<OpProfileRow> ops =
        a.has("--ops") ? profile_forward_ops(network_of(model), input, opt) : std::vector<OpProfileRow>();
    auto gmacs = [&](const OpProfileRow& r) { return r.ms > 0 ? double(r.multiply_adds) * opt.batch / (r.ms * 1e6) : 0.0; };

    struct Line { const char* key; const char* what; TimingSummary s; };
    const Line lines[] = {{"load", "model load", load},
                          {"forward", "forward", t.forward},
                          {"backward", "forward + backward to the CAM layer", t.backward},
                          {"backward_input", "forward + backward to the input", t.backward_input},
                          {"explain", "explain, all five methods", t.explain}};
    if (a.has("--json")) {
        JsonObject o;
        for (const Line& l : lines)
            o.add(std::string(l.key) + "_ms", json_number(l.s.median_ms)).add(std::string(l.key) + "_ms_min", json_number(l.s.min_ms));
        o.add("batch", json_number(opt.batch)).add("threads", json_number(threads)).add("gflops", json_number(gflops));
        o.add("peak_gflops", json_number(peak));
        o.add("model", json_string(model.name));
        if (a.has("--ops")) {
            std::vector<std::string> rows;
            for (const OpProfileRow& r : ops) {
                JsonObject row;
                row.add("name", json_string(r.name)).add("op", json_string(r.op)).add("ms", json_number(r.ms));
                row.add("backward_ms", json_number(r.backward_ms));
                row.add("share", json_number(r.share)).add("multiply_adds", json_number(double(r.multiply_adds)));
                rows.push_back(row.add("gmacs", json_number(gmacs(r))).str());
            }
            o.add("ops", json_array(rows));
        }
        std::printf("%s\n", o.str().c_str());
        return kExitOk;
    }
    std::printf("%s, batch %d, %d thread(s), %d runs per pass (ms)\n", model.name.c_str(), opt.batch, threads, opt.iters);
    std::printf("  %-38s %10s %10s\n", "pass", "median", "min");
    for (const Line& l : lines) std::printf("  %-38s %10.3f %10.3f\n", l.what, l.s.median_ms, l.s.min_ms);
    std::printf("  forward: %.2f G multiply-adds per image, %.1f GFLOP/s", double(t.forward_multiply_adds) * 1e-9, gflops);
    if (peak > 0) std::printf(" of a measured FMA peak of %.1f GFLOP/s on %d thread(s) (%.0f %%)", peak, threads, 100 * gflops / peak);
    std::printf("\n");
    if (!ops.empty()) {
        std::printf("  per node of the forward (mean of %d runs, slowest first; a fused conv + ReLU6 counts on the conv,\n"
                    "  a band-fused block on its first conv),\n"
                    "  and of the backward from the top-1 logit to the input (bwd ms)\n", opt.iters);
        std::printf("  %-52s %-16s %9s %6s %8s %9s\n", "node", "op", "ms", "%", "GMAC/s", "bwd ms");
        for (const OpProfileRow& r : ops)
            std::printf("  %-52s %-16s %9.4f %6.1f %8.1f %9.4f\n", r.name.c_str(), r.op.c_str(), r.ms, 100 * r.share, gmacs(r),
                        r.backward_ms);
    }
    return kExitOk;
}

}  // namespace ec::cli
