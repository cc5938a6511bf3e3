// 2-D convolution over NHWC tensors: any kernel size, stride, dilation and group count (depthwise = groups
// equal to input channels). Filters are HWIO: [kernel_h, kernel_w, in_channels / groups, out_channels]; the
// output channels of group g are [g * out_c / groups, (g + 1) * out_c / groups).
// Backward functions ACCUMULATE (+=) into their outputs, so a tensor used twice gets the sum of both gradients.
//
// The fast kernels (conv2d.cpp) pick one of four paths from the geometry:
//   pointwise  1x1, stride 1, no padding, groups 1: one GEMM [N*H*W, in_c] x [in_c, out_c], bias fused
//   first 3x3  3x3, groups 1, in_c <= 4 (an image network's first layer), stride 1 or 2, no dilation, SIMD builds:
//              direct kernels, output channels in registers (conv2d_first_3x3); the filter gradient is im2col's
//   depthwise  groups == in_c (one input channel per group, any multiplier): direct loops, channels innermost
//              (3x3, multiplier 1, stride 1 or 2: a SIMD kernel with six pixels in flight, conv2d_depthwise_3x3)
//   im2col     everything else: im2col per image and group into the caller's scratch, then a GEMM
// They never allocate; the naive reference (conv2d_reference.cpp) transcribes the formula and is their oracle.
#pragma once
#include <cstddef>
#include <cstdint>

#include "nn/gate_mask.h"

namespace ec {

// Every size a convolution needs, resolved once at graph build time (padding already explicit).
struct ConvGeometry {
    int batch = 1;
    int in_h = 0, in_w = 0, in_c = 0;
    int out_h = 0, out_w = 0, out_c = 0;
    int kernel_h = 1, kernel_w = 1;
    int stride_h = 1, stride_w = 1;
    int dilation_h = 1, dilation_w = 1;
    int pad_top = 0, pad_left = 0;  // bottom/right padding is implied by out_h/out_w
    int groups = 1;
};

// Throws Error naming the geometry if a size is non-positive, a pad negative, or groups does not divide
// in_c and out_c. Every kernel below calls it (a few integer comparisons).
void check_conv_geometry(const ConvGeometry& g);

// Whether the geometry takes the pointwise path (1x1, stride 1, no padding, groups 1).
bool conv2d_is_pointwise(const ConvGeometry& g);

// Floats of scratch memory the fast kernels need for this geometry (for im2col); the caller owns it. The size
// does not depend on the batch. 0 for the pointwise and depthwise paths (scratch may then be null).
size_t conv2d_scratch_floats(const ConvGeometry& g);

// out[n,y,x,o] = bias[o] + sum_{ky,kx,i} in[n, y*s_h + ky*d_h - pad_top, x*s_w + kx*d_w - pad_left, g*C_g + i]
//                                         * filter[ky,kx,i,o]
// with g = o / (out_c / groups), C_g = in_c / groups (input outside the image reads 0). bias may be null.
// Overwrites out.
// packed_filter (optional, pointwise geometries only): the filter as gemm_pack_b laid it out for this product
// (nn/packed_filters.h: FilterUse::Forward here, InputGradient for the input gradients below), read instead of
// `filter`; the same values bit for bit.
void conv2d_forward(float* out, const float* in, const float* filter, const float* bias, const ConvGeometry& g,
                    float* scratch, const float* packed_filter = nullptr);
// The same with the activation that follows fused into the output pass: out = clamp(conv + bias, lo, hi), e.g.
// ReLU6 is lo = 0, hi = 6, ReLU lo = 0, hi = +inf (NaN passes, as in nn/activation.h). Same values as
// conv2d_forward followed by the clamp, with one pass over out instead of three (the entry point for the graph
// runner's conv + bias + activation fusion).
void conv2d_forward_clamped(float* out, const float* in, const float* filter, const float* bias, float lo, float hi,
                            const ConvGeometry& g, float* scratch, const float* packed_filter = nullptr);
// d_in += conv2d^T(d_out): the gradient with respect to the input.
void conv2d_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g,
                           float* scratch, const float* packed_filter = nullptr);
// The same gradient written over d_in (its old contents unspecified), without a zero-fill first; with a gate
// (laid out as d_in), only where 0 < gate < gate_hi, +0 elsewhere: the backward of the ReLU (gate_hi = inf) or
// ReLU6 (6) whose output `gate` is and this convolution reads, fused into the one pass that writes d_in (the
// graph runner's backward fusion). Bit for bit conv2d_backward_input onto zeros, then the activation's backward.
// A gate mask (nn/gate_mask.h: a bit per value of d_in, 1 where 0 < y < hi) gates the same way without the
// activation's output (gate then null).
// Only for the geometries where conv2d_backward_input_overwrites (pointwise, SIMD depthwise 3x3 and first 3x3).
bool conv2d_backward_input_overwrites(const ConvGeometry& g);
void conv2d_backward_input_overwrite(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g,
                                     const float* gate = nullptr, float gate_hi = 0, GateMask gate_mask = {},
                                     const float* packed_filter = nullptr);
// d_filter += sum over batch and positions of in-patch x d_out; d_bias (may be null) += sum of d_out.
void conv2d_backward_filter(float* d_filter, float* d_bias, const float* d_out, const float* in,
                            const ConvGeometry& g, float* scratch);

// Naive loops that transcribe the formula above; kept forever as the oracle for the fast kernels.
void conv2d_forward_reference(float* out, const float* in, const float* filter, const float* bias,
                              const ConvGeometry& g);
void conv2d_backward_input_reference(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g);
void conv2d_backward_filter_reference(float* d_filter, float* d_bias, const float* d_out, const float* in,
                                      const ConvGeometry& g);
// The same reference loops in double, for the finite-difference gradient checks of the tests.
void conv2d_forward_reference(double* out, const double* in, const double* filter, const double* bias,
                              const ConvGeometry& g);
void conv2d_backward_input_reference(double* d_in, const double* d_out, const double* filter,
                                     const ConvGeometry& g);
void conv2d_backward_filter_reference(double* d_filter, double* d_bias, const double* d_out, const double* in,
                                      const ConvGeometry& g);

}  // namespace ec
