// Running a graph: forward over every node (or up to a target, or by a ForwardPlan that releases values after
// their last reader: nn/forward_plan.h), backward over only the nodes between the seeded tensor and the tensors
// whose gradient is asked for, and an SGD step. Shapes were checked at build time; here only the batch size
// varies. Each node runs through its row of the op table (nn/op_table.h).
#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include "nn/band_block.h"
#include "nn/forward_plan.h"
#include "nn/gate_mask.h"
#include "nn/graph.h"
#include "nn/op_impl.h"
#include "nn/op_table.h"

namespace ec {
namespace {

// Sizes the session for batch n (the kernel scratch; the lists of values and gradients) and hands every value
// and gradient it holds back to the spare buffers: a run takes its value buffers from there.
void prepare(const Graph& g, Session& s, int n) {
    // Every value and gradient buffer goes back to the spare list: each run then starts from the same state and
    // repeats its first choices (a gradient an earlier backward left would hold a buffer the forward wants).
    for (size_t t = 0; t < s.values.size(); ++t) release_value(s, int(t));
    for (size_t t = 0; t < s.grads.size(); ++t) release_grad(s, int(t));
    s.gate_masks.resize(g.tensors.size());
    for (ByteBuffer& mask : s.gate_masks) mask.clear();  // capacity kept for the next run
    if (s.batch == n && s.values.size() == g.tensors.size()) return;
    s.batch = n;
    s.values.resize(g.tensors.size());
    s.grads.resize(g.tensors.size());
    s.param_grads.resize(g.params.size());
    size_t scratch = 0;
    for (size_t t = 0; t < g.tensors.size(); ++t) g.tensors[t].shape.with_batch(n).numel();  // overflow check
    for (const Node& node : g.nodes)
        if (ScratchFn need = op_def(node.op).scratch_floats) scratch = std::max(scratch, need(node, n));
    s.scratch.resize(scratch);
}

void run_forward_node(const Graph& g, Session& s, const Node& node) {
    acquire_value(s, node.output, g.tensors[size_t(node.output)].shape.with_batch(s.batch));
    op_def(node.op).forward(g, s, node);
}

// The batch size of `inputs`, after checking them against the graph's inputs.
int check_inputs(const Graph& g, const std::vector<const Tensor*>& inputs) {
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
    return n;
}

void load_inputs(const Graph& g, Session& s, const std::vector<const Tensor*>& inputs) {
    prepare(g, s, check_inputs(g, inputs));
    for (size_t i = 0; i < inputs.size(); ++i) {
        acquire_value(s, g.inputs[i], inputs[i]->shape);
        std::memcpy(s.values[g.inputs[i]].ptr(), inputs[i]->ptr(), sizeof(float) * size_t(inputs[i]->numel()));
    }
}

// Wall time since `start`, for Session::node_ms / node_backward_ms.
double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// The gate mask of ReLU/ReLU6 output t from its value (ForwardPlan::masks).
void make_mask(const Graph& g, Session& s, int t) {
    const float hi = g.nodes[size_t(g.tensors[size_t(t)].producer)].op == OpKind::Relu6 ? 6.0f
                                                                                      : std::numeric_limits<float>::infinity();
    make_gate_mask(s.gate_masks[size_t(t)], s.values[size_t(t)].ptr(), s.values[size_t(t)].numel(), hi);
}

void release_step(Session& s, const ForwardPlan& plan, size_t step) {
    for (int i = plan.release_start[step]; i < plan.release_start[step + 1]; ++i) release_value(s, plan.release[size_t(i)]);
}

}  // namespace

void forward(const Graph& g, Session& s, const std::vector<const Tensor*>& inputs) {
    load_inputs(g, s, inputs);
    for (const Node& node : g.nodes) run_forward_node(g, s, node);
}

namespace {

void run_plan(const Graph& g, Session& s, const ForwardPlan& plan, const std::vector<const Tensor*>& inputs) {
    load_inputs(g, s, inputs);
    release_step(s, plan, 0);
    const bool timed = s.node_ms.size() == g.nodes.size();
    for (size_t k = 0; k < plan.nodes.size(); ++k) {
        const auto start = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
        const Node& node = g.nodes[size_t(plan.nodes[k])];
        if (plan.block_at[k] >= 0) {  // a band-fused block: its time counts on its first node
            const BandBlock& b = plan.blocks[size_t(plan.block_at[k])];
            acquire_value(s, b.output, g.tensors[size_t(b.output)].shape.with_batch(s.batch));
            for (int t : {b.expand_mask, b.depthwise_mask})  // sized here, written by the block's threads
                if (t >= 0) {
                    const int64_t n = g.tensors[size_t(t)].shape.with_batch(s.batch).numel();
                    ByteBuffer& mask = s.gate_masks[size_t(t)];
                    mask.resize(size_t(gate_mask_bytes(n)));
                    std::fill(mask.data() + n / 8, mask.data() + mask.size(), uint8_t(0));  // the bits past n
                }
            band_block_forward(g, s, b);
            for (size_t i = 0; i < plan.masks.size(); ++i) {  // a mask of the block's output (V1's pair)
                const int t = plan.masks[i];
                if (plan.mask_step[i] >= int(k) && plan.mask_step[i] < int(k) + b.steps && t != b.expand_mask && t != b.depthwise_mask)
                    make_mask(g, s, t);
            }
            if (timed) s.node_ms[size_t(plan.nodes[k])] += ms_since(start);
            for (int i = 0; i < b.steps; ++i) release_step(s, plan, k + 1 + size_t(i));
            k += size_t(b.steps - 1);
            continue;
        }
        if (plan.fused[k] < 0) {
            run_forward_node(g, s, node);
        } else {  // convolution + ReLU/ReLU6 in one pass, into the activation's output
            const Node& activation = g.nodes[size_t(plan.fused[k])];
            acquire_value(s, activation.output, g.tensors[size_t(activation.output)].shape.with_batch(s.batch));
            ops::conv2d_activation_forward(g, s, node, activation);
        }
        for (size_t i = 0; i < plan.masks.size(); ++i)  // before the value may die
            if (plan.mask_step[i] == int(k)) make_mask(g, s, plan.masks[i]);
        if (timed) s.node_ms[size_t(plan.nodes[k])] += ms_since(start);
        release_step(s, plan, k + 1);
    }
}

}  // namespace

void forward(const Graph& g, Session& s, const ForwardPlan& plan, const std::vector<const Tensor*>& inputs) {
    if (plan.tensor_count != g.tensors.size() || plan.release_start.size() != plan.nodes.size() + 2 ||
        plan.fused.size() != plan.nodes.size() || plan.block_at.size() != plan.nodes.size() ||
        plan.mask_step.size() != plan.masks.size())
        throw Error("forward: the plan was made for another graph");
    for (int t : plan.keep)
        if (t < 0 || size_t(t) >= g.tensors.size()) throw Error("forward: the plan keeps a tensor the graph lacks");
    const int n = check_inputs(g, inputs);
    if (plan.images_per_run <= 0 || n <= plan.images_per_run) return run_plan(g, s, plan, inputs);
    if (!plan.masks.empty()) throw Error("forward: a plan that records gate masks runs its batch whole (images_per_run 0)");
    forward_in_chunks(g, s, plan, inputs, run_plan);
    prepare(g, s, n);  // the session holds batch n, and no value of the last chunk
    for (size_t k = 0; k < plan.keep.size(); ++k) {
        const int t = plan.keep[k];
        acquire_value(s, t, g.tensors[size_t(t)].shape.with_batch(n));
        std::memcpy(s.values[size_t(t)].ptr(), s.chunk_kept[k].ptr(), sizeof(float) * size_t(s.values[size_t(t)].numel()));
    }
}

void forward_until(const Graph& g, Session& s, const std::vector<const Tensor*>& inputs, int target) {
    if (target < 0 || size_t(target) >= g.tensors.size()) throw Error("forward_until: no tensor id " + std::to_string(target));
    forward(g, s, plan_forward(g, {target}), inputs);
}

namespace {

// Backward of one node: input gradients where want_input[t] (a GradState), parameter gradients if want_params.
void run_backward_node(const Graph& g, Session& s, const Node& node, const std::vector<char>& want_input, bool want_params) {
    op_def(node.op).backward(g, s, node, want_input, want_params);
}

// A node's backward reads forward values (OpDef::backward_reads): a forward run must have kept them, or, for a
// ReLU/ReLU6 output its own backward reads as a gate, their gate mask. A convolution's input gradient reads no
// value (backward_needs).
void check_values_kept(const Graph& g, const Session& s, const Node& node, bool param_grads) {
    if (node.op == OpKind::Conv2D && !param_grads) return;
    for (int t : values_backward_reads(node)) {
        const int64_t numel = g.tensors[size_t(t)].shape.with_batch(s.batch).numel();
        const bool gate = (node.op == OpKind::Relu || node.op == OpKind::Relu6) && t == node.output;
        if (gate && size_t(t) < s.gate_masks.size() && int64_t(s.gate_masks[size_t(t)].size()) >= gate_mask_bytes(numel)) continue;
        if (s.values[size_t(t)].numel() != numel)
            throw Error("backward: the forward run did not keep the value of '" + g.tensors[size_t(t)].name +
                        "', which the backward of node '" + node.name + "' reads (keep backward_reads, nn/forward_plan.h)");
    }
}

// A node that reads one tensor twice (add(x, x)) would see it unwritten at both reads: it is zero-filled first.
void zero_fill_repeated_inputs(Session& s, const Node& node, std::vector<char>& state) {
    for (size_t a = 0; a < node.inputs.size(); ++a)
        for (size_t b = a + 1; b < node.inputs.size(); ++b) {
            const int t = node.inputs[a];
            if (t == node.inputs[b] && state[size_t(t)] == kGradUnwritten) {
                s.grads[size_t(t)].fill(0.0f);
                state[size_t(t)] = kGradAccumulate;
            }
        }
}

// Backward fusion: for each node, the Relu/Relu6 node whose backward runs inside its own (-1: none). A
// convolution whose input is a ReLU's output that nothing else reads, whose gradient no caller asked for, and
// whose input gradient nothing else writes, writes that input gradient gated by the activation
// (ops::conv2d_activation_backward): one pass over the largest tensors instead of three, and the ReLU's output
// gradient is never formed. The mirror of the forward's conv + ReLU fusion (nn/forward_plan.h).
std::vector<int> fused_backward_activations(const Graph& g, const Session& s, const BackwardRequest& req,
                                            const std::vector<char>& needed, const std::vector<int>& stops) {
    std::vector<int> readers(g.tensors.size(), 0);
    for (const Node& node : g.nodes)
        for (int t : node.inputs) ++readers[size_t(t)];
    std::vector<char> asked(g.tensors.size(), 0);
    for (int t : stops) asked[size_t(t)] = 1;
    asked[size_t(req.from)] = 1;
    std::vector<int> fused(g.nodes.size(), -1);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& conv = g.nodes[i];
        if (conv.op != OpKind::Conv2D || !backward_runs(conv, needed)) continue;
        const int t = conv.inputs[0], a = g.tensors[size_t(t)].producer;
        if (a < 0 || readers[size_t(t)] != 1 || asked[size_t(t)]) continue;
        const Node& act = g.nodes[size_t(a)];
        if (act.op != OpKind::Relu && act.op != OpKind::Relu6) continue;
        const int x = act.inputs[0];
        if (!needed[size_t(x)] || readers[size_t(x)] != 1 || asked[size_t(x)]) continue;
        if (ops::conv2d_activation_backward_applies(conv, s.batch)) fused[i] = a;
    }
    return fused;
}

// Add passes its output's gradient to both inputs unchanged. When nothing else reads that gradient (not kept),
// the first input whose gradient is still unwritten (and that the node reads once) can take the output's buffer
// as it is once the op has copied it to the other input: one copy of a residual gradient fewer. Returns that
// input, or -1.
int add_input_taking_gradient(const Session& s, const Node& node, const std::vector<char>& state,
                              const std::vector<char>& kept) {
    if (node.op != OpKind::Add || kept[size_t(node.output)] || node.inputs[0] == node.inputs[1]) return -1;
    for (int t : node.inputs)
        if (state[size_t(t)] == kGradUnwritten && s.grads[size_t(t)].data.empty()) return t;
    return -1;
}

}  // namespace

