// Element-wise add, per-channel bias add and explicit spatial zero padding (NHWC). Backward accumulates (+=).
#pragma once
#include <cstdint>

namespace ec {

void add_forward(float* out, const float* a, const float* b, int64_t n);
// d_a += d_out and d_b += d_out are plain accumulations; callers use accumulate() for each input.
void accumulate(float* dst, const float* src, int64_t n);

// out[p, c] = in[p, c] + bias[c] for rows p of `channels` values.
void bias_add_forward(float* out, const float* in, const float* bias, int64_t rows, int channels);
void bias_add_backward_bias(float* d_bias, const float* d_out, int64_t rows, int channels);

struct PadGeometry {
    int batch = 1, in_h = 0, in_w = 0, channels = 0;
    int top = 0, bottom = 0, left = 0, right = 0;
};
void pad_forward(float* out, const float* in, const PadGeometry& g);
void pad_backward(float* d_in, const float* d_out, const PadGeometry& g);

}  // namespace ec
