// Convolution: the fast kernels (pointwise GEMM, depthwise loops, im2col + GEMM) against the naive reference on a
// sweep of awkward geometries, the reference against hand-computed values, and the reference's backward passes
// against finite differences in double.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "nn/conv2d.h"
#include "nn/conv2d_depthwise_3x3.h"
#include "nn/tensor.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace {

using ec::ConvGeometry;
using ec::test::Rng;
using ec::test::random_vector;

// TensorFlow SAME padding on one axis: out = ceil(in / s), total = max((out-1)*s + (k-1)*d + 1 - in, 0), and the
// smaller half (floor) goes before, the odd extra row after.
void same_axis(int in, int k, int s, int d, int& out, int& pad_before) {
    out = (in + s - 1) / s;
    const int total = std::max((out - 1) * s + (k - 1) * d + 1 - in, 0);
    pad_before = total / 2;
}

ConvGeometry make_geometry(int batch, int in_h, int in_w, int in_c, int out_c, int kh, int kw, int stride, int dilation,
                           int groups, bool same) {
    ConvGeometry g;
    g.batch = batch, g.in_h = in_h, g.in_w = in_w, g.in_c = in_c, g.out_c = out_c;
    g.kernel_h = kh, g.kernel_w = kw, g.stride_h = g.stride_w = stride, g.dilation_h = g.dilation_w = dilation;
    g.groups = groups;
    if (same) {
        same_axis(in_h, kh, stride, dilation, g.out_h, g.pad_top);
        same_axis(in_w, kw, stride, dilation, g.out_w, g.pad_left);
    } else {  // VALID
        g.out_h = (in_h - (kh - 1) * dilation - 1) / stride + 1;
        g.out_w = (in_w - (kw - 1) * dilation - 1) / stride + 1;
    }
    return g;
}

int64_t in_count(const ConvGeometry& g) { return int64_t(g.batch) * g.in_h * g.in_w * g.in_c; }
int64_t out_count(const ConvGeometry& g) { return int64_t(g.batch) * g.out_h * g.out_w * g.out_c; }
int64_t filter_count(const ConvGeometry& g) { return int64_t(g.kernel_h) * g.kernel_w * (g.in_c / g.groups) * g.out_c; }

struct NamedGeometry {
    std::string name;
    ConvGeometry g;
};

