#include "cam/eval/evaluate.h"

#include <cmath>
#include <cstring>
#include <string>

#include "nn/forward_plan.h"

namespace ec {

namespace {

// Collects images into one [batch, H, W, C] buffer and, when it is full (or on flush), runs them through the
// network at once, writing each image's class probability to the place given when it was added. The forward
// runs keep only the logits (a plan made once), so a batch holds a few layers' activations at a time, and the
// session's buffers are reused from batch to batch.
class ProbabilityBatcher {
public:
    ProbabilityBatcher(const Graph& g, Session& s, int logits, int cls, const Shape& image_shape, int capacity)
        : g_(g), s_(s), logits_(logits), cls_(cls), image_floats_(image_shape.numel()), capacity_(capacity),
          to_logits_(plan_forward(g, {logits})), buffer_(image_shape.with_batch(capacity)) {}

    // Queues a copy of `image` (image_floats floats); `*out` receives its probability by the next flush.
    void add(const float* image, double* out) {
        std::memcpy(buffer_.ptr() + int64_t(count_) * image_floats_, image, sizeof(float) * size_t(image_floats_));
        outputs_[size_t(count_)] = out;
        if (++count_ == capacity_) flush();
    }
    void add(const float* image, float* out) {
        float_outputs_.push_back({count_, out});
        add(image, &pending_[size_t(count_)]);
    }

