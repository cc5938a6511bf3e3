// `entropycam report` run as a user would: the index page and its images, the evaluate / sanity CSVs on it,
// everything inside DIR, the walkthrough page, and one-line errors that leave nothing written.
#include <sys/stat.h>

#include "cam/eval/eval_table.h"
#include "io/image.h"
#include "tests/html_check.h"
#include "tests/test_weights_util.h"

using namespace ec;
using test::count_of;

namespace {

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

}  // namespace

TEST_CASE("report CLI: index page with every input and method, the CSVs' numbers, nothing outside DIR" * ec::test::needs_shared()) {
    test::TempDir out;
    const std::string cat = test::shared_path("images/coral/cat.bmp");
    const std::string fish = test::shared_path("images/imagenet-dev/n01443537_goldfish.JPEG");
    // A small evaluate CSV (the evaluate writer's format) and a sanity CSV with the sanity command's columns.
    std::string eval;
    for (const std::string& h : eval_csv_header()) eval += (eval.empty() ? "" : ",") + h;
    eval += "\n";
    EvalRow row;
    row.input = cat;
    row.model = "m";
    row.layer = "L";
    row.steps = 10;
    row.class_from = "top1";
    row.method = "gradcam";
    row.cls = 286;
    row.label = "Egyptian cat";
    row.prob = 0.75;
    row.prob_masked = 0.5;
    for (int k = 0; k < kEvalMetricCount; ++k) row.metric[k] = 0.1 + 0.2 * k;
    round_row(row);
    eval += eval_csv_line(row);
    write_file_atomic(out.path + "/eval.csv", eval);
    write_file_atomic(out.path + "/sanity.csv", "input,method,test,step,spearman_abs,spearman,ssim,hog\n"
                                                "cat,gradcam,cascading,logits,0.875,0.5,0.25,0.125\n"
                                                "cat,gradcam,class_top2,0,0.3125,0.5,0.25,0.125\n");
    const std::string dir = out.path + "/report";
    test::CliResult r = test::run_cli("report --model '" + model_file() + "' --methods gradcam,hirescam,featentropycam --evaluate '" +
                                      out.path + "/eval.csv' --sanity '" + out.path + "/sanity.csv' --out '" + dir + "' '" + cat + "' '" + fish + "'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == dir + "/index.html\n");
    const std::string html = test::read_text(dir + "/index.html");
    CHECK(count_of(html, "class=\"input\"") == 2);
    for (const char* m : {"gradcam", "hirescam", "featentropycam"}) CHECK(count_of(html, "data-method=\"" + std::string(m) + "\"") == 2);
    CHECK(count_of(html, "data-method=\"respondcam\"") == 0);
    CHECK(html.find("Egyptian cat") != std::string::npos);
    CHECK(html.find("goldfish") != std::string::npos);
    CHECK(html.find("does not depend on the class") != std::string::npos);
    CHECK(html.find("data-value=\"" + std::string("0.300000012") + "\"") != std::string::npos);  // insertion_auc 0.3 at float precision
    CHECK(html.find("data-value=\"0.875\"") != std::string::npos);                              // sanity spearman_abs
    CHECK(html.find("data-value=\"0.3125\"") != std::string::npos);
    const std::vector<std::string> problems = test::outside_references(html, dir);
    for (const std::string& p : problems) INFO(p);
    CHECK(problems.empty());
    CHECK(count_of(html, "src=\"img/") == 2 * 4 + 1);  // per input the image and 3 overlays; the grid
    ImageU8 grid = decode_image(dir + "/img/grid.png");
    CHECK(grid.width == 4 * 224);
    ImageU8 overlay = decode_image(dir + "/img/0002_n01443537_goldfish_hirescam.png");
    CHECK(overlay.width == 224);
}

TEST_CASE("report CLI: the walkthrough page has every step and every method, all pictures inline" * ec::test::needs_shared()) {
    test::TempDir out;
    const std::string cat = test::shared_path("images/coral/cat.bmp");
    test::CliResult r = test::run_cli("report --model '" + model_file() + "' --walkthrough '" + cat + "' --out '" + out.path + "'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == out.path + "/walkthrough.html\n");
    const std::string html = test::read_text(out.path + "/walkthrough.html");
    for (const char* id : {"step-input", "step-network", "step-forward", "step-activations", "step-gradient"})
        CHECK(html.find("id=\"" + std::string(id) + "\"") != std::string::npos);
    for (const char* m : {"gradcam", "hirescam", "respondcam", "gradentropycam", "featentropycam"})
        CHECK(html.find("id=\"method-" + std::string(m) + "\"") != std::string::npos);
    CHECK(html.find("expanded_conv_16/depthwise/Relu6") != std::string::npos);  // the default target, named
    CHECK(html.find("Egyptian cat") != std::string::npos);
    CHECK(count_of(html, "<svg") == 4);                      // weight bars: every method but HiResCAM
    CHECK(count_of(html, "H(G^k)") == 4);                    // the entropy columns beside the weights
    CHECK(count_of(html, "<img ") == count_of(html, "src=\"data:image/png;base64,"));
    CHECK(count_of(html, "<img ") == 1 + 2 * 16 + 5 * 5);    // input, 2 atlases of 16, 5 pictures per method
    CHECK(test::outside_references(html, out.path).empty());
}

TEST_CASE("report CLI: bad flags, inputs and CSVs: one line, non-zero exit, nothing written" * ec::test::needs_shared()) {
    test::TempDir out;
    const std::string cat = test::shared_path("images/coral/cat.bmp");
    write_file_atomic(out.path + "/bad.csv", "input,method\na,b\n");
    const std::string m = "report --model '" + model_file() + "' ";
    const std::string dir = out.path + "/x";
    struct Case { std::string args; int code; const char* needle; };
    const Case cases[] = {
        {m + "'" + cat + "'", 2, "--out"},
        {m + "--out '" + dir + "'", 2, "no INPUT"},
        {m + "--out '" + dir + "' --bogus '" + cat + "'", 2, "--bogus"},
        {m + "--out '" + dir + "' --methods gradcam,nosuch '" + cat + "'", 2, "nosuch"},
        {m + "--out '" + dir + "' --evaluate '" + out.path + "/bad.csv' '" + cat + "'", 1, "bad.csv"},
        {m + "--out '" + dir + "' --sanity '" + out.path + "/missing.csv' '" + cat + "'", 1, "missing.csv"},
        {m + "--out '" + dir + "' '" + out.path + "/missing.jpg'", 1, "missing.jpg"},
        {m + "--out '" + dir + "' --layer no/such '" + cat + "'", 1, "no/such"},
        {m + "--out '" + dir + "' --walkthrough '" + cat + "' '" + cat + "'", 2, "--walkthrough"},
    };
    for (const Case& c : cases) {
        test::CliResult r = test::run_cli(c.args);
        INFO(c.args << "\nstderr: " << r.err);
        CHECK(r.exit_code == c.code);
        CHECK(r.err.find(c.needle) != std::string::npos);
        CHECK(count_of(r.err, "\n") == 1);
        CHECK(!exists(dir));
    }
}

TEST_CASE("report CLI: at the pooling input the section carries the degeneracy warning; odd names get plain image names" * ec::test::needs_shared()) {
    test::TempDir out;
    // An input named with characters a URL reads specially: its image files get plain names.
    const std::string odd = out.path + "/a #1%.bmp";
    REQUIRE(std::system(("cp '" + test::shared_path("images/coral/cat.bmp") + "' '" + odd + "'").c_str()) == 0);
    test::CliResult r = test::run_cli("report --model '" + model_file() + "' --layer MobilenetV2/Conv_1/Relu6 --methods gradcam,gradentropycam --out '" +
                                      out.path + "/r' '" + odd + "'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const std::string html = test::read_text(out.path + "/r/index.html");
    CHECK(test::outside_references(html, out.path + "/r").empty());
    CHECK(html.find("src=\"img/0001_a__1__input.png\"") != std::string::npos);
    const size_t section = html.find("id=\"input-1\"");
    REQUIRE(section != std::string::npos);
    CHECK(html.find("constant over space", section) != std::string::npos);
    CHECK(html.find("does not depend on the class") == std::string::npos);  // Feature Entropy-CAM not asked for
    CHECK(html.find("MobilenetV2/Conv_1/Relu6 [1,7,7,1280]") != std::string::npos);  // the settings name the layer
}
