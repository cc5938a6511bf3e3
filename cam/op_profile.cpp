#include "cam/op_profile.h"

#include <algorithm>

#include "nn/forward_plan.h"
#include "nn/softmax.h"
#include "nn/op_table.h"

namespace ec {

int64_t node_multiply_adds(const Graph& g, const Node& node) {
    if (node.op == OpKind::Conv2D) {
        const ConvGeometry& c = node.conv;
        return int64_t(c.out_h) * c.out_w * c.out_c * c.kernel_h * c.kernel_w * (c.in_c / c.groups);
    }
    if (node.op == OpKind::FullyConnected)
        return int64_t(g.tensors[size_t(node.inputs[0])].shape[1]) * g.tensors[size_t(node.output)].shape[1];
    return 0;
}

std::vector<OpProfileRow> profile_forward_ops(const Network& net, const Tensor& input, const PassTimingOptions& options) {
    if (options.batch < 1) throw Error("batch must be at least 1, got " + std::to_string(options.batch));
    if (options.iters < 1) throw Error("iterations must be at least 1, got " + std::to_string(options.iters));
    const Graph& g = *net.graph;
    Tensor batch(input.shape.with_batch(options.batch));
    for (int n = 0; n < options.batch; ++n) std::copy(input.data.begin(), input.data.end(), batch.data.begin() + n * input.numel());
    ForwardPlan plan = plan_forward(g, {net.logits});
    plan.images_per_run = 0;
    Session s;
    forward(g, s, plan, {&batch});  // warm-up: sizes every buffer
    s.node_ms.assign(g.nodes.size(), 0.0);
    for (int i = 0; i < options.iters; ++i) forward(g, s, plan, {&batch});

    std::vector<int> top1;
    for (int n = 0; n < options.batch; ++n) top1.push_back(top_k(s.values[size_t(net.logits)], n, 1)[0]);
    const BackwardRequest to_input{net.logits, one_hot_seed(s.values[size_t(net.logits)].shape, top1), {g.inputs[0]}, false};
    ForwardPlan for_input = plan_forward_for_backward(g, to_input);
    for_input.images_per_run = 0;  // the whole batch on this session, so every node's time lands in b
    Session b;
    forward(g, b, for_input, {&batch});
    backward(g, b, to_input);  // warm-up
    b.node_backward_ms.assign(g.nodes.size(), 0.0);
    for (int i = 0; i < options.iters; ++i) {
        forward(g, b, for_input, {&batch});
        backward(g, b, to_input);
    }

    std::vector<OpProfileRow> rows;
    double total = 0;
    for (int k : plan.nodes) total += s.node_ms[size_t(k)];
    // A band-fused block (nn/band_block.h) is timed as a whole: its row is its first node's, with the block's
    // multiply-adds; the block's other nodes show 0.
    std::vector<int64_t> macs(plan.nodes.size());
    std::vector<std::string> op(plan.nodes.size());
    for (size_t k = 0; k < plan.nodes.size(); ++k) {
        const Node& node = g.nodes[size_t(plan.nodes[k])];
        macs[k] = node_multiply_adds(g, node), op[k] = op_def(node.op).name;
    }
    for (size_t k = 0; k < plan.nodes.size(); ++k)
        if (plan.block_at[k] >= 0) {
            const int steps = plan.blocks[size_t(plan.block_at[k])].steps;
            for (int i = 1; i < steps; ++i) macs[k] += macs[k + size_t(i)], macs[k + size_t(i)] = 0;
            op[k] = "BandBlock";
        }
    for (size_t k = 0; k < plan.nodes.size(); ++k) {
        const Node& node = g.nodes[size_t(plan.nodes[k])];
        const double ms = s.node_ms[size_t(plan.nodes[k])] / options.iters;
        const double backward_ms = b.node_backward_ms[size_t(plan.nodes[k])] / options.iters;
        rows.push_back({node.name, op[k], ms, backward_ms, total > 0 ? s.node_ms[size_t(plan.nodes[k])] / total : 0, macs[k]});
        if (plan.fused[k] >= 0) {  // the folded activation: its forward time is in the convolution's
            const Node& act = g.nodes[size_t(plan.fused[k])];
            rows.push_back({act.name, op_def(act.op).name, 0, b.node_backward_ms[size_t(plan.fused[k])] / options.iters, 0, 0});
        }
    }
    std::stable_sort(rows.begin(), rows.end(), [](const OpProfileRow& a, const OpProfileRow& b) { return a.ms > b.ms; });
    return rows;
}

}  // namespace ec
