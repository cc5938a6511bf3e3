#include "cam/render/html_walkthrough.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cam/entropy.h"
#include "cam/postprocess.h"
#include "cam/render/html.h"
#include "cam/render/render.h"
#include "nn/error.h"

namespace ec {
namespace {

std::string label_at(const std::vector<std::string>& labels, int i) {
    return i >= 0 && size_t(i) < labels.size() ? labels[size_t(i)] : "class " + std::to_string(i);
}

// Channel k of one image of an NHWC map, as an h x w Heatmap.
Heatmap channel(const FeatureMapView& v, int k) {
    Heatmap out(v.h, v.w);
    for (int64_t p = 0; p < v.spatial(); ++p) out.values[size_t(p)] = v.data[p * v.channels + k];
    return out;
}

// min-max normalised to [0, 1] WITHOUT the ReLU (for signed pictures: the raw map, gradients).
Heatmap stretch(const Heatmap& m) { return minmax_normalize(m); }

std::string picture(const Heatmap& m, int size, const std::string& alt) {
    const int factor = std::max(1, size / std::max(1, std::max(m.h, m.w)));
    return "<img class=\"pixelated\" src=\"" + png_data_uri(enlarge_nearest(colorize_jet(m), factor)) + "\" alt=\"" +
           html_escape(alt) + "\">";
}

std::string figure(const std::string& img, const std::string& caption) {
    return "<figure>" + img + "<figcaption>" + caption + "</figcaption></figure>";
}

std::string range_of(const Heatmap& m) {
    if (m.values.empty()) return "empty";
    auto [lo, hi] = std::minmax_element(m.values.begin(), m.values.end());
    return "min " + format_number(*lo, 3) + ", max " + format_number(*hi, 3);
}

double mean_of(const Heatmap& m) {
    return m.values.empty() ? 0.0 : std::accumulate(m.values.begin(), m.values.end(), 0.0) / double(m.values.size());
}

std::string intro(const std::string& input_name, const std::string& model_name, const std::string& layer) {
    return "<h1>How a class activation map is made, step by step</h1>\n<p>Input <code>" + html_escape(input_name) +
           "</code>, model <code>" + html_escape(model_name) + "</code>, target layer <code>" + html_escape(layer) +
           "</code>.</p>\n<p>A convolutional network turns an image into feature maps, layer by layer; the last layers "
           "pool them and a linear layer gives one score (a <em>logit</em>) per class. A <strong>class activation map"
           "</strong> (CAM) asks which places in the image made the score of one class high. It picks one layer of "
           "feature maps (the <em>target</em>: activations A, H x W positions x K channels), gives every channel k a "
           "weight w<sub>k</sub>, and adds the channels up: <span class=\"formula\">map = ReLU(&Sigma;<sub>k</sub> "
           "w<sub>k</sub> A<sup>k</sup>)</span>. The methods differ only in how they choose the weights. Below, each "
           "step is one picture.</p>\n";
}

std::string input_step(const LoadedInput& in, const Preprocessing& pre) {
    const Tensor& x = in.input;
    auto [lo, hi] = std::minmax_element(x.ptr(), x.ptr() + x.numel());
    return "<section id=\"step-input\"><h2>1. The input, after preprocessing</h2>\n<p>The image is resized to " +
           std::to_string(pre.width) + " x " + std::to_string(pre.height) + " pixels and each 0..255 value u is mapped to "
           "<span class=\"formula\">x = u &times; " + format_number(pre.scale, 6) + " + (" + format_number(pre.offset, 4) +
           ")</span>, the range the network was trained on. The tensor holds values from " + format_number(*lo, 4) +
           " to " + format_number(*hi, 4) + ".</p>\n" + figure("<img src=\"" + png_data_uri(in.display) + "\" alt=\"input\">",
           "the resized input (shown in 0..255 colours)") + "</section>\n";
}

std::string network_step(const Graph& g, int target, int logits) {
    HtmlTable t{"layers", {"id", "op", "shape (N,H,W,C)", "name"}, {}};
    for (size_t i = 0; i < g.tensors.size(); ++i) {
        const TensorInfo& info = g.tensors[i];
        std::string name = info.name;
        if (int(i) == target) name += "  <- CAM target";
        if (int(i) == logits) name += "  <- logits";
        t.rows.push_back({{std::to_string(i), std::to_string(i)},
                          {info.producer < 0 ? "Input" : op_name(g.nodes[size_t(info.producer)].op), ""},
                          {info.shape.str(), ""},
                          {name, ""}});
    }
    return "<section id=\"step-network\"><h2>2. The network</h2>\n<p>" + std::to_string(g.tensors.size()) +
           " tensors in the order they are computed; each row is the output of one operation. The shapes are "
           "batch x height x width x channels: the image shrinks in space and grows in channels until global pooling "
           "leaves one value per channel, and a fully connected layer turns those into the logits. The target layer is <code>" +
           html_escape(g.tensors[size_t(target)].name) + "</code> " + g.tensors[size_t(target)].shape.str() +
           ".</p>\n<details><summary>every layer</summary>\n" + html_table(t) + "</details></section>\n";
}

// The strongest channels of the activation (largest mean), strongest first.
std::vector<int> strongest_channels(const FeatureMapView& act, int count) {
    std::vector<double> mean(size_t(act.channels), 0.0);
    for (int64_t p = 0; p < act.spatial(); ++p)
        for (int k = 0; k < act.channels; ++k) mean[size_t(k)] += act.data[p * act.channels + k];
    std::vector<int> order(size_t(act.channels));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return mean[size_t(a)] > mean[size_t(b)]; });
    order.resize(size_t(std::min(count, act.channels)));
    return order;
}

