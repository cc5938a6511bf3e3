// CAM primitives: entropy estimators, the five methods, post-processing and the gradient degeneracy, checked by
// hand-computed cases and against every model/image/layer of ../shared/reference (index.json).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "cam/cam_methods.h"
#include "cam/entropy.h"
#include "cam/postprocess.h"
#include "nn/file_util.h"
#include "io/npy.h"
#include "tests/reference_data.h"

using namespace ec;

namespace {

using test::reference_folders;

bool exists(const std::string& path) { return std::filesystem::exists(path); }

// Worst relative (to max|ref|) difference seen per kind of array, for the summary line.
struct Worst {
    double weights = 0, raw = 0, norm = 0, up = 0;
};

double compare(const std::string& what, const std::vector<float>& got, const NpyArray& want, float tol) {
    REQUIRE_MESSAGE(int64_t(got.size()) == int64_t(want.data.size()), what << ": " << got.size() << " values, reference has " << want.data.size());
    const int64_t n = int64_t(got.size());
    test::check_close_rel_max(what, got.data(), want.data.data(), n, tol);
    double scale = std::max(double(test::max_abs(want.data.data(), n)), 1e-30);
    return test::max_abs_diff(got.data(), want.data.data(), n) / scale;
}

}  // namespace

TEST_CASE("entropy_spatial: hand-computed values") {
    std::vector<float> uniform(49, 0.3f);
    CHECK(entropy_spatial(uniform.data(), 49) == doctest::Approx(std::log(49.0)).epsilon(1e-12));
    std::vector<float> one_hot(49, 0.0f);
    one_hot[17] = 2.5f;
    CHECK(entropy_spatial(one_hot.data(), 49) == 0.0);
    std::vector<float> zeros(49, 0.0f);
    CHECK(entropy_spatial(zeros.data(), 49) == 0.0);
    // |x| is used: {-1, 1, 0, 0} is two equal masses -> ln 2.
    float signed_vals[] = {-1.0f, 1.0f, 0.0f, 0.0f};
    CHECK(entropy_spatial(signed_vals, 4) == doctest::Approx(std::log(2.0)).epsilon(1e-12));
    // p = {1/4, 3/4}: H = -(1/4 ln 1/4 + 3/4 ln 3/4).
    float quarter[] = {1.0f, 3.0f};
    CHECK(entropy_spatial(quarter, 2) == doctest::Approx(-(0.25 * std::log(0.25) + 0.75 * std::log(0.75))).epsilon(1e-12));
}

TEST_CASE("entropy_hist: hand-computed values and numpy binning") {
    float two_values[] = {0.0f, 0.0f, 5.0f, 5.0f};
    CHECK(entropy_hist(two_values, 4, 256) == doctest::Approx(1.0).epsilon(1e-12));  // two equal bins: 1 bit
    float constant[] = {2.0f, 2.0f, 2.0f};
    CHECK(entropy_hist(constant, 3, 256) == 0.0);
    // bins = 2 over [0, 1]: 0.5 sits on the inner edge and goes up (edge[i] <= v < edge[i+1]); 1.0 == max goes
    // into the closed last bin. Counts {1, 2}.
    float edges[] = {0.0f, 0.5f, 1.0f};
    double h12 = -(1.0 / 3 * std::log2(1.0 / 3) + 2.0 / 3 * std::log2(2.0 / 3));
    CHECK(entropy_hist(edges, 3, 2) == doctest::Approx(h12).epsilon(1e-12));
    // Four values in four different bins of 4: 2 bits; with one bin, always 0.
    float spread[] = {-3.0f, -1.0f, 1.0f, 3.0f};
    CHECK(entropy_hist(spread, 4, 4) == doctest::Approx(2.0).epsilon(1e-12));
    CHECK(entropy_hist(spread, 4, 1) == 0.0);
    CHECK_THROWS_AS(entropy_hist(spread, 4, 0), Error);
    CHECK_THROWS_AS(entropy_hist(spread, 4, kMaxHistogramBins + 1), Error);
    float with_nan[] = {0.0f, NAN, 1.0f};
    CHECK_THROWS_AS(entropy_hist(with_nan, 3, 8), Error);
    CHECK(parse_entropy_estimator("hist") == EntropyEstimator::Histogram);
    CHECK_THROWS_WITH_AS(parse_entropy_estimator("unique"), doctest::Contains("spatial, hist"), Error);
}

