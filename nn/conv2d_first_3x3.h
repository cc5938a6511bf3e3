// Direct SIMD kernels (nn/simd.h) for the first convolution of an image network: dense (groups 1) 3x3, few input
// channels (1 to 4: an RGB or grey image), any number of output channels, stride 1 or 2, any padding, no dilation
// (internal to nn/). im2col + GEMM handles them poorly: the GEMM's inner dimension is K = 9 * in_c (27 for RGB),
// and its input gradient is a GEMM into a column buffer followed by col2im. Without AVX-512 or AVX2, or for any
// other geometry, they decline and conv2d.cpp's im2col path runs. The filter gradient stays on im2col.
#pragma once
#include "nn/conv2d.h"

namespace ec {

// True if the geometry is one these kernels handle (and the build has SIMD).
bool first_3x3_applies(const ConvGeometry& g);

// out = clamp(bias + conv2d(in, filter), lo, hi) (lo = -inf, hi = +inf: no clamp; bias may be null), the formula
// of conv2d.h. Overwrites out. Only when first_3x3_applies(g).
void first_3x3_forward(float* out, const float* in, const float* filter, const float* bias, float lo, float hi,
                       const ConvGeometry& g);

// d_in += conv2d^T(d_out), as conv2d_backward_input; d_in = the gradient when overwrite (no zero-fill first; the
// same values bit for bit as accumulating onto zeros). A gate (laid out as d_in; only with overwrite) keeps each
// value where 0 < gate < gate_hi and writes +0 elsewhere (conv2d_backward_input_overwrite). Only when
// first_3x3_applies(g).
void first_3x3_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g,
                              bool overwrite = false, const float* gate = nullptr, float gate_hi = 0);

}  // namespace ec
