// The CAM methods beyond the seed poster (issue 12): Grad-CAM++, XGrad-CAM, LayerCAM, Eigen-CAM, Score-CAM, our
// two entropy variants and the multi-layer fusion. Checked by hand-computed cases, by naive transcriptions of the
// papers' formulas on random tensors, and by identities on ../shared/reference that other methods must satisfy.
#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cam/cam_methods.h"
#include "cam/entropy.h"
#include "cam/multilayer.h"
#include "cam/postprocess.h"
#include "io/npy.h"
#include "tests/gradcheck.h"
#include "tests/reference_data.h"

using namespace ec;

namespace {

// Binary entropy in nats of {p, 1 - p}: the spatial entropy of a two-position channel.
double h2(double p) { return -(p * std::log(p) + (1 - p) * std::log(1 - p)); }

// A rank-4 1 x h x w x c tensor of uniform values in [lo, hi) from a fixed seed.
Tensor random_tensor(int h, int w, int c, float lo, float hi, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    Tensor t(Shape{1, h, w, c});
    for (float& v : t.data) v = u(rng);
    return t;
}

// Channel-first copy [k][i] (i = y * w + x) of a channels-last view: the layout the papers' formulas index.
std::vector<std::vector<double>> channels_first(const FeatureMapView& v) {
    std::vector<std::vector<double>> out(size_t(v.channels), std::vector<double>(size_t(v.spatial())));
    for (int k = 0; k < v.channels; ++k)
        for (int64_t i = 0; i < v.spatial(); ++i) out[size_t(k)][size_t(i)] = v.data[i * v.channels + k];
    return out;
}

// Grad-CAM++ straight from Chattopadhay 2018 eq. 19 with the score Y = exp(S): the derivatives of Y written out,
// dY/dA = Y g, d2Y/dA2 = Y g^2, d3Y/dA3 = Y g^3 (S is piecewise linear in A), alpha = d2 / (2 d2 + sum_ab A_ab d3),
// w_k = sum_ij alpha_ij ReLU(dY/dA_ij). The common implementations drop the overall factor Y from w (it scales
// every weight alike), so the transcription divides it out at the end.
std::vector<double> naive_grad_cam_pp_weights(const FeatureMapView& act, const FeatureMapView& grad, double score) {
    const auto a = channels_first(act), g = channels_first(grad);
    const double y = std::exp(score);
    std::vector<double> w(a.size(), 0.0);
    for (size_t k = 0; k < a.size(); ++k) {
        double sum_a = 0.0;
        for (double v : a[k]) sum_a += v;
        for (size_t i = 0; i < a[k].size(); ++i) {
            const double d1 = y * g[k][i], d2 = y * g[k][i] * g[k][i], d3 = y * g[k][i] * g[k][i] * g[k][i];
            const double denom = 2 * d2 + sum_a * d3;
            const double alpha = denom != 0.0 ? d2 / denom : 0.0;
            w[k] += alpha * std::max(d1, 0.0);
        }
        w[k] /= y;
    }
    return w;
}

// LayerCAM straight from Jiang 2021: M_ij = sum_k ReLU(g^k_ij) A^k_ij.
std::vector<double> naive_layer_cam(const FeatureMapView& act, const FeatureMapView& grad) {
    const auto a = channels_first(act), g = channels_first(grad);
    std::vector<double> m(size_t(act.spatial()), 0.0);
    for (size_t k = 0; k < a.size(); ++k)
        for (size_t i = 0; i < m.size(); ++i) m[i] += std::max(g[k][i], 0.0) * a[k][i];
    return m;
}

// max |got - want| / max |want| over a map or weight vector (0/0 counts as 0).
template <class A, class B>
double rel_max_diff(const A& got, const B& want) {
    REQUIRE(got.size() == want.size());
    double diff = 0, scale = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        diff = std::max(diff, std::fabs(double(got[i]) - double(want[i])));
        scale = std::max(scale, std::fabs(double(want[i])));
    }
    return scale > 0 ? diff / scale : diff;
}

double pearson(const std::vector<float>& a, const std::vector<double>& b) {
    const double ma = std::accumulate(a.begin(), a.end(), 0.0) / double(a.size());
    const double mb = std::accumulate(b.begin(), b.end(), 0.0) / double(b.size());
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / std::sqrt(saa * sbb);
}

}  // namespace

