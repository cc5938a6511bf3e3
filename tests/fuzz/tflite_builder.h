// A tiny TFLite writer for hostile-input tests and fuzz seeds: a FlatBuffer tree written front to back (each
// object after the one that refers to it, so every uoffset is positive, as the format requires), and a small
// model that uses every op the importer supports. Field ids follow tensorflow/lite/schema/schema.fbs (v3),
// as in weights/tflite.cpp. Test-only code: the library never writes TFLite.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace ec::test {

// One FlatBuffer object: a table, a vector of scalars, a vector of tables, or a string.
struct FbNode {
    enum Kind { Table, Scalars, Tables, String } kind = Table;
    struct Field {
        int id;
        std::vector<uint8_t> scalar;  // inline value (empty for a reference)
        std::shared_ptr<FbNode> ref;  // referenced object
    };
    std::vector<Field> fields;                   // Table
    uint32_t count = 0;                          // Scalars: element count
    std::vector<uint8_t> bytes;                  // Scalars: payload; String: text
    std::vector<std::shared_ptr<FbNode>> items;  // Tables

    template <typename T>
    FbNode& scalar(int id, T v) {
        std::vector<uint8_t> b(sizeof(T));
        std::memcpy(b.data(), &v, sizeof(T));
        fields.push_back({id, b, nullptr});
        return *this;
    }
    FbNode& ref(int id, std::shared_ptr<FbNode> n) {
        fields.push_back({id, {}, std::move(n)});
        return *this;
    }
};
using FbPtr = std::shared_ptr<FbNode>;

inline FbPtr fb_table() { return std::make_shared<FbNode>(); }
template <typename T>
FbPtr fb_scalars(const std::vector<T>& v) {
    auto n = std::make_shared<FbNode>();
    n->kind = FbNode::Scalars;
    n->count = uint32_t(v.size());
    n->bytes.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(n->bytes.data(), v.data(), n->bytes.size());
    return n;
}
inline FbPtr fb_tables(std::vector<FbPtr> items) {
    auto n = std::make_shared<FbNode>();
    n->kind = FbNode::Tables;
    n->items = std::move(items);
    return n;
}
inline FbPtr fb_string(const std::string& s) {
    auto n = std::make_shared<FbNode>();
    n->kind = FbNode::String;
    n->bytes.assign(s.begin(), s.end());
    return n;
}

namespace detail {

inline void pad4(std::vector<uint8_t>& out) { out.resize((out.size() + 3) / 4 * 4, 0); }
template <typename T>
void put(std::vector<uint8_t>& out, size_t pos, T v) { std::memcpy(&out[pos], &v, sizeof(T)); }

// Appends `n` (and, after it, everything it refers to); returns its position (a table's start, a vector's length).
inline uint32_t fb_write(const FbNode& n, std::vector<uint8_t>& out) {
    pad4(out);
    if (n.kind == FbNode::Scalars || n.kind == FbNode::String) {
        const uint32_t at = uint32_t(out.size());
        out.resize(out.size() + 4);
        put<uint32_t>(out, at, n.kind == FbNode::String ? uint32_t(n.bytes.size()) : n.count);
        out.insert(out.end(), n.bytes.begin(), n.bytes.end());
        if (n.kind == FbNode::String) out.push_back(0);
        return at;
    }
    if (n.kind == FbNode::Tables) {
        const uint32_t at = uint32_t(out.size());
        out.resize(out.size() + 4 + 4 * n.items.size());
        put<uint32_t>(out, at, uint32_t(n.items.size()));
        for (size_t i = 0; i < n.items.size(); ++i) {
            const uint32_t slot = at + 4 + 4 * uint32_t(i);
            const uint32_t item = fb_write(*n.items[i], out);
            put<uint32_t>(out, slot, item - slot);
        }
        return at;
    }
    // Table: vtable {vtable bytes, table bytes, offset per field id}, then the table {soffset, fields...}.
    int max_id = -1;
    size_t table_bytes = 4;
    for (const FbNode::Field& f : n.fields) {
        max_id = std::max(max_id, f.id);
        table_bytes += f.ref ? 4 : f.scalar.size();
    }
    const uint32_t vtable = uint32_t(out.size());
    const size_t vtable_bytes = 4 + 2 * size_t(max_id + 1);
    out.resize(out.size() + vtable_bytes);
    pad4(out);
    const uint32_t table = uint32_t(out.size());
    out.resize(out.size() + table_bytes);
    put<uint16_t>(out, vtable, uint16_t(vtable_bytes));
    put<uint16_t>(out, vtable + 2, uint16_t(table_bytes));
    put<int32_t>(out, table, int32_t(table - vtable));
    size_t at = table + 4;
    std::vector<std::pair<size_t, const FbNode*>> refs;
    for (const FbNode::Field& f : n.fields) {
        put<uint16_t>(out, vtable + 4 + 2 * size_t(f.id), uint16_t(at - table));
        if (f.ref) {
            refs.push_back({at, f.ref.get()});
            at += 4;
        } else {
            std::memcpy(&out[at], f.scalar.data(), f.scalar.size());
            at += f.scalar.size();
        }
    }
    for (auto& r : refs) {
        const uint32_t target = fb_write(*r.second, out);
        put<uint32_t>(out, r.first, uint32_t(target - r.first));
    }
    return table;
}

}  // namespace detail

