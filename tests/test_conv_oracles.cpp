// Convolution oracles that do not share the kernels' tap enumeration. Each relates one geometry to a simpler one
// by an identity of the convolution formula (conv2d.h), so a wrong tap, dilation, group or padding mapping in a
// kernel breaks the identity even when forward and backward are consistent with each other:
//   dilation d      = dilation 1 with the kernel zero-stuffed (taps at multiples of d, zeros between)
//   groups G        = the G single-group convolutions of the channel slices, concatenated
//   explicit pads   = zero-pad the input (done here, not with nn's pad kernel), then VALID
//   stride s        = stride 1, then keep every s-th output; backward: stride 1 with the upstream gradient
//                     zero-stuffed
//   one-hot filter  = the input shifted by (y*s + ky*d - pad_top, x*s + kx*d - pad_left) into one channel: the
//                     absolute anchor (the identities above hold for a kernel that, say, flips the filter)
// Every identity is checked for the forward pass and both backward passes, on the naive reference and on the fast
// kernels, on odd sizes. Both backward kernels must also ACCUMULATE into their outputs (conv2d.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "nn/conv2d.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace {

using ec::ConvGeometry;
using Vec = std::vector<float>;

// The kernels under test: the naive reference, or the fast kernels with scratch of the advertised size.
struct ConvKernels {
    std::string name;
    bool fast = false;

    Vec forward(const ConvGeometry& g, const Vec& in, const Vec& filter, const Vec& bias) const {
        Vec out(size_t(int64_t(g.batch) * g.out_h * g.out_w * g.out_c));
        const float* b = bias.empty() ? nullptr : bias.data();
        if (fast) {
            Vec scratch(ec::conv2d_scratch_floats(g));
            ec::conv2d_forward(out.data(), in.data(), filter.data(), b, g, scratch.data());
        } else {
            ec::conv2d_forward_reference(out.data(), in.data(), filter.data(), b, g);
        }
        return out;
    }
    // Accumulates into d_in.
    void backward_input(Vec& d_in, const ConvGeometry& g, const Vec& d_out, const Vec& filter) const {
        if (fast) {
            Vec scratch(ec::conv2d_scratch_floats(g));
            ec::conv2d_backward_input(d_in.data(), d_out.data(), filter.data(), g, scratch.data());
        } else {
            ec::conv2d_backward_input_reference(d_in.data(), d_out.data(), filter.data(), g);
        }
    }
    // Accumulates into d_filter and d_bias.
    void backward_filter(Vec& d_filter, Vec& d_bias, const ConvGeometry& g, const Vec& d_out, const Vec& in) const {
        if (fast) {
            Vec scratch(ec::conv2d_scratch_floats(g));
            ec::conv2d_backward_filter(d_filter.data(), d_bias.data(), d_out.data(), in.data(), g, scratch.data());
        } else {
            ec::conv2d_backward_filter_reference(d_filter.data(), d_bias.data(), d_out.data(), in.data(), g);
        }
    }
};

const ConvKernels kKernels[] = {{"reference", false}, {"fast", true}};

size_t in_size(const ConvGeometry& g) { return size_t(int64_t(g.batch) * g.in_h * g.in_w * g.in_c); }
size_t out_size(const ConvGeometry& g) { return size_t(int64_t(g.batch) * g.out_h * g.out_w * g.out_c); }
size_t filter_size(const ConvGeometry& g) { return size_t(g.kernel_h) * g.kernel_w * (g.in_c / g.groups) * g.out_c; }
int64_t in_at(const ConvGeometry& g, int n, int y, int x, int c) {
    return ((int64_t(n) * g.in_h + y) * g.in_w + x) * g.in_c + c;
}
int64_t out_at(const ConvGeometry& g, int n, int y, int x, int o) {
    return ((int64_t(n) * g.out_h + y) * g.out_w + x) * g.out_c + o;
}
int64_t filter_at(const ConvGeometry& g, int ky, int kx, int i, int o) {
    return ((int64_t(ky) * g.kernel_w + kx) * (g.in_c / g.groups) + i) * g.out_c + o;
}