TEST_CASE("cam methods more: names, sources, parsing and what each needs") {
    CHECK(std::size(kAllCamMethods) == 5);  // `all` stays the poster's five in this phase
    CHECK(std::size(kEveryCamMethod) == 12);
    for (CamMethod m : kEveryCamMethod) CHECK(parse_cam_method(cam_method_name(m)) == m);
    CHECK(parse_cam_method("gradcampp") == CamMethod::GradCamPlusPlus);
    CHECK(parse_cam_method("signedgradentropycam") == CamMethod::SignedGradEntropyCam);
    CHECK(std::string(cam_method_title(CamMethod::GradCamPlusPlus)) == "Grad-CAM++");
    CHECK(std::string(cam_method_title(CamMethod::PosGradEntropyCam)) == "Pos-Grad Entropy-CAM");
    CHECK(std::string(cam_method_source(CamMethod::SignedGradEntropyCam)) == "ours (issue 12)");
    CHECK(std::string(cam_method_source(CamMethod::ScoreCam)) == "Wang et al. 2020");
    CHECK_THROWS_WITH_AS(parse_cam_method("gradcam++"),
                         doctest::Contains("eigencam, scorecam, signedgradentropycam, posgradentropycam"), Error);
    CHECK_FALSE(cam_method_needs_gradient(CamMethod::EigenCam));
    CHECK_FALSE(cam_method_needs_gradient(CamMethod::ScoreCam));
    CHECK(cam_method_needs_gradient(CamMethod::LayerCam));
    CHECK(cam_method_needs_forward_passes(CamMethod::ScoreCam));
    CHECK_FALSE(cam_method_needs_forward_passes(CamMethod::GradCamPlusPlus));
    CHECK_FALSE(cam_method_depends_on_class(CamMethod::EigenCam));
    CHECK_FALSE(cam_method_depends_on_class(CamMethod::FeatEntropyCam));
    CHECK(cam_method_depends_on_class(CamMethod::ScoreCam));
}

