// Depthwise 3x3 (multiplier 1, stride 1 or 2) as a direct SIMD kernel (nn/simd.h: AVX-512 or AVX2 + FMA). Threads
// take output rows; within a row, each block of kLanes channels keeps its nine filter taps and its bias in registers and sweeps the row's pixels, four
// output pixels at a time in the interior (four independent accumulator chains hide the FMA latency), so each
// input row of the block is read from L1/L2 once per output row that needs it and nothing is reloaded per tap.
// Border pixels (taps in the padding) take a checked loop; a last block of fewer than kLanes channels uses masks.
// The bias and an optional clamp (the fused ReLU6 of conv2d_forward_clamped) are applied before the one store.
// The stride-1 input gradient is the same sweep (flipped filter) accumulating into d_in.
#include "nn/conv2d_depthwise_3x3.h"

// GCC 12 reports false (maybe-)uninitialized warnings inside its own AVX-512 intrinsics (the self-initialised
// _mm512_undefined_ps of _mm512_min_ps).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "nn/simd.h"

#ifdef EC_SIMD

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ec {
namespace {

using namespace simd;

constexpr int64_t kParallelMin = int64_t(1) << 15;  // multiply-adds below this run on one thread

// One sweep of a 3x3 window over an NHWC image, per channel:
//   dst[y, x, c] = clamp(start + sum_{ky, kx} src[y * s - pad_top + ky, x * s - pad_left + kx, c] * tap[ky, kx, c])
// with start = bias (or 0), or dst itself plus the bias when accumulating, and src outside the image reading 0.
// The forward pass is src = in, dst = out, tap = filter. With stride 1 the input gradient is the same sweep over
// d_out with the filter flipped (tap[ky, kx] = filter[2 - ky, 2 - kx]) and padding 2 - pad, accumulating.
struct Sweep {
    const float* src;
    int src_h, src_w;
    float* dst;
    int dst_h, dst_w;
    int channels, stride, pad_top, pad_left;
    const float* filter;
    bool flip;
    const float* bias;  // may be null
    bool accumulate;
    float lo, hi;
};

// One output row's view of the source: the three rows its taps read (null where a row is padding).
struct Rows {
    const float* row[3];
};

struct Block {  // one block of channels: taps, bias, clamp range and the mask of its valid channels
    Vec tap[9], bias, lo, hi;
    Mask mask;
    bool accumulate;
};

inline Vec clamp(Vec x, const Block& b) { return simd::clamp(x, b.lo, b.hi); }
// Loads and stores of a block's channels: plain for a full block, masked for the last one (masked stores are slow
// on AMD's AVX2 cores, so full blocks must not use them).
template <bool kFull>
inline Vec ld(const float* p, const Block& b) { return kFull ? load(p) : load(p, b.mask); }
template <bool kFull>
inline void st(float* p, Vec v, const Block& b) {
    if (kFull) store(p, clamp(v, b));
    else store(p, clamp(v, b), b.mask);
}
template <bool kFull>
inline Vec start(const float* dst, const Block& b) { return b.accumulate ? add(ld<kFull>(dst, b), b.bias) : b.bias; }

// Output pixel x of a block, skipping taps that fall in the padding.
template <bool kFull>
void pixel_checked(float* dst, const Rows& rows, const Block& b, const Sweep& sw, int x) {
    Vec acc = start<kFull>(dst, b);
    const int x0 = x * sw.stride - sw.pad_left;
    for (int ky = 0; ky < 3; ++ky) {
        if (!rows.row[ky]) continue;
        for (int kx = 0; kx < 3; ++kx) {
            const int ix = x0 + kx;
            if (ix < 0 || ix >= sw.src_w) continue;
            acc = fma(ld<kFull>(rows.row[ky] + int64_t(ix) * sw.channels, b), b.tap[ky * 3 + kx], acc);
        }
    }
    st<kFull>(dst, acc, b);
}

// Four interior output pixels x..x+3 (every column tap inside the image).
template <int kStride, bool kFull>
void four_pixels(float* dst, const Rows& rows, const Block& b, const Sweep& sw, int x) {
    const int64_t c = sw.channels;
    Vec a0 = start<kFull>(dst, b), a1 = start<kFull>(dst + c, b), a2 = start<kFull>(dst + 2 * c, b),
        a3 = start<kFull>(dst + 3 * c, b);
    for (int ky = 0; ky < 3; ++ky) {
        if (!rows.row[ky]) continue;
        const float* p = rows.row[ky] + int64_t(x * kStride - sw.pad_left) * c;
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; ++kx) {
            const Vec f = b.tap[ky * 3 + kx];
            a0 = fma(ld<kFull>(p + (0 * kStride + kx) * c, b), f, a0);
            a1 = fma(ld<kFull>(p + (1 * kStride + kx) * c, b), f, a1);
            a2 = fma(ld<kFull>(p + (2 * kStride + kx) * c, b), f, a2);
            a3 = fma(ld<kFull>(p + (3 * kStride + kx) * c, b), f, a3);
        }
    }
    st<kFull>(dst, a0, b);
    st<kFull>(dst + c, a1, b);
    st<kFull>(dst + 2 * c, a2, b);
    st<kFull>(dst + 3 * c, a3, b);
}

// One block of channels of a destination row: checked borders, four pixels at a time inside.
template <int kStride, bool kFull>
void sweep_block(float* d, const Rows& rows, const Block& b, const Sweep& sw, int x_lo, int x_hi) {
    const int64_t c = sw.channels;
    int x = 0;
    for (; x < x_lo; ++x) pixel_checked<kFull>(d + x * c, rows, b, sw, x);
    for (; x + 4 <= x_hi; x += 4) four_pixels<kStride, kFull>(d + x * c, rows, b, sw, x);
    for (; x < sw.dst_w; ++x) pixel_checked<kFull>(d + x * c, rows, b, sw, x);
}

// Destination row (n, y), all channels.
template <int kStride>
void sweep_row(const Sweep& sw, int n, int y) {
    const int64_t c = sw.channels;
    const float* image = sw.src + int64_t(n) * sw.src_h * sw.src_w * c;
    float* dst_row = sw.dst + (int64_t(n) * sw.dst_h + y) * sw.dst_w * c;
    // Interior columns [x_lo, x_hi): taps x * s - pad_left + {0, 1, 2} all inside [0, src_w) (pad_left >= 0).
    const int x_lo = std::min(sw.dst_w, (sw.pad_left + kStride - 1) / kStride);
    const int last = sw.src_w - 3 + sw.pad_left;
    const int x_hi = last >= 0 ? std::max(x_lo, std::min(sw.dst_w, last / kStride + 1)) : x_lo;
    for (int64_t c0 = 0; c0 < c; c0 += kLanes) {
        Block b;
        b.mask = first_lanes(int(std::min<int64_t>(kLanes, c - c0)));
        for (int t = 0; t < 9; ++t) b.tap[t] = load(sw.filter + (sw.flip ? 8 - t : t) * c + c0, b.mask);  // once a row
        b.bias = sw.bias ? load(sw.bias + c0, b.mask) : zero();
        b.lo = broadcast(sw.lo), b.hi = broadcast(sw.hi);
        b.accumulate = sw.accumulate;
        Rows rows;
        for (int ky = 0; ky < 3; ++ky) {
            const int iy = y * kStride - sw.pad_top + ky;
            rows.row[ky] = iy >= 0 && iy < sw.src_h ? image + int64_t(iy) * sw.src_w * c + c0 : nullptr;
        }
        if (c - c0 >= kLanes) sweep_block<kStride, true>(dst_row + c0, rows, b, sw, x_lo, x_hi);
        else sweep_block<kStride, false>(dst_row + c0, rows, b, sw, x_lo, x_hi);
    }
}

// Threads take destination rows dynamically; each value is computed by one thread in a fixed order.
void run_sweep(const Sweep& sw, int batch) {
    const int64_t work = int64_t(batch) * sw.dst_h * sw.dst_w * sw.channels * 9;
#pragma omp parallel for collapse(2) schedule(dynamic) if (work >= kParallelMin)
    for (int n = 0; n < batch; ++n)
        for (int y = 0; y < sw.dst_h; ++y) {
            if (sw.stride == 1) sweep_row<1>(sw, n, y);
            else sweep_row<2>(sw, n, y);
        }
}

}  // namespace

