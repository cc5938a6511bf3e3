// The one explain pipeline (cam/pipeline.h) against the low-level batch explain() it is built on, its
// warnings as data, its one class-range check; and the rule that cli/ never runs the network itself.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/network.h"
#include "cam/pipeline.h"
#include "cam/postprocess.h"
#include "io/image.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

// The source text with comments and string/char literals blanked out, so only code is searched.
std::string code_only(const std::string& src) {
    std::string out = src;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out.compare(i, 2, "//") == 0) {
            while (i < out.size() && out[i] != '\n') out[i++] = ' ';
        } else if (out.compare(i, 2, "/*") == 0) {
            size_t end = out.find("*/", i + 2);
            end = end == std::string::npos ? out.size() : end + 2;
            for (; i < end; ++i) out[i] = out[i] == '\n' ? '\n' : ' ';
            --i;
        } else if (out[i] == '"' || out[i] == '\'') {
            const char q = out[i];
            for (++i; i < out.size() && out[i] != q; ++i) {
                if (out[i] == '\\' && i + 1 < out.size()) out[i++] = ' ';
                out[i] = ' ';
            }
        }
    }
    return out;
}

// Calls of the graph's forward(, forward_until( or backward( in `src` (a name not preceded by an identifier
// character: `explain_after_forward(` and `softmax_backward(` are other functions).
std::vector<std::string> network_calls(const std::string& src) {
    const std::string code = code_only(src);
    std::vector<std::string> found;
    for (const char* name : {"forward", "forward_until", "backward"}) {
        const std::string n = name;
        for (size_t at = code.find(n); at != std::string::npos; at = code.find(n, at + 1)) {
            const bool starts = at == 0 || !(std::isalnum((unsigned char)code[at - 1]) || code[at - 1] == '_');
            size_t after = at + n.size();
            while (after < code.size() && std::isspace((unsigned char)code[after])) ++after;
            if (starts && after < code.size() && code[after] == '(') found.push_back(n + "(");
        }
    }
    return found;
}

std::string read_all(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("pipeline: the scanner of cli/ sources finds network calls and nothing else") {
    CHECK(network_calls("  forward(g, s, {&x});").size() == 1);
    CHECK(network_calls("ec::forward_until (g, s, {&x}, l);").size() == 1);
    CHECK(network_calls("backward(g, s, req);").size() == 1);
    CHECK(network_calls("explain_after_forward(g, s); softmax_backward(a); int forward_count = 0;").empty());
    CHECK(network_calls("// forward(g, s)\nconst char* t = \"backward(\"; /* forward_until( */").empty());
}

TEST_CASE("pipeline: no cli/ source runs the network's forward or backward itself") {
    // tests/test_pipeline.cpp is compiled as "tests/test_pipeline.cpp" from the project root.
    const std::filesystem::path root = std::filesystem::path(__FILE__).parent_path().parent_path();
    const std::filesystem::path cli = (root.empty() ? std::filesystem::path(".") : root) / "cli";
    REQUIRE_MESSAGE(std::filesystem::is_directory(cli), cli.string() << " not found: run the tests from the project root");
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(cli)) {
        const std::string ext = entry.path().extension().string();
        if (ext != ".cpp" && ext != ".h") continue;
        ++files;
        const std::vector<std::string> calls = network_calls(read_all(entry.path()));
        CHECK_MESSAGE(calls.empty(), entry.path().string() << " calls " << (calls.empty() ? "" : calls[0])
                                                           << ": cli/ must go through cam/pipeline.h");
    }
    CHECK(files >= 10);  // the CLI has a dozen sources: the scan really read them
}

