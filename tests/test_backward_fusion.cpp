// The backward of a ReLU/ReLU6 fused into the backward of the convolution that reads its output (nn/graph.h
// backward, ops::conv2d_activation_backward): the gated GEMM epilogue, the gated overwriting input gradient of
// the pointwise and depthwise 3x3 kernels, and whole backward runs, each against the unfused computation (the
// plain product or input gradient, then the activation's own backward), bit for bit.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "io/npy.h"
#include "nn/activation.h"
#include "nn/conv2d.h"
#include "nn/gate_mask.h"
#include "nn/gemm.h"
#include "nn/forward_plan.h"
#include "nn/graph.h"
#include "nn/softmax.h"
#include "tests/test_util.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

// Gate values for a ReLU6 output: mostly inside (0, 6), many exactly 0 or 6 (clamped units), some NaN.
std::vector<float> relu6_outputs(int64_t n, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-2.0f, 8.0f);
    std::vector<float> y(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        const float v = u(rng);
        y[size_t(i)] = i % 97 == 5 ? std::numeric_limits<float>::quiet_NaN() : std::min(6.0f, std::max(0.0f, v));
    }
    return y;
}

// The unfused reference: d = the plain gradient written onto zeros, then the activation's backward.
std::vector<float> gated(const std::vector<float>& plain, const std::vector<float>& y, bool relu6) {
    std::vector<float> d(plain.size());
    if (relu6) relu6_backward(d.data(), plain.data(), y.data(), int64_t(d.size()), true);
    else relu_backward(d.data(), plain.data(), y.data(), int64_t(d.size()), true);
    return d;
}

int open_gates(const std::vector<float>& y, float hi) {
    int open = 0;
    for (float v : y) open += v > 0.0f && v < hi;
    return open;
}

}  // namespace

TEST_CASE("gemm gated epilogue: the product, then the ReLU/ReLU6 gate, bit for bit; tiled and few-row paths") {
    std::mt19937 rng(3);
    for (int m : {1, 4, 37})  // few rows (B streamed) and tiles with a remainder
        for (bool tb : {false, true})
            for (bool relu6 : {true, false}) {
                const int n = 45, k = 70;
                INFO("rows " << m << " transposed b " << tb << " relu6 " << relu6);
                const auto a = test::random_values(int64_t(m) * k, rng);
                const auto b = test::random_values(int64_t(k) * n, rng);
                const auto y = relu6_outputs(int64_t(m) * n, rng);
                const GemmInput ga{a.data(), m, k, k};
                const GemmInput gb = tb ? GemmInput{b.data(), n, k, k, true} : GemmInput{b.data(), k, n, n};
                std::vector<float> plain(size_t(m) * n, 0.0f);
                gemm(plain.data(), n, ga, gb, true);  // onto zeros, as an unfused backward accumulates
                GemmEpilogue ep;
                ep.gate = y.data(), ep.gate_stride = n, ep.gate_hi = relu6 ? 6.0f : std::numeric_limits<float>::infinity();
                std::vector<float> fused(size_t(m) * n, std::numeric_limits<float>::quiet_NaN());  // overwritten
                gemm(fused.data(), n, ga, gb, ep);
                CHECK(fused == gated(plain, y, relu6));
                // The same gate as a mask (nn/gate_mask.h): the same values, bit for bit.
                ByteBuffer mask;
                make_gate_mask(mask, y.data(), int64_t(y.size()), ep.gate_hi);
                GemmEpilogue by_mask;
                by_mask.gate_mask = GateMask(mask.data()), by_mask.gate_stride = n;
                std::vector<float> masked(size_t(m) * n, std::numeric_limits<float>::quiet_NaN());
                gemm(masked.data(), n, ga, gb, by_mask);
                CHECK(masked == fused);
                CHECK(open_gates(y, ep.gate_hi) > m * n / 3);
                CHECK(open_gates(y, ep.gate_hi) < m * n);
            }
    GemmEpilogue bad;
    float one = 1.0f, out = 0.0f;
    bad.gate = &one, bad.accumulate = true;
    CHECK_THROWS_WITH_AS(gemm(&out, 1, GemmInput{&one, 1, 1, 1}, GemmInput{&one, 1, 1, 1}, bad),
                         "gemm: a gated epilogue cannot accumulate", Error);
    const uint8_t open[kGateMaskSlack + 1] = {1};
    GemmEpilogue both;
    both.gate = &one, both.gate_mask = GateMask(open);
    CHECK_THROWS_AS(gemm(&out, 1, GemmInput{&one, 1, 1, 1}, GemmInput{&one, 1, 1, 1}, both), Error);
}

