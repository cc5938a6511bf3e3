// The .ecw weight file: entropycam's own model format (full description in weights/FORMAT.md).
//
// A 64-byte header, a graph section (the nodes with their attributes, tensor names and shapes, the labels,
// the preprocessing, the logits tensor name, the model name and source), then the float32 parameters, each
// 64-byte aligned so the loader can mmap the file and point the graph's parameters straight into the mapping.
// Everything is little-endian. The loader trusts nothing: every count, offset, size, string, index, shape and
// attribute is checked against the limits below and the graph is rebuilt through the nn/graph.h build
// functions, so a truncated, oversized or hostile file gives one ec::Error line.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "nn/op_table.h"
#include "weights/labels.h"
#include "weights/model.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .ecw reader and writer assume a little-endian host (the file is little-endian and mapped as is)"
#endif

namespace ec::ecw {

constexpr char kMagic[9] = "ECWEIGHT";  // the first 8 bytes of every file
constexpr uint32_t kVersion = 1;
constexpr uint32_t kHeaderBytes = 64;
constexpr uint64_t kDataAlignment = 64;  // of the data section and of every parameter in it

// Limits. A file that declares more is refused before anything is allocated for it.
constexpr int64_t kMaxFileBytes = int64_t(2) << 30;       // 2 GiB
constexpr uint32_t kMaxTensors = 8192;                    // graph inputs + nodes
constexpr uint32_t kMaxNodes = kMaxTensors;
constexpr uint32_t kMaxParams = 8192;
constexpr uint32_t kMaxInputs = 16;
constexpr uint32_t kMaxNodeInputs = kMaxConcatInputs;     // inputs of one node (concat): 256, nn/op_table.h
constexpr uint32_t kMaxLabels = 100000;
constexpr uint32_t kMaxStringBytes = 4096;                // any one name, label or text field
constexpr int kMaxWindow = 4096;                          // kernel, stride or dilation along one axis
constexpr int kMaxPadding = 65536;                        // explicit padding on one side
constexpr int64_t kMaxActivationFloats = int64_t(1) << 28;  // sum of all tensor sizes at batch 1 (1 GiB)

// Node codes in the file are each op's OpDef::file_code (nn/op_table.h), independent of the order of
// ec::OpKind; its attributes are the record of its OpDef::attrs (FORMAT.md, ecw_loader.cpp, ecw_writer.cpp).
// Tensor record kinds in the graph section.
constexpr uint8_t kRecordInput = 0;
constexpr uint8_t kRecordNode = 1;

// The whole file as bytes (what save_model writes). Throws Error if the graph cannot be represented
// (e.g. nodes not in the order of their output tensors) or a limit above is exceeded.
std::string serialize_model(const Model& model);

// Builds a Model from file bytes. `data` must be 64-byte aligned and stay valid as long as `backing` lives;
// the graph's parameters point into it and its Graph::backing holds `backing`. `what` prefixes every error.
Model parse_model(const uint8_t* data, size_t size, std::shared_ptr<const void> backing, const std::string& what);

}  // namespace ec::ecw
