// ROAD (cam/eval/road.h): the noisy linear imputation against solutions known exactly (a linear ramp, one
// pixel's weighted mean), its noise, the removal order and masks, and the MoRF/LeRF curves with a toy classifier.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cam/eval/metrics.h"
#include "cam/eval/road.h"
#include "io/npy.h"
#include "tests/reference_data.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

// 1 x h x w x c image with value f(y, x, ch).
template <class F>
Tensor make_image(int h, int w, int c, F f) {
    Tensor t(Shape{1, h, w, c});
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch) t[(int64_t(y) * w + x) * c + ch] = float(f(y, x, ch));
    return t;
}

}  // namespace

TEST_CASE("road: the imputation reproduces a linear ramp exactly inside a removed region") {
    const int h = 12, w = 10;
    auto ramp = [](int y, int x, int ch) { return ch == 0 ? 0.3 * y - 0.2 * x + 1.0 : 0.5 * x + 0.1 * y - 2.0; };
    const Tensor image = make_image(h, w, 2, ramp);
    // An irregular region away from the border: a 6 x 5 block, a notch cut out of it and a separate pixel.
    std::vector<uint8_t> removed(size_t(h * w), 0);
    for (int y = 3; y < 9; ++y)
        for (int x = 2; x < 7; ++x) removed[size_t(y * w + x)] = 1;
    removed[size_t(5 * w + 4)] = 0;
    removed[size_t(10 * w + 8)] = 1;
    const Tensor out = noisy_linear_impute(image, removed, 0.0, 1);
    float worst = 0;
    for (int64_t i = 0; i < image.numel(); ++i) worst = std::max(worst, std::fabs(out[i] - image[i]));
    INFO("max |imputed - ramp| = " << worst);
    CHECK(worst < 1e-5f);
    // The removed values really were recomputed: a corrupted input inside the region does not survive.
    Tensor corrupted = image;
    for (size_t p = 0; p < removed.size(); ++p)
        if (removed[p]) corrupted[int64_t(p) * 2] = 99.0f;
    const Tensor again = noisy_linear_impute(corrupted, removed, 0.0, 1);
    for (int64_t i = 0; i < image.numel(); ++i) CHECK(again[i] == doctest::Approx(image[i]).epsilon(1e-5));
}

TEST_CASE("road: one removed pixel is the weighted mean of its neighbours, renormalised at the border") {
    // 3 x 3, values 1..9 row-major. Centre: direct {2, 4, 6, 8} at 1/6, diagonal {1, 3, 7, 9} at 1/12 -> 5.
    const Tensor image = make_image(3, 3, 1, [](int y, int x, int) { return double(y * 3 + x + 1) * double(y * 3 + x + 1); });
    std::vector<uint8_t> centre(9, 0);
    centre[4] = 1;
    const double want_centre = (4 + 16 + 36 + 64) / 6.0 + (1 + 9 + 49 + 81) / 12.0;
    CHECK(noisy_linear_impute(image, centre, 0.0, 0)[4] == doctest::Approx(want_centre));
    // Corner (0, 0): neighbours (0,1) = 4 and (1,0) = 16 at 1/6, (1,1) = 25 at 1/12, divided by 5/12.
    std::vector<uint8_t> corner(9, 0);
    corner[0] = 1;
    const Tensor out = noisy_linear_impute(image, corner, 0.0, 0);
    CHECK(out[0] == doctest::Approx(((4 + 16) / 6.0 + 25 / 12.0) / (5.0 / 12.0)));
    for (int i = 1; i < 9; ++i) CHECK(out[i] == image[i]);  // kept pixels are copied unchanged
    // Two adjacent removed pixels are solved together: a 1 x 4 row {0, ?, ?, 3} becomes {0, 1, 2, 3}.
    const Tensor row = make_image(1, 4, 1, [](int, int x, int) { return double(x); });
    const Tensor filled = noisy_linear_impute(row, {0, 1, 1, 0}, 0.0, 0);
    CHECK(filled[1] == doctest::Approx(1.0));
    CHECK(filled[2] == doctest::Approx(2.0));
}

