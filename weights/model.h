// A runnable model: the graph, what its outputs mean (labels, the logits tensor) and how an image becomes its
// input (preprocessing). Made by importing a TFLite file (tflite_import.cpp) or by loading entropycam's own
// .ecw weight file (ecw_loader.cpp, format in weights/FORMAT.md), which maps the weights without copying them.
#pragma once
#include <string>
#include <vector>

#include "nn/graph.h"
#include "nn/preprocessing.h"

namespace ec {

struct Model {
    Graph graph;                      // one input: the preprocessed image, 1 x H x W x 3 float32
    std::vector<std::string> labels;  // one per logit (index 0 = "background" for the ImageNet models); may be empty
    Preprocessing preprocessing;      // input size and x = u8 * scale + offset
    int logits = -1;                  // tensor id of the pre-softmax scores [1, classes]
    std::string name;                 // e.g. "mobilenet_v2_1.0_224_quant"
    std::string source;               // where it came from, e.g. "mobilenet_v2_1.0_224_quant.tflite (MLIR Converted.)"
};

// Loads an .ecw weight file (mmap, read-only): every field is validated and the graph is rebuilt through the
// nn/graph.h build functions. Throws Error("PATH: ...") for a missing, truncated, oversized or corrupt file.
Model load_model(const std::string& path);

// Imports a TFLite model: weights dequantized to float32, layouts converted, fused activations split into
// their own nodes. labels_path may be empty (no labels); otherwise one label per line, one per logit.
Model import_tflite(const std::string& path, const std::string& labels_path);

// Writes the model as an .ecw file (atomically: a temporary file renamed over `path`).
void save_model(const Model& model, const std::string& path);

// The folder where `make weights` puts the converted models: $ENTROPYCAM_WEIGHTS_DIR if set, else build/weights
// (relative to the current directory).
std::string weights_dir();
// The installed models: PREFIX/share/entropycam/weights, PREFIX being the folder above the one holding the
// running executable or the shared library (PREFIX/bin/entropycam, PREFIX/lib/libentropycam.so); "" if unknown.
// Relocatable: `make install DESTDIR=...` trees work where they are.
std::string installed_weights_dir();
// The .ecw files in weights_dir(), as model names (file name without ".ecw"), sorted.
std::vector<std::string> available_models();
// A path to an existing file is returned as is; a bare NAME becomes weights_dir()/NAME.ecw if that exists,
// else installed_weights_dir()/NAME.ecw.
// Otherwise throws Error naming the models available and saying to run `make weights`.
std::string resolve_model(const std::string& name_or_path);

// The label of logit `index`, or "class <index>" when the model has no labels.
std::string label_of(const Model& model, int index);

}  // namespace ec
