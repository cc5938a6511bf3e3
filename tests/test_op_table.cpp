// The op table (nn/op_table.h) and the one Concat limit it sets: a 256-input Concat builds, runs forward and
// backward (each output slice is its input, each input gets its slice of the gradient back) and round-trips
// through an .ecw file; a 257-input one is refused when it is built, with an error naming the limit.
#include <doctest/doctest.h>

#include <cstring>

#include "nn/op_table.h"
#include "tests/fuzz/tflite_builder.h"
#include "tests/test_util.h"
#include "tests/test_weights_util.h"
#include "weights/format.h"
#include "weights/tflite_import.h"

using namespace ec;

namespace {

// kMaxConcatInputs (or `count`) inputs [1, 2, 3, width_i] with width_i = 1 + i % 3 and distinct values.
struct WideConcat {
    Graph g;
    std::vector<int> xs;
    std::vector<int> widths;
    int out = -1;
};

WideConcat wide_concat_graph(int count) {
    WideConcat w;
    for (int i = 0; i < count; ++i) {
        w.widths.push_back(1 + i % 3);
        w.xs.push_back(add_input(w.g, "x" + std::to_string(i), Shape{1, 2, 3, w.widths.back()}));
    }
    return w;
}

Tensor input_values(const Shape& shape, int index, int batch) {
    Tensor t(shape.with_batch(batch));
    for (int64_t k = 0; k < t.numel(); ++k) t[k] = float(index) + float(k) / 64.0f;
    return t;
}

}  // namespace

TEST_CASE("op table: one row per OpKind, in order, file codes 1..14 unique and found again") {
    for (int i = 0; i < kOpKindCount; ++i) {
        const OpDef& d = op_def(OpKind(i));
        CAPTURE(d.name);
        CHECK(int(d.kind) == i);
        CHECK(std::string(op_name(d.kind)) == d.name);
        CHECK(find_op_by_file_code(d.file_code) == &d);
        CHECK(d.file_code == i + 1);  // the order of weights/FORMAT.md's table, which OpKind happens to follow
        CHECK((d.shape_rule && d.forward && d.backward));
        CHECK(d.min_inputs >= 1);
        CHECK(d.max_inputs >= d.min_inputs);
        CHECK(d.max_inputs <= kMaxConcatInputs);
    }
    CHECK(find_op_by_file_code(0) == nullptr);
    CHECK(find_op_by_file_code(15) == nullptr);
    CHECK(op_def(OpKind::Concat).max_inputs == kMaxConcatInputs);
    CHECK(ecw::kMaxNodeInputs == uint32_t(kMaxConcatInputs));
    CHECK_THROWS_AS(op_def(OpKind(kOpKindCount)), Error);
}

TEST_CASE("op table: a 256-input Concat runs forward and backward; each slice is its input and gets its gradient") {
    WideConcat w = wide_concat_graph(kMaxConcatInputs);
    w.out = concat(w.g, "cat", w.xs);
    int total = 0;
    for (int c : w.widths) total += c;
    REQUIRE(w.g.tensors[size_t(w.out)].shape == Shape{1, 2, 3, total});

    const int batch = 2;
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < w.xs.size(); ++i) inputs.push_back(input_values(w.g.tensors[size_t(w.xs[i])].shape, int(i), batch));
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(&t);
    Session s;
    forward(w.g, s, ptrs);
    const Tensor& out = s.values[size_t(w.out)];
    REQUIRE(out.shape == Shape{batch, 2, 3, total});

    // Seed d(loss)/d(cat) with distinct values; the gradient of input i is its slice of the seed.
    BackwardRequest req;
    req.from = w.out;
    req.seed = Tensor(out.shape);
    for (int64_t k = 0; k < req.seed.numel(); ++k) req.seed[k] = 0.5f + float(k % 1000);
    CHECK(backward(w.g, s, req) == 1);

    const int64_t rows = out.numel() / total;
    int mismatched_values = 0, mismatched_grads = 0, offset = 0;
    for (size_t i = 0; i < w.xs.size(); ++i) {
        const int c = w.widths[i];
        const Tensor& grad = s.grads[size_t(w.xs[i])];
        REQUIRE(grad.shape == inputs[i].shape);
        for (int64_t p = 0; p < rows; ++p)
            for (int k = 0; k < c; ++k) {
                mismatched_values += out[p * total + offset + k] != inputs[i][p * c + k];
                mismatched_grads += grad[p * c + k] != req.seed[p * total + offset + k];
            }
        offset += c;
    }
    CHECK(offset == total);
    CHECK(mismatched_values == 0);
    CHECK(mismatched_grads == 0);

    // Only the inputs asked for get a gradient.
    req.stop_at = {w.xs[7], w.xs[255]};
    CHECK(backward(w.g, s, req) == 1);
    CHECK(s.grads[size_t(w.xs[7])].numel() == inputs[7].numel());
    CHECK(s.grads[size_t(w.xs[8])].data.empty());
}

