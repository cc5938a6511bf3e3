// The public C++ API (api/entropycam.h) and C API (api/entropycam_c.h) as an embedding program uses them:
// files and RGB buffers, models from files and from memory, options, error kinds, and two models explaining
// from several threads at once (equal, bit for bit, to sequential runs).
#include <cstring>
#include <thread>

#include "api/entropycam.h"
#include "api/entropycam_c.h"
#include "io/image.h"
#include "tests/test_weights_util.h"

namespace {

// The default model converted (with labels) once into a temporary folder for this file.
const std::string& model_ecw() {
    static ec::test::TempDir dir;
    static std::string path;
    if (path.empty()) {
        path = dir.path + "/mobilenet_v2_1.0_224_quant.ecw";
        ec::save_model(ec::test::imported_model("mobilenet_v2_1.0_224_quant"), path);
    }
    return path;
}

std::string cat_bmp() { return ec::test::shared_path("images/coral/cat.bmp"); }

bool same_maps(const entropycam::Explanation& a, const entropycam::Explanation& b) {
    if (a.explained.index != b.explained.index || a.maps.size() != b.maps.size()) return false;
    for (size_t i = 0; i < a.maps.size(); ++i)
        if (a.maps[i].method != b.maps[i].method || a.maps[i].raw != b.maps[i].raw || a.maps[i].heatmap != b.maps[i].heatmap ||
            a.maps[i].weights != b.maps[i].weights)
            return false;
    return true;
}

template <class F>
entropycam::Error::Kind kind_of(F f) {
    try {
        f();
    } catch (const entropycam::Error& e) {
        INFO("message: " << e.what());
        CHECK(std::string(e.what()).find('\n') == std::string::npos);
        return e.kind;
    }
    FAIL("no entropycam::Error thrown");
    return entropycam::Error::Internal;
}

}  // namespace

TEST_CASE("api: a file and the same pixels as an RGB buffer give the same maps, at the image's size" * ec::test::needs_shared()) {
    auto model = entropycam::load_model(model_ecw());
    const ec::ImageU8 pixels = ec::decode_image(cat_bmp());
    const entropycam::RgbView view{pixels.rgb.data(), pixels.width, pixels.height};
    const entropycam::Explanation from_file = entropycam::explain(*model, cat_bmp());
    const entropycam::Explanation from_rgb = entropycam::explain(*model, view);
    CHECK(same_maps(from_file, from_rgb));
    CHECK(from_file.explained.label.find("cat") != std::string::npos);
    CHECK(from_file.layer == entropycam::default_layer(*model));
    REQUIRE(from_file.maps.size() == 5);
    for (const entropycam::CamMap& m : from_file.maps) {
        CHECK(m.width == pixels.width);
        CHECK(m.height == pixels.height);
        CHECK(m.heatmap.size() == size_t(pixels.width) * size_t(pixels.height));
        CHECK(m.normalized.size() == m.raw.size());
        CHECK(m.raw_width * m.raw_height == int(m.raw.size()));
        float lo = 1, hi = 0;
        for (float v : m.normalized) lo = std::min(lo, v), hi = std::max(hi, v);
        CHECK(lo == 0.0f);
        CHECK(hi == 1.0f);
        CHECK(m.weights.size() == (m.method == "hirescam" ? 0u : 960u));
    }
    const std::vector<unsigned char> over = entropycam::overlay_rgb(view, from_file.maps[0]);
    CHECK(over.size() == pixels.rgb.size());
    CHECK(over != pixels.rgb);
    ec::test::TempDir tmp;
    entropycam::write_overlay_png(tmp.path + "/o.png", cat_bmp(), from_file.maps[0]);
    const ec::ImageU8 png = ec::decode_image(tmp.path + "/o.png");
    CHECK(png.rgb == over);
    CHECK(entropycam::classify(*model, view, 3)[0].index == entropycam::classify(*model, cat_bmp(), 3)[0].index);
}

TEST_CASE("api: a model from memory equals the model from its file; options choose methods, layer and classes" * ec::test::needs_shared()) {
    const std::string bytes = ec::test::read_text(model_ecw());
    auto from_file = entropycam::load_model(model_ecw());
    auto from_memory = entropycam::load_model_from_memory(bytes.data(), bytes.size(), "mine");
    CHECK(entropycam::class_count(*from_memory) == 1001);
    CHECK(entropycam::model_name(*from_memory) == "mobilenet_v2_1.0_224_quant");  // stored in the .ecw file
    const std::string tflite = ec::test::read_text(ec::test::model_tflite("mobilenet_v1_0.75_192_quant"));
    auto v1 = entropycam::load_model_from_memory(tflite.data(), tflite.size(), "v1");
    CHECK(entropycam::model_name(*v1) == "v1");
    CHECK(entropycam::input_width(*v1) == 192);
    CHECK(entropycam::input_width(*from_memory) == 224);
    CHECK(entropycam::label(*from_memory, 1) == entropycam::label(*from_file, 1));
    entropycam::ExplainOptions o;
    o.methods = {"gradentropycam", "gradcam"};
    o.top = 3;
    o.entropy = "hist";
    const auto a = entropycam::explain_classes(*from_file, cat_bmp(), o);
    const auto b = entropycam::explain_classes(*from_memory, cat_bmp(), o);
    REQUIRE(a.size() == 3);
    REQUIRE(b.size() == 3);
    const auto top = entropycam::classify(*from_file, cat_bmp(), 3);
    for (size_t i = 0; i < 3; ++i) {
        CHECK(same_maps(a[i], b[i]));
        CHECK(a[i].explained.index == top[i].index);
        REQUIRE(a[i].maps.size() == 2);
        CHECK(a[i].maps[0].method == "gradentropycam");
    }
    o = {};
    o.class_index = 7;
    o.layer = "MobilenetV2/Conv_1/Relu6";
    const entropycam::Explanation e = entropycam::explain(*from_file, cat_bmp(), o);
    CHECK(e.explained.index == 7);
    CHECK(e.layer == o.layer);
    CHECK(e.gradient_constant);
    CHECK(!e.warnings.empty());
}

