// Sanity checks (cam/eval/similarity.h, randomize.h, sanity.h): the similarity measures against values
// derived by hand on small arrays; the parameter blocks and their re-initialisation; on a tiny CNN trained in
// the test, randomising every block leaves the gradient CAMs uncorrelated with the original while Feature
// Entropy-CAM's map does not change with the class at all; on a real mapped model, the sanity run leaves the
// model's weights and logits bit-identical.
#include <cmath>
#include <cstring>
#include <random>

#include "cam/eval/sanity.h"
#include "cam/render/plot.h"
#include "io/image.h"
#include "tests/test_weights_util.h"

using namespace ec;

TEST_CASE("similarity: Spearman with ties uses average ranks (hand-computed)") {
    CHECK(average_ranks({10, 20, 20, 30}) == std::vector<double>{1, 2.5, 2.5, 4});
    CHECK(average_ranks({5, 5, 5}) == std::vector<double>{2, 2, 2});
    CHECK(average_ranks({3, 1, 2}) == std::vector<double>{3, 1, 2});
    // a = {1,2,2,3} -> ranks {1,2.5,2.5,4}; b = {1,3,2,4} -> {1,3,2,4}; centred: {-1.5,0,0,1.5} and
    // {-1.5,0.5,-0.5,1.5}: sum ab = 4.5, sum a^2 = 4.5, sum b^2 = 5, rho = 4.5 / sqrt(22.5) = 3 / sqrt(10).
    CHECK(spearman_rank_correlation({1, 2, 2, 3}, {1, 3, 2, 4}) == doctest::Approx(3.0 / std::sqrt(10.0)).epsilon(1e-12));
    // A monotone transform does not change ranks; a reversal gives -1.
    CHECK(spearman_rank_correlation({0.1f, 5, 2, 9}, {1, 125, 8, 729}) == 1.0);
    CHECK(spearman_rank_correlation({1, 2, 3, 4}, {4, 3, 2, 1}) == -1.0);
    // A constant map has no ranking: undefined.
    CHECK(std::isnan(spearman_rank_correlation({1, 1, 1}, {1, 2, 3})));
    CHECK_THROWS_AS(spearman_rank_correlation({1, 2}, {1, 2, 3}), Error);
    CHECK_THROWS_AS(average_ranks({1, NAN}), Error);
}

TEST_CASE("similarity: SSIM matches the formula by hand on one 7x7 window") {
    const double c1 = 1e-4, c2 = 9e-4;
    // x: a single 1 among 49 zeros; y: all zeros. mx = 1/49, my = 0, sample var x = (1/49 - 1/49^2) * 49/48
    // = 1/49, var y = cov = 0: SSIM = C1 C2 / ((1/49^2 + C1)(1/49 + C2)).
    Heatmap x(7, 7, 0.0f), y(7, 7, 0.0f);
    x.at(3, 2) = 1.0f;
    CHECK(ssim(x, y) == doctest::Approx(c1 * c2 / ((1.0 / 2401 + c1) * (1.0 / 49 + c2))).epsilon(1e-9));
    CHECK(ssim(x, x) == 1.0);
    // y = 1 - x: my = 48/49, var y = var x = 1/49, cov = -1/49:
    // SSIM = (2 (1/49)(48/49) + C1)(-2/49 + C2) / ((1/49^2 + (48/49)^2 + C1)(2/49 + C2)).
    Heatmap inv(7, 7, 1.0f);
    inv.at(3, 2) = 0.0f;
    const double want = (2.0 * 48 / 2401 + c1) * (-2.0 / 49 + c2) / ((1.0 / 2401 + 2304.0 / 2401 + c1) * (2.0 / 49 + c2));
    CHECK(ssim(x, inv) == doctest::Approx(want).epsilon(1e-9));
    // 8x7: two windows (columns 0..6 and 1..7), averaged. Put the 1 in column 7: the first window sees only
    // zeros in both maps (SSIM 1), the second the hand case above.
    Heatmap x2(7, 8, 0.0f), y2(7, 8, 0.0f);
    x2.at(3, 7) = 1.0f;
    CHECK(ssim(x2, y2) == doctest::Approx(0.5 * (1.0 + c1 * c2 / ((1.0 / 2401 + c1) * (1.0 / 49 + c2)))).epsilon(1e-9));
    CHECK_THROWS_AS(ssim(Heatmap(6, 9), Heatmap(6, 9)), Error);
    CHECK_THROWS_AS(ssim(Heatmap(7, 7), Heatmap(7, 8)), Error);
}

