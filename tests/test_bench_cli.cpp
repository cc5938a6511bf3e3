// `entropycam bench` (cli/cmd_bench.cpp on cam/pass_timing.h): the JSON keys the issue names, figures that are
// positive, each minimum at most its median, and usage errors. No timing is compared with another: speed figures
// come from the benchmark, never from tests.
#include <map>
#include <sstream>

#include "api/network.h"
#include "cam/op_profile.h"
#include "cam/pass_timing.h"
#include "nn/forward_plan.h"
#include "nn/fma_peak.h"
#include "nn/simd.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

// The numbers of a flat JSON object of numbers and strings, by key.
std::map<std::string, double> json_numbers(const std::string& json) {
    std::map<std::string, double> out;
    size_t pos = 0;
    while ((pos = json.find('"', pos)) != std::string::npos) {
        const size_t end = json.find('"', pos + 1);
        const std::string key = json.substr(pos + 1, end - pos - 1);
        size_t v = json.find_first_not_of(": ", end + 1);
        if (json[v] == '"') { pos = json.find('"', v + 1) + 1; continue; }
        out[key] = std::stod(json.substr(v));
        pos = json.find_first_of(",}", v);
    }
    return out;
}

}  // namespace

TEST_CASE("summarize_times: median of odd and even counts, minimum; an empty list is an error") {
    CHECK(summarize_times({3, 1, 2}).median_ms == 2);
    CHECK(summarize_times({4, 1, 3, 2}).median_ms == 2.5);
    CHECK(summarize_times({4, 1, 3, 2}).min_ms == 1);
    CHECK_THROWS_AS(summarize_times({}), Error);
}

TEST_CASE("bench: --json has every key, positive figures, each minimum at most its median" * ec::test::needs_shared()) {
    const std::string model = test::model_tflite("mobilenet_v1_0.75_192_quant");
    test::CliResult r = test::run_cli("bench --json --iters 2 --batch 2 --threads 1 --model '" + model + "'");
    REQUIRE(r.exit_code == 0);
    const std::map<std::string, double> v = json_numbers(r.out);
    for (const char* key : {"load_ms", "forward_ms", "backward_ms", "backward_input_ms", "explain_ms"}) {
        CAPTURE(key);
        REQUIRE(v.count(key) == 1);
        REQUIRE(v.count(std::string(key) + "_min") == 1);
        CHECK(v.at(key) > 0);
        CHECK(v.at(std::string(key) + "_min") <= v.at(key));
    }
    CHECK(v.at("batch") == 2);
    CHECK(v.at("threads") == 1);
    CHECK(v.at("gflops") > 0);
    // The roof: measured on builds with the SIMD kernels, 0 without them. How close the forward comes to it is a
    // timing, and timings are compared in bench/, never here: two timings taken apart on a shared machine can
    // land in either order.
    REQUIRE(v.count("peak_gflops") == 1);
#ifdef EC_SIMD
    CHECK(v.at("peak_gflops") > 0);
#else
    CHECK(v.at("peak_gflops") == 0);
#endif
}

TEST_CASE("bench --ops: every node of the forward once, slowest first, shares summing to 1, backward times" * ec::test::needs_shared()) {
    const std::string model = test::model_tflite("mobilenet_v1_0.75_192_quant");
    test::CliResult r = test::run_cli("bench --ops --iters 2 --threads 1 --model '" + model + "'");
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("per node of the forward") != std::string::npos);
    const Model m = import_tflite(model, "");
    const Tensor input(Shape{1, m.preprocessing.height, m.preprocessing.width, 3});
    PassTimingOptions opt;
    opt.iters = 2;
    const std::vector<OpProfileRow> rows = profile_forward_ops(network_of(m), input, opt);
    const ForwardPlan plan = plan_forward(m.graph, {m.logits});
    size_t fused = 0;
    for (int f : plan.fused) fused += f >= 0;
    CHECK(rows.size() == plan.nodes.size() + fused);  // every node run, and every folded activation
    double share = 0, backward_ms = 0;
    int64_t macs = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        CHECK(rows[i].ms >= 0);
        CHECK(rows[i].backward_ms >= 0);
        backward_ms += rows[i].backward_ms;
        if (i > 0) CHECK(rows[i].ms <= rows[i - 1].ms);
        CHECK(r.out.find(rows[i].name) != std::string::npos);
        share += rows[i].share;
        macs += rows[i].multiply_adds;
    }
    CHECK(share == doctest::Approx(1.0).epsilon(1e-9));
    CHECK(backward_ms > 0);  // the backward to the input runs through every convolution
    int64_t want = 0;
    for (const Node& node : m.graph.nodes) want += node_multiply_adds(m.graph, node);
    CHECK(macs == want);
}

TEST_CASE("fma_peak_gflops: positive on any thread count with the SIMD kernels, 0 without them") {
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        const double peak = fma_peak_gflops(threads, 0.02);
#ifdef EC_SIMD
        CHECK(peak > 0);
#else
        CHECK(peak == 0);
#endif
    }
}

TEST_CASE("bench: bad flags are usage errors (exit 2, one line)") {
    for (const char* args : {"bench --batch 0", "bench --iters x", "bench --threads 0", "bench stray", "bench --bogus"}) {
        CAPTURE(args);
        test::CliResult r = test::run_cli(args);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("entropycam bench: ") == 0);
    }
    CHECK(test::run_cli("bench --model /nonexistent.ecw").exit_code == 1);
}
