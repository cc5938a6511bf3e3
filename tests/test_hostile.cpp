// Hostile input through the built CLI: one row per class of bad input (a truncated, bit-flipped or oversized
// model file, a TFLite file or an unsupported op, non-images, zero-sized and 30000x30000 images, grey, 16-bit
// and CMYK images, NaN in a .npy, an unknown layer, a class out of range, an output folder that cannot be
// written). Each row checks the exit code (0 ok, 1 bad input, 2 usage), that stderr is ONE line naming the
// problem, and that nothing was written to stdout. The README's hostile-input table points to these rows and
// to the library-level tests of the same inputs (test_image.cpp, test_weights.cpp, test_tflite.cpp, ...).
//
// The model is a tiny TFLite classifier (tests/fuzz/tflite_builder.h: 8x8 input, 5 classes, every supported op),
// converted at test start through the library (import_tflite + save_model), so each CLI run takes milliseconds.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "io/image.h"
#include "io/npy.h"
#include "tests/fuzz/hostile_files.h"
#include "tests/fuzz/tflite_builder.h"
#include "tests/test_util.h"
#include "tests/test_weights_util.h"
#include "weights/format.h"

using namespace ec;

namespace {

std::string q(const std::string& s) { return "'" + s + "'"; }
int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

// Every file the rows use, made once per test binary in one temporary folder.
struct HostileFiles {
    test::TempDir dir;
    std::string path(const std::string& name) const { return dir.path + "/" + name; }
    std::string put(const std::string& name, const std::string& bytes) const {
        write_file_atomic(path(name), bytes);
        return path(name);
    }
    std::string model, tflite, good_png;

    HostileFiles() {
        tflite = put("tiny.tflite", test::tiny_tflite());
        put("tiny_labels.txt", "background\ncat\ndog\nfish\nbird\n");
        model = path("tiny.ecw");
        save_model(import_tflite(tflite, path("tiny_labels.txt")), model);
        good_png = put("good.png", test::stored_png(12, 10, 8, 2));
    }
};

const HostileFiles& files() {
    static HostileFiles f;
    return f;
}

struct Row {
    std::string what;  // the class of bad input
    std::string args;  // the CLI arguments (shell-quoted)
    int exit;
    std::string says;  // a part of the one stderr line (or of stdout, for exit 0)
};

void check_row(const Row& r) {
    CAPTURE(r.what);
    CAPTURE(r.args);
    test::CliResult res = test::run_cli(r.args);
    CAPTURE(res.err);
    CHECK(res.exit_code == r.exit);
    if (r.exit == 0) {
        CHECK(res.out.find(r.says) != std::string::npos);
        return;
    }
    CHECK(lines(res.err) == 1);
    CHECK(res.err.rfind("entropycam ", 0) == 0);
    CHECK(res.err.find(r.says) != std::string::npos);
    CHECK(res.out.empty());
}

std::string flip_bit(std::string bytes, size_t at, int bit) {
    bytes[at] = char(bytes[at] ^ (1 << bit));
    return bytes;
}

}  // namespace

