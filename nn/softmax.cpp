// Softmax and softmax cross-entropy, forward and backward, as templates instantiated for float (the product) and
// double (the gradient checks). Rows are independent; sums are accumulated in double for both.
#include "nn/softmax.h"
#include "nn/parallel.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>

namespace ec {
namespace {

// logsumexp of one row, shifted by its maximum so exp never overflows: m + log sum_j exp(x_j - m).
template <typename T>
double log_sum_exp(const T* x, int classes) {
    const double m = double(*std::max_element(x, x + classes));
    double sum = 0;
    for (int k = 0; k < classes; ++k) sum += std::exp(double(x[k]) - m);
    return m + std::log(sum);
}

template <typename T>
void softmax_forward_t(T* out, const T* in, int rows, int classes) {
#pragma omp parallel for schedule(static) if (int64_t(rows) * classes >= kParallelMin)
    for (int r = 0; r < rows; ++r) {
        const T* x = in + int64_t(r) * classes;
        T* y = out + int64_t(r) * classes;
        const T m = *std::max_element(x, x + classes);
        double sum = 0;
        for (int k = 0; k < classes; ++k) {
            y[k] = std::exp(x[k] - m);
            sum += double(y[k]);
        }
        const T inv = T(1.0 / sum);
        for (int k = 0; k < classes; ++k) y[k] *= inv;
    }
}

// d_in_k += y_k (d_out_k - sum_j d_out_j y_j): the softmax Jacobian diag(y) - y y^T applied to d_out.
template <typename T>
void softmax_backward_t(T* d_in, const T* d_out, const T* out, int rows, int classes) {
#pragma omp parallel for schedule(static) if (int64_t(rows) * classes >= kParallelMin)
    for (int r = 0; r < rows; ++r) {
        const T* y = out + int64_t(r) * classes;
        const T* dy = d_out + int64_t(r) * classes;
        T* dx = d_in + int64_t(r) * classes;
        double dot = 0;
        for (int k = 0; k < classes; ++k) dot += double(dy[k]) * double(y[k]);
        for (int k = 0; k < classes; ++k) dx[k] += y[k] * (dy[k] - T(dot));
    }
}

// loss_r = -sum_k t_k log p_k = sum_k t_k (lse - x_k): no log of a probability that may underflow to 0.
template <typename T>
void softmax_cross_entropy_forward_t(T* loss, const T* logits, const T* target, int rows, int classes) {
    for (int r = 0; r < rows; ++r) {
        const T* x = logits + int64_t(r) * classes;
        const T* t = target + int64_t(r) * classes;
        const double lse = log_sum_exp(x, classes);
        double sum = 0;
        for (int k = 0; k < classes; ++k)
            if (t[k] != T(0)) sum += double(t[k]) * (lse - double(x[k]));
        loss[r] = T(sum);
    }
}

// d loss_r / d x_k = -t_k + p_k * sum_j t_j  (differentiate sum_j t_j lse - sum_j t_j x_j; d lse / d x_k = p_k).
template <typename T>
void softmax_cross_entropy_backward_t(T* d_logits, const T* d_loss, const T* logits, const T* target, int rows,
                                      int classes) {
    for (int r = 0; r < rows; ++r) {
        const T* x = logits + int64_t(r) * classes;
        const T* t = target + int64_t(r) * classes;
        T* dx = d_logits + int64_t(r) * classes;
        const double lse = log_sum_exp(x, classes);
        double target_sum = 0;
        for (int k = 0; k < classes; ++k) target_sum += double(t[k]);
        for (int k = 0; k < classes; ++k) {
            const double p = std::exp(double(x[k]) - lse);
            dx[k] += T(double(d_loss[r]) * (p * target_sum - double(t[k])));
        }
    }
}

}  // namespace

void softmax_forward(float* out, const float* in, int rows, int classes) { softmax_forward_t(out, in, rows, classes); }
void softmax_backward(float* d_in, const float* d_out, const float* out, int rows, int classes) {
    softmax_backward_t(d_in, d_out, out, rows, classes);
}
void softmax_cross_entropy_forward(float* loss, const float* logits, const float* target, int rows, int classes) {
    softmax_cross_entropy_forward_t(loss, logits, target, rows, classes);
}
void softmax_cross_entropy_backward(float* d_logits, const float* d_loss, const float* logits, const float* target,
                                    int rows, int classes) {
    softmax_cross_entropy_backward_t(d_logits, d_loss, logits, target, rows, classes);
}

void softmax_forward(double* out, const double* in, int rows, int classes) { softmax_forward_t(out, in, rows, classes); }
void softmax_backward(double* d_in, const double* d_out, const double* out, int rows, int classes) {
    softmax_backward_t(d_in, d_out, out, rows, classes);
}
void softmax_cross_entropy_forward(double* loss, const double* logits, const double* target, int rows,
                                   int classes) {
    softmax_cross_entropy_forward_t(loss, logits, target, rows, classes);
}
void softmax_cross_entropy_backward(double* d_logits, const double* d_loss, const double* logits,
                                    const double* target, int rows, int classes) {
    softmax_cross_entropy_backward_t(d_logits, d_loss, logits, target, rows, classes);
}

}  // namespace ec

namespace ec {
namespace {

// The [N, K] row n of a logits value; Error when there is none.
const float* logits_row(const Tensor& logits, int n, int& classes, const char* what) {
    if (logits.shape.rank < 1 || n < 0 || n >= (logits.shape.rank > 1 ? logits.shape[0] : 1))
        throw Error(std::string(what) + ": no row " + std::to_string(n) + " in logits " + logits.shape.str());
    classes = logits.shape[logits.shape.rank - 1];
    return logits.ptr() + int64_t(n) * classes;
}

}  // namespace

std::vector<double> softmax_row(const Tensor& logits, int n) {
    int k = 0;
    const float* row = logits_row(logits, n, k, "softmax_row");
    const double top = *std::max_element(row, row + k);
    std::vector<double> p(static_cast<size_t>(k));
    double sum = 0;
    for (int i = 0; i < k; ++i) sum += p[size_t(i)] = std::exp(double(row[i]) - top);
    for (double& v : p) v /= sum;
    return p;
}

std::vector<int> top_k(const Tensor& logits, int n, int k) {
    if (k < 0) throw Error("top_k: asked for " + std::to_string(k) + " classes");
    int classes = 0;
    const float* row = logits_row(logits, n, classes, "top_k");
    std::vector<int> idx(static_cast<size_t>(classes));
    std::iota(idx.begin(), idx.end(), 0);
    k = std::min(k, classes);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int a, int b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    idx.resize(size_t(k));
    return idx;
}

}  // namespace ec
