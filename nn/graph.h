// A graph of named tensors, built once (every shape checked then), run many times.
//
// The Graph is immutable after building and holds no run state, so one Graph can be shared by many threads;
// each thread runs it through its own Session (values, gradients, scratch). Dimension 0 of every tensor is the
// batch: a graph built with batch 1 runs on any batch N, every tensor then having N in dimension 0.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "nn/conv2d.h"
#include "nn/elementwise.h"
#include "nn/pool.h"
#include "nn/tensor.h"

namespace ec {

enum class OpKind {
    Conv2D,               // inputs: x; params: filter (HWIO), bias (optional)
    Pad,                  // explicit zero padding of H and W
    BiasAdd,              // params: bias [C]
    Relu,
    Relu6,
    Add,                  // two inputs of one shape
    MaxPool,
    AvgPool,
    GlobalAvgPool,        // [N,H,W,C] -> [N,1,1,C]
    FullyConnected,       // [N,I] -> [N,O]; params: weight [I,O], bias (optional)
    Reshape,
    Concat,               // along the last dimension
    Softmax,              // over the last dimension
    SoftmaxCrossEntropy,  // inputs: logits [N,K], target [N,K] -> per-sample loss [N]
};
const char* op_name(OpKind op);

// How a convolution or pool pads its input. Same is TensorFlow's SAME: out = ceil(in / stride), the odd extra
// row/column of padding at the bottom/right.
struct Padding {
    enum Kind { Same, Valid, Explicit } kind = Valid;
    int top = 0, bottom = 0, left = 0, right = 0;  // for Explicit
};

struct Conv2DOptions {
    int stride_h = 1, stride_w = 1;
    int dilation_h = 1, dilation_w = 1;
    int groups = 1;
    Padding padding;
};

struct PoolOptions {
    int kernel_h = 2, kernel_w = 2;
    int stride_h = 2, stride_w = 2;
    Padding padding;
};

// A model parameter. Its values live either in `owned` or in memory owned by the graph's `backing` (a mapped
// weight file), which must outlive every use.
struct Param {
    std::string name;
    Shape shape;
    FloatBuffer owned;  // 64-byte aligned (nn/tensor.h): the GEMM's B operand is read in 32-byte vectors
    const float* external = nullptr;
    // Counts the calls of mutable_data(): the graph's copies of data() in another layout (nn/packed_filters.h) are
    // remade when it changes. Change owned values through mutable_data() only.
    uint64_t version = 0;
    const float* data() const { return external ? external : owned.data(); }
    float* mutable_data();  // only for owned parameters (training); throws otherwise
};

// Filters laid out for the SIMD GEMM, made on first use and shared by every session of the graph
// (nn/packed_filters.h). A copy of a graph starts with an empty cache (the copy may change its parameters); a
// moved-from graph has none.
struct PackedFilterCache;
std::shared_ptr<PackedFilterCache> new_packed_filter_cache();
struct PackedFilters {
    std::shared_ptr<PackedFilterCache> cache = new_packed_filter_cache();
    PackedFilters() = default;
    PackedFilters(const PackedFilters&) {}
    PackedFilters& operator=(const PackedFilters&) { cache = new_packed_filter_cache(); return *this; }
    PackedFilters(PackedFilters&&) noexcept = default;
    PackedFilters& operator=(PackedFilters&&) noexcept = default;
};

struct TensorInfo {
    std::string name;
    Shape shape;        // with batch 1
    int producer = -1;  // node index, or -1 for a graph input
};

struct Node {
    OpKind op = OpKind::Relu;
    std::string name;
    std::vector<int> inputs;  // tensor ids
    std::vector<int> params;  // param ids; -1 for an absent optional one
    int output = -1;          // tensor id
    // Resolved attributes (only the ones of `op` are meaningful).
    ConvGeometry conv;
    PoolGeometry pool;
    PadGeometry pad;
};

struct Graph {
    std::vector<TensorInfo> tensors;
    std::vector<Node> nodes;  // in execution (topological) order
    std::vector<Param> params;
    std::vector<int> inputs;  // tensor ids of the graph inputs
    std::shared_ptr<const void> backing;  // keeps external parameter memory alive
    PackedFilters packed_filters;