TEST_CASE("similarity: HOG descriptor of an edge, and its correlation") {
    // A vertical step edge at x = 12 in a 24x24 map: gradient gx = 1 at x = 11 and 12 (centred differences),
    // orientation 0 degrees (bin 0). One block of 3x3 cells; cell column 1 (x 8..15) holds the edge: its
    // histogram bin 0 = 8 rows * 2 pixels * 1 / 64 = 0.25 for each of the 3 cells in that column, all else 0.
    // L2-Hys: v / |v| = 1/sqrt(3) each, clipped to 0.2, renormalised: 1/sqrt(3) again.
    Heatmap edge(24, 24, 0.0f);
    for (int y = 0; y < 24; ++y)
        for (int x = 12; x < 24; ++x) edge.at(y, x) = 1.0f;
    const std::vector<double> d = hog_descriptor(edge);
    REQUIRE(d.size() == 81);
    for (int cy = 0; cy < 3; ++cy)
        for (int cx = 0; cx < 3; ++cx)
            for (int b = 0; b < 9; ++b) {
                const double want = (cx == 1 && b == 0) ? 1.0 / std::sqrt(3.0) : 0.0;
                CHECK(d[size_t((cy * 3 + cx) * 9 + b)] == doctest::Approx(want).epsilon(1e-4));
            }
    CHECK(hog_descriptor(Heatmap(23, 40)).empty());
    // The transposed edge puts its energy in bin 4 (90 degrees): uncorrelated-to-negative with the original.
    Heatmap horizontal(24, 24, 0.0f);
    for (int y = 12; y < 24; ++y)
        for (int x = 0; x < 24; ++x) horizontal.at(y, x) = 1.0f;
    CHECK(pearson_correlation(d, d) == 1.0);
    CHECK(pearson_correlation(d, hog_descriptor(horizontal)) < 0.0);
}

TEST_CASE("randomize: blocks by name scope, in cascade order; seeded Gaussian with each tensor's mean and sd") {
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.3f, 2.0f);
    Graph g;
    const int x = add_input(g, "x", {1, 4, 4, 2});
    std::vector<float> big(3 * 3 * 2 * 300);
    for (float& v : big) v = nd(rng);
    Conv2DOptions same;
    same.padding.kind = Padding::Same;
    const int w1 = add_param(g, "net/stem/w", {3, 3, 2, 300}, big);
    const int b1 = add_param(g, "net/stem/b", {300}, std::vector<float>(300, 0.5f));
    const int c1 = relu(g, "r1", conv2d(g, "c1", x, w1, b1, same));
    const int w2 = add_param(g, "net/head/w", {1, 1, 300, 3}, std::vector<float>(900, 0.01f));
    conv2d(g, "c2", c1, w2, -1, same);
    add_param(g, "net/unused", {2}, {1.0f, 2.0f});
    const std::vector<ParamBlock> blocks = param_blocks(g);
    REQUIRE(blocks.size() == 2);
    CHECK(blocks[0].name == "head");
    CHECK(blocks[0].params == std::vector<int>{w2});
    CHECK(blocks[1].name == "stem");
    CHECK(blocks[1].params == std::vector<int>{w1, b1});

    const auto r = reinitialize_params(g, 7);
    const std::vector<float>& nw = r->values[size_t(w1)];
    double mean = 0, ss = 0;
    for (float v : nw) mean += v;
    mean /= double(nw.size());
    for (float v : nw) ss += (v - mean) * (v - mean);
    // 5400 draws of N(m, s) with the tensor's own m ~ 0.3, s ~ 2: the sample mean is within 4 s / sqrt(n).
    double om = 0, oss = 0;
    for (float v : big) om += v;
    om /= double(big.size());
    for (float v : big) oss += (v - om) * (v - om);
    const double osd = std::sqrt(oss / double(big.size()));
    CHECK(std::fabs(mean - om) < 4 * osd / std::sqrt(double(nw.size())));
    CHECK(std::sqrt(ss / double(nw.size())) == doctest::Approx(osd).epsilon(0.05));
    CHECK(r->values[size_t(b1)] == std::vector<float>(300, 0.5f));  // a constant tensor stays constant
    CHECK(reinitialize_params(g, 7)->values[size_t(w1)] == nw);       // deterministic
    CHECK(reinitialize_params(g, 8)->values[size_t(w1)] != nw);

    const Graph copy = graph_with_params(g, r, {w1});
    CHECK(copy.params[size_t(w1)].data() == nw.data());
    CHECK(copy.params[size_t(w2)].data() != r->values[size_t(w2)].data());
    const FloatBuffer& original = g.params[size_t(w1)].owned;
    CHECK(std::vector<float>(original.begin(), original.end()) == big);  // the original is untouched
    CHECK(g.params[size_t(w1)].data() == g.params[size_t(w1)].owned.data());
}

