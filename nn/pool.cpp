// Max, average and global average pooling, forward and backward, as templates instantiated for float (the
// product) and double (the gradient checks). Windows only visit cells inside the image: max pooling ignores the
// padding and average pooling divides by the number of cells inside (TensorFlow SAME semantics).
#include "nn/pool.h"
#include "nn/parallel.h"

#include <algorithm>
#include <cstdint>

namespace ec {
namespace {

// Window cells visited for every output value.
int64_t pool_work(const PoolGeometry& g) {
    return int64_t(g.batch) * g.out_h * g.out_w * g.channels * g.kernel_h * g.kernel_w;
}

// The in-image part of the window of output cell (oy, ox): rows [y0, y1), columns [x0, x1).
struct Window {
    int y0, y1, x0, x1;
    int count() const { return std::max(0, y1 - y0) * std::max(0, x1 - x0); }
};

Window window_of(const PoolGeometry& g, int oy, int ox) {
    const int top = oy * g.stride_h - g.pad_top, left = ox * g.stride_w - g.pad_left;
    return {std::max(top, 0), std::min(top + g.kernel_h, g.in_h), std::max(left, 0),
            std::min(left + g.kernel_w, g.in_w)};
}

int64_t pixel(const PoolGeometry& g, int n, int y, int x) { return (int64_t(n) * g.in_h + y) * g.in_w + x; }
int64_t out_pixel(const PoolGeometry& g, int n, int y, int x) { return (int64_t(n) * g.out_h + y) * g.out_w + x; }

template <typename T>
void max_pool_forward_t(T* out, const T* in, const PoolGeometry& g) {
    const int channels = g.channels;
#pragma omp parallel for collapse(2) schedule(static) if (pool_work(g) >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int oy = 0; oy < g.out_h; ++oy)
            for (int ox = 0; ox < g.out_w; ++ox) {
                T* dst = out + out_pixel(g, n, oy, ox) * channels;
                const Window w = window_of(g, oy, ox);
                if (w.count() == 0) {
                    std::fill(dst, dst + channels, T(0));
                    continue;
                }
                std::copy(in + pixel(g, n, w.y0, w.x0) * channels, in + (pixel(g, n, w.y0, w.x0) + 1) * channels, dst);
                for (int y = w.y0; y < w.y1; ++y)
                    for (int x = w.x0; x < w.x1; ++x) {
                        const T* src = in + pixel(g, n, y, x) * channels;
#pragma omp simd
                        for (int c = 0; c < channels; ++c) dst[c] = std::max(dst[c], src[c]);
                    }
            }
}

// Recomputes each window's first maximum in (ky, kx) order (a strict > keeps the first of equal values) and
// sends d_out there. Windows overlap, so threads split the batch only.
template <typename T>
void max_pool_backward_t(T* d_in, const T* d_out, const T* in, const PoolGeometry& g) {
    const int channels = g.channels;
#pragma omp parallel for schedule(static) if (g.batch > 1 && pool_work(g) >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int oy = 0; oy < g.out_h; ++oy)
            for (int ox = 0; ox < g.out_w; ++ox) {
                const Window w = window_of(g, oy, ox);
                if (w.count() == 0) continue;
                const T* dy = d_out + out_pixel(g, n, oy, ox) * channels;
                for (int c = 0; c < channels; ++c) {
                    int64_t best = pixel(g, n, w.y0, w.x0);
                    for (int y = w.y0; y < w.y1; ++y)
                        for (int x = w.x0; x < w.x1; ++x) {
                            const int64_t p = pixel(g, n, y, x);
                            if (in[p * channels + c] > in[best * channels + c]) best = p;
                        }
                    d_in[best * channels + c] += dy[c];
                }
            }
}

template <typename T>
void avg_pool_forward_t(T* out, const T* in, const PoolGeometry& g) {
    const int channels = g.channels;
#pragma omp parallel for collapse(2) schedule(static) if (pool_work(g) >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int oy = 0; oy < g.out_h; ++oy)
            for (int ox = 0; ox < g.out_w; ++ox) {
                T* dst = out + out_pixel(g, n, oy, ox) * channels;
                std::fill(dst, dst + channels, T(0));
                const Window w = window_of(g, oy, ox);
                if (w.count() == 0) continue;
                for (int y = w.y0; y < w.y1; ++y)
                    for (int x = w.x0; x < w.x1; ++x) {
                        const T* src = in + pixel(g, n, y, x) * channels;
#pragma omp simd
                        for (int c = 0; c < channels; ++c) dst[c] += src[c];
                    }
                const T scale = T(1) / T(w.count());
                for (int c = 0; c < channels; ++c) dst[c] *= scale;
            }
}

template <typename T>
void avg_pool_backward_t(T* d_in, const T* d_out, const PoolGeometry& g) {
    const int channels = g.channels;
#pragma omp parallel for schedule(static) if (g.batch > 1 && pool_work(g) >= kParallelMin)
    for (int n = 0; n < g.batch; ++n)
        for (int oy = 0; oy < g.out_h; ++oy)
            for (int ox = 0; ox < g.out_w; ++ox) {
                const Window w = window_of(g, oy, ox);
                if (w.count() == 0) continue;
                const T scale = T(1) / T(w.count());
                const T* dy = d_out + out_pixel(g, n, oy, ox) * channels;
                for (int y = w.y0; y < w.y1; ++y)
                    for (int x = w.x0; x < w.x1; ++x) {
                        T* dx = d_in + pixel(g, n, y, x) * channels;
#pragma omp simd
                        for (int c = 0; c < channels; ++c) dx[c] += dy[c] * scale;
                    }
            }
}

template <typename T>
void global_avg_pool_forward_t(T* out, const T* in, int batch, int h, int w, int channels) {
    const int64_t pixels = int64_t(h) * w;
    const T scale = T(1) / T(pixels);
#pragma omp parallel for schedule(static) if (batch > 1 && int64_t(batch) * pixels * channels >= kParallelMin)
    for (int n = 0; n < batch; ++n) {
        T* dst = out + int64_t(n) * channels;
        std::fill(dst, dst + channels, T(0));
        for (int64_t p = 0; p < pixels; ++p) {
            const T* src = in + (int64_t(n) * pixels + p) * channels;
#pragma omp simd
            for (int c = 0; c < channels; ++c) dst[c] += src[c];
        }
        for (int c = 0; c < channels; ++c) dst[c] *= scale;
    }
}

template <typename T>
void global_avg_pool_backward_t(T* d_in, const T* d_out, int batch, int h, int w, int channels) {
    const int64_t pixels = int64_t(h) * w;
    const T scale = T(1) / T(pixels);
#pragma omp parallel for collapse(2) schedule(static) if (int64_t(batch) * pixels * channels >= kParallelMin)
    for (int n = 0; n < batch; ++n)
        for (int64_t p = 0; p < pixels; ++p) {
            T* dx = d_in + (int64_t(n) * pixels + p) * channels;
            const T* dy = d_out + int64_t(n) * channels;
#pragma omp simd
            for (int c = 0; c < channels; ++c) dx[c] += dy[c] * scale;
        }
}

}  // namespace

void max_pool_forward(float* out, const float* in, const PoolGeometry& g) { max_pool_forward_t(out, in, g); }
void max_pool_backward(float* d_in, const float* d_out, const float* in, const PoolGeometry& g) {
    max_pool_backward_t(d_in, d_out, in, g);
}
void avg_pool_forward(float* out, const float* in, const PoolGeometry& g) { avg_pool_forward_t(out, in, g); }
void avg_pool_backward(float* d_in, const float* d_out, const PoolGeometry& g) { avg_pool_backward_t(d_in, d_out, g); }
void global_avg_pool_forward(float* out, const float* in, int batch, int h, int w, int channels) {
    global_avg_pool_forward_t(out, in, batch, h, w, channels);
}
void global_avg_pool_backward(float* d_in, const float* d_out, int batch, int h, int w, int channels) {
    global_avg_pool_backward_t(d_in, d_out, batch, h, w, channels);
}

void max_pool_forward(double* out, const double* in, const PoolGeometry& g) { max_pool_forward_t(out, in, g); }
void max_pool_backward(double* d_in, const double* d_out, const double* in, const PoolGeometry& g) {
    max_pool_backward_t(d_in, d_out, in, g);
}
void avg_pool_forward(double* out, const double* in, const PoolGeometry& g) { avg_pool_forward_t(out, in, g); }
void avg_pool_backward(double* d_in, const double* d_out, const PoolGeometry& g) {
    avg_pool_backward_t(d_in, d_out, g);
}
void global_avg_pool_forward(double* out, const double* in, int batch, int h, int w, int channels) {
    global_avg_pool_forward_t(out, in, batch, h, w, channels);
}
void global_avg_pool_backward(double* d_in, const double* d_out, int batch, int h, int w, int channels) {
    global_avg_pool_backward_t(d_in, d_out, batch, h, w, channels);
}

}  // namespace ec
