// Running a graph: forward over every node (or up to a target), backward over only the nodes between the
// seeded tensor and the tensors whose gradient is asked for, and an SGD step. Shapes were checked at build
// time; here only the batch size varies.
#include <algorithm>

#include "nn/activation.h"
#include "nn/concat.h"
#include "nn/dense.h"
#include "nn/graph.h"
#include "nn/softmax.h"

namespace ec {
namespace {

ConvGeometry batched(ConvGeometry c, int n) { c.batch = n; return c; }
PoolGeometry batched(PoolGeometry p, int n) { p.batch = n; return p; }
PadGeometry batched(PadGeometry p, int n) { p.batch = n; return p; }

const float* param_data(const Graph& g, int p) { return p < 0 ? nullptr : g.params[p].data(); }

// Sizes the session for batch n: every value tensor and the kernel scratch. Allocates only when the batch grows.
void prepare(const Graph& g, Session& s, int n) {
    if (s.batch == n && s.values.size() == g.tensors.size()) return;
    s.batch = n;
    s.values.resize(g.tensors.size());
    s.grads.resize(g.tensors.size());
    s.param_grads.resize(g.params.size());
    size_t scratch = 0;
    for (size_t t = 0; t < g.tensors.size(); ++t) {
        Shape shape = g.tensors[t].shape.with_batch(n);
        shape.numel();  // overflow check for large batches
        s.values[t].reshape_storage(shape);
    }
    for (const Node& node : g.nodes)
        if (node.op == OpKind::Conv2D) scratch = std::max(scratch, conv2d_scratch_floats(batched(node.conv, n)));
    s.scratch.resize(scratch);
}

void run_forward_node(const Graph& g, Session& s, const Node& node) {
    const int n = s.batch;
    Tensor& out = s.values[node.output];
    const Tensor& x = s.values[node.inputs[0]];
    const int64_t count = out.numel();
    switch (node.op) {
        case OpKind::Conv2D:
            conv2d_forward(out.ptr(), x.ptr(), param_data(g, node.params[0]), param_data(g, node.params[1]),
                           batched(node.conv, n), s.scratch.data());
            break;
        case OpKind::Pad: pad_forward(out.ptr(), x.ptr(), batched(node.pad, n)); break;
        case OpKind::BiasAdd:
            bias_add_forward(out.ptr(), x.ptr(), param_data(g, node.params[0]), count / x.shape.c(), x.shape.c());
            break;
        case OpKind::Relu: relu_forward(out.ptr(), x.ptr(), count); break;
        case OpKind::Relu6: relu6_forward(out.ptr(), x.ptr(), count); break;
        case OpKind::Add: add_forward(out.ptr(), x.ptr(), s.values[node.inputs[1]].ptr(), count); break;
        case OpKind::MaxPool: max_pool_forward(out.ptr(), x.ptr(), batched(node.pool, n)); break;
        case OpKind::AvgPool: avg_pool_forward(out.ptr(), x.ptr(), batched(node.pool, n)); break;
        case OpKind::GlobalAvgPool:
            global_avg_pool_forward(out.ptr(), x.ptr(), n, x.shape.h(), x.shape.w(), x.shape.c());
            break;
        case OpKind::FullyConnected:
            fully_connected_forward(out.ptr(), x.ptr(), param_data(g, node.params[0]), param_data(g, node.params[1]),
                                    n, x.shape[1], out.shape[1]);
            break;
        case OpKind::Reshape: std::copy(x.data.begin(), x.data.end(), out.data.begin()); break;
        case OpKind::Concat: {
            const float* ins[64];
            int widths[64];
            int k = 0;
            for (int t : node.inputs) { ins[k] = s.values[t].ptr(); widths[k++] = s.values[t].shape.c(); }
            concat_forward(out.ptr(), ins, widths, k, count / out.shape.c());
            break;
        }
        case OpKind::Softmax: softmax_forward(out.ptr(), x.ptr(), n, x.shape[1]); break;
        case OpKind::SoftmaxCrossEntropy:
            softmax_cross_entropy_forward(out.ptr(), x.ptr(), s.values[node.inputs[1]].ptr(), n, x.shape[1]);
            break;
    }
}

void load_inputs(const Graph& g, Session& s, const std::vector<const Tensor*>& inputs) {
    if (inputs.size() != g.inputs.size())
        throw Error("graph has " + std::to_string(g.inputs.size()) + " input(s), given " + std::to_string(inputs.size()));
    if (inputs.empty()) throw Error("graph has no inputs");
    const int n = inputs[0]->shape.rank ? inputs[0]->shape[0] : 0;
    if (n < 1) throw Error("input has no batch dimension");
    for (size_t i = 0; i < inputs.size(); ++i) {
        const TensorInfo& info = g.tensors[g.inputs[i]];
        if (inputs[i]->shape != info.shape.with_batch(n))
            throw Error("input '" + info.name + "' expects " + info.shape.with_batch(n).str() + ", given " +
                        inputs[i]->shape.str());
    }
    prepare(g, s, n);
    for (size_t i = 0; i < inputs.size(); ++i) s.values[g.inputs[i]].data = inputs[i]->data;
}

// Marks which tensors `target` depends on (itself included).
std::vector<char> ancestors_of(const Graph& g, int target) {
    std::vector<char> needed(g.tensors.size(), 0);
    needed[target] = 1;
    for (size_t i = g.nodes.size(); i-- > 0;) {
        const Node& node = g.nodes[i];
        if (!needed[node.output]) continue;
        for (int t : node.inputs) needed[t] = 1;
    }
    return needed;
}

}  // namespace

void forward(const Graph& g, Session& s, const std::vector<const Tensor*>& inputs) {
    load_inputs(g, s, inputs);
    for (const Node& node : g.nodes) run_forward_node(g, s, node);
}

void forward_until(const Graph& g, Session& s, const std::vector<const Tensor*>& inputs, int target) {
    if (target < 0 || size_t(target) >= g.tensors.size()) throw Error("forward_until: no tensor id " + std::to_string(target));
    load_inputs(g, s, inputs);
    std::vector<char> needed = ancestors_of(g, target);
    for (const Node& node : g.nodes)
        if (needed[node.output]) run_forward_node(g, s, node);
}

namespace {

// Backward of one node: input gradients where want_input[t], parameter gradients if want_params.
void run_backward_node(const Graph& g, Session& s, const Node& node, const std::vector<char>& want_input, bool want_params) {
    const int n = s.batch;
    const Tensor& dout = s.grads[node.output];
    const int x_id = node.inputs[0];
    const Tensor& x = s.values[x_id];
    float* dx = want_input[x_id] ? s.grads[x_id].ptr() : nullptr;
    const int64_t count = dout.numel();
    auto pgrad = [&](int slot) -> float* {
        int p = node.params[slot];
        return (want_params && p >= 0) ? s.param_grads[p].ptr() : nullptr;
    };
    switch (node.op) {
        case OpKind::Conv2D: {
            ConvGeometry geo = batched(node.conv, n);
            if (dx) conv2d_backward_input(dx, dout.ptr(), param_data(g, node.params[0]), geo, s.scratch.data());
            if (want_params) conv2d_backward_filter(pgrad(0), pgrad(1), dout.ptr(), x.ptr(), geo, s.scratch.data());
            break;
        }
        case OpKind::Pad: if (dx) pad_backward(dx, dout.ptr(), batched(node.pad, n)); break;
        case OpKind::BiasAdd:
            if (dx) accumulate(dx, dout.ptr(), count);
            if (want_params) bias_add_backward_bias(pgrad(0), dout.ptr(), count / x.shape.c(), x.shape.c());
            break;
        case OpKind::Relu: if (dx) relu_backward(dx, dout.ptr(), x.ptr(), count); break;
        case OpKind::Relu6: if (dx) relu6_backward(dx, dout.ptr(), x.ptr(), count); break;
        case OpKind::Add:
            if (dx) accumulate(dx, dout.ptr(), count);
            if (want_input[node.inputs[1]]) accumulate(s.grads[node.inputs[1]].ptr(), dout.ptr(), count);
            break;
        case OpKind::MaxPool: if (dx) max_pool_backward(dx, dout.ptr(), x.ptr(), batched(node.pool, n)); break;
        case OpKind::AvgPool: if (dx) avg_pool_backward(dx, dout.ptr(), batched(node.pool, n)); break;
        case OpKind::GlobalAvgPool:
            if (dx) global_avg_pool_backward(dx, dout.ptr(), n, x.shape.h(), x.shape.w(), x.shape.c());
            break;
        case OpKind::FullyConnected: {
            const int in_f = x.shape[1], out_f = dout.shape[1];
            if (dx) fully_connected_backward_input(dx, dout.ptr(), param_data(g, node.params[0]), n, in_f, out_f);
            if (want_params) fully_connected_backward_params(pgrad(0), pgrad(1), dout.ptr(), x.ptr(), n, in_f, out_f);
            break;
        }
        case OpKind::Reshape: if (dx) accumulate(dx, dout.ptr(), count); break;
        case OpKind::Concat: {
            float* dins[64];
            int widths[64];
            int k = 0;
            for (int t : node.inputs) { dins[k] = want_input[t] ? s.grads[t].ptr() : nullptr; widths[k++] = s.values[t].shape.c(); }
            concat_backward(dins, dout.ptr(), widths, k, count / dout.shape.c());
            break;
        }
        case OpKind::Softmax:
            if (dx) softmax_backward(dx, dout.ptr(), s.values[node.output].ptr(), n, x.shape[1]);
            break;
        case OpKind::SoftmaxCrossEntropy:
            // The target is data, not a learned quantity: only the logits get a gradient.
            if (dx) softmax_cross_entropy_backward(dx, dout.ptr(), x.ptr(), s.values[node.inputs[1]].ptr(), n, x.shape[1]);
            break;
    }
}

}  // namespace

int backward(const Graph& g, Session& s, const BackwardRequest& req) {
    if (req.from < 0 || size_t(req.from) >= g.tensors.size()) throw Error("backward: no tensor id " + std::to_string(req.from));
    if (s.batch < 1 || s.values.size() != g.tensors.size()) throw Error("backward: run forward first");
    if (req.seed.shape != s.values[req.from].shape)
        throw Error("backward: seed " + req.seed.shape.str() + " does not match '" + g.tensors[req.from].name + "' " +
                    s.values[req.from].shape.str());
    for (const Node& node : g.nodes)
        if (node.op == OpKind::Concat && node.inputs.size() > 64) throw Error("node '" + node.name + "' has over 64 inputs");

    // A tensor's gradient is needed when it lies on a path from a stop tensor to `from`.
    const std::vector<int>& stops = req.stop_at.empty() ? g.inputs : req.stop_at;
    std::vector<char> downstream(g.tensors.size(), 0);
    for (int t : stops) {
        if (t < 0 || size_t(t) >= g.tensors.size()) throw Error("backward: no tensor id " + std::to_string(t));
        downstream[t] = 1;
    }
    for (const Node& node : g.nodes)
        for (int t : node.inputs)
            if (downstream[t]) downstream[node.output] = 1;
    std::vector<char> upstream = ancestors_of(g, req.from);
    std::vector<char> needed(g.tensors.size(), 0);
    for (size_t t = 0; t < g.tensors.size(); ++t) {
        needed[t] = downstream[t] && upstream[t];
        if (needed[t]) {
            s.grads[t].reshape_storage(s.values[t].shape);
            s.grads[t].fill(0.0f);
        } else {
            s.grads[t].data.clear();
            s.grads[t].shape = Shape();
        }
    }
    if (!needed[req.from]) throw Error("backward: '" + g.tensors[req.from].name + "' does not depend on the requested tensors");
    s.grads[req.from].data = req.seed.data;

    for (auto& pg : s.param_grads) { pg.data.clear(); pg.shape = Shape(); }
    int run = 0;
    for (size_t i = g.nodes.size(); i-- > 0;) {
        const Node& node = g.nodes[i];
        // A node runs when its output's gradient is needed and it passes some of it on: the node that
        // produces a stop tensor has nothing to pass on, since nothing below a stop tensor is wanted.
        if (!needed[node.output]) continue;
        if (std::none_of(node.inputs.begin(), node.inputs.end(), [&](int t) { return needed[t] != 0; })) continue;
        if (req.param_grads)
            for (int p : node.params)
                if (p >= 0) { s.param_grads[p].reshape_storage(g.params[p].shape); s.param_grads[p].fill(0.0f); }
        run_backward_node(g, s, node, needed, req.param_grads);
        ++run;
    }
    s.nodes_run_backward = run;
    return run;
}

Tensor one_hot_seed(const Shape& shape, const std::vector<int>& class_of_row) {
    Tensor seed(shape);
    const int rows = shape[0];
    const int64_t width = shape.numel() / rows;
    if (int(class_of_row.size()) != rows)
        throw Error("one_hot_seed: " + std::to_string(class_of_row.size()) + " classes for " + std::to_string(rows) + " rows");
    for (int r = 0; r < rows; ++r) {
        if (class_of_row[r] < 0 || class_of_row[r] >= width)
            throw Error("class " + std::to_string(class_of_row[r]) + " is out of range [0, " + std::to_string(width - 1) + "]");
        seed[r * width + class_of_row[r]] = 1.0f;
    }
    return seed;
}

void sgd_step(Graph& g, const Session& s, std::vector<Tensor>& velocity, float learning_rate, float momentum) {
    velocity.resize(g.params.size());
    for (size_t p = 0; p < g.params.size(); ++p) {
        const Tensor& grad = s.param_grads[p];
        if (grad.data.empty()) continue;  // not reached by the last backward
        Tensor& v = velocity[p];
        if (v.shape != grad.shape) v = Tensor(grad.shape);
        float* w = g.params[p].mutable_data();
        for (int64_t i = 0; i < grad.numel(); ++i) {
            v[i] = momentum * v[i] + grad[i];
            w[i] -= learning_rate * v[i];
        }
    }
}

}  // namespace ec
