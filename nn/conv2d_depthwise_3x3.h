// Direct SIMD kernels (nn/simd.h) for MobileNet's depthwise layers: 3x3, multiplier 1, stride 1 or 2, no dilation
// (internal to nn/): forward and input gradient (conv2d_depthwise_3x3.cpp), filter gradient
// (conv2d_depthwise_3x3_filter.cpp). Without AVX-512 or AVX2, or for any other geometry, they decline and
// conv2d_depthwise.cpp's loops run.
#pragma once
#include <cstdint>
#include "nn/conv2d.h"

namespace ec {

// True if the geometry is one this kernel handles (and the build has SIMD).
bool depthwise_3x3_applies(const ConvGeometry& g);
// out = clamp(bias + depthwise conv, lo, hi) (lo = -inf, hi = +inf: no clamp). Only when depthwise_3x3_applies(g).
void depthwise_3x3_forward(float* out, const float* in, const float* filter, const float* bias, float lo, float hi,
                           const ConvGeometry& g);
// One output row of depthwise_3x3_forward from the three input rows its taps read, wherever the caller keeps
// them: in_rows[ky] is input row y * stride - pad_top + ky (in_w x in_c floats), null where that row is padding.
// Single-threaded (nn/band_block.h runs it inside its own threads). Only when depthwise_3x3_applies(g).
void depthwise_3x3_forward_row(float* out_row, const float* const in_rows[3], const float* filter, const float* bias,
                               float lo, float hi, const ConvGeometry& g);

// Stride 1 (padding at most 2) or 2: d_in += the gradient, as depthwise_conv2d_backward_input; d_in = the
// gradient when overwrite (the first writer of a gradient buffer: no zero-fill; the same values bit for bit as
// accumulating onto zeros). A gate (laid out as d_in; only with overwrite) keeps each value where
// 0 < gate < gate_hi and writes +0 elsewhere (conv2d_backward_input_overwrite); a gate mask (nn/gate_mask.h),
// where the mask is open.
bool depthwise_3x3_backward_input_applies(const ConvGeometry& g);
void depthwise_3x3_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g,
                                  bool overwrite = false, const float* gate = nullptr, float gate_hi = 0,
                                  GateMask gate_mask = {});

// One input-gradient row of depthwise_3x3_backward_input, overwritten (gated by gate_mask_row, laid out as the row,
// when not null), from the d_out rows its taps read wherever the caller keeps them: d_out_rows[ky] is d_out row
// oy with oy * stride - pad_top + ky = the row's iy, null where there is none. The same values bit for bit as the
// whole-tensor call. Single-threaded (nn/band_block.h runs it inside its own threads).
void depthwise_3x3_backward_input_row(float* d_in_row, const float* const d_out_rows[3], const float* filter,
                                      GateMask gate_mask_row, const ConvGeometry& g);

// d_filter += the filter gradient, d_bias (may be null) += the bias gradient, as depthwise_conv2d_backward_filter;
// when depthwise_3x3_applies(g) (conv2d_depthwise_3x3_filter.cpp).
void depthwise_3x3_backward_filter(float* d_filter, float* d_bias, const float* d_out, const float* in,
                                   const ConvGeometry& g);

}  // namespace ec
