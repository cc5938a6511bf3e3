// The graph: shape checks at build time, backward-to-a-tensor on a branching graph, batching, and the
// end-to-end proof that forward and backward agree: a tiny CNN learns a synthetic task with SGD.
#include <algorithm>
#include <cmath>
#include <random>

#include "nn/graph.h"
#include "tests/test_util.h"

using namespace ec;
using ec::test::random_values;

namespace {

int random_param(Graph& g, const std::string& name, const Shape& shape, std::mt19937& rng, float scale = 0.5f) {
    return add_param(g, name, shape, random_values(shape.numel(), rng, scale));
}

// x -> conv -> relu -> [conv -> relu] + skip -> conv -> global pool -> fc -> logits
struct ResidualNet {
    Graph g;
    int x, stem, branch, sum, head, logits;
};

ResidualNet residual_net(std::mt19937& rng) {
    ResidualNet r;
    Graph& g = r.g;
    r.x = add_input(g, "x", {1, 9, 9, 3});
    Conv2DOptions same;
    same.padding.kind = Padding::Same;
    int c1 = conv2d(g, "stem/conv", r.x, random_param(g, "w1", {3, 3, 3, 4}, rng), random_param(g, "b1", {4}, rng), same);
    r.stem = relu(g, "stem", c1);
    int c2 = conv2d(g, "branch/conv", r.stem, random_param(g, "w2", {3, 3, 4, 4}, rng), -1, same);
    r.branch = relu6(g, "branch", c2);
    r.sum = add(g, "sum", r.stem, r.branch);
    Conv2DOptions s2 = same;
    s2.stride_h = s2.stride_w = 2;
    r.head = conv2d(g, "head", r.sum, random_param(g, "w3", {3, 3, 4, 6}, rng), -1, s2);
    int pooled = global_avg_pool(g, "pool", r.head);
    int flat = reshape(g, "flat", pooled, {1, 6});
    r.logits = fully_connected(g, "logits", flat, random_param(g, "wf", {6, 5}, rng), random_param(g, "bf", {5}, rng));
    return r;
}

}  // namespace

TEST_CASE("graph: TF SAME padding gives ceil(in/stride) with the extra row at the bottom") {
    Graph g;
    int x = add_input(g, "x", {1, 8, 7, 2});
    Conv2DOptions opt;
    opt.padding.kind = Padding::Same;
    opt.stride_h = opt.stride_w = 2;
    int y = conv2d(g, "c", x, add_param(g, "w", {3, 3, 2, 1}, std::vector<float>(18, 1.0f)), -1, opt);
    CHECK(g.tensors[y].shape == Shape{1, 4, 4, 1});
    const ConvGeometry& c = g.nodes.back().conv;
    CHECK(c.pad_top == 0);   // in 8: total = (4-1)*2 + 3 - 8 = 1 -> 0 before, 1 after
    CHECK(c.pad_left == 1);  // in 7: total = (4-1)*2 + 3 - 7 = 2 -> 1 before, 1 after
}

TEST_CASE("graph: bad shapes fail at build time naming the node and both shapes") {
    Graph g;
    int x = add_input(g, "x", {1, 5, 5, 3});
    int w = add_param(g, "w", {3, 3, 4, 8}, std::vector<float>(3 * 3 * 4 * 8));
    auto message = [](auto&& f) {
        try { f(); } catch (const Error& e) { return std::string(e.what()); }
        return std::string("no error");
    };
    std::string m = message([&] { conv2d(g, "conv1", x, w, -1, {}); });
    CHECK(m.find("conv1") != std::string::npos);
    CHECK(m.find("[1,5,5,3]") != std::string::npos);
    CHECK(m.find("[3,3,4,8]") != std::string::npos);

    int big = add_param(g, "big", {7, 7, 3, 2}, std::vector<float>(7 * 7 * 3 * 2));
    m = message([&] { conv2d(g, "too_big", x, big, -1, {}); });
    CHECK(m.find("too_big") != std::string::npos);
    CHECK(m.find("larger than the padded input") != std::string::npos);

    int flat = reshape(g, "flat", x, {1, 75});
    m = message([&] { max_pool(g, "pool_on_2d", flat, {}); });
    CHECK(m.find("pool_on_2d") != std::string::npos);
    CHECK(m.find("[1,75]") != std::string::npos);

    int other = add_input(g, "other", {1, 5, 5, 4});
    m = message([&] { add(g, "sum", x, other); });
    CHECK(m.find("[1,5,5,3]") != std::string::npos);
    CHECK(m.find("[1,5,5,4]") != std::string::npos);

    m = message([&] { reshape(g, "bad_reshape", x, {1, 74}); });
    CHECK(m.find("bad_reshape") != std::string::npos);
    m = message([&] { fully_connected(g, "fc", flat, add_param(g, "wfc", {74, 2}, std::vector<float>(148)), -1); });
    CHECK(m.find("[74,2]") != std::string::npos);
    CHECK(m.find("[1,75]") != std::string::npos);
}

