// nn/band_block.h: band-fused blocks form where they should (and not where a value is kept, read twice or the
// activations are small against the weights), and a planned forward with them gives the layer-by-layer values
// bit for bit, at batch 1 and 3, on one thread and two, on a small net with every kind of block and on MobileNetV2.
#include <doctest/doctest.h>
#include <omp.h>

#include <limits>
#include <random>

#include "io/npy.h"
#include "nn/forward_plan.h"
#include "nn/gate_mask.h"
#include "nn/simd.h"
#include "tests/test_util.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

struct Net {
    Graph g;
    int x, residual_expand, strided_out, logits;
};

// x [40 x 64 x 32] -> block A: 1x1 expand 96 + ReLU6, depthwise 3x3 s1 + ReLU6, 1x1 project 32, + x
//                  -> block B: 1x1 expand 96 + ReLU6, depthwise 3x3 s2 + ReLU6, 1x1 project 48 (linear)
//                  -> block C (MobileNetV1's pair): depthwise 3x3 s1 + ReLU6, 1x1 64 + ReLU6
//                  -> pool -> fully connected 5.
// A row of 64 x 96 floats is 24 KB: the expanded rows need several bands under kBandCacheBytes.
Net block_net(std::mt19937& rng) {
    auto param = [&](Graph& g, const char* name, const Shape& s) { return add_param(g, name, s, test::random_values(s.numel(), rng)); };
    Net r;
    Graph& g = r.g;
    r.x = add_input(g, "x", {1, 40, 64, 32});
    Conv2DOptions same;
    same.padding.kind = Padding::Same;
    auto expand = [&](const char* name, int in, int c_in, int c_out) {
        return relu6(g, std::string(name) + "/expand", conv2d(g, std::string(name) + "/expand/conv", in,
                     param(g, (std::string(name) + "/we").c_str(), {1, 1, c_in, c_out}), param(g, (std::string(name) + "/be").c_str(), {c_out}), {}));
    };
    auto depthwise = [&](const char* name, int in, int c, int stride) {
        Conv2DOptions o = same;
        o.groups = c, o.stride_h = o.stride_w = stride;
        return relu6(g, std::string(name) + "/dw", conv2d(g, std::string(name) + "/dw/conv", in,
                     param(g, (std::string(name) + "/wd").c_str(), {3, 3, 1, c}), param(g, (std::string(name) + "/bd").c_str(), {c}), o));
    };
    r.residual_expand = expand("a", r.x, 32, 96);
    const int a_project = conv2d(g, "a/project", depthwise("a", r.residual_expand, 96, 1), param(g, "a/wp", {1, 1, 96, 32}), param(g, "a/bp", {32}), {});
    const int a = add(g, "a/add", a_project, r.x);
    r.strided_out = conv2d(g, "b/project", depthwise("b", expand("b", a, 32, 96), 96, 2), param(g, "b/wp", {1, 1, 96, 48}), -1, {});
    const int c = relu6(g, "c/pw", conv2d(g, "c/pw/conv", depthwise("c", r.strided_out, 48, 1), param(g, "c/wp", {1, 1, 48, 64}), param(g, "c/bp", {64}), {}));
    const int pooled = reshape(g, "flat", global_avg_pool(g, "pool", c), {1, 64});
    r.logits = fully_connected(g, "logits", pooled, param(g, "wf", {64, 5}), param(g, "bf", {5}));
    return r;
}

// The plan's logits and its layer-by-layer twin's (the same plan, blocks cleared), at `threads` threads.
void check_same_as_layer_by_layer(const Graph& g, const ForwardPlan& plan, int logits, const Tensor& x, int threads) {
    ForwardPlan layers = plan;
    layers.block_at.assign(layers.nodes.size(), -1);
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    Session a, b;
    forward(g, a, plan, {&x});
    forward(g, b, layers, {&x});
    forward(g, a, plan, {&x});  // again on the warmed-up session: the ring and bands reused
    omp_set_num_threads(before);
    CHECK(test::values_of(a.values[size_t(logits)]) == test::values_of(b.values[size_t(logits)]));
    CHECK(test::max_abs(a.values[size_t(logits)].ptr(), a.values[size_t(logits)].numel()) > 0);
}

}  // namespace

