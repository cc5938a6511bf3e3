// The non-convolution ops: finite-difference gradient checks in double for every input and parameter gradient
// (the kernels are templates, so the double instantiation is the same code as the float product), the kink and
// tie conventions stated in the headers, the fully connected fast kernels against their naive reference, and
// the multi-threaded paths of the element-wise kernels on arrays large enough to take them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "nn/activation.h"
#include "nn/concat.h"
#include "nn/dense.h"
#include "nn/elementwise.h"
#include "nn/pool.h"
#include "nn/softmax.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace {

using ec::test::check_gradient;
using ec::test::random_vector;
using ec::test::Rng;
using ec::test::weighted_sum;
using Vec = std::vector<double>;

// Runs a backward kernel into a buffer that starts from random values and returns what it added: a kernel that
// overwrites instead of accumulating then fails every gradient check below.
template <typename Backward>
Vec accumulated_gradient(Rng& rng, size_t n, Backward&& backward) {
    const Vec start = random_vector(rng, n);
    Vec grad = start;
    backward(grad.data());
    for (size_t i = 0; i < n; ++i) grad[i] -= start[i];
    return grad;
}

// Values in +-[0.05, 1]: at least 0.05 = 500 FD steps away from the ReLU kink at 0.
Vec away_from_zero(Rng& rng, size_t n) {
    Vec v(n);
    for (auto& x : v) x = (rng.uniform(0, 1) < 0.5 ? -1 : 1) * rng.uniform(0.05, 1.0);
    return v;
}

// A shuffled ramp scaled by 0.01 plus noise under 0.001: values at least 0.008 apart (80 FD steps), so no max-pool
// window changes its argmax when one value moves by the FD step.
Vec distinct_values(Rng& rng, size_t n) {
    std::vector<size_t> rank(n);
    std::iota(rank.begin(), rank.end(), size_t(0));
    for (size_t i = n; i > 1; --i) std::swap(rank[i - 1], rank[rng.next() % i]);
    Vec v(n);
    for (size_t i = 0; i < n; ++i) v[i] = 0.01 * double(rank[i]) - 0.005 * double(n) + rng.uniform(0, 0.001);
    return v;
}

// TF SAME pooling geometry on a batch-2 input (out = ceil(in / s), the odd padding row after).
ec::PoolGeometry same_pool(int in_h, int in_w, int channels, int k, int s) {
    ec::PoolGeometry g;
    g.batch = 2, g.in_h = in_h, g.in_w = in_w, g.channels = channels, g.kernel_h = g.kernel_w = k;
    g.stride_h = g.stride_w = s;
    g.out_h = (in_h + s - 1) / s, g.out_w = (in_w + s - 1) / s;
    g.pad_top = std::max((g.out_h - 1) * s + k - in_h, 0) / 2;
    g.pad_left = std::max((g.out_w - 1) * s + k - in_w, 0) / 2;
    return g;
}
size_t pool_in(const ec::PoolGeometry& g) { return size_t(g.batch) * g.in_h * g.in_w * g.channels; }
size_t pool_out(const ec::PoolGeometry& g) { return size_t(g.batch) * g.out_h * g.out_w * g.channels; }

}  // namespace

// ------------------------------------------------------------------------------------------- activations

TEST_CASE("relu and relu6 gradients match finite differences away from the kinks") {
    Rng rng(1);
    const size_t n = 200;
    Vec x = away_from_zero(rng, n);
    for (size_t i = 0; i < n; i += 3) x[i] *= 8;  // spread over [-8, 8] to reach the upper kink of ReLU6
    for (auto& v : x)                              // and keep 0.05 away from 6 as well
        if (std::fabs(v - 6) < 0.05) v = 6 + (v < 6 ? -0.05 : 0.05);
    REQUIRE(std::count_if(x.begin(), x.end(), [](double v) { return v > 6; }) > 5);
    const Vec w = random_vector(rng, n);
    Vec out(n);

    // Backward reads the forward output (nn/activation.h).
    Vec y(n);
    ec::relu_forward(y.data(), x.data(), int64_t(n));
    const Vec d_relu = accumulated_gradient(rng, n, [&](double* d) { ec::relu_backward(d, w.data(), y.data(), int64_t(n)); });
    check_gradient("relu", x, d_relu, [&] { ec::relu_forward(out.data(), x.data(), int64_t(n)); return weighted_sum(out, w); });

    ec::relu6_forward(y.data(), x.data(), int64_t(n));
    const Vec d_relu6 = accumulated_gradient(rng, n, [&](double* d) { ec::relu6_backward(d, w.data(), y.data(), int64_t(n)); });
    check_gradient("relu6", x, d_relu6, [&] { ec::relu6_forward(out.data(), x.data(), int64_t(n)); return weighted_sum(out, w); });
}

