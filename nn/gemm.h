// Matrix products for the kernels (internal to nn/): out = op(a) x op(b) or out += op(a) x op(b) on row-major
// float matrices that live in the caller's memory (NHWC activations, HWIO filters, im2col patches).
//
// On AVX-512 and AVX2 + FMA builds every product runs the register-blocked kernel of gemm_kernel.cpp (12 x 32 or
// 6 x 16 micro-tiles in registers, fused bias/clamp epilogue). Elsewhere the portable path
// below: the output is cut into tiles that OpenMP threads take dynamically, and each tile is a single-threaded Eigen
// product (Eigen runs serially inside a parallel region), so one descheduled thread delays only its own tile.
// Why not let Eigen parallelise its own GEMM: its threads synchronise by spinning, which on a loaded machine (more
// runnable threads than cores) made a 0.8 ms product take 150 ms.
// On the Eigen path tile shapes follow the thread count, and Eigen blocks each tile by its size, so results may
// differ in the last bits between thread counts (as with Eigen's own threading); the SIMD kernel sums every
// value in the same order whatever the thread count.
#pragma once
#include <cstdint>
#include <limits>

#include "nn/gate_mask.h"

namespace ec {

// A row-major matrix in memory: `rows` x `cols`, `stride` floats from one row to the next (>= cols; larger for a
// column block of a wider matrix). Used transposed in the product when `transpose` is set.
struct GemmInput {
    const float* data = nullptr;
    int64_t rows = 0, cols = 0, stride = 0;
    bool transpose = false;
    // B only, SIMD builds only: `data` holds op(B) [rows x cols] as gemm_pack_b laid it out (stride unused).
    bool packed = false;
};

// Floats gemm_pack_b writes for a k x n B; 0 on builds without the SIMD kernel (nothing can be packed).
int64_t gemm_packed_b_floats(int64_t k, int64_t n);
// op(b) (k x n) laid out as the SIMD micro-kernel reads it: column panels of the kernel's width, each k rows of
// contiguous floats (zeros past column n), so a panel is one contiguous run instead of k rows a stride apart.
void gemm_pack_b(float* dst, const GemmInput& b);

// out (op(a).rows x op(b).cols, row stride out_stride) = op(a) x op(b), or += when accumulate. Throws Error if
// the inner dimensions differ. Never allocates beyond Eigen's per-product packing buffers (the SIMD kernel
// only uses the stack).
void gemm(float* out, int64_t out_stride, const GemmInput& a, const GemmInput& b, bool accumulate);

// What happens to each output value after the product, fused into the kernel so an output is written once:
// out = clamp(start + sum + bias[column], lo, hi), start being the old out (accumulate) or 0, bias optional (null
// = 0), no clamp for the default infinite range. (Conv + bias + ReLU6 is lo = 0, hi = 6.)
struct GemmEpilogue {
    bool accumulate = false;
    const float* bias = nullptr;  // one per output column
    float lo = -std::numeric_limits<float>::infinity();
    float hi = std::numeric_limits<float>::infinity();
    // Then, if gate is set: out[i, j] = value + 0 where 0 < gate[i * gate_stride + j] < gate_hi, else +0: the
    // backward of a ReLU (gate_hi = inf) or ReLU6 (6) whose output the product's input gradient is for, the gate
    // being that activation's output (nn/activation.h). Not with accumulate (gemm throws).
    const float* gate = nullptr;
    int64_t gate_stride = 0;
    float gate_hi = std::numeric_limits<float>::infinity();
    // Or the same gate as a mask (nn/gate_mask.h: a bit per value, 1 = open), gate_stride apart; not with gate.
    GateMask gate_mask;
};
// out = epilogue(op(a) x op(b)). On AVX-512 / AVX2 builds every product runs the register-blocked
// kernel of gemm_kernel.cpp (epilogue fused); elsewhere the tiled Eigen product, then the epilogue as a second pass.
void gemm(float* out, int64_t out_stride, const GemmInput& a, const GemmInput& b, const GemmEpilogue& epilogue);

}  // namespace ec
