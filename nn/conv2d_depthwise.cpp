// Depthwise convolution: output channel o reads only input channel o / multiplier, so there is no reduction over
// channels and a GEMM does not fit; direct loops do. With multiplier 1 (every MobileNet) channels are the
// innermost, contiguous dimension of the input pixel, the filter tap and the output pixel, and the loops below
// work on blocks of kLanes channels whose sums stay in vector registers across the kernel taps (a last block of
// fewer channels takes scalar loops).
// Multipliers above 1 and kernels of more than 64 taps take plain loops (correct, not tuned: no model we load
// uses them).
#include "nn/conv2d_depthwise.h"
#include "nn/parallel.h"

// GCC 12 reports false -Wmaybe-uninitialized warnings inside its own AVX-512 intrinsics when inlining Eigen.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "nn/conv2d_coords.h"
#include "nn/conv2d_depthwise_3x3.h"

namespace ec {
namespace {

constexpr int kLanes = 16;  // one AVX-512 register, two AVX2 ones
// The parallel loops hand out rows (or channel blocks) dynamically: on a busy machine a descheduled thread then
// delays only the rows it holds. Every output value is computed by one thread in a fixed order, so the results do
// not depend on the schedule or the thread count.

int64_t work(const ConvGeometry& g) { return int64_t(g.batch) * g.out_h * g.out_w * g.out_c * g.kernel_h * g.kernel_w; }

// ceil(a / b) for b > 0 and any sign of a.
int ceil_div(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Output columns [lo, hi) whose tap kx falls inside the image: 0 <= ox * s + kx * d - pad < in_w.
void valid_columns(const ConvGeometry& g, int kx, int& lo, int& hi) {
    const int shift = g.pad_left - kx * g.dilation_w;
    lo = std::max(0, ceil_div(shift, g.stride_w));
    hi = std::min(g.out_w, ceil_div(g.in_w + shift, g.stride_w));
}

struct Layout {
    const ConvGeometry& g;
    int64_t in(int n, int y, int x) const { return ((int64_t(n) * g.in_h + y) * g.in_w + x) * g.in_c; }
    int64_t out(int n, int y, int x) const { return ((int64_t(n) * g.out_h + y) * g.out_w + x) * g.out_c; }
    int64_t tap(int ky, int kx) const { return (int64_t(ky) * g.kernel_w + kx) * g.out_c; }
};

// ------------------------------------------------------------------ multiplier 1, blocks of kLanes channels

// The taps of one pixel that fall inside the image, as pairs of channel rows (a, b) whose element-wise products
// the pixel sums: (input pixel, filter tap) for the forward pass, (output gradient pixel, filter tap) for the
// backward-input pass. Listing them once per pixel keeps the bounds checks out of the per-channel loops.
struct TapList {
    static constexpr int kMax = 64;  // larger kernels take the plain loops
    const float* a[kMax];
    const float* b[kMax];
    int count = 0;
    void add(const float* x, const float* y) { a[count] = x, b[count] = y, ++count; }
};

// Multiplier 1 and at most TapList::kMax taps (every MobileNet depthwise layer) take the blocked loops.
bool blocked_path(const ConvGeometry& g) { return g.out_c == g.in_c && g.kernel_h * g.kernel_w <= TapList::kMax; }

// dst[c] = start[c] + sum over taps of a_t[c] * b_t[c] for channels [c0, c0 + kLanes), start being dst itself
// (accumulate) or `base` (or 0 when base is null). A fixed-size Eigen array keeps the kLanes sums in vector
// registers across the taps (plain loops over a float[16] left them on the stack with GCC 12).
void sum_tap_products_block(float* dst, const float* base, const TapList& taps, int c0, bool accumulate) {
    using Lanes = Eigen::Array<float, kLanes, 1>;
    Lanes acc = accumulate ? Lanes(Lanes::Map(dst + c0)) : base ? Lanes(Lanes::Map(base + c0)) : Lanes::Zero();
    for (int t = 0; t < taps.count; ++t) acc += Lanes::Map(taps.a[t] + c0) * Lanes::Map(taps.b[t] + c0);
    Lanes::Map(dst + c0) = acc;
}

// The same for the last channels [c0, c0 + width), width < kLanes.
void sum_tap_products_tail(float* dst, const float* base, const TapList& taps, int c0, int width, bool accumulate) {
    for (int c = c0; c < c0 + width; ++c) {
        float acc = accumulate ? dst[c] : base ? base[c] : 0.0f;
        for (int t = 0; t < taps.count; ++t) acc += taps.a[t][c] * taps.b[t][c];
        dst[c] = acc;
    }
}

void sum_tap_products(float* dst, const float* base, const TapList& taps, int channels, bool accumulate) {
    int c0 = 0;
    for (; c0 + kLanes <= channels; c0 += kLanes) sum_tap_products_block(dst, base, taps, c0, accumulate);
    if (c0 < channels) sum_tap_products_tail(dst, base, taps, c0, channels - c0, accumulate);
}

// Output row (n, oy): out = bias + sum over taps of in * filter.
void forward_row(float* out, const float* in, const float* filter, const float* bias, const ConvGeometry& g, int n,
                 int oy) {
    const Layout at{g};
    for (int ox = 0; ox < g.out_w; ++ox) {
        TapList taps;
        for (int ky = 0; ky < g.kernel_h; ++ky) {
            const int iy = conv_input_coord(oy, ky, g.stride_h, g.dilation_h, g.pad_top);
            if (iy < 0 || iy >= g.in_h) continue;
            for (int kx = 0; kx < g.kernel_w; ++kx) {
                const int ix = conv_input_coord(ox, kx, g.stride_w, g.dilation_w, g.pad_left);
                if (ix >= 0 && ix < g.in_w) taps.add(in + at.in(n, iy, ix), filter + at.tap(ky, kx));
            }
        }
        sum_tap_products(out + at.out(n, oy, ox), bias, taps, g.out_c, false);
    }
}

// Input row (n, iy): d_in += sum over the (output pixel, tap) pairs that read it of d_out * filter.
void backward_input_row(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g, int n, int iy) {
    const Layout at{g};
    for (int ix = 0; ix < g.in_w; ++ix) {
        TapList taps;
        for (int ky = 0; ky < g.kernel_h; ++ky) {
            const int oy = conv_output_coord(iy, ky, g.stride_h, g.dilation_h, g.pad_top, g.out_h);
            if (oy < 0) continue;
            for (int kx = 0; kx < g.kernel_w; ++kx) {
                const int ox = conv_output_coord(ix, kx, g.stride_w, g.dilation_w, g.pad_left, g.out_w);
                if (ox >= 0) taps.add(d_out + at.out(n, oy, ox), filter + at.tap(ky, kx));
            }
        }
        sum_tap_products(d_in + at.in(n, iy, ix), nullptr, taps, g.in_c, true);
    }
}

// Output row (n, oy), channels [c0, c0 + width): for each tap, the row's sum of in * d_out is formed in
// registers and then added to d_filter (and the row's sum of d_out to d_bias).
template <int kWidth>
void backward_filter_row(float* d_filter, float* d_bias, const float* d_out, const float* in, const ConvGeometry& g,
                         int n, int oy, int c0, int width) {
    if (kWidth) width = kWidth;
    const Layout at{g};
    if (d_bias) {
        float acc[kLanes] = {};
        for (int ox = 0; ox < g.out_w; ++ox) {
            const float* __restrict dy = d_out + at.out(n, oy, ox) + c0;
            for (int c = 0; c < width; ++c) acc[c] += dy[c];
        }
        for (int c = 0; c < width; ++c) d_bias[c0 + c] += acc[c];
    }
    for (int ky = 0; ky < g.kernel_h; ++ky) {
        const int iy = conv_input_coord(oy, ky, g.stride_h, g.dilation_h, g.pad_top);
        if (iy < 0 || iy >= g.in_h) continue;
        for (int kx = 0; kx < g.kernel_w; ++kx) {
            int lo, hi;
            valid_columns(g, kx, lo, hi);
            float acc[kLanes] = {};
            for (int ox = lo; ox < hi; ++ox) {
                const int ix = conv_input_coord(ox, kx, g.stride_w, g.dilation_w, g.pad_left);
                const float* __restrict x = in + at.in(n, iy, ix) + c0;
                const float* __restrict dy = d_out + at.out(n, oy, ox) + c0;
                for (int c = 0; c < width; ++c) acc[c] += x[c] * dy[c];
            }
            float* __restrict df = d_filter + at.tap(ky, kx) + c0;
            for (int c = 0; c < width; ++c) df[c] += acc[c];
        }
    }
}

// ------------------------------------------------------------------ any multiplier or kernel size: plain loops

void forward_plain(float* out, const float* in, const float* filter, const float* bias, const ConvGeometry& g) {
    const int mult = g.out_c / g.in_c;
    const Layout at{g};
#pragma omp parallel for collapse(2) schedule(dynamic) if (work(g) >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int oy = 0; oy < g.out_h; ++oy)
            for (int ox = 0; ox < g.out_w; ++ox) {
                float* y = out + at.out(n, oy, ox);
                for (int o = 0; o < g.out_c; ++o) y[o] = bias ? bias[o] : 0.0f;
                for (int ky = 0; ky < g.kernel_h; ++ky) {
                    const int iy = conv_input_coord(oy, ky, g.stride_h, g.dilation_h, g.pad_top);
                    if (iy < 0 || iy >= g.in_h) continue;
                    for (int kx = 0; kx < g.kernel_w; ++kx) {
                        const int ix = conv_input_coord(ox, kx, g.stride_w, g.dilation_w, g.pad_left);
                        if (ix < 0 || ix >= g.in_w) continue;
                        const float* x = in + at.in(n, iy, ix);
                        const float* f = filter + at.tap(ky, kx);
                        for (int o = 0; o < g.out_c; ++o) y[o] += x[o / mult] * f[o];
                    }
                }
            }
}

void backward_input_plain(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g) {
    const int mult = g.out_c / g.in_c;
    const Layout at{g};
#pragma omp parallel for collapse(2) schedule(dynamic) if (work(g) >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int iy = 0; iy < g.in_h; ++iy)
            for (int ix = 0; ix < g.in_w; ++ix) {
                float* dx = d_in + at.in(n, iy, ix);
                for (int ky = 0; ky < g.kernel_h; ++ky) {
                    const int oy = conv_output_coord(iy, ky, g.stride_h, g.dilation_h, g.pad_top, g.out_h);
                    if (oy < 0) continue;
                    for (int kx = 0; kx < g.kernel_w; ++kx) {
                        const int ox = conv_output_coord(ix, kx, g.stride_w, g.dilation_w, g.pad_left, g.out_w);
                        if (ox < 0) continue;
                        const float* dy = d_out + at.out(n, oy, ox);
                        const float* f = filter + at.tap(ky, kx);
                        for (int o = 0; o < g.out_c; ++o) dx[o / mult] += dy[o] * f[o];
                    }
                }
            }
}

// Threads own blocks of output channels (the sum runs over every pixel, so splitting pixels would race).
void backward_filter_plain(float* d_filter, float* d_bias, const float* d_out, const float* in,
                                    const ConvGeometry& g) {
    const int mult = g.out_c / g.in_c;
    const Layout at{g};
    const int blocks = (g.out_c + kLanes - 1) / kLanes;
#pragma omp parallel for schedule(dynamic) if (work(g) >= kParallelMin)
    for (int b = 0; b < blocks; ++b) {
        const int o0 = b * kLanes, o1 = std::min(g.out_c, o0 + kLanes);
        for (int n = 0; n < g.batch; ++n)
            for (int oy = 0; oy < g.out_h; ++oy)
                for (int ox = 0; ox < g.out_w; ++ox) {
                    const float* dy = d_out + at.out(n, oy, ox);
                    if (d_bias)
                        for (int o = o0; o < o1; ++o) d_bias[o] += dy[o];
                    for (int ky = 0; ky < g.kernel_h; ++ky) {
                        const int iy = conv_input_coord(oy, ky, g.stride_h, g.dilation_h, g.pad_top);
                        if (iy < 0 || iy >= g.in_h) continue;
                        for (int kx = 0; kx < g.kernel_w; ++kx) {
                            const int ix = conv_input_coord(ox, kx, g.stride_w, g.dilation_w, g.pad_left);
                            if (ix < 0 || ix >= g.in_w) continue;
                            const float* x = in + at.in(n, iy, ix);
                            float* df = d_filter + at.tap(ky, kx);
                            for (int o = o0; o < o1; ++o) df[o] += x[o / mult] * dy[o];
                        }
                    }
                }
    }
}

// out = clamp(out, lo, hi) unless the range is infinite (the fused activation of the portable paths).
void clamp_output(float* out, float lo, float hi, int64_t count) {
    if (std::isinf(lo) && lo < 0 && std::isinf(hi) && hi > 0) return;
#pragma omp parallel for simd if (count >= kParallelMin)
    for (int64_t i = 0; i < count; ++i) {  // selects, not std::min/max: NaN passes (see activation.cpp)
        float v = out[i];
        v = v < lo ? lo : v;
        out[i] = hi < v ? hi : v;
    }
}

}  // namespace

void depthwise_conv2d_forward(float* out, const float* in, const float* filter, const float* bias, float lo, float hi,
                              const ConvGeometry& g) {
    if (depthwise_3x3_applies(g)) return depthwise_3x3_forward(out, in, filter, bias, lo, hi, g);
    if (!blocked_path(g)) forward_plain(out, in, filter, bias, g);
    else
#pragma omp parallel for collapse(2) schedule(dynamic) if (work(g) >= kParallelMin)
        for (int n = 0; n < g.batch; ++n)
            for (int oy = 0; oy < g.out_h; ++oy)
                forward_row(out, in, filter, bias, g, n, oy);
    clamp_output(out, lo, hi, int64_t(g.batch) * g.out_h * g.out_w * g.out_c);
}

// Gather form: each input pixel sums the output pixels that read it, so threads own disjoint rows of d_in.
void depthwise_conv2d_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g) {
    if (depthwise_3x3_backward_input_applies(g)) return depthwise_3x3_backward_input(d_in, d_out, filter, g);
    if (!blocked_path(g)) return backward_input_plain(d_in, d_out, filter, g);
#pragma omp parallel for collapse(2) schedule(dynamic) if (work(g) >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int iy = 0; iy < g.in_h; ++iy)
            backward_input_row(d_in, d_out, filter, g, n, iy);
}

// The filter gradient sums over every pixel, so threads split the channel blocks: each owns its slice of
// d_filter and d_bias, no reduction buffer is needed, and every element is summed in the same (n, y, x) order
// whatever the thread count, so results are reproducible.
void depthwise_conv2d_backward_filter(float* d_filter, float* d_bias, const float* d_out, const float* in,
                                      const ConvGeometry& g) {
    if (depthwise_3x3_applies(g)) return depthwise_3x3_backward_filter(d_filter, d_bias, d_out, in, g);
    if (!blocked_path(g)) return backward_filter_plain(d_filter, d_bias, d_out, in, g);
    const int blocks = (g.in_c + kLanes - 1) / kLanes;
#pragma omp parallel for schedule(dynamic) if (work(g) >= kParallelMin)
    for (int b = 0; b < blocks; ++b) {
        const int c0 = b * kLanes, width = std::min(kLanes, g.in_c - c0);
        for (int n = 0; n < g.batch; ++n)
            for (int oy = 0; oy < g.out_h; ++oy) {
                if (width == kLanes)
                    backward_filter_row<kLanes>(d_filter, d_bias, d_out, in, g, n, oy, c0, kLanes);
                else
                    backward_filter_row<0>(d_filter, d_bias, d_out, in, g, n, oy, c0, width);
            }
    }
}

}  // namespace ec
