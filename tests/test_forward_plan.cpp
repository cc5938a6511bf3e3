// nn/forward_plan.h: a planned forward run gives the same values as the full forward, holds fewer buffers at a
// time, keeps exactly what it was asked to keep, reuses the same buffers once warmed up (no allocation, also
// when the batch size changes), and backward refuses to read a value the run did not keep. Fused conv + ReLU6
// pairs give the unfused values and gradients bit for bit.
#include <algorithm>
#include <cstring>
#include <random>
#include <set>

#include "cam/explain.h"
#include "io/npy.h"
#include "nn/forward_plan.h"
#include "tests/test_util.h"
#include "tests/test_weights_util.h"

using namespace ec;
using ec::test::random_values;

namespace {

int random_param(Graph& g, const std::string& name, const Shape& shape, std::mt19937& rng) {
    return add_param(g, name, shape, random_values(shape.numel(), rng));
}

// x -> conv -> relu6 -> [1x1 conv -> relu6 -> 3x3 depthwise -> relu6] + skip -> stride-2 conv -> relu -> pool -> fc.
struct Net {
    Graph g;
    int x, stem, expand, dw, sum, head, logits;
};

Net small_net(std::mt19937& rng) {
    Net r;
    Graph& g = r.g;
    r.x = add_input(g, "x", {1, 12, 10, 3});
    Conv2DOptions same;
    same.padding.kind = Padding::Same;
    r.stem = relu6(g, "stem", conv2d(g, "stem/conv", r.x, random_param(g, "w1", {3, 3, 3, 8}, rng), random_param(g, "b1", {8}, rng), same));
    r.expand = relu6(g, "expand", conv2d(g, "expand/conv", r.stem, random_param(g, "w2", {1, 1, 8, 16}, rng), random_param(g, "b2", {16}, rng), {}));
    Conv2DOptions dw = same;
    dw.groups = 16;
    const int dwc = conv2d(g, "dw/conv", r.expand, random_param(g, "w3", {3, 3, 1, 16}, rng), random_param(g, "b3", {16}, rng), dw);
    r.dw = relu6(g, "dw", dwc);
    const int project = conv2d(g, "project", r.dw, random_param(g, "w4", {1, 1, 16, 8}, rng), -1, {});
    r.sum = add(g, "sum", r.stem, project);
    Conv2DOptions s2 = same;
    s2.stride_h = s2.stride_w = 2;
    r.head = relu(g, "head", conv2d(g, "head/conv", r.sum, random_param(g, "w5", {3, 3, 8, 12}, rng), -1, s2));
    const int pooled = global_avg_pool(g, "pool", r.head);
    const int flat = reshape(g, "flat", pooled, {1, 12});
    r.logits = fully_connected(g, "logits", flat, random_param(g, "wf", {12, 5}, rng), random_param(g, "bf", {5}, rng));
    return r;
}

Tensor random_batch(const Graph& g, int n, std::mt19937& rng) {
    const Shape s = g.tensors[size_t(g.inputs[0])].shape.with_batch(n);
    return Tensor(s, random_values(s.numel(), rng, 1.0f));
}

// Every buffer a session holds (values, spare), as (address, capacity): equal before and after a run iff the
// run allocated nothing.
std::set<std::pair<const void*, size_t>> buffers(const Session& s) {
    std::set<std::pair<const void*, size_t>> out;
    for (const Tensor& t : s.values)
        if (t.data.capacity()) out.insert({t.data.data(), t.data.capacity()});
    for (const SpareBuffer& b : s.spare) out.insert({b.data.data(), b.data.capacity()});
    return out;
}

int64_t floats_held(const Session& s) {
    int64_t n = 0;
    for (const auto& [ptr, cap] : buffers(s)) n += int64_t(cap);
    return n;
}

}  // namespace