TEST_CASE("hostile: bad model files give exit 1 and one line naming the problem") {
    const HostileFiles& f = files();
    const std::string ecw = test::read_text(f.model);
    const std::string img = " " + q(f.good_png);
    // A sparse file one byte over the .ecw size limit (no disk space used; refused before it is mapped).
    const std::string huge = f.path("huge.ecw");
    {
        FILE* h = std::fopen(huge.c_str(), "wb");
        REQUIRE(h != nullptr);
        std::fclose(h);
        REQUIRE(::truncate(huge.c_str(), off_t(ecw::kMaxFileBytes) + 1) == 0);
    }
    const Row rows[] = {
        {"truncated model file", "classify --model " + q(f.put("cut.ecw", ecw.substr(0, ecw.size() / 2))) + img, 1,
         "cut.ecw: truncated weight file"},
        {"bit-flipped model file (version field)", "classify --model " + q(f.put("flip.ecw", flip_bit(ecw, 8, 1))) + img, 1,
         "flip.ecw: unsupported .ecw version 3"},
        {"bit-flipped model file (graph section size)", "classify --model " + q(f.put("flip2.ecw", flip_bit(ecw, 33, 4))) + img,
         1, "flip2.ecw: corrupt weight file"},
        {"oversized model file (2 GiB + 1, sparse)", "classify --model " + q(huge) + img, 1,
         "huge.ecw: weight file is larger than the limit of 2147483648 bytes"},
        {"wrong magic (a PNG as the model)", "classify --model " + q(f.good_png) + img, 1, "good.png: not an entropycam weight file (bad magic)"},
        {"a .tflite model is imported on load, as by the API", "classify --model " + q(f.tflite) + img, 0, "class "},
        {"a TFLite file named as an .ecw", "classify --model " + q(f.put("tflite_inside.ecw", test::tiny_tflite())) + img, 1,
         "is a TFLite model, not an .ecw weight file (convert it with `entropycam convert`)"},
        {"unsupported TFLite op", "convert " + q(f.put("mul.tflite", test::tiny_tflite(18))) + " " + q(f.path("mul.ecw")), 1,
         "mul.tflite: unsupported TFLite op MUL (code 18)"},
        {"unknown TFLite op code", "convert " + q(f.put("op200.tflite", test::tiny_tflite(200))) + " " + q(f.path("op200.ecw")),
         1, "op200.tflite: unsupported TFLite op code 200"},
        {"label count differs from the classes", "convert " + q(f.tflite) + " " + q(f.path("x.ecw")) + " --labels " +
         q(f.put("three.txt", "a\nb\nc\n")), 1, "3 labels for 5 classes"},
    };
    for (const Row& r : rows) check_row(r);
    struct stat st;
    CHECK(::stat(f.path("mul.ecw").c_str(), &st) != 0);  // nothing written for a refused conversion
}

TEST_CASE("hostile: limits around the .ecw file size are exact (sparse files)") {
    const HostileFiles& f = files();
    // Exactly at the limit the size check passes and the (all-zero) header is what is refused.
    const std::string at_limit = f.path("at_limit.ecw");
    FILE* h = std::fopen(at_limit.c_str(), "wb");
    REQUIRE(h != nullptr);
    std::fclose(h);
    REQUIRE(::truncate(at_limit.c_str(), off_t(ecw::kMaxFileBytes)) == 0);
    CHECK_THROWS_WITH_AS(load_model(at_limit), doctest::Contains("bad magic"), Error);
    REQUIRE(::truncate(at_limit.c_str(), off_t(ecw::kMaxFileBytes) + 1) == 0);
    CHECK_THROWS_WITH_AS(load_model(at_limit), doctest::Contains("larger than the limit of 2147483648 bytes"), Error);
    std::remove(at_limit.c_str());
}

