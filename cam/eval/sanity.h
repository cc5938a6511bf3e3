// Sanity checks of saliency maps (Adebayo et al. 2018, "Sanity Checks for Saliency Maps", NeurIPS) for the CAM
// methods: does a map change when the model's weights are randomised, and when another class is explained?
//  - cascading: re-initialise the parameter blocks from the logits down, one more block per step, and explain
//    the same class (the original top-1) after each step;
//  - independent: re-initialise one block at a time, the rest intact;
//  - class_bottom / class_top2: the original model's map for the top-1 class against its map for a class drawn
//    (seeded) from the bottom half of the logit ranking, and against the top-2 class.
// Each comparison is with the original map, by the measures of cam/eval/similarity.h. A method that explains
// the model should lose its similarity as the randomisation goes deeper, and should change with the class.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cam/eval/randomize.h"
#include "cam/eval/similarity.h"
#include "cam/explain.h"

namespace ec {

enum class SanityTest { Cascading, Independent, ClassBottom, ClassTop2 };
constexpr SanityTest kAllSanityTests[] = {SanityTest::Cascading, SanityTest::Independent, SanityTest::ClassBottom,
                                          SanityTest::ClassTop2};
const char* sanity_test_name(SanityTest t);  // "cascading", "independent", "class_bottom", "class_top2"

// The randomised copies of a graph, made once per run (they do not depend on the input).
struct SanityModels {
    std::vector<ParamBlock> blocks;  // cascade order (param_blocks)
    std::vector<Graph> cascading;    // cascading[i]: blocks 0..i re-initialised
    std::vector<Graph> independent;  // independent[i]: block i alone re-initialised
};
SanityModels make_sanity_models(const Graph& g, uint64_t seed);

struct SanityOptions {
    ExplainOptions explain;       // target and methods (empty = all five)
    int out_h = 0, out_w = 0;     // size the maps are upsampled to and compared at (the input's)
    bool keep_cascade_maps = false;  // keep the displayed maps of every cascading step (for the figure)
};

struct SanityComparison {
    CamMethod method = CamMethod::GradCam;
    SanityTest test = SanityTest::Cascading;
    std::string step;   // the block randomised (cumulatively for cascading), or the other class's index
    int depth = 0;      // cascading: blocks randomised; independent: the block's position (1 = nearest the logits); classes: 0
    int cls = -1;       // the class explained on the compared side
    MapSimilarity similarity;
};

struct SanityResult {
    int cls = -1;       // the original top-1 class
    float prob = 0;     // its probability
    std::vector<CamMethod> methods;
    std::vector<SanityComparison> comparisons;  // by test, then step, then method
    // With keep_cascade_maps: [method][0] the original displayed map, [method][i + 1] after cascading step i.
    std::vector<std::vector<Heatmap>> cascade_maps;
};

// The class from the bottom half of the ranking of `logits` row 0 (by descending logit, ties by index): the
// rank K/2 + (splitmix64(class_seed) mod (K - K/2)).
int bottom_half_class(const Tensor& logits, uint64_t class_seed);

// All four tests on one input (1 x H x W x 3). One forward and, for the gradient methods, one backward per
// step; every method of the step shares them. Throws Error as explain() does.
SanityResult run_sanity_checks(const Graph& g, const SanityModels& models, Session& s, int logits,
                               const Tensor& input, uint64_t class_seed, const SanityOptions& options);

}  // namespace ec