TEST_CASE("make_gate_mask and write_gate_mask: 0 < y < hi for every kind of float, any length, any hi, any first bit") {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const float denorm = std::numeric_limits<float>::denorm_min();
    std::vector<float> y = {0.0f, -0.0f, 1.0f, -1.0f, 6.0f, std::nextafter(6.0f, 0.0f), std::nextafter(6.0f, inf),
                            inf, -inf, nan, -nan, denorm, -denorm, 0.5f, 5.999f, 1e30f, -1e30f, 3.0f};
    std::mt19937 rng(43);
    const auto more = test::random_values(1000, rng, 8.0f);
    y.insert(y.end(), more.begin(), more.end());
    for (float hi : {6.0f, inf, 0.5f, denorm, 0.0f, -1.0f, nan})
        for (size_t n : {size_t(0), size_t(7), size_t(8), size_t(17), size_t(32), size_t(45), size_t(71), y.size()}) {
            INFO("hi " << hi << ", n " << n);
            ByteBuffer made;
            make_gate_mask(made, y.data(), int64_t(n), hi);
            REQUIRE(made.size() == size_t(gate_mask_bytes(int64_t(n))));
            const GateMask view(made.data());
            for (size_t i = 0; i < n; ++i) CHECK(view[int64_t(i)] == (y[i] > 0.0f && y[i] < hi));
            for (size_t i = n; i < made.size() * 8; ++i) CHECK(view[int64_t(i)] == false);  // the bits past n
            for (int64_t first : {0, 1, 3, 7, 8, 13}) {  // bits [first, first + n): the others stay as they were
                INFO("first " << first);
                std::vector<uint8_t> written(size_t(gate_mask_bytes(first + int64_t(n)) + 2));
                for (size_t b = 0; b < written.size(); ++b) written[b] = uint8_t(b * 37 + 11);
                const std::vector<uint8_t> before = written;
                write_gate_mask(written.data(), first, y.data(), int64_t(n), hi);
                const GateMask got(written.data()), old(before.data());
                for (int64_t k = 0; k < int64_t(written.size()) * 8; ++k) {
                    const bool inside = k >= first && k < first + int64_t(n);
                    CHECK(got[k] == (inside ? view[k - first] : old[k]));
                }
            }
        }
}

TEST_CASE("write_gate_mask: threads writing adjacent ranges that share bytes keep each other's bits") {
    std::mt19937 rng(44);
    const int64_t rows = 64, row = 21;  // 21 values a row: most rows start and end inside a byte
    const auto y = test::random_values(rows * row, rng, 8.0f);
    ByteBuffer want;
    make_gate_mask(want, y.data(), rows * row, 6.0f);
    for (int repeat = 0; repeat < 20; ++repeat) {
        std::vector<uint8_t> got(size_t(gate_mask_bytes(rows * row)), 0xA5);
#pragma omp parallel for num_threads(2) schedule(static, 1)
        for (int64_t r = 0; r < rows; ++r) write_gate_mask(got.data(), r * row, y.data() + r * row, row, 6.0f);
        for (int64_t k = 0; k < rows * row; ++k) REQUIRE(GateMask(got.data())[k] == GateMask(want.data())[k]);
    }
}

