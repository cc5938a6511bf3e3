// Gradient check of the whole graph runtime (nn/graph.h: the backward wiring of every op kind, parameter gradients
// included), not of the kernels alone: one small graph uses all 14 op kinds, and its analytic gradients are compared
// with central differences of its own forward pass.
//
// The graph runs in float32 only (Tensor is float; the double kernels exist only for the per-kernel checks of
// test_ops.cpp and test_conv2d.cpp, and a double graph would mean a second runtime to test). So the check is in
// float, with a tolerance derived from the step h and float eps:
//   rounding:   each of L(x + hv), L(x - hv) carries a float error of at most about kRoundingSteps * eps * S,
//               S = sum of |per-sample losses| (+1); the quotient then errs by kRoundingSteps * eps * S / h.
//   truncation: the graph is piecewise linear except softmax and the cross-entropy, whose third derivative along a
//               unit direction is bounded by ~|J|^3 (J the Jacobian norm into the logits, about 1 here): h^2 / 6.
// Piecewise-linear pieces are only exact if no ReLU/ReLU6 input crosses 0 or 6 and no max-pool window changes
// its arg max between x - hv and x + hv: every evaluation checks that (kink_pattern) and fails if one did, and
// the inputs are drawn so that the margins at x are wide (printed). A wrong gradient (a missing branch of Add, a
// transposed FC, a gradient sent to the wrong pool cell) is wrong by O(|grad|); the tolerance must be far below.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nn/graph.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace {

using namespace ec;

constexpr double kEpsFloat = 5.96e-8;   // 2^-24
// Rounding of a float sum of m terms grows like sqrt(m) ulps of its scale (random walk); the longest sum here is
// FC 240->7: sqrt(240) ~ 16. Measured: the worst quotient error is 0.19 of the resulting tolerance.
constexpr double kRoundingSteps = 16;
constexpr double kStep = 2e-3;

struct AllOpsNet {
    Graph g;
    int x = -1, target = -1, loss = -1;
};

int random_param(Graph& g, const std::string& name, const Shape& shape, test::Rng& rng, double scale) {
    return add_param(g, name, shape, test::random_vector<float>(rng, size_t(shape.numel()), -scale, scale));
}

// x [N,7,7,3] -> Pad(1,0,2,1) -> Conv 3x3 VALID (+bias) -> ReLU6 = r1
//   r1 -> depthwise 3x3 SAME dilation 2 -> BiasAdd -> ReLU = r2;  Add(r1, r2) = sum
//   grouped conv g2 3x3 s2 SAME (+bias) of sum, MaxPool 2x2 s2 VALID of the first conv's output (no ties between
//   ReLU-dead zeros), AvgPool 3x3 s2 SAME of sum -> Concat [N,3,4,20]
//       -> Reshape [N,240] -> FC 240->7 = h1
//   Concat [N,3,4,20] -> GlobalAvgPool -> Reshape [N,20] = gp2 (a second consumer of the Concat)
//   sum -> GlobalAvgPool -> Reshape [N,6] = gp
//   Concat(h1, gp, gp2) [N,33] -> Softmax -> FC 13->5 (no bias) -> SoftmaxCrossEntropy(., target) -> loss [N]
AllOpsNet all_ops_net(uint64_t seed) {
    test::Rng rng(seed);
    AllOpsNet r;
    Graph& g = r.g;
    r.x = add_input(g, "x", {1, 7, 7, 3});
    r.target = add_input(g, "target", {1, 5});
    const int padded = pad(g, "pad", r.x, 1, 0, 2, 1);  // [1,8,10,3]
    Conv2DOptions valid;
    const int c1 = conv2d(g, "conv", padded, random_param(g, "conv/w", {3, 3, 3, 6}, rng, 1.2),
                          random_param(g, "conv/b", {6}, rng, 1.0), valid);  // [1,6,8,6]
    const int r1 = relu6(g, "relu6", c1);
    Conv2DOptions dw;
    dw.padding.kind = Padding::Same, dw.dilation_h = dw.dilation_w = 2, dw.groups = 6;
    const int c2 = conv2d(g, "dw", r1, random_param(g, "dw/w", {3, 3, 1, 6}, rng, 0.5), -1, dw);
    const int b2 = bias_add(g, "bias", c2, random_param(g, "bias/b", {6}, rng, 1.0));
    const int r2 = relu(g, "relu", b2);
    const int sum = add(g, "add", r1, r2);
    Conv2DOptions grouped;
    grouped.padding.kind = Padding::Same, grouped.stride_h = grouped.stride_w = 2, grouped.groups = 2;
    const int c3 = conv2d(g, "grouped", sum, random_param(g, "grouped/w", {3, 3, 3, 8}, rng, 0.3),
                          random_param(g, "grouped/b", {8}, rng, 0.5), grouped);  // [1,3,4,8]
    PoolOptions mp;  // 2x2 stride 2 VALID: [1,3,4,6]
    const int maxp = max_pool(g, "maxpool", c1, mp);  // on a pre-activation: no ties between dead zeros
    PoolOptions ap;
    ap.kernel_h = ap.kernel_w = 3, ap.padding.kind = Padding::Same;  // stride 2: [1,3,4,6]
    const int avgp = avg_pool(g, "avgpool", sum, ap);
    const int cat4 = concat(g, "concat4d", {c3, maxp, avgp});  // [1,3,4,20]
    const int flat = reshape(g, "flatten", cat4, {1, 240});
    const int h1 = fully_connected(g, "fc1", flat, random_param(g, "fc1/w", {240, 7}, rng, 0.1),
                                   random_param(g, "fc1/b", {7}, rng, 0.5));
    // A second consumer of the Concat output, built after the Reshape so that its backward runs first: a Reshape
    // backward that overwrote instead of accumulating would lose it.
    const int gp2 = reshape(g, "gap2/flat", global_avg_pool(g, "gap2", cat4), {1, 20});
    const int gp = reshape(g, "gap/flat", global_avg_pool(g, "gap", sum), {1, 6});
    const int cat2 = concat(g, "concat2d", {h1, gp, gp2});  // [1,33]
    const int probs = softmax(g, "softmax", cat2);
    const int logits = fully_connected(g, "fc2", probs, random_param(g, "fc2/w", {33, 5}, rng, 3.0), -1);
    r.loss = softmax_cross_entropy(g, "loss", logits, r.target);
    return r;
}

