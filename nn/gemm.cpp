// Tiled matrix product: see gemm.h for why the tiles, not Eigen, carry the threads.
#include "nn/gemm.h"
#include "nn/parallel.h"

// GCC 12 reports false -Wmaybe-uninitialized warnings inside its own AVX-512 intrinsics when inlining Eigen.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "nn/gemm_kernel.h"
#include "nn/tensor.h"

namespace ec {
namespace {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMajorMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;

// kParallelMin (nn/parallel.h) is under Eigen's own threshold for splitting a product (about 1e5), so a serial
// call never makes Eigen start threads either.
// Tiles narrower than this pack more than they compute.
constexpr int64_t kMinTile = 32;

int64_t rows_of(const GemmInput& m) { return m.transpose ? m.cols : m.rows; }
int64_t cols_of(const GemmInput& m) { return m.transpose ? m.rows : m.cols; }

// Rows [r0, r0 + nr) of op(m) as a map (kTranspose says how m is stored).
template <bool kTranspose>
auto row_block(const GemmInput& m, int64_t r0, int64_t nr) {
    if constexpr (kTranspose)  // op(m) = m^T: its rows are columns of the stored matrix
        return ConstMatrixMap(m.data + r0, m.rows, nr, Eigen::OuterStride<>(m.stride)).transpose();
    else
        return ConstMatrixMap(m.data + r0 * m.stride, nr, m.cols, Eigen::OuterStride<>(m.stride));
}

// Columns [c0, c0 + nc) of op(m).
template <bool kTranspose>
auto col_block(const GemmInput& m, int64_t c0, int64_t nc) {
    if constexpr (kTranspose)
        return ConstMatrixMap(m.data + c0 * m.stride, nc, m.cols, Eigen::OuterStride<>(m.stride)).transpose();
    else
        return ConstMatrixMap(m.data + c0, m.rows, nc, Eigen::OuterStride<>(m.stride));
}

template <bool kTransposeA, bool kTransposeB>
void tiled_product(float* out, int64_t out_stride, const GemmInput& a, const GemmInput& b, bool accumulate) {
    const int64_t m = rows_of(a), n = cols_of(b), k = cols_of(a);
    // Cut the output into about 4 tiles per thread (so a slow thread's share can be taken by the others),
    // halving the longer side each time, never below kMinTile.
    const int threads = m * n * k >= kParallelMin ? omp_get_max_threads() : 1;
    int64_t row_tiles = 1, col_tiles = 1;
    while (threads > 1 && row_tiles * col_tiles < 4 * threads) {
        const int64_t tile_m = m / row_tiles, tile_n = n / col_tiles;
        if (tile_m >= tile_n && tile_m >= 2 * kMinTile) row_tiles *= 2;
        else if (tile_n >= 2 * kMinTile) col_tiles *= 2;
        else if (tile_m >= 2 * kMinTile) row_tiles *= 2;
        else break;
    }
    // The region opens whenever threads > 1, even for a single tile (a small output with a long inner dimension):
    // inside it Eigen stays serial instead of starting its own spinning threads.
#pragma omp parallel for schedule(dynamic) if (threads > 1)
    for (int64_t t = 0; t < row_tiles * col_tiles; ++t) {
        const int64_t ri = t / col_tiles, ci = t % col_tiles;
        const int64_t r0 = m * ri / row_tiles, r1 = m * (ri + 1) / row_tiles;
        const int64_t c0 = n * ci / col_tiles, c1 = n * (ci + 1) / col_tiles;
        MatrixMap c(out + r0 * out_stride + c0, r1 - r0, c1 - c0, Eigen::OuterStride<>(out_stride));
        if (accumulate)
            c.noalias() += row_block<kTransposeA>(a, r0, r1 - r0) * col_block<kTransposeB>(b, c0, c1 - c0);
        else
            c.noalias() = row_block<kTransposeA>(a, r0, r1 - r0) * col_block<kTransposeB>(b, c0, c1 - c0);
    }
}

// The bias and clamp of the epilogue as a second pass over out (the Eigen path).
void apply_epilogue(float* out, int64_t out_stride, int64_t m, int64_t n, const GemmEpilogue& ep) {
    const bool clamp = !(std::isinf(ep.lo) && ep.lo < 0 && std::isinf(ep.hi) && ep.hi > 0);
    if (!ep.bias && !clamp && !ep.gate && !ep.gate_mask) return;
#pragma omp parallel for schedule(static) if (m * n >= kParallelMin)
    for (int64_t i = 0; i < m; ++i) {
        float* row = out + i * out_stride;
        if (ep.bias)
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) row[j] += ep.bias[j];
        if (clamp)
            for (int64_t j = 0; j < n; ++j) {  // selects, not std::min/max: NaN passes (see activation.cpp)
                float v = row[j];
                v = v < ep.lo ? ep.lo : v;
                row[j] = ep.hi < v ? ep.hi : v;
            }
        if (ep.gate) {
            const float* gate = ep.gate + i * ep.gate_stride;
            for (int64_t j = 0; j < n; ++j) row[j] = gate[j] > 0.0f && gate[j] < ep.gate_hi ? row[j] + 0.0f : 0.0f;
        }
        if (ep.gate_mask) {
            const GateMask open = ep.gate_mask + i * ep.gate_stride;
            for (int64_t j = 0; j < n; ++j) row[j] = open[j] ? row[j] + 0.0f : 0.0f;
        }
    }
}

}  // namespace

