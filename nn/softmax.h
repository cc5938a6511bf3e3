// Softmax over the last dimension and the softmax cross-entropy loss. Backward accumulates (+=).
#pragma once

namespace ec {

// Numerically stable: subtracts the row maximum before exp.
void softmax_forward(float* out, const float* in, int rows, int classes);
// d_in += y * (d_out - sum_k d_out_k y_k) with y the softmax output.
void softmax_backward(float* d_in, const float* d_out, const float* out, int rows, int classes);

// loss[r] = -sum_k target[r,k] * log softmax(logits[r])_k  (target rows are probability vectors, e.g. one-hot).
void softmax_cross_entropy_forward(float* loss, const float* logits, const float* target, int rows, int classes);
// d_logits += d_loss[r] * (softmax(logits[r]) - target[r]) * sum_k target[r,k] ... see .cpp for the exact form.
void softmax_cross_entropy_backward(float* d_logits, const float* d_loss, const float* logits, const float* target,
                                    int rows, int classes);

}  // namespace ec
