// `entropycam report --walkthrough`: one image explained step by step, for a student who knows what a
// convolution is and nothing about CAMs. One self-contained page (every picture an inline PNG data URI):
// the preprocessed input, the network's layers with shapes, the target layer's activations as a channel
// atlas, the gradient there, then per method its channel weights (SVG bars; beside them the entropies of
// each channel's gradient and activation, cam/entropy.h), the weighted sum, ReLU, normalisation and
// upsampling as pictures, with the formula of every step (../shared/docs/method.md).
// It runs the one explain pipeline (cam/pipeline.h) and reads the target's activation and gradient from the
// Session that pass leaves behind; it computes nothing the pipeline does not, except the entropies it shows.
#pragma once
#include <string>
#include <vector>

#include "cam/pipeline.h"
#include "io/image.h"

namespace ec {

constexpr int kAtlasChannels = 16;  // the strongest channels shown in the atlas

// The page's HTML. `labels` names the classes (may be empty); `plan` is plan_explain's (its class choice is
// used for the explained class: the top-1 unless it names one).
std::string walkthrough_page(const Network& net, const std::vector<std::string>& labels, const ExplainPlan& plan,
                             const LoadedInput& input, const std::string& input_name, const std::string& model_name);

// Each pixel of `image` as a factor x factor block (small maps stay readable when shown large).
ImageU8 enlarge_nearest(const ImageU8& image, int factor);

}  // namespace ec