std::vector<NamedGeometry> sweep() {
    std::vector<NamedGeometry> v;
    auto add = [&](std::string name, ConvGeometry g) { v.push_back({std::move(name), g}); };
    // regular convolutions (im2col path)
    add("3x3 s1 same 7x9x5->6 n1", make_geometry(1, 7, 9, 5, 6, 3, 3, 1, 1, 1, true));
    add("3x3 s2 same odd 7x7x3->17 n3", make_geometry(3, 7, 7, 3, 17, 3, 3, 2, 1, 1, true));
    add("3x3 s2 same even 8x6x3->8 n1", make_geometry(1, 8, 6, 3, 8, 3, 3, 2, 1, 1, true));
    add("3x3 d2 same 9x8x4->5 n2", make_geometry(2, 9, 8, 4, 5, 3, 3, 1, 2, 1, true));
    add("5x5 s2 valid 11x10x3->4 n1", make_geometry(1, 11, 10, 3, 4, 5, 5, 2, 1, 1, false));
    add("2x4 s2 same even 6x8x5->3 n1", make_geometry(1, 6, 8, 5, 3, 2, 4, 2, 1, 1, true));
    add("3x3 valid 1x1 output 3x3x5->7 n3", make_geometry(3, 3, 3, 5, 7, 3, 3, 1, 1, 1, false));
    add("3x3 s1 same on 1x1 input 1x1x17->5 n1", make_geometry(1, 1, 1, 17, 5, 3, 3, 1, 1, 1, true));
    add("1x1 s2 (not pointwise) 7x6x5->3 n1", make_geometry(1, 7, 6, 5, 3, 1, 1, 2, 1, 1, true));
    // grouped
    add("grouped g2 3x3 s1 same 6x5x6->10 n1", make_geometry(1, 6, 5, 6, 10, 3, 3, 1, 1, 2, true));
    add("grouped g3 3x3 s2 same 7x8x9->6 n3", make_geometry(3, 7, 8, 9, 6, 3, 3, 2, 1, 3, true));
    add("grouped g2 1x1 5x5x4->6 n1", make_geometry(1, 5, 5, 4, 6, 1, 1, 1, 1, 2, true));
    // pointwise (one GEMM)
    add("pointwise 1x1 5x7x17->5 n3", make_geometry(3, 5, 7, 17, 5, 1, 1, 1, 1, 1, true));
    add("pointwise 1x1 4x4x3->33 n1", make_geometry(1, 4, 4, 3, 33, 1, 1, 1, 1, 1, true));
    add("pointwise 1x1 1x1x5->17 n1", make_geometry(1, 1, 1, 5, 17, 1, 1, 1, 1, 1, true));
    // depthwise
    add("depthwise m1 3x3 s1 same 9x7x17 n3", make_geometry(3, 9, 7, 17, 17, 3, 3, 1, 1, 17, true));
    add("depthwise m1 3x3 s2 same even 8x8x17 n1", make_geometry(1, 8, 8, 17, 17, 3, 3, 2, 1, 17, true));
    add("depthwise m1 3x3 s2 same odd 7x9x35 n2", make_geometry(2, 7, 9, 35, 35, 3, 3, 2, 1, 35, true));
    add("depthwise m2 3x3 s1 same 7x6x5->10 n1", make_geometry(1, 7, 6, 5, 10, 3, 3, 1, 1, 5, true));
    add("depthwise m2 3x3 s2 d2 same 9x8x3->6 n3", make_geometry(3, 9, 8, 3, 6, 3, 3, 2, 2, 3, true));
    add("depthwise m1 5x5 s2 same 6x6x16 n1", make_geometry(1, 6, 6, 16, 16, 5, 5, 2, 1, 16, true));
    add("depthwise m1 3x3 valid 1x1 output 3x3x5 n1", make_geometry(1, 3, 3, 5, 5, 3, 3, 1, 1, 5, false));
    add("depthwise m1 3x3 same on 1x1 input 1x1x3 n2", make_geometry(2, 1, 1, 3, 3, 3, 3, 1, 1, 3, true));
    // large enough (over 2^15 multiply-adds or copies) to take the multi-threaded loops
    add("threaded depthwise m1 3x3 s2 same 33x30x24 n2", make_geometry(2, 33, 30, 24, 24, 3, 3, 2, 1, 24, true));
    add("threaded depthwise m2 3x3 s1 same 20x20x8->16 n1", make_geometry(1, 20, 20, 8, 16, 3, 3, 1, 1, 8, true));
    add("threaded 3x3 s1 same 25x23x8->12 n1", make_geometry(1, 25, 23, 8, 12, 3, 3, 1, 1, 1, true));
    add("threaded grouped g2 3x3 s1 same 40x40x8->8 n2", make_geometry(2, 40, 40, 8, 8, 3, 3, 1, 1, 2, true));
    add("threaded pointwise 1x1 30x30x40->24 n2", make_geometry(2, 30, 30, 40, 24, 1, 1, 1, 1, 1, true));
    // edges of the SIMD kernels (gemm_kernel.cpp: 12 x 32 (AVX-512) or 6 x 16 (AVX2) micro-tiles, inner blocks of
    // 128 or 256; conv2d_depthwise_3x3*.cpp: 16- or 8-channel blocks, 6, 4 and 1 interior pixels a step, column
    // pairs for the stride-2 input gradient, border pixels and rows): rows and columns off the register block,
    // inner dimensions over one block, channels 1, 3, 5, 17, 96, 960, widths 1..13.
    add("pointwise 1x1 5x5x1->1 n1", make_geometry(1, 5, 5, 1, 1, 1, 1, 1, 1, 1, true));
    add("pointwise 1x1 13x11x96->47 n1", make_geometry(1, 13, 11, 96, 47, 1, 1, 1, 1, 1, true));
    add("pointwise 1x1 7x7x960->17 n1", make_geometry(1, 7, 7, 960, 17, 1, 1, 1, 1, 1, true));
    add("pointwise 1x1 3x5x300->96 n2", make_geometry(2, 3, 5, 300, 96, 1, 1, 1, 1, 1, true));
    add("pointwise 1x1 2x3x5->960 n1", make_geometry(1, 2, 3, 5, 960, 1, 1, 1, 1, 1, true));
    add("3x3 s2 same first conv 17x16x3->32 n2", make_geometry(2, 17, 16, 3, 32, 3, 3, 2, 1, 1, true));
    for (int c : {1, 3, 5, 17, 96})
        for (int w : {1, 2, 5, 9, 12, 13})
            for (int s : {1, 2}) {
                const std::string shape = std::to_string(w + 1) + "x" + std::to_string(w) + "x" + std::to_string(c);
                add("depthwise m1 3x3 s" + std::to_string(s) + " same " + shape + " n2",
                    make_geometry(2, w + 1, w, c, c, 3, 3, s, 1, c, true));
                if (w >= 3)
                    add("depthwise m1 3x3 s" + std::to_string(s) + " valid " + shape + " n1",
                        make_geometry(1, w + 1, w, c, c, 3, 3, s, 1, c, false));
            }
    add("depthwise m1 3x3 s1 same 7x7x960 n1", make_geometry(1, 7, 7, 960, 960, 3, 3, 1, 1, 960, true));
    add("depthwise m1 3x3 s2 same 14x14x960 n1", make_geometry(1, 14, 14, 960, 960, 3, 3, 2, 1, 960, true));
    // explicit, lopsided padding and per-axis stride/dilation
    {
        ConvGeometry g = make_geometry(2, 6, 7, 4, 5, 3, 2, 1, 1, 1, false);
        g.stride_h = 2, g.stride_w = 1, g.dilation_h = 1, g.dilation_w = 2, g.pad_top = 2, g.pad_left = 1;
        g.out_h = 4, g.out_w = 6;  // bottom pad (4-1)*2+3-6-2 = 1, right pad (6-1)+2+1-7-1 = 0
        add("explicit pads 3x2 s(2,1) d(1,2) 6x7x4->5 n2", g);
        ConvGeometry d = g;
        d.in_c = d.out_c = d.groups = 6;
        add("depthwise explicit pads 3x2 s(2,1) d(1,2) 6x7x6 n2", d);
    }
    return v;
}

