// The CAMs that need no gradient: Eigen-CAM (activations alone) and Score-CAM (activations plus forward passes
// of masked inputs through a ClassScoreFn). Declared in cam/cam_methods.h, where the formulas are stated.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cam/cam_methods.h"
#include "cam/postprocess.h"

namespace ec {
namespace {

// The positions x channels matrix of A with each channel's mean over positions subtracted, in double.
Eigen::MatrixXd centred_activations(const FeatureMapView& act) {
    Eigen::MatrixXd x(act.spatial(), act.channels);
    for (int64_t i = 0; i < act.spatial(); ++i)
        for (int k = 0; k < act.channels; ++k) x(i, k) = act.data[i * act.channels + k];
    x.rowwise() -= x.colwise().mean();
    return x;
}

// The first principal axis v (unit, K values) of the rows of x, or all zeros when x is 0. The eigenproblem is
// solved on the smaller Gram matrix: x^T x (K x K) directly, or x x^T (Z x Z) whose top eigenvector u gives
// v = x^T u / |x^T u|. Eigen's SelfAdjointEigenSolver is deterministic and sorts eigenvalues ascending.
// The Gram products are lazy (coefficient-wise): Eigen's GEMM would hand these small products to OpenMP, which
// costs far more than the arithmetic (measured 49 x 960: 13.6 ms CPU, 115 ms wall on a loaded 2-core machine,
// against 1.1 ms CPU, 4.9 ms wall lazily).
Eigen::VectorXd first_principal_axis(const Eigen::MatrixXd& x) {
    Eigen::VectorXd v;
    if (x.rows() >= x.cols()) {
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(x.transpose().lazyProduct(x));
        if (eig.info() != Eigen::Success) throw Error("eigencam: the eigensolver did not converge");
        v = eig.eigenvectors().col(x.cols() - 1);
    } else {
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(x.lazyProduct(x.transpose()));
        if (eig.info() != Eigen::Success) throw Error("eigencam: the eigensolver did not converge");
        v = x.transpose() * eig.eigenvectors().col(x.rows() - 1);
    }
    const double norm = v.norm();
    if (!(norm > 0.0) || x.squaredNorm() == 0.0) return Eigen::VectorXd::Zero(x.cols());
    return v / norm;
}

// +1 or -1 such that sign * projection correlates positively with the channel-mean map (method.md: the sign of
// a principal axis is arbitrary; this fixes it by the data). Exactly uncorrelated: the largest |value| (first
// on ties) is made positive.
double projection_sign(const FeatureMapView& act, const Eigen::VectorXd& projection) {
    Eigen::VectorXd mean_map(act.spatial());
    for (int64_t i = 0; i < act.spatial(); ++i) {
        double s = 0.0;
        for (int k = 0; k < act.channels; ++k) s += act.data[i * act.channels + k];
        mean_map[i] = s / act.channels;
    }
    const double corr = projection.dot((mean_map.array() - mean_map.mean()).matrix());
    if (corr != 0.0) return corr > 0.0 ? 1.0 : -1.0;
    Eigen::Index arg = 0;
    projection.cwiseAbs().maxCoeff(&arg);
    return projection[arg] < 0.0 ? -1.0 : 1.0;
}

// Channel k of a channels-last map as an h x w Heatmap.
Heatmap channel_map(const FeatureMapView& act, int k) {
    Heatmap m(act.h, act.w);
    for (int64_t i = 0; i < act.spatial(); ++i) m.values[size_t(i)] = act.data[i * act.channels + k];
    return m;
}

}  // namespace

CamResult eigen_cam(const FeatureMapView& act) {
    require_valid_activation("eigencam", act);
    // Muhammad & Yeasin 2020: project the centred activations onto their first principal component.
    const Eigen::MatrixXd x = centred_activations(act);
    Eigen::VectorXd v = first_principal_axis(x);
    Eigen::VectorXd projection = x * v;
    const double sign = projection_sign(act, projection);
    v *= sign;
    projection *= sign;
    CamResult r;
    r.raw = Heatmap(act.h, act.w);
    for (int64_t i = 0; i < act.spatial(); ++i) r.raw.values[size_t(i)] = float(projection[i]);
    r.weights.assign(v.data(), v.data() + v.size());
    return r;
}

CamResult score_cam(const FeatureMapView& act, const Tensor& input, const ClassScoreFn& class_scores,
                    const ScoreCamOptions& options) {
    require_valid_activation("scorecam", act);
    if (input.shape.rank != 4 || input.shape.n() != 1)
        throw Error("scorecam: expected a 1 x H x W x C input, got shape " + input.shape.str());
    if (options.batch < 1) throw Error("scorecam: batch must be at least 1, got " + std::to_string(options.batch));
    if (!class_scores) throw Error("scorecam: no class-score function");
    const int in_h = input.shape.h(), in_w = input.shape.w(), in_c = input.shape.c();
    const int64_t pixels = int64_t(in_h) * in_w;

    // Runs the network on `rows` masked inputs of `batch` and returns their class scores.
    std::vector<float> scores;
    auto score_batch = [&](const Tensor& batch, int rows) {
        class_scores(batch, scores);
        if (int64_t(scores.size()) != rows)
            throw Error("scorecam: the class-score function returned " + std::to_string(scores.size()) +
                        " scores for a batch of " + std::to_string(rows));
    };
    double baseline = 0.0;  // f(X_b), X_b = 0 (the paper's Channel-wise Increase of Confidence), only with subtract_baseline
    if (options.subtract_baseline) {
        score_batch(Tensor(input.shape), 1);
        baseline = scores[0];
    }

    // Wang 2020: H^k = s(Up(A^k)) with s the min-max normalisation; w_k = f(X (.) H^k) [- f(X_b)].
    std::vector<float> weights(size_t(act.channels), 0.0f);
    std::vector<int> pending;  // channels whose masked input is in `batch`
    Tensor batch;
    auto flush = [&]() {
        if (pending.empty()) return;
        batch.reshape_storage(input.shape.with_batch(int(pending.size())));
        score_batch(batch, int(pending.size()));
        for (size_t b = 0; b < pending.size(); ++b) weights[size_t(pending[b])] = float(double(scores[b]) - baseline);
        pending.clear();
    };
    for (int k = 0; k < act.channels; ++k) {
        const Heatmap up = upsample_bilinear(channel_map(act, k), in_h, in_w);
        auto [lo, hi] = std::minmax_element(up.values.begin(), up.values.end());
        if (*lo == *hi) continue;  // constant channel: no mask, w_k = 0 (the authors' code skips it)
        const Heatmap mask = minmax_normalize(up);
        if (pending.empty()) batch.reshape_storage(input.shape.with_batch(options.batch));
        float* row = batch.ptr() + int64_t(pending.size()) * pixels * in_c;
        for (int64_t p = 0; p < pixels; ++p)
            for (int c = 0; c < in_c; ++c) row[p * in_c + c] = input[p * in_c + c] * mask.values[size_t(p)];
        pending.push_back(k);
        if (int(pending.size()) == options.batch) flush();
    }
    flush();

    CamResult r;
    r.weights = std::move(weights);
    r.raw = weighted_channel_sum(act, r.weights);
    return r;
}

}  // namespace ec