TEST_CASE("cam methods: names, parsing, gradient need") {
    for (CamMethod m : kAllCamMethods) CHECK(parse_cam_method(cam_method_name(m)) == m);
    CHECK(std::string(cam_method_title(CamMethod::GradEntropyCam)) == "Grad Entropy-CAM");
    CHECK_THROWS_WITH_AS(parse_cam_method("unknowncam"),
                         doctest::Contains("gradcam, hirescam, respondcam, gradentropycam, featentropycam"), Error);
    CHECK(cam_method_needs_gradient(CamMethod::GradCam));
    CHECK(cam_method_needs_gradient(CamMethod::GradEntropyCam));
    CHECK_FALSE(cam_method_needs_gradient(CamMethod::FeatEntropyCam));
}

TEST_CASE("cam methods: hand-computed 1x2 map with 2 channels") {
    // Positions p0, p1; channels k0, k1 (channels last).
    const float a[] = {1.0f, 2.0f, 3.0f, 0.0f};   // A^0 = {1, 3}, A^1 = {2, 0}
    const float g[] = {0.5f, -1.0f, 1.5f, 4.0f};  // G^0 = {0.5, 1.5}, G^1 = {-1, 4}
    FeatureMapView act{a, 1, 2, 2}, grad{g, 1, 2, 2};
    CamResult gc = grad_cam(act, grad);  // w = {1, 1.5}; raw = {1 + 3, 3 + 0}
    REQUIRE(gc.weights.size() == 2);
    CHECK(gc.weights[0] == doctest::Approx(1.0));
    CHECK(gc.weights[1] == doctest::Approx(1.5));
    CHECK(gc.raw.values[0] == doctest::Approx(4.0));
    CHECK(gc.raw.values[1] == doctest::Approx(3.0));
    CamResult hr = hires_cam(act, grad);  // {0.5 - 2, 4.5 + 0}
    CHECK(hr.weights.empty());
    CHECK(hr.raw.values[0] == doctest::Approx(-1.5));
    CHECK(hr.raw.values[1] == doctest::Approx(4.5));
    CamResult rc = respond_cam(act, grad);  // w0 = (0.5 + 4.5) / (4 + eps), w1 = (-2 + 0) / (2 + eps)
    CHECK(rc.weights[0] == doctest::Approx(5.0 / (4.0 + 1e-7)));
    CHECK(rc.weights[1] == doctest::Approx(-2.0 / (2.0 + 1e-7)));
    CamResult ge = grad_entropy_cam(act, grad);  // H({.5,1.5}) and H({1,4}) in nats
    auto h2 = [](double p) { return -(p * std::log(p) + (1 - p) * std::log(1 - p)); };
    CHECK(ge.weights[0] == doctest::Approx(h2(0.25)));
    CHECK(ge.weights[1] == doctest::Approx(h2(0.2)));
    CHECK(ge.raw.values[0] == doctest::Approx(h2(0.25) * 1 + h2(0.2) * 2));
    CamResult fe = feat_entropy_cam(act);  // H({1,3}) and H({2,0}) = 0
    CHECK(fe.weights[0] == doctest::Approx(h2(0.25)));
    CHECK(fe.weights[1] == 0.0f);
    // Shape mismatch is an error naming both shapes.
    FeatureMapView bad{g, 2, 1, 2};
    CHECK_THROWS_WITH_AS(grad_cam(act, bad), doctest::Contains("[2,1,2]"), Error);
}

TEST_CASE("cam methods: image_view picks an image of an N-batch") {
    Tensor t(Shape{2, 1, 2, 3});
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = float(i);
    FeatureMapView v = image_view(t, 1);
    CHECK(v.h == 1);
    CHECK(v.w == 2);
    CHECK(v.channels == 3);
    CHECK(v.data[0] == 6.0f);
    CHECK_THROWS_AS(image_view(t, 2), Error);
    CHECK_THROWS_AS(image_view(Tensor(Shape{2, 3}), 0), Error);
}

