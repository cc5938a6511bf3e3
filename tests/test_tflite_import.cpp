// TFLite -> graph import: dequantization (per tensor, per channel, int32 biases), layout conversions, tensor
// naming, and the whole imported networks against ../shared/reference (logits, top-5 and three activations).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <cstring>

#include "io/image.h"
#include "io/npy.h"
#include "tests/test_weights_util.h"
#include "weights/tflite_import.h"

using namespace ec;

namespace {

// A one-tensor model whose constant data lives in `file`.
struct ConstantModel {
    std::vector<uint8_t> file;
    tflite::Model m;
    template <typename T>
    ConstantModel(const std::vector<T>& values, std::vector<int> shape, int type, std::vector<float> scale,
                  std::vector<int64_t> zero_point, int quantized_dimension = 0) {
        file.resize(values.size() * sizeof(T));
        std::memcpy(file.data(), values.data(), file.size());
        tflite::Tensor t;
        t.name = "w;other";
        t.shape = std::move(shape);
        t.type = type;
        t.buffer = 1;
        t.quant.scale = std::move(scale);
        t.quant.zero_point = std::move(zero_point);
        t.quant.quantized_dimension = quantized_dimension;
        m.tensors.push_back(t);
        m.buffers = {{0, 0}, {0, file.size()}};
    }
    std::vector<float> dequantize() const { return dequantize_constant(m, 0, file.data(), file.size(), "t.tflite"); }
};

void check_values(const std::vector<float>& got, const std::vector<float>& want) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-7));
}

}  // namespace

TEST_CASE("import: dequantization is scale * (q - zero_point), per tensor or per channel") {
    check_values(ConstantModel(std::vector<uint8_t>{0, 128, 255}, {3}, tflite::UINT8, {0.5f}, {128}).dequantize(),
                 {-64.0f, 0.0f, 63.5f});
    // Per output channel along dimension 0 (conv filter OHWI [2,1,1,2]).
    check_values(ConstantModel(std::vector<int8_t>{1, 2, -3, 4}, {2, 1, 1, 2}, tflite::INT8, {0.1f, 1.0f}, {0, 1}).dequantize(),
                 {0.1f, 0.2f, -4.0f, 3.0f});
    // Per channel along the last dimension (depthwise filter [1,1,2,2]).
    check_values(ConstantModel(std::vector<int8_t>{1, 2, 3, 4}, {1, 1, 2, 2}, tflite::INT8, {1.0f, 10.0f}, {0, 0}, 3).dequantize(),
                 {1.0f, 20.0f, 3.0f, 40.0f});
    // int32 bias with its own scale; float32 passes through.
    check_values(ConstantModel(std::vector<int32_t>{-4, 8}, {2}, tflite::INT32, {0.25f}, {0}).dequantize(), {-1.0f, 2.0f});
    check_values(ConstantModel(std::vector<float>{1.5f, -2.0f}, {2}, tflite::FLOAT32, {}, {}).dequantize(), {1.5f, -2.0f});

    CHECK_THROWS_WITH_AS(ConstantModel(std::vector<int8_t>{1, 2}, {2}, tflite::INT8, {}, {}).dequantize(),
                         doctest::Contains("without quantization scales"), Error);
    CHECK_THROWS_WITH_AS(ConstantModel(std::vector<int8_t>{1, 2, 3, 4}, {2, 2}, tflite::INT8, {1, 1, 1}, {0, 0, 0}).dequantize(),
                         doctest::Contains("scales that do not match"), Error);
    CHECK_THROWS_WITH_AS(ConstantModel(std::vector<int8_t>{1, 2, 3}, {2, 2}, tflite::INT8, {1}, {0}).dequantize(),
                         doctest::Contains("its shape needs 4"), Error);
    CHECK_THROWS_WITH_AS(ConstantModel(std::vector<int8_t>{1, 2}, {2}, tflite::INT8, {NAN}, {0}).dequantize(),
                         doctest::Contains("non-finite"), Error);
    CHECK_THROWS_AS(ConstantModel(std::vector<int8_t>{1, 2}, {2}, tflite::INT8, {1, 1}, {0}).dequantize(), Error);
}

