// The direct kernels of an image network's first convolution (nn/conv2d_first_3x3: dense 3x3, in_c <= 4, stride 1
// or 2) against the naive reference loops on a sweep: in_c 1-4, out_c 1, 7, 8, 16, 24, 32, 33 (a partial channel
// block, one or two full vectors, the last block alone), odd, even, narrow and one-pixel images, stride 1 and 2,
// SAME, VALID and explicit lopsided padding, batch 1, 2 and 3, with and without bias and clamp; the input gradient
// accumulating, overwriting and gated; conv2d.h's dispatch to them; and the forward bit for bit against im2col + GEMM
// (the path it replaces) through a zero fifth channel. On builds without SIMD the kernels decline.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "nn/conv2d.h"
#include "nn/conv2d_first_3x3.h"
#include "nn/conv2d_first_3x3_planar.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace {

using ec::ConvGeometry;

enum class Padding { Same, Valid, Explicit };

// A 3x3 convolution of a batch x h x w x in_c image; SAME as TensorFlow (out = ceil(in / s), the smaller half of the
// padding first), VALID, or explicit pads top 2, left 1, bottom 0, right 2 (out = (in + pads - 3) / s + 1).
ConvGeometry first_geometry(int batch, int h, int w, int in_c, int out_c, int stride, Padding padding) {
    ConvGeometry g;
    g.batch = batch, g.in_h = h, g.in_w = w, g.in_c = in_c, g.out_c = out_c;
    g.kernel_h = g.kernel_w = 3, g.stride_h = g.stride_w = stride;
    auto same = [&](int in, int& out, int& pad) {
        out = (in + stride - 1) / stride;
        pad = std::max((out - 1) * stride + 3 - in, 0) / 2;
    };
    switch (padding) {
        case Padding::Same: same(h, g.out_h, g.pad_top), same(w, g.out_w, g.pad_left); break;
        case Padding::Valid: g.out_h = (h - 3) / stride + 1, g.out_w = (w - 3) / stride + 1; break;
        case Padding::Explicit:
            g.pad_top = 2, g.pad_left = 1;
            g.out_h = (h + 2 + 0 - 3) / stride + 1, g.out_w = (w + 1 + 2 - 3) / stride + 1;
            break;
    }
    return g;
}

int64_t in_count(const ConvGeometry& g) { return int64_t(g.batch) * g.in_h * g.in_w * g.in_c; }
int64_t out_count(const ConvGeometry& g) { return int64_t(g.batch) * g.out_h * g.out_w * g.out_c; }
int64_t filter_count(const ConvGeometry& g) { return int64_t(9) * g.in_c * g.out_c; }

// As tests/test_conv2d.cpp's kFastVsReferenceTol: both sum the same products in float in different orders, 9 * in_c
// <= 36 per output value (rounding ~sqrt(36) * 6e-8 of the result's scale), at most 9 * out_c per input-gradient
// value, and up to 2 * 96 * 96 per filter-gradient value (~sqrt(18432) * 6e-8 = 8e-6); a wrong index or a missed tap
// costs O(1).
constexpr float kTol = 2e-5f;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

