// nn/packed_filters.h and gemm_pack_b: a packed B gives the unpacked product bit for bit (every shape edge of the
// micro-kernel, few rows and many), the 1x1 convolutions' forward and input gradients read from packed filters
// give the same values as from the filter as stored, and a graph's packed filters follow its parameters: remade
// after mutable_data(), not shared with a copy of the graph, the same pointer for concurrent callers.
#include <doctest/doctest.h>

#include <random>
#include <thread>

#include "nn/conv2d.h"
#include "nn/error.h"
#include "nn/gemm.h"
#include "nn/packed_filters.h"
#include "nn/tensor.h"
#include "tests/test_util.h"

using namespace ec;

namespace {

bool packing_available() { return gemm_packed_b_floats(8, 8) > 0; }

}  // namespace

TEST_CASE("gemm: a packed B gives the product of the B it was packed from, bit for bit") {
    if (!packing_available()) {
        CHECK_THROWS_AS(gemm_pack_b(nullptr, GemmInput{}), Error);
        return;
    }
    // A B already packed cannot be packed again.
    std::vector<float> small(16 * 16, 1.0f);
    FloatBuffer once(size_t(gemm_packed_b_floats(16, 16)));
    CHECK_THROWS_AS(gemm_pack_b(once.data(), GemmInput{small.data(), 16, 16, 16, false, true}), Error);
    std::mt19937 rng(5);
    struct Size { int m, n, k; };
    // Rows: one, few (the unpacked B streams rows there), one off a micro-tile, tall; columns: one vector, masked
    // tails, several panels; inner: one off the 256-row blocks.
    for (Size s : {Size{1, 1, 1}, Size{3, 1001, 40}, Size{5, 17, 300}, Size{7, 33, 257}, Size{13, 16, 9},
                   Size{49, 320, 1280}, Size{196, 96, 24}, Size{301, 37, 19}})
        for (bool tb : {false, true}) {
            INFO("m " << s.m << " n " << s.n << " k " << s.k << " b transposed " << tb);
            const auto a = test::random_values(int64_t(s.m) * s.k, rng);
            const auto b = test::random_values(int64_t(s.k) * s.n, rng);
            const auto bias = test::random_values(s.n, rng);
            const GemmInput stored = tb ? GemmInput{b.data(), s.n, s.k, s.k, true} : GemmInput{b.data(), s.k, s.n, s.n};
            FloatBuffer packed(size_t(gemm_packed_b_floats(s.k, s.n)));
            gemm_pack_b(packed.data(), stored);
            const GemmInput gp{packed.data(), s.k, s.n, s.n, false, true};
            GemmEpilogue ep;
            ep.bias = bias.data(), ep.lo = -1.0f, ep.hi = 2.0f;
            std::vector<float> want(size_t(s.m) * s.n), got(want.size());
            gemm(want.data(), s.n, GemmInput{a.data(), s.m, s.k, s.k}, stored, ep);
            gemm(got.data(), s.n, GemmInput{a.data(), s.m, s.k, s.k}, gp, ep);
            CHECK(test::bits_equal(got, want));
            const std::vector<float> start = got;
            gemm(want.data(), s.n, GemmInput{a.data(), s.m, s.k, s.k}, stored, true);
            gemm(got.data(), s.n, GemmInput{a.data(), s.m, s.k, s.k}, gp, true);
            CHECK(test::bits_equal(got, want));
        }
}

