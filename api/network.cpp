#include "api/network.h"

namespace ec {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Model open_model(const std::string& spec, TfliteSpecs tflite) {
    if (tflite == TfliteSpecs::Import && ends_with(spec, ".tflite")) return import_tflite(spec, "");
    return load_model(resolve_model(spec));
}

Network network_of(const Model& model) {
    return Network{&model.graph, model.logits, model.preprocessing};
}

}  // namespace ec
