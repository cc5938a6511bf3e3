// The .ecw weight file: an exact round trip through a mapped file, and a loader that refuses every truncation,
// survives random byte flips, and names wrong magic, versions, huge counts and bad indices in one Error line.
#include <sys/stat.h>

#include <cstring>
#include <random>

#include "io/npy.h"
#include "tests/test_weights_util.h"
#include "weights/format.h"

using namespace ec;

namespace {

// Byte positions of a few fields of the graph section, found by walking it as FORMAT.md describes.
struct Layout {
    size_t label_count = 0, param_count = 0, first_param_offset = 0, tensor_count = 0;
    size_t first_node_code = 0, first_node_input = 0;
};

uint32_t u32_at(const std::string& b, size_t p) {
    uint32_t v;
    std::memcpy(&v, &b[p], 4);
    return v;
}
template <typename T>
void patch(std::string& b, size_t p, T v) { std::memcpy(&b[p], &v, sizeof(T)); }

Layout walk(const std::string& b) {
    Layout l;
    size_t p = 64;
    auto skip_str = [&] { p += 4 + u32_at(b, p); };
    auto skip_shape = [&] { p += 1 + 4 * size_t(uint8_t(b[p])); };
    skip_str(); skip_str();
    p += 4 + 4 + 8 + 4;
    skip_str();
    l.label_count = p;
    uint32_t labels = u32_at(b, p);
    p += 4;
    for (uint32_t i = 0; i < labels; ++i) skip_str();
    l.param_count = p;
    uint32_t params = u32_at(b, p);
    p += 4;
    for (uint32_t i = 0; i < params; ++i) {
        skip_str(); skip_shape();
        if (i == 0) l.first_param_offset = p;
        p += 8;
    }
    l.tensor_count = p;
    p += 4;
    REQUIRE(b[p] == 0);  // the graph input record comes first
    p += 1; skip_str(); skip_shape();
    REQUIRE(b[p] == 1);
    l.first_node_code = p + 1;
    p += 2; skip_str();
    l.first_node_input = p + 4;
    return l;
}

Model parse_bytes(const std::string& file, size_t size) {
    test::AlignedBytes a(file);
    return ecw::parse_model(a.data(), size, nullptr, "m.ecw");
}

const std::string& v2_file() {
    static const std::string bytes = ecw::serialize_model(test::imported_model("mobilenet_v2_1.0_224_quant"));
    return bytes;
}

uint64_t header_u64(const std::string& b, size_t p) {
    uint64_t v;
    std::memcpy(&v, &b[p], 8);
    return v;
}

}  // namespace

TEST_CASE("ecw: convert, write, mmap-load and run gives exactly the imported graph's outputs" * ec::test::needs_shared()) {
    test::TempDir tmp;
    for (const char* name : test::kModelNames) {
        CAPTURE(name);
        const Model& imported = test::imported_model(name);
        const std::string path = tmp.path + "/" + name + ".ecw";
        save_model(imported, path);
        Model loaded = load_model(path);

        CHECK(loaded.name == imported.name);
        CHECK(loaded.source == imported.source);
        CHECK(loaded.labels == imported.labels);
        CHECK(loaded.preprocessing.width == imported.preprocessing.width);
        CHECK(loaded.preprocessing.scale == imported.preprocessing.scale);
        CHECK(loaded.preprocessing.offset == imported.preprocessing.offset);
        CHECK(loaded.logits == imported.logits);
        REQUIRE(loaded.graph.tensors.size() == imported.graph.tensors.size());
        for (size_t t = 0; t < loaded.graph.tensors.size(); ++t) {
            CHECK(loaded.graph.tensors[t].name == imported.graph.tensors[t].name);
            CHECK(loaded.graph.tensors[t].shape == imported.graph.tensors[t].shape);
        }
        for (size_t k = 0; k < loaded.graph.nodes.size(); ++k) {
            const ConvGeometry &a = loaded.graph.nodes[k].conv, &b = imported.graph.nodes[k].conv;
            CHECK(std::memcmp(&a, &b, sizeof a) == 0);  // padding resolved identically (TF SAME, asymmetric)
            CHECK(std::memcmp(&loaded.graph.nodes[k].pool, &imported.graph.nodes[k].pool, sizeof(PoolGeometry)) == 0);
        }
        // Parameters point into the mapping (no copy), 64-byte aligned, with the same values.
        REQUIRE(loaded.graph.params.size() == imported.graph.params.size());
        for (size_t i = 0; i < loaded.graph.params.size(); ++i) {
            const Param& p = loaded.graph.params[i];
            CHECK(p.external != nullptr);
            CHECK(p.owned.empty());
            CHECK(reinterpret_cast<uintptr_t>(p.external) % 64 == 0);
            CHECK(std::memcmp(p.data(), imported.graph.params[i].data(), size_t(p.shape.numel()) * 4) == 0);
        }
        CHECK(bool(loaded.graph.backing));

        // Same graph and same parameter bytes imply the same outputs; run one model (the default) to show it.
        if (std::string(name) != "mobilenet_v2_1.0_224_quant") continue;
        const Tensor input = test::reference_input(name);
        Session a, b;
        forward(imported.graph, a, {&input});
        forward(loaded.graph, b, {&input});
        for (size_t t = 0; t < a.values.size(); ++t)
            CHECK(std::memcmp(a.values[t].ptr(), b.values[t].ptr(), size_t(a.values[t].numel()) * 4) == 0);
    }
}

