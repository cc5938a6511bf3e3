// The metric math of cam/eval/metrics.h and cam/eval/metrics_baselines.h on known answers: analytic curves, hand-computed
// Average Drop / Increase, a hand-made mask, and direct transcriptions of the blur and the baselines.
#include <cmath>
#include <random>

#include "cam/eval/metrics.h"
#include "cam/eval/metrics_baselines.h"
#include "tests/test_util.h"

using namespace ec;

namespace {
std::vector<float> sample_curve(int n, double (*f)(double)) {
    std::vector<float> y(size_t(n) + 1);
    for (int i = 0; i <= n; ++i) y[size_t(i)] = float(f(double(i) / n));
    return y;
}
}  // namespace

TEST_CASE("trapezoid_auc: analytic curves") {
    // A constant and a line are integrated exactly by the trapezoid rule (up to float rounding of the samples).
    CHECK(trapezoid_auc(std::vector<float>{0.25f, 0.25f}) == doctest::Approx(0.25).epsilon(1e-12));
    CHECK(trapezoid_auc(sample_curve(50, [](double) { return 0.7; })) == doctest::Approx(0.7).epsilon(1e-7));
    CHECK(std::fabs(trapezoid_auc(sample_curve(7, [](double x) { return x; })) - 0.5) < 1e-7);
    CHECK(std::fabs(trapezoid_auc(sample_curve(224, [](double x) { return 1 - x; })) - 0.5) < 1e-7);
    // x^2: the rule's error is exactly h^2 / 6 for n steps of h = 1/n.
    for (int n : {4, 50, 1000}) {
        const double auc = trapezoid_auc(sample_curve(n, [](double x) { return x * x; }));
        INFO("n = " << n << ", auc = " << auc);
        CHECK(std::fabs(auc - (1.0 / 3 + 1.0 / (6.0 * n * n))) < 1e-7);
    }
    CHECK(std::fabs(trapezoid_auc(sample_curve(1000, [](double x) { return x * x; })) - 1.0 / 3) < 1e-6);
    // The general form on an uneven grid: exact for a line.
    CHECK(trapezoid_auc({0.0, 0.1, 0.5, 1.0}, {0.0, 0.2, 1.0, 2.0}) == doctest::Approx(1.0).epsilon(1e-14));
    CHECK_THROWS_AS(trapezoid_auc(std::vector<float>{1.0f}), Error);
    CHECK_THROWS_AS(trapezoid_auc({0.0, 1.0}, {1.0}), Error);
}

TEST_CASE("pixel_order: descending, ties by row-major index") {
    Heatmap m(2, 3);
    m.values = {0.5f, 1.0f, 0.5f, 0.0f, 1.0f, 0.5f};
    CHECK(pixel_order(m) == std::vector<int32_t>{1, 4, 0, 2, 5, 3});
    Heatmap zeros(3, 3);  // all ties: plain index order
    CHECK(pixel_order(zeros) == std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});
    m.values[2] = std::nanf("");
    CHECK_THROWS_AS(pixel_order(m), Error);
}

TEST_CASE("step sizes: ceil(H*W / n) per step, the last step partial") {
    CHECK(pixels_per_step(224 * 224, 224) == 224);
    CHECK(pixels_per_step(224 * 224, 50) == 1004);
    CHECK(pixels_changed_after(224 * 224, 50, 0) == 0);
    CHECK(pixels_changed_after(224 * 224, 50, 1) == 1004);
    CHECK(pixels_changed_after(224 * 224, 50, 49) == 49196);
    CHECK(pixels_changed_after(224 * 224, 50, 50) == 50176);
    CHECK(pixels_changed_after(10, 4, 3) == 9);
    CHECK(pixels_changed_after(10, 4, 4) == 10);
    CHECK_THROWS_AS(pixels_per_step(10, 0), Error);
}

TEST_CASE("copy_pixels moves every channel of the ordered pixels") {
    std::vector<float> image(4 * 2, 0.0f), source = {1, 2, 3, 4, 5, 6, 7, 8};
    const std::vector<int32_t> order = {2, 0, 3, 1};
    copy_pixels(image.data(), source.data(), order.data(), 0, 2, 2);
    CHECK(image == std::vector<float>{1, 2, 0, 0, 5, 6, 0, 0});
    copy_pixels(image.data(), source.data(), order.data(), 2, 4, 2);
    CHECK(image == source);
}

