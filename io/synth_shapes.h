// A synthetic image-classification benchmark with known evidence: each image holds exactly one object of one of
// six shape classes (disc, square, triangle, cross, ring, star) at a random position, scale, rotation and
// colour, among clutter that belongs to no class (a dark two-colour gradient background; thick lines and elongated
// ellipses in bright colours drawn from the same distribution as the object's; pixel noise). The mask is exact: the
// object is drawn last, so its pixels are the mask.
//
// Deterministic: sample i of seed s depends only on (s, i, size), drawn from a seeded splitmix64
// (nn/splitmix64.h). One build always writes the same bytes (the tests compare two runs); another libm may round
// sin/cos of a rotation differently in the last bit and so move a pixel on an edge.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"
#include "nn/splitmix64.h"

namespace ec {

constexpr int kSynthClassCount = 6;
// "disc", "square", "triangle", "cross", "ring", "star" for 0..5; Error otherwise.
const char* synth_class_name(int cls);
std::vector<std::string> synth_class_names();

constexpr int kSynthMinSize = 32;   // below this the smallest objects lose their shape
constexpr int kSynthMaxSize = 1024;

struct SynthSample {
    ImageU8 image;                // size x size RGB
    std::vector<uint8_t> mask;    // size * size, 1 = the class object's pixel
    int cls = 0;                  // 0..kSynthClassCount-1
    int box_x0 = 0, box_y0 = 0;   // the mask's bounding box, inclusive pixel coordinates
    int box_x1 = 0, box_y1 = 0;
};

// Sample `index` of the dataset with `seed`; its class is index % kSynthClassCount (balanced classes; the
// split and shuffling decide the order the model sees). Error if size is outside [kSynthMinSize, kSynthMaxSize].
SynthSample make_synth_sample(int size, uint64_t seed, uint64_t index);

// The mask as an RGB image (255 = object, 0 = elsewhere), e.g. for writing it as a PNG.
ImageU8 synth_mask_image(const SynthSample& s);

}  // namespace ec
