// TFLite -> ec::Model (see tflite_import.h for the conversion rules).
#include "weights/tflite_import.h"

#include <map>
#include <utility>

#include "nn/file_util.h"
#include "weights/labels.h"
#include "weights/format.h"

namespace ec {

using tflite::Operator;

std::string tflite_short_name(const std::string& tflite_name, int index) {
    std::string s = tflite_name.substr(0, tflite_name.find(';'));
    return s.empty() ? "tensor_" + std::to_string(index) : s;
}

namespace {

struct Importer {
    const tflite::Model& m;
    const uint8_t* file;
    size_t size;
    std::string what;
    Graph g;
    std::vector<int> graph_tensor;      // TFLite tensor -> ec tensor id, -1 until produced
    std::vector<int> constant_source;   // TFLite tensor -> the tensor holding its data (through (DE)QUANTIZE)
    std::map<std::pair<int, int>, int> param_of;  // (TFLite tensor, layout) -> param id

    enum Layout { kAsIs, kConvFilter, kDepthwiseFilter, kTransposed };

    [[noreturn]] void fail(size_t op_index, const std::string& problem) const {
        const Operator& op = m.operators[op_index];
        std::string out = op.outputs.empty() ? "" : " -> '" + tflite_short_name(m.tensors[size_t(op.outputs[0])].name, op.outputs[0]) + "'";
        throw Error(what + ": operator " + std::to_string(op_index) + " (" + tflite::op_label(op.op) + out + "): " + problem);
    }

    const tflite::Tensor& tt(int index) const { return m.tensors[size_t(index)]; }
    bool is_constant(int index) const { return m.buffers[tt(constant_source[size_t(index)]).buffer].size > 0; }

    // The ec tensor of an activation input (an earlier op's output or the graph input).
    int activation(size_t op_index, int index) const {
        if (index < 0) fail(op_index, "a required input is absent");
        if (graph_tensor[size_t(index)] < 0)
            fail(op_index, "input '" + tflite_short_name(tt(index).name, index) + "' is " +
                               (is_constant(index) ? "a constant (only activations are supported here)" : "not produced by an earlier operator"));
        return graph_tensor[size_t(index)];
    }

    // Input k, which may not be the "absent" index -1 (a filter or weight: param() returns -1 for absent ones).
    int required_input(size_t op_index, size_t k) const {
        const int index = input_at(op_index, k);
        if (index < 0) fail(op_index, "required input " + std::to_string(k) + " is absent");
        return index;
    }

    int input_at(size_t op_index, size_t k) const {
        const Operator& op = m.operators[op_index];
        if (k >= op.inputs.size()) fail(op_index, "has " + std::to_string(op.inputs.size()) + " inputs, needs at least " + std::to_string(k + 1));
        return op.inputs[k];
    }

    // A unique name for a new activation tensor derived from TFLite tensor `index`.
    std::string activation_name(int index, const std::string& suffix = "") const {
        std::string name = tflite_short_name(tt(index).name, index) + suffix;
        if (g.find_tensor(name) >= 0) name += "#" + std::to_string(index);
        return name;
    }

    Shape activation_shape(size_t op_index, int index) const {
        const tflite::Tensor& t = tt(index);
        if (t.shape.empty() || t.shape.size() > size_t(kMaxRank))
            fail(op_index, "tensor '" + tflite_short_name(t.name, index) + "' has rank " + std::to_string(t.shape.size()) + " (1 to 4 supported)");
        Shape s;
        s.rank = int(t.shape.size());
        for (int d = 0; d < s.rank; ++d) s.dim[d] = t.shape[size_t(d)];
        if (s.dim[0] != 1) fail(op_index, "tensor '" + tflite_short_name(t.name, index) + "' " + s.str() + " does not have batch 1 in dimension 0");
        return s;
    }