// Which linear piece the graph is on: for every ReLU/ReLU6 input element its side of 0 (and 6), for every max-pool
// window the position of its first maximum. Equal patterns at x - hv and x + hv mean the graph is one smooth
// function on the segment between them.
std::vector<int> kink_pattern(const Graph& g, const Session& s) {
    std::vector<int> p;
    for (const Node& n : g.nodes) {
        const Tensor& in = s.values[size_t(n.inputs[0])];
        if (n.op == OpKind::Relu || n.op == OpKind::Relu6)
            for (float v : in.data) p.push_back(v <= 0 ? 0 : (n.op == OpKind::Relu6 && v >= 6) ? 2 : 1);
        if (n.op != OpKind::MaxPool) continue;
        const PoolGeometry& pg = n.pool;
        const int batch = in.shape.n();
        for (int b = 0; b < batch; ++b)
            for (int y = 0; y < pg.out_h; ++y)
                for (int x = 0; x < pg.out_w; ++x)
                    for (int c = 0; c < pg.channels; ++c) {
                        int best = -1;
                        float best_v = 0;
                        for (int ky = 0; ky < pg.kernel_h; ++ky)
                            for (int kx = 0; kx < pg.kernel_w; ++kx) {
                                const int iy = y * pg.stride_h + ky - pg.pad_top, ix = x * pg.stride_w + kx - pg.pad_left;
                                if (iy < 0 || iy >= pg.in_h || ix < 0 || ix >= pg.in_w) continue;
                                const float v = in[((int64_t(b) * pg.in_h + iy) * pg.in_w + ix) * pg.channels + c];
                                if (best < 0 || v > best_v) best = ky * pg.kernel_w + kx, best_v = v;
                            }
                        p.push_back(best);
                    }
    }
    return p;
}

// The smallest distance of a ReLU/ReLU6 input to a kink and the smallest gap between a max-pool window's largest
// and second-largest value, at the current point: how far a perturbation may move before the pattern can change.
double kink_margin(const Graph& g, const Session& s) {
    double m = 1e30;
    for (const Node& n : g.nodes) {
        const Tensor& in = s.values[size_t(n.inputs[0])];
        if (n.op == OpKind::Relu) for (float v : in.data) m = std::min(m, double(std::fabs(v)));
        if (n.op == OpKind::Relu6)
            for (float v : in.data) m = std::min({m, double(std::fabs(v)), double(std::fabs(v - 6))});
        if (n.op != OpKind::MaxPool) continue;
        const PoolGeometry& pg = n.pool;  // VALID windows here: every cell is inside the image
        for (int b = 0; b < in.shape.n(); ++b)
            for (int y = 0; y < pg.out_h; ++y)
                for (int x = 0; x < pg.out_w; ++x)
                    for (int c = 0; c < pg.channels; ++c) {
                        std::vector<float> w;
                        for (int ky = 0; ky < pg.kernel_h; ++ky)
                            for (int kx = 0; kx < pg.kernel_w; ++kx)
                                w.push_back(in[((int64_t(b) * pg.in_h + y * pg.stride_h + ky) * pg.in_w + x * pg.stride_w + kx) *
                                                   pg.channels + c]);
                        std::sort(w.rbegin(), w.rend());
                        m = std::min(m, double(w[0] - w[1]));
                    }
    }
    return m;
}

