// The public API: a thin layer over nn/, weights/ and cam/ that hides their types and turns their errors
// into entropycam::Error.
#include "api/entropycam.h"

#include "cam/explain.h"
#include "io/png_write.h"
#include "cam/postprocess.h"
#include "cam/render/render.h"
#include "weights/model.h"

namespace entropycam {

struct Model {
    ec::Model m;
};

namespace {

template <class F>
auto translate_errors(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const ec::Error& e) {
        throw Error(e.what());
    }
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Prediction prediction(const ec::Model& m, const ec::Tensor& logits, int index) {
    Prediction p;
    p.index = index;
    p.label = ec::label_of(m, index);
    p.logit = logits[index];
    p.probability = ec::softmax_row(logits, 0)[size_t(index)];
    return p;
}

}  // namespace

std::shared_ptr<const Model> load_model(const std::string& name_or_path) {
    return translate_errors([&] {
        auto model = std::make_shared<Model>();
        if (ends_with(name_or_path, ".tflite"))
            model->m = ec::import_tflite(name_or_path, "");
        else
            model->m = ec::load_model(ec::resolve_model(name_or_path));
        return std::shared_ptr<const Model>(model);
    });
}

std::vector<Prediction> classify(const Model& model, const std::string& image_path, int k) {
    return translate_errors([&] {
        const ec::Model& m = model.m;
        ec::LoadedInput in = ec::load_input(image_path, m.preprocessing);
        ec::Session s;
        ec::forward_until(m.graph, s, {&in.input}, m.logits);
        std::vector<Prediction> out;
        for (int i : ec::top_k(s.values[m.logits], 0, k)) out.push_back(prediction(m, s.values[m.logits], i));
        return out;
    });
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

Explanation explain(const Model& model, const std::string& image_path, const ExplainOptions& options) {
    return translate_errors([&] {
        const ec::Model& m = model.m;
        ec::ExplainOptions opt;
        opt.target = options.layer.empty() ? ec::default_cam_target(m.graph, m.logits) : m.graph.tensor(options.layer);
        for (const std::string& name : options.methods) opt.methods.push_back(ec::parse_cam_method(name));
        opt.cam.entropy.estimator = ec::parse_entropy_estimator(options.entropy);
        opt.cam.entropy.bins = options.bins;
        ec::LoadedInput in = ec::load_input(image_path, m.preprocessing);
        ec::Session s;
        ec::ImageExplanation e = ec::explain(m.graph, s, m.logits, in.input, {options.class_index}, opt)[0];
        Explanation out;
        out.explained = prediction(m, s.values[m.logits], e.cls);
        out.layer = m.graph.tensors[opt.target].name;
        out.gradient_constant = e.gradient_constant;
        for (size_t i = 0; i < e.methods.size(); ++i) {
            CamMap map;
            map.method = ec::cam_method_name(e.methods[i]);
            const ec::Heatmap& raw = e.results[i].raw;
            ec::Heatmap up = ec::postprocess_cam(raw, m.preprocessing.height, m.preprocessing.width);
            map.width = up.w;
            map.height = up.h;
            map.heatmap = std::move(up.values);
            map.raw_width = raw.w;
            map.raw_height = raw.h;
            map.raw = raw.values;
            map.weights = e.results[i].weights;
            out.maps.push_back(std::move(map));
        }
        return out;
    });
}

void write_overlay_png(const std::string& png_path, const std::string& image_path, const Model& model,
                       const CamMap& map) {
    translate_errors([&] {
        ec::LoadedInput in = ec::load_input(image_path, model.m.preprocessing);
        ec::Heatmap h(map.height, map.width);
        if (map.heatmap.size() != h.values.size()) throw ec::Error("CamMap '" + map.method + "' has inconsistent size");
        h.values = map.heatmap;
        ec::write_png(png_path, ec::overlay_heatmap(in.display, h));
        return 0;
    });
}

}  // namespace entropycam
