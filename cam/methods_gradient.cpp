// The published gradient CAMs beyond the seed poster (Grad-CAM++, XGrad-CAM, LayerCAM) and our two entropy
// variants. Declared in cam/cam_methods.h; the formulas are there and in ../shared/docs/method.md. All sums are
// accumulated in double over the h x w positions of one channel.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cam/cam_methods.h"

namespace ec {
namespace {

// Per-channel sums over positions of f(a, g), the building block of every weight below.
template <class F>
std::vector<double> channel_sums(const FeatureMapView& act, const FeatureMapView& grad, F f) {
    std::vector<double> sum(size_t(act.channels), 0.0);
    for (int64_t i = 0; i < act.spatial(); ++i) {
        const float* a = act.data + i * act.channels;
        const float* g = grad.data + i * grad.channels;
        for (int k = 0; k < act.channels; ++k) sum[size_t(k)] += f(double(a[k]), double(g[k]));
    }
    return sum;
}

double nonzero_or_eps(double denominator) { return denominator != 0.0 ? denominator : kZeroDenominatorEps; }

CamResult weighted(const FeatureMapView& act, std::vector<float> weights) {
    CamResult r;
    r.weights = std::move(weights);
    r.raw = weighted_channel_sum(act, r.weights);
    return r;
}

}  // namespace

CamResult grad_cam_plus_plus(const FeatureMapView& act, const FeatureMapView& grad) {
    require_valid_activation("gradcampp", act);
    require_same_shape("gradcampp", act, grad);
    // Chattopadhay 2018 eq. 19 with Y = exp(S^c): d2Y/dA2 = Y g^2, d3Y/dA3 = Y g^3, and Y cancels in alpha:
    //   alpha^kc_ij = g^2 / (2 g^2 + sum_ab A^k_ab g^3),  w_k = sum_ij alpha^kc_ij ReLU(g_ij).
    const std::vector<double> act_sum = channel_sums(act, grad, [](double a, double) { return a; });
    std::vector<double> w(size_t(act.channels), 0.0);
    for (int64_t i = 0; i < act.spatial(); ++i) {
        const float* g = grad.data + i * grad.channels;
        for (int k = 0; k < act.channels; ++k) {
            const double g1 = g[k], g2 = g1 * g1, g3 = g2 * g1;
            if (g1 <= 0.0) continue;  // ReLU(g) = 0: no contribution, whatever alpha is
            w[size_t(k)] += g2 / nonzero_or_eps(2.0 * g2 + act_sum[size_t(k)] * g3) * g1;
        }
    }
    return weighted(act, std::vector<float>(w.begin(), w.end()));
}

CamResult xgrad_cam(const FeatureMapView& act, const FeatureMapView& grad) {
    require_valid_activation("xgradcam", act);
    require_same_shape("xgradcam", act, grad);
    // Fu 2020: w_k = sum_ij (A^k_ij / sum_ab A^k_ab) G^k_ij.
    const std::vector<double> num = channel_sums(act, grad, [](double a, double g) { return a * g; });
    const std::vector<double> den = channel_sums(act, grad, [](double a, double) { return a; });
    std::vector<float> w(num.size());
    for (size_t k = 0; k < num.size(); ++k) w[k] = float(num[k] / nonzero_or_eps(den[k]));
    return weighted(act, std::move(w));
}

CamResult layer_cam(const FeatureMapView& act, const FeatureMapView& grad) {
    require_valid_activation("layercam", act);
    require_same_shape("layercam", act, grad);
    // Jiang 2021: M_ij = sum_k ReLU(G^k_ij) A^k_ij (their ReLU of M is the shared post-processing's step 1).
    CamResult r;
    r.raw = Heatmap(act.h, act.w);
    for (int64_t i = 0; i < act.spatial(); ++i) {
        const float* a = act.data + i * act.channels;
        const float* g = grad.data + i * grad.channels;
        double s = 0.0;
        for (int k = 0; k < act.channels; ++k) s += std::max(double(g[k]), 0.0) * a[k];
        r.raw.values[size_t(i)] = float(s);
    }
    return r;
}

CamResult signed_grad_entropy_cam(const FeatureMapView& act, const FeatureMapView& grad, const EntropyOptions& entropy) {
    require_valid_activation("signedgradentropycam", act);
    require_same_shape("signedgradentropycam", act, grad);
    // Ours: w_k = sign(mean_ij G^k_ij) * H(G^k).
    const std::vector<double> sum = channel_sums(act, grad, [](double, double g) { return g; });
    std::vector<float> w = entropy_per_channel(grad.data, grad.spatial(), grad.channels, entropy);
    for (size_t k = 0; k < w.size(); ++k) w[k] *= float((sum[k] > 0.0) - (sum[k] < 0.0));
    return weighted(act, std::move(w));
}

CamResult pos_grad_entropy_cam(const FeatureMapView& act, const FeatureMapView& grad, const EntropyOptions& entropy) {
    require_valid_activation("posgradentropycam", act);
    require_same_shape("posgradentropycam", act, grad);
    // Ours: w_k = H(G^k) * (1/Z) sum_ij ReLU(G^k_ij).
    const std::vector<double> pos = channel_sums(act, grad, [](double, double g) { return std::max(g, 0.0); });
    std::vector<float> w = entropy_per_channel(grad.data, grad.spatial(), grad.channels, entropy);
    for (size_t k = 0; k < w.size(); ++k) w[k] = float(double(w[k]) * pos[k] / double(act.spatial()));
    return weighted(act, std::move(w));
}

}  // namespace ec
