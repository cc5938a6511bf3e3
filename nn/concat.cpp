// Concatenation along the channel dimension, forward and backward, as templates instantiated for float (the
// product) and double (the gradient checks).
#include "nn/concat.h"
#include "nn/parallel.h"

#include <cstring>

namespace ec {
namespace {

template <typename T>
void concat_forward_t(T* out, const T* const* inputs, const int* widths, int count, int64_t rows) {
    int64_t out_width = 0;
    for (int i = 0; i < count; ++i) out_width += widths[i];
#pragma omp parallel for schedule(static) if (rows * out_width >= kParallelMin)
    for (int64_t p = 0; p < rows; ++p) {
        T* dst = out + p * out_width;
        for (int i = 0; i < count; ++i) {
            std::memcpy(dst, inputs[i] + p * widths[i], sizeof(T) * size_t(widths[i]));
            dst += widths[i];
        }
    }
}

template <typename T>
void concat_backward_t(T* const* d_inputs, const T* d_out, const int* widths, int count, int64_t rows) {
    int64_t out_width = 0;
    for (int i = 0; i < count; ++i) out_width += widths[i];
#pragma omp parallel for schedule(static) if (rows * out_width >= kParallelMin)
    for (int64_t p = 0; p < rows; ++p) {
        const T* src = d_out + p * out_width;
        for (int i = 0; i < count; ++i) {
            if (T* dst = d_inputs[i]) {
                dst += p * widths[i];
                for (int c = 0; c < widths[i]; ++c) dst[c] += src[c];
            }
            src += widths[i];
        }
    }
}

}  // namespace

void concat_forward(float* out, const float* const* inputs, const int* widths, int count, int64_t rows) {
    concat_forward_t(out, inputs, widths, count, rows);
}
void concat_backward(float* const* d_inputs, const float* d_out, const int* widths, int count, int64_t rows) {
    concat_backward_t(d_inputs, d_out, widths, count, rows);
}
void concat_forward(double* out, const double* const* inputs, const int* widths, int count, int64_t rows) {
    concat_forward_t(out, inputs, widths, count, rows);
}
void concat_backward(double* const* d_inputs, const double* d_out, const int* widths, int count, int64_t rows) {
    concat_backward_t(d_inputs, d_out, widths, count, rows);
}

}  // namespace ec