TEST_CASE("import: layout conversions and tensor names" * ec::test::needs_shared()) {
    // OHWI [2,1,2,3] -> HWIO [1,2,3,2]: value o*100 + w*10 + i lands at ((w*3 + i)*2 + o).
    std::vector<float> ohwi(12);
    for (int o = 0; o < 2; ++o)
        for (int w = 0; w < 2; ++w)
            for (int i = 0; i < 3; ++i) ohwi[size_t((o * 2 + w) * 3 + i)] = float(o * 100 + w * 10 + i);
    std::vector<float> hwio = ohwi_to_hwio(ohwi, 2, 1, 2, 3);
    for (int o = 0; o < 2; ++o)
        for (int w = 0; w < 2; ++w)
            for (int i = 0; i < 3; ++i) CHECK(hwio[size_t((w * 3 + i) * 2 + o)] == float(o * 100 + w * 10 + i));
    CHECK(transpose_2d({1, 2, 3, 4, 5, 6}, 2, 3) == std::vector<float>{1, 4, 2, 5, 3, 6});
    CHECK(tflite_short_name("a/b;c/d;e", 3) == "a/b");
    CHECK(tflite_short_name(";x", 7) == "tensor_7");

    const Model& m = test::imported_model("mobilenet_v2_1.0_224_quant");
    const Graph& g = m.graph;
    const int relu6 = g.tensor("MobilenetV2/Conv_1/Relu6");
    CHECK(g.tensors[size_t(relu6)].shape == Shape{1, 7, 7, 1280});
    CHECK(g.nodes[size_t(g.tensors[size_t(relu6)].producer)].op == OpKind::Relu6);
    const int pre = g.tensor("MobilenetV2/Conv_1/Relu6/pre_activation");
    CHECK(g.nodes[size_t(g.tensors[size_t(pre)].producer)].op == OpKind::Conv2D);
    CHECK(g.tensors[size_t(g.tensor("MobilenetV2/expanded_conv_16/project/add_fold"))].shape == Shape{1, 7, 7, 320});
    CHECK(g.tensors[size_t(m.logits)].shape == Shape{1, 1001});
    CHECK(m.labels.size() == 1001);
    CHECK(m.labels[0] == "background");
    CHECK(m.preprocessing.width == 224);
    CHECK(m.graph.inputs.size() == 1);
    // The depthwise filters became grouped convolutions with one group per channel.
    const Node& dw = g.nodes[size_t(g.tensors[size_t(g.tensor("MobilenetV2/expanded_conv_16/depthwise/Relu6/pre_activation"))].producer)];
    CHECK(dw.conv.groups == 960);
    CHECK(test::imported_model("mobilenet_v1_0.75_192_quant").preprocessing.height == 192);
}

TEST_CASE("import: a label file whose count does not match the classes is refused" * ec::test::needs_shared()) {
    test::TempDir tmp;
    write_file_atomic(tmp.path + "/labels.txt", std::string("a\nb\nc\n"));
    CHECK_THROWS_WITH_AS(import_tflite(test::model_tflite("mobilenet_v1_0.75_192_quant"), tmp.path + "/labels.txt"),
                         doctest::Contains("3 labels for 1001 classes"), Error);
    CHECK_THROWS_AS(import_tflite(tmp.path + "/missing.tflite", ""), Error);
    CHECK_THROWS_WITH_AS(import_tflite(tmp.path + "/labels.txt", ""), doctest::Contains("not a TFLite file"), Error);
}

