// Building a graph: every shape is checked here, once, so the run loops need no checks.
#include <algorithm>

#include "nn/graph.h"

namespace ec {

const char* op_name(OpKind op) {
    switch (op) {
        case OpKind::Conv2D: return "Conv2D";
        case OpKind::Pad: return "Pad";
        case OpKind::BiasAdd: return "BiasAdd";
        case OpKind::Relu: return "Relu";
        case OpKind::Relu6: return "Relu6";
        case OpKind::Add: return "Add";
        case OpKind::MaxPool: return "MaxPool";
        case OpKind::AvgPool: return "AvgPool";
        case OpKind::GlobalAvgPool: return "GlobalAvgPool";
        case OpKind::FullyConnected: return "FullyConnected";
        case OpKind::Reshape: return "Reshape";
        case OpKind::Concat: return "Concat";
        case OpKind::Softmax: return "Softmax";
        case OpKind::SoftmaxCrossEntropy: return "SoftmaxCrossEntropy";
    }
    return "?";
}

float* Param::mutable_data() {
    if (external) throw Error("parameter '" + name + "' is mapped read-only from a weight file and cannot be trained");
    return owned.data();
}

int Graph::find_tensor(const std::string& name) const {
    for (size_t i = 0; i < tensors.size(); ++i)
        if (tensors[i].name == name) return int(i);
    return -1;
}

int Graph::tensor(const std::string& name) const {
    int t = find_tensor(name);
    if (t < 0) throw Error("no tensor named '" + name + "' in the graph");
    return t;
}

int Graph::find_param(const std::string& name) const {
    for (size_t i = 0; i < params.size(); ++i)
        if (params[i].name == name) return int(i);
    return -1;
}

namespace {

[[noreturn]] void fail(const std::string& node, OpKind op, const std::string& what) {
    throw Error(std::string("node '") + node + "' (" + op_name(op) + "): " + what);
}

void check_tensor_id(const Graph& g, const std::string& node, OpKind op, int t) {
    if (t < 0 || size_t(t) >= g.tensors.size()) fail(node, op, "input tensor id " + std::to_string(t) + " does not exist");
}

void check_param_id(const Graph& g, const std::string& node, OpKind op, int p, bool optional) {
    if (optional && p == -1) return;
    if (p < 0 || size_t(p) >= g.params.size()) fail(node, op, "parameter id " + std::to_string(p) + " does not exist");
}

void check_rank4(const Graph& g, const std::string& node, OpKind op, int t) {
    const Shape& s = g.tensors[t].shape;
    if (s.rank != 4) fail(node, op, "input '" + g.tensors[t].name + "' " + s.str() + " is not 4-D (NHWC)");
}

int add_tensor(Graph& g, const std::string& name, const Shape& shape, int producer) {
    if (name.empty()) throw Error("a tensor needs a name");
    if (g.find_tensor(name) >= 0) throw Error("tensor name '" + name + "' is used twice");
    shape.numel();  // throws on negative dimensions or overflow
    g.tensors.push_back({name, shape, producer});
    return int(g.tensors.size()) - 1;
}

Node make_node(OpKind op, const std::string& name, std::vector<int> inputs, std::vector<int> params) {
    Node n;
    n.op = op;
    n.name = name;
    n.inputs = std::move(inputs);
    n.params = std::move(params);
    return n;
}

int add_node(Graph& g, Node node, const Shape& out_shape) {
    for (int d = 0; d < out_shape.rank; ++d)
        if (out_shape.dim[d] <= 0) fail(node.name, node.op, "output shape " + out_shape.str() + " is empty");
    node.output = add_tensor(g, node.name, out_shape, int(g.nodes.size()));
    g.nodes.push_back(std::move(node));
    return g.nodes.back().output;
}

// Output size and leading padding of one spatial axis (TensorFlow's SAME/VALID, or explicit).
struct AxisPlan { int out, pad_before; };

AxisPlan plan_axis(const std::string& node, OpKind op, const char* axis, int in, int kernel, int stride, int dilation,
                   Padding::Kind kind, int before, int after) {
    if (kernel < 1 || stride < 1 || dilation < 1)
        fail(node, op, std::string("kernel, stride and dilation along ") + axis + " must be >= 1");
    const int64_t effective = int64_t(kernel - 1) * dilation + 1;
    if (kind == Padding::Same) {
        int out = (in + stride - 1) / stride;
        int64_t total = std::max<int64_t>(int64_t(out - 1) * stride + effective - in, 0);
        return {out, int(total / 2)};
    }
    if (kind == Padding::Valid) before = after = 0;
    if (before < 0 || after < 0) fail(node, op, std::string("negative padding along ") + axis);
    int64_t padded = int64_t(in) + before + after;
    if (effective > padded)
        fail(node, op, std::string("kernel extent ") + std::to_string(effective) + " along " + axis +
                           " is larger than the padded input (" + std::to_string(padded) + ")");
    return {int((padded - effective) / stride + 1), before};
}

}  // namespace

int add_input(Graph& g, const std::string& name, const Shape& shape) {
    if (shape.rank < 1 || shape.dim[0] != 1) throw Error("input '" + name + "' must be built with batch 1, got " + shape.str());
    int t = add_tensor(g, name, shape, -1);
    g.inputs.push_back(t);
    return t;
}

int add_param(Graph& g, const std::string& name, const Shape& shape, std::vector<float> values) {
    if (int64_t(values.size()) != shape.numel())
        throw Error("parameter '" + name + "' of shape " + shape.str() + " given " + std::to_string(values.size()) + " values");
    Param p;
    p.name = name;
    p.shape = shape;
    p.owned = std::move(values);
    g.params.push_back(std::move(p));
    return int(g.params.size()) - 1;
}

int add_param_external(Graph& g, const std::string& name, const Shape& shape, const float* values) {
    shape.numel();
    Param p;
    p.name = name;
    p.shape = shape;
    p.external = values;
    g.params.push_back(std::move(p));
    return int(g.params.size()) - 1;
}

int conv2d(Graph& g, const std::string& name, int x, int filter, int bias, const Conv2DOptions& opt) {
    const OpKind op = OpKind::Conv2D;
    check_tensor_id(g, name, op, x);
    check_param_id(g, name, op, filter, false);
    check_param_id(g, name, op, bias, true);
    check_rank4(g, name, op, x);
    const Shape in = g.tensors[x].shape, f = g.params[filter].shape;
    if (f.rank != 4) fail(name, op, "filter " + f.str() + " is not 4-D [kh,kw,in/groups,out]");
    if (opt.groups < 1 || in.c() % opt.groups || f[3] % opt.groups)
        fail(name, op, "groups " + std::to_string(opt.groups) + " do not divide input " + in.str() + " and filter " + f.str());
    if (f[2] * opt.groups != in.c())
        fail(name, op, "input " + in.str() + " has " + std::to_string(in.c()) + " channels but filter " + f.str() +
                           " with " + std::to_string(opt.groups) + " group(s) expects " + std::to_string(f[2] * opt.groups));
    if (bias >= 0 && g.params[bias].shape != Shape{f[3]})
        fail(name, op, "bias " + g.params[bias].shape.str() + " does not match filter " + f.str());
    const Padding& p = opt.padding;
    AxisPlan ph = plan_axis(name, op, "height", in.h(), f[0], opt.stride_h, opt.dilation_h, p.kind, p.top, p.bottom);
    AxisPlan pw = plan_axis(name, op, "width", in.w(), f[1], opt.stride_w, opt.dilation_w, p.kind, p.left, p.right);
    Node n = make_node(op, name, {x}, {filter, bias});
    ConvGeometry& c = n.conv;
    c.in_h = in.h(); c.in_w = in.w(); c.in_c = in.c();
    c.out_h = ph.out; c.out_w = pw.out; c.out_c = f[3];
    c.kernel_h = f[0]; c.kernel_w = f[1];
    c.stride_h = opt.stride_h; c.stride_w = opt.stride_w;
    c.dilation_h = opt.dilation_h; c.dilation_w = opt.dilation_w;
    c.pad_top = ph.pad_before; c.pad_left = pw.pad_before;
    c.groups = opt.groups;
    return add_node(g, std::move(n), Shape{1, c.out_h, c.out_w, c.out_c});
}

int pad(Graph& g, const std::string& name, int x, int top, int bottom, int left, int right) {
    const OpKind op = OpKind::Pad;
    check_tensor_id(g, name, op, x);
    check_rank4(g, name, op, x);
    if (top < 0 || bottom < 0 || left < 0 || right < 0) fail(name, op, "negative padding");
    const Shape in = g.tensors[x].shape;
    Node n = make_node(op, name, {x}, {});
    n.pad = {1, in.h(), in.w(), in.c(), top, bottom, left, right};
    return add_node(g, std::move(n), Shape{1, in.h() + top + bottom, in.w() + left + right, in.c()});
}

int bias_add(Graph& g, const std::string& name, int x, int bias) {
    const OpKind op = OpKind::BiasAdd;
    check_tensor_id(g, name, op, x);
    check_param_id(g, name, op, bias, false);
    const Shape in = g.tensors[x].shape;
    if (g.params[bias].shape != Shape{in.c()})
        fail(name, op, "bias " + g.params[bias].shape.str() + " does not match the last dimension of input " + in.str());
    return add_node(g, make_node(op, name, {x}, {bias}), in);
}

static int unary(Graph& g, OpKind op, const std::string& name, int x) {
    check_tensor_id(g, name, op, x);
    return add_node(g, make_node(op, name, {x}, {}), g.tensors[x].shape);
}
int relu(Graph& g, const std::string& name, int x) { return unary(g, OpKind::Relu, name, x); }
int relu6(Graph& g, const std::string& name, int x) { return unary(g, OpKind::Relu6, name, x); }

int add(Graph& g, const std::string& name, int a, int b) {
    const OpKind op = OpKind::Add;
    check_tensor_id(g, name, op, a);
    check_tensor_id(g, name, op, b);
    if (g.tensors[a].shape != g.tensors[b].shape)
        fail(name, op, "inputs have different shapes " + g.tensors[a].shape.str() + " and " + g.tensors[b].shape.str());
    return add_node(g, make_node(op, name, {a, b}, {}), g.tensors[a].shape);
}

static int pool(Graph& g, OpKind op, const std::string& name, int x, const PoolOptions& opt) {
    check_tensor_id(g, name, op, x);
    check_rank4(g, name, op, x);
    const Shape in = g.tensors[x].shape;
    const Padding& p = opt.padding;
    AxisPlan ph = plan_axis(name, op, "height", in.h(), opt.kernel_h, opt.stride_h, 1, p.kind, p.top, p.bottom);
    AxisPlan pw = plan_axis(name, op, "width", in.w(), opt.kernel_w, opt.stride_w, 1, p.kind, p.left, p.right);
    Node n = make_node(op, name, {x}, {});
    n.pool = {1, in.h(), in.w(), in.c(), ph.out, pw.out, opt.kernel_h, opt.kernel_w,
              opt.stride_h, opt.stride_w, ph.pad_before, pw.pad_before};
    return add_node(g, std::move(n), Shape{1, ph.out, pw.out, in.c()});
}
int max_pool(Graph& g, const std::string& name, int x, const PoolOptions& opt) { return pool(g, OpKind::MaxPool, name, x, opt); }
int avg_pool(Graph& g, const std::string& name, int x, const PoolOptions& opt) { return pool(g, OpKind::AvgPool, name, x, opt); }

int global_avg_pool(Graph& g, const std::string& name, int x) {
    const OpKind op = OpKind::GlobalAvgPool;
    check_tensor_id(g, name, op, x);
    check_rank4(g, name, op, x);
    return add_node(g, make_node(op, name, {x}, {}), Shape{1, 1, 1, g.tensors[x].shape.c()});
}

int fully_connected(Graph& g, const std::string& name, int x, int weight, int bias) {
    const OpKind op = OpKind::FullyConnected;
    check_tensor_id(g, name, op, x);
    check_param_id(g, name, op, weight, false);
    check_param_id(g, name, op, bias, true);
    const Shape in = g.tensors[x].shape, w = g.params[weight].shape;
    if (in.rank != 2) fail(name, op, "input " + in.str() + " is not 2-D [N, features] (reshape it first)");
    if (w.rank != 2 || w[0] != in[1])
        fail(name, op, "weight " + w.str() + " does not match input " + in.str() + " (expected [" + std::to_string(in[1]) + ", out])");
    if (bias >= 0 && g.params[bias].shape != Shape{w[1]})
        fail(name, op, "bias " + g.params[bias].shape.str() + " does not match weight " + w.str());
    return add_node(g, make_node(op, name, {x}, {weight, bias}), Shape{1, w[1]});
}

int reshape(Graph& g, const std::string& name, int x, const Shape& shape) {
    const OpKind op = OpKind::Reshape;
    check_tensor_id(g, name, op, x);
    if (shape.rank < 1 || shape[0] != 1) fail(name, op, "target shape " + shape.str() + " must keep batch 1 in dimension 0");
    if (shape.numel() != g.tensors[x].shape.numel())
        fail(name, op, "cannot reshape " + g.tensors[x].shape.str() + " to " + shape.str());
    return add_node(g, make_node(op, name, {x}, {}), shape);
}

int concat(Graph& g, const std::string& name, const std::vector<int>& xs) {
    const OpKind op = OpKind::Concat;
    if (xs.empty()) fail(name, op, "needs at least one input");
    for (int x : xs) check_tensor_id(g, name, op, x);
    Shape out = g.tensors[xs[0]].shape;
    int channels = 0;
    for (int x : xs) {
        Shape s = g.tensors[x].shape;
        Shape a = s, b = out;
        a[s.rank - 1] = b[out.rank - 1] = 0;
        if (a != b) fail(name, op, "inputs " + out.str() + " and " + s.str() + " differ in more than the last dimension");
        channels += s.c();
    }
    out[out.rank - 1] = channels;
    return add_node(g, make_node(op, name, xs, {}), out);
}

int softmax(Graph& g, const std::string& name, int x) {
    check_tensor_id(g, name, OpKind::Softmax, x);
    if (g.tensors[x].shape.rank != 2) fail(name, OpKind::Softmax, "input " + g.tensors[x].shape.str() + " is not 2-D [N, classes]");
    return unary(g, OpKind::Softmax, name, x);
}

int softmax_cross_entropy(Graph& g, const std::string& name, int logits, int target) {
    const OpKind op = OpKind::SoftmaxCrossEntropy;
    check_tensor_id(g, name, op, logits);
    check_tensor_id(g, name, op, target);
    const Shape l = g.tensors[logits].shape, t = g.tensors[target].shape;
    if (l.rank != 2 || l != t) fail(name, op, "logits " + l.str() + " and target " + t.str() + " must both be [N, classes]");
    return add_node(g, make_node(op, name, {logits, target}, {}), Shape{1});
}

}  // namespace ec