TEST_CASE("relu and relu6 take derivative 0 exactly at the kinks, 1 just inside") {
    const float tiny = 1e-6f;
    const std::vector<float> x = {0.0f, -0.0f, tiny, -tiny, 6.0f, 6.0f - 4 * tiny, 6.0f + 4 * tiny, 3.0f, -3.0f, 7.0f};
    const int64_t n = int64_t(x.size());
    std::vector<float> ones(x.size(), 1.0f), out(x.size()), d(x.size());

    // Backward reads the output: the masks below are those of the input, kinks included.
    ec::relu_forward(out.data(), x.data(), n);
    CHECK(out == std::vector<float>{0, 0, tiny, 0, 6, 6 - 4 * tiny, 6 + 4 * tiny, 3, 0, 7});
    ec::relu_backward(d.data(), ones.data(), out.data(), n);
    CHECK(d == std::vector<float>{0, 0, 1, 0, 1, 1, 1, 1, 0, 1});

    ec::relu6_forward(out.data(), x.data(), n);
    CHECK(out == std::vector<float>{0, 0, tiny, 0, 6, 6 - 4 * tiny, 6, 3, 0, 6});
    std::fill(d.begin(), d.end(), 0.0f);
    ec::relu6_backward(d.data(), ones.data(), out.data(), n);
    CHECK(d == std::vector<float>{0, 0, 1, 0, 0, 1, 0, 1, 0, 0});
}

TEST_CASE("relu and relu6 backward: overwriting gives accumulating onto zeros, bit for bit; accumulating adds") {
    Rng rng(2);
    const int64_t n = 40000;  // above the 2^15 threshold: the threaded loops too
    const auto x = random_vector<float>(rng, size_t(n), -8, 8);
    auto d_out = random_vector<float>(rng, size_t(n));
    for (size_t i = 0; i < d_out.size(); i += 7) d_out[i] = -0.0f;  // +0 + -0 is +0: the overwrite must say so too
    std::vector<float> y(x.size());
    for (bool six : {false, true}) {
        INFO((six ? "relu6" : "relu"));
        auto backward = [&](float* d, bool overwrite) {
            six ? ec::relu6_backward(d, d_out.data(), y.data(), n, overwrite) : ec::relu_backward(d, d_out.data(), y.data(), n, overwrite);
        };
        six ? ec::relu6_forward(y.data(), x.data(), n) : ec::relu_forward(y.data(), x.data(), n);
        std::vector<float> zeros(x.size(), 0.0f), garbage(x.size(), std::numeric_limits<float>::quiet_NaN());
        backward(zeros.data(), false);
        backward(garbage.data(), true);
        CHECK(std::memcmp(zeros.data(), garbage.data(), sizeof(float) * x.size()) == 0);
        std::vector<float> twice = zeros;
        backward(twice.data(), false);
        int bad = 0;
        for (int64_t i = 0; i < n; ++i) bad += twice[size_t(i)] != zeros[size_t(i)] + zeros[size_t(i)];
        CHECK(bad == 0);
        CHECK(std::count(zeros.begin(), zeros.end(), 0.0f) > n / 4);  // the masks bite
    }
}

// ------------------------------------------------------------------------------------------- element-wise

