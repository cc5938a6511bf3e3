// The stride-2 input gradient of an image network's first convolution over transposed d_out rows (internal to nn/,
// called by conv2d_first_3x3.cpp). Formula (conv2d.h, transposed):
//   d_in[n, y, x, i] (+)= sum_{ky, kx, o} d_out[n, oy, ox, o] * filter[ky, kx, i, o],  y + pad_top = 2 oy + ky,
//                                                                                      x + pad_left = 2 ox + kx.
// With q = x + pad_left, an even q = 2j takes kx = 0 from ox = j and kx = 2 from ox = j - 1, an odd q = 2j + 1 takes
// kx = 1 from ox = j. So over a d_out row transposed into one plane per output channel o (plane[1 + ox]; zeros at
// ox = -1 and past the row), kLanes consecutive j are two vector loads per o (ox = j and ox = j - 1), and each
// (input channel, tap) is one FMA with the filter value broadcast: no reduction across lanes, which the gather of
// conv2d_first_3x3.cpp needs once per input pixel. Measured (Google Benchmark, 1 thread, AVX-512 Xeon, alternating
// the builds): 224 x 224 x 3 -> 32 0.50-0.61 -> 0.40 ms, 192 x 192 x 3 -> 24 0.38-0.43 -> 0.20 ms; the
// transposes are a quarter of its time. Then (probe, fastest of 500 runs, alternating) 0.34 -> 0.29 ms: two
// column blocks share the filter broadcasts, and three-channel blocks are stored as 6 vectors (AVX-512 permutes). Threads take runs of input rows; a run transposes each d_out row it reads
// once (a ring of two, on the stack).
#include "nn/conv2d_first_3x3_planar.h"

#include "nn/simd.h"

#ifdef EC_SIMD

#include <algorithm>
#include <cstdint>

#include "nn/gemm_kernel.h"
#include "nn/parallel.h"