struct Checker {
    AllOpsNet& net;
    Tensor x, target;
    std::vector<float> seed;  // dL/d loss_n
    std::vector<int> pattern;

    // L = sum_n seed_n * loss_n, in double from the float losses; checks the kink pattern has not changed.
    double loss(double* scale = nullptr) {
        Session s;
        forward(net.g, s, {&x, &target});
        const Tensor& l = s.values[size_t(net.loss)];
        double sum = 0, abs_sum = 1;
        for (int64_t n = 0; n < l.numel(); ++n) sum += double(seed[size_t(n)]) * l[n], abs_sum += std::fabs(double(seed[size_t(n)]) * l[n]);
        if (scale) *scale = abs_sum;
        const bool same_piece = kink_pattern(net.g, s) == pattern;
        CHECK_MESSAGE(same_piece, "a perturbation crossed a ReLU/ReLU6 kink or changed a max-pool arg max");
        return sum;
    }
};

// Tolerance on a difference quotient at step h: rounding of both losses, plus softmax truncation (header).
double fd_tolerance(double loss_scale, double h) { return kRoundingSteps * kEpsFloat * loss_scale / h + h * h / 6; }

// One variable of the loss: the input or a parameter, its values (perturbed in place) and its analytic gradient.
struct Variable {
    std::string name;
    float* values;
    int64_t size;
    const float* grad;
};

// Directional derivatives along random unit directions: (L(x + hv) - L(x - hv)) / 2h against <grad, v>.
// Returns the worst |error| / tol.
double check_directions(Checker& ck, const Variable& v, test::Rng& rng, int count, double tol) {
    double worst = 0;
    for (int d = 0; d < count; ++d) {
        std::vector<double> dir = test::random_vector(rng, size_t(v.size));
        double norm = 0, analytic = 0;
        for (double e : dir) norm += e * e;
        norm = std::sqrt(norm);
        for (int64_t i = 0; i < v.size; ++i) dir[size_t(i)] /= norm, analytic += v.grad[i] * dir[size_t(i)];
        const std::vector<float> saved(v.values, v.values + v.size);
        for (int64_t i = 0; i < v.size; ++i) v.values[i] = float(saved[size_t(i)] + kStep * dir[size_t(i)]);
        const double up = ck.loss();
        for (int64_t i = 0; i < v.size; ++i) v.values[i] = float(saved[size_t(i)] - kStep * dir[size_t(i)]);
        const double down = ck.loss();
        std::copy(saved.begin(), saved.end(), v.values);
        // The float rounding of x + hv changes the step actually taken; it is part of the rounding term.
        const double numeric = (up - down) / (2 * kStep), err = std::fabs(numeric - analytic);
        worst = std::max(worst, err / tol);
        INFO("direction " << d << ": numeric " << numeric << ", analytic " << analytic);
        CHECK(err <= tol);
    }
    return worst;
}

// Central differences along every coordinate. Returns the worst |error| / tol.
double check_coordinates(Checker& ck, const Variable& v, double tol) {
    double worst = 0;
    for (int64_t i = 0; i < v.size; ++i) {
        const float saved = v.values[i];
        v.values[i] = float(saved + kStep);
        const double up = ck.loss();
        v.values[i] = float(saved - kStep);
        const double down = ck.loss();
        v.values[i] = saved;
        const double h = (double(float(saved + kStep)) - double(float(saved - kStep))) / 2;  // the step taken
        const double numeric = (up - down) / (2 * h), err = std::fabs(numeric - v.grad[i]);
        worst = std::max(worst, err / tol);
        INFO("element " << i << ": numeric " << numeric << ", analytic " << v.grad[i]);
        CHECK(err <= tol);
    }
    return worst;
}