TEST_CASE("add, bias add and pad gradients match finite differences") {
    Rng rng(2);
    SUBCASE("add") {
        const size_t n = 60;
        Vec a = random_vector(rng, n), b = random_vector(rng, n), out(n);
        const Vec w = random_vector(rng, n);
        auto loss = [&] { ec::add_forward(out.data(), a.data(), b.data(), int64_t(n)); return weighted_sum(out, w); };
        // The analytic gradient in closed form, not from a kernel: d(sum w * (a + b)) / da = d / db = w.
        check_gradient("add d_a", a, w, loss);
        check_gradient("add d_b", b, w, loss);
        // accumulate (what the graph runs as Add's backward, test_graph_gradcheck.cpp) adds exactly w.
        const Vec d = accumulated_gradient(rng, n, [&](double* g) { ec::accumulate(g, w.data(), int64_t(n)); });
        for (size_t i = 0; i < n; ++i) CHECK(d[i] == doctest::Approx(w[i]).epsilon(1e-12));
    }
    SUBCASE("bias add") {
        const int rows = 14, channels = 5;
        const size_t n = size_t(rows) * channels;
        Vec x = random_vector(rng, n), bias = random_vector(rng, channels), out(n);
        const Vec w = random_vector(rng, n);
        auto loss = [&] { ec::bias_add_forward(out.data(), x.data(), bias.data(), rows, channels); return weighted_sum(out, w); };
        const Vec d_x = accumulated_gradient(rng, n, [&](double* g) { ec::accumulate(g, w.data(), int64_t(n)); });
        const Vec d_bias = accumulated_gradient(rng, channels, [&](double* g) { ec::bias_add_backward_bias(g, w.data(), rows, channels); });
        check_gradient("bias add d_in", x, d_x, loss);
        check_gradient("bias add d_bias", bias, d_bias, loss);
    }
    SUBCASE("pad") {
        ec::PadGeometry g;
        g.batch = 2, g.in_h = 3, g.in_w = 4, g.channels = 3, g.top = 1, g.bottom = 2, g.left = 0, g.right = 1;
        const int out_h = 6, out_w = 5;
        const size_t n_in = 2 * 3 * 4 * 3, n_out = size_t(2) * out_h * out_w * 3;
        Vec x = random_vector(rng, n_in), out(n_out, 99.0);
        const Vec w = random_vector(rng, n_out);
        ec::pad_forward(out.data(), x.data(), g);
        // Spot checks of the layout: a border cell is 0, an interior one is the input shifted by (top, left).
        CHECK(out[0] == 0.0);                                                  // [0, 0, 0, 0]: top row
        CHECK(out[((0 * out_h + 1) * out_w + 0) * 3 + 2] == x[2]);             // [0, 1, 0, 2] = in[0, 0, 0, 2]
        CHECK(out[((1 * out_h + 3) * out_w + 3) * 3 + 1] == x[((1 * 3 + 2) * 4 + 3) * 3 + 1]);
        CHECK(out[((1 * out_h + 3) * out_w + 4) * 3 + 1] == 0.0);              // right border
        CHECK(out[((1 * out_h + 5) * out_w + 2) * 3 + 0] == 0.0);              // bottom border
        auto loss = [&] { ec::pad_forward(out.data(), x.data(), g); return weighted_sum(out, w); };
        const Vec d = accumulated_gradient(rng, n_in, [&](double* d_in) { ec::pad_backward(d_in, w.data(), g); });
        check_gradient("pad d_in", x, d, loss);
    }
}

// ------------------------------------------------------------------------------------------- pooling

TEST_CASE("max pool gradient matches finite differences on distinct values (SAME padding)") {
    Rng rng(3);
    for (auto [k, s, h, w] : {std::tuple{3, 2, 7, 6}, std::tuple{2, 2, 5, 5}, std::tuple{3, 1, 4, 5}}) {
        const ec::PoolGeometry g = same_pool(h, w, 3, k, s);
        INFO("kernel " << k << " stride " << s << " input " << h << "x" << w);
        Vec x = distinct_values(rng, pool_in(g)), out(pool_out(g));
        const Vec wt = random_vector(rng, pool_out(g));
        auto loss = [&] { ec::max_pool_forward(out.data(), x.data(), g); return weighted_sum(out, wt); };
        const Vec d = accumulated_gradient(rng, x.size(), [&](double* d_in) { ec::max_pool_backward(d_in, wt.data(), x.data(), g); });
        check_gradient("max pool d_in", x, d, loss);
    }
}

