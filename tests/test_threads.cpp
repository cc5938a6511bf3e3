// Thread safety, as nn/graph.h promises: a built Graph is immutable and holds no run state, so several threads
// may explain at once on ONE shared const Graph, each with its own Session, and separately loaded models do not
// interfere. Every thread's result must equal the single-threaded result bit for bit (same inputs, same code
// path; OpenMP splits work the same way in every thread, so even the summation order is the same).
// Run once under ThreadSanitizer by hand (see the hostile-input report); with OMP_NUM_THREADS=1 there, since
// libgomp is not TSan-instrumented and its barriers are reported as false races.
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cam/explain.h"
#include "io/npy.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

const char* kModel = "mobilenet_v1_0.75_192_quant";
const char* kImages[] = {"cat", "n03908714_pencil_sharpener"};

struct Outcome {
    std::vector<int> classes;
    std::vector<std::vector<float>> maps;  // raw map of every method, per explained row
    std::vector<std::vector<float>> weights;
};

// Explains `input` (batch 1) for its top-1 class and for class 1 (two rows), with all five methods.
Outcome explain_once(const Model& m, Session& s, const Tensor& input) {
    Tensor batch(input.shape.with_batch(2));
    std::copy(input.data.begin(), input.data.end(), batch.data.begin());
    std::copy(input.data.begin(), input.data.end(), batch.data.begin() + input.numel());
    ExplainOptions opt;
    opt.target = default_cam_target(m.graph, m.logits);
    Outcome o;
    for (const ImageExplanation& e : explain(m.graph, s, m.logits, batch, {-1, 1}, opt)) {
        o.classes.push_back(e.cls);
        for (const CamResult& r : e.results) {
            o.maps.push_back(r.raw.values);
            o.weights.push_back(r.weights);
        }
    }
    return o;
}

bool same_bits(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].size() != b[i].size() || (!a[i].empty() && std::memcmp(a[i].data(), b[i].data(), a[i].size() * 4) != 0))
            return false;
    return true;
}

}  // namespace

TEST_CASE("threads: concurrent explains on one shared const Graph and on separately loaded models match one thread exactly" * ec::test::needs_shared()) {
    const Model& shared = test::imported_model(kModel);
    test::TempDir tmp;
    save_model(shared, tmp.path + "/m.ecw");
    std::vector<Tensor> inputs;
    for (const char* image : kImages)
        inputs.push_back(read_npy_tensor(test::shared_path(std::string("reference/") + kModel + "/" + image + "/input.npy")));

    // The single-threaded results.
    std::vector<Outcome> want;
    {
        Session s;
        for (const Tensor& in : inputs) want.push_back(explain_once(shared, s, in));
    }
    REQUIRE(want[0].maps.size() == 10);  // 2 rows x 5 methods

    // Thread t explains image t % 2, twice in a row with one Session; odd threads use their own loaded copy.
    const int kThreads = 4;
    std::vector<Outcome> got(kThreads * 2);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> pool;
    for (int t = 0; t < kThreads; ++t) {
        pool.emplace_back([&, t] {
            try {
                Model own;
                if (t % 2) own = load_model(tmp.path + "/m.ecw");
                const Model& m = t % 2 ? own : shared;
                Session s;
                for (int k = 0; k < 2; ++k) got[size_t(2 * t + k)] = explain_once(m, s, inputs[size_t(t % 2)]);
            } catch (const std::exception& e) {
                errors[size_t(t)] = e.what();
            }
        });
    }
    for (std::thread& th : pool) th.join();
    for (int t = 0; t < kThreads; ++t) {
        CAPTURE(t);
        CHECK(errors[size_t(t)].empty());
        for (int k = 0; k < 2; ++k) {
            const Outcome& g = got[size_t(2 * t + k)];
            const Outcome& w = want[size_t(t % 2)];
            CHECK(g.classes == w.classes);
            CHECK(same_bits(g.maps, w.maps));
            CHECK(same_bits(g.weights, w.weights));
        }
    }
}
