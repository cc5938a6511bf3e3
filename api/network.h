// The bridge between weights/ and cam/: how a model is named (one resolver for the CLI and the public API)
// and the view of a loaded model that the explain pipeline (cam/pipeline.h) runs on.
#pragma once
#include <string>

#include "cam/pipeline.h"
#include "weights/model.h"

namespace ec {

// The model the CLI and the public API use when none is named.
constexpr const char* kDefaultModel = "mobilenet_v2_1.0_224_quant";

// A model spec: a path to an .ecw file, the NAME of a model converted by `make weights`
// (weights_dir()/NAME.ecw), or a path to a .tflite file (imported on load, without labels; `entropycam convert`
// makes an .ecw once, with labels, that maps in milliseconds).
// Throws Error naming the problem.
Model open_model(const std::string& spec);

// The pipeline's view of `model`; valid while `model` lives.
Network network_of(const Model& model);

}  // namespace ec
