#include "cam/eval/sanity.h"

#include "cam/eval/metrics_baselines.h"

namespace ec {

const char* sanity_test_name(SanityTest t) {
    switch (t) {
        case SanityTest::Cascading: return "cascading";
        case SanityTest::Independent: return "independent";
        case SanityTest::ClassBottom: return "class_bottom";
        case SanityTest::ClassTop2: return "class_top2";
    }
    return "?";
}

SanityModels make_sanity_models(const Graph& g, uint64_t seed) {
    SanityModels m;
    m.blocks = param_blocks(g);
    const std::shared_ptr<const ReinitializedParams> values = reinitialize_params(g, seed);
    std::vector<int> cumulative;
    for (const ParamBlock& b : m.blocks) {
        cumulative.insert(cumulative.end(), b.params.begin(), b.params.end());
        m.cascading.push_back(graph_with_params(g, values, cumulative));
        m.independent.push_back(graph_with_params(g, values, b.params));
    }
    return m;
}

int bottom_half_class(const Tensor& logits, uint64_t class_seed) {
    const int k = logits.shape[logits.shape.rank - 1];
    if (k < 2) throw Error("a class sensitivity test needs at least 2 outputs");
    const std::vector<int> ranking = top_k(logits, 0, k);
    uint64_t state = class_seed;
    const uint64_t draw = splitmix64(state);
    return ranking[size_t(k / 2) + size_t(draw % uint64_t(k - k / 2))];
}

namespace {

struct Step {
    SanityTest test;
    std::string name;
    int depth;
};

// Compares the maps of one step's explanation with the original features, appending one row per method.
void compare_step(const ImageExplanation& ex, const std::vector<MapFeatures>& original, const Step& step,
                  const SanityOptions& opt, SanityResult& out) {
    for (size_t m = 0; m < ex.methods.size(); ++m) {
        MapFeatures f = map_features(ex.results[m].raw, opt.out_h, opt.out_w);
        out.comparisons.push_back({ex.methods[m], step.test, step.name, step.depth, ex.cls, compare_maps(original[m], f)});
        if (opt.keep_cascade_maps && step.test == SanityTest::Cascading) out.cascade_maps[m].push_back(std::move(f.display));
    }
}

}  // namespace

SanityResult run_sanity_checks(const Graph& g, const SanityModels& models, Session& s, int logits,
                               const Tensor& input, uint64_t class_seed, const SanityOptions& opt) {
    if (opt.out_h < 1 || opt.out_w < 1) throw Error("sanity checks: the comparison size is not set");
    SanityResult out;
    const ImageExplanation original = explain(g, s, logits, input, {-1}, opt.explain)[0];
    const Tensor clean_logits = s.values[size_t(logits)];
    out.cls = original.cls;
    out.prob = original.prob;
    out.methods = original.methods;
    std::vector<MapFeatures> features;
    for (const CamResult& r : original.results) features.push_back(map_features(r.raw, opt.out_h, opt.out_w));
    if (opt.keep_cascade_maps)
        for (const MapFeatures& f : features) out.cascade_maps.push_back({f.display});

    for (size_t b = 0; b < models.blocks.size(); ++b) {
        const ImageExplanation ex = explain(models.cascading[b], s, logits, input, {out.cls}, opt.explain)[0];
        compare_step(ex, features, {SanityTest::Cascading, models.blocks[b].name, int(b) + 1}, opt, out);
    }
    for (size_t b = 0; b < models.blocks.size(); ++b) {
        const ImageExplanation ex = explain(models.independent[b], s, logits, input, {out.cls}, opt.explain)[0];
        compare_step(ex, features, {SanityTest::Independent, models.blocks[b].name, int(b) + 1}, opt, out);
    }
    const int bottom = bottom_half_class(clean_logits, class_seed);
    const int second = top_k(clean_logits, 0, 2)[1];
    for (const auto& [test, cls] : {std::pair{SanityTest::ClassBottom, bottom}, std::pair{SanityTest::ClassTop2, second}}) {
        const ImageExplanation ex = explain(g, s, logits, input, {cls}, opt.explain)[0];
        compare_step(ex, features, {test, std::to_string(cls), 0}, opt, out);
    }
    return out;
}

}  // namespace ec