TEST_CASE("api: bad input and bad arguments throw entropycam::Error of the CLI's kind, one line" * ec::test::needs_shared()) {
    using K = entropycam::Error;
    auto model = entropycam::load_model(model_ecw());
    CHECK(kind_of([] { entropycam::load_model("/nonexistent/m.ecw"); }) == K::BadInput);
    CHECK(kind_of([] { entropycam::load_model("no_such_model_name"); }) == K::BadInput);
    CHECK(kind_of([] { entropycam::load_model_from_memory("garbage!", 8); }) == K::BadInput);
    CHECK(kind_of([] { entropycam::load_model_from_memory(nullptr, 0); }) == K::BadArgument);
    const std::string bytes = ec::test::read_text(model_ecw());
    CHECK(kind_of([&] { entropycam::load_model_from_memory(bytes.data(), bytes.size() / 2); }) == K::BadInput);
    CHECK(kind_of([&] { entropycam::explain(*model, "/nonexistent.jpg"); }) == K::BadInput);
    entropycam::ExplainOptions o;
    o.methods = {"nosuchcam"};
    CHECK(kind_of([&] { entropycam::explain(*model, cat_bmp(), o); }) == K::BadArgument);
    o = {};
    o.class_index = 1001;
    CHECK(kind_of([&] { entropycam::explain(*model, cat_bmp(), o); }) == K::BadArgument);
    o = {};
    o.layer = "nope";
    CHECK(kind_of([&] { entropycam::explain(*model, cat_bmp(), o); }) == K::BadArgument);
    const unsigned char px[3] = {1, 2, 3};
    CHECK(kind_of([&] { entropycam::explain(*model, entropycam::RgbView{px, 0, 1}); }) == K::BadArgument);
    CHECK(kind_of([&] { entropycam::explain(*model, entropycam::RgbView{nullptr, 4, 4}); }) == K::BadArgument);
    CHECK(kind_of([&] { entropycam::classify(*model, cat_bmp(), -1); }) == K::BadArgument);
    // A 1 x 1 buffer is an image like any other: resized to the model's input.
    CHECK(entropycam::explain(*model, entropycam::RgbView{px, 1, 1}).maps[0].heatmap.size() == 1);
}

TEST_CASE("api: two models in one process, explaining from several threads, equal sequential runs bit for bit" * ec::test::needs_shared()) {
    auto v2 = entropycam::load_model(model_ecw());
    auto v1 = entropycam::load_model(ec::test::model_tflite("mobilenet_v1_0.75_192_quant"));  // imported on load
    const std::string images[] = {cat_bmp(), ec::test::shared_path("images/coral/bird.bmp")};
    const entropycam::Model* models[] = {v2.get(), v1.get()};
    entropycam::Explanation want[2][2];
    for (int m = 0; m < 2; ++m)
        for (int i = 0; i < 2; ++i) want[m][i] = entropycam::explain(*models[m], images[i]);
    CHECK(want[1][0].maps[0].raw_width == 6);  // v1 at 192: a 6 x 6 map, v2 at 224: 7 x 7
    CHECK(want[0][0].maps[0].raw_width == 7);
    const int kThreads = 4;
    std::vector<entropycam::Explanation> got(kThreads * 2);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> pool;
    for (int t = 0; t < kThreads; ++t)
        pool.emplace_back([&, t] {
            try {
                for (int i = 0; i < 2; ++i) got[size_t(t * 2 + i)] = entropycam::explain(*models[t % 2], images[(t / 2 + i) % 2]);
            } catch (const std::exception& e) {
                errors[size_t(t)] = e.what();
            }
        });
    for (std::thread& th : pool) th.join();
    for (int t = 0; t < kThreads; ++t) {
        CHECK(errors[size_t(t)] == "");
        for (int i = 0; i < 2; ++i) CHECK(same_maps(got[size_t(t * 2 + i)], want[t % 2][(t / 2 + i) % 2]));
    }
}