TEST_CASE("gate_mask_backward and apply_gate_mask: the ReLU6 backward bit for bit, signed zeros included, over thread blocks") {
    std::mt19937 rng(41);
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(37), int64_t(16384 * 2 + 13)}) {
        INFO("n " << n);
        const auto y = relu6_outputs(n, rng);
        std::vector<float> d_out = test::random_values(n, rng), start = test::random_values(n, rng);
        for (int64_t i = 0; i < n; i += 3) d_out[size_t(i)] = i % 2 ? -0.0f : 0.0f;  // -0 + 0 = +0 when copied
        for (int64_t i = 0; i < n; i += 5) start[size_t(i)] = -0.0f;                  // -0 + -0 stays -0 when added
        ByteBuffer mask;
        make_gate_mask(mask, y.data(), n, 6.0f);
        for (bool overwrite : {true, false}) {
            std::vector<float> got = start, want = start;
            gate_mask_backward(got.data(), d_out.data(), GateMask(mask.data()), n, overwrite);
            relu6_backward(want.data(), d_out.data(), y.data(), n, overwrite);
            CHECK(test::bits_equal(got, want));
        }
        std::vector<float> applied = d_out, want(static_cast<size_t>(n));
        apply_gate_mask(applied.data(), GateMask(mask.data()), n);
        relu6_backward(want.data(), d_out.data(), y.data(), n, true);
        CHECK(test::bits_equal(applied, want));
        // A view from a bit inside a byte (a row of a band-fused block's mask): the same values.
        std::vector<uint8_t> shifted(size_t(gate_mask_bytes(n + 5)), 0xFF);
        write_gate_mask(shifted.data(), 5, y.data(), n, 6.0f);
        std::vector<float> from_view = d_out;
        apply_gate_mask(from_view.data(), GateMask(shifted.data(), 5), n);
        CHECK(test::bits_equal(from_view, want));
    }
}

