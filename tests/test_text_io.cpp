// Label list and CSV readers: RFC 4180 quoting, line ends, limits, error messages naming file and line, and
// the real label files in ../shared.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <unistd.h>

#include "weights/labels.h"
#include "nn/file_util.h"
#include "io/text_io.h"
#include "tests/test_util.h"

using ec::CsvTable;
using ec::Error;

namespace {

using ec::test::check_error_contains;

std::string temp_path(const std::string& leaf) {
    return (std::filesystem::temp_directory_path() / ("entropycam_text_io_" + std::to_string(getpid()) + "_" + leaf))
        .string();
}

}  // namespace

TEST_CASE("parse_csv: quotes, commas and doubled quotes inside quotes, CRLF, no final newline") {
    std::string text =
        "file,label,n\r\n"
        "a.jpg,\"goldfish, Carassius auratus\",1\r\n"
        "b.jpg,\"say \"\"hi\"\"\",2\r\n"
        "\"c,d.jpg\",\"two\nlines\",3\r\n"
        "e.jpg,,4";  // empty field, no final newline
    CsvTable t = ec::parse_csv(text, "mem.csv");
    REQUIRE(t.header == std::vector<std::string>{"file", "label", "n"});
    REQUIRE(t.rows.size() == 4);
    CHECK(t.rows[0][1] == "goldfish, Carassius auratus");
    CHECK(t.rows[1][1] == "say \"hi\"");
    CHECK(t.rows[2][0] == "c,d.jpg");
    CHECK(t.rows[2][1] == "two\nlines");
    CHECK(t.rows[3][1] == "");
    CHECK(t.rows[3][2] == "4");
    CHECK(t.column("n") == 2);
    check_error_contains([&] { t.column("missing"); }, "no column 'missing'");
}

TEST_CASE("parse_csv: LF, blank lines and a final newline add no rows; a trailing empty field is kept") {
    CsvTable t = ec::parse_csv("\xEF\xBB\xBFh1,h2\n\nx,\n\ny,z\n", "mem.csv");
    REQUIRE(t.header == std::vector<std::string>{"h1", "h2"});  // byte order mark removed
    REQUIRE(t.rows.size() == 2);
    CHECK(t.rows[0] == std::vector<std::string>{"x", ""});
    CHECK(t.rows[1] == std::vector<std::string>{"y", "z"});
    CHECK(ec::parse_csv("only_header", "m").rows.empty());
}

TEST_CASE("parse_csv errors name the file and line") {
    check_error_contains([] { ec::parse_csv("a,b\n1,2\n3,\"open\n4,5\n", "f.csv"); }, "f.csv:3: unterminated quoted field");
    check_error_contains([] { ec::parse_csv("a,b\n1,2\n3\n", "f.csv"); }, "f.csv:3: 1 fields, the header has 2");
    check_error_contains([] { ec::parse_csv("a,b\n\"x\"y,2\n", "f.csv"); }, "f.csv:2: unexpected character 'y'");
    check_error_contains([] { ec::parse_csv("a,b\nx\"y,2\n", "f.csv"); }, "f.csv:2: quote inside an unquoted field");
    // A line count after a quoted line break is still right.
    check_error_contains([] { ec::parse_csv("a,b\n\"x\ny\",2\n1,2,3\n", "f.csv"); }, "f.csv:4: 3 fields");
    check_error_contains([] { ec::parse_csv("", "f.csv"); }, "f.csv: empty CSV");
    check_error_contains([] { ec::parse_csv(std::string(ec::kMaxCsvFields + 1, ','), "f.csv"); }, "fields");
}

