// Fully connected layer: out[n, o] = bias[o] + sum_i in[n, i] * weight[i, o]; weight is [in, out] (the 1x1
// case of the HWIO conv filter). The fast kernels are Eigen GEMMs over row-major maps (no allocation); the naive
// references transcribe the formulas and are their oracle. Backward accumulates (+=).
#pragma once

namespace ec {

// bias may be null. Overwrites out [batch, out_features].
void fully_connected_forward(float* out, const float* in, const float* weight, const float* bias, int batch,
                             int in_features, int out_features);
// d_in[n, i] += sum_o d_out[n, o] * weight[i, o]   (d_out x weight^T)
void fully_connected_backward_input(float* d_in, const float* d_out, const float* weight, int batch,
                                    int in_features, int out_features);
// d_weight[i, o] += sum_n in[n, i] * d_out[n, o]  (in^T x d_out); d_bias[o] (may be null) += sum_n d_out[n, o]
void fully_connected_backward_params(float* d_weight, float* d_bias, const float* d_out, const float* in,
                                     int batch, int in_features, int out_features);

// Naive loops, kept forever as the oracle of the fast kernels; also in double for the gradient checks.
void fully_connected_forward_reference(float* out, const float* in, const float* weight, const float* bias,
                                       int batch, int in_features, int out_features);
void fully_connected_backward_input_reference(float* d_in, const float* d_out, const float* weight, int batch,
                                              int in_features, int out_features);
void fully_connected_backward_params_reference(float* d_weight, float* d_bias, const float* d_out,
                                               const float* in, int batch, int in_features, int out_features);
void fully_connected_forward_reference(double* out, const double* in, const double* weight, const double* bias,
                                       int batch, int in_features, int out_features);
void fully_connected_backward_input_reference(double* d_in, const double* d_out, const double* weight, int batch,
                                              int in_features, int out_features);
void fully_connected_backward_params_reference(double* d_weight, double* d_bias, const double* d_out,
                                               const double* in, int batch, int in_features, int out_features);

}  // namespace ec