TEST_CASE("postprocess: relu, min-max, half-pixel bilinear") {
    Heatmap m(1, 3);
    m.values = {-1.0f, 1.0f, 3.0f};
    Heatmap r = relu_map(m);
    CHECK(r.values == std::vector<float>{0.0f, 1.0f, 3.0f});
    Heatmap n = minmax_normalize(r);
    CHECK(n.values[0] == 0.0f);
    CHECK(n.values[1] == doctest::Approx(1.0 / 3.0).epsilon(1e-7));
    CHECK(n.values[2] == 1.0f);  // the reference's (m-min)/(max-min): the maximum becomes exactly 1
    Heatmap small(1, 2);
    small.values = {0.0f, 1e-3f};
    Heatmap n_eps = minmax_normalize(small, 1e-7f);  // method.md's variant with eps: not scale-free
    CHECK(n_eps.values[1] == doctest::Approx(1e-3 / (1e-3 + 1e-7)).epsilon(1e-6));
    CHECK(n_eps.values[1] < 1.0f);
    CHECK(minmax_normalize(Heatmap(2, 2, 5.0f)).values == std::vector<float>(4, 0.0f));
    // 1x2 -> 1x4: src x = {-0.25 -> 0, 0.25, 0.75, 1.25 -> i0 = i1 = 1}.
    Heatmap two(1, 2);
    two.values = {0.0f, 1.0f};
    Heatmap up = upsample_bilinear(two, 1, 4);
    REQUIRE(up.values.size() == 4);
    CHECK(up.values[0] == 0.0f);
    CHECK(up.values[1] == doctest::Approx(0.25));
    CHECK(up.values[2] == doctest::Approx(0.75));
    CHECK(up.values[3] == 1.0f);
    // Downsampling 4 -> 2 samples at src = {0.5, 2.5}.
    Heatmap four(4, 1);
    four.values = {0.0f, 1.0f, 2.0f, 3.0f};
    Heatmap down = upsample_bilinear(four, 2, 1);
    CHECK(down.values[0] == doctest::Approx(0.5));
    CHECK(down.values[1] == doctest::Approx(2.5));
    CHECK_THROWS_AS(upsample_bilinear(two, 0, 4), Error);
    Heatmap full = postprocess_cam(m, 1, 3);
    CHECK(full.values == n.values);
}

TEST_CASE("cam reference: all methods, layers and entropies match ../shared/reference" * ec::test::needs_shared()) {
    const std::vector<std::string> folders = reference_folders();
    CHECK(folders.size() == 12);  // index.json: 8 + 2 + 2 images
    Worst worst;
    int compared_total = 0;
    for (const std::string& folder : folders) {
        const std::string dir = test::shared_path("reference/" + folder + "/");
        const NpyArray input = read_npy(dir + "input_u8.npy");
        REQUIRE(input.shape.size() == 4);
        const int in_h = int(input.shape[1]), in_w = int(input.shape[2]);
        int compared = 0;
        for (const char* layer : {"", "l2_", "l3_"}) {
            const std::string pre = dir + layer;
            const Tensor act = read_npy_tensor(pre + "act.npy");
            const Tensor grad = read_npy_tensor(pre + "grad.npy");
            const FeatureMapView a = image_view(act, 0), g = image_view(grad, 0);
            for (CamMethod m : kAllCamMethods) {
                for (EntropyEstimator est : {EntropyEstimator::Spatial, EntropyEstimator::Histogram}) {
                    const bool entropy_method = m == CamMethod::GradEntropyCam || m == CamMethod::FeatEntropyCam;
                    if (est == EntropyEstimator::Histogram && !entropy_method) continue;
                    CamOptions options;
                    options.entropy.estimator = est;
                    const std::string base = pre + "cam_" + cam_method_name(m) +
                                             (est == EntropyEstimator::Histogram ? "_hist" : "");
                    const std::string what = folder + " " + layer + "cam_" + cam_method_name(m) +
                                             (est == EntropyEstimator::Histogram ? "_hist" : "");
                    CAPTURE(what);
                    const CamResult r = compute_cam(m, a, g, options);
                    const Heatmap relu = relu_map(r.raw);  // reference *_raw.npy is after ReLU
                    // Every layer has the spatial maps; layer2 has no hist files.
                    if (!exists(base + "_raw.npy")) {
                        REQUIRE_MESSAGE(est == EntropyEstimator::Histogram, base << "_raw.npy missing");
                        continue;
                    }
                    worst.raw = std::max(worst.raw, compare(what + "_raw", relu.values, read_npy(base + "_raw.npy"), 1e-4f));
                    ++compared;
                    if (exists(base + "_weights.npy")) {
                        worst.weights = std::max(worst.weights, compare(what + "_weights", r.weights, read_npy(base + "_weights.npy"), 1e-4f));
                        ++compared;
                    }
                    if (exists(base + "_norm.npy")) {
                        const Heatmap norm = minmax_normalize(relu);
                        worst.norm = std::max(worst.norm, compare(what + "_norm", norm.values, read_npy(base + "_norm.npy"), 1e-5f));
                        ++compared;
                        // Upsample our normalised map to the input size; the reference's shape must agree.
                        const NpyArray up_ref = read_npy(base + "_up.npy");
                        REQUIRE(up_ref.shape == std::vector<int64_t>{in_h, in_w});
                        const Heatmap up = upsample_bilinear(norm, in_h, in_w);
                        worst.up = std::max(worst.up, compare(what + "_up", up.values, up_ref, 1e-5f));
                        ++compared;
                    }
                }
            }
        }
        // Files per folder: target and layer3 have raw (7: 5 spatial + 2 hist), weights (6), norm (5), up (5)
        // = 23 each; layer2 has raw (5) and weights (4) = 9. Total 55: nothing in the reference goes unchecked.
        CHECK_MESSAGE(compared == 55, folder << ": compared " << compared << " reference arrays, expected 55");
        compared_total += compared;
    }
    MESSAGE("reference CAM arrays compared: " << compared_total << "; worst rel diff: weights " << worst.weights
            << ", raw " << worst.raw << ", norm " << worst.norm << ", up " << worst.up);
}

