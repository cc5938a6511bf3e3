// The per-op functions the op table (nn/op_table.cpp) points at: shape rules (nn/op_shapes.cpp) and forward /
// backward adapters from a Session to the kernels (nn/op_kernels.cpp). Internal to nn; use nn/op_table.h.
#pragma once
#include <string>
#include <vector>

#include "nn/op_table.h"

namespace ec::ops {

// Throws Error "node 'NAME' (OP): WHAT", the one form of every build-time error.
[[noreturn]] void fail(const Node& node, const std::string& what);

#define EC_OP_FUNCTIONS(op)                                                                              \
    Shape op##_shape(const Graph& g, Node& node, const NodeAttrs& attrs);                                  \
    void op##_forward(const Graph& g, Session& s, const Node& node);                                       \
    void op##_backward(const Graph& g, Session& s, const Node& node, const std::vector<char>& want_input, \
                       bool want_params);
EC_OP_FUNCTIONS(conv2d)
EC_OP_FUNCTIONS(pad)
EC_OP_FUNCTIONS(bias_add)
EC_OP_FUNCTIONS(relu)
EC_OP_FUNCTIONS(relu6)
EC_OP_FUNCTIONS(add)
EC_OP_FUNCTIONS(max_pool)
EC_OP_FUNCTIONS(avg_pool)
EC_OP_FUNCTIONS(global_avg_pool)
EC_OP_FUNCTIONS(fully_connected)
EC_OP_FUNCTIONS(reshape)
EC_OP_FUNCTIONS(concat)
EC_OP_FUNCTIONS(softmax)
EC_OP_FUNCTIONS(softmax_cross_entropy)
#undef EC_OP_FUNCTIONS

size_t conv2d_scratch(const Node& node, int batch);
// A Conv2D node and the Relu/Relu6 node that reads its output, as one pass: the activation's output receives
// clamp(conv + bias) (the graph runner's fusion, nn/forward_plan.h); the convolution's output is not written.
void conv2d_activation_forward(const Graph& g, Session& s, const Node& conv, const Node& activation);
// The backward of a Relu/Relu6 node and of the Conv2D node that alone reads its output, as one pass: the
// convolution's input gradient, gated by the activation (conv2d_backward_input_overwrite), written over the
// activation's input gradient (which nothing else writes); the activation's output gradient is not formed. The
// filter and bias gradients as conv2d_backward. Only where conv2d_activation_backward_applies (the geometry).
bool conv2d_activation_backward_applies(const Node& conv, int batch);
void conv2d_activation_backward(const Graph& g, Session& s, const Node& activation, const Node& conv, bool want_params);

}  // namespace ec::ops
