// Fully connected layer: out[n, o] = bias[o] + sum_i in[n, i] * weight[i, o]; weight is [in, out] (the 1x1
// case of the HWIO conv filter). Backward accumulates (+=).
#pragma once

namespace ec {

void fully_connected_forward(float* out, const float* in, const float* weight, const float* bias, int batch,
                             int in_features, int out_features);
void fully_connected_backward_input(float* d_in, const float* d_out, const float* weight, int batch,
                                    int in_features, int out_features);
void fully_connected_backward_params(float* d_weight, float* d_bias, const float* d_out, const float* in,
                                     int batch, int in_features, int out_features);

void fully_connected_forward_reference(float* out, const float* in, const float* weight, const float* bias,
                                       int batch, int in_features, int out_features);

}  // namespace ec
