// Element-wise activations. Derivatives at the kinks are taken as 0 (ReLU: x > 0 only; ReLU6: 0 < x < 6 only),
// the convention of TensorFlow and PyTorch. Backward uses the forward INPUT and accumulates (+=).
#pragma once
#include <cstdint>

namespace ec {

// out = max(x, 0)
void relu_forward(float* out, const float* in, int64_t n);
// d_in += d_out where x > 0
void relu_backward(float* d_in, const float* d_out, const float* in, int64_t n);
// out = min(max(x, 0), 6)
void relu6_forward(float* out, const float* in, int64_t n);
// d_in += d_out where 0 < x < 6
void relu6_backward(float* d_in, const float* d_out, const float* in, int64_t n);

// The same kernels in double, for the finite-difference gradient checks of the tests.
void relu_forward(double* out, const double* in, int64_t n);
void relu_backward(double* d_in, const double* d_out, const double* in, int64_t n);
void relu6_forward(double* out, const double* in, int64_t n);
void relu6_backward(double* d_in, const double* d_out, const double* in, int64_t n);

}  // namespace ec