TEST_CASE("C api: handles, return codes, thread-local last error, maps equal the C++ API's" * ec::test::needs_shared()) {
    CHECK(std::string(ecam_version()) == entropycam::version());
    ecam_model* model = nullptr;
    CHECK(ecam_model_load("/nonexistent/m.ecw", &model) == 1);
    CHECK(model == nullptr);
    CHECK(std::string(ecam_last_error()).find("/nonexistent/m.ecw") != std::string::npos);
    std::string other_thread_error = "unset";
    std::thread([&] { other_thread_error = ecam_last_error(); }).join();
    CHECK(other_thread_error == "");
    CHECK(ecam_model_load(nullptr, &model) == 2);
    REQUIRE(ecam_model_load(model_ecw().c_str(), &model) == 0);
    CHECK(ecam_model_class_count(model) == 1001);
    CHECK(ecam_model_label(model, 1001) == nullptr);

    int idx[3];
    float prob[3];
    REQUIRE(ecam_classify_file(model, cat_bmp().c_str(), 3, idx, prob) == 0);
    CHECK(prob[0] >= prob[1]);
    ecam_explanation* e = nullptr;
    CHECK(ecam_explain_file(model, cat_bmp().c_str(), "gradcam,bogus", nullptr, -1, &e) == 2);
    CHECK(std::string(ecam_last_error()).find("bogus") != std::string::npos);
    CHECK(ecam_explain_file(model, cat_bmp().c_str(), nullptr, nullptr, 1001, &e) == 2);
    CHECK(ecam_explain_file(model, "/nonexistent.png", nullptr, nullptr, -1, &e) == 1);
    CHECK(e == nullptr);
    REQUIRE(ecam_explain_file(model, cat_bmp().c_str(), "hirescam,featentropycam", nullptr, -1, &e) == 0);
    CHECK(ecam_explanation_count(e) == 2);
    CHECK(ecam_explanation_class(e) == idx[0]);
    CHECK(std::string(ecam_explanation_method(e, 1)) == "featentropycam");
    CHECK(ecam_explanation_method(e, 2) == nullptr);
    CHECK(ecam_explanation_warning_count(e) >= 1);

    const entropycam::Explanation want = entropycam::explain(*entropycam::load_model(model_ecw()), cat_bmp());
    const ec::ImageU8 pixels = ec::decode_image(cat_bmp());
    ecam_explanation* r = nullptr;
    REQUIRE(ecam_explain_rgb(model, pixels.rgb.data(), pixels.width, pixels.height, nullptr, nullptr, -1, &r) == 0);
    REQUIRE(ecam_explanation_count(r) == 5);
    for (int i = 0; i < 5; ++i) {
        const float* data = nullptr;
        int w = 0, h = 0;
        REQUIRE(ecam_explanation_raw(r, i, &data, &w, &h) == 0);
        CHECK(std::vector<float>(data, data + w * h) == want.maps[size_t(i)].raw);
        REQUIRE(ecam_explanation_map(r, i, &data, &w, &h) == 0);
        CHECK(w == pixels.width);
        CHECK(std::vector<float>(data, data + w * h) == want.maps[size_t(i)].heatmap);
    }
    const float* data = nullptr;
    int w = 0, h = 0;
    CHECK(ecam_explanation_raw(r, 5, &data, &w, &h) == 2);
    std::vector<unsigned char> over(pixels.rgb.size());
    CHECK(ecam_overlay_rgb(r, 0, pixels.rgb.data(), pixels.width, pixels.height, over.data()) == 0);
    CHECK(over != pixels.rgb);
    ec::test::TempDir tmp;
    REQUIRE(ecam_write_overlay_png(r, 0, cat_bmp().c_str(), (tmp.path + "/o.png").c_str()) == 0);
    CHECK(ec::decode_image(tmp.path + "/o.png").rgb == over);
    REQUIRE(ecam_explanation_normalized(r, 0, &data, &w, &h) == 0);
    CHECK(std::vector<float>(data, data + w * h) == want.maps[0].normalized);
    int n = 0;
    REQUIRE(ecam_explanation_weights(r, 0, &data, &n) == 0);
    CHECK(std::vector<float>(data, data + n) == want.maps[0].weights);

    // The same model from its bytes, and the same pixels as a buffer, classify alike.
    const std::string bytes = ec::test::read_text(model_ecw());
    ecam_model* copy = nullptr;
    REQUIRE(ecam_model_load_memory(bytes.data(), bytes.size(), &copy) == 0);
    int idx2[3];
    REQUIRE(ecam_classify_rgb(copy, pixels.rgb.data(), pixels.width, pixels.height, 3, idx2, nullptr) == 0);
    CHECK(std::equal(idx, idx + 3, idx2));
    ecam_model_free(copy);
    ecam_model* bad = model;
    CHECK(ecam_model_load_memory("not a model", 11, &bad) == 1);
    CHECK(bad == nullptr);
    ecam_explanation_free(r);
    ecam_explanation_free(e);
    ecam_model_free(model);
}
