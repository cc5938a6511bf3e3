// Planning which values a forward run keeps, and the spare-buffer list the released ones go to.
#include "nn/forward_plan.h"

#include <algorithm>

#include "nn/op_table.h"

namespace ec {
namespace {

void check_tensor_id(const Graph& g, int t, const char* what) {
    if (t < 0 || size_t(t) >= g.tensors.size()) throw Error(std::string(what) + ": no tensor id " + std::to_string(t));
}

// Marks the tensors the `targets` depend on (themselves included).
std::vector<char> ancestors_of(const Graph& g, const std::vector<int>& targets) {
    std::vector<char> needed(g.tensors.size(), 0);
    for (int t : targets) needed[size_t(t)] = 1;
    for (size_t i = g.nodes.size(); i-- > 0;) {
        const Node& node = g.nodes[i];
        if (!needed[size_t(node.output)]) continue;
        for (int t : node.inputs) needed[size_t(t)] = 1;
    }
    return needed;
}

// For each node: the Relu/Relu6 node folded into it (see ForwardPlan::fused), or -1.
std::vector<int> fusable_activations(const Graph& g, const std::vector<char>& kept) {
    std::vector<int> readers(g.tensors.size(), 0), reader(g.tensors.size(), -1);
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (int t : g.nodes[i].inputs) ++readers[size_t(t)], reader[size_t(t)] = int(i);
    std::vector<int> fused(g.nodes.size(), -1);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const int t = g.nodes[i].output, a = reader[size_t(t)];
        if (g.nodes[i].op != OpKind::Conv2D || kept[size_t(t)] || readers[size_t(t)] != 1) continue;
        if (g.nodes[size_t(a)].op == OpKind::Relu || g.nodes[size_t(a)].op == OpKind::Relu6) fused[i] = a;
    }
    return fused;
}

}  // namespace

ForwardPlan plan_forward(const Graph& g, const std::vector<int>& keep, bool fuse_activations,
                         const std::vector<int>& masks) {
    for (int t : keep) check_tensor_id(g, t, "plan_forward");
    for (int t : masks) {
        check_tensor_id(g, t, "plan_forward");
        const int p = g.tensors[size_t(t)].producer;
        if (p < 0 || (g.nodes[size_t(p)].op != OpKind::Relu && g.nodes[size_t(p)].op != OpKind::Relu6))
            throw Error("plan_forward: a gate mask is of a ReLU or ReLU6 output, not of '" + g.tensors[size_t(t)].name + "'");
    }
    std::vector<int> targets = keep;
    targets.insert(targets.end(), masks.begin(), masks.end());
    const std::vector<char> needed = ancestors_of(g, targets);
    std::vector<char> kept(g.tensors.size(), 0);
    for (int t : keep) kept[size_t(t)] = 1;
    const std::vector<int> fusable = fuse_activations ? fusable_activations(g, kept) : std::vector<int>(g.nodes.size(), -1);

    ForwardPlan plan;
    plan.tensor_count = g.tensors.size();
    std::vector<char> folded(g.nodes.size(), 0);  // activations run inside their convolution
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        if (!needed[size_t(g.nodes[i].output)] || folded[i]) continue;
        plan.nodes.push_back(int(i));
        plan.fused.push_back(fusable[i]);
        if (fusable[i] >= 0) folded[size_t(fusable[i])] = 1;
    }
    // The step after which each value is last read: 0 = before any node (an input no node of the run reads).
    // A fused step reads the convolution's inputs and writes the activation's output.
    std::vector<int> last_step(g.tensors.size(), -1);
    for (int t : g.inputs) last_step[size_t(t)] = 0;
    for (size_t k = 0; k < plan.nodes.size(); ++k) {
        const Node& node = g.nodes[size_t(plan.nodes[k])];
        const int out = plan.fused[k] >= 0 ? g.nodes[size_t(plan.fused[k])].output : node.output;
        last_step[size_t(out)] = std::max(last_step[size_t(out)], int(k) + 1);  // unread: dies at once
        for (int t : node.inputs) last_step[size_t(t)] = int(k) + 1;
    }
    std::vector<std::vector<int>> dying(plan.nodes.size() + 1);
    for (size_t t = 0; t < g.tensors.size(); ++t)
        if (last_step[t] >= 0 && !kept[t]) dying[size_t(last_step[t])].push_back(int(t));
    for (const std::vector<int>& step : dying) {
        plan.release_start.push_back(int(plan.release.size()));
        plan.release.insert(plan.release.end(), step.begin(), step.end());
    }
    plan.release_start.push_back(int(plan.release.size()));
    // A band-fused block writes the masks of its inner activations (nn/band_block.h).
    std::vector<char> keeps(g.tensors.size(), 0);
    for (int t : masks) keeps[size_t(t)] = kKeepsMask;
    for (int t : keep) keeps[size_t(t)] = kKeepsValue;
    if (fuse_activations) find_band_blocks(g, plan.nodes, plan.fused, keeps, plan.blocks, plan.block_at);
    else plan.block_at.assign(plan.nodes.size(), -1);
    plan.keep = keep;
    std::sort(plan.keep.begin(), plan.keep.end());
    plan.keep.erase(std::unique(plan.keep.begin(), plan.keep.end()), plan.keep.end());
    plan.masks = masks;
    std::sort(plan.masks.begin(), plan.masks.end());
    plan.masks.erase(std::unique(plan.masks.begin(), plan.masks.end()), plan.masks.end());
    for (int t : plan.masks)
        for (size_t k = 0; k < plan.nodes.size(); ++k) {
            const int out = plan.fused[k] >= 0 ? g.nodes[size_t(plan.fused[k])].output : g.nodes[size_t(plan.nodes[k])].output;
            if (out == t) plan.mask_step.push_back(int(k));
        }
    plan.images_per_run = plan.masks.empty() ? images_per_run_in_cache(g, plan) : 0;
    return plan;
}

