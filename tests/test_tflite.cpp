// The bounds-checked FlatBuffers reader and the TFLite parser: hand-made buffers with every kind of bad offset,
// the three real models, an unsupported op patched into a copy, huge counts, and truncation of a real file.
#include <cstring>

#include "nn/file_util.h"
#include "tests/test_weights_util.h"
#include "weights/flatbuffer.h"
#include "weights/tflite.h"
#include "weights/tflite_import.h"

using namespace ec;

namespace {

struct Bytes {
    std::vector<uint8_t> b;
    explicit Bytes(size_t n) : b(n, 0) {}
    template <typename T>
    void put(size_t pos, T v) { std::memcpy(&b[pos], &v, sizeof(T)); }
};

// A chain of `n` tables sharing one vtable: table k's field 0 refers to table k + 1.
//   0: root offset = 16 | 4: "TEST" | 8: vtable {6, 8, 4} | 16 + 8k: table k {soffset, u32 ref = 4}
Bytes table_chain(int n) {
    Bytes x(16 + 8 * size_t(n) + 8);
    x.put<uint32_t>(0, 16);
    std::memcpy(&x.b[4], "TEST", 4);
    x.put<uint16_t>(8, 6); x.put<uint16_t>(10, 8); x.put<uint16_t>(12, 4);
    for (int k = 0; k < n; ++k) {
        x.put<int32_t>(16 + 8 * size_t(k), int32_t(16 + 8 * k - 8));
        x.put<uint32_t>(20 + 8 * size_t(k), 4);
    }
    return x;
}

fb::Table root_of(const Bytes& x, fb::Buffer& buf) {
    buf = fb::Buffer{x.b.data(), x.b.size(), "test"};
    return fb::root_table(buf);
}

tflite::Model parse(const std::vector<uint8_t>& bytes, size_t size) {
    return tflite::parse_tflite(bytes.data(), size, "model.tflite");
}

}  // namespace

TEST_CASE("flatbuffer: a valid chain of tables reads, nesting beyond the limit is refused") {
    Bytes x = table_chain(40);
    fb::Buffer buf;
    fb::Table t = root_of(x, buf);
    CHECK(fb::file_identifier(buf) == "TEST");
    for (int k = 0; k < fb::kMaxFlatbufferDepth; ++k) t = t.table(0);
    CHECK(t.present());
    CHECK(t.position() == 16 + 8 * uint64_t(fb::kMaxFlatbufferDepth));
    CHECK_THROWS_WITH_AS(t.table(0), doctest::Contains("nested deeper"), Error);
    CHECK(!t.has(1));           // a field id beyond the vtable is absent
    CHECK(t.i32(7, 42) == 42);  // and reads as its default
}

TEST_CASE("flatbuffer: every bad offset, length and vtable entry is refused with an Error") {
    fb::Buffer buf;
    SUBCASE("root offset outside the buffer") {
        Bytes x = table_chain(2);
        x.put<uint32_t>(0, 1u << 31);
        CHECK_THROWS_AS(root_of(x, buf), Error);
    }
    SUBCASE("vtable before the buffer start") {
        Bytes x = table_chain(2);
        x.put<int32_t>(16, 1000);
        CHECK_THROWS_WITH_AS(root_of(x, buf), doctest::Contains("vtable"), Error);
    }
    SUBCASE("vtable past the end (negative soffset)") {
        Bytes x = table_chain(2);
        x.put<int32_t>(16, -100000);
        CHECK_THROWS_AS(root_of(x, buf), Error);
    }
    SUBCASE("odd or tiny vtable size") {
        Bytes x = table_chain(2);
        x.put<uint16_t>(8, 5);
        CHECK_THROWS_AS(root_of(x, buf), Error);
        x.put<uint16_t>(8, 2);
        CHECK_THROWS_AS(root_of(x, buf), Error);
    }
    SUBCASE("vtable larger than the buffer") {
        Bytes x = table_chain(2);
        x.put<uint16_t>(8, 0xfffe);
        CHECK_THROWS_AS(root_of(x, buf), Error);
    }
    SUBCASE("field offset outside its table") {
        Bytes x = table_chain(2);
        x.put<uint16_t>(12, 8);  // table size is 8: offset 8 is past it
        CHECK_THROWS_WITH_AS(root_of(x, buf), doctest::Contains("outside its table"), Error);
    }
    SUBCASE("reference pointing past the end") {
        Bytes x = table_chain(1);
        x.put<uint32_t>(20, 0xfffffff0u);  // 20 + 0xfffffff0 does not wrap in 64-bit arithmetic
        fb::Table t = root_of(x, buf);
        CHECK_THROWS_AS(t.table(0), Error);
        CHECK_THROWS_AS(t.vector(0), Error);
        CHECK_THROWS_AS(t.string(0), Error);
    }
    SUBCASE("vector length beyond the buffer, and whole-vector limits") {
        Bytes x = table_chain(1);
        // Make field 0 of the root a vector at 24: length 0xffffffff.
        x.put<uint32_t>(24, 0xffffffffu);
        fb::Table t = root_of(x, buf);
        CHECK_THROWS_WITH_AS(t.vector(0), doctest::Contains("out of range"), Error);
        x.put<uint32_t>(24, 1);  // a 1-item vector of 4-byte items fits (bytes 28..32)
        t = root_of(x, buf);
        CHECK(t.vector(0).size() == 1);
        CHECK_THROWS_AS(t.vector(0).i64(0), Error);     // 8-byte item does not fit
        CHECK_THROWS_AS(t.vector(0).i32(1), Error);     // index beyond length
        CHECK_THROWS_AS(t.vector(0).i32s(0), Error);    // above the caller's count limit
        CHECK(t.vector(0).i32s(1).size() == 1);
        CHECK_THROWS_AS(t.string(0, 0), Error);          // longer than the caller's string limit
    }
    SUBCASE("empty and tiny buffers") {
        Bytes x(3);
        CHECK_THROWS_AS(root_of(x, buf), Error);
        CHECK(fb::file_identifier(buf).empty());
    }
}

