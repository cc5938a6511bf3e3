// The built CLI's convert, classify and layers commands (exit codes, one-line errors, the expected top-1 on
// the reference cat), and, on demand, the top-1/top-5 accuracy of the three models on imagenet-dev.
#include <algorithm>
#include <numeric>

#include "io/image.h"
#include "io/text_io.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

const char* kDefault = "mobilenet_v2_1.0_224_quant";

// A folder with the default model converted by the library (the tests do not rely on `make weights`).
struct ConvertedModels {
    test::TempDir dir;
    std::string ecw;
    ConvertedModels() : ecw(dir.path + "/" + kDefault + ".ecw") { save_model(test::imported_model(kDefault), ecw); }
};

int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

std::string q(const std::string& s) { return "'" + s + "'"; }

}  // namespace

TEST_CASE("classify: the reference cat's top-1, as text and JSON, by path and by name" * ec::test::needs_shared()) {
    ConvertedModels models;
    const std::string cat = test::shared_path("images/coral/cat.bmp");
    const std::string want_label = test::reference_meta(std::string(kDefault) + "/cat", "target_label");
    const std::string want_index = test::reference_meta(std::string(kDefault) + "/cat", "target_class_index");

    test::CliResult r = test::run_cli("classify --top 3 --model " + q(models.ecw) + " " + q(cat));
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(lines(r.out) == 4);  // the file, then 3 classes
    const std::string first = r.out.substr(r.out.find('\n') + 1, r.out.find('\n', r.out.find('\n') + 1) - r.out.find('\n') - 1);
    CHECK(first.find("1. ") != std::string::npos);
    CHECK(first.find(want_label + " [" + want_index + "]") != std::string::npos);

    // The default model, found by name in ENTROPYCAM_WEIGHTS_DIR, with --json.
    r = test::run_cli("classify --json --top 2 " + q(cat), "ENTROPYCAM_WEIGHTS_DIR=" + q(models.dir.path) + " ");
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("{\"model\": \"mobilenet_v2_1.0_224_quant\", \"inputs\": [{\"file\": ", 0) == 0);
    CHECK(r.out.find("\"top\": [{\"index\": " + want_index + ", \"label\": \"" + want_label + "\", \"logit\": ") != std::string::npos);
    CHECK(lines(r.out) == 1);
}

TEST_CASE("classify: missing file, non-image and unknown model fail with one line and exit 1; bad flags exit 2" * ec::test::needs_shared()) {
    ConvertedModels models;
    const std::string model = " --model " + q(models.ecw) + " ";
    const std::string env = "ENTROPYCAM_WEIGHTS_DIR=" + q(models.dir.path) + " ";
    struct Case { std::string args; int exit; const char* says; };
    const Case cases[] = {
        {"classify" + model + q(models.dir.path + "/missing.jpg"), 1, "missing.jpg"},
        {"classify" + model + q(test::labels_path()), 1, "imagenet_labels.txt"},
        {"classify --model no_such_model " + q(test::shared_path("images/coral/cat.bmp")), 1, "make weights"},
        {"classify --model " + q(test::labels_path()) + " " + q(test::shared_path("images/coral/cat.bmp")), 1, "bad magic"},
        {"classify --bogus " + q(test::shared_path("images/coral/cat.bmp")), 2, "unknown option --bogus"},
        {"classify --top 0" + model + q(test::shared_path("images/coral/cat.bmp")), 2, "--top"},
        {"classify" + model, 2, "no INPUT"},
        {"convert " + q(test::model_tflite(kDefault)), 2, "needs MODEL.tflite and OUT.ecw"},
        {"convert " + q(models.dir.path + "/none.tflite") + " " + q(models.dir.path + "/x.ecw"), 1, "none.tflite"},
        {"layers --model no_such_model", 1, "available: mobilenet_v2_1.0_224_quant"},
        {"layers extra", 2, "unexpected argument"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.args);
        test::CliResult r = test::run_cli(c.args, env);
        CHECK(r.exit_code == c.exit);
        CHECK(lines(r.err) == 1);
        CHECK(r.err.find(c.says) != std::string::npos);
        CHECK(r.out.empty());
    }
    for (const char* cmd : {"classify", "convert", "layers"}) {
        test::CliResult r = test::run_cli(std::string(cmd) + " --help");
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind("usage: entropycam " + std::string(cmd), 0) == 0);
    }
}

TEST_CASE("convert and layers: the CLI converts a TFLite file and lists its tensors" * ec::test::needs_shared()) {
    test::TempDir tmp;
    const std::string out = tmp.path + "/v1.ecw";
    test::CliResult r = test::run_cli("convert " + q(test::model_tflite("mobilenet_v1_0.75_192_quant")) + " " + q(out) +
                                      " --labels " + q(test::labels_path()));
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("1001 labels, input 192x192") != std::string::npos);
    Model m = load_model(out);
    CHECK(m.labels.size() == 1001);
    CHECK(m.graph.tensors.size() == test::imported_model("mobilenet_v1_0.75_192_quant").graph.tensors.size());

    r = test::run_cli("layers --model " + q(out));
    CHECK(r.exit_code == 0);
    CHECK(lines(r.out) == int(m.graph.tensors.size()) + 1);  // header + one line per tensor
    CHECK(r.out.find("cam,default") != std::string::npos);
    CHECK(r.out.find("MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6\n") != std::string::npos);
    r = test::run_cli("layers --json --model " + q(out));
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("\"logits\": \"MobilenetV1/Logits/SpatialSqueeze1\"") != std::string::npos);
    CHECK(r.out.find("\"default_cam_target\": \"") != std::string::npos);
    CHECK(r.out.find("{\"name\": \"input\", \"op\": \"Input\", \"shape\": [1, 192, 192, 3], \"cam_target\": false}") != std::string::npos);
}

// On demand (about 330 forward passes): ENTROPYCAM_SHARED=... entropycam_tests -tc="classify: accuracy*" --no-skip
TEST_CASE("classify: accuracy of the three models on imagenet-dev" * doctest::skip()) {
    const CsvTable csv = read_csv(test::shared_path("images/imagenet-dev/labels.csv"));
    const size_t file_col = csv.column("file"), class_col = csv.column("imagenet_index");
    for (const char* name : test::kModelNames) {
        const Model& m = test::imported_model(name);
        int top1 = 0, top5 = 0;
        Session s;
        for (const auto& row : csv.rows) {
            const LoadedInput in = load_input(test::shared_path("images/imagenet-dev/" + row[file_col]), m.preprocessing);
            forward_until(m.graph, s, {&in.input}, m.logits);
            const Tensor& logits = s.values[size_t(m.logits)];
            const int want = std::atoi(row[class_col].c_str()) + 1;  // index 0 is "background"
            int rank = 0;
            for (int i = 0; i < int(logits.numel()); ++i)
                rank += logits[i] > logits[want] || (logits[i] == logits[want] && i < want);
            top1 += rank == 0;
            top5 += rank < 5;
        }
        const double n = double(csv.rows.size());
        MESSAGE(std::string(name) << " on " << csv.rows.size() << " imagenet-dev images: top-1 " << 100.0 * top1 / n << " %, top-5 "
                     << 100.0 * top5 / n << " %");
        CHECK(top1 >= 0.6 * n);  // the reference measured 74-87 % on 1000 images
        CHECK(top5 >= 0.85 * n);
    }
}