// The whole file: root offset, the 4-byte identifier, then the root table.
inline std::string fb_file(const FbNode& root, const char identifier[5]) {
    std::vector<uint8_t> out(8, 0);
    std::memcpy(&out[4], identifier, 4);
    const uint32_t at = detail::fb_write(root, out);
    detail::put<uint32_t>(out, 0, at);
    return std::string(out.begin(), out.end());
}

// ---- TFLite pieces (schema v3 field ids) ----

struct TinyTensor {
    std::string name;
    std::vector<int32_t> shape;
    int8_t type = 0;          // FLOAT32
    uint32_t buffer = 0;      // 0 = no data
    std::vector<float> scale;
    std::vector<int64_t> zero_point;
    int32_t quantized_dimension = 0;
};

struct TinyOp {
    int32_t code;                // BuiltinOperator
    std::vector<int32_t> inputs, outputs;
    uint8_t options_type = 0;
    FbPtr options;               // may be null
};

// A TFLite file from tensors, ops (one opcode entry per op) and buffers (buffer 0 is always the empty one).
inline std::string tflite_file(const std::vector<TinyTensor>& tensors, const std::vector<TinyOp>& ops,
                               const std::vector<std::string>& buffer_data, std::vector<int32_t> inputs,
                               std::vector<int32_t> outputs, uint32_t version = 3) {
    std::vector<FbPtr> codes, op_tables, tensor_tables, buffers;
    for (size_t i = 0; i < ops.size(); ++i) {
        const TinyOp& o = ops[i];
        auto code = fb_table();
        code->scalar<int8_t>(0, int8_t(o.code < 127 ? o.code : 127)).scalar<int32_t>(2, 1).scalar<int32_t>(3, o.code);
        codes.push_back(code);
        auto op = fb_table();
        op->scalar<uint32_t>(0, uint32_t(i)).ref(1, fb_scalars(o.inputs)).ref(2, fb_scalars(o.outputs));
        if (o.options_type) op->scalar<uint8_t>(3, o.options_type);
        if (o.options) op->ref(4, o.options);
        op_tables.push_back(op);
    }
    for (const TinyTensor& t : tensors) {
        auto tt = fb_table();
        tt->ref(0, fb_scalars(t.shape)).scalar<int8_t>(1, t.type).scalar<uint32_t>(2, t.buffer).ref(3, fb_string(t.name));
        if (!t.scale.empty()) {
            auto q = fb_table();
            q->ref(2, fb_scalars(t.scale)).ref(3, fb_scalars(t.zero_point)).scalar<int32_t>(6, t.quantized_dimension);
            tt->ref(4, q);
        }
        tensor_tables.push_back(tt);
    }
    buffers.push_back(fb_table());
    for (const std::string& d : buffer_data) {
        auto b = fb_table();
        b->ref(0, fb_scalars(std::vector<uint8_t>(d.begin(), d.end())));
        buffers.push_back(b);
    }
    auto sg = fb_table();
    sg->ref(0, fb_tables(tensor_tables)).ref(1, fb_scalars(inputs)).ref(2, fb_scalars(outputs)).ref(3, fb_tables(op_tables));
    auto root = fb_table();
    root->scalar<uint32_t>(0, version).ref(1, fb_tables(codes)).ref(2, fb_tables({sg})).ref(3, fb_string("tiny test model"));
    root->ref(4, fb_tables(buffers));
    return fb_file(*root, "TFL3");
}

