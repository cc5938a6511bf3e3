// The machine's measured FMA throughput: the roof the forward's GFLOP/s is compared against (`entropycam bench`,
// README "Benchmarks"). Measured, not computed from a spec sheet: a VM's clock and its vector units are what they are.
#pragma once

namespace ec {

// GFLOP/s (an FMA counts 2) of `threads` threads each running independent vector FMA chains from registers for
// about `seconds`: the peak no kernel can beat. 0 on builds without AVX2 + FMA or AVX-512 (nn/simd.h).
double fma_peak_gflops(int threads, double seconds = 0.05);

}  // namespace ec
