// Softmax over the last dimension and the softmax cross-entropy loss. Backward accumulates (+=).
#pragma once
#include <vector>

#include "nn/tensor.h"

namespace ec {

// y[r,k] = exp(x[r,k] - m_r) / sum_j exp(x[r,j] - m_r), m_r = max_j x[r,j] (subtracting it keeps exp finite).
void softmax_forward(float* out, const float* in, int rows, int classes);
// d_in += y * (d_out - sum_k d_out_k y_k) with y the softmax output (the Jacobian diag(y) - y y^T applied).
void softmax_backward(float* d_in, const float* d_out, const float* out, int rows, int classes);

// loss[r] = -sum_k target[r,k] * log softmax(logits[r])_k  (target rows are probability vectors, e.g. one-hot),
// computed as sum_k target[r,k] * (logsumexp(logits[r]) - logits[r,k]) so no log of a tiny probability is taken.
void softmax_cross_entropy_forward(float* loss, const float* logits, const float* target, int rows, int classes);
// d_logits[r,k] += d_loss[r] * (softmax(logits[r])_k * sum_j target[r,j] - target[r,k]).
// (With targets that sum to 1 this is the familiar softmax - target.) No gradient flows to target.
void softmax_cross_entropy_backward(float* d_logits, const float* d_loss, const float* logits, const float* target,
                                    int rows, int classes);

// The same kernels in double, for the finite-difference gradient checks of the tests.
void softmax_forward(double* out, const double* in, int rows, int classes);
void softmax_backward(double* d_in, const double* d_out, const double* out, int rows, int classes);
void softmax_cross_entropy_forward(double* loss, const double* logits, const double* target, int rows,
                                   int classes);
void softmax_cross_entropy_backward(double* d_logits, const double* d_loss, const double* logits,
                                    const double* target, int rows, int classes);

// The probabilities of row n of a [N, K] logits value, computed in double (max-subtracted, summed in index order):
// the one softmax that reports a class probability (explain, classify, evaluation). Error for n outside 0..N-1.
std::vector<double> softmax_row(const Tensor& logits, int n);
// The k best output indices of row n of a [N, K] value, by descending value (ties: lower index first); k is
// clamped to K. Error for k < 0 or n outside 0..N-1.
std::vector<int> top_k(const Tensor& logits, int n, int k);

}  // namespace ec
