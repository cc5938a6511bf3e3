// libFuzzer target: image decoding and preprocessing (io/image.h): header limits, stb_image decoding, the
// bilinear resize and the normalisation, with two properties: resizing to the same size is the identity, and
// input_to_image inverts image_to_input.
#include <cstdlib>

#include "io/image.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ec;
    try {
        ImageInfo info = read_image_info_memory(data, size, "fuzz.img");
        // Headers up to the limits are checked above; decoding tens of millions of pixels per input would stall
        // the fuzzer on one path (a few thousand inputs per minute instead of a few thousand per second).
        if (int64_t(info.width) * info.height > (int64_t(1) << 20)) return 0;
        ImageU8 img = decode_image_memory(data, size, "fuzz.img");
        if (img.width != info.width || img.height != info.height) std::abort();
        if (int64_t(img.width) * img.height <= 4096 && resize_bilinear_u8(img, img.width, img.height).rgb != img.rgb) std::abort();
        Preprocessing pre;
        pre.width = 1 + img.width % 13;
        pre.height = 1 + img.height % 11;
        ImageU8 small = resize_bilinear_u8(img, pre.width, pre.height);
        Tensor x = image_to_input(small, pre);
        if (input_to_image(x, pre).rgb != small.rgb) std::abort();
    } catch (const Error& e) {
        fuzz::check_one_line(e);
    }
    return 0;
}
