// Timing of whole-model passes, for `entropycam bench` (micro-benchmarking users pick a runtime by these):
// forward, forward + backward to the default CAM target, forward + backward to the input, and explain with
// all five methods, each repeated on one Session after a warm-up, reported as median and minimum. Model load
// time is the caller's (it owns the loading). Kernel-level benchmarks live in bench/ (Google Benchmark).
#pragma once
#include <cstdint>
#include <vector>

#include "cam/pipeline.h"

namespace ec {

struct PassTimingOptions {
    int batch = 1;    // inputs per pass (copies of one image)
    int iters = 20;   // timed repetitions of each pass, after one untimed warm-up
};

struct TimingSummary {
    double median_ms = 0, min_ms = 0;
};
TimingSummary summarize_times(std::vector<double> ms);  // Error for an empty list

struct PassTimings {
    TimingSummary forward;            // logits of the batch (a planned run, nn/forward_plan.h: conv + ReLU6 fused)
    TimingSummary backward;           // explain's planned forward + backward from each row's top-1 logit to the
                                      // default CAM layer
    TimingSummary backward_input;     // planned forward (keeping what the backward reads) + backward from each
                                      // row's top-1 logit to the input
    TimingSummary explain;            // plan_explain'd explain_input, all five methods (batch 1: one input)
    int64_t forward_multiply_adds = 0;  // per image: convolutions and fully connected layers
};

// Times the passes on `input` (1 x H x W x C). Throws Error for batch < 1 or iters < 1.
PassTimings time_model_passes(const Network& net, const Tensor& input, const PassTimingOptions& options);

}  // namespace ec
