// `evaluate --class-from labels.csv` (cam/eval/eval_inputs.h): the two forms of a labels CSV, ImageNet indices
// (imagenet_index, shifted by one for 1001-output models) and output indices (class_index, the labels.csv that
// `entropycam synth` writes), matched by file name without the folder, and every error a labels file can cause.
#include <fstream>

#include "cam/eval/eval_inputs.h"
#include "tests/test_util.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {
std::string write_labels(const test::TempDir& dir, const std::string& name, const std::string& text) {
    const std::string path = dir.path + "/" + name;
    std::ofstream(path) << text;
    return path;
}
}  // namespace

TEST_CASE("ground truth: imagenet_index is the ImageNet class, + 1 for a 1001-output model") {
    test::TempDir dir;
    const std::string path = write_labels(dir, "imagenet.csv", "file,wnid,imagenet_index,label\n"
                                                               "cat.bmp,n02123045,281,tabby\nbird.bmp,n01530575,10,brambling\n");
    const GroundTruth t = read_ground_truth(path);
    CHECK(t.imagenet);
    CHECK(ground_truth_class(t, "images/cat.bmp", 1000, path) == 281);
    CHECK(ground_truth_class(t, "/abs/bird.bmp", 1001, path) == 11);
    CHECK_THROWS_WITH_AS(ground_truth_class(t, "cat.bmp", 6, path), doctest::Contains("6 outputs"), Error);
    CHECK_THROWS_WITH_AS(ground_truth_class(t, "dog.bmp", 1000, path), doctest::Contains("dog.bmp: not listed in"), Error);
}

TEST_CASE("ground truth: class_index (synth's labels.csv) is the output index itself, matched by file name") {
    test::TempDir dir;
    // The columns `entropycam synth` writes; `file` is the image's name, its folder is DIR/<split>/images.
    const std::string path = write_labels(dir, "labels.csv",
                                          "file,split,class_index,label,x0,y0,x1,y1\n"
                                          "00000.png,train,0,disc,1,2,3,4\n"
                                          "12600.png,test,5,star,1,2,3,4\n"
                                          "test/images/12601.png,test,3,cross,1,2,3,4\n");  // a folder in `file` is dropped
    const GroundTruth t = read_ground_truth(path);
    CHECK_FALSE(t.imagenet);
    CHECK(ground_truth_class(t, "out/synth/test/images/12600.png", 6, path) == 5);
    CHECK(ground_truth_class(t, "12601.png", 6, path) == 3);
    CHECK(ground_truth_class(t, "x/00000.png", 2, path) == 0);
    // An index the model does not have, and a file that is not listed.
    CHECK_THROWS_WITH_AS(ground_truth_class(t, "12600.png", 5, path), doctest::Contains("class_index 5"), Error);
    CHECK_THROWS_WITH_AS(ground_truth_class(t, "12602.png", 6, path), doctest::Contains("12602.png: not listed in"), Error);
    // With both columns the ImageNet index is used.
    const std::string both = write_labels(dir, "both.csv", "file,class_index,imagenet_index\na.png,1,7\n");
    CHECK(read_ground_truth(both).imagenet);
    CHECK(ground_truth_class(read_ground_truth(both), "a.png", 1000, both) == 7);
}

TEST_CASE("ground truth: a labels file without the columns, with a bad index or an ambiguous name is an error") {
    test::TempDir dir;
    auto error_of = [&](const std::string& text) {
        const std::string path = write_labels(dir, "bad.csv", text);
        try {
            read_ground_truth(path);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(error_of("name,class_index\na.png,1\n").find("no column 'file'") != std::string::npos);
    CHECK(error_of("file,label\na.png,disc\n").find("no column 'imagenet_index' or 'class_index'") != std::string::npos);
    CHECK(error_of("file,class_index\na.png,-1\n").find("row 1: class_index '-1' is not in") != std::string::npos);
    CHECK(error_of("file,class_index\na.png,1\nb.png,x\n").find("row 2: class_index 'x'") != std::string::npos);
    CHECK(error_of("file,imagenet_index\na.png,1000\n").find("imagenet_index '1000' is not in 0..999") != std::string::npos);
    CHECK(error_of("file,class_index\ntrain/images/a.png,1\ntest/images/a.png,2\n").find("'a.png' is listed twice") !=
          std::string::npos);
    CHECK(error_of("file,class_index\ntrain/a.png,1\ntest/a.png,1\n") == "no error");  // the same class twice: no doubt
    CHECK_THROWS_AS(read_ground_truth(dir.path + "/missing.csv"), Error);
}
