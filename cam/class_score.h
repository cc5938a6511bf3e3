// The one thing cam/ needs from a network for the methods and metrics that perturb the input (Score-CAM, ROAD):
// a function that scores a batch of inputs for the explained class. cam/ never runs a graph itself; the caller
// (explain/evaluate pipeline) wraps its Session in this callback.
#pragma once
#include <functional>
#include <vector>

#include "nn/tensor.h"

namespace ec {

// Given a B x H x W x C batch (NHWC, the network's normalised input space), fills `scores` with B values: the
// softmax probability of the explained class for each row. Implementations must resize `scores` to B (a size
// mismatch is an Error at the call site) and report failures by throwing ec::Error.
using ClassScoreFn = std::function<void(const Tensor& batch, std::vector<float>& scores)>;

}  // namespace ec