TEST_CASE("hostile: bad and unusual images give exit 1 with one line, or are decoded (grey, 16-bit, CMYK)") {
    const HostileFiles& f = files();
    const std::string model = "classify --model " + q(f.model) + " ";
    const Row rows[] = {
        {"non-image (text named .jpg)", model + q(f.put("notes.jpg", "this is text, not a photo\n")), 1,
         "notes.jpg: not an image or unsupported format"},
        {"empty file", model + q(f.put("empty.png", "")), 1, "empty.png: empty file, not an image"},
        {"zero-sized image (PNG header 0 x 5)", model + q(f.put("zero.png", test::png_header(0, 5, 8, 2))), 1,
         "zero.png: zero-sized image (0 x 5)"},
        {"30000 x 30000 PNG header", model + q(f.put("huge.png", test::png_header(30000, 30000, 8, 2))), 1,
         "huge.png: 30000 x 30000 image exceeds the limit of 16384 pixels per side"},
        {"16384 x 4097 PNG header (pixel limit)", model + q(f.put("tall.png", test::png_header(16384, 4097, 8, 2))), 1,
         "exceeds the limit of 67108864 pixels"},
        {"truncated PNG", model + q(f.put("cut.png", test::stored_png(40, 40, 8, 2).substr(0, 300))), 1,
         "cut.png: corrupt or truncated PNG data"},
        {"JPEG with a Huffman table over 256 codes (fuzz finding)",
         model + q(f.put("dht.jpg", std::string("\xFF\xD8\xFF\xC4\x03\x03\x03\x65\xD9", 9))), 1,
         "dht.jpg: corrupt JPEG header (a Huffman table declares 318 codes, at most 256)"},
        {"JPEG with 2 colour components", model + q(f.put("two.jpg", test::flat_jpeg(2))), 1,
         "two.jpg: unsupported JPEG with 2 colour components (1 grey, 3 colour or 4 CMYK/YCCK are read)"},
        {"8-bit greyscale PNG (decoded, grey replicated)", model + q(f.put("grey.png", test::stored_png(9, 7, 8, 0))), 0, "grey.png"},
        {"16-bit RGB PNG (decoded, high byte kept)", model + q(f.put("rgb16.png", test::stored_png(9, 7, 16, 2))), 0, "rgb16.png"},
        {"16-bit grey+alpha PNG (decoded, alpha dropped)", model + q(f.put("ga16.png", test::stored_png(9, 7, 16, 4))), 0, "ga16.png"},
        {"greyscale JPEG", model + q(f.put("grey.jpg", test::flat_jpeg(1))), 0, "grey.jpg"},
        {"CMYK JPEG (Adobe, decoded to RGB by stb)", model + q(f.put("cmyk.jpg", test::flat_jpeg(4, 0))), 0, "cmyk.jpg"},
        {"YCCK JPEG (Adobe, decoded to RGB by stb)", model + q(f.put("ycck.jpg", test::flat_jpeg(4, 2))), 0, "ycck.jpg"},
    };
    for (const Row& r : rows) check_row(r);

    // What the 4-component files decode to: stb's Adobe convention (inverted CMYK), value = C * K / 255 per channel.
    const std::string cmyk = test::flat_jpeg(4, 0);
    ImageU8 im = decode_image_memory(reinterpret_cast<const uint8_t*>(cmyk.data()), cmyk.size(), "cmyk.jpg");
    CHECK(im.width == 8);
    CHECK(im.rgb == std::vector<uint8_t>(8 * 8 * 3, 64));  // flat samples 128: 128 * 128 / 255 -> 64
    const std::string grey = test::flat_jpeg(1);
    CHECK(decode_image_memory(reinterpret_cast<const uint8_t*>(grey.data()), grey.size(), "g.jpg").rgb ==
          std::vector<uint8_t>(8 * 8 * 3, 128));
}

TEST_CASE("hostile: .npy inputs with NaN, Inf, a wrong shape or a bad header give exit 1") {
    const HostileFiles& f = files();
    const std::string model = "classify --model " + q(f.model) + " ";
    std::vector<float> v(8 * 8 * 3, 0.25f);
    v[77] = std::numeric_limits<float>::quiet_NaN();
    write_npy(f.path("nan.npy"), v.data(), {1, 8, 8, 3});
    v[77] = -std::numeric_limits<float>::infinity();
    write_npy(f.path("inf.npy"), v.data(), {1, 8, 8, 3});
    v[77] = 0;
    write_npy(f.path("shape.npy"), v.data(), {1, 8, 4, 6});
    write_npy(f.path("ok.npy"), v.data(), {1, 8, 8, 3});
    const Row rows[] = {
        {"NaN inside a float .npy", model + q(f.path("nan.npy")), 1, "nan.npy: .npy input has a non-finite value (nan) at element 77"},
        {"-Inf inside a float .npy", model + q(f.path("inf.npy")), 1, "inf.npy: .npy input has a non-finite value (-inf) at element 77"},
        {"float .npy of the wrong shape", model + q(f.path("shape.npy")), 1, "has shape [1,8,4,6], the model needs [1,8,8,3]"},
        {"truncated .npy", model + q(f.put("cut.npy", test::read_text(f.path("ok.npy")).substr(0, 200))), 1, "cut.npy: npy: truncated data"},
        {"text named .npy", model + q(f.put("fake.npy", "not numpy")), 1, "fake.npy: npy: not a .npy file (bad magic)"},
        {"a valid float .npy input", model + q(f.path("ok.npy")), 0, "ok.npy"},
    };
    for (const Row& r : rows) check_row(r);
}

