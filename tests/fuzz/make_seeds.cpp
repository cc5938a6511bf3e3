// Builds the fuzz seed corpora at fuzz time (nothing here is committed data): small files of every kind the
// fuzz targets read, generated the way the tests generate them, plus small files copied from the shared folder.
//   make_seeds SHARED_DIR OUT_DIR   ->  OUT_DIR/{tflite,ecw,image,npy,text}/...
// Large shared files (the 3-4 MB TFLite models, 0.5 MB BMPs) are copied only where the target can use them;
// mutating megabytes is slow, so each corpus is dominated by small generated seeds.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <string>
#include <vector>

#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "cli/eval_table.h"
#include "nn/file_util.h"
#include "io/image.h"
#include "io/npy.h"
#include "tests/fuzz/hostile_files.h"
#include "tests/fuzz/tflite_builder.h"
#include "weights/format.h"
#include "weights/tflite_import.h"

using namespace ec;

namespace {

std::string out_dir;

void put(const std::string& kind, const std::string& name, const std::string& bytes) {
    ::mkdir((out_dir + "/" + kind).c_str(), 0755);
    write_file_atomic(out_dir + "/" + kind + "/" + name, bytes);
}

std::string read(const std::string& path) {
    std::vector<uint8_t> b = read_file_bytes(path, int64_t(64) << 20);
    return std::string(b.begin(), b.end());
}

// Copies the shared files of a folder whose name ends with `suffix` and whose size is at most max_bytes.
int copy_small(const std::string& dir, const std::string& suffix, size_t max_bytes, const std::string& kind, int limit) {
    DIR* d = opendir(dir.c_str());
    if (!d) return 0;
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) names.push_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    int copied = 0;
    for (const std::string& n : names) {
        if (copied >= limit || n.size() < suffix.size() || n.compare(n.size() - suffix.size(), suffix.size(), suffix)) continue;
        struct stat st;
        if (stat((dir + "/" + n).c_str(), &st) != 0 || !S_ISREG(st.st_mode) || size_t(st.st_size) > max_bytes) continue;
        put(kind, "shared_" + n, read(dir + "/" + n));
        ++copied;
    }
    return copied;
}

void append(void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size)); }

// No JPEG writer here: stb_image_write's JPEG encoder shifts negative values (UBSan stops on it); the JPEG seeds
// are the small shared photos (including a greyscale one).
void image_seeds() {
    for (auto [w, h] : {std::pair{1, 1}, {8, 8}, {17, 5}, {3, 29}}) {
        for (int comp : {1, 2, 3, 4}) {
            std::vector<uint8_t> px(size_t(w) * size_t(h) * size_t(comp));
            for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 13 % 256);
            const std::string tag = std::to_string(w) + "x" + std::to_string(h) + "c" + std::to_string(comp);
            std::string s;
            stbi_write_png_to_func(append, &s, w, h, comp, px.data(), w * comp); put("image", tag + ".png", s);
            s.clear(); stbi_write_bmp_to_func(append, &s, w, h, comp, px.data()); put("image", tag + ".bmp", s);
            s.clear(); stbi_write_tga_to_func(append, &s, w, h, comp, px.data()); put("image", tag + ".tga", s);
        }
    }
    put("image", "grey16.png", test::stored_png(5, 4, 16, 0));
    put("image", "rgb16.png", test::stored_png(3, 3, 16, 2));
    put("image", "ga16.png", test::stored_png(4, 2, 16, 4));
    put("image", "rgba8.png", test::stored_png(6, 3, 8, 6));
    for (int c : {1, 3, 4}) put("image", "flat" + std::to_string(c) + ".jpg", test::flat_jpeg(c, c == 4 ? 0 : -1));
    // A 1x1 GIF (header, logical screen, 2-colour table, image descriptor, LZW data, trailer).
    static const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 255, 0, 0, 0, 0, 255,
                                        ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, ';'};
    put("image", "tiny.gif", std::string(reinterpret_cast<const char*>(gif), sizeof gif));
}

