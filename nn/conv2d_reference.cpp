// Naive convolution loops: a direct transcription of the formula in conv2d.h, one output element (or one
// product) at a time. Slow on purpose and kept forever: the fast kernels of conv2d.cpp are tested against these,
// and the double instantiation is what the finite-difference gradient checks differentiate.
#include "nn/conv2d.h"

#include <cstdint>

namespace ec {
namespace {

// Index helpers (NHWC input/output, HWIO filter).
struct ConvIndex {
    const ConvGeometry& g;
    int64_t in(int n, int y, int x, int c) const { return ((int64_t(n) * g.in_h + y) * g.in_w + x) * g.in_c + c; }
    int64_t out(int n, int y, int x, int o) const {
        return ((int64_t(n) * g.out_h + y) * g.out_w + x) * g.out_c + o;
    }
    int64_t filter(int ky, int kx, int i, int o) const {
        return ((int64_t(ky) * g.kernel_w + kx) * (g.in_c / g.groups) + i) * g.out_c + o;
    }
};

// Calls visit(in_index, out_index, filter_index) for every product in[.] * filter[.] that contributes to out[.]
// (taps that fall outside the image are skipped: they read the zero padding). All three kernels share it, so the
// forward and both backward passes are transposes of one enumeration by construction.
template <typename Visit>
void for_each_conv_term(const ConvGeometry& g, Visit&& visit) {
    const ConvIndex ix{g};
    const int in_per_group = g.in_c / g.groups, out_per_group = g.out_c / g.groups;
    for (int n = 0; n < g.batch; ++n)
        for (int oy = 0; oy < g.out_h; ++oy)
            for (int ox = 0; ox < g.out_w; ++ox)
                for (int o = 0; o < g.out_c; ++o) {
                    const int group = o / out_per_group;
                    for (int ky = 0; ky < g.kernel_h; ++ky) {
                        const int iy = oy * g.stride_h + ky * g.dilation_h - g.pad_top;
                        if (iy < 0 || iy >= g.in_h) continue;
                        for (int kx = 0; kx < g.kernel_w; ++kx) {
                            const int iw = ox * g.stride_w + kx * g.dilation_w - g.pad_left;
                            if (iw < 0 || iw >= g.in_w) continue;
                            for (int i = 0; i < in_per_group; ++i)
                                visit(ix.in(n, iy, iw, group * in_per_group + i), ix.out(n, oy, ox, o),
                                      ix.filter(ky, kx, i, o));
                        }
                    }
                }
}

template <typename T>
void forward_reference(T* out, const T* in, const T* filter, const T* bias, const ConvGeometry& g) {
    check_conv_geometry(g);
    const int64_t out_count = int64_t(g.batch) * g.out_h * g.out_w * g.out_c;
    for (int64_t p = 0; p < out_count; ++p) out[p] = bias ? bias[p % g.out_c] : T(0);
    for_each_conv_term(g, [&](int64_t i, int64_t o, int64_t f) { out[o] += in[i] * filter[f]; });
}

template <typename T>
void backward_input_reference(T* d_in, const T* d_out, const T* filter, const ConvGeometry& g) {
    check_conv_geometry(g);
    for_each_conv_term(g, [&](int64_t i, int64_t o, int64_t f) { d_in[i] += d_out[o] * filter[f]; });
}

template <typename T>
void backward_filter_reference(T* d_filter, T* d_bias, const T* d_out, const T* in, const ConvGeometry& g) {
    check_conv_geometry(g);
    for_each_conv_term(g, [&](int64_t i, int64_t o, int64_t f) { d_filter[f] += in[i] * d_out[o]; });
    if (!d_bias) return;
    const int64_t out_count = int64_t(g.batch) * g.out_h * g.out_w * g.out_c;
    for (int64_t p = 0; p < out_count; ++p) d_bias[p % g.out_c] += d_out[p];
}

}  // namespace

void conv2d_forward_reference(float* out, const float* in, const float* filter, const float* bias,
                              const ConvGeometry& g) {
    forward_reference(out, in, filter, bias, g);
}
void conv2d_backward_input_reference(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g) {
    backward_input_reference(d_in, d_out, filter, g);
}
void conv2d_backward_filter_reference(float* d_filter, float* d_bias, const float* d_out, const float* in,
                                      const ConvGeometry& g) {
    backward_filter_reference(d_filter, d_bias, d_out, in, g);
}

void conv2d_forward_reference(double* out, const double* in, const double* filter, const double* bias,
                              const ConvGeometry& g) {
    forward_reference(out, in, filter, bias, g);
}
void conv2d_backward_input_reference(double* d_in, const double* d_out, const double* filter,
                                     const ConvGeometry& g) {
    backward_input_reference(d_in, d_out, filter, g);
}
void conv2d_backward_filter_reference(double* d_filter, double* d_bias, const double* d_out, const double* in,
                                      const ConvGeometry& g) {
    backward_filter_reference(d_filter, d_bias, d_out, in, g);
}

}  // namespace ec
