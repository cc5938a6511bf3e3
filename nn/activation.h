// Element-wise activations. Derivatives at the kinks are taken as 0 (ReLU: x > 0 only; ReLU6: 0 < x < 6 only),
// the convention of TensorFlow and PyTorch. Backward reads the forward OUTPUT y, not the input x: y > 0 exactly
// when x > 0, and y = clamp(x, 0, 6) lies in (0, 6) exactly when x does (NaN: neither), so the mask is the same
// and the pre-activation tensor need not be kept (a convolution + activation pair stays fused in a forward
// that feeds a backward, nn/forward_plan.h). Backward accumulates (+=), or overwrites where `overwrite`
// (the first writer of a gradient buffer: nothing to add to, no zero-fill needed).
#pragma once
#include <cstdint>

namespace ec {

// out = max(x, 0)
void relu_forward(float* out, const float* in, int64_t n);
// d_in += d_out where y > 0 (d_in = ... when overwrite)
void relu_backward(float* d_in, const float* d_out, const float* out, int64_t n, bool overwrite = false);
// out = min(max(x, 0), 6)
void relu6_forward(float* out, const float* in, int64_t n);
// d_in += d_out where 0 < y < 6 (d_in = ... when overwrite)
void relu6_backward(float* d_in, const float* d_out, const float* out, int64_t n, bool overwrite = false);

// The same kernels in double, for the finite-difference gradient checks of the tests.
void relu_forward(double* out, const double* in, int64_t n);
void relu_backward(double* d_in, const double* d_out, const double* out, int64_t n, bool overwrite = false);
void relu6_forward(double* out, const double* in, int64_t n);
void relu6_backward(double* d_in, const double* d_out, const double* out, int64_t n, bool overwrite = false);

}  // namespace ec
