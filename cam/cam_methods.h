// Every CAM method (method.md), as functions of the target activation A and its gradient G = dy^c/dA for one
// image: the five of the seed poster (this file's .cpp), the published gradient methods and our entropy variants
// (cam/methods_gradient.cpp), and the methods that use the activations alone or the network's forward pass
// (cam/methods_activation.cpp). Each returns the RAW map (H x W at the activation's resolution, before any
// ReLU) and the channel weights; ReLU, normalisation and upsampling are separate steps (cam/postprocess.h).
// This file knows nothing of networks or files: it works on plain float arrays; Score-CAM reaches the network
// only through a ClassScoreFn (cam/class_score.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cam/class_score.h"
#include "cam/entropy.h"
#include "cam/heatmap.h"
#include "nn/tensor.h"

namespace ec {

enum class CamMethod {
    // The seed poster's five.
    GradCam, HiResCam, RespondCam, GradEntropyCam, FeatEntropyCam,
    // Published methods beyond the poster (issue 12).
    GradCamPlusPlus, XGradCam, LayerCam, EigenCam, ScoreCam,
    // Ours (issue 12): entropy weights that keep the gradient's sign or magnitude, which H(G^k) discards.
    SignedGradEntropyCam, PosGradEntropyCam,
};

// The poster's five in its column order (Figure 1): what every command runs without --methods.
constexpr CamMethod kAllCamMethods[] = {CamMethod::GradCam, CamMethod::HiResCam, CamMethod::RespondCam,
                                        CamMethod::GradEntropyCam, CamMethod::FeatEntropyCam};
// Every method this library implements, the poster's five first: what `--methods all` means in every command.
constexpr CamMethod kEveryCamMethod[] = {
    CamMethod::GradCam,         CamMethod::HiResCam, CamMethod::RespondCam, CamMethod::GradEntropyCam,
    CamMethod::FeatEntropyCam,  CamMethod::GradCamPlusPlus, CamMethod::XGradCam, CamMethod::LayerCam,
    CamMethod::EigenCam,        CamMethod::ScoreCam, CamMethod::SignedGradEntropyCam, CamMethod::PosGradEntropyCam};

// "gradcam", "hirescam", "respondcam", "gradentropycam", "featentropycam", "gradcampp", "xgradcam", "layercam",
// "eigencam", "scorecam", "signedgradentropycam", "posgradentropycam".
const char* cam_method_name(CamMethod m);
// "Grad-CAM", ..., "Grad-CAM++", "XGrad-CAM", "LayerCAM", "Eigen-CAM", "Score-CAM",
// "Signed Grad Entropy-CAM", "Pos-Grad Entropy-CAM".
const char* cam_method_title(CamMethod m);
// Where the method comes from: the paper ("Selvaraju et al. 2017"), "seed poster" or "ours (issue 12)".
const char* cam_method_source(CamMethod m);
// Any name of kEveryCamMethod. Throws Error("unknown CAM method 'x' (valid: gradcam, ...)").
CamMethod parse_cam_method(const std::string& name);
// False for the methods whose map depends on A alone or on forward passes only (Feature Entropy-CAM,
// Eigen-CAM, Score-CAM): no backward pass needed for them.
bool cam_method_needs_gradient(CamMethod m);
// True only for Score-CAM, which runs the network on masked copies of the input (CamOptions::input and
// CamOptions::class_scores must be set).
bool cam_method_needs_forward_passes(CamMethod m);
// False for Feature Entropy-CAM and Eigen-CAM: the same map for every class.
bool cam_method_depends_on_class(CamMethod m);

constexpr float kRespondCamEps = 1e-7f;  // method.md: eps of the Respond-CAM denominator
// Grad-CAM++ and XGrad-CAM: the value a denominator takes where it is exactly 0 (and only there).
constexpr double kZeroDenominatorEps = 1e-7;

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
    std::vector<float> weights;   // one per channel; empty for HiResCAM and LayerCAM, which have no channel weights
};

constexpr int kDefaultScoreCamBatch = 16;

// Score-CAM (Wang et al. 2020) options. The default is the authors' published code (haofanwang/Score-CAM):
// weight = softmax probability of the class on the masked input, no baseline subtracted. With
// subtract_baseline the weight is the paper's Channel-wise Increase of Confidence, C(A^k) = f(X (.) H^k) - f(X_b),
// with X_b the all-zero input (mid-grey in normalised input space).
struct ScoreCamOptions {
    int batch = kDefaultScoreCamBatch;  // masked inputs per call of the class-score function
    bool subtract_baseline = false;
};

struct CamOptions {
    EntropyOptions entropy;            // for the entropy CAMs
    float respond_eps = kRespondCamEps;
    // Score-CAM only: the network input (1 x H x W x C, normalised) and the class-score function.
    const Tensor* input = nullptr;
    ClassScoreFn class_scores;
    ScoreCamOptions score_cam;
};

// raw = sum_k w_k A^k: the weighted channel sum shared by most methods.
Heatmap weighted_channel_sum(const FeatureMapView& act, const std::vector<float>& weights);

