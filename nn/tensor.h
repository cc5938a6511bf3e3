// Shapes and dense float32 tensors. Activations are NHWC; dimension 0 is always the batch.
// A Tensor owns its data; model parameters may instead point into a mapped weight file (see graph.h).
#pragma once
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "nn/error.h"

namespace ec {

constexpr int kMaxRank = 4;
// Largest element count any one tensor may have (1 Gi floats = 4 GiB); shape products are checked against it.
constexpr int64_t kMaxTensorElements = int64_t(1) << 30;

struct Shape {
    int rank = 0;
    int dim[kMaxRank] = {1, 1, 1, 1};

    Shape() = default;
    Shape(std::initializer_list<int> dims);
    int operator[](int i) const { return dim[i]; }
    int& operator[](int i) { return dim[i]; }
    // Product of the dimensions; throws Error if a dimension is negative or the product exceeds kMaxTensorElements.
    int64_t numel() const;
    bool operator==(const Shape& o) const;
    bool operator!=(const Shape& o) const { return !(*this == o); }
    std::string str() const;  // "[1,224,224,3]"
    // NHWC accessors for rank-4 shapes.
    int n() const { return dim[0]; }
    int h() const { return dim[1]; }
    int w() const { return dim[2]; }
    int c() const { return dim[rank - 1]; }
    Shape with_batch(int n) const { Shape s = *this; s.dim[0] = n; return s; }
};

// std::allocator, except that blocks are 64-byte aligned and resize() leaves new floats uninitialised instead of
// zeroing them: a run's value buffers are reused at changing sizes (nn/forward_plan.h), and zero-filling each
// regrowth cost 3-5 % of the forward. Everything that reads a value writes it first; Tensor(shape) and
// assign/insert still initialise.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
    template <class U>
    struct rebind { using other = UninitializedAllocator<U>; };
    UninitializedAllocator() = default;
    template <class U>
    UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
    // 64-byte aligned (a cache line): malloc aligns large blocks to 16 bytes only, and then half of the 32-byte
    // vector loads and stores of every kernel straddle two cache lines.
    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
    void deallocate(T* p, size_t) noexcept { ::operator delete(p, std::align_val_t(64)); }
    template <class U>
    void construct(U* p) noexcept { ::new (static_cast<void*>(p)) U; }  // default-initialisation: no zeroing
    template <class U, class... Args>
    void construct(U* p, Args&&... args) { ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...); }
};
using FloatBuffer = std::vector<float, UninitializedAllocator<float>>;
using ByteBuffer = std::vector<uint8_t, UninitializedAllocator<uint8_t>>;  // gate masks (nn/gate_mask.h)

struct Tensor {
    Shape shape;
    FloatBuffer data;

    Tensor() = default;
    explicit Tensor(const Shape& s) : shape(s), data(size_t(s.numel()), 0.0f) {}
    Tensor(const Shape& s, const std::vector<float>& values);
    int64_t numel() const { return int64_t(data.size()); }
    float* ptr() { return data.data(); }
    const float* ptr() const { return data.data(); }
    float& operator[](int64_t i) { return data[size_t(i)]; }
    float operator[](int64_t i) const { return data[size_t(i)]; }
    // Resizes to s, keeping capacity (no allocation once a run has seen its largest shape); contents unspecified.
    void reshape_storage(const Shape& s);
    void fill(float v);
};

}  // namespace ec
