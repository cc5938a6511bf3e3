// SIMD matrix product (see gemm_kernel.h; nn/simd.h: AVX-512 or AVX2 + FMA). The layout follows BLIS without
// packing: the output is cut into tiles that OpenMP threads take dynamically; inside a tile, the inner dimension is
// cut into blocks of kKc, and for each block every kNr-column panel of B (kKc x kNr floats = 16 KB, L1-resident) is
// swept by micro-kernels of kMr rows of A. A micro-kernel keeps a kMr x kNr block of C in accumulator registers
// (AVX-512: 12 x 32 in 24 zmm; AVX2: 6 x 16 in 12 ymm): per step of the inner dimension it loads two vectors of
// one B row, broadcasts one A value per row and issues 2 kMr FMAs, enough independent chains to cover the FMA
// latency on both pipes. A is not packed: MobileNet's activations are already
// row-major [pixels, channels]. B is read as stored (its panel rows are 64 or 128 contiguous bytes, one filter row
// apart), packed per tile from a transposed B, or read from panels packed once (GemmB::Packed: a graph's 1x1
// filters, nn/packed_filters.h), where a panel is one contiguous run that neither aliases in L1 nor needs a repack.
// Columns beyond a multiple of the vector width use masked loads and stores; rows beyond kMr a smaller kernel.
#include "nn/gemm_kernel.h"
#include "nn/parallel.h"

#include "nn/simd.h"

#ifdef EC_SIMD
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace ec {
namespace {

using namespace simd;

constexpr int kMr = kLanes == 16 ? 12 : 6;    // rows of a micro-tile: 2 kMr accumulators (of 32 or 16 registers)
constexpr int kNr = kGemmPanelCols;           // columns of a micro-tile: two vectors
constexpr int64_t kKc = 4096 / kNr;           // inner-dimension block: B panel kKc x kNr (16 KB) stays in L1
constexpr int64_t kTileRows = 16 * kMr;       // A block of a tile: kTileRows x kKc floats (96 KB), L2-resident
// Each tile packs its own panels of a transposed B: such tiles take 4x the rows (14 x 14 layers pack once, not 3x).
constexpr int64_t kTransposedTileRows = 4 * kTileRows;
constexpr int64_t kTileCols = 8 * kNr;

// What one micro-kernel call does with its accumulators besides the product (the K blocks of a tile share one
// output: the first block starts from 0 or the old C and adds the bias, the last clamps).
struct Step {
    bool load_c;          // add the current C (accumulate, or a K block after the first)
    const float* bias;    // bias + column, or null
    bool clamp;
    float lo, hi;
    const float* gate = nullptr;  // the gate at the micro-tile's first value (GemmEpilogue::gate), or null
    GateMask gate_mask = {};  // or its mask (GemmEpilogue::gate_mask)
    int64_t ldg = 0;
    float gate_hi = 0;
};

// C[MR x (kLanes (NV - 1) + width of the last vector)] op= A[MR x kc] x B[kc x ...]; `last` masks the last
// vector's columns (kFull: all of them, and the loads and stores are unmasked).
template <int MR, int NV, bool kFull>
void micro_kernel(float* c, int64_t ldc, const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb,
                  int64_t kc, Mask last, const Step& step) {
    Vec acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = zero();
    for (int64_t p = 0; p < kc; ++p) {
        const float* brow = b + p * ldb;
        Vec bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
            bv[v] = (kFull || v < NV - 1) ? load(brow + kLanes * v) : load(brow + kLanes * v, last);
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
            const Vec av = broadcast(a[r * a_row + p * a_col]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] = fma(av, bv[v], acc[r][v]);
        }
    }
    const Vec lo = broadcast(step.lo), hi = broadcast(step.hi), gate_hi = broadcast(step.gate_hi);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
        const bool full = kFull || v < NV - 1;
        const Vec bias = !step.bias ? zero() : full ? load(step.bias + kLanes * v) : load(step.bias + kLanes * v, last);
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
            float* dst = c + r * ldc + kLanes * v;
            Vec x = add(acc[r][v], bias);
            if (step.load_c) x = add(x, full ? load(dst) : load(dst, last));
            if (step.clamp) x = clamp(x, lo, hi);
            if (step.gate) {
                const float* gate = step.gate + r * step.ldg + kLanes * v;
                x = gate_open(x, full ? load(gate) : load(gate, last), gate_hi);
            }
            if (step.gate_mask) x = gate_open_bits(x, step.gate_mask + (r * step.ldg + kLanes * v));
            if (full) store(dst, x);
            else store(dst, x, last);
        }
    }
}