TEST_CASE("op table: a 257-input Concat is refused at build time naming the limit") {
    WideConcat w = wide_concat_graph(kMaxConcatInputs + 1);
    CHECK_THROWS_WITH_AS(concat(w.g, "cat", w.xs),
                         "node 'cat' (Concat): has 257 inputs, more than the limit of 256 (kMaxConcatInputs)", Error);
    CHECK(w.g.nodes.empty());
    CHECK_THROWS_WITH_AS(concat(w.g, "none", {}), "node 'none' (Concat): needs at least one input", Error);
    CHECK_THROWS_WITH_AS(add_node(w.g, OpKind::Add, "add", {w.xs[0]}, {}, {}), "node 'add' (Add): takes 2 inputs, given 1", Error);
    CHECK_THROWS_WITH_AS(add_node(w.g, OpKind::Relu, "r", {w.xs[0]}, {0}, {}), "node 'r' (Relu): takes 0 parameters, given 1", Error);
}

TEST_CASE("op table: an .ecw model with a 256-input Concat round-trips through save_model / load_model and runs") {
    // image [1,2,2,3] -> 256 x relu -> concat [1,2,2,768] -> global average pool -> reshape [1,768] -> FC -> [1,4]
    Model m;
    m.name = "wide_concat";
    m.source = "test_op_table.cpp";
    m.preprocessing.height = 2;
    m.preprocessing.width = 2;
    Graph& g = m.graph;
    const int image = add_input(g, "image", Shape{1, 2, 2, 3});
    std::vector<int> branches;
    for (int i = 0; i < kMaxConcatInputs; ++i) branches.push_back(i % 2 ? relu(g, "r" + std::to_string(i), image)
                                                                         : relu6(g, "r" + std::to_string(i), image));
    const int cat = concat(g, "cat", branches);
    const int pooled = reshape(g, "flat", global_avg_pool(g, "gap", cat), Shape{1, 3 * kMaxConcatInputs});
    std::vector<float> weight(size_t(3 * kMaxConcatInputs * 4));
    for (size_t k = 0; k < weight.size(); ++k) weight[k] = float(int(k % 13) - 6) / 8.0f;
    const int w = add_param(g, "fc/weight", Shape{3 * kMaxConcatInputs, 4}, weight);
    m.logits = fully_connected(g, "logits", pooled, w, -1);

    test::TempDir tmp;
    const std::string path = tmp.path + "/wide.ecw";
    save_model(m, path);
    const Model back = load_model(path);
    REQUIRE(back.graph.nodes.size() == g.nodes.size());
    CHECK(back.graph.nodes[size_t(back.graph.tensors[size_t(back.graph.tensor("cat"))].producer)].inputs.size() == 256);
    CHECK(ecw::serialize_model(back) == ecw::serialize_model(m));  // the same bytes again

    Tensor x(Shape{1, 2, 2, 3});
    for (int64_t k = 0; k < x.numel(); ++k) x[k] = float(k) / 2.0f - 3.0f;  // both signs, some above 6
    Session a, b;
    forward(g, a, {&x});
    forward(back.graph, b, {&x});
    REQUIRE(b.values[size_t(back.logits)].shape == Shape{1, 4});
    CHECK(b.values[size_t(back.logits)].data == a.values[size_t(m.logits)].data);
    BackwardRequest req;
    req.from = back.logits;
    req.seed = one_hot_seed(Shape{1, 4}, {1});
    backward(back.graph, b, req);
    req.from = m.logits;
    backward(g, a, req);
    const Tensor& grad = b.grads[size_t(back.graph.inputs[0])];
    REQUIRE(grad.numel() == x.numel());
    CHECK(grad.data == a.grads[size_t(g.inputs[0])].data);
    CHECK(test::max_abs(grad.ptr(), grad.numel()) > 0.0f);
}

