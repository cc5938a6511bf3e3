// entropycam: the C++ API for programs that embed the explainer (installed as <entropycam/entropycam.hpp>;
// the C API is <entropycam/entropycam.h>, api/entropycam_c.h in the repository).
//
// Load a model once, then classify and explain images (files, or RGB buffers of any size: the library resizes)
// with any of the twelve CAM methods. A loaded model is immutable: any number of threads may call classify/explain
// on it at once (each call has its own run state). Nothing is printed; every failure throws entropycam::Error,
// the one exception type, with a one-line message and the CLI's exit code as its kind.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_WIN32)
#define ECAM_API
#else
#define ECAM_API __attribute__((visibility("default")))
#endif

namespace entropycam {

// The library's version, "MAJOR.MINOR.PATCH" (the shared library is libentropycam.so.MAJOR).
ECAM_API const char* version();

struct ECAM_API Error : std::runtime_error {
    enum Kind { BadInput = 1, BadArgument = 2, Internal = 3 };  // the CLI's exit codes
    explicit Error(const std::string& message, Kind kind = BadInput) : std::runtime_error(message), kind(kind) {}
    Kind kind;
};

struct Model;  // opaque: the network, its labels and its preprocessing

// A path to an .ecw file (see weights/FORMAT.md) or a .tflite file, or the NAME of a converted model: found in
// $ENTROPYCAM_WEIGHTS_DIR, else build/weights/NAME.ecw, else the installed PREFIX/share/entropycam/weights.
ECAM_API std::shared_ptr<const Model> load_model(const std::string& name_or_path);
// The bytes of an .ecw or .tflite file (told apart by their magic); copied, so `data` may be freed after.
// `name` names the model in error messages.
ECAM_API std::shared_ptr<const Model> load_model_from_memory(const void* data, size_t size, const std::string& name = "memory");

// The model's name, its number of outputs, the input size it resizes images to, and the label of an output.
ECAM_API std::string model_name(const Model& model);
ECAM_API int class_count(const Model& model);
ECAM_API int input_width(const Model& model);
ECAM_API int input_height(const Model& model);
ECAM_API std::string label(const Model& model, int index);

// An 8-bit RGB image owned by the caller: rgb[(y * width + x) * 3 + c], any size up to 16384 per side.
struct RgbView {
    const unsigned char* rgb = nullptr;
    int width = 0, height = 0;
};

struct Prediction {
    int index = -1;        // the model's output index
    std::string label;
    float logit = 0, probability = 0;
};
// The k most probable classes of an image file (JPEG, PNG, BMP, GIF, TGA, or a preprocessed 1xHxWx3 .npy) or
// of an RGB buffer, best first.
ECAM_API std::vector<Prediction> classify(const Model& model, const std::string& image_path, int k = 5);
ECAM_API std::vector<Prediction> classify(const Model& model, RgbView image, int k = 5);

struct ExplainOptions {
    // "gradcam", "hirescam", "respondcam", "gradentropycam", "featentropycam" (the poster's five: empty = these),
    // "gradcampp", "xgradcam", "layercam", "eigencam", "scorecam", "signedgradentropycam", "posgradentropycam";
    // "all" = every method. Score-CAM runs the network once per channel of the layer.
    std::vector<std::string> methods;
    std::string layer;                 // target tensor name; empty = the model's default layer
    int class_index = -1;              // output index to explain; -1 = the best classes (see top)
    int top = 1;                       // with class_index -1: explain the `top` most probable classes
    std::string entropy = "spatial";   // entropy estimator of the entropy CAMs: "spatial" or "hist"
    int bins = 256;                    // histogram bins for "hist"
};

struct CamMap {
    std::string method;
    int raw_width = 0, raw_height = 0;
    std::vector<float> raw;            // the map at the layer's resolution, before ReLU (`explain --raw`); row-major
    std::vector<float> normalized;     // ReLU, min-max to [0, 1], at the layer's resolution
    int width = 0, height = 0;         // the input image's size (a preprocessed .npy: the model's input size)
    std::vector<float> heatmap;        // `normalized` upsampled (bilinear) to width x height
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
// One Explanation per class asked (options.top classes best first, or options.class_index), from ONE forward
// and one backward pass. explain() returns the first.
ECAM_API std::vector<Explanation> explain_classes(const Model& model, const std::string& image_path, const ExplainOptions& options = {});
ECAM_API std::vector<Explanation> explain_classes(const Model& model, RgbView image, const ExplainOptions& options = {});
ECAM_API Explanation explain(const Model& model, const std::string& image_path, const ExplainOptions& options = {});
ECAM_API Explanation explain(const Model& model, RgbView image, const ExplainOptions& options = {});

// The default CAM target layer of a model, and the 4-D layers a CAM can target.
ECAM_API std::string default_layer(const Model& model);
ECAM_API std::vector<std::string> cam_layers(const Model& model);

// `map.heatmap` in jet colours blended at alpha 0.5 over an image (the map is resampled to the image's size):
// as an RGB buffer of image.width x image.height, or written as a PNG of an image file.
ECAM_API std::vector<unsigned char> overlay_rgb(RgbView image, const CamMap& map);
ECAM_API void write_overlay_png(const std::string& png_path, const std::string& image_path, const CamMap& map);
// Kept for the first version of this API: `model` is not needed.
ECAM_API void write_overlay_png(const std::string& png_path, const std::string& image_path, const Model& model,
                                const CamMap& map);

}  // namespace entropycam
