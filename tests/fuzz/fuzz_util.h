// Shared by the fuzz targets: the rules every target checks, and running a model that loaded.
//  - A hostile input may only end in ec::Error (the CLI's exit 1). Any other exception escapes the target and
//    libFuzzer reports it as a crash (it would be exit 3, "internal error", in the CLI).
//  - Every Error message is ONE line (the CLI prints it as its single stderr line).
//  - A model that loads must also run: forward at batch 1 and 2, backward from the logits to every 4-D tensor
//    and every input (with parameter gradients), and the explain pipeline, when its activations are small
//    enough (kMaxRunFloats) to run thousands of times a second.
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

// The largest graph run per input (sum of tensor sizes at batch 1, in floats): small enough for speed. The
// batch-2 pass runs only below half of it.
constexpr int64_t kMaxRunFloats = int64_t(1) << 18;

// Inputs of the graph's shapes at batch n, with values of both signs.
inline std::vector<Tensor> small_inputs(const Graph& g, int n) {
    std::vector<Tensor> inputs;
    for (int id : g.inputs) {
        Tensor t(g.tensors[size_t(id)].shape.with_batch(n));
        for (int64_t i = 0; i < t.numel(); ++i) t[i] = float(i % 17) * 0.125f - 1.0f;
        inputs.push_back(std::move(t));
    }
    return inputs;
}

// Forward, then backward from the logits (or the last tensor) to every 4-D tensor and every input at once, with
// parameter gradients. Every gradient asked for must come back with its tensor's shape.
inline void run_forward_backward(const Model& m, int batch) {
    const Graph& g = m.graph;
    std::vector<Tensor> inputs = small_inputs(g, batch);
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(&t);
    Session s;
    forward(g, s, ptrs);
    BackwardRequest req;
    req.from = m.logits >= 0 ? m.logits : int(g.tensors.size()) - 1;
    req.seed = Tensor(s.values[size_t(req.from)].shape);
    for (int64_t i = 0; i < req.seed.numel(); ++i) req.seed[i] = float(i % 3) - 0.5f;
    req.stop_at = g.inputs;
    for (size_t t = 0; t < g.tensors.size(); ++t)
        if (g.tensors[t].shape.rank == 4) req.stop_at.push_back(int(t));
    req.param_grads = true;
    try {
        backward(g, s, req);
    } catch (const Error& e) {  // e.g. the logits do not depend on any input: refused, not a crash
        check_one_line(e);
        return;
    }
    for (int t : req.stop_at) {
        const Tensor& grad = s.grads[size_t(t)];
        if (!grad.data.empty() && grad.shape != s.values[size_t(t)].shape) {
            std::fprintf(stderr, "gradient of '%s' has the wrong shape\n", g.tensors[size_t(t)].name.c_str());
            std::abort();
        }
    }
}

// Runs a model that loaded: forward and backward (batch 1, and batch 2 when small), then the explain pipeline.
inline void run_model(const Model& m) {
    const Graph& g = m.graph;
    int64_t floats = 0;
    for (const TensorInfo& t : g.tensors) floats += t.shape.numel();
    if (floats > kMaxRunFloats || g.inputs.empty()) return;
    run_forward_backward(m, 1);
    if (2 * floats <= kMaxRunFloats) run_forward_backward(m, 2);
    if (m.logits < 0 || g.inputs.size() != 1) return;  // explain feeds the image input only
    ExplainOptions opt;
    try {
        opt.target = default_cam_target(g, m.logits);
    } catch (const Error& e) {
        check_one_line(e);
        return;
    }
    const std::vector<Tensor> image = small_inputs(g, 1);
    Session s2;
    explain(g, s2, m.logits, image[0], {-1}, opt);
}

}  // namespace ec::fuzz