TEST_CASE("hostile: explain refuses an unknown layer, a class out of range and unwritable output before writing") {
    const HostileFiles& f = files();
    const std::string explain = "explain --model " + q(f.model) + " ";
    const std::string img = " " + q(f.good_png);
    const std::string out = f.path("out");
    // As root, permissions do not stop writes; /sys refuses mkdir even to root.
    const std::string unwritable = ::geteuid() == 0 ? std::string("/sys/entropycam-test-out") : f.path("ro/out");
    if (::geteuid() != 0) {
        ::mkdir(f.path("ro").c_str(), 0555);
    }
    const Row rows[] = {
        {"unknown layer", explain + "--layer no_such_layer --out " + q(out) + img, 1, "no tensor named 'no_such_layer' in the graph"},
        {"layer that is not a 4-D map", explain + "--layer logits --out " + q(out) + img, 1,
         "layer 'logits' has shape [1,5]: a CAM target must be a 4-D NHWC tensor"},
        {"layer that is the input", explain + "--layer input --out " + q(out) + img, 1, "layer 'input' is the graph input"},
        {"class out of range", explain + "--class 5 --out " + q(out) + img, 1,
         "--class 5 is out of range: the model has classes 0..4"},
        {"negative class", explain + "--class -1 --out " + q(out) + img, 2, "--class"},
        {"unwritable output folder", explain + "--out " + q(unwritable) + img, 1, "entropycam-test-out"},
        {"output path is a file", explain + "--out " + q(f.good_png + "/sub") + img, 1, "good.png: exists and is not a folder"},
    };
    for (const Row& r : rows) check_row(r);
    struct stat st;
    CHECK(::stat(out.c_str(), &st) != 0);  // every refusal came before the output folder was made

    // The same model and image succeed, and write only complete files (no temporary names left behind).
    test::CliResult ok = test::run_cli(explain + "--methods gradcam,featentropycam --raw --out " + q(out) + img);
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.find("grid: " + out + "/grid.png") != std::string::npos);
    std::vector<std::string> names;
    if (DIR* d = opendir(out.c_str())) {
        while (dirent* e = readdir(d)) names.push_back(e->d_name);
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{".", "..", "good_featentropycam.png", "good_featentropycam_raw.npy",
                                            "good_featentropycam_weights.npy", "good_gradcam.png", "good_gradcam_raw.npy",
                                            "good_gradcam_weights.npy", "grid.png"});
}

TEST_CASE("hostile: bad CSV and label files give exit 1 with one line") {
    const HostileFiles& f = files();
    const std::string header =
        "input,index,model,layer,steps,class_from,method,class,label,prob,prob_masked,deletion_auc,insertion_auc,"
        "average_drop,increase,pointing\n";
    const std::string row = "a.jpg,0,m,l,50,top1,gradcam,1,cat,0.5,0.25,0.1,0.2,3,4,\n";
    // fuzz_text finding: a quoted field holding a line break went verbatim into the message (two stderr lines).
    const std::string broken = header + "a.jpg,0,m,l,50,top1,gradcam,1,cat,\"0.5\n\",0.25,0.1,0.2,3,4,\n";
    const Row rows[] = {
        {"evaluate CSV whose number field holds a line break (fuzz finding)",
         "summarize " + q(f.put("broken.csv", broken)), 1, "broken.csv: row 1: '0.5?' is not a number"},
        {"evaluate CSV with an unterminated quote", "summarize " + q(f.put("quote.csv", header + "\"a.jpg,0\n")), 1,
         "quote.csv:2: unterminated quoted field"},
        {"a CSV that is not an evaluate CSV", "summarize " + q(f.put("other.csv", "a,b\n1,2\n")), 1,
         "other.csv: not an `entropycam evaluate` CSV"},
        {"binary file as a CSV", "summarize " + q(f.good_png), 1, "good.png"},
        {"a valid evaluate CSV", "summarize " + q(f.put("ok.csv", header + row)), 0, "Grad-CAM"},
        {"label file with a NUL byte", "convert " + q(f.tflite) + " " + q(f.path("l.ecw")) + " --labels " +
         q(f.put("nul.txt", std::string("a\nb\0c\nd\ne\n", 11))), 1, "nul.txt:2: NUL byte: not a text file"},
        {"empty label file", "convert " + q(f.tflite) + " " + q(f.path("l.ecw")) + " --labels " + q(f.put("none.txt", "")), 1,
         "none.txt: no labels (empty file)"},
    };
    for (const Row& r : rows) check_row(r);
}
