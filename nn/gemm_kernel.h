// The register-blocked matrix product behind gemm() on AVX-512 or AVX2 + FMA builds (internal to nn/; nn/simd.h):
// C = op(A) x op(B), with an optional fused epilogue (bias per column, clamp to [lo, hi]) so a convolution writes
// its output once. Without either, gemm_kernel_available() is false and callers take the Eigen path of gemm.cpp.
#pragma once
#include <cstdint>

#include "nn/gemm.h"
#include "nn/simd.h"

namespace ec {

// True when this build has the kernel (compiled with -mavx512f or -mavx2 -mfma, e.g. -march=native on Zen).
bool gemm_kernel_available();

// c[m x n] (row stride ldc) = epilogue(A x B) with A[i, p] = a[i * a_row + p * a_col]: (a_row, a_col) = (lda, 1)
// for a row-major A, (1, lda) for a transposed one (the values a micro-kernel step broadcasts are then contiguous,
// as in in^T x d_out); B[p, j] = b[p * ldb + j], or b[j * ldb + p] when b_transposed (packed per panel). Threads (OpenMP) take tiles of c dynamically; every value is summed in the same order whatever the
// thread count. Call only when gemm_kernel_available().
// How B is stored: B[p, j] = b[p * ldb + j] (RowMajor), b[j * ldb + p] (Transposed), or in gemm_kernel_pack_b's
// panels (Packed; ldb unused).
enum class GemmB { RowMajor, Transposed, Packed };
void gemm_kernel(float* c, int64_t ldc, const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb,
                 GemmB b_layout, int64_t m, int64_t n, int64_t k, const GemmEpilogue& epilogue);
// B [k x n] (stored as above, RowMajor or Transposed) as column panels of the micro-kernel's width kNr, each k
// rows of kNr floats (zeros past column n): panel q at dst + q * k * kNr. gemm_kernel_packed_b_floats: its size.
// (nn/gemm_pack.cpp)
int64_t gemm_kernel_packed_b_floats(int64_t k, int64_t n);
void gemm_kernel_pack_b(float* dst, const float* b, int64_t ldb, bool b_transposed, int64_t k, int64_t n);

#ifdef EC_SIMD
// The micro-kernel's panel width: two vectors.
constexpr int kGemmPanelCols = 2 * simd::kLanes;
// Rows of a micro-tile: 2 kGemmMicroRows accumulators (of 32 or 16 registers).
constexpr int kGemmMicroRows = simd::kLanes == 16 ? 12 : 6;
// The inner-dimension block: a B panel of kGemmInnerBlock x kGemmPanelCols floats (16 KB) stays in L1. Each
// output's sum is an fma chain from 0 per block, the blocks added in order.
constexpr int64_t kGemmInnerBlock = 4096 / kGemmPanelCols;

// One product as gemm_kernel was given it: A[i, p] = a[i * a_row + p * a_col], B as b_layout says.
struct GemmProblem {
    float* c;
    int64_t ldc;
    const float* a;
    int64_t a_row, a_col;
    const float* b;
    int64_t ldb;
    GemmB b_layout;
    int64_t m, n, k;
    GemmEpilogue epilogue;
};
// Fewer rows than a micro-tile with an unpacked B (nn/gemm_row_stream.cpp): B streamed along its rows, or only
// A's nonzero columns read. Returns false, doing nothing, where the tiles serve better.
bool gemm_row_stream(const GemmProblem& pr, int threads);
// dst[p * dst_stride + j] = src[j * ld + p] for p < rows, j < cols: columns j of a B stored transposed (its rows)
// laid out as the rows the micro-kernel loads (nn/gemm_pack.cpp: 8 x 8 register transposes, scalar edges).
void pack_transposed(float* dst, int64_t dst_stride, const float* src, int64_t ld, int64_t rows, int64_t cols);
#endif

}  // namespace ec
