// Peak FMA throughput (fma_peak.h): 12 independent accumulator chains, more than FMA latency x FMA ports on the
// cores we target (Zen 3/4: 4 cycles x 2 ports; Intel: 4 x 2), so the FMA units, not the dependency chains, limit.
#include "nn/fma_peak.h"

#include <omp.h>

#include <chrono>

#include "nn/simd.h"

namespace ec {

#ifdef EC_SIMD
namespace {

constexpr int kChains = 12;
constexpr long kStepsPerCheck = 1 << 16;

// FMAs per second of this thread, run for about `seconds`; `sink` keeps the results alive.
double thread_fma_rate(double seconds, float* sink) {
    using namespace simd;
    Vec acc[kChains];
    for (int c = 0; c < kChains; ++c) acc[c] = broadcast(float(c) * 1e-3f);
    const Vec mul = broadcast(0.999999f), add_term = broadcast(1e-7f);
    const auto start = std::chrono::steady_clock::now();
    long steps = 0;
    double elapsed = 0;
    do {
        for (long i = 0; i < kStepsPerCheck; ++i)
#pragma GCC unroll 12
            for (int c = 0; c < kChains; ++c) acc[c] = fma(acc[c], mul, add_term);
        steps += kStepsPerCheck;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds);
    Vec total = zero();
    for (int c = 0; c < kChains; ++c) total = add(total, acc[c]);
    alignas(64) float lanes[kLanes];
    store(lanes, total);
    *sink = lanes[0];
    return double(steps) * kChains * kLanes / elapsed;
}

}  // namespace

double fma_peak_gflops(int threads, double seconds) {
    double total = 0;
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
        float mine = 0;
        total += 2.0 * thread_fma_rate(seconds, &mine) * 1e-9;
#pragma omp critical
        sink += mine;
    }
    return sink == -1.0f ? total + 1 : total;  // never true: only makes `sink` observable
}
#else
double fma_peak_gflops(int, double) { return 0; }
#endif

}  // namespace ec
