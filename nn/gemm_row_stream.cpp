// The few-rows path of gemm_kernel (see gemm_kernel.h).
#include "nn/gemm_kernel.h"
#include "nn/parallel.h"
#include "nn/simd.h"

#ifdef EC_SIMD
#include <algorithm>
#include <cmath>

namespace ec {
namespace {

using namespace simd;

// With fewer rows than a micro-tile (a fully connected layer, or MobileNet's 1x1 logits convolution, at batch
// 1-5) B is read once and nothing reuses it, so the tiles' panel order (gemm_kernel.cpp) would walk B down its
// columns, one cache line per row and a new page every row or so (FullyConnected 1280 -> 1001 took 0.6 ms for 5 MB
// of weights). Here B is read along its rows instead: for each p, a chunk of up to kStreamCols columns of row p
// (kilobytes, so the prefetchers see long runs), multiplied by A[r, p] into accumulators on the stack (L1). A dense
// transposed B goes to the tiled path, whose panels read kGemmPanelCols rows of it along p. Every value is summed
// in the same order as the micro-kernel sums it (an fma chain over p from 0 per inner block, then + bias, + C,
// clamp), so results are bit-identical to the tiled path's and do not depend on the batch size or the chunking.
//
// Sparse A: when at most 1 in kSparseRatio of A's columns p has a nonzero value (explain's backward starts
// from a one-hot seed at the logits: d logit_c / d logits has one nonzero), the steps with A[., p] = 0 are
// skipped and B's rows p are never read. fma(0, b, x) = x for a finite b, so the sums are the same (a -0 from an
// underflowed product aside, which compares equal); a non-finite B value at a skipped p is not propagated.
constexpr int64_t kSparseRatio = 16;
constexpr int kStreamRowsMax = kGemmMicroRows - 1;
constexpr int64_t kStreamCols = 1024;  // floats of each B row per step: 4 KB, one page

// acc[r][0 .. cols) += A[r, p] B[p, c0 ..) for p in [p0, p1). Four rows of B per pass, so each accumulator is
// loaded and stored once per four fmas (the fma chain still runs over p in order).
void stream_rows(float (*acc)[kStreamCols], const GemmProblem& pr, int64_t p0, int64_t p1, int64_t c0, int64_t cols) {
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
bool a_column_is_zero(const GemmProblem& pr, int64_t p) {
    for (int64_t r = 0; r < pr.m; ++r)
        if (pr.a[r * pr.a_row + p * pr.a_col] != 0.0f) return false;
    return true;
}

// As stream_rows for a sparse A (see above): only the steps p with a nonzero A[., p], B transposed or not.
void sparse_rows(float (*acc)[kStreamCols], const GemmProblem& pr, int64_t p0, int64_t p1, int64_t c0, int64_t cols) {
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
void run_row_stream(const GemmProblem& pr, int64_t c0, int64_t c1, bool sparse) {
    alignas(64) float acc[kStreamRowsMax][kStreamCols];
    const GemmEpilogue& ep = pr.epilogue;
    const bool clamp_out = !(std::isinf(ep.lo) && ep.lo < 0 && std::isinf(ep.hi) && ep.hi > 0);
    const Vec lo = broadcast(ep.lo), hi = broadcast(ep.hi), gate_hi = broadcast(ep.gate_hi);
    const int64_t cols = c1 - c0, full_vectors = cols / kLanes, vectors = (cols + kLanes - 1) / kLanes;
    const Mask tail = first_lanes(int(cols % kLanes));
    for (int64_t k0 = 0; k0 < pr.k || k0 == 0; k0 += kGemmInnerBlock) {
        const int64_t k1 = std::min(pr.k, k0 + kGemmInnerBlock);
        const bool first = k0 == 0, last_block = k0 + kGemmInnerBlock >= pr.k;
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
bool a_is_sparse(const GemmProblem& pr) {
    int64_t nonzero = 0;
    for (int64_t p = 0; p < pr.k; ++p)
        if (!a_column_is_zero(pr, p) && ++nonzero * kSparseRatio > pr.k) return false;
    return true;
}

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

}  // namespace

bool gemm_row_stream(const GemmProblem& pr, int threads) {
    // A packed B (read in panels) takes the tiles whatever the rows.
    if (pr.m > kStreamRowsMax || pr.b_layout == GemmB::Packed) return false;
    const bool sparse = a_is_sparse(pr);
    if (pr.n <= kGemmPanelCols || (pr.b_layout == GemmB::Transposed && !sparse)) return false;
    // Equal chunks of whole vectors, a multiple of the thread count, each at most kStreamCols wide.
    int64_t chunks = std::max<int64_t>(threads, (pr.n + kStreamCols - 1) / kStreamCols);
    chunks = (chunks + threads - 1) / threads * threads;
    const int64_t width = std::min(kStreamCols, round_up((pr.n + chunks - 1) / chunks, kLanes));
    chunks = (pr.n + width - 1) / width;
    for_tasks(chunks, sparse ? 1 : threads,
              [&](int64_t t) { run_row_stream(pr, t * width, std::min(pr.n, (t + 1) * width), sparse); });
    return true;
}

}  // namespace ec

#endif
