// `entropycam synth`: writes the synthetic shapes benchmark (io/synth_shapes.h) as PNG images, PNG masks and a
// labels.csv, split into train/ and test/. The layout fits `evaluate --masks`: the mask of
// DIR/test/images/NNNNN.png is DIR/test/masks/NNNNN.png (same stem), file names are unique over both splits.
#include <cmath>
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/paths.h"
#include "io/png_write.h"
#include "io/synth_shapes.h"
#include "nn/file_util.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam synth --out DIR [--n N] [--size S] [--seed X] [--test-fraction F]\n"
    "Writes a synthetic benchmark with known evidence: S x S RGB images, each with exactly one object of one of\n"
    "six shape classes (disc, square, triangle, cross, ring, star) at a random position, scale, rotation and\n"
    "colour, among clutter of no class (gradient background, lines, elongated blobs, pixel noise).\n"
    "  --out DIR            output folder: DIR/{train,test}/images/NNNNN.png, DIR/{train,test}/masks/NNNNN.png\n"
    "                       (255 = the object's pixels) and DIR/labels.csv (file, split, class_index, label,\n"
    "                       and the object's box x0, y0, x1, y1, inclusive pixel coordinates)\n"
    "  --n N                number of images, both splits (default 28000)\n"
    "  --size S             image side in pixels, 32..1024 (default 64)\n"
    "  --seed X             seed (default 1); the same seed, size and N give the same bytes\n"
    "  --test-fraction F    share of the images in test/ (the last ones), 0..1 (default 0.1)\n";

double parse_fraction(const std::string& text) {
    char* end = nullptr;
    const double f = std::strtod(text.c_str(), &end);
    if (text.empty() || *end || !(f >= 0.0 && f <= 1.0)) throw UsageError("--test-fraction takes a number in [0, 1], got '" + text + "'");
    return f;
}

uint64_t parse_seed(const std::string& text) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end || text[0] == '-') throw UsageError("--seed takes a whole number >= 0, got '" + text + "'");
    return uint64_t(v);
}

}  // namespace

int cmd_synth(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--out", "--n", "--size", "--seed", "--test-fraction"}, {"--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (!a.positional.empty()) throw UsageError("unexpected argument '" + a.positional[0] + "'");
    if (!a.has("--out")) throw UsageError("--out DIR is required");
    const std::string out = a.get("--out");
    const int n = a.get_int("--n", 28000, 1, 1000000);
    const int size = a.get_int("--size", 64, kSynthMinSize, kSynthMaxSize);
    const uint64_t seed = parse_seed(a.get("--seed", "1"));
    const int n_test = int(std::lround(n * parse_fraction(a.get("--test-fraction", "0.1"))));

    for (const char* split : {"train", "test"})
        for (const char* kind : {"images", "masks"}) ensure_writable_dir(out + "/" + split + "/" + kind);
    std::string csv = "file,split,class_index,label,x0,y0,x1,y1\n";
    for (int i = 0; i < n; ++i) {
        const SynthSample s = make_synth_sample(size, seed, uint64_t(i));
        const char* split = i >= n - n_test ? "test" : "train";
        char name[32];
        std::snprintf(name, sizeof name, "%05d.png", i);
        write_png(out + "/" + split + "/images/" + name, s.image);
        write_png(out + "/" + split + "/masks/" + name, synth_mask_image(s));
        csv += std::string(name) + "," + split + "," + std::to_string(s.cls) + "," + synth_class_name(s.cls) + "," +
               std::to_string(s.box_x0) + "," + std::to_string(s.box_y0) + "," + std::to_string(s.box_x1) + "," +
               std::to_string(s.box_y1) + "\n";
        if ((i + 1) % 1000 == 0 || i + 1 == n) std::fprintf(stderr, "\rsynth: %d/%d images", i + 1, n);
    }
    std::fputc('\n', stderr);
    write_file_atomic(out + "/labels.csv", csv);
    std::printf("%s: %d images of %dx%d (%d train, %d test), 6 classes, seed %llu\n", out.c_str(), n, size, size,
                n - n_test, n_test, (unsigned long long)seed);
    return kExitOk;
}

}  // namespace ec::cli