// Relative tolerance of the fast float kernels against the float reference, measured against the largest
// magnitude of the result. Both sum the same products in float, in different orders (GEMM blocking, per-channel
// loops). Rounding errors of a sum of m terms add like a random walk: about sqrt(m) * 2^-24 of the result's scale.
// The largest sums here (backward filter over 2 * 40 * 40 = 3200 positions) give sqrt(3200) * 6e-8 ~ 3.4e-6;
// the measured worst over the sweep is 1.3e-6 (4e-7 for the small geometries). A wrong index or a missed tap
// costs O(1), so 2e-5 leaves a 6x margin over the estimate and 4 orders below a bug.
constexpr float kFastVsReferenceTol = 2e-5f;

void check_fast_matches_reference(const NamedGeometry& c) {
    const ConvGeometry& g = c.g;
    INFO("geometry: " << c.name);
    Rng rng(0xC0417 + uint64_t(in_count(g)) * 31 + uint64_t(g.out_c));
    const auto in = random_vector<float>(rng, size_t(in_count(g)));
    const auto filter = random_vector<float>(rng, size_t(filter_count(g)));
    const auto bias = random_vector<float>(rng, size_t(g.out_c));
    const auto d_out = random_vector<float>(rng, size_t(out_count(g)));
    // Backward kernels accumulate: both start from the same nonzero values, so a kernel that overwrites fails.
    const auto d_in0 = random_vector<float>(rng, size_t(in_count(g)));
    const auto d_filter0 = random_vector<float>(rng, size_t(filter_count(g)));
    const auto d_bias0 = random_vector<float>(rng, size_t(g.out_c));
    // Scratch of exactly the advertised size, filled with NaN: a kernel that reads scratch it did not write, or
    // beyond its size (under ASan), fails.
    std::vector<float> scratch(ec::conv2d_scratch_floats(g), std::numeric_limits<float>::quiet_NaN());

    std::vector<float> out(size_t(out_count(g)), std::numeric_limits<float>::quiet_NaN()), out_ref(out.size());
    ec::conv2d_forward(out.data(), in.data(), filter.data(), bias.data(), g, scratch.data());
    ec::conv2d_forward_reference(out_ref.data(), in.data(), filter.data(), bias.data(), g);
    ec::test::check_close_rel_max("forward", out.data(), out_ref.data(), int64_t(out.size()), kFastVsReferenceTol);

    std::vector<float> out_no_bias(out.size()), out_no_bias_ref(out.size());
    ec::conv2d_forward(out_no_bias.data(), in.data(), filter.data(), nullptr, g, scratch.data());
    ec::conv2d_forward_reference(out_no_bias_ref.data(), in.data(), filter.data(), nullptr, g);
    ec::test::check_close_rel_max("forward without bias", out_no_bias.data(), out_no_bias_ref.data(),
                                  int64_t(out.size()), kFastVsReferenceTol);

    // The fused activation: the reference output clamped. The range cuts through the outputs (of scale ~1) so
    // both bounds bite; values within the tolerance of a bound may land on either side of it.
    const float lo = -0.5f, hi = 0.75f;
    std::vector<float> clamped(out.size()), clamped_ref(out.size());
    ec::conv2d_forward_clamped(clamped.data(), in.data(), filter.data(), bias.data(), lo, hi, g, scratch.data());
    for (size_t i = 0; i < out.size(); ++i) clamped_ref[i] = std::min(std::max(out_ref[i], lo), hi);
    // Measured against the unclamped outputs' scale: clamping shrinks the values, not the rounding of the sums.
    const float clamp_diff = ec::test::max_abs_diff(clamped.data(), clamped_ref.data(), int64_t(out.size()));
    INFO("forward clamped: max |diff| " << clamp_diff);
    CHECK(clamp_diff <= kFastVsReferenceTol * std::max(ec::test::max_abs(out_ref.data(), int64_t(out.size())), 1e-30f));

    auto d_in = d_in0, d_in_ref = d_in0;
    ec::conv2d_backward_input(d_in.data(), d_out.data(), filter.data(), g, scratch.data());
    ec::conv2d_backward_input_reference(d_in_ref.data(), d_out.data(), filter.data(), g);
    ec::test::check_close_rel_max("backward input", d_in.data(), d_in_ref.data(), int64_t(d_in.size()),
                                  kFastVsReferenceTol);

    // The direct depthwise 3x3 kernel's overwriting form (a gradient buffer's first writer): accumulating onto
    // zeros, bit for bit, whatever the buffer held.
    if (ec::depthwise_3x3_backward_input_applies(g)) {
        std::vector<float> zeros(d_in0.size(), 0.0f), garbage(d_in0.size(), std::numeric_limits<float>::quiet_NaN());
        ec::depthwise_3x3_backward_input(zeros.data(), d_out.data(), filter.data(), g);
        ec::depthwise_3x3_backward_input(garbage.data(), d_out.data(), filter.data(), g, true);
        CHECK(std::memcmp(zeros.data(), garbage.data(), sizeof(float) * zeros.size()) == 0);
    }

    auto d_filter = d_filter0, d_filter_ref = d_filter0;
    auto d_bias = d_bias0, d_bias_ref = d_bias0;
    ec::conv2d_backward_filter(d_filter.data(), d_bias.data(), d_out.data(), in.data(), g, scratch.data());
    ec::conv2d_backward_filter_reference(d_filter_ref.data(), d_bias_ref.data(), d_out.data(), in.data(), g);
    ec::test::check_close_rel_max("backward filter", d_filter.data(), d_filter_ref.data(), int64_t(d_filter.size()),
                                  kFastVsReferenceTol);
    ec::test::check_close_rel_max("backward bias", d_bias.data(), d_bias_ref.data(), int64_t(d_bias.size()),
                                  kFastVsReferenceTol);

    // A null d_bias is allowed and leaves the filter gradient unchanged.
    auto d_filter_no_bias = d_filter0;
    ec::conv2d_backward_filter(d_filter_no_bias.data(), nullptr, d_out.data(), in.data(), g, scratch.data());
    ec::test::check_close_rel_max("backward filter without bias", d_filter_no_bias.data(), d_filter_ref.data(),
                                  int64_t(d_filter.size()), kFastVsReferenceTol);
}

}  // namespace

