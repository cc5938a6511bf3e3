// The one threshold every kernel (and cam/'s per-channel loops) uses to decide whether a loop is worth an
// OpenMP region.
#pragma once
#include <cstdint>

namespace ec {

// Work items (multiply-adds, or values read and written) below this run on the calling thread: opening a
// parallel region and waking a second thread costs microseconds, more than this much work takes.
constexpr int64_t kParallelMin = int64_t(1) << 15;

}  // namespace ec
