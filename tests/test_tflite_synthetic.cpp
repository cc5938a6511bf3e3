// Import of the ops the reference models do not use (PAD, MAX_POOL_2D, CONCATENATION, MEAN without keep_dims,
// FULLY_CONNECTED, standalone RELU, DEQUANTIZE of a constant) and the import's refusals, on small TFLite files
// written by a minimal FlatBuffers writer below; outputs are checked against plain loops.
#include <cmath>
#include <cstring>
#include <memory>

#include "tests/test_weights_util.h"
#include "weights/tflite_import.h"

using namespace ec;

namespace {

// ---- A minimal FlatBuffers writer: objects form a tree, written parent first so every offset points forward.
struct Obj;
using ObjP = std::shared_ptr<Obj>;
struct Field {
    int id;
    std::vector<uint8_t> scalar;  // inline bytes, or empty for a reference
    ObjP ref;
};
struct Obj {
    enum Kind { Table, Bytes, Tables } kind = Table;
    std::vector<Field> fields;        // Table
    std::vector<uint8_t> bytes;       // Bytes: a vector of scalars (or a string) as raw item bytes
    uint32_t count = 0;               // Bytes: item count
    std::vector<ObjP> items;          // Tables
};

template <typename T>
Field scalar(int id, T v) {
    Field f{id, std::vector<uint8_t>(sizeof(T)), nullptr};
    std::memcpy(f.scalar.data(), &v, sizeof(T));
    return f;
}
Field ref(int id, ObjP o) { return Field{id, {}, std::move(o)}; }
ObjP table(std::vector<Field> fields) { auto o = std::make_shared<Obj>(); o->fields = std::move(fields); return o; }
template <typename T>
ObjP vec(const std::vector<T>& v) {
    auto o = std::make_shared<Obj>();
    o->kind = Obj::Bytes;
    o->count = uint32_t(v.size());
    o->bytes.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(o->bytes.data(), v.data(), o->bytes.size());
    return o;
}
ObjP str(const std::string& s) {
    auto o = vec(std::vector<char>(s.begin(), s.end()));
    o->bytes.push_back(0);  // the NUL FlatBuffers adds after a string
    return o;
}
ObjP tables(std::vector<ObjP> items) { auto o = std::make_shared<Obj>(); o->kind = Obj::Tables; o->items = std::move(items); return o; }

struct Writer {
    std::vector<uint8_t> buf;
    template <typename T>
    void put_at(size_t p, T v) { std::memcpy(&buf[p], &v, sizeof(T)); }
    size_t grow(size_t n) { size_t p = buf.size(); buf.resize(p + n, 0); return p; }

