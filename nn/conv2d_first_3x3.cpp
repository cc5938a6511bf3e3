// The first convolution of an image network (dense 3x3, C = in_c <= 4 input channels, stride 1 or 2) as direct SIMD
// kernels (nn/simd.h: AVX-512 or AVX2 + FMA). Formula: conv2d.h,
//   out[n,y,x,o] = bias[o] + sum_{ky,kx,i} in[n, y*S + ky - pad_top, x*S + kx - pad_left, i] * filter[ky,kx,i,o].
// Forward: the output channels are in vector registers (e.g. blocks of 2 vectors, 6 pixels at a time: 12
// accumulators); each of the 9 * C taps loads its filter vectors once and broadcasts the value each pixel meets. In
// NHWC the 3 * C taps of one kernel row are adjacent floats of the input row, so a pixel's taps are 3 short runs.
// Input gradient (at stride 2 conv2d_first_3x3_planar.cpp's kernel where it applies): a gather over input pixels
// (threads own rows of d_in): each input value is a dot product over the output channels of the few d_out pixels
// that read it, as vector partial sums reduced across lanes once per pixel; border pixels take checked loops.
#include "nn/conv2d_first_3x3.h"
#include "nn/conv2d_first_3x3_planar.h"
#include "nn/parallel.h"
#include "nn/simd.h"

#ifdef EC_SIMD

#include <algorithm>
#include <cstdint>