int backward(const Graph& g, Session& s, const BackwardRequest& req) {
    if (req.from < 0 || size_t(req.from) >= g.tensors.size()) throw Error("backward: no tensor id " + std::to_string(req.from));
    if (s.batch < 1 || s.values.size() != g.tensors.size()) throw Error("backward: run forward first");
    const Shape from_shape = g.tensors[size_t(req.from)].shape.with_batch(s.batch);
    if (req.seed.shape != from_shape)
        throw Error("backward: seed " + req.seed.shape.str() + " does not match '" + g.tensors[req.from].name + "' " +
                    from_shape.str());

    // A tensor's gradient is needed when it lies on a path from a stop tensor to `from`. Its buffer is not
    // zero-filled here: its first writer (the first of its readers to run backward) overwrites it, or zero-fills
    // it and adds (GradState, nn/op_table.h).
    const std::vector<int>& stops = req.stop_at.empty() ? g.inputs : req.stop_at;
    const std::vector<char> needed = backward_path(g, req.from, stops);
    if (!needed[req.from]) throw Error("backward: '" + g.tensors[req.from].name + "' does not depend on the requested tensors");
    for (const Node& node : g.nodes)
        if (backward_runs(node, needed)) check_values_kept(g, s, node, req.param_grads);
    const std::vector<int> fused = fused_backward_activations(g, s, req, needed, stops);
    std::vector<char> folded(g.nodes.size(), 0), unformed(g.tensors.size(), 0);
    for (int a : fused)
        if (a >= 0) folded[size_t(a)] = 1, unformed[size_t(g.nodes[size_t(a)].output)] = 1;
    // Band-fused blocks (nn/band_block.h) run at their project node; their depthwise and expand nodes' work is
    // done there, and the gradients between the three are never formed.
    std::vector<BandBlockBackward> bands;
    std::vector<int> band_at(g.nodes.size(), -1);
    if (!req.param_grads && !req.keep_inner_grads)
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            BandBlockBackward b;
            if (g.nodes[i].op != OpKind::Conv2D || fused[i] < 0 || !backward_runs(g.nodes[i], needed) ||
                !find_band_block_backward(g, s, int(i), fused, b) || !backward_runs(g.nodes[size_t(b.depthwise)], needed) ||
                (b.expand >= 0 && !backward_runs(g.nodes[size_t(b.expand)], needed)))
                continue;
            band_at[i] = int(bands.size());
            bands.push_back(b);
            folded[size_t(b.depthwise)] = 1;
            unformed[size_t(g.nodes[size_t(b.depthwise_act)].inputs[0])] = 1;
            if (b.expand >= 0) folded[size_t(b.expand)] = 1, unformed[size_t(g.nodes[size_t(b.expand_act)].inputs[0])] = 1;
        }
    // Gradient buffers: `from` and the stop tensors (and, with keep_inner_grads, every tensor on the path) take
    // theirs now and keep them; an inner tensor takes one just before the first node that writes it runs and
    // hands it back once its producer has read it.
    for (size_t t = 0; t < g.tensors.size(); ++t) release_grad(s, int(t));
    std::vector<char> kept(g.tensors.size(), char(req.keep_inner_grads));
    for (int t : stops) kept[size_t(t)] = 1;
    kept[size_t(req.from)] = 1;
    std::vector<char> state(g.tensors.size(), kGradNotWanted);
    auto take_buffer = [&](int t) {
        if (state[size_t(t)] == kGradUnwritten && s.grads[size_t(t)].data.empty())
            acquire_grad(s, t, g.tensors[size_t(t)].shape.with_batch(s.batch));
    };
    for (size_t t = 0; t < g.tensors.size(); ++t) {
        if (!needed[t] || unformed[t]) continue;
        state[t] = kGradUnwritten;
        if (kept[t]) take_buffer(int(t));
    }
    std::copy(req.seed.data.begin(), req.seed.data.end(), s.grads[req.from].data.begin());
    state[size_t(req.from)] = kGradAccumulate;

    for (auto& pg : s.param_grads) { pg.data.clear(); pg.shape = Shape(); }
    int run = 0;
    const bool timed = s.node_backward_ms.size() == g.nodes.size();
    for (size_t i = g.nodes.size(); i-- > 0;) {
        const Node& node = g.nodes[i];
        if (!backward_runs(node, needed)) continue;
        if (folded[i]) { ++run; continue; }  // ran inside its convolution's backward
        const auto start = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
        if (req.param_grads)
            for (int p : node.params)
                if (p >= 0) { s.param_grads[p].reshape_storage(g.params[p].shape); s.param_grads[p].fill(0.0f); }
        const int handed = add_input_taking_gradient(s, node, state, kept);
        if (handed >= 0) state[size_t(handed)] = kGradNotWanted;  // the op writes the other input alone
        for (int t : node.inputs) take_buffer(t);
        if (fused[i] >= 0 && band_at[i] < 0) take_buffer(g.nodes[size_t(fused[i])].inputs[0]);
        zero_fill_repeated_inputs(s, node, state);
        if (band_at[i] >= 0) {
            const BandBlockBackward& b = bands[size_t(band_at[i])];
            const int x = g.nodes[size_t(b.expand >= 0 ? b.expand : b.expand_act)].inputs[0];
            take_buffer(x);
            band_block_backward(g, s, b, state[size_t(x)] == kGradAccumulate);
            state[size_t(x)] = kGradAccumulate;
        } else if (fused[i] >= 0) {
            const Node& act = g.nodes[size_t(fused[i])];
            ops::conv2d_activation_backward(g, s, act, node, req.param_grads);
            state[size_t(act.inputs[0])] = kGradAccumulate;
        } else {
            run_backward_node(g, s, node, state, req.param_grads);
        }
        if (handed >= 0) {
            hand_over_grad(s, node.output, handed, g.tensors[size_t(handed)].shape.with_batch(s.batch));
            state[size_t(handed)] = kGradAccumulate;
        }
        for (int t : node.inputs)
            if (state[size_t(t)] == kGradUnwritten) state[size_t(t)] = kGradAccumulate;  // written now
        if (!kept[size_t(node.output)]) release_grad(s, node.output);  // read by its producer alone: dead now
        if (timed) s.node_backward_ms[i] += ms_since(start);
        ++run;
    }
    // Every needed tensor but `from` is an input of a node that ran, so all are written: this is a safeguard.
    for (size_t t = 0; t < g.tensors.size(); ++t)
        if (state[t] == kGradUnwritten) s.grads[t].fill(0.0f);
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
