// The synthetic shapes benchmark (io/synth_shapes.h, `entropycam synth`): deterministic bytes, masks that are
// exactly the drawn object, objects spread over the image, and the folder layout `evaluate --masks` reads.
#include <algorithm>
#include <cmath>
#include <set>

#include "cam/render/outline.h"
#include "cam/render/plot.h"
#include "io/png_write.h"
#include "io/synth_dataset.h"
#include "io/synth_shapes.h"
#include "io/text_io.h"
#include "nn/splitmix64.h"
#include "tests/test_util.h"
#include "tests/test_weights_util.h"
#include "weights/shape_classifier.h"

using namespace ec;

TEST_CASE("splitmix64 gives the published reference outputs and in-range draws") {
    // First outputs for seed 1234567 (Vigna's splitmix64.c reference).
    SplitMix64 r(1234567);
    CHECK(r.next() == 6457827717110365317ull);
    CHECK(r.next() == 3203168211198807973ull);
    SplitMix64 q(7);
    int counts[6] = {};
    for (int i = 0; i < 6000; ++i) {
        const int k = q.below(6);
        REQUIRE((k >= 0 && k < 6));
        ++counts[k];
        const double u = q.uniform();
        REQUIRE((u >= 0.0 && u < 1.0));
    }
    for (int c : counts) CHECK(std::abs(c - 1000) < 150);  // about 4.3 sd of a binomial(6000, 1/6)
}

TEST_CASE("synth: the same seed gives the same bytes, another seed other bytes") {
    for (uint64_t i : {0ull, 1ull, 17ull, 1000ull}) {
        const SynthSample a = make_synth_sample(64, 5, i), b = make_synth_sample(64, 5, i), c = make_synth_sample(64, 6, i);
        CHECK(a.image.rgb == b.image.rgb);
        CHECK(a.mask == b.mask);
        CHECK(encode_png(a.image) == encode_png(b.image));
        CHECK(a.image.rgb != c.image.rgb);
        CHECK(a.cls == int(i % kSynthClassCount));
    }
    CHECK_THROWS_AS(make_synth_sample(kSynthMinSize - 1, 1, 0), Error);
    CHECK_THROWS_AS(make_synth_sample(kSynthMaxSize + 1, 1, 0), Error);
}

TEST_CASE("synth: the mask is the object: one colour (within the noise), its box, a plausible area") {
    for (int size : {32, 64, 96}) {
        for (uint64_t i = 0; i < 60; ++i) {
            const SynthSample s = make_synth_sample(size, 3, i);
            int count = 0, x0 = size, y0 = size, x1 = -1, y1 = -1;
            int lo[3] = {255, 255, 255}, hi[3] = {0, 0, 0};
            for (int y = 0; y < size; ++y)
                for (int x = 0; x < size; ++x) {
                    const size_t p = size_t(y) * size_t(size) + size_t(x);
                    REQUIRE(s.mask[p] <= 1);
                    if (!s.mask[p]) continue;
                    ++count, x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
                    for (int c = 0; c < 3; ++c) lo[c] = std::min<int>(lo[c], s.image.rgb[3 * p + c]), hi[c] = std::max<int>(hi[c], s.image.rgb[3 * p + c]);
                }
            INFO("size " << size << " sample " << i << " class " << synth_class_name(s.cls));
            // The object is drawn last in one colour, then +-12 levels of noise (clamped): every mask pixel lies
            // within 24 levels of every other one, per channel.
            for (int c = 0; c < 3; ++c) CHECK(hi[c] - lo[c] <= 24);
            CHECK(x0 == s.box_x0);
            CHECK(x1 == s.box_x1);
            CHECK(y0 == s.box_y0);
            CHECK(y1 == s.box_y1);
            // Radius 12..25 % of the side: the smallest shape (a thin ring or cross at r = 0.12 S) still covers
            // over 1 % of the image, the largest (a square or disc at 0.25 S) under 20 %.
            const double area = double(count) / (size * size);
            CHECK(area > 0.01);
            CHECK(area < 0.20);
            // Whole inside the image, never touching the border.
            CHECK(x0 >= 1);
            CHECK(y0 >= 1);
            CHECK(x1 <= size - 2);
            CHECK(y1 <= size - 2);
        }
    }
}

TEST_CASE("synth: objects are spread over the image, not centred") {
    const int size = 64;
    int off_centre = 0, n = 300;
    double min_cx = size, max_cx = 0, min_cy = size, max_cy = 0;
    for (int i = 0; i < n; ++i) {
        const SynthSample s = make_synth_sample(size, 11, uint64_t(i));
        const double cx = 0.5 * (s.box_x0 + s.box_x1 + 1), cy = 0.5 * (s.box_y0 + s.box_y1 + 1);
        min_cx = std::min(min_cx, cx), max_cx = std::max(max_cx, cx);
        min_cy = std::min(min_cy, cy), max_cy = std::max(max_cy, cy);
        // The object misses the central pixel when its box does not contain the centre.
        off_centre += !(s.box_x0 <= size / 2 && s.box_x1 >= size / 2 && s.box_y0 <= size / 2 && s.box_y1 >= size / 2);
    }
    CHECK(max_cx - min_cx > 0.6 * size);
    CHECK(max_cy - min_cy > 0.6 * size);
    CHECK(off_centre > n / 3);
}