// Both sides sum the same products (plus exact zeros) in float, in different orders: the bound of test_conv2d.cpp
// (sqrt(terms) * 2^-24 of the result's scale, 6x margin) applies. A wrong mapping costs O(1) of the scale.
constexpr float kTol = 2e-5f;

void check_close(const std::string& what, const Vec& got, const Vec& want) {
    REQUIRE(got.size() == want.size());
    ec::test::check_close_rel_max(what, got.data(), want.data(), int64_t(got.size()), kTol);
    CHECK(ec::test::max_abs(want.data(), int64_t(want.size())) > 0);  // never a vacuous comparison
}

// One case: a geometry and random data for it (input, filter, bias, upstream gradient).
struct Case {
    std::string name;
    ConvGeometry g;
    Vec in, filter, bias, d_out;
};

// Implied bottom/right padding (the rows read past the input): (out - 1) * s + (k - 1) * d + 1 - in - pad_before.
int pad_after(int in, int out, int k, int s, int d, int pad_before) { return (out - 1) * s + (k - 1) * d + 1 - in - pad_before; }

ConvGeometry geometry(int batch, int in_h, int in_w, int in_c, int out_c, int kh, int kw, int sh, int sw, int dh, int dw,
                      int groups, int pad_top, int pad_left, int pad_bottom, int pad_right) {
    ConvGeometry g;
    g.batch = batch, g.in_h = in_h, g.in_w = in_w, g.in_c = in_c, g.out_c = out_c, g.kernel_h = kh, g.kernel_w = kw;
    g.stride_h = sh, g.stride_w = sw, g.dilation_h = dh, g.dilation_w = dw, g.groups = groups;
    g.pad_top = pad_top, g.pad_left = pad_left;
    // Output size with exactly these pads (pads chosen so the division is exact or rounds down harmlessly).
    g.out_h = (in_h + pad_top + pad_bottom - (kh - 1) * dh - 1) / sh + 1;
    g.out_w = (in_w + pad_left + pad_right - (kw - 1) * dw - 1) / sw + 1;
    return g;
}

std::vector<Case> cases() {
    std::vector<std::pair<std::string, ConvGeometry>> geoms = {
        {"3x3 s2 d2 pads(2,1,1,2) 9x11x5->7 n2", geometry(2, 9, 11, 5, 7, 3, 3, 2, 2, 2, 2, 1, 2, 1, 1, 2)},
        {"3x2 s(1,3) d(3,2) pads(1,0,2,3) 7x13x3->5 n1", geometry(1, 7, 13, 3, 5, 3, 2, 1, 3, 3, 2, 1, 1, 0, 2, 3)},
        {"grouped g3 3x3 s2 pads(1,1,1,1) 9x7x9->6 n2", geometry(2, 9, 7, 9, 6, 3, 3, 2, 2, 1, 1, 3, 1, 1, 1, 1)},
        {"grouped g2 5x3 s(3,2) d(1,2) pads(2,3,1,2) 11x9x6->10 n1", geometry(1, 11, 9, 6, 10, 5, 3, 3, 2, 1, 2, 2, 2, 3, 1, 2)},
        {"depthwise m1 3x3 s2 pads(1,1,1,1) 9x7x5 n2", geometry(2, 9, 7, 5, 5, 3, 3, 2, 2, 1, 1, 5, 1, 1, 1, 1)},
        {"depthwise m2 3x3 s1 d2 pads(2,2,2,2) 7x9x3->6 n1", geometry(1, 7, 9, 3, 6, 3, 3, 1, 1, 2, 2, 3, 2, 2, 2, 2)},
        {"depthwise m1 5x5 s3 d2 pads(3,1,4,2) 13x11x7 n1", geometry(1, 13, 11, 7, 7, 5, 5, 3, 3, 2, 2, 7, 3, 1, 4, 2)},
        {"1x1 s2 pads(0,1,0,1) 7x9x5->3 n2", geometry(2, 7, 9, 5, 3, 1, 1, 2, 2, 1, 1, 1, 0, 1, 0, 1)},
        {"1x1 s1 no pads (pointwise) 5x7x9->3 g3 n1", geometry(1, 5, 7, 9, 3, 1, 1, 1, 1, 1, 1, 3, 0, 0, 0, 0)},
    };
    std::vector<Case> v;
    ec::test::Rng rng(0x0AC1E5);
    for (auto& [name, g] : geoms) {
        ec::check_conv_geometry(g);
        Case c{name, g, {}, {}, {}, {}};
        c.in = ec::test::random_vector<float>(rng, in_size(g));
        c.filter = ec::test::random_vector<float>(rng, filter_size(g));
        c.bias = ec::test::random_vector<float>(rng, size_t(g.out_c));
        c.d_out = ec::test::random_vector<float>(rng, out_size(g));
        v.push_back(std::move(c));
    }
    return v;
}