TEST_CASE("cam methods more: hand-computed 1x2 map with 2 channels") {
    const float a[] = {1.0f, 2.0f, 3.0f, 0.0f};   // A^0 = {1, 3}, A^1 = {2, 0}
    const float g[] = {0.5f, -1.0f, 1.5f, 4.0f};  // G^0 = {0.5, 1.5}, G^1 = {-1, 4}
    FeatureMapView act{a, 1, 2, 2}, grad{g, 1, 2, 2};

    // Grad-CAM++: channel 0, sum A = 4: g = .5 -> alpha = .25 / (.5 + 4 * .125) = .25, term .125;
    // g = 1.5 -> alpha = 2.25 / (4.5 + 4 * 3.375) = .125, term .1875; w0 = .3125.
    // Channel 1, sum A = 2: g = -1 -> ReLU 0; g = 4 -> alpha = 16 / (32 + 2 * 64) = .1, term .4; w1 = .4.
    CamResult pp = grad_cam_plus_plus(act, grad);
    REQUIRE(pp.weights.size() == 2);
    CHECK(pp.weights[0] == doctest::Approx(0.3125).epsilon(1e-7));
    CHECK(pp.weights[1] == doctest::Approx(0.4).epsilon(1e-7));
    CHECK(pp.raw.values[0] == doctest::Approx(0.3125 + 0.8).epsilon(1e-7));
    CHECK(pp.raw.values[1] == doctest::Approx(0.9375).epsilon(1e-7));

    // XGrad-CAM: w0 = (.5 * 1 + 1.5 * 3) / 4 = 1.25, w1 = (-1 * 2 + 4 * 0) / 2 = -1.
    CamResult xg = xgrad_cam(act, grad);
    CHECK(xg.weights[0] == doctest::Approx(1.25));
    CHECK(xg.weights[1] == doctest::Approx(-1.0));
    CHECK(xg.raw.values[0] == doctest::Approx(-0.75));
    CHECK(xg.raw.values[1] == doctest::Approx(3.75));

    // LayerCAM: p0 = ReLU(.5) * 1 + ReLU(-1) * 2 = .5, p1 = 1.5 * 3 + 4 * 0 = 4.5; no weights.
    CamResult lc = layer_cam(act, grad);
    CHECK(lc.weights.empty());
    CHECK(lc.raw.values[0] == doctest::Approx(0.5));
    CHECK(lc.raw.values[1] == doctest::Approx(4.5));

    // Ours with G^1 = {-4, 1} (mean -1.5 < 0) and a third channel G^2 = {-2, 2} (mean 0).
    const float a3[] = {1.0f, 2.0f, 5.0f, 3.0f, 0.0f, 7.0f};
    const float g3[] = {0.5f, -4.0f, -2.0f, 1.5f, 1.0f, 2.0f};
    FeatureMapView act3{a3, 1, 2, 3}, grad3{g3, 1, 2, 3};
    CamResult sg = signed_grad_entropy_cam(act3, grad3);
    CHECK(sg.weights[0] == doctest::Approx(h2(0.25)));
    CHECK(sg.weights[1] == doctest::Approx(-h2(0.2)));
    CHECK(sg.weights[2] == 0.0f);  // sign(0) = 0, although H = ln 2
    CHECK(sg.raw.values[0] == doctest::Approx(h2(0.25) * 1 - h2(0.2) * 2));
    CamResult pg = pos_grad_entropy_cam(act3, grad3);  // H * mean ReLU: {h(.25) * 1, h(.2) * .5, ln 2 * 1}
    CHECK(pg.weights[0] == doctest::Approx(h2(0.25)));
    CHECK(pg.weights[1] == doctest::Approx(h2(0.2) * 0.5));
    CHECK(pg.weights[2] == doctest::Approx(std::log(2.0)));
    CHECK(pg.raw.values[1] == doctest::Approx(h2(0.25) * 3 + std::log(2.0) * 7));
    EntropyOptions hist;
    hist.estimator = EntropyEstimator::Histogram;  // two distinct values: 1 bit
    CHECK(signed_grad_entropy_cam(act3, grad3, hist).weights[1] == doctest::Approx(-1.0));

    // Every new gradient method rejects a gradient of another shape, naming it.
    FeatureMapView bad{g, 2, 1, 2};
    for (CamMethod m : {CamMethod::GradCamPlusPlus, CamMethod::XGradCam, CamMethod::LayerCam,
                        CamMethod::SignedGradEntropyCam, CamMethod::PosGradEntropyCam})
        CHECK_THROWS_WITH_AS(compute_cam(m, act, bad), doctest::Contains("[2,1,2]"), Error);
}

TEST_CASE("cam methods more: zero denominators get eps only there") {
    // Channel 0: A sums to 0 (signed), so XGrad-CAM's denominator is replaced by eps: w0 = sum(A g) / eps.
    // Channel 1: g = -1 with sum A = 2: 2 g^2 + 2 g^3 = 0 but ReLU(g) = 0, so Grad-CAM++ adds nothing (no inf).
    const float a[] = {1.0f, 1.0f, -1.0f, 1.0f};
    const float g[] = {2.0f, -1.0f, 1.0f, -1.0f};
    FeatureMapView act{a, 1, 2, 2}, grad{g, 1, 2, 2};
    CamResult xg = xgrad_cam(act, grad);
    CHECK(xg.weights[0] == doctest::Approx((2.0 - 1.0) / kZeroDenominatorEps));
    CHECK(xg.weights[1] == doctest::Approx((-1.0 - 1.0) / 2.0));
    CamResult pp = grad_cam_plus_plus(act, grad);
    // Channel 0, sum A = 0: alpha = g^2 / 2 g^2 = 1/2 at both positions, w0 = .5 * 2 + .5 * 1 = 1.5.
    CHECK(pp.weights[0] == doctest::Approx(1.5));
    CHECK(pp.weights[1] == 0.0f);
    for (float v : pp.raw.values) CHECK(std::isfinite(v));
}

