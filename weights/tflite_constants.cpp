// The constants of a TFLite file as entropycam uses them: dequantized to float32, integers widened to int64,
// and the weight layout conversions (see tflite_import.h).
#include <cmath>
#include <cstring>

#include "weights/tflite_import.h"

namespace ec {

std::vector<float> ohwi_to_hwio(const std::vector<float>& w, int o, int h, int wd, int i) {
    std::vector<float> out(w.size());
    for (int oo = 0; oo < o; ++oo)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < wd; ++x)
                for (int ii = 0; ii < i; ++ii)
                    out[((size_t(y) * wd + x) * i + ii) * o + oo] = w[((size_t(oo) * h + y) * wd + x) * i + ii];
    return out;
}

std::vector<float> transpose_2d(const std::vector<float>& w, int rows, int cols) {
    std::vector<float> out(w.size());
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) out[size_t(c) * rows + r] = w[size_t(r) * cols + c];
    return out;
}

namespace {

int64_t element_count(const tflite::Tensor& t, const std::string& what, int index) {
    int64_t n = 1;
    for (int d : t.shape) {
        if (d < 0) throw Error(what + ": tensor " + std::to_string(index) + " '" + t.name + "' has a dynamic or negative dimension");
        n *= d;
        if (n > kMaxTensorElements) throw Error(what + ": tensor " + std::to_string(index) + " '" + t.name + "' is too large");
    }
    return n;
}

size_t type_size(int type) {
    switch (type) {
        case tflite::FLOAT32: case tflite::INT32: return 4;
        case tflite::UINT8: case tflite::INT8: return 1;
        case tflite::INT16: return 2;
        case tflite::INT64: return 8;
        default: return 0;
    }
}

// The raw integer at element i of a constant of an integer type.
int64_t raw_int(const uint8_t* p, int type, int64_t i) {
    switch (type) {
        case tflite::UINT8: return p[i];
        case tflite::INT8: return int8_t(p[i]);
        case tflite::INT16: { int16_t v; std::memcpy(&v, p + 2 * i, 2); return v; }
        case tflite::INT32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); return v; }
        default: { int64_t v; std::memcpy(&v, p + 8 * i, 8); return v; }
    }
}

// The bytes of constant tensor `index`, checked to hold exactly its elements.
const uint8_t* constant_bytes(const tflite::Model& m, int index, const uint8_t* file, size_t size, const std::string& what,
                              int64_t* count) {
    const tflite::Tensor& t = m.tensors[size_t(index)];
    const std::string label = "tensor " + std::to_string(index) + " '" + t.name + "'";
    const tflite::BufferSpan& b = m.buffers[t.buffer];
    if (t.buffer == 0 || b.size == 0) throw Error(what + ": " + label + " has no constant data");
    const size_t esize = type_size(t.type);
    if (!esize) throw Error(what + ": " + label + " has unsupported type " + tflite::type_name(t.type));
    *count = element_count(t, what, index);
    if (b.size != uint64_t(*count) * esize || b.offset > size || b.size > size - b.offset)
        throw Error(what + ": " + label + " holds " + std::to_string(b.size) + " bytes, its shape needs " +
                    std::to_string(uint64_t(*count) * esize));
    return file + b.offset;
}

}  // namespace

std::vector<int64_t> integer_constant(const tflite::Model& m, int index, const uint8_t* file, size_t size,
                                      const std::string& what) {
    const int type = m.tensors[size_t(index)].type;
    int64_t n = 0;
    const uint8_t* p = constant_bytes(m, index, file, size, what, &n);
    std::vector<int64_t> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = raw_int(p, type, i);
    return out;
}

std::vector<float> dequantize_constant(const tflite::Model& m, int index, const uint8_t* file, size_t size,
                                       const std::string& what) {
    int64_t n = 0;
    const uint8_t* p = constant_bytes(m, index, file, size, what, &n);
    const tflite::Tensor& t = m.tensors[size_t(index)];
    const std::string label = "tensor " + std::to_string(index) + " '" + t.name + "'";
    std::vector<float> out(size_t(n), 0.0f);
    if (t.type == tflite::FLOAT32) {
        if (n) std::memcpy(out.data(), p, size_t(n) * 4);
        return out;
    }
    const tflite::Quantization& q = t.quant;
    if (q.scale.empty()) throw Error(what + ": " + label + " is " + tflite::type_name(t.type) + " without quantization scales");
    // One (scale, zero_point) per tensor, or one per index of quantized_dimension.
    int64_t channels = 1, inner = 1;
    if (q.scale.size() > 1) {
        const int qd = q.quantized_dimension;
        if (qd < 0 || size_t(qd) >= t.shape.size() || int64_t(q.scale.size()) != t.shape[size_t(qd)])
            throw Error(what + ": " + label + " has " + std::to_string(q.scale.size()) + " scales that do not match dimension " +
                        std::to_string(qd) + " of its shape");
        channels = t.shape[size_t(qd)];
        for (size_t d = size_t(qd) + 1; d < t.shape.size(); ++d) inner *= t.shape[d];
    }
    if (!q.zero_point.empty() && q.zero_point.size() != q.scale.size())
        throw Error(what + ": " + label + " has " + std::to_string(q.zero_point.size()) + " zero points for " +
                    std::to_string(q.scale.size()) + " scales");
    for (float s : q.scale)
        if (!std::isfinite(s)) throw Error(what + ": " + label + " has a non-finite quantization scale");
    for (int64_t i = 0; i < n; ++i) {
        const size_t c = size_t((i / inner) % channels);
        const int64_t zp = q.zero_point.empty() ? 0 : q.zero_point[c];
        // real = scale * (q - zero_point), computed in double then rounded once to float. The difference is taken
        // in double: exact for every real zero point, and no int64 overflow for a hostile one (e.g. INT64_MIN).
        out[size_t(i)] = float(double(q.scale[c]) * (double(raw_int(p, t.type, i)) - double(zp)));
    }
    return out;
}

}  // namespace ec
