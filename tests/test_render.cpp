// Display: jet colormap, overlay blend, bitmap font, grid figure layout and PNG writing (read back through
// io/image.h's stb_image decoder).
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "cam/render/colormap.h"
#include "cam/render/font.h"
#include "io/png_write.h"
#include "cam/postprocess.h"
#include "cam/render/render.h"
#include "nn/file_util.h"
#include "io/image.h"
#include "tests/test_util.h"

using namespace ec;

namespace {

Rgb8 pixel_at(const ImageU8& im, int x, int y) {
    const uint8_t* p = &im.rgb[(size_t(y) * size_t(im.width) + size_t(x)) * 3];
    return Rgb8{p[0], p[1], p[2]};
}

// Number of pixels in [x0, x1) x [y0, y1) that differ from `color`.
int count_not(const ImageU8& im, int x0, int y0, int x1, int y1, Rgb8 color) {
    int n = 0;
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) n += pixel_at(im, x, y) != color;
    return n;
}

ImageU8 gradient_image(int w, int h) {
    ImageU8 im = make_image(w, h, Rgb8{});
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            uint8_t* p = &im.rgb[(size_t(y) * size_t(w) + size_t(x)) * 3];
            p[0] = uint8_t(x * 255 / std::max(w - 1, 1));
            p[1] = uint8_t(y * 255 / std::max(h - 1, 1));
            p[2] = uint8_t((x + y) % 256);
        }
    return im;
}

}  // namespace

TEST_CASE("render: jet colormap endpoints, middle and clamping") {
    CHECK(jet_color(0.0f) == Rgb8{0, 0, 128});    // dark blue
    CHECK(jet_color(1.0f) == Rgb8{128, 0, 0});    // dark red
    CHECK(jet_color(0.5f) == Rgb8{128, 255, 128});
    CHECK(jet_color(0.25f) == Rgb8{0, 128, 255});
    CHECK(jet_color(0.75f) == Rgb8{255, 128, 0});
    CHECK(jet_color(-3.0f) == jet_color(0.0f));
    CHECK(jet_color(7.0f) == jet_color(1.0f));
    CHECK(jet_color(NAN) == jet_color(0.0f));
}

TEST_CASE("render: overlay blend arithmetic") {
    ImageU8 im = make_image(2, 1, Rgb8{});
    im.rgb = {10, 20, 30, 200, 100, 51};
    Heatmap map(1, 2);
    map.values = {0.0f, 1.0f};  // jet: (0,0,128) and (128,0,0)
    ImageU8 out = overlay_heatmap(im, map);
    // floor(0.5 * image + 0.5 * jet + 0.5)
    CHECK(pixel_at(out, 0, 0) == Rgb8{5, 10, 79});
    CHECK(pixel_at(out, 1, 0) == Rgb8{164, 50, 26});
    CHECK(overlay_heatmap(im, map, 0.0f).rgb == im.rgb);
    CHECK(overlay_heatmap(im, map, 1.0f).rgb == colorize_jet(map).rgb);
    CHECK_THROWS_WITH_AS(overlay_heatmap(im, Heatmap(2, 2)), doctest::Contains("does not match"), Error);
    CHECK_THROWS_AS(overlay_heatmap(im, map, 1.5f), Error);
}

TEST_CASE("render: fill_rect and blit clip to the image") {
    ImageU8 dst = make_image(4, 3, Rgb8{1, 2, 3});
    fill_rect(dst, -2, -2, 3, 3, Rgb8{9, 9, 9});  // covers (0..0, 0..0)
    CHECK(pixel_at(dst, 0, 0) == Rgb8{9, 9, 9});
    CHECK(count_not(dst, 0, 0, 4, 3, Rgb8{1, 2, 3}) == 1);
    ImageU8 src = make_image(3, 3, Rgb8{7, 7, 7});
    blit(dst, src, 2, 1);  // lands on x 2..3, y 1..2
    CHECK(count_not(dst, 0, 0, 4, 3, Rgb8{1, 2, 3}) == 1 + 4);
    CHECK(pixel_at(dst, 3, 2) == Rgb8{7, 7, 7});
    blit(dst, src, 10, 10);  // entirely outside: no-op
    CHECK(count_not(dst, 0, 0, 4, 3, Rgb8{1, 2, 3}) == 5);
}

TEST_CASE("render: bitmap font draws, measures and clips") {
    CHECK(text_width("", 2) == 0);
    CHECK(text_width("A", 1) == 5);
    CHECK(text_width("AB", 3) == (2 * 6 - 1) * 3);
    ImageU8 im = make_image(40, 20, Rgb8{255, 255, 255});
    const Rgb8 white{255, 255, 255}, red{255, 0, 0};
    draw_text(im, 0, 0, "", red, 1);
    CHECK(count_not(im, 0, 0, 40, 20, white) == 0);
    draw_text(im, 1, 1, "I", red, 1);  // 'I': a vertical bar in glyph column 2, serifs at rows 0 and 6
    for (int row = 0; row < 7; ++row) CHECK(pixel_at(im, 1 + 2, 1 + row) == red);
    CHECK(count_not(im, 0, 0, 40, 20, white) == 7 + 4);
    draw_text(im, 10, 1, "Hi 9%", Rgb8{0, 0, 255}, 2);
    CHECK(count_not(im, 10, 1, 40, 15, white) > 40);
    // Off-image and partly off-image text is clipped, not an error; non-ASCII bytes draw as '?'.
    draw_text(im, -7, -5, "clip\xC3\xA9", red, 3);
    draw_text(im, 35, 15, "WWW", red, 2);
    CHECK_THROWS_AS(draw_text(im, 0, 0, "x", red, 0), Error);
}