using MicroKernel = void (*)(float*, int64_t, const float*, int64_t, int64_t, const float*, int64_t, int64_t, Mask,
                             const Step&);

template <int NV, bool kFull, int... R>
constexpr MicroKernel pick_rows(int rows, std::integer_sequence<int, R...>) {
    MicroKernel table[] = {micro_kernel<R + 1, NV, kFull>...};
    return table[rows - 1];
}

// The micro-kernel for `rows` (1..kMr) rows and `cols` (1..kNr) columns.
MicroKernel pick_kernel(int rows, int cols) {
    using Rows = std::make_integer_sequence<int, kMr>;
    if (cols == kNr) return pick_rows<2, true>(rows, Rows{});
    if (cols > kLanes) return pick_rows<2, false>(rows, Rows{});
    if (cols == kLanes) return pick_rows<1, true>(rows, Rows{});
    return pick_rows<1, false>(rows, Rows{});
}

// The lanes of the last vector of a `cols`-column micro-tile.
Mask last_mask(int cols) { return first_lanes(cols > kLanes ? cols - kLanes : cols); }

struct Problem {
    float* c;
    int64_t ldc;
    const float* a;
    int64_t a_row, a_col;  // A[i, p] = a[i * a_row + p * a_col]
    const float* b;
    int64_t ldb;
    GemmB b_layout;
    int64_t m, n, k;
    GemmEpilogue epilogue;
};

// A transposed B's panel B[k0 .. k0 + kc, j .. j + cols) copied into the row-major kc x kNr layout the
// micro-kernel loads (16 KB per tile and inner block, reused by every row micro-tile of the tile).
void pack_transposed_panel(float* panel, const Problem& pr, int64_t k0, int64_t kc, int64_t j, int cols) {
    pack_transposed(panel, kNr, pr.b + j * pr.ldb + k0, pr.ldb, kc, cols);
}

// Output rows [r0, r1) x columns [c0, c1).
void run_tile(const Problem& pr, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    alignas(64) float panel[kKc * kNr];
    const GemmEpilogue& ep = pr.epilogue;
    const bool clamp = !(std::isinf(ep.lo) && ep.lo < 0 && std::isinf(ep.hi) && ep.hi > 0);
    // The micro-kernels of one inner block k0 and one panel of columns j.
    auto block = [&](int64_t k0, int64_t j) {
        const int64_t kc = std::min(kKc, pr.k - k0);
        const bool first = k0 == 0, last_block = k0 + kKc >= pr.k;
        const int cols = int(std::min<int64_t>(kNr, c1 - j));
        Step step{!first || ep.accumulate, first && ep.bias ? ep.bias + j : nullptr, last_block && clamp, ep.lo, ep.hi};
        step.ldg = ep.gate_stride, step.gate_hi = ep.gate_hi;
        auto gate_at = [&](int64_t i) { return last_block && ep.gate ? ep.gate + i * ep.gate_stride + j : nullptr; };
        auto mask_at = [&](int64_t i) {
            return last_block && ep.gate_mask ? ep.gate_mask + (i * ep.gate_stride + j) : GateMask();
        };
        const Mask mask = last_mask(cols);
        const float* b = pr.b + k0 * pr.ldb + j;
        int64_t ldb = pr.ldb;
        if (pr.b_layout == GemmB::Transposed) {
            pack_transposed_panel(panel, pr, k0, kc, j, cols);
            b = panel, ldb = kNr;
        } else if (pr.b_layout == GemmB::Packed) {  // j is a multiple of kNr: a panel's first column
            b = pr.b + (j / kNr) * pr.k * kNr + k0 * kNr, ldb = kNr;
        }
        MicroKernel full = pick_kernel(kMr, cols);
        int64_t i = r0;
        for (; i + kMr <= r1; i += kMr) {
            step.gate = gate_at(i), step.gate_mask = mask_at(i);
            full(pr.c + i * pr.ldc + j, pr.ldc, pr.a + i * pr.a_row + k0 * pr.a_col, pr.a_row, pr.a_col, b, ldb, kc,
                 mask, step);
        }
        if (i < r1) {
            step.gate = gate_at(i), step.gate_mask = mask_at(i);
            pick_kernel(int(r1 - i), cols)(pr.c + i * pr.ldc + j, pr.ldc, pr.a + i * pr.a_row + k0 * pr.a_col,
                                            pr.a_row, pr.a_col, b, ldb, kc, mask, step);
        }
    };
    // Many rows: each inner block of A stays in L2 while every panel sweeps it. At most one micro-tile of rows
    // (a transposed B at batch 1-5, the backward of a fully connected layer): nothing reuses B, so each panel's
    // kNr rows of a transposed B are read along their whole length, kNr long runs the prefetchers follow, before
    // the next panel (k0 outer read them a quarter page at a time, 128 pages apart). The same sums either way:
    // each output's blocks still run in the order of k0.
    if (r1 - r0 > kMr) {
        for (int64_t k0 = 0; k0 < pr.k || k0 == 0; k0 += kKc)
            for (int64_t j = c0; j < c1; j += kNr) block(k0, j);
    } else {
        for (int64_t j = c0; j < c1; j += kNr)
            for (int64_t k0 = 0; k0 < pr.k || k0 == 0; k0 += kKc) block(k0, j);
    }
}