// sum_k a[k] b[k] in double, as 32 partial sums (k mod 32) added pairwise at the end: one fixed order on every
// machine and thread count that vectorises, where a single running sum is a chain of n dependent additions
// (960 per position at the default CAM layer). 32, not 8: eight sums were two chains of 4-double FMAs, bound by
// their latency (dot_double was 7.6 % of explain's work after the forward, perf, 1 thread, AVX-512 Xeon). The
// per-position sum of weighted_channel_sum and HiResCAM.
double dot_double(const float* a, const float* b, int64_t n);

// ---- The seed poster's five (cam/cam_methods.cpp) ----

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

// ---- Published gradient methods and our entropy variants (cam/methods_gradient.cpp) ----

// Grad-CAM++ (Chattopadhay et al. 2018, eq. 19) in the closed form of the common implementations, which take
// the score as exp(logit) so that the 2nd and 3rd derivatives are powers of g = G^k_ij:
//   alpha_ij = g^2 / (2 g^2 + (sum_ab A^k_ab) g^3),  w_k = sum_ij alpha_ij ReLU(g_ij).
// A denominator that is exactly 0 is replaced by kZeroDenominatorEps (no eps elsewhere).
CamResult grad_cam_plus_plus(const FeatureMapView& act, const FeatureMapView& grad);
// XGrad-CAM (Fu et al. 2020): w_k = sum_ij (A^k_ij / sum_ab A^k_ab) G^k_ij (a zero sum_ab A^k_ab is
// replaced by kZeroDenominatorEps). Note: this is Respond-CAM's weight without its eps.
CamResult xgrad_cam(const FeatureMapView& act, const FeatureMapView& grad);
// LayerCAM (Jiang et al. 2021): raw_ij = sum_k ReLU(G^k_ij) A^k_ij, no channel weights.
CamResult layer_cam(const FeatureMapView& act, const FeatureMapView& grad);
// Ours: Signed Grad Entropy-CAM, w_k = sign(mean_ij G^k_ij) * H(G^k) (sign(0) = 0). H discards the gradient's
// sign; this keeps whether channel k raises (+) or lowers (-) the class score on average.
CamResult signed_grad_entropy_cam(const FeatureMapView& act, const FeatureMapView& grad, const EntropyOptions& entropy = {});
// Ours: Pos-Grad Entropy-CAM, w_k = H(G^k) * mean_ij ReLU(G^k_ij). H is scale-free; this keeps the size of
// the positive evidence, so a channel with a tiny gradient no longer weighs as much as the decisive one.
CamResult pos_grad_entropy_cam(const FeatureMapView& act, const FeatureMapView& grad, const EntropyOptions& entropy = {});

// ---- Activation-only and forward-pass methods (cam/methods_activation.cpp) ----

// Eigen-CAM (Muhammad & Yeasin 2020): X = the Z x K matrix of A (positions x channels) with each channel's
// mean subtracted; v = its first principal axis (the top right-singular vector, from the smaller Gram matrix
// in double with Eigen's self-adjoint eigensolver); raw = X v. Sign: raw correlates positively with the
// channel-mean map mean_k A^k (ties: its largest |value| is positive), so it never flips between runs or
// under a channel permutation. weights = v (so raw = sum_k v_k (A^k - mean A^k), not weighted_channel_sum).
// A rank-0 X (every channel constant) gives an all-zero map.
CamResult eigen_cam(const FeatureMapView& act);
// Score-CAM (Wang et al. 2020): for every channel k, H^k = min-max normalised bilinear upsampling of A^k to
// the input's H x W; the masked input X (.) H^k (every channel of X times H^k) is scored by class_scores in
// batches of options.batch; w_k = that score (minus the score of the all-zero input with subtract_baseline);
// raw = sum_k w_k A^k. A constant channel (max == min) has no mask and gets w_k = 0 without a forward pass, as
// in the authors' code. `input` must be 1 x H x W x C. Error on a bad shape or a score count that is not B.
CamResult score_cam(const FeatureMapView& act, const Tensor& input, const ClassScoreFn& class_scores,
                    const ScoreCamOptions& options = {});

// Dispatch by method. `grad` is ignored (and may be empty) for the methods that do not need it; for the others
// it must have the shape of `act` (Error otherwise). Score-CAM needs options.input and options.class_scores
// (Error otherwise).
CamResult compute_cam(CamMethod m, const FeatureMapView& act, const FeatureMapView& grad, const CamOptions& options = {});

// The degeneracy of method.md: behind global average pooling plus one linear layer, G^k is constant over
// space. True when every channel k has  var_ij(G^k) <= rel_tol * mean_ij((G^k)^2)  (an all-zero channel
// counts as constant). The default 1e-6 (std below 0.1 % of the RMS) sits far above float32 rounding noise
// (relative std ~1e-7, ratio ~1e-14) and far below real spatial variation. Measured on ../shared/reference:
// the largest per-channel ratio is ~1e-30 at the pooling input, ~1 at layer2 and layer3 of every model.
constexpr double kConstantGradientRelTol = 1e-6;
bool gradient_is_spatially_constant(const FeatureMapView& grad, double rel_tol = kConstantGradientRelTol);

// Shared argument checks of the method files (Error naming the method and both shapes).
void require_valid_activation(const char* method, const FeatureMapView& act);
void require_same_shape(const char* method, const FeatureMapView& act, const FeatureMapView& grad);

}  // namespace ec