TEST_CASE("graph: backward to an inner tensor equals the full backward there and runs fewer nodes") {
    std::mt19937 rng(7);
    ResidualNet r = residual_net(rng);
    Tensor input({1, 9, 9, 3}, random_values(9 * 9 * 3, rng, 1.0f));
    Session s;
    forward(r.g, s, {&input});
    BackwardRequest full;
    full.from = r.logits;
    full.seed = one_hot_seed(s.values[r.logits].shape, {2});
    full.keep_inner_grads = true;  // stem's gradient is read below
    int full_nodes = backward(r.g, s, full);
    Tensor grad_full = s.grads[r.stem];
    REQUIRE(grad_full.numel() == 9 * 9 * 4);

    BackwardRequest partial = full;
    partial.stop_at = {r.stem};
    int partial_nodes = backward(r.g, s, partial);
    CHECK(partial_nodes < full_nodes);
    CHECK(full_nodes == int(r.g.nodes.size()));
    // stem/conv and the stem relu lie below the stop tensor: exactly those two are skipped.
    CHECK(partial_nodes == full_nodes - 2);
    CHECK(s.grads[r.x].data.empty());
    REQUIRE(s.grads[r.stem].numel() == grad_full.numel());
    // Same nodes, same order of accumulation: the gradients agree exactly.
    CHECK(test::max_abs_diff(s.grads[r.stem].ptr(), grad_full.ptr(), grad_full.numel()) == 0.0f);
    CHECK(test::max_abs(grad_full.ptr(), grad_full.numel()) > 0.0f);

    // Stopping at the head conv's output skips everything but the pool, reshape and FC.
    BackwardRequest near = full;
    near.stop_at = {r.head};
    CHECK(backward(r.g, s, near) == 3);
}

TEST_CASE("graph: backward hands inner gradients back once read; what it keeps equals keeping everything") {
    // Inner gradients die after their producer's backward (BackwardRequest::keep_inner_grads = false): the
    // gradients of `from` and the stop tensors are the same bit for bit, every inner one is empty, the
    // session holds fewer gradient floats, and repeated runs reuse the same buffers (no allocation).
    std::mt19937 rng(13);
    ResidualNet r = residual_net(rng);
    Tensor input({2, 9, 9, 3}, random_values(2 * 9 * 9 * 3, rng, 1.0f));
    auto grad_floats = [](const Session& s) {
        int64_t n = 0;
        for (const Tensor& t : s.grads) n += int64_t(t.data.capacity());
        return n;
    };
    for (const std::vector<int>& stops : {std::vector<int>{}, std::vector<int>{r.stem}, std::vector<int>{r.x, r.sum}}) {
        Session kept, recycled;
        forward(r.g, kept, {&input});
        forward(r.g, recycled, {&input});
        BackwardRequest req{r.logits, one_hot_seed(kept.values[r.logits].shape, {2, 4}), stops, false, true};
        const int nodes = backward(r.g, kept, req);
        req.keep_inner_grads = false;
        CHECK(backward(r.g, recycled, req) == nodes);
        const std::vector<int>& asked = stops.empty() ? r.g.inputs : stops;
        for (size_t t = 0; t < r.g.tensors.size(); ++t) {
            INFO("tensor " << r.g.tensors[t].name);
            const bool wanted = int(t) == r.logits || std::find(asked.begin(), asked.end(), int(t)) != asked.end();
            if (wanted) {
                REQUIRE(recycled.grads[t].numel() == kept.grads[t].numel());
                CHECK(test::values_of(recycled.grads[t]) == test::values_of(kept.grads[t]));
            } else {
                CHECK(recycled.grads[t].data.empty());
            }
        }
        CHECK(grad_floats(recycled) < grad_floats(kept));
        // Again, with the inner gradients' buffers now spare: nothing new is made.
        const uint64_t made = recycled.buffers_made;
        const Tensor first = recycled.grads[size_t(asked[0])];
        forward(r.g, recycled, {&input});
        backward(r.g, recycled, req);
        CHECK(recycled.buffers_made == made);
        CHECK(test::values_of(recycled.grads[size_t(asked[0])]) == test::values_of(first));
    }
}