struct Grads {
    Vec d_in, d_filter, d_bias;
};
Grads backward(const ConvKernels& k, const ConvGeometry& g, const Vec& in, const Vec& filter, const Vec& d_out) {
    Grads r{Vec(in_size(g)), Vec(filter_size(g)), Vec(size_t(g.out_c))};
    k.backward_input(r.d_in, g, d_out, filter);
    k.backward_filter(r.d_filter, r.d_bias, g, d_out, in);
    return r;
}

// Dilation d = dilation 1 with a kernel of (k - 1) * d + 1 taps, the original ones at multiples of d.
void check_dilation(const ConvKernels& k, const Case& c) {
    const ConvGeometry& g = c.g;
    ConvGeometry u = g;
    u.kernel_h = (g.kernel_h - 1) * g.dilation_h + 1, u.kernel_w = (g.kernel_w - 1) * g.dilation_w + 1;
    u.dilation_h = u.dilation_w = 1;
    Vec stuffed(filter_size(u), 0.0f);
    const int per_group = g.in_c / g.groups;
    for (int ky = 0; ky < g.kernel_h; ++ky)
        for (int kx = 0; kx < g.kernel_w; ++kx)
            for (int i = 0; i < per_group; ++i)
                for (int o = 0; o < g.out_c; ++o)
                    stuffed[size_t(filter_at(u, ky * g.dilation_h, kx * g.dilation_w, i, o))] =
                        c.filter[size_t(filter_at(g, ky, kx, i, o))];
    check_close("dilation: forward", k.forward(g, c.in, c.filter, c.bias), k.forward(u, c.in, stuffed, c.bias));
    const Grads got = backward(k, g, c.in, c.filter, c.d_out), want = backward(k, u, c.in, stuffed, c.d_out);
    check_close("dilation: backward input", got.d_in, want.d_in);
    Vec want_filter(filter_size(g));
    for (int ky = 0; ky < g.kernel_h; ++ky)
        for (int kx = 0; kx < g.kernel_w; ++kx)
            for (int i = 0; i < per_group; ++i)
                for (int o = 0; o < g.out_c; ++o)
                    want_filter[size_t(filter_at(g, ky, kx, i, o))] =
                        want.d_filter[size_t(filter_at(u, ky * g.dilation_h, kx * g.dilation_w, i, o))];
    check_close("dilation: backward filter", got.d_filter, want_filter);
    check_close("dilation: backward bias", got.d_bias, want.d_bias);
}

