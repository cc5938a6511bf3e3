// Forward and backward of every op (the op table's forward / backward): each reads its tensors from the
// Session and calls its kernel with the batch the session runs. Shapes were checked when the graph was built.
// Backward accumulates into the gradients it is asked for (want_input, want_params) and skips the others; an
// input gradient it writes first (kGradUnwritten) it overwrites where the kernel can, else zero-fills first.
#include <algorithm>
#include <limits>

#include "nn/activation.h"
#include "nn/concat.h"
#include "nn/conv2d_depthwise_3x3.h"
#include "nn/dense.h"
#include "nn/forward_plan.h"
#include "nn/gate_mask.h"
#include "nn/op_impl.h"
#include "nn/packed_filters.h"
#include "nn/parallel.h"
#include "nn/softmax.h"

namespace ec::ops {
namespace {

ConvGeometry batched(ConvGeometry c, int n) { c.batch = n; return c; }
PoolGeometry batched(PoolGeometry p, int n) { p.batch = n; return p; }
PadGeometry batched(PadGeometry p, int n) { p.batch = n; return p; }

const float* param_data(const Graph& g, int p) { return p < 0 ? nullptr : g.params[size_t(p)].data(); }

// The tensors one node reads and writes in a session.
struct Io {
    Tensor& out;
    const Tensor& x;  // the first input
    int64_t count;    // elements of the output
};
Io io(Session& s, const Node& node) {
    Tensor& out = s.values[size_t(node.output)];
    return {out, s.values[size_t(node.inputs[0])], out.numel()};
}

// The gradient of input k to accumulate into, or null when it is not wanted; zero-filled first when this node
// is its first writer.
float* input_grad(Session& s, const Node& node, const std::vector<char>& want_input, size_t k) {
    const int t = node.inputs[k];
    if (want_input[size_t(t)] == kGradUnwritten) s.grads[size_t(t)].fill(0.0f);
    return want_input[size_t(t)] ? s.grads[size_t(t)].ptr() : nullptr;
}
// The gradient of input k for a kernel that can overwrite: null when not wanted; overwrite when this node is
// its first writer (the buffer's contents are unspecified).
struct GradOut {
    float* ptr;
    bool overwrite;
};
GradOut input_grad_out(Session& s, const Node& node, const std::vector<char>& want_input, size_t k) {
    const char state = want_input[size_t(node.inputs[k])];
    return {state ? s.grads[size_t(node.inputs[k])].ptr() : nullptr, state == kGradUnwritten};
}
// dx (+)= d: a copy (onto +0, as the accumulating form adds to a zero-filled buffer) when overwriting; threaded
// above the size where accumulate() is.
void pass_gradient(const GradOut& dx, const float* d, int64_t n) {
    if (!dx.overwrite) return accumulate(dx.ptr, d, n);
    float* out = dx.ptr;
    for_blocks(n, kElementBlock, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) out[i] = 0.0f + d[i];
    });
}
// The gradient of parameter slot k, or null when not wanted or the parameter is absent.
float* param_grad(Session& s, const Node& node, bool want_params, size_t k) {
    const int p = node.params[k];
    return (want_params && p >= 0) ? s.param_grads[size_t(p)].ptr() : nullptr;
}
const Tensor& dout(const Session& s, const Node& node) { return s.grads[size_t(node.output)]; }

// A pointwise convolution's filter packed for `use` (nn/packed_filters.h), or null to read it as stored: for other
// convolutions, and where the product has fewer than kPackedFilterMinRows rows (a 1 x 1 image: the kernel then
// streams B's rows, each filter value read about once).
constexpr int64_t kPackedFilterMinRows = 16;
const float* packed_filter(const Graph& g, const Node& conv, const ConvGeometry& geo, FilterUse use) {
    if (!conv2d_is_pointwise(geo) || int64_t(geo.batch) * geo.in_h * geo.in_w < kPackedFilterMinRows) return nullptr;
    return packed_pointwise_filter(g, conv.params[0], geo.in_c, geo.out_c, use);
}

}  // namespace

