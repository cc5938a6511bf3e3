// NumPy .npy files (format 1.0/2.0, little-endian, C order): read float32/float64/uint8/int32/int64 arrays as
// float32, write float32 arrays. Every header field is validated; a bad file throws Error naming the problem.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/tensor.h"

namespace ec {

// Largest .npy file read (bytes); larger files are refused before reading.
constexpr int64_t kMaxNpyBytes = int64_t(1) << 31;

struct NpyArray {
    std::vector<int64_t> shape;  // any rank
    std::vector<float> data;     // converted to float32
    std::string dtype;           // as stored, e.g. "<f4", "|u1"
};

NpyArray read_npy(const std::string& path);
NpyArray parse_npy(const uint8_t* bytes, size_t size);  // the same from memory (what the fuzzer drives)
// Reads an array of rank <= 4 as a Tensor.
Tensor read_npy_tensor(const std::string& path);

// Writes float32 data with the given shape. Writes to a temporary name and renames, so a reader never sees a
// half-written file.
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const Tensor& t);

}  // namespace ec
