// TFLite -> ec::Model: builds the graph op by op through nn/graph.h, with every weight dequantized to float32.
//
// - Quantized constants: real = scale * (q - zero_point), per tensor or per channel along quantized_dimension;
//   int32 biases use their own scales; float32 constants are copied as they are.
// - Layouts: CONV_2D filter OHWI -> HWIO; DEPTHWISE_CONV_2D [1,kh,kw,C*m] -> HWIO [kh,kw,1,C*m] with groups = C;
//   FULLY_CONNECTED [out,in] -> [in,out].
// - QUANTIZE / DEQUANTIZE are no-ops (their output aliases their input; no node). The network runs in float on
//   the preprocessed input u8 / 127.5 - 1; the model's own uint8/int8 input quantization is ignored.
// - A fused activation becomes its own node: the post-activation tensor keeps the TFLite name, the
//   pre-activation one is `<name>/pre_activation`.
// - Tensor names: the TFLite name, or its first part where the MLIR converter joined several with ';'; when
//   two activation tensors would share a name, the later one gets `#<tflite tensor index>`.
// - MEAN over axes {1,2} -> global_avg_pool (+ reshape when keep_dims is false); RESHAPE / SQUEEZE -> reshape
//   (dimension 0 stays the batch); PAD -> pad (height and width only).
// - The logits are the input of the last SOFTMAX (or the subgraph output when there is none).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "weights/model.h"
#include "weights/tflite.h"

namespace ec {

// The same as import_tflite() on bytes in memory; `what` names them in errors and becomes Model::source.
Model import_tflite_memory(const uint8_t* data, size_t size, const std::string& what, const std::string& model_name,
                           std::vector<std::string> labels);

// The first ';'-separated part of a TFLite tensor name ("tensor_<index>" if that is empty).
std::string tflite_short_name(const std::string& tflite_name, int index);

// The float32 values of constant tensor `index`, in its TFLite layout. Throws Error for a tensor without data,
// a data size that does not match the shape, missing or malformed quantization, or an unsupported type.
std::vector<float> dequantize_constant(const tflite::Model& m, int index, const uint8_t* file, size_t size,
                                       const std::string& what);

// The values of constant tensor `index` of an integer type, widened to int64. Throws Error as above.
std::vector<int64_t> integer_constant(const tflite::Model& m, int index, const uint8_t* file, size_t size,
                                      const std::string& what);

// Layout conversions (row-major): OHWI [o,h,w,i] -> HWIO [h,w,i,o], and [rows, cols] -> [cols, rows].
std::vector<float> ohwi_to_hwio(const std::vector<float>& w, int o, int h, int wd, int i);
std::vector<float> transpose_2d(const std::vector<float>& w, int rows, int cols);

}  // namespace ec