// Inputs away from the kinks on purpose: draws inputs until every ReLU/ReLU6 input is at least `margin` from 0
// and 6 and every max-pool window's top two differ by `margin`. Leaves the forward values of the chosen x in s.
double draw_input_away_from_kinks(Checker& ck, Session& s, test::Rng& rng, double margin) {
    double m = 0;
    int draws = 0;
    for (; draws < 2000 && m < margin; ++draws) {
        ck.x = Tensor(ck.x.shape, test::random_vector<float>(rng, size_t(ck.x.numel()), -2, 2));
        forward(ck.net.g, s, {&ck.x, &ck.target});
        m = kink_margin(ck.net.g, s);
    }
    REQUIRE_MESSAGE(m >= margin, "no input among " << draws << " draws keeps " << margin << " from every kink");
    return m;
}

}  // namespace

TEST_CASE("graph gradcheck: every op kind, input and parameter gradients, against its own forward (float)") {
    AllOpsNet net = all_ops_net(0x6A4D);
    const int batch = 2;
    test::Rng rng(0xF00D);
    Checker ck{net, Tensor({batch, 7, 7, 3}), Tensor({batch, 5}, {0.1f, 0.2f, 0.3f, 0.15f, 0.25f, 0, 0, 1, 0, 0}),
               {0.7f, -1.3f}, {}};
    Session s;
    // A perturbation of size h moves a pre-activation by about h times a few: a margin of 5 h keeps the linear
    // piece (kink_pattern verifies it on every evaluation).
    const double margin = draw_input_away_from_kinks(ck, s, rng, 5 * kStep);
    ck.pattern = kink_pattern(net.g, s);
    // Op kinds used: all of them.
    std::vector<bool> used(size_t(OpKind::SoftmaxCrossEntropy) + 1, false);
    for (const Node& n : net.g.nodes) used[size_t(n.op)] = true;
    CHECK(std::count(used.begin(), used.end(), true) == int(used.size()));
    // Both ReLU6 sides are exercised (some inputs above 6, some below 0), so its gradient mask is really tested.
    int above6 = 0, below0 = 0;
    for (const Node& n : net.g.nodes)
        if (n.op == OpKind::Relu6)
            for (float v : s.values[size_t(n.inputs[0])].data) above6 += v > 6, below0 += v < 0;
    CHECK(above6 > 0);
    CHECK(below0 > 0);

    BackwardRequest req;
    req.from = net.loss;
    req.seed = Tensor(s.values[size_t(net.loss)].shape, ck.seed);
    req.stop_at = {net.x};
    req.param_grads = true;
    backward(net.g, s, req);
    const Tensor grad_x = s.grads[size_t(net.x)];
    REQUIRE(grad_x.numel() == ck.x.numel());

    double loss_scale = 0;
    ck.loss(&loss_scale);
    const double tol = fd_tolerance(loss_scale, kStep);
    INFO("kink margin at x " << margin << ", loss scale " << loss_scale << ", step " << kStep << ", tolerance " << tol);

    std::vector<Variable> vars = {{"input x", ck.x.ptr(), ck.x.numel(), grad_x.ptr()}};
    for (size_t p = 0; p < net.g.params.size(); ++p) {
        REQUIRE(s.param_grads[p].numel() == net.g.params[p].shape.numel());
        vars.push_back({"param " + net.g.params[p].name, net.g.params[p].mutable_data(), s.param_grads[p].numel(),
                        s.param_grads[p].ptr()});
    }
    CHECK(vars.size() == 10);  // x and 9 parameters

    int directions = 0, coordinates = 0;
    double worst_ratio = 0;
    for (const Variable& v : vars) {
        INFO("variable " << v.name << " (" << v.size << " elements)");
        double grad_norm = 0;
        for (int64_t i = 0; i < v.size; ++i) grad_norm += double(v.grad[i]) * v.grad[i];
        CHECK(std::sqrt(grad_norm) > 50 * tol);  // a wrong gradient is wrong by O(|grad|): far above the tolerance
        worst_ratio = std::max(worst_ratio, check_directions(ck, v, rng, 8, tol));
        directions += 8;
        if (v.size > 300) continue;  // every coordinate of the small tensors
        worst_ratio = std::max(worst_ratio, check_coordinates(ck, v, tol));
        coordinates += int(v.size);
    }
    INFO("graph gradcheck: " << directions << " directions and " << coordinates << " coordinates, worst error "
            << worst_ratio << " of the tolerance " << tol);
    CHECK(coordinates > 500);
}