TEST_CASE("graph: the residual gradient sums both paths (finite differences through the whole net)") {
    std::mt19937 rng(11);
    ResidualNet r = residual_net(rng);
    Tensor input({1, 9, 9, 3}, random_values(9 * 9 * 3, rng, 1.0f));
    Session s;
    forward(r.g, s, {&input});
    BackwardRequest req;
    req.from = r.logits;
    req.seed = one_hot_seed(s.values[r.logits].shape, {1});
    req.param_grads = true;
    backward(r.g, s, req);
    Tensor dx = s.grads[r.x];
    // Central differences in float: the step 1e-2 keeps rounding error (~1e-7 * |logit| / h ~ 1e-5) far
    // below the truncation error bound we allow; a ReLU kink crossed by the step would show up as one outlier,
    // so we check many coordinates and require all but a few to agree within 2e-3 relative.
    const float h = 1e-2f;
    int bad = 0, checked = 0;
    for (int64_t i = 0; i < input.numel(); i += 7) {
        Tensor plus = input, minus = input;
        plus[i] += h;
        minus[i] -= h;
        Session sp, sm;
        forward(r.g, sp, {&plus});
        forward(r.g, sm, {&minus});
        float fd = (sp.values[r.logits][1] - sm.values[r.logits][1]) / (2 * h);
        if (std::fabs(fd - dx[i]) > 2e-3f * std::max(1.0f, std::fabs(fd))) ++bad;
        ++checked;
    }
    INFO(bad << " of " << checked << " input coordinates disagree with finite differences");
    CHECK(bad <= 2);
    CHECK(!s.param_grads[r.g.find_param("w1")].data.empty());
}

TEST_CASE("graph: a batch of N rows gives the same values and gradients as N runs of batch 1") {
    std::mt19937 rng(3);
    ResidualNet r = residual_net(rng);
    const int n = 3;
    Tensor batch({n, 9, 9, 3}, random_values(n * 9 * 9 * 3, rng, 1.0f));
    Session sb;
    forward(r.g, sb, {&batch});
    BackwardRequest req;
    req.from = r.logits;
    req.seed = one_hot_seed(sb.values[r.logits].shape, {0, 4, 2});
    req.stop_at = {r.x};
    backward(r.g, sb, req);
    const std::vector<int> cls = {0, 4, 2};
    const int64_t per = 9 * 9 * 3;
    for (int i = 0; i < n; ++i) {
        Tensor one({1, 9, 9, 3}, std::vector<float>(batch.data.begin() + i * per, batch.data.begin() + (i + 1) * per));
        Session s1;
        forward(r.g, s1, {&one});
        BackwardRequest r1 = req;
        r1.seed = one_hot_seed(s1.values[r.logits].shape, {cls[i]});
        backward(r.g, s1, r1);
        CHECK(test::max_abs_diff(s1.values[r.logits].ptr(), sb.values[r.logits].ptr() + i * 5, 5) <= 1e-5f);
        CHECK(test::max_abs_diff(s1.grads[r.x].ptr(), sb.grads[r.x].ptr() + i * per, per) <= 1e-5f);
    }
}