TEST_CASE("band blocks: expand + depthwise + project (+ skip) and depthwise + pointwise form, bit for bit as layers") {
    std::mt19937 rng(21);
    Net r = block_net(rng);
    const ForwardPlan plan = plan_forward(r.g, {r.logits});
#ifndef EC_SIMD
    CHECK(plan.blocks.empty());  // the blocks need the SIMD depthwise kernel
    return;
#endif
    REQUIRE(plan.blocks.size() == 3);
    CHECK(plan.blocks[0].steps == 4);  // expand, depthwise, project, add
    CHECK(plan.blocks[0].add >= 0);
    CHECK(plan.blocks[1].steps == 3);
    CHECK(plan.blocks[1].project_act < 0);
    CHECK(plan.blocks[2].steps == 2);  // depthwise, pointwise + ReLU6
    CHECK(plan.blocks[2].expand < 0);
    CHECK(plan.blocks[2].project_act >= 0);
    for (const BandBlock& b : plan.blocks) {
        const ConvGeometry& d = r.g.nodes[size_t(b.depthwise)].conv;
        if (b.expand >= 0) CHECK(b.band_rows < d.out_h);  // several bands: the ring carries rows from band to band
        CHECK(b.scratch_floats * int64_t(sizeof(float)) <= kBandCacheBytes);
    }
    for (int batch : {1, 3})
        for (int threads : {1, 2}) {
            INFO("batch " << batch << ", threads " << threads);
            const Shape s = r.g.tensors[size_t(r.x)].shape.with_batch(batch);
            check_same_as_layer_by_layer(r.g, plan, r.logits, Tensor(s, test::random_values(s.numel(), rng, 1.0f)), threads);
        }
}

TEST_CASE("band blocks: a kept inner value splits its block; a kept block output still forms its block") {
    std::mt19937 rng(22);
    Net r = block_net(rng);
    const ForwardPlan keeping_expand = plan_forward(r.g, {r.logits, r.residual_expand});
    for (const BandBlock& b : keeping_expand.blocks) CHECK(b.expand != r.g.tensors[size_t(r.residual_expand)].producer);
    const ForwardPlan keeping_output = plan_forward(r.g, {r.logits, r.strided_out});
#ifdef EC_SIMD
    REQUIRE(keeping_expand.blocks.size() == 3);  // block A from its depthwise on: no expand, and no skip (its input
    CHECK(keeping_expand.blocks[0].expand < 0);   // is the expanded value, not the Add's other operand)
    CHECK(keeping_expand.blocks[0].add < 0);
    CHECK(keeping_output.blocks.size() == 3);
    const Shape s = r.g.tensors[size_t(r.x)].shape.with_batch(2);
    const Tensor x(s, test::random_values(s.numel(), rng, 1.0f));
    check_same_as_layer_by_layer(r.g, keeping_expand, r.logits, x, 2);
    Session a, b;
    forward(r.g, a, keeping_output, {&x});
    forward(r.g, b, {&x});
    CHECK(test::values_of(a.values[size_t(r.strided_out)]) == test::values_of(b.values[size_t(r.strided_out)]));
#endif
    CHECK(plan_forward(r.g, {r.logits}, false).blocks.empty());  // nothing fused: no blocks either
}

