// The public C++ API: a thin layer over cam/pipeline.h and weights/ that hides their types and turns their
// errors into entropycam::Error (kind BadInput for what the files or images hold, BadArgument for what the
// caller passed, Internal for anything else).
#include "api/entropycam.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "api/network.h"
#include "cam/pipeline.h"
#include "cam/postprocess.h"
#include "cam/render/render.h"
#include "io/png_write.h"
#include "weights/format.h"

#ifndef ENTROPYCAM_VERSION
#define ENTROPYCAM_VERSION "0.0.0"
#endif

namespace entropycam {

struct Model {
    ec::Model m;
};

namespace {

template <class F>
auto translate_errors(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error&) {
        throw;
    } catch (const ec::Error& e) {
        throw Error(e.what(), Error::BadInput);
    } catch (const std::bad_alloc&) {
        throw Error("out of memory", Error::Internal);
    } catch (const std::exception& e) {
        throw Error(std::string("internal error: ") + e.what(), Error::Internal);
    }
}

Prediction prediction(const ec::Model& m, int index, float logit, double prob) {
    Prediction p;
    p.index = index;
    p.label = ec::label_of(m, index);
    p.logit = logit;
    p.probability = float(prob);
    return p;
}

std::shared_ptr<const Model> wrap(ec::Model&& m) {
    auto model = std::make_shared<Model>();
    model->m = std::move(m);
    return model;
}

// The caller's buffer as a network input (resized to the model's input size) and as a picture.
ec::LoadedInput input_from_rgb(RgbView image, const ec::Preprocessing& pre) {
    if (!image.rgb) throw Error("the RGB buffer is NULL", Error::BadArgument);
    if (image.width < 1 || image.height < 1 || image.width > 16384 || image.height > 16384 ||
        int64_t(image.width) * image.height > ec::kMaxImagePixels)
        throw Error("RGB image of " + std::to_string(image.width) + " x " + std::to_string(image.height) +
                        ": each side must be 1..16384 and the area at most " + std::to_string(ec::kMaxImagePixels) + " pixels",
                    Error::BadArgument);
    ec::ImageU8 u8;
    u8.width = image.width;
    u8.height = image.height;
    u8.rgb.assign(image.rgb, image.rgb + size_t(image.width) * size_t(image.height) * 3);
    ec::LoadedInput in;
    in.source_width = image.width;
    in.source_height = image.height;
    in.display = (u8.width == pre.width && u8.height == pre.height) ? u8 : ec::resize_bilinear_u8(u8, pre.width, pre.height);
    in.input = ec::image_to_input(in.display, pre);
    return in;
}

std::vector<Prediction> classify_loaded(const ec::Model& m, const ec::LoadedInput& in, int k) {
    if (k < 0) throw Error("classify: k is " + std::to_string(k) + ", must be >= 0", Error::BadArgument);
    ec::Session s;
    std::vector<Prediction> out;
    for (const ec::Prediction& p : ec::classify_input(ec::network_of(m), s, in.input, k))
        out.push_back(prediction(m, p.index, p.logit, p.prob));
    return out;
}

// Options checked against the network; a bad name or class is the caller's argument, so BadArgument.
ec::ExplainPlan plan(const ec::Network& net, const ExplainOptions& options) {
    try {
        ec::ExplainRequest request;
        request.layer = options.layer;
        for (const std::string& name : options.methods) {
            if (name == "all") request.methods.insert(request.methods.end(), std::begin(ec::kEveryCamMethod), std::end(ec::kEveryCamMethod));
            else request.methods.push_back(ec::parse_cam_method(name));
        }
        request.cam.entropy.estimator = ec::parse_entropy_estimator(options.entropy);
        if (options.bins < 2 || options.bins > 65536)
            throw ec::Error("bins is " + std::to_string(options.bins) + ", must be 2..65536");
        request.cam.entropy.bins = options.bins;
        if (options.class_index < -1) throw ec::Error("class_index is " + std::to_string(options.class_index) + ", must be >= -1");
        request.classes.index = options.class_index;
        request.classes.top = options.top;
        return ec::plan_explain(net, request);
    } catch (const ec::Error& e) {
        throw Error(e.what(), Error::BadArgument);
    }
}

std::vector<Explanation> explain_loaded(const ec::Model& m, const ec::LoadedInput& in, const ExplainOptions& options) {
    const ec::Network net = ec::network_of(m);
    const ec::ExplainPlan p = plan(net, options);
    ec::Session s;
    ec::InputExplanation ex = ec::explain_input(net, s, p, in.input, {in.source_height, in.source_width});
    std::vector<Explanation> out;
    for (ec::ClassExplanation& c : ex.classes) {
        Explanation e;
        e.explained = prediction(m, c.cls, c.logit, c.prob);
        e.layer = p.layer;
        e.gradient_constant = c.gradient_constant;
        for (const ec::ExplainWarning& w : ex.warnings) e.warnings.push_back(w.message);
        for (ec::ExplainedMap& x : c.maps) {
            CamMap map;
            map.method = ec::cam_method_name(x.method);
            map.raw_width = x.cam.raw.w;
            map.raw_height = x.cam.raw.h;
            map.raw = std::move(x.cam.raw.values);
            map.normalized = std::move(x.normalized.values);
            map.width = x.upsampled.w;
            map.height = x.upsampled.h;
            map.heatmap = std::move(x.upsampled.values);
            map.weights = std::move(x.cam.weights);
            e.maps.push_back(std::move(map));
        }
        out.push_back(std::move(e));
    }
    return out;
}

ec::ImageU8 overlay(const ec::ImageU8& image, const CamMap& map) {
    ec::Heatmap h(map.height, map.width);
    if (map.width < 1 || map.height < 1 || map.heatmap.size() != h.values.size())
        throw Error("CamMap '" + map.method + "' has inconsistent size", Error::BadArgument);
    h.values = map.heatmap;
    if (h.w != image.width || h.h != image.height) h = ec::upsample_bilinear(h, image.height, image.width);
    return ec::overlay_heatmap(image, h);
}

}  // namespace

