// ROAD in `entropycam evaluate` (opt-in: --metrics road): the CSV gains road_morf and road_lerf with finite
// values; a CSV of a run without ROAD keeps the old columns; summarize merges both kinds (ROAD absent = NaN,
// and its merged CSV has the columns); --resume refuses a file whose columns are not the run's.
// Kept fast: MobileNetV1 0.75/192 converted in the test into a temp folder, one image, the centre baseline.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

struct RoadFixture {
    fs::path dir;
    std::string cli, model, coral;
    RoadFixture() {
        const char* c = std::getenv("ENTROPYCAM_CLI");
        REQUIRE_MESSAGE(c != nullptr, "ENTROPYCAM_CLI is not set: run the tests through `make test`");
        cli = c;
        char tmpl[] = "/tmp/entropycam_road_cli_XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        model = (dir / "v1.ecw").string();
        save_model(import_tflite(test::shared_path("models/mobilenet_v1_0.75_192_quant.tflite"),
                                 test::shared_path("models/imagenet_labels.txt")),
                   model);
        coral = test::shared_path("images/coral");
    }
    ~RoadFixture() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    // `entropycam ARGS > DIR/out`: the exit code (stderr in DIR/stderr.txt).
    int run(const std::string& args, const std::string& out) const {
        const std::string cmd = shell_quoted(cli) + " " + args + " > " + shell_quoted((dir / out).string()) + " 2> " +
                                shell_quoted((dir / "stderr.txt").string());
        const int rc = std::system(cmd.c_str());
        INFO("command: " << cmd << "\nstderr: " << read_text(dir / "stderr.txt"));
        return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    }
    std::string path(const std::string& leaf) const { return (dir / leaf).string(); }
};

}  // namespace

TEST_CASE("evaluate CLI: --metrics road writes finite ROAD columns; summarize merges them with an old CSV" * ec::test::needs_shared()) {
    RoadFixture f;
    const std::string common = "evaluate --model " + shell_quoted(f.model) + " --steps 4 --methods center ";
    REQUIRE(f.run(common + "--metrics deletion,road --csv " + shell_quoted(f.path("road.csv")) + " " + shell_quoted(f.coral + "/cat.bmp"),
                  "road.md") == 0);
    const CsvTable road = read_csv(f.path("road.csv"));
    REQUIRE(road.rows.size() == 1);
    for (const char* column : {"road_morf", "road_lerf"}) {
        CAPTURE(column);
        const double v = std::strtod(road.rows[0][road.column(column)].c_str(), nullptr);
        CHECK(std::isfinite(v));
        CHECK((v >= 0 && v <= 1));  // the mean of class probabilities
    }
    CHECK(!road.rows[0][road.column("deletion_auc")].empty());
    CHECK(road.rows[0][road.column("insertion_auc")].empty());  // not asked for
    CHECK(read_text(f.path("road.md")).find("ROAD MoRF") != std::string::npos);

    // Without road: the CSV of today, no ROAD columns.
    REQUIRE(f.run(common + "--metrics deletion --csv " + shell_quoted(f.path("old.csv")) + " " + shell_quoted(f.coral + "/dog_segmentation_256.bmp"),
                  "old.md") == 0);
    const CsvTable old = read_csv(f.path("old.csv"));
    CHECK(std::find(old.header.begin(), old.header.end(), "road_morf") == old.header.end());
    CHECK(read_text(f.path("old.md")).find("ROAD") == std::string::npos);

    // Merged: both rows, ROAD from the one file that has it (n=1), the old one's rows read as absent.
    REQUIRE(f.run("summarize --csv " + shell_quoted(f.path("merged.csv")) + " " + shell_quoted(f.path("old.csv")) + " " +
                  shell_quoted(f.path("road.csv")), "merged.md") == 0);
    const std::string merged_md = read_text(f.path("merged.md"));
    CHECK(merged_md.find("ROAD MoRF") != std::string::npos);
    CHECK(merged_md.find("(n=1)") != std::string::npos);
    const CsvTable merged = read_csv(f.path("merged.csv"));
    REQUIRE(merged.rows.size() == 2);
    int with_road = 0;
    for (const auto& row : merged.rows) with_road += !row[merged.column("road_morf")].empty();
    CHECK(with_road == 1);

    // --resume into a file without the ROAD columns while asking for ROAD: refused, the file left alone.
    const std::string before = read_text(f.path("old.csv"));
    CHECK(f.run(common + "--metrics deletion,road --resume --csv " + shell_quoted(f.path("old.csv")) + " " +
                shell_quoted(f.coral + "/cat.bmp"), "refused.md") == 1);
    CHECK(read_text(f.path("stderr.txt")).find("road_morf") != std::string::npos);
    CHECK(read_text(f.path("old.csv")) == before);
}