TEST_CASE("cam methods more: Grad-CAM++ and LayerCAM match naive transcriptions on random tensors" * ec::test::needs_shared()) {
    struct Case {
        int h, w, c;
        float glo;
    };
    unsigned seed = 7;
    double worst_pp = 0, worst_lc = 0;
    for (Case cs : {Case{1, 1, 1, -1.0f}, Case{3, 5, 7, -1.0f}, Case{7, 7, 33, -0.5f}, Case{2, 9, 4, 0.0f}, Case{14, 14, 17, -2.0f}}) {
        CAPTURE(cs.h);
        CAPTURE(cs.c);
        const Tensor at = random_tensor(cs.h, cs.w, cs.c, 0.0f, 6.0f, seed++);  // post-ReLU6-like activations
        const Tensor gt = random_tensor(cs.h, cs.w, cs.c, cs.glo, 1.0f, seed++);
        const FeatureMapView act = image_view(at, 0), grad = image_view(gt, 0);
        const CamResult pp = grad_cam_plus_plus(act, grad);
        const std::vector<double> want_w = naive_grad_cam_pp_weights(act, grad, 0.7);
        worst_pp = std::max(worst_pp, rel_max_diff(pp.weights, want_w));
        CHECK(rel_max_diff(pp.weights, want_w) < 1e-6);
        // The map is the weighted channel sum of the naive weights.
        const auto a = channels_first(act);
        std::vector<double> want_map(size_t(act.spatial()), 0.0);
        for (size_t k = 0; k < a.size(); ++k)
            for (size_t i = 0; i < want_map.size(); ++i) want_map[i] += want_w[k] * a[k][i];
        CHECK(rel_max_diff(pp.raw.values, want_map) < 1e-6);

        const CamResult lc = layer_cam(act, grad);
        const std::vector<double> want_lc = naive_layer_cam(act, grad);
        worst_lc = std::max(worst_lc, rel_max_diff(lc.raw.values, want_lc));
        CHECK(rel_max_diff(lc.raw.values, want_lc) < 1e-6);
    }
    MESSAGE("random tensors, worst rel diff vs naive: Grad-CAM++ weights " << worst_pp << ", LayerCAM " << worst_lc);
}

TEST_CASE("cam methods more: Eigen-CAM by hand, rank 0, channel permutation and run-to-run sign") {
    // A^0 = {0, 1, 2}, A^1 = {0, 2, 4}: centred rows (-1,-2), (0,0), (1,2); axis (1, 2)/sqrt 5; projection
    // {-sqrt 5, 0, sqrt 5}, which rises with the channel mean {0, 1.5, 3}: sign kept.
    const float up[] = {0, 0, 1, 2, 2, 4};
    CamResult e = eigen_cam(FeatureMapView{up, 1, 3, 2});
    CHECK(e.raw.values[0] == doctest::Approx(-std::sqrt(5.0)));
    CHECK(e.raw.values[1] == doctest::Approx(0.0));
    CHECK(e.raw.values[2] == doctest::Approx(std::sqrt(5.0)));
    CHECK(e.weights[0] == doctest::Approx(1 / std::sqrt(5.0)));
    CHECK(e.weights[1] == doctest::Approx(2 / std::sqrt(5.0)));
    // The mirrored map: the projection flips with the data, not with the solver.
    const float down[] = {2, 4, 1, 2, 0, 0};
    CamResult d = eigen_cam(FeatureMapView{down, 1, 3, 2});
    CHECK(d.raw.values[0] == doctest::Approx(std::sqrt(5.0)));
    CHECK(d.raw.values[2] == doctest::Approx(-std::sqrt(5.0)));
    // Every channel constant: nothing to project.
    const float flat[] = {3, 1, 3, 1, 3, 1, 3, 1};
    for (float v : eigen_cam(FeatureMapView{flat, 2, 2, 2}).raw.values) CHECK(v == 0.0f);

    // Random activations, both Gram paths (more positions than channels and fewer), channels permuted.
    for (int c : {5, 40}) {
        CAPTURE(c);
        const Tensor t = random_tensor(4, 5, c, 0.0f, 6.0f, 11u + unsigned(c));
        std::vector<int> perm(static_cast<size_t>(c));
        std::iota(perm.begin(), perm.end(), 0);
        std::mt19937 rng(3);
        std::shuffle(perm.begin(), perm.end(), rng);
        Tensor p = t;
        for (int64_t i = 0; i < 20; ++i)
            for (int k = 0; k < c; ++k) p[i * c + k] = t[i * c + perm[size_t(k)]];
        const CamResult r1 = eigen_cam(image_view(t, 0)), r2 = eigen_cam(image_view(p, 0));
        CHECK(rel_max_diff(r2.raw.values, r1.raw.values) < 1e-5);
        for (int k = 0; k < c; ++k) CHECK(r2.weights[size_t(k)] == doctest::Approx(r1.weights[size_t(perm[size_t(k)])]).epsilon(1e-4));
        CHECK(eigen_cam(image_view(t, 0)).raw.values == r1.raw.values);  // bit-identical on a second run
        // The projection is the best rank-1 fit: it explains at least as much variance as the channel mean.
        const auto a = channels_first(image_view(t, 0));
        std::vector<double> mean_map(20, 0.0);
        for (const auto& ch : a)
            for (size_t i = 0; i < 20; ++i) mean_map[i] += ch[i] / c;
        CHECK(pearson(r1.raw.values, mean_map) > 0.0);
    }
}