// Groups G = G independent convolutions on channel slices, outputs concatenated along channels.
void check_groups(const ConvKernels& k, const Case& c) {
    const ConvGeometry& g = c.g;
    const int ci = g.in_c / g.groups, co = g.out_c / g.groups;
    ConvGeometry s = g;
    s.in_c = ci, s.out_c = co, s.groups = 1;
    const int64_t pixels_in = int64_t(g.batch) * g.in_h * g.in_w, pixels_out = int64_t(g.batch) * g.out_h * g.out_w;
    Vec want_out(out_size(g)), want_d_in(in_size(g)), want_d_filter(filter_size(g)), want_d_bias(size_t(g.out_c));
    for (int grp = 0; grp < g.groups; ++grp) {
        Vec in(in_size(s)), filter(filter_size(s)), bias(static_cast<size_t>(co)), d_out(out_size(s));
        for (int64_t p = 0; p < pixels_in; ++p)
            for (int i = 0; i < ci; ++i) in[size_t(p * ci + i)] = c.in[size_t(p * g.in_c + grp * ci + i)];
        for (int64_t p = 0; p < pixels_out; ++p)
            for (int o = 0; o < co; ++o) d_out[size_t(p * co + o)] = c.d_out[size_t(p * g.out_c + grp * co + o)];
        for (int ky = 0; ky < g.kernel_h; ++ky)
            for (int kx = 0; kx < g.kernel_w; ++kx)
                for (int i = 0; i < ci; ++i)
                    for (int o = 0; o < co; ++o)
                        filter[size_t(filter_at(s, ky, kx, i, o))] = c.filter[size_t(filter_at(g, ky, kx, i, grp * co + o))];
        for (int o = 0; o < co; ++o) bias[size_t(o)] = c.bias[size_t(grp * co + o)];
        const Vec out = k.forward(s, in, filter, bias);
        const Grads gr = backward(k, s, in, filter, d_out);
        for (int64_t p = 0; p < pixels_out; ++p)
            for (int o = 0; o < co; ++o) want_out[size_t(p * g.out_c + grp * co + o)] = out[size_t(p * co + o)];
        for (int64_t p = 0; p < pixels_in; ++p)
            for (int i = 0; i < ci; ++i) want_d_in[size_t(p * g.in_c + grp * ci + i)] = gr.d_in[size_t(p * ci + i)];
        for (int ky = 0; ky < g.kernel_h; ++ky)
            for (int kx = 0; kx < g.kernel_w; ++kx)
                for (int i = 0; i < ci; ++i)
                    for (int o = 0; o < co; ++o)
                        want_d_filter[size_t(filter_at(g, ky, kx, i, grp * co + o))] =
                            gr.d_filter[size_t(filter_at(s, ky, kx, i, o))];
        for (int o = 0; o < co; ++o) want_d_bias[size_t(grp * co + o)] = gr.d_bias[size_t(o)];
    }
    check_close("groups: forward", k.forward(g, c.in, c.filter, c.bias), want_out);
    const Grads got = backward(k, g, c.in, c.filter, c.d_out);
    check_close("groups: backward input", got.d_in, want_d_in);
    check_close("groups: backward filter", got.d_filter, want_d_filter);
    check_close("groups: backward bias", got.d_bias, want_d_bias);
}

// Explicit padding = zero-pad the input by (top, bottom, left, right), then the same convolution unpadded.
void check_padding(const ConvKernels& k, const Case& c) {
    const ConvGeometry& g = c.g;
    const int bottom = pad_after(g.in_h, g.out_h, g.kernel_h, g.stride_h, g.dilation_h, g.pad_top);
    const int right = pad_after(g.in_w, g.out_w, g.kernel_w, g.stride_w, g.dilation_w, g.pad_left);
    REQUIRE(bottom >= 0);
    REQUIRE(right >= 0);
    ConvGeometry p = g;
    p.in_h = g.in_h + g.pad_top + bottom, p.in_w = g.in_w + g.pad_left + right, p.pad_top = p.pad_left = 0;
    Vec padded(in_size(p), 0.0f);
    for (int n = 0; n < g.batch; ++n)
        for (int y = 0; y < g.in_h; ++y)
            for (int x = 0; x < g.in_w; ++x)
                for (int ch = 0; ch < g.in_c; ++ch)
                    padded[size_t(in_at(p, n, y + g.pad_top, x + g.pad_left, ch))] = c.in[size_t(in_at(g, n, y, x, ch))];
    check_close("padding: forward", k.forward(g, c.in, c.filter, c.bias), k.forward(p, padded, c.filter, c.bias));
    const Grads got = backward(k, g, c.in, c.filter, c.d_out), want = backward(k, p, padded, c.filter, c.d_out);
    Vec cropped(in_size(g));
    for (int n = 0; n < g.batch; ++n)
        for (int y = 0; y < g.in_h; ++y)
            for (int x = 0; x < g.in_w; ++x)
                for (int ch = 0; ch < g.in_c; ++ch)
                    cropped[size_t(in_at(g, n, y, x, ch))] = want.d_in[size_t(in_at(p, n, y + g.pad_top, x + g.pad_left, ch))];
    check_close("padding: backward input", got.d_in, cropped);
    check_close("padding: backward filter", got.d_filter, want.d_filter);
    check_close("padding: backward bias", got.d_bias, want.d_bias);
}