TEST_CASE("band blocks on MobileNetV2: the early blocks form; logits bit for bit as layer by layer" * test::needs_shared()) {
    const Model& m = test::imported_model("mobilenet_v2_1.0_224_quant");
    const ForwardPlan plan = plan_forward(m.graph, {m.logits});
#ifdef EC_SIMD
    std::string names;
    for (const BandBlock& b : plan.blocks) names += m.graph.nodes[size_t(b.depthwise)].name + " ";
    INFO(names);
    CHECK(plan.blocks.size() >= 4);  // at least the 112 x 112 and 56 x 56 blocks, where the activations are MBs
    CHECK(plan.blocks.size() <= 12);
    const Tensor x = test::reference_input("mobilenet_v2_1.0_224_quant");
    Tensor x3(x.shape.with_batch(3)), x4(x.shape.with_batch(4));
    for (int n = 0; n < 3; ++n) std::copy(x.data.begin(), x.data.end(), x3.data.begin() + n * x.numel());
    for (int n = 0; n < 4; ++n) std::copy(x.data.begin(), x.data.end(), x4.data.begin() + n * x.numel());
    for (int threads : {1, 2}) {
        INFO("threads " << threads);
        check_same_as_layer_by_layer(m.graph, plan, m.logits, x, threads);
        ForwardPlan whole = plan;
        whole.images_per_run = 0;  // the batch of 3 through each block at once
        check_same_as_layer_by_layer(m.graph, whole, m.logits, x3, threads);
        ForwardPlan chunks = plan;
        chunks.images_per_run = 1;  // 4 chunks of one image: on 2 threads each takes whole chunks, blocks inside
        check_same_as_layer_by_layer(m.graph, chunks, m.logits, x4, threads);
    }
#else
    CHECK(plan.blocks.empty());
#endif
}

namespace {

// One random block: [1x1 expand + ReLU/ReLU6] -> 3x3 depthwise (stride 1 or 2; SAME, VALID or lopsided explicit
// padding) + ReLU/ReLU6 -> 1x1 project [+ ReLU6] [+ the input], on small odd shapes. Returns the block's output,
// or -1 when the drawn geometry has no output (VALID on too small an image).
// stem: a block without an expansion reads a 3x3 convolution's ReLU/ReLU6 (as MobileNetV2's first block reads the
// stem's) instead of the graph input.
int random_block(Graph& g, std::mt19937& rng, bool stem = false) {
    auto pick = [&](std::initializer_list<int> v) { return *(v.begin() + std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)); };
    auto param = [&](const std::string& name, const Shape& s) { return add_param(g, name, s, test::random_values(s.numel(), rng)); };
    const int h = pick({1, 2, 3, 5, 8, 11}), w = pick({1, 2, 4, 7, 9}), c = pick({1, 3, 8, 9, 17});
    const bool expand = rng() % 3 != 0, six = rng() % 2, project_act = rng() % 4 == 0;
    const int ce = expand ? pick({1, 7, 8, 16, 20}) : c, stride = pick({1, 2});
    const int x = add_input(g, "x", {1, h, w, c});
    int t = x;
    auto act = [&](const std::string& name, int in) { return six ? relu6(g, name, in) : relu(g, name, in); };
    if (expand) t = act("expand", conv2d(g, "expand/conv", t, param("we", {1, 1, c, ce}), param("be", {ce}), {}));
    if (stem && !expand) {
        Conv2DOptions same;
        same.padding.kind = Padding::Same;
        t = act("stem", conv2d(g, "stem/conv", t, param("ws", {3, 3, c, c}), param("bs", {c}), same));
    }
    Conv2DOptions dw;
    dw.groups = ce, dw.stride_h = dw.stride_w = stride;
    const int pad = pick({0, 1, 2});
    dw.padding.kind = pad == 0 ? Padding::Same : pad == 1 ? Padding::Valid : Padding::Explicit;
    if (pad == 2) dw.padding.top = 2, dw.padding.bottom = 0, dw.padding.left = 0, dw.padding.right = 1;
    try {
        t = act("dw", conv2d(g, "dw/conv", t, param("wd", {3, 3, 1, ce}), rng() % 2 ? param("bd", {ce}) : -1, dw));
    } catch (const Error&) {
        return -1;  // no output rows or columns
    }
    const bool residual = !project_act && stride == 1 && pad == 0 && rng() % 2;
    const int co = residual ? c : pick({1, 5, 8, 16});
    t = conv2d(g, "project", t, param("wp", {1, 1, ce, co}), rng() % 2 ? param("bp", {co}) : -1, {});
    if (project_act) t = relu6(g, "project/act", t);
    if (residual) t = rng() % 2 ? add(g, "add", t, x) : add(g, "add", x, t);
    return t;
}

}  // namespace

