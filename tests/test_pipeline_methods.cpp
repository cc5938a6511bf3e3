// Issue 12's methods through the explain pipeline (cam/pipeline.h): every method on a real image, Score-CAM's
// class scores from the network (the same as score_cam() with a callback built here), and no backward pass for
// the methods that need none.
#include <cmath>

#include "api/network.h"
#include "cam/multilayer.h"
#include "cam/pipeline.h"
#include "io/image.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

// The first non-negative feature map of the graph (the first Relu/Relu6 output with H*W > 1): few channels, so
// Score-CAM's one forward pass per channel stays cheap. Chosen by rule, not by name.
std::string first_relu_layer(const Graph& g) {
    for (const Node& node : g.nodes) {
        const Shape& s = g.tensors[size_t(node.output)].shape;
        if ((node.op == OpKind::Relu || node.op == OpKind::Relu6) && s.rank == 4 && s.h() * s.w() > 1)
            return g.tensors[size_t(node.output)].name;
    }
    return "";
}

struct Fixture {
    const Model& model = test::imported_model("mobilenet_v2_1.0_224_quant");
    const Network net = network_of(model);
    const LoadedInput in =
        load_input(test::shared_path("images/imagenet-dev/n01443537_goldfish.JPEG"), model.preprocessing);
    const std::string layer = first_relu_layer(model.graph);
};

ExplainRequest request(const std::string& layer, std::vector<CamMethod> methods, int cls = -1) {
    ExplainRequest req;
    req.layer = layer;
    req.methods = std::move(methods);
    req.classes.index = cls;
    return req;
}

}  // namespace

TEST_CASE("pipeline methods: every method gives a finite map of the layer's shape, in the order asked" * ec::test::needs_shared()) {
    const Fixture f;
    REQUIRE(!f.layer.empty());
    const ExplainPlan plan =
        plan_explain(f.net, request(f.layer, {std::begin(kEveryCamMethod), std::end(kEveryCamMethod)}));
    REQUIRE(plan.warnings.size() == 1);  // one run-wide line names both class-free methods
    CHECK(plan.warnings[0].message.find("Feature Entropy-CAM and Eigen-CAM") != std::string::npos);
    Session s;
    const InputExplanation ex = explain_input(f.net, s, plan, f.in.input, {50, 40});
    REQUIRE(ex.classes.size() == 1);
    const Shape& act = f.model.graph.tensors[size_t(plan.options.target)].shape;
    REQUIRE(ex.classes[0].maps.size() == std::size(kEveryCamMethod));
    for (size_t m = 0; m < ex.classes[0].maps.size(); ++m) {
        const ExplainedMap& map = ex.classes[0].maps[m];
        CAPTURE(cam_method_name(map.method));
        CHECK(map.method == kEveryCamMethod[m]);
        CHECK((map.cam.raw.h == act.h() && map.cam.raw.w == act.w()));
        CHECK((map.upsampled.h == 50 && map.upsampled.w == 40));
        bool finite = true;
        for (float v : map.cam.raw.values) finite = finite && std::isfinite(v);
        for (float v : map.upsampled.values) finite = finite && std::isfinite(v) && v >= 0 && v <= 1;
        CHECK(finite);
        CHECK(map.warnings.size() == (cam_method_depends_on_class(map.method) ? 0u : 1u));
    }
}

TEST_CASE("pipeline methods: Score-CAM scores the row's class with the network, as score_cam() does" * ec::test::needs_shared()) {
    const Fixture f;
    const int cls = 7;  // not the top class: the score must be of the class asked, not the prediction
    const ExplainPlan plan = plan_explain(f.net, request(f.layer, {CamMethod::ScoreCam}, cls));
    Session s;
    const InputExplanation ex = explain_input(f.net, s, plan, f.in.input);
    REQUIRE(ex.classes.size() == 1);
    REQUIRE(ex.classes[0].cls == cls);
    const CamResult& piped = ex.classes[0].maps.at(0).cam;

    Session direct, masked;
    forward(f.model.graph, direct, {&f.in.input});
    const ClassScoreFn scores = [&](const Tensor& batch, std::vector<float>& out) {
        forward(f.model.graph, masked, {&batch});
        out.clear();
        for (int r = 0; r < batch.shape.n(); ++r)
            out.push_back(float(softmax_row(masked.values[size_t(f.model.logits)], r)[size_t(cls)]));
    };
    const CamResult expected =
        score_cam(image_view(direct.values[size_t(plan.options.target)], 0), f.in.input, scores);
    REQUIRE(piped.weights.size() == expected.weights.size());
    for (size_t k = 0; k < expected.weights.size(); ++k) CHECK(piped.weights[k] == doctest::Approx(expected.weights[k]).epsilon(1e-5));
    REQUIRE(piped.raw.values.size() == expected.raw.values.size());
    for (size_t i = 0; i < expected.raw.values.size(); ++i)
        CHECK(piped.raw.values[i] == doctest::Approx(expected.raw.values[i]).epsilon(1e-4));
    // Another class gives other weights: the callback really reads the class asked.
    const InputExplanation other = explain_input(f.net, s, plan_explain(f.net, request(f.layer, {CamMethod::ScoreCam}, cls + 1)), f.in.input);
    CHECK(other.classes[0].maps.at(0).cam.weights != piped.weights);
}