    void flush() {
        if (count_ == 0) return;
        if (count_ == capacity_) {
            forward(g_, s_, to_logits_, {&buffer_});
        } else {  // the last, partial batch of an image
            part_.reshape_storage(buffer_.shape.with_batch(count_));
            std::memcpy(part_.ptr(), buffer_.ptr(), sizeof(float) * size_t(part_.numel()));
            forward(g_, s_, to_logits_, {&part_});
        }
        const Tensor& logits = s_.values[size_t(logits_)];
        for (int i = 0; i < count_; ++i) *outputs_[size_t(i)] = class_probability(logits, i, cls_);
        for (auto& [slot, out] : float_outputs_) *out = float(pending_[size_t(slot)]);
        float_outputs_.clear();
        count_ = 0;
    }

private:
    const Graph& g_;
    Session& s_;
    int logits_, cls_;
    int64_t image_floats_;
    int capacity_;
    ForwardPlan to_logits_;
    Tensor buffer_, part_;
    int count_ = 0;
    std::vector<double*> outputs_ = std::vector<double*>(size_t(capacity_));
    std::vector<double> pending_ = std::vector<double>(size_t(capacity_));  // for float outputs
    std::vector<std::pair<int, float*>> float_outputs_;
};

void check_single_input(const Graph& g, const Tensor& input) {
    if (g.inputs.size() != 1)
        throw Error("evaluate: the graph must have exactly one input, it has " + std::to_string(g.inputs.size()));
    if (input.shape.rank != 4 || input.shape.n() != 1)
        throw Error("evaluate: expects one 1 x H x W x C input, got " + input.shape.str());
}

// Queues the interior points 1..steps-1 of a curve that starts from `start` and copies pixels of `source` in
// `order`; points 0 and `steps` are shared by every map and filled by the caller.
void queue_curve(ProbabilityBatcher& batcher, const Tensor& start, const Tensor& source, const std::vector<int32_t>& order,
                 int steps, std::vector<float>& curve) {
    const int64_t pixels = int64_t(order.size());
    const int channels = start.shape.c();
    Tensor work = start;
    int64_t done = 0;
    for (int step = 1; step < steps; ++step) {
        const int64_t next = pixels_changed_after(pixels, steps, step);
        copy_pixels(work.ptr(), source.ptr(), order.data(), done, next, channels);
        done = next;
        batcher.add(work.ptr(), &curve[size_t(step)]);
    }
}

// ROAD of every map not marked as a copy: its imputed images go through the same session, scored for the
// same class.
void add_road_scores(const Graph& g, Session& s, int logits, const Tensor& input, int cls, const std::vector<Heatmap>& maps,
                     const std::vector<int>& copy_of, const RoadOptions& options, std::vector<MapScores>& scores) {
    const ForwardPlan to_logits = plan_forward(g, {logits});
    const ClassScoreFn probabilities = [&](const Tensor& batch, std::vector<float>& out) {
        forward(g, s, to_logits, {&batch});
        out.resize(size_t(batch.shape.n()));
        for (int r = 0; r < batch.shape.n(); ++r) out[size_t(r)] = float(class_probability(s.values[size_t(logits)], r, cls));
    };
    for (size_t m = 0; m < maps.size(); ++m) {
        if (copy_of[m] >= 0) continue;
        const RoadResult road = road_evaluate(input, maps[m], probabilities, options);
        scores[m].road_morf = road.road_morf;
        scores[m].road_lerf = road.road_lerf;
    }
}

// copy_of[m]: the first earlier map equal to map m (same size, same values bit for bit, e.g. Grad-CAM, HiResCAM
// and XGrad-CAM where the gradient is constant over space), whose scores it gets; -1 for a map scored itself.
std::vector<int> first_equal_maps(const std::vector<Heatmap>& maps) {
    std::vector<int> copy_of(maps.size(), -1);
    for (size_t m = 0; m < maps.size(); ++m)
        for (size_t e = 0; e < m && copy_of[m] < 0; ++e)
            if (copy_of[e] < 0 && maps[e].h == maps[m].h && maps[e].w == maps[m].w &&
                std::memcmp(maps[e].values.data(), maps[m].values.data(), sizeof(float) * maps[m].values.size()) == 0)
                copy_of[m] = int(e);
    return copy_of;
}

}  // namespace

MapScores::MapScores()
    : deletion_auc(std::nan("")), insertion_auc(std::nan("")), prob_masked(std::nan("")),
      average_drop(std::nan("")), increase(std::nan("")), pointing(std::nan("")), pointing_hit(std::nan("")),
      road_morf(std::nan("")), road_lerf(std::nan("")) {}

double class_probability(const Tensor& logits, int n, int cls) {
    if (logits.shape.rank != 2 || n < 0 || n >= logits.shape[0] || cls < 0 || cls >= logits.shape[1])
        throw Error("class_probability: row " + std::to_string(n) + ", class " + std::to_string(cls) +
                    " outside logits " + logits.shape.str());
    const int k = logits.shape[1];
    const float* row = logits.ptr() + int64_t(n) * k;
    double max = row[0];
    for (int j = 1; j < k; ++j) max = std::max(max, double(row[j]));
    double sum = 0;
    for (int j = 0; j < k; ++j) sum += std::exp(double(row[j]) - max);
    return std::exp(double(row[cls]) - max) / sum;
}

ClassScore score_clean(const Graph& g, Session& s, int logits, const Tensor& input, int requested_class) {
    check_single_input(g, input);
    forward_until(g, s, {&input}, logits);
    const Tensor& out = s.values[size_t(logits)];
    if (out.shape.rank != 2) throw Error("score_clean: logits tensor must be [N, K], got " + out.shape.str());
    const int k = out.shape[1];
    if (requested_class >= k)
        throw Error("class " + std::to_string(requested_class) + " is out of range: the model has " + std::to_string(k) +
                    " outputs");
    ClassScore r;
    r.cls = requested_class;
    if (r.cls < 0) {
        r.cls = 0;
        for (int j = 1; j < k; ++j)
            if (out[j] > out[r.cls]) r.cls = j;
    }
    r.prob = class_probability(out, 0, r.cls);
    return r;
}

std::vector<MapScores> evaluate_maps(const Graph& g, Session& s, int logits, const Tensor& input,
                                     const ClassScore& clean, const std::vector<Heatmap>& maps, const Mask* mask,
                                     const EvaluateOptions& options) {
    check_single_input(g, input);
    if (options.steps < 1 || options.batch < 1)
        throw Error("evaluate: steps and batch must be >= 1, got " + std::to_string(options.steps) + " and " +
                    std::to_string(options.batch));
    const int h = input.shape.h(), w = input.shape.w(), n = options.steps;
    for (const Heatmap& m : maps)
        if (m.h != h || m.w != w)
            throw Error("evaluate: a map is " + std::to_string(m.h) + "x" + std::to_string(m.w) + ", the input " +
                        input.shape.str());
    if (mask && (mask->h != h || mask->w != w))
        throw Error("evaluate: the mask is " + std::to_string(mask->h) + "x" + std::to_string(mask->w) +
                    ", the input " + input.shape.str() + " (resize it first)");

    ProbabilityBatcher batcher(g, s, logits, clean.cls, input.shape.with_batch(1), options.batch);
    const Tensor substrate(input.shape);  // Deletion: zeros of the normalised input (mid-grey)
    const Tensor blurred = options.insertion ? gaussian_blur(input) : Tensor();
    double prob_substrate = 0, prob_blurred = 0;  // the curve ends every map shares
    if (options.deletion) batcher.add(substrate.ptr(), &prob_substrate);
    if (options.insertion) batcher.add(blurred.ptr(), &prob_blurred);

    std::vector<MapScores> scores(maps.size());
    const std::vector<int> copy_of = first_equal_maps(maps);  // equal maps are scored once
    for (size_t m = 0; m < maps.size(); ++m) {
        if (copy_of[m] >= 0) continue;
        MapScores& sc = scores[m];
        const std::vector<int32_t> order =
            options.deletion || options.insertion ? pixel_order(maps[m]) : std::vector<int32_t>();
        if (options.deletion) {
            sc.deletion_curve.assign(size_t(n) + 1, 0.0f);
            queue_curve(batcher, input, substrate, order, n, sc.deletion_curve);
        }
        if (options.insertion) {
            sc.insertion_curve.assign(size_t(n) + 1, 0.0f);
            queue_curve(batcher, blurred, input, order, n, sc.insertion_curve);
        }
        if (options.average_drop) {
            const Tensor masked = multiply_by_map(input, maps[m]);  // the batcher copies it
            batcher.add(masked.ptr(), &sc.prob_masked);
        }
        if (mask) {
            sc.pointing = energy_pointing_game(maps[m], *mask);
            sc.pointing_hit = pointing_hit(maps[m], *mask);
        }
    }
    batcher.flush();

    for (size_t m = 0; m < maps.size(); ++m) {
        if (copy_of[m] >= 0) continue;
        MapScores& sc = scores[m];
        if (options.deletion) {
            sc.deletion_curve.front() = float(clean.prob);
            sc.deletion_curve.back() = float(prob_substrate);
            sc.deletion_auc = trapezoid_auc(sc.deletion_curve);
        }
        if (options.insertion) {
            sc.insertion_curve.front() = float(prob_blurred);
            sc.insertion_curve.back() = float(clean.prob);
            sc.insertion_auc = trapezoid_auc(sc.insertion_curve);
        }
        if (options.average_drop) {
            sc.average_drop = average_drop_term(clean.prob, sc.prob_masked);
            sc.increase = increase_term(clean.prob, sc.prob_masked);
        }
    }
    if (options.road) add_road_scores(g, s, logits, input, clean.cls, maps, copy_of, options.road_options, scores);
    for (size_t m = 0; m < maps.size(); ++m)
        if (copy_of[m] >= 0) scores[m] = scores[size_t(copy_of[m])];
    return scores;
}

}  // namespace ec