TEST_CASE("conv2d fast kernels match the naive reference on a sweep of geometries") {
    for (const auto& c : sweep()) check_fast_matches_reference(c);
}

TEST_CASE("conv2d reference and fast kernel give hand-computed values (VALID and SAME stride 2)") {
    // in = 1..9 in a 3x3 image, filter [[1,2],[3,4]], bias 0.5.
    std::vector<float> in = {1, 2, 3, 4, 5, 6, 7, 8, 9}, filter = {1, 2, 3, 4}, bias = {0.5f};
    ConvGeometry valid = make_geometry(1, 3, 3, 1, 1, 2, 2, 1, 1, 1, false);
    // out[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, then 47, 67, 77.
    const std::vector<float> want_valid = {37.5f, 47.5f, 67.5f, 77.5f};
    // SAME stride 2: out 2x2, total pad (2-1)*2 + 2 - 3 = 1 -> top/left 0, bottom/right 1:
    // [0,1] = 3*1 + 6*3 = 21, [1,0] = 7*1 + 8*2 = 23, [1,1] = 9*1.
    ConvGeometry same = make_geometry(1, 3, 3, 1, 1, 2, 2, 2, 1, 1, true);
    CHECK(same.pad_top == 0);
    const std::vector<float> want_same = {37.5f, 21.5f, 23.5f, 9.5f};
    for (auto [g, want] : {std::pair{valid, want_valid}, std::pair{same, want_same}}) {
        REQUIRE(out_count(g) == 4);
        std::vector<float> out(4), out_ref(4), scratch(ec::conv2d_scratch_floats(g));
        ec::conv2d_forward(out.data(), in.data(), filter.data(), bias.data(), g, scratch.data());
        ec::conv2d_forward_reference(out_ref.data(), in.data(), filter.data(), bias.data(), g);
        for (int i = 0; i < 4; ++i) {
            CHECK(out_ref[i] == want[i]);
            CHECK(out[i] == doctest::Approx(want[i]).epsilon(1e-6));
        }
    }
}

