// Pointwise filters packed for the SIMD GEMM once per graph (internal to nn/).
//
// The micro-kernel (nn/gemm_kernel.cpp) sweeps B in panels of kNr columns by up to 256 rows. Read from a filter as
// stored, a panel is 256 rows of 64 or 128 bytes a whole filter row apart: at MobileNetV2's widths (384-1280
// floats, strides of 24-80 cache lines) those rows fall into a few L1 sets and evict each other before the next
// row micro-tile reuses them; and an input gradient reads the filter transposed, which the kernel repacked per
// tile (8.8 % of MobileNetV2's backward to the input, measured, and per strip of rows in a band-fused block).
// Here each filter is packed once, for the forward as stored and for the input gradient transposed, into
// contiguous panels (gemm_pack_b), made on first use and shared by every session of the graph. The kernel adds
// the same products in the same order whatever B's layout: the results are the same bit for bit.
// Measured (2 vCPU Zen 3, AVX2, MobileNetV2 batch 1, one process alternating packed and unpacked runs): forward
// 1 thread -1 to -3 %, 2 threads -4 to -7 %; backward to the input 1 thread -3 to -5 %, 2 threads -4 to -8 %.
#pragma once
#include <cstdint>

#include "nn/gemm.h"
#include "nn/graph.h"

namespace ec {

enum class FilterUse {
    Forward,        // B = the filter [in_c, out_c] as stored
    InputGradient,  // B = its transpose [out_c, in_c]
};

// The 1x1 filter of parameter `param` ([in_c, out_c]) packed for `use` (gemm_pack_b's layout), made on the first
// call and again when the parameter's memory or version (Param::version) changed since. Safe to call from many
// threads. Null on builds without the SIMD kernel, for a moved-from graph, and where the panels' zero padding
// would more than double the filter (B narrower than half a panel): read the filter as stored then.
// Throws Error if the parameter does not hold in_c x out_c values.
const float* packed_pointwise_filter(const Graph& g, int param, int64_t in_c, int64_t out_c, FilterUse use);

// A 1x1 filter [in_c, out_c] as the B of the product `use` names: `packed` (from packed_pointwise_filter) where
// not null, else the filter as stored (read transposed for the input gradient).
GemmInput pointwise_filter_operand(const float* filter, const float* packed, int64_t in_c, int64_t out_c, FilterUse use);
// The same for node `conv` of g, packed where it can be.
GemmInput pointwise_filter_operand(const Graph& g, const Node& conv, FilterUse use);

}  // namespace ec
