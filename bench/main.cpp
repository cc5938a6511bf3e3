// The one main of the benchmark binary; each bench/bench_*.cpp registers its benchmarks.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
