// Band-fused blocks (internal to nn/; planned by nn/forward_plan.h, run by the graph runner): MobileNetV2's
// inverted residual block (1x1 expand + ReLU6 -> 3x3 depthwise + ReLU6 -> 1x1 project [-> + the block's input])
// and MobileNetV1's pair (3x3 depthwise + ReLU6 -> 1x1 + ReLU6) run a few output rows at a time instead of layer
// after layer. Layer after layer, the expanded tensor (112 x 112 x 96 floats = 4.8 MB in MobileNetV2's second
// block) is written to memory by the expand convolution and read back by the depthwise one: measured in the
// model, that depthwise layer took 0.75 ms against 0.24 ms on cache-resident data. Here each thread keeps a ring
// of the expanded rows its band needs (computed once each, the rows shared by two bands kept) and one band of the
// depthwise output, together under kBandCacheBytes (the L2 cache), and projects each band straight into the
// block's output. Every value is computed by the same kernels in the same order as layer by layer (GEMM rows are
// independent, the depthwise kernel sums each output in one order), so the results are the same bit for bit.
// Threads take strips of output rows (no barrier between the block's layers).
#pragma once
#include <cstdint>
#include <vector>

#include "nn/graph.h"

namespace ec {

constexpr int64_t kBandCacheBytes = int64_t(192) << 10;
// Every band reads the block's weights again: a block forms only where the depthwise input (per image) is this
// many times its weights. MobileNetV2's first six blocks (0.6-4.8 MB of activations, 4-50 KB of weights) gain;
// its last ones (7 x 7 x 960 = 188 KB against 1.2 MB of weights) measured slower banded.
constexpr int64_t kBandMinActivationPerWeight = 8;

struct BandBlock {
    int expand = -1, expand_act = -1;        // 1x1 convolution and its folded ReLU/ReLU6 (node ids), or -1
    int depthwise = -1, depthwise_act = -1;  // 3x3 depthwise convolution and its folded ReLU/ReLU6
    int project = -1, project_act = -1;      // 1x1 convolution and its folded activation (-1: linear)
    int add = -1;                            // the residual Add of the projection and the block's input, or -1
    int input = -1, output = -1;             // tensor ids: the value the block reads, the one value it writes
    // Inner activations whose gate masks the plan records (nn/gate_mask.h; a backward follows): the block writes
    // the masks of its rows as it computes them. Tensor ids, or -1.
    int expand_mask = -1, depthwise_mask = -1;
    int steps = 0;                           // plan steps (ForwardPlan::nodes entries) the block covers
    int band_rows = 1;                       // depthwise output rows per band
    int ring_rows = 0;                       // expanded rows a thread keeps (0 without an expansion)
    int64_t scratch_floats = 0;              // per thread: the ring and one band of depthwise output
};

// What a plan keeps of a tensor, for find_band_blocks: nothing, its value, or only its gate mask.
constexpr char kKeepsValue = 1, kKeepsMask = 2;

// The blocks among a plan's steps (nodes / fused as in ForwardPlan): block_at[k] = the index in `blocks` of the
// block that starts at step k, or -1. A block forms where every inner value is read by the next step alone and
// kept by no one (`kept` as above: an inner activation whose gate mask alone is kept does not split a block), the
// convolutions have the shapes above (1x1 stride 1; 3x3 depthwise the SIMD kernel handles),
// ReLU/ReLU6 follow the expand and depthwise convolutions, and the activations outweigh the weights
// (kBandMinActivationPerWeight); nothing forms on builds without SIMD kernels.
// min_activation_per_weight and cache_bytes: the thresholds above (tests set 0 and a few bytes to form blocks of
// one-row bands on small graphs).
void find_band_blocks(const Graph& g, const std::vector<int>& nodes, const std::vector<int>& fused,
                      const std::vector<char>& kept, std::vector<BandBlock>& blocks, std::vector<int>& block_at,
                      int64_t min_activation_per_weight = kBandMinActivationPerWeight,
                      int64_t cache_bytes = kBandCacheBytes);

// Runs block b on the session's batch: reads s.values[b.input], writes s.values[b.output] (acquired by the
// caller) and the inner masks (s.gate_masks, sized by the caller); thread scratch from s.band_scratch (grown on
// first use only).
void band_block_forward(const Graph& g, Session& s, const BandBlock& b);

// The same blocks' input gradient (a backward to the input: explain's ``input'' layer, saliency, attacks). Layer
// by layer, the backward writes the gradient of the expanded activation (4.8 MB in MobileNetV2's second block)
// from the depthwise layer and reads it back in the expand layer, with the gate masks of both ReLU6: measured in
// the model, that depthwise input gradient took 1.0-1.3 ms against 0.3 on cache-resident data. Mirroring the
// forward, each thread takes a strip of the expanded rows and runs it in bands: a ring of the depthwise output's
// gradient rows (the project layer's input gradient, gated by the depthwise ReLU6 mask; rows two bands share kept),
// the band's expanded-row gradients (the depthwise input gradient, gated by the expand ReLU6 mask), and their
// product with the expand filter straight into the block input's gradient. A depthwise convolution whose input is
// the activation of anything but such an expansion (MobileNetV2's first block, after the 3x3 stem; MobileNetV1's
// pairs) bands the same way without the product: the gated depthwise input gradient rows are the result, written
// straight into the gradient of that activation's input (measured layer by layer in MobileNetV2's first block: the
// project and depthwise input gradients took 0.35 + 0.41 ms, the forward of the banded block 0.51). The same
// kernels on the same rows in the same order as layer by layer: the same values bit for bit.
struct BandBlockBackward {
    // node ids: the 1x1 convolution (-1: none, see above) and the ReLU/ReLU6 after it (folded into the depthwise
    // convolution's backward; its input's gradient is the block's result without an expansion)
    int expand = -1, expand_act = -1;
    int depthwise = -1, depthwise_act = -1;  // 3x3 depthwise convolution and its ReLU/ReLU6
    int project = -1;                        // 1x1 convolution (its input is depthwise_act's output)
    int band_rows = 1;                       // expanded rows per band
    int ring_rows = 0;                       // depthwise output gradient rows a thread keeps
    int64_t scratch_floats = 0;              // per thread: the ring and one band of expanded-row gradients
};

// The block whose backward starts at node `project` (a backward's step order: project, depthwise, expand), if
// the backward folds depthwise_act into the project's input gradient and expand_act into the depthwise one
// (fused_activation[conv] = the folded activation's node, or -1), the forward recorded both gate masks, the shapes
// are those of find_band_blocks (and its activation-per-weight rule) and nothing else reads the inner
// activations. expand is the convolution expand_act reads if that is 1x1 and has no activation folded into its
// own backward (its input gradient is formed), else -1. The caller keeps the inner gradients unformed and wants no
// parameter gradient.
bool find_band_block_backward(const Graph& g, const Session& s, int project, const std::vector<int>& fused_activation,
                              BandBlockBackward& b, int64_t min_activation_per_weight = kBandMinActivationPerWeight,
                              int64_t cache_bytes = kBandCacheBytes);

// d(block input) = (accumulate ? d(block input) : 0) + the block's input gradient from d(project output) in
// s.grads (without an expansion: d(expand_act's input), overwritten; accumulate throws); thread scratch from
// s.band_scratch (grown on first use only).
void band_block_backward(const Graph& g, Session& s, const BandBlockBackward& b, bool accumulate);

}  // namespace ec