size_t conv2d_scratch(const Node& node, int batch) { return conv2d_scratch_floats(batched(node.conv, batch)); }

void conv2d_forward(const Graph& g, Session& s, const Node& node) {
    Io v = io(s, node);
    const ConvGeometry geo = batched(node.conv, s.batch);
    ec::conv2d_forward(v.out.ptr(), v.x.ptr(), param_data(g, node.params[0]), param_data(g, node.params[1]), geo,
                       s.scratch.data(), packed_filter(g, node, geo, FilterUse::Forward));
}
void conv2d_activation_forward(const Graph& g, Session& s, const Node& conv, const Node& activation) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    if (activation.op != OpKind::Relu && activation.op != OpKind::Relu6)
        fail(activation, "cannot be fused into a convolution (only Relu and Relu6 can)");
    const float hi = activation.op == OpKind::Relu6 ? 6.0f : kInf;  // nn/activation.h: ReLU6 = clamp(x, 0, 6)
    const ConvGeometry geo = batched(conv.conv, s.batch);
    ec::conv2d_forward_clamped(s.values[size_t(activation.output)].ptr(), s.values[size_t(conv.inputs[0])].ptr(),
                               param_data(g, conv.params[0]), param_data(g, conv.params[1]), 0.0f, hi, geo,
                               s.scratch.data(), packed_filter(g, conv, geo, FilterUse::Forward));
}
void conv2d_backward_filter(Session& s, const Node& node, const ConvGeometry& geo) {
    ec::conv2d_backward_filter(param_grad(s, node, true, 0), param_grad(s, node, true, 1), dout(s, node).ptr(),
                               s.values[size_t(node.inputs[0])].ptr(), geo, s.scratch.data());
}
void conv2d_backward(const Graph& g, Session& s, const Node& node, const std::vector<char>& want_input, bool want_params) {
    const ConvGeometry geo = batched(node.conv, s.batch);
    const GradOut dx = input_grad_out(s, node, want_input, 0);
    const float* filter_t = dx.ptr ? packed_filter(g, node, geo, FilterUse::InputGradient) : nullptr;
    if (dx.ptr && dx.overwrite && conv2d_backward_input_overwrites(geo))  // MobileNet's 1x1 and depthwise layers
        conv2d_backward_input_overwrite(dx.ptr, dout(s, node).ptr(), param_data(g, node.params[0]), geo, nullptr, 0,
                                        nullptr, filter_t);
    else if (float* d_in = input_grad(s, node, want_input, 0))
        conv2d_backward_input(d_in, dout(s, node).ptr(), param_data(g, node.params[0]), geo, s.scratch.data(), filter_t);
    if (want_params) conv2d_backward_filter(s, node, geo);
}

bool conv2d_activation_backward_applies(const Node& conv, int batch) {
    return conv2d_backward_input_overwrites(batched(conv.conv, batch));
}
void conv2d_activation_backward(const Graph& g, Session& s, const Node& activation, const Node& conv, bool want_params) {
    if (activation.op != OpKind::Relu && activation.op != OpKind::Relu6)
        fail(activation, "cannot be fused into a convolution's backward (only Relu and Relu6 can)");
    const ConvGeometry geo = batched(conv.conv, s.batch);
    const float gate_hi = activation.op == OpKind::Relu6 ? 6.0f : std::numeric_limits<float>::infinity();
    const GateMask mask = recorded_gate_mask(s, activation.output);
    conv2d_backward_input_overwrite(s.grads[size_t(activation.inputs[0])].ptr(), dout(s, conv).ptr(),
                                    param_data(g, conv.params[0]), geo,
                                    mask ? nullptr : s.values[size_t(activation.output)].ptr(), gate_hi, mask,
                                    packed_filter(g, conv, geo, FilterUse::InputGradient));
    if (want_params) conv2d_backward_filter(s, conv, geo);
}

