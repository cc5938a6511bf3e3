// Running a graph: forward over every node (or up to a target), backward over only the nodes between the
// seeded tensor and the tensors whose gradient is asked for, and an SGD step. Shapes were checked at build
// time; here only the batch size varies. Each node runs through its row of the op table (nn/op_table.h).
#include <algorithm>

#include "nn/graph.h"
#include "nn/op_table.h"

namespace ec {
namespace {

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
        if (ScratchFn need = op_def(node.op).scratch_floats) scratch = std::max(scratch, need(node, n));
    s.scratch.resize(scratch);
}

void run_forward_node(const Graph& g, Session& s, const Node& node) { op_def(node.op).forward(g, s, node); }

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
    op_def(node.op).backward(g, s, node, want_input, want_params);
}

}  // namespace

int backward(const Graph& g, Session& s, const BackwardRequest& req) {
    if (req.from < 0 || size_t(req.from) >= g.tensors.size()) throw Error("backward: no tensor id " + std::to_string(req.from));
    if (s.batch < 1 || s.values.size() != g.tensors.size()) throw Error("backward: run forward first");
    if (req.seed.shape != s.values[req.from].shape)
        throw Error("backward: seed " + req.seed.shape.str() + " does not match '" + g.tensors[req.from].name + "' " +
                    s.values[req.from].shape.str());

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