TEST_CASE("band blocks: random small geometries in one-row and whole-image bands, bit for bit as layers") {
#ifndef EC_SIMD
    MESSAGE("no SIMD depthwise kernel on this build: no blocks form");
    return;
#endif
    std::mt19937 rng(23);
    int formed = 0, residual = 0, multi_band = 0, masked_blocks = 0;
    for (int trial = 0; trial < 200; ++trial) {
        Graph g;
        const int out = random_block(g, rng);
        if (out < 0) continue;
        INFO("trial " << trial << ": input " << g.tensors[size_t(g.inputs[0])].shape.str() << ", output "
                      << g.tensors[size_t(out)].shape.str());
        // Every third trial records the gate masks of the block's inner activations (the inputs of its
        // convolutions that are ReLU outputs), as a forward that an input-gradient backward follows does.
        std::vector<int> masks;
        if (trial % 3 == 2)
            for (const Node& node : g.nodes) {
                const int p = g.tensors[size_t(node.inputs[0])].producer;
                if (node.op == OpKind::Conv2D && p >= 0 && (g.nodes[size_t(p)].op == OpKind::Relu || g.nodes[size_t(p)].op == OpKind::Relu6))
                    masks.push_back(node.inputs[0]);
            }
        ForwardPlan plan = plan_forward(g, {out}, true, masks);
        std::vector<char> kept(g.tensors.size(), 0);
        for (int t : masks) kept[size_t(t)] = kKeepsMask;
        kept[size_t(out)] = kKeepsValue;
        const int64_t cache = trial % 2 ? 1 : kBandCacheBytes;  // one-row bands, or the whole image at once
        find_band_blocks(g, plan.nodes, plan.fused, kept, plan.blocks, plan.block_at, 0, cache);
        REQUIRE(plan.blocks.size() == 1);  // every drawn block qualifies
        const BandBlock& b = plan.blocks[0];
        formed += 1, residual += b.add >= 0;
        multi_band += b.band_rows < g.nodes[size_t(b.depthwise)].conv.out_h;
        ForwardPlan layers = plan;
        layers.block_at.assign(layers.nodes.size(), -1);
        for (int batch : {1, 2})
            for (int threads : {1, 2}) {
                const Shape s = g.tensors[size_t(g.inputs[0])].shape.with_batch(batch);
                const Tensor x(s, test::random_values(s.numel(), rng, 2.0f));
                const int before = omp_get_max_threads();
                omp_set_num_threads(threads);
                Session a, c;
                forward(g, a, plan, {&x});
                forward(g, c, layers, {&x});
                omp_set_num_threads(before);
                CHECK(test::values_of(a.values[size_t(out)]) == test::values_of(c.values[size_t(out)]));
                for (int t : masks) {  // written by the block's strips = made from the layer-by-layer value
                    Session full;
                    forward(g, full, {&x});
                    ByteBuffer want;
                    const bool relu6 = g.nodes[size_t(g.tensors[size_t(t)].producer)].op == OpKind::Relu6;
                    make_gate_mask(want, full.values[size_t(t)].ptr(), full.values[size_t(t)].numel(),
                                   relu6 ? 6.0f : std::numeric_limits<float>::infinity());
                    CHECK(a.gate_masks[size_t(t)] == want);
                    CHECK(c.gate_masks[size_t(t)] == want);
                }
            }
        masked_blocks += !masks.empty() && (b.expand_mask >= 0 || b.depthwise_mask >= 0);
    }
    INFO(masked_blocks << " blocks writing masks");
    CHECK(masked_blocks >= 40);
    INFO(formed << " blocks, " << residual << " with the skip, " << multi_band << " in several bands");
    CHECK(formed >= 120);
    CHECK(residual >= 8);
    CHECK(multi_band >= 30);
}

// ------------------------------------------------------------------ the input gradient (band_block_backward)

