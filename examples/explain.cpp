// Explains an image with every CAM method through the C++ API and prints each raw map (the layer-resolution
// map before ReLU, what `entropycam explain --raw` writes) as text. Build against an installed entropycam:
//   g++ -std=c++17 explain.cpp $(pkg-config --cflags --libs entropycam) -o explain
#include <cstdio>

#include <entropycam/entropycam.hpp>

int main(int argc, char** argv) {
    if (argc < 2) { std::fprintf(stderr, "usage: explain IMAGE [MODEL]\n"); return 2; }
    try {
        auto model = entropycam::load_model(argc > 2 ? argv[2] : "mobilenet_v2_1.0_224_quant");
        entropycam::Explanation e = entropycam::explain(*model, argv[1]);
        std::printf("class %d %s %.4f\n", e.explained.index, e.explained.label.c_str(), e.explained.probability);
        for (const entropycam::CamMap& map : e.maps) {
            std::printf("%s %d %d", map.method.c_str(), map.raw_width, map.raw_height);
            for (float v : map.raw) std::printf(" %.9g", v);
            std::printf("\n");
        }
    } catch (const entropycam::Error& err) {
        std::fprintf(stderr, "explain: %s\n", err.what());
        return err.kind;
    }
}
