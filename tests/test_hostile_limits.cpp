// Every named limit on untrusted input, tried just at the limit (accepted, or refused for another reason) and
// one past it (refused with a message naming the limit). Limits tested elsewhere: image side, pixels and file
// size (test_image.cpp "size limits..."), label lines and bytes (test_text_io.cpp "parse_labels..."), CSV
// fields (test_text_io.cpp), FlatBuffer nesting (test_tflite.cpp), the .ecw file size (test_hostile.cpp).
// Files over a byte limit are sparse (truncate), so nothing large is written or read.
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "weights/labels.h"
#include "nn/file_util.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/text_io.h"
#include "tests/fuzz/tflite_builder.h"
#include "tests/test_weights_util.h"
#include "weights/format.h"
#include "weights/tflite.h"

using namespace ec;

namespace {

std::string sparse_file(const std::string& path, int64_t size) {
    FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fclose(f);
    REQUIRE(::truncate(path.c_str(), off_t(size)) == 0);
    return path;
}

Model parse_bytes(const std::string& bytes) {
    test::AlignedBytes a(bytes);
    return ecw::parse_model(a.data(), a.size, nullptr, "m.ecw");
}

// A classifier of [1,h,w,3] images: input -> `relus` ReLU nodes -> global average pooling -> reshape to the
// [1,3] logits. No parameters, so the graph section is all there is to read.
Model relu_chain(int relus, int h = 1, int w = 1) {
    Model m;
    int x = add_input(m.graph, "in", Shape{1, h, w, 3});
    for (int i = 0; i < relus; ++i) x = relu(m.graph, "r" + std::to_string(i), x);
    x = global_avg_pool(m.graph, "gap", x);
    m.logits = reshape(m.graph, "logits", x, Shape{1, 3});
    m.preprocessing.height = h;
    m.preprocessing.width = w;
    m.name = "chain";
    return m;
}

// Byte position of the u32 right after the labels (the parameter count) of a file with no labels, and of the
// tensor count when there are no parameters either.
size_t after_labels(const Model& m) {
    return 64 + (4 + m.name.size()) + (4 + m.source.size()) + 4 + 4 + 8 + 4 +
           (4 + m.graph.tensors[size_t(m.logits)].name.size()) + 4;
}

template <typename T>
void patch(std::string& b, size_t p, T v) { std::memcpy(&b[p], &v, sizeof(T)); }

}  // namespace

TEST_CASE("limits: tensor element count (kMaxTensorElements = 2^30), in shapes and .npy headers") {
    CHECK((Shape{1, 32768, 32768}.numel() == kMaxTensorElements));
    CHECK_THROWS_WITH_AS(Shape({1, 32768, 32769}).numel(), doctest::Contains("has more than 2^30 elements"), Error);
    CHECK_THROWS_WITH_AS(Shape({2, 65536, 65536}).numel(), doctest::Contains("has more than 2^30 elements"), Error);  // no int64 overflow
    CHECK_THROWS_WITH_AS(Shape({1, -3}).numel(), doctest::Contains("negative dimension"), Error);
    auto npy = [](const std::string& shape) {
        std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
        std::string b = "\x93NUMPY\x01";
        b += '\0';
        b += char(dict.size());
        b += '\0';
        b += dict;
        return parse_npy(reinterpret_cast<const uint8_t*>(b.data()), b.size());
    };
    // At the limit the header is accepted and the missing data is what is refused.
    CHECK_THROWS_WITH_AS(npy("(1073741824,)"), doctest::Contains("truncated data"), Error);
    CHECK_THROWS_WITH_AS(npy("(32768, 32768)"), doctest::Contains("truncated data"), Error);
    CHECK_THROWS_WITH_AS(npy("(1073741825,)"), doctest::Contains("dimension too large"), Error);
    CHECK_THROWS_WITH_AS(npy("(32768, 32769)"), doctest::Contains("more than 2^30 elements"), Error);
    CHECK_THROWS_WITH_AS(npy("(99999999999999999999999,)"), doctest::Contains("dimension too large"), Error);
}

TEST_CASE("limits: .ecw graph size (kMaxTensors = 8192 tensors), in the writer and the loader") {
    Model at = relu_chain(int(ecw::kMaxTensors) - 3);
    REQUIRE(at.graph.tensors.size() == ecw::kMaxTensors);
    const std::string bytes = ecw::serialize_model(at);
    CHECK(parse_bytes(bytes).graph.tensors.size() == ecw::kMaxTensors);
    CHECK_THROWS_WITH_AS(ecw::serialize_model(relu_chain(int(ecw::kMaxTensors) - 2)),
                         doctest::Contains("exceeds the .ecw limits on tensors"), Error);
    std::string over = bytes;
    const size_t count = after_labels(at) + 4;  // no parameters: the tensor count follows
    REQUIRE(std::memcmp(&over[count], &ecw::kMaxTensors, 4) == 0);
    patch<uint32_t>(over, count, ecw::kMaxTensors + 1);
    CHECK_THROWS_WITH_AS(parse_bytes(over), doctest::Contains("8193 tensors (limit 8192)"), Error);
}