TEST_CASE("conv2d_backward_input_overwrite: gated, equals the accumulated input gradient then the activation's backward") {
    std::mt19937 rng(5);
    struct Case { const char* what; ConvGeometry g; };
    std::vector<Case> cases;
    ConvGeometry pw;  // 1x1: one GEMM
    pw.batch = 2, pw.in_h = 5, pw.in_w = 7, pw.in_c = 19, pw.out_h = 5, pw.out_w = 7, pw.out_c = 11;
    cases.push_back({"pointwise", pw});
    ConvGeometry first;  // MobileNet's first layer: 3x3 stride 2 from 3 channels (its own kernel)
    first.batch = 2, first.in_h = 13, first.in_w = 15, first.in_c = 3, first.out_c = 8, first.kernel_h = first.kernel_w = 3;
    first.stride_h = first.stride_w = 2, first.out_h = 7, first.out_w = 8;
    cases.push_back({"first 3x3", first});
    for (int stride : {1, 2}) {  // MobileNet's depthwise 3x3, odd sizes, a channel count off the vector width
        ConvGeometry dw;
        dw.batch = 2, dw.in_h = 9, dw.in_w = 11, dw.in_c = 21, dw.out_c = 21, dw.groups = 21;
        dw.kernel_h = dw.kernel_w = 3, dw.stride_h = dw.stride_w = stride, dw.pad_top = dw.pad_left = stride == 1 ? 1 : 0;
        dw.out_h = stride == 1 ? 9 : 5, dw.out_w = stride == 1 ? 11 : 6;
        cases.push_back({stride == 1 ? "depthwise 3x3 stride 1" : "depthwise 3x3 stride 2", dw});
    }
    for (const Case& c : cases) {
        const ConvGeometry& g = c.g;
        if (!conv2d_backward_input_overwrites(g)) {
            MESSAGE(c.what << ": no overwriting kernel on this build (the portable build has no SIMD depthwise)");
            continue;
        }
        const int64_t in_n = int64_t(g.batch) * g.in_h * g.in_w * g.in_c, out_n = int64_t(g.batch) * g.out_h * g.out_w * g.out_c;
        const auto d_out = test::random_values(out_n, rng);
        const auto filter = test::random_values(int64_t(g.kernel_h) * g.kernel_w * (g.in_c / g.groups) * g.out_c, rng);
        const auto y = relu6_outputs(in_n, rng);
        std::vector<float> plain(size_t(in_n), 0.0f);
        conv2d_backward_input(plain.data(), d_out.data(), filter.data(), g, nullptr);
        for (bool relu6 : {true, false}) {
            INFO(c.what << ", relu6 " << relu6);
            const float hi = relu6 ? 6.0f : std::numeric_limits<float>::infinity();
            std::vector<float> fused(size_t(in_n), std::numeric_limits<float>::quiet_NaN());
            conv2d_backward_input_overwrite(fused.data(), d_out.data(), filter.data(), g, y.data(), hi);
            CHECK(fused == gated(plain, y, relu6));
            ByteBuffer mask;
            make_gate_mask(mask, y.data(), in_n, hi);
            std::vector<float> masked(size_t(in_n), std::numeric_limits<float>::quiet_NaN());
            conv2d_backward_input_overwrite(masked.data(), d_out.data(), filter.data(), g, nullptr, 0.0f, GateMask(mask.data()));
            CHECK(masked == fused);
            std::vector<float> by_relu(size_t(in_n), std::numeric_limits<float>::quiet_NaN());  // the unfused ReLU
            gate_mask_backward(by_relu.data(), plain.data(), GateMask(mask.data()), in_n, true);
            CHECK(by_relu == fused);
            std::vector<float> accumulated = plain, want = plain;
            gate_mask_backward(accumulated.data(), plain.data(), GateMask(mask.data()), in_n, false);
            if (relu6) relu6_backward(want.data(), plain.data(), y.data(), in_n, false);
            else relu_backward(want.data(), plain.data(), y.data(), in_n, false);
            CHECK(accumulated == want);
        }
        std::vector<float> ungated(size_t(in_n), std::numeric_limits<float>::quiet_NaN());
        conv2d_backward_input_overwrite(ungated.data(), d_out.data(), filter.data(), g);
        CHECK(ungated == plain);
        ByteBuffer mask;
        make_gate_mask(mask, y.data(), in_n, 6.0f);
        CHECK_THROWS_WITH_AS(conv2d_backward_input_overwrite(ungated.data(), d_out.data(), filter.data(), g, y.data(),
                                                             6.0f, GateMask(mask.data())),
                             doctest::Contains("not both"), Error);
    }
}

namespace {

// x -> conv 3x3 -> relu6 -> [1x1 -> relu6 -> depthwise 3x3 (stride 1 or 2) -> relu -> 1x1] -> relu6, read twice
// (by a 1x1 conv and the logits' pool), so that one activation must not fuse.
struct Block {
    Graph g;
    int x, expand, dw, shared, logits;
};

Block block_net(std::mt19937& rng, int dw_stride) {
    auto param = [&](Graph& g, const char* name, const Shape& s) { return add_param(g, name, s, test::random_values(s.numel(), rng)); };
    Block r;
    Graph& g = r.g;
    r.x = add_input(g, "x", {1, 11, 9, 3});
    Conv2DOptions same;
    same.padding.kind = Padding::Same;
    const int stem = relu6(g, "stem", conv2d(g, "stem/conv", r.x, param(g, "w0", {3, 3, 3, 8}), param(g, "b0", {8}), same));
    r.expand = relu6(g, "expand", conv2d(g, "expand/conv", stem, param(g, "w1", {1, 1, 8, 24}), param(g, "b1", {24}), {}));
    Conv2DOptions dw = same;
    dw.groups = 24, dw.stride_h = dw.stride_w = dw_stride;
    r.dw = relu(g, "dw", conv2d(g, "dw/conv", r.expand, param(g, "w2", {3, 3, 1, 24}), param(g, "b2", {24}), dw));
    r.shared = relu6(g, "shared", conv2d(g, "project", r.dw, param(g, "w3", {1, 1, 24, 16}), -1, {}));
    const int head = conv2d(g, "head", r.shared, param(g, "w4", {1, 1, 16, 16}), -1, {});
    const int both = add(g, "both", head, r.shared);
    const int pooled = reshape(g, "flat", global_avg_pool(g, "pool", both), {1, 16});
    r.logits = fully_connected(g, "logits", pooled, param(g, "wf", {16, 5}), param(g, "bf", {5}));
    return r;
}

}  // namespace

