// Packing the GEMM's B operand (see gemm_kernel.h): a transposed B's columns into the rows the micro-kernel
// loads (per tile, or once), and a whole B into the micro-kernel's panels (nn/packed_filters.h keeps a graph's
// 1x1 filters so).
#include "nn/gemm_kernel.h"

#ifdef EC_SIMD
#include <immintrin.h>

#include <algorithm>

namespace ec {
namespace {

// dst[p * dst_stride + j] = src[j * ld + p] for p, j < 8: one 8 x 8 block transposed in registers (AVX, which
// the AVX-512 builds have too).
void transpose_8x8(float* dst, int64_t dst_stride, const float* src, int64_t ld) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // rows i, i+1 interleaved, columns 0-1 and 4-5
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // columns 2-3 and 6-7
    }
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; ++h) {  // four rows' values of columns (2h, 2h+1) and (2h+4, 2h+5)
            r[i + 2 * h] = _mm256_shuffle_ps(t[i + h], t[i + h + 2], _MM_SHUFFLE(1, 0, 1, 0));
            r[i + 2 * h + 1] = _mm256_shuffle_ps(t[i + h], t[i + h + 2], _MM_SHUFFLE(3, 2, 3, 2));
        }
    for (int c = 0; c < 4; ++c) {  // column c from the low halves, column c + 4 from the high halves
        _mm256_storeu_ps(dst + c * dst_stride, _mm256_permute2f128_ps(r[c], r[c + 4], 0x20));
        _mm256_storeu_ps(dst + (c + 4) * dst_stride, _mm256_permute2f128_ps(r[c], r[c + 4], 0x31));
    }
}

}  // namespace

void pack_transposed(float* dst, int64_t dst_stride, const float* src, int64_t ld, int64_t rows, int64_t cols) {
    const int64_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
    for (int64_t j = 0; j < cols8; j += 8) {
        for (int64_t p = 0; p < rows8; p += 8) transpose_8x8(dst + p * dst_stride + j, dst_stride, src + j * ld + p, ld);
        for (int64_t p = rows8; p < rows; ++p)
            for (int64_t jj = j; jj < j + 8; ++jj) dst[p * dst_stride + jj] = src[jj * ld + p];
    }
    for (int64_t j = cols8; j < cols; ++j)
        for (int64_t p = 0; p < rows; ++p) dst[p * dst_stride + j] = src[j * ld + p];
}


int64_t gemm_kernel_packed_b_floats(int64_t k, int64_t n) { return (n + kGemmPanelCols - 1) / kGemmPanelCols * kGemmPanelCols * k; }

void gemm_kernel_pack_b(float* dst, const float* b, int64_t ldb, bool b_transposed, int64_t k, int64_t n) {
    for (int64_t j = 0; j < n; j += kGemmPanelCols) {
        float* panel = dst + (j / kGemmPanelCols) * k * kGemmPanelCols;
        const int64_t cols = std::min<int64_t>(kGemmPanelCols, n - j);
        if (b_transposed) pack_transposed(panel, kGemmPanelCols, b + j * ldb, ldb, k, cols);
        for (int64_t p = 0; p < k; ++p) {
            if (!b_transposed) std::copy(b + p * ldb + j, b + p * ldb + j + cols, panel + p * kGemmPanelCols);
            std::fill(panel + p * kGemmPanelCols + cols, panel + (p + 1) * kGemmPanelCols, 0.0f);
        }
    }
}

}  // namespace ec

#else  // no AVX-512 or AVX2: nothing is packed

namespace ec {
int64_t gemm_kernel_packed_b_floats(int64_t, int64_t) { return 0; }
void gemm_kernel_pack_b(float*, const float*, int64_t, bool, int64_t, int64_t) {}
}  // namespace ec

#endif
