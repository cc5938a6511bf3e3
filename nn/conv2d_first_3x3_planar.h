// The stride-2 input gradient of an image network's first 3x3 convolution over transposed d_out rows (internal to
// nn/; conv2d_first_3x3.cpp takes it where it applies). Same contract as first_3x3_backward_input.
#pragma once
#include "nn/conv2d.h"

namespace ec {

// The arguments of an input-gradient call (first_3x3_backward_input's), as both of its kernels take them.
struct First3x3Backward {
    const float* d_out;
    float* d_in;
    const float* filter;
    const ConvGeometry& g;
    bool overwrite;
    const float* gate;  // null, or laid out as d_in (overwrite only)
    float gate_hi;
};

// True for stride 2 in both directions, in_c 1-4, and a d_out row of out_c planes small enough for the kernel's
// stack ring (two transposed rows in 64 KB: out_c 32 up to 240-pixel-wide outputs), on SIMD builds.
bool first_3x3_planar_applies(const ConvGeometry& g);

// d_in += conv2d^T(d_out), or d_in = it when overwrite (bit for bit as accumulating onto zeros), gated as
// first_3x3_backward_input (gate only with overwrite). Only where first_3x3_planar_applies(g) and first_3x3_applies(g).
void first_3x3_planar_backward_input(const First3x3Backward& b);

}  // namespace ec
