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
// Steps where all of a micro-tile's rows of A are 0 are skipped (run_tile). Fewer rows than a micro-tile with an
// unpacked B take nn/gemm_row_stream.cpp.
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

constexpr int kMr = kGemmMicroRows;
constexpr int kNr = kGemmPanelCols;
constexpr int64_t kKc = kGemmInnerBlock;
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
    // Lines of the next block of B to fetch into L2 (run_tile), one per step of the product: a burst of them
    // stalls the core once the line fill buffers are full.
    const char* prefetch = nullptr;
    int64_t prefetch_lines = 0;
};

// C[MR x (kLanes (NV - 1) + width of the last vector)] op= A[MR x kc] x B[kc x ...]; `last` masks the last
// vector's columns (kFull: all of them, and the loads and stores are unmasked).
// kSteps: `steps` lists the kc steps p of the block to take, in order (the others are 0 in all MR rows of A);
// else p runs over [0, kc) (a separate instantiation: the dense loop stays as tight as without zero skipping).
template <int MR, int NV, bool kFull, bool kSteps>
void micro_kernel(float* c, int64_t ldc, const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb,
                  int64_t kc, const uint8_t* steps, Mask last, const Step& step) {
    Vec acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = zero();
    auto step_at = [&](int64_t t) {
        const int64_t p = kSteps ? int64_t(steps[t]) : t;
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
    };
    // One prefetched line per step while there are lines left (Step::prefetch), then the plain loop.
    const int64_t prefetch_steps = std::min(kc, step.prefetch_lines);
    int64_t t = 0;
    for (; t < prefetch_steps; ++t) {
        _mm_prefetch(step.prefetch + t * 64, _MM_HINT_T1);
        step_at(t);
    }
    for (; t < kc; ++t) step_at(t);
    for (int64_t line = prefetch_steps; line < step.prefetch_lines; ++line)  // fewer steps than lines (skipped zeros)
        _mm_prefetch(step.prefetch + line * 64, _MM_HINT_T1);
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

using MicroKernel = void (*)(float*, int64_t, const float*, int64_t, int64_t, const float*, int64_t, int64_t,
                             const uint8_t*, Mask, const Step&);

template <int NV, bool kFull, bool kSteps, int... R>
constexpr MicroKernel pick_rows(int rows, std::integer_sequence<int, R...>) {
    MicroKernel table[] = {micro_kernel<R + 1, NV, kFull, kSteps>...};
    return table[rows - 1];
}

// The micro-kernel for `rows` (1..kMr) rows and `cols` (1..kNr) columns, taking listed steps or all.
template <bool kSteps>
MicroKernel pick_kernel(int rows, int cols) {
    using Rows = std::make_integer_sequence<int, kMr>;
    if (cols == kNr) return pick_rows<2, true, kSteps>(rows, Rows{});
    if (cols > kLanes) return pick_rows<2, false, kSteps>(rows, Rows{});
    if (cols == kLanes) return pick_rows<1, true, kSteps>(rows, Rows{});
    return pick_rows<1, false, kSteps>(rows, Rows{});
}
MicroKernel pick_kernel(int rows, int cols, bool steps) {
    return steps ? pick_kernel<true>(rows, cols) : pick_kernel<false>(rows, cols);
}

// The lanes of the last vector of a `cols`-column micro-tile.
Mask last_mask(int cols) { return first_lanes(cols > kLanes ? cols - kLanes : cols); }

// A transposed B's panel B[k0 .. k0 + kc, j .. j + cols) copied into the row-major kc x kNr layout the
// micro-kernel loads (16 KB per tile and inner block, reused by every row micro-tile of the tile).
void pack_transposed_panel(float* panel, const GemmProblem& pr, int64_t k0, int64_t kc, int64_t j, int cols) {
    pack_transposed(panel, kNr, pr.b + j * pr.ldb + k0, pr.ldb, kc, cols);
}

// Zero skipping: the steps p < kc of an inner block where some of A's `rows` rows (row-major, a_row apart) is not
// +0 (bit for bit: -0 and NaN are not), as offsets into the block; returns how many (kc: none to skip, `steps`
// then unwritten). The rows' bits are or-ed and tested once per vector of steps, not compared row by row (with
// run_tile's early stop, perf put run_tile at 1.9 % of a forward + backward's samples, from 2.7 %). Listing a -0
// step changes no sum: an fma chain from +0 never holds -0.
static_assert(kKc <= 256 && kKc % 64 == 0, "block offsets are bytes, found by 64-bit words");
int64_t nonzero_steps(const float* a, int64_t a_row, int rows, int64_t kc, uint8_t* steps) {
    uint64_t words[kKc / 64] = {};
    for (int64_t p = 0; p < kc; p += kLanes) {
        const bool whole = p + kLanes <= kc;
        const Mask part = first_lanes(int(kc - p));
        Vec any = zero();
        for (int r = 0; r < rows; ++r) {
            const float* at = a + r * a_row + p;
            any = or_bits(any, whole ? load(at) : load(at, part));
        }
        words[p / 64] |= uint64_t(nonzero_bit_lanes(any)) << (p % 64);
    }
    int64_t count = 0;
    for (uint64_t w : words) count += __builtin_popcountll(w);
    if (count == kc) return kc;
    count = 0;
    for (int64_t w = 0; w < kKc / 64; ++w)
        for (uint64_t bits = words[w]; bits; bits &= bits - 1) steps[count++] = uint8_t(w * 64 + __builtin_ctzll(bits));
    return count;
}

// Whether a micro-tile whose block lists `count` of its kc steps takes the listed steps: where that skips an
// eighth of them or more (a listed step costs a byte load and an address computation more than a counted one).
bool worth_skipping(int64_t count, int64_t kc) { return count * 8 <= kc * 7; }
constexpr int64_t kScanProbe = 4;

// Output rows [r0, r1) x columns [c0, c1).
void run_tile(const GemmProblem& pr, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    alignas(64) float panel[kKc * kNr];
    // Per micro-tile of rows, the steps of the current inner block its micro-kernels take (nonzero_steps).
    // Where a ReLU shut an output gradient, the input gradient's A is 0 there; MobileNetV2's ReLU6s shut the same
    // channels over neighbouring pixels, so a 12-row micro-tile of Conv_1's backward has all 12 values 0 at 59-67 %
    // of its steps (13 % open values), of expanded_conv_16's expand 50-61 %, of the 14x14 expand convolutions
    // 3-31 % (measured on three reference photos). Only for a row-major A with two panels or more, and only where
    // worth_skipping. The sums skip only fma(0, b, x) = x, so they are the same bit for bit (a non-finite B at a
    // skipped step is not propagated, as the row-stream path's sparse steps).
    constexpr int64_t kMaxMicroTiles = kTransposedTileRows / kMr;
    alignas(64) uint8_t steps[kMaxMicroTiles][kKc];
    int64_t step_count[kMaxMicroTiles];
    const bool skip_zeros = pr.a_col == 1 && pr.n > kNr && r1 - r0 > kMr;
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
        // Packed B with many rows (k0 outer, panels inner): the next block of B in that order, a contiguous 16 KB
        // (the next panel's, or the first panel's at the next k0), is fetched into L2 a slice per micro-tile while
        // this block's micro-kernels run. B is a layer's filter, last read a whole network ago: from L3. Measured
        // (MobileNetV2 batch 1, Intel Xeon AVX-512, alternating builds): 1 thread forward 6.70-7.00 -> 6.03-6.19 ms,
        // backward to the input 7.03-7.25 -> 6.30-6.40 ms; 2 threads forward 3.99-4.13 -> 3.91-3.97 ms, backward
        // 4.34-4.46 -> 4.17-4.21 ms. The lines go out one per step of the micro-kernel (Step::prefetch): at 7 x 7
        // (5 micro-tiles) a burst was 51 lines, and perf put 7 % of explain's work after the forward on the
        // stalled prefetches; spread, explain's backward took 0.65-0.68 -> 0.56-0.60 ms (1 thread).
        const bool next_panel = j + kNr < c1, next_block = next_panel || k0 + kKc < pr.k;
        const bool prefetch = pr.b_layout == GemmB::Packed && r1 - r0 > kMr && next_block;
        const int64_t next_j = next_panel ? j + kNr : c0, next_k0 = next_panel ? k0 : k0 + kKc;
        const float* next_b = prefetch ? pr.b + (next_j / kNr) * pr.k * kNr + next_k0 * kNr : nullptr;
        const char* next = reinterpret_cast<const char*>(next_b);
        const int64_t next_lines = prefetch ? std::min(kKc, pr.k - next_k0) * kNr * int64_t(sizeof(float)) / 64 : 0;
        const int64_t micro_tiles = (r1 - r0 + kMr - 1) / kMr;
        const int64_t lines_per_tile = (next_lines + micro_tiles - 1) / micro_tiles;  // one division per block
        for (int64_t i = r0; i < r1; i += kMr) {
            const int64_t t = (i - r0) / kMr;
            const int64_t first_line = std::min(next_lines, t * lines_per_tile);
            step.prefetch = prefetch ? next + first_line * 64 : nullptr;
            step.prefetch_lines = std::min(lines_per_tile, next_lines - first_line);
            const bool skip = skip_zeros && worth_skipping(step_count[t], kc);
            step.gate = gate_at(i), step.gate_mask = mask_at(i);
            pick_kernel(int(std::min<int64_t>(kMr, r1 - i)), cols, skip)(
                pr.c + i * pr.ldc + j, pr.ldc, pr.a + i * pr.a_row + k0 * pr.a_col, pr.a_row, pr.a_col, b, ldb,
                skip ? step_count[t] : kc, skip ? steps[t] : nullptr, mask, step);
        }
    };
    // Many rows: each inner block of A stays in L2 while every panel sweeps it. At most one micro-tile of rows
    // (a transposed B at batch 1-5, the backward of a fully connected layer): nothing reuses B, so each panel's
    // kNr rows of a transposed B are read along their whole length, kNr long runs the prefetchers follow, before
    // the next panel (k0 outer read them a quarter page at a time, 128 pages apart). The same sums either way:
    // each output's blocks still run in the order of k0.
    if (r1 - r0 > kMr) {
        for (int64_t k0 = 0; k0 < pr.k || k0 == 0; k0 += kKc) {
            // A tile stops scanning once kScanProbe micro-tiles in a row had too little to skip: the products of
            // a linear bottleneck's output (MobileNetV2's early layers, most of its GEMM time) have nothing to skip.
            int64_t fruitless = 0;
            for (int64_t i = r0; skip_zeros && i < r1; i += kMr) {
                const int rows = int(std::min<int64_t>(kMr, r1 - i));
                const int64_t t = (i - r0) / kMr, kc = std::min(kKc, pr.k - k0);
                const float* a = pr.a + i * pr.a_row + k0;
                step_count[t] = fruitless < kScanProbe ? nonzero_steps(a, pr.a_row, rows, kc, steps[t]) : kc;
                fruitless = worth_skipping(step_count[t], kc) ? 0 : fruitless + 1;
            }
            for (int64_t j = c0; j < c1; j += kNr) block(k0, j);
        }
    } else {
        for (int64_t j = c0; j < c1; j += kNr)
            for (int64_t k0 = 0; k0 < pr.k || k0 == 0; k0 += kKc) block(k0, j);
    }
}

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

}  // namespace

bool gemm_kernel_available() { return true; }

void gemm_kernel(float* c, int64_t ldc, const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb,
                 GemmB b_layout, int64_t m, int64_t n, int64_t k, const GemmEpilogue& epilogue) {
    if (m <= 0 || n <= 0) return;
    const GemmProblem pr{c, ldc, a, a_row, a_col, b, ldb, b_layout, m, n, k, epilogue};
    const int threads = region_threads(m * n * k);
    const bool b_transposed = b_layout == GemmB::Transposed;
    if (gemm_row_stream(pr, threads)) return;
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