namespace ec {
namespace {

using namespace simd;

constexpr int kMaxC = 4;  // input channels these kernels take

template <bool kFull>
inline Vec ld(const float* p, Mask m) { return kFull ? load(p) : load(p, m); }

// Compiler barriers for the register-blocked loops (they emit no instruction). Without them GCC 12 splits a row
// pointer into base + index and keeps one index per tap on the stack (a load per broadcast), folds each filter
// load into every FMA that uses it (P loads instead of one), and, where neighbouring pixels share input values
// (S * C < 9), keeps their broadcasts alive from tap to tap and spills: half the FMA rate or less.
inline const float* opaque(const float* p) {
    asm("" : "+r"(p));
    return p;
}
inline Vec in_register(Vec v) {
    asm("" : "+v"(v));
    return v;
}

// ------------------------------------------------------------------ forward

struct Forward {
    const float *in, *filter, *bias;  // bias may be null
    float* out;
    float lo, hi;
    const ConvGeometry& g;
};

struct InRows {  // the three input rows (at column 0) one output row's taps read; null where a row is padding
    const float* row[3];
};

// A block of output channels [o0, o0 + V * kLanes): its taps, bias and clamp range.
struct OutBlock {
    const float* tap;  // the block's taps copied to the stack: V vectors for each tap t = (ky * 3 + kx) * C + i
    Vec bias[3], lo, hi;
    Mask mask;     // the valid lanes of a partial block
    bool partial;  // fewer than kLanes channels: masked stores
};

// The sums start from 0 and the bias comes last, as in the GEMM's epilogue (and TensorFlow's BiasAdd): the same
// roundings as the im2col path (its zero-filled padding taps add only zeros), so ReLU6 inputs that sit on a kink
// (a greyscale image's flat regions do, tests/test_deep_gradients.cpp) fall on the same side as before.
template <int V>
inline void store_pixel(float* out, const Vec* acc, const OutBlock& b) {
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) {
        const Vec y = clamp(add(acc[v], b.bias[v]), b.lo, b.hi);
        if (b.partial) store(out + v * kLanes, y, b.mask);
        else store(out + v * kLanes, y);
    }
}

// P output pixels x..x+P-1 whose column taps all fall inside the image, V vectors of channels each: the P * V
// accumulators stay in registers over the whole 3x3xC window; per tap, V filter loads and P broadcasts feed P * V
// FMAs. Pixel q's tap k = kx * C + i of kernel row ky is in[row ky][((x + q) * S - pad_left) * C + k]. Not inlined,
// so that its register allocation is its own: inside forward_row GCC 12 spilled accumulators (MobileNetV2's layer
// 0.53 against 0.37 ms before the barriers of `opaque`; with them MobileNetV1's 0.25-0.28 against 0.21 ms).
template <int C, int S, int V, int P>
__attribute__((noinline)) void forward_pixels(float* out, const InRows& rows, const OutBlock& b, int x, int pad_left,
                                              int64_t out_c) {
    Vec acc[P][V];
#pragma GCC unroll 12
    for (int q = 0; q < P; ++q)
        for (int v = 0; v < V; ++v) acc[q][v] = zero();
    for (int ky = 0; ky < 3; ++ky) {
        if (!rows.row[ky]) continue;
        const float* in = opaque(rows.row[ky] + int64_t(x * S - pad_left) * C);
        const float* tap = opaque(b.tap + ky * 3 * C * V * kLanes);
#pragma GCC unroll 12
        for (int k = 0; k < 3 * C; ++k) {
            Vec w[V];
#pragma GCC unroll 3
            for (int v = 0; v < V; ++v) w[v] = in_register(load(tap + (k * V + v) * kLanes));
            const float* in_k = opaque(in + k);  // (see opaque: at S * C < 9, pixels share taps, which GCC would CSE)
#pragma GCC unroll 12
            for (int q = 0; q < P; ++q) {
                const Vec x_q = broadcast(in_k[q * S * C]);
#pragma GCC unroll 3
                for (int v = 0; v < V; ++v) acc[q][v] = fma(x_q, w[v], acc[q][v]);
            }
        }
    }
#pragma GCC unroll 12
    for (int q = 0; q < P; ++q) store_pixel<V>(out + q * out_c, acc[q], b);
}

// One output pixel, any position: taps in the padding (rows null, columns outside [0, in_w)) are skipped.
template <int C, int V>
void forward_pixel_checked(float* out, const InRows& rows, const OutBlock& b, int x, const ConvGeometry& g) {
    Vec acc[V];
    for (int v = 0; v < V; ++v) acc[v] = zero();
    const int x0 = x * g.stride_w - g.pad_left;
    const int k_lo = std::max(0, -x0) * C, k_hi = std::min(3, g.in_w - x0) * C;
    for (int ky = 0; ky < 3; ++ky) {
        if (!rows.row[ky]) continue;
        const float* tap = b.tap + ky * 3 * C * V * kLanes;
        for (int k = k_lo; k < k_hi; ++k) {
            const Vec x_k = broadcast(rows.row[ky][int64_t(x0) * C + k]);
            for (int v = 0; v < V; ++v) acc[v] = fma(x_k, load(tap + (k * V + v) * kLanes), acc[v]);
        }
    }
    store_pixel<V>(out, acc, b);
}

// One block of channels along an output row: checked borders, groups of P (then of P / 2) pixels inside. P * V = 8
// or 12 accumulators: 8 independent chains cover the FMA latency (4 cycles, 2 units), and with the V filter vectors
// and a broadcast they fit AVX2's 16 registers.
template <int C, int S, int V>
void forward_block(float* out_row, const InRows& rows, const OutBlock& b, const ConvGeometry& g, int x_lo, int x_hi) {
    constexpr int kP = V == 1 ? 8 : V == 2 ? 6 : 4, kSmall = kP / 2;
    const int64_t c = g.out_c;
    int x = 0;
    for (; x < x_lo; ++x) forward_pixel_checked<C, V>(out_row + x * c, rows, b, x, g);
    for (; x + kP <= x_hi; x += kP) forward_pixels<C, S, V, kP>(out_row + x * c, rows, b, x, g.pad_left, c);
    for (; x + kSmall <= x_hi; x += kSmall) forward_pixels<C, S, V, kSmall>(out_row + x * c, rows, b, x, g.pad_left, c);
    for (; x < g.out_w; ++x) forward_pixel_checked<C, V>(out_row + x * c, rows, b, x, g);
}

// Output row (n, y), every channel: blocks of 2 full vectors, then 1 full vector, then a partial one. Each block's
// taps are first copied to the stack (a partial block's zero-padded to kLanes), tap after tap: the inner loops then
// read them at constant offsets (no runtime filter stride, no masked loads), 1 KB per kernel row, from L1.
template <int C, int S>
void forward_row(const Forward& f, int n, int y) {
    const ConvGeometry& g = f.g;
    InRows rows;
    for (int ky = 0; ky < 3; ++ky) {
        const int iy = y * S - g.pad_top + ky;
        rows.row[ky] = iy >= 0 && iy < g.in_h ? f.in + (int64_t(n) * g.in_h + iy) * g.in_w * C : nullptr;
    }
    // Interior columns [x_lo, x_hi): taps x * S - pad_left + {0, 1, 2} all inside [0, in_w).
    const int x_lo = std::min(g.out_w, (g.pad_left + S - 1) / S);
    const int last = g.in_w - 3 + g.pad_left;
    const int x_hi = last >= 0 ? std::max(x_lo, std::min(g.out_w, last / S + 1)) : x_lo;
    float* out_row = f.out + (int64_t(n) * g.out_h + y) * g.out_w * g.out_c;
    alignas(64) float packed[9 * kMaxC * 3 * kLanes];
    for (int o0 = 0; o0 < g.out_c;) {
        const int left = g.out_c - o0;
        const int V = left >= 3 * kLanes && left < 4 * kLanes ? 3 : left >= 2 * kLanes ? 2 : 1;
        OutBlock b;
        b.partial = left < kLanes;
        b.mask = first_lanes(std::min(left, kLanes));
        b.lo = broadcast(f.lo), b.hi = broadcast(f.hi);
        for (int v = 0; v < V; ++v) b.bias[v] = f.bias ? ld<false>(f.bias + o0 + v * kLanes, b.mask) : zero();
        for (int t = 0; t < 9 * C; ++t)
            for (int v = 0; v < V; ++v)
                store(packed + (t * V + v) * kLanes,
                      ld<false>(f.filter + int64_t(t) * g.out_c + o0 + v * kLanes, b.mask));
        b.tap = packed;
        if (V == 3) forward_block<C, S, 3>(out_row + o0, rows, b, g, x_lo, x_hi);
        else if (V == 2) forward_block<C, S, 2>(out_row + o0, rows, b, g, x_lo, x_hi);
        else forward_block<C, S, 1>(out_row + o0, rows, b, g, x_lo, x_hi);
        o0 += V * kLanes;
    }
}

// ------------------------------------------------------------------ input gradient: a gather over input pixels
// d_in[n, iy, ix, i] = sum over the taps (ky, kx) and output pixels (oy, ox) with iy + pad_top = oy * S + ky and
// ix + pad_left = ox * S + kx of dot(d_out[n, oy, ox, :], filter[ky, kx, i, :]): vector partial sums over the
// output channels, one accumulator per (pixel, i), reduced across lanes at the end (sum_lanes8).

using Backward = First3x3Backward;  // nn/conv2d_first_3x3_planar.h

struct OutRows {  // the d_out rows (at column 0) an input row receives from, and the kernel row ky of each
    const float* row[3] = {};
    int ky[3] = {};
    int count = 0;
};

// Lane j of the result: the sum of the lanes of v[j] (a tree of horizontal adds, then the two 128-bit halves).
inline __m256 sum_lanes8(const __m256 (&v)[8]) {
    const __m256 s01 = _mm256_hadd_ps(v[0], v[1]), s23 = _mm256_hadd_ps(v[2], v[3]);
    const __m256 s45 = _mm256_hadd_ps(v[4], v[5]), s67 = _mm256_hadd_ps(v[6], v[7]);
    const __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);  // [v0..v3 | v0..v3] halves
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
}
#if defined(__AVX512F__)
inline __m256 halves_added(__m512 v) {
    return _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
#else
inline __m256 halves_added(__m256 v) { return v; }
#endif

// dst[j] (+)= s[j], j < 8: accumulate, overwrite (s + 0: a -0 sum becomes +0, as 0 + sum does) or overwrite gated
// (s + 0 where 0 < gate < gate_hi, else +0; NaN gates close), as simd::gate_open.
inline __m256 combine8(__m256 s, __m256 old, __m256 gate, const Backward& b) {
    const __m256 zero8 = _mm256_setzero_ps();
    if (!b.overwrite) return _mm256_add_ps(old, s);
    if (!b.gate) return _mm256_add_ps(s, zero8);
    const __m256 open = _mm256_and_ps(_mm256_cmp_ps(gate, zero8, _CMP_GT_OQ),
                                      _mm256_cmp_ps(gate, _mm256_set1_ps(b.gate_hi), _CMP_LT_OQ));
    return _mm256_and_ps(open, _mm256_add_ps(s, zero8));
}

// d_in[j] (+)= the lane sum of acc[j], j < kCount (adjacent pixels' channels are adjacent floats): 8 at a time,
// then 4, then one by one, through combine8.
template <int kCount>
void write_sums(float* dst, const Vec* acc, const Backward& b) {
    const float* gate = b.gate ? b.gate + (dst - b.d_in) : nullptr;
    for (int j0 = 0; j0 < kCount; j0 += 8) {
        __m256 h[8];
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) h[k] = j0 + k < kCount ? halves_added(acc[j0 + k]) : _mm256_setzero_ps();
        const __m256 sums = sum_lanes8(h);
        const int n = std::min(8, kCount - j0);
        if (n == 8) {
            const __m256 old = b.overwrite ? sums : _mm256_loadu_ps(dst + j0);
            _mm256_storeu_ps(dst + j0, combine8(sums, old, gate ? _mm256_loadu_ps(gate + j0) : sums, b));
        } else if (n == 4) {
            const __m256 old = b.overwrite ? sums : _mm256_castps128_ps256(_mm_loadu_ps(dst + j0));
            const __m256 g = gate ? _mm256_castps128_ps256(_mm_loadu_ps(gate + j0)) : sums;
            _mm_storeu_ps(dst + j0, _mm256_castps256_ps128(combine8(sums, old, g, b)));
        } else {
            alignas(32) float s[8], old[8] = {}, g[8] = {}, r[8];
            _mm256_store_ps(s, sums);
            for (int j = 0; j < n; ++j) old[j] = b.overwrite ? 0.0f : dst[j0 + j], g[j] = gate ? gate[j0 + j] : 0.0f;
            _mm256_store_ps(r, combine8(sums, _mm256_load_ps(old), _mm256_load_ps(g), b));
            for (int j = 0; j < n; ++j) dst[j0 + j] = r[j];
        }
    }
}

