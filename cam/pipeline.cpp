#include "cam/pipeline.h"

#include <algorithm>
#include <cstring>

#include "cam/multilayer.h"
#include "cam/postprocess.h"

namespace ec {
namespace {

const Graph& graph_of(const Network& net) {
    if (!net.graph) throw Error("explain: the network view has no graph");
    return *net.graph;
}

void add_once(std::vector<ExplainWarning>& list, const ExplainWarning& w) {
    for (const ExplainWarning& seen : list)
        if (seen.kind == w.kind) return;
    list.push_back(w);
}

// N copies of a 1 x H x W x C input, one per class: the rows of one forward and one backward pass.
Tensor replicate(const Tensor& input, int copies) {
    Tensor batch(input.shape.with_batch(copies));
    for (int r = 0; r < copies; ++r)
        std::memcpy(batch.ptr() + int64_t(r) * input.numel(), input.ptr(), sizeof(float) * size_t(input.numel()));
    return batch;
}

// The forward explain_input runs for `options`.
ForwardPlan input_forward_plan(const Graph& g, int logits, const ExplainOptions& options) {
    return options.methods.empty() ? plan_forward(g, {logits}) : explain_forward_plan(g, logits, options);
}

// The classes of row 0 of the forward pass in `s` that the plan asks for.
std::vector<int> chosen_classes(const Session& s, const ExplainPlan& plan, int logits) {
    if (plan.classes.index >= 0) return {plan.classes.index};
    return top_k(s.values[size_t(logits)], 0, plan.classes.top);
}

// Score-CAM's class score (cam/class_score.h): the softmax probability of class `cls` for every row of a batch
// of masked inputs, run through `s`, a session of its own (the pipeline's keeps the target activation).
ClassScoreFn softmax_probability_of(const Graph& g, const ForwardPlan& to_logits, int logits, Session& s, int cls) {
    return [&g, &to_logits, logits, &s, cls](const Tensor& batch, std::vector<float>& scores) {
        forward(g, s, to_logits, {&batch});
        const Tensor& out = s.values[size_t(logits)];
        scores.resize(size_t(batch.shape.n()));
        for (int r = 0; r < batch.shape.n(); ++r) scores[size_t(r)] = float(softmax_row(out, r)[size_t(cls)]);
    };
}

// The titles of the planned methods whose map is the same for every class ("Feature Entropy-CAM and Eigen-CAM").
std::string class_free_titles(const std::vector<CamMethod>& methods) {
    std::string titles;
    for (CamMethod m : methods)
        if (!cam_method_depends_on_class(m)) titles += (titles.empty() ? "" : " and ") + std::string(cam_method_title(m));
    return titles;
}

// Method m's maps at every target of one row fused into one (cam/multilayer.h); the fused map has no weights.
CamResult fused(const ImageExplanation& e, size_t m) {
    std::vector<Heatmap> maps = {e.results[m].raw};
    for (const std::vector<CamResult>& layer : e.more_results) maps.push_back(layer[m].raw);
    return {fuse_layer_maps(maps), {}};
}

ExplainedMap postprocessed(CamMethod method, CamResult cam, MapSize size) {
    ExplainedMap m{method, std::move(cam), {}, {}, {}};
    m.normalized = minmax_normalize(relu_map(m.cam.raw));
    if (size.h > 0 && size.w > 0) m.upsampled = upsample_bilinear(m.normalized, size.h, size.w);
    return m;
}

}  // namespace

int output_count(const Network& net) {
    const Shape& s = graph_of(net).tensors.at(size_t(net.logits)).shape;
    return s[s.rank - 1];
}

bool operator==(const ExplainForwardKey& a, const ExplainForwardKey& b) {
    return a.target == b.target && a.more_targets == b.more_targets && a.maps == b.maps && a.gradient == b.gradient;
}

ExplainForwardKey explain_forward_key(const ExplainOptions& options) {
    const std::vector<CamMethod>& m = options.methods;
    return {options.target, options.more_targets, !m.empty(), std::any_of(m.begin(), m.end(), cam_method_needs_gradient)};
}

ExplainWarning make_warning(ExplainWarningKind kind, const std::string& layer, const std::string& class_free) {
    if (kind == ExplainWarningKind::ClassFree)
        return {kind, class_free + (class_free.find(" and ") == std::string::npos ? " does" : ": each map")
                          + " not depend on the class: it is the same map for every class"};
    return {kind, "at layer '" + layer + "' the gradient is constant over space (global pooling follows): Grad-CAM, "
                  "HiResCAM and Respond-CAM coincide and Grad Entropy-CAM degenerates; choose an earlier --layer"};
}

ExplainPlan plan_explain(const Network& net, const ExplainRequest& request) {
    const Graph& g = graph_of(net);
    ExplainPlan plan;
    plan.options.target = request.layer.empty() ? default_cam_target(g, net.logits) : g.tensor(request.layer);
    check_cam_target(g, plan.options.target);
    plan.options.methods = request.methods;
    if (plan.options.methods.empty()) plan.options.methods.assign(std::begin(kAllCamMethods), std::end(kAllCamMethods));
    plan.options.cam = request.cam;
    plan.layer = g.tensors[size_t(plan.options.target)].name;
    for (const std::string& name : request.more_layers) {
        const int t = g.tensor(name);
        check_cam_target(g, t);
        plan.options.more_targets.push_back(t);
        plan.layer += "," + name;
    }
    plan.outputs = output_count(net);
    plan.classes = request.classes;
    if (plan.classes.index >= 0) check_class_index(plan.classes.index, plan.outputs);
    else if (plan.classes.top < 1) throw Error("explain: asked for the top " + std::to_string(plan.classes.top) + " classes");
    const std::string class_free = class_free_titles(plan.options.methods);
    if (!class_free.empty()) plan.warnings.push_back(make_warning(ExplainWarningKind::ClassFree, plan.layer, class_free));
    plan.forward = input_forward_plan(g, net.logits, plan.options);
    plan.forward_for = explain_forward_key(plan.options);
    return plan;
}

InputExplanation explain_input(const Network& net, Session& s, const ExplainPlan& plan, const Tensor& input,
                               MapSize upsample_to) {
    const Graph& g = graph_of(net);
    if (input.shape.rank != 4 || input.shape.n() != 1) throw Error("explain: expects one 1 x H x W x C input, got " + input.shape.str());
    const int copies = plan.classes.index >= 0 ? 1 : std::min(plan.classes.top, plan.outputs);
    Tensor copies_of_input;  // top-N: a batch of N copies; one class reads `input` itself
    if (copies > 1) copies_of_input = replicate(input, copies);
    const Tensor& batch = copies > 1 ? copies_of_input : input;
    // Only the values the maps and their backward read survive the forward pass (nn/forward_plan.h).
    const bool planned = plan.forward_for == explain_forward_key(plan.options) && !plan.forward.nodes.empty();
    forward(g, s, planned ? plan.forward : input_forward_plan(g, net.logits, plan.options), {&batch});
    const std::vector<int> classes = chosen_classes(s, plan, net.logits);

    InputExplanation out;
    out.warnings = plan.warnings;
    const Tensor& logits = s.values[size_t(net.logits)];
    for (size_t r = 0; r < classes.size(); ++r) {  // the scores, also when no map is asked (evaluate's baselines)
        check_class_index(classes[r], plan.outputs);
        ClassExplanation c;
        c.cls = classes[r];
        c.logit = logits[int64_t(r) * plan.outputs + c.cls];
        c.prob = softmax_row(logits, int(r))[size_t(c.cls)];
        out.classes.push_back(std::move(c));
    }
    if (plan.options.methods.empty()) return out;

    ExplainOptions options = plan.options;
    Session scores;  // Score-CAM's masked batches (its own forward passes)
    ForwardPlan to_logits;
    if (std::any_of(options.methods.begin(), options.methods.end(), cam_method_needs_forward_passes)) {
        options.cam.input = &input;
        to_logits = plan_forward(g, {net.logits});
        options.class_scores_for = [&g, &net, &scores, &to_logits](int cls) {
            return softmax_probability_of(g, to_logits, net.logits, scores, cls);
        };
    }
    std::vector<ImageExplanation> raw = explain_after_forward(g, s, net.logits, classes, options);
    for (size_t r = 0; r < raw.size(); ++r) {
        ClassExplanation& c = out.classes[r];
        c.gradient_constant = raw[r].gradient_constant;
        const ExplainWarning constant = make_warning(ExplainWarningKind::GradientConstant, plan.layer);
        if (c.gradient_constant) add_once(out.warnings, constant);
        for (size_t m = 0; m < raw[r].methods.size(); ++m) {
            const CamMethod method = raw[r].methods[m];
            if (!raw[r].more_results.empty()) raw[r].results[m] = fused(raw[r], m);
            c.maps.push_back(postprocessed(method, std::move(raw[r].results[m]), upsample_to));
            if (!cam_method_depends_on_class(method))
                c.maps.back().warnings.push_back(make_warning(ExplainWarningKind::ClassFree, plan.layer, cam_method_title(method)));
            else if (c.gradient_constant && cam_method_needs_gradient(method))
                c.maps.back().warnings.push_back(constant);
        }
    }
    return out;
}

std::vector<Prediction> classify_input(const Network& net, Session& s, const Tensor& input, int k) {
    if (k < 0) throw Error("classify: asked for " + std::to_string(k) + " classes");
    forward_until(graph_of(net), s, {&input}, net.logits);
    const Tensor& logits = s.values[size_t(net.logits)];
    const std::vector<double> prob = softmax_row(logits, 0);
    std::vector<Prediction> out;
    for (int i : top_k(logits, 0, k)) out.push_back({i, logits[i], prob[size_t(i)]});
    return out;
}

}  // namespace ec
