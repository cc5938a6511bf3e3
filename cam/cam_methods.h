// The five CAM methods of the seed poster (method.md, "The five methods"), as functions of the target
// activation A and its gradient G = dy^c/dA for one image. Each returns the RAW map (H x W, before any ReLU)
// and the channel weights; ReLU, normalisation and upsampling are separate steps (cam/postprocess.h).
// This file knows nothing of networks or files: it works on plain float arrays.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cam/entropy.h"
#include "cam/heatmap.h"
#include "nn/tensor.h"

namespace ec {

enum class CamMethod { GradCam, HiResCam, RespondCam, GradEntropyCam, FeatEntropyCam };

// The poster's column order (Figure 1).
constexpr CamMethod kAllCamMethods[] = {CamMethod::GradCam, CamMethod::HiResCam, CamMethod::RespondCam,
                                        CamMethod::GradEntropyCam, CamMethod::FeatEntropyCam};

const char* cam_method_name(CamMethod m);   // "gradcam", "hirescam", "respondcam", "gradentropycam", "featentropycam"
const char* cam_method_title(CamMethod m);  // "Grad-CAM", "HiResCAM", "Respond-CAM", "Grad Entropy-CAM", "Feature Entropy-CAM"
// Throws Error("unknown CAM method 'x' (valid: gradcam, ...)").
CamMethod parse_cam_method(const std::string& name);
// False only for Feature Entropy-CAM, whose weights and map depend on A alone (no backward pass needed).
bool cam_method_needs_gradient(CamMethod m);

constexpr float kRespondCamEps = 1e-7f;  // method.md: eps of the Respond-CAM denominator

// One image of a channels-last tensor: h x w x channels floats, element (y, x, k) at data[(y*w + x)*channels + k].
struct FeatureMapView {
    const float* data = nullptr;
    int h = 0, w = 0, channels = 0;
    int64_t spatial() const { return int64_t(h) * w; }
};

// Image `n` of a rank-4 NHWC tensor. Throws Error if the tensor is not rank 4 or n is out of range.
FeatureMapView image_view(const Tensor& t, int n);

struct CamResult {
    Heatmap raw;                  // h x w, before ReLU
    std::vector<float> weights;   // one per channel; empty for HiResCAM, which has no channel weights
};

struct CamOptions {
    EntropyOptions entropy;            // for the two entropy CAMs
    float respond_eps = kRespondCamEps;
};

// raw = sum_k w_k A^k: the weighted channel sum shared by every method except HiResCAM.
Heatmap weighted_channel_sum(const FeatureMapView& act, const std::vector<float>& weights);

// Grad-CAM (Selvaraju 2017, eq. 1): w_k = (1/Z) sum_ij G^k_ij.
CamResult grad_cam(const FeatureMapView& act, const FeatureMapView& grad);
// HiResCAM (Draelos & Carin 2020): raw = sum_k G^k (.) A^k, no spatial averaging, no weights.
CamResult hires_cam(const FeatureMapView& act, const FeatureMapView& grad);
// Respond-CAM (Zhao 2018, eq. 2): w_k = sum_ij A^k_ij G^k_ij / (sum_ij A^k_ij + eps).
CamResult respond_cam(const FeatureMapView& act, const FeatureMapView& grad, float eps = kRespondCamEps);
// Grad Entropy-CAM (seed poster, eq. 3-4): w_k = H(G^k).
CamResult grad_entropy_cam(const FeatureMapView& act, const FeatureMapView& grad, const EntropyOptions& entropy = {});
// Feature Entropy-CAM (seed poster, eq. 5): w_k = H(A^k). Independent of the gradient, hence of the class.
CamResult feat_entropy_cam(const FeatureMapView& act, const EntropyOptions& entropy = {});

// Dispatch by method. `grad` is ignored (and may be empty) for Feature Entropy-CAM; for the others it must
// have the shape of `act` (Error otherwise).
CamResult compute_cam(CamMethod m, const FeatureMapView& act, const FeatureMapView& grad, const CamOptions& options = {});

// The degeneracy of method.md: behind global average pooling plus one linear layer, G^k is constant over
// space. True when every channel k has  var_ij(G^k) <= rel_tol * mean_ij((G^k)^2)  (an all-zero channel
// counts as constant). The default 1e-6 (std below 0.1 % of the RMS) sits far above float32 rounding noise
// (relative std ~1e-7, ratio ~1e-14) and far below real spatial variation. Measured on ../shared/reference:
// the largest per-channel ratio is ~1e-30 at the pooling input, ~1 at layer2 and layer3 of every model.
constexpr double kConstantGradientRelTol = 1e-6;
bool gradient_is_spatially_constant(const FeatureMapView& grad, double rel_tol = kConstantGradientRelTol);

}  // namespace ec
