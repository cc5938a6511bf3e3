// `entropycam explain`, run as a user would: files written, the grid's layout,
// the warnings, and one-line errors that leave nothing half-written.
#include <sys/stat.h>

#include "cam/explain.h"
#include "io/image.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

// The default model converted once into a temporary folder for the whole file.
const std::string& model_file() {
    static test::TempDir dir;
    static std::string path;
    if (path.empty()) {
        path = dir.path + "/mobilenet_v2_1.0_224_quant.ecw";
        save_model(test::imported_model("mobilenet_v2_1.0_224_quant"), path);
    }
    return path;
}

bool exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

int count_lines(const std::string& s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

}  // namespace

TEST_CASE("explain CLI: overlays, raw maps and a grid with the poster's layout" * ec::test::needs_shared()) {
    test::TempDir out;
    const std::string cat = test::shared_path("images/coral/cat.bmp");
    const std::string fish = test::shared_path("images/imagenet-dev/n01443537_goldfish.JPEG");
    test::CliResult r = test::run_cli("explain --model '" + model_file() + "' --raw --json --out '" + out.path + "' '" + cat + "' '" + fish + "'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (const char* m : {"gradcam", "hirescam", "respondcam", "gradentropycam", "featentropycam"}) {
        CHECK(exists(out.path + "/cat_" + std::string(m) + ".png"));
        CHECK(exists(out.path + "/n01443537_goldfish_" + std::string(m) + "_raw.npy"));
    }
    CHECK(exists(out.path + "/cat_gradcam_weights.npy"));
    CHECK(!exists(out.path + "/cat_hirescam_weights.npy"));  // HiResCAM has no channel weights
    CHECK(r.out.find("\"label\": \"Egyptian cat\"") != std::string::npos);
    CHECK(r.out.find("does not depend on the class") != std::string::npos);
    CHECK(r.out.find("constant over space") == std::string::npos);  // the default layer is not degenerate

    // Layout: 6 columns of 224 px; a 44 px header and per row a 26 px label band + a 224 px cell.
    ImageU8 grid = decode_image(out.path + "/grid.png");
    CHECK(grid.width == 6 * 224);
    CHECK(grid.height == 44 + 2 * (26 + 224));
    // Each method cell differs from the input cell of its row (the overlay is drawn), and the input cell is
    // the resized input itself.
    ImageU8 input = decode_image(cat);
    ImageU8 resized = resize_bilinear_u8(resize_bilinear_u8(input, 224, 224), 224, 224);
    auto cell_diff = [&](int row, int col_a, int col_b) {
        double sum = 0;
        const int y0 = 44 + row * 250 + 26;
        for (int y = 0; y < 224; ++y)
            for (int x = 0; x < 224; ++x)
                for (int c = 0; c < 3; ++c)
                    sum += std::abs(int(grid.rgb[((y0 + y) * grid.width + col_a * 224 + x) * 3 + c]) -
                                    int(grid.rgb[((y0 + y) * grid.width + col_b * 224 + x) * 3 + c]));
        return sum / (224 * 224 * 3);
    };
    for (int row = 0; row < 2; ++row)
        for (int col = 1; col < 6; ++col) CHECK(cell_diff(row, 0, col) > 5.0);
    int input_cell_diff = 0;
    for (int y = 0; y < 224; ++y)
        for (int x = 0; x < 224; ++x)
            input_cell_diff = std::max(input_cell_diff, std::abs(int(grid.rgb[((70 + y) * grid.width + x) * 3]) - int(resized.rgb[(y * 224 + x) * 3])));
    CHECK(input_cell_diff <= 1);
}

TEST_CASE("explain CLI: at the input of global pooling it warns that the gradient methods coincide" * ec::test::needs_shared()) {
    test::TempDir out;
    test::CliResult r = test::run_cli("explain --model '" + model_file() + "' --layer MobilenetV2/Conv_1/Relu6 --methods gradcam,gradentropycam --out '" +
                                      out.path + "' '" + test::shared_path("images/coral/cat.bmp") + "'");
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("constant over space") != std::string::npos);
    CHECK(r.err.find("does not depend on the class") == std::string::npos);  // not asked for
    CHECK(exists(out.path + "/cat_gradentropycam.png"));
    CHECK(!exists(out.path + "/cat_hirescam.png"));
    ImageU8 grid = decode_image(out.path + "/grid.png");
    CHECK(grid.width == 3 * 224);
}

