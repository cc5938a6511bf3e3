// Depthwise 3x3 (multiplier 1, stride 1 or 2) as a direct SIMD kernel (nn/simd.h: AVX-512 or AVX2 + FMA). Threads
// take output rows; within a row, each block of kLanes channels keeps its nine filter taps and its bias in registers and sweeps the row's pixels, four
// output pixels at a time in the interior (four independent accumulator chains hide the FMA latency), so each
// input row of the block is read from L1/L2 once per output row that needs it and nothing is reloaded per tap.
// Border pixels (taps in the padding) take a checked loop; a last block of fewer than kLanes channels uses masks.
// The bias and an optional clamp (the fused ReLU6 of conv2d_forward_clamped) are applied before the one store.
// The stride-1 input gradient is the same sweep (flipped filter) accumulating into d_in (or overwriting it); the
// stride-2 one a gather that takes pairs of input columns (gather_row below).
#include "nn/conv2d_depthwise_3x3.h"
#include "nn/parallel.h"

#include "nn/simd.h"

#ifdef EC_SIMD

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ec {
namespace {

using namespace simd;

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
    const uint8_t* gate_mask = nullptr;  // or only where gate_mask (nn/gate_mask.h) is nonzero
};

// One output row's view of the source: the three rows its taps read (null where a row is padding).
struct Rows {
    const float* row[3];
};

struct Block {  // one block of channels: taps, bias, clamp range and the mask of its valid channels
    Vec tap[9], bias, lo, hi, gate_hi;
    Mask mask;
    bool accumulate;
    int64_t gate_offset = 0;  // gate - dst, in floats, when gated
    bool gated = false;
    const float* dst_base = nullptr;        // with a gate mask: the value dst_base[i] is gated by mask_base[i]
    const uint8_t* mask_base = nullptr;
};

inline Vec clamp(Vec x, const Block& b) { return simd::clamp(x, b.lo, b.hi); }
// Loads and stores of a block's channels: plain for a full block, masked for the last one (masked stores are slow
// on AMD's AVX2 cores, so full blocks must not use them).
template <bool kFull>
inline Vec ld(const float* p, const Block& b) { return kFull ? load(p) : load(p, b.mask); }
template <bool kFull>
inline void st(float* p, Vec v, const Block& b) {
    v = clamp(v, b);
    if (b.gated) v = gate_open(v, ld<kFull>(p + b.gate_offset, b), b.gate_hi);
    if (b.mask_base) v = gate_open_bytes(v, b.mask_base + (p - b.dst_base));
    if (kFull) store(p, v);
    else store(p, v, b.mask);
}
// The same store for the hot loops, its kind a template argument (no branch per store, no clamp where there is
// none): the forward clamps (kClamp: bias + ReLU6, or +-inf), an input gradient stores as it is (kPlain) or gated
// by values (kGateValues) or by a gate mask (kGateBytes).
enum class StoreKind { kClamp, kPlain, kGateValues, kGateBytes };

template <bool kFull, StoreKind kKind>
inline void st(float* p, Vec v, const Block& b) {
    if constexpr (kKind == StoreKind::kClamp) v = clamp(v, b);
    if constexpr (kKind == StoreKind::kGateValues) v = gate_open(v, ld<kFull>(p + b.gate_offset, b), b.gate_hi);
    if constexpr (kKind == StoreKind::kGateBytes) v = gate_open_bytes(v, b.mask_base + (p - b.dst_base));
    if (kFull) store(p, v);
    else store(p, v, b.mask);
}

template <bool kFull>
inline Vec start(const float* dst, const Block& b) { return b.accumulate ? add(ld<kFull>(dst, b), b.bias) : b.bias; }

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

// One interior output pixel (every column tap inside the image): what is left after the groups of four.
template <int kStride, bool kFull, StoreKind kKind>
void one_pixel(float* dst, const Rows& rows, const Block& b, const Sweep& sw, int x) {
    const int64_t c = sw.channels;
    Vec acc = start<kFull>(dst, b);
    for (int ky = 0; ky < 3; ++ky) {
        if (!rows.row[ky]) continue;
        const float* p = rows.row[ky] + int64_t(x * kStride - sw.pad_left) * c;
        acc = fma(ld<kFull>(p, b), b.tap[ky * 3], acc);
        acc = fma(ld<kFull>(p + c, b), b.tap[ky * 3 + 1], acc);
        acc = fma(ld<kFull>(p + 2 * c, b), b.tap[ky * 3 + 2], acc);
    }
    st<kFull, kKind>(dst, acc, b);
}

// kN interior output pixels x..x+kN-1: kN independent accumulator chains hide the FMA latency (4 cycles, 2 FMAs
// a cycle: 8 chains would be needed to fill the units; 6 accumulators + 9 taps fit AVX2's 16 registers). Each
// pixel sums its taps in the order of one_pixel, so the group size does not change the results.
template <int kStride, bool kFull, int kN, StoreKind kKind>
void n_pixels(float* dst, const Rows& rows, const Block& b, const Sweep& sw, int x) {
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
            for (int i = 0; i < kN; ++i) a[i] = fma(ld<kFull>(p + (i * kStride + kx) * c, b), f, a[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < kN; ++i) st<kFull, kKind>(dst + i * c, a[i], b);
}

// One block of channels of a destination row: checked borders, six (then four, then one) pixels at a time inside.
template <int kStride, bool kFull, StoreKind kKind>
void sweep_block(float* d, const Rows& rows, const Block& b, const Sweep& sw, int x_lo, int x_hi) {
    const int64_t c = sw.channels;
    int x = 0;
    for (; x < x_lo; ++x) pixel_checked<kFull>(d + x * c, rows, b, sw, x);
    for (; x + 6 <= x_hi; x += 6) n_pixels<kStride, kFull, 6, kKind>(d + x * c, rows, b, sw, x);
    for (; x + 4 <= x_hi; x += 4) n_pixels<kStride, kFull, 4, kKind>(d + x * c, rows, b, sw, x);
    for (; x < x_hi; ++x) one_pixel<kStride, kFull, kKind>(d + x * c, rows, b, sw, x);
    for (; x < sw.dst_w; ++x) pixel_checked<kFull>(d + x * c, rows, b, sw, x);
}

template <int kStride, bool kFull>
void sweep_block_of(float* d, const Rows& rows, const Block& b, const Sweep& sw, int x_lo, int x_hi) {
    if (sw.gate) sweep_block<kStride, kFull, StoreKind::kGateValues>(d, rows, b, sw, x_lo, x_hi);
    else if (sw.gate_mask) sweep_block<kStride, kFull, StoreKind::kGateBytes>(d, rows, b, sw, x_lo, x_hi);
    else if (sw.flip) sweep_block<kStride, kFull, StoreKind::kPlain>(d, rows, b, sw, x_lo, x_hi);  // a gradient
    else sweep_block<kStride, kFull, StoreKind::kClamp>(d, rows, b, sw, x_lo, x_hi);
}

// One destination row, all channels, from the three source rows its taps read (null: padding).
template <int kStride>
void sweep_row_from(const Sweep& sw, float* dst_row, const float* const src_rows[3]) {
    const int64_t c = sw.channels;
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
        b.gated = sw.gate != nullptr, b.gate_offset = sw.gate - sw.dst, b.gate_hi = broadcast(sw.gate_hi);
        b.dst_base = sw.dst, b.mask_base = sw.gate_mask;
        Rows rows;
        for (int ky = 0; ky < 3; ++ky) rows.row[ky] = src_rows[ky] ? src_rows[ky] + c0 : nullptr;
        if (c - c0 >= kLanes) sweep_block_of<kStride, true>(dst_row + c0, rows, b, sw, x_lo, x_hi);
        else sweep_block_of<kStride, false>(dst_row + c0, rows, b, sw, x_lo, x_hi);
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

// ------------------------------------------------------------------ stride-2 input gradient: a gather
// Input pixel (iy, ix) receives d_out[oy, ox] * filter[ky, kx] for every tap with iy = 2 oy - pad_top + ky and
// ix = 2 ox - pad_left + kx. With r = iy + pad_top: an even r takes ky = 0 (oy = r / 2) and ky = 2 (oy = r / 2 - 1),
// an odd r takes ky = 1 (oy = (r - 1) / 2); columns likewise with q = ix + pad_left. So an (even, odd) pair of
// input columns reads the same two d_out pixels of each row, ox - 1 and ox = q / 2: two loads, three FMAs.
struct GatherRows {  // the d_out rows (at the block's first channel) an input row reads, and their ky
    const float* row[2];
    int ky[2];
    int count = 0;
};

// Input pixels [pairs_begin, pairs_end) of every row go by pairs (the first q = ix + pad_left even with q >= 2 and
// q / 2 < out_w; pairs while ix + 1 < in_w and q / 2 < out_w), the others by gather_pixel_checked.
struct PairColumns {
    int begin, end;
};

PairColumns pair_columns(const ConvGeometry& g) {
    int begin = 0;
    while (begin < g.in_w) {
        const int q = begin + g.pad_left;
        if (q % 2 == 0 && q >= 2 && q / 2 < g.out_w && begin + 1 < g.in_w) break;
        ++begin;
    }
    int end = begin;
    while (end + 1 < g.in_w && (end + g.pad_left) / 2 < g.out_w) end += 2;
    return {begin, end};
}

struct Gather {
    const float* d_out;
    float* d_in;
    const float* filter;
    const ConvGeometry& g;
    bool accumulate;
    const float* gate;  // as Sweep::gate
    float gate_hi;
    const uint8_t* gate_mask;  // as Sweep::gate_mask
    PairColumns pairs;
};

// Input pixel with q = ix + pad_left, taps outside d_out skipped.
template <bool kFull>
void gather_pixel_checked(float* dst, const GatherRows& rows, const Block& b, int q, int out_w, int64_t c) {
    Vec acc = start<kFull>(dst, b);
    for (int r = 0; r < rows.count; ++r) {
        const float* p = rows.row[r];
        const Vec* tap = b.tap + rows.ky[r] * 3;
        if (q % 2 == 0) {
            const int ox = q / 2;
            if (ox < out_w) acc = fma(ld<kFull>(p + ox * c, b), tap[0], acc);
            if (ox >= 1 && ox - 1 < out_w) acc = fma(ld<kFull>(p + (ox - 1) * c, b), tap[2], acc);
        } else {
            const int ox = (q - 1) / 2;
            if (ox < out_w) acc = fma(ld<kFull>(p + ox * c, b), tap[1], acc);
        }
    }
    st<kFull>(dst, acc, b);
}

// Input pixel pairs ix, ix + 1 for ix in [ix, ix_end) step 2 (q = ix + pad_left even, 1 <= q / 2 < out_w): the
// same sums as gather_pixel_checked, unchecked, from kRows d_out rows whose taps stay in registers (the row count
// and the gate are template arguments so the loop carries no branch and the compiler keeps nothing on the stack).
template <int kRows, bool kFull, StoreKind kKind>
void gather_pairs(float* d, const GatherRows& rows, const Block& b, int ix, int ix_end, int pad_left, int64_t c) {
    Vec left_tap[kRows], mid_tap[kRows], right_tap[kRows];  // kx = 2, 1, 0
    const float* row[kRows];
    for (int r = 0; r < kRows; ++r) {
        const Vec* tap = b.tap + rows.ky[r] * 3;
        right_tap[r] = tap[0], mid_tap[r] = tap[1], left_tap[r] = tap[2];
        row[r] = rows.row[r];
    }
    for (; ix < ix_end; ix += 2) {
        float* dst = d + ix * c;
        Vec even = start<kFull>(dst, b), odd = start<kFull>(dst + c, b);
        const int64_t ox = (ix + pad_left) / 2;
#pragma GCC unroll 2
        for (int r = 0; r < kRows; ++r) {
            const Vec right = ld<kFull>(row[r] + ox * c, b), left = ld<kFull>(row[r] + (ox - 1) * c, b);
            even = fma(left, left_tap[r], fma(right, right_tap[r], even));
            odd = fma(right, mid_tap[r], odd);
        }
        st<kFull, kKind>(dst, even, b);
        st<kFull, kKind>(dst + c, odd, b);
    }
}

template <bool kFull, StoreKind kKind>
void gather_pairs_of(float* d, const GatherRows& rows, const Block& b, int ix, int ix_end, int pad_left, int64_t c) {
    if (rows.count == 2) gather_pairs<2, kFull, kKind>(d, rows, b, ix, ix_end, pad_left, c);
    else if (rows.count == 1) gather_pairs<1, kFull, kKind>(d, rows, b, ix, ix_end, pad_left, c);
    else gather_pairs<0, kFull, kKind>(d, rows, b, ix, ix_end, pad_left, c);
}

template <bool kFull>
void gather_block(float* d, const GatherRows& rows, const Block& b, const ConvGeometry& g, PairColumns pairs) {
    const int64_t c = g.in_c;
    for (int ix = 0; ix < pairs.begin; ++ix) gather_pixel_checked<kFull>(d + ix * c, rows, b, ix + g.pad_left, g.out_w, c);
    if (b.gated) gather_pairs_of<kFull, StoreKind::kGateValues>(d, rows, b, pairs.begin, pairs.end, g.pad_left, c);
    else if (b.mask_base) gather_pairs_of<kFull, StoreKind::kGateBytes>(d, rows, b, pairs.begin, pairs.end, g.pad_left, c);
    else gather_pairs_of<kFull, StoreKind::kPlain>(d, rows, b, pairs.begin, pairs.end, g.pad_left, c);
    for (int ix = pairs.end; ix < g.in_w; ++ix) gather_pixel_checked<kFull>(d + ix * c, rows, b, ix + g.pad_left, g.out_w, c);
}

// One input row, all channels: d_row (+)= the gathered sums from `rows` (at channel 0).
void gather_row_from(const Gather& ga, float* d_row, const GatherRows& rows) {
    const int64_t c = ga.g.in_c;
    for (int64_t c0 = 0; c0 < c; c0 += kLanes) {
        Block b;
        b.mask = first_lanes(int(std::min<int64_t>(kLanes, c - c0)));
        for (int t = 0; t < 9; ++t) b.tap[t] = load(ga.filter + t * c + c0, b.mask);
        b.bias = zero();
        b.lo = broadcast(-std::numeric_limits<float>::infinity()), b.hi = broadcast(std::numeric_limits<float>::infinity());
        b.accumulate = ga.accumulate;
        b.gated = ga.gate != nullptr, b.gate_offset = ga.gate - ga.d_in, b.gate_hi = broadcast(ga.gate_hi);
        b.dst_base = ga.d_in, b.mask_base = ga.gate_mask;
        GatherRows at = rows;
        for (int k = 0; k < at.count; ++k) at.row[k] += c0;
        if (c - c0 >= kLanes) gather_block<true>(d_row + c0, at, b, ga.g, ga.pairs);
        else gather_block<false>(d_row + c0, at, b, ga.g, ga.pairs);
    }
}

// The d_out rows input row iy reads, in the order of their ky: d_out_rows[ky] is row oy with
// 2 oy - pad_top + ky = iy, or null.
GatherRows gather_rows(const float* const d_out_rows[3]) {
    GatherRows rows;
    for (int ky : {0, 2, 1})  // an even iy + pad_top reads ky 0 then 2, an odd one ky 1
        if (d_out_rows[ky]) rows.row[rows.count] = d_out_rows[ky], rows.ky[rows.count++] = ky;
    return rows;
}

// The d_out rows (image n) whose taps reach input row iy: d_out_rows[ky] = row oy with oy * stride - pad_top + ky
// = iy, or null.
void tap_rows(const float* d_out, const ConvGeometry& g, int n, int iy, const float* d_out_rows[3]) {
    for (int ky = 0; ky < 3; ++ky) {
        const int r = iy + g.pad_top - ky;
        const int oy = r / g.stride_h;
        const bool hit = r >= 0 && r % g.stride_h == 0 && oy < g.out_h;
        d_out_rows[ky] = hit ? d_out + (int64_t(n) * g.out_h + oy) * g.out_w * g.in_c : nullptr;
    }
}

// Input row (n, iy), all channels: d_in (+)= the gathered sums.
void gather_row(const Gather& ga, int n, int iy) {
    const ConvGeometry& g = ga.g;
    const float* d_out_rows[3];
    tap_rows(ga.d_out, g, n, iy, d_out_rows);
    gather_row_from(ga, ga.d_in + (int64_t(n) * g.in_h + iy) * g.in_w * g.in_c, gather_rows(d_out_rows));
}

// The stride-1 input gradient as a sweep over d_out with the flipped filter (see Sweep), d_in overwritten or
// accumulated, gated as asked.
Sweep flipped_sweep(const float* d_out, float* d_in, const float* filter, const ConvGeometry& g, bool overwrite,
                    const float* gate, float gate_hi, const uint8_t* gate_mask) {
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
                                  bool overwrite, const float* gate, float gate_hi, const uint8_t* gate_mask) {
    if (g.stride_h == 1) return run_sweep(flipped_sweep(d_out, d_in, filter, g, overwrite, gate, gate_hi, gate_mask), g.batch);
    const Gather ga{d_out, d_in, filter, g, !overwrite, gate, gate_hi, gate_mask, pair_columns(g)};
    // Each input row is written by one thread; a row costs about a quarter of a forward output row's taps.
    const int64_t work = int64_t(g.batch) * g.in_h * g.in_w * g.in_c * 9 / 4;
#pragma omp parallel for collapse(2) schedule(dynamic) if (work >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int iy = 0; iy < g.in_h; ++iy) gather_row(ga, n, iy);
}

void depthwise_3x3_backward_input_row(float* d_in_row, const float* const d_out_rows[3], const float* filter,
                                      const uint8_t* gate_mask_row, const ConvGeometry& g) {
    if (g.stride_h == 1) {
        const Sweep sw = flipped_sweep(nullptr, d_in_row, filter, g, true, nullptr, 0, gate_mask_row);
        const float* src_rows[3] = {d_out_rows[2], d_out_rows[1], d_out_rows[0]};  // the flipped filter's ky
        return sweep_row_from<1>(sw, d_in_row, src_rows);
    }
    const Gather ga{nullptr, d_in_row, filter, g, false, nullptr, 0, gate_mask_row, pair_columns(g)};
    gather_row_from(ga, d_in_row, gather_rows(d_out_rows));
}

}  // namespace ec

#else  // no AVX-512 or AVX2: conv2d_depthwise.cpp's portable loops

namespace ec {
bool depthwise_3x3_applies(const ConvGeometry&) { return false; }
void depthwise_3x3_forward(float*, const float*, const float*, const float*, float, float, const ConvGeometry&) {}
void depthwise_3x3_forward_row(float*, const float* const[3], const float*, const float*, float, float, const ConvGeometry&) {}
bool depthwise_3x3_backward_input_applies(const ConvGeometry&) { return false; }
void depthwise_3x3_backward_input_row(float*, const float* const[3], const float*, const uint8_t*, const ConvGeometry&) {}
void depthwise_3x3_backward_input(float*, const float*, const float*, const ConvGeometry&, bool, const float*, float,
                                  const uint8_t*) {}
}  // namespace ec

#endif
