// Explain why MobileNetV2 sees a goldfish, with all five CAM methods.
// Build: g++ -std=c++17 -O2 -I. example.cpp build/libentropycam.a -fopenmp -o example
#include <cstdio>

#include "api/entropycam.h"

int main(int argc, char** argv) {
    if (argc < 3) { std::fprintf(stderr, "usage: example MODEL IMAGE\n"); return 2; }
    try {
        auto model = entropycam::load_model(argv[1]);
        entropycam::Explanation e = entropycam::explain(*model, argv[2]);
        std::printf("%s (%.1f %%) at %s\n", e.explained.label.c_str(), 100 * e.explained.probability, e.layer.c_str());
        for (const entropycam::CamMap& map : e.maps) {
            entropycam::write_overlay_png(map.method + ".png", argv[2], *model, map);
            std::printf("  %-15s -> %s.png\n", map.method.c_str(), map.method.c_str());
        }
    } catch (const entropycam::Error& err) {
        std::fprintf(stderr, "example: %s\n", err.what());
        return 1;
    }
}
