// Fast convolution kernels (float32, OpenMP, no allocation). Four paths, chosen from the geometry alone (see
// conv2d.h): pointwise (one GEMM), depthwise (conv2d_depthwise.cpp: a direct SIMD 3x3 kernel or direct loops), the
// first layer's dense 3x3 on few channels (conv2d_first_3x3.cpp, SIMD builds) and im2col + GEMM for everything else; the GEMMs are nn/gemm.h (a register-blocked SIMD kernel with the bias and the
// clamp fused into its epilogue, or tiled Eigen products without SIMD). Each path is tested against the naive
// loops of conv2d_reference.cpp on a sweep of awkward shapes (tests/test_conv2d.cpp).
#include "nn/conv2d.h"
#include "nn/gate_mask.h"
#include "nn/parallel.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "nn/conv2d_coords.h"
#include "nn/conv2d_depthwise.h"
#include "nn/conv2d_depthwise_3x3.h"
#include "nn/conv2d_first_3x3.h"
#include "nn/gemm.h"
#include "nn/packed_filters.h"
#include "nn/tensor.h"

namespace ec {
namespace {

enum class ConvPath { Pointwise, Depthwise, First3x3, Im2col };

ConvPath choose_path(const ConvGeometry& g) {
    if (conv2d_is_pointwise(g)) return ConvPath::Pointwise;
    // Before depthwise: a one-channel image is also a depthwise convolution with multiplier out_c, whose loops this
    // kernel outruns (it keeps depthwise multiplier 1, where the depthwise 3x3 kernel applies).
    if (first_3x3_applies(g) && g.out_c > 1) return ConvPath::First3x3;  // an image network's first convolution
    if (g.groups == g.in_c) return ConvPath::Depthwise;  // one input channel per group, out_c = in_c * multiplier
    return ConvPath::Im2col;
}

// A row-major matrix operand of gemm(): rows x cols, rows `stride` floats apart.
GemmInput matrix(const float* data, int64_t rows, int64_t cols, int64_t stride, bool transpose = false) {
    return GemmInput{data, rows, cols, stride, transpose};
}

// d_bias[c] += sum_p d_out[p, c].
void accumulate_bias_gradient(float* d_bias, const float* d_out, int64_t rows, int channels) {
    for (int64_t p = 0; p < rows; ++p) {
        const float* row = d_out + p * channels;
#pragma omp simd
        for (int c = 0; c < channels; ++c) d_bias[c] += row[c];
    }
}

// ---------------------------------------------------------------- pointwise: one GEMM over every pixel
// out[P, O] = in[P, I] x filter[I, O], with P = batch * h * w rows (NHWC is already this row-major matrix).

void pointwise_forward(float* out, const float* in, const float* filter, const float* packed,
                       const GemmEpilogue& epilogue, const ConvGeometry& g) {
    const int64_t pixels = int64_t(g.batch) * g.in_h * g.in_w;
    gemm(out, g.out_c, matrix(in, pixels, g.in_c, g.in_c), pointwise_filter_operand(filter, packed, g.in_c, g.out_c, FilterUse::Forward), epilogue);
}

// d_in += d_out x filter^T
void pointwise_backward_input(float* d_in, const float* d_out, const float* filter, const float* packed_filter,
                              const ConvGeometry& g) {
    const int64_t pixels = int64_t(g.batch) * g.in_h * g.in_w;
    gemm(d_in, g.in_c, matrix(d_out, pixels, g.out_c, g.out_c), pointwise_filter_operand(filter, packed_filter, g.in_c, g.out_c, FilterUse::InputGradient),
         true);
}

// d_in = gate(d_out x filter^T): conv2d_backward_input_overwrite.
void pointwise_backward_input_overwrite(float* d_in, const float* d_out, const float* filter,
                                        const float* packed_filter, const float* gate, float gate_hi,
                                        GateMask gate_mask, const ConvGeometry& g) {
    const int64_t pixels = int64_t(g.batch) * g.in_h * g.in_w;
    GemmEpilogue epilogue;
    epilogue.gate = gate, epilogue.gate_stride = g.in_c, epilogue.gate_hi = gate_hi, epilogue.gate_mask = gate_mask;
    gemm(d_in, g.in_c, matrix(d_out, pixels, g.out_c, g.out_c), pointwise_filter_operand(filter, packed_filter, g.in_c, g.out_c, FilterUse::InputGradient),
         epilogue);
}

// d_filter += in^T x d_out
void pointwise_backward_filter(float* d_filter, const float* d_out, const float* in, const ConvGeometry& g) {
    const int64_t pixels = int64_t(g.batch) * g.in_h * g.in_w;
    gemm(d_filter, g.out_c, matrix(in, pixels, g.in_c, g.in_c, true), matrix(d_out, pixels, g.out_c, g.out_c), true);
}

// ---------------------------------------------------------------- im2col + GEMM
// For image n and group grp, the patch matrix col[P, K] has one row per output pixel (P = out_h * out_w) and
// K = kernel_h * kernel_w * C_g columns in HWIO order (ky, kx, i), so the group's filter is the [K, out_c / groups]
// column block of the filter seen as a row-major [K, out_c] matrix, and out = col x filter.

int64_t patch_size(const ConvGeometry& g) { return int64_t(g.kernel_h) * g.kernel_w * (g.in_c / g.groups); }

// col[p, (ky, kx, i)] = in_image[iy, ix, grp * C_g + i], or 0 where the tap falls in the padding.
void im2col(float* col, const float* in_image, const ConvGeometry& g, int grp) {
    const int in_per_group = g.in_c / g.groups;
    const int64_t k = patch_size(g);
#pragma omp parallel for schedule(dynamic) if (int64_t(g.out_h) * g.out_w * k >= kParallelMin)
    for (int oy = 0; oy < g.out_h; ++oy)
        for (int ox = 0; ox < g.out_w; ++ox) {
            float* row = col + (int64_t(oy) * g.out_w + ox) * k;
            const int ix0 = conv_input_coord(ox, 0, g.stride_w, g.dilation_w, g.pad_left);
            const int ix1 = conv_input_coord(ox, g.kernel_w - 1, g.stride_w, g.dilation_w, g.pad_left);
            for (int ky = 0; ky < g.kernel_h; ++ky) {
                const int iy = conv_input_coord(oy, ky, g.stride_h, g.dilation_h, g.pad_top);
                float* dst_row = row + int64_t(ky) * g.kernel_w * in_per_group;
                // One group, no dilation, every tap of the row inside: the kernel_w taps are adjacent pixels,
                // one contiguous run of kernel_w * in_c floats (3 copies of 9 floats instead of 9 of 3 for the
                // first MobileNet layer).
                if (g.groups == 1 && g.dilation_w == 1 && iy >= 0 && iy < g.in_h && ix0 >= 0 && ix1 < g.in_w) {
                    const float* src = in_image + (int64_t(iy) * g.in_w + ix0) * g.in_c;
                    std::copy(src, src + int64_t(g.kernel_w) * in_per_group, dst_row);
                    continue;
                }
                for (int kx = 0; kx < g.kernel_w; ++kx) {
                    const int ix = conv_input_coord(ox, kx, g.stride_w, g.dilation_w, g.pad_left);
                    float* dst = dst_row + int64_t(kx) * in_per_group;
                    if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w)
                        std::fill(dst, dst + in_per_group, 0.0f);
                    else
                        std::memcpy(dst, in_image + (int64_t(iy) * g.in_w + ix) * g.in_c + grp * in_per_group,
                                    sizeof(float) * size_t(in_per_group));
                }
            }
        }
}

// The transpose of im2col, accumulating: d_in_image[iy, ix, grp * C_g + i] += every col entry that copied it.
// Written as a gather over input pixels so threads own disjoint rows of d_in.
void col2im_accumulate(float* d_in_image, const float* col, const ConvGeometry& g, int grp) {
    const int in_per_group = g.in_c / g.groups;
    const int64_t k = patch_size(g);
#pragma omp parallel for schedule(dynamic) if (int64_t(g.out_h) * g.out_w * k >= kParallelMin)
    for (int iy = 0; iy < g.in_h; ++iy)
        for (int ix = 0; ix < g.in_w; ++ix) {
            float* __restrict dx = d_in_image + (int64_t(iy) * g.in_w + ix) * g.in_c + grp * in_per_group;
            for (int ky = 0; ky < g.kernel_h; ++ky) {
                const int oy = conv_output_coord(iy, ky, g.stride_h, g.dilation_h, g.pad_top, g.out_h);
                if (oy < 0) continue;
                for (int kx = 0; kx < g.kernel_w; ++kx) {
                    const int ox = conv_output_coord(ix, kx, g.stride_w, g.dilation_w, g.pad_left, g.out_w);
                    if (ox < 0) continue;
                    const float* __restrict src =
                        col + (int64_t(oy) * g.out_w + ox) * k + (int64_t(ky) * g.kernel_w + kx) * in_per_group;
                    for (int i = 0; i < in_per_group; ++i) dx[i] += src[i];
                }
            }
        }
}

void im2col_forward(float* out, const float* in, const float* filter, const GemmEpilogue& epilogue,
                    const ConvGeometry& g, float* col) {
    const int out_per_group = g.out_c / g.groups;
    const int64_t k = patch_size(g), pixels = int64_t(g.out_h) * g.out_w;
    for (int n = 0; n < g.batch; ++n) {
        float* out_image = out + int64_t(n) * pixels * g.out_c;
        for (int grp = 0; grp < g.groups; ++grp) {
            im2col(col, in + int64_t(n) * g.in_h * g.in_w * g.in_c, g, grp);
            GemmEpilogue group_epilogue = epilogue;
            if (epilogue.bias) group_epilogue.bias = epilogue.bias + grp * out_per_group;
            gemm(out_image + grp * out_per_group, g.out_c, matrix(col, pixels, k, k),
                 matrix(filter + grp * out_per_group, k, out_per_group, g.out_c), group_epilogue);
        }
    }
}

// d_col = d_out x filter^T, then col2im.
void im2col_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g,
                           float* d_col) {
    const int out_per_group = g.out_c / g.groups;
    const int64_t k = patch_size(g), pixels = int64_t(g.out_h) * g.out_w;
    for (int n = 0; n < g.batch; ++n) {
        const float* d_out_image = d_out + int64_t(n) * pixels * g.out_c;
        for (int grp = 0; grp < g.groups; ++grp) {
            gemm(d_col, k, matrix(d_out_image + grp * out_per_group, pixels, out_per_group, g.out_c),
                 matrix(filter + grp * out_per_group, k, out_per_group, g.out_c, true), false);
            col2im_accumulate(d_in + int64_t(n) * g.in_h * g.in_w * g.in_c, d_col, g, grp);
        }
    }
}

