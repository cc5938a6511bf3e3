// PNG encoding of an RGB u8 image (stb_image_write, compiled in io/png_write.cpp only). Writing goes to a
// temporary name and is renamed into place, so an interrupted run never leaves a half-written PNG.
#pragma once
#include <string>

#include "io/image.h"

namespace ec {

// The PNG file bytes. Throws Error for an empty image or one whose pixel buffer does not match its size.
std::string encode_png(const ImageU8& image);
// encode_png + ec::write_file_atomic. Throws Error naming the path on failure.
void write_png(const std::string& path, const ImageU8& image);

}  // namespace ec