TEST_CASE("forward plan: same logits as the full forward, only the kept values survive, fewer floats held") {
    std::mt19937 rng(11);
    Net r = small_net(rng);
    const Tensor x = random_batch(r.g, 4, rng);
    Session full, lean;
    forward(r.g, full, {&x});
    const ForwardPlan plan = plan_forward(r.g, {r.logits, r.dw});
    forward(r.g, lean, plan, {&x});
    for (int t : {r.logits, r.dw}) {
        REQUIRE(lean.values[size_t(t)].shape == full.values[size_t(t)].shape);
        CHECK(lean.values[size_t(t)].data == full.values[size_t(t)].data);  // bit for bit: same kernels, same order
    }
    for (size_t t = 0; t < r.g.tensors.size(); ++t) {
        INFO("tensor " << r.g.tensors[t].name);
        CHECK(lean.values[t].data.empty() == (int(t) != r.logits && int(t) != r.dw));
    }
    // The full forward holds every value; the plan reuses buffers of one size (stem/conv -> stem -> ...).
    int64_t all = 0;
    for (const TensorInfo& t : r.g.tensors) all += t.shape.with_batch(4).numel();
    CHECK(floats_held(full) == all);
    CHECK(floats_held(lean) < all * 3 / 4);

    // forward_until keeps the target alone; unused graph inputs are released before the first node.
    forward_until(r.g, lean, {&x}, r.stem);
    CHECK(lean.values[size_t(r.stem)].data == full.values[size_t(r.stem)].data);
    CHECK(lean.values[size_t(r.x)].data.empty());
    CHECK(lean.values[size_t(r.logits)].data.empty());
    CHECK_THROWS_AS(plan_forward(r.g, {int(r.g.tensors.size())}), Error);
}

TEST_CASE("forward plan: after their first run, runs at batch 16, 7 and 1 allocate nothing and reuse the same buffers") {
    std::mt19937 rng(12);
    Net r = small_net(rng);
    const ForwardPlan to_logits = plan_forward(r.g, {r.logits});
    ExplainOptions cam;
    cam.target = r.dw;
    const ForwardPlan for_explain = explain_forward_plan(r.g, r.logits, cam);
    const Tensor b16 = random_batch(r.g, 16, rng), b7 = random_batch(r.g, 7, rng), b1 = random_batch(r.g, 1, rng);
    Session s;
    auto cycle = [&] {
        forward(r.g, s, to_logits, {&b16});
        forward(r.g, s, to_logits, {&b7});
        forward(r.g, s, for_explain, {&b1});
        forward(r.g, s, to_logits, {&b16});
    };
    cycle();  // the only run of each kind that allocates
    const auto warm = buffers(s);
    const std::vector<float> logits = test::values_of(s.values[size_t(r.logits)]);
    cycle();
    CHECK(buffers(s) == warm);
    CHECK(test::values_of(s.values[size_t(r.logits)]) == logits);
    // The same tensor gets the same buffer every run: the choice depends only on the set of spare buffers.
    forward(r.g, s, for_explain, {&b1});
    const float* dw_buffer = s.values[size_t(r.dw)].ptr();
    forward(r.g, s, to_logits, {&b16});
    forward(r.g, s, for_explain, {&b1});
    CHECK(s.values[size_t(r.dw)].ptr() == dw_buffer);
}

TEST_CASE("forward plan: explain's plan keeps what backward reads (same gradients); backward refuses a released value") {
    std::mt19937 rng(13);
    Net r = small_net(rng);
    const Tensor x = random_batch(r.g, 3, rng);
    for (int target : {r.dw, r.stem, r.head}) {
        INFO("target " << r.g.tensors[size_t(target)].name);
        ExplainOptions cam;
        cam.target = target;
        Session full, lean;
        forward(r.g, full, {&x});
        forward(r.g, lean, explain_forward_plan(r.g, r.logits, cam), {&x});
        BackwardRequest req{r.logits, one_hot_seed(Shape{3, 5}, {0, 2, 4}), {target}, false};
        backward(r.g, full, req);
        backward(r.g, lean, req);
        CHECK(lean.grads[size_t(target)].data == full.grads[size_t(target)].data);
        CHECK(lean.values[size_t(target)].data == full.values[size_t(target)].data);
        CHECK(lean.values[size_t(r.x)].data.empty());  // nothing below the target is kept
    }
    // Only the logits kept: the backward to the depthwise output needs the ReLU6 outputs and says which.
    Session s;
    forward_until(r.g, s, {&x}, r.logits);
    BackwardRequest req{r.logits, one_hot_seed(Shape{3, 5}, {0, 1, 2}), {r.dw}, false};
    test::check_error_contains([&] { backward(r.g, s, req); }, "the forward run did not keep the value of");
}