    // Writes o and its children; returns o's position.
    size_t write(const Obj& o) {
        std::vector<std::pair<size_t, const Obj*>> patches;  // (reference field position, child)
        size_t pos;
        if (o.kind == Obj::Table) {
            int max_id = -1;
            for (const Field& f : o.fields) max_id = std::max(max_id, f.id);
            const size_t vt = grow(4 + 2 * size_t(max_id + 1));
            pos = grow(4);
            std::vector<uint16_t> offsets(size_t(max_id + 1), 0);
            for (const Field& f : o.fields) {
                const size_t p = grow(f.ref ? 4 : f.scalar.size());
                offsets[size_t(f.id)] = uint16_t(p - pos);
                if (f.ref) patches.push_back({p, f.ref.get()});
                else std::memcpy(&buf[p], f.scalar.data(), f.scalar.size());
            }
            put_at<uint16_t>(vt, uint16_t(4 + 2 * offsets.size()));
            put_at<uint16_t>(vt + 2, uint16_t(buf.size() - pos));
            for (size_t i = 0; i < offsets.size(); ++i) put_at<uint16_t>(vt + 4 + 2 * i, offsets[i]);
            put_at<int32_t>(pos, int32_t(pos - vt));
        } else if (o.kind == Obj::Bytes) {
            pos = grow(4 + o.bytes.size());
            put_at<uint32_t>(pos, o.count);
            if (!o.bytes.empty()) std::memcpy(&buf[pos + 4], o.bytes.data(), o.bytes.size());
        } else {
            pos = grow(4 + 4 * o.items.size());
            put_at<uint32_t>(pos, uint32_t(o.items.size()));
            for (size_t i = 0; i < o.items.size(); ++i) patches.push_back({pos + 4 + 4 * i, o.items[i].get()});
        }
        for (auto& [at, child] : patches) {
            const size_t c = write(*child);
            put_at<uint32_t>(at, uint32_t(c - at));
        }
        return pos;
    }
};

// ---- TFLite models made of these pieces.
struct TTensor {
    std::string name;
    std::vector<int> shape;
    int type = tflite::FLOAT32;
    std::vector<uint8_t> data;  // constant data, empty for an activation
    std::vector<float> scale;
    std::vector<int64_t> zero_point;
    int quantized_dimension = 0;
};
struct TOp {
    int code;
    std::vector<int> inputs, outputs;
    int options_type = 0;
    ObjP options;
};

TTensor act(std::string name, std::vector<int> shape) {
    TTensor t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    return t;
}
TTensor constant(std::string name, std::vector<int> shape, int type, std::vector<uint8_t> data,
                 std::vector<float> scale = {}, std::vector<int64_t> zero_point = {}) {
    TTensor t = act(std::move(name), std::move(shape));
    t.type = type;
    t.data = std::move(data);
    t.scale = std::move(scale);
    t.zero_point = std::move(zero_point);
    return t;
}

template <typename T>
std::vector<uint8_t> raw(const std::vector<T>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(T));
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

std::vector<uint8_t> build_tflite(const std::vector<TTensor>& ts, const std::vector<TOp>& ops, std::vector<int> inputs,
                                  std::vector<int> outputs) {
    std::vector<ObjP> buffers{table({})}, tensors, codes, operators;
    for (const TTensor& t : ts) {
        std::vector<Field> f{ref(0, vec(t.shape)), scalar<int8_t>(1, int8_t(t.type)), ref(3, str(t.name))};
        if (!t.data.empty()) {
            f.push_back(scalar<uint32_t>(2, uint32_t(buffers.size())));
            buffers.push_back(table({ref(0, vec(t.data))}));
        }
        if (!t.scale.empty())
            f.push_back(ref(4, table({ref(2, vec(t.scale)), ref(3, vec(t.zero_point)), scalar<int32_t>(6, t.quantized_dimension)})));
        tensors.push_back(table(f));
    }
    for (const TOp& op : ops) {
        codes.push_back(table({scalar<int8_t>(0, int8_t(std::min(op.code, 127))), scalar<int32_t>(3, op.code)}));
        std::vector<Field> f{scalar<uint32_t>(0, uint32_t(codes.size() - 1)), ref(1, vec(op.inputs)), ref(2, vec(op.outputs))};
        if (op.options) { f.push_back(scalar<uint8_t>(3, uint8_t(op.options_type))); f.push_back(ref(4, op.options)); }
        operators.push_back(table(f));
    }
    ObjP subgraph = table({ref(0, tables(tensors)), ref(1, vec(inputs)), ref(2, vec(outputs)), ref(3, tables(operators))});
    ObjP model = table({scalar<uint32_t>(0, 3), ref(1, tables(codes)), ref(2, tables({subgraph})), ref(4, tables(buffers))});
    Writer w;
    w.grow(8);
    std::memcpy(&w.buf[4], "TFL3", 4);
    const size_t root = w.write(*model);
    w.put_at<uint32_t>(0, uint32_t(root));
    return w.buf;
}

Model import_bytes(const std::vector<uint8_t>& b) { return import_tflite_memory(b.data(), b.size(), "synthetic.tflite", "synthetic", {}); }

// The test network: input [1,4,4,3] -> PAD (top 1, right 1) -> MAX_POOL 2x2/2 VALID + fused RELU ->
// CONCATENATION(pool, pool) -> MEAN {1,2} (keep_dims false) -> FULLY_CONNECTED (int8 per-channel weights
// [3,6], int32 bias) -> RELU -> SOFTMAX. Tensor 3's name clashes with tensor 2's first part on purpose.
struct Net {
    std::vector<TTensor> ts;
    std::vector<TOp> ops;
    Net() {
        ts = {
            act("in", {1, 4, 4, 3}),                                                                     // 0
            act("pad", {1, 5, 5, 3}),                                                                    // 1
            act("pool;MobileNet/extra", {1, 2, 2, 3}),                                                   // 2
            act("pool", {1, 2, 2, 6}),                                                                   // 3
            act("mean", {1, 6}),                                                                         // 4
            act("fc", {1, 3}),                                                                           // 5
            act("relu", {1, 3}),                                                                         // 6
            act("prob", {1, 3}),                                                                         // 7
            constant("paddings", {4, 2}, tflite::INT32, raw(std::vector<int32_t>{0, 0, 1, 0, 0, 1, 0, 0})),   // 8
            constant("axes", {2}, tflite::INT32, raw(std::vector<int32_t>{1, 2})),                            // 9
            constant("w", {3, 6}, tflite::INT8, raw(std::vector<int8_t>{1, 2, 3, 4, 5, 6, -1, 0, 1, 0, 2, 0, 5, 5, 5, 5, 5, 5}), {0.5f, 1.0f, 0.1f}, {0, 0, 0}),  // 10
            constant("b_q", {3}, tflite::INT32, raw(std::vector<int32_t>{4, -8, 0}), {0.25f}, {0}),          // 11
            act("b", {3}),                                                                               // 12
        };
        ops = {
            {tflite::PAD, {0, 8}, {1}, 0, nullptr},
            {tflite::MAX_POOL_2D, {1}, {2}, 5, table({scalar<int8_t>(0, 1), scalar<int32_t>(1, 2), scalar<int32_t>(2, 2),
                                                      scalar<int32_t>(3, 2), scalar<int32_t>(4, 2), scalar<int8_t>(5, tflite::ACT_RELU)})},
            {tflite::CONCATENATION, {2, 2}, {3}, 10, table({scalar<int32_t>(0, -1)})},
            {tflite::MEAN, {3, 9}, {4}, 27, table({})},
            {tflite::DEQUANTIZE, {11}, {12}, 0, nullptr},
            {tflite::FULLY_CONNECTED, {4, 10, 12}, {5}, 8, table({})},
            {tflite::RELU, {5}, {6}, 0, nullptr},
            {tflite::SOFTMAX, {6}, {7}, 9, table({scalar<float>(0, 1.0f)})},
        };
    }
    std::vector<uint8_t> bytes() const { return build_tflite(ts, ops, {0}, {7}); }
};

}  // namespace

