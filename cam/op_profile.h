// Where a forward pass spends its time, node by node (`entropycam bench --ops`): the planned forward to the
// logits, as classify and evaluate run it, with each node's wall time measured by the runner
// (Session::node_ms). A convolution fused with its ReLU/ReLU6 carries the pair's time; the activation shows 0.
// A band-fused block (nn/band_block.h) shows as one row, op "BandBlock", on its first node.
// Beside it, each node's time in the backward from the top-1 logit to the input (Session::node_backward_ms),
// where activations run on their own.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cam/pass_timing.h"

namespace ec {

// Multiply-adds of one image through `node`: convolutions and fully connected layers; 0 for the other ops
// (memory-bound, counted by no one's GFLOP/s figure).
int64_t node_multiply_adds(const Graph& g, const Node& node);

struct OpProfileRow {
    std::string name;          // the node's name (the TFLite tensor it writes)
    std::string op;            // its op (nn/op_table.h)
    double ms = 0;             // mean wall time per run
    double backward_ms = 0;    // mean wall time of its backward to the input
    double share = 0;          // of the sum over every node, 0..1
    int64_t multiply_adds = 0; // per image
};

// Rows for every node the plan runs, slowest forward first, means over options.iters runs after one warm-up, at
// options.batch copies of `input`. The batch runs unchunked (ForwardPlan::images_per_run = 0) so every node's
// time is the whole batch's. Error as time_model_passes.
std::vector<OpProfileRow> profile_forward_ops(const Network& net, const Tensor& input, const PassTimingOptions& options);

}  // namespace ec
