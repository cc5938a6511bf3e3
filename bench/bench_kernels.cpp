// Kernel timings at MobileNetV2 shapes (batch 1, TF SAME padding): the forward (plain, and with the fused
// bias + ReLU6 epilogue of conv2d_forward_clamped), backward-input and backward-filter passes of each convolution path (im2col + GEMM, depthwise, pointwise GEMM) and the final fully
// connected layer. Wall-clock time (UseRealTime) because the kernels run on every OpenMP thread.
//   make BUILD=build bench BENCH_ARGS="--benchmark_filter=Conv --benchmark_min_time=0.1"
// On a machine shared with other jobs, run with OMP_WAIT_POLICY=passive (or OMP_NUM_THREADS=1): with the default
// policy idle OpenMP threads spin, and when other processes hold the cores every parallel region waits a
// scheduler time slice (measured: 7-30 ms per call instead of 0.1-0.8 ms at a load average of 6 on 2 cores).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "nn/conv2d.h"
#include "nn/activation.h"
#include "nn/dense.h"
#include "nn/elementwise.h"

namespace {

enum class Pass { Forward, ForwardRelu6, BackwardInput, BackwardFilter };

std::vector<float> random_floats(size_t n, uint32_t seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(gen);
    return v;
}

// A square TF SAME convolution of a batch-1 image: out = ceil(in / stride), the smaller half of the padding first.
ec::ConvGeometry same_conv(int size, int in_c, int out_c, int kernel, int stride, int groups) {
    ec::ConvGeometry g;
    g.in_h = g.in_w = size, g.in_c = in_c, g.out_c = out_c, g.groups = groups;
    g.kernel_h = g.kernel_w = kernel, g.stride_h = g.stride_w = stride;
    g.out_h = g.out_w = (size + stride - 1) / stride;
    const int total = (g.out_h - 1) * stride + kernel - size;
    g.pad_top = g.pad_left = total > 0 ? total / 2 : 0;
    return g;
}

void run_conv(benchmark::State& state, const ec::ConvGeometry& g, Pass pass) {
    const size_t in_n = size_t(g.batch) * g.in_h * g.in_w * g.in_c, out_n = size_t(g.batch) * g.out_h * g.out_w * g.out_c;
    const size_t filter_n = size_t(g.kernel_h) * g.kernel_w * (g.in_c / g.groups) * g.out_c;
    auto in = random_floats(in_n, 1), filter = random_floats(filter_n, 2), bias = random_floats(size_t(g.out_c), 3);
    auto out = random_floats(out_n, 4), d_in = random_floats(in_n, 5), d_filter = random_floats(filter_n, 6);
    auto d_bias = random_floats(size_t(g.out_c), 7);
    std::vector<float> scratch(ec::conv2d_scratch_floats(g));
    for (auto _ : state) {
        switch (pass) {
            case Pass::Forward: ec::conv2d_forward(out.data(), in.data(), filter.data(), bias.data(), g, scratch.data()); break;
            case Pass::ForwardRelu6:
                ec::conv2d_forward_clamped(out.data(), in.data(), filter.data(), bias.data(), 0.0f, 6.0f, g, scratch.data());
                break;
            case Pass::BackwardInput: ec::conv2d_backward_input(d_in.data(), out.data(), filter.data(), g, scratch.data()); break;
            case Pass::BackwardFilter:
                ec::conv2d_backward_filter(d_filter.data(), d_bias.data(), out.data(), in.data(), g, scratch.data());
                break;
        }
        benchmark::ClobberMemory();
    }
    const double macs = double(out_n) * g.kernel_h * g.kernel_w * (g.in_c / g.groups);
    state.counters["GMAC/s"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void register_conv(const char* name, const ec::ConvGeometry& g) {
    const std::string base = name;
    for (auto [suffix, pass] : {std::pair{"/forward", Pass::Forward}, std::pair{"/forward_relu6", Pass::ForwardRelu6},
                                std::pair{"/backward_input", Pass::BackwardInput},
                                std::pair{"/backward_filter", Pass::BackwardFilter}})
        benchmark::RegisterBenchmark((base + suffix).c_str(), [g, pass = pass](benchmark::State& s) { run_conv(s, g, pass); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
}

// The element-wise passes that conv2d_forward_clamped's fused epilogue saves (ReLU6) or that remain (the residual
// add), at MobileNetV2's largest expanded activation and a residual block's output.
void run_relu6(benchmark::State& state) {
    const int64_t n = int64_t(112) * 112 * 96;
    auto in = random_floats(size_t(n), 1), out = random_floats(size_t(n), 2);
    for (auto _ : state) {
        ec::relu6_forward(out.data(), in.data(), n);
        benchmark::ClobberMemory();
    }
}

void run_add(benchmark::State& state) {
    const int64_t n = int64_t(56) * 56 * 24;
    auto a = random_floats(size_t(n), 1), b = random_floats(size_t(n), 2), out = random_floats(size_t(n), 3);
    for (auto _ : state) {
        ec::add_forward(out.data(), a.data(), b.data(), n);
        benchmark::ClobberMemory();
    }
}

void run_fully_connected(benchmark::State& state, Pass pass) {
    const int batch = 1, in_f = 1280, out_f = 1001;
    auto in = random_floats(size_t(in_f), 1), weight = random_floats(size_t(in_f) * out_f, 2);
    auto bias = random_floats(size_t(out_f), 3), out = random_floats(size_t(out_f), 4);
    auto d_in = random_floats(size_t(in_f), 5), d_weight = random_floats(weight.size(), 6), d_bias = bias;
    for (auto _ : state) {
        switch (pass) {
            case Pass::Forward:
            case Pass::ForwardRelu6:  // not registered: the layer has no activation
                ec::fully_connected_forward(out.data(), in.data(), weight.data(), bias.data(), batch, in_f, out_f);
                break;
            case Pass::BackwardInput: ec::fully_connected_backward_input(d_in.data(), out.data(), weight.data(), batch, in_f, out_f); break;
            case Pass::BackwardFilter:
                ec::fully_connected_backward_params(d_weight.data(), d_bias.data(), out.data(), in.data(), batch, in_f, out_f);
                break;
        }
        benchmark::ClobberMemory();
    }
}

const bool registered = [] {
    // MobileNetV2 layers (224x224 input).
    // The first convs (nn/conv2d_first_3x3 on SIMD builds, im2col + GEMM before): MobileNetV2's, MobileNetV1 0.75's.
    register_conv("Conv3x3_s2_224x224x3_to_32", same_conv(224, 3, 32, 3, 2, 1));        // first conv
    register_conv("Conv3x3_s2_192x192x3_to_24", same_conv(192, 3, 24, 3, 2, 1));        // MobileNetV1 0.75 first conv
    register_conv("Conv3x3_s1_56x56x24_to_24", same_conv(56, 24, 24, 3, 1, 1));         // a regular 3x3 (not in V2)
    register_conv("Depthwise3x3_s1_112x112x32", same_conv(112, 32, 32, 3, 1, 32));      // expanded_conv
    register_conv("Depthwise3x3_s1_56x56x144", same_conv(56, 144, 144, 3, 1, 144));     // expanded_conv_2
    register_conv("Depthwise3x3_s2_112x112x96", same_conv(112, 96, 96, 3, 2, 96));      // expanded_conv_1
    register_conv("Pointwise_56x56x144_to_24", same_conv(56, 144, 24, 1, 1, 1));        // expanded_conv_2 project
    register_conv("Pointwise_14x14x576_to_96", same_conv(14, 576, 96, 1, 1, 1));        // expanded_conv_12 project
    register_conv("Pointwise_7x7x960_to_320", same_conv(7, 960, 320, 1, 1, 1));         // expanded_conv_16 project
    register_conv("Pointwise_7x7x320_to_1280", same_conv(7, 320, 1280, 1, 1, 1));       // Conv_1
    register_conv("Pointwise_112x112x32_to_16", same_conv(112, 32, 16, 1, 1, 1));       // expanded_conv project
    register_conv("Pointwise_112x112x16_to_96", same_conv(112, 16, 96, 1, 1, 1));       // expanded_conv_1 expand
    register_conv("Pointwise_56x56x24_to_144", same_conv(56, 24, 144, 1, 1, 1));        // expanded_conv_2 expand
    register_conv("Pointwise_28x28x32_to_192", same_conv(28, 32, 192, 1, 1, 1));        // expanded_conv_4 expand
    register_conv("Pointwise_14x14x64_to_384", same_conv(14, 64, 384, 1, 1, 1));        // expanded_conv_7 expand
    register_conv("Pointwise_7x7x160_to_960", same_conv(7, 160, 960, 1, 1, 1));         // expanded_conv_14 expand
    register_conv("Depthwise3x3_s2_56x56x144", same_conv(56, 144, 144, 3, 2, 144));     // expanded_conv_3
    register_conv("Depthwise3x3_s1_14x14x384", same_conv(14, 384, 384, 3, 1, 384));     // expanded_conv_7
    register_conv("Depthwise3x3_s1_7x7x960", same_conv(7, 960, 960, 3, 1, 960));        // expanded_conv_14
    benchmark::RegisterBenchmark("Relu6_112x112x96", run_relu6)->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark("Add_56x56x24", run_add)->Unit(benchmark::kMillisecond)->UseRealTime();
    for (auto [suffix, pass] : {std::pair{"/forward", Pass::Forward}, std::pair{"/backward_input", Pass::BackwardInput},
                                std::pair{"/backward_params", Pass::BackwardFilter}})
        benchmark::RegisterBenchmark((std::string("FullyConnected_1280_to_1001") + suffix).c_str(),
                                     [pass = pass](benchmark::State& s) { run_fully_connected(s, pass); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    return true;
}();

}  // namespace
