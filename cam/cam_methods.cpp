#include "cam/cam_methods.h"

namespace ec {
namespace {

void require_same_shape(const char* method, const FeatureMapView& act, const FeatureMapView& grad) {
    if (act.h != grad.h || act.w != grad.w || act.channels != grad.channels || grad.data == nullptr)
        throw Error(std::string(method) + ": gradient shape [" + std::to_string(grad.h) + "," + std::to_string(grad.w) +
                    "," + std::to_string(grad.channels) + "] differs from activation shape [" + std::to_string(act.h) +
                    "," + std::to_string(act.w) + "," + std::to_string(act.channels) + "]");
}

void require_valid(const char* method, const FeatureMapView& v) {
    if (v.data == nullptr || v.h <= 0 || v.w <= 0 || v.channels <= 0)
        throw Error(std::string(method) + ": empty activation [" + std::to_string(v.h) + "," + std::to_string(v.w) + "," +
                    std::to_string(v.channels) + "]");
}

// Copies channel k of a channels-last map into a contiguous buffer of h*w values (what entropy() reads).
void gather_channel(const FeatureMapView& v, int k, std::vector<float>& out) {
    const int64_t z = v.spatial();
    out.resize(size_t(z));
    for (int64_t i = 0; i < z; ++i) out[size_t(i)] = v.data[i * v.channels + k];
}

// w_k = H(X^k) for every channel of x: the weights of both entropy CAMs (seed poster, eq. 3-5).
std::vector<float> channel_entropies(const FeatureMapView& x, const EntropyOptions& entropy_options) {
    std::vector<float> weights(size_t(x.channels));
    std::vector<float> channel;
    for (int k = 0; k < x.channels; ++k) {
        gather_channel(x, k, channel);
        weights[size_t(k)] = float(entropy(channel.data(), int64_t(channel.size()), entropy_options));
    }
    return weights;
}

}  // namespace

const char* cam_method_name(CamMethod m) {
    switch (m) {
        case CamMethod::GradCam: return "gradcam";
        case CamMethod::HiResCam: return "hirescam";
        case CamMethod::RespondCam: return "respondcam";
        case CamMethod::GradEntropyCam: return "gradentropycam";
        case CamMethod::FeatEntropyCam: return "featentropycam";
    }
    return "unknown";
}

const char* cam_method_title(CamMethod m) {
    switch (m) {
        case CamMethod::GradCam: return "Grad-CAM";
        case CamMethod::HiResCam: return "HiResCAM";
        case CamMethod::RespondCam: return "Respond-CAM";
        case CamMethod::GradEntropyCam: return "Grad Entropy-CAM";
        case CamMethod::FeatEntropyCam: return "Feature Entropy-CAM";
    }
    return "unknown";
}

CamMethod parse_cam_method(const std::string& name) {
    std::string valid;
    for (CamMethod m : kAllCamMethods) {
        if (name == cam_method_name(m)) return m;
        valid += (valid.empty() ? "" : ", ") + std::string(cam_method_name(m));
    }
    throw Error("unknown CAM method '" + name + "' (valid: " + valid + ")");
}

bool cam_method_needs_gradient(CamMethod m) { return m != CamMethod::FeatEntropyCam; }

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

Heatmap weighted_channel_sum(const FeatureMapView& act, const std::vector<float>& weights) {
    if (int64_t(weights.size()) != act.channels)
        throw Error("weighted_channel_sum: " + std::to_string(weights.size()) + " weights for " +
                    std::to_string(act.channels) + " channels");
    Heatmap raw(act.h, act.w);
    for (int64_t i = 0; i < act.spatial(); ++i) {
        const float* a = act.data + i * act.channels;
        double s = 0.0;
        for (int k = 0; k < act.channels; ++k) s += double(weights[size_t(k)]) * a[k];
        raw.values[size_t(i)] = float(s);
    }
    return raw;
}

CamResult grad_cam(const FeatureMapView& act, const FeatureMapView& grad) {
    require_valid("gradcam", act);
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
    require_valid("hirescam", act);
    require_same_shape("hirescam", act, grad);
    // Draelos & Carin 2020: raw_ij = sum_k G^k_ij A^k_ij.
    CamResult r;
    r.raw = Heatmap(act.h, act.w);
    for (int64_t i = 0; i < act.spatial(); ++i) {
        const float* a = act.data + i * act.channels;
        const float* g = grad.data + i * grad.channels;
        double s = 0.0;
        for (int k = 0; k < act.channels; ++k) s += double(g[k]) * a[k];
        r.raw.values[size_t(i)] = float(s);
    }
    return r;
}

CamResult respond_cam(const FeatureMapView& act, const FeatureMapView& grad, float eps) {
    require_valid("respondcam", act);
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
    require_valid("gradentropycam", act);
    require_same_shape("gradentropycam", act, grad);
    CamResult r;
    r.weights = channel_entropies(grad, entropy_options);  // seed eq. 3-4: w_k = H(G^k)
    r.raw = weighted_channel_sum(act, r.weights);
    return r;
}

CamResult feat_entropy_cam(const FeatureMapView& act, const EntropyOptions& entropy_options) {
    require_valid("featentropycam", act);
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
    }
    throw Error("compute_cam: unknown method " + std::to_string(int(m)));
}

bool gradient_is_spatially_constant(const FeatureMapView& grad, double rel_tol) {
    require_valid("gradient_is_spatially_constant", grad);
    const int64_t z = grad.spatial();
    std::vector<double> mean(size_t(grad.channels), 0.0), mean_sq(size_t(grad.channels), 0.0);
    for (int64_t i = 0; i < z; ++i)
        for (int k = 0; k < grad.channels; ++k) {
            double g = grad.data[i * grad.channels + k];
            mean[size_t(k)] += g / double(z);
            mean_sq[size_t(k)] += g * g / double(z);
        }
    // Two-pass variance: stable when the mean dominates, which is exactly the case being detected.
    std::vector<double> var(size_t(grad.channels), 0.0);
    for (int64_t i = 0; i < z; ++i)
        for (int k = 0; k < grad.channels; ++k) {
            double d = grad.data[i * grad.channels + k] - mean[size_t(k)];
            var[size_t(k)] += d * d / double(z);
        }
    for (int k = 0; k < grad.channels; ++k)
        if (var[size_t(k)] > rel_tol * mean_sq[size_t(k)]) return false;
    return true;
}

}  // namespace ec
