// When a loop is worth an OpenMP region: the one threshold every kernel (and cam/'s per-channel loops) uses, and
// the helpers that run a loop of one thread without entering OpenMP.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace ec {

// Work items (multiply-adds, or values read and written) below this run on the calling thread: opening a
// parallel region and waking a second thread costs microseconds, more than this much work takes.
constexpr int64_t kParallelMin = int64_t(1) << 15;

// The threads a loop of `work` items gets: 1 below kParallelMin or inside another parallel region (nested regions
// get one thread), else every OpenMP thread. With 1 the caller runs its loop without entering OpenMP at all: a
// region of one thread still ends on a barrier whose futex wake-up costs about 0.5 us, and GEMMs inside band-fused
// strips opened about 630 of them per MobileNetV2 forward on one thread (strace; 3 % of it).
inline int region_threads(int64_t work) { return work < kParallelMin || omp_in_parallel() ? 1 : omp_get_max_threads(); }

// body(lo, hi) over [0, n) in blocks of `block` items, shared by every OpenMP thread when region_threads(n) > 1,
// else body(0, n) in this thread without entering OpenMP. For element-wise loops: their plain inner loops
// vectorise (an `omp parallel for simd` of one thread ran GCC's scalar remainder loop for most of a gradient copy).
template <class Body>
void for_blocks(int64_t n, int64_t block, Body&& body) {
    const int64_t blocks = (n + block - 1) / block;
    if (blocks > 1 && region_threads(n) > 1) {
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < blocks; ++b) body(b * block, std::min(n, (b + 1) * block));
    } else if (n > 0) {
        body(int64_t(0), n);
    }
}

// body(t) for t in [0, n): shared dynamically by `threads` OpenMP threads (from region_threads) when more than
// one, else in this thread without entering OpenMP.
template <class Body>
void for_tasks(int64_t n, int threads, Body&& body) {
    if (threads > 1 && n > 1) {
#pragma omp parallel for schedule(dynamic)
        for (int64_t t = 0; t < n; ++t) body(t);
    } else {
        for (int64_t t = 0; t < n; ++t) body(t);
    }
}

// The block for_blocks' element-wise callers use: 16 K values (64 KB of floats).
constexpr int64_t kElementBlock = int64_t(1) << 14;

}  // namespace ec