template <typename T>
std::string raw_bytes(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Options tables.
inline FbPtr conv_options(int8_t padding, int32_t stride, int8_t act) {
    auto t = fb_table();
    t->scalar<int8_t>(0, padding).scalar<int32_t>(1, stride).scalar<int32_t>(2, stride).scalar<int8_t>(3, act);
    return t;
}
inline FbPtr depthwise_options(int8_t padding, int32_t stride, int32_t multiplier, int8_t act) {
    auto t = fb_table();
    t->scalar<int8_t>(0, padding).scalar<int32_t>(1, stride).scalar<int32_t>(2, stride).scalar<int32_t>(3, multiplier);
    t->scalar<int8_t>(4, act);
    return t;
}
inline FbPtr pool_options(int8_t padding, int32_t stride, int32_t filter) {
    auto t = fb_table();
    t->scalar<int8_t>(0, padding).scalar<int32_t>(1, stride).scalar<int32_t>(2, stride).scalar<int32_t>(3, filter);
    t->scalar<int32_t>(4, filter).scalar<int8_t>(5, 0);
    return t;
}

// A small classifier of [1,8,8,3] images into 5 classes that uses every supported op:
// CONV_2D (uint8 per-tensor filter, int32 bias, fused RELU6) -> DEPTHWISE_CONV_2D (int8 per-channel, RELU)
// -> ADD -> PAD -> MAX_POOL_2D -> CONCATENATION -> AVERAGE_POOL_2D -> RELU -> MEAN (keep_dims) -> RESHAPE
// -> FULLY_CONNECTED (float) -> QUANTIZE -> DEQUANTIZE -> SOFTMAX (no SQUEEZE). `unsupported_code`, if not
// -1, replaces the RELU op's code (e.g. 18 = MUL) to make an otherwise valid file with an unsupported op.
inline std::string tiny_tflite(int unsupported_code = -1) {
    std::vector<TinyTensor> t;
    std::vector<std::string> buf;
    auto constant = [&](const std::string& name, std::vector<int32_t> shape, int8_t type, std::string data,
                        std::vector<float> scale = {}, std::vector<int64_t> zp = {}, int32_t qdim = 0) {
        buf.push_back(std::move(data));
        t.push_back({name, std::move(shape), type, uint32_t(buf.size()), std::move(scale), std::move(zp), qdim});
        return int32_t(t.size() - 1);
    };
    auto activation = [&](const std::string& name, std::vector<int32_t> shape) {
        t.push_back({name, std::move(shape), 0, 0, {}, {}, 0});
        return int32_t(t.size() - 1);
    };
    std::vector<uint8_t> f1(4 * 3 * 3 * 3);
    for (size_t i = 0; i < f1.size(); ++i) f1[i] = uint8_t(100 + (i * 37) % 57);
    std::vector<int32_t> b1 = {10, -20, 30, -40};
    std::vector<int8_t> f2(3 * 3 * 4);
    for (size_t i = 0; i < f2.size(); ++i) f2[i] = int8_t(int(i * 29 % 41) - 20);
    std::vector<float> b2 = {0.1f, -0.1f, 0.2f, 0.0f};
    std::vector<int32_t> paddings = {0, 0, 1, 1, 1, 1, 0, 0}, axes = {1, 2}, new_shape = {1, 8};
    std::vector<float> w(5 * 8), bfc = {0.5f, -0.5f, 0.25f, 0.f, 1.f};
    for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 7) - 3) * 0.125f;

    const int32_t in = activation("input", {1, 8, 8, 3});
    const int32_t c1w = constant("conv/weights", {4, 3, 3, 3}, 3, raw_bytes(f1), {0.02f}, {128});
    const int32_t c1b = constant("conv/bias", {4}, 2, raw_bytes(b1), {0.0002f}, {0});
    const int32_t c1 = activation("conv/Relu6", {1, 4, 4, 4});
    const int32_t c2w = constant("dw/weights", {1, 3, 3, 4}, 9, raw_bytes(f2), {0.01f, 0.02f, 0.03f, 0.04f}, {0, 0, 0, 0}, 3);
    const int32_t c2b = constant("dw/bias", {4}, 0, raw_bytes(b2));
    const int32_t c2 = activation("dw/Relu", {1, 4, 4, 4});
    const int32_t sum = activation("add", {1, 4, 4, 4});
    const int32_t pads = constant("pad/paddings", {4, 2}, 2, raw_bytes(paddings));
    const int32_t padded = activation("pad", {1, 6, 6, 4});
    const int32_t pooled = activation("maxpool", {1, 3, 3, 4});
    const int32_t cat = activation("concat", {1, 3, 3, 8});
    const int32_t avg = activation("avgpool", {1, 2, 2, 8});
    const int32_t relu = activation("relu", {1, 2, 2, 8});
    const int32_t ax = constant("mean/axes", {2}, 2, raw_bytes(axes));
    const int32_t mean = activation("mean", {1, 1, 1, 8});
    const int32_t shp = constant("reshape/shape", {2}, 2, raw_bytes(new_shape));
    const int32_t flat = activation("reshape", {1, 8});
    const int32_t fcw = constant("fc/weights", {5, 8}, 0, raw_bytes(w));
    const int32_t fcb = constant("fc/bias", {5}, 0, raw_bytes(bfc));
    const int32_t logits = activation("logits", {1, 5});
    const int32_t q = activation("logits_q", {1, 5});
    const int32_t dq = activation("logits_dq", {1, 5});
    const int32_t prob = activation("prob", {1, 5});

    std::vector<TinyOp> ops = {
        {3, {in, c1w, c1b}, {c1}, 1, conv_options(0, 2, 3)},
        {4, {c1, c2w, c2b}, {c2}, 2, depthwise_options(0, 1, 1, 1)},
        {0, {c1, c2}, {sum}, 11, nullptr},
        {34, {sum, pads}, {padded}, 22, nullptr},
        {17, {padded}, {pooled}, 5, pool_options(1, 2, 2)},
        {2, {pooled, pooled}, {cat}, 10, [] { auto o = fb_table(); o->scalar<int32_t>(0, 3); return o; }()},
        {1, {cat}, {avg}, 5, pool_options(1, 1, 2)},
        {unsupported_code >= 0 ? unsupported_code : 19, {avg}, {relu}, 0, nullptr},
        {40, {relu, ax}, {mean}, 27, [] { auto o = fb_table(); o->scalar<uint8_t>(0, 1); return o; }()},
        {22, {mean, shp}, {flat}, 17, nullptr},
        {9, {flat, fcw, fcb}, {logits}, 8, nullptr},
        {114, {logits}, {q}, 89, nullptr},
        {6, {q}, {dq}, 38, nullptr},
        {25, {dq}, {prob}, 9, [] { auto o = fb_table(); o->scalar<float>(0, 1.0f); return o; }()},
    };
    return tflite_file(t, ops, buf, {in}, {prob});
}

// A [1,2,2,3] image concatenated `count` times along the channels (CONCATENATION), then MEAN over height and
// width without keep_dims: logits [1, 3 * count]. For the Concat input limit (nn/op_table.h kMaxConcatInputs).
inline std::string wide_concat_tflite(int count) {
    std::vector<TinyTensor> t;
    std::vector<int32_t> axes = {1, 2};
    t.push_back({"input", {1, 2, 2, 3}, 0, 0, {}, {}, 0});
    t.push_back({"concat", {1, 2, 2, 3 * count}, 0, 0, {}, {}, 0});
    t.push_back({"mean/axes", {2}, 2, 1, {}, {}, 0});
    t.push_back({"logits", {1, 3 * count}, 0, 0, {}, {}, 0});
    auto axis = fb_table();
    axis->scalar<int32_t>(0, 3);
    auto no_keep_dims = fb_table();
    no_keep_dims->scalar<uint8_t>(0, 0);
    std::vector<TinyOp> ops = {
        {2, std::vector<int32_t>(size_t(count), 0), {1}, 10, axis},
        {40, {1, 2}, {3}, 27, no_keep_dims},
    };
    return tflite_file(t, ops, {raw_bytes(axes)}, {0}, {3});
}

}  // namespace ec::test
