// One table of graph ops: for each OpKind its name, .ecw node code, arity, attribute kind, shape rule, forward
// and backward. The builder (graph_build.cpp), the runner (graph_run.cpp), the .ecw loader and writer read
// their limits and functions from here, so adding an op means one table row (plus its kernels and its named
// build function) and no two places can disagree on what the op takes.
//
// The byte layout of an op's attributes in an .ecw file is not here: nn does not know the file format. The
// table says which attribute record an op carries (AttrKind); weights/ecw_loader.cpp and ecw_writer.cpp read
// and write each AttrKind. The node code is here because it is the op's stable identity, a number only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nn/graph.h"

namespace ec {

// The most inputs one Concat node takes: the graph builder refuses more (naming this limit), the .ecw format
// allows exactly this many (weights/format.h kMaxNodeInputs), and the runner has no fixed-size arrays.
constexpr int kMaxConcatInputs = 256;
// The most parameter slots of any op (Conv2D and FullyConnected: weight and optional bias).
constexpr int kMaxParamSlots = 2;

// Which attributes an op carries before the builder resolves them (what a file or an importer supplies).
enum class AttrKind : uint8_t {
    None,
    Conv,   // NodeAttrs::conv
    Pool,   // NodeAttrs::pool
    Pad,    // NodeAttrs::pad_*
    Shape,  // NodeAttrs::shape (Reshape's target, batch 1)
};

// Unresolved attributes of a node; only the members of the op's AttrKind are read.
struct NodeAttrs {
    Conv2DOptions conv;
    PoolOptions pool;
    int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    Shape shape;
};

using ShapeRule = Shape (*)(const Graph& g, Node& node, const NodeAttrs& attrs);
using ForwardFn = void (*)(const Graph& g, Session& s, const Node& node);
// What want_input[t] says to a backward function about input t's gradient buffer.
enum GradState : char {
    kGradNotWanted = 0,
    kGradAccumulate = 1,  // holds a partial sum: add to it (+=)
    kGradUnwritten = 2,   // this node is its first writer and its contents are unspecified: overwrite it, or
                          // zero-fill it and add (nothing is zero-filled that its first writer overwrites anyway)
};
// Input gradients of the inputs t with want_input[t] (a GradState): every wanted input's buffer holds its
// gradient contribution afterwards, also when the op passes none (zero-filled). Parameter gradients
// (accumulated) if want_params.
using BackwardFn = void (*)(const Graph& g, Session& s, const Node& node, const std::vector<char>& want_input,
                            bool want_params);
using ScratchFn = size_t (*)(const Node& node, int batch);

enum BackwardReads : uint8_t { kReadsNothing = 0, kReadsInputs = 1, kReadsOutput = 2 };

struct OpDef {
    OpKind kind;
    const char* name;
    uint8_t file_code;             // node code in .ecw files (weights/FORMAT.md); never reused
    int min_inputs, max_inputs;    // tensor inputs
    int param_slots;               // parameter ids a node carries
    int required_params;           // the first ones must be present; the others may be -1 (absent)
    AttrKind attrs;
    // Checks inputs, parameters and attributes (tensor and parameter ids are already valid and the counts
    // within the limits above), resolves the node's geometry and returns its output shape at batch 1. Throws
    // Error naming the node.
    ShapeRule shape_rule;
    ScratchFn scratch_floats;      // kernel scratch for a batch; null when the op needs none
    ForwardFn forward;
    BackwardFn backward;
    // The forward values the backward reads (BackwardReads flags): a forward run that feeds a backward keeps
    // them (backward_reads, nn/forward_plan.h) and backward() checks that it did.
    uint8_t backward_reads = kReadsInputs | kReadsOutput;
};

constexpr int kOpKindCount = int(OpKind::SoftmaxCrossEntropy) + 1;

const OpDef& op_def(OpKind op);                 // throws Error for a value outside the enum
const OpDef* find_op_by_file_code(uint32_t code);  // null for an unknown code

// Builds a node of any kind from unresolved attributes: checks the counts against the table, every tensor and
// parameter id, then runs the op's shape rule. Returns the output tensor id, named `name`. The named build
// functions of nn/graph.h (conv2d, concat, ...) call this; so does the .ecw loader.
int add_node(Graph& g, OpKind op, const std::string& name, std::vector<int> inputs, std::vector<int> params,
             const NodeAttrs& attrs);

}  // namespace ec
