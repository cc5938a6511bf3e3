// Forward runs that keep only what their caller needs (style.md 12, "plan memory once"). A ForwardPlan, made
// once from the graph and the tensors the caller wants afterwards, lists the nodes to run and, after each, the
// values no later node of the run reads: their buffers go back to the Session's spare buffers, where the next
// value that fits takes them. A batch-16 forward of MobileNetV2 to its logits then holds a few layers'
// activations at a time instead of all of them.
//
// Buffers are recycled across runs too: a run first returns every value the session holds, then takes from
// the spare list the oldest buffer that fits (first fit by order of creation), so a run repeats its first
// execution's choices exactly, even with other runs (another plan, another batch size) in between: the same
// buffers serve the same tensors and nothing is allocated after the first time. (A buffer that serves a smaller
// value and then a larger one is zero-filled up to the larger size by std::vector: a memset, no allocation.)
// What backward needs is the caller's to keep: plan_forward_for_backward plans exactly that (values, and byte
// gate masks for the activations it reads only as gates), and backward() throws, naming the tensor, when a value
// it reads was not kept.
#pragma once
#include <vector>

#include "nn/band_block.h"
#include "nn/gate_mask.h"
#include "nn/graph.h"

namespace ec {

struct ForwardPlan {
    std::vector<int> nodes;  // node indices, in execution order: the ancestors of the kept tensors
    // fused[k] >= 0: nodes[k] is a Conv2D whose one reader, the Relu/Relu6 node fused[k], is folded into it: the
    // convolution writes the clamped values straight into that node's output (conv2d_forward_clamped, the
    // same values as the two passes, bit for bit) and its own output, unkept and read by nothing else, never
    // exists. -1 otherwise.
    std::vector<int> fused;
    // Band-fused blocks (nn/band_block.h): block_at[k] >= 0 means steps k .. k + steps - 1 run as
    // blocks[block_at[k]], a few output rows at a time; -1 otherwise. Only where activations fuse.
    std::vector<BandBlock> blocks;
    std::vector<int> block_at;
    // The tensors whose values die after step i, i = 0 before the first node (graph inputs nobody reads),
    // i = k + 1 after nodes[k]: release[release_start[i] .. release_start[i + 1]).
    std::vector<int> release;
    std::vector<int> release_start;
    size_t tensor_count = 0;  // of the graph it was made for; run against another size is an Error
    std::vector<int> keep;    // the tensors that hold values after the run
    // Gate masks (nn/gate_mask.h) the run records: of ReLU/ReLU6 outputs masks[i], made right after step
    // mask_step[i] from the value, which then dies like any other unkept value. A plan with masks runs its
    // batch whole (images_per_run = 0).
    std::vector<int> masks, mask_step;
    // A batch larger than this runs as chunks of this many images, each through every node, so that the
    // activations of a chunk stay in cache (a batch-16 MobileNetV2 forward streamed 77 MB tensors through memory
    // and ran 1.6x slower per image than batch 1); with at least two chunks per OpenMP thread, the threads take
    // whole chunks (one session each) instead of sharing every kernel. 0: the whole batch at once. Every op treats
    // the images of a batch independently and every kernel sums each value in an order that does not depend on
    // the batch size, so a chunked run gives the same values, bit for bit. plan_forward sets it from the plan's
    // peak of live activations per image (images_per_run_in_cache); callers may change it.
    int images_per_run = 0;
};

// How many images of the plan fit kRunCacheBytes of live activations (at least 1): the plan's largest sum of
// values alive at once, per image.
constexpr int64_t kRunCacheBytes = int64_t(4) << 20;
int images_per_run_in_cache(const Graph& g, const ForwardPlan& plan);

// Plans a forward run after which exactly the tensors in `keep` (and nothing else) hold values, with every
// convolution + ReLU/ReLU6 pair fused whose pre-activation tensor is neither kept nor read by another node
// (fuse_activations = false: none, for comparing), and the gate masks of the ReLU/ReLU6 outputs in `masks` in
// s.gate_masks. Error for an id outside the graph, or a mask of another op's output.
ForwardPlan plan_forward(const Graph& g, const std::vector<int>& keep, bool fuse_activations = true,
                         const std::vector<int>& masks = {});

// The tensors whose values backward(from, stop_at) reads: `from` and, for every node it runs, the values its
// op's backward reads (OpDef::backward_reads: a convolution its input, not its output; ReLU/ReLU6 their
// output, not their input; Add, BiasAdd, Pad, Reshape and average pooling nothing; other ops, conservatively,
// both). Kept, they let any backward from `from` to stop_at follow the forward run, with parameter gradients too:
// a convolution + ReLU/ReLU6 pair still fuses, its pre-activation tensor never existing. stop_at empty = the graph
// inputs, as in BackwardRequest. plan_forward_for_backward keeps less for a given request.
std::vector<int> backward_reads(const Graph& g, int from, const std::vector<int>& stop_at);

// What backward(req) reads of the forward, exactly: `values` (kept as floats) and `masks` (ReLU/ReLU6 outputs it
// reads only as gradient gates: their gate masks do). A convolution's input gradient reads neither its input nor
// its output, so without param_grads only the activations' gates, the ops other than convolutions and `from`
// remain (MobileNetV2's input gradient: 35 gate masks, 6 MB, instead of 25 MB of kept floats).
struct BackwardNeeds {
    std::vector<int> values, masks;
};
BackwardNeeds backward_needs(const Graph& g, const BackwardRequest& req);

// The forward plan that backward(req) can follow, keeping also_keep's values too (say, a CAM target and the
// logits): plan_forward(g, needs.values + also_keep, true, needs.masks minus also_keep).
ForwardPlan plan_forward_for_backward(const Graph& g, const BackwardRequest& req, const std::vector<int>& also_keep = {});

// Runs the plan's nodes on `inputs` (as forward()), releasing values as planned.
void forward(const Graph& g, Session& s, const ForwardPlan& plan, const std::vector<const Tensor*>& inputs);

// ---- Used by the runner (graph_run.cpp). ----
// The tensors whose forward values the backward of `node` reads (OpDef::backward_reads).
std::vector<int> values_backward_reads(const Node& node);
// Which tensors a backward from `from` to `stops` gives a gradient: those on a path from a stop to `from`.
std::vector<char> backward_path(const Graph& g, int from, const std::vector<int>& stops);
// Whether backward runs `node`: its output is on the path and it passes gradient to an input on it.
bool backward_runs(const Node& node, const std::vector<char>& on_path);
// Gives tensor t a value buffer of `shape` (contents unspecified): the oldest spare one that fits, else a new one.
void acquire_value(Session& s, int t, const Shape& shape);
// Moves tensor t's value buffer to the spare list (its value becomes empty).
void release_value(Session& s, int t);
// The same for gradient buffers (backward, graph_run.cpp): values and gradients share the spare list.
void acquire_grad(Session& s, int t, const Shape& shape);
void release_grad(Session& s, int t);
// Gives tensor `to` the gradient buffer of tensor `from` as it is (no copy), reshaped to `shape` (same numel);
// `from`'s gradient becomes empty.
void hand_over_grad(Session& s, int from, int to, const Shape& shape);
// The gate mask the forward recorded for an activation's output whose value it did not keep (nn/gate_mask.h),
// or null (the ops' backward and the band-fused blocks read it).
GateMask recorded_gate_mask(const Session& s, int t);
// Runs the plan on inputs of more than plan.images_per_run images, chunk by chunk (forward_chunks.cpp), `run`
// being the unchunked planned run; leaves the kept values of the whole batch in s.chunk_kept (plan.keep's order).
using PlannedRun = void (*)(const Graph&, Session&, const ForwardPlan&, const std::vector<const Tensor*>&);
void forward_in_chunks(const Graph& g, Session& s, const ForwardPlan& plan, const std::vector<const Tensor*>& inputs,
                       PlannedRun run);

}  // namespace ec
