// Gate masks: all that an input-gradient backward needs of a ReLU/ReLU6 output, one bit per value (1 where
// 0 < y < hi: the gradient passes; 0 elsewhere, NaN included), instead of the float itself. A forward that such a
// backward follows records the masks (nn/forward_plan.h: plan_forward_for_backward) and lets the floats go back
// to the spare buffers like any dead value; the backward then reads a 32nd of the bytes. Measured on
// MobileNetV2 before masks: the backward re-read 25 MB of kept ReLU6 outputs from L3 and memory, and a gated
// depthwise input gradient took 1.2 ms on cold data against 0.3 ms on warm. A byte per value (until 2026-11-30)
// cost the forward that records them 10-11 % of a plain forward on an AVX-512 Xeon, bits 3-5 % (a probe
// alternating the two, 1 and 2 threads): the cost is the bytes written, not the compares.
#pragma once
#include <cstddef>
#include <cstdint>

#include "nn/tensor.h"

namespace ec {

// A view of a gate mask from value `first` on: value i of the view is gated by bit first + i of `bits` (bit k is
// bit k % 8 of byte k / 8). Adding an offset moves the view, so kernels index a mask as they index the values it
// gates (mask + i * stride + j).
struct GateMask {
    const uint8_t* bits = nullptr;
    int64_t first = 0;
    GateMask() = default;
    GateMask(std::nullptr_t) {}
    explicit GateMask(const uint8_t* b, int64_t f = 0) : bits(b), first(f) {}
    explicit operator bool() const { return bits != nullptr; }
    GateMask operator+(int64_t values) const { return GateMask(bits, first + values); }
    bool operator[](int64_t i) const {
        const int64_t k = first + i;
        return (bits[k >> 3] >> (k & 7)) & 1;
    }
};

// Bytes readable past a mask's last value, so SIMD kernels can load a whole vector's bits at any value (lanes
// past the end are never stored).
constexpr int64_t kGateMaskSlack = 64;
// The bytes of a mask of n values, slack included.
inline int64_t gate_mask_bytes(int64_t n) { return (n + 7) / 8 + kGateMaskSlack; }

// mask = (0 < y[i] < hi) for i < n, sized gate_mask_bytes(n) (the bits past n zero); reuses the buffer's capacity.
void make_gate_mask(ByteBuffer& mask, const float* y, int64_t n, float hi);
// The same into bits [first, first + n) of a mask already sized (band-fused blocks write their rows' masks).
// Other bits are left as they are, and writers of disjoint ranges may run at once: a byte shared with bits
// outside the range is updated atomically.
void write_gate_mask(uint8_t* bits, int64_t first, const float* y, int64_t n, float hi);

// The ReLU/ReLU6 backward from a mask: d_in (+)= d_out + 0 where open, else (+)= +0 (as relu_backward with
// the activation's output; overwrite as there).
void gate_mask_backward(float* d_in, const float* d_out, GateMask open, int64_t n, bool overwrite);

// d = d + 0 where open, else +0: the gate applied after an ungated input gradient.
void apply_gate_mask(float* d, GateMask open, int64_t n);

}  // namespace ec