void gemm(float* out, int64_t out_stride, const GemmInput& a, const GemmInput& b, const GemmEpilogue& epilogue) {
    if (cols_of(a) != rows_of(b))
        throw Error("gemm: inner dimensions differ: [" + std::to_string(rows_of(a)) + "," + std::to_string(cols_of(a)) +
                    "] x [" + std::to_string(rows_of(b)) + "," + std::to_string(cols_of(b)) + "]");
    if ((epilogue.gate || epilogue.gate_mask) && epilogue.accumulate) throw Error("gemm: a gated epilogue cannot accumulate");
    if (epilogue.gate && epilogue.gate_mask) throw Error("gemm: an epilogue gates by values or by a mask, not both");
    const int64_t m = rows_of(a), n = cols_of(b);
    if (m == 0 || n == 0) return;
    if (gemm_kernel_available())
        return gemm_kernel(out, out_stride, a.data, a.transpose ? 1 : a.stride, a.transpose ? a.stride : 1, b.data,
                           b.stride, b.packed ? GemmB::Packed : b.transpose ? GemmB::Transposed : GemmB::RowMajor, m, n,
                           cols_of(a), epilogue);
    if (b.packed) throw Error("gemm: a packed B needs the SIMD kernel");
    const bool acc = epilogue.accumulate;
    if (a.transpose) {
        if (b.transpose) tiled_product<true, true>(out, out_stride, a, b, acc);
        else tiled_product<true, false>(out, out_stride, a, b, acc);
    } else {
        if (b.transpose) tiled_product<false, true>(out, out_stride, a, b, acc);
        else tiled_product<false, false>(out, out_stride, a, b, acc);
    }
    apply_epilogue(out, out_stride, m, n, epilogue);
}

int64_t gemm_packed_b_floats(int64_t k, int64_t n) { return gemm_kernel_available() ? gemm_kernel_packed_b_floats(k, n) : 0; }

void gemm_pack_b(float* dst, const GemmInput& b) {
    if (!gemm_kernel_available() || b.packed) throw Error("gemm_pack_b: needs the SIMD kernel and an unpacked B");
    gemm_kernel_pack_b(dst, b.data, b.stride, b.transpose, rows_of(b), cols_of(b));
}

void gemm(float* out, int64_t out_stride, const GemmInput& a, const GemmInput& b, bool accumulate) {
    GemmEpilogue epilogue;
    epilogue.accumulate = accumulate;
    gemm(out, out_stride, a, b, epilogue);
}

}  // namespace ec