    // A parameter made from constant tensor `index` in the given layout (shared when used twice the same way).
    int param(size_t op_index, int index, Layout layout) {
        if (index < 0) return -1;
        const int src = constant_source[size_t(index)];
        auto key = std::make_pair(src, int(layout));
        auto it = param_of.find(key);
        if (it != param_of.end()) return it->second;
        if (!is_constant(index)) fail(op_index, "weight '" + tflite_short_name(tt(index).name, index) + "' is not a constant");
        const tflite::Tensor& t = tt(src);
        std::vector<float> v = dequantize_constant(m, src, file, size, what);
        const std::vector<int>& s = t.shape;
        Shape shape;
        if (layout == kConvFilter || layout == kDepthwiseFilter) {
            if (s.size() != 4) fail(op_index, "filter '" + tflite_short_name(t.name, src) + "' is not 4-D");
            if (layout == kConvFilter) {
                v = ohwi_to_hwio(v, s[0], s[1], s[2], s[3]);
                shape = Shape{s[1], s[2], s[3], s[0]};
            } else {
                if (s[0] != 1) fail(op_index, "depthwise filter '" + tflite_short_name(t.name, src) + "' does not start with 1");
                shape = Shape{s[1], s[2], 1, s[3]};  // [1,kh,kw,C*m] and [kh,kw,1,C*m] share one memory order
            }
        } else if (layout == kTransposed) {
            if (s.size() != 2) fail(op_index, "weight '" + tflite_short_name(t.name, src) + "' is not 2-D [out, in]");
            v = transpose_2d(v, s[0], s[1]);
            shape = Shape{s[1], s[0]};
        } else {
            if (s.size() != 1) fail(op_index, "bias '" + tflite_short_name(t.name, src) + "' is not 1-D");
            shape = Shape{s[0]};
        }
        std::string name = tflite_short_name(t.name, src);
        if (g.find_param(name) >= 0) name += "#" + std::to_string(src);
        const int id = add_param(g, name, shape, std::move(v));
        param_of[key] = id;
        return id;
    }

    std::vector<int64_t> int_constant(size_t op_index, int index) const {
        if (index < 0 || !is_constant(index)) fail(op_index, "needs a constant integer input");
        const int src = constant_source[size_t(index)];
        const int type = tt(src).type;
        if (type != tflite::INT32 && type != tflite::INT64) fail(op_index, "integer input is not INT32/INT64");
        return integer_constant(m, src, file, size, what);
    }

    Padding padding(size_t op_index, int p) const {
        if (p == 0) return Padding{Padding::Same};
        if (p == 1) return Padding{Padding::Valid};
        fail(op_index, "unknown padding " + std::to_string(p));
    }

    // Builds a node producing TFLite tensor `out` with fused activation `act`: build(name) makes the node.
    template <typename Build>
    void with_activation(size_t op_index, int out, int act, Build build) {
        const std::string name = activation_name(out);
        int id;
        if (act == tflite::ACT_NONE) {
            id = build(name);
        } else if (act == tflite::ACT_RELU || act == tflite::ACT_RELU6) {
            std::string pre = name + "/pre_activation";
            if (g.find_tensor(pre) >= 0) pre += "#" + std::to_string(out);
            const int x = build(pre);
            id = act == tflite::ACT_RELU ? relu(g, name, x) : relu6(g, name, x);
        } else {
            fail(op_index, "fused activation " + std::to_string(act) + " is not supported (only NONE, RELU, RELU6)");
        }
        graph_tensor[size_t(out)] = id;
    }