// One input pixel (q = ix + pad_left) anywhere: every tap and d_out pixel checked.
template <int C, int S>
void gather_pixel_checked(float* dst, const OutRows& rows, const Backward& b, int q) {
    const int64_t oc = b.g.out_c, full = oc / kLanes;
    const Mask tail = first_lanes(int(oc % kLanes));
    Vec acc[C];
    for (int i = 0; i < C; ++i) acc[i] = zero();
    for (int r = 0; r < rows.count; ++r)
        for (int kx = 0; kx < 3; ++kx) {
            const int t = q - kx;
            if (t < 0 || t % S != 0 || t / S >= b.g.out_w) continue;
            const float* d = rows.row[r] + int64_t(t / S) * oc;
            const float* tap = b.filter + int64_t(rows.ky[r] * 3 + kx) * C * oc;
            for (int64_t v = 0; v < full + (oc % kLanes != 0); ++v) {  // acc[i] += dot(d, filter[tap, i, :])
                const Mask m = v < full ? first_lanes(kLanes) : tail;
                const Vec dv = load(d + v * kLanes, m);
                for (int i = 0; i < C; ++i) acc[i] = fma(dv, load(tap + i * oc + v * kLanes, m), acc[i]);
            }
        }
    write_sums<C>(dst, acc, b);
}