// ---------------------------------------------------------------- few rows: stream B's rows
// With m < kMr (a fully connected layer, or MobileNet's 1x1 logits convolution, at batch 1-5) B is read once and
// nothing reuses it, so the panel order above would walk B down its columns, one cache line per row and a new page
// every row or so (FullyConnected 1280 -> 1001 took 0.6 ms for 5 MB of weights). Here B is read along its rows
// instead: for each p, a chunk of up to kStreamCols columns of row p (kilobytes, so the prefetchers see long
// runs), multiplied by A[r, p] into accumulators on the stack (L1). A dense transposed B goes to the tiled path,
// whose panels read kNr rows of it along p. Every value is summed in the same order as micro_kernel sums it (an
// fma chain over p from 0 per inner block, then + bias, + C, clamp), so results are bit-identical to the tiled
// path's and do not depend on the batch size or the chunking.
//
// Sparse A: when at most 1 in kSparseRatio of A's columns p has a nonzero value (explain's backward starts
// from a one-hot seed at the logits: d logit_c / d logits has one nonzero), the steps with A[., p] = 0 are
// skipped and B's rows p are never read. fma(0, b, x) = x for a finite b, so the sums are the same (a -0 from an
// underflowed product aside, which compares equal); a non-finite B value at a skipped p is not propagated.
constexpr int64_t kSparseRatio = 16;
constexpr int kStreamRowsMax = kMr - 1;
constexpr int64_t kStreamCols = 1024;  // floats of each B row per step: 4 KB, one page

// acc[r][0 .. cols) += A[r, p] B[p, c0 ..) for p in [p0, p1). Four rows of B per pass, so each accumulator is
// loaded and stored once per four fmas (the fma chain still runs over p in order).
void stream_rows(float (*acc)[kStreamCols], const Problem& pr, int64_t p0, int64_t p1, int64_t c0, int64_t cols) {
    const int64_t full_vectors = cols / kLanes, vectors = (cols + kLanes - 1) / kLanes;
    const Mask tail = first_lanes(int(cols % kLanes));
    auto brow = [&](int64_t p) { return pr.b + p * pr.ldb + c0; };
    int64_t p = p0;
    for (; p + 4 <= p1; p += 4) {
        const float* b[4] = {brow(p), brow(p + 1), brow(p + 2), brow(p + 3)};
        for (int64_t r = 0; r < pr.m; ++r) {
            const float* ar_a = pr.a + r * pr.a_row + p * pr.a_col;
            const Vec a0 = broadcast(ar_a[0]), a1 = broadcast(ar_a[pr.a_col]), a2 = broadcast(ar_a[2 * pr.a_col]),
                      a3 = broadcast(ar_a[3 * pr.a_col]);
            float* ar = acc[r];
            for (int64_t v = 0; v < vectors; ++v) {
                const int64_t o = kLanes * v;
                const bool full = v < full_vectors;
                Vec x = load(ar + o);
                x = fma(a0, full ? load(b[0] + o) : load(b[0] + o, tail), x);
                x = fma(a1, full ? load(b[1] + o) : load(b[1] + o, tail), x);
                x = fma(a2, full ? load(b[2] + o) : load(b[2] + o, tail), x);
                x = fma(a3, full ? load(b[3] + o) : load(b[3] + o, tail), x);
                store(ar + o, x);
            }
        }
    }
    for (; p < p1; ++p) {
        const float* b = brow(p);
        for (int64_t r = 0; r < pr.m; ++r) {
            const Vec av = broadcast(pr.a[r * pr.a_row + p * pr.a_col]);
            float* ar = acc[r];
            int64_t v = 0;
            for (; v < full_vectors; ++v) store(ar + kLanes * v, fma(av, load(b + kLanes * v), load(ar + kLanes * v)));
            if (v < vectors) store(ar + kLanes * v, fma(av, load(b + kLanes * v, tail), load(ar + kLanes * v)));
        }
    }
}

