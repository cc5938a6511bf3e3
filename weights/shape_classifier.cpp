#include "weights/shape_classifier.h"

#include <cstring>

#include "nn/error.h"
#include "nn/train.h"

namespace ec {

ClassifierArch parse_classifier_arch(const std::string& name) {
    if (name == "vgg") return ClassifierArch::Vgg;
    if (name == "gap") return ClassifierArch::Gap;
    throw Error("unknown architecture '" + name + "' (vgg or gap)");
}

const char* classifier_arch_name(ClassifierArch arch) { return arch == ClassifierArch::Vgg ? "vgg" : "gap"; }

namespace {

int zeros(Graph& g, const std::string& name, const Shape& shape) {
    return add_param(g, name, shape, std::vector<float>(size_t(shape.numel()), 0.0f));
}

// conv3x3 SAME + bias -> ReLU; returns the ReLU output.
int conv_relu(Graph& g, const std::string& block, int x, int in_channels, int out_channels) {
    Conv2DOptions same;
    same.padding.kind = Padding::Same;
    const int w = zeros(g, block + "/conv/weights", Shape{3, 3, in_channels, out_channels});
    const int b = zeros(g, block + "/conv/bias", Shape{out_channels});
    return relu(g, block + "/relu", conv2d(g, block + "/conv", x, w, b, same));
}

}  // namespace

Model build_shape_classifier(ClassifierArch arch, int size, const std::vector<std::string>& labels, uint64_t seed) {
    if (size < 16 || size % 16) throw Error("classifier input size " + std::to_string(size) + " is not a positive multiple of 16");
    if (labels.size() < 2) throw Error("a classifier needs at least 2 labels");
    const int classes = int(labels.size());
    const int channels[4] = {8, 16, 32, 64};
    Model m;
    Graph& g = m.graph;
    int x = add_input(g, "image", Shape{1, size, size, 3});
    int in = 3;
    PoolOptions pool;  // 2x2, stride 2, VALID
    for (int b = 0; b < 4; ++b) {
        const std::string block = "block" + std::to_string(b + 1);
        x = conv_relu(g, block, x, in, channels[b]);
        in = channels[b];
        if (b < 3 || arch == ClassifierArch::Vgg) x = max_pool(g, block + "/pool", x, pool);
    }
    if (arch == ClassifierArch::Vgg) {
        const int side = size / 16, flat = side * side * in;
        x = reshape(g, "flatten", x, Shape{1, flat});
        x = fully_connected(g, "fc1", x, zeros(g, "fc1/weights", Shape{flat, 128}), zeros(g, "fc1/bias", Shape{128}));
        x = relu(g, "fc1/relu", x);
        in = 128;
    } else {
        x = reshape(g, "gap/flat", global_avg_pool(g, "gap", x), Shape{1, in});
    }
    m.logits = fully_connected(g, "logits", x, zeros(g, "logits/weights", Shape{in, classes}),
                               zeros(g, "logits/bias", Shape{classes}));
    he_init(g, seed);
    // The logits layer starts 10x smaller than He: near-uniform first predictions (loss ~ ln K) instead of
    // confident random ones, whose correction would dominate the first updates.
    for (float& w : g.params[size_t(g.find_param("logits/weights"))].owned) w *= 0.1f;
    m.labels = labels;
    m.preprocessing.width = m.preprocessing.height = size;
    m.preprocessing.scale = 1.0 / 127.5;
    m.preprocessing.offset = -1.0f;
    m.name = std::string("shapes_") + classifier_arch_name(arch);
    m.source = std::string("entropycam train --arch ") + classifier_arch_name(arch);
    return m;
}

void check_weight_file_round_trip(const Model& trained, const std::string& path, const Tensor& input) {
    const Model back = load_model(path);
    Session a, b;
    forward(trained.graph, a, {&input});
    forward(back.graph, b, {&input});
    const Tensor &la = a.values[size_t(trained.logits)], &lb = b.values[size_t(back.logits)];
    if (la.shape != lb.shape || std::memcmp(la.ptr(), lb.ptr(), size_t(la.numel()) * sizeof(float)) != 0)
        throw Error(path + ": the written model's logits differ from the trained model's");
}

}  // namespace ec