TEST_CASE("pipeline: explain_input gives explain()'s maps, post-processed one way, for the top-N classes" * ec::test::needs_shared()) {
    const Model& model = test::imported_model("mobilenet_v2_1.0_224_quant");
    const Network net = network_of(model);
    const LoadedInput in = load_input(test::shared_path("images/imagenet-dev/n01443537_goldfish.JPEG"), model.preprocessing);
    ExplainRequest req;
    req.classes.top = 3;
    const ExplainPlan plan = plan_explain(net, req);
    CHECK(plan.layer == model.graph.tensors[size_t(default_cam_target(model.graph, model.logits))].name);
    REQUIRE(plan.options.methods.size() == 5);
    REQUIRE(plan.warnings.size() == 1);
    CHECK(plan.warnings[0].kind == ExplainWarningKind::ClassFree);

    Session s;
    const InputExplanation ex = explain_input(net, s, plan, in.input, {100, 60});
    const std::vector<Prediction> top = classify_input(net, s, in.input, 3);
    REQUIRE(ex.classes.size() == 3);
    // The same classes through the low-level batch function on a batch of 3 copies (what the pipeline runs):
    // the same raw maps, bit for bit. (A batch-1 run may differ in the last bits: other GEMM blockings.)
    Tensor batch(in.input.shape.with_batch(3));
    for (int r = 0; r < 3; ++r) std::copy(in.input.data.begin(), in.input.data.end(), batch.data.begin() + r * in.input.numel());
    Session three;
    const std::vector<ImageExplanation> direct =
        explain(model.graph, three, model.logits, batch, {top[0].index, top[1].index, top[2].index}, plan.options);
    for (size_t r = 0; r < 3; ++r) {
        const ClassExplanation& c = ex.classes[r];
        CHECK(c.cls == top[r].index);
        CHECK(c.prob == doctest::Approx(top[r].prob).epsilon(1e-6));
        const ImageExplanation& e = direct[r];
        REQUIRE(c.maps.size() == e.results.size());
        for (size_t m = 0; m < c.maps.size(); ++m) {
            CAPTURE(m);
            CHECK(c.maps[m].method == e.methods[m]);
            CHECK(c.maps[m].cam.raw.values == e.results[m].raw.values);
            CHECK(c.maps[m].normalized.values == minmax_normalize(relu_map(e.results[m].raw)).values);
            CHECK((c.maps[m].upsampled.h == 100 && c.maps[m].upsampled.w == 60));
            CHECK(c.maps[m].upsampled.values == postprocess_cam(e.results[m].raw, 100, 60).values);
            CHECK(c.maps[m].warnings.size() == (e.methods[m] == CamMethod::FeatEntropyCam ? 1u : 0u));
        }
    }
    // No size named: no upsampled maps.
    ExplainRequest one_class;
    one_class.methods = {CamMethod::GradCam};
    one_class.classes.index = 1;
    const InputExplanation ex1 = explain_input(net, s, plan_explain(net, one_class), in.input);
    REQUIRE(ex1.classes.size() == 1);
    CHECK(ex1.classes[0].cls == 1);
    CHECK(ex1.classes[0].maps[0].upsampled.values.empty());
    CHECK(ex1.warnings.empty());
}