TEST_CASE("road: imputation noise is seeded Gaussian noise of the requested size, on removed pixels only") {
    const int h = 120, w = 100;
    const Tensor image = make_image(h, w, 1, [](int, int, int) { return 0.25; });
    std::vector<uint8_t> removed(size_t(h * w), 0);
    for (int y = 1; y < h - 1; ++y)
        for (int x = 1; x < w - 1; ++x) removed[size_t(y * w + x)] = 1;
    const Tensor a = noisy_linear_impute(image, removed, 0.5, 42);
    const Tensor b = noisy_linear_impute(image, removed, 0.5, 42);
    const Tensor c = noisy_linear_impute(image, removed, 0.5, 43);
    CHECK(a.data == b.data);
    CHECK(a.data != c.data);
    double sum = 0, sum_sq = 0;
    int n = 0;
    for (size_t p = 0; p < removed.size(); ++p) {
        if (!removed[p]) {
            CHECK(a[int64_t(p)] == 0.25f);
            continue;
        }
        const double d = a[int64_t(p)] - 0.25;  // the noiseless solution is the constant 0.25
        sum += d;
        sum_sq += d * d;
        ++n;
    }
    const double mean = sum / n, sd = std::sqrt(sum_sq / n - mean * mean);
    INFO("n = " << n << ", noise mean " << mean << ", sd " << sd);
    CHECK(std::fabs(mean) < 4 * 0.5 / std::sqrt(double(n)));  // 4 standard errors
    CHECK(std::fabs(sd - 0.5) < 0.02);
}

TEST_CASE("road: bad imputation requests are errors") {
    const Tensor image = make_image(2, 2, 3, [](int y, int x, int ch) { return double(y + x + ch); });
    test::check_error_contains([&] { noisy_linear_impute(image, {1, 1, 1, 1}, 0.0, 0); }, "every pixel is removed");
    test::check_error_contains([&] { noisy_linear_impute(image, {1, 0, 0}, 0.0, 0); }, "mask has 3 values");
    test::check_error_contains([&] { noisy_linear_impute(image, {1, 0, 0, 0}, -1.0, 0); }, "noise_std");
    test::check_error_contains([&] { noisy_linear_impute(Tensor(Shape{2, 2, 2, 1}), {1, 0, 0, 0}, 0.0, 0); }, "1 x H x W x C");
    CHECK(noisy_linear_impute(image, {0, 0, 0, 0}, 1.0, 0).data == image.data);  // nothing removed: a copy
}

TEST_CASE("road: removal order and masks") {
    Heatmap map(2, 5);
    map.values = {0.9f, 0.1f, 0.5f, 0.5f, 0.0f, 0.3f, 0.8f, 0.5f, 0.2f, 0.7f};
    // Without jitter: the stable descending order of metrics.h.
    const std::vector<int32_t> order = road_pixel_order(map, 0.0, 0);
    CHECK(order == pixel_order(map));
    CHECK(order == std::vector<int32_t>{0, 6, 9, 2, 3, 7, 5, 8, 1, 4});
    // With the authors' 1e-4 jitter the three tied 0.5 values may reorder, nothing else does.
    const std::vector<int32_t> jittered = road_pixel_order(map, kRoadTieJitter, 5);
    CHECK(std::vector<int32_t>(jittered.begin(), jittered.begin() + 3) == std::vector<int32_t>{0, 6, 9});
    CHECK(std::is_permutation(jittered.begin() + 3, jittered.begin() + 6, order.begin() + 3));
    CHECK(std::vector<int32_t>(jittered.begin() + 6, jittered.end()) == std::vector<int32_t>{5, 8, 1, 4});
    // 30 % of 10 pixels: the first three (MoRF) or the last three (LeRF) of the order.
    const std::vector<uint8_t> morf = road_removal_mask(order, 30, true), lerf = road_removal_mask(order, 30, false);
    CHECK(morf == std::vector<uint8_t>{1, 0, 0, 0, 0, 0, 1, 0, 0, 1});
    CHECK(lerf == std::vector<uint8_t>{0, 1, 0, 0, 1, 0, 0, 0, 1, 0});
    const std::vector<uint8_t> most = road_removal_mask(order, 95, true);
    CHECK(std::count(most.begin(), most.end(), 1) == 9);  // floor(9.5)
    CHECK_THROWS_AS(road_removal_mask(order, 101, true), Error);
    Heatmap bad = map;
    bad.values[3] = NAN;
    CHECK_THROWS_AS(road_pixel_order(bad, 0.0, 0), Error);
}

