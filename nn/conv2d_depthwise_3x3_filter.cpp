// Filter and bias gradient of the depthwise 3x3 convolution (multiplier 1, stride 1 or 2, no dilation) as a direct
// SIMD kernel (nn/simd.h; internal to nn/), for training and param_grads:
//   d_filter[ky, kx, c] += sum_{n, oy, ox} in[n, oy * s - pad_top + ky, ox * s - pad_left + kx, c] * d_out[n, oy, ox, c]
//   d_bias[c]           += sum_{n, oy, ox} d_out[n, oy, ox, c]
// Threads own blocks of kLanes channels (the sums run over every pixel, so splitting pixels would race). Within a
// block, each output row's ten sums (nine taps and the bias) stay in registers, one load of d_out feeding all ten,
// and are then added to d_filter and d_bias: every element is summed in the same (n, oy, ox) order whatever the
// thread count, as conv2d_depthwise.cpp's loops do. Taps in the padding are skipped (border pixels and rows only).
#include "nn/conv2d_depthwise_3x3.h"
#include "nn/parallel.h"

#include "nn/simd.h"

#ifdef EC_SIMD

#include <algorithm>
#include <cstdint>

namespace ec {
namespace {

using namespace simd;

struct RowSums {
    Vec tap[9], bias;
};

// Plain loads for a full block of channels, masked ones for the last, narrower block.
template <bool kFull>
inline Vec ld(const float* p, Mask m) { return kFull ? load(p) : load(p, m); }

// d_out pixel `dy` times the input pixels under taps [kx_lo, kx_hi) of every row that exists; `x0` is the input
// column under tap kx = 0 (outside the image on a border pixel, where kx_lo skips it).
template <bool kFull>
inline void add_pixel(RowSums& s, const float* const rows[3], const float* dy, int x0, int64_t c, int kx_lo, int kx_hi,
                      Mask m) {
    const Vec d = ld<kFull>(dy, m);
    s.bias = add(s.bias, d);
    for (int ky = 0; ky < 3; ++ky) {
        if (!rows[ky]) continue;
        for (int kx = kx_lo; kx < kx_hi; ++kx)
            s.tap[ky * 3 + kx] = fma(ld<kFull>(rows[ky] + int64_t(x0 + kx) * c, m), d, s.tap[ky * 3 + kx]);
    }
}

// Adds one output row's sums to the gradients (channels [c0, c0 + lanes of m)).
template <bool kFull>
void add_row_sums(float* d_filter, float* d_bias, const RowSums& s, int64_t c, int64_t c0, Mask m) {
    auto add_to = [&](float* p, Vec v) {
        if (kFull) store(p, add(load(p), v));
        else store(p, add(load(p, m), v), m);
    };
    for (int t = 0; t < 9; ++t) add_to(d_filter + t * c + c0, s.tap[t]);
    if (d_bias) add_to(d_bias + c0, s.bias);
}

// Channels [c0, c0 + kLanes) (fewer in the last block: kFull = false), every image and output row.
template <int kStride, bool kFull>
void filter_gradient_block(float* d_filter, float* d_bias, const float* d_out, const float* in, const ConvGeometry& g,
                           int64_t c0, Mask m) {
    const int64_t c = g.in_c;
    // Interior columns [x_lo, x_hi): taps ox * s - pad_left + {0, 1, 2} all inside [0, in_w) (as sweep_row).
    const int x_lo = std::min(g.out_w, (g.pad_left + kStride - 1) / kStride);
    const int last = g.in_w - 3 + g.pad_left;
    const int x_hi = last >= 0 ? std::max(x_lo, std::min(g.out_w, last / kStride + 1)) : x_lo;
    for (int n = 0; n < g.batch; ++n)
        for (int oy = 0; oy < g.out_h; ++oy) {
            RowSums s;
            for (Vec& v : s.tap) v = zero();
            s.bias = zero();
            const float* rows[3];
            for (int ky = 0; ky < 3; ++ky) {
                const int iy = oy * kStride - g.pad_top + ky;
                rows[ky] = iy >= 0 && iy < g.in_h ? in + (int64_t(n) * g.in_h + iy) * g.in_w * c + c0 : nullptr;
            }
            const float* dy = d_out + (int64_t(n) * g.out_h + oy) * g.out_w * c + c0;
            auto border = [&](int ox) {
                const int x0 = ox * kStride - g.pad_left;
                add_pixel<kFull>(s, rows, dy + ox * c, x0, c, std::max(0, -x0), std::min(3, g.in_w - x0), m);
            };
            int ox = 0;
            for (; ox < x_lo; ++ox) border(ox);
            for (; ox < x_hi; ++ox) add_pixel<kFull>(s, rows, dy + ox * c, ox * kStride - g.pad_left, c, 0, 3, m);
            for (; ox < g.out_w; ++ox) border(ox);
            add_row_sums<kFull>(d_filter, d_bias, s, c, c0, m);
        }
}

template <int kStride>
void filter_gradient(float* d_filter, float* d_bias, const float* d_out, const float* in, const ConvGeometry& g) {
    const int64_t c = g.in_c, blocks = (c + kLanes - 1) / kLanes;
    const int64_t work = int64_t(g.batch) * g.out_h * g.out_w * c * 9;
#pragma omp parallel for schedule(dynamic) if (work >= kParallelMin)
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t c0 = b * kLanes;
        const int lanes = int(std::min<int64_t>(kLanes, c - c0));
        if (lanes == kLanes) filter_gradient_block<kStride, true>(d_filter, d_bias, d_out, in, g, c0, first_lanes(lanes));
        else filter_gradient_block<kStride, false>(d_filter, d_bias, d_out, in, g, c0, first_lanes(lanes));
    }
}

}  // namespace

void depthwise_3x3_backward_filter(float* d_filter, float* d_bias, const float* d_out, const float* in,
                                   const ConvGeometry& g) {
    if (g.stride_h == 1) filter_gradient<1>(d_filter, d_bias, d_out, in, g);
    else filter_gradient<2>(d_filter, d_bias, d_out, in, g);
}

}  // namespace ec

#else  // no AVX-512 or AVX2: depthwise_3x3_applies is false, conv2d_depthwise.cpp's loops run

namespace ec {
void depthwise_3x3_backward_filter(float*, float*, const float*, const float*, const ConvGeometry&) {}
}  // namespace ec

#endif
