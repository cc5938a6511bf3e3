// Fully connected layer. The fast kernels are GEMMs (nn/gemm.h) over row-major views of the caller's memory;
// the naive loops below them are their oracle and, in double, what the finite-difference gradient checks
// differentiate.
#include "nn/dense.h"

#include <cstdint>

#include "nn/gemm.h"

namespace ec {
namespace {

template <typename T>
void forward_reference(T* out, const T* in, const T* weight, const T* bias, int batch, int in_features,
                       int out_features) {
    for (int n = 0; n < batch; ++n)
        for (int o = 0; o < out_features; ++o) {
            T acc = bias ? bias[o] : T(0);
            for (int i = 0; i < in_features; ++i)
                acc += in[int64_t(n) * in_features + i] * weight[int64_t(i) * out_features + o];
            out[int64_t(n) * out_features + o] = acc;
        }
}

template <typename T>
void backward_input_reference(T* d_in, const T* d_out, const T* weight, int batch, int in_features,
                              int out_features) {
    for (int n = 0; n < batch; ++n)
        for (int i = 0; i < in_features; ++i)
            for (int o = 0; o < out_features; ++o)
                d_in[int64_t(n) * in_features + i] +=
                    d_out[int64_t(n) * out_features + o] * weight[int64_t(i) * out_features + o];
}

template <typename T>
void backward_params_reference(T* d_weight, T* d_bias, const T* d_out, const T* in, int batch, int in_features,
                               int out_features) {
    for (int n = 0; n < batch; ++n)
        for (int o = 0; o < out_features; ++o) {
            const T dy = d_out[int64_t(n) * out_features + o];
            for (int i = 0; i < in_features; ++i) d_weight[int64_t(i) * out_features + o] += in[int64_t(n) * in_features + i] * dy;
            if (d_bias) d_bias[o] += dy;
        }
}

}  // namespace

void fully_connected_forward(float* out, const float* in, const float* weight, const float* bias, int batch,
                             int in_features, int out_features) {
    gemm(out, out_features, GemmInput{in, batch, in_features, in_features},
         GemmInput{weight, in_features, out_features, out_features}, false);
    if (!bias) return;
    for (int n = 0; n < batch; ++n)
        for (int o = 0; o < out_features; ++o) out[int64_t(n) * out_features + o] += bias[o];
}

// d_in += d_out x weight^T
void fully_connected_backward_input(float* d_in, const float* d_out, const float* weight, int batch,
                                    int in_features, int out_features) {
    gemm(d_in, in_features, GemmInput{d_out, batch, out_features, out_features},
         GemmInput{weight, in_features, out_features, out_features, true}, true);
}

// d_weight += in^T x d_out; d_bias += column sums of d_out
void fully_connected_backward_params(float* d_weight, float* d_bias, const float* d_out, const float* in,
                                     int batch, int in_features, int out_features) {
    gemm(d_weight, out_features, GemmInput{in, batch, in_features, in_features, true},
         GemmInput{d_out, batch, out_features, out_features}, true);
    if (!d_bias) return;
    for (int n = 0; n < batch; ++n)
        for (int o = 0; o < out_features; ++o) d_bias[o] += d_out[int64_t(n) * out_features + o];
}

void fully_connected_forward_reference(float* out, const float* in, const float* weight, const float* bias,
                                       int batch, int in_features, int out_features) {
    forward_reference(out, in, weight, bias, batch, in_features, out_features);
}
void fully_connected_backward_input_reference(float* d_in, const float* d_out, const float* weight, int batch,
                                              int in_features, int out_features) {
    backward_input_reference(d_in, d_out, weight, batch, in_features, out_features);
}
void fully_connected_backward_params_reference(float* d_weight, float* d_bias, const float* d_out,
                                               const float* in, int batch, int in_features, int out_features) {
    backward_params_reference(d_weight, d_bias, d_out, in, batch, in_features, out_features);
}

void fully_connected_forward_reference(double* out, const double* in, const double* weight, const double* bias,
                                       int batch, int in_features, int out_features) {
    forward_reference(out, in, weight, bias, batch, in_features, out_features);
}
void fully_connected_backward_input_reference(double* d_in, const double* d_out, const double* weight, int batch,
                                              int in_features, int out_features) {
    backward_input_reference(d_in, d_out, weight, batch, in_features, out_features);
}
void fully_connected_backward_params_reference(double* d_weight, double* d_bias, const double* d_out,
                                               const double* in, int batch, int in_features, int out_features) {
    backward_params_reference(d_weight, d_bias, d_out, in, batch, in_features, out_features);
}

}  // namespace ec