// G interior input pixels q..q+G-1 (q a multiple of S) on one vector of channels of one d_out row: pixel q + j
// receives tap kx from d_out column (q + j - kx) / S where that divides. The d_out columns the group reads (at S = 2,
// G = 4: three) are loaded once; then per input channel i and tap kx one filter vector serves every pixel that takes
// the tap. Registers at S = 2, G = 4, C = 3: 12 accumulators + 3 columns + 1 filter vector of AVX2's 16. Each
// accumulator still receives its taps in kx order, so the sums are the same bit for bit whatever the loop order.
template <int C, int S, int G, bool kFull>
inline void group_step(Vec (&acc)[G][C], const float* d, const float* tap, int64_t oc, Mask m) {
    constexpr auto takes = [](int j, int kx) { return (j - kx + 2 * S) % S == 0; };
    constexpr auto column = [](int j, int kx) { return (j - kx + 2 * S) / S - 2; };  // floor((j - kx) / S), from q / S
    constexpr int first = column(0, 2), last = column(G - 1, 0), columns = last - first + 1;
    Vec dv[columns];
#pragma GCC unroll 8
    for (int c = 0; c < columns; ++c) dv[c] = in_register(ld<kFull>(d + (first + c) * oc, m));
#pragma GCC unroll 4
    for (int i = 0; i < C; ++i)
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; ++kx) {
            const Vec w = in_register(ld<kFull>(tap + (kx * C + i) * oc, m));
#pragma GCC unroll 4
            for (int j = 0; j < G; ++j)
                if (takes(j, kx)) acc[j][i] = fma(dv[column(j, kx) - first], w, acc[j][i]);
        }
}

