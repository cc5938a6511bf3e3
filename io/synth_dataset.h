// Reading a labelled image folder in the layout `entropycam synth` writes: DIR/labels.csv with columns file,
// split, class_index, label (others ignored) and the images at DIR/<split>/images/<file>.
#pragma once
#include <string>
#include <vector>

#include "nn/train.h"

namespace ec {

struct LabelledSplit {
    TrainSet set;                      // every image of the split, in labels.csv order
    std::vector<std::string> files;    // their paths
    std::vector<std::string> classes;  // class_index -> label, over the whole labels.csv
};

// Error naming the file for a missing or malformed labels.csv, a class_index that is not a whole number in
// 0..999 or whose label differs between rows, a missing class index (the indices must be 0..K-1), images of
// different sizes, or no image in the split.
LabelledSplit read_labelled_split(const std::string& dir, const std::string& split);

}  // namespace ec