TEST_CASE("cam methods more: Score-CAM with a toy class-score function") {
    // Input X = {10, 20} (1 x 1 x 2 x 1), the activation's own size so the upsampling is the identity.
    // A^0 = {1, 3} -> mask {0, 1}; A^1 = {2, 0} -> mask {1, 0}; A^2 = {5, 5} is constant: no forward pass.
    const float a[] = {1.0f, 2.0f, 5.0f, 3.0f, 0.0f, 5.0f};
    FeatureMapView act{a, 1, 2, 3};
    Tensor input(Shape{1, 1, 2, 1}, {10.0f, 20.0f});
    std::vector<int> batch_sizes;
    ClassScoreFn score = [&](const Tensor& batch, std::vector<float>& out) {  // 0.05 + sum / 100
        batch_sizes.push_back(batch.shape.n());
        REQUIRE(batch.shape == Shape({batch.shape.n(), 1, 2, 1}));
        out.assign(size_t(batch.shape.n()), 0.05f);
        for (int n = 0; n < batch.shape.n(); ++n) out[size_t(n)] += (batch[n * 2] + batch[n * 2 + 1]) / 100.0f;
    };
    CamResult r = score_cam(act, input, score);  // masked sums 20 and 10
    CHECK(batch_sizes == std::vector<int>{2});
    CHECK(r.weights[0] == doctest::Approx(0.25));
    CHECK(r.weights[1] == doctest::Approx(0.15));
    CHECK(r.weights[2] == 0.0f);
    CHECK(r.raw.values[0] == doctest::Approx(0.25 * 1 + 0.15 * 2));
    CHECK(r.raw.values[1] == doctest::Approx(0.25 * 3));

    // The paper's CIC: minus the score of the zero input (0.05), which costs one more forward pass.
    batch_sizes.clear();
    ScoreCamOptions cic;
    cic.subtract_baseline = true;
    cic.batch = 1;
    CamResult rc = score_cam(act, input, score, cic);
    CHECK(batch_sizes == std::vector<int>{1, 1, 1});
    CHECK(rc.weights[0] == doctest::Approx(0.2));
    CHECK(rc.weights[1] == doctest::Approx(0.1));

    // Upsampling to the input size before normalising: A^0 = {1, 3} -> {1, 1.5, 2.5, 3} -> {0, .25, .75, 1}.
    Tensor wide(Shape{1, 1, 4, 1}, {1.0f, 1.0f, 1.0f, 1.0f});
    std::vector<float> seen;
    ClassScoreFn keep = [&](const Tensor& batch, std::vector<float>& out) {
        seen.assign(batch.data.begin(), batch.data.end());
        out.assign(size_t(batch.shape.n()), 0.5f);
    };
    const float one[] = {1.0f, 3.0f};
    score_cam(FeatureMapView{one, 1, 2, 1}, wide, keep);
    CHECK(seen == std::vector<float>{0.0f, 0.25f, 0.75f, 1.0f});

    // Through compute_cam, and its errors.
    CamOptions options;
    CHECK_THROWS_WITH_AS(compute_cam(CamMethod::ScoreCam, act, FeatureMapView{}, options), doctest::Contains("class-score"), Error);
    options.input = &input;
    options.class_scores = score;
    CHECK(compute_cam(CamMethod::ScoreCam, act, FeatureMapView{}, options).weights == r.weights);
    ClassScoreFn short_count = [](const Tensor&, std::vector<float>& out) { out.assign(1, 0.0f); };
    CHECK_THROWS_WITH_AS(score_cam(act, input, short_count), doctest::Contains("1 scores for a batch of 2"), Error);
    CHECK_THROWS_AS(score_cam(act, Tensor(Shape{2, 1, 2, 1}), score), Error);
}