TEST_CASE("max pool ignores padding and sends a tied window's gradient to its first maximum") {
    ec::PoolGeometry g;  // one channel, 2x3 input, 2x2 windows stride 1, padding 1 on top/left -> 3x4 output
    g.batch = 1, g.in_h = 2, g.in_w = 3, g.channels = 1, g.kernel_h = g.kernel_w = 2;
    g.out_h = 3, g.out_w = 4, g.pad_top = 1, g.pad_left = 1;
    // All negative, so a max pool that counted the zero padding would output 0 on the border.
    const std::vector<float> x = {-1, -1, -3,
                                  -1, -2, -3};
    std::vector<float> out(12), d_out(12, 1.0f), d_in(6, 0.0f);
    ec::max_pool_forward(out.data(), x.data(), g);
    CHECK(out == std::vector<float>{-1, -1, -1, -3, -1, -1, -1, -3, -1, -1, -2, -3});
    ec::max_pool_backward(d_in.data(), d_out.data(), x.data(), g);
    // Window (oy, ox) covers input rows oy-1..oy and columns ox-1..ox (clipped). Ties go to the first maximum in
    // (ky, kx) order: input (0,0) wins windows (0,0),(0,1),(1,0),(1,1); (0,1) wins (0,2),(1,2); (1,0) wins (2,0),
    // (2,1); (1,1) wins (2,2) (-2 over -3); (0,2) wins (0,3) and the tie (1,3); (1,2) wins (2,3).
    CHECK(d_in == std::vector<float>{4, 2, 2, 2, 1, 1});
}

TEST_CASE("avg pool gradient matches finite differences with SAME padding (window counts vary)") {
    Rng rng(4);
    for (auto [k, s, h, w] : {std::tuple{3, 2, 6, 7}, std::tuple{3, 1, 4, 4}, std::tuple{2, 2, 5, 3}}) {
        const ec::PoolGeometry g = same_pool(h, w, 3, k, s);
        INFO("kernel " << k << " stride " << s << " input " << h << "x" << w);
        Vec x = random_vector(rng, pool_in(g)), out(pool_out(g));
        const Vec wt = random_vector(rng, pool_out(g));
        auto loss = [&] { ec::avg_pool_forward(out.data(), x.data(), g); return weighted_sum(out, wt); };
        const Vec d = accumulated_gradient(rng, x.size(), [&](double* d_in) { ec::avg_pool_backward(d_in, wt.data(), g); });
        check_gradient("avg pool d_in", x, d, loss);
    }
}

