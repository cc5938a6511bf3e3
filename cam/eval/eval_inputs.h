// What `entropycam evaluate` needs to know about each input besides its pixels: its object mask (for the
// energy pointing game) and its ground-truth class from a labels.csv.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "cam/eval/metrics.h"

namespace ec {

// The mask of an input with file stem S, among `mask_files` (the image files of the --masks folder), is the
// first file (in sorted order) whose stem is, by priority:
//   1. S itself (a folder of masks named like the images; never the input file itself),
//   2. S_mask                         (bird_segmentation.bmp    -> bird_segmentation_mask.bmp),
//   3. P_mask_D when S is P_D and D is all digits, a size suffix
//                                     (dog_segmentation_256.bmp -> dog_segmentation_mask_256.bmp).
// Returns "" when none matches.
std::string find_mask(const std::string& input, const std::vector<std::string>& mask_files);

// Pairs each input with its mask (find_mask; "" when none) and drops the inputs that are the mask of another
// input (a folder of inputs may hold the masks too). The kept inputs keep their order.
struct InputsWithMasks {
    std::vector<std::string> inputs, masks;  // masks[i] belongs to inputs[i]
};
InputsWithMasks pair_inputs_with_masks(const std::vector<std::string>& inputs, const std::vector<std::string>& mask_files);

// Reads a mask image: a pixel is object when any of its channels is non-zero. Error naming the file otherwise.
Mask load_mask(const std::string& path);

// True when a and b name the same existing file (after resolving links and relative paths).
bool same_file(const std::string& a, const std::string& b);

// Ground-truth classes from a CSV with a column `file` and one of
//   `imagenet_index`: an ImageNet index 0..999 (like imagenet-dev/labels.csv), for models with 1000 outputs, or
//                     1001 with background at 0 (the index + 1);
//   `class_index`:    the model's output index itself, 0..outputs-1 (like the labels.csv of `entropycam synth`,
//                     whose `file` is the image's name, e.g. 12600.png for DIR/test/images/12600.png).
// With both columns, imagenet_index is used. An input is matched by its file name without the folder, and so is
// `file` (a folder there, e.g. test/images/12600.png, is dropped): a name listed twice with different classes is
// an Error (which row would be meant is unknown), as are a missing column and an index that is not a whole number
// in range.
struct GroundTruth {
    bool imagenet = true;                // imagenet_index (else class_index)
    std::map<std::string, int> classes;  // file name (no folder) -> index
};
GroundTruth read_ground_truth(const std::string& path);
// The output index of `input`'s ground-truth class for a model with `outputs` logits. Error when the file is not
// listed, for ImageNet indices when the model has neither 1000 nor 1001 outputs, and for an output index >= outputs.
int ground_truth_class(const GroundTruth& truth, const std::string& input, int outputs, const std::string& labels_path);

}  // namespace ec