// Before the op table, the runner passed Concat inputs through fixed arrays of 64 while the .ecw format and the
// importer allowed 256: a well-formed TFLite (or .ecw) file with a 65-input CONCATENATION crashed `classify`.
TEST_CASE("op table: TFLite CONCATENATION of 65 and 256 inputs imports and runs; 257 is refused naming the limit") {
    for (int n : {65, kMaxConcatInputs}) {
        CAPTURE(n);
        const std::string file = test::wide_concat_tflite(n);
        const Model m = import_tflite_memory(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "wide.tflite", "wide", {});
        const Graph& g = m.graph;
        REQUIRE(g.tensors[size_t(m.logits)].shape == Shape{1, 3 * n});
        Tensor x(Shape{1, 2, 2, 3});
        for (int64_t k = 0; k < x.numel(); ++k) x[k] = float(k);
        Session s;
        forward(g, s, {&x});
        // Each logit is the mean over the 2x2 pixels of its channel: (c, c+3, c+6, c+9) / 4 = c + 4.5.
        const Tensor& logits = s.values[size_t(m.logits)];
        int wrong = 0;
        for (int k = 0; k < 3 * n; ++k) wrong += logits[k] != float(k % 3) + 4.5f;
        CHECK(wrong == 0);
        BackwardRequest req;
        req.from = m.logits;
        req.seed = Tensor(logits.shape);
        req.seed.fill(1.0f);
        backward(g, s, req);
        // Every pixel of the input feeds n logits, each through a mean of 4: gradient n / 4.
        const Tensor& grad = s.grads[size_t(g.inputs[0])];
        REQUIRE(grad.numel() == x.numel());
        for (int64_t k = 0; k < grad.numel(); ++k) CHECK(grad[k] == float(n) / 4.0f);
        const std::string ecw = ecw::serialize_model(m);
        test::AlignedBytes copy(ecw);
        CHECK(ecw::parse_model(copy.data(), ecw.size(), nullptr, "wide.ecw").graph.nodes.size() == g.nodes.size());
    }
    const std::string over = test::wide_concat_tflite(kMaxConcatInputs + 1);
    CHECK_THROWS_WITH_AS(import_tflite_memory(reinterpret_cast<const uint8_t*>(over.data()), over.size(), "over.tflite", "over", {}),
                         "over.tflite: node 'concat' (Concat): has 257 inputs, more than the limit of 256 (kMaxConcatInputs)",
                         Error);
}

TEST_CASE("op table: `classify` runs an .ecw model whose Concat has 65 inputs (it crashed when the runner had 64 slots)" * ec::test::needs_shared()) {
    const std::string file = test::wide_concat_tflite(65);
    const Model m = import_tflite_memory(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "wide.tflite", "wide", {});
    test::TempDir tmp;
    save_model(m, tmp.path + "/wide65.ecw");
    const test::CliResult r =
        test::run_cli("classify --top 2 --model '" + tmp.path + "/wide65.ecw' '" + test::shared_path("images/coral/cat.bmp") + "'");
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("class ") != std::string::npos);
}
