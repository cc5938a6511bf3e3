// The one translation unit that compiles stb_image_write. Only the in-memory PNG writer is used: no stdio entry
// points (we write the file ourselves, atomically), and none of stb's global settings (compression level,
// forced filter) are touched, so encoding is safe from several threads.
#include "io/png_write.h"

#include <climits>

#include "nn/file_util.h"
#include "nn/tensor.h"

#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace ec {
namespace {

void append_to_string(void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace

std::string encode_png(const ImageU8& image) {
    if (image.width <= 0 || image.height <= 0)
        throw Error("encode_png: empty image " + std::to_string(image.width) + "x" + std::to_string(image.height));
    if (int64_t(image.rgb.size()) != int64_t(image.width) * image.height * 3)
        throw Error("encode_png: " + std::to_string(image.rgb.size()) + " bytes for a " + std::to_string(image.width) +
                    "x" + std::to_string(image.height) + " RGB image");
    if (int64_t(image.width) * 3 > INT_MAX / 2 || int64_t(image.width) * image.height * 3 > INT_MAX / 2)
        throw Error("encode_png: image " + std::to_string(image.width) + "x" + std::to_string(image.height) + " is too large");
    std::string bytes;
    const int stride = image.width * 3;
    if (!stbi_write_png_to_func(append_to_string, &bytes, image.width, image.height, 3, image.rgb.data(), stride))
        throw Error("encode_png: stb_image_write failed on a " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " image");
    return bytes;
}

void write_png(const std::string& path, const ImageU8& image) {
    write_file_atomic(path, encode_png(image));
}

}  // namespace ec
