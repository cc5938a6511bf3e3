// nn/conv2d_depthwise_3x3.h: the SIMD sweep sums each output in one fixed order (start value, then ky, then kx, taps
// in the padding skipped), whichever group of pixels computes it (six, four ... one interior pixels, the border pixels
// that join a group with their one padding tap skipped, the checked border loop). A scalar oracle with std::fma in
// that order must give the same floats bit for bit on every width 1-20, padding 0-2, stride 1 and 2, and full and
// partial channel blocks: the forward (bias, ReLU6 clamp) and the stride-1 input gradient (the flipped sweep).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "nn/conv2d_depthwise_3x3.h"
#include "tests/test_util.h"

using namespace ec;

namespace {

// out[y, x, c] = clamp(fma chain over ky, kx in range of in[y s - pad_top + ky, x s - pad_left + kx, c] *
// tap(ky, kx, c), starting from start(y, x, c)), in float.
template <typename Tap, typename Start>
std::vector<float> sweep_oracle(const std::vector<float>& in, int in_h, int in_w, int out_h, int out_w, int c, int s,
                                int pad_top, int pad_left, Tap tap, Start start, float lo, float hi) {
    std::vector<float> out(size_t(out_h) * out_w * c);
    for (int y = 0; y < out_h; ++y)
        for (int x = 0; x < out_w; ++x)
            for (int ch = 0; ch < c; ++ch) {
                float acc = start(y, x, ch);
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx) {
                        const int iy = y * s - pad_top + ky, ix = x * s - pad_left + kx;
                        if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) continue;
                        acc = std::fma(in[(size_t(iy) * in_w + ix) * c + ch], tap(ky, kx, ch), acc);
                    }
                out[(size_t(y) * out_w + x) * c + ch] = std::min(std::max(acc, lo), hi);
            }
    return out;
}

}  // namespace

TEST_CASE("depthwise 3x3: every pixel grouping sums in one order, bit for bit as a scalar fma chain") {
    if (!depthwise_3x3_applies(ConvGeometry{1, 4, 4, 8, 4, 4, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8})) return;  // no SIMD
    std::mt19937 rng(17);
    constexpr float kInf = std::numeric_limits<float>::infinity();
    int checked = 0;
    for (int w = 1; w <= 20; ++w)
        for (int pad = 0; pad <= 2; ++pad)
            for (int s : {1, 2})
                for (int c : {16, 19}) {  // full blocks of 8 and 16 lanes, and a partial one
                    ConvGeometry g;
                    g.in_h = 3 + w % 4, g.in_w = w, g.in_c = g.out_c = c, g.groups = c;
                    g.kernel_h = g.kernel_w = 3, g.stride_h = g.stride_w = s, g.pad_top = g.pad_left = pad;
                    g.out_h = (g.in_h + 2 * pad - 3) / s + 1, g.out_w = (g.in_w + 2 * pad - 3) / s + 1;
                    if (g.out_h < 1 || g.out_w < 1) continue;
                    INFO("width " << w << " pad " << pad << " stride " << s << " channels " << c);
                    const auto in = test::random_values(int64_t(g.in_h) * g.in_w * c, rng, 2.0f);
                    const auto filter = test::random_values(9 * c, rng), bias = test::random_values(c, rng);
                    std::vector<float> out(size_t(g.out_h) * g.out_w * c);
                    depthwise_3x3_forward(out.data(), in.data(), filter.data(), bias.data(), 0.0f, 6.0f, g);
                    const auto want = sweep_oracle(
                        in, g.in_h, g.in_w, g.out_h, g.out_w, c, s, pad, pad,
                        [&](int ky, int kx, int ch) { return filter[size_t(ky * 3 + kx) * c + ch]; },
                        [&](int, int, int ch) { return bias[size_t(ch)]; }, 0.0f, 6.0f);
                    CHECK(test::bits_equal(out, want));
                    ++checked;
                    if (s != 1 || !depthwise_3x3_backward_input_applies(g)) continue;
                    // The input gradient: the sweep over d_out with the flipped filter and padding 2 - pad, from 0.
                    const auto d_out = test::random_values(int64_t(g.out_h) * g.out_w * c, rng);
                    std::vector<float> d_in(size_t(g.in_h) * g.in_w * c);
                    depthwise_3x3_backward_input(d_in.data(), d_out.data(), filter.data(), g, true);
                    const auto want_d = sweep_oracle(
                        d_out, g.out_h, g.out_w, g.in_h, g.in_w, c, 1, 2 - pad, 2 - pad,
                        [&](int ky, int kx, int ch) { return filter[size_t(8 - (ky * 3 + kx)) * c + ch]; },
                        [&](int, int, int) { return 0.0f; }, -kInf, kInf);
                    CHECK(test::bits_equal(d_in, want_d));
                }
    CHECK(checked > 150);
}