void check_first_3x3(const std::string& name, const ConvGeometry& g) {
    INFO("geometry: " << name);
    REQUIRE(g.out_h > 0);
    REQUIRE(g.out_w > 0);
#ifndef EC_SIMD
    CHECK_FALSE(ec::first_3x3_applies(g));  // portable builds keep im2col
    return;
#endif
    REQUIRE(ec::first_3x3_applies(g));
    constexpr float kInf = std::numeric_limits<float>::infinity(), kNaN = std::numeric_limits<float>::quiet_NaN();
    ec::test::Rng rng(0xF1257 + uint64_t(in_count(g)) * 131 + uint64_t(g.out_c) * 7 + uint64_t(g.stride_h));
    const auto in = ec::test::random_vector<float>(rng, size_t(in_count(g)));
    const auto filter = ec::test::random_vector<float>(rng, size_t(filter_count(g)));
    const auto bias = ec::test::random_vector<float>(rng, size_t(g.out_c));
    const auto d_out = ec::test::random_vector<float>(rng, size_t(out_count(g)));
    const auto d_in0 = ec::test::random_vector<float>(rng, size_t(in_count(g)));
    const auto gate = ec::test::random_vector<float>(rng, size_t(in_count(g)), -1.0, 7.0);

    // Outputs start as NaN: a value the kernel does not write fails.
    const size_t n_out = size_t(out_count(g));
    std::vector<float> out(n_out, kNaN), ref(n_out), no_bias(n_out, kNaN), no_bias_ref(n_out);
    ec::first_3x3_forward(out.data(), in.data(), filter.data(), bias.data(), -kInf, kInf, g);
    ec::conv2d_forward_reference(ref.data(), in.data(), filter.data(), bias.data(), g);
    ec::test::check_close_rel_max("forward", out.data(), ref.data(), int64_t(n_out), kTol);
    ec::first_3x3_forward(no_bias.data(), in.data(), filter.data(), nullptr, -kInf, kInf, g);
    ec::conv2d_forward_reference(no_bias_ref.data(), in.data(), filter.data(), nullptr, g);
    ec::test::check_close_rel_max("forward without bias", no_bias.data(), no_bias_ref.data(), int64_t(n_out), kTol);

    // The fused clamp cuts through the outputs (scale ~1) at both ends; measured against the unclamped scale.
    const float lo = -0.5f, hi = 0.75f;
    std::vector<float> clamped(n_out, kNaN), clamped_ref(n_out);
    ec::first_3x3_forward(clamped.data(), in.data(), filter.data(), bias.data(), lo, hi, g);
    for (size_t i = 0; i < n_out; ++i) clamped_ref[i] = std::min(std::max(ref[i], lo), hi);
    const float clamp_diff = ec::test::max_abs_diff(clamped.data(), clamped_ref.data(), int64_t(n_out));
    INFO("forward clamped: max |diff| " << clamp_diff);
    CHECK(clamp_diff <= kTol * std::max(ec::test::max_abs(ref.data(), int64_t(n_out)), 1e-30f));

    // The input gradient accumulates onto what d_in holds.
    auto d_in = d_in0, d_in_ref = d_in0;
    ec::first_3x3_backward_input(d_in.data(), d_out.data(), filter.data(), g);
    ec::conv2d_backward_input_reference(d_in_ref.data(), d_out.data(), filter.data(), g);
    ec::test::check_close_rel_max("backward input", d_in.data(), d_in_ref.data(), int64_t(d_in.size()), kTol);

    // Overwriting: accumulating onto zeros, bit for bit, whatever the buffer held; gated: then the ReLU6 backward.
    std::vector<float> zeros(d_in0.size(), 0.0f), garbage(d_in0.size(), kNaN), gated(d_in0.size(), kNaN);
    ec::first_3x3_backward_input(zeros.data(), d_out.data(), filter.data(), g);
    ec::first_3x3_backward_input(garbage.data(), d_out.data(), filter.data(), g, true);
    CHECK(same_bits(zeros, garbage));
    ec::first_3x3_backward_input(gated.data(), d_out.data(), filter.data(), g, true, gate.data(), 6.0f);
    std::vector<float> gated_want(zeros.size());
    for (size_t i = 0; i < zeros.size(); ++i) gated_want[i] = gate[i] > 0.0f && gate[i] < 6.0f ? zeros[i] : 0.0f;
    CHECK(same_bits(gated, gated_want));

    // conv2d.h dispatches these geometries here (a one-channel, one-output conv stays on the depthwise kernel).
    if (g.out_c == 1) return;
    std::vector<float> scratch(ec::conv2d_scratch_floats(g), kNaN), via(n_out, kNaN), via_clamped(n_out, kNaN);
    ec::conv2d_forward(via.data(), in.data(), filter.data(), bias.data(), g, scratch.data());
    CHECK(same_bits(via, out));
    ec::conv2d_forward_clamped(via_clamped.data(), in.data(), filter.data(), bias.data(), lo, hi, g, scratch.data());
    CHECK(same_bits(via_clamped, clamped));
    auto d_in_via = d_in0;
    ec::conv2d_backward_input(d_in_via.data(), d_out.data(), filter.data(), g, scratch.data());
    CHECK(same_bits(d_in_via, d_in));
    CHECK(ec::conv2d_backward_input_overwrites(g));
    std::fill(garbage.begin(), garbage.end(), kNaN);
    ec::conv2d_backward_input_overwrite(garbage.data(), d_out.data(), filter.data(), g, gate.data(), 6.0f);
    CHECK(same_bits(garbage, gated_want));
    // The filter gradient stays on im2col (for in_c = 1 that path replaces the depthwise loops), accumulating.
    auto d_filter = ec::test::random_vector<float>(rng, size_t(filter_count(g))), d_filter_ref = d_filter;
    auto d_bias = ec::test::random_vector<float>(rng, size_t(g.out_c)), d_bias_ref = d_bias;
    ec::conv2d_backward_filter(d_filter.data(), d_bias.data(), d_out.data(), in.data(), g, scratch.data());
    ec::conv2d_backward_filter_reference(d_filter_ref.data(), d_bias_ref.data(), d_out.data(), in.data(), g);
    ec::test::check_close_rel_max("backward filter", d_filter.data(), d_filter_ref.data(), int64_t(d_filter.size()), kTol);
    ec::test::check_close_rel_max("backward bias", d_bias.data(), d_bias_ref.data(), int64_t(d_bias.size()), kTol);
}

}  // namespace

