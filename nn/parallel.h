// The one threshold every kernel (and cam/'s per-channel loops) uses to decide whether a loop is worth an
// OpenMP region.
#pragma once
#include <omp.h>

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

}  // namespace ec