bool depthwise_3x3_applies(const ConvGeometry& g) {
    return g.groups == g.in_c && g.out_c == g.in_c && g.kernel_h == 3 && g.kernel_w == 3 && g.dilation_h == 1 &&
           g.dilation_w == 1 && g.stride_h == g.stride_w && (g.stride_h == 1 || g.stride_h == 2);
}

void depthwise_3x3_forward(float* out, const float* in, const float* filter, const float* bias, float lo, float hi,
                           const ConvGeometry& g) {
    run_sweep(Sweep{in, g.in_h, g.in_w, out, g.out_h, g.out_w, g.in_c, g.stride_h, g.pad_top, g.pad_left, filter,
                    false, bias, false, lo, hi},
              g.batch);
}

bool depthwise_3x3_backward_input_applies(const ConvGeometry& g) {
    return depthwise_3x3_applies(g) && g.stride_h == 1 && g.pad_top <= 2 && g.pad_left <= 2;
}

void depthwise_3x3_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    run_sweep(Sweep{d_out, g.out_h, g.out_w, d_in, g.in_h, g.in_w, g.in_c, 1, 2 - g.pad_top, 2 - g.pad_left, filter,
                    true, nullptr, true, -kInf, kInf},
              g.batch);
}

}  // namespace ec

#else  // no AVX-512 or AVX2: conv2d_depthwise.cpp's portable loops

namespace ec {
bool depthwise_3x3_applies(const ConvGeometry&) { return false; }
void depthwise_3x3_forward(float*, const float*, const float*, const float*, float, float, const ConvGeometry&) {}
bool depthwise_3x3_backward_input_applies(const ConvGeometry&) { return false; }
void depthwise_3x3_backward_input(float*, const float*, const float*, const ConvGeometry&) {}
}  // namespace ec

#endif