TEST_CASE("cam reference: the gradient degeneracy at the target layer is detected" * ec::test::needs_shared()) {
    for (const std::string& folder : reference_folders()) {
        CAPTURE(folder);
        const std::string dir = test::shared_path("reference/" + folder + "/");
        const Tensor g_target = read_npy_tensor(dir + "grad.npy");
        const Tensor g_l2 = read_npy_tensor(dir + "l2_grad.npy");
        const Tensor g_l3 = read_npy_tensor(dir + "l3_grad.npy");
        CHECK(gradient_is_spatially_constant(image_view(g_target, 0)));
        CHECK_FALSE(gradient_is_spatially_constant(image_view(g_l2, 0)));
        CHECK_FALSE(gradient_is_spatially_constant(image_view(g_l3, 0)));
    }
}

TEST_CASE("gradient_is_spatially_constant: one varying channel anywhere, a full or a partial block, is found") {
    // The check runs blocks of eight channels and stops at the first varying one: every channel must count.
    for (int channels : {1, 7, 8, 9, 13, 24}) {
        const int positions = 6;
        std::vector<float> g(size_t(positions) * size_t(channels));
        for (int i = 0; i < positions; ++i)
            for (int k = 0; k < channels; ++k) g[size_t(i * channels + k)] = 0.5f - 0.01f * float(k);  // constant over i
        const FeatureMapView view{g.data(), 2, 3, channels};
        CAPTURE(channels);
        CHECK(gradient_is_spatially_constant(view));
        for (int k = 0; k < channels; ++k) {
            CAPTURE(k);
            std::vector<float> varied = g;
            varied[size_t(4 * channels + k)] *= 1.5f;  // one position of channel k
            CHECK_FALSE(gradient_is_spatially_constant(FeatureMapView{varied.data(), 2, 3, channels}));
        }
    }
}

TEST_CASE("cam: Feature Entropy-CAM does not depend on the gradient" * ec::test::needs_shared()) {
    const std::string dir = test::shared_path("reference/" + reference_folders().front() + "/");
    const Tensor act = read_npy_tensor(dir + "l3_act.npy");
    const Tensor grad = read_npy_tensor(dir + "l3_grad.npy");
    Tensor other = grad;
    for (int64_t i = 0; i < other.numel(); ++i) other[i] = float((i * 7919) % 13) - 6.0f;
    for (EntropyEstimator est : {EntropyEstimator::Spatial, EntropyEstimator::Histogram}) {
        CamOptions options;
        options.entropy.estimator = est;
        const FeatureMapView a = image_view(act, 0);
        CamResult r1 = compute_cam(CamMethod::FeatEntropyCam, a, image_view(grad, 0), options);
        CamResult r2 = compute_cam(CamMethod::FeatEntropyCam, a, image_view(other, 0), options);
        CamResult r3 = compute_cam(CamMethod::FeatEntropyCam, a, FeatureMapView{}, options);  // no gradient at all
        CHECK(r1.raw.values == r2.raw.values);
        CHECK(r1.raw.values == r3.raw.values);
        CHECK(r1.weights == r2.weights);
        // ...while a gradient method does change with G.
        CHECK(compute_cam(CamMethod::GradEntropyCam, a, image_view(grad, 0), options).raw.values !=
              compute_cam(CamMethod::GradEntropyCam, a, image_view(other, 0), options).raw.values);
    }
}
