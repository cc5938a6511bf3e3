// Max, average and global average pooling over NHWC tensors.
// Average pooling divides by the number of window cells inside the image (TensorFlow's SAME behaviour: padding
// is not counted). Max pooling sends the gradient to the FIRST maximum of a window in (ky, kx) order, so ties
// are deterministic. Backward functions accumulate (+=).
#pragma once

namespace ec {

struct PoolGeometry {
    int batch = 1;
    int in_h = 0, in_w = 0, channels = 0;
    int out_h = 0, out_w = 0;
    int kernel_h = 1, kernel_w = 1;
    int stride_h = 1, stride_w = 1;
    int pad_top = 0, pad_left = 0;
};

void max_pool_forward(float* out, const float* in, const PoolGeometry& g);
void max_pool_backward(float* d_in, const float* d_out, const float* in, const PoolGeometry& g);
void avg_pool_forward(float* out, const float* in, const PoolGeometry& g);
void avg_pool_backward(float* d_in, const float* d_out, const PoolGeometry& g);

// out[n,c] = mean over (y, x) of in[n,y,x,c]; out has batch * channels values.
void global_avg_pool_forward(float* out, const float* in, int batch, int h, int w, int channels);
void global_avg_pool_backward(float* d_in, const float* d_out, int batch, int h, int w, int channels);

}  // namespace ec