template <int C, int S, int G>
void gather_group(float* dst, const OutRows& rows, const Backward& b, int q) {
    const int64_t oc = b.g.out_c, full = oc / kLanes;
    const Mask tail = first_lanes(int(oc % kLanes));
    Vec acc[G][C];
#pragma GCC unroll 4
    for (int j = 0; j < G; ++j)
        for (int i = 0; i < C; ++i) acc[j][i] = zero();
    // One loop over (row, vector) steps, so that the accumulators stay in registers from the first to the last.
    const float *d = nullptr, *tap = nullptr;
    for (int64_t step = 0, r = 0, v = 0; step < rows.count * full; ++step) {
        if (v == 0) d = rows.row[r] + int64_t(q / S) * oc, tap = b.filter + int64_t(rows.ky[r]) * 3 * C * oc;
        group_step<C, S, G, true>(acc, d + v * kLanes, tap + v * kLanes, oc, tail);
        if (++v == full) v = 0, ++r;
    }
    if (oc % kLanes)
        for (int r = 0; r < rows.count; ++r)
            group_step<C, S, G, false>(acc, rows.row[r] + int64_t(q / S) * oc + full * kLanes,
                                       b.filter + int64_t(rows.ky[r]) * 3 * C * oc + full * kLanes, oc, tail);
    write_sums<G * C>(dst, &acc[0][0], b);
}

