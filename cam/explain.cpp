#include "cam/explain.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "nn/parallel.h"

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

// One CAM of explain_after_forward: method `method` of batch row `row` at `target`, written to `out`.
struct CamTask {
    int row, target;
    CamMethod method;
    CamResult* out;
};

// Runs the tasks, independent of each other, spread over the threads: one CAM of a 7 x 7 x 960 map is some 50 k
// values, too short to split well by itself, and the two entropy CAMs take most of the time. A method that runs
// the network itself (Score-CAM) runs afterwards, where its forward passes get every thread. The first error in
// task order is thrown, as a serial loop would.
void run_cam_tasks(const Session& s, const std::vector<CamTask>& tasks, bool need_gradient,
                   const std::vector<CamOptions>& cam_of_row) {
    auto run = [&](const CamTask& t) {
        const FeatureMapView a = image_view(s.values[size_t(t.target)], t.row);
        const FeatureMapView grad = need_gradient ? image_view(s.grads[size_t(t.target)], t.row) : FeatureMapView{};
        *t.out = compute_cam(t.method, a, grad, cam_of_row[size_t(t.row)]);
    };
    std::vector<std::exception_ptr> errors(tasks.size());
    int64_t work = 0;
    for (const CamTask& t : tasks) work += s.values[size_t(t.target)].numel() / s.values[size_t(t.target)].shape[0];
#pragma omp parallel for schedule(dynamic, 1) if (tasks.size() > 1 && work >= kParallelMin)
    for (size_t k = 0; k < tasks.size(); ++k) {
        if (cam_method_needs_forward_passes(tasks[k].method)) continue;
        try {
            run(tasks[k]);
        } catch (...) {
            errors[k] = std::current_exception();
        }
    }
    for (size_t k = 0; k < tasks.size(); ++k) {
        if (errors[k]) std::rethrow_exception(errors[k]);
        if (cam_method_needs_forward_passes(tasks[k].method)) run(tasks[k]);
    }
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
    std::vector<CamOptions> cam_of_row(static_cast<size_t>(n), options.cam);
    std::vector<CamTask> tasks;
    for (int i = 0; i < n; ++i) {
        if (options.class_scores_for) cam_of_row[size_t(i)].class_scores = options.class_scores_for(cls[i]);
        if (need_gradient) result[i].gradient_constant = gradient_is_spatially_constant(image_view(s.grads[options.target], i));
        result[i].results.resize(methods.size());
        result[i].more_results.assign(options.more_targets.size(), std::vector<CamResult>(methods.size()));
        for (size_t m = 0; m < methods.size(); ++m) {
            tasks.push_back({i, options.target, methods[m], &result[i].results[m]});
            for (size_t t = 0; t < options.more_targets.size(); ++t)
                tasks.push_back({i, options.more_targets[t], methods[m], &result[i].more_results[t][m]});
        }
    }
    run_cam_tasks(s, tasks, need_gradient, cam_of_row);
    return result;
}

}  // namespace ec