TEST_CASE("backward fusion: a ReLU/ReLU6 read by one convolution alone runs in its backward; same gradients bit for bit") {
    std::mt19937 rng(9);
    for (int dw_stride : {1, 2})
        for (bool params : {false, true}) {
            INFO("depthwise stride " << dw_stride << ", param_grads " << params);
            Block r = block_net(rng, dw_stride);
            const Shape xs = r.g.tensors[size_t(r.x)].shape.with_batch(3);
            const Tensor x(xs, test::random_values(xs.numel(), rng, 1.0f));
            Session s;
            forward(r.g, s, {&x});
            const BackwardRequest fused{r.logits, one_hot_seed(Shape{3, 5}, {4, 0, 2}), {r.x}, params, true};  // keep all
            BackwardRequest unfused = fused;  // asking for an activation's output gradient keeps it unfused
            for (const Node& node : r.g.nodes)
                if (node.op == OpKind::Relu || node.op == OpKind::Relu6) unfused.stop_at.push_back(node.output);
            const int unfused_nodes = backward(r.g, s, unfused);
            const std::vector<float> want = test::values_of(s.grads[size_t(r.x)]);
            std::vector<std::vector<float>> want_params;
            for (const Tensor& p : s.param_grads) want_params.push_back(test::values_of(p));
            CHECK(backward(r.g, s, fused) == unfused_nodes);  // the folded activations count as run
            CHECK(test::values_of(s.grads[size_t(r.x)]) == want);
            CHECK(test::max_abs(want.data(), int64_t(want.size())) > 0);
            for (size_t p = 0; p < want_params.size(); ++p) CHECK(test::values_of(s.param_grads[p]) == want_params[p]);
            // expand -> depthwise fuses only where the build has the SIMD depthwise kernel; dw -> project always.
            CHECK(s.grads[size_t(r.dw)].data.empty());
            CHECK(s.grads[size_t(r.shared)].numel() == s.values[size_t(r.shared)].numel());  // read twice: formed
        }
}