TEST_CASE("graph: forward_until runs only what the target needs; inputs are checked") {
    std::mt19937 rng(5);
    ResidualNet r = residual_net(rng);
    Tensor input({1, 9, 9, 3}, random_values(9 * 9 * 3, rng, 1.0f));
    Session full, part;
    forward(r.g, full, {&input});
    forward_until(r.g, part, {&input}, r.sum);
    CHECK(test::max_abs_diff(full.values[r.sum].ptr(), part.values[r.sum].ptr(), part.values[r.sum].numel()) == 0.0f);
    Tensor wrong({1, 8, 9, 3});
    CHECK_THROWS_AS(forward(r.g, full, {&wrong}), Error);
    CHECK_THROWS_AS(forward(r.g, full, {}), Error);
    CHECK_THROWS_AS(one_hot_seed(Shape{1, 5}, {5}), Error);
}

// The education use: a tiny CNN (conv, ReLU, max pool, FC) learns which quadrant holds a bright square.
TEST_CASE("graph: a tiny CNN trained with SGD learns the bright-square quadrant task (>= 95 % held out)") {
    std::mt19937 rng(1234);
    const int side = 12, classes = 4, batch = 16;
    Graph g;
    int x = add_input(g, "image", {1, side, side, 1});
    int target = add_input(g, "target", {1, classes});
    Conv2DOptions same;
    same.padding.kind = Padding::Same;
    int c = conv2d(g, "conv", x, random_param(g, "conv/w", {3, 3, 1, 8}, rng, 0.4f), add_param(g, "conv/b", {8}, std::vector<float>(8, 0.0f)), same);
    int a = relu(g, "relu", c);
    PoolOptions p;  // 2x2 stride 2
    int pooled = max_pool(g, "pool", a, p);
    int flat = reshape(g, "flat", pooled, {1, 6 * 6 * 8});
    int logits = fully_connected(g, "fc", flat, random_param(g, "fc/w", {6 * 6 * 8, classes}, rng, 0.05f), add_param(g, "fc/b", {classes}, std::vector<float>(classes, 0.0f)));
    int loss = softmax_cross_entropy(g, "loss", logits, target);

    std::uniform_int_distribution<int> quad(0, 3), off(0, side / 2 - 3);
    std::normal_distribution<float> noise(0.0f, 0.1f);
    auto make_batch = [&](Tensor& images, Tensor& onehot, std::vector<int>& labels) {
        images = Tensor({batch, side, side, 1});
        onehot = Tensor({batch, classes});
        labels.assign(batch, 0);
        for (int n = 0; n < batch; ++n) {
            int q = quad(rng), y0 = (q / 2) * side / 2 + off(rng), x0 = (q % 2) * side / 2 + off(rng);
            for (int i = 0; i < side * side; ++i) images[n * side * side + i] = noise(rng);
            for (int y = y0; y < y0 + 3; ++y)
                for (int xx = x0; xx < x0 + 3; ++xx) images[(n * side + y) * side + xx] += 1.0f;
            onehot[n * classes + q] = 1.0f;
            labels[n] = q;
        }
    };
    Session s;
    std::vector<Tensor> velocity;
    Tensor images, onehot;
    std::vector<int> labels;
    for (int step = 0; step < 300; ++step) {
        make_batch(images, onehot, labels);
        forward(g, s, {&images, &onehot});
        BackwardRequest req;
        req.from = loss;
        req.seed = Tensor(s.values[loss].shape, std::vector<float>(batch, 1.0f / batch));  // mean loss
        req.stop_at = {x};
        req.param_grads = true;
        backward(g, s, req);
        sgd_step(g, s, velocity, 0.05f, 0.9f);
    }
    int correct = 0, total = 0;
    for (int b = 0; b < 25; ++b) {
        make_batch(images, onehot, labels);
        forward(g, s, {&images, &onehot});
        for (int n = 0; n < batch; ++n) {
            const float* row = s.values[logits].ptr() + n * classes;
            int best = int(std::max_element(row, row + classes) - row);
            correct += best == labels[n];
            ++total;
        }
    }
    double accuracy = double(correct) / total;
    INFO("held-out accuracy " << accuracy);
    CHECK(accuracy >= 0.95);
}