TEST_CASE("pipeline: a plan's forward is planned once; a copy whose layer or methods changed plans its own" * ec::test::needs_shared()) {
    const Model& model = test::imported_model("mobilenet_v2_1.0_224_quant");
    const Network net = network_of(model);
    const LoadedInput in = load_input(test::shared_path("images/imagenet-dev/n02086240_Shih-Tzu.JPEG"), model.preprocessing);
    ExplainRequest activation_only;
    activation_only.methods = {CamMethod::FeatEntropyCam};
    activation_only.classes.index = 151;
    const ExplainPlan plan = plan_explain(net, activation_only);
    REQUIRE(!plan.forward.nodes.empty());
    CHECK(plan.forward_for == explain_forward_key(plan.options));
    CHECK_FALSE(plan.forward_for.gradient);  // no gradient method: no gate masks planned
    CHECK(plan.forward.masks.empty());
    const std::vector<int>& kept = plan.forward.keep;
    CHECK(std::find(kept.begin(), kept.end(), plan.options.target) != kept.end());
    CHECK(std::find(kept.begin(), kept.end(), model.logits) != kept.end());

    // Another layer and gradient methods on a copy: the copy's forward would keep neither that layer nor the
    // masks its backward reads, so explain_input plans anew and gives what a fresh plan gives, bit for bit.
    ExplainRequest gradient;
    gradient.layer = "MobilenetV2/expanded_conv_16/expand/Relu6";
    gradient.methods = {CamMethod::GradCam, CamMethod::GradEntropyCam};
    gradient.classes.index = 151;
    const ExplainPlan fresh = plan_explain(net, gradient);
    ExplainPlan changed = plan;
    changed.options.target = fresh.options.target;
    changed.options.methods = fresh.options.methods;
    CHECK_FALSE(changed.forward_for == explain_forward_key(changed.options));
    Session s1, s2;
    const InputExplanation a = explain_input(net, s1, changed, in.input);
    const InputExplanation b = explain_input(net, s2, fresh, in.input);
    REQUIRE(a.classes.size() == 1);
    REQUIRE(a.classes[0].maps.size() == 2);
    REQUIRE(b.classes[0].maps.size() == 2);
    for (size_t m = 0; m < 2; ++m) CHECK(a.classes[0].maps[m].cam.raw.values == b.classes[0].maps[m].cam.raw.values);
    // And the plan's own forward, run for two inputs in one session, gives what a session of its own gives.
    const LoadedInput other = load_input(test::shared_path("images/imagenet-dev/n01443537_goldfish.JPEG"), model.preprocessing);
    Session reused, alone;
    explain_input(net, reused, plan, other.input);
    const InputExplanation again = explain_input(net, reused, plan, in.input);
    const InputExplanation first = explain_input(net, alone, plan, in.input);
    CHECK(again.classes[0].maps[0].cam.raw.values == first.classes[0].maps[0].cam.raw.values);
}

TEST_CASE("pipeline: the gradient-constant warning is data, the class range is checked once" * ec::test::needs_shared()) {
    const Model& model = test::imported_model("mobilenet_v2_1.0_224_quant");
    const Network net = network_of(model);
    const LoadedInput in = load_input(test::shared_path("images/imagenet-dev/n07753592_banana.JPEG"), model.preprocessing);
    // The input of the global pooling: the degenerate layer of method.md.
    int pooled = -1;
    for (const Node& node : model.graph.nodes)
        if (node.op == OpKind::GlobalAvgPool || node.op == OpKind::AvgPool) pooled = node.inputs[0];
    REQUIRE(pooled >= 0);
    ExplainRequest req;
    req.layer = model.graph.tensors[size_t(pooled)].name;
    req.methods = {CamMethod::GradCam, CamMethod::HiResCam};
    Session s;
    const InputExplanation ex = explain_input(net, s, plan_explain(net, req), in.input);
    REQUIRE(ex.classes.size() == 1);
    CHECK(ex.classes[0].gradient_constant);
    REQUIRE(ex.warnings.size() == 1);
    CHECK(ex.warnings[0].kind == ExplainWarningKind::GradientConstant);
    CHECK(ex.warnings[0].message.find(req.layer) != std::string::npos);
    CHECK(ex.classes[0].maps[0].warnings.size() == 1);

    ExplainRequest bad;
    bad.classes.index = output_count(net);
    test::check_error_contains([&] { plan_explain(net, bad); }, "class 1001 is out of range: the model has classes 0..1000");
    bad.classes = {-1, 0};
    CHECK_THROWS_AS(plan_explain(net, bad), Error);
    bad.classes = {};
    bad.layer = "no such layer";
    CHECK_THROWS_AS(plan_explain(net, bad), Error);
    CHECK_THROWS_AS(classify_input(net, s, in.input, -1), Error);
    CHECK(classify_input(net, s, in.input, 0).empty());
    CHECK(classify_input(net, s, in.input, 5000).size() == 1001u);
}

TEST_CASE("pipeline: open_model imports a .tflite file (CLI and API alike); a missing one is an Error" * ec::test::needs_shared()) {
    const std::string tflite = test::model_tflite("mobilenet_v1_0.75_192_quant");
    const Model m = open_model(tflite);
    CHECK(m.preprocessing.height == 192);
    CHECK(output_count(network_of(m)) == 1001);
    CHECK_THROWS_AS(open_model("/nonexistent/model.tflite"), Error);
}