TEST_CASE("road: MoRF and LeRF curves with a toy classifier that looks at an object") {
    // A bright 8 x 8 square (value 1) on a dark 24 x 24 background (value 0). The toy "probability" is the
    // mean value over the square's pixels, clamped to [0, 1]: removing the square (filled from the dark
    // surroundings) drives it to ~0, removing background leaves it at ~1.
    const int n = 24;
    auto inside = [](int y, int x) { return y >= 8 && y < 16 && x >= 8 && x < 16; };
    const Tensor image = make_image(n, n, 3, [&](int y, int x, int) { return inside(y, x) ? 1.0 : 0.0; });
    std::vector<int> batch_sizes;
    ClassScoreFn toy = [&](const Tensor& batch, std::vector<float>& scores) {
        batch_sizes.push_back(batch.shape.n());
        scores.assign(size_t(batch.shape.n()), 0.0f);
        for (int b = 0; b < batch.shape.n(); ++b) {
            double s = 0;
            for (int y = 0; y < n; ++y)
                for (int x = 0; x < n; ++x)
                    if (inside(y, x)) s += batch[((int64_t(b) * n + y) * n + x) * 3];
            scores[size_t(b)] = float(std::clamp(s / 64.0, 0.0, 1.0));
        }
    };
    Heatmap good(n, n), inverted(n, n);
    for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
            // The object ranked first, and inside it the centre first (a CAM-like blob).
            const double r = std::hypot(y - 11.5, x - 11.5);
            good.at(y, x) = float((inside(y, x) ? 1.0 : 0.0) + 0.01 * (20 - r));
            inverted.at(y, x) = -good.at(y, x);
        }
    RoadOptions options;
    options.batch = 4;
    options.noise_std = 0.0;
    const RoadResult rg = road_evaluate(image, good, toy, options);
    CHECK(batch_sizes == std::vector<int>{4, 4, 4, 4, 2});  // 2 x 9 imputed images in batches of 4
    REQUIRE(rg.morf_curve.size() == 9);
    REQUIRE(rg.lerf_curve.size() == 9);
    CHECK(rg.percentages == road_default_percentages());
    // 64 of 576 pixels (11 %) are the object: MoRF has removed all of it from 20 % on; LeRF touches it only
    // from 89 % on (90 % of 576 = 518 > 512 background pixels).
    for (size_t i = 1; i < 9; ++i) CHECK(rg.morf_curve[i] < 0.05f);
    for (size_t i = 0; i < 8; ++i) CHECK(rg.lerf_curve[i] == doctest::Approx(1.0));
    CHECK(rg.road_morf == doctest::Approx((rg.morf_curve[0] + 0.0) / 9).epsilon(0.05));
    CHECK(rg.road_morf < 0.1);
    CHECK(rg.road_lerf > 0.9);
    const RoadResult ri = road_evaluate(image, inverted, toy, options);
    CHECK(ri.road_morf > 0.9);  // the inverted map removes background first under MoRF
    CHECK(ri.road_lerf < 0.1);
    // With the default noise the curves change a little but not the verdict, and stay seeded.
    RoadOptions noisy;
    noisy.seed = 9;
    const RoadResult n1 = road_evaluate(image, good, toy, noisy), n2 = road_evaluate(image, good, toy, noisy);
    CHECK(n1.morf_curve == n2.morf_curve);
    // The imputations of a batch run in parallel; the result must not depend on how many threads ran them.
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    const RoadResult n3 = road_evaluate(image, good, toy, noisy);
    omp_set_num_threads(threads);
    CHECK(n3.morf_curve == n1.morf_curve);
    CHECK(n3.lerf_curve == n1.lerf_curve);
    CHECK(n1.road_morf < 0.1);
    CHECK(n1.road_lerf > 0.9);
}

