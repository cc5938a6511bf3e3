// Element-wise add, bias add and zero padding, forward and backward, as templates instantiated for float (the
// product) and double (the gradient checks).
#include "nn/elementwise.h"
#include "nn/parallel.h"

#include <algorithm>
#include <cstring>

namespace ec {
namespace {

template <typename T>
void add_forward_t(T* out, const T* a, const T* b, int64_t n) {
    for_blocks(n, kElementBlock, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) out[i] = a[i] + b[i];
    });
}

template <typename T>
void accumulate_t(T* dst, const T* src, int64_t n) {
    for_blocks(n, kElementBlock, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) dst[i] += src[i];
    });
}

template <typename T>
void bias_add_forward_t(T* out, const T* in, const T* bias, int64_t rows, int channels) {
#pragma omp parallel for if (rows * channels >= kParallelMin)
    for (int64_t p = 0; p < rows; ++p) {
        const int64_t base = p * channels;
#pragma omp simd
        for (int c = 0; c < channels; ++c) out[base + c] = in[base + c] + bias[c];
    }
}

// d_bias[c] += sum_p d_out[p, c]. One thread: the reduction is over rows, and it is small next to any conv.
template <typename T>
void bias_add_backward_bias_t(T* d_bias, const T* d_out, int64_t rows, int channels) {
    for (int64_t p = 0; p < rows; ++p) {
        const T* row = d_out + p * channels;
#pragma omp simd
        for (int c = 0; c < channels; ++c) d_bias[c] += row[c];
    }
}

template <typename T>
void pad_forward_t(T* out, const T* in, const PadGeometry& g) {
    const int out_h = g.in_h + g.top + g.bottom, out_w = g.in_w + g.left + g.right;
    const int64_t row_in = int64_t(g.in_w) * g.channels, row_out = int64_t(out_w) * g.channels;
#pragma omp parallel for collapse(2) if (int64_t(g.batch) * out_h * row_out >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int y = 0; y < out_h; ++y) {
            T* dst = out + (int64_t(n) * out_h + y) * row_out;
            const int iy = y - g.top;
            if (iy < 0 || iy >= g.in_h) {
                std::fill(dst, dst + row_out, T(0));
                continue;
            }
            const int64_t left = int64_t(g.left) * g.channels;
            std::fill(dst, dst + left, T(0));
            std::memcpy(dst + left, in + (int64_t(n) * g.in_h + iy) * row_in, sizeof(T) * size_t(row_in));
            std::fill(dst + left + row_in, dst + row_out, T(0));
        }
}

template <typename T>
void pad_backward_t(T* d_in, const T* d_out, const PadGeometry& g) {
    const int out_h = g.in_h + g.top + g.bottom, out_w = g.in_w + g.left + g.right;
    const int64_t row_in = int64_t(g.in_w) * g.channels, row_out = int64_t(out_w) * g.channels;
#pragma omp parallel for collapse(2) if (int64_t(g.batch) * g.in_h * row_in >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int iy = 0; iy < g.in_h; ++iy) {
            T* dst = d_in + (int64_t(n) * g.in_h + iy) * row_in;
            const T* src = d_out + (int64_t(n) * out_h + iy + g.top) * row_out + int64_t(g.left) * g.channels;
#pragma omp simd
            for (int64_t i = 0; i < row_in; ++i) dst[i] += src[i];
        }
}

}  // namespace

void add_forward(float* out, const float* a, const float* b, int64_t n) { add_forward_t(out, a, b, n); }
void accumulate(float* dst, const float* src, int64_t n) { accumulate_t(dst, src, n); }
void bias_add_forward(float* out, const float* in, const float* bias, int64_t rows, int channels) {
    bias_add_forward_t(out, in, bias, rows, channels);
}
void bias_add_backward_bias(float* d_bias, const float* d_out, int64_t rows, int channels) {
    bias_add_backward_bias_t(d_bias, d_out, rows, channels);
}
void pad_forward(float* out, const float* in, const PadGeometry& g) { pad_forward_t(out, in, g); }
void pad_backward(float* d_in, const float* d_out, const PadGeometry& g) { pad_backward_t(d_in, d_out, g); }

void add_forward(double* out, const double* a, const double* b, int64_t n) { add_forward_t(out, a, b, n); }
void accumulate(double* dst, const double* src, int64_t n) { accumulate_t(dst, src, n); }
void bias_add_forward(double* out, const double* in, const double* bias, int64_t rows, int channels) {
    bias_add_forward_t(out, in, bias, rows, channels);
}
void bias_add_backward_bias(double* d_bias, const double* d_out, int64_t rows, int channels) {
    bias_add_backward_bias_t(d_bias, d_out, rows, channels);
}
void pad_forward(double* out, const double* in, const PadGeometry& g) { pad_forward_t(out, in, g); }
void pad_backward(double* d_in, const double* d_out, const PadGeometry& g) { pad_backward_t(d_in, d_out, g); }

}  // namespace ec
