// What the CLI writes, by content (test_explain_cli.cpp and test_evaluate_cli.cpp check that the files exist and
// their layout): `explain --raw` maps against the reference, the overlay PNG against the library's overlay of that
// map, one `evaluate` CSV row against the library's metrics, and every `evaluate` / `summarize` usage error.
// Library calls are kept few (load_input, postprocess_cam, overlay_heatmap, explain, evaluate_maps): the CLI is
// the thing under test.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cam/eval/evaluate.h"
#include "cam/eval/metrics_baselines.h"
#include "cam/explain.h"
#include "cam/postprocess.h"
#include "cam/render/render.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/text_io.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

const char* const kMethods[] = {"gradcam", "hirescam", "respondcam", "gradentropycam", "featentropycam"};

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

int count_lines(const std::string& s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

}  // namespace

TEST_CASE("CLI content: explain --raw maps match the reference; the overlay PNG is the library's overlay" * ec::test::needs_shared()) {
    // cat.bmp and bird.bmp decode and resize exactly to the reference's input_u8.npy (test_tflite_import.cpp), so
    // the CLI's maps must match the reference's maps at the same layer; the tolerance is test_explain.cpp's end-to-
    // end one (5e-4 of the max: the forward pass's 1e-6 drift, amplified by the entropy of nearly-zero channels).
    const Model& model = test::imported_model("mobilenet_v2_1.0_224_quant");
    test::TempDir out;
    for (const std::string image : {"cat", "bird"}) {
        CAPTURE(image);
        const std::string folder = "mobilenet_v2_1.0_224_quant/" + image;
        const std::string layer = test::reference_meta(folder, "layer3");
        const std::string bmp = test::shared_path("images/coral/" + image + ".bmp");
        test::CliResult r = test::run_cli("explain --model '" + model_file() + "' --layer '" + layer + "' --raw --out '" +
                                          out.path + "' '" + bmp + "'");
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        const LoadedInput in = load_input(bmp, model.preprocessing);
        for (const std::string m : kMethods) {
            CAPTURE(m);
            const std::string stem = out.path + "/" + image + "_" + m;
            // The CLI writes the library's raw map, BEFORE the ReLU (cam_methods.h); the reference's _raw is after it.
            const NpyArray raw = read_npy(stem + "_raw.npy");
            const std::vector<float> want = read_npy(test::shared_path("reference/" + folder + "/l3_cam_" + m + "_raw.npy")).data;
            REQUIRE(raw.data.size() == want.size());
            std::vector<float> relu(raw.data.size());
            for (size_t i = 0; i < relu.size(); ++i) relu[i] = std::max(raw.data[i], 0.0f);
            test::check_close_rel_max(m + " raw map after ReLU", relu.data(), want.data(), int64_t(want.size()), 5e-4f);
            if (m != "hirescam") {
                const std::vector<float> w = read_npy(stem + "_weights.npy").data;
                const std::vector<float> want_w = read_npy(test::shared_path("reference/" + folder + "/l3_cam_" + m + "_weights.npy")).data;
                REQUIRE(w.size() == want_w.size());
                test::check_close_rel_max(m + " weights", w.data(), want_w.data(), int64_t(w.size()), 5e-4f);
            }
            // The overlay PNG, decoded, is pixel for pixel the library's overlay of the map the CLI wrote.
            REQUIRE(raw.shape.size() == 2);
            Heatmap map(int(raw.shape[0]), int(raw.shape[1]));
            map.values = raw.data;
            const Heatmap up = postprocess_cam(map, in.display.height, in.display.width);
            // What is drawn is the reference's normalised, upsampled map (test_explain.cpp's end-to-end tolerance).
            const std::vector<float> want_up = read_npy(test::shared_path("reference/" + folder + "/l3_cam_" + m + "_up.npy")).data;
            REQUIRE(up.values.size() == want_up.size());
            test::check_close_rel_max(m + " upsampled map", up.values.data(), want_up.data(), int64_t(want_up.size()), 2e-4f);
            const ImageU8 want_png = overlay_heatmap(in.display, up);
            const ImageU8 png = decode_image(stem + ".png");
            REQUIRE(png.width == want_png.width);
            REQUIRE(png.height == want_png.height);
            int64_t differing = 0;
            for (size_t i = 0; i < png.rgb.size(); ++i) differing += png.rgb[i] != want_png.rgb[i];
            CHECK(differing == 0);
            // and the overlay is not the input image (the map was drawn).
            int64_t drawn = 0;
            for (size_t i = 0; i < png.rgb.size(); ++i) drawn += png.rgb[i] != in.display.rgb[i];
            CHECK(drawn > int64_t(png.rgb.size() / 2));
        }
    }
}