    int find_tensor(const std::string& name) const;  // -1 if absent
    int tensor(const std::string& name) const;       // throws Error naming the tensor if absent
    int find_param(const std::string& name) const;   // -1 if absent
};

// ---- Building. Each function checks shapes and throws Error naming the node and the shapes involved. ----
int add_input(Graph& g, const std::string& name, const Shape& shape);
int add_param(Graph& g, const std::string& name, const Shape& shape, std::vector<float> values);
int add_param_external(Graph& g, const std::string& name, const Shape& shape, const float* values);

// Each returns the id of the output tensor, named `name`.
int conv2d(Graph& g, const std::string& name, int x, int filter, int bias, const Conv2DOptions& opt);
int pad(Graph& g, const std::string& name, int x, int top, int bottom, int left, int right);
int bias_add(Graph& g, const std::string& name, int x, int bias);
int relu(Graph& g, const std::string& name, int x);
int relu6(Graph& g, const std::string& name, int x);
int add(Graph& g, const std::string& name, int a, int b);
int max_pool(Graph& g, const std::string& name, int x, const PoolOptions& opt);
int avg_pool(Graph& g, const std::string& name, int x, const PoolOptions& opt);
int global_avg_pool(Graph& g, const std::string& name, int x);
int fully_connected(Graph& g, const std::string& name, int x, int weight, int bias);
int reshape(Graph& g, const std::string& name, int x, const Shape& shape);  // shape[0] is the batch (1)
int concat(Graph& g, const std::string& name, const std::vector<int>& xs);
int softmax(Graph& g, const std::string& name, int x);
int softmax_cross_entropy(Graph& g, const std::string& name, int logits, int target);

// ---- Running. ----
// A value buffer no tensor holds now (nn/forward_plan.h); `id` is its order of creation in the session.
struct SpareBuffer {
    uint64_t id = 0;
    FloatBuffer data;
};

struct Session {
    int batch = 0;
    std::vector<Tensor> values;       // forward value of every tensor; empty where the run released it
    std::vector<Tensor> grads;        // d(seeded tensor)/d(tensor); empty where not computed
    std::vector<Tensor> param_grads;  // d/d(param); empty where not computed
    // The gate masks (nn/gate_mask.h) the last planned forward recorded (ForwardPlan::masks): of ReLU/ReLU6
    // outputs whose values it did not keep, for the backward that follows; empty elsewhere.
    std::vector<ByteBuffer> gate_masks;
    FloatBuffer scratch;              // kernel scratch, sized once for the batch
    FloatBuffer band_scratch;         // band-fused blocks' per-thread rows (nn/band_block.h), grown on first use
    int nodes_run_backward = 0;       // how many nodes the last backward ran
    std::vector<SpareBuffer> spare;         // value and gradient buffers no tensor holds now (nn/forward_plan.h)
    std::vector<uint64_t> value_buffer_id;  // the id of the buffer values[t] holds
    std::vector<uint64_t> grad_buffer_id;   // the id of the buffer grads[t] holds
    uint64_t buffers_made = 0;
    // A planned run in image chunks (nn/forward_plan.h): one chunk's inputs, the kept values of the whole batch
    // while the chunks run, and one session per thread when threads take whole chunks. Reused from run to run.
    std::vector<Tensor> chunk_inputs, chunk_kept;
    std::vector<const Tensor*> chunk_input_ptrs;
    std::vector<Session> chunk_workers;
    // When sized to the graph's node count, planned runs on this session add each node's wall time (ms) to it
    // (a fused convolution + activation: to the convolution). Empty: nothing is timed. node_backward_ms: the
    // same for each node's backward.
    std::vector<double> node_ms, node_backward_ms;
};

// Runs every node and keeps every value. `inputs` are in the order of Graph::inputs, each [N, ...] with the
// graph's shape otherwise. nn/forward_plan.h runs keep only what the caller names.
void forward(const Graph& g, Session& s, const std::vector<const Tensor*>& inputs);
// Runs only the nodes needed to produce `target` (e.g. the logits, or a CAM target when no backward is wanted)
// and keeps only its value: every other value is released after its last reader (plan_forward(g, {target})).
void forward_until(const Graph& g, Session& s, const std::vector<const Tensor*>& inputs, int target);

struct BackwardRequest {
    int from = -1;              // the tensor whose gradient is seeded
    Tensor seed;                // d(loss)/d(from): same shape as the forward value of `from`
    std::vector<int> stop_at;   // tensors whose gradient is wanted; empty = every input of the graph
    bool param_grads = false;   // also compute parameter gradients (of the nodes that run)
    bool keep_inner_grads = false;  // also keep the gradient of every tensor on the path (to inspect them)
};
// Runs, in reverse order, only the nodes on a path from a stop_at tensor (or a parameter, if param_grads)
// to `from`. Gradients are left in s.grads / s.param_grads: those of `from`, of the stop_at tensors and of the
// parameters. The gradient of an inner tensor dies once its producer's backward has read it: its buffer goes
// back to the session's spare buffers (nn/forward_plan.h), where the next gradient takes it, so the backward
// writes into a few cache-warm buffers instead of a fresh one per tensor (MobileNetV2: 19 MB). With
// keep_inner_grads every gradient on the path stays, except a ReLU/ReLU6 output's read by one convolution
// alone (its backward runs fused into the convolution's: never formed). Without keep_inner_grads and
// param_grads, an inverted residual block whose gate masks the forward recorded runs its input gradient in row
// bands (nn/band_block.h): the gradients inside it are never formed either. Gradients of an earlier backward are
// handed back when the next backward or forward starts. Returns the number of nodes run.
int backward(const Graph& g, Session& s, const BackwardRequest& req);

// The seed for "d y[n, index] / d ..." for every batch row n (one logit per row, seed 1): a tensor of the
// shape of `from` that is 1 at [n, class_of_row[n]] and 0 elsewhere.
Tensor one_hot_seed(const Shape& shape, const std::vector<int>& class_of_row);

// Plain SGD with momentum: v = momentum * v + grad; param -= lr * v. `velocity` is sized on first use.
void sgd_step(Graph& g, const Session& s, std::vector<Tensor>& velocity, float learning_rate, float momentum);

}  // namespace ec