void npy_seeds() {
    std::vector<float> v(8 * 8 * 3);
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) / 96.0f - 1.0f;
    const std::string tmp = out_dir + "/tmp.npy";
    write_npy(tmp, v.data(), {1, 8, 8, 3}); put("npy", "f4_1x8x8x3.npy", read(tmp));
    write_npy(tmp, v.data(), {3, 64}); put("npy", "f4_3x64.npy", read(tmp));
    write_npy(tmp, v.data(), {192}); put("npy", "f4_192.npy", read(tmp));
    write_npy(tmp, v.data(), {}); put("npy", "f4_scalar.npy", read(tmp));
    std::remove(tmp.c_str());
    // Hand-written headers for the other dtypes and versions the reader accepts.
    auto npy = [](int major, const std::string& dict, const std::string& payload) {
        std::string h = dict;
        while ((h.size() + (major == 1 ? 11 : 13)) % 64) h += ' ';
        h += '\n';
        std::string b = "\x93NUMPY";
        b += char(major); b += '\0';
        b += char(h.size() & 0xff); b += char(h.size() >> 8);
        if (major != 1) b += std::string(2, '\0');
        return b + h + payload;
    };
    std::string u8(5 * 4 * 3, '\0');
    for (size_t i = 0; i < u8.size(); ++i) u8[i] = char(i * 11);
    put("npy", "u1_5x4x3.npy", npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (5, 4, 3), }", u8));
    put("npy", "u1_1x5x4x3.npy", npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 5, 4, 3), }", u8));
    put("npy", "f8_v2.npy", npy(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", std::string(48, '\x3f')));
    put("npy", "i4.npy", npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", std::string(16, '\x7f')));
    put("npy", "i8_v3.npy", npy(3, "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }", std::string(16, '\x80')));
    put("npy", "b1.npy", npy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3, 0), }", ""));
    put("npy", "fortran.npy", npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", std::string(4, '\0')));
}

// A model of every .ecw node kind the importer does not make (BiasAdd, GlobalAvgPool directly, a conv without
// bias, SoftmaxCrossEntropy with a second input).
Model graph_api_model() {
    Model m;
    Graph& g = m.graph;
    const int x = add_input(g, "image", Shape{1, 6, 6, 3});
    const int target = add_input(g, "target", Shape{1, 3});
    std::vector<float> f(2 * 2 * 3 * 4);
    for (size_t i = 0; i < f.size(); ++i) f[i] = float(int(i % 5) - 2) * 0.25f;
    Conv2DOptions c;
    c.stride_h = c.stride_w = 2;
    c.padding.kind = Padding::Valid;
    const int conv = conv2d(g, "conv", x, add_param(g, "w", Shape{2, 2, 3, 4}, f), -1, c);
    const int biased = bias_add(g, "bias", conv, add_param(g, "b", Shape{4}, {0.1f, 0.2f, -0.3f, 0.f}));
    const int r = relu(g, "relu", biased);
    const int gap = global_avg_pool(g, "gap", r);
    const int flat = reshape(g, "flat", gap, Shape{1, 4});
    std::vector<float> w(4 * 3, 0.5f);
    const int logits = fully_connected(g, "logits", flat, add_param(g, "fc", Shape{4, 3}, w), -1);
    softmax(g, "prob", logits);
    softmax_cross_entropy(g, "loss", logits, target);
    m.logits = logits;
    m.labels = {"zero", "one", "two"};
    m.preprocessing.width = m.preprocessing.height = 6;
    m.name = "graph_api";
    m.source = "make_seeds";
    return m;
}

void model_seeds(const std::string& shared) {
    const std::string tiny = test::tiny_tflite();
    put("tflite", "tiny.tflite", tiny);
    put("tflite", "tiny_mul.tflite", test::tiny_tflite(18));
    // The real models are large: one is enough to reach the real converter's layouts (and truncations of it).
    put("tflite", "shared_mobilenet_v1_0.75_192_quant.tflite", read(shared + "/models/mobilenet_v1_0.75_192_quant.tflite"));

    Model imported = import_tflite_memory(reinterpret_cast<const uint8_t*>(tiny.data()), tiny.size(), "tiny.tflite",
                                          "tiny", {"a", "b", "c", "d", "e"});
    put("ecw", "tiny_import.ecw", ecw::serialize_model(imported));
    put("ecw", "graph_api.ecw", ecw::serialize_model(graph_api_model()));
    // Concat at its input limit (256) and just over the 64 the runner once had fixed arrays for.
    for (int n : {65, 256}) {
        const std::string wide = test::wide_concat_tflite(n);
        put("tflite", "concat" + std::to_string(n) + ".tflite", wide);
        Model m = import_tflite_memory(reinterpret_cast<const uint8_t*>(wide.data()), wide.size(), "wide.tflite", "wide", {});
        put("ecw", "concat" + std::to_string(n) + ".ecw", ecw::serialize_model(m));
    }
}

void text_seeds(const std::string& shared) {
    put("text", "shared_imagenet_labels.txt", read(shared + "/models/imagenet_labels.txt"));
    put("text", "shared_labels.csv", read(shared + "/images/imagenet-dev/labels.csv"));
    put("text", "quoted.csv", "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"multi\nline\"\n\n1,2,\n");
    put("text", "bom.txt", "\xEF\xBB\xBF" "background\r\ncat\n\ndog");
    cli::EvalRow r{"img/cat.jpg", 3, "mobilenet", "layer/Relu6", 50, "top1", "gradcam", 282, "tiger cat, \"x\"", 0.5, 0.25, {}};
    for (int k = 0; k < cli::kEvalMetricCount; ++k) r.metric[k] = 0.125 * k;
    std::string csv;
    for (const std::string& h : cli::eval_csv_header()) csv += (csv.empty() ? "" : ",") + h;
    csv += "\n" + cli::eval_csv_line(r);
    r.method = "random";
    r.metric[2] = std::nan("");
    csv += cli::eval_csv_line(r);
    put("text", "evaluate.csv", csv);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: make_seeds SHARED_DIR OUT_DIR\n");
        return 2;
    }
    const std::string shared = argv[1];
    out_dir = argv[2];
    ::mkdir(out_dir.c_str(), 0755);
    try {
        image_seeds();
        npy_seeds();
        model_seeds(shared);
        text_seeds(shared);
        int n = copy_small(shared + "/images/imagenet-dev", ".JPEG", 24 << 10, "image", 8);
        n += copy_small(shared + "/images/coral", ".jpg", 64 << 10, "image", 2);
        n += copy_small(shared + "/reference/mobilenet_v2_1.0_224_quant/cat", ".npy", 8 << 10, "npy", 8);
        n += copy_small(shared + "/reference/mobilenet_v2_1.0_224_quant/n03908714_pencil_sharpener", "_raw.npy", 8 << 10, "npy", 2);
        std::fprintf(stderr, "make_seeds: corpora in %s (%d files copied from %s)\n", out_dir.c_str(), n, shared.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
