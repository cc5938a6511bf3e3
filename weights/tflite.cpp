// TFLite file -> plain structs (see tflite.h). Field ids follow tensorflow/lite/schema/schema.fbs (version 3).
#include "weights/tflite.h"

#include <algorithm>

#include "nn/tensor.h"
#include "weights/flatbuffer.h"

namespace ec::tflite {

namespace {

// BuiltinOperator names, index = code (schema.fbs, codes 0..158).
const char* const kOpNames[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE",
    "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU",
    "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
    "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB",
    "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",
    "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM",
    "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE",
    "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT",
    "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR",
    "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE",
    "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE",
    "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK",
    "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE",
    "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM",
    "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D",
    "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE",
    "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU",
    "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM", "ATAN2", "UNSORTED_SEGMENT_MIN", "SIGN",
};
constexpr int kNumOpNames = int(sizeof(kOpNames) / sizeof(kOpNames[0]));
static_assert(kNumOpNames == 159, "BuiltinOperator names 0..158");

// The BuiltinOptions union type each supported op carries (0 = none).
int expected_options_type(int op) {
    switch (op) {
        case CONV_2D: return 1;
        case DEPTHWISE_CONV_2D: return 2;
        case AVERAGE_POOL_2D: case MAX_POOL_2D: return 5;
        case FULLY_CONNECTED: return 8;
        case SOFTMAX: return 9;
        case CONCATENATION: return 10;
        case ADD: return 11;
        case RESHAPE: return 17;
        case PAD: return 22;
        case MEAN: return 27;
        case SQUEEZE: return 30;
        case DEQUANTIZE: return 38;
        case QUANTIZE: return 89;
        default: return 0;
    }
}

// Reads the option fields of `op` from its options table (an absent table reads as all schema defaults).
Options read_options(int op, const fb::Table& t) {
    Options o;
    switch (op) {
        case CONV_2D:  // Conv2DOptions
            o.padding = t.i8(0, 0); o.stride_w = t.i32(1, 0); o.stride_h = t.i32(2, 0);
            o.activation = t.i8(3, 0); o.dilation_w = t.i32(4, 1); o.dilation_h = t.i32(5, 1);
            break;
        case DEPTHWISE_CONV_2D:  // DepthwiseConv2DOptions
            o.padding = t.i8(0, 0); o.stride_w = t.i32(1, 0); o.stride_h = t.i32(2, 0);
            o.depth_multiplier = t.i32(3, 0); o.activation = t.i8(4, 0);
            o.dilation_w = t.i32(5, 1); o.dilation_h = t.i32(6, 1);
            break;
        case AVERAGE_POOL_2D: case MAX_POOL_2D:  // Pool2DOptions
            o.padding = t.i8(0, 0); o.stride_w = t.i32(1, 0); o.stride_h = t.i32(2, 0);
            o.filter_w = t.i32(3, 0); o.filter_h = t.i32(4, 0); o.activation = t.i8(5, 0);
            break;
        case FULLY_CONNECTED:  // FullyConnectedOptions
            o.activation = t.i8(0, 0); o.weights_format = t.i8(1, 0); o.keep_num_dims = t.boolean(2, false);
            break;
        case SOFTMAX: o.beta = t.f32(0, 0.0f); break;  // SoftmaxOptions
        case CONCATENATION: o.axis = t.i32(0, 0); o.activation = t.i8(1, 0); break;
        case ADD: o.activation = t.i8(0, 0); break;
        case MEAN: o.keep_dims = t.boolean(0, false); break;  // ReducerOptions
        case SQUEEZE: {
            for (int32_t d : t.vector(0).i32s(kMaxTfliteRank)) o.squeeze_dims.push_back(d);
            break;
        }
        default: break;  // RESHAPE's new_shape is not needed: the output tensor's shape is used
    }
    return o;
}

std::vector<int> tensor_indices(const fb::Vector& v, int num_tensors, bool allow_absent, const std::string& what,
                                const std::string& owner) {
    std::vector<int> out;
    for (int32_t t : v.i32s(kMaxTfliteOpInputs)) {
        if (t >= num_tensors || t < (allow_absent ? -1 : 0))
            throw Error(what + ": " + owner + " refers to tensor " + std::to_string(t) + " (the subgraph has " +
                        std::to_string(num_tensors) + ")");
        out.push_back(t);
    }
    return out;
}

// Text from the file that ends up in error messages, tensor names and the .ecw file: control characters
// (a line break would split the one-line error, and .ecw strings refuse them) become spaces.
std::string printable(std::string s) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return s;
}

Tensor read_tensor(const fb::Table& t, uint32_t num_buffers, int index, const std::string& what) {
    Tensor out;
    std::vector<int32_t> shape = t.vector(0).i32s(kMaxTfliteRank);
    for (int32_t d : shape) out.shape.push_back(d);
    out.type = t.i8(1, FLOAT32);
    out.buffer = t.u32(2, 0);
    out.name = printable(t.string(3, kMaxTfliteNameBytes));
    if (out.buffer >= num_buffers)
        throw Error(what + ": tensor " + std::to_string(index) + " '" + out.name + "' refers to buffer " +
                    std::to_string(out.buffer) + " (the file has " + std::to_string(num_buffers) + ")");
    fb::Table q = t.table(4);
    if (q.present()) {
        out.quant.scale = q.vector(2).f32s(kMaxTfliteQuantChannels);
        out.quant.zero_point = q.vector(3).i64s(kMaxTfliteQuantChannels);
        out.quant.quantized_dimension = q.i32(6, 0);
    }
    return out;
}

}  // namespace

const char* builtin_op_name(int code) { return code >= 0 && code < kNumOpNames ? kOpNames[code] : nullptr; }