const char* version() { return ENTROPYCAM_VERSION; }

std::shared_ptr<const Model> load_model(const std::string& name_or_path) {
    return translate_errors([&] { return wrap(ec::open_model(name_or_path)); });
}

// The bytes go into an anonymous in-memory file, which the .ecw loader maps like any other file (and the TFLite
// importer reads): one loader for both paths, and the mapping outlives the caller's buffer.
std::shared_ptr<const Model> load_model_from_memory(const void* data, size_t size, const std::string& name) {
    return translate_errors([&] {
        if (!data || size == 0) throw Error(name + ": no model bytes (NULL or empty)", Error::BadArgument);
        const uint8_t* bytes = static_cast<const uint8_t*>(data);
        const bool ecw = size >= 8 && std::memcmp(bytes, ec::ecw::kMagic, 8) == 0;
        const bool tflite = size >= 8 && std::memcmp(bytes + 4, "TFL3", 4) == 0;
        if (!ecw && !tflite) throw Error(name + ": neither an .ecw weight file nor a TFLite model (bad magic)");
        const int fd = memfd_create("entropycam-model", MFD_CLOEXEC);
        if (fd < 0) throw Error(std::string("memfd_create: ") + std::strerror(errno), Error::Internal);
        for (size_t done = 0; done < size;) {
            const ssize_t n = ::write(fd, bytes + done, size - done);
            if (n <= 0) {
                ::close(fd);
                throw Error(std::string("writing the model to memory: ") + std::strerror(errno), Error::Internal);
            }
            done += size_t(n);
        }
        const std::string path = "/proc/self/fd/" + std::to_string(fd);
        try {
            ec::Model m = ecw ? ec::load_model(path) : ec::import_tflite(path, "");
            ::close(fd);
            if (!ecw || m.name.empty()) m.name = name;  // a TFLite import names the model after its file: here an fd
            return wrap(std::move(m));
        } catch (const ec::Error& e) {
            ::close(fd);
            std::string message = e.what();
            if (message.compare(0, path.size(), path) == 0) message = name + message.substr(path.size());
            throw Error(message);
        }
    });
}

std::string model_name(const Model& model) { return model.m.name; }
int class_count(const Model& model) { return ec::output_count(ec::network_of(model.m)); }
int input_width(const Model& model) { return model.m.preprocessing.width; }
int input_height(const Model& model) { return model.m.preprocessing.height; }
std::string label(const Model& model, int index) { return ec::label_of(model.m, index); }

std::vector<Prediction> classify(const Model& model, const std::string& image_path, int k) {
    return translate_errors([&] { return classify_loaded(model.m, ec::load_input(image_path, model.m.preprocessing), k); });
}

std::vector<Prediction> classify(const Model& model, RgbView image, int k) {
    return translate_errors([&] { return classify_loaded(model.m, input_from_rgb(image, model.m.preprocessing), k); });
}

std::vector<Explanation> explain_classes(const Model& model, const std::string& image_path, const ExplainOptions& options) {
    return translate_errors([&] {
        ec::ExplainPlan checked = plan(ec::network_of(model.m), options);  // argument errors before reading the file
        (void)checked;
        return explain_loaded(model.m, ec::load_input(image_path, model.m.preprocessing), options);
    });
}

std::vector<Explanation> explain_classes(const Model& model, RgbView image, const ExplainOptions& options) {
    return translate_errors([&] { return explain_loaded(model.m, input_from_rgb(image, model.m.preprocessing), options); });
}

Explanation explain(const Model& model, const std::string& image_path, const ExplainOptions& options) {
    ExplainOptions one = options;
    one.top = 1;
    return explain_classes(model, image_path, one).at(0);
}

Explanation explain(const Model& model, RgbView image, const ExplainOptions& options) {
    ExplainOptions one = options;
    one.top = 1;
    return explain_classes(model, image, one).at(0);
}

std::string default_layer(const Model& model) {
    return translate_errors([&] { return model.m.graph.tensors[ec::default_cam_target(model.m.graph, model.m.logits)].name; });
}

std::vector<std::string> cam_layers(const Model& model) {
    std::vector<std::string> names;
    for (const ec::TensorInfo& t : model.m.graph.tensors)
        if (t.shape.rank == 4 && t.producer >= 0) names.push_back(t.name);
    return names;
}

std::vector<unsigned char> overlay_rgb(RgbView image, const CamMap& map) {
    return translate_errors([&] {
        ec::Preprocessing same;  // no resize: the picture is the caller's own size
        same.width = image.width;
        same.height = image.height;
        return overlay(input_from_rgb(image, same).display, map).rgb;
    });
}

void write_overlay_png(const std::string& png_path, const std::string& image_path, const CamMap& map) {
    translate_errors([&] {
        ec::Preprocessing pre;  // the model's size only matters for a preprocessed .npy, whose picture is its own
        pre.width = map.width;
        pre.height = map.height;
        ec::LoadedInput in = ec::load_input(image_path, pre);
        const bool resized = in.display.width != in.source_width || in.display.height != in.source_height;
        ec::write_png(png_path, overlay(resized ? ec::decode_image(image_path) : in.display, map));
        return 0;
    });
}

void write_overlay_png(const std::string& png_path, const std::string& image_path, const Model& model, const CamMap& map) {
    (void)model;
    write_overlay_png(png_path, image_path, map);
}

}  // namespace entropycam