TEST_CASE("explain CLI: --top N explains N classes in one batch; --class picks one" * ec::test::needs_shared()) {
    test::TempDir out;
    const std::string cat = test::shared_path("images/coral/cat.bmp");
    test::CliResult r = test::run_cli("explain --model '" + model_file() + "' --top 2 --methods gradcam --json --out '" + out.path + "' '" + cat + "'");
    REQUIRE(r.exit_code == 0);
    CHECK(exists(out.path + "/cat_c286_gradcam.png"));  // Egyptian cat, then tabby (reference meta.json)
    CHECK(exists(out.path + "/cat_c282_gradcam.png"));
    r = test::run_cli("explain --model '" + model_file() + "' --class 282 --methods hirescam --json --out '" + out.path + "' '" + cat + "'");
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("\"class\": 282") != std::string::npos);
}

TEST_CASE("explain CLI: --methods names issue 12's methods; the grid's columns follow them; bad names list the valid" * ec::test::needs_shared()) {
    test::TempDir out;
    const std::string cat = test::shared_path("images/coral/cat.bmp");
    test::CliResult r = test::run_cli("explain --model '" + model_file() + "' --methods xgradcam,layercam --out '" + out.path + "' '" + cat + "'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(exists(out.path + "/cat_xgradcam.png"));
    CHECK(exists(out.path + "/cat_layercam.png"));
    CHECK(!exists(out.path + "/cat_gradcam.png"));  // only the methods asked
    CHECK(decode_image(out.path + "/grid.png").width == 3 * 224);  // input + 2 method columns
    test::CliResult bad = test::run_cli("explain --model '" + model_file() + "' --methods layercam,gradcamplus --out '" + out.path + "/x' '" + cat + "'");
    CHECK(bad.exit_code == 2);
    CHECK(count_lines(bad.err) == 1);
    CHECK(bad.err.find("gradcamplus") != std::string::npos);
    for (const char* valid : {"gradcampp", "xgradcam", "eigencam", "scorecam", "posgradentropycam"})
        CHECK(bad.err.find(valid) != std::string::npos);
    CHECK(!exists(out.path + "/x"));
}

TEST_CASE("explain CLI: --layer A,B writes the fused overlays" * ec::test::needs_shared()) {
    test::TempDir out;
    const Graph& g = test::imported_model("mobilenet_v2_1.0_224_quant").graph;
    const std::string late = g.tensors[size_t(default_cam_target(g, test::imported_model("mobilenet_v2_1.0_224_quant").logits))].name;
    std::string early;
    for (const Node& node : g.nodes)  // the first Relu6 feature map: another layer than the default, by rule
        if (early.empty() && node.op == OpKind::Relu6 && g.tensors[size_t(node.output)].shape.rank == 4)
            early = g.tensors[size_t(node.output)].name;
    const std::string cat = test::shared_path("images/coral/cat.bmp");
    test::CliResult r = test::run_cli("explain --model '" + model_file() + "' --layer '" + early + "," + late +
                                      "' --methods gradcam --json --out '" + out.path + "' '" + cat + "'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(exists(out.path + "/cat_gradcam.png"));
    CHECK(r.out.find(early + "," + late) != std::string::npos);  // the JSON names both layers
}

TEST_CASE("explain CLI: bad layer, class, flag or output folder: one line, non-zero exit, nothing written" * ec::test::needs_shared()) {
    test::TempDir out;
    const std::string cat = test::shared_path("images/coral/cat.bmp");
    const std::string m = "explain --model '" + model_file() + "' --out '" + out.path + "/x' ";
    struct Case { std::string args; int code; const char* needle; };
    const Case cases[] = {
        {m + "--layer no/such/layer '" + cat + "'", 1, "no/such/layer"},
        {m + "--layer MobilenetV2/Predictions/Softmax '" + cat + "'", 1, "4-D"},
        {m + "--class 1001 '" + cat + "'", 1, "out of range"},
        {m + "--class -3 '" + cat + "'", 2, "--class"},
        {m + "--methods gradcam,nosuch '" + cat + "'", 2, "nosuch"},
        {m + "--bogus '" + cat + "'", 2, "--bogus"},
        {m + "'" + out.path + "/missing.jpg'", 1, "missing.jpg"},
        {"explain --model '" + model_file() + "' --out /proc/entropycam-test '" + cat + "'", 1, "/proc/entropycam-test"},
    };
    for (const Case& c : cases) {
        test::CliResult r = test::run_cli(c.args);
        CAPTURE(c.args);
        CHECK(r.exit_code == c.code);
        CHECK(count_lines(r.err) == 1);
        CHECK(r.err.find(c.needle) != std::string::npos);
        CHECK(!exists(out.path + "/x/grid.png"));
    }
}