TEST_CASE("import: all models match the reference from input.npy, and our own decoding agrees on the top-1" * ec::test::needs_shared()) {
    // One batch-2 forward per reference folder: row 0 is the reference's input.npy, row 1 the same image decoded
    // and resized by io/image.h. Row 0: logits within 1e-3 absolute, the same top-5, and the three activations
    // within 1e-4 of their max |value|. Row 1: the decoded pixels equal input_u8 exactly for BMP (JPEG decoders
    // differ by a few levels) and the top-1 equals the reference's (BMP: always; JPEG: all but at most one).
    int agree = 0, total = 0;
    std::string disagreements;
    for (const std::string& folder : test::reference_folders()) {
        CAPTURE(folder);
        const Model& m = test::imported_model(test::folder_model(folder));
        const Tensor reference_input = read_npy_tensor(test::shared_path("reference/" + folder + "/input.npy"));
        const std::string image = test::reference_meta(folder, "image");  // "shared/images/..."
        const LoadedInput decoded = load_input(test::shared_path(image.substr(image.find('/') + 1)), m.preprocessing);
        REQUIRE(decoded.input.shape == reference_input.shape);
        Tensor batch(reference_input.shape.with_batch(2));
        std::copy(reference_input.data.begin(), reference_input.data.end(), batch.data.begin());
        std::copy(decoded.input.data.begin(), decoded.input.data.end(), batch.data.begin() + reference_input.numel());
        Session s;
        forward(m.graph, s, {&batch});

        const Tensor& logits = s.values[size_t(m.logits)];
        const int classes = int(logits.numel() / 2);
        const NpyArray want = read_npy(test::shared_path("reference/" + folder + "/logits.npy"));
        REQUIRE(classes == int(want.data.size()));
        const float diff = test::max_abs_diff(logits.ptr(), want.data.data(), classes);
        MESSAGE(folder << ": max |logit diff| = " << diff);
        CHECK(diff <= 1e-3f);
        auto ranking = [&](int row, int k) {
            std::vector<int> idx(static_cast<size_t>(classes));
            std::iota(idx.begin(), idx.end(), 0);
            const float* l = logits.ptr() + int64_t(row) * classes;
            std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
            idx.resize(size_t(k));
            return idx;
        };
        CHECK(ranking(0, 5) == test::reference_top5(folder));
        for (const auto& [key, file] : {std::pair<const char*, const char*>{"target_layer", "act.npy"},
                                        {"layer2", "l2_act.npy"}, {"layer3", "l3_act.npy"}}) {
            const std::string layer = test::reference_meta(folder, key);
            CAPTURE(layer);
            const int t = m.graph.find_tensor(layer);
            REQUIRE_MESSAGE(t >= 0, "no tensor named " << layer);
            const NpyArray act = read_npy(test::shared_path("reference/" + folder + "/" + file));
            REQUIRE(s.values[size_t(t)].numel() == 2 * int64_t(act.data.size()));
            test::check_close_rel_max(folder + " " + key, s.values[size_t(t)].ptr(), act.data.data(), int64_t(act.data.size()), 1e-4f);
        }

        const NpyArray ref_u8 = read_npy(test::shared_path("reference/" + folder + "/input_u8.npy"));
        REQUIRE(ref_u8.data.size() == decoded.display.rgb.size());
        int max_level_diff = 0;
        for (size_t i = 0; i < decoded.display.rgb.size(); ++i)
            max_level_diff = std::max(max_level_diff, std::abs(int(decoded.display.rgb[i]) - int(ref_u8.data[i])));
        const bool bmp = image.size() > 4 && image.compare(image.size() - 4, 4, ".bmp") == 0;
        const int ours = ranking(1, 1)[0], theirs = test::reference_top5(folder)[0];
        ++total;
        if (ours == theirs) ++agree;
        else disagreements += " " + folder + " (" + std::to_string(ours) + " vs " + std::to_string(theirs) + ")";
        if (bmp) {
            CHECK(max_level_diff == 0);
            CHECK(ours == theirs);
        }
        MESSAGE(folder << ": decoded pixels differ from input_u8 by up to " << max_level_diff << " levels; top-1 "
                       << ours << " (reference " << theirs << ")");
    }
    MESSAGE("top-1 agreement with the reference from our own decoding: " << agree << "/" << total << disagreements);
    CHECK(agree >= total - 1);
}
