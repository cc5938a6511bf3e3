// The stride-2 input gradient of the depthwise 3x3 convolution as a gather over input rows (nn/simd.h; internal
// to nn/, called by conv2d_depthwise_3x3.cpp): each input row is written by one thread, each value once, from the
// one or two d_out rows its taps read, taking the input columns in (even, odd) pairs that read the same two d_out
// pixels. The taps stay in registers: the row count and the gate are template arguments.
#include "nn/conv2d_depthwise_3x3_block.h"
#include "nn/parallel.h"

#ifdef EC_SIMD

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ec::depthwise_3x3 {
namespace {

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
    GateMask gate_mask;  // as Sweep::gate_mask
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
    else if (b.mask_base) gather_pairs_of<kFull, StoreKind::kGateBits>(d, rows, b, pairs.begin, pairs.end, g.pad_left, c);
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

}  // namespace

void gather_input_gradient(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g, bool overwrite,
                           const float* gate, float gate_hi, GateMask gate_mask) {
    const Gather ga{d_out, d_in, filter, g, !overwrite, gate, gate_hi, gate_mask, pair_columns(g)};
    // Each input row is written by one thread; a row costs about a quarter of a forward output row's taps.
    const int64_t work = int64_t(g.batch) * g.in_h * g.in_w * g.in_c * 9 / 4;
#pragma omp parallel for collapse(2) schedule(dynamic) if (work >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int iy = 0; iy < g.in_h; ++iy) gather_row(ga, n, iy);
}

void gather_input_gradient_row(float* d_in_row, const float* const d_out_rows[3], const float* filter,
                               GateMask gate_mask_row, const ConvGeometry& g) {
    const Gather ga{nullptr, d_in_row, filter, g, false, nullptr, 0, gate_mask_row, pair_columns(g)};
    gather_row_from(ga, d_in_row, gather_rows(d_out_rows));
}

}  // namespace ec::depthwise_3x3

#endif