// d_filter += col^T x d_out, image by image.
void im2col_backward_filter(float* d_filter, const float* d_out, const float* in, const ConvGeometry& g,
                            float* col) {
    const int out_per_group = g.out_c / g.groups;
    const int64_t k = patch_size(g), pixels = int64_t(g.out_h) * g.out_w;
    for (int n = 0; n < g.batch; ++n) {
        const float* d_out_image = d_out + int64_t(n) * pixels * g.out_c;
        for (int grp = 0; grp < g.groups; ++grp) {
            im2col(col, in + int64_t(n) * g.in_h * g.in_w * g.in_c, g, grp);
            gemm(d_filter + grp * out_per_group, g.out_c, matrix(col, pixels, k, k, true),
                 matrix(d_out_image + grp * out_per_group, pixels, out_per_group, g.out_c), true);
        }
    }
}

void require_scratch(const float* scratch, const ConvGeometry& g) {
    if (!scratch && conv2d_scratch_floats(g) > 0)
        throw Error("conv2d: null scratch for a geometry that needs " + std::to_string(conv2d_scratch_floats(g)) +
                    " floats (see conv2d_scratch_floats)");
}

void require_packed_only_if_pointwise(const float* packed_filter, ConvPath path) {
    if (packed_filter && path != ConvPath::Pointwise) throw Error("conv2d: only a 1x1 convolution reads a packed filter");
}

}  // namespace

