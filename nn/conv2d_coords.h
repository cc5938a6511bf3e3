// Coordinate arithmetic shared by the convolution kernels (internal to nn/): which input row/column a tap reads,
// and its inverse, on one axis. in = out * stride + tap * dilation - pad_before.
#pragma once

namespace ec {

// The input coordinate read by output coordinate `out` through kernel tap `tap` (may fall outside the image).
inline int conv_input_coord(int out, int tap, int stride, int dilation, int pad) {
    return out * stride + tap * dilation - pad;
}

// The output coordinate that reads input coordinate `in` through tap `tap`, or -1 if none does.
inline int conv_output_coord(int in, int tap, int stride, int dilation, int pad, int out_size) {
    const int t = in + pad - tap * dilation;
    if (t < 0 || t % stride != 0) return -1;
    return t / stride < out_size ? t / stride : -1;
}

}  // namespace ec
