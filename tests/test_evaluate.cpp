// cam/eval/evaluate.h on a tiny hand-made network whose class-0 logit depends on one known region of the image:
// a map on the region must beat the inverted map on Deletion and Insertion, and the batched curves must equal
// a direct, slow transcription of method.md (each point rebuilt from scratch, run at batch 1, probabilities
// read from the graph's own Softmax node).
#include <algorithm>
#include <cmath>
#include <random>

#include "cam/cam_methods.h"
#include "cam/eval/eval_table.h"
#include "cam/eval/evaluate.h"
#include "cam/eval/metrics_baselines.h"
#include "io/npy.h"
#include "tests/test_util.h"
#include "weights/model.h"

using namespace ec;

namespace {

constexpr int kH = 16, kW = 16;
constexpr int kRegionY0 = 4, kRegionY1 = 8, kRegionX0 = 5, kRegionX1 = 9;  // [y0, y1) x [x0, x1): 16 pixels

bool in_region(int y, int x) { return y >= kRegionY0 && y < kRegionY1 && x >= kRegionX0 && x < kRegionX1; }

// input [1,16,16,3] -> 1x1 conv on channel 0 with bias -0.5 -> ReLU -> global average pool -> FC to 2 logits:
// logit0 = 200 * mean(relu(x0 - 0.5)), logit1 = 3. Only channel-0 values above 0.5 count, and only the
// region has them, so class 0 is the region's class.
struct TinyNet {
    Graph g;
    int logits = -1, probs = -1;
    TinyNet() {
        int x = add_input(g, "input", Shape{1, kH, kW, 3});
        int f = add_param(g, "conv/filter", Shape{1, 1, 3, 1}, {1, 0, 0});
        int b = add_param(g, "conv/bias", Shape{1}, {-0.5f});
        int c = conv2d(g, "conv", x, f, b, Conv2DOptions{});
        int r = relu(g, "relu", c);
        int p = global_avg_pool(g, "pool", r);
        int flat = reshape(g, "flat", p, Shape{1, 1});
        int w = add_param(g, "fc/weight", Shape{1, 2}, {200, 0});
        int wb = add_param(g, "fc/bias", Shape{2}, {0, 3});
        logits = fully_connected(g, "logits", flat, w, wb);
        probs = softmax(g, "probs", logits);
    }
};

Tensor region_image() {
    Tensor img(Shape{1, kH, kW, 3});
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> background(0.0f, 0.4f), other(-1.0f, 1.0f);
    for (int y = 0; y < kH; ++y)
        for (int x = 0; x < kW; ++x) {
            float* px = img.ptr() + (y * kW + x) * 3;
            px[0] = in_region(y, x) ? 1.0f : background(rng);
            px[1] = other(rng);
            px[2] = other(rng);
        }
    return img;
}

Heatmap region_map(bool inverted) {
    Heatmap m(kH, kW);
    for (int y = 0; y < kH; ++y)
        for (int x = 0; x < kW; ++x) m.at(y, x) = (in_region(y, x) != inverted) ? 1.0f : 0.0f;
    return m;
}

// ---- The slow transcription of method.md, independent of cam/eval/metrics.cpp's helpers ----

float reference_prob(const TinyNet& net, const Tensor& image, int cls) {
    Session s;
    forward(net.g, s, {&image});
    return s.values[size_t(net.probs)][cls];
}

Tensor reference_blur(const Tensor& img) {
    double k[11], sum = 0;
    for (int d = -5; d <= 5; ++d) sum += k[d + 5] = std::exp(-d * d / 50.0);
    Tensor out(img.shape);
    for (int y = 0; y < kH; ++y)
        for (int x = 0; x < kW; ++x)
            for (int c = 0; c < 3; ++c) {
                double acc = 0;
                for (int dy = -5; dy <= 5; ++dy)
                    for (int dx = -5; dx <= 5; ++dx) {
                        int sy = y + dy, sx = x + dx;
                        if (sy >= 0 && sy < kH && sx >= 0 && sx < kW)
                            acc += k[dy + 5] * k[dx + 5] / (sum * sum) * img[(sy * kW + sx) * 3 + c];
                    }
                out[(y * kW + x) * 3 + c] = float(acc);
            }
    return out;
}

// Deletion (insertion = false) or Insertion curve: point i has the first min(i * ceil(HW/n), HW) pixels of the
// ranking (value descending, then index ascending) taken from `to`, the others from `from`.
std::vector<float> reference_curve(const TinyNet& net, const Tensor& input, const Heatmap& map, int n, int cls,
                                   bool insertion) {
    const int pixels = kH * kW;
    std::vector<int> rank(pixels);
    for (int i = 0; i < pixels; ++i) rank[i] = i;
    std::sort(rank.begin(), rank.end(), [&](int a, int b) {
        return map.values[a] != map.values[b] ? map.values[a] > map.values[b] : a < b;
    });
    const Tensor zeros(input.shape);
    const Tensor blurred = reference_blur(input);
    const Tensor& from = insertion ? blurred : input;
    const Tensor& to = insertion ? input : zeros;
    const int per_step = (pixels + n - 1) / n;
    std::vector<float> curve;
    for (int i = 0; i <= n; ++i) {
        Tensor img = from;
        for (int j = 0; j < std::min(i * per_step, pixels); ++j)
            for (int c = 0; c < 3; ++c) img[rank[j] * 3 + c] = to[rank[j] * 3 + c];
        curve.push_back(reference_prob(net, img, cls));
    }
    return curve;
}

double reference_auc(const std::vector<float>& y) {
    double a = 0;
    const int n = int(y.size()) - 1;
    for (int i = 0; i < n; ++i) a += (double(y[i]) + y[i + 1]) / 2 / n;
    return a;
}

}  // namespace

