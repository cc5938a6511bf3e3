// Max, average and global average pooling over NHWC tensors.
// Average pooling divides by the number of window cells inside the image (TensorFlow's SAME behaviour: padding
// is not counted). Max pooling ignores cells outside the image and sends the gradient to the FIRST maximum of a
// window in (ky, kx) order, so ties are deterministic. A window with no cell inside the image (only possible
// with explicit padding wider than the kernel) outputs 0 and gets no gradient. Backward functions accumulate (+=).
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

// out[n,y,x,c] = max over in-image cells (ky,kx) of in[n, y*s_h + ky - pad_top, x*s_w + kx - pad_left, c].
void max_pool_forward(float* out, const float* in, const PoolGeometry& g);
// d_in[first argmax of the window] += d_out, recomputing the argmax from the forward input.
void max_pool_backward(float* d_in, const float* d_out, const float* in, const PoolGeometry& g);
// out[n,y,x,c] = (1 / count) * sum over the count in-image cells of the window.
void avg_pool_forward(float* out, const float* in, const PoolGeometry& g);
// d_in[cell] += d_out / count for every in-image cell of the window.
void avg_pool_backward(float* d_in, const float* d_out, const PoolGeometry& g);

// out[n,c] = mean over (y, x) of in[n,y,x,c]; out has batch * channels values.
void global_avg_pool_forward(float* out, const float* in, int batch, int h, int w, int channels);
// d_in[n,y,x,c] += d_out[n,c] / (h * w).
void global_avg_pool_backward(float* d_in, const float* d_out, int batch, int h, int w, int channels);

// The same kernels in double, for the finite-difference gradient checks of the tests.
void max_pool_forward(double* out, const double* in, const PoolGeometry& g);
void max_pool_backward(double* d_in, const double* d_out, const double* in, const PoolGeometry& g);
void avg_pool_forward(double* out, const double* in, const PoolGeometry& g);
void avg_pool_backward(double* d_in, const double* d_out, const PoolGeometry& g);
void global_avg_pool_forward(double* out, const double* in, int batch, int h, int w, int channels);
void global_avg_pool_backward(double* d_in, const double* d_out, int batch, int h, int w, int channels);

}  // namespace ec