namespace {

// The backward's folded activations for a block's convolutions, as the graph runner folds them: the project's
// input activation into its backward, the depthwise's into its own (project: the project's output tensor).
std::vector<int> folded_block_activations(const Graph& g, int project) {
    std::vector<int> fused(g.nodes.size(), -1);
    const int project_node = g.tensors[size_t(project)].producer;
    const int dw_act = g.tensors[size_t(g.nodes[size_t(project_node)].inputs[0])].producer;
    const int dw = g.tensors[size_t(g.nodes[size_t(dw_act)].inputs[0])].producer;
    fused[size_t(project_node)] = dw_act;
    const int expand_act = g.tensors[size_t(g.nodes[size_t(dw)].inputs[0])].producer;
    if (expand_act >= 0) fused[size_t(dw)] = expand_act;
    return fused;
}

// The tensor a random_block's project convolution writes.
int project_output(const Graph& g) {
    for (const Node& node : g.nodes)
        if (node.name == "project") return node.output;
    return -1;
}

}  // namespace

TEST_CASE("band backward: random small geometries in one-row and whole-image bands, bit for bit as layers") {
#ifndef EC_SIMD
    MESSAGE("no SIMD depthwise kernel on this build: no blocks form");
    return;
#endif
    std::mt19937 rng(29);
    int formed = 0, residual = 0, multi_band = 0, strided = 0;
    for (int trial = 0; trial < 400; ++trial) {
        Graph g;
        const int out = random_block(g, rng);
        if (out < 0) continue;
        const int x = g.inputs[0], project = project_output(g);
        const int project_node = g.tensors[size_t(project)].producer;
        const int dw_act = g.tensors[size_t(g.nodes[size_t(project_node)].inputs[0])].producer;
        const int dw = g.tensors[size_t(g.nodes[size_t(dw_act)].inputs[0])].producer;
        const bool expand = g.tensors[size_t(g.nodes[size_t(dw)].inputs[0])].producer >= 0;
        INFO("trial " << trial << ": input " << g.tensors[size_t(x)].shape.str() << ", output " << g.tensors[size_t(out)].shape.str());
        const int64_t cache = trial % 2 ? 1 : kBandCacheBytes;  // one-row bands, or the whole image at once
        for (int batch : {1, 2})
            for (int threads : {1, 2}) {
                const Shape xs = g.tensors[size_t(x)].shape.with_batch(batch);
                const Tensor input(xs, test::random_values(xs.numel(), rng, 2.0f));
                const Shape os = g.tensors[size_t(out)].shape.with_batch(batch);
                // Layer by layer: keep_inner_grads forms no band; d(project output) stays for the band below.
                BackwardRequest req{out, Tensor(os, test::random_values(os.numel(), rng)), {x}, false, true};
                const ForwardPlan plan = plan_forward_for_backward(g, req);
                const int before = omp_get_max_threads();
                omp_set_num_threads(threads);
                Session s;
                forward(g, s, plan, {&input});
                backward(g, s, req);
                const std::vector<float> want = test::values_of(s.grads[size_t(x)]);
                BandBlockBackward b;
                const bool found = find_band_block_backward(g, s, project_node, folded_block_activations(g, project), b, 0, cache);
                CHECK(found == expand);  // a block without an expansion has no band backward
                if (found) {
                    // The graph runner's order: the skip's Add wrote d(x) first (a copy onto +0), the block adds to it.
                    const bool skip = g.nodes[size_t(g.tensors[size_t(out)].producer)].op == OpKind::Add;
                    Tensor& dx = s.grads[size_t(x)];
                    for (int64_t i = 0; i < dx.numel(); ++i)
                        dx[i] = skip ? 0.0f + s.grads[size_t(out)][i] : std::numeric_limits<float>::quiet_NaN();
                    band_block_backward(g, s, b, skip);
                    CHECK(test::values_of(dx) == want);
                    band_block_backward(g, s, b, false);  // overwrite: NaN-free whatever was there
                    CHECK(test::max_abs(dx.ptr(), dx.numel()) < std::numeric_limits<float>::infinity());
                    if (batch == 1 && threads == 1) {
                        formed += 1, residual += skip, strided += g.nodes[size_t(dw)].conv.stride_h == 2;
                        multi_band += b.band_rows < g.nodes[size_t(dw)].conv.in_h;
                    }
                }
                omp_set_num_threads(before);
            }
    }
    INFO(formed << " blocks, " << residual << " with the skip, " << strided << " strided, " << multi_band << " in several bands");
    CHECK(formed >= 160);
    CHECK(residual >= 6);
    CHECK(strided >= 60);
    CHECK(multi_band >= 60);
}