TEST_CASE("gaussian_blur equals a direct zero-padded 11x11 convolution") {
    const std::vector<double> k = gaussian_kernel_1d(11, 5.0);
    double sum = 0;
    for (double v : k) sum += v;
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-14));
    CHECK(k[0] == doctest::Approx(k[10]).epsilon(1e-15));
    CHECK(k[5] / k[0] == doctest::Approx(std::exp(25.0 / 50.0)).epsilon(1e-12));  // g(0) / g(5) = e^{25/(2*25)}

    const int h = 13, w = 9, c = 3;  // smaller than the kernel in places: padding on both sides at once
    Tensor img(Shape{1, h, w, c});
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1, 1);
    for (float& v : img.data) v = u(rng);
    const Tensor out = gaussian_blur(img);
    std::vector<float> direct(size_t(img.numel()));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch) {
                double acc = 0;
                for (int dy = -5; dy <= 5; ++dy)
                    for (int dx = -5; dx <= 5; ++dx) {
                        const int sy = y + dy, sx = x + dx;
                        if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
                        acc += k[size_t(dy + 5)] * k[size_t(dx + 5)] * img[(int64_t(sy) * w + sx) * c + ch];
                    }
                direct[size_t((int64_t(y) * w + x) * c + ch)] = float(acc);
            }
    test::check_close_rel_max("blur vs direct", out.ptr(), direct.data(), img.numel(), 1e-6f);

    // A constant image stays constant where the kernel fits, and the zero padding darkens the corners by the
    // kernel mass that falls inside: a 6x6 quadrant of the kernel at a corner.
    Tensor ones(Shape{1, 24, 24, 1});
    ones.fill(1.0f);
    const Tensor b = gaussian_blur(ones);
    CHECK(b[12 * 24 + 12] == doctest::Approx(1.0).epsilon(1e-6));
    double quadrant = 0;
    for (int i = 5; i < 11; ++i) quadrant += k[size_t(i)];
    CHECK(b[0] == doctest::Approx(quadrant * quadrant).epsilon(1e-6));
    CHECK_THROWS_AS(gaussian_blur(Tensor(Shape{2, 4, 4, 3})), Error);
}

TEST_CASE("Average Drop and Increase in Confidence on hand-computed numbers") {
    // Y = (0.8, 0.5, 0.2), O = (0.4, 0.6, 0.1): drops 50 %, 0 % (O > Y), 50 % -> 33.33 %; increases 0, 1, 0.
    const std::vector<double> y = {0.8, 0.5, 0.2}, o = {0.4, 0.6, 0.1};
    CHECK(average_drop_term(0.8, 0.4) == doctest::Approx(50.0));
    CHECK(average_drop_term(0.5, 0.6) == 0.0);
    CHECK(average_drop(y, o) == doctest::Approx(100.0 / 3).epsilon(1e-12));
    CHECK(increase_in_confidence(y, o) == doctest::Approx(100.0 / 3).epsilon(1e-12));
    CHECK(increase_term(0.5, 0.5) == 0.0);  // equal is not an increase
    CHECK(average_drop({0.25}, {0.0}) == doctest::Approx(100.0));
    CHECK_THROWS_AS(average_drop_term(0.0, 0.1), Error);
    CHECK_THROWS_AS(average_drop(y, {0.1}), Error);

    Tensor img(Shape{1, 1, 2, 2}, {1, -2, 3, 4});
    Heatmap m(1, 2);
    m.values = {0.5f, 0.0f};
    CHECK(test::values_of(multiply_by_map(img, m)) == std::vector<float>{0.5f, -1.0f, 0.0f, 0.0f});
    CHECK_THROWS_AS(multiply_by_map(img, Heatmap(2, 2)), Error);
}

TEST_CASE("energy pointing game and nearest-neighbour mask resizing") {
    Heatmap m(2, 2);
    m.values = {3, 1, 0, 4};
    Mask mask{2, 2, {1, 0, 0, 1}};
    CHECK(energy_pointing_game(m, mask) == doctest::Approx(7.0 / 8));
    CHECK(std::isnan(energy_pointing_game(Heatmap(2, 2), mask)));  // no energy at all
    CHECK_THROWS_AS(energy_pointing_game(Heatmap(3, 2), mask), Error);

    // Same size is the identity; 2x up repeats pixels; 2x down takes the pixel at floor(2*dst + 1).
    Mask m4{2, 4, {1, 0, 0, 1, 0, 1, 1, 0}};
    CHECK(resize_mask_nearest(m4, 2, 4).inside == m4.inside);
    CHECK(resize_mask_nearest(m4, 4, 8).inside ==
          std::vector<uint8_t>{1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0});
    CHECK(resize_mask_nearest(m4, 1, 2).inside == std::vector<uint8_t>{1, 0});  // source (1, 1) and (1, 3)
    CHECK(resize_mask_nearest(Mask{1, 3, {0, 1, 1}}, 1, 2).inside == std::vector<uint8_t>{0, 1});  // sources floor(0.75) = 0, floor(2.25) = 2
    CHECK_THROWS_AS(resize_mask_nearest(m4, 0, 2), Error);
}