TEST_CASE("CLI content: an evaluate CSV row equals the library's scores for that image, map and class" * ec::test::needs_shared()) {
    const Model& model = test::imported_model("mobilenet_v2_1.0_224_quant");
    test::TempDir out;
    const std::string bmp = test::shared_path("images/coral/cat.bmp");
    const std::string csv = out.path + "/rows.csv";
    test::CliResult r = test::run_cli("evaluate --model '" + model_file() + "' --methods gradcam,center --steps 8 --csv '" +
                                      csv + "' '" + bmp + "'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const CsvTable t = read_csv(csv);
    REQUIRE(t.rows.size() == 2);

    // The same computation through the library: clean score, Grad-CAM at the default layer (the layer column),
    // post-processed to the input size, the centre baseline, both scored with the same options.
    const LoadedInput in = load_input(bmp, model.preprocessing);
    Session s;
    const ClassScore clean = score_clean(model.graph, s, model.logits, in.input, -1);
    ExplainOptions opt;
    opt.target = model.graph.tensor(t.rows[0][t.column("layer")]);
    opt.methods = {CamMethod::GradCam};
    const std::vector<ImageExplanation> ex = explain(model.graph, s, model.logits, in.input, {clean.cls}, opt);
    const int h = model.preprocessing.height, w = model.preprocessing.width;
    const std::vector<Heatmap> maps = {postprocess_cam(ex[0].results[0].raw, h, w), center_baseline(h, w)};
    EvaluateOptions eo;
    eo.steps = 8;
    const std::vector<MapScores> scores = evaluate_maps(model.graph, s, model.logits, in.input, clean, maps, nullptr, eo);

    const char* methods[] = {"gradcam", "center"};
    for (size_t m = 0; m < 2; ++m) {
        const std::vector<std::string>& row = t.rows[m];
        CAPTURE(methods[m]);
        REQUIRE(row[t.column("method")] == methods[m]);
        CHECK(std::stoi(row[t.column("class")]) == clean.cls);
        // The CSV holds each number rounded to float precision (9 significant digits): equal to that precision.
        auto same = [&](const char* column, double want) {
            const double got = std::stod(row[t.column(column)]);
            INFO(column << ": CSV " << got << ", library " << want);
            CHECK(std::isfinite(want));
            CHECK(std::fabs(got - want) <= 1e-6 * std::max(1.0, std::fabs(want)));
        };
        same("prob", clean.prob);
        same("prob_masked", scores[m].prob_masked);
        same("deletion_auc", scores[m].deletion_auc);
        same("insertion_auc", scores[m].insertion_auc);
        same("average_drop", scores[m].average_drop);
        same("increase", scores[m].increase);
        CHECK(row[t.column("pointing")].empty());  // no --masks
    }
}

TEST_CASE("CLI content: every evaluate and summarize usage error: exit code and a one-line message" * ec::test::needs_shared()) {
    test::TempDir out;
    const std::string cat = "'" + test::shared_path("images/coral/cat.bmp") + "'";
    const std::string model = "--model '" + model_file() + "' ";
    struct Case {
        std::string args;
        int code;
        const char* needle;
        bool after_progress = false;  // inputs are read as the run goes: the progress header comes first
    };
    const Case cases[] = {
        // evaluate: usage errors (2)
        {"evaluate " + model, 2, "no INPUT given"},
        {"evaluate " + model + "--bogus " + cat, 2, "unknown option --bogus"},
        {"evaluate " + model + "--steps " + cat, 2, "no INPUT given"},  // the file is taken as the value
        {"evaluate " + model + cat + " --steps", 2, "--steps needs a value"},
        {"evaluate " + model + "--steps 0 " + cat, 2, "--steps takes a whole number"},
        {"evaluate " + model + "--steps x " + cat, 2, "--steps takes a whole number"},
        {"evaluate " + model + "--steps 60000 " + cat, 2, "exceeds the 50176 pixels"},
        {"evaluate " + model + "--steps 4 --steps 5 " + cat, 2, "--steps given twice"},
        {"evaluate " + model + "--resume=yes " + cat, 2, "--resume takes no value"},
        {"evaluate " + model + "--methods gradcam,nosuch " + cat, 2, "nosuch"},
        {"evaluate " + model + "--methods gradcam,gradcam " + cat, 2, "twice"},
        {"evaluate " + model + "--methods gradcam,,center " + cat, 2, "empty item"},
        {"evaluate " + model + "--metrics deletion,nosuch " + cat, 2, "unknown metric 'nosuch'"},
        {"evaluate " + model + "--metrics pointing " + cat, 2, "the pointing metric needs --masks"},
        {"evaluate " + model + "--resume " + cat, 2, "--resume needs --csv"},
        {"evaluate " + model + "--shard 2/2 " + cat, 2, "--shard takes I/N"},
        {"evaluate " + model + "--shard x " + cat, 2, "--shard takes I/N"},
        {"evaluate " + model + "--shard 0/0 " + cat, 2, "--shard takes I/N"},
        // evaluate: bad input (1)
        {"evaluate " + model + "--layer no/such/layer " + cat, 1, "no/such/layer"},
        {"evaluate " + model + "--masks '" + out.path + "/none' " + cat, 1, "--masks must be a folder"},
        {"evaluate " + model + "'" + out.path + "/missing.jpg'", 1, "missing.jpg", true},
        {"evaluate --model '" + out.path + "/none.ecw' " + cat, 1, "none.ecw"},
        // summarize
        {"summarize", 2, "no CSV given"},
        {"summarize --bogus x.csv", 2, "unknown option --bogus"},
        {"summarize --json=1 x.csv", 2, "--json takes no value"},
        {"summarize '" + out.path + "/missing.csv'", 1, "missing.csv"},
        {"summarize " + cat, 1, "cat.bmp"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.args);
        test::CliResult r = test::run_cli(c.args);
        INFO("stderr: " << r.err);
        CHECK(r.exit_code == c.code);
        CHECK(count_lines(r.err) == (c.after_progress ? 2 : 1));
        const size_t last_line = r.err.rfind('\n', r.err.size() >= 2 ? r.err.size() - 2 : 0);
        CHECK(r.err.find(c.needle, last_line == std::string::npos ? 0 : last_line) != std::string::npos);
        CHECK(r.out.empty());
    }
}
