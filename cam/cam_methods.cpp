#include "cam/cam_methods.h"

#include <algorithm>

#include "nn/parallel.h"

namespace ec {

void require_same_shape(const char* method, const FeatureMapView& act, const FeatureMapView& grad) {
    if (act.h != grad.h || act.w != grad.w || act.channels != grad.channels || grad.data == nullptr)
        throw Error(std::string(method) + ": gradient shape [" + std::to_string(grad.h) + "," + std::to_string(grad.w) +
                    "," + std::to_string(grad.channels) + "] differs from activation shape [" + std::to_string(act.h) +
                    "," + std::to_string(act.w) + "," + std::to_string(act.channels) + "]");
}

void require_valid_activation(const char* method, const FeatureMapView& v) {
    if (v.data == nullptr || v.h <= 0 || v.w <= 0 || v.channels <= 0)
        throw Error(std::string(method) + ": empty activation [" + std::to_string(v.h) + "," + std::to_string(v.w) + "," +
                    std::to_string(v.channels) + "]");
}

namespace {

// w_k = H(X^k) for every channel of x: the weights of both entropy CAMs (seed poster, eq. 3-5).
std::vector<float> channel_entropies(const FeatureMapView& x, const EntropyOptions& entropy_options) {
    return entropy_per_channel(x.data, x.spatial(), x.channels, entropy_options);
}

}  // namespace

namespace {

// One row per method: everything the front ends need to know about it by name.
struct CamMethodInfo {
    CamMethod method;
    const char* name;
    const char* title;
    const char* source;
    bool needs_gradient, needs_forward_passes, depends_on_class;
};

constexpr CamMethodInfo kCamMethodTable[] = {
    {CamMethod::GradCam, "gradcam", "Grad-CAM", "Selvaraju et al. 2017", true, false, true},
    {CamMethod::HiResCam, "hirescam", "HiResCAM", "Draelos & Carin 2020", true, false, true},
    {CamMethod::RespondCam, "respondcam", "Respond-CAM", "Zhao et al. 2018", true, false, true},
    {CamMethod::GradEntropyCam, "gradentropycam", "Grad Entropy-CAM", "seed poster", true, false, true},
    {CamMethod::FeatEntropyCam, "featentropycam", "Feature Entropy-CAM", "seed poster", false, false, false},
    {CamMethod::GradCamPlusPlus, "gradcampp", "Grad-CAM++", "Chattopadhay et al. 2018", true, false, true},
    {CamMethod::XGradCam, "xgradcam", "XGrad-CAM", "Fu et al. 2020", true, false, true},
    {CamMethod::LayerCam, "layercam", "LayerCAM", "Jiang et al. 2021", true, false, true},
    {CamMethod::EigenCam, "eigencam", "Eigen-CAM", "Muhammad & Yeasin 2020", false, false, false},
    {CamMethod::ScoreCam, "scorecam", "Score-CAM", "Wang et al. 2020", false, true, true},
    {CamMethod::SignedGradEntropyCam, "signedgradentropycam", "Signed Grad Entropy-CAM", "ours (issue 12)", true, false, true},
    {CamMethod::PosGradEntropyCam, "posgradentropycam", "Pos-Grad Entropy-CAM", "ours (issue 12)", true, false, true},
};

const CamMethodInfo& info(CamMethod m) {
    for (const CamMethodInfo& row : kCamMethodTable)
        if (row.method == m) return row;
    throw Error("unknown CAM method " + std::to_string(int(m)));
}

}  // namespace

const char* cam_method_name(CamMethod m) { return info(m).name; }
const char* cam_method_title(CamMethod m) { return info(m).title; }
const char* cam_method_source(CamMethod m) { return info(m).source; }
bool cam_method_needs_gradient(CamMethod m) { return info(m).needs_gradient; }
bool cam_method_needs_forward_passes(CamMethod m) { return info(m).needs_forward_passes; }
bool cam_method_depends_on_class(CamMethod m) { return info(m).depends_on_class; }

CamMethod parse_cam_method(const std::string& name) {
    std::string valid;
    for (CamMethod m : kEveryCamMethod) {
        if (name == cam_method_name(m)) return m;
        valid += (valid.empty() ? "" : ", ") + std::string(cam_method_name(m));
    }
    throw Error("unknown CAM method '" + name + "' (valid: " + valid + ")");
}

FeatureMapView image_view(const Tensor& t, int n) {
    if (t.shape.rank != 4) throw Error("image_view: expected an NHWC tensor of rank 4, got shape " + t.shape.str());
    if (n < 0 || n >= t.shape.n())
        throw Error("image_view: image " + std::to_string(n) + " out of range for shape " + t.shape.str());
    FeatureMapView v;
    v.h = t.shape.h();
    v.w = t.shape.w();
    v.channels = t.shape.c();
    v.data = t.ptr() + int64_t(n) * v.spatial() * v.channels;
    return v;
}

namespace {
// Positions are worth threads only beyond this many products: a vectorised 49 x 960 map takes a few microseconds,
// about what starting the threads costs.
constexpr int64_t kVectorisedParallelMin = 16 * kParallelMin;
}  // namespace

double dot_double(const float* a, const float* b, int64_t n) {
    constexpr int kParts = 32;
    double part[kParts] = {};
    int64_t k = 0;
    for (; k + kParts <= n; k += kParts)
        for (int j = 0; j < kParts; ++j) part[j] += double(a[k + j]) * double(b[k + j]);
    for (int j = 0; k < n; ++k, ++j) part[j] += double(a[k]) * double(b[k]);
    for (int width = kParts / 2; width > 0; width /= 2)  // pairwise: part[j] += part[j + width]
        for (int j = 0; j < width; ++j) part[j] += part[j + width];
    return part[0];
}

Heatmap weighted_channel_sum(const FeatureMapView& act, const std::vector<float>& weights) {
    if (int64_t(weights.size()) != act.channels)
        throw Error("weighted_channel_sum: " + std::to_string(weights.size()) + " weights for " +
                    std::to_string(act.channels) + " channels");
    Heatmap raw(act.h, act.w);
    // Positions are independent (each sum in one order, on one thread).
#pragma omp parallel for schedule(static) if (act.spatial() * act.channels >= kVectorisedParallelMin)
    for (int64_t i = 0; i < act.spatial(); ++i) {
        raw.values[size_t(i)] = float(dot_double(weights.data(), act.data + i * act.channels, act.channels));
    }
    return raw;
}

CamResult grad_cam(const FeatureMapView& act, const FeatureMapView& grad) {
    require_valid_activation("gradcam", act);
    require_same_shape("gradcam", act, grad);
    // Selvaraju 2017 eq. 1: w_k = (1/Z) sum_ij dy^c/dA^k_ij.
    std::vector<double> sum(size_t(act.channels), 0.0);
    for (int64_t i = 0; i < grad.spatial(); ++i)
        for (int k = 0; k < grad.channels; ++k) sum[size_t(k)] += grad.data[i * grad.channels + k];
    CamResult r;
    r.weights.resize(sum.size());
    for (size_t k = 0; k < sum.size(); ++k) r.weights[k] = float(sum[k] / double(act.spatial()));
    r.raw = weighted_channel_sum(act, r.weights);
    return r;
}

CamResult hires_cam(const FeatureMapView& act, const FeatureMapView& grad) {
    require_valid_activation("hirescam", act);
    require_same_shape("hirescam", act, grad);
    // Draelos & Carin 2020: raw_ij = sum_k G^k_ij A^k_ij.
    CamResult r;
    r.raw = Heatmap(act.h, act.w);
#pragma omp parallel for schedule(static) if (act.spatial() * act.channels >= kVectorisedParallelMin)
    for (int64_t i = 0; i < act.spatial(); ++i) {
        r.raw.values[size_t(i)] = float(dot_double(grad.data + i * grad.channels, act.data + i * act.channels, act.channels));
    }
    return r;
}

CamResult respond_cam(const FeatureMapView& act, const FeatureMapView& grad, float eps) {
    require_valid_activation("respondcam", act);
    require_same_shape("respondcam", act, grad);
    // Zhao 2018 eq. 2: w_k = sum_ij A^k_ij G^k_ij / (sum_ij A^k_ij + eps).
    std::vector<double> num(size_t(act.channels), 0.0), den(size_t(act.channels), 0.0);
    for (int64_t i = 0; i < act.spatial(); ++i) {
        const float* a = act.data + i * act.channels;
        const float* g = grad.data + i * grad.channels;
        for (int k = 0; k < act.channels; ++k) {
            num[size_t(k)] += double(a[k]) * g[k];
            den[size_t(k)] += a[k];
        }
    }
    CamResult r;
    r.weights.resize(num.size());
    for (size_t k = 0; k < num.size(); ++k) r.weights[k] = float(num[k] / (den[k] + double(eps)));
    r.raw = weighted_channel_sum(act, r.weights);
    return r;
}

CamResult grad_entropy_cam(const FeatureMapView& act, const FeatureMapView& grad, const EntropyOptions& entropy_options) {
    require_valid_activation("gradentropycam", act);
    require_same_shape("gradentropycam", act, grad);
    CamResult r;
    r.weights = channel_entropies(grad, entropy_options);  // seed eq. 3-4: w_k = H(G^k)
    r.raw = weighted_channel_sum(act, r.weights);
    return r;
}

CamResult feat_entropy_cam(const FeatureMapView& act, const EntropyOptions& entropy_options) {
    require_valid_activation("featentropycam", act);
    CamResult r;
    r.weights = channel_entropies(act, entropy_options);  // seed eq. 5: w_k = H(A^k)
    r.raw = weighted_channel_sum(act, r.weights);
    return r;
}

CamResult compute_cam(CamMethod m, const FeatureMapView& act, const FeatureMapView& grad, const CamOptions& options) {
    switch (m) {
        case CamMethod::GradCam: return grad_cam(act, grad);
        case CamMethod::HiResCam: return hires_cam(act, grad);
        case CamMethod::RespondCam: return respond_cam(act, grad, options.respond_eps);
        case CamMethod::GradEntropyCam: return grad_entropy_cam(act, grad, options.entropy);
        case CamMethod::FeatEntropyCam: return feat_entropy_cam(act, options.entropy);
        case CamMethod::GradCamPlusPlus: return grad_cam_plus_plus(act, grad);
        case CamMethod::XGradCam: return xgrad_cam(act, grad);
        case CamMethod::LayerCam: return layer_cam(act, grad);
        case CamMethod::EigenCam: return eigen_cam(act);
        case CamMethod::ScoreCam:
            if (options.input == nullptr || !options.class_scores)
                throw Error("scorecam: needs the network input and a class-score function (CamOptions::input, class_scores)");
            return score_cam(act, *options.input, options.class_scores, options.score_cam);
        case CamMethod::SignedGradEntropyCam: return signed_grad_entropy_cam(act, grad, options.entropy);
        case CamMethod::PosGradEntropyCam: return pos_grad_entropy_cam(act, grad, options.entropy);
    }
    throw Error("compute_cam: unknown method " + std::to_string(int(m)));
}

bool gradient_is_spatially_constant(const FeatureMapView& grad, double rel_tol) {
    require_valid_activation("gradient_is_spatially_constant", grad);
    const int64_t z = grad.spatial();
    const double inv_z = 1.0 / double(z);  // a multiply per value, not a division (explain runs this every image)
    // Eight channels at a time, so that a gradient that varies (the usual case) is known from its first block;
    // each channel's sums run in position order, whatever the block.
    constexpr int kBlock = 8;
    for (int k0 = 0; k0 < grad.channels; k0 += kBlock) {
        const int width = std::min(kBlock, grad.channels - k0);
        double mean[kBlock] = {}, mean_sq[kBlock] = {}, var[kBlock] = {};
        for (int64_t i = 0; i < z; ++i)
            for (int j = 0; j < width; ++j) {
                const double g = grad.data[i * grad.channels + k0 + j];
                mean[j] += g * inv_z;
                mean_sq[j] += g * g * inv_z;
            }
        // Two-pass variance: stable when the mean dominates, which is exactly the case being detected.
        for (int64_t i = 0; i < z; ++i)
            for (int j = 0; j < width; ++j) {
                const double d = grad.data[i * grad.channels + k0 + j] - mean[j];
                var[j] += d * d * inv_z;
            }
        for (int j = 0; j < width; ++j)
            if (var[j] > rel_tol * mean_sq[j]) return false;
    }
    return true;
}

}  // namespace ec
