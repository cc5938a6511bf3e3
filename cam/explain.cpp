#include "cam/explain.h"

#include <algorithm>
#include <cmath>

namespace ec {

void check_class_index(int cls, int outputs, const std::string& what) {
    if (cls < 0 || cls >= outputs)
        throw Error(what + " " + std::to_string(cls) + " is out of range: the model has classes 0.." + std::to_string(outputs - 1));
}

void check_cam_target(const Graph& g, int tensor) {
    if (tensor < 0 || size_t(tensor) >= g.tensors.size()) throw Error("CAM target: no tensor id " + std::to_string(tensor));
    const TensorInfo& t = g.tensors[tensor];
    if (t.shape.rank != 4)
        throw Error("layer '" + t.name + "' has shape " + t.shape.str() + ": a CAM target must be a 4-D NHWC tensor");
    if (t.producer < 0) throw Error("layer '" + t.name + "' is the graph input, not a feature map");
    if (int64_t(t.shape.h()) * t.shape.w() < 2)
        throw Error("layer '" + t.name + "' has shape " + t.shape.str() + ": a 1x1 map has no spatial extent to explain");
}

namespace {

bool is_global_pool(const Graph& g, const Node& node) {
    if (node.op == OpKind::GlobalAvgPool) return true;
    const Shape& out = g.tensors[node.output].shape;
    return node.op == OpKind::AvgPool && out.rank == 4 && out.h() == 1 && out.w() == 1;
}

// Every method's CAM of batch row i at tensor `target` (its gradient in s.grads when need_gradient).
std::vector<CamResult> cams_at(const Session& s, int target, int i, const std::vector<CamMethod>& methods,
                               bool need_gradient, const CamOptions& cam) {
    const FeatureMapView a = image_view(s.values[size_t(target)], i);
    const FeatureMapView grad = need_gradient ? image_view(s.grads[size_t(target)], i) : FeatureMapView{};
    std::vector<CamResult> out;
    for (CamMethod m : methods) out.push_back(compute_cam(m, a, grad, cam));
    return out;
}

}  // namespace

int default_cam_target(const Graph& g, int logits) {
    std::vector<char> feeds_global_pool(g.tensors.size(), 0);
    for (const Node& node : g.nodes)
        if (is_global_pool(g, node)) feeds_global_pool[node.inputs[0]] = 1;
    // Walk back from the logits so tensors on side branches that do not reach them are never chosen.
    std::vector<char> reaches(g.tensors.size(), 0);
    reaches[logits] = 1;
    for (size_t i = g.nodes.size(); i-- > 0;)
        if (reaches[g.nodes[i].output])
            for (int t : g.nodes[i].inputs) reaches[t] = 1;
    for (size_t i = g.nodes.size(); i-- > 0;) {
        const Node& node = g.nodes[i];
        const Shape& s = g.tensors[node.output].shape;
        if ((node.op == OpKind::Relu || node.op == OpKind::Relu6) && s.rank == 4 && int64_t(s.h()) * s.w() > 1 &&
            reaches[node.output] && !feeds_global_pool[node.output])
            return node.output;
    }
    throw Error("the model has no non-negative 4-D feature map before its global pooling; name a layer with --layer");
}

ForwardPlan explain_forward_plan(const Graph& g, int logits, const ExplainOptions& options) {
    check_cam_target(g, options.target);
    std::vector<int> targets = {options.target};
    targets.insert(targets.end(), options.more_targets.begin(), options.more_targets.end());
    std::vector<int> keep = targets;
    keep.push_back(logits);
    const bool need_gradient = options.methods.empty() ||
                               std::any_of(options.methods.begin(), options.methods.end(), cam_method_needs_gradient);
    if (!need_gradient) return plan_forward(g, keep);
    BackwardRequest backward_to_targets;  // what explain_after_forward runs (its seed does not change the plan)
    backward_to_targets.from = logits;
    backward_to_targets.stop_at = targets;
    return plan_forward_for_backward(g, backward_to_targets, keep);
}

std::vector<ImageExplanation> explain(const Graph& g, Session& s, int logits, const Tensor& input,
                                      const std::vector<int>& classes, const ExplainOptions& options) {
    check_cam_target(g, options.target);
    if (int(classes.size()) != input.shape[0])
        throw Error("explain: " + std::to_string(classes.size()) + " classes given for a batch of " +
                    std::to_string(input.shape[0]));
    forward(g, s, explain_forward_plan(g, logits, options), {&input});
    return explain_after_forward(g, s, logits, classes, options);
}

std::vector<ImageExplanation> explain_after_forward(const Graph& g, Session& s, int logits,
                                                    const std::vector<int>& classes, const ExplainOptions& options) {
    check_cam_target(g, options.target);
    for (int t : options.more_targets) check_cam_target(g, t);
    std::vector<CamMethod> methods = options.methods;
    if (methods.empty()) methods.assign(std::begin(kAllCamMethods), std::end(kAllCamMethods));
    const Tensor& out = s.values[logits];
    const int n = out.shape[0];
    if (int(classes.size()) != n)
        throw Error("explain: " + std::to_string(classes.size()) + " classes given for a batch of " + std::to_string(n));
    const int k = out.shape[out.shape.rank - 1];
    std::vector<ImageExplanation> result(static_cast<size_t>(n));
    std::vector<int> cls(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        cls[i] = classes[i] < 0 ? top_k(out, i, 1)[0] : classes[i];
        check_class_index(cls[i], k);
        result[i].cls = cls[i];
        result[i].logit = out[int64_t(i) * k + cls[i]];
        result[i].prob = float(softmax_row(out, i)[size_t(cls[i])]);
        result[i].methods = methods;
    }

    const bool need_gradient = std::any_of(methods.begin(), methods.end(), cam_method_needs_gradient);
    if (need_gradient) {
        // One backward for the whole batch: row i seeds d logit[i, cls_i]; rows do not mix in a CNN.
        BackwardRequest req;
        req.from = logits;
        req.seed = one_hot_seed(out.shape, cls);
        req.stop_at = {options.target};
        req.stop_at.insert(req.stop_at.end(), options.more_targets.begin(), options.more_targets.end());
        backward(g, s, req);
    }
    for (int i = 0; i < n; ++i) {
        CamOptions cam = options.cam;
        if (options.class_scores_for) cam.class_scores = options.class_scores_for(cls[i]);
        if (need_gradient) result[i].gradient_constant = gradient_is_spatially_constant(image_view(s.grads[options.target], i));
        result[i].results = cams_at(s, options.target, i, methods, need_gradient, cam);
        for (int t : options.more_targets) result[i].more_results.push_back(cams_at(s, t, i, methods, need_gradient, cam));
    }
    return result;
}

}  // namespace ec