TEST_CASE("road: bad evaluation requests are errors") {
    const Tensor image = make_image(4, 4, 1, [](int y, int x, int) { return double(y - x); });
    ClassScoreFn one = [](const Tensor& batch, std::vector<float>& s) { s.assign(size_t(batch.shape.n()), 0.5f); };
    ClassScoreFn wrong = [](const Tensor&, std::vector<float>& s) { s.assign(1, 0.5f); };
    const Heatmap map(4, 4, 1.0f);
    RoadOptions o;
    test::check_error_contains([&] { road_evaluate(image, Heatmap(3, 4), one, o); }, "the saliency map is 3x4");
    test::check_error_contains([&] { road_evaluate(image, map, wrong, o); }, "returned 1 scores for a batch of 16");
    RoadOptions zero = o;
    zero.percentages = {0, 50};
    test::check_error_contains([&] { road_evaluate(image, map, one, zero); }, "[1, 99]");
    RoadOptions none = o;
    none.percentages.clear();
    test::check_error_contains([&] { road_evaluate(image, map, one, none); }, "no percentages");
    RoadOptions batch0 = o;
    batch0.batch = 0;
    test::check_error_contains([&] { road_evaluate(image, map, one, batch0); }, "batch");
    const RoadResult r = road_evaluate(image, map, one, o);  // a constant map is still ranked (by jitter)
    CHECK(r.road_morf == doctest::Approx(0.5));
    CHECK(r.road_lerf == doctest::Approx(0.5));
}

TEST_CASE("road: MobileNetV2 on reference images, the layer3 Grad-CAM map against its inverse" * ec::test::needs_shared()) {
    // The real network behind the callback: softmax probability (double, max-subtracted) of the reference's
    // class. ROAD must rank the published map above its inverse on both orders: lower MoRF, higher LeRF.
    const Model& model = test::imported_model("mobilenet_v2_1.0_224_quant");
    for (const std::string image_name : {"cat", "n01443537_goldfish"}) {
        const std::string folder = "mobilenet_v2_1.0_224_quant/" + image_name;
        CAPTURE(folder);
        const Tensor input = read_npy_tensor(test::shared_path("reference/" + folder + "/input.npy"));
        const int cls = std::stoi(test::reference_meta(folder, "target_class_index"));
        const NpyArray up = read_npy(test::shared_path("reference/" + folder + "/l3_cam_gradcam_up.npy"));
        Heatmap map(int(up.shape[0]), int(up.shape[1])), inverse(map.h, map.w);
        map.values = up.data;
        for (size_t i = 0; i < up.data.size(); ++i) inverse.values[i] = -up.data[i];
        Session session;
        ClassScoreFn probability = [&](const Tensor& batch, std::vector<float>& scores) {
            forward(model.graph, session, {&batch});
            const Tensor& logits = session.values[size_t(model.logits)];
            const int k = logits.shape[1];
            scores.resize(size_t(batch.shape.n()));
            for (int n = 0; n < batch.shape.n(); ++n) {
                const float* row = logits.ptr() + int64_t(n) * k;
                const double top = *std::max_element(row, row + k);
                double z = 0;
                for (int j = 0; j < k; ++j) z += std::exp(double(row[j]) - top);
                scores[size_t(n)] = float(std::exp(double(row[cls]) - top) / z);
            }
        };
        RoadOptions options;
        options.percentages = {20, 50, 80};  // three of the nine defaults: each imputation is a 10k-45k unknown solve
        options.noise_std = 2 * kRoadNoiseStd01;  // the input is u8 / 127.5 - 1: [0, 1] noise 0.01 is 0.02 here
        const RoadResult good = road_evaluate(input, map, probability, options);
        const RoadResult bad = road_evaluate(input, inverse, probability, options);
        MESSAGE(folder << ": Grad-CAM (layer3) ROAD MoRF " << good.road_morf << ", LeRF " << good.road_lerf
                       << "; inverse map MoRF " << bad.road_morf << ", LeRF " << bad.road_lerf);
        CHECK(good.road_morf < bad.road_morf);
        CHECK(good.road_lerf > bad.road_lerf);
        for (float p : good.morf_curve) CHECK((p >= 0.0f && p <= 1.0f));
    }
}
