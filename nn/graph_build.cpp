// Building a graph: every node goes through add_node, which checks it against its row of the op table
// (nn/op_table.h) and runs the op's shape rule, once, so the run loops need no checks.
#include <algorithm>

#include "nn/graph.h"
#include "nn/op_impl.h"
#include "nn/op_table.h"

namespace ec {

float* Param::mutable_data() {
    if (external) throw Error("parameter '" + name + "' is mapped read-only from a weight file and cannot be trained");
    ++version;
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

int add_tensor(Graph& g, const std::string& name, const Shape& shape, int producer) {
    if (name.empty()) throw Error("a tensor needs a name");
    if (g.find_tensor(name) >= 0) throw Error("tensor name '" + name + "' is used twice");
    shape.numel();  // throws on negative dimensions or overflow
    g.tensors.push_back({name, shape, producer});
    return int(g.tensors.size()) - 1;
}

std::string count_of(size_t n, const char* item) { return std::to_string(n) + " " + item + (n == 1 ? "" : "s"); }

// The counts and ids of a node against its row of the op table.
void check_arity(const Graph& g, const OpDef& def, const Node& node) {
    const size_t in = node.inputs.size();
    if (in > size_t(def.max_inputs) && def.min_inputs != def.max_inputs)
        ops::fail(node, "has " + std::to_string(in) + " inputs, more than the limit of " + std::to_string(def.max_inputs) +
                            (def.kind == OpKind::Concat ? " (kMaxConcatInputs)" : ""));
    if (in < size_t(def.min_inputs) && def.min_inputs != def.max_inputs)
        ops::fail(node, "needs at least " + std::string(def.min_inputs == 1 ? "one input" : count_of(size_t(def.min_inputs), "input")));
    if (in != size_t(def.min_inputs) && def.min_inputs == def.max_inputs)
        ops::fail(node, "takes " + count_of(size_t(def.min_inputs), "input") + ", given " + std::to_string(in));
    if (node.params.size() != size_t(def.param_slots))
        ops::fail(node, "takes " + count_of(size_t(def.param_slots), "parameter") + ", given " + std::to_string(node.params.size()));
    for (int t : node.inputs)
        if (t < 0 || size_t(t) >= g.tensors.size()) ops::fail(node, "input tensor id " + std::to_string(t) + " does not exist");
    for (size_t k = 0; k < node.params.size(); ++k) {
        const int p = node.params[k];
        if (p == -1 && k >= size_t(def.required_params)) continue;  // an absent optional parameter
        if (p < 0 || size_t(p) >= g.params.size()) ops::fail(node, "parameter id " + std::to_string(p) + " does not exist");
    }
}

}  // namespace

int add_node(Graph& g, OpKind op, const std::string& name, std::vector<int> inputs, std::vector<int> params,
             const NodeAttrs& attrs) {
    const OpDef& def = op_def(op);
    Node node;
    node.op = op;
    node.name = name;
    node.inputs = std::move(inputs);
    node.params = std::move(params);
    check_arity(g, def, node);
    const Shape out = def.shape_rule(g, node, attrs);
    for (int d = 0; d < out.rank; ++d)
        if (out.dim[d] <= 0) ops::fail(node, "output shape " + out.str() + " is empty");
    node.output = add_tensor(g, node.name, out, int(g.nodes.size()));
    g.nodes.push_back(std::move(node));
    return g.nodes.back().output;
}

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
    p.owned.assign(values.begin(), values.end());
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

// ---- The named build functions of nn/graph.h: each fills in its op's attributes. ----

int conv2d(Graph& g, const std::string& name, int x, int filter, int bias, const Conv2DOptions& opt) {
    NodeAttrs a;
    a.conv = opt;
    return add_node(g, OpKind::Conv2D, name, {x}, {filter, bias}, a);
}

int pad(Graph& g, const std::string& name, int x, int top, int bottom, int left, int right) {
    NodeAttrs a;
    a.pad_top = top; a.pad_bottom = bottom; a.pad_left = left; a.pad_right = right;
    return add_node(g, OpKind::Pad, name, {x}, {}, a);
}

int bias_add(Graph& g, const std::string& name, int x, int bias) { return add_node(g, OpKind::BiasAdd, name, {x}, {bias}, {}); }
int relu(Graph& g, const std::string& name, int x) { return add_node(g, OpKind::Relu, name, {x}, {}, {}); }
int relu6(Graph& g, const std::string& name, int x) { return add_node(g, OpKind::Relu6, name, {x}, {}, {}); }
int add(Graph& g, const std::string& name, int a, int b) { return add_node(g, OpKind::Add, name, {a, b}, {}, {}); }

int max_pool(Graph& g, const std::string& name, int x, const PoolOptions& opt) {
    NodeAttrs a;
    a.pool = opt;
    return add_node(g, OpKind::MaxPool, name, {x}, {}, a);
}

int avg_pool(Graph& g, const std::string& name, int x, const PoolOptions& opt) {
    NodeAttrs a;
    a.pool = opt;
    return add_node(g, OpKind::AvgPool, name, {x}, {}, a);
}

int global_avg_pool(Graph& g, const std::string& name, int x) { return add_node(g, OpKind::GlobalAvgPool, name, {x}, {}, {}); }

int fully_connected(Graph& g, const std::string& name, int x, int weight, int bias) {
    return add_node(g, OpKind::FullyConnected, name, {x}, {weight, bias}, {});
}

int reshape(Graph& g, const std::string& name, int x, const Shape& shape) {
    NodeAttrs a;
    a.shape = shape;
    return add_node(g, OpKind::Reshape, name, {x}, {}, a);
}

int concat(Graph& g, const std::string& name, const std::vector<int>& xs) { return add_node(g, OpKind::Concat, name, xs, {}, {}); }
int softmax(Graph& g, const std::string& name, int x) { return add_node(g, OpKind::Softmax, name, {x}, {}, {}); }

int softmax_cross_entropy(Graph& g, const std::string& name, int logits, int target) {
    return add_node(g, OpKind::SoftmaxCrossEntropy, name, {logits, target}, {}, {});
}

}  // namespace ec
