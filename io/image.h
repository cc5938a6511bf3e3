// Image input: decode JPEG/PNG/BMP/GIF/TGA to 8-bit RGB (through stb_image, with limits checked on the header
// before any pixel is decoded), resize with the reference's bilinear sampling, and normalise to a network input.
// Does not: crop, keep the aspect ratio, apply EXIF orientation, colour-manage, or decode more than the first
// frame of an animated GIF. Preprocessing is exactly the reference's (../shared/reference/README.md,
// "Preprocessing used"), so the same image gives the same input tensor bit for bit (BMP; JPEG decoders differ).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nn/preprocessing.h"
#include "nn/tensor.h"

namespace ec {

// Limits on untrusted image files. A few header bytes can claim any size; these are checked on the header
// (stbi_info) before stb_image allocates anything, so a crafted file cannot make the decoder ask for gigabytes.
constexpr int64_t kMaxImagePixels = int64_t(64) << 20;     // width * height (64 Mi pixels, ~192 MiB as RGB)
constexpr int64_t kMaxImageFileBytes = int64_t(256) << 20; // encoded file size, checked before reading

// An 8-bit RGB image, row-major, rgb[(y * width + x) * 3 + c].
struct ImageU8 {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;
};

// What an image header says, read without decoding pixels.
struct ImageInfo {
    int width = 0, height = 0;
    int channels = 0;  // as stored: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
    std::string format; // "JPEG", "PNG", "BMP", "GIF", "TGA"
};

// Reads the header only and checks it against the limits. Throws Error("NAME: ...") for an unrecognised
// format, a corrupt header, a zero-sized image, or a side/pixel count above kMaxImageSide/kMaxImagePixels.
ImageInfo read_image_info_memory(const uint8_t* bytes, size_t size, const std::string& name);

// Decodes to RGB: grey is replicated, alpha is dropped (not composited, as the reference does), 16-bit samples
// become 8-bit (v >> 8). Throws Error naming the file and the problem ("not an image or unsupported format",
// "corrupt ...", "... exceeds the limit ...", "empty file").
ImageU8 decode_image(const std::string& path);
ImageU8 decode_image_memory(const uint8_t* bytes, size_t size, const std::string& name);

// Bilinear resize with half-pixel centres and no antialiasing (OpenCV INTER_LINEAR's grid), per axis:
// src = max((dst + 0.5) * (in / out) - 0.5, 0) with the ratio rounded first, i0 = floor(src), i1 = min(i0 + 1, in - 1), f = src - i0;
// interpolated in double along x then y, rounded with floor(v + 0.5) and clamped to [0, 255].
// Throws Error if the input is empty or out_w/out_h is not in [1, kMaxImageSide].
ImageU8 resize_bilinear_u8(const ImageU8& in, int out_w, int out_h);

// A 1 x H x W x 3 float32 tensor: x = float(u8 * scale) + offset (product in double, sum in float32).
// The image must already be width x height (Error otherwise).
Tensor image_to_input(const ImageU8& image, const Preprocessing& pre);
// The inverse for display: u8 = clamp(floor((x - offset) / scale + 0.5), 0, 255). Non-finite values become 0.
ImageU8 input_to_image(const Tensor& input, const Preprocessing& pre);

// A network input and the resized picture it came from (for overlays).
struct LoadedInput {
    Tensor input;        // 1 x H x W x 3 float32
    ImageU8 display;     // W x H RGB: the resized image, or the de-normalised input for a float .npy
    int source_width = 0, source_height = 0;  // before resizing
};

// Loads a network input from a file. A .npy file (recognised by its magic bytes or the .npy extension):
//   float32/float64 of shape 1 x H x W x 3 is taken as an already preprocessed input (shape must match pre,
//   every value finite); uint8 of shape [1 x] h x w x 3 is taken as a decoded image and resized + normalised.
// Anything else is decoded as an image, resized and normalised. Throws Error naming the file and the problem.
LoadedInput load_input(const std::string& path, const Preprocessing& pre);

}  // namespace ec
