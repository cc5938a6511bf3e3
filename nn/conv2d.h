// 2-D convolution over NHWC tensors: any kernel size, stride, dilation and group count (depthwise = groups
// equal to input channels). Filters are HWIO: [kernel_h, kernel_w, in_channels / groups, out_channels]; the
// output channels of group g are [g * out_c / groups, (g + 1) * out_c / groups).
// Backward functions ACCUMULATE (+=) into their outputs, so a tensor used twice gets the sum of both gradients.
#pragma once
#include <cstddef>

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

// Floats of scratch memory the fast kernels need for this geometry (for im2col); the caller owns it.
size_t conv2d_scratch_floats(const ConvGeometry& g);

// out[n,y,x,o] = bias[o] + sum_{ky,kx,i} in[n, y*s_h + ky*d_h - pad_top, x*s_w + kx*d_w - pad_left, i] * filter[ky,kx,i,o]
// (input outside the image reads 0). bias may be null. Overwrites out.
void conv2d_forward(float* out, const float* in, const float* filter, const float* bias, const ConvGeometry& g,
                    float* scratch);
// d_in += conv2d^T(d_out): the gradient with respect to the input.
void conv2d_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g,
                           float* scratch);
// d_filter += sum over batch and positions of in-patch x d_out; d_bias (may be null) += sum of d_out.
void conv2d_backward_filter(float* d_filter, float* d_bias, const float* d_out, const float* in,
                            const ConvGeometry& g, float* scratch);

// Naive loops that transcribe the formula above; kept forever as the oracle for the fast kernels.
void conv2d_forward_reference(float* out, const float* in, const float* filter, const float* bias,
                              const ConvGeometry& g);
void conv2d_backward_input_reference(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g);
void conv2d_backward_filter_reference(float* d_filter, float* d_bias, const float* d_out, const float* in,
                                      const ConvGeometry& g);

}  // namespace ec