TEST_CASE("tflite: builtin op names and the supported set") {
    CHECK(std::string(tflite::builtin_op_name(0)) == "ADD");
    CHECK(std::string(tflite::builtin_op_name(3)) == "CONV_2D");
    CHECK(std::string(tflite::builtin_op_name(114)) == "QUANTIZE");
    CHECK(std::string(tflite::builtin_op_name(126)) == "BATCH_MATMUL");
    CHECK(std::string(tflite::builtin_op_name(150)) == "GELU");
    CHECK(tflite::builtin_op_name(-1) == nullptr);
    CHECK(tflite::builtin_op_name(4000) == nullptr);
    CHECK(tflite::op_label(4000) == "code 4000");
    CHECK(tflite::is_supported_op(tflite::DEPTHWISE_CONV_2D));
    CHECK(!tflite::is_supported_op(18));  // MUL
}

TEST_CASE("tflite: the three reference models parse, with the expected ops, inputs and quantization" * ec::test::needs_shared()) {
    for (const char* name : test::kModelNames) {
        CAPTURE(name);
        std::vector<uint8_t> bytes = read_file_bytes(test::model_tflite(name), tflite::kMaxTfliteBytes);
        tflite::Model m = parse(bytes, bytes.size());
        CHECK(m.version == 3);
        REQUIRE(m.inputs.size() == 1);
        const tflite::Tensor& in = m.tensors[size_t(m.inputs[0])];
        CHECK(in.shape.size() == 4);
        CHECK(in.type == tflite::UINT8);
        const bool ends_with_softmax = m.operators.back().op == tflite::SOFTMAX || m.operators.back().op == tflite::QUANTIZE;
        CHECK(ends_with_softmax);
        int convs = 0;
        for (const tflite::Operator& op : m.operators) {
            convs += op.op == tflite::CONV_2D || op.op == tflite::DEPTHWISE_CONV_2D;
            for (int t : op.inputs) CHECK(t < int(m.tensors.size()));
        }
        CHECK(convs >= 28);
        for (const tflite::BufferSpan& b : m.buffers) CHECK(b.offset + b.size <= bytes.size());
    }
    // Per-channel (Keras PTQ) versus per-tensor (TF1 QAT) quantization of the first conv filter.
    std::vector<uint8_t> ptq = read_file_bytes(test::model_tflite("tf2_mobilenet_v2_1.0_224_ptq"), tflite::kMaxTfliteBytes);
    tflite::Model m = parse(ptq, ptq.size());
    const tflite::Operator* conv = nullptr;
    for (const tflite::Operator& op : m.operators) if (!conv && op.op == tflite::CONV_2D) conv = &op;
    REQUIRE(conv);
    const tflite::Tensor& f = m.tensors[size_t(conv->inputs[1])];
    CHECK(f.type == tflite::INT8);
    CHECK(f.quant.scale.size() == size_t(f.shape[0]));
    CHECK(f.quant.quantized_dimension == 0);
    CHECK(conv->options.stride_h == 2);
    CHECK(conv->options.activation == tflite::ACT_RELU6);
}