// Input row (n, iy): groups of G pixels where every pixel's taps are inside d_out's columns, checked pixels around.
// G * C <= 12 accumulators, + the d_out vectors of one kx (G / S) + a filter vector: at most 16 registers.
template <int C, int S>
void gather_row(const Backward& b, int n, int iy) {
    constexpr int G = S == 2 ? (C <= 3 ? 4 : 2) : (C <= 2 ? 4 : 2);  // see group_step
    const ConvGeometry& g = b.g;
    OutRows rows;
    for (int ky = 0; ky < 3; ++ky) {
        const int t = iy + g.pad_top - ky;
        if (t < 0 || t % S != 0 || t / S >= g.out_h) continue;
        rows.row[rows.count] = b.d_out + (int64_t(n) * g.out_h + t / S) * g.out_w * g.out_c;
        rows.ky[rows.count++] = ky;
    }
    float* d_row = b.d_in + (int64_t(n) * g.in_h + iy) * g.in_w * C;
    // Pixel q is interior when q - 2 >= 0 and q / S < out_w (then every tap's d_out column exists).
    auto group_fits = [&](int ix) {
        const int q = ix + g.pad_left;
        return q % S == 0 && q >= 2 && (q + G - 1) / S < g.out_w && ix + G <= g.in_w;
    };
    int ix = 0;
    for (; ix < g.in_w && !group_fits(ix); ++ix) gather_pixel_checked<C, S>(d_row + ix * C, rows, b, ix + g.pad_left);
    for (; ix < g.in_w && group_fits(ix); ix += G) gather_group<C, S, G>(d_row + ix * C, rows, b, ix + g.pad_left);
    for (; ix < g.in_w; ++ix) gather_pixel_checked<C, S>(d_row + ix * C, rows, b, ix + g.pad_left);
}

// The template instances by (in_c, stride).
using ForwardRowFn = void (*)(const Forward&, int, int);
using GatherRowFn = void (*)(const Backward&, int, int);
constexpr ForwardRowFn kForwardRow[kMaxC][2] = {{forward_row<1, 1>, forward_row<1, 2>},
                                                {forward_row<2, 1>, forward_row<2, 2>},
                                                {forward_row<3, 1>, forward_row<3, 2>},
                                                {forward_row<4, 1>, forward_row<4, 2>}};
constexpr GatherRowFn kGatherRow[kMaxC][2] = {{gather_row<1, 1>, gather_row<1, 2>},
                                              {gather_row<2, 1>, gather_row<2, 2>},
                                              {gather_row<3, 1>, gather_row<3, 2>},
                                              {gather_row<4, 1>, gather_row<4, 2>}};

}  // namespace

bool first_3x3_applies(const ConvGeometry& g) {
    return g.groups == 1 && g.in_c >= 1 && g.in_c <= kMaxC && g.kernel_h == 3 && g.kernel_w == 3 &&
           g.dilation_h == 1 && g.dilation_w == 1 && g.stride_h == g.stride_w && (g.stride_h == 1 || g.stride_h == 2);
}

void first_3x3_forward(float* out, const float* in, const float* filter, const float* bias, float lo, float hi,
                       const ConvGeometry& g) {
    const Forward f{in, filter, bias, out, lo, hi, g};
    const ForwardRowFn row = kForwardRow[g.in_c - 1][g.stride_h - 1];
    const int64_t work = int64_t(g.batch) * g.out_h * g.out_w * g.out_c * 9 * g.in_c;
    // Threads take output rows dynamically; each value is computed by one thread in a fixed order.
#pragma omp parallel for collapse(2) schedule(dynamic) if (work >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int y = 0; y < g.out_h; ++y) row(f, n, y);
}

void first_3x3_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g,
                              bool overwrite, const float* gate, float gate_hi) {
    const Backward b{d_out, d_in, filter, g, overwrite, overwrite ? gate : nullptr, gate_hi};
    if (first_3x3_planar_applies(g)) return first_3x3_planar_backward_input(b);
    const GatherRowFn row = kGatherRow[g.in_c - 1][g.stride_h - 1];
    const int64_t work = int64_t(g.batch) * g.out_h * g.out_w * g.out_c * 9 * g.in_c;
    // Threads take input rows: each d_in value is written by one thread, in a fixed order.
#pragma omp parallel for collapse(2) schedule(dynamic) if (work >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int iy = 0; iy < g.in_h; ++iy) row(b, n, iy);
}

}  // namespace ec

#else  // no AVX-512 or AVX2: conv2d.cpp's im2col path

namespace ec {
bool first_3x3_applies(const ConvGeometry&) { return false; }
void first_3x3_forward(float*, const float*, const float*, const float*, float, float, const ConvGeometry&) {}
void first_3x3_backward_input(float*, const float*, const float*, const ConvGeometry&, bool, const float*, float) {}
}  // namespace ec

#endif