namespace {

// The bright-square quadrant task of test_graph.cpp on 32x32 inputs, with a spatial CAM target:
// conv1 -> relu -> pool -> conv2 -> relu (target, 16x16) -> fc. Trained with SGD so its maps mean something.
struct TinyNet {
    Graph g;
    int x = -1, target = -1, logits = -1;
};

Tensor quadrant_image(std::mt19937& rng, int side, int quadrant) {
    std::uniform_int_distribution<int> off(0, side / 2 - 5);
    std::normal_distribution<float> noise(0.0f, 0.1f);
    Tensor t({1, side, side, 1});
    for (int i = 0; i < side * side; ++i) t[i] = noise(rng);
    const int y0 = (quadrant / 2) * side / 2 + off(rng), x0 = (quadrant % 2) * side / 2 + off(rng);
    for (int y = y0; y < y0 + 5; ++y)
        for (int x = x0; x < x0 + 5; ++x) t[y * side + x] += 1.0f;
    return t;
}

TinyNet trained_tiny_net() {
    const int side = 32, classes = 4;
    std::mt19937 rng(99);
    auto values = [&](int64_t n, float sd) {
        std::normal_distribution<float> d(0.0f, sd);
        std::vector<float> v(size_t(n), 0.0f);
        for (float& f : v) f = d(rng);
        return v;
    };
    TinyNet t;
    Graph& g = t.g;
    t.x = add_input(g, "image", {1, side, side, 1});
    Conv2DOptions same;
    same.padding.kind = Padding::Same;
    const int c1 = conv2d(g, "conv1", t.x, add_param(g, "conv1/w", {3, 3, 1, 8}, values(72, 0.4f)),
                          add_param(g, "conv1/b", {8}, std::vector<float>(8, 0.0f)), same);
    const int p1 = max_pool(g, "pool1", relu(g, "relu1", c1), PoolOptions{});
    const int c2 = conv2d(g, "conv2", p1, add_param(g, "conv2/w", {3, 3, 8, 8}, values(576, 0.2f)),
                          add_param(g, "conv2/b", {8}, std::vector<float>(8, 0.01f)), same);
    t.target = relu(g, "relu2", c2);
    const int flat = reshape(g, "flat", t.target, {1, 16 * 16 * 8});
    t.logits = fully_connected(g, "fc", flat, add_param(g, "fc/w", {16 * 16 * 8, classes}, values(8192, 0.02f)),
                               add_param(g, "fc/b", {classes}, std::vector<float>(classes, 0.0f)));
    Session s;
    std::vector<Tensor> velocity;
    std::uniform_int_distribution<int> quad(0, 3);
    for (int step = 0; step < 150; ++step) {
        const int batch = 16;
        Tensor images({batch, side, side, 1});
        std::vector<int> label(batch);
        for (int n = 0; n < batch; ++n) {
            label[size_t(n)] = quad(rng);
            const Tensor one = quadrant_image(rng, side, label[size_t(n)]);
            std::copy(one.data.begin(), one.data.end(), images.data.begin() + n * side * side);
        }
        forward(g, s, {&images});
        // d(mean cross-entropy)/d logits = (softmax - onehot) / batch: seeded at the logits, so the graph
        // keeps the one input that explain() feeds.
        BackwardRequest req;
        req.from = t.logits;
        req.seed = Tensor(s.values[size_t(t.logits)].shape);
        for (int n = 0; n < batch; ++n) {
            const std::vector<double> p = softmax_row(s.values[size_t(t.logits)], n);
            for (int k = 0; k < classes; ++k)
                req.seed[n * classes + k] = float((p[size_t(k)] - (k == label[size_t(n)] ? 1.0 : 0.0)) / batch);
        }
        req.stop_at = {t.x};
        req.param_grads = true;
        backward(g, s, req);
        sgd_step(g, s, velocity, 0.05f, 0.9f);
    }
    return t;
}

}  // namespace

