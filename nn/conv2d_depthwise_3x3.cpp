// Depthwise 3x3 (multiplier 1, stride 1 or 2) as a direct SIMD kernel (nn/simd.h: AVX-512 or AVX2 + FMA). Threads
// take output rows; within a row, each block of kLanes channels (conv2d_depthwise_3x3_block.h) keeps its nine
// filter taps and its bias in registers and sweeps the row's pixels in groups of up to six output pixels
// (independent accumulator chains hide the FMA latency), so each input row of the block is read from L1/L2 once
// per output row that needs it and nothing is reloaded per tap. A border pixel whose one tap column in the padding
// is its first or last joins the first or last group with that tap skipped (the 14 x 14 and 7 x 7 layers: 26-28 %
// faster than when each border pixel ran alone); other border pixels take a checked loop. A last block of fewer
// than kLanes channels uses masks.
// The bias and an optional clamp (the fused ReLU6 of conv2d_forward_clamped) are applied before the one store.
// The stride-1 input gradient is the same sweep (flipped filter) accumulating into d_in (or overwriting it); the
// stride-2 one a gather that takes pairs of input columns (conv2d_depthwise_3x3_gather.cpp).
#include "nn/conv2d_depthwise_3x3.h"
#include "nn/parallel.h"

#include "nn/conv2d_depthwise_3x3_block.h"
#include "nn/simd.h"

