// The C API (api/entropycam_c.h) over the C++ API: handles own C++ objects, every entry point catches every
// exception and turns it into a return code and the calling thread's last-error message.
#include "api/entropycam_c.h"

#include <string>

#include "api/entropycam.h"

struct ecam_model {
    std::shared_ptr<const entropycam::Model> model;
    std::vector<std::string> labels;  // C strings that live as long as the handle
};

struct ecam_explanation {
    entropycam::Explanation e;
};

namespace {

thread_local std::string last_error;

int fail(int code, const std::string& message) {
    last_error = message;
    return code;
}

// Runs f, returning 0, or the error's code with its message kept for ecam_last_error().
template <class F>
int guarded(F&& f) {
    try {
        f();
        return 0;
    } catch (const entropycam::Error& e) {
        return fail(int(e.kind), e.what());
    } catch (const std::exception& e) {
        return fail(3, std::string("internal error: ") + e.what());
    } catch (...) {
        return fail(3, "internal error: unknown exception");
    }
}

void require(bool ok, const char* what) {
    if (!ok) throw entropycam::Error(what, entropycam::Error::BadArgument);
}

entropycam::ExplainOptions options(const char* methods, const char* layer, int class_index) {
    entropycam::ExplainOptions o;
    const std::string list = methods ? methods : "";
    if (!list.empty()) {  // NULL or "": the poster's five; "all" is passed on (every method)
        size_t start = 0;
        for (;;) {
            const size_t comma = list.find(',', start);
            o.methods.push_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
    if (layer) o.layer = layer;
    o.class_index = class_index;
    return o;
}

void check_map(const ecam_explanation* e, int i) {
    require(e != nullptr, "the explanation is NULL");
    require(i >= 0 && size_t(i) < e->e.maps.size(), "map index out of range");
}

void fill_classes(const std::vector<entropycam::Prediction>& top, int k, int* indices, float* probabilities) {
    for (int i = 0; i < k; ++i) {
        const bool have = size_t(i) < top.size();
        if (indices) indices[i] = have ? top[size_t(i)].index : -1;
        if (probabilities) probabilities[i] = have ? top[size_t(i)].probability : 0.0f;
    }
}

ecam_model* wrap(std::shared_ptr<const entropycam::Model> m) {
    auto* h = new ecam_model{std::move(m), {}};
    for (int i = 0, n = entropycam::class_count(*h->model); i < n; ++i) h->labels.push_back(entropycam::label(*h->model, i));
    return h;
}

}  // namespace

extern "C" {

const char* ecam_version(void) { return entropycam::version(); }
const char* ecam_last_error(void) { return last_error.c_str(); }

int ecam_model_load(const char* name_or_path, ecam_model** out) {
    return guarded([&] {
        require(name_or_path && out, "ecam_model_load: NULL argument");
        *out = nullptr;
        *out = wrap(entropycam::load_model(name_or_path));
    });
}

int ecam_model_load_memory(const void* data, size_t size, ecam_model** out) {
    return guarded([&] {
        require(out != nullptr, "ecam_model_load_memory: NULL argument");
        *out = nullptr;
        *out = wrap(entropycam::load_model_from_memory(data, size));
    });
}

void ecam_model_free(ecam_model* model) { delete model; }

int ecam_model_class_count(const ecam_model* model) { return model ? int(model->labels.size()) : 0; }

const char* ecam_model_label(const ecam_model* model, int index) {
    if (!model || index < 0 || size_t(index) >= model->labels.size()) return nullptr;
    return model->labels[size_t(index)].c_str();
}

int ecam_classify_file(const ecam_model* model, const char* image_path, int k, int* indices, float* probabilities) {
    return guarded([&] {
        require(model && image_path, "ecam_classify_file: NULL argument");
        require(k >= 1, "ecam_classify_file: k must be >= 1");
        fill_classes(entropycam::classify(*model->model, std::string(image_path), k), k, indices, probabilities);
    });
}

int ecam_classify_rgb(const ecam_model* model, const unsigned char* rgb, int width, int height, int k, int* indices,
                      float* probabilities) {
    return guarded([&] {
        require(model != nullptr, "ecam_classify_rgb: NULL model");
        require(k >= 1, "ecam_classify_rgb: k must be >= 1");
        fill_classes(entropycam::classify(*model->model, entropycam::RgbView{rgb, width, height}, k), k, indices, probabilities);
    });
}

int ecam_explain_file(const ecam_model* model, const char* image_path, const char* methods, const char* layer,
                      int class_index, ecam_explanation** out) {
    return guarded([&] {
        require(model && image_path && out, "ecam_explain_file: NULL argument");
        *out = nullptr;
        *out = new ecam_explanation{entropycam::explain(*model->model, std::string(image_path), options(methods, layer, class_index))};
    });
}

int ecam_explain_rgb(const ecam_model* model, const unsigned char* rgb, int width, int height, const char* methods,
                     const char* layer, int class_index, ecam_explanation** out) {
    return guarded([&] {
        require(model && out, "ecam_explain_rgb: NULL argument");
        *out = nullptr;
        *out = new ecam_explanation{
            entropycam::explain(*model->model, entropycam::RgbView{rgb, width, height}, options(methods, layer, class_index))};
    });
}

int ecam_explanation_count(const ecam_explanation* e) { return e ? int(e->e.maps.size()) : 0; }
int ecam_explanation_class(const ecam_explanation* e) { return e ? e->e.explained.index : -1; }
float ecam_explanation_probability(const ecam_explanation* e) { return e ? e->e.explained.probability : 0.0f; }
const char* ecam_explanation_layer(const ecam_explanation* e) { return e ? e->e.layer.c_str() : nullptr; }

const char* ecam_explanation_method(const ecam_explanation* e, int i) {
    if (!e || i < 0 || size_t(i) >= e->e.maps.size()) return nullptr;
    return e->e.maps[size_t(i)].method.c_str();
}

int ecam_explanation_warning_count(const ecam_explanation* e) { return e ? int(e->e.warnings.size()) : 0; }

const char* ecam_explanation_warning(const ecam_explanation* e, int i) {
    if (!e || i < 0 || size_t(i) >= e->e.warnings.size()) return nullptr;
    return e->e.warnings[size_t(i)].c_str();
}

int ecam_explanation_raw(const ecam_explanation* e, int i, const float** data, int* width, int* height) {
    return guarded([&] {
        check_map(e, i);
        require(data && width && height, "ecam_explanation_raw: NULL argument");
        const entropycam::CamMap& m = e->e.maps[size_t(i)];
        *data = m.raw.data(), *width = m.raw_width, *height = m.raw_height;
    });
}

int ecam_explanation_normalized(const ecam_explanation* e, int i, const float** data, int* width, int* height) {
    return guarded([&] {
        check_map(e, i);
        require(data && width && height, "ecam_explanation_normalized: NULL argument");
        const entropycam::CamMap& m = e->e.maps[size_t(i)];
        *data = m.normalized.data(), *width = m.raw_width, *height = m.raw_height;
    });
}

int ecam_explanation_map(const ecam_explanation* e, int i, const float** data, int* width, int* height) {
    return guarded([&] {
        check_map(e, i);
        require(data && width && height, "ecam_explanation_map: NULL argument");
        const entropycam::CamMap& m = e->e.maps[size_t(i)];
        *data = m.heatmap.data(), *width = m.width, *height = m.height;
    });
}

int ecam_explanation_weights(const ecam_explanation* e, int i, const float** data, int* count) {
    return guarded([&] {
        check_map(e, i);
        require(data && count, "ecam_explanation_weights: NULL argument");
        const entropycam::CamMap& m = e->e.maps[size_t(i)];
        *data = m.weights.data(), *count = int(m.weights.size());
    });
}

int ecam_overlay_rgb(const ecam_explanation* e, int i, const unsigned char* rgb, int width, int height, unsigned char* out_rgb) {
    return guarded([&] {
        check_map(e, i);
        require(out_rgb != nullptr, "ecam_overlay_rgb: NULL output buffer");
        const std::vector<unsigned char> o = entropycam::overlay_rgb(entropycam::RgbView{rgb, width, height}, e->e.maps[size_t(i)]);
        std::copy(o.begin(), o.end(), out_rgb);
    });
}

int ecam_write_overlay_png(const ecam_explanation* e, int i, const char* image_path, const char* png_path) {
    return guarded([&] {
        check_map(e, i);
        require(image_path && png_path, "ecam_write_overlay_png: NULL argument");
        entropycam::write_overlay_png(png_path, image_path, e->e.maps[size_t(i)]);
    });
}

void ecam_explanation_free(ecam_explanation* e) { delete e; }

}  // extern "C"
