// Parsing a TFLite file (schema version 3) into plain structs: operator codes, the first subgraph's tensors
// (shape, type, buffer, name, quantization) and operators (inputs, outputs, the options entropycam uses), and
// where each constant buffer lies in the file. Nothing is dequantized or converted here (see tflite_import.h).
//
// Only the ops of the supported MobileNet family are accepted; any other op is refused with
// "unsupported TFLite op NAME (code N)". Facts used: ../shared/docs/tflite-format.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ec::tflite {

// Limits on what a TFLite file may declare; a file beyond them is refused before anything is allocated.
constexpr int64_t kMaxTfliteBytes = int64_t(1) << 30;  // 1 GiB (external buffers over 2 GB are not supported)
constexpr uint32_t kMaxTfliteTensors = 100000;
constexpr uint32_t kMaxTfliteOperators = 100000;
constexpr uint32_t kMaxTfliteOpInputs = 1024;       // inputs or outputs of one operator
constexpr uint32_t kMaxTfliteRank = 8;
constexpr uint32_t kMaxTfliteQuantChannels = 1 << 20;
constexpr size_t kMaxTfliteNameBytes = 4096;

// BuiltinOperator codes entropycam understands.
enum Op : int {
    ADD = 0, AVERAGE_POOL_2D = 1, CONCATENATION = 2, CONV_2D = 3, DEPTHWISE_CONV_2D = 4, DEQUANTIZE = 6,
    FULLY_CONNECTED = 9, MAX_POOL_2D = 17, RELU = 19, RELU6 = 21, RESHAPE = 22, SOFTMAX = 25, PAD = 34,
    MEAN = 40, SQUEEZE = 43, QUANTIZE = 114,
};
// TensorType.
enum Type : int { FLOAT32 = 0, FLOAT16 = 1, INT32 = 2, UINT8 = 3, INT64 = 4, INT16 = 7, INT8 = 9 };
// ActivationFunctionType.
enum Activation : int { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3, ACT_TANH = 4 };

// The schema name of a builtin operator code ("CONV_2D"), or nullptr for a code this table does not know.
const char* builtin_op_name(int code);
// "CONV_2D", or "code 200" for an unknown one.
std::string op_label(int code);
const char* type_name(int type);  // "FLOAT32", ... or "?"
bool is_supported_op(int code);

struct Quantization {
    std::vector<float> scale;        // empty: not quantized
    std::vector<int64_t> zero_point; // one per scale (or empty = all zero)
    int quantized_dimension = 0;
};

struct Tensor {
    std::string name;
    std::vector<int> shape;
    int type = FLOAT32;
    uint32_t buffer = 0;  // index into Model::buffers; 0 = no constant data
    Quantization quant;
};

// The options of an operator, flattened: only the fields of its op are meaningful.
struct Options {
    int padding = 0;                 // 0 SAME, 1 VALID
    int stride_w = 1, stride_h = 1;
    int dilation_w = 1, dilation_h = 1;
    int depth_multiplier = 1;
    int filter_w = 1, filter_h = 1;  // pooling window
    int activation = ACT_NONE;       // fused activation
    int axis = 0;                    // CONCATENATION
    bool keep_dims = false;          // MEAN
    bool keep_num_dims = false;      // FULLY_CONNECTED
    int weights_format = 0;          // FULLY_CONNECTED (0 = DEFAULT)
    float beta = 1.0f;               // SOFTMAX
    std::vector<int> squeeze_dims;   // SQUEEZE
};

struct Operator {
    int op = -1;              // builtin operator code
    std::vector<int> inputs;  // tensor indices; -1 = absent optional input
    std::vector<int> outputs;
    Options options;
};

// Where a buffer's bytes lie inside the file (size 0 = no data).
struct BufferSpan {
    uint64_t offset = 0;
    uint64_t size = 0;
};

struct Model {
    uint32_t version = 0;
    std::string description;
    std::vector<Tensor> tensors;
    std::vector<int> inputs, outputs;   // tensor indices of the subgraph
    std::vector<Operator> operators;    // in execution order
    std::vector<BufferSpan> buffers;
};

// Parses the file bytes; `what` (the file name) prefixes every error. Every tensor index, buffer index and
// buffer extent is checked; the returned spans lie inside [0, size).
Model parse_tflite(const uint8_t* data, size_t size, const std::string& what);

}  // namespace ec::tflite
