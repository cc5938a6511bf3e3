// What a model expects of its input image: the size it is resized to and the affine map from u8 pixels to
// floats. Part of a model's description (weights/), applied by the image reader (io/image.h).
#pragma once

namespace ec {

// The largest image side anything reads, decodes or declares as a model input (pixels).
constexpr int kMaxImageSide = 16384;

// How an image becomes the network input: resized to width x height, then x = float(u8) * scale + offset.
// scale is a double so that u8 * (1 / 127.5) rounded to float equals the reference's float32 division
// u8 / 127.5 for every u8 (a float 1/127.5f differs in the last bit for 111 of the 256 values).
struct Preprocessing {
    int width = 224, height = 224;
    double scale = 1.0 / 127.5;
    float offset = -1.0f;
};

}  // namespace ec