TEST_CASE("synthetic tflite: PAD, MAX_POOL, CONCATENATION, MEAN, DEQUANTIZE, FULLY_CONNECTED, RELU import and run") {
    const Model m = import_bytes(Net().bytes());
    const Graph& g = m.graph;
    // Names: first ';' part; the fused activation split; the clash resolved with #<tensor index>.
    CHECK(g.find_tensor("pool/pre_activation") >= 0);
    CHECK(g.nodes[size_t(g.tensors[size_t(g.tensor("pool"))].producer)].op == OpKind::Relu);
    CHECK(g.tensors[size_t(g.tensor("pool#3"))].shape == Shape{1, 2, 2, 6});
    CHECK(g.tensors[size_t(g.tensor("mean/global_avg_pool"))].shape == Shape{1, 1, 1, 6});
    CHECK(g.tensors[size_t(g.tensor("mean"))].shape == Shape{1, 6});
    CHECK(g.tensors[size_t(m.logits)].name == "relu");  // the input of the last SOFTMAX
    CHECK(g.find_tensor("b") < 0);                      // DEQUANTIZE of a constant makes no node

    Tensor x(Shape{1, 4, 4, 3});
    for (int i = 0; i < 48; ++i) x[i] = float((i * 7) % 11) - 5.0f;
    Session s;
    forward(g, s, {&x});

    // The same with plain loops. Pad: one row on top, one column on the right, then 2x2/2 max pool + ReLU.
    auto at = [&](int y, int xx, int c) { return (y < 1 || xx > 3) ? 0.0f : x[((y - 1) * 4 + xx) * 3 + c]; };
    float mean[6] = {0, 0, 0, 0, 0, 0};
    for (int oy = 0; oy < 2; ++oy)
        for (int ox = 0; ox < 2; ++ox)
            for (int c = 0; c < 3; ++c) {
                float v = -INFINITY;
                for (int ky = 0; ky < 2; ++ky)
                    for (int kx = 0; kx < 2; ++kx) v = std::max(v, at(oy * 2 + ky, ox * 2 + kx, c));
                mean[c] += std::max(v, 0.0f) / 4;
                mean[c + 3] += std::max(v, 0.0f) / 4;
            }
    const float w[3][6] = {{0.5f, 1.0f, 1.5f, 2.0f, 2.5f, 3.0f}, {-1, 0, 1, 0, 2, 0}, {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}};
    const float b[3] = {1.0f, -2.0f, 0.0f};
    const Tensor& logits = s.values[size_t(m.logits)];
    for (int o = 0; o < 3; ++o) {
        float v = b[o];
        for (int i = 0; i < 6; ++i) v += w[o][i] * mean[i];
        CHECK(logits[o] == doctest::Approx(std::max(v, 0.0f)).epsilon(1e-6));
    }
}