TEST_CASE("tflite: wrong identifier, wrong version, unsupported op and huge counts are refused" * ec::test::needs_shared()) {
    const std::vector<uint8_t> orig = read_file_bytes(test::model_tflite("mobilenet_v2_1.0_224_quant"), tflite::kMaxTfliteBytes);
    fb::Buffer buf{orig.data(), orig.size(), "x"};
    fb::Table root = fb::root_table(buf);

    SUBCASE("identifier") {
        std::vector<uint8_t> b = orig;
        b[4] = 'X';
        CHECK_THROWS_WITH_AS(parse(b, b.size()), doctest::Contains("not a TFLite file"), Error);
    }
    SUBCASE("schema version") {
        std::vector<uint8_t> b = orig;
        uint64_t p = root.field_position(0);
        REQUIRE(p);
        uint32_t v = 2;
        std::memcpy(&b[p], &v, 4);
        CHECK_THROWS_WITH_AS(parse(b, b.size()), doctest::Contains("unsupported TFLite schema version 2"), Error);
    }
    SUBCASE("an op patched to MUL, and to an unknown code") {
        // Find the operator code AVERAGE_POOL_2D (used once) and patch both of its code fields.
        fb::Vector codes = root.vector(1);
        uint64_t dep = 0, code = 0;
        for (uint32_t i = 0; i < codes.size(); ++i) {
            fb::Table c = codes.table(i);
            if (std::max<int>(c.i8(0, 0), c.i32(3, 0)) == tflite::AVERAGE_POOL_2D) { dep = c.field_position(0); code = c.field_position(3); }
        }
        REQUIRE((dep || code));
        // A code above 127 needs the 32-bit field: the model must have it, or the code-200 case would not run.
        REQUIRE_MESSAGE(code, "the model's AVERAGE_POOL_2D code has no 32-bit builtin_code field: code 200 untestable");
        for (int32_t patched : {18, 200}) {
            std::vector<uint8_t> b = orig;
            if (dep) b[dep] = uint8_t(patched < 127 ? patched : 127);
            std::memcpy(&b[code], &patched, 4);
            const std::string want = patched == 18 ? "unsupported TFLite op MUL (code 18)" : "unsupported TFLite op code 200";
            CHECK_THROWS_WITH_AS(parse(b, b.size()), doctest::Contains(want.c_str()), Error);
            CHECK_THROWS_WITH_AS(import_tflite_memory(b.data(), b.size(), "m", "m", {}), doctest::Contains(want.c_str()), Error);
        }
    }
    SUBCASE("huge tensor count") {
        std::vector<uint8_t> b = orig;
        fb::Vector tensors = root.vector(2).table(0).vector(0);
        uint32_t huge = 0xfffffff0u;
        std::memcpy(&b[tensors.data_position() - 4], &huge, 4);
        CHECK_THROWS_AS(parse(b, b.size()), Error);
    }
    SUBCASE("tensor index out of range in an operator") {
        std::vector<uint8_t> b = orig;
        fb::Vector inputs = root.vector(2).table(0).vector(3).table(0).vector(1);
        int32_t bad = 100000;
        std::memcpy(&b[inputs.data_position()], &bad, 4);
        CHECK_THROWS_WITH_AS(parse(b, b.size()), doctest::Contains("refers to tensor 100000"), Error);
    }
}

TEST_CASE("tflite: every truncation is refused cleanly, except inside the appended metadata archive" * ec::test::needs_shared()) {
    // The Coral files end with a ZIP archive of the labels (TFLite metadata), which the parser never reads:
    // cutting into it leaves the model intact. Everything before it must be refused with an Error.
    const std::vector<uint8_t> bytes = read_file_bytes(test::model_tflite("mobilenet_v2_1.0_224_quant"), tflite::kMaxTfliteBytes);
    const size_t n = bytes.size();
    const size_t full_tensors = parse(bytes, n).tensors.size();
    std::vector<size_t> points;
    for (size_t k = 0; k < 4096; ++k) points.push_back(k);
    for (size_t k = 0; k < 2000; ++k) points.push_back(4096 + (n - 8192) * k / 2000);
    for (size_t k = n - 4096; k < n; ++k) points.push_back(k);
    size_t smallest_ok = n, largest_refused = 0, refused = 0;
    for (size_t cut : points) {
        // Short prefixes are copied to a buffer of exactly their size, so ASan would see any overread; long
        // ones are parsed in place (the parser only knows `cut`) to keep the test fast.
        std::vector<uint8_t> part;
        if (cut < 65536) part.assign(bytes.begin(), bytes.begin() + long(cut));
        try {
            tflite::Model m = cut < 65536 ? parse(part, cut) : parse(bytes, cut);
            CHECK(m.tensors.size() == full_tensors);
            smallest_ok = std::min(smallest_ok, cut);
        } catch (const Error&) {
            ++refused;
            largest_refused = std::max(largest_refused, cut);
        }
    }
    INFO("refused " << refused << " of " << points.size() << "; parsable from " << smallest_ok << " of " << n);
    CHECK(largest_refused < smallest_ok);       // the accepted cuts are exactly a tail
    CHECK(n - smallest_ok <= 64 * 1024);         // only inside the small appended archive
    CHECK(refused >= 6000);
}