TEST_CASE("ecw: every truncation of the header and graph section, and a spread over the data, is refused" * ec::test::needs_shared()) {
    const std::string& file = v2_file();
    const uint64_t data_offset = header_u64(file, 40), graph_size = header_u64(file, 32);
    test::AlignedBytes a(file);
    int refused = 0;
    for (size_t cut = 0; cut < file.size(); cut += cut < data_offset ? 1 : (file.size() - data_offset) / 2000) {
        try {
            ecw::parse_model(a.data(), cut, nullptr, "m.ecw");
        } catch (const Error& e) {
            ++refused;
            continue;
        }
        FAIL("a file cut at " << cut << " of " << file.size() << " bytes loaded");
    }
    CHECK(refused > int(data_offset));
    // The same with a header rewritten to match each cut of the graph section, so the section reader itself
    // meets the end at every byte (and the nodes read so far are rebuilt).
    int section_refused = 0;
    for (uint64_t k = 0; k < graph_size; k += (k < 4096 || k > graph_size - 8192) ? 1 : 7) {
        std::memcpy(a.data() + 32, &k, 8);
        try {
            ecw::parse_model(a.data(), file.size(), nullptr, "m.ecw");
            FAIL("a graph section cut at " << k << " of " << graph_size << " bytes loaded");
        } catch (const Error& e) {
            ++section_refused;
        }
    }
    CHECK(section_refused > 8192);
    MESSAGE("refused " << refused << " file cuts and " << section_refused << " graph-section cuts");
}

TEST_CASE("ecw: random byte flips in the header and graph section load a valid graph or throw Error" * ec::test::needs_shared()) {
    const std::string& file = v2_file();
    const uint64_t graph_end = 64 + header_u64(file, 32);
    std::mt19937 rng(1234);
    const Tensor input = test::reference_input("mobilenet_v2_1.0_224_quant");
    const int kTrials = 2000;
    int loaded = 0, refused = 0, ran = 0;
    test::AlignedBytes a(file);
    for (int trial = 0; trial < kTrials; ++trial) {
        std::memcpy(a.data(), file.data(), size_t(graph_end));  // restore, then flip 1..4 bytes
        const int flips = 1 + int(rng() % 4);
        for (int f = 0; f < flips; ++f) a.data()[rng() % graph_end] ^= uint8_t(1 + rng() % 255);
        try {
            Model m = ecw::parse_model(a.data(), a.size, nullptr, "m.ecw");
            ++loaded;
            if (ran < 2 && m.graph.inputs.size() == 1) {  // a loaded graph must also run
                Session s;
                forward(m.graph, s, {&input});
                ++ran;
            }
        } catch (const Error&) {
            ++refused;
        }
    }
    MESSAGE("byte flips: " << loaded << " loaded (label or name changes), " << refused << " refused, " << ran << " run");
    CHECK(refused > kTrials / 3);
    CHECK(loaded > 0);  // some flips (labels, names) load, and two of those graphs were run
    CHECK(ran == 2);
}

