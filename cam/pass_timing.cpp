#include "cam/pass_timing.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "cam/op_profile.h"
#include "nn/softmax.h"

namespace ec {
namespace {

double elapsed_ms(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

// One warm-up (sizes every Session buffer), then `iters` timed runs of `pass`.
TimingSummary time_pass(int iters, const std::function<void()>& pass) {
    pass();
    std::vector<double> ms;
    ms.reserve(size_t(iters));
    for (int i = 0; i < iters; ++i) {
        const auto start = std::chrono::steady_clock::now();
        pass();
        ms.push_back(elapsed_ms(start));
    }
    return summarize_times(std::move(ms));
}

// Multiply-adds of one image's forward pass (cam/op_profile.h: convolutions and fully connected layers).
int64_t multiply_adds(const Graph& g) {
    int64_t macs = 0;
    for (const Node& node : g.nodes) macs += node_multiply_adds(g, node);
    return macs;
}

}  // namespace

TimingSummary summarize_times(std::vector<double> ms) {
    if (ms.empty()) throw Error("no timings to summarize");
    std::sort(ms.begin(), ms.end());
    const size_t n = ms.size();
    return {n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]), ms.front()};
}

PassTimings time_model_passes(const Network& net, const Tensor& input, const PassTimingOptions& options) {
    if (options.batch < 1) throw Error("batch must be at least 1, got " + std::to_string(options.batch));
    if (options.iters < 1) throw Error("iterations must be at least 1, got " + std::to_string(options.iters));
    const Graph& g = *net.graph;
    Tensor batch(input.shape.with_batch(options.batch));
    for (int n = 0; n < options.batch; ++n) std::copy(input.data.begin(), input.data.end(), batch.data.begin() + n * input.numel());

    Session s;
    forward(g, s, {&batch});
    std::vector<int> top1(size_t(options.batch));
    for (int n = 0; n < options.batch; ++n) top1[size_t(n)] = top_k(s.values[net.logits], n, 1)[0];
    const int target = default_cam_target(g, net.logits);

    BackwardRequest to_target{net.logits, one_hot_seed(s.values[net.logits].shape, top1), {target}, false};
    BackwardRequest to_input{net.logits, one_hot_seed(s.values[net.logits].shape, top1), {g.inputs[0]}, false};
    ExplainRequest all_five;  // default layer, every method, the top-1 class
    const ExplainPlan plan = plan_explain(net, all_five);

    // The forward runs as classify and evaluate run it (only the logits kept: values released after their last
    // reader, conv + ReLU6 fused), the backward to the CAM layer as explain runs it (the forward keeps what that
    // backward reads), the backward to the input the same way (the forward keeps what it reads).
    const ForwardPlan to_logits = plan_forward(g, {net.logits});
    ExplainOptions cam;
    cam.target = target;
    const ForwardPlan for_cam = explain_forward_plan(g, net.logits, cam);
    const ForwardPlan for_input = plan_forward_for_backward(g, to_input);  // gate masks, not kept activations
    PassTimings t;
    t.forward = time_pass(options.iters, [&] { forward(g, s, to_logits, {&batch}); });
    t.backward = time_pass(options.iters, [&] { forward(g, s, for_cam, {&batch}); backward(g, s, to_target); });
    t.backward_input = time_pass(options.iters, [&] { forward(g, s, for_input, {&batch}); backward(g, s, to_input); });
    Session explain_session;
    t.explain = time_pass(options.iters, [&] {
        for (int n = 0; n < options.batch; ++n) explain_input(net, explain_session, plan, input);
    });
    t.forward_multiply_adds = multiply_adds(g);
    return t;
}

}  // namespace ec