TEST_CASE("cam methods more: multi-layer fusion is the mean of the normalised maps at the largest size") {
    Heatmap coarse(1, 2), fine(1, 4);
    coarse.values = {0.0f, 2.0f};               // -> {0, 1} -> upsampled {0, .25, .75, 1}
    fine.values = {-1.0f, 1.0f, 3.0f, 1.0f};    // ReLU -> {0, 1, 3, 1} -> {0, 1/3, 1, 1/3}
    Heatmap fused = fuse_layer_maps({coarse, fine});
    REQUIRE(fused.h == 1);
    REQUIRE(fused.w == 4);
    CHECK(fused.values[0] == 0.0f);
    CHECK(fused.values[1] == doctest::Approx((0.25 + 1.0 / 3) / 2));
    CHECK(fused.values[2] == doctest::Approx((0.75 + 1.0) / 2));
    CHECK(fused.values[3] == doctest::Approx((1.0 + 1.0 / 3) / 2));
    // The order of the layers does not matter; one layer is its normalised map; scale does not matter.
    CHECK(fuse_layer_maps({fine, coarse}).values == fused.values);
    CHECK(fuse_layer_maps({fine}).values == minmax_normalize(relu_map(fine)).values);
    Heatmap scaled = coarse;
    for (float& v : scaled.values) v *= 1000.0f;
    CHECK(fuse_layer_maps({scaled, fine}).values == fused.values);
    CHECK_THROWS_AS(fuse_layer_maps({}), Error);
    CHECK_THROWS_AS(fuse_layer_maps({Heatmap(0, 3)}), Error);
}

TEST_CASE("cam methods more: entropy_per_channel equals entropy of each gathered channel") {
    // The spatial estimator runs eight channels at a time (H = (1/T) sum a (ln T - ln a) with a vectorised
    // logarithm): within 4 float ulp of entropy_spatial on each gathered channel. The histogram, exactly.
    const Tensor t = random_tensor(3, 4, 5, -1.0f, 1.0f, 5u);
    for (EntropyEstimator est : {EntropyEstimator::Spatial, EntropyEstimator::Histogram}) {
        EntropyOptions o;
        o.estimator = est;
        const std::vector<float> h = entropy_per_channel(t.ptr(), 12, 5, o);
        REQUIRE(h.size() == 5);
        for (int k = 0; k < 5; ++k) {
            std::vector<float> ch;
            for (int i = 0; i < 12; ++i) ch.push_back(t[i * 5 + k]);
            const float want = float(entropy(ch.data(), 12, o));
            if (est == EntropyEstimator::Histogram) CHECK(h[size_t(k)] == want);
            else CHECK(std::fabs(h[size_t(k)] - want) <= 4.8e-7f * std::max(1.0f, want));
        }
    }
    CHECK_THROWS_AS(entropy_per_channel(t.ptr(), 0, 5, {}), Error);
}