TEST_CASE("render: grid figure size and layout") {
    const GridStyle style;  // cell 224, text scale 2
    CHECK(grid_header_height(style) == 44);
    CHECK(grid_label_height(style) == 26);
    const std::vector<std::string> titles = {"Input", "Grad-CAM", "HiResCAM", "Respond-CAM", "Grad Entropy-CAM",
                                             "Feature Entropy-CAM"};
    std::vector<GridRow> rows(2);
    for (int r = 0; r < 2; ++r) {
        rows[size_t(r)].input = gradient_image(192 + 32 * r, 192);
        for (int m = 0; m < 5; ++m) {
            Heatmap map(7, 7, 0.0f);
            map.at(m, m) = 1.0f;  // a different hot spot per method
            rows[size_t(r)].maps.push_back(map);
        }
        rows[size_t(r)].label = grid_row_label(r ? "tiger cat" : "tabby, tabby cat", r ? 0.359 : 0.431);
    }
    CHECK(rows[0].label == "tabby, tabby cat (43.1 %)");
    const ImageU8 fig = render_grid(rows, titles, style);
    CHECK(fig.width == 6 * 224);
    CHECK(fig.height == 44 + 2 * (26 + 224));  // 544
    REQUIRE(fig.rgb.size() == size_t(fig.width) * size_t(fig.height) * 3);
    const Rgb8 white{255, 255, 255};
    // Every column title and both row labels drew something; the label bands are text on white.
    for (int c = 0; c < 6; ++c) CHECK(count_not(fig, c * 224, 0, (c + 1) * 224, 44, white) > 30);
    CHECK(count_not(fig, 0, 44, 400, 44 + 26, white) > 30);
    CHECK(count_not(fig, 0, 44 + 250, 400, 44 + 250 + 26, white) > 30);
    // The input panel is the input resized to the cell; each map panel is its overlay.
    const ImageU8 input0 = resize_bilinear_u8(rows[0].input, 224, 224);
    CHECK(pixel_at(fig, 100, 44 + 26 + 50) == pixel_at(input0, 100, 50));
    CHECK(pixel_at(fig, 223, 44 + 26 + 223) == pixel_at(input0, 223, 223));
    const ImageU8 overlay = overlay_heatmap(input0, upsample_bilinear(rows[0].maps[4], 224, 224));
    for (int y : {0, 70, 150, 223})
        for (int x : {0, 100, 223}) CHECK(pixel_at(fig, 5 * 224 + x, 44 + 26 + y) == pixel_at(overlay, x, y));
    // Smaller cells and text: the same size formula.
    GridStyle small;
    small.cell = 64;
    small.text_scale = 1;
    const ImageU8 fig_small = render_grid(rows, titles, small);
    CHECK(fig_small.width == 6 * 64);
    CHECK(fig_small.height == 22 + 2 * (13 + 64));
    // Header only, and the errors.
    CHECK(render_grid({}, titles).height == 44);
    CHECK_THROWS_WITH_AS(render_grid(rows, {"Input", "Grad-CAM"}), doctest::Contains("5 maps for 2 columns"), Error);
    GridStyle bad;
    bad.text_scale = 0;
    CHECK_THROWS_AS(render_grid(rows, titles, bad), Error);
}

TEST_CASE("render: PNG is written atomically and reads back identical") {
    const ImageU8 im = gradient_image(37, 23);  // odd sizes
    const std::string png = encode_png(im);
    REQUIRE(png.size() > 33);
    CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK(png.compare(12, 4, "IHDR") == 0);
    auto be32 = [&](size_t at) {
        return uint32_t(uint8_t(png[at])) << 24 | uint32_t(uint8_t(png[at + 1])) << 16 | uint32_t(uint8_t(png[at + 2])) << 8 |
               uint32_t(uint8_t(png[at + 3]));
    };
    CHECK(be32(16) == 37);
    CHECK(be32(20) == 23);

    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("entropycam_test_render_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "out.png").string();
    write_png(path, im);
    const ImageU8 back = decode_image(path);
    CHECK(back.width == 37);
    CHECK(back.height == 23);
    CHECK(back.rgb == im.rgb);
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) files += entry.is_regular_file();
    CHECK(files == 1);  // no temporary left behind
    CHECK_THROWS_WITH_AS(write_png((dir / "missing" / "x.png").string(), im), doctest::Contains("x.png"), Error);
    std::filesystem::remove_all(dir);
    CHECK_THROWS_AS(encode_png(ImageU8{}), Error);
}