TEST_CASE("forward plan: a batch run in chunks of images gives the whole-batch values bit for bit, allocating once") {
    std::mt19937 rng(15);
    Net r = small_net(rng);
    const Tensor x = random_batch(r.g, 8, rng), x7 = random_batch(r.g, 7, rng);
    ExplainOptions cam;
    cam.target = r.dw;
    const ForwardPlan whole = [&] { ForwardPlan p = explain_forward_plan(r.g, r.logits, cam); p.images_per_run = 0; return p; }();
    // Chunks of 3, 3 and 2 images one after another; chunks of 1, which the threads share out (8 chunks: at least
    // two per thread on a machine of up to 4 threads) or run in turn on one thread.
    for (int per_run : {3, 1}) {
        CAPTURE(per_run);
        ForwardPlan chunked = whole;
        chunked.images_per_run = per_run;
        Session a, b;
        forward(r.g, a, whole, {&x});
        forward(r.g, b, chunked, {&x});
        CHECK(b.batch == 8);
        for (size_t t = 0; t < r.g.tensors.size(); ++t) {
            INFO("tensor " << r.g.tensors[t].name);
            CHECK(b.values[t].shape == a.values[t].shape);
            test::check_batch_independent("value", b.values[t].data, a.values[t].data);  // released: both empty
        }
        BackwardRequest req{r.logits, one_hot_seed(Shape{8, 5}, {0, 1, 2, 3, 4, 0, 1, 2}), {r.dw}, false};
        backward(r.g, a, req);
        backward(r.g, b, req);
        test::check_batch_independent("gradient", b.grads[size_t(r.dw)].data, a.grads[size_t(r.dw)].data);
        // After the first runs of each batch size, chunked runs allocate nothing (the session's own buffers and
        // its threads' sessions).
        auto cycle = [&] {
            forward(r.g, b, chunked, {&x});
            forward(r.g, b, chunked, {&x7});
        };
        auto all_buffers = [&] {
            auto out = buffers(b);
            for (const Session& w : b.chunk_workers) {
                const auto mine = buffers(w);
                out.insert(mine.begin(), mine.end());
            }
            out.insert({b.chunk_kept[0].ptr(), b.chunk_kept[0].data.capacity()});
            return out;
        };
        cycle();
        const auto warm = all_buffers();
        cycle();
        CHECK(all_buffers() == warm);
    }
    // The plan's own choice: every image count whose live activations fit kRunCacheBytes, at least 1.
    const ForwardPlan planned = plan_forward(r.g, {r.logits});
    CHECK(planned.images_per_run >= 1);
    CHECK(planned.images_per_run == images_per_run_in_cache(r.g, planned));
    int64_t largest = 0;  // no value of this net outlives two layers: one tensor is a lower bound of the peak
    for (const TensorInfo& t : r.g.tensors) largest = std::max(largest, t.shape.with_batch(1).numel());
    CHECK(planned.images_per_run <= kRunCacheBytes / (largest * int64_t(sizeof(float))));
}

TEST_CASE("forward plan: MobileNetV2 forward to the logits holds under a third of the full forward's floats" *
          test::needs_shared()) {
    const Model& m = test::imported_model("mobilenet_v2_1.0_224_quant");
    std::mt19937 rng(14);
    const Tensor x = random_batch(m.graph, 2, rng);
    Session full, lean;
    forward(m.graph, full, {&x});
    forward_until(m.graph, lean, {&x}, m.logits);
    test::check_batch_independent("logits", lean.values[size_t(m.logits)].data, full.values[size_t(m.logits)].data);
    const int64_t all = floats_held(full), planned = floats_held(lean);
    MESSAGE("MobileNetV2 at batch 2: the full forward holds " << all << " floats, the planned one " << planned);
    CHECK(planned * 3 < all);
}