TEST_CASE("csv_escape round-trips through parse_csv") {
    std::vector<std::string> fields = {"plain", "with, comma", "quote \" inside", "\"", "line\nbreak", "cr\r\nlf",
                                       " lead", "trail ", "", "naïve"};
    std::string header, row;
    for (size_t i = 0; i < fields.size(); ++i) {
        header += (i ? "," : "") + std::string("c") + std::to_string(i);
        row += (i ? "," : "") + ec::csv_escape(fields[i]);
    }
    CHECK(ec::csv_escape("plain") == "plain");
    CHECK(ec::csv_escape("a\"b") == "\"a\"\"b\"");
    CsvTable t = ec::parse_csv(header + "\r\n" + row + "\r\n", "roundtrip");
    REQUIRE(t.rows.size() == 1);
    CHECK(t.rows[0] == fields);
}

TEST_CASE("read_csv on the ImageNet sample labels (file,wnid,imagenet_index,label)" * ec::test::needs_shared()) {
    CsvTable t = ec::read_csv(ec::test::shared_path("images/imagenet-dev/labels.csv"));
    REQUIRE(t.header == std::vector<std::string>{"file", "wnid", "imagenet_index", "label"});
    CHECK(t.rows.size() == 107);  // one per image in the folder (images/README.md)
    REQUIRE(!t.rows.empty());
    const size_t file = t.column("file"), label = t.column("label"), index = t.column("imagenet_index");
    bool found = false;
    for (const auto& r : t.rows)
        if (r[file] == "n01443537_goldfish.JPEG") {
            found = true;
            CHECK(r[label] == "goldfish, Carassius auratus");
            CHECK(r[index] == "1");
        }
    CHECK(found);
}

TEST_CASE("read_csv and read_labels on files: CRLF, errors naming the path") {
    std::string path = temp_path("crlf.csv");
    ec::write_file_atomic(path, std::string("a,b\r\n\"1,5\",x\r\n2,\"y\"\"\""));
    CsvTable t = ec::read_csv(path);
    REQUIRE(t.rows.size() == 2);
    CHECK(t.rows[0][0] == "1,5");
    CHECK(t.rows[1][1] == "y\"");
    std::filesystem::remove(path);
    check_error_contains([&] { ec::read_csv(path); }, path);
    check_error_contains([&] { ec::read_labels(path); }, path);
}

TEST_CASE("read_labels on imagenet_labels.txt: 1001 labels, background first" * ec::test::needs_shared()) {
    std::vector<std::string> labels = ec::read_labels(ec::test::shared_path("models/imagenet_labels.txt"));
    REQUIRE(labels.size() == 1001);
    CHECK(labels[0] == "background");
    CHECK(labels[2] == "goldfish, Carassius auratus");  // ImageNet class 1 is logit index 2
    CHECK(labels[1000] == "toilet tissue, toilet paper, bathroom tissue");
}

TEST_CASE("parse_labels: CRLF, BOM, final newline, empty lines kept, limits") {
    CHECK(ec::parse_labels("a\r\nb\r\n", "l") == std::vector<std::string>{"a", "b"});
    CHECK(ec::parse_labels("\xEF\xBB\xBF" "a\nb", "l") == std::vector<std::string>{"a", "b"});
    CHECK(ec::parse_labels("a\n\nc\n", "l") == std::vector<std::string>{"a", "", "c"});
    check_error_contains([] { ec::parse_labels("", "l.txt"); }, "l.txt: no labels");
    check_error_contains([] { ec::parse_labels(std::string("a\nb\0c\n", 6), "l.txt"); }, "l.txt:2: NUL byte");
    CHECK(ec::parse_labels(std::string(ec::kMaxLabelBytes, 'x'), "l").size() == 1);
    check_error_contains([] { ec::parse_labels("ok\n" + std::string(ec::kMaxLabelBytes + 1, 'x'), "l.txt"); },
                         "l.txt:2: label of");
    std::string many;
    for (int i = 0; i < ec::kMaxLabels; ++i) many += "x\n";
    CHECK(ec::parse_labels(many, "l").size() == size_t(ec::kMaxLabels));
    check_error_contains([&] { ec::parse_labels(many + "one more\n", "l.txt"); }, "more than 100000 labels");
}
