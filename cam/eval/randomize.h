// The model-parameter randomisation of Adebayo et al. 2018 ("Sanity Checks for Saliency Maps", section 3):
// the parameters grouped into blocks, a seeded Gaussian re-initialisation of every parameter, and copies of a
// graph in which chosen parameters read the re-initialised values. The original graph (e.g. a model mapped
// read-only from its weight file) is never written: a copy shares its structure and its untouched parameters.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/graph.h"

namespace ec {

// A group of parameters randomised together, e.g. one inverted-residual block of MobileNetV2.
struct ParamBlock {
    std::string name;         // e.g. "expanded_conv_16", "Conv_1", "Logits"
    std::vector<int> params;  // parameter ids
    int first_node = -1;      // execution index of the first node that reads one of them
};

// The blocks of a graph, by a rule that needs no knowledge of the architecture: strip the longest prefix
// ending in '/' that every parameter name shares (the model's scope, "MobilenetV2/"); the block of a
// parameter is the rest of its name up to the next '/'. A group that would hold more than half of all
// parameters is a nested scope, not a block (MobileNetV1 names its layers "MobilenetV1/MobilenetV1/Conv2d_N/..."
// but its logits "MobilenetV1/Logits/..."), so it is split by its next segment (where that segment is a scope, not a parameter's own last name), until
// no group can be split.
// MobileNetV2 (TF1) gives Logits, Conv_1, expanded_conv_16 ... expanded_conv_1, expanded_conv, Conv (20);
// the Keras MobileNetV2 top, Conv2d_18_1, expanded_conv_17 ... expanded_conv_1, Conv2d_0_0 (20);
// MobileNetV1 Logits, Conv2d_13_pointwise, Conv2d_13_depthwise, ..., Conv2d_0 (28). A block is named by the
// last segment of its key when that is unique. Parameters no node reads are left out. Order: cascade order,
// the block whose first reader runs LAST (nearest the logits) first. Throws Error when there is nothing to
// randomise.
std::vector<ParamBlock> param_blocks(const Graph& g);

// Every parameter re-drawn from a Gaussian with the mean and the (population) standard deviation of its own
// values (a constant tensor, e.g. an all-zero bias, stays constant). Values come from our own generator
// (splitmix64 seeded with `seed` mixed with the FNV-1a hash of the parameter's name, then Box-Muller), so they
// do not depend on the standard library's distributions nor on the order parameters are drawn in.
struct ReinitializedParams {
    std::vector<std::vector<float>> values;  // one per parameter id, of the parameter's size
};
std::shared_ptr<const ReinitializedParams> reinitialize_params(const Graph& g, uint64_t seed);

// A standard normal draw from splitmix64 (Box-Muller, cosine branch): u1 in (0, 1], u2 in [0, 1), 53 bits each.
double gaussian_draw(uint64_t& state);

// A copy of g in which the parameters listed in `replace` read from `values` (kept alive by the copy's
// backing, together with g's own backing); every other parameter is shared with g. g is not modified.
Graph graph_with_params(const Graph& g, const std::shared_ptr<const ReinitializedParams>& values,
                        const std::vector<int>& replace);

}  // namespace ec