std::string atlas(const FeatureMapView& v, const std::vector<int>& channels, const EntropyOptions& e, const char* what) {
    std::string s = "<div class=\"atlas\">";
    for (int k : channels) {
        const Heatmap c = channel(v, k);
        s += figure(picture(stretch(c), 84, std::string(what) + " channel " + std::to_string(k)),
                    "k=" + std::to_string(k) + "<br>mean " + format_number(mean_of(c), 3) + "<br>H " +
                        format_number(entropy(c.values.data(), c.size(), e), 3));
    }
    return s + "</div>\n";
}

// Which formula makes the weights (method.md, "The five methods").
std::string weight_formula(CamMethod m) {
    switch (m) {
        case CamMethod::GradCam: return "w<sub>k</sub> = (1/Z) &Sigma;<sub>ij</sub> G<sup>k</sup><sub>ij</sub> &nbsp; (Selvaraju 2017: the gradient averaged over the positions)";
        case CamMethod::HiResCam: return "map = &Sigma;<sub>k</sub> G<sup>k</sup> &odot; A<sup>k</sup> &nbsp; (Draelos &amp; Carin 2020: no channel weights; each position is weighted by its own gradient)";
        case CamMethod::RespondCam: return "w<sub>k</sub> = &Sigma;<sub>ij</sub> A<sup>k</sup><sub>ij</sub> G<sup>k</sup><sub>ij</sub> / (&Sigma;<sub>ij</sub> A<sup>k</sup><sub>ij</sub> + &epsilon;) &nbsp; (Zhao 2018: the gradient averaged with the activation as the weights)";
        case CamMethod::GradEntropyCam: return "w<sub>k</sub> = H(G<sup>k</sup>) &nbsp; (seed poster eq. 3-4: the entropy of the channel's gradient; a gradient spread over many positions weighs more)";
        case CamMethod::FeatEntropyCam: return "w<sub>k</sub> = H(A<sup>k</sup>) &nbsp; (seed poster eq. 5: the entropy of the channel's activation; needs no gradient, so it is the same map for every class)";
        case CamMethod::GradCamPlusPlus: return "w<sub>k</sub> = &Sigma;<sub>ij</sub> &alpha;<sub>ij</sub> ReLU(G<sup>k</sup><sub>ij</sub>), &alpha; = G<sup>2</sup> / (2 G<sup>2</sup> + &Sigma;<sub>ab</sub> A<sup>k</sup><sub>ab</sub> G<sup>3</sup>) &nbsp; (Chattopadhay 2018 eq. 19, the score taken as exp(logit))";
        case CamMethod::XGradCam: return "w<sub>k</sub> = &Sigma;<sub>ij</sub> (A<sup>k</sup><sub>ij</sub> / &Sigma;<sub>ab</sub> A<sup>k</sup><sub>ab</sub>) G<sup>k</sup><sub>ij</sub> &nbsp; (Fu 2020)";
        case CamMethod::LayerCam: return "map = &Sigma;<sub>k</sub> ReLU(G<sup>k</sup>) &odot; A<sup>k</sup> &nbsp; (Jiang 2021: each position weighted by its own positive gradient)";
        case CamMethod::EigenCam: return "map = the activations' projection on their first principal component &nbsp; (Muhammad &amp; Yeasin 2020; no gradient, the same map for every class)";
        case CamMethod::ScoreCam: return "w<sub>k</sub> = softmax score of the class on the input masked by the upsampled, normalised A<sup>k</sup> &nbsp; (Wang 2020; one forward pass per channel)";
        case CamMethod::SignedGradEntropyCam: return "w<sub>k</sub> = sign(mean G<sup>k</sup>) H(G<sup>k</sup>) &nbsp; (ours: the poster's weight, keeping the gradient's sign)";
        case CamMethod::PosGradEntropyCam: return "w<sub>k</sub> = H(G<sup>k</sup>) mean(ReLU(G<sup>k</sup>)) &nbsp; (ours: the entropy weighting the positive gradient)";
    }
    return "";
}

