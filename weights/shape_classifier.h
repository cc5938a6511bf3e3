// The two small classifiers that `entropycam train` trains on the synthetic shapes benchmark, as Models ready
// for classify/explain/evaluate (labels, preprocessing, logits set; parameters He-initialised, the logits
// layer 10x smaller).
//   vgg: four conv3x3(SAME)-ReLU blocks (8, 16, 32, 64 channels), 2x2 max pooling after each, then flatten,
//        a fully connected layer of 128 with ReLU, and the logits: the poster's setting, where the gradient
//        at the last conv layer varies over space.
//   gap: the same convolutions and the first three poolings, then global average pooling and one linear
//        layer: the gradient at the last conv layer is constant over space (like every MobileNet).
// Tensor names: block{1..4}/conv, block{1..4}/relu, block{1..4}/pool, flatten, fc1, fc1/relu, gap, logits.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "weights/model.h"

namespace ec {

enum class ClassifierArch { Vgg, Gap };
// "vgg" or "gap"; Error otherwise.
ClassifierArch parse_classifier_arch(const std::string& name);
const char* classifier_arch_name(ClassifierArch arch);

// A size x size x 3 classifier over labels.size() classes, preprocessing x = u8 / 127.5 - 1, weights He-initialised
// from `seed`. Error for size < 16 or not a multiple of 16 (four 2x2 poolings), or fewer than 2 labels.
Model build_shape_classifier(ClassifierArch arch, int size, const std::vector<std::string>& labels, uint64_t seed);

// Loads the weight file at `path` and checks that its logits on `input` (N x H x W x C) are bit-identical to
// those of `trained`: the round trip through the file loses nothing. Throws Error naming the file otherwise.
void check_weight_file_round_trip(const Model& trained, const std::string& path, const Tensor& input);

}  // namespace ec