void pad_forward(const Graph&, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::pad_forward(v.out.ptr(), v.x.ptr(), batched(node.pad, s.batch));
}
void pad_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    if (float* dx = input_grad(s, node, want_input, 0)) ec::pad_backward(dx, dout(s, node).ptr(), batched(node.pad, s.batch));
}

void bias_add_forward(const Graph& g, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::bias_add_forward(v.out.ptr(), v.x.ptr(), param_data(g, node.params[0]), v.count / v.x.shape.c(), v.x.shape.c());
}
void bias_add_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool want_params) {
    const Tensor& d = dout(s, node);
    if (const GradOut dx = input_grad_out(s, node, want_input, 0); dx.ptr) pass_gradient(dx, d.ptr(), d.numel());
    if (want_params) bias_add_backward_bias(param_grad(s, node, true, 0), d.ptr(), d.numel() / d.shape.c(), d.shape.c());
}

void relu_forward(const Graph&, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::relu_forward(v.out.ptr(), v.x.ptr(), v.count);
}
// Reads the activation's output (nn/activation.h), or its gate mask, so the pre-activation tensor need not be kept.
void relu_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    const GradOut dx = input_grad_out(s, node, want_input, 0);
    if (!dx.ptr) return;
    if (const GateMask open = recorded_gate_mask(s, node.output))
        return gate_mask_backward(dx.ptr, dout(s, node).ptr(), open, dout(s, node).numel(), dx.overwrite);
    ec::relu_backward(dx.ptr, dout(s, node).ptr(), s.values[size_t(node.output)].ptr(), dout(s, node).numel(), dx.overwrite);
}

void relu6_forward(const Graph&, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::relu6_forward(v.out.ptr(), v.x.ptr(), v.count);
}
void relu6_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    const GradOut dx = input_grad_out(s, node, want_input, 0);
    if (!dx.ptr) return;
    if (const GateMask open = recorded_gate_mask(s, node.output))
        return gate_mask_backward(dx.ptr, dout(s, node).ptr(), open, dout(s, node).numel(), dx.overwrite);
    ec::relu6_backward(dx.ptr, dout(s, node).ptr(), s.values[size_t(node.output)].ptr(), dout(s, node).numel(), dx.overwrite);
}

void add_forward(const Graph&, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::add_forward(v.out.ptr(), v.x.ptr(), s.values[size_t(node.inputs[1])].ptr(), v.count);
}
void add_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    const Tensor& d = dout(s, node);
    for (size_t k = 0; k < 2; ++k)  // the runner zero-fills an unwritten input read twice (add(x, x)) beforehand
        if (const GradOut dx = input_grad_out(s, node, want_input, k); dx.ptr) pass_gradient(dx, d.ptr(), d.numel());
}

void max_pool_forward(const Graph&, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::max_pool_forward(v.out.ptr(), v.x.ptr(), batched(node.pool, s.batch));
}
void max_pool_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    if (float* dx = input_grad(s, node, want_input, 0))
        ec::max_pool_backward(dx, dout(s, node).ptr(), s.values[size_t(node.inputs[0])].ptr(), batched(node.pool, s.batch));
}

void avg_pool_forward(const Graph&, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::avg_pool_forward(v.out.ptr(), v.x.ptr(), batched(node.pool, s.batch));
}
void avg_pool_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    if (float* dx = input_grad(s, node, want_input, 0)) ec::avg_pool_backward(dx, dout(s, node).ptr(), batched(node.pool, s.batch));
}

void global_avg_pool_forward(const Graph&, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::global_avg_pool_forward(v.out.ptr(), v.x.ptr(), s.batch, v.x.shape.h(), v.x.shape.w(), v.x.shape.c());
}
void global_avg_pool_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    const Shape& x = s.values[size_t(node.inputs[0])].shape;
    if (float* dx = input_grad(s, node, want_input, 0))
        ec::global_avg_pool_backward(dx, dout(s, node).ptr(), s.batch, x.h(), x.w(), x.c());
}

