// The input gradient of a 1x1 convolution whose output gradient is mostly zeros: a ReLU6 after the convolution
// shuts most of its values at MobileNetV2's last layers (13 % open at Conv_1 on the reference photos, 20-77 % at
// the 7x7 and 14x14 expand convolutions), and the GEMM skips the steps where a whole micro-tile of rows of A is 0
// (nn/gemm_kernel.cpp). The ReLU6 shuts the same channels over neighbouring pixels; here as in the model: each
// channel is active with probability min(1, 2 x percent), an active channel's values nonzero with the rest of
// the probability (percent in all), so about 2 x percent of a micro-tile's steps have a nonzero value (33-41 %
// at Conv_1's 13 %, measured). The filter is packed as the graph packs it (nn/packed_filters.h).
//   entropycam_bench --benchmark_filter=ZeroSkip
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "nn/conv2d.h"
#include "nn/gemm.h"

namespace {

void run_zero_skip(benchmark::State& state, int size, int in_c, int out_c) {
    const int percent = int(state.range(0));
    ec::ConvGeometry g;
    g.in_h = g.in_w = g.out_h = g.out_w = size, g.in_c = in_c, g.out_c = out_c;
    const int64_t pixels = int64_t(size) * size;
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f), coin(0.0f, 100.0f);
    std::vector<float> filter(size_t(in_c) * out_c), d_out(size_t(pixels) * out_c), d_in(size_t(pixels) * in_c);
    for (float& w : filter) w = value(gen);
    const float active = std::min(100.0f, 2.0f * float(percent)), within = 100.0f * float(percent) / active;
    std::vector<char> channel_active(static_cast<size_t>(out_c));
    for (char& c : channel_active) c = coin(gen) < active;
    for (size_t i = 0; i < d_out.size(); ++i)
        d_out[i] = channel_active[i % size_t(out_c)] && coin(gen) < within ? value(gen) : 0.0f;
    // The filter transposed, packed (B = filter^T [out_c, in_c]), as packed_pointwise_filter makes it.
    const ec::GemmInput b{filter.data(), in_c, out_c, out_c, true};
    std::vector<float> packed(size_t(ec::gemm_packed_b_floats(out_c, in_c)));
    if (!packed.empty()) ec::gemm_pack_b(packed.data(), b);
    std::vector<float> scratch(ec::conv2d_scratch_floats(g));
    for (auto _ : state) {
        ec::conv2d_backward_input(d_in.data(), d_out.data(), filter.data(), g, scratch.data(), packed.empty() ? nullptr : packed.data());
        benchmark::ClobberMemory();
    }
    state.counters["GMAC/s"] = benchmark::Counter(double(pixels) * in_c * out_c * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
    struct Shape { const char* name; int size, in_c, out_c; };
    for (const Shape& s : {Shape{"Conv_1_7x7x320_from_1280", 7, 320, 1280}, Shape{"expand_7x7x160_from_960", 7, 160, 960},
                           Shape{"expand_14x14x96_from_576", 14, 96, 576}, Shape{"expand_14x14x64_from_384", 14, 64, 384},
                           Shape{"expand_28x28x32_from_192", 28, 32, 192}})
        benchmark::RegisterBenchmark((std::string("ZeroSkip/") + s.name).c_str(),
                                     [s](benchmark::State& st) { run_zero_skip(st, s.size, s.in_c, s.out_c); })
            ->ArgName("percent_nonzero")
            ->Arg(100)->Arg(75)->Arg(50)->Arg(35)->Arg(25)->Arg(13)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    return true;
}();

}  // namespace