// Stride s = stride 1 over the same padded extent, every s-th output kept. Backward of stride s with upstream
// gradient G = backward of stride 1 with G zero-stuffed (G at multiples of s, 0 between).
void check_stride(const ConvKernels& k, const Case& c) {
    const ConvGeometry& g = c.g;
    ConvGeometry u = g;
    u.stride_h = u.stride_w = 1;
    u.out_h = (g.out_h - 1) * g.stride_h + 1, u.out_w = (g.out_w - 1) * g.stride_w + 1;
    const Vec dense = k.forward(u, c.in, c.filter, c.bias);
    Vec subsampled(out_size(g)), stuffed(out_size(u), 0.0f);
    for (int n = 0; n < g.batch; ++n)
        for (int y = 0; y < g.out_h; ++y)
            for (int x = 0; x < g.out_w; ++x)
                for (int o = 0; o < g.out_c; ++o) {
                    const int64_t dst = out_at(u, n, y * g.stride_h, x * g.stride_w, o);
                    subsampled[size_t(out_at(g, n, y, x, o))] = dense[size_t(dst)];
                    stuffed[size_t(dst)] = c.d_out[size_t(out_at(g, n, y, x, o))];
                }
    check_close("stride: forward", k.forward(g, c.in, c.filter, c.bias), subsampled);
    const Grads got = backward(k, g, c.in, c.filter, c.d_out), want = backward(k, u, c.in, c.filter, stuffed);
    check_close("stride: backward input", got.d_in, want.d_in);
    check_close("stride: backward filter", got.d_filter, want.d_filter);
    check_close("stride: backward bias", got.d_bias, want.d_bias);
}

// A filter that is 1 at one tap (ky, kx, i, o) and 0 elsewhere moves input channel group(o) * C_g + i, shifted,
// into output channel o: out[n,y,x,o] = in[n, y*s_h + ky*d_h - pad_top, x*s_w + kx*d_w - pad_left, ...] (0 outside).
// The transposed statement for backward input, and for backward filter: d_filter[ky,kx,i,o] is the dot product of
// that shifted input with d_out[..., o].
void check_one_hot_taps(const ConvKernels& k, const Case& c) {
    const ConvGeometry& g = c.g;
    const int ci = g.in_c / g.groups, co = g.out_c / g.groups;
    const Grads gf = backward(k, g, c.in, c.filter, c.d_out);  // only d_filter is used (it does not read the filter)
    double worst = 0, scale = 0, worst_filter = 0, filter_scale = 0;
    for (int ky = 0; ky < g.kernel_h; ++ky)
        for (int kx = 0; kx < g.kernel_w; ++kx)
            for (int i = 0; i < ci; ++i)
                for (int o = 0; o < g.out_c; ++o) {
                    Vec filter(filter_size(g), 0.0f);
                    filter[size_t(filter_at(g, ky, kx, i, o))] = 1.0f;
                    const Vec out = k.forward(g, c.in, filter, {});
                    Vec d_in(in_size(g), 0.0f);
                    k.backward_input(d_in, g, c.d_out, filter);
                    Vec want_out(out_size(g), 0.0f), want_d_in(in_size(g), 0.0f);
                    double want_d_filter = 0;
                    const int channel = (o / co) * ci + i;
                    for (int n = 0; n < g.batch; ++n)
                        for (int y = 0; y < g.out_h; ++y)
                            for (int x = 0; x < g.out_w; ++x) {
                                const int iy = y * g.stride_h + ky * g.dilation_h - g.pad_top;
                                const int ix = x * g.stride_w + kx * g.dilation_w - g.pad_left;
                                if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
                                const size_t src = size_t(in_at(g, n, iy, ix, channel)), dst = size_t(out_at(g, n, y, x, o));
                                want_out[dst] = c.in[src];
                                want_d_in[src] += c.d_out[dst];
                                want_d_filter += double(c.in[src]) * c.d_out[dst];
                            }
                    for (size_t e = 0; e < out.size(); ++e) worst = std::max(worst, double(std::fabs(out[e] - want_out[e])));
                    for (size_t e = 0; e < d_in.size(); ++e)
                        worst = std::max(worst, double(std::fabs(d_in[e] - want_d_in[e])));
                    scale = std::max(scale, double(ec::test::max_abs(want_out.data(), int64_t(want_out.size()))));
                    const double got_filter = gf.d_filter[size_t(filter_at(g, ky, kx, i, o))];
                    worst_filter = std::max(worst_filter, std::fabs(got_filter - want_d_filter));
                    filter_scale = std::max(filter_scale, std::fabs(want_d_filter));
                }
    INFO("one-hot taps: max |diff| forward/backward input = " << worst << " (scale " << scale
         << "), backward filter = " << worst_filter << " (scale " << filter_scale << ")");
    CHECK(scale > 0);
    CHECK(worst <= kTol * scale);  // one product with 1.0 per element (plus stuffed zeros): exact in practice
    CHECK(worst_filter <= kTol * filter_scale);
}

