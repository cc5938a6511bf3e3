// The bridge between weights/ and cam/: how a model is named (one resolver for the CLI and the public API)
// and the view of a loaded model that the explain pipeline (cam/pipeline.h) runs on.
#pragma once
#include <string>

#include "cam/pipeline.h"
#include "weights/model.h"

namespace ec {

// Whether a .tflite path is imported on load (the public API) or refused with "is a TFLite model, not an .ecw
// weight file (convert it with `entropycam convert`)" (the CLI: tests/test_hostile.cpp asserts this; making
// the CLI import too is one argument here, once that test is changed).
enum class TfliteSpecs { Import, Refuse };

// A model spec: a path to an .ecw file, the NAME of a model converted by `make weights`
// (weights_dir()/NAME.ecw), or a path to a .tflite file (imported without labels, or refused: see above).
// Throws Error naming the problem.
Model open_model(const std::string& spec, TfliteSpecs tflite);

// The pipeline's view of `model`; valid while `model` lives.
Network network_of(const Model& model);

}  // namespace ec