bool conv2d_is_pointwise(const ConvGeometry& g) {
    return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
           g.pad_left == 0 && g.groups == 1 && g.out_h == g.in_h && g.out_w == g.in_w;
}

void check_conv_geometry(const ConvGeometry& g) {
    const bool positive = g.batch > 0 && g.in_h > 0 && g.in_w > 0 && g.in_c > 0 && g.out_h > 0 && g.out_w > 0 &&
                          g.out_c > 0 && g.kernel_h > 0 && g.kernel_w > 0 && g.stride_h > 0 && g.stride_w > 0 &&
                          g.dilation_h > 0 && g.dilation_w > 0 && g.groups > 0;
    if (!positive || g.pad_top < 0 || g.pad_left < 0 || g.in_c % g.groups != 0 || g.out_c % g.groups != 0)
        throw Error("conv2d: invalid geometry: batch " + std::to_string(g.batch) + ", in " + std::to_string(g.in_h) +
                    "x" + std::to_string(g.in_w) + "x" + std::to_string(g.in_c) + ", out " +
                    std::to_string(g.out_h) + "x" + std::to_string(g.out_w) + "x" + std::to_string(g.out_c) +
                    ", kernel " + std::to_string(g.kernel_h) + "x" + std::to_string(g.kernel_w) + ", stride " +
                    std::to_string(g.stride_h) + "x" + std::to_string(g.stride_w) + ", dilation " +
                    std::to_string(g.dilation_h) + "x" + std::to_string(g.dilation_w) + ", pad top/left " +
                    std::to_string(g.pad_top) + "/" + std::to_string(g.pad_left) + ", groups " +
                    std::to_string(g.groups));
}

