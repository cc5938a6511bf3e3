// Depthwise convolution kernels (groups == in_c, out_c = in_c * multiplier): the fast path conv2d.cpp dispatches
// to. Same contract as conv2d.h (forward overwrites, backward accumulates); internal to nn/.
#pragma once
#include "nn/conv2d.h"

namespace ec {

// out = clamp(bias + conv, lo, hi) (infinite lo and hi: no clamp).
void depthwise_conv2d_forward(float* out, const float* in, const float* filter, const float* bias, float lo, float hi,
                              const ConvGeometry& g);
void depthwise_conv2d_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g);
void depthwise_conv2d_backward_filter(float* d_filter, float* d_bias, const float* d_out, const float* in,
                                      const ConvGeometry& g);

}  // namespace ec
