// The bridge between weights/ and cam/: how a model is named (one resolver for the CLI and the public API)
// and the view of a loaded model that the explain pipeline (cam/pipeline.h) runs on.
#pragma once
#include <string>

#include "cam/pipeline.h"
#include "weights/model.h"

namespace ec {

// A model spec: a path to a .tflite file (imported, with no labels), a path to an .ecw file, or the NAME of a
// model converted by `make weights` (weights_dir()/NAME.ecw). Throws Error naming the problem.
Model open_model(const std::string& spec);

// The pipeline's view of `model`; valid while `model` lives.
Network network_of(const Model& model);

}  // namespace ec