TEST_CASE("pointwise convolution: packed filters give the stored filter's forward and input gradients bit for bit") {
    if (!packing_available()) return;
    std::mt19937 rng(9);
    for (int trial = 0; trial < 24; ++trial) {
        ConvGeometry g;
        g.batch = 1 + int(rng() % 2), g.in_h = g.out_h = 1 + int(rng() % 9), g.in_w = g.out_w = 1 + int(rng() % 11);
        g.in_c = 1 + int(rng() % 70), g.out_c = 1 + int(rng() % 70);
        INFO("batch " << g.batch << " " << g.in_h << " x " << g.in_w << " x " << g.in_c << " -> " << g.out_c);
        const int64_t pixels = int64_t(g.batch) * g.in_h * g.in_w;
        const auto x = test::random_values(pixels * g.in_c, rng), d_out = test::random_values(pixels * g.out_c, rng);
        const auto filter = test::random_values(int64_t(g.in_c) * g.out_c, rng), bias = test::random_values(g.out_c, rng);
        FloatBuffer fwd(size_t(gemm_packed_b_floats(g.in_c, g.out_c))), bwd(size_t(gemm_packed_b_floats(g.out_c, g.in_c)));
        gemm_pack_b(fwd.data(), GemmInput{filter.data(), g.in_c, g.out_c, g.out_c});
        gemm_pack_b(bwd.data(), GemmInput{filter.data(), g.in_c, g.out_c, g.out_c, true});
        std::vector<float> want(size_t(pixels * g.out_c)), got(want.size());
        conv2d_forward_clamped(want.data(), x.data(), filter.data(), bias.data(), 0.0f, 6.0f, g, nullptr);
        conv2d_forward_clamped(got.data(), x.data(), filter.data(), bias.data(), 0.0f, 6.0f, g, nullptr, fwd.data());
        CHECK(test::bits_equal(got, want));
        std::vector<float> d_want(size_t(pixels * g.in_c)), d_got(d_want.size());
        conv2d_backward_input_overwrite(d_want.data(), d_out.data(), filter.data(), g);
        conv2d_backward_input_overwrite(d_got.data(), d_out.data(), filter.data(), g, nullptr, 0, nullptr, bwd.data());
        CHECK(test::bits_equal(d_got, d_want));
        conv2d_backward_input(d_want.data(), d_out.data(), filter.data(), g, nullptr);
        conv2d_backward_input(d_got.data(), d_out.data(), filter.data(), g, nullptr, bwd.data());
        CHECK(test::bits_equal(d_got, d_want));
    }
    // Only a 1x1 convolution reads a packed filter.
    ConvGeometry g3;
    g3.batch = 1, g3.in_h = g3.in_w = g3.out_h = g3.out_w = 4, g3.in_c = g3.out_c = 2, g3.kernel_h = g3.kernel_w = 3;
    g3.pad_top = g3.pad_left = 1;
    std::vector<float> buf(4 * 4 * 2 * 9 * 2);
    CHECK_THROWS_AS(conv2d_forward(buf.data(), buf.data(), buf.data(), nullptr, g3, nullptr, buf.data()), Error);
}

TEST_CASE("packed filters: remade after mutable_data(), fresh in a copy of the graph, one per parameter and use") {
    if (!packing_available()) return;
    std::mt19937 rng(3);
    Graph g;
    const int x = add_input(g, "x", {1, 4, 5, 24});
    const int w = add_param(g, "w", {1, 1, 24, 40}, test::random_values(24 * 40, rng));
    const int y = conv2d(g, "conv", x, w, -1, {});
    (void)y;
    const float* fwd = packed_pointwise_filter(g, w, 24, 40, FilterUse::Forward);
    const float* bwd = packed_pointwise_filter(g, w, 24, 40, FilterUse::InputGradient);
    REQUIRE(fwd);
    REQUIRE(bwd);
    CHECK(fwd != bwd);
    CHECK(packed_pointwise_filter(g, w, 24, 40, FilterUse::Forward) == fwd);  // made once
    CHECK_THROWS_AS(packed_pointwise_filter(g, w, 24, 41, FilterUse::Forward), Error);
    // A narrow filter is read as stored: padded to a panel, [40 x 3] would grow 5x or more.
    const int narrow = add_param(g, "narrow", {1, 1, 40, 3}, test::random_values(40 * 3, rng));
    CHECK(packed_pointwise_filter(g, narrow, 40, 3, FilterUse::Forward) == nullptr);
    CHECK(packed_pointwise_filter(g, narrow, 40, 3, FilterUse::InputGradient) != nullptr);  // B = [3 x 40]

    // The forward product reads what the parameter holds now: compare a packed product with the stored filter's.
    auto product_matches = [&](const Graph& graph) {
        const Param& p = graph.params[size_t(w)];
        const auto a = test::random_values(20 * 24, rng);
        std::vector<float> want(20 * 40), got(want.size());
        gemm(want.data(), 40, GemmInput{a.data(), 20, 24, 24}, GemmInput{p.data(), 24, 40, 40}, false);
        gemm(got.data(), 40, GemmInput{a.data(), 20, 24, 24},
             GemmInput{packed_pointwise_filter(graph, w, 24, 40, FilterUse::Forward), 24, 40, 40, false, true}, false);
        return test::bits_equal(got, want);
    };
    CHECK(product_matches(g));
    g.params[size_t(w)].mutable_data()[7] += 1.0f;
    CHECK(product_matches(g));

    Graph copy = g;
    copy.params[size_t(w)].mutable_data()[3] -= 2.0f;
    CHECK(product_matches(copy));
    CHECK(product_matches(g));
    CHECK(packed_pointwise_filter(copy, w, 24, 40, FilterUse::Forward) !=
          packed_pointwise_filter(g, w, 24, 40, FilterUse::Forward));

    // Sessions on several threads share one packed copy.
    Graph fresh = g;
    const float* seen[4] = {};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] { seen[t] = packed_pointwise_filter(fresh, w, 24, 40, FilterUse::InputGradient); });
    for (auto& t : threads) t.join();
    for (const float* p : seen) CHECK(p == seen[0]);
    CHECK(seen[0] != nullptr);

    Graph moved = std::move(fresh);
    CHECK(packed_pointwise_filter(moved, w, 24, 40, FilterUse::InputGradient) == seen[0]);  // moved with the graph
}