TEST_CASE("band backward without an expansion: the depthwise input gradient straight into the stem's, bit for bit") {
#ifndef EC_SIMD
    MESSAGE("no SIMD depthwise kernel on this build: no blocks form");
    return;
#endif
    std::mt19937 rng(31);
    int formed = 0, strided = 0, multi_band = 0;
    for (int trial = 0; trial < 300; ++trial) {
        Graph g;
        const int out = random_block(g, rng, true);
        if (out < 0) continue;
        const int project = project_output(g), project_node = g.tensors[size_t(project)].producer;
        const int dw_act = g.tensors[size_t(g.nodes[size_t(project_node)].inputs[0])].producer;
        const int dw = g.tensors[size_t(g.nodes[size_t(dw_act)].inputs[0])].producer;
        const int stem_act = g.tensors[size_t(g.nodes[size_t(dw)].inputs[0])].producer;
        if (g.nodes[size_t(stem_act)].name != "stem") continue;  // an expansion: the test above
        const int stem_out = g.nodes[size_t(stem_act)].inputs[0];  // the block's result: d(stem convolution output)
        const int x = g.inputs[0];
        INFO("trial " << trial << ": input " << g.tensors[size_t(x)].shape.str() << ", output " << g.tensors[size_t(out)].shape.str());
        const int64_t cache = trial % 2 ? 1 : kBandCacheBytes;
        for (int batch : {1, 2})
            for (int threads : {1, 2}) {
                const Shape xs = g.tensors[size_t(x)].shape.with_batch(batch);
                const Tensor input(xs, test::random_values(xs.numel(), rng, 2.0f));
                const Shape os = g.tensors[size_t(out)].shape.with_batch(batch);
                BackwardRequest req{out, Tensor(os, test::random_values(os.numel(), rng)), {x}, false, true};
                const int before = omp_get_max_threads();
                omp_set_num_threads(threads);
                Session s;
                forward(g, s, plan_forward_for_backward(g, req), {&input});
                backward(g, s, req);  // layer by layer (keep_inner_grads forms no band)
                const std::vector<float> want = test::values_of(s.grads[size_t(stem_out)]);
                BandBlockBackward b;
                REQUIRE(find_band_block_backward(g, s, project_node, folded_block_activations(g, project), b, 0, cache));
                CHECK(b.expand == -1);
                CHECK(b.expand_act == stem_act);
                Tensor& d = s.grads[size_t(stem_out)];
                d.fill(std::numeric_limits<float>::quiet_NaN());  // every value overwritten
                band_block_backward(g, s, b, false);
                CHECK(test::values_of(d) == want);
                CHECK_THROWS_AS(band_block_backward(g, s, b, true), Error);  // it has nothing to add to
                omp_set_num_threads(before);
                if (batch == 1 && threads == 1) {
                    formed += 1, strided += g.nodes[size_t(dw)].conv.stride_h == 2;
                    multi_band += b.band_rows < g.nodes[size_t(dw)].conv.in_h;
                }
            }
    }
    INFO(formed << " blocks, " << strided << " strided, " << multi_band << " in several bands");
    CHECK(formed >= 60);
    CHECK(strided >= 20);
    CHECK(multi_band >= 20);
}