    // One function per supported TFLite op (kTfliteOps below); each makes the nodes for operator k, whose one
    // output is TFLite tensor `out`, and records the ec tensor of `out` in graph_tensor.
    void import_alias(size_t k, int out);
    void import_conv(size_t k, int out);
    void import_fully_connected(size_t k, int out);
    void import_add(size_t k, int out);
    void import_pool(size_t k, int out);
    void import_concatenation(size_t k, int out);
    void import_mean(size_t k, int out);
    void import_reshape(size_t k, int out);
    void import_pad(size_t k, int out);
    void import_softmax(size_t k, int out);
    void import_relu(size_t k, int out);
    void import_op(size_t k);
    Model run(const std::string& model_name, std::vector<std::string> labels);
};

// QUANTIZE / DEQUANTIZE: a no-op in float, so the output aliases the input (a constant stays a constant).
void Importer::import_alias(size_t k, int out) {
    const int in = input_at(k, 0);
    if (in < 0) fail(k, "a required input is absent");
    if (is_constant(in)) constant_source[size_t(out)] = constant_source[size_t(in)];
    else graph_tensor[size_t(out)] = activation(k, in);
}

void Importer::import_conv(size_t k, int out) {
    const Operator& op = m.operators[k];
    const tflite::Options& o = op.options;
    const bool depthwise = op.op == tflite::DEPTHWISE_CONV_2D;
    const int x = activation(k, input_at(k, 0));
    const int filter = param(k, required_input(k, 1), depthwise ? kDepthwiseFilter : kConvFilter);
    const int bias = op.inputs.size() > 2 ? param(k, op.inputs[2], kAsIs) : -1;
    Conv2DOptions c;
    c.stride_h = o.stride_h; c.stride_w = o.stride_w;
    c.dilation_h = o.dilation_h; c.dilation_w = o.dilation_w;
    c.padding = padding(k, o.padding);
    const int in_c = g.tensors[size_t(x)].shape.c(), f_in = g.params[size_t(filter)].shape[2];
    // Depthwise: one group per input channel. Plain conv: grouped when the filter sees fewer channels.
    c.groups = depthwise ? in_c : (f_in > 0 && in_c % f_in == 0 ? in_c / f_in : 1);
    with_activation(k, out, o.activation, [&](const std::string& name) { return conv2d(g, name, x, filter, bias, c); });
}

void Importer::import_fully_connected(size_t k, int out) {
    const Operator& op = m.operators[k];
    if (op.options.weights_format != 0) fail(k, "shuffled weights format is not supported");
    int x = activation(k, input_at(k, 0));
    const int weight = param(k, required_input(k, 1), kTransposed);
    const int bias = op.inputs.size() > 2 ? param(k, op.inputs[2], kAsIs) : -1;
    const Shape out_shape = activation_shape(k, out);
    if (out_shape.rank != 2) fail(k, "output " + out_shape.str() + " is not 2-D");
    if (g.tensors[size_t(x)].shape.rank != 2) {  // TFLite flattens the input to [batch, in]
        const int64_t n = g.tensors[size_t(x)].shape.numel();
        x = reshape(g, activation_name(out, "/flatten"), x, Shape{1, int(n)});
    }
    with_activation(k, out, op.options.activation,
                    [&](const std::string& name) { return fully_connected(g, name, x, weight, bias); });
}

void Importer::import_add(size_t k, int out) {
    const int a = activation(k, input_at(k, 0)), b = activation(k, input_at(k, 1));
    with_activation(k, out, m.operators[k].options.activation, [&](const std::string& name) { return add(g, name, a, b); });
}

void Importer::import_pool(size_t k, int out) {
    const Operator& op = m.operators[k];
    const tflite::Options& o = op.options;
    const int x = activation(k, input_at(k, 0));
    PoolOptions p;
    p.kernel_h = o.filter_h; p.kernel_w = o.filter_w;
    p.stride_h = o.stride_h; p.stride_w = o.stride_w;
    p.padding = padding(k, o.padding);
    const bool is_max = op.op == tflite::MAX_POOL_2D;
    with_activation(k, out, o.activation, [&](const std::string& name) {
        return is_max ? max_pool(g, name, x, p) : avg_pool(g, name, x, p);
    });
}

// The number of inputs is checked by the graph builder (kMaxConcatInputs, nn/op_table.h).
void Importer::import_concatenation(size_t k, int out) {
    const Operator& op = m.operators[k];
    std::vector<int> xs;
    for (size_t i = 0; i < op.inputs.size(); ++i) xs.push_back(activation(k, op.inputs[i]));
    if (xs.empty()) fail(k, "has no inputs");
    const int rank = g.tensors[size_t(xs[0])].shape.rank;
    if (op.options.axis != rank - 1 && op.options.axis != -1)
        fail(k, "concatenation along axis " + std::to_string(op.options.axis) + " (only the last axis is supported)");
    with_activation(k, out, op.options.activation, [&](const std::string& name) { return concat(g, name, xs); });
}

void Importer::import_mean(size_t k, int out) {
    const int x = activation(k, input_at(k, 0));
    if (g.tensors[size_t(x)].shape.rank != 4) fail(k, "MEAN of a tensor that is not 4-D");
    std::vector<int64_t> axes = int_constant(k, input_at(k, 1));
    for (int64_t& a : axes) if (a < 0) a += 4;
    const bool spatial = axes.size() == 2 && ((axes[0] == 1 && axes[1] == 2) || (axes[0] == 2 && axes[1] == 1));
    if (!spatial) fail(k, "MEAN is supported over axes {1,2} only");
    if (m.operators[k].options.keep_dims) {
        graph_tensor[size_t(out)] = global_avg_pool(g, activation_name(out), x);
    } else {
        const std::string name = activation_name(out);
        const int pooled = global_avg_pool(g, name + "/global_avg_pool", x);
        graph_tensor[size_t(out)] = reshape(g, name, pooled, Shape{1, g.tensors[size_t(x)].shape.c()});
    }
}

// RESHAPE and SQUEEZE: the output shape is the file's (dimension 0 stays the batch).
void Importer::import_reshape(size_t k, int out) {
    const int x = activation(k, input_at(k, 0));
    graph_tensor[size_t(out)] = reshape(g, activation_name(out), x, activation_shape(k, out));
}

void Importer::import_pad(size_t k, int out) {
    const int x = activation(k, input_at(k, 0));
    const std::vector<int64_t> p = int_constant(k, input_at(k, 1));
    if (g.tensors[size_t(x)].shape.rank != 4 || p.size() != 8) fail(k, "PAD needs a 4-D input and [4, 2] paddings");
    if (p[0] || p[1] || p[6] || p[7]) fail(k, "PAD of the batch or channel dimension is not supported (only height and width)");
    for (int64_t v : p)
        if (v < 0 || v > 65536) fail(k, "PAD amount " + std::to_string(v) + " is out of range");
    graph_tensor[size_t(out)] = pad(g, activation_name(out), x, int(p[2]), int(p[3]), int(p[4]), int(p[5]));
}

void Importer::import_softmax(size_t k, int out) {
    const float beta = m.operators[k].options.beta;
    if (beta != 1.0f) fail(k, "softmax with beta " + std::to_string(beta) + " (only 1 is supported)");
    const int x = activation(k, input_at(k, 0));
    graph_tensor[size_t(out)] = softmax(g, activation_name(out), x);
}

void Importer::import_relu(size_t k, int out) {
    const int x = activation(k, input_at(k, 0));
    const std::string name = activation_name(out);
    graph_tensor[size_t(out)] = m.operators[k].op == tflite::RELU ? relu(g, name, x) : relu6(g, name, x);
}

// The TFLite ops the importer supports, each with the function that builds its nodes (through nn/graph.h, so
// every limit of the op table applies): the one place a new TFLite op is added.
struct TfliteOpImport {
    int code;  // tflite::BuiltinOperator
    void (Importer::*import)(size_t k, int out);
};
constexpr TfliteOpImport kTfliteOps[] = {
    {tflite::QUANTIZE, &Importer::import_alias},
    {tflite::DEQUANTIZE, &Importer::import_alias},
    {tflite::CONV_2D, &Importer::import_conv},
    {tflite::DEPTHWISE_CONV_2D, &Importer::import_conv},
    {tflite::FULLY_CONNECTED, &Importer::import_fully_connected},
    {tflite::ADD, &Importer::import_add},
    {tflite::AVERAGE_POOL_2D, &Importer::import_pool},
    {tflite::MAX_POOL_2D, &Importer::import_pool},
    {tflite::CONCATENATION, &Importer::import_concatenation},
    {tflite::MEAN, &Importer::import_mean},
    {tflite::RESHAPE, &Importer::import_reshape},
    {tflite::SQUEEZE, &Importer::import_reshape},
    {tflite::PAD, &Importer::import_pad},
    {tflite::SOFTMAX, &Importer::import_softmax},
    {tflite::RELU, &Importer::import_relu},
    {tflite::RELU6, &Importer::import_relu},
};

void Importer::import_op(size_t k) {
    const Operator& op = m.operators[k];
    if (op.outputs.size() != 1) fail(k, "has " + std::to_string(op.outputs.size()) + " outputs (1 supported)");
    const int out = op.outputs[0];
    if (graph_tensor[size_t(out)] >= 0) fail(k, "writes a tensor that already has a value");
    for (const TfliteOpImport& entry : kTfliteOps)
        if (entry.code == op.op) return (this->*entry.import)(k, out);
    fail(k, "unsupported TFLite op " + tflite::op_label(op.op));
}

Model Importer::run(const std::string& model_name, std::vector<std::string> labels) {
    graph_tensor.assign(m.tensors.size(), -1);
    constant_source.resize(m.tensors.size());
    for (size_t i = 0; i < m.tensors.size(); ++i) constant_source[i] = int(i);

    if (m.inputs.size() != 1) throw Error(what + ": the model has " + std::to_string(m.inputs.size()) + " inputs (1 supported)");
    const int in = m.inputs[0];
    const tflite::Tensor& it = tt(in);
    if (it.shape.size() != 4 || it.shape[0] != 1 || it.shape[3] != 3 || it.shape[1] < 1 || it.shape[2] < 1 ||
        it.shape[1] > kMaxImageSide || it.shape[2] > kMaxImageSide)
        throw Error(what + ": input '" + it.name + "' is not an image batch [1, H, W, 3]");
    Model model;
    model.preprocessing.height = it.shape[1];
    model.preprocessing.width = it.shape[2];
    model.preprocessing.scale = 1.0 / 127.5;  // x = u8 / 127.5 - 1, the inputs the MobileNets were trained on
    model.preprocessing.offset = -1.0f;
    graph_tensor[size_t(in)] = add_input(g, tflite_short_name(it.name, in), Shape{1, it.shape[1], it.shape[2], 3});

    int last_softmax = -1;
    for (size_t k = 0; k < m.operators.size(); ++k) {
        import_op(k);
        const int op = m.operators[k].op, out = m.operators[k].outputs[0];
        if (op == tflite::SOFTMAX) last_softmax = int(k);
        // Our shape inference must agree with the converter's (catches SAME/VALID or layout mistakes early).
        if (op != tflite::QUANTIZE && op != tflite::DEQUANTIZE) {
            const Shape got = g.tensors[size_t(graph_tensor[size_t(out)])].shape, want = activation_shape(k, out);
            if (got != want) fail(k, "output shape " + got.str() + " differs from the file's " + want.str());
        }
    }
    // The .ecw loader's bound on the activation memory, so that every imported model also converts and loads.
    int64_t activation_floats = 0;
    for (const TensorInfo& t : g.tensors) activation_floats += t.shape.numel();
    if (activation_floats > ecw::kMaxActivationFloats)
        throw Error(what + ": the activations need " + std::to_string(activation_floats) + " floats, above the limit of " +
                    std::to_string(ecw::kMaxActivationFloats));
    if (m.outputs.empty() || graph_tensor[size_t(m.outputs[0])] < 0)
        throw Error(what + ": the subgraph output is not produced by any operator");
    model.logits = last_softmax >= 0 ? graph_tensor[size_t(m.operators[size_t(last_softmax)].inputs[0])]
                                     : graph_tensor[size_t(m.outputs[0])];
    const Shape ls = g.tensors[size_t(model.logits)].shape;
    if (ls.rank != 2) throw Error(what + ": the logits '" + g.tensors[size_t(model.logits)].name + "' " + ls.str() + " are not [1, classes]");
    if (!labels.empty() && int64_t(labels.size()) != ls[1])
        throw Error(what + ": " + std::to_string(labels.size()) + " labels for " + std::to_string(ls[1]) + " classes");
    model.graph = std::move(g);
    model.labels = std::move(labels);
    model.name = model_name;
    model.source = what + (m.description.empty() ? "" : " (" + m.description + ")");
    return model;
}

}  // namespace

Model import_tflite_memory(const uint8_t* data, size_t size, const std::string& what, const std::string& model_name,
                           std::vector<std::string> labels) {
    const tflite::Model m = tflite::parse_tflite(data, size, what);
    Importer imp{m, data, size, what, Graph(), {}, {}, {}};
    try {
        return imp.run(model_name, std::move(labels));
    } catch (const Error& e) {
        // The graph build functions name the node but not the file; prefix the file once.
        const std::string msg = e.what();
        if (msg.compare(0, what.size(), what) == 0) throw;
        throw Error(what + ": " + msg);
    }
}

Model import_tflite(const std::string& path, const std::string& labels_path) {
    std::vector<uint8_t> bytes = read_file_bytes(path, tflite::kMaxTfliteBytes);
    std::vector<std::string> labels;
    if (!labels_path.empty()) labels = read_labels(labels_path);
    Model model = import_tflite_memory(bytes.data(), bytes.size(), path, file_stem(path), std::move(labels));
    model.source = file_name(path) + model.source.substr(path.size());  // the file, not the folder it was in
    return model;
}

}  // namespace ec
