#include "nn/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "nn/error.h"
#include "nn/splitmix64.h"

namespace ec {

void he_init(Graph& g, uint64_t seed) {
    SplitMix64 rng(seed);
    for (Param& p : g.params) {
        if (p.external) continue;
        float* w = p.mutable_data();
        const int64_t n = p.shape.numel();
        if (p.shape.rank < 2) {
            std::fill(w, w + n, 0.0f);
            continue;
        }
        const int64_t fan_in = n / p.shape[p.shape.rank - 1];
        const double sd = std::sqrt(2.0 / double(fan_in));  // He et al. 2015, eq. 10: Var[w] = 2 / n_l
        for (int64_t i = 0; i < n; ++i) w[i] = float(sd * rng.normal());
    }
}

float learning_rate_at(const TrainOptions& opt, int64_t step, int64_t total) {
    const int64_t warm = std::min<int64_t>(opt.warmup_steps, std::max<int64_t>(total - 1, 0));
    if (step < warm) return opt.learning_rate * float(step + 1) / float(warm);
    const double t = total > warm ? double(step - warm) / double(total - warm) : 1.0;
    return float(opt.learning_rate * 0.5 * (1.0 + std::cos(3.141592653589793 * t)));
}

void sgd_momentum_step(Graph& g, const Session& s, std::vector<Tensor>& velocity, float learning_rate,
                       float momentum, float weight_decay) {
    if (velocity.size() != g.params.size()) velocity.assign(g.params.size(), Tensor());
    for (size_t i = 0; i < g.params.size(); ++i) {
        if (i >= s.param_grads.size() || s.param_grads[i].data.empty() || g.params[i].external) continue;
        Param& p = g.params[i];
        const Tensor& grad = s.param_grads[i];
        Tensor& v = velocity[i];
        if (v.data.empty()) v = Tensor(p.shape);
        float* w = p.mutable_data();
        const float wd = p.shape.rank >= 2 ? weight_decay : 0.0f;
        for (int64_t k = 0; k < v.numel(); ++k) {
            v[k] = momentum * v[k] + grad[k] + wd * w[k];
            w[k] -= learning_rate * v[k];
        }
    }
}

namespace {

void check_set(const Graph& g, const TrainGraph& tg, const TrainSet& set, const char* what) {
    const Shape in = g.tensors[size_t(tg.image)].shape;
    const int classes = g.tensors[size_t(tg.target)].shape[1];
    if (in.rank != 4 || in.h() != set.height || in.w() != set.width || in.c() != set.channels)
        throw Error(std::string(what) + " images are " + std::to_string(set.height) + "x" + std::to_string(set.width) +
                    "x" + std::to_string(set.channels) + ", the graph's input is " + in.str());
    if (set.labels.size() != size_t(set.count) ||
        set.pixels.size() != size_t(set.count) * size_t(set.height) * size_t(set.width) * size_t(set.channels))
        throw Error(std::string(what) + " set: pixel or label count does not match its image count");
    for (int l : set.labels)
        if (l < 0 || l >= classes)
            throw Error(std::string(what) + " set: label " + std::to_string(l) + " is not in 0.." + std::to_string(classes - 1));
}

// Fills images [n, H, W, C] and one-hot targets [n, classes] from set[order[begin..begin + n)].
void fill_batch(const TrainSet& set, const Preprocessing& pre, const std::vector<int>& order, size_t begin, int n,
                int classes, Tensor& images, Tensor& target) {
    const size_t per = size_t(set.height) * size_t(set.width) * size_t(set.channels);
    images.reshape_storage(Shape{n, set.height, set.width, set.channels});
    target.reshape_storage(Shape{n, classes});
    target.fill(0.0f);
    for (int r = 0; r < n; ++r) {
        const size_t idx = size_t(order[begin + size_t(r)]);
        const uint8_t* src = &set.pixels[idx * per];
        float* dst = images.ptr() + size_t(r) * per;
        for (size_t k = 0; k < per; ++k) dst[k] = float(double(src[k]) * pre.scale) + pre.offset;
        target[int64_t(r) * classes + set.labels[idx]] = 1.0f;
    }
}

// Sums of the per-row loss and of correct top-1 predictions of the batch just run forward.
void batch_scores(const Session& s, const TrainGraph& tg, const Tensor& target, double& loss, int& correct) {
    const Tensor& logits = s.values[size_t(tg.logits)];
    const Tensor& losses = s.values[size_t(tg.loss)];
    const int n = logits.shape[0], k = logits.shape[1];
    for (int r = 0; r < n; ++r) {
        loss += losses[r];
        const float* row = logits.ptr() + int64_t(r) * k;
        const int best = int(std::max_element(row, row + k) - row);
        correct += target[int64_t(r) * k + best] == 1.0f;
    }
}

}  // namespace

void evaluate_set(const Graph& g, Session& s, const TrainGraph& tg, const TrainSet& set, const Preprocessing& pre,
                  int batch, double& loss, double& accuracy) {
    check_set(g, tg, set, "test");
    const int classes = g.tensors[size_t(tg.target)].shape[1];
    std::vector<int> order(size_t(set.count));
    for (int i = 0; i < set.count; ++i) order[size_t(i)] = i;
    Tensor images, target;
    double sum = 0;
    int correct = 0;
    for (int b = 0; b < set.count; b += batch) {
        const int n = std::min(batch, set.count - b);
        fill_batch(set, pre, order, size_t(b), n, classes, images, target);
        forward(g, s, {&images, &target});
        batch_scores(s, tg, target, sum, correct);
    }
    loss = set.count ? sum / set.count : std::nan("");
    accuracy = set.count ? double(correct) / set.count : std::nan("");
}

std::vector<EpochStats> train_classifier(Graph& g, const TrainGraph& tg, const TrainSet& train, const TrainSet* test,
                                         const Preprocessing& pre, const TrainOptions& opt,
                                         const TrainCallbacks& callbacks) {
    check_set(g, tg, train, "training");
    if (test) check_set(g, tg, *test, "test");
    if (opt.batch < 1 || opt.epochs < 1 || train.count < 1) throw Error("training needs batch >= 1, epochs >= 1 and images");
    const int classes = g.tensors[size_t(tg.target)].shape[1];
    const int64_t steps_per_epoch = (train.count + opt.batch - 1) / opt.batch;
    const int64_t total = steps_per_epoch * opt.epochs;
    SplitMix64 rng(opt.seed);
    std::vector<int> order(size_t(train.count));
    for (int i = 0; i < train.count; ++i) order[size_t(i)] = i;
    Session s;
    std::vector<Tensor> velocity;
    Tensor images, target;
    std::vector<EpochStats> history;
    int64_t step = 0;
    for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
        const auto start = std::chrono::steady_clock::now();
        for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[size_t(rng.below(int(i + 1)))]);  // Fisher-Yates
        double loss_sum = 0;
        int correct = 0, seen = 0;
        float lr = 0;
        for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
            const int n = int(std::min<int64_t>(opt.batch, train.count - b * opt.batch));
            fill_batch(train, pre, order, size_t(b * opt.batch), n, classes, images, target);
            forward(g, s, {&images, &target});
            batch_scores(s, tg, target, loss_sum, correct);
            seen += n;
            BackwardRequest req;
            req.from = tg.loss;
            req.seed = Tensor(Shape{n}, std::vector<float>(size_t(n), 1.0f / float(n)));  // d(mean loss)/d(loss_i)
            req.stop_at = {};
            req.param_grads = true;
            req.stop_at.push_back(tg.image);
            backward(g, s, req);
            lr = learning_rate_at(opt, step, total);
            sgd_momentum_step(g, s, velocity, lr, opt.momentum, opt.weight_decay);
            if (callbacks.on_step) callbacks.on_step({epoch, step + 1, total, loss_sum / seen, double(correct) / seen});
        }
        EpochStats e;
        e.epoch = epoch;
        e.learning_rate = lr;
        e.train_loss = loss_sum / seen;
        e.train_accuracy = double(correct) / seen;
        e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        e.test_loss = e.test_accuracy = std::nan("");
        if (test) evaluate_set(g, s, tg, *test, pre, opt.batch, e.test_loss, e.test_accuracy);
        history.push_back(e);
        if (callbacks.on_epoch) callbacks.on_epoch(e);
    }
    return history;
}

}  // namespace ec