namespace {

// The input gradient of `classes` (one per image) banded and layer by layer (keep_inner_grads forms no band) on
// `threads`: checks the two are the same bit for bit and not all zero; returns the banded session (its node times
// recorded, so a node whose backward ran inside a block reads 0).
Session banded_against_layers(const Model& m, const Tensor& input, const std::vector<int>& classes, int threads) {
    const Graph& g = m.graph;
    BackwardRequest banded{m.logits, one_hot_seed(g.tensors[size_t(m.logits)].shape.with_batch(input.shape[0]), classes),
                           {g.inputs[0]}};
    BackwardRequest layers = banded;
    layers.keep_inner_grads = true;
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    Session a, b;
    forward(g, a, plan_forward_for_backward(g, banded), {&input});
    a.node_backward_ms.assign(g.nodes.size(), 0.0);
    backward(g, a, banded);
    forward(g, b, plan_forward_for_backward(g, layers), {&input});
    backward(g, b, layers);
    omp_set_num_threads(before);
    CHECK(test::values_of(a.grads[size_t(g.inputs[0])]) == test::values_of(b.grads[size_t(g.inputs[0])]));
    CHECK(test::max_abs(a.grads[size_t(g.inputs[0])].ptr(), a.grads[size_t(g.inputs[0])].numel()) > 0);
    return a;
}

}  // namespace

TEST_CASE("band backward on MobileNetV2: the early blocks run banded; the input gradient bit for bit as layers" * test::needs_shared()) {
#ifndef EC_SIMD
    MESSAGE("no SIMD depthwise kernel on this build: no blocks form (the layer-by-layer backward is tested elsewhere)");
    return;
#endif
    const Model& m = test::imported_model("mobilenet_v2_1.0_224_quant");
    const Graph& g = m.graph;
    const Tensor x = test::reference_input("mobilenet_v2_1.0_224_quant");
    Tensor x2(x.shape.with_batch(2));
    for (int n = 0; n < 2; ++n) std::copy(x.data.begin(), x.data.end(), x2.data.begin() + n * x.numel());
    // The first block's depthwise convolution (no expansion: it reads the stem's ReLU6) and the second's
    // (112 x 112 x 96, stride 2).
    int banded_node = -1, first_block = -1;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        if (g.nodes[i].name == "MobilenetV2/expanded_conv_1/depthwise/Relu6/pre_activation") banded_node = int(i);
        if (g.nodes[i].name == "MobilenetV2/expanded_conv/depthwise/Relu6/pre_activation") first_block = int(i);
    }
    REQUIRE(banded_node >= 0);
    REQUIRE(first_block >= 0);
    for (const Tensor* input : {&x, static_cast<const Tensor*>(&x2)})
        for (int threads : {1, 2}) {
            INFO("batch " << input->shape[0] << ", threads " << threads);
            const Session a = banded_against_layers(m, *input, std::vector<int>(size_t(input->shape[0]), 1), threads);
            for (int node : {banded_node, first_block}) {
                CHECK(a.node_backward_ms[size_t(node)] == 0.0);  // its work ran inside the block's project node
                CHECK(a.grads[size_t(g.nodes[size_t(node)].output)].data.empty());  // never formed
            }
        }
}

TEST_CASE("band backward on MobileNetV1: pairs without an expansion run banded; the input gradient bit for bit as layers" * test::needs_shared()) {
#ifndef EC_SIMD
    MESSAGE("no SIMD depthwise kernel on this build: no blocks form");
    return;
#endif
    // MobileNetV1's depthwise + pointwise pairs read the previous pointwise convolution's ReLU6: no expansion of
    // their own (that convolution has its input's activation folded into its backward), so where the activations
    // outweigh the weights they band as MobileNetV2's first block does.
    const Model& m = test::imported_model("mobilenet_v1_0.75_192_quant");
    const Graph& g = m.graph;
    const Tensor x = test::reference_input("mobilenet_v1_0.75_192_quant");
    for (int threads : {1, 2}) {
        INFO("threads " << threads);
        const Session a = banded_against_layers(m, x, {1}, threads);
        int banded_depthwise = 0;  // depthwise convolutions whose backward ran inside their pair's pointwise node
        for (size_t i = 0; i < g.nodes.size(); ++i)
            if (g.nodes[i].op == OpKind::Conv2D && g.nodes[i].conv.groups > 1 && a.node_backward_ms[i] == 0.0) ++banded_depthwise;
        CHECK(banded_depthwise >= 2);
    }
}