TEST_CASE("cam methods more: the vectorised spatial entropy on hard channels") {
    // Channels of every kind a feature map has: all zero (H = 0), one nonzero value (H = 0), uniform (ln n),
    // mostly zero, signed, values spanning 1e-38 .. 3e38 (every binary exponent of a float reaches the
    // logarithm), subnormal ones (below 1.2e-38), and plain random ones; 49 positions (7 x 7) and 1; channel
    // counts around the lane width.
    ec::test::Rng rng(21);
    for (int positions : {1, 2, 49})
        for (int channels : {1, 3, 4, 7, 8, 9, 13, 16, 17, 96}) {
            std::vector<float> x(size_t(positions) * size_t(channels));
            for (int k = 0; k < channels; ++k)
                for (int i = 0; i < positions; ++i) {
                    float& v = x[size_t(i) * size_t(channels) + size_t(k)];
                    const float u = float(rng.uniform(0.0, 1.0));
                    switch (k % 8) {
                        case 0: v = 0.0f; break;
                        case 1: v = i == positions / 2 ? 2.5f : 0.0f; break;
                        case 2: v = 0.75f; break;
                        case 3: v = u < 0.8f ? 0.0f : u; break;
                        case 4: v = 2.0f * u - 1.0f; break;
                        case 5: v = std::ldexp(0.5f + 0.5f * u, int(u * 252.0f) - 125); break;
                        case 6: v = std::ldexp(0.5f + 0.5f * u, -126 - int(u * 23.0f)); break;  // 2^-149 .. 2^-126
                        default: v = 6.0f * u; break;
                    }
                }
            const std::vector<float> h = entropy_per_channel(x.data(), positions, channels, {});
            for (int k = 0; k < channels; ++k) {
                std::vector<float> ch(static_cast<size_t>(positions));
                for (int i = 0; i < positions; ++i) ch[size_t(i)] = x[size_t(i) * size_t(channels) + size_t(k)];
                const double want = entropy_spatial(ch.data(), positions);
                INFO("positions " << positions << " channels " << channels << " channel " << k);
                CHECK(std::fabs(double(h[size_t(k)]) - want) <= 4.8e-7 * std::max(1.0, want));
                if (k % 8 == 0 || k % 8 == 1) CHECK(h[size_t(k)] == 0.0f);
                if (k % 8 == 2) CHECK(double(h[size_t(k)]) == doctest::Approx(std::log(double(positions))).epsilon(1e-6));
            }
        }
}

