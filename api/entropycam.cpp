// The public API: a thin layer over nn/, weights/ and cam/ that hides their types and turns their errors
// into entropycam::Error.
#include "api/entropycam.h"

#include "api/network.h"
#include "cam/pipeline.h"
#include "cam/render/render.h"
#include "io/png_write.h"

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

Prediction prediction(const ec::Model& m, int index, float logit, double prob) {
    Prediction p;
    p.index = index;
    p.label = ec::label_of(m, index);
    p.logit = logit;
    p.probability = float(prob);
    return p;
}

}  // namespace

std::shared_ptr<const Model> load_model(const std::string& name_or_path) {
    return translate_errors([&] {
        auto model = std::make_shared<Model>();
        model->m = ec::open_model(name_or_path);
        return std::shared_ptr<const Model>(model);
    });
}

std::vector<Prediction> classify(const Model& model, const std::string& image_path, int k) {
    return translate_errors([&] {
        const ec::Model& m = model.m;
        if (k < 0) throw ec::Error("classify: k is " + std::to_string(k) + ", must be >= 0");
        ec::LoadedInput in = ec::load_input(image_path, m.preprocessing);
        ec::Session s;
        std::vector<Prediction> out;
        for (const ec::Prediction& p : ec::classify_input(ec::network_of(m), s, in.input, k))
            out.push_back(prediction(m, p.index, p.logit, p.prob));
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
        const ec::Network net = ec::network_of(m);
        ec::ExplainRequest request;
        request.layer = options.layer;
        for (const std::string& name : options.methods) {
            if (name == "all") request.methods.insert(request.methods.end(), std::begin(ec::kEveryCamMethod), std::end(ec::kEveryCamMethod));
            else request.methods.push_back(ec::parse_cam_method(name));
        }
        request.cam.entropy.estimator = ec::parse_entropy_estimator(options.entropy);
        request.cam.entropy.bins = options.bins;
        request.classes.index = options.class_index;
        const ec::ExplainPlan plan = ec::plan_explain(net, request);
        ec::LoadedInput in = ec::load_input(image_path, m.preprocessing);
        ec::Session s;
        ec::InputExplanation ex =
            ec::explain_input(net, s, plan, in.input, {m.preprocessing.height, m.preprocessing.width});
        ec::ClassExplanation& c = ex.classes[0];
        Explanation out;
        out.explained = prediction(m, c.cls, c.logit, c.prob);
        out.layer = plan.layer;
        out.gradient_constant = c.gradient_constant;
        for (const ec::ExplainWarning& w : ex.warnings) out.warnings.push_back(w.message);
        for (ec::ExplainedMap& e : c.maps) {
            CamMap map;
            map.method = ec::cam_method_name(e.method);
            map.width = e.upsampled.w;
            map.height = e.upsampled.h;
            map.heatmap = std::move(e.upsampled.values);
            map.raw_width = e.cam.raw.w;
            map.raw_height = e.cam.raw.h;
            map.raw = std::move(e.cam.raw.values);
            map.weights = std::move(e.cam.weights);
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
