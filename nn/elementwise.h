// Element-wise add, per-channel bias add and explicit spatial zero padding (NHWC). Backward accumulates (+=).
#pragma once
#include <cstdint>

namespace ec {

// out = a + b (out may alias a or b).
void add_forward(float* out, const float* a, const float* b, int64_t n);
// d_a += d_out and d_b += d_out are plain accumulations; callers use accumulate() for each input.
// The same is the input gradient of bias_add.
void accumulate(float* dst, const float* src, int64_t n);

// out[p, c] = in[p, c] + bias[c] for rows p of `channels` values (out may alias in).
void bias_add_forward(float* out, const float* in, const float* bias, int64_t rows, int channels);
// d_bias[c] += sum_p d_out[p, c].
void bias_add_backward_bias(float* d_bias, const float* d_out, int64_t rows, int channels);

struct PadGeometry {
    int batch = 1, in_h = 0, in_w = 0, channels = 0;
    int top = 0, bottom = 0, left = 0, right = 0;
};
// out is [batch, in_h + top + bottom, in_w + left + right, channels]: zeros around a copy of in.
void pad_forward(float* out, const float* in, const PadGeometry& g);
// d_in += the interior (un-padded) window of d_out.
void pad_backward(float* d_in, const float* d_out, const PadGeometry& g);

// The same kernels in double, for the finite-difference gradient checks of the tests.
void add_forward(double* out, const double* a, const double* b, int64_t n);
void accumulate(double* dst, const double* src, int64_t n);
void bias_add_forward(double* out, const double* in, const double* bias, int64_t rows, int channels);
void bias_add_backward_bias(double* d_bias, const double* d_out, int64_t rows, int channels);
void pad_forward(double* out, const double* in, const PadGeometry& g);
void pad_backward(double* d_in, const double* d_out, const PadGeometry& g);

}  // namespace ec
