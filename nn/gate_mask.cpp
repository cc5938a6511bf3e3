// Gate masks (see gate_mask.h): plain loops the compiler vectorises.
#include "nn/gate_mask.h"

#include <cstddef>

#include "nn/parallel.h"

namespace ec {
namespace {

// 1 where 0 < y < hi. Both comparisons, no short circuit: a branch per value mispredicts on half of them (ReLU
// outputs are half zeros, at random), and the loops below vectorise. NaN compares false: closed.
inline uint8_t gate_open_at(float y, float hi) { return uint8_t((y > 0.0f) & (y < hi)); }

}  // namespace

void make_gate_mask(ByteBuffer& mask, const float* y, int64_t n, float hi) {
    mask.resize(static_cast<std::size_t>(n + kGateMaskSlack));
    uint8_t* m = mask.data();
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) m[i] = gate_open_at(y[i], hi);
    for (int64_t i = n; i < n + kGateMaskSlack; ++i) m[i] = 0;
}

void write_gate_mask(uint8_t* mask, const float* y, int64_t n, float hi) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) mask[i] = gate_open_at(y[i], hi);
}

void gate_mask_backward(float* d_in, const float* d_out, const uint8_t* open, int64_t n, bool overwrite) {
    // The same values as relu_backward / relu6_backward given the activation's output (nn/activation.cpp).
    if (overwrite) {
#pragma omp parallel for simd if (n >= kParallelMin)
        for (int64_t i = 0; i < n; ++i) d_in[i] = open[i] ? d_out[i] + 0.0f : 0.0f;
    } else {
#pragma omp parallel for simd if (n >= kParallelMin)
        for (int64_t i = 0; i < n; ++i) d_in[i] += open[i] ? d_out[i] : 0.0f;
    }
}

void apply_gate_mask(float* d, const uint8_t* open, int64_t n) {
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) d[i] = open[i] ? d[i] + 0.0f : 0.0f;
}

}  // namespace ec