// Whether no row of A has a nonzero value at column p.
bool a_column_is_zero(const Problem& pr, int64_t p) {
    for (int64_t r = 0; r < pr.m; ++r)
        if (pr.a[r * pr.a_row + p * pr.a_col] != 0.0f) return false;
    return true;
}

// As stream_rows for a sparse A (see above): only the steps p with a nonzero A[., p], B transposed or not.
void sparse_rows(float (*acc)[kStreamCols], const Problem& pr, int64_t p0, int64_t p1, int64_t c0, int64_t cols) {
    const int64_t full_vectors = cols / kLanes, vectors = (cols + kLanes - 1) / kLanes;
    const Mask tail = first_lanes(int(cols % kLanes));
    for (int64_t p = p0; p < p1; ++p) {
        if (a_column_is_zero(pr, p)) continue;
        for (int64_t r = 0; r < pr.m; ++r) {
            const float a = pr.a[r * pr.a_row + p * pr.a_col];
            float* ar = acc[r];
            if (pr.b_layout == GemmB::Transposed) {  // B[p, c0 + j] = b[(c0 + j) ldb + p]: a value per stored row
                const float* b = pr.b + c0 * pr.ldb + p;
                for (int64_t j = 0; j < cols; ++j) ar[j] = std::fma(a, b[j * pr.ldb], ar[j]);
                continue;
            }
            const Vec av = broadcast(a);
            const float* b = pr.b + p * pr.ldb + c0;
            int64_t v = 0;
            for (; v < full_vectors; ++v) store(ar + kLanes * v, fma(av, load(b + kLanes * v), load(ar + kLanes * v)));
            if (v < vectors) store(ar + kLanes * v, fma(av, load(b + kLanes * v, tail), load(ar + kLanes * v)));
        }
    }
}

// Output columns [c0, c1) (c1 - c0 <= kStreamCols) of every row: B streamed by rows (not transposed), or only
// A's nonzero columns when `sparse`.
void run_row_stream(const Problem& pr, int64_t c0, int64_t c1, bool sparse) {
    alignas(64) float acc[kStreamRowsMax][kStreamCols];
    const GemmEpilogue& ep = pr.epilogue;
    const bool clamp_out = !(std::isinf(ep.lo) && ep.lo < 0 && std::isinf(ep.hi) && ep.hi > 0);
    const Vec lo = broadcast(ep.lo), hi = broadcast(ep.hi), gate_hi = broadcast(ep.gate_hi);
    const int64_t cols = c1 - c0, full_vectors = cols / kLanes, vectors = (cols + kLanes - 1) / kLanes;
    const Mask tail = first_lanes(int(cols % kLanes));
    for (int64_t k0 = 0; k0 < pr.k || k0 == 0; k0 += kKc) {
        const int64_t k1 = std::min(pr.k, k0 + kKc);
        const bool first = k0 == 0, last_block = k0 + kKc >= pr.k;
        for (int64_t r = 0; r < pr.m; ++r)
            for (int64_t v = 0; v < vectors; ++v) store(acc[r] + kLanes * v, zero());
        if (sparse) sparse_rows(acc, pr, k0, k1, c0, cols);
        else stream_rows(acc, pr, k0, k1, c0, cols);
        for (int64_t r = 0; r < pr.m; ++r)
            for (int64_t v = 0; v < vectors; ++v) {
                const bool full = v < full_vectors;
                float* dst = pr.c + r * pr.ldc + c0 + kLanes * v;
                const float* bias = first && ep.bias ? ep.bias + c0 + kLanes * v : nullptr;
                Vec x = add(load(acc[r] + kLanes * v), !bias ? zero() : full ? load(bias) : load(bias, tail));
                if (!first || ep.accumulate) x = add(x, full ? load(dst) : load(dst, tail));
                if (last_block && clamp_out) x = clamp(x, lo, hi);
                if (last_block && ep.gate) {
                    const float* gate = ep.gate + r * ep.gate_stride + c0 + kLanes * v;
                    x = gate_open(x, full ? load(gate) : load(gate, tail), gate_hi);
                }
                if (last_block && ep.gate_mask) x = gate_open_bits(x, ep.gate_mask + (r * ep.gate_stride + c0 + kLanes * v));
                if (full) store(dst, x);
                else store(dst, x, tail);
            }
    }
}