std::string weights_part(const ExplainedMap& m, const FeatureMapView& act, const FeatureMapView* grad, const EntropyOptions& e) {
    std::string s = "<p>Weights: <span class=\"formula\">" + weight_formula(m.method) + "</span></p>\n";
    const std::vector<float>& w = m.cam.weights;
    if (w.empty()) return s + "<p>HiResCAM multiplies the gradient and the activation position by position, so it has no single weight per channel to plot.</p>\n";
    SvgBars bars;
    bars.y_label = "weight w_k";
    bars.width = 1100;
    bars.height = 220;
    for (size_t k = 0; k < w.size(); ++k) bars.values.push_back(w[k]);
    s += "<figure class=\"weights\">" + svg_bar_chart(bars) + "<figcaption>w<sub>k</sub> of all " + std::to_string(w.size()) +
         " channels, in channel order</figcaption></figure>\n";
    std::vector<int> order(w.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return w[size_t(a)] > w[size_t(b)]; });
    HtmlTable t{"", {"channel k", "w_k", "H(G^k)", "H(A^k)", "mean A^k"}, {}};
    for (size_t i = 0; i < std::min<size_t>(10, order.size()); ++i) {
        const int k = order[i];
        const Heatmap a = channel(act, k);
        const std::string hg = grad ? format_number(entropy(channel(*grad, k).values.data(), a.size(), e), 4) : "n/a";
        t.rows.push_back({{std::to_string(k), std::to_string(k)}, {format_number(w[size_t(k)], 4), format_number(w[size_t(k)], 9)},
                          {hg, ""}, {format_number(entropy(a.values.data(), a.size(), e), 4), ""}, {format_number(mean_of(a), 4), ""}});
    }
    return s + "<p>The 10 channels with the largest weight, with the entropy (estimator <code>" +
           std::string(entropy_estimator_name(e.estimator)) + "</code>) of each channel's gradient and activation:</p>\n" + html_table(t);
}

std::string method_step(int number, const ExplainedMap& m, const FeatureMapView& act, const FeatureMapView* grad,
                        const EntropyOptions& e, const ImageU8& display) {
    const std::string name = cam_method_name(m.method);
    std::string s = "<section class=\"method\" id=\"method-" + name + "\" data-method=\"" + name + "\"><h2>" + std::to_string(number) + ". " +
                    cam_method_title(m.method) + "</h2>\n" + weights_part(m, act, grad, e);
    const Heatmap relu = relu_map(m.cam.raw);
    s += "<p>Then the same four steps for every method:</p><div class=\"steps\">";
    s += figure(picture(stretch(m.cam.raw), 168, "weighted sum"),
                "a. weighted sum<br><span class=\"formula\">raw = &Sigma;<sub>k</sub> w<sub>k</sub> A<sup>k</sup></span><br>" + range_of(m.cam.raw));
    s += figure(picture(stretch(relu), 168, "relu"), "b. ReLU: keep the positive evidence<br><span class=\"formula\">max(raw, 0)</span><br>" + range_of(relu));
    s += figure(picture(m.normalized, 168, "normalised"),
                "c. min-max normalisation<br><span class=\"formula\">(m - min) / (max - min)</span><br>" + range_of(m.normalized));
    s += figure(picture(m.upsampled, 224, "upsampled"), "d. bilinear upsampling to " + std::to_string(m.upsampled.w) + " x " +
                std::to_string(m.upsampled.h) + "<br>(half-pixel centres)");
    s += figure("<img src=\"" + png_data_uri(overlay_heatmap(display, m.upsampled)) + "\" alt=\"overlay\">",
                "e. jet colours over the input<br><span class=\"formula\">0.5 image + 0.5 jet(map)</span>");
    s += "</div>\n";
    for (const ExplainWarning& w : m.warnings) s += "<p class=\"warning\">&#9888; " + html_escape(w.message) + "</p>\n";
    return s + "</section>\n";
}

}  // namespace