TEST_CASE("gate masks: a forward planned for its backward records the activations' masks, the same gradients bit for bit") {
    // plan_forward_for_backward keeps the values the backward reads and only gate masks of the ReLU/ReLU6 outputs
    // it reads as gates (the shared activation, read by two nodes, by its own unfused backward); the gradients
    // equal those after a forward that kept every value, fused or not, at batch 3, on one thread and two. With
    // param_grads the convolutions read their inputs: no masks.
    std::mt19937 rng(12);
    for (int dw_stride : {1, 2})
        for (bool params : {false, true}) {
            INFO("depthwise stride " << dw_stride << ", param_grads " << params);
            Block r = block_net(rng, dw_stride);
            const Shape xs = r.g.tensors[size_t(r.x)].shape.with_batch(3);
            const Tensor x(xs, test::random_values(xs.numel(), rng, 1.0f));
            const BackwardRequest req{r.logits, one_hot_seed(Shape{3, 5}, {1, 3, 0}), {r.x}, params};
            const ForwardPlan plan = plan_forward_for_backward(r.g, req);
            if (params) {
                CHECK(plan.masks.empty());
            } else {
                auto masked = [&](int t) { return std::find(plan.masks.begin(), plan.masks.end(), t) != plan.masks.end(); };
                CHECK(masked(r.expand));
                CHECK(masked(r.dw));
                CHECK(masked(r.shared));  // read by a conv and an Add: unfused, its own backward reads the mask
                CHECK(plan.masks.size() == 4);  // and the stem's ReLU6
                for (int t : plan.masks) CHECK(std::find(plan.keep.begin(), plan.keep.end(), t) == plan.keep.end());
            }
            Session full;
            forward(r.g, full, {&x});
            backward(r.g, full, req);
            for (int threads : {1, 2}) {
                const int before = omp_get_max_threads();
                omp_set_num_threads(threads);
                Session lean;
                forward(r.g, lean, plan, {&x});
                for (int t : plan.masks) CHECK(lean.values[size_t(t)].data.empty());  // only the mask is left
                backward(r.g, lean, req);
                omp_set_num_threads(before);
                CHECK(test::values_of(lean.grads[size_t(r.x)]) == test::values_of(full.grads[size_t(r.x)]));
                for (size_t p = 0; p < full.param_grads.size(); ++p)
                    CHECK(test::values_of(lean.param_grads[p]) == test::values_of(full.param_grads[p]));
            }
        }
}

TEST_CASE("gate masks: only of ReLU/ReLU6 outputs; a masked plan runs its batch whole; a missing mask is named") {
    std::mt19937 rng(13);
    Block r = block_net(rng, 1);
    const int pre_activation = r.g.tensors[size_t(r.expand)].producer >= 0
                                   ? r.g.nodes[size_t(r.g.tensors[size_t(r.expand)].producer)].inputs[0] : -1;
    CHECK_THROWS_WITH_AS(plan_forward(r.g, {r.logits}, true, {pre_activation}), doctest::Contains("ReLU or ReLU6 output"), Error);
    const BackwardRequest req{r.logits, one_hot_seed(Shape{4, 5}, {1, 3, 0, 2}), {r.x}, false};
    ForwardPlan plan = plan_forward_for_backward(r.g, req);
    REQUIRE(!plan.masks.empty());
    CHECK(plan.images_per_run == 0);
    plan.images_per_run = 2;
    const Shape xs = r.g.tensors[size_t(r.x)].shape.with_batch(4);
    const Tensor x(xs, test::random_values(xs.numel(), rng, 1.0f));
    Session s;
    CHECK_THROWS_WITH_AS(forward(r.g, s, plan, {&x}), doctest::Contains("gate masks"), Error);
    // A plan without the masks: the backward names the activation it cannot gate.
    ForwardPlan no_masks = plan;
    no_masks.images_per_run = 0;
    no_masks.masks.clear(), no_masks.mask_step.clear();
    forward(r.g, s, no_masks, {&x});
    CHECK_THROWS_WITH_AS(backward(r.g, s, req), doctest::Contains("did not keep the value of"), Error);
}

TEST_CASE("backward fusion on MobileNetV2: the input gradient with every activation fused equals the unfused one" *
          test::needs_shared()) {
    const Model& m = test::imported_model("mobilenet_v2_1.0_224_quant");
    const Tensor x = test::reference_input("mobilenet_v2_1.0_224_quant");
    Session s;
    forward(m.graph, s, {&x});
    const int cls = top_k(s.values[size_t(m.logits)], 0, 1)[0];
    const int input = m.graph.inputs[0];
    BackwardRequest fused{m.logits, one_hot_seed(s.values[size_t(m.logits)].shape, {cls}), {input}, false, true};
    BackwardRequest unfused = fused;
    for (const Node& node : m.graph.nodes)
        if (node.op == OpKind::Relu6) unfused.stop_at.push_back(node.output);
    backward(m.graph, s, unfused);
    const std::vector<float> want = test::values_of(s.grads[size_t(input)]);
    backward(m.graph, s, fused);
    CHECK(test::values_of(s.grads[size_t(input)]) == want);
    int unformed = 0;
    for (const Node& node : m.graph.nodes) unformed += node.op == OpKind::Relu6 && s.grads[size_t(node.output)].data.empty();
    INFO(unformed << " ReLU6 output gradients not formed");
    CHECK(unformed >= 17);  // at least every block's depthwise -> project pair
}

