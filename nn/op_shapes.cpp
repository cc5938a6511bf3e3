// The shape rule of every op (the op table's shape_rule): checks what only this op requires, resolves the
// node's geometry and returns the output shape at batch 1. The counts and ids were checked by add_node.
#include <algorithm>

#include "nn/op_impl.h"

namespace ec::ops {

void fail(const Node& node, const std::string& what) {
    throw Error(std::string("node '") + node.name + "' (" + op_name(node.op) + "): " + what);
}

namespace {

const Shape& input_shape(const Graph& g, const Node& node, size_t k) { return g.tensors[size_t(node.inputs[k])].shape; }

const Shape& check_rank4(const Graph& g, const Node& node, size_t k) {
    const Shape& s = input_shape(g, node, k);
    if (s.rank != 4) fail(node, "input '" + g.tensors[size_t(node.inputs[k])].name + "' " + s.str() + " is not 4-D (NHWC)");
    return s;
}

// Output size and leading padding of one spatial axis (TensorFlow's SAME/VALID, or explicit).
struct AxisPlan { int out, pad_before; };

AxisPlan plan_axis(const Node& node, const char* axis, int in, int kernel, int stride, int dilation, Padding::Kind kind,
                   int before, int after) {
    if (kernel < 1 || stride < 1 || dilation < 1)
        fail(node, std::string("kernel, stride and dilation along ") + axis + " must be >= 1");
    const int64_t effective = int64_t(kernel - 1) * dilation + 1;
    if (kind == Padding::Same) {
        int out = (in + stride - 1) / stride;
        int64_t total = std::max<int64_t>(int64_t(out - 1) * stride + effective - in, 0);
        return {out, int(total / 2)};
    }
    if (kind == Padding::Valid) before = after = 0;
    if (before < 0 || after < 0) fail(node, std::string("negative padding along ") + axis);
    int64_t padded = int64_t(in) + before + after;
    if (effective > padded)
        fail(node, std::string("kernel extent ") + std::to_string(effective) + " along " + axis +
                       " is larger than the padded input (" + std::to_string(padded) + ")");
    return {int((padded - effective) / stride + 1), before};
}

Shape pool_shape(const Graph& g, Node& node, const PoolOptions& opt) {
    const Shape in = check_rank4(g, node, 0);
    const Padding& p = opt.padding;
    AxisPlan ph = plan_axis(node, "height", in.h(), opt.kernel_h, opt.stride_h, 1, p.kind, p.top, p.bottom);
    AxisPlan pw = plan_axis(node, "width", in.w(), opt.kernel_w, opt.stride_w, 1, p.kind, p.left, p.right);
    node.pool = {1, in.h(), in.w(), in.c(), ph.out, pw.out, opt.kernel_h, opt.kernel_w,
                 opt.stride_h, opt.stride_w, ph.pad_before, pw.pad_before};
    return Shape{1, ph.out, pw.out, in.c()};
}

}  // namespace

Shape conv2d_shape(const Graph& g, Node& node, const NodeAttrs& attrs) {
    const Conv2DOptions& opt = attrs.conv;
    const Shape in = check_rank4(g, node, 0), f = g.params[size_t(node.params[0])].shape;
    const int bias = node.params[1];
    if (f.rank != 4) fail(node, "filter " + f.str() + " is not 4-D [kh,kw,in/groups,out]");
    if (opt.groups < 1 || in.c() % opt.groups || f[3] % opt.groups)
        fail(node, "groups " + std::to_string(opt.groups) + " do not divide input " + in.str() + " and filter " + f.str());
    if (f[2] * opt.groups != in.c())
        fail(node, "input " + in.str() + " has " + std::to_string(in.c()) + " channels but filter " + f.str() + " with " +
                       std::to_string(opt.groups) + " group(s) expects " + std::to_string(f[2] * opt.groups));
    if (bias >= 0 && g.params[size_t(bias)].shape != Shape{f[3]})
        fail(node, "bias " + g.params[size_t(bias)].shape.str() + " does not match filter " + f.str());
    const Padding& p = opt.padding;
    AxisPlan ph = plan_axis(node, "height", in.h(), f[0], opt.stride_h, opt.dilation_h, p.kind, p.top, p.bottom);
    AxisPlan pw = plan_axis(node, "width", in.w(), f[1], opt.stride_w, opt.dilation_w, p.kind, p.left, p.right);
    ConvGeometry& c = node.conv;
    c.in_h = in.h(); c.in_w = in.w(); c.in_c = in.c();
    c.out_h = ph.out; c.out_w = pw.out; c.out_c = f[3];
    c.kernel_h = f[0]; c.kernel_w = f[1];
    c.stride_h = opt.stride_h; c.stride_w = opt.stride_w;
    c.dilation_h = opt.dilation_h; c.dilation_w = opt.dilation_w;
    c.pad_top = ph.pad_before; c.pad_left = pw.pad_before;
    c.groups = opt.groups;
    return Shape{1, c.out_h, c.out_w, c.out_c};
}

Shape pad_shape(const Graph& g, Node& node, const NodeAttrs& a) {
    const Shape in = check_rank4(g, node, 0);
    if (a.pad_top < 0 || a.pad_bottom < 0 || a.pad_left < 0 || a.pad_right < 0) fail(node, "negative padding");
    node.pad = {1, in.h(), in.w(), in.c(), a.pad_top, a.pad_bottom, a.pad_left, a.pad_right};
    return Shape{1, in.h() + a.pad_top + a.pad_bottom, in.w() + a.pad_left + a.pad_right, in.c()};
}

Shape bias_add_shape(const Graph& g, Node& node, const NodeAttrs&) {
    const Shape in = input_shape(g, node, 0);
    const Shape& b = g.params[size_t(node.params[0])].shape;
    if (b != Shape{in.c()}) fail(node, "bias " + b.str() + " does not match the last dimension of input " + in.str());
    return in;
}

Shape relu_shape(const Graph& g, Node& node, const NodeAttrs&) { return input_shape(g, node, 0); }
Shape relu6_shape(const Graph& g, Node& node, const NodeAttrs&) { return input_shape(g, node, 0); }

Shape add_shape(const Graph& g, Node& node, const NodeAttrs&) {
    const Shape a = input_shape(g, node, 0), b = input_shape(g, node, 1);
    if (a != b) fail(node, "inputs have different shapes " + a.str() + " and " + b.str());
    return a;
}

Shape max_pool_shape(const Graph& g, Node& node, const NodeAttrs& attrs) { return pool_shape(g, node, attrs.pool); }
Shape avg_pool_shape(const Graph& g, Node& node, const NodeAttrs& attrs) { return pool_shape(g, node, attrs.pool); }

Shape global_avg_pool_shape(const Graph& g, Node& node, const NodeAttrs&) {
    return Shape{1, 1, 1, check_rank4(g, node, 0).c()};
}

Shape fully_connected_shape(const Graph& g, Node& node, const NodeAttrs&) {
    const Shape in = input_shape(g, node, 0), w = g.params[size_t(node.params[0])].shape;
    const int bias = node.params[1];
    if (in.rank != 2) fail(node, "input " + in.str() + " is not 2-D [N, features] (reshape it first)");
    if (w.rank != 2 || w[0] != in[1])
        fail(node, "weight " + w.str() + " does not match input " + in.str() + " (expected [" + std::to_string(in[1]) + ", out])");
    if (bias >= 0 && g.params[size_t(bias)].shape != Shape{w[1]})
        fail(node, "bias " + g.params[size_t(bias)].shape.str() + " does not match weight " + w.str());
    return Shape{1, w[1]};
}

Shape reshape_shape(const Graph& g, Node& node, const NodeAttrs& attrs) {
    const Shape& shape = attrs.shape;
    if (shape.rank < 1 || shape[0] != 1) fail(node, "target shape " + shape.str() + " must keep batch 1 in dimension 0");
    if (shape.numel() != input_shape(g, node, 0).numel())
        fail(node, "cannot reshape " + input_shape(g, node, 0).str() + " to " + shape.str());
    return shape;
}

Shape concat_shape(const Graph& g, Node& node, const NodeAttrs&) {
    Shape out = input_shape(g, node, 0);
    int64_t channels = 0;
    for (size_t k = 0; k < node.inputs.size(); ++k) {
        const Shape s = input_shape(g, node, k);
        Shape a = s, b = out;
        a[s.rank - 1] = b[out.rank - 1] = 0;
        if (a != b) fail(node, "inputs " + out.str() + " and " + s.str() + " differ in more than the last dimension");
        channels += s[s.rank - 1];
    }
    if (channels > kMaxTensorElements) fail(node, "the inputs add up to " + std::to_string(channels) + " channels");
    out[out.rank - 1] = int(channels);
    return out;
}

Shape softmax_shape(const Graph& g, Node& node, const NodeAttrs&) {
    const Shape in = input_shape(g, node, 0);
    if (in.rank != 2) fail(node, "input " + in.str() + " is not 2-D [N, classes]");
    return in;
}

Shape softmax_cross_entropy_shape(const Graph& g, Node& node, const NodeAttrs&) {
    const Shape l = input_shape(g, node, 0), t = input_shape(g, node, 1);
    if (l.rank != 2 || l != t) fail(node, "logits " + l.str() + " and target " + t.str() + " must both be [N, classes]");
    return Shape{1};
}

}  // namespace ec::ops
