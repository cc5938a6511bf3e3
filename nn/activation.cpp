// ReLU and ReLU6, forward and backward, as one template instantiated for float (the product) and double (the
// gradient checks). The derivative is 0 at the kinks (x = 0, x = 6): the strict comparisons below say so.
#include "nn/activation.h"
#include "nn/parallel.h"

namespace ec {
namespace {

// The clamps are written as plain selects on a local copy, not std::max/std::min: those return a reference
// to a temporary, which GCC 12 vectorises with gathers, making ReLU6 half of MobileNetV2's forward time.
// The selects give bit-identical results (NaN passes through, as with std::max(x, 0)).
template <typename T>
void relu_forward_t(T* out, const T* in, int64_t n) {
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
        const T v = in[i];
        out[i] = v < T(0) ? T(0) : v;
    }
}

// Backward reads the output y (activation.h). The overwriting form must give what the accumulating one gives
// on a zero-filled buffer, +0 + term, bit for bit: that is the term, except that -0 becomes +0, hence the
// (g != 0) in its mask (false for -0; NaN passes).
// The operands are read into locals first and the mask combined with `&`: a conditional read or add, or a
// short-circuit &&, keeps GCC 12 from vectorising the loop (scalar branches, several times slower).
template <typename T>
void relu_backward_t(T* d_in, const T* d_out, const T* out, int64_t n, bool overwrite) {
    if (overwrite) {
#pragma omp parallel for simd if (n >= kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
            const T y = out[i], g = d_out[i];
            d_in[i] = ((y > T(0)) & (g != T(0))) ? g : T(0);
        }
    } else {
#pragma omp parallel for simd if (n >= kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
            const T y = out[i], g = d_out[i];
            d_in[i] += y > T(0) ? g : T(0);
        }
    }
}

template <typename T>
void relu6_forward_t(T* out, const T* in, int64_t n) {
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
        T v = in[i];
        v = v < T(0) ? T(0) : v;
        out[i] = T(6) < v ? T(6) : v;
    }
}

template <typename T>
void relu6_backward_t(T* d_in, const T* d_out, const T* out, int64_t n, bool overwrite) {
    if (overwrite) {
#pragma omp parallel for simd if (n >= kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
            const T y = out[i], g = d_out[i];
            d_in[i] = ((y > T(0)) & (y < T(6)) & (g != T(0))) ? g : T(0);
        }
    } else {
#pragma omp parallel for simd if (n >= kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
            const T y = out[i], g = d_out[i];
            d_in[i] += ((y > T(0)) & (y < T(6))) ? g : T(0);
        }
    }
}

}  // namespace

void relu_forward(float* out, const float* in, int64_t n) { relu_forward_t(out, in, n); }
void relu_backward(float* d_in, const float* d_out, const float* out, int64_t n, bool overwrite) {
    relu_backward_t(d_in, d_out, out, n, overwrite);
}
void relu6_forward(float* out, const float* in, int64_t n) { relu6_forward_t(out, in, n); }
void relu6_backward(float* d_in, const float* d_out, const float* out, int64_t n, bool overwrite) {
    relu6_backward_t(d_in, d_out, out, n, overwrite);
}

void relu_forward(double* out, const double* in, int64_t n) { relu_forward_t(out, in, n); }
void relu_backward(double* d_in, const double* d_out, const double* out, int64_t n, bool overwrite) {
    relu_backward_t(d_in, d_out, out, n, overwrite);
}
void relu6_forward(double* out, const double* in, int64_t n) { relu6_forward_t(out, in, n); }
void relu6_backward(double* d_in, const double* d_out, const double* out, int64_t n, bool overwrite) {
    relu6_backward_t(d_in, d_out, out, n, overwrite);
}

}  // namespace ec
