// `entropycam sanity` and `summarize` on its CSVs, run as a user would: the CSV's columns and rows, shards
// merged by summarize give exactly the unsharded summary, --out writes the figures, and bad flags or inputs
// give one line and the documented exit code. Kept fast: MobileNetV1 0.75/192, two CAM methods, coral images.
#include <sys/stat.h>

#include "io/image.h"
#include "io/text_io.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

const std::string& v1_model_file() {
    static test::TempDir dir;
    static std::string path;
    if (path.empty()) {
        path = dir.path + "/mobilenet_v1_0.75_192_quant.ecw";
        save_model(test::imported_model("mobilenet_v1_0.75_192_quant"), path);
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

TEST_CASE("sanity CLI: CSV columns and rows; shards merged by summarize equal the unsharded summary; figures" * ec::test::needs_shared()) {
    test::TempDir out;
    const std::string cat = test::shared_path("images/coral/cat.bmp"), bird = test::shared_path("images/coral/bird.bmp");
    const std::string common = "sanity --model '" + v1_model_file() + "' --methods gradcam,featentropycam --seed 3 ";
    test::CliResult r = test::run_cli(common + "--csv '" + out.path + "/full.csv' --out '" + out.path + "/fig' '" + cat +
                                      "' '" + bird + "'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const CsvTable csv = read_csv(out.path + "/full.csv");
    CHECK(csv.header == std::vector<std::string>{"input", "index", "model", "layer", "seed", "method", "test", "step",
                                                 "depth", "class", "spearman_abs", "spearman", "ssim", "hog"});
    // MobileNetV1 has 28 parameter blocks (Logits, Conv2d_13_pointwise, Conv2d_13_depthwise, ..., Conv2d_0): per
    // image and method 28 cascading, 28 independent and 2 class rows.
    CHECK(csv.rows.size() == 2 * 2 * (28 + 28 + 2));
    size_t feat_class_rows = 0;
    for (const auto& row : csv.rows) {
        const std::string test = row[csv.column("test")];
        CHECK((test == "cascading" || test == "independent" || test == "class_bottom" || test == "class_top2"));
        if (row[csv.column("method")] == "featentropycam" && test.rfind("class_", 0) == 0) {
            ++feat_class_rows;
            CHECK(row[csv.column("spearman_abs")] == "1");
            CHECK(row[csv.column("ssim")] == "1");
        }
    }
    CHECK(feat_class_rows == 4);
    CHECK(r.out.find("| Feature Entropy-CAM |") != std::string::npos);
    CHECK(r.err.find("blocks from the logits down: Logits, Conv2d_13_pointwise, Conv2d_13_depthwise,") != std::string::npos);
    const ImageU8 fig = decode_image(out.path + "/fig/cat_cascading.png");
    CHECK(fig.width == (2 + 28) * 112);  // input, original, 28 cascading steps
    CHECK(exists(out.path + "/fig/bird_cascading.png"));
    CHECK(exists(out.path + "/fig/cascading_spearman_abs.png"));
    CHECK(exists(out.path + "/fig/independent_spearman_abs.png"));

    test::CliResult s0 = test::run_cli(common + "--shard 0/2 --csv '" + out.path + "/s0.csv' '" + cat + "' '" + bird + "'");
    test::CliResult s1 = test::run_cli(common + "--shard 1/2 --csv '" + out.path + "/s1.csv' '" + cat + "' '" + bird + "'");
    REQUIRE(s0.exit_code == 0);
    REQUIRE(s1.exit_code == 0);
    CHECK(read_csv(out.path + "/s0.csv").rows.size() == csv.rows.size() / 2);
    test::CliResult merged = test::run_cli("summarize '" + out.path + "/s1.csv' '" + out.path + "/s0.csv'");
    REQUIRE(merged.exit_code == 0);
    CHECK(merged.out == r.out);
    test::CliResult plots = test::run_cli("summarize --out '" + out.path + "/plots' '" + out.path + "/full.csv'");
    REQUIRE(plots.exit_code == 0);
    CHECK(plots.out == r.out);
    for (const char* png : {"cascading_spearman_abs", "cascading_spearman", "cascading_ssim", "cascading_hog", "independent_spearman_abs"})
        CHECK(decode_image(out.path + "/plots/" + png + ".png").width == 960);
    test::CliResult json = test::run_cli("summarize --json '" + out.path + "/full.csv'");
    REQUIRE(json.exit_code == 0);
    CHECK(json.out.find("\"summary\"") != std::string::npos);
    test::CliResult twice = test::run_cli("summarize '" + out.path + "/full.csv' '" + out.path + "/s0.csv'");
    CHECK(twice.exit_code == 1);
    CHECK(twice.err.find("overlapping shards") != std::string::npos);
}

TEST_CASE("sanity CLI: bad flags are usage errors (2), bad inputs are input errors (1), one line each" * ec::test::needs_shared()) {
    test::TempDir out;
    const std::string cat = test::shared_path("images/coral/cat.bmp");
    const std::string m = "sanity --model '" + v1_model_file() + "' --csv '" + out.path + "/x.csv' ";
    struct Case { std::string args; int code; const char* needle; };
    const Case cases[] = {
        {m + "--seed -1 '" + cat + "'", 2, "--seed"},
        {m + "--seed 12x '" + cat + "'", 2, "--seed"},
        {m + "--methods gradcam,center '" + cat + "'", 2, "center"},
        {m + "--methods gradcam,gradcam '" + cat + "'", 2, "twice"},
        {m + "--shard 2/2 '" + cat + "'", 2, "--shard"},
        {m + "--bogus '" + cat + "'", 2, "--bogus"},
        {m, 2, "no INPUT"},
        {m + "--layer no/such/layer '" + cat + "'", 1, "no/such/layer"},
        {m + "'" + out.path + "/missing.jpg'", 1, "missing.jpg"},
        {"sanity --model no_such_model '" + cat + "'", 1, "no_such_model"},
    };
    for (const Case& c : cases) {
        test::CliResult r = test::run_cli(c.args);
        CAPTURE(c.args);
        CHECK(r.exit_code == c.code);
        CHECK(count_lines(r.err) == 1);
        CHECK(r.err.find(c.needle) != std::string::npos);
    }
}