TEST_CASE("avg pool divides by the number of cells inside the image") {
    const ec::PoolGeometry g = same_pool(4, 4, 1, 3, 1);  // pad 1 all round: corner windows see 4 cells, edges 6
    REQUIRE(g.pad_top == 1);
    std::vector<float> ones(pool_in(g), 1.0f), out(pool_out(g));
    ec::avg_pool_forward(out.data(), ones.data(), g);
    for (float v : out) CHECK(v == doctest::Approx(1.0f));  // a constant image averages to itself everywhere
    std::vector<float> x(pool_in(g), 0.0f);  // two 4x4 images
    std::iota(x.begin(), x.begin() + 16, 0.0f);  // first image: 0..15 row-major
    ec::avg_pool_forward(out.data(), x.data(), g);
    CHECK(out[0] == doctest::Approx((0 + 1 + 4 + 5) / 4.0));       // corner: 4 cells
    CHECK(out[1] == doctest::Approx((0 + 1 + 2 + 4 + 5 + 6) / 6.0));  // edge: 6 cells
    CHECK(out[5] == doctest::Approx((0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9.0));
}

TEST_CASE("global avg pool gradient matches finite differences") {
    Rng rng(5);
    const int batch = 3, h = 4, w = 5, c = 7;
    Vec x = random_vector(rng, size_t(batch) * h * w * c), out(size_t(batch) * c);
    const Vec wt = random_vector(rng, out.size());
    auto loss = [&] { ec::global_avg_pool_forward(out.data(), x.data(), batch, h, w, c); return weighted_sum(out, wt); };
    const Vec d = accumulated_gradient(rng, x.size(), [&](double* d_in) { ec::global_avg_pool_backward(d_in, wt.data(), batch, h, w, c); });
    check_gradient("global avg pool d_in", x, d, loss);
}

// ------------------------------------------------------------------------------------------- fully connected

TEST_CASE("fully connected fast kernels match the naive reference") {
    Rng rng(6);
    // Relative to the largest magnitude: both sum up to 1280 products of O(1) terms in float, in different
    // orders; rounding adds like a random walk, sqrt(1280) * 2^-24 ~ 2e-6 of the result (measured worst 1.6e-6),
    // so 1e-5 is 5x above rounding and far below the O(1) error of a transposed or shifted index.
    constexpr float tol = 1e-5f;
    for (auto [batch, in_f, out_f] : {std::tuple{1, 1280, 1001}, std::tuple{3, 17, 5}, std::tuple{2, 5, 33}, std::tuple{1, 1, 1}}) {
        INFO("batch " << batch << ", " << in_f << " -> " << out_f);
        const auto x = random_vector<float>(rng, size_t(batch) * in_f);
        const auto wt = random_vector<float>(rng, size_t(in_f) * out_f);
        const auto bias = random_vector<float>(rng, size_t(out_f));
        const auto d_out = random_vector<float>(rng, size_t(batch) * out_f);
        std::vector<float> out(d_out.size(), 1e9f), out_ref(d_out.size());
        ec::fully_connected_forward(out.data(), x.data(), wt.data(), bias.data(), batch, in_f, out_f);
        ec::fully_connected_forward_reference(out_ref.data(), x.data(), wt.data(), bias.data(), batch, in_f, out_f);
        ec::test::check_close_rel_max("forward", out.data(), out_ref.data(), int64_t(out.size()), tol);
        ec::fully_connected_forward(out.data(), x.data(), wt.data(), nullptr, batch, in_f, out_f);
        ec::fully_connected_forward_reference(out_ref.data(), x.data(), wt.data(), nullptr, batch, in_f, out_f);
        ec::test::check_close_rel_max("forward without bias", out.data(), out_ref.data(), int64_t(out.size()), tol);

        auto d_in = random_vector<float>(rng, x.size()), d_in_ref = d_in;  // accumulate into the same start
        ec::fully_connected_backward_input(d_in.data(), d_out.data(), wt.data(), batch, in_f, out_f);
        ec::fully_connected_backward_input_reference(d_in_ref.data(), d_out.data(), wt.data(), batch, in_f, out_f);
        ec::test::check_close_rel_max("backward input", d_in.data(), d_in_ref.data(), int64_t(d_in.size()), tol);

        auto d_w = random_vector<float>(rng, wt.size()), d_w_ref = d_w;
        auto d_b = random_vector<float>(rng, bias.size()), d_b_ref = d_b;
        ec::fully_connected_backward_params(d_w.data(), d_b.data(), d_out.data(), x.data(), batch, in_f, out_f);
        ec::fully_connected_backward_params_reference(d_w_ref.data(), d_b_ref.data(), d_out.data(), x.data(), batch, in_f, out_f);
        ec::test::check_close_rel_max("backward weight", d_w.data(), d_w_ref.data(), int64_t(d_w.size()), tol);
        ec::test::check_close_rel_max("backward bias", d_b.data(), d_b_ref.data(), int64_t(d_b.size()), tol);
    }
}

TEST_CASE("fully connected reference gradients match finite differences") {
    Rng rng(7);
    const int batch = 3, in_f = 7, out_f = 5;
    Vec x = random_vector(rng, size_t(batch) * in_f), wt = random_vector(rng, size_t(in_f) * out_f);
    Vec bias = random_vector(rng, size_t(out_f)), out(size_t(batch) * out_f);
    const Vec w = random_vector(rng, out.size());
    auto loss = [&] {
        ec::fully_connected_forward_reference(out.data(), x.data(), wt.data(), bias.data(), batch, in_f, out_f);
        return weighted_sum(out, w);
    };
    const Vec d_x = accumulated_gradient(rng, x.size(), [&](double* d) {
        ec::fully_connected_backward_input_reference(d, w.data(), wt.data(), batch, in_f, out_f);
    });
    Vec d_b(bias.size());
    const Vec d_w = accumulated_gradient(rng, wt.size(), [&](double* d) {
        ec::fully_connected_backward_params_reference(d, d_b.data(), w.data(), x.data(), batch, in_f, out_f);
    });
    check_gradient("fc d_in", x, d_x, loss);
    check_gradient("fc d_weight", wt, d_w, loss);
    check_gradient("fc d_bias", bias, d_b, loss);
}

// ------------------------------------------------------------------------------------------- concat

TEST_CASE("concat places inputs side by side and its gradient matches finite differences") {
    Rng rng(8);
    const int widths[3] = {2, 5, 1};
    const int64_t rows = 6;
    Vec a = random_vector(rng, rows * 2), b = random_vector(rng, rows * 5), c = random_vector(rng, rows * 1);
    Vec out(rows * 8);
    const double* inputs[3] = {a.data(), b.data(), c.data()};
    ec::concat_forward(out.data(), inputs, widths, 3, rows);
    CHECK(out[8 * 4 + 0] == a[2 * 4 + 0]);
    CHECK(out[8 * 4 + 2 + 3] == b[5 * 4 + 3]);
    CHECK(out[8 * 5 + 7] == c[5]);
    const Vec w = random_vector(rng, out.size());
    auto loss = [&] { ec::concat_forward(out.data(), inputs, widths, 3, rows); return weighted_sum(out, w); };
    Vec start_a = random_vector(rng, a.size()), start_c = random_vector(rng, c.size());
    Vec d_a = start_a, d_c = start_c;
    double* d_inputs[3] = {d_a.data(), nullptr, d_c.data()};  // no gradient wanted for b
    ec::concat_backward(d_inputs, w.data(), widths, 3, rows);
    for (size_t i = 0; i < a.size(); ++i) d_a[i] -= start_a[i];
    for (size_t i = 0; i < c.size(); ++i) d_c[i] -= start_c[i];
    check_gradient("concat d_a", a, d_a, loss);
    check_gradient("concat d_c", c, d_c, loss);
    Vec d_b(b.size());
    double* d_only_b[3] = {nullptr, d_b.data(), nullptr};
    ec::concat_backward(d_only_b, w.data(), widths, 3, rows);
    check_gradient("concat d_b", b, d_b, loss);
}

// ------------------------------------------------------------------------------------------- softmax

TEST_CASE("softmax is a stable probability vector and its gradient matches finite differences") {
    Rng rng(9);
    const int rows = 3, classes = 7;
    Vec x = random_vector(rng, size_t(rows) * classes, -3, 3), out(x.size());
    x[3] += 1000;  // would overflow exp without the max shift
    ec::softmax_forward(out.data(), x.data(), rows, classes);
    for (int r = 0; r < rows; ++r)
        CHECK(std::accumulate(out.begin() + r * classes, out.begin() + (r + 1) * classes, 0.0) == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(out[3] == doctest::Approx(1.0).epsilon(1e-12));
    x[3] -= 1000;
    const Vec w = random_vector(rng, out.size());
    auto loss = [&] { ec::softmax_forward(out.data(), x.data(), rows, classes); return weighted_sum(out, w); };
    loss();
    const Vec y = out;
    const Vec d = accumulated_gradient(rng, x.size(), [&](double* d_in) { ec::softmax_backward(d_in, w.data(), y.data(), rows, classes); });
    check_gradient("softmax d_in", x, d, loss);

    // The float instantiation agrees with the double one to float rounding.
    std::vector<float> xf(x.begin(), x.end()), yf(x.size());
    ec::softmax_forward(yf.data(), xf.data(), rows, classes);
    for (size_t i = 0; i < y.size(); ++i) CHECK(yf[i] == doctest::Approx(y[i]).epsilon(1e-6));
}

TEST_CASE("softmax cross-entropy value and gradient (one-hot and unnormalised soft targets)") {
    Rng rng(10);
    const int rows = 3, classes = 6;
    Vec logits = random_vector(rng, size_t(rows) * classes, -3, 3), loss_out(rows);
    // Row 0 one-hot, row 1 a probability vector, row 2 sums to 1.7 (exercises the sum_j target_j factor).
    Vec target(logits.size(), 0.0);
    target[0 * classes + 4] = 1.0;
    for (int k = 0; k < classes; ++k) target[1 * classes + k] = (k + 1) / 21.0;
    for (int k = 0; k < classes; ++k) target[2 * classes + k] = 1.7 * (k % 2 ? 0.4 : 0.2) / 1.8;
    Vec p(logits.size());
    ec::softmax_forward(p.data(), logits.data(), rows, classes);
    ec::softmax_cross_entropy_forward(loss_out.data(), logits.data(), target.data(), rows, classes);
    for (int r = 0; r < rows; ++r) {
        double want = 0;
        for (int k = 0; k < classes; ++k) want -= target[r * classes + k] * std::log(p[r * classes + k]);
        CHECK(loss_out[r] == doctest::Approx(want).epsilon(1e-12));
    }
    const Vec w = random_vector(rng, rows);  // L = sum_r loss_r * w_r, so d_loss = w
    auto loss = [&] { ec::softmax_cross_entropy_forward(loss_out.data(), logits.data(), target.data(), rows, classes); return weighted_sum(loss_out, w); };
    const Vec d = accumulated_gradient(rng, logits.size(), [&](double* d_logits) {
        ec::softmax_cross_entropy_backward(d_logits, w.data(), logits.data(), target.data(), rows, classes);
    });
    check_gradient("softmax cross-entropy d_logits", logits, d, loss);
    // Large logits stay finite: loss of a confident correct row is ~0, of a confident wrong row ~ the margin.
    Vec big = {1000, 0, -1000, 0, 1000, 0}, onehot = {1, 0, 0, 1, 0, 0}, l2(2);
    ec::softmax_cross_entropy_forward(l2.data(), big.data(), onehot.data(), 2, 3);
    CHECK(l2[0] == doctest::Approx(0.0));
    CHECK(l2[1] == doctest::Approx(1000.0));
}

// ------------------------------------------------------------------------------------------- threaded paths

TEST_CASE("element-wise kernels are exact on arrays large enough to run multi-threaded") {
    Rng rng(11);
    const int rows = 40000, channels = 3;  // 120000 elements, above the 2^15 threshold
    const int64_t n = int64_t(rows) * channels;
    const auto a = random_vector<float>(rng, size_t(n), -8, 8), b = random_vector<float>(rng, size_t(n));
    const auto bias = random_vector<float>(rng, channels);
    std::vector<float> out(static_cast<size_t>(n)), d(static_cast<size_t>(n), 0.5f);
    int bad = 0;
    ec::relu6_forward(out.data(), a.data(), n);
    for (int64_t i = 0; i < n; ++i) bad += out[i] != std::min(std::max(a[i], 0.0f), 6.0f);
    ec::relu_backward(d.data(), b.data(), a.data(), n);  // reads the output; a's sign is its output's
    for (int64_t i = 0; i < n; ++i) bad += d[i] != 0.5f + (a[i] > 0 ? b[i] : 0.0f);
    ec::add_forward(out.data(), a.data(), b.data(), n);
    for (int64_t i = 0; i < n; ++i) bad += out[i] != a[i] + b[i];
    ec::bias_add_forward(out.data(), a.data(), bias.data(), rows, channels);
    for (int64_t i = 0; i < n; ++i) bad += out[i] != a[i] + bias[i % channels];
    const int widths[2] = {1, 2};
    const float* parts[2] = {a.data(), b.data()};
    ec::concat_forward(out.data(), parts, widths, 2, rows);
    for (int64_t p = 0; p < rows; ++p)
        bad += out[p * 3] != a[p] || out[p * 3 + 1] != b[p * 2] || out[p * 3 + 2] != b[p * 2 + 1];
    CHECK(bad == 0);
}
