// The pieces of the depthwise 3x3 SIMD kernels (internal to nn/conv2d_depthwise_3x3*.cpp) that the forward sweep
// and the stride-2 input gradient's gather share: one block of kLanes channels with its taps in registers, its
// loads and stores (plain for a full block, masked for the last one), and the gather's entry points.
#pragma once
#include "nn/simd.h"

#ifdef EC_SIMD

#include <cstdint>

#include "nn/conv2d.h"

namespace ec::depthwise_3x3 {

using namespace simd;

struct Block {  // one block of channels: taps, bias, clamp range and the mask of its valid channels
    Vec tap[9], bias, lo, hi, gate_hi;
    Mask mask;
    bool accumulate;
    int64_t gate_offset = 0;  // gate - dst, in floats, when gated
    bool gated = false;
    const float* dst_base = nullptr;  // with a gate mask: the value dst_base[i] is gated by mask_base[i]
    GateMask mask_base;
};

inline Vec clamp(Vec x, const Block& b) { return simd::clamp(x, b.lo, b.hi); }
// Loads and stores of a block's channels: plain for a full block, masked for the last one (masked stores are slow
// on AMD's AVX2 cores, so full blocks must not use them).
template <bool kFull>
inline Vec ld(const float* p, const Block& b) { return kFull ? load(p) : load(p, b.mask); }
template <bool kFull>
inline void st(float* p, Vec v, const Block& b) {
    v = clamp(v, b);
    if (b.gated) v = gate_open(v, ld<kFull>(p + b.gate_offset, b), b.gate_hi);
    if (b.mask_base) v = gate_open_bits(v, b.mask_base + (p - b.dst_base));
    if (kFull) store(p, v);
    else store(p, v, b.mask);
}
// The same store for the hot loops, its kind a template argument (no branch per store, no clamp where there is
// none): the forward clamps (kClamp: bias + ReLU6, or +-inf), an input gradient stores as it is (kPlain) or gated
// by values (kGateValues) or by a gate mask (kGateBits).
enum class StoreKind { kClamp, kPlain, kGateValues, kGateBits };

template <bool kFull, StoreKind kKind>
inline void st(float* p, Vec v, const Block& b) {
    if constexpr (kKind == StoreKind::kClamp) v = clamp(v, b);
    if constexpr (kKind == StoreKind::kGateValues) v = gate_open(v, ld<kFull>(p + b.gate_offset, b), b.gate_hi);
    if constexpr (kKind == StoreKind::kGateBits) v = gate_open_bits(v, b.mask_base + (p - b.dst_base));
    if (kFull) store(p, v);
    else store(p, v, b.mask);
}

template <bool kFull>
inline Vec start(const float* dst, const Block& b) { return b.accumulate ? add(ld<kFull>(dst, b), b.bias) : b.bias; }

// The stride-2 input gradient (conv2d_depthwise_3x3_gather.cpp): the whole tensor as
// depthwise_3x3_backward_input, and one row as depthwise_3x3_backward_input_row.
void gather_input_gradient(float* d_in, const float* d_out, const float* filter, const ConvGeometry& g, bool overwrite,
                           const float* gate, float gate_hi, GateMask gate_mask);
void gather_input_gradient_row(float* d_in_row, const float* const d_out_rows[3], const float* filter,
                               GateMask gate_mask_row, const ConvGeometry& g);

}  // namespace ec::depthwise_3x3

#endif