TEST_CASE("ecw: wrong magic, TFLite files, versions, huge counts and bad indices give one-line errors" * ec::test::needs_shared()) {
    const std::string& good = v2_file();
    const Layout l = walk(good);
    auto refuse = [&](std::string b, const char* want) {
        CAPTURE(want);
        CHECK_THROWS_WITH_AS(parse_bytes(b, b.size()), doctest::Contains(want), Error);
        try { parse_bytes(b, b.size()); } catch (const Error& e) { CHECK(std::string(e.what()).find('\n') == std::string::npos); }
    };
    CHECK_NOTHROW(parse_bytes(good, good.size()));
    std::string b;
    b = good; b[0] = 'X'; refuse(b, "bad magic");
    b = good; std::memcpy(&b[4], "TFL3", 4); refuse(b, "is a TFLite model");
    b = good; patch<uint32_t>(b, 8, 2); refuse(b, "unsupported .ecw version 2");
    b = good; patch<uint64_t>(b, 56, 1); refuse(b, "reserved");
    b = good; patch<uint64_t>(b, 40, header_u64(good, 40) + 1); refuse(b, "inconsistent");
    b = good + std::string(64, '\0'); refuse(b, "the header says");
    b = good; patch<uint32_t>(b, l.label_count, 0xffffffffu); refuse(b, "labels (limit");
    b = good; patch<uint32_t>(b, l.label_count, 5000); refuse(b, "corrupt weight file");
    b = good; patch<uint32_t>(b, l.param_count, 0x7fffffffu); refuse(b, "parameters (limit");
    b = good; patch<uint32_t>(b, l.tensor_count, 100000); refuse(b, "tensors (limit");
    b = good; patch<uint64_t>(b, l.first_param_offset, 8); refuse(b, "not 64-byte aligned");
    b = good; patch<uint64_t>(b, l.first_param_offset, uint64_t(1) << 62); refuse(b, "outside the data section");
    b = good; b[l.first_node_code] = char(99); refuse(b, "unknown node kind 99");
    b = good; patch<uint32_t>(b, l.first_node_input, 1); refuse(b, "before it exists");
    b = good; patch<uint32_t>(b, l.first_node_input, 0xffffffffu); refuse(b, "before it exists");
    b = good; patch<uint32_t>(b, 64, 100000); refuse(b, "model name of 100000 bytes");

    // From disk: missing, a folder, tiny and empty files.
    test::TempDir tmp;
    CHECK_THROWS_WITH_AS(load_model(tmp.path + "/none.ecw"), doctest::Contains("No such file"), Error);
    CHECK_THROWS_WITH_AS(load_model(tmp.path), doctest::Contains("not a regular file"), Error);
    write_file_atomic(tmp.path + "/hello.ecw", std::string("hello"));
    CHECK_THROWS_WITH_AS(load_model(tmp.path + "/hello.ecw"), doctest::Contains("bad magic"), Error);
    write_file_atomic(tmp.path + "/empty.ecw", std::string());
    CHECK_THROWS_AS(load_model(tmp.path + "/empty.ecw"), Error);
    write_file_atomic(tmp.path + "/short.ecw", good.substr(0, 40));
    CHECK_THROWS_WITH_AS(load_model(tmp.path + "/short.ecw"), doctest::Contains("truncated"), Error);
    write_file_atomic(tmp.path + "/cut.ecw", good.substr(0, good.size() - 1));
    CHECK_THROWS_WITH_AS(load_model(tmp.path + "/cut.ecw"), doctest::Contains("truncated weight file"), Error);
}

TEST_CASE("ecw: resolve_model finds names in the weights folder and lists what exists otherwise" * ec::test::needs_shared()) {
    test::TempDir tmp;
    write_file_atomic(tmp.path + "/alpha.ecw", v2_file());
    write_file_atomic(tmp.path + "/beta.ecw", v2_file());
    const char* old = std::getenv("ENTROPYCAM_WEIGHTS_DIR");
    const std::string saved = old ? old : "";
    setenv("ENTROPYCAM_WEIGHTS_DIR", tmp.path.c_str(), 1);
    CHECK(weights_dir() == tmp.path);
    CHECK(resolve_model("alpha") == tmp.path + "/alpha.ecw");
    CHECK(resolve_model(tmp.path + "/beta.ecw") == tmp.path + "/beta.ecw");
    CHECK(available_models() == std::vector<std::string>{"alpha", "beta"});
    CHECK_THROWS_WITH_AS(resolve_model("gamma"), doctest::Contains("available: alpha, beta"), Error);
    CHECK_THROWS_WITH_AS(resolve_model("gamma"), doctest::Contains("make weights"), Error);
    CHECK_THROWS_WITH_AS(resolve_model(tmp.path + "/gamma.ecw"), doctest::Contains("not found"), Error);
    CHECK(load_model(resolve_model("alpha")).graph.tensors.size() == test::imported_model("mobilenet_v2_1.0_224_quant").graph.tensors.size());
    if (old) setenv("ENTROPYCAM_WEIGHTS_DIR", saved.c_str(), 1);
    else unsetenv("ENTROPYCAM_WEIGHTS_DIR");
}