size_t conv2d_scratch_floats(const ConvGeometry& g) {
    check_conv_geometry(g);
    const ConvPath path = choose_path(g);
    if (path != ConvPath::Im2col && path != ConvPath::First3x3) return 0;  // First3x3: its filter gradient is im2col's
    return size_t(int64_t(g.out_h) * g.out_w * patch_size(g));  // one image, one group of patches
}

void conv2d_forward(float* out, const float* in, const float* filter, const float* bias, const ConvGeometry& g,
                    float* scratch, const float* packed_filter) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    conv2d_forward_clamped(out, in, filter, bias, -kInf, kInf, g, scratch, packed_filter);
}

void conv2d_forward_clamped(float* out, const float* in, const float* filter, const float* bias, float lo, float hi,
                            const ConvGeometry& g, float* scratch, const float* packed_filter) {
    check_conv_geometry(g);
    GemmEpilogue epilogue;
    epilogue.bias = bias, epilogue.lo = lo, epilogue.hi = hi;
    const ConvPath path = choose_path(g);
    require_packed_only_if_pointwise(packed_filter, path);
    switch (path) {
        case ConvPath::Pointwise: return pointwise_forward(out, in, filter, packed_filter, epilogue, g);
        case ConvPath::Depthwise: return depthwise_conv2d_forward(out, in, filter, bias, lo, hi, g);
        case ConvPath::First3x3: return first_3x3_forward(out, in, filter, bias, lo, hi, g);
        case ConvPath::Im2col:
            require_scratch(scratch, g);
            return im2col_forward(out, in, filter, epilogue, g, scratch);
    }
}

void conv2d_backward_input(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g,
                           float* scratch, const float* packed_filter) {
    check_conv_geometry(g);
    const ConvPath path = choose_path(g);
    require_packed_only_if_pointwise(packed_filter, path);
    switch (path) {
        case ConvPath::Pointwise: return pointwise_backward_input(d_in, d_out, filter, packed_filter, g);
        case ConvPath::Depthwise: return depthwise_conv2d_backward_input(d_in, d_out, filter, g);
        case ConvPath::First3x3: return first_3x3_backward_input(d_in, d_out, filter, g);
        case ConvPath::Im2col: require_scratch(scratch, g); return im2col_backward_input(d_in, d_out, filter, g, scratch);
    }
}

bool conv2d_backward_input_overwrites(const ConvGeometry& g) {
    const ConvPath path = choose_path(g);
    return path == ConvPath::Pointwise || path == ConvPath::First3x3 || depthwise_3x3_backward_input_applies(g);
}

void conv2d_backward_input_overwrite(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g,
                                     const float* gate, float gate_hi, GateMask gate_mask,
                                     const float* packed_filter) {
    check_conv_geometry(g);
    if (gate && gate_mask) throw Error("conv2d: an input gradient is gated by values or by a mask, not both");
    const ConvPath path = choose_path(g);
    require_packed_only_if_pointwise(packed_filter, path);
    if (path == ConvPath::Pointwise)
        return pointwise_backward_input_overwrite(d_in, d_out, filter, packed_filter, gate, gate_hi, gate_mask, g);
    if (path == ConvPath::First3x3) {  // a network's first layer: its input is rarely an activation's output
        first_3x3_backward_input(d_in, d_out, filter, g, true, gate, gate_hi);
        if (gate_mask) apply_gate_mask(d_in, gate_mask, int64_t(g.batch) * g.in_h * g.in_w * g.in_c);
        return;
    }
    if (!depthwise_3x3_backward_input_applies(g))
        throw Error("conv2d: the input gradient of this geometry cannot overwrite (see conv2d_backward_input_overwrites)");
    depthwise_3x3_backward_input(d_in, d_out, filter, g, true, gate, gate_hi, gate_mask);
}

void conv2d_backward_filter(float* d_filter, float* d_bias, const float* d_out, const float* in,
                            const ConvGeometry& g, float* scratch) {
    check_conv_geometry(g);
    switch (choose_path(g)) {
        case ConvPath::Depthwise: return depthwise_conv2d_backward_filter(d_filter, d_bias, d_out, in, g);
        case ConvPath::Pointwise: pointwise_backward_filter(d_filter, d_out, in, g); break;
        case ConvPath::First3x3:  // no direct filter gradient: its GEMM's inner dimension is every pixel, not K = 27
        case ConvPath::Im2col:
            require_scratch(scratch, g);
            im2col_backward_filter(d_filter, d_out, in, g, scratch);
            break;
    }
    if (d_bias) accumulate_bias_gradient(d_bias, d_out, int64_t(g.batch) * g.out_h * g.out_w, g.out_c);
}

}  // namespace ec
