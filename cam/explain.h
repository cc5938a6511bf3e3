// The explain pipeline on a graph: ONE forward pass, ONE backward pass from the explained logit down to the
// target tensor (skipped when only Feature Entropy-CAM is asked for), then every requested CAM method on the
// target activation and its gradient. Works on a batch: row n explains class classes[n].
// Returns raw maps; ReLU, normalisation, upsampling and rendering are the caller's separate steps.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "cam/cam_methods.h"
#include "nn/forward_plan.h"
#include "nn/graph.h"
#include "nn/softmax.h"  // softmax_row, top_k: formerly declared here

namespace ec {

struct ExplainOptions {
    int target = -1;                  // tensor id of the CAM target: any 4-D tensor of the graph
    std::vector<CamMethod> methods;   // empty = all five, in the poster's order
    CamOptions cam;
    // Score-CAM, whose score is of the class a row explains: the class-score function for class `cls` (the
    // caller wraps its network; with cam.input, what compute_cam needs). Unset: cam.class_scores for every row.
    std::function<ClassScoreFn(int cls)> class_scores_for;
    // Multi-layer CAMs (cam/multilayer.h): further targets whose gradients come from the same backward pass
    // (stop_at every target); their maps are in ImageExplanation::more_results.
    std::vector<int> more_targets;
};

struct ImageExplanation {
    int cls = -1;        // the explained output index
    float logit = 0;     // its pre-softmax logit (the score whose gradient the CAMs use)
    float prob = 0;      // its softmax probability
    std::vector<CamMethod> methods;
    std::vector<CamResult> results;      // one per method, same order
    std::vector<std::vector<CamResult>> more_results;  // per ExplainOptions::more_targets: one per method
    bool gradient_constant = false;      // the degeneracy of method.md at this target (see cam_methods.h)
};

// classes[n] is the output index to explain for batch row n; -1 means the row's top-1 class. Throws Error for
// a class out of range or a target that is not 4-D.
std::vector<ImageExplanation> explain(const Graph& g, Session& s, int logits, const Tensor& input,
                                      const std::vector<int>& classes, const ExplainOptions& options);

// The forward run explain needs (explain() runs it): it keeps the logits, the targets and, when a method needs
// the gradient, the values the backward to the targets reads; every other value is released after its last use.
ForwardPlan explain_forward_plan(const Graph& g, int logits, const ExplainOptions& options);

// The same after the caller ran forward(g, s, {&input}) (or with explain_forward_plan) itself (the pipeline, cam/pipeline.h, picks the classes
// of a top-N request from that one forward pass): class resolution, one backward, the CAMs.
std::vector<ImageExplanation> explain_after_forward(const Graph& g, Session& s, int logits,
                                                    const std::vector<int>& classes, const ExplainOptions& options);

// The one class-range check: throws Error("<what> K is out of range: the model has classes 0..N-1") unless
// 0 <= cls < outputs. `what` names the class as the caller's user wrote it ("class", "--class").
void check_class_index(int cls, int outputs, const std::string& what = "class");

// Throws Error naming the tensor and its shape unless it is a 4-D feature map with more than one position.
void check_cam_target(const Graph& g, int tensor);

// The default CAM target of a classifier, by a rule that needs no data: the LAST tensor that is
//  - 4-D with H*W > 1 and produced by Relu or Relu6 (non-negative, like the conv outputs CAMs were made for),
//  - and not consumed by a global pooling (GlobalAvgPool, or an AvgPool whose output is 1x1), where the
//    gradient would be constant over space and the methods would coincide (method.md, degeneracies).
// Throws Error when the graph has no such tensor.
int default_cam_target(const Graph& g, int logits);

}  // namespace ec