TEST_CASE("mean_ci95: mean +- 1.96 sd / sqrt(n), NaN skipped") {
    MeanCI r = mean_ci95({1, 2, 3, 4});
    CHECK(r.n == 4);
    CHECK(r.mean == doctest::Approx(2.5));
    CHECK(r.half_width == doctest::Approx(1.96 * std::sqrt(5.0 / 3) / 2).epsilon(1e-12));
    r = mean_ci95({2, std::nan(""), 4});
    CHECK(r.n == 2);
    CHECK(r.mean == doctest::Approx(3.0));
    CHECK(r.half_width == doctest::Approx(1.96 * std::sqrt(2.0) / std::sqrt(2.0)));
    r = mean_ci95({5});
    CHECK(r.mean == 5.0);
    CHECK(std::isnan(r.half_width));
    CHECK(mean_ci95({}).n == 0);
}

TEST_CASE("center baseline: a Gaussian of sigma 56 on the 224 grid") {
    const Heatmap c = center_baseline(224, 224);
    // (111, 111) is half a pixel from the centre (111.5, 111.5) on both axes.
    CHECK(c.at(111, 111) == doctest::Approx(std::exp(-0.5 / (2 * 56.0 * 56))).epsilon(1e-7));
    CHECK(c.at(0, 0) == doctest::Approx(std::exp(-2 * 111.5 * 111.5 / (2 * 56.0 * 56))).epsilon(1e-6));
    CHECK(c.at(10, 200) == c.at(213, 23));  // point symmetric around the centre
    // At another size it is the same map, sampled on a scaled grid: a 112 x 112 map at (y, x) is the
    // 224 map at (2y + 0.5, 2x + 0.5).
    const Heatmap small = center_baseline(112, 112);
    const double dy = (30 - 55.5) * 2, dx = (70 - 55.5) * 2;
    CHECK(small.at(30, 70) == doctest::Approx(std::exp(-(dy * dy + dx * dx) / (2 * 56.0 * 56))).epsilon(1e-6));
    CHECK_THROWS_AS(center_baseline(0, 4), Error);
}

TEST_CASE("random baseline: splitmix64 noise, reproducible per seed") {
    uint64_t state = 0;
    CHECK(splitmix64(state) == 0xE220A8397B1DCDAFull);  // java.util.SplittableRandom(0).nextLong()
    const Heatmap a = random_baseline(16, 16, 3), b = random_baseline(16, 16, 3), c = random_baseline(16, 16, 4);
    CHECK(a.values == b.values);
    CHECK(a.values != c.values);
    double sum = 0;
    for (float v : a.values) {
        CHECK(v >= 0.0f);
        CHECK(v < 1.0f);
        sum += v;
    }
    CHECK(sum / 256 == doctest::Approx(0.5).epsilon(0.1));
    state = 3;
    CHECK(a.values[0] == float(double(splitmix64(state) >> 40) * 0x1p-24));
}

TEST_CASE("pointing hit: 1 when the map's maximum is inside the mask; ties to the first pixel in row-major order") {
    Mask mask{2, 3, {0, 1, 0,
                     0, 0, 1}};
    Heatmap m(2, 3);
    m.values = {0.1f, 0.9f, 0.2f,
                0.3f, 0.0f, 0.5f};
    CHECK(pointing_hit(m, mask) == 1.0);  // maximum at (0, 1), inside
    m.values = {0.1f, 0.4f, 0.2f,
                0.9f, 0.0f, 0.5f};
    CHECK(pointing_hit(m, mask) == 0.0);  // maximum at (1, 0), outside, though most pixels inside are bright
    // Ties: (0, 2) outside and (1, 2) inside share the maximum; the first in row-major order, (0, 2), decides.
    m.values = {0.1f, 0.4f, 0.8f,
                0.3f, 0.0f, 0.8f};
    CHECK(pointing_hit(m, mask) == 0.0);
    m.values = {0.1f, 0.8f, 0.4f,  // now the first of the tied pixels, (0, 1), is inside
                0.3f, 0.0f, 0.8f};
    CHECK(pointing_hit(m, mask) == 1.0);
    CHECK(pointing_hit(Heatmap(2, 3, 0.5f), mask) == 0.0);  // a constant map: every pixel ties, (0, 0) is outside
    CHECK(std::isnan(pointing_hit(Heatmap(2, 3), mask)));   // all zero: no maximum to point with
    CHECK(std::isnan(pointing_hit(Heatmap(2, 3), Mask{2, 3, std::vector<uint8_t>(6, 1)})));
    CHECK_THROWS_AS(pointing_hit(Heatmap(3, 2, 1.0f), mask), Error);  // sizes differ
    m.values[4] = -0.5f;
    CHECK_THROWS_AS(pointing_hit(m, mask), Error);
    m.values[4] = std::nanf("");
    CHECK_THROWS_AS(pointing_hit(m, mask), Error);
}