// Backward kernels accumulate: starting from G0 gives G0 + (the gradient started from zero).
void check_accumulates(const ConvKernels& k, const Case& c) {
    const ConvGeometry& g = c.g;
    ec::test::Rng rng(0xACC + in_size(g));
    const Vec d_in0 = ec::test::random_vector<float>(rng, in_size(g), 5, 10);  // far from the gradients' values
    const Vec d_filter0 = ec::test::random_vector<float>(rng, filter_size(g), 5, 10);
    const Vec d_bias0 = ec::test::random_vector<float>(rng, size_t(g.out_c), 5, 10);
    Grads acc{d_in0, d_filter0, d_bias0};
    k.backward_input(acc.d_in, g, c.d_out, c.filter);
    k.backward_filter(acc.d_filter, acc.d_bias, g, c.d_out, c.in);
    Grads want = backward(k, g, c.in, c.filter, c.d_out);
    for (size_t e = 0; e < want.d_in.size(); ++e) want.d_in[e] += d_in0[e];
    for (size_t e = 0; e < want.d_filter.size(); ++e) want.d_filter[e] += d_filter0[e];
    for (size_t e = 0; e < want.d_bias.size(); ++e) want.d_bias[e] += d_bias0[e];
    check_close("accumulate: backward input", acc.d_in, want.d_in);
    check_close("accumulate: backward filter", acc.d_filter, want.d_filter);
    check_close("accumulate: backward bias", acc.d_bias, want.d_bias);
}

void for_each_kernel_and_case(const std::function<bool(const ConvGeometry&)>& applies,
                              const std::function<void(const ConvKernels&, const Case&)>& check) {
    int checked = 0;
    for (const auto& k : kKernels)
        for (const auto& c : cases()) {
            if (!applies(c.g)) continue;
            INFO(k.name << " kernels, geometry " << c.name);
            check(k, c);
            ++checked;
        }
    CHECK(checked >= 4);  // the oracle ran on at least two geometries per kernel set
}

}  // namespace

TEST_CASE("conv oracle: dilated conv = undilated conv with a zero-stuffed kernel (forward, both backwards)") {
    for_each_kernel_and_case([](const ConvGeometry& g) { return g.dilation_h > 1 || g.dilation_w > 1; }, check_dilation);
}

TEST_CASE("conv oracle: grouped and depthwise conv = the groups' convs concatenated (forward, both backwards)") {
    for_each_kernel_and_case([](const ConvGeometry& g) { return g.groups > 1; }, check_groups);
}

TEST_CASE("conv oracle: explicit padding = zero-pad then VALID (forward, both backwards)") {
    for_each_kernel_and_case([](const ConvGeometry& g) { return g.pad_top > 0 || g.pad_left > 0; }, check_padding);
}

TEST_CASE("conv oracle: stride s = stride 1 subsampled; backward = stride 1 on the zero-stuffed gradient") {
    for_each_kernel_and_case([](const ConvGeometry& g) { return g.stride_h > 1 || g.stride_w > 1; }, check_stride);
}

TEST_CASE("conv oracle: a one-hot filter shifts one input channel into one output channel (every tap)") {
    for_each_kernel_and_case([](const ConvGeometry&) { return true; }, check_one_hot_taps);
}

TEST_CASE("conv backward kernels (reference and fast) accumulate into their outputs") {
    for_each_kernel_and_case([](const ConvGeometry&) { return true; }, check_accumulates);
}
