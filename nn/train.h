// Training a classifier graph with the hand-written backward pass: He initialisation, minibatch SGD with
// momentum and weight decay, a cosine learning-rate schedule with linear warm-up, data shuffled every epoch
// from a seeded generator. The library never prints: progress goes to a callback.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "nn/graph.h"
#include "nn/preprocessing.h"

namespace ec {

// He (Kaiming) normal initialisation for ReLU networks: every parameter of rank >= 2 (conv filters HWIO,
// FC weights [I, O]) gets N(0, 2 / fan_in) with fan_in = the product of all dimensions but the last; rank-1
// parameters (biases) get 0. Seeded, deterministic (splitmix64 + Box-Muller). Only owned parameters.
void he_init(Graph& g, uint64_t seed);

// Labelled u8 images in memory, NHWC, one label per image; converted to x = u8 * scale + offset per batch.
struct TrainSet {
    int count = 0, height = 0, width = 0, channels = 3;
    std::vector<uint8_t> pixels;  // count * height * width * channels
    std::vector<int> labels;      // count, each in 0..classes-1
};

struct TrainOptions {
    int epochs = 12;
    int batch = 32;
    float learning_rate = 0.05f;   // peak, reached after the warm-up
    float momentum = 0.9f;
    float weight_decay = 5e-4f;    // L2 on weights of rank >= 2 (not biases), added to their gradient
    int warmup_steps = 100;        // linear from 0 to learning_rate
    uint64_t seed = 1;             // shuffling
};

// The learning rate at `step` of `total` steps: linear warm-up, then cosine decay to 0:
//   lr * (step + 1) / warmup                                  for step < warmup,
//   lr * 0.5 * (1 + cos(pi * (step - warmup) / (total - warmup)))  after.
float learning_rate_at(const TrainOptions& opt, int64_t step, int64_t total);

// One SGD step with momentum and decoupled-from-nothing (classic L2) weight decay, for every owned parameter
// whose gradient the last backward computed: g = grad + wd * w (wd only for rank >= 2); v = momentum * v + g;
// w -= lr * v. `velocity` is sized on first use.
void sgd_momentum_step(Graph& g, const Session& s, std::vector<Tensor>& velocity, float learning_rate,
                       float momentum, float weight_decay);

// Which tensors of the training graph play which part. The graph has two inputs, in this order: the image
// batch [N, H, W, C] and the one-hot target [N, classes]; `loss` is a softmax_cross_entropy output [N].
struct TrainGraph {
    int image = -1, target = -1, logits = -1, loss = -1;
};

struct EpochStats {
    int epoch = 0;             // 1-based
    double learning_rate = 0;  // at the epoch's last step
    double train_loss = 0, train_accuracy = 0;  // running means over the epoch's batches
    double test_loss = 0, test_accuracy = 0;    // NaN without a test set
    double seconds = 0;        // of training (not testing) in this epoch
};

struct StepProgress {
    int epoch = 0;
    int64_t step = 0, total_steps = 0;
    double loss = 0, accuracy = 0;  // running means over the epoch so far
};

struct TrainCallbacks {
    std::function<void(const StepProgress&)> on_step;   // after every step (may be empty)
    std::function<void(const EpochStats&)> on_epoch;    // after every epoch (may be empty)
};

// Mean loss and accuracy of the graph on a set, in batches of `batch` (forward only).
void evaluate_set(const Graph& g, Session& s, const TrainGraph& tg, const TrainSet& set, const Preprocessing& pre,
                  int batch, double& loss, double& accuracy);

// Trains in place. Error if the sets do not match the graph's input shape or a label is out of range.
std::vector<EpochStats> train_classifier(Graph& g, const TrainGraph& tg, const TrainSet& train, const TrainSet* test,
                                         const Preprocessing& pre, const TrainOptions& opt,
                                         const TrainCallbacks& callbacks = {});

}  // namespace ec