// Whether at most 1 in kSparseRatio of A's columns has a nonzero value (m <= kStreamRowsMax).
bool a_is_sparse(const Problem& pr) {
    int64_t nonzero = 0;
    for (int64_t p = 0; p < pr.k; ++p)
        if (!a_column_is_zero(pr, p) && ++nonzero * kSparseRatio > pr.k) return false;
    return true;
}

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

}  // namespace

bool gemm_kernel_available() { return true; }

void gemm_kernel(float* c, int64_t ldc, const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb,
                 GemmB b_layout, int64_t m, int64_t n, int64_t k, const GemmEpilogue& epilogue) {
    if (m <= 0 || n <= 0) return;
    const Problem pr{c, ldc, a, a_row, a_col, b, ldb, b_layout, m, n, k, epilogue};
    const int threads = region_threads(m * n * k);
    const bool b_transposed = b_layout == GemmB::Transposed;
    // A packed B (read in panels) takes the tiles below whatever the rows.
    const bool sparse = m <= kStreamRowsMax && b_layout != GemmB::Packed && a_is_sparse(pr);
    if (m <= kStreamRowsMax && n > kNr && b_layout != GemmB::Packed && (!b_transposed || sparse)) {
        // Equal chunks of whole vectors, a multiple of the thread count, each at most kStreamCols wide.
        int64_t chunks = std::max<int64_t>(threads, (n + kStreamCols - 1) / kStreamCols);
        chunks = (chunks + threads - 1) / threads * threads;
        const int64_t width = std::min(kStreamCols, round_up((n + chunks - 1) / chunks, kLanes));
        chunks = (n + width - 1) / width;
        for_tasks(chunks, sparse ? 1 : threads,
                  [&](int64_t t) { run_row_stream(pr, t * width, std::min(n, (t + 1) * width), sparse); });
        return;
    }
    // Tiles at most kTileRows x kTileCols (cache), then halved along the longer side until there are about 4
    // per thread (a descheduled thread's share is taken by the others), never below one micro-tile.
    int64_t tile_m = std::min(round_up(m, kMr), b_transposed ? kTransposedTileRows : kTileRows);
    int64_t tile_n = std::min(round_up(n, kNr), kTileCols);
    auto tiles = [&] { return ((m + tile_m - 1) / tile_m) * ((n + tile_n - 1) / tile_n); };
    while (threads > 1 && tiles() < 4 * threads) {
        if (tile_m >= tile_n && tile_m >= 2 * kMr) tile_m = round_up(tile_m / 2, kMr);
        else if (tile_n >= 2 * kNr) tile_n = round_up(tile_n / 2, kNr);
        else if (tile_m >= 2 * kMr) tile_m = round_up(tile_m / 2, kMr);
        else break;
    }
    const int64_t row_tiles = (m + tile_m - 1) / tile_m, col_tiles = (n + tile_n - 1) / tile_n;
    for_tasks(row_tiles * col_tiles, threads, [&](int64_t t) {
        const int64_t r0 = (t / col_tiles) * tile_m, c0 = (t % col_tiles) * tile_n;
        run_tile(pr, r0, std::min(m, r0 + tile_m), c0, std::min(n, c0 + tile_n));
    });
}

}  // namespace ec

#else  // no AVX-512 or AVX2: gemm.cpp keeps to Eigen

namespace ec {
bool gemm_kernel_available() { return false; }
void gemm_kernel(float*, int64_t, const float*, int64_t, int64_t, const float*, int64_t, GemmB, int64_t, int64_t,
                 int64_t, const GemmEpilogue&) {}
}  // namespace ec

#endif