BackwardNeeds backward_needs(const Graph& g, const BackwardRequest& req) {
    const std::vector<int>& stops = req.stop_at.empty() ? g.inputs : req.stop_at;
    const std::vector<char> on_path = backward_path(g, req.from, stops);
    enum : uint8_t { kAsValue = 1, kAsGate = 2 };
    std::vector<uint8_t> read(g.tensors.size(), 0);
    read[size_t(req.from)] |= kAsValue;
    for (const Node& node : g.nodes) {
        if (!backward_runs(node, on_path)) continue;
        if (node.op == OpKind::Conv2D && !req.param_grads) continue;  // the input gradient reads no value
        const bool gate = node.op == OpKind::Relu || node.op == OpKind::Relu6;
        for (int t : values_backward_reads(node)) read[size_t(t)] |= gate && t == node.output ? kAsGate : kAsValue;
    }
    BackwardNeeds needs;
    for (size_t t = 0; t < read.size(); ++t) {
        if (read[t] & kAsValue) needs.values.push_back(int(t));
        else if (read[t] & kAsGate) needs.masks.push_back(int(t));
    }
    return needs;
}

ForwardPlan plan_forward_for_backward(const Graph& g, const BackwardRequest& req, const std::vector<int>& also_keep) {
    for (int t : also_keep) check_tensor_id(g, t, "plan_forward_for_backward");
    BackwardNeeds needs = backward_needs(g, req);
    std::vector<char> kept(g.tensors.size(), 0);
    for (int t : also_keep) kept[size_t(t)] = 1;
    std::vector<int> keep = needs.values, masks;
    keep.insert(keep.end(), also_keep.begin(), also_keep.end());
    for (int t : needs.masks)
        if (!kept[size_t(t)]) masks.push_back(t);
    return plan_forward(g, keep, true, masks);
}

std::vector<char> backward_path(const Graph& g, int from, const std::vector<int>& stops) {
    check_tensor_id(g, from, "backward");
    std::vector<char> downstream(g.tensors.size(), 0);
    for (int t : stops) {
        check_tensor_id(g, t, "backward");
        downstream[size_t(t)] = 1;
    }
    for (const Node& node : g.nodes)
        for (int t : node.inputs)
            if (downstream[size_t(t)]) downstream[size_t(node.output)] = 1;
    const std::vector<char> upstream = ancestors_of(g, {from});
    for (size_t t = 0; t < g.tensors.size(); ++t) downstream[t] = downstream[t] && upstream[t];
    return downstream;
}

bool backward_runs(const Node& node, const std::vector<char>& on_path) {
    // The node that produces a stop tensor has nothing to pass on: nothing below a stop tensor is wanted.
    return on_path[size_t(node.output)] &&
           std::any_of(node.inputs.begin(), node.inputs.end(), [&](int t) { return on_path[size_t(t)] != 0; });
}