TEST_CASE("sanity: on a trained tiny CNN, full randomisation decorrelates the gradient CAMs; Feature Entropy-CAM ignores the class") {
    const TinyNet net = trained_tiny_net();
    const SanityModels models = make_sanity_models(net.g, 2024);
    REQUIRE(models.blocks.size() == 3);
    CHECK(models.blocks[0].name == "fc");
    CHECK(models.blocks[1].name == "conv2");
    CHECK(models.blocks[2].name == "conv1");
    SanityOptions opt;
    opt.explain.target = net.target;
    opt.out_h = opt.out_w = 32;
    std::mt19937 rng(5);
    Session s;
    const int images = 8;
    double sum_rho[5] = {};
    int correct = 0;
    for (int i = 0; i < images; ++i) {
        const Tensor input = quadrant_image(rng, 32, i % 4);
        const SanityResult r = run_sanity_checks(net.g, models, s, net.logits, input, uint64_t(i), opt);
        correct += r.cls == i % 4;
        REQUIRE(r.comparisons.size() == size_t(5 * (3 + 3 + 2)));
        for (const SanityComparison& c : r.comparisons) {
            if (c.test == SanityTest::Cascading && c.depth == 3) sum_rho[int(c.method)] += c.similarity.spearman;
            if (c.method == CamMethod::FeatEntropyCam && (c.test == SanityTest::ClassBottom || c.test == SanityTest::ClassTop2)) {
                // The same forward pass, and a map that never looks at the class: exactly the same map.
                CHECK(c.similarity.spearman_abs == 1.0);
                CHECK(c.similarity.spearman == 1.0);
                CHECK(c.similarity.ssim == 1.0);
                CHECK(c.similarity.hog == 1.0);
            }
            if (c.test == SanityTest::ClassBottom) CHECK(c.cls != r.cls);
        }
    }
    CHECK(correct >= images - 1);  // the network learned the task, so its maps are worth checking
    // Mean signed Spearman over 8 images between the trained model's raw map and the fully randomised model's
    // (seed 2024): the gradient CAMs lose their relation to the original (measured 0.013, 0.033, 0.019; other
    // seeds stay within +-0.22), while the entropy CAMs, positive combinations of the ReLU activations, keep
    // the input's structure (measured 0.41 and 0.39): the behaviour the sanity check exists to expose.
    for (CamMethod m : {CamMethod::GradCam, CamMethod::HiResCam, CamMethod::RespondCam}) {
        INFO(std::string(cam_method_name(m)) << ": mean rho " << sum_rho[int(m)] / images);
        CHECK(std::fabs(sum_rho[int(m)] / images) < 0.1);
    }
    for (CamMethod m : {CamMethod::GradEntropyCam, CamMethod::FeatEntropyCam}) {
        INFO(std::string(cam_method_name(m)) << ": mean rho " << sum_rho[int(m)] / images);
        CHECK(sum_rho[int(m)] / images > 0.2);
    }
}

