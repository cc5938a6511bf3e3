// The one explain pipeline every caller uses (CLI explain, evaluate and classify, the public API api/, later
// reports and sanity checks): a request is checked against the network once (plan_explain: target layer,
// methods, class range), then each input costs ONE forward and ONE backward pass for any number of classes
// (explain_input), and every map comes out post-processed one way: raw, ReLU'd + min-max normalised at the
// layer's resolution, and that upsampled to a size the caller names. Warnings are data; callers print them.
// The layer below, explain() in cam/explain.h, stays callable for batches the caller builds itself.
// cam/ does not know weights/: a Network is a view that api/network.h makes from a loaded model.
#pragma once
#include <string>
#include <vector>

#include "cam/explain.h"
#include "cam/heatmap.h"
#include "nn/preprocessing.h"

namespace ec {

// What the pipeline needs of a model. The graph must outlive the view.
struct Network {
    const Graph* graph = nullptr;  // one input: the preprocessed image, 1 x H x W x C
    int logits = -1;               // tensor id of the pre-softmax scores [N, K]
    Preprocessing preprocessing;   // the input size: "the input's size" of the upsampled maps
};
// K, the number of outputs of the logits tensor.
int output_count(const Network& net);

// Which classes of each input to explain.
struct ClassChoice {
    int index = -1;  // >= 0: this output index (checked against the model's range)
    int top = 1;     // with index < 0: the `top` best classes of the input, best first (1 = its top-1 class)
};

struct ExplainRequest {
    std::string layer;               // target tensor name; empty = default_cam_target
    // Multi-layer CAMs (`--layer A,B`): further target names; each method's maps at `layer` and at these are
    // fused into one (fuse_layer_maps, cam/multilayer.h; the fused map has no channel weights).
    std::vector<std::string> more_layers;
    std::vector<CamMethod> methods;  // empty = the poster's five (kAllCamMethods), in its order
    CamOptions cam;
    ClassChoice classes;
};

enum class ExplainWarningKind {
    ClassFree,         // Feature Entropy-CAM and Eigen-CAM do not depend on the class
    GradientConstant,  // the gradient is constant over space at this layer (global pooling follows)
};
struct ExplainWarning {
    ExplainWarningKind kind;
    std::string message;  // one line, no program name; what the CLI prints and writes into its JSON
};
// class_free: the titles of the class-free methods asked ("Feature Entropy-CAM", "Feature Entropy-CAM and Eigen-CAM").
ExplainWarning make_warning(ExplainWarningKind kind, const std::string& layer,
                             const std::string& class_free = "Feature Entropy-CAM");

// What a forward plan for explain_input was made for: the targets, whether maps (and of them, gradient ones) are
// asked. Two requests with the same key run the same forward.
struct ExplainForwardKey {
    int target = -1;
    std::vector<int> more_targets;
    bool maps = false, gradient = false;
};
bool operator==(const ExplainForwardKey& a, const ExplainForwardKey& b);
ExplainForwardKey explain_forward_key(const ExplainOptions& options);

// A request checked against a network: what explain_input runs.
struct ExplainPlan {
    ExplainOptions options;  // target tensor id, the methods (empty here = no maps, only the classes), cam options
    std::string layer;       // the target's name (with more_layers: every name, comma-separated)
    ClassChoice classes;
    int outputs = 0;         // K
    std::vector<ExplainWarning> warnings;  // known before any input: ClassFree when Feature Entropy-CAM is asked
    // The forward explain_input runs (explain_forward_plan; to the logits alone without maps), planned once here
    // instead of per input (40 us of a 6-12 ms explain on MobileNetV2). `forward_for` is what it was planned for: a
    // copy of the plan whose targets or methods changed since (evaluate's resumed CAMs) plans its own forward.
    ForwardPlan forward;
    ExplainForwardKey forward_for;
};
// Throws Error for an unknown layer, a tensor that is not a CAM target, a class out of range or top < 1.
ExplainPlan plan_explain(const Network& net, const ExplainRequest& request);

struct MapSize {
    int h = 0, w = 0;  // 0 x 0: no upsampled maps
};

struct ExplainedMap {
    CamMethod method;
    CamResult cam;         // the raw map at the layer's resolution (before ReLU) and the channel weights
    Heatmap normalized;    // minmax_normalize(relu_map(raw)): values in [0, 1], at the layer's resolution
    Heatmap upsampled;     // `normalized` upsampled (bilinear) to the MapSize asked; empty when none was asked
    std::vector<ExplainWarning> warnings;  // what makes this map questionable
};

struct ClassExplanation {
    int cls = -1;
    float logit = 0;                 // the explained (pre-softmax) score
    double prob = 0;                 // its softmax probability (nn/softmax.h softmax_row)
    bool gradient_constant = false;  // at this layer, for this class (see cam_methods.h)
    std::vector<ExplainedMap> maps;  // one per planned method, in the plan's order
};

struct InputExplanation {
    std::vector<ClassExplanation> classes;  // one per class asked, best first for a top-N choice
    std::vector<ExplainWarning> warnings;   // the plan's and this input's, each kind once
};

// Explains one 1 x H x W x C input: one forward pass (on a batch of as many copies as classes: row r explains
// class r) and, when a method needs the gradient, one backward pass. Maps are upsampled to `upsample_to`.
InputExplanation explain_input(const Network& net, Session& s, const ExplainPlan& plan, const Tensor& input,
                               MapSize upsample_to = {});

struct Prediction {
    int index = -1;
    float logit = 0;
    double prob = 0;
};
// The k most probable classes of one input, best first (one forward pass to the logits). k is clamped to K;
// Error for k < 0.
std::vector<Prediction> classify_input(const Network& net, Session& s, const Tensor& input, int k);

}  // namespace ec