TEST_CASE("first-layer 3x3 kernels match the naive reference on a sweep of geometries") {
    struct Size {
        int batch, h, w;
    };
    // Odd and even; wide enough for every group size and a remainder; narrow (no interior group); one pixel; at
    // stride 2, two blocks of the planar kernel's columns at once, the second past the row's end.
    const Size sizes[] = {{1, 9, 29}, {3, 8, 30}, {1, 4, 3}, {2, 1, 1}, {3, 2, 7}, {1, 5, 61}};
    const std::pair<Padding, const char*> paddings[] = {
        {Padding::Same, "same"}, {Padding::Valid, "valid"}, {Padding::Explicit, "pads 2/1/0/2"}};
    int cases = 0;
    for (int in_c = 1; in_c <= 4; ++in_c)
        for (int out_c : {1, 7, 8, 16, 24, 32, 33})
            for (int stride : {1, 2})
                for (const auto& [padding, padding_name] : paddings)
                    for (const Size& s : sizes) {
                        if (padding == Padding::Valid && (s.h < 3 || s.w < 3)) continue;
                        const ConvGeometry g = first_geometry(s.batch, s.h, s.w, in_c, out_c, stride, padding);
                        check_first_3x3(std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(in_c) +
                                            "->" + std::to_string(out_c) + " s" + std::to_string(stride) + " " +
                                            padding_name + " n" + std::to_string(s.batch),
                                        g);
                        ++cases;
                    }
    CHECK(cases == 4 * 7 * 2 * (3 * 6 - 2));
}

TEST_CASE("first-layer 3x3 kernels at MobileNet shapes (threaded)") {
    // MobileNetV2's first convolution (224x224x3 -> 112x112x32, SAME: no top/left pad) and MobileNetV1 0.75's
    // (192 -> 96x96x24), on a batch of 2; and a padding of 2 before (wider than the kernel's reach of 1).
    check_first_3x3("MobileNetV2 224x224x3->32 s2 same n1", first_geometry(1, 224, 224, 3, 32, 2, Padding::Same));
    check_first_3x3("MobileNetV1 192x192x3->24 s2 same n2", first_geometry(2, 192, 192, 3, 24, 2, Padding::Same));
    ConvGeometry g = first_geometry(1, 37, 41, 3, 32, 1, Padding::Same);
    g.pad_top = g.pad_left = 2, g.out_h = 37 + 2 - 2, g.out_w = 41 + 2 - 2;  // bottom/right 0
    check_first_3x3("37x41x3->32 s1 pads 2/2/0/0 n1", g);
    // Wider than one column chunk of the input gradient at stride 1 and 2, with two output-channel chunks.
    check_first_3x3("5x230x3->40 s1 same n1", first_geometry(1, 5, 230, 3, 40, 1, Padding::Same));
    check_first_3x3("6x431x2->40 s2 same n2", first_geometry(2, 6, 431, 2, 40, 2, Padding::Same));
#ifdef EC_SIMD
    // Stride 2 takes the planar kernel (nn/conv2d_first_3x3_planar.h) where two transposed d_out rows fit its stack
    // ring, the gather elsewhere: both paths ran above.
    CHECK(ec::first_3x3_planar_applies(first_geometry(1, 224, 224, 3, 32, 2, Padding::Same)));
    CHECK(ec::first_3x3_planar_applies(first_geometry(2, 192, 192, 3, 24, 2, Padding::Same)));
    CHECK_FALSE(ec::first_3x3_planar_applies(first_geometry(2, 6, 431, 2, 40, 2, Padding::Same)));
    CHECK_FALSE(ec::first_3x3_planar_applies(first_geometry(1, 37, 41, 3, 32, 1, Padding::Same)));
#endif
}