TEST_CASE("gate masks on MobileNetV2: the input gradient after a masked forward equals the kept-values one" *
          test::needs_shared()) {
    const Model& m = test::imported_model("mobilenet_v2_1.0_224_quant");
    const Tensor x = test::reference_input("mobilenet_v2_1.0_224_quant");
    Session full, lean;
    forward(m.graph, full, {&x});
    const int cls = top_k(full.values[size_t(m.logits)], 0, 1)[0];
    const BackwardRequest req{m.logits, one_hot_seed(full.values[size_t(m.logits)].shape, {cls}), {m.graph.inputs[0]}, false};
    backward(m.graph, full, req);
    const ForwardPlan plan = plan_forward_for_backward(m.graph, req);
    CHECK(plan.masks.size() >= 30);  // every expand and depthwise ReLU6 output
    forward(m.graph, lean, plan, {&x});
    int64_t kept_floats = 0, mask_bytes = 0;
    for (const Tensor& v : lean.values) kept_floats += v.numel();
    for (const ByteBuffer& b : lean.gate_masks) mask_bytes += int64_t(b.size());
    MESSAGE("masked forward keeps " << kept_floats * 4 / 1024 << " KB of values and " << mask_bytes / 1024 << " KB of masks");
    CHECK(kept_floats * 4 < mask_bytes);  // the gates were most of what a backward kept
    backward(m.graph, lean, req);
    CHECK(test::values_of(lean.grads[size_t(m.graph.inputs[0])]) == test::values_of(full.grads[size_t(m.graph.inputs[0])]));
}

TEST_CASE("backward: an Add that hands its output's gradient buffer to an input gives the gradients of copying it") {
    // Without keep_inner_grads the Add `both` (head + shared) gives `head` its output's gradient buffer and copies
    // it to `shared` alone (graph_run.cpp); with keep_inner_grads its output's gradient is kept, so it copies to
    // both. The input gradients and parameter gradients must agree, at batch 2, on one thread and two.
    std::mt19937 rng(31);
    for (int dw_stride : {1, 2})
        for (bool params : {false, true}) {
            INFO("depthwise stride " << dw_stride << ", param_grads " << params);
            Block r = block_net(rng, dw_stride);
            const Shape xs = r.g.tensors[size_t(r.x)].shape.with_batch(2);
            const Tensor x(xs, test::random_values(xs.numel(), rng, 1.0f));
            const BackwardRequest copied{r.logits, one_hot_seed(Shape{2, 5}, {3, 1}), {r.x}, params, true};
            BackwardRequest handed = copied;
            handed.keep_inner_grads = false;
            for (int threads : {1, 2}) {
                const int before = omp_get_max_threads();
                omp_set_num_threads(threads);
                Session a, b;
                forward(r.g, a, {&x});
                backward(r.g, a, copied);
                forward(r.g, b, {&x});
                backward(r.g, b, handed);
                omp_set_num_threads(before);
                const std::vector<float> want = test::values_of(a.grads[size_t(r.x)]);
                CHECK(test::max_abs(want.data(), int64_t(want.size())) > 0);
                CHECK(test::values_of(b.grads[size_t(r.x)]) == want);
                for (size_t p = 0; p < a.param_grads.size(); ++p)
                    CHECK(test::values_of(b.param_grads[p]) == test::values_of(a.param_grads[p]));
            }
        }
}
