// Shared by the fuzz targets: the rules every target checks, and running a model that loaded.
//  - A hostile input may only end in ec::Error (the CLI's exit 1). Any other exception escapes the target and
//    libFuzzer reports it as a crash (it would be exit 3, "internal error", in the CLI).
//  - Every Error message is ONE line (the CLI prints it as its single stderr line).
//  - A model that loads must also run: forward, backward to the input and the explain pipeline, when its
//    activations are small enough to run thousands of times a second.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cam/explain.h"
#include "nn/graph.h"
#include "nn/tensor.h"
#include "weights/model.h"

namespace ec::fuzz {

inline void check_one_line(const Error& e) {
    if (std::strchr(e.what(), '\n') || std::strchr(e.what(), '\r')) {
        std::fprintf(stderr, "error message spans several lines: %s\n", e.what());
        std::abort();
    }
}

// The largest graph run per input (sum of tensor sizes at batch 1, in floats): small enough for speed.
constexpr int64_t kMaxRunFloats = int64_t(1) << 18;

inline void run_model(const Model& m) {
    const Graph& g = m.graph;
    int64_t floats = 0;
    for (const TensorInfo& t : g.tensors) floats += t.shape.numel();
    if (floats > kMaxRunFloats || g.inputs.empty()) return;
    std::vector<Tensor> inputs;
    std::vector<const Tensor*> ptrs;
    for (int id : g.inputs) {
        Tensor t(g.tensors[size_t(id)].shape);
        for (int64_t i = 0; i < t.numel(); ++i) t[i] = float(i % 17) * 0.125f - 1.0f;
        inputs.push_back(std::move(t));
    }
    for (const Tensor& t : inputs) ptrs.push_back(&t);
    Session s;
    forward(g, s, ptrs);
    if (m.logits < 0) return;
    BackwardRequest req;
    req.from = m.logits;
    req.seed = one_hot_seed(s.values[size_t(m.logits)].shape, {0});
    req.param_grads = true;
    backward(g, s, req);
    if (g.inputs.size() != 1) return;  // explain feeds the image input only
    ExplainOptions opt;
    try {
        opt.target = default_cam_target(g, m.logits);
    } catch (const Error& e) {
        check_one_line(e);
        return;
    }
    Session s2;
    explain(g, s2, m.logits, inputs[0], {-1}, opt);
}

}  // namespace ec::fuzz