TEST_CASE("pipeline methods: Eigen-CAM and Feature Entropy-CAM run no backward; Score-CAM leaves the session alone" * ec::test::needs_shared()) {
    const Fixture f;
    Session s;
    explain_input(f.net, s, plan_explain(f.net, request(f.layer, {CamMethod::EigenCam, CamMethod::FeatEntropyCam, CamMethod::ScoreCam})), f.in.input);
    CHECK(s.nodes_run_backward == 0);
    // With gradient methods too: one backward, and their maps are those of a run without Score-CAM (whose
    // masked forward passes use a session of their own, not the one holding the target activation).
    const std::vector<CamMethod> gradient = {CamMethod::GradCamPlusPlus, CamMethod::XGradCam, CamMethod::LayerCam};
    std::vector<CamMethod> with_score = gradient;
    with_score.push_back(CamMethod::ScoreCam);
    Session a, b;
    const InputExplanation both = explain_input(f.net, a, plan_explain(f.net, request(f.layer, with_score)), f.in.input);
    const InputExplanation alone = explain_input(f.net, b, plan_explain(f.net, request(f.layer, gradient)), f.in.input);
    CHECK(a.nodes_run_backward > 0);
    CHECK(a.nodes_run_backward == b.nodes_run_backward);
    for (size_t m = 0; m < gradient.size(); ++m)
        CHECK(both.classes[0].maps[m].cam.raw.values == alone.classes[0].maps[m].cam.raw.values);
}

TEST_CASE("pipeline methods: --layer A,B fuses each method's maps at both layers from one backward pass" * ec::test::needs_shared()) {
    const Fixture f;
    const std::string late = f.model.graph.tensors[size_t(default_cam_target(f.model.graph, f.model.logits))].name;
    REQUIRE(late != f.layer);
    const std::vector<CamMethod> methods = {CamMethod::GradCam, CamMethod::LayerCam, CamMethod::EigenCam};
    ExplainRequest both = request(f.layer, methods);
    both.more_layers = {late};
    const ExplainPlan plan = plan_explain(f.net, both);
    CHECK(plan.layer == f.layer + "," + late);
    Session s, early_only, late_only;
    const InputExplanation fused = explain_input(f.net, s, plan, f.in.input, {30, 20});
    const InputExplanation early = explain_input(f.net, early_only, plan_explain(f.net, request(f.layer, methods)), f.in.input);
    const InputExplanation at_late = explain_input(f.net, late_only, plan_explain(f.net, request(late, methods)), f.in.input);
    // One backward to the earliest layer serves both: as many nodes as the backward to the early layer alone.
    CHECK(s.nodes_run_backward == early_only.nodes_run_backward);
    for (size_t m = 0; m < methods.size(); ++m) {
        CAPTURE(cam_method_name(methods[m]));
        const Heatmap expected = fuse_layer_maps({early.classes[0].maps[m].cam.raw, at_late.classes[0].maps[m].cam.raw});
        const ExplainedMap& got = fused.classes[0].maps[m];
        REQUIRE((got.cam.raw.h == expected.h && got.cam.raw.w == expected.w));
        for (size_t i = 0; i < expected.values.size(); ++i) CHECK(got.cam.raw.values[i] == doctest::Approx(expected.values[i]).epsilon(1e-5));
        CHECK(got.cam.weights.empty());
        CHECK((got.upsampled.h == 30 && got.upsampled.w == 20));
    }
    ExplainRequest bad = request(f.layer, methods);
    bad.more_layers = {"no such layer"};
    CHECK_THROWS_AS(plan_explain(f.net, bad), Error);
}