TEST_CASE("conv2d geometry errors are reported") {
    ConvGeometry g = make_geometry(1, 5, 5, 6, 4, 3, 3, 1, 1, 4, true);  // 6 channels in 4 groups
    CHECK_THROWS_AS(ec::check_conv_geometry(g), ec::Error);
    CHECK_THROWS_AS(ec::conv2d_scratch_floats(g), ec::Error);
    g = make_geometry(1, 5, 5, 6, 4, 3, 3, 1, 1, 1, true);
    CHECK_NOTHROW(ec::check_conv_geometry(g));
    REQUIRE(ec::conv2d_scratch_floats(g) > 0);
    std::vector<float> in(size_t(in_count(g))), filter(size_t(filter_count(g))), out(size_t(out_count(g)));
    CHECK_THROWS_AS(ec::conv2d_forward(out.data(), in.data(), filter.data(), nullptr, g, nullptr), ec::Error);
    g.stride_h = 0;
    CHECK_THROWS_AS(ec::check_conv_geometry(g), ec::Error);
}

TEST_CASE("conv2d reference gradients match finite differences (double)") {
    std::vector<NamedGeometry> cases = {
        {"3x3 s2 same odd 5x5x3->4 n2", make_geometry(2, 5, 5, 3, 4, 3, 3, 2, 1, 1, true)},
        {"3x3 s2 same even 6x4x2->3 n1", make_geometry(1, 6, 4, 2, 3, 3, 3, 2, 1, 1, true)},
        {"3x3 d2 same 5x6x2->3 n1", make_geometry(1, 5, 6, 2, 3, 3, 3, 1, 2, 1, true)},
        {"depthwise m1 3x3 s2 same 5x6x4 n2", make_geometry(2, 5, 6, 4, 4, 3, 3, 2, 1, 4, true)},
        {"depthwise m2 3x3 s1 d2 same 5x5x3->6 n1", make_geometry(1, 5, 5, 3, 6, 3, 3, 1, 2, 3, true)},
        {"grouped g3 3x3 s1 same 4x4x6->3 n1", make_geometry(1, 4, 4, 6, 3, 3, 3, 1, 1, 3, true)},
        {"pointwise 1x1 4x3x5->3 n2", make_geometry(2, 4, 3, 5, 3, 1, 1, 1, 1, 1, true)},
    };
    for (const auto& c : cases) {
        const ConvGeometry& g = c.g;
        INFO("geometry: " << c.name);
        Rng rng(0xFD + uint64_t(in_count(g)));
        auto in = random_vector(rng, size_t(in_count(g)));
        auto filter = random_vector(rng, size_t(filter_count(g)));
        auto bias = random_vector(rng, size_t(g.out_c));
        const auto w = random_vector(rng, size_t(out_count(g)));  // L = sum out * w, so d_out = w
        std::vector<double> out(w.size());
        auto loss = [&] {
            ec::conv2d_forward_reference(out.data(), in.data(), filter.data(), bias.data(), g);
            return ec::test::weighted_sum(out, w);
        };
        std::vector<double> d_in(in.size()), d_filter(filter.size()), d_bias(bias.size());
        ec::conv2d_backward_input_reference(d_in.data(), w.data(), filter.data(), g);
        ec::conv2d_backward_filter_reference(d_filter.data(), d_bias.data(), w.data(), in.data(), g);
        ec::test::check_gradient("d input", in, d_in, loss);
        ec::test::check_gradient("d filter", filter, d_filter, loss);
        ec::test::check_gradient("d bias", bias, d_bias, loss);
    }
}