TEST_CASE("first-layer 3x3 forward equals im2col + GEMM's bit for bit") {
    // An independent path to the same sums: with a fifth input channel of zeros (and zero filter rows for it) the
    // convolution takes im2col + GEMM (in_c > 4), which adds the same products in the same (ky, kx, i) order, plus
    // exact zeros, from 0, then the bias, then the clamp (the GEMM epilogue). So the outputs agree to the bit: what
    // keeps a model's ReLU6 inputs that sit on a kink on the same side as before this kernel.
#ifndef EC_SIMD
    return;  // portable builds have no direct kernel (and their Eigen products block by size)
#endif
    for (int stride : {1, 2}) {
        const ConvGeometry g = first_geometry(2, 23, 30, 3, 33, stride, Padding::Same);
        ConvGeometry g5 = g;
        g5.in_c = 5;
        ec::test::Rng rng(0xB17 + uint64_t(stride));
        const auto in = ec::test::random_vector<float>(rng, size_t(in_count(g)));
        const auto filter = ec::test::random_vector<float>(rng, size_t(filter_count(g)));
        const auto bias = ec::test::random_vector<float>(rng, size_t(g.out_c));
        std::vector<float> in5(size_t(in_count(g5)), 0.0f), filter5(size_t(filter_count(g5)), 0.0f);
        for (int64_t p = 0; p < in_count(g) / 3; ++p)
            for (int i = 0; i < 3; ++i) in5[size_t(p * 5 + i)] = in[size_t(p * 3 + i)];
        for (int t = 0; t < 9; ++t)
            for (int i = 0; i < 3; ++i)
                for (int o = 0; o < g.out_c; ++o)
                    filter5[size_t((t * 5 + i) * g.out_c + o)] = filter[size_t((t * 3 + i) * g.out_c + o)];
        std::vector<float> out(size_t(out_count(g))), out5(out.size()), scratch(ec::conv2d_scratch_floats(g5));
        ec::first_3x3_forward(out.data(), in.data(), filter.data(), bias.data(), 0.0f, 0.75f, g);
        ec::conv2d_forward_clamped(out5.data(), in5.data(), filter5.data(), bias.data(), 0.0f, 0.75f, g5, scratch.data());
        INFO("stride " << stride << ": max |diff| " << ec::test::max_abs_diff(out.data(), out5.data(), int64_t(out.size())));
        CHECK(same_bits(out, out5));
    }
}

TEST_CASE("first-layer 3x3 kernels decline other geometries") {
    const ConvGeometry base = first_geometry(1, 9, 9, 3, 32, 2, Padding::Same);
    ConvGeometry g = base;
    g.in_c = 5;
    CHECK_FALSE(ec::first_3x3_applies(g));  // more than 4 input channels
    g = base, g.in_c = 4, g.groups = 2;
    CHECK_FALSE(ec::first_3x3_applies(g));  // grouped
    g = base, g.dilation_w = 2;
    CHECK_FALSE(ec::first_3x3_applies(g));
    g = base, g.kernel_h = g.kernel_w = 5;
    CHECK_FALSE(ec::first_3x3_applies(g));
    g = base, g.stride_h = g.stride_w = 3;
    CHECK_FALSE(ec::first_3x3_applies(g));
    g = base, g.stride_w = 1;
    CHECK_FALSE(ec::first_3x3_applies(g));  // different strides per axis
#ifdef EC_SIMD
    CHECK(ec::first_3x3_applies(base));
#else
    CHECK_FALSE(ec::first_3x3_applies(base));
#endif
}
