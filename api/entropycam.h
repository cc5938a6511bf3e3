// entropycam: the one public header for programs that embed the explainer.
//
// Load a model once, then classify and explain images with any of the twelve CAM methods. A loaded model is
// immutable: any number of threads may call classify/explain on it at once (each call has its own run
// state). Nothing is printed; every failure throws entropycam::Error with a one-line message.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace entropycam {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Model;  // opaque: the network, its labels and its preprocessing

// A path to an .ecw file (see weights/FORMAT.md) or .tflite file, or the NAME of a model converted by
// `make weights` (found as build/weights/NAME.ecw, or in $ENTROPYCAM_WEIGHTS_DIR).
std::shared_ptr<const Model> load_model(const std::string& name_or_path);

struct Prediction {
    int index = -1;        // the model's output index
    std::string label;
    float logit = 0, probability = 0;
};
// The k most probable classes of an image file (JPEG, PNG, BMP, GIF, TGA, or a preprocessed 1xHxWx3 .npy).
std::vector<Prediction> classify(const Model& model, const std::string& image_path, int k = 5);

struct ExplainOptions {
    // "gradcam", "hirescam", "respondcam", "gradentropycam", "featentropycam" (the poster's five: empty = these),
    // "gradcampp", "xgradcam", "layercam", "eigencam", "scorecam", "signedgradentropycam", "posgradentropycam";
    // "all" = every method. Score-CAM runs the network once per channel of the layer.
    std::vector<std::string> methods;
    std::string layer;                 // target tensor name; empty = the model's default layer
    int class_index = -1;              // output index to explain; -1 = the top-1 class
    std::string entropy = "spatial";   // entropy estimator of the entropy CAMs: "spatial" or "hist"
    int bins = 256;                    // histogram bins for "hist"
};

struct CamMap {
    std::string method;
    int width = 0, height = 0;
    std::vector<float> heatmap;        // ReLU, min-max to [0, 1], upsampled to the input size; row-major
    int raw_width = 0, raw_height = 0;
    std::vector<float> raw;            // the map at the layer's resolution, before ReLU
    std::vector<float> weights;        // one per channel (empty for HiResCAM and LayerCAM)
};

struct Explanation {
    Prediction explained;              // the class the maps explain
    std::string layer;
    bool gradient_constant = false;    // the layer is behind global pooling: Grad-CAM = HiResCAM = Respond-CAM
    std::vector<CamMap> maps;          // one per requested method, in the order asked
    std::vector<std::string> warnings; // one line each: Feature Entropy-CAM is class-free; the gradient is
                                       // constant over space at this layer
};
Explanation explain(const Model& model, const std::string& image_path, const ExplainOptions& options = {});

// The default CAM target layer of a model, and the 4-D layers a CAM can target.
std::string default_layer(const Model& model);
std::vector<std::string> cam_layers(const Model& model);

// Writes `map` (values in [0, 1], the image's size) in jet colours over the image as a PNG.
void write_overlay_png(const std::string& png_path, const std::string& image_path, const Model& model,
                       const CamMap& map);

}  // namespace entropycam