ImageU8 enlarge_nearest(const ImageU8& image, int factor) {
    if (factor < 1) throw Error("enlarge_nearest: factor " + std::to_string(factor) + " < 1");
    ImageU8 out = make_image(image.width * factor, image.height * factor, Rgb8{});
    for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x)
            for (int c = 0; c < 3; ++c)
                out.rgb[(size_t(y) * size_t(out.width) + size_t(x)) * 3 + size_t(c)] =
                    image.rgb[(size_t(y / factor) * size_t(image.width) + size_t(x / factor)) * 3 + size_t(c)];
    return out;
}

std::string walkthrough_page(const Network& net, const std::vector<std::string>& labels, const ExplainPlan& plan,
                             const LoadedInput& input, const std::string& input_name, const std::string& model_name) {
    if (!net.graph) throw Error("walkthrough: the network view has no graph");
    const Graph& g = *net.graph;
    ExplainPlan one = plan;
    if (one.classes.index < 0) one.classes.top = 1;
    Session s;
    const std::vector<Prediction> top = classify_input(net, s, input.input, 5);
    const InputExplanation ex = explain_input(net, s, one, input.input, {input.display.height, input.display.width});
    const ClassExplanation& c = ex.classes.at(0);
    const int target = one.options.target;
    const FeatureMapView act = image_view(s.values[size_t(target)], 0);
    const bool has_grad = size_t(target) < s.grads.size() && s.grads[size_t(target)].numel() > 0;
    FeatureMapView grad_view;
    if (has_grad) grad_view = image_view(s.grads[size_t(target)], 0);
    const EntropyOptions& e = one.options.cam.entropy;

    std::string b = intro(input_name, model_name, one.layer) + input_step(input, net.preprocessing) + network_step(g, target, net.logits);
    HtmlTable tt{"top5", {"rank", "class", "label", "probability"}, {}};
    for (size_t k = 0; k < top.size(); ++k)
        tt.rows.push_back({{std::to_string(k + 1), std::to_string(k + 1)}, {std::to_string(top[k].index), ""},
                           {label_at(labels, top[k].index), ""}, {format_number(100 * top[k].prob, 4) + " %", format_number(top[k].prob, 9)}});
    b += "<section id=\"step-forward\"><h2>3. The forward pass: what the network sees</h2>\n" + html_table(tt) +
         "<p>We explain class " + std::to_string(c.cls) + " (<strong>" + html_escape(label_at(labels, c.cls)) +
         "</strong>), its logit y<sup>c</sup> = " + format_number(c.logit, 5) + ". Softmax turns logits into probabilities: "
         "<span class=\"formula\">p<sub>c</sub> = exp(y<sup>c</sup>) / &Sigma;<sub>j</sub> exp(y<sup>j</sup>)</span>.</p></section>\n";
    const std::vector<int> strongest = strongest_channels(act, kAtlasChannels);
    b += "<section id=\"step-activations\"><h2>4. The activations A at the target layer</h2>\n<p>The target holds " +
         std::to_string(act.channels) + " channels of " + std::to_string(act.h) + " x " + std::to_string(act.w) +
         " positions (Z = " + std::to_string(act.spatial()) + "). Each channel is a detector: it is large where its pattern "
         "occurs. The " + std::to_string(strongest.size()) + " channels with the largest mean activation, each stretched to "
         "its own min..max (blue low, red high), with its mean and its entropy H (low: concentrated on a few positions; "
         "high, up to ln Z = " + format_number(std::log(double(act.spatial())), 3) + " for <code>spatial</code>: spread out):</p>\n" +
         atlas(act, strongest, e, "activation") + "</section>\n";
    b += "<section id=\"step-gradient\"><h2>5. The gradient G = dy<sup>c</sup>/dA at the target</h2>\n";
    if (has_grad)
        b += "<p>One backward pass from the logit y<sup>c</sup> down to the target gives, for every position and channel, how "
             "much the class score would change if that activation grew: <span class=\"formula\">G<sup>k</sup><sub>ij</sub> = "
             "&part;y<sup>c</sup> / &part;A<sup>k</sup><sub>ij</sub></span>. The same channels as above (gradients are signed; "
             "blue is the most negative, red the most positive):</p>\n" + atlas(grad_view, strongest, e, "gradient") +
             (c.gradient_constant ? "<p class=\"warning\">&#9888; Here the gradient is constant over space.</p>" : "") + "</section>\n";
    else
        b += "<p>No method asked for needs the gradient, so no backward pass ran.</p></section>\n";
    int number = 6;
    for (const ExplainedMap& m : c.maps) b += method_step(number++, m, act, has_grad ? &grad_view : nullptr, e, input.display);
    for (const ExplainWarning& w : ex.warnings) b += "<p class=\"warning\">&#9888; " + html_escape(w.message) + "</p>\n";
    return html_page("entropycam walkthrough: " + input_name, b);
}

}  // namespace ec
