// Writing a Model as an .ecw file (layout in weights/FORMAT.md). The writer checks the same limits the loader
// enforces, so every file it writes loads back.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "weights/labels.h"
#include "nn/file_util.h"
#include "weights/format.h"

namespace ec {
namespace ecw {

namespace {

struct Out {
    std::string bytes;
    template <typename T>
    void put(T v) { bytes.append(reinterpret_cast<const char*>(&v), sizeof(T)); }  // little-endian host
    void u8(int v) { put<uint8_t>(uint8_t(v)); }
    void u32(uint32_t v) { put<uint32_t>(v); }
    void i32(int v) { put<int32_t>(v); }
    void str(const std::string& s, const char* what) {
        if (s.size() > kMaxStringBytes)
            throw Error(std::string(what) + " '" + s.substr(0, 40) + "...' is longer than " + std::to_string(kMaxStringBytes) + " bytes");
        u32(uint32_t(s.size()));
        bytes += s;
    }
    void shape(const Shape& s) {
        u8(s.rank);
        for (int d = 0; d < s.rank; ++d) i32(s.dim[d]);
    }
};

// Bottom/right padding implied by a resolved geometry: what makes the output exactly `out` long
// (out = (in + before + after - extent) / stride + 1, so the smallest `after` that reaches it).
int trailing_pad(int in, int out, int kernel, int stride, int dilation, int before) {
    const int64_t needed = int64_t(out - 1) * stride + int64_t(kernel - 1) * dilation + 1 - in - before;
    return int(std::max<int64_t>(needed, 0));
}

// The attribute record of one AttrKind (FORMAT.md's table; ecw_loader.cpp's read_attrs is its inverse). Padding
// is stored explicitly, the bottom/right amounts recovered from the resolved geometry.
void write_attrs(Out& o, const Graph& g, const Node& n, AttrKind kind) {
    switch (kind) {
        case AttrKind::None: break;
        case AttrKind::Conv: {
            const ConvGeometry& c = n.conv;
            o.i32(c.stride_h); o.i32(c.stride_w); o.i32(c.dilation_h); o.i32(c.dilation_w); o.i32(c.groups);
            o.i32(c.pad_top); o.i32(trailing_pad(c.in_h, c.out_h, c.kernel_h, c.stride_h, c.dilation_h, c.pad_top));
            o.i32(c.pad_left); o.i32(trailing_pad(c.in_w, c.out_w, c.kernel_w, c.stride_w, c.dilation_w, c.pad_left));
            break;
        }
        case AttrKind::Pool: {
            const PoolGeometry& p = n.pool;
            o.i32(p.kernel_h); o.i32(p.kernel_w); o.i32(p.stride_h); o.i32(p.stride_w);
            o.i32(p.pad_top); o.i32(trailing_pad(p.in_h, p.out_h, p.kernel_h, p.stride_h, 1, p.pad_top));
            o.i32(p.pad_left); o.i32(trailing_pad(p.in_w, p.out_w, p.kernel_w, p.stride_w, 1, p.pad_left));
            break;
        }
        case AttrKind::Pad: o.i32(n.pad.top); o.i32(n.pad.bottom); o.i32(n.pad.left); o.i32(n.pad.right); break;
        case AttrKind::Shape: o.shape(g.tensors[size_t(n.output)].shape); break;
    }
}

void write_node(Out& o, const Graph& g, const Node& n) {
    const OpDef& def = op_def(n.op);
    o.u8(kRecordNode);
    o.u8(def.file_code);
    o.str(n.name, "tensor name");
    if (n.inputs.size() > kMaxNodeInputs) throw Error("node '" + n.name + "' has more than " + std::to_string(kMaxNodeInputs) + " inputs");
    o.u32(uint32_t(n.inputs.size()));
    for (int t : n.inputs) o.u32(uint32_t(t));
    o.u32(uint32_t(n.params.size()));
    for (int p : n.params) o.i32(p);
    write_attrs(o, g, n, def.attrs);
    o.shape(g.tensors[size_t(n.output)].shape);  // checked against the rebuilt shape on load
}

uint64_t align_up(uint64_t v) { return (v + kDataAlignment - 1) / kDataAlignment * kDataAlignment; }

}  // namespace

std::string serialize_model(const Model& model) {
    const Graph& g = model.graph;
    if (g.inputs.empty()) throw Error("model '" + model.name + "' has no graph input");
    if (model.logits < 0 || size_t(model.logits) >= g.tensors.size()) throw Error("model '" + model.name + "' has no logits tensor");
    if (g.tensors.size() > kMaxTensors || g.params.size() > kMaxParams || g.inputs.size() > kMaxInputs ||
        model.labels.size() > kMaxLabels)
        throw Error("model '" + model.name + "' exceeds the .ecw limits on tensors, parameters, inputs or labels");

    Out o;
    o.str(model.name, "model name");
    o.str(model.source, "model source");
    o.u32(uint32_t(model.preprocessing.height));
    o.u32(uint32_t(model.preprocessing.width));
    o.put<double>(model.preprocessing.scale);
    o.put<float>(model.preprocessing.offset);
    o.str(g.tensors[size_t(model.logits)].name, "logits name");
    o.u32(uint32_t(model.labels.size()));
    for (const std::string& l : model.labels) o.str(l, "label");

    // Parameters: name, shape, offset in the data section (each 64-byte aligned).
    std::vector<uint64_t> offsets;
    uint64_t data_size = 0;
    o.u32(uint32_t(g.params.size()));
    for (const Param& p : g.params) {
        o.str(p.name, "parameter name");
        o.shape(p.shape);
        data_size = align_up(data_size);
        offsets.push_back(data_size);
        o.put<uint64_t>(data_size);
        data_size += uint64_t(p.shape.numel()) * sizeof(float);
    }

    // Tensors in id order: each is a graph input or the output of the next node, so the loader's rebuild
    // reproduces every tensor id and the node order.
    o.u32(uint32_t(g.tensors.size()));
    size_t next_node = 0, next_input = 0;
    for (size_t t = 0; t < g.tensors.size(); ++t) {
        const TensorInfo& info = g.tensors[t];
        if (info.producer < 0) {
            if (next_input >= g.inputs.size() || g.inputs[next_input] != int(t))
                throw Error("graph inputs are not in tensor order at '" + info.name + "'");
            ++next_input;
            o.u8(kRecordInput);
            o.str(info.name, "tensor name");
            o.shape(info.shape);
        } else {
            if (size_t(info.producer) != next_node || g.nodes[next_node].output != int(t))
                throw Error("graph nodes are not in the order of their output tensors at '" + info.name + "'");
            write_node(o, g, g.nodes[next_node++]);
        }
    }
    if (next_node != g.nodes.size() || next_input != g.inputs.size()) throw Error("graph has nodes or inputs without a tensor");

    // Header, graph section, padding to 64, data.
    const uint64_t graph_size = o.bytes.size();
    const uint64_t data_offset = align_up(kHeaderBytes + graph_size);
    const uint64_t file_size = data_offset + data_size;
    if (file_size > uint64_t(kMaxFileBytes)) throw Error("model '" + model.name + "' is too large for an .ecw file");
    Out h;
    h.bytes.append(kMagic, 8);
    h.u32(kVersion);
    h.u32(kHeaderBytes);
    h.put<uint64_t>(file_size);
    h.put<uint64_t>(kHeaderBytes);
    h.put<uint64_t>(graph_size);
    h.put<uint64_t>(data_offset);
    h.put<uint64_t>(data_size);
    h.put<uint64_t>(0);  // reserved, must be zero
    std::string file = std::move(h.bytes);
    file += o.bytes;
    file.resize(size_t(file_size), '\0');
    for (size_t i = 0; i < g.params.size(); ++i) {
        const Param& p = g.params[i];
        if (p.shape.numel() > 0)
            std::memcpy(&file[size_t(data_offset + offsets[i])], p.data(), size_t(p.shape.numel()) * sizeof(float));
    }
    // Whatever the loader refuses (a window, padding or activation size over its limits, e.g. from an imported
    // TFLite file) must not be written: read the bytes back. The walk rebuilds the graph; it never reads weights.
    std::unique_ptr<uint8_t, decltype(&std::free)> copy(
        static_cast<uint8_t*>(std::aligned_alloc(kDataAlignment, size_t(align_up(file.size())))), &std::free);
    if (!copy) throw std::bad_alloc();
    std::memcpy(copy.get(), file.data(), file.size());
    try {
        parse_model(copy.get(), file.size(), nullptr, "model '" + model.name + "'");
    } catch (const Error& e) {
        throw Error(std::string(e.what()) + " (so it cannot be saved as an .ecw file)");
    }
    return file;
}

}  // namespace ecw

void save_model(const Model& model, const std::string& path) {
    write_file_atomic(path, ecw::serialize_model(model));
}

}  // namespace ec