TEST_CASE("evaluate: `--methods all` is every CAM method then the baselines; the default is the poster's five") {
    const std::vector<std::string> every = ec::every_method_order(), five = ec::default_method_order();
    REQUIRE(every.size() == std::size(ec::kEveryCamMethod) + 2);
    REQUIRE(five.size() == std::size(ec::kAllCamMethods) + 2);
    for (size_t i = 0; i < std::size(ec::kEveryCamMethod); ++i) CHECK(every[i] == ec::cam_method_name(ec::kEveryCamMethod[i]));
    for (size_t i = 0; i < std::size(ec::kAllCamMethods); ++i) CHECK(five[i] == ec::cam_method_name(ec::kAllCamMethods[i]));
    CHECK(every[every.size() - 2] == "center");
    CHECK(every.back() == "random");
    CHECK(five[five.size() - 2] == "center");
    CHECK(five.back() == "random");
}

TEST_CASE("evaluate: a map on the known region beats the inverted map") {
    TinyNet net;
    Session s;
    const Tensor input = region_image();
    const ClassScore clean = score_clean(net.g, s, net.logits, input, -1);
    CHECK(clean.cls == 0);
    CHECK(clean.prob == doctest::Approx(1 / (1 + std::exp(-3.25))).epsilon(1e-6));  // logit0 = 200 * 16 * 0.5 / 256

    EvaluateOptions opt;
    opt.steps = 8;
    Mask mask{kH, kW, std::vector<uint8_t>(kH * kW)};
    for (int p = 0; p < kH * kW; ++p) mask.inside[size_t(p)] = in_region(p / kW, p % kW);
    const std::vector<MapScores> sc =
        evaluate_maps(net.g, s, net.logits, input, clean, {region_map(false), region_map(true)}, &mask, opt);
    REQUIRE(sc.size() == 2);
    INFO("deletion " << sc[0].deletion_auc << " vs inverted " << sc[1].deletion_auc << "; insertion "
                     << sc[0].insertion_auc << " vs " << sc[1].insertion_auc);
    CHECK(sc[0].deletion_auc < sc[1].deletion_auc - 0.5);
    CHECK(sc[0].insertion_auc > sc[1].insertion_auc + 0.5);
    // The region map keeps the region (x * 1), the inverted map removes it (x * 0 = substrate).
    CHECK(sc[0].average_drop == doctest::Approx(0.0).epsilon(1e-9));
    CHECK(sc[1].average_drop > 90.0);
    CHECK(sc[0].pointing == doctest::Approx(1.0));
    CHECK(sc[1].pointing == doctest::Approx(0.0));
    CHECK(sc[0].pointing_hit == 1.0);  // the region map's maximum lies in the region, the inverted map's outside
    CHECK(sc[1].pointing_hit == 0.0);
    // Curve ends: the clean image, the all-substrate image, the blurred image.
    CHECK(sc[0].deletion_curve.size() == 9);
    CHECK(sc[0].deletion_curve.front() == doctest::Approx(clean.prob).epsilon(1e-6));
    CHECK(sc[0].deletion_curve.back() == doctest::Approx(1 / (1 + std::exp(3.0))).epsilon(1e-6));
    CHECK(sc[0].insertion_curve.back() == doctest::Approx(clean.prob).epsilon(1e-6));
    CHECK(sc[0].insertion_curve.front() == doctest::Approx(1 / (1 + std::exp(3.0))).epsilon(1e-6));  // blur < 0.5
}