TEST_CASE("limits: .ecw labels (kMaxLabels = 100000) and string bytes (kMaxStringBytes = 4096)") {
    Model m = relu_chain(1);
    m.labels.assign(3, "x");
    m.name = std::string(ecw::kMaxStringBytes, 'n');
    const std::string bytes = ecw::serialize_model(m);
    CHECK(parse_bytes(bytes).name == m.name);
    m.name += "n";
    CHECK_THROWS_AS(ecw::serialize_model(m), Error);
    std::string over = bytes;
    patch<uint32_t>(over, 64, ecw::kMaxStringBytes + 1);
    CHECK_THROWS_WITH_AS(parse_bytes(over), doctest::Contains("model name of 4097 bytes (limit 4096)"), Error);

    // Label count: the writer refuses one more than the limit; the loader refuses a count one over it.
    m.name = "chain";
    m.labels.assign(ecw::kMaxLabels + 1, "x");
    CHECK_THROWS_WITH_AS(ecw::serialize_model(m), doctest::Contains("exceeds the .ecw limits"), Error);
    m.labels.assign(3, "x");
    std::string labels = ecw::serialize_model(m);
    const size_t count = after_labels(m) - 4;
    REQUIRE(std::memcmp(&labels[count], "\x03\x00\x00\x00", 4) == 0);
    patch<uint32_t>(labels, count, ecw::kMaxLabels);  // at the limit: read on, then the section ends early
    CHECK_THROWS_WITH_AS(parse_bytes(labels), doctest::Contains("corrupt weight file"), Error);
    try { parse_bytes(labels); } catch (const Error& e) { CHECK(std::string(e.what()).find("labels (limit") == std::string::npos); }
    patch<uint32_t>(labels, count, ecw::kMaxLabels + 1);
    CHECK_THROWS_WITH_AS(parse_bytes(labels), doctest::Contains("100001 labels (limit 100000)"), Error);
}

TEST_CASE("limits: .ecw activation size (kMaxActivationFloats = 2^28) is checked when writing and loading") {
    // A 8192 x 8192 input, its pooled [1,1,1,3] and [1,3] logits, and a second input [1,n] filling up to the limit.
    auto model = [](int64_t extra) {
        Model m;
        add_input(m.graph, "in", Shape{1, 8192, 8192, 3});
        add_input(m.graph, "extra", Shape{1, int(extra)});
        const int pooled = global_avg_pool(m.graph, "gap", 0);
        m.logits = reshape(m.graph, "logits", pooled, Shape{1, 3});
        m.preprocessing.height = m.preprocessing.width = 8192;
        m.name = "big";
        return m;
    };
    const int64_t fill = ecw::kMaxActivationFloats - int64_t(8192) * 8192 * 3 - 3 - 3;
    const std::string at = ecw::serialize_model(model(fill));
    CHECK(parse_bytes(at).graph.tensors.size() == 4);  // nothing is allocated for the activations
    CHECK_THROWS_WITH_AS(ecw::serialize_model(model(fill + 1)),
                         doctest::Contains("the activations need more than 268435456 floats"), Error);
    CHECK_THROWS_WITH_AS(ecw::serialize_model(model(fill + 1)), doctest::Contains("cannot be saved as an .ecw file"), Error);
}

TEST_CASE("limits: file sizes of .npy, text, image and TFLite files are checked before reading (sparse files)") {
    test::TempDir tmp;
    CHECK_THROWS_WITH_AS(read_npy(sparse_file(tmp.path + "/big.npy", kMaxNpyBytes + 1)),
                         doctest::Contains("above the limit of 2147483648"), Error);
    CHECK_THROWS_WITH_AS(read_labels(sparse_file(tmp.path + "/big.txt", kMaxTextFileBytes + 1)),
                         doctest::Contains("above the limit of 67108864"), Error);
    CHECK_THROWS_WITH_AS(read_csv(tmp.path + "/big.txt"), doctest::Contains("above the limit of 67108864"), Error);
    CHECK_THROWS_WITH_AS(decode_image(sparse_file(tmp.path + "/big.png", kMaxImageFileBytes + 1)),
                         doctest::Contains("above the limit of 268435456"), Error);
    CHECK_THROWS_WITH_AS(import_tflite(sparse_file(tmp.path + "/big.tflite", tflite::kMaxTfliteBytes + 1), ""),
                         doctest::Contains("above the limit of 1073741824"), Error);
    // At the text limit a file is read (64 MiB of zeros: one label of NUL bytes, refused as not text).
    CHECK_THROWS_WITH_AS(read_labels(sparse_file(tmp.path + "/at.txt", kMaxTextFileBytes)), doctest::Contains("NUL byte"), Error);
    // From memory: the same limits, for callers that do their own reading.
    const std::string text(size_t(kMaxTextFileBytes) + 1, 'x');
    CHECK_THROWS_WITH_AS(parse_labels(text, "l.txt"), doctest::Contains("67108865 bytes exceeds the limit"), Error);
    CHECK_THROWS_WITH_AS(parse_csv(text, "c.csv"), doctest::Contains("67108865 bytes exceeds the limit"), Error);
    const std::string tiny = test::tiny_tflite();
    CHECK_THROWS_WITH_AS(tflite::parse_tflite(reinterpret_cast<const uint8_t*>(tiny.data()), size_t(tflite::kMaxTfliteBytes) + 1, "t"),
                         doctest::Contains("above the TFLite size limit"), Error);
}

TEST_CASE("limits: TFLite tensor count (kMaxTfliteTensors = 100000)") {
    auto file = [](uint32_t n) {
        std::vector<test::TinyTensor> tensors(n, test::TinyTensor{"", {1}, 0, 0, {}, {}, 0});
        return test::tflite_file(tensors, {}, {}, {0}, {0});
    };
    const std::string at = file(tflite::kMaxTfliteTensors);
    CHECK(tflite::parse_tflite(reinterpret_cast<const uint8_t*>(at.data()), at.size(), "at.tflite").tensors.size() ==
          tflite::kMaxTfliteTensors);
    const std::string over = file(tflite::kMaxTfliteTensors + 1);
    CHECK_THROWS_WITH_AS(tflite::parse_tflite(reinterpret_cast<const uint8_t*>(over.data()), over.size(), "over.tflite"),
                         doctest::Contains("100001 tensors is above the limit of 100000"), Error);
}
