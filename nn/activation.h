// Element-wise activations. Derivatives at the kinks are taken as 0 (ReLU: x > 0 only; ReLU6: 0 < x < 6 only),
// the convention of TensorFlow and PyTorch. Backward uses the forward INPUT and accumulates (+=).
#pragma once
#include <cstdint>

namespace ec {

void relu_forward(float* out, const float* in, int64_t n);
void relu_backward(float* d_in, const float* d_out, const float* in, int64_t n);
void relu6_forward(float* out, const float* in, int64_t n);
void relu6_backward(float* d_in, const float* d_out, const float* in, int64_t n);

}  // namespace ec