void fully_connected_forward(const Graph& g, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::fully_connected_forward(v.out.ptr(), v.x.ptr(), param_data(g, node.params[0]), param_data(g, node.params[1]), s.batch,
                            v.x.shape[1], v.out.shape[1]);
}
void fully_connected_backward(const Graph& g, Session& s, const Node& node, const std::vector<char>& want_input,
                              bool want_params) {
    const Tensor& x = s.values[size_t(node.inputs[0])];
    const int in_f = x.shape[1], out_f = dout(s, node).shape[1];
    if (float* dx = input_grad(s, node, want_input, 0))
        fully_connected_backward_input(dx, dout(s, node).ptr(), param_data(g, node.params[0]), s.batch, in_f, out_f);
    if (want_params)
        fully_connected_backward_params(param_grad(s, node, true, 0), param_grad(s, node, true, 1), dout(s, node).ptr(),
                                        x.ptr(), s.batch, in_f, out_f);
}

void reshape_forward(const Graph&, Session& s, const Node& node) {
    Io v = io(s, node);
    std::copy(v.x.data.begin(), v.x.data.end(), v.out.data.begin());
}
void reshape_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    if (const GradOut dx = input_grad_out(s, node, want_input, 0); dx.ptr)
        pass_gradient(dx, dout(s, node).ptr(), dout(s, node).numel());
}

// Concat takes up to kMaxConcatInputs inputs; the pointer and width lists are sized per node (no fixed arrays).
void concat_forward(const Graph&, Session& s, const Node& node) {
    std::vector<const float*> ins;
    std::vector<int> widths;
    for (int t : node.inputs) {
        ins.push_back(s.values[size_t(t)].ptr());
        widths.push_back(s.values[size_t(t)].shape.c());
    }
    Tensor& out = s.values[size_t(node.output)];
    ec::concat_forward(out.ptr(), ins.data(), widths.data(), int(ins.size()), out.numel() / out.shape.c());
}
void concat_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    std::vector<float*> dins;
    std::vector<int> widths;
    for (size_t k = 0; k < node.inputs.size(); ++k) {
        dins.push_back(input_grad(s, node, want_input, k));
        widths.push_back(s.values[size_t(node.inputs[k])].shape.c());
    }
    const Tensor& d = dout(s, node);
    ec::concat_backward(dins.data(), d.ptr(), widths.data(), int(dins.size()), d.numel() / d.shape.c());
}

void softmax_forward(const Graph&, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::softmax_forward(v.out.ptr(), v.x.ptr(), s.batch, v.x.shape[1]);
}
void softmax_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    if (float* dx = input_grad(s, node, want_input, 0))
        ec::softmax_backward(dx, dout(s, node).ptr(), s.values[size_t(node.output)].ptr(), s.batch,
                         s.values[size_t(node.inputs[0])].shape[1]);
}

void softmax_cross_entropy_forward(const Graph&, Session& s, const Node& node) {
    Io v = io(s, node);
    ec::softmax_cross_entropy_forward(v.out.ptr(), v.x.ptr(), s.values[size_t(node.inputs[1])].ptr(), s.batch, v.x.shape[1]);
}
// The target is data, not a learned quantity: only the logits get a gradient (the target's, if asked, is 0).
void softmax_cross_entropy_backward(const Graph&, Session& s, const Node& node, const std::vector<char>& want_input, bool) {
    input_grad(s, node, want_input, 1);  // zero-fills it when this node is its first writer
    const Tensor& x = s.values[size_t(node.inputs[0])];
    if (float* dx = input_grad(s, node, want_input, 0))
        ec::softmax_cross_entropy_backward(dx, dout(s, node).ptr(), x.ptr(), s.values[size_t(node.inputs[1])].ptr(), s.batch,
                                       x.shape[1]);
}

}  // namespace ec::ops