std::string op_label(int code) {
    const char* n = builtin_op_name(code);
    return n ? std::string(n) : "code " + std::to_string(code);
}

const char* type_name(int type) {
    static const char* const names[] = {"FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16",
                                        "COMPLEX64", "INT8", "FLOAT64"};
    return type >= 0 && type <= 10 ? names[type] : "?";
}

bool is_supported_op(int code) {
    switch (code) {
        case CONV_2D: case DEPTHWISE_CONV_2D: case ADD: case AVERAGE_POOL_2D: case MAX_POOL_2D: case CONCATENATION:
        case MEAN: case RESHAPE: case SQUEEZE: case FULLY_CONNECTED: case SOFTMAX: case PAD: case QUANTIZE:
        case DEQUANTIZE: case RELU: case RELU6:
            return true;
        default:
            return false;
    }
}

// Longer than our ~60-line guide on purpose: one pass over the FlatBuffer tables in the order
// ../shared/docs/tflite-format.md lists them, every offset bounds-checked where it is followed.
Model parse_tflite(const uint8_t* data, size_t size, const std::string& what) {
    if (int64_t(size) > kMaxTfliteBytes)
        throw Error(what + ": " + std::to_string(size) + " bytes is above the TFLite size limit");
    fb::Buffer buf{data, size, what};
    if (fb::file_identifier(buf) != "TFL3") throw Error(what + ": not a TFLite file (no TFL3 identifier)");
    fb::Table root = fb::root_table(buf);
    Model m;
    m.version = root.u32(0, 0);
    if (m.version != 3) throw Error(what + ": unsupported TFLite schema version " + std::to_string(m.version) + " (expected 3)");
    m.description = printable(root.string(3, kMaxTfliteNameBytes));

    // Operator codes: the op is max(deprecated_builtin_code, builtin_code) (old files leave builtin_code at 0).
    fb::Vector codes = root.vector(1);
    std::vector<int> op_of_code(codes.size());
    std::vector<std::string> custom_of_code(codes.size());
    for (uint32_t i = 0; i < codes.size(); ++i) {
        fb::Table c = codes.table(i);
        op_of_code[i] = std::max<int>(c.i8(0, 0), c.i32(3, 0));
        custom_of_code[i] = printable(c.string(1, kMaxTfliteNameBytes));
    }

    // Buffers: data inside the flatbuffer, or (offset, size) relative to the file start for large models.
    fb::Vector buffers = root.vector(4);
    m.buffers.resize(buffers.size());
    for (uint32_t i = 0; i < buffers.size(); ++i) {
        fb::Table b = buffers.table(i);
        fb::Vector bytes = b.vector(0);
        BufferSpan span{bytes.data_position(), bytes.size()};
        if (bytes.size() == 0) span = {b.u64(1, 0), b.u64(2, 0)};
        if (span.size == 0) span.offset = 0;
        buf.check(span.offset, span.size, "buffer");
        m.buffers[i] = span;
    }

    fb::Vector subgraphs = root.vector(2);
    if (subgraphs.size() < 1) throw Error(what + ": the model has no subgraph");
    fb::Table sg = subgraphs.table(0);

    fb::Vector tensors = sg.vector(0);
    if (tensors.size() > kMaxTfliteTensors)
        throw Error(what + ": " + std::to_string(tensors.size()) + " tensors is above the limit of " + std::to_string(kMaxTfliteTensors));
    const int num_tensors = int(tensors.size());
    m.tensors.reserve(tensors.size());
    for (uint32_t i = 0; i < tensors.size(); ++i)
        m.tensors.push_back(read_tensor(tensors.table(i), uint32_t(m.buffers.size()), int(i), what));
    m.inputs = tensor_indices(sg.vector(1), num_tensors, false, what, "the subgraph input list");
    m.outputs = tensor_indices(sg.vector(2), num_tensors, false, what, "the subgraph output list");

    fb::Vector ops = sg.vector(3);
    if (ops.size() > kMaxTfliteOperators)
        throw Error(what + ": " + std::to_string(ops.size()) + " operators is above the limit of " + std::to_string(kMaxTfliteOperators));
    m.operators.reserve(ops.size());
    for (uint32_t i = 0; i < ops.size(); ++i) {
        fb::Table t = ops.table(i);
        const uint32_t code_index = t.u32(0, 0);
        if (code_index >= op_of_code.size())
            throw Error(what + ": operator " + std::to_string(i) + " uses operator code " + std::to_string(code_index) +
                        " (the file has " + std::to_string(op_of_code.size()) + ")");
        Operator op;
        op.op = op_of_code[code_index];
        if (op.op == 32)
            throw Error(what + ": unsupported TFLite custom op '" + custom_of_code[code_index] + "' (operator " + std::to_string(i) + ")");
        if (!is_supported_op(op.op)) {
            const char* name = builtin_op_name(op.op);
            throw Error(what + ": unsupported TFLite op " + (name ? std::string(name) + " (code " + std::to_string(op.op) + ")"
                                                                  : "code " + std::to_string(op.op)));
        }
        const std::string owner = "operator " + std::to_string(i) + " (" + op_label(op.op) + ")";
        op.inputs = tensor_indices(t.vector(1), num_tensors, true, what, owner);
        op.outputs = tensor_indices(t.vector(2), num_tensors, false, what, owner);
        const int options_type = t.u8(3, 0);
        if (options_type != 0 && options_type != expected_options_type(op.op))
            throw Error(what + ": " + owner + " carries options of type " + std::to_string(options_type) + ", expected " +
                        std::to_string(expected_options_type(op.op)));
        op.options = read_options(op.op, options_type ? t.table(4) : fb::Table());
        m.operators.push_back(std::move(op));
    }
    return m;
}

}  // namespace ec::tflite