TEST_CASE("evaluate: batched curves equal the slow transcription of the definition") {
    TinyNet net;
    Session s;
    const Tensor input = region_image();
    // A map with ties (a coarse blob on a zero background) and a noise map, at steps that do and do not
    // divide H*W = 256.
    Heatmap blob(kH, kW);
    for (int y = 0; y < kH; ++y)
        for (int x = 0; x < kW; ++x) blob.at(y, x) = float(std::max(0, 6 - std::abs(y - 6) - std::abs(x - 7)) / 2);
    const std::vector<Heatmap> maps = {blob, random_baseline(kH, kW, 5), center_baseline(kH, kW)};
    for (int steps : {8, 7, 50}) {
        for (int batch : {1, 5, 16}) {
            EvaluateOptions opt;
            opt.steps = steps;
            opt.batch = batch;
            const ClassScore clean = score_clean(net.g, s, net.logits, input, 1);  // class 1 this time
            const std::vector<MapScores> sc = evaluate_maps(net.g, s, net.logits, input, clean, maps, nullptr, opt);
            for (size_t m = 0; m < maps.size(); ++m) {
                const std::vector<float> del = reference_curve(net, input, maps[m], steps, 1, false);
                const std::vector<float> ins = reference_curve(net, input, maps[m], steps, 1, true);
                INFO("steps " << steps << ", batch " << batch << ", map " << m);
                REQUIRE(sc[m].deletion_curve.size() == del.size());
                test::check_close_rel_max("deletion curve", sc[m].deletion_curve.data(), del.data(), int64_t(del.size()), 1e-5f);
                test::check_close_rel_max("insertion curve", sc[m].insertion_curve.data(), ins.data(), int64_t(ins.size()), 1e-5f);
                CHECK(sc[m].deletion_auc == doctest::Approx(reference_auc(del)).epsilon(1e-5));
                CHECK(sc[m].insertion_auc == doctest::Approx(reference_auc(ins)).epsilon(1e-5));
                CHECK(std::isnan(sc[m].pointing));
                CHECK(std::isnan(sc[m].pointing_hit));
                Tensor masked = input;
                for (int p = 0; p < kH * kW; ++p)
                    for (int c = 0; c < 3; ++c) masked[p * 3 + c] *= maps[m].values[size_t(p)];
                const float o = reference_prob(net, masked, 1);
                CHECK(sc[m].prob_masked == doctest::Approx(o).epsilon(1e-5));
                CHECK(sc[m].average_drop == doctest::Approx(100 * std::max(0.0, clean.prob - o) / clean.prob).epsilon(1e-4));
                CHECK(sc[m].increase == (o > clean.prob ? 100.0 : 0.0));
            }
        }
    }
}

// Equal maps (Grad-CAM, HiResCAM and XGrad-CAM can coincide) are scored once and the copy gets every score.
TEST_CASE("evaluate: a map equal to an earlier one is scored once and gets a copy of its scores, ROAD included") {
    TinyNet net;
    Session s;
    const Tensor input = region_image();
    const ClassScore clean = score_clean(net.g, s, net.logits, input, -1);
    Mask mask{kH, kW, std::vector<uint8_t>(kH * kW)};
    for (int p = 0; p < kH * kW; ++p) mask.inside[size_t(p)] = in_region(p / kW, p % kW);
    Heatmap almost = region_map(false);
    almost.values[3] = 0.5f;  // differs in one value: scored on its own
    const std::vector<Heatmap> maps = {region_map(false), region_map(true), region_map(false), almost, region_map(true)};
    EvaluateOptions opt;
    opt.steps = 8;
    opt.batch = 1000;  // everything in one forward pass, whose batch size counts the images scored
    const std::vector<MapScores> sc = evaluate_maps(net.g, s, net.logits, input, clean, maps, &mask, opt);
    // 2 shared curve ends + per distinct map 7 deletion + 7 insertion points + 1 masked image; 3 distinct maps.
    CHECK(s.values[size_t(net.logits)].shape[0] == 2 + 3 * 15);
    opt.road = true;
    opt.road_options.percentages = {30, 60};
    const std::vector<MapScores> with_road = evaluate_maps(net.g, s, net.logits, input, clean, maps, &mask, opt);
    const std::vector<MapScores> alone = evaluate_maps(net.g, s, net.logits, input, clean, {maps[0]}, &mask, opt);
    for (const std::vector<MapScores>* run : {&sc, &with_road}) {
        const std::vector<MapScores>& r = *run;
        for (auto [copy, original] : {std::pair{2, 0}, std::pair{4, 1}}) {
            INFO("map " << copy << " copies map " << original);
            CHECK(r[copy].deletion_curve == r[original].deletion_curve);
            CHECK(r[copy].insertion_curve == r[original].insertion_curve);
            for (auto field : {&MapScores::deletion_auc, &MapScores::insertion_auc, &MapScores::prob_masked,
                               &MapScores::average_drop, &MapScores::increase, &MapScores::pointing})
                CHECK(r[copy].*field == r[original].*field);
        }
    }
    CHECK(std::isfinite(with_road[0].road_morf));
    CHECK(with_road[2].road_morf == with_road[0].road_morf);
    CHECK(with_road[2].road_lerf == with_road[0].road_lerf);
    CHECK(with_road[4].road_lerf == with_road[1].road_lerf);
    CHECK(with_road[0].road_morf == alone[0].road_morf);  // the copy's scores are the map's own
    CHECK(with_road[0].deletion_auc == alone[0].deletion_auc);
    CHECK(with_road[3].pointing != with_road[0].pointing);
}