TEST_CASE("sanity: a mapped model is not modified; its logits stay bit-identical" * ec::test::needs_shared()) {
    test::TempDir dir;
    const std::string path = dir.path + "/v1.ecw";
    save_model(test::imported_model("mobilenet_v1_0.75_192_quant"), path);
    const Model model = load_model(path);
    const Graph& g = model.graph;
    const LoadedInput in = load_input(test::shared_path("images/coral/grace_hopper.bmp"), model.preprocessing);
    Session s;
    forward(g, s, {&in.input});
    const Tensor before = s.values[size_t(model.logits)];
    std::vector<const float*> where;
    std::vector<std::vector<float>> weights;
    for (const Param& p : g.params) {
        where.push_back(p.data());
        weights.emplace_back(p.data(), p.data() + p.shape.numel());
    }

    SanityOptions opt;
    opt.explain.target = default_cam_target(g, model.logits);
    opt.explain.methods = {CamMethod::GradCam, CamMethod::FeatEntropyCam};
    opt.out_h = model.preprocessing.height;
    opt.out_w = model.preprocessing.width;
    const SanityModels models = make_sanity_models(g, 1);
    CHECK(models.blocks.size() >= 10);
    const SanityResult r = run_sanity_checks(g, models, s, model.logits, in.input, 0, opt);
    CHECK(r.comparisons.size() == 2 * (2 * models.blocks.size() + 2));

    forward(g, s, {&in.input});
    const Tensor& after = s.values[size_t(model.logits)];
    REQUIRE(after.numel() == before.numel());
    CHECK(std::memcmp(after.ptr(), before.ptr(), sizeof(float) * size_t(before.numel())) == 0);
    bool same_weights = true;
    for (size_t p = 0; p < g.params.size(); ++p)
        same_weights = same_weights && g.params[p].data() == where[p] && g.params[p].external != nullptr &&
                       std::memcmp(g.params[p].data(), weights[p].data(), sizeof(float) * weights[p].size()) == 0;
    CHECK(same_weights);
    // The fully randomised copy really computes something else.
    forward(models.cascading.back(), s, {&in.input});
    CHECK(std::memcmp(s.values[size_t(model.logits)].ptr(), before.ptr(), sizeof(float) * size_t(before.numel())) != 0);
}

TEST_CASE("plot: a line plot draws each series where its values are, and refuses bad input") {
    LinePlot p;
    p.title = "test";
    p.x_ticks = {"a", "b", "c"};
    p.y_min = -1;
    p.series = {{"high", Rgb8{200, 0, 0}, {1.0, 1.0, 1.0}}, {"low", Rgb8{0, 0, 200}, {-1.0, -1.0, -1.0}},
                {"gap", Rgb8{0, 200, 0}, {NAN, NAN, NAN}}};
    p.width = 400;
    p.height = 300;
    const ImageU8 img = render_line_plot(p);
    REQUIRE(img.width == 400);
    REQUIRE(img.height == 300);
    // Rows where a colour occurs, outside the legend (the right third of the figure holds it).
    auto rows_of = [&](Rgb8 c) {
        std::vector<int> ys;
        for (int y = 0; y < img.height; ++y)
            for (int x = 0; x < img.width * 2 / 3; ++x) {
                const uint8_t* px = &img.rgb[size_t(y * img.width + x) * 3];
                if (px[0] == c.r && px[1] == c.g && px[2] == c.b) { ys.push_back(y); break; }
            }
        return ys;
    };
    const std::vector<int> high = rows_of({200, 0, 0}), low = rows_of({0, 0, 200});
    REQUIRE(!high.empty());
    REQUIRE(!low.empty());
    CHECK(high.back() < low.front());        // y = 1 is drawn above y = -1
    CHECK(rows_of({0, 200, 0}).empty());     // an all-NaN series draws no line or marker
    p.series[0].y.pop_back();
    CHECK_THROWS_AS(render_line_plot(p), Error);
    p.series.clear();
    p.x_ticks = {"only"};
    CHECK_THROWS_AS(render_line_plot(p), Error);
    p.x_ticks = {"a", "b"};
    p.y_max = p.y_min;
    CHECK_THROWS_AS(render_line_plot(p), Error);
}