TEST_CASE("cam methods more: the reference activations at layer3 and the pooling input" * ec::test::needs_shared()) {
    const std::vector<CamMethod> methods = {CamMethod::GradCamPlusPlus, CamMethod::XGradCam, CamMethod::LayerCam,
                                            CamMethod::EigenCam, CamMethod::SignedGradEntropyCam, CamMethod::PosGradEntropyCam};
    double worst_xgrad_respond = 0, worst_xgrad_gradcam = 0, worst_layer = 0, worst_pp = 0, worst_pos = 0;
    double min_eigen_corr = 1;
    int signed_all_negative = 0;
    for (const std::string& folder : test::reference_folders()) {
        CAPTURE(folder);
        const std::string dir = test::shared_path("reference/" + folder + "/");
        // layer3: a post-ReLU6 tensor whose gradient varies over space.
        const Tensor act3 = read_npy_tensor(dir + "l3_act.npy"), grad3 = read_npy_tensor(dir + "l3_grad.npy");
        const FeatureMapView a = image_view(act3, 0), g = image_view(grad3, 0);
        for (CamMethod m : methods) {
            const std::string method_name = cam_method_name(m);
            CAPTURE(method_name);
            const CamResult r = compute_cam(m, a, g);
            CHECK(r.raw.h == a.h);
            CHECK(r.raw.w == a.w);
            CHECK(r.weights.size() == (m == CamMethod::LayerCam ? 0u : size_t(a.channels)));
            for (float v : r.raw.values) REQUIRE(std::isfinite(v));
            for (float v : r.weights) REQUIRE(std::isfinite(v));
            const bool shows_something = *std::max_element(r.raw.values.begin(), r.raw.values.end()) > 0.0f;
            // Signed Grad Entropy-CAM may legitimately be negative everywhere (every strong channel lowers the
            // class on average): counted and reported, not required. The others must leave something after ReLU.
            if (m == CamMethod::SignedGradEntropyCam) signed_all_negative += shows_something ? 0 : 1;
            else CHECK(shows_something);
        }
        // XGrad-CAM is Respond-CAM without its eps: equal up to eps / sum A per channel.
        const CamResult xg = xgrad_cam(a, g), rc = respond_cam(a, g);
        worst_xgrad_respond = std::max(worst_xgrad_respond, rel_max_diff(xg.raw.values, rc.raw.values));
        CHECK(rel_max_diff(xg.raw.values, rc.raw.values) < 1e-5);
        // |signed weight| is the Grad Entropy-CAM weight, for both estimators.
        for (EntropyEstimator est : {EntropyEstimator::Spatial, EntropyEstimator::Histogram}) {
            EntropyOptions o;
            o.estimator = est;
            const CamResult sg = signed_grad_entropy_cam(a, g, o), ge = grad_entropy_cam(a, g, o);
            for (size_t k = 0; k < sg.weights.size(); ++k) CHECK(std::fabs(sg.weights[k]) == doctest::Approx(ge.weights[k]));
        }
        // Eigen-CAM follows the channel-mean map's orientation.
        const CamResult eig = eigen_cam(a);
        const auto ac = channels_first(a);
        std::vector<double> mean_map(size_t(a.spatial()), 0.0);
        for (const auto& ch : ac)
            for (size_t i = 0; i < mean_map.size(); ++i) mean_map[i] += ch[i] / a.channels;
        min_eigen_corr = std::min(min_eigen_corr, pearson(eig.raw.values, mean_map));
        CHECK(pearson(eig.raw.values, mean_map) > 0.0);

        // The pooling input, where G^k = w_ck / Z is constant over space (method.md's degeneracy). There:
        // XGrad-CAM = Grad-CAM (per channel: sum_ij A g / sum A = g); LayerCAM = the channel sum with weights
        // ReLU(g_k); Grad-CAM++ w_k = Z ReLU(g) / (2 + S_k g); Pos-Grad Entropy-CAM = ln Z * LayerCAM.
        const Tensor act_t = read_npy_tensor(dir + "act.npy"), grad_t = read_npy_tensor(dir + "grad.npy");
        const FeatureMapView at = image_view(act_t, 0), gt = image_view(grad_t, 0);
        REQUIRE(gradient_is_spatially_constant(gt));
        const CamResult gc = grad_cam(at, gt), xt = xgrad_cam(at, gt), lt = layer_cam(at, gt);
        worst_xgrad_gradcam = std::max(worst_xgrad_gradcam, rel_max_diff(xt.raw.values, gc.raw.values));
        CHECK(rel_max_diff(xt.raw.values, gc.raw.values) < 1e-5);
        std::vector<float> relu_w = gc.weights;
        for (float& v : relu_w) v = std::max(v, 0.0f);
        worst_layer = std::max(worst_layer, rel_max_diff(lt.raw.values, weighted_channel_sum(at, relu_w).values));
        CHECK(rel_max_diff(lt.raw.values, weighted_channel_sum(at, relu_w).values) < 1e-5);
        const auto atc = channels_first(at);
        std::vector<double> pp_want(size_t(at.channels));
        for (int k = 0; k < at.channels; ++k) {
            const double sum_a = std::accumulate(atc[size_t(k)].begin(), atc[size_t(k)].end(), 0.0);
            const double gk = gc.weights[size_t(k)];
            pp_want[size_t(k)] = gk > 0 ? double(at.spatial()) * gk / (2.0 + sum_a * gk) : 0.0;
        }
        worst_pp = std::max(worst_pp, rel_max_diff(grad_cam_plus_plus(at, gt).weights, pp_want));
        CHECK(rel_max_diff(grad_cam_plus_plus(at, gt).weights, pp_want) < 1e-5);
        std::vector<float> scaled_layer = lt.raw.values;
        for (float& v : scaled_layer) v *= float(std::log(double(at.spatial())));
        worst_pos = std::max(worst_pos, rel_max_diff(pos_grad_entropy_cam(at, gt).raw.values, scaled_layer));
        CHECK(rel_max_diff(pos_grad_entropy_cam(at, gt).raw.values, scaled_layer) < 1e-5);
    }
    MESSAGE("reference identities, worst rel diff: xgrad~respond (layer3) " << worst_xgrad_respond
            << ", xgrad~gradcam (pool input) " << worst_xgrad_gradcam << ", layercam~relu-w gradcam " << worst_layer
            << ", gradcam++ closed form " << worst_pp << ", posgrad~lnZ*layercam " << worst_pos
            << "; min corr(eigencam, channel mean) at layer3 " << min_eigen_corr
            << "; signed grad entropy-cam all-negative (empty after ReLU) at layer3 on " << signed_all_negative << " of "
            << test::reference_folders().size() << " images");
}