TEST_CASE("forward plan: conv + ReLU/ReLU6 pairs fuse unless the pre-activation tensor is kept or read elsewhere") {
    std::mt19937 rng(15);
    Net r = small_net(rng);
    const Tensor x = random_batch(r.g, 3, rng);
    auto fused_convs = [&](const ForwardPlan& p) {
        std::vector<std::string> names;
        for (size_t k = 0; k < p.nodes.size(); ++k)
            if (p.fused[k] >= 0) names.push_back(r.g.nodes[size_t(p.nodes[k])].name);
        return names;
    };
    const ForwardPlan all = plan_forward(r.g, {r.logits});
    CHECK(fused_convs(all) == std::vector<std::string>{"stem/conv", "expand/conv", "dw/conv", "head/conv"});
    // A kept pre-activation tensor (e.g. a CAM target) is not fused; the others still are.
    const ForwardPlan keep_dw_conv = plan_forward(r.g, {r.logits, r.g.tensor("dw/conv")});
    CHECK(fused_convs(keep_dw_conv) == std::vector<std::string>{"stem/conv", "expand/conv", "head/conv"});
    CHECK(fused_convs(plan_forward(r.g, {r.logits}, false)).empty());
    // A convolution read by two nodes is not fused.
    Graph g2 = r.g;
    const int both = add(g2, "both", g2.tensor("head/conv"), g2.tensor("head"));
    CHECK(fused_convs(plan_forward(g2, {both})).size() == 3);

    // Fused and unfused runs agree bit for bit: the values, and the gradients of a backward after them.
    Session fused, unfused, keeps_conv;
    forward(r.g, fused, all, {&x});
    forward(r.g, unfused, plan_forward(r.g, {r.logits}, false), {&x});
    forward(r.g, keeps_conv, keep_dw_conv, {&x});
    CHECK(fused.values[size_t(r.logits)].data == unfused.values[size_t(r.logits)].data);
    CHECK(keeps_conv.values[size_t(r.g.tensor("dw/conv"))].numel() == 3 * 12 * 10 * 16);
    CHECK(fused.values[size_t(r.g.tensor("dw/conv"))].data.empty());  // never materialised
}

// The CAM-layer activations also still match ../shared/reference: test_explain.cpp runs explain(), whose plan fuses.
TEST_CASE("forward plan: on MobileNetV2 the fused plan gives the unfused logits, target and gradients bit for bit" *
          test::needs_shared()) {
    const Model& m = test::imported_model("mobilenet_v2_1.0_224_quant");
    ExplainOptions cam;
    cam.target = default_cam_target(m.graph, m.logits);
    const ForwardPlan fused = explain_forward_plan(m.graph, m.logits, cam);
    const auto count = std::count_if(fused.fused.begin(), fused.fused.end(), [](int a) { return a >= 0; });
    INFO(count << " conv + ReLU6 pairs fused");
    CHECK(count >= 30);  // MobileNetV2: 35 pairs, all before the default target
    for (const char* image : {"cat", "n01443537_goldfish", "grace_hopper"}) {
        INFO(image);
        const Tensor x = read_npy_tensor(test::shared_path(std::string("reference/mobilenet_v2_1.0_224_quant/") + image + "/input.npy"));
        Session a, b;
        forward(m.graph, a, fused, {&x});
        forward(m.graph, b, {&x});  // every value, nothing fused
        CHECK(a.values[size_t(m.logits)].data == b.values[size_t(m.logits)].data);
        CHECK(a.values[size_t(cam.target)].data == b.values[size_t(cam.target)].data);
        const int cls = top_k(b.values[size_t(m.logits)], 0, 1)[0];
        BackwardRequest req{m.logits, one_hot_seed(b.values[size_t(m.logits)].shape, {cls}), {cam.target}, false};
        backward(m.graph, a, req);
        backward(m.graph, b, req);
        CHECK(a.grads[size_t(cam.target)].data == b.grads[size_t(cam.target)].data);
        // The forward to the logits alone fuses every pair.
        Session c;
        forward_until(m.graph, c, {&x}, m.logits);
        CHECK(c.values[size_t(m.logits)].data == b.values[size_t(m.logits)].data);
    }
}

