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

#if defined(__AVX512F__)
// The same for a 16 x 16 block in zmm registers: 64 shuffles for 256 values, against 96 in four 8 x 8 blocks, and
// whole-line loads and stores. Measured (Google Benchmark, 1 thread, AVX-512 Xeon, alternating the builds): the
// input gradient of 224 x 224 x 3 -> 32, which transposes every d_out row, 4-7 % faster (0.349 -> 0.324 ms); the
// transposes are then bound by reading d_out (1.6 MB, from L3), not by the shuffles. Products with a transposed B
// (filter gradients, a fully connected layer's) unchanged within the machine's noise.
void transpose_16x16(float* dst, int64_t dst_stride, const float* src, int64_t ld) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * ld);
    for (int i = 0; i < 16; i += 2) {  // per 128-bit lane q: rows i, i+1 of columns 4q, 4q+1 (lo), 4q+2, 4q+3 (hi)
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)  // r[i + c], lane q: column 4q + c of rows i .. i + 3
        for (int h = 0; h < 2; ++h) {
            r[i + 2 * h] = _mm512_shuffle_ps(t[i + h], t[i + h + 2], _MM_SHUFFLE(1, 0, 1, 0));
            r[i + 2 * h + 1] = _mm512_shuffle_ps(t[i + h], t[i + h + 2], _MM_SHUFFLE(3, 2, 3, 2));
        }
    for (int c = 0; c < 4; ++c)  // t[c]: column c, c + 8 of rows 0-3, then of 4-7; t[c + 4]: columns c + 4, c + 12
        for (int half = 0; half < 2; ++half) {
            t[8 * half + c] = _mm512_shuffle_f32x4(r[8 * half + c], r[8 * half + 4 + c], 0x88);
            t[8 * half + c + 4] = _mm512_shuffle_f32x4(r[8 * half + c], r[8 * half + 4 + c], 0xDD);
        }
    for (int c = 0; c < 8; ++c) {  // column c from lanes 0 and 2 of t[c], t[c + 8], column c + 8 from lanes 1 and 3
        _mm512_storeu_ps(dst + c * dst_stride, _mm512_shuffle_f32x4(t[c], t[c + 8], 0x88));
        _mm512_storeu_ps(dst + (c + 8) * dst_stride, _mm512_shuffle_f32x4(t[c], t[c + 8], 0xDD));
    }
}
#endif

}  // namespace

void pack_transposed(float* dst, int64_t dst_stride, const float* src, int64_t ld, int64_t rows, int64_t cols) {
    int64_t cols16 = 0, rows16 = 0;  // columns [0, cols16) x rows [0, rows16) in 16 x 16 blocks
#if defined(__AVX512F__)
    cols16 = cols / 16 * 16, rows16 = rows / 16 * 16;
    for (int64_t j = 0; j < cols16; j += 16)
        for (int64_t p = 0; p < rows16; p += 16)
            transpose_16x16(dst + p * dst_stride + j, dst_stride, src + j * ld + p, ld);
#endif
    const int64_t cols8 = cols / 8 * 8;
    for (int64_t j = 0; j < cols8; j += 8) {
        int64_t p = j < cols16 ? rows16 : 0;
        for (; p + 8 <= rows; p += 8) transpose_8x8(dst + p * dst_stride + j, dst_stride, src + j * ld + p, ld);
        for (; p < rows; ++p)
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
