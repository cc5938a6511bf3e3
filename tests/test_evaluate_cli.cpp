// `entropycam evaluate` and `summarize` end to end, through the built binary (env ENTROPYCAM_CLI, set by the
// Makefile): sharded runs merged by summarize give exactly the unsharded table; a run killed midway (a subset,
// then a partial line) and resumed gives the same CSV byte for byte; masks are found by the documented rule and
// are not evaluated as inputs; --class-from takes labels.csv indices (+1 for a 1001-output model).
// Kept fast: MobileNetV1 0.75/192 converted in the test into a temp folder, 3 images, --steps 8.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "io/text_io.h"
#include "tests/test_util.h"
#include "weights/model.h"

using namespace ec;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string shell_quoted(const std::string& s) { return "'" + s + "'"; }

// A temp folder with the converted model; removed at the end of the test case.
struct CliFixture {
    fs::path dir;
    std::string cli, model, coral;
    CliFixture() {
        const char* c = std::getenv("ENTROPYCAM_CLI");
        REQUIRE_MESSAGE(c != nullptr, "ENTROPYCAM_CLI is not set: run the tests through `make test`");
        cli = c;
        char tmpl[] = "/tmp/entropycam_evaluate_cli_XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        model = (dir / "v1.ecw").string();
        save_model(import_tflite(test::shared_path("models/mobilenet_v1_0.75_192_quant.tflite"),
                                 test::shared_path("models/imagenet_labels.txt")),
                   model);
        coral = test::shared_path("images/coral");
    }
    ~CliFixture() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    // Runs `entropycam ARGS > out` and returns the exit code; stderr goes to DIR/stderr.txt.
    int run(const std::string& args, const std::string& out) const {
        const std::string cmd = shell_quoted(cli) + " " + args + " > " + shell_quoted((dir / out).string()) + " 2> " +
                                shell_quoted((dir / "stderr.txt").string());
        const int rc = std::system(cmd.c_str());
        INFO("command: " << cmd << "\nstderr: " << read_text(dir / "stderr.txt"));
        CHECK(rc == 0);
        return rc;
    }
    std::string path(const std::string& leaf) const { return (dir / leaf).string(); }
};

}  // namespace

TEST_CASE("evaluate CLI: shards merge to the unsharded table; a killed run resumes to the same CSV" * ec::test::needs_shared()) {
    CliFixture f;
    const std::string images = shell_quoted(f.coral + "/dog_segmentation_256.bmp") + " " +
                               shell_quoted(f.coral + "/cat.bmp") + " " + shell_quoted(f.coral + "/bird_segmentation.bmp");
    // One CAM and the two baselines (the random one is seeded by the position in the full list, which sharding
    // must keep); `--methods all` is checked on the cheap pointing-only run below.
    const std::string common = "evaluate --model " + shell_quoted(f.model) + " --steps 8 --masks " + shell_quoted(f.coral) +
                               " --methods gradentropycam,center,random ";

    REQUIRE(f.run(common + "--csv " + shell_quoted(f.path("full.csv")) + " " + images, "full.md") == 0);
    const std::string table = read_text(f.path("full.md"));
    const CsvTable full = read_csv(f.path("full.csv"));
    CHECK(full.rows.size() == 3 * 3);  // 3 images x 3 methods
    CHECK(table.find("| Random baseline |") != std::string::npos);
    CHECK(table.find("| Grad Entropy-CAM |") != std::string::npos);
    CHECK(table.find("(n=2)") != std::string::npos);  // pointing only on the two masked images
    size_t with_pointing = 0;
    for (const auto& row : full.rows) {
        const bool masked = row[full.column("input")].find("cat.bmp") == std::string::npos;
        CHECK(row[full.column("pointing")].empty() == !masked);
        with_pointing += masked;
        CHECK(row[full.column("steps")] == "8");
    }
    CHECK(with_pointing == 2 * 3);

    // Shards, merged: the same table, character for character.
    REQUIRE(f.run(common + "--shard 0/2 --csv " + shell_quoted(f.path("s0.csv")) + " " + images, "s0.md") == 0);
    REQUIRE(f.run(common + "--shard 1/2 --csv " + shell_quoted(f.path("s1.csv")) + " " + images, "s1.md") == 0);
    CHECK(read_csv(f.path("s0.csv")).rows.size() == 2 * 3);
    CHECK(read_csv(f.path("s1.csv")).rows.size() == 1 * 3);
    REQUIRE(f.run("summarize " + shell_quoted(f.path("s1.csv")) + " " + shell_quoted(f.path("s0.csv")), "merged.md") == 0);
    CHECK(read_text(f.path("merged.md")) == table);
    REQUIRE(f.run("summarize " + shell_quoted(f.path("full.csv")), "summary.md") == 0);
    CHECK(read_text(f.path("summary.md")) == table);

    // Killed midway: the first image done, the second's rows half written. --resume on the full list drops the
    // partial line, skips the first image and appends the rest: the same CSV as the uninterrupted run.
    REQUIRE(f.run(common + "--csv " + shell_quoted(f.path("resumed.csv")) + " " + shell_quoted(f.coral + "/dog_segmentation_256.bmp"),
                  "first.md") == 0);
    {
        std::ofstream partial(f.path("resumed.csv"), std::ios::app | std::ios::binary);
        partial << f.coral << "/cat.bmp,1,mobilenet_v1_0.75_192_quant,Mobilenet";
    }
    REQUIRE(f.run(common + "--resume --csv " + shell_quoted(f.path("resumed.csv")) + " " + images, "resumed.md") == 0);
    CHECK(read_text(f.path("resumed.csv")) == read_text(f.path("full.csv")));
    CHECK(read_text(f.path("resumed.md")) == table);
    // Resuming a finished run evaluates nothing and prints the same table again.
    REQUIRE(f.run(common + "--resume --csv " + shell_quoted(f.path("resumed.csv")) + " " + images, "again.md") == 0);
    CHECK(read_text(f.path("resumed.csv")) == read_text(f.path("full.csv")));
    CHECK(read_text(f.path("again.md")) == table);
}