std::vector<int> values_backward_reads(const Node& node) {
    const uint8_t reads = op_def(node.op).backward_reads;
    std::vector<int> out;
    if (reads & kReadsInputs) out = node.inputs;
    if (reads & kReadsOutput) out.push_back(node.output);
    return out;
}

std::vector<int> backward_reads(const Graph& g, int from, const std::vector<int>& stop_at) {
    const std::vector<char> on_path = backward_path(g, from, stop_at.empty() ? g.inputs : stop_at);
    std::vector<char> read(g.tensors.size(), 0);
    read[size_t(from)] = 1;
    for (const Node& node : g.nodes)
        if (backward_runs(node, on_path))
            for (int t : values_backward_reads(node)) read[size_t(t)] = 1;
    std::vector<int> out;
    for (size_t t = 0; t < read.size(); ++t)
        if (read[t]) out.push_back(int(t));
    return out;
}

namespace {

// Gives `tensor` a buffer of `shape` from the session's spare buffers (first fit by age) or a new one; `id`
// records which. Values and gradients share the one pool.
void acquire_buffer(Session& s, Tensor& tensor, uint64_t& id, const Shape& shape) {
    const size_t need = size_t(shape.numel());
    // First fit by age: the oldest spare buffer that holds the value, else a new one. A run then repeats its
    // first execution's choices exactly, whatever other runs did in between (every buffer they made is younger
    // than the ones this run found or made at each step), so it allocates only the first time.
    int best = -1;
    for (size_t i = 0; i < s.spare.size(); ++i)
        if (s.spare[i].data.capacity() >= need && (best < 0 || s.spare[i].id < s.spare[size_t(best)].id)) best = int(i);
    if (best >= 0) {
        tensor.data = std::move(s.spare[size_t(best)].data);
        id = s.spare[size_t(best)].id;
        s.spare[size_t(best)] = std::move(s.spare.back());
        s.spare.pop_back();
    } else {
        tensor.data = FloatBuffer();
        id = s.buffers_made++;
    }
    tensor.reshape_storage(shape);
}

void release_buffer(Session& s, Tensor& tensor, uint64_t id) {
    if (tensor.data.capacity() > 0) s.spare.push_back({id, std::move(tensor.data)});
    tensor.data = FloatBuffer();
    tensor.shape = Shape();
}

}  // namespace

void acquire_value(Session& s, int t, const Shape& shape) {
    if (s.value_buffer_id.size() != s.values.size()) s.value_buffer_id.resize(s.values.size(), 0);
    acquire_buffer(s, s.values[size_t(t)], s.value_buffer_id[size_t(t)], shape);
}

void release_value(Session& s, int t) {
    // A value put in place by hand (no id recorded) gets a new id.
    if (size_t(t) >= s.value_buffer_id.size()) return release_buffer(s, s.values[size_t(t)], s.buffers_made++);
    release_buffer(s, s.values[size_t(t)], s.value_buffer_id[size_t(t)]);
}

void acquire_grad(Session& s, int t, const Shape& shape) {
    if (s.grad_buffer_id.size() != s.grads.size()) s.grad_buffer_id.resize(s.grads.size(), 0);
    acquire_buffer(s, s.grads[size_t(t)], s.grad_buffer_id[size_t(t)], shape);
}

void hand_over_grad(Session& s, int from, int to, const Shape& shape) {
    if (s.grad_buffer_id.size() != s.grads.size()) s.grad_buffer_id.resize(s.grads.size(), 0);
    Tensor& source = s.grads[size_t(from)];
    Tensor& target = s.grads[size_t(to)];
    target.data = std::move(source.data);
    target.reshape_storage(shape);
    s.grad_buffer_id[size_t(to)] = s.grad_buffer_id[size_t(from)];
    source.data = FloatBuffer();
    source.shape = Shape();
}

GateMask recorded_gate_mask(const Session& s, int t) {
    const bool masked = s.values[size_t(t)].data.empty() && size_t(t) < s.gate_masks.size() && !s.gate_masks[size_t(t)].empty();
    return masked ? GateMask(s.gate_masks[size_t(t)].data()) : GateMask();
}

void release_grad(Session& s, int t) {
    if (size_t(t) >= s.grad_buffer_id.size()) return release_buffer(s, s.grads[size_t(t)], s.buffers_made++);
    release_buffer(s, s.grads[size_t(t)], s.grad_buffer_id[size_t(t)]);
}

}  // namespace ec
