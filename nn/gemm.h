// Matrix products for the kernels (internal to nn/): out = op(a) x op(b) or out += op(a) x op(b) on row-major
// float matrices that live in the caller's memory (NHWC activations, HWIO filters, im2col patches).
//
// Why not let Eigen parallelise its own GEMM: its threads synchronise by spinning, which on a loaded machine (more
// runnable threads than cores) made a 0.8 ms product take 150 ms. Here the output is cut into tiles that OpenMP
// threads take dynamically, and each tile is a single-threaded Eigen product (Eigen runs serially inside a
// parallel region), so one descheduled thread delays only its own tile.
// Tile shapes follow the thread count, and Eigen blocks each tile by its size, so results may differ in the last
// bits between thread counts (as with Eigen's own threading).
#pragma once
#include <cstdint>

namespace ec {

// A row-major matrix in memory: `rows` x `cols`, `stride` floats from one row to the next (>= cols; larger for a
// column block of a wider matrix). Used transposed in the product when `transpose` is set.
struct GemmInput {
    const float* data = nullptr;
    int64_t rows = 0, cols = 0, stride = 0;
    bool transpose = false;
};

// out (op(a).rows x op(b).cols, row stride out_stride) = op(a) x op(b), or += when accumulate. Throws Error if
// the inner dimensions differ. Never allocates beyond Eigen's per-product packing buffers.
void gemm(float* out, int64_t out_stride, const GemmInput& a, const GemmInput& b, bool accumulate);

}  // namespace ec