TEST_CASE("evaluate CLI: mask files are not inputs; --class-from uses labels.csv indices + 1 for 1001 outputs" * ec::test::needs_shared()) {
    CliFixture f;
    // No --methods (the poster's five and the baselines) with only the pointing game: one forward and one
    // backward pass per image, no curves.
    REQUIRE(f.run("evaluate --model " + shell_quoted(f.model) + " --metrics pointing --masks " +
                      shell_quoted(f.coral) + " --csv " + shell_quoted(f.path("p.csv")) + " " + shell_quoted(f.coral),
                  "p.md") == 0);
    const CsvTable p = read_csv(f.path("p.csv"));
    CHECK(p.rows.size() == 12 * 7);  // 14 image files, 2 of them masks; 5 CAMs + center + random
    std::map<std::string, int> methods;
    for (const auto& row : p.rows) {
        const std::string& input = row[p.column("input")];
        const std::string& method = row[p.column("method")];
        INFO(input << " " << method);
        ++methods[method];
        CHECK(input.find("_mask") == std::string::npos);
        const bool masked = input.find("dog_segmentation_256") != std::string::npos ||
                            input.find("bird_segmentation") != std::string::npos;
        // A CAM that is all zero after ReLU has no energy (NaN, empty); the baselines always have some.
        if (!masked || method == "center" || method == "random") CHECK(row[p.column("pointing")].empty() == !masked);
        CHECK(row[p.column("deletion_auc")].empty());
        CHECK(row[p.column("average_drop")].empty());
    }
    CHECK(methods == std::map<std::string, int>{{"center", 12}, {"featentropycam", 12}, {"gradcam", 12},
                                                {"gradentropycam", 12}, {"hirescam", 12}, {"random", 12},
                                                {"respondcam", 12}});
    const std::string ptable = read_text(f.path("p.md"));
    CHECK(ptable.find("Energy pointing game") != std::string::npos);
    CHECK(ptable.find("Deletion AUC") == std::string::npos);  // only the metrics asked for

    std::ofstream(f.path("labels.csv")) << "file,wnid,imagenet_index,label\ncat.bmp,n02123045,281,tabby\n"
                                           "bird.bmp,n01530575,10,brambling\n";
    REQUIRE(f.run("evaluate --model " + shell_quoted(f.model) + " --methods center --metrics drop --class-from " +
                      shell_quoted(f.path("labels.csv")) + " --csv " + shell_quoted(f.path("c.csv")) + " " +
                      shell_quoted(f.coral + "/cat.bmp") + " " + shell_quoted(f.coral + "/bird.bmp"),
                  "c.md") == 0);
    const CsvTable c = read_csv(f.path("c.csv"));
    REQUIRE(c.rows.size() == 2);
    CHECK(c.rows[0][c.column("class")] == "282");
    CHECK(c.rows[1][c.column("class")] == "11");
    CHECK(c.rows[0][c.column("class_from")] == f.path("labels.csv"));
    // A file missing from labels.csv is an error (exit 1) before anything is evaluated.
    const std::string cmd = shell_quoted(f.cli) + " evaluate --model " + shell_quoted(f.model) + " --class-from " +
                            shell_quoted(f.path("labels.csv")) + " " + shell_quoted(f.coral + "/owl.jpg") + " > /dev/null 2>&1";
    CHECK(WEXITSTATUS(std::system(cmd.c_str())) == 1);
}