TEST_CASE("synth CLI: two runs write the same bytes in the layout evaluate --masks and train read") {
    test::TempDir a, b;
    for (const std::string& dir : {a.path, b.path}) {
        test::CliResult r = test::run_cli("synth --n 14 --size 32 --seed 9 --test-fraction 0.5 --out '" + dir + "'");
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
    }
    CHECK(test::read_text(a.path + "/labels.csv") == test::read_text(b.path + "/labels.csv"));
    const CsvTable t = read_csv(a.path + "/labels.csv");
    REQUIRE(t.rows.size() == 14);
    std::set<std::string> files;
    for (const auto& row : t.rows) {
        const std::string split = row[t.column("split")], file = row[t.column("file")];
        files.insert(file);
        // The mask of DIR/<split>/images/F is DIR/<split>/masks/F: the same stem, which is evaluate's first rule.
        for (const char* kind : {"images", "masks"}) {
            const std::string rel = "/" + split + "/" + kind + "/" + file;
            CHECK(test::read_text(a.path + rel) == test::read_text(b.path + rel));
        }
        const ImageU8 mask = decode_image(a.path + "/" + split + "/masks/" + file);
        // labels.csv's box is the mask PNG's bounding box.
        int x0 = 32, y0 = 32, x1 = -1, y1 = -1;
        for (int y = 0; y < 32; ++y)
            for (int x = 0; x < 32; ++x)
                if (mask.rgb[(size_t(y) * 32 + size_t(x)) * 3] == 255)
                    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
        CHECK(x0 == std::stoi(row[t.column("x0")]));
        CHECK(y0 == std::stoi(row[t.column("y0")]));
        CHECK(x1 == std::stoi(row[t.column("x1")]));
        CHECK(y1 == std::stoi(row[t.column("y1")]));
    }
    CHECK(files.size() == 14);  // unique over both splits
    const LabelledSplit test_split = read_labelled_split(a.path, "test");
    CHECK(test_split.set.count == 7);
    CHECK(test_split.classes == synth_class_names());
    CHECK(test_split.set.labels[0] == 7 % kSynthClassCount);  // the last 7 of 14 are the test split

    CHECK(test::run_cli("synth --n 3").exit_code == 2);
    CHECK(test::run_cli("synth --out '" + a.path + "/x' --size 8").exit_code == 2);
    CHECK(test::run_cli("synth --out '" + a.path + "/y' --test-fraction 2").exit_code == 2);
    CHECK(test::run_cli("synth --out /proc/entropycam-cannot-write").exit_code == 1);
}

TEST_CASE("mask outline: the border pixels of the scaled mask, nothing inside or outside") {
    // A 4x4 mask with its central 2x2 inside, drawn 2x onto an 8x8 rectangle at (1, 1) of a 10x10 image: the
    // inside becomes the 4x4 block at 3..6; its 12 border pixels are drawn, its 4 interior ones are not.
    std::vector<uint8_t> mask(16, 0);
    mask[5] = mask[6] = mask[9] = mask[10] = 1;
    ImageU8 im{10, 10, std::vector<uint8_t>(300, 0)};
    draw_mask_outline(im, 1, 1, 8, 8, mask, 4, 4, Rgb8{255, 255, 255});
    int drawn = 0;
    for (int y = 0; y < 10; ++y)
        for (int x = 0; x < 10; ++x) {
            const bool on = im.rgb[size_t(y * 10 + x) * 3] == 255;
            const bool block = x >= 3 && x <= 6 && y >= 3 && y <= 6, interior = x >= 4 && x <= 5 && y >= 4 && y <= 5;
            CHECK(on == (block && !interior));
            drawn += on;
        }
    CHECK(drawn == 12);
    // A mask touching the rectangle's edge is outlined there too; clipping at the image edge does not throw.
    draw_mask_outline(im, 5, 5, 8, 8, std::vector<uint8_t>(16, 1), 4, 4, Rgb8{1, 2, 3});
    CHECK(im.rgb[size_t(5 * 10 + 9) * 3] == 1);
    CHECK_THROWS_AS(draw_mask_outline(im, 0, 0, 8, 8, mask, 4, 5, Rgb8{}), Error);
}

TEST_CASE("synth-grid CLI: one column per method asked for (the five by default), the input first") {
    test::TempDir dir;
    const std::string data = dir.path + "/s", model = dir.path + "/gap.ecw";
    REQUIRE(test::run_cli("synth --n 4 --size 32 --test-fraction 0.5 --out '" + data + "'").exit_code == 0);
    save_model(build_shape_classifier(ClassifierArch::Gap, 32, synth_class_names(), 3), model);
    const std::string common = "synth-grid --model '" + model + "' --data '" + data + "' --rows 2 --cell 48 --layer block3/relu ";
    struct Case { std::string methods; int columns; };
    for (const Case& c : {Case{"", 1 + 5}, Case{"--methods all", 1 + 12}, Case{"--methods eigencam,scorecam", 1 + 2}}) {
        CAPTURE(c.methods);
        const test::CliResult r = test::run_cli(common + c.methods + " --out '" + dir.path + "/g.png'");
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(decode_image(dir.path + "/g.png").width == c.columns * 48);
    }
    CHECK(test::run_cli(common + "--methods gradcam,nosuchcam --out '" + dir.path + "/h.png'").exit_code == 2);
}
