// The pointing hit rate and `--class-from labels.csv` end to end, on the benchmark `entropycam synth` writes and a
// (freshly initialised) shape classifier: evaluate explains each image's true class (labels.csv's class_index)
// and writes pointing_hit next to pointing; CSVs of older versions, without that column, still read.
#include <algorithm>
#include <cmath>

#include "cam/eval/eval_table.h"
#include "io/synth_dataset.h"
#include "io/synth_shapes.h"
#include "io/text_io.h"
#include "nn/file_util.h"
#include "tests/test_util.h"
#include "tests/test_weights_util.h"
#include "weights/shape_classifier.h"

using namespace ec;

namespace {

std::string q(const std::string& s) { return "'" + s + "'"; }

// The CSV text without one column.
std::string drop_column(const CsvTable& t, const std::string& column) {
    const size_t drop = t.column(column);
    std::string text;
    auto line = [&](const std::vector<std::string>& fields) {
        std::string l;
        for (size_t i = 0; i < fields.size(); ++i)
            if (i != drop) l += (l.empty() ? "" : ",") + csv_escape(fields[i]);
        text += l + "\n";
    };
    line(t.header);
    for (const auto& row : t.rows) line(row);
    return text;
}

// A synth folder (6 test images of 32x32), a freshly initialised vgg, and one evaluate run over the test images
// with the true classes and the pointing metrics.
struct SynthRun {
    test::TempDir dir;
    std::string data = dir.path + "/synth", model = dir.path + "/vgg.ecw", csv = dir.path + "/e.csv";
    test::CliResult r;
    SynthRun() {
        REQUIRE(test::run_cli("synth --n 12 --size 32 --seed 4 --test-fraction 0.5 --out " + q(data)).exit_code == 0);
        save_model(build_shape_classifier(ClassifierArch::Vgg, 32, synth_class_names(), 2), model);
        r = test::run_cli("evaluate --model " + q(model) + " --layer block3/relu --methods gradcam,hirescam,center "
                          "--metrics pointing --masks " + q(data + "/test/masks") + " --class-from " +
                          q(data + "/labels.csv") + " --csv " + q(csv) + " " + q(data + "/test/images"));
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
    }
};

}  // namespace

TEST_CASE("evaluate on a synth folder: --class-from labels.csv explains the true class; pointing gives the hit") {
    const SynthRun run;
    const test::TempDir& dir = run.dir;
    const std::string &data = run.data, &model = run.model, &csv = run.csv;
    const test::CliResult& r = run.r;
    CHECK(r.out.find("Pointing hit rate") != std::string::npos);
    CHECK(r.out.find("Energy pointing game") != std::string::npos);

    const CsvTable labels = read_csv(data + "/labels.csv"), t = read_csv(csv);
    REQUIRE(t.rows.size() == 6 * 3);
    // pointing_hit follows pointing.
    CHECK(t.column("pointing_hit") == t.column("pointing") + 1);
    for (const auto& row : t.rows) {
        const std::string input = row[t.column("input")];
        const std::string name = input.substr(input.find_last_of('/') + 1);
        std::string want;
        for (const auto& l : labels.rows)
            if (l[labels.column("file")] == name) want = l[labels.column("class_index")];
        CAPTURE(input);
        CHECK(row[t.column("class")] == want);  // the true class, not the untrained net's top-1
        CHECK(row[t.column("class_from")] == data + "/labels.csv");
        const std::string hit = row[t.column("pointing_hit")];
        if (row[t.column("method")] == "center") CHECK((hit == "0" || hit == "1"));  // the centred Gaussian is never zero
        else CHECK((hit == "0" || hit == "1" || hit.empty()));                       // empty: an all-zero map
        CHECK(hit.empty() == row[t.column("pointing")].empty());
        CHECK(row[t.column("deletion_auc")].empty());  // only the metrics asked for
    }

    // A class_index the model does not have (a 4-output model; the test split holds classes 0..5): exit 1, one line.
    const std::string small = dir.path + "/small.ecw";
    save_model(build_shape_classifier(ClassifierArch::Gap, 32, {"a", "b", "c", "d"}, 2), small);
    const test::CliResult out_of_range = test::run_cli("evaluate --model " + q(small) + " --methods center --metrics pointing"
                                                       " --masks " + q(data + "/test/masks") + " --class-from " +
                                                       q(data + "/labels.csv") + " " + q(data + "/test/images"));
    CHECK(out_of_range.exit_code == 1);
    CHECK(out_of_range.err.find("out of range: the model has 4 outputs") != std::string::npos);
    // An input labels.csv does not list: exit 1 naming it.
    write_file_atomic(dir.path + "/other.png", test::read_text(data + "/test/images/00006.png"));
    const test::CliResult unlisted = test::run_cli("evaluate --model " + q(model) + " --methods center --metrics drop"
                                                   " --class-from " + q(data + "/labels.csv") + " " + q(dir.path + "/other.png"));
    CHECK(unlisted.exit_code == 1);
    CHECK(unlisted.err.find("other.png: not listed in") != std::string::npos);
}

TEST_CASE("an evaluate CSV of an older version, without pointing_hit, still reads and merges (NaN there)") {
    const SynthRun run;
    const test::TempDir& dir = run.dir;
    const std::string &data = run.data, &model = run.model;
    const CsvTable first = read_csv(run.csv);
    write_file_atomic(dir.path + "/old.csv", drop_column(first, "pointing_hit"));
    const std::vector<EvalRow> old_rows = eval_rows_from_csv(read_csv(dir.path + "/old.csv"), "old.csv");
    REQUIRE(old_rows.size() == first.rows.size());
    for (size_t i = 0; i < old_rows.size(); ++i) {
        CHECK(std::isnan(old_rows[i].metric[kPointingHit]));
        CHECK(std::isnan(old_rows[i].metric[kPointing]) == first.rows[i][first.column("pointing")].empty());
    }
    REQUIRE(test::run_cli("evaluate --model " + q(model) + " --layer block4/relu --methods center --metrics pointing --masks " +
                          q(data + "/test/masks") + " --class-from " + q(data + "/labels.csv") + " --csv " +
                          q(dir.path + "/new.csv") + " " + q(data + "/test/images/00006.png")).exit_code == 0);
    const test::CliResult merged = test::run_cli("summarize --csv " + q(dir.path + "/merged.csv") + " " + q(dir.path + "/old.csv") +
                                                 " " + q(dir.path + "/new.csv"));
    INFO(merged.err);
    REQUIRE(merged.exit_code == 0);
    CHECK(merged.out.find("Pointing hit rate") != std::string::npos);  // from the new file's row (block4/relu)
    const CsvTable m = read_csv(dir.path + "/merged.csv");
    REQUIRE(m.rows.size() == first.rows.size() + 1);
    int with_hit = 0;
    for (const auto& row : m.rows) with_hit += !row[m.column("pointing_hit")].empty();
    CHECK(with_hit == 1);
    // A header that lacks a column no version omitted is still refused.
    write_file_atomic(dir.path + "/broken.csv", drop_column(first, "pointing"));
    CHECK_THROWS_AS(eval_rows_from_csv(read_csv(dir.path + "/broken.csv"), "broken.csv"), Error);
    CHECK(test::run_cli("summarize " + q(dir.path + "/broken.csv")).exit_code == 1);
}