TEST_CASE("evaluate: metrics can be switched off, and bad arguments are errors") {
    TinyNet net;
    Session s;
    const Tensor input = region_image();
    const ClassScore clean = score_clean(net.g, s, net.logits, input, 0);
    EvaluateOptions opt;
    opt.deletion = false;
    opt.insertion = false;
    const std::vector<MapScores> sc = evaluate_maps(net.g, s, net.logits, input, clean, {region_map(false)}, nullptr, opt);
    CHECK(sc[0].deletion_curve.empty());
    CHECK(std::isnan(sc[0].deletion_auc));
    CHECK(std::isnan(sc[0].insertion_auc));
    CHECK(sc[0].prob_masked == doctest::Approx(clean.prob).epsilon(1e-6));
    CHECK_THROWS_AS(score_clean(net.g, s, net.logits, input, 2), Error);
    CHECK_THROWS_AS(evaluate_maps(net.g, s, net.logits, input, clean, {Heatmap(8, 8)}, nullptr, opt), Error);
    Mask small{8, 8, std::vector<uint8_t>(64)};
    CHECK_THROWS_AS(evaluate_maps(net.g, s, net.logits, input, clean, {region_map(false)}, &small, opt), Error);
    opt.steps = 0;
    CHECK_THROWS_AS(evaluate_maps(net.g, s, net.logits, input, clean, {region_map(false)}, nullptr, opt), Error);
}

TEST_CASE("evaluate: on a real MobileNet, batched curves equal batch-1 passes on images rebuilt from scratch" * ec::test::needs_shared()) {
    // The batched kernels take other paths than batch 1 (and a partial last batch); the probabilities must agree
    // to float rounding. MobileNetV1 0.75/192 on the reference's cat input, 4 steps, one CAM-like map.
    const Model model = import_tflite(test::shared_path("models/mobilenet_v1_0.75_192_quant.tflite"), "");
    const Tensor input = read_npy_tensor(test::shared_path("reference/mobilenet_v1_0.75_192_quant/cat/input.npy"));
    const int h = input.shape.h(), w = input.shape.w(), steps = 4;
    Session s;
    const ClassScore clean = score_clean(model.graph, s, model.logits, input, -1);
    const Heatmap map = center_baseline(h, w);
    EvaluateOptions opt;
    opt.steps = steps;
    opt.batch = 3;  // 2 shared points + 2 x 3 interior + 1 masked = 9: three full batches
    const MapScores sc = evaluate_maps(model.graph, s, model.logits, input, clean, {map}, nullptr, opt)[0];

    std::vector<int> rank(size_t(h) * w);
    for (size_t i = 0; i < rank.size(); ++i) rank[i] = int(i);
    std::stable_sort(rank.begin(), rank.end(), [&](int a, int b) { return map.values[size_t(a)] > map.values[size_t(b)]; });
    const Tensor blurred = gaussian_blur(input);
    const int per_step = (h * w + steps - 1) / steps;
    auto prob_of = [&](const Tensor& img) {
        Session one;
        forward_until(model.graph, one, {&img}, model.logits);
        return float(class_probability(one.values[size_t(model.logits)], 0, clean.cls));
    };
    for (int i = 0; i <= steps; ++i) {
        Tensor del = input, ins = blurred;
        for (int j = 0; j < std::min(i * per_step, h * w); ++j)
            for (int c = 0; c < 3; ++c) {
                del[int64_t(rank[size_t(j)]) * 3 + c] = 0.0f;
                ins[int64_t(rank[size_t(j)]) * 3 + c] = input[int64_t(rank[size_t(j)]) * 3 + c];
            }
        INFO("step " << i);
        CHECK(std::fabs(sc.deletion_curve[size_t(i)] - prob_of(del)) < 1e-5);
        CHECK(std::fabs(sc.insertion_curve[size_t(i)] - prob_of(ins)) < 1e-5);
    }
    CHECK(std::fabs(sc.prob_masked - prob_of(multiply_by_map(input, map))) < 1e-5);
}
