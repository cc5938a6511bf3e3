#include "nn/tensor.h"

#include <algorithm>

namespace ec {

Shape::Shape(std::initializer_list<int> dims) {
    if (dims.size() > size_t(kMaxRank)) throw Error("shape has rank " + std::to_string(dims.size()) + ", at most 4 supported");
    rank = int(dims.size());
    int i = 0;
    for (int d : dims) dim[i++] = d;
}

int64_t Shape::numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) {
        if (dim[i] < 0) throw Error("shape " + str() + " has a negative dimension");
        n *= dim[i];
        if (n > kMaxTensorElements) throw Error("shape " + str() + " has more than 2^30 elements");
    }
    return n;
}

bool Shape::operator==(const Shape& o) const {
    if (rank != o.rank) return false;
    for (int i = 0; i < rank; ++i)
        if (dim[i] != o.dim[i]) return false;
    return true;
}

std::string Shape::str() const {
    std::string s = "[";
    for (int i = 0; i < rank; ++i) s += (i ? "," : "") + std::to_string(dim[i]);
    return s + "]";
}

Tensor::Tensor(const Shape& s, const std::vector<float>& values) : shape(s), data(values.begin(), values.end()) {
    if (int64_t(data.size()) != s.numel())
        throw Error("tensor of shape " + s.str() + " given " + std::to_string(data.size()) + " values");
}

void Tensor::reshape_storage(const Shape& s) {
    shape = s;
    data.resize(size_t(s.numel()));
}

void Tensor::fill(float v) { std::fill(data.begin(), data.end(), v); }

}  // namespace ec
