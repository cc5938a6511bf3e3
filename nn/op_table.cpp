// The op table: one row per OpKind, in enum order (checked below), and the lookups over it.
#include "nn/op_table.h"

#include "nn/op_impl.h"

namespace ec {
namespace {

using namespace ops;

// The .ecw node codes (weights/FORMAT.md) are part of the file format: never renumber or reuse one.
constexpr OpDef kOps[] = {
    // kind                         name                   code in   in                params req attrs
    {OpKind::Conv2D,              "Conv2D",              1,  1, 1,                2, 1, AttrKind::Conv,  conv2d_shape,
     conv2d_scratch, conv2d_forward, conv2d_backward, kReadsInputs},  // the input, for the filter gradient
    {OpKind::Pad,                 "Pad",                 2,  1, 1,                0, 0, AttrKind::Pad,   pad_shape,
     nullptr, pad_forward, pad_backward, kReadsNothing},
    {OpKind::BiasAdd,             "BiasAdd",             3,  1, 1,                1, 1, AttrKind::None,  bias_add_shape,
     nullptr, bias_add_forward, bias_add_backward, kReadsNothing},
    {OpKind::Relu,                "Relu",                4,  1, 1,                0, 0, AttrKind::None,  relu_shape,
     nullptr, relu_forward, relu_backward, kReadsOutput},  // nn/activation.h
    {OpKind::Relu6,               "Relu6",               5,  1, 1,                0, 0, AttrKind::None,  relu6_shape,
     nullptr, relu6_forward, relu6_backward, kReadsOutput},  // nn/activation.h
    {OpKind::Add,                 "Add",                 6,  2, 2,                0, 0, AttrKind::None,  add_shape,
     nullptr, add_forward, add_backward, kReadsNothing},  // the gradient passes to both inputs
    {OpKind::MaxPool,             "MaxPool",             7,  1, 1,                0, 0, AttrKind::Pool,  max_pool_shape,
     nullptr, max_pool_forward, max_pool_backward},
    {OpKind::AvgPool,             "AvgPool",             8,  1, 1,                0, 0, AttrKind::Pool,  avg_pool_shape,
     nullptr, avg_pool_forward, avg_pool_backward, kReadsNothing},  // spreads each gradient over its window
    {OpKind::GlobalAvgPool,       "GlobalAvgPool",       9,  1, 1,                0, 0, AttrKind::None,  global_avg_pool_shape,
     nullptr, global_avg_pool_forward, global_avg_pool_backward},
    {OpKind::FullyConnected,      "FullyConnected",      10, 1, 1,                2, 1, AttrKind::None,  fully_connected_shape,
     nullptr, fully_connected_forward, fully_connected_backward},
    {OpKind::Reshape,             "Reshape",             11, 1, 1,                0, 0, AttrKind::Shape, reshape_shape,
     nullptr, reshape_forward, reshape_backward, kReadsNothing},
    {OpKind::Concat,              "Concat",              12, 1, kMaxConcatInputs, 0, 0, AttrKind::None,  concat_shape,
     nullptr, concat_forward, concat_backward},
    {OpKind::Softmax,             "Softmax",             13, 1, 1,                0, 0, AttrKind::None,  softmax_shape,
     nullptr, softmax_forward, softmax_backward},
    {OpKind::SoftmaxCrossEntropy, "SoftmaxCrossEntropy", 14, 2, 2,                0, 0, AttrKind::None,  softmax_cross_entropy_shape,
     nullptr, softmax_cross_entropy_forward, softmax_cross_entropy_backward},
};

constexpr bool rows_in_enum_order() {
    if (sizeof kOps / sizeof kOps[0] != size_t(kOpKindCount)) return false;
    for (int i = 0; i < kOpKindCount; ++i)
        if (int(kOps[i].kind) != i || kOps[i].param_slots > kMaxParamSlots || kOps[i].required_params > kOps[i].param_slots)
            return false;
    return true;
}
static_assert(rows_in_enum_order(), "kOps must hold one row per OpKind, in enum order, within kMaxParamSlots");

constexpr bool file_codes_unique() {
    for (int i = 0; i < kOpKindCount; ++i)
        for (int j = i + 1; j < kOpKindCount; ++j)
            if (kOps[i].file_code == kOps[j].file_code || kOps[i].file_code == 0) return false;
    return true;
}
static_assert(file_codes_unique(), "every op needs its own non-zero .ecw node code");

}  // namespace

const OpDef& op_def(OpKind op) {
    const int i = int(op);
    if (i < 0 || i >= kOpKindCount) throw Error("unknown op kind " + std::to_string(i));
    return kOps[i];
}

const OpDef* find_op_by_file_code(uint32_t code) {
    for (const OpDef& d : kOps)
        if (d.file_code == code) return &d;
    return nullptr;
}

const char* op_name(OpKind op) {
    const int i = int(op);
    return i >= 0 && i < kOpKindCount ? kOps[i].name : "?";
}

}  // namespace ec