#ifdef EC_SIMD

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ec {
namespace {

using namespace simd;
using namespace depthwise_3x3;

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
    const float* gate = nullptr;  // laid out as dst: keep dst only where 0 < gate < gate_hi (when not null)
    float gate_hi = 0;
    GateMask gate_mask = {};  // or only where gate_mask (nn/gate_mask.h) is open
};

// One output row's view of the source: the three rows its taps read (null where a row is padding).
struct Rows {
    const float* row[3];
};

// Output pixel x of a block, skipping taps that fall in the padding (the column range is found once).
template <bool kFull>
void pixel_checked(float* dst, const Rows& rows, const Block& b, const Sweep& sw, int x) {
    Vec acc = start<kFull>(dst, b);
    const int x0 = x * sw.stride - sw.pad_left;
    const int kx_lo = std::max(0, -x0), kx_hi = std::min(3, sw.src_w - x0);
    for (int ky = 0; ky < 3; ++ky) {
        if (!rows.row[ky]) continue;
        const float* p = rows.row[ky] + int64_t(x0) * sw.channels;
        for (int kx = kx_lo; kx < kx_hi; ++kx) acc = fma(ld<kFull>(p + kx * sw.channels, b), b.tap[ky * 3 + kx], acc);
    }
    st<kFull>(dst, acc, b);
}

// kN output pixels x..x+kN-1 whose column taps are inside the image, except, where skip_left, the first pixel's
// tap kx = 0 and, where skip_right, the last pixel's tap kx = 2 (each in a one-column padding: skipped, as
// pixel_checked skips it). kN independent accumulator chains hide the FMA latency (4 cycles, 2 FMAs a cycle: 8
// chains would be needed to fill the units; 6 accumulators + 9 taps fit AVX2's 16 registers). Each pixel sums
// its taps in pixel_checked's order (ky, then kx, from the start value), so the grouping does not change the
// results.
template <int kStride, bool kFull, int kN, StoreKind kKind>
void n_pixels(float* dst, const Rows& rows, const Block& b, const Sweep& sw, int x, bool skip_left, bool skip_right) {
    const int64_t c = sw.channels;
    Vec a[kN];
#pragma GCC unroll 8
    for (int i = 0; i < kN; ++i) a[i] = start<kFull>(dst + i * c, b);
    for (int ky = 0; ky < 3; ++ky) {
        if (!rows.row[ky]) continue;
        const float* p = rows.row[ky] + int64_t(x * kStride - sw.pad_left) * c;
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; ++kx) {
            const Vec f = b.tap[ky * 3 + kx];
#pragma GCC unroll 8
            for (int i = 0; i < kN; ++i) {
                if ((i == 0 && kx == 0 && skip_left) || (i == kN - 1 && kx == 2 && skip_right)) continue;
                a[i] = fma(ld<kFull>(p + (i * kStride + kx) * c, b), f, a[i]);
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < kN; ++i) st<kFull, kKind>(dst + i * c, a[i], b);
}

using PixelsFn = void (*)(float*, const Rows&, const Block&, const Sweep&, int, bool, bool);
template <int kStride, bool kFull, StoreKind kKind>
constexpr PixelsFn kPixels[7] = {nullptr,
                                 n_pixels<kStride, kFull, 1, kKind>,
                                 n_pixels<kStride, kFull, 2, kKind>,
                                 n_pixels<kStride, kFull, 3, kKind>,
                                 n_pixels<kStride, kFull, 4, kKind>,
                                 n_pixels<kStride, kFull, 5, kKind>,
                                 n_pixels<kStride, kFull, 6, kKind>};

// The columns of a destination row: [0, left) and [right, dst_w) take pixel_checked; [left, right) goes in groups
// of up to six, the first pixel's kx = 0 tap skipped if skip_left, the last one's kx = 2 tap if skip_right. A
// border pixel whose only tap in the padding is that one joins the groups (at 14 x 14 and 7 x 7, 2 of 14 and 2 of 7
// pixels, whose one-at-a-time chains of dependent FMAs took a third of the row).
struct Columns {
    int left, right;
    bool skip_left, skip_right;
};
Columns row_columns(const Sweep& sw, int stride, int x_lo, int x_hi) {
    Columns col{x_lo, x_hi, false, false};
    // Pixel 0 reads columns -pad_left + kx: with pad_left 1, kx = 0 alone falls outside (if the image has 2 columns).
    if (x_lo == 1 && sw.pad_left == 1 && sw.src_w >= 2) col.left = 0, col.skip_left = true;
    // The last pixel reads c0 + kx, c0 = (dst_w - 1) stride - pad_left: kx = 2 alone outside when c0 + 1 < src_w.
    const int c0 = (sw.dst_w - 1) * stride - sw.pad_left;
    if (x_hi == sw.dst_w - 1 && x_hi >= col.left && c0 >= 0 && c0 + 1 < sw.src_w && c0 + 2 >= sw.src_w)
        col.right = sw.dst_w, col.skip_right = true;
    return col;
}

// One block of channels of a destination row: checked borders outside `col`, inside it groups of six and, for the
// last 7 to 11 pixels, two groups of nearly equal size (7 = 4 + 3: no lone pixel with one chain of dependent
// FMAs). The groups of six are called directly (inlined: the taps stay in registers from group to group).
template <int kStride, bool kFull, StoreKind kKind>
void sweep_block(float* d, const Rows& rows, const Block& b, const Sweep& sw, const Columns& col) {
    const int64_t c = sw.channels;
    int x = 0;
    for (; x < col.left; ++x) pixel_checked<kFull>(d + x * c, rows, b, sw, x);
    const int n = col.right - col.left;
    const int tail = n < 6 ? n : n % 6 == 0 ? 6 : n % 6 + (n % 6 < 3 ? 6 : 0);  // pixels after the sixes: 1-11
    for (int done = 0; done < n - tail; done += 6, x += 6)
        n_pixels<kStride, kFull, 6, kKind>(d + x * c, rows, b, sw, x, done == 0 && col.skip_left, false);
    const bool first = n == tail;
    if (tail > 0 && tail <= 6) {  // (tail 0: no interior column, an image narrower than the window)
        kPixels<kStride, kFull, kKind>[tail](d + x * c, rows, b, sw, x, first && col.skip_left, col.skip_right);
        x += tail;
    } else if (tail > 6) {
        const int k = (tail + 1) / 2;
        kPixels<kStride, kFull, kKind>[k](d + x * c, rows, b, sw, x, first && col.skip_left, false);
        x += k;
        kPixels<kStride, kFull, kKind>[tail - k](d + x * c, rows, b, sw, x, false, col.skip_right);
        x += tail - k;
    }
    for (; x < sw.dst_w; ++x) pixel_checked<kFull>(d + x * c, rows, b, sw, x);
}

template <int kStride, bool kFull>
void sweep_block_of(float* d, const Rows& rows, const Block& b, const Sweep& sw, const Columns& col) {
    if (sw.gate) sweep_block<kStride, kFull, StoreKind::kGateValues>(d, rows, b, sw, col);
    else if (sw.gate_mask) sweep_block<kStride, kFull, StoreKind::kGateBits>(d, rows, b, sw, col);
    else if (sw.flip) sweep_block<kStride, kFull, StoreKind::kPlain>(d, rows, b, sw, col);  // a gradient
    else sweep_block<kStride, kFull, StoreKind::kClamp>(d, rows, b, sw, col);
}

// One destination row, all channels, from the three source rows its taps read (null: padding).
template <int kStride>
void sweep_row_from(const Sweep& sw, float* dst_row, const float* const src_rows[3]) {
    const int64_t c = sw.channels;
    // Interior columns [x_lo, x_hi): taps x * s - pad_left + {0, 1, 2} all inside [0, src_w) (pad_left >= 0).
    const int x_lo = std::min(sw.dst_w, (sw.pad_left + kStride - 1) / kStride);
    const int last = sw.src_w - 3 + sw.pad_left;
    const int x_hi = last >= 0 ? std::max(x_lo, std::min(sw.dst_w, last / kStride + 1)) : x_lo;
    const Columns col = row_columns(sw, kStride, x_lo, x_hi);
    for (int64_t c0 = 0; c0 < c; c0 += kLanes) {
        Block b;
        b.mask = first_lanes(int(std::min<int64_t>(kLanes, c - c0)));
        for (int t = 0; t < 9; ++t) b.tap[t] = load(sw.filter + (sw.flip ? 8 - t : t) * c + c0, b.mask);  // once a row
        b.bias = sw.bias ? load(sw.bias + c0, b.mask) : zero();
        b.lo = broadcast(sw.lo), b.hi = broadcast(sw.hi);
        b.accumulate = sw.accumulate;
        b.gated = sw.gate != nullptr, b.gate_offset = sw.gate - sw.dst, b.gate_hi = broadcast(sw.gate_hi);
        b.dst_base = sw.dst, b.mask_base = sw.gate_mask;
        Rows rows;
        for (int ky = 0; ky < 3; ++ky) rows.row[ky] = src_rows[ky] ? src_rows[ky] + c0 : nullptr;
        if (c - c0 >= kLanes) sweep_block_of<kStride, true>(dst_row + c0, rows, b, sw, col);
        else sweep_block_of<kStride, false>(dst_row + c0, rows, b, sw, col);
    }
}

// Destination row (n, y), all channels.
template <int kStride>
void sweep_row(const Sweep& sw, int n, int y) {
    const int64_t c = sw.channels;
    const float* image = sw.src + int64_t(n) * sw.src_h * sw.src_w * c;
    const float* rows[3];
    for (int ky = 0; ky < 3; ++ky) {
        const int iy = y * kStride - sw.pad_top + ky;
        rows[ky] = iy >= 0 && iy < sw.src_h ? image + int64_t(iy) * sw.src_w * c : nullptr;
    }
    sweep_row_from<kStride>(sw, sw.dst + (int64_t(n) * sw.dst_h + y) * sw.dst_w * c, rows);
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

// The stride-1 input gradient as a sweep over d_out with the flipped filter (see Sweep), d_in overwritten or
// accumulated, gated as asked.
Sweep flipped_sweep(const float* d_out, float* d_in, const float* filter, const ConvGeometry& g, bool overwrite,
                    const float* gate, float gate_hi, GateMask gate_mask) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    return Sweep{d_out, g.out_h, g.out_w, d_in, g.in_h, g.in_w, g.in_c, 1, 2 - g.pad_top, 2 - g.pad_left,
                 filter, true, nullptr, !overwrite, -kInf, kInf, gate, gate_hi, gate_mask};
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

void depthwise_3x3_forward_row(float* out_row, const float* const in_rows[3], const float* filter, const float* bias,
                               float lo, float hi, const ConvGeometry& g) {
    const Sweep sw{nullptr, g.in_h, g.in_w, out_row, 1, g.out_w, g.in_c, g.stride_h, g.pad_top, g.pad_left, filter,
                   false, bias, false, lo, hi};
    if (g.stride_h == 1) sweep_row_from<1>(sw, out_row, in_rows);
    else sweep_row_from<2>(sw, out_row, in_rows);
}

bool depthwise_3x3_backward_input_applies(const ConvGeometry& g) {
    return depthwise_3x3_applies(g) && (g.stride_h == 2 || (g.pad_top <= 2 && g.pad_left <= 2));
}

void depthwise_3x3_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g,
                                  bool overwrite, const float* gate, float gate_hi, GateMask gate_mask) {
    if (g.stride_h == 1) return run_sweep(flipped_sweep(d_out, d_in, filter, g, overwrite, gate, gate_hi, gate_mask), g.batch);
    depthwise_3x3::gather_input_gradient(d_in, d_out, filter, g, overwrite, gate, gate_hi, gate_mask);
}

void depthwise_3x3_backward_input_row(float* d_in_row, const float* const d_out_rows[3], const float* filter,
                                      GateMask gate_mask_row, const ConvGeometry& g) {
    if (g.stride_h == 1) {
        const Sweep sw = flipped_sweep(nullptr, d_in_row, filter, g, true, nullptr, 0, gate_mask_row);
        const float* src_rows[3] = {d_out_rows[2], d_out_rows[1], d_out_rows[0]};  // the flipped filter's ky
        return sweep_row_from<1>(sw, d_in_row, src_rows);
    }
    depthwise_3x3::gather_input_gradient_row(d_in_row, d_out_rows, filter, gate_mask_row, g);
}

}  // namespace ec

#else  // no AVX-512 or AVX2: conv2d_depthwise.cpp's portable loops

namespace ec {
bool depthwise_3x3_applies(const ConvGeometry&) { return false; }
void depthwise_3x3_forward(float*, const float*, const float*, const float*, float, float, const ConvGeometry&) {}
void depthwise_3x3_forward_row(float*, const float* const[3], const float*, const float*, float, float, const ConvGeometry&) {}
bool depthwise_3x3_backward_input_applies(const ConvGeometry&) { return false; }
void depthwise_3x3_backward_input_row(float*, const float* const[3], const float*, GateMask, const ConvGeometry&) {}
void depthwise_3x3_backward_input(float*, const float*, const float*, const ConvGeometry&, bool, const float*, float,
                                  GateMask) {}
}  // namespace ec

#endif