// A backward reads a ReLU/ReLU6's output, not its input, and a convolution's input, not its output
// (OpDef::backward_reads): a plan that feeds a backward still fuses every conv + activation pair.
TEST_CASE("forward plan: a plan feeding a backward to the input fuses every pair; same input gradient bit for bit") {
    std::mt19937 rng(16);
    Net r = small_net(rng);
    const Tensor x = random_batch(r.g, 3, rng);
    const std::vector<int> reads = backward_reads(r.g, r.logits, {});
    for (const char* pre : {"stem/conv", "expand/conv", "dw/conv", "head/conv"})
        CHECK(std::find(reads.begin(), reads.end(), r.g.tensor(pre)) == reads.end());
    const ForwardPlan plan = plan_forward(r.g, reads);
    CHECK(std::count_if(plan.fused.begin(), plan.fused.end(), [](int a) { return a >= 0; }) == 4);
    Session planned, full;
    forward(r.g, planned, plan, {&x});
    forward(r.g, full, {&x});
    CHECK(planned.values[size_t(r.g.tensor("dw/conv"))].data.empty());  // never materialised
    for (bool params : {false, true}) {
        INFO("param_grads " << params);
        BackwardRequest req{r.logits, one_hot_seed(Shape{3, 5}, {4, 0, 2}), {}, params};
        backward(r.g, planned, req);
        backward(r.g, full, req);
        const Tensor &a = planned.grads[size_t(r.x)], &b = full.grads[size_t(r.x)];
        REQUIRE(a.numel() == x.numel());
        CHECK(std::memcmp(a.ptr(), b.ptr(), sizeof(float) * size_t(a.numel())) == 0);
        for (size_t p = 0; p < r.g.params.size(); ++p)
            CHECK(planned.param_grads[p].data == full.param_grads[p].data);
        // Backward twice in a row (the buffers now hold the last gradients): the same values again.
        const std::vector<float> again = test::values_of(a);
        backward(r.g, planned, req);
        CHECK(test::values_of(planned.grads[size_t(r.x)]) == again);
    }
}

// The same on the real network and the reference input: the plan the product uses for a backward to the input.
TEST_CASE("forward plan: MobileNetV2 fused plan + backward to the input gives the unfused full run's gradient bit for bit" *
          test::needs_shared()) {
    const Model& m = test::imported_model("mobilenet_v2_1.0_224_quant");
    const ForwardPlan plan = plan_forward(m.graph, backward_reads(m.graph, m.logits, {}));
    const auto count = std::count_if(plan.fused.begin(), plan.fused.end(), [](int a) { return a >= 0; });
    INFO(count << " conv + ReLU6 pairs fused");
    CHECK(count == 35);  // MobileNetV2: every conv + ReLU6 pair
    const Tensor x = test::reference_input("mobilenet_v2_1.0_224_quant");
    Session a, b;
    forward(m.graph, a, plan, {&x});
    forward(m.graph, b, {&x});  // every value, nothing fused
    CHECK(a.values[size_t(m.logits)].data == b.values[size_t(m.logits)].data);
    const int cls = top_k(b.values[size_t(m.logits)], 0, 1)[0];
    const BackwardRequest req{m.logits, one_hot_seed(b.values[size_t(m.logits)].shape, {cls}), {}, false};
    backward(m.graph, a, req);
    backward(m.graph, b, req);
    const int input = m.graph.inputs[0];
    REQUIRE(a.grads[size_t(input)].numel() == x.numel());
    CHECK(std::memcmp(a.grads[size_t(input)].ptr(), b.grads[size_t(input)].ptr(), sizeof(float) * size_t(x.numel())) == 0);
    CHECK(test::max_abs(a.grads[size_t(input)].ptr(), x.numel()) > 0);  // a gradient, not zeros
}
