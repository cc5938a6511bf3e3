// nn/file_util.h: the path helpers every layer names files with (model names, output files, mask lookup).
#include <doctest/doctest.h>

#include "nn/file_util.h"

TEST_CASE("file_name and file_stem: folders, extensions, dots") {
    CHECK(ec::file_name("dir/sub/n01443537_goldfish.JPEG") == "n01443537_goldfish.JPEG");
    CHECK(ec::file_name("goldfish.JPEG") == "goldfish.JPEG");
    CHECK(ec::file_name("dir/") == "");
    CHECK(ec::file_stem("dir/sub/n01443537_goldfish.JPEG") == "n01443537_goldfish");
    CHECK(ec::file_stem("models/mobilenet_v2_1.0_224_quant.tflite") == "mobilenet_v2_1.0_224_quant");  // last dot only
    CHECK(ec::file_stem("dir.d/noext") == "noext");  // a dot in the folder is not an extension
    CHECK(ec::file_stem("dir/.hidden") == ".hidden");
    CHECK(ec::file_stem("") == "");
}