namespace ec {
namespace {

using namespace simd;

constexpr int kMaxC = 4;                     // input channels (as conv2d_first_3x3.cpp)
constexpr int64_t kRingBytes = 64 * 1024;    // the two transposed d_out rows a thread keeps on its stack
constexpr int kRowsPerRun = 16;              // input rows a thread takes at a time (one extra transpose per run)

// j = 0 .. pairs - 1: the column pairs (q = 2j, 2j + 1) of an input row.
int64_t column_pairs(const ConvGeometry& g) { return (int64_t(g.in_w) + g.pad_left + 1) / 2; }
// Floats per transposed plane: 1 + the pairs (or out_w) rounded up to kLanes, and slack.
int64_t plane_floats_of(const ConvGeometry& g) {
    return (std::max<int64_t>(column_pairs(g), g.out_w) + kLanes - 1) / kLanes * kLanes + kLanes;
}

struct Planar {
    First3x3Backward b;
    int64_t pairs, plane_floats;
};

// planes[o * plane_floats + 1 + ox] = d_out[n, oy, ox, o]; zeros at ox = -1 and from ox = out_w on.
void transpose_row(const Planar& p, int n, int oy, float* planes) {
    const ConvGeometry& g = p.b.g;
    for (int64_t o = 0; o < g.out_c; ++o) {
        float* plane = planes + o * p.plane_floats;
        plane[0] = 0.0f;
        std::fill(plane + 1 + g.out_w, plane + p.plane_floats, 0.0f);
    }
    const float* row = p.b.d_out + (int64_t(n) * g.out_h + oy) * g.out_w * g.out_c;
    pack_transposed(planes + 1, p.plane_floats, row, g.out_c, g.out_c, g.out_w);
}

// dst (+)= s as conv2d_first_3x3.cpp's combine8, one value: accumulate, overwrite (s + 0: -0 becomes +0) or
// overwrite gated (s + 0 where 0 < gate < gate_hi, else +0; NaN gates close).
enum class Store { kAccumulate, kOverwrite, kGated };
template <Store kStore>
inline void store_value(float* dst, float s, const Planar& p) {
    if constexpr (kStore == Store::kAccumulate) *dst = *dst + s;
    if constexpr (kStore == Store::kOverwrite) *dst = s + 0.0f;
    if constexpr (kStore == Store::kGated) {
        const float gate = p.b.gate[dst - p.b.d_in];
        *dst = gate > 0.0f && gate < p.b.gate_hi ? s + 0.0f : 0.0f;
    }
}

#if defined(__AVX512F__)
// The block's 2 kLanes pixels of three channels as they lie in the row: pixel 2t + parity, channel i from lane t
// of value[3 parity + i]. Output vector v's lane e is value (16 v + e) / 6 of source (16 v + e) % 6: one
// permute per (v, source) under a mask, instead of 96 scalar stores (which were 45 % of the kernel's time:
// 224 x 224 x 3 <- 32, 0.54 -> 0.30 ms with them left out, measured).
struct Interleave3 {
    alignas(64) int32_t lane[6][16];
    uint16_t from[6][6];
};
constexpr Interleave3 make_interleave3() {
    Interleave3 t{};
    for (int v = 0; v < 6; ++v)
        for (int e = 0; e < 16; ++e) {
            t.lane[v][e] = (16 * v + e) / 6;
            t.from[v][(16 * v + e) % 6] = uint16_t(t.from[v][(16 * v + e) % 6] | (1u << e));
        }
    return t;
}
constexpr Interleave3 kInterleave3 = make_interleave3();

template <Store kStore>
void store_interleaved3(float* dst, const Vec value[6]) {
    for (int v = 0; v < 6; ++v) {
        const __m512i lane = _mm512_load_si512(kInterleave3.lane[v]);
        Vec x = zero();
        for (int source = 0; source < 6; ++source)
            x = _mm512_mask_permutexvar_ps(x, kInterleave3.from[v][source], lane, value[source]);
        if constexpr (kStore == Store::kAccumulate) store(dst + 16 * v, add(load(dst + 16 * v), x));
        else store(dst + 16 * v, add(x, zero()));
    }
}
#endif

// Stores the block of columns j0 .. j0 + kLanes - 1 of input row d_row from its sums (planar_blocks); even q's
// value is sum0 + sum2.
template <int C, Store kStore>
void store_block(const Planar& p, float* d_row, int64_t j0, const Vec sum0[C], const Vec sum1[C], const Vec sum2[C]) {
    const ConvGeometry& g = p.b.g;
    const int64_t x0 = 2 * j0 - g.pad_left;  // the block's first x (q = 2 j0)
#if defined(__AVX512F__)
    if constexpr (C == 3 && kStore != Store::kGated)
        if (x0 >= 0 && x0 + 2 * kLanes <= g.in_w) {
            const Vec value[6] = {add(sum0[0], sum2[0]), add(sum0[1], sum2[1]), add(sum0[2], sum2[2]),
                                  sum1[0], sum1[1], sum1[2]};
            return store_interleaved3<kStore>(d_row + x0 * C, value);
        }
#endif
    alignas(64) float value[2][C][kLanes];  // [q parity][i][j - j0]
    for (int i = 0; i < C; ++i) store(value[0][i], add(sum0[i], sum2[i])), store(value[1][i], sum1[i]);
    if (x0 >= 0 && x0 + 2 * kLanes <= g.in_w) {  // every column inside the row
        float* dst = d_row + x0 * C;
        for (int t = 0; t < kLanes; ++t)
            for (int parity = 0; parity < 2; ++parity, dst += C)
                for (int i = 0; i < C; ++i) store_value<kStore>(dst + i, value[parity][i][t], p);
        return;
    }
    for (int t = 0; t < kLanes; ++t)
        for (int parity = 0; parity < 2; ++parity) {
            const int64_t x = x0 + 2 * t + parity;
            if (x < 0 || x >= g.in_w) continue;
            for (int i = 0; i < C; ++i) store_value<kStore>(d_row + x * C + i, value[parity][i][t], p);
        }
}

// NB blocks of kLanes columns from j0 of input row (n, iy) from `count` transposed d_out rows (kernel rows ky[]):
// per block and input channel i three sums, kx = 0 and 2 (even q) and kx = 1 (odd q), each over the rows, then
// the output channels, in order. Two blocks share each filter value's broadcast: per output channel 4 vector
// loads and 9 broadcasts feed 18 FMAs instead of 2 and 9 feeding 9 (the loads, not the FMAs, bound one block).
template <int C, Store kStore, int NB>
void planar_blocks(const Planar& p, float* d_row, const float* const planes[2], const int ky[2], int count, int64_t j0) {
    const int64_t oc = p.b.g.out_c;
    Vec sum0[NB][C], sum2[NB][C], sum1[NB][C];
    for (int b = 0; b < NB; ++b)
        for (int i = 0; i < C; ++i) sum0[b][i] = sum2[b][i] = sum1[b][i] = zero();
    for (int r = 0; r < count; ++r) {
        const float* plane = planes[r] + j0;  // plane[1 + ox]: ox = j at + 1, ox = j - 1 at + 0
        const float* tap = p.b.filter + int64_t(ky[r]) * 3 * C * oc;  // filter[ky, kx, i, o] at tap[(kx C + i) oc + o]
        for (int64_t o = 0; o < oc; ++o, plane += p.plane_floats, ++tap) {
            Vec at_j[NB], at_j_minus_1[NB];
            for (int b = 0; b < NB; ++b) at_j[b] = load(plane + b * kLanes + 1), at_j_minus_1[b] = load(plane + b * kLanes);
#pragma GCC unroll 4
            for (int i = 0; i < C; ++i) {
                const Vec w0 = broadcast(tap[i * oc]), w1 = broadcast(tap[(C + i) * oc]), w2 = broadcast(tap[(2 * C + i) * oc]);
                for (int b = 0; b < NB; ++b) {
                    sum0[b][i] = fma(at_j[b], w0, sum0[b][i]);
                    sum1[b][i] = fma(at_j[b], w1, sum1[b][i]);
                    sum2[b][i] = fma(at_j_minus_1[b], w2, sum2[b][i]);
                }
            }
        }
    }
    for (int b = 0; b < NB; ++b) store_block<C, kStore>(p, d_row, j0 + b * kLanes, sum0[b], sum1[b], sum2[b]);
}

// Input rows [row0, row1) of the flattened (n, iy) range, the transposed d_out rows in a ring of two slots.
template <int C, Store kStore>
void planar_rows(const Planar& p, int64_t row0, int64_t row1) {
    const ConvGeometry& g = p.b.g;
    alignas(64) float ring[kRingBytes / sizeof(float)];
    int ring_n[2] = {-1, -1}, ring_oy[2] = {-1, -1};
    auto transposed = [&](int n, int oy) {
        const int slot = oy % 2;
        float* planes = ring + slot * g.out_c * p.plane_floats;
        if (ring_n[slot] != n || ring_oy[slot] != oy) transpose_row(p, n, oy, planes), ring_n[slot] = n, ring_oy[slot] = oy;
        return static_cast<const float*>(planes);
    };
    for (int64_t row = row0; row < row1; ++row) {
        const int n = int(row / g.in_h), iy = int(row % g.in_h);
        const float* planes[2];
        int ky[2], count = 0;
        for (int k = 0; k < 3; ++k) {
            const int t = iy + g.pad_top - k;
            if (t < 0 || t % 2 != 0 || t / 2 >= g.out_h) continue;
            ky[count] = k;
            planes[count++] = transposed(n, t / 2);  // at most two rows, whose oy differ by one: different slots
        }
        float* d_row = p.b.d_in + (int64_t(n) * g.in_h + iy) * g.in_w * C;
        int64_t j0 = 0;
        for (; j0 + kLanes < p.pairs; j0 += 2 * kLanes) planar_blocks<C, kStore, 2>(p, d_row, planes, ky, count, j0);
        if (j0 < p.pairs) planar_blocks<C, kStore, 1>(p, d_row, planes, ky, count, j0);
    }
}

template <int C>
void planar_rows_of(const Planar& p, int64_t row0, int64_t row1) {
    if (!p.b.overwrite) planar_rows<C, Store::kAccumulate>(p, row0, row1);
    else if (p.b.gate) planar_rows<C, Store::kGated>(p, row0, row1);
    else planar_rows<C, Store::kOverwrite>(p, row0, row1);
}

}  // namespace

bool first_3x3_planar_applies(const ConvGeometry& g) {
    if (g.stride_h != 2 || g.stride_w != 2 || g.in_c < 1 || g.in_c > kMaxC) return false;
    return 2 * g.out_c * plane_floats_of(g) * int64_t(sizeof(float)) <= kRingBytes;
}

void first_3x3_planar_backward_input(const First3x3Backward& b) {
    const ConvGeometry& g = b.g;
    const Planar p{b, column_pairs(g), plane_floats_of(g)};
    const int64_t rows = int64_t(g.batch) * g.in_h, runs = (rows + kRowsPerRun - 1) / kRowsPerRun;
    const int64_t work = int64_t(g.batch) * g.out_h * g.out_w * g.out_c * 9 * g.in_c;
    // Each d_in row is written by the one thread that takes its run, in a fixed order whatever the thread count.
#pragma omp parallel for schedule(dynamic) if (work >= kParallelMin)
    for (int64_t run = 0; run < runs; ++run) {
        const int64_t row0 = run * kRowsPerRun, row1 = std::min(rows, row0 + kRowsPerRun);
        switch (g.in_c) {
            case 1: planar_rows_of<1>(p, row0, row1); break;
            case 2: planar_rows_of<2>(p, row0, row1); break;
            case 3: planar_rows_of<3>(p, row0, row1); break;
            default: planar_rows_of<4>(p, row0, row1); break;
        }
    }
}

}  // namespace ec

#else  // no SIMD: never applies

namespace ec {
bool first_3x3_planar_applies(const ConvGeometry&) { return false; }
void first_3x3_planar_backward_input(const First3x3Backward&) {}
}  // namespace ec

#endif