TEST_CASE("synthetic tflite: unsupported variants are refused with a message naming the operator") {
    struct Case { const char* says; void (*edit)(Net&); };
    const Case cases[] = {
        {"only height and width", [](Net& n) { n.ts[8].data = raw(std::vector<int32_t>{0, 0, 1, 0, 0, 1, 0, 1}); }},
        {"only the last axis", [](Net& n) { n.ops[2].options = table({scalar<int32_t>(0, 1)}); }},
        {"axes {1,2} only", [](Net& n) { n.ts[9] = constant("axes", {1}, tflite::INT32, raw(std::vector<int32_t>{1})); }},
        {"fused activation 4", [](Net& n) { n.ops[2].options = table({scalar<int32_t>(0, 3), scalar<int8_t>(1, tflite::ACT_TANH)}); }},
        {"beta", [](Net& n) { n.ops[7].options = table({scalar<float>(0, 2.0f)}); }},
        {"already has a value", [](Net& n) { n.ops[6].outputs = {5}; }},
        {"not produced by an earlier operator", [](Net& n) { std::swap(n.ops[0], n.ops[1]); }},
        {"only activations", [](Net& n) { n.ops[0].inputs = {9, 8}; }},
        {"carries options of type 1", [](Net& n) { n.ops[3].options_type = 1; }},
        {"its shape needs", [](Net& n) { n.ts[10].shape = {3, 7}; }},
        {"differs from the file's", [](Net& n) { n.ts[1].shape = {1, 6, 5, 3}; }},
        {"unsupported TFLite op TANH (code 28)", [](Net& n) { n.ops[6].code = 28; }},
        {"not an image batch", [](Net& n) { n.ts[0].shape = {1, 4, 4, 2}; }},
    };
    CHECK_NOTHROW(import_bytes(Net().bytes()));
    for (const Case& c : cases) {
        CAPTURE(c.says);
        Net n;
        c.edit(n);
        CHECK_THROWS_WITH_AS(import_bytes(n.bytes()), doctest::Contains(c.says), Error);
    }
}
