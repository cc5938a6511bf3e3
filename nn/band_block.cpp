// Band-fused blocks (see band_block.h): finding them in a plan, and running one.
#include "nn/band_block.h"

#include <omp.h>

#include <algorithm>
#include <limits>

#include "nn/conv2d_depthwise_3x3.h"
#include "nn/error.h"
#include "nn/forward_plan.h"
#include "nn/gate_mask.h"
#include "nn/gemm.h"
#include "nn/packed_filters.h"

namespace ec {
namespace {

bool is_pointwise(const Node& n) { return n.op == OpKind::Conv2D && conv2d_is_pointwise(n.conv); }

// The largest band (depthwise output rows) whose ring of expanded rows and depthwise output fit cache_bytes.
void size_bands(BandBlock& b, const ConvGeometry& d, int64_t cache_bytes) {
    const int64_t in_row = int64_t(d.in_w) * d.in_c, out_row = int64_t(d.out_w) * d.in_c;
    for (int rows = d.out_h; rows >= 1; --rows) {
        const int ring = b.expand >= 0 ? std::min((rows - 1) * d.stride_h + 3, d.in_h) : 0;
        const int64_t floats = ring * in_row + rows * out_row;
        if (rows == 1 || floats * int64_t(sizeof(float)) <= cache_bytes) {
            b.band_rows = rows, b.ring_rows = ring, b.scratch_floats = floats;
            return;
        }
    }
}

// Upper clamp of a folded activation (ReLU: none).
float activation_hi(const Graph& g, int act) {
    return act >= 0 && g.nodes[size_t(act)].op == OpKind::Relu6 ? 6.0f : std::numeric_limits<float>::infinity();
}

GemmEpilogue conv_epilogue(const Graph& g, const Node& conv, int act) {
    GemmEpilogue ep;
    ep.bias = conv.params.size() > 1 && conv.params[1] >= 0 ? g.params[size_t(conv.params[1])].data() : nullptr;
    if (act >= 0) ep.lo = 0.0f, ep.hi = activation_hi(g, act);
    return ep;
}

// Runs strip(n, y0, y1, band, scratch) over rows [0, rows) of every image of the batch: about two strips per
// thread, each in bands of at most band_rows, each thread with its own scratch_floats of s.band_scratch (grown on
// first use only). Threads take strips dynamically; there is no barrier between a block's layers.
template <class Strip>
void run_strips(Session& s, int rows, int band_rows, int64_t scratch_floats, Strip&& strip) {
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const int strips = threads == 1 ? 1 : std::min(rows, std::max(1, (2 * threads + s.batch - 1) / s.batch));
    const int strip_rows = (rows + strips - 1) / strips, band = std::min(band_rows, strip_rows);
    const size_t need = size_t(threads) * size_t(scratch_floats);
    if (s.band_scratch.size() < need) s.band_scratch.resize(need);
    const int tasks = s.batch * strips;
    auto task = [&](int t, int thread) {
        const int n = t / strips, y0 = (t % strips) * strip_rows;
        float* scratch = s.band_scratch.data() + size_t(thread) * size_t(scratch_floats);
        if (y0 < rows) strip(n, y0, std::min(rows, y0 + strip_rows), band, scratch);
    };
    if (threads > 1 && tasks > 1) {
#pragma omp parallel for schedule(dynamic)
        for (int t = 0; t < tasks; ++t) task(t, omp_get_thread_num());
    } else {
        for (int t = 0; t < tasks; ++t) task(t, 0);  // (inside another region the thread number is not ours)
    }
}

}  // namespace

void find_band_blocks(const Graph& g, const std::vector<int>& nodes, const std::vector<int>& fused,
                      const std::vector<char>& kept, std::vector<BandBlock>& blocks, std::vector<int>& block_at,
                      int64_t min_activation_per_weight, int64_t cache_bytes) {
    blocks.clear();
    block_at.assign(nodes.size(), -1);
    std::vector<int> readers(g.tensors.size(), 0), reader(g.tensors.size(), -1);
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (int t : g.nodes[i].inputs) ++readers[size_t(t)], reader[size_t(t)] = int(i);
    auto output_of = [&](size_t k) { return fused[k] >= 0 ? g.nodes[size_t(fused[k])].output : g.nodes[size_t(nodes[k])].output; };
    // Step k's value is read by step k + 1 alone; with feeds_next, no value of it is kept either; with
    // feeds_next_or_masks, at most its gate mask.
    auto reads_next = [&](size_t k) {
        const int t = output_of(k);
        return k + 1 < nodes.size() && readers[size_t(t)] == 1 && reader[size_t(t)] == nodes[k + 1];
    };
    auto feeds_next = [&](size_t k) { return reads_next(k) && !kept[size_t(output_of(k))]; };
    auto feeds_next_or_masks = [&](size_t k) { return reads_next(k) && kept[size_t(output_of(k))] != kKeepsValue; };
    auto mask_of = [&](size_t k) { return kept[size_t(output_of(k))] == kKeepsMask ? output_of(k) : -1; };
    for (size_t k = 0; k < nodes.size(); ++k) {
        BandBlock b;
        size_t j = k;  // the depthwise step
        const Node& first = g.nodes[size_t(nodes[k])];
        if (is_pointwise(first) && fused[k] >= 0 && feeds_next_or_masks(k))
            b.expand = nodes[k], b.expand_act = fused[k], b.expand_mask = mask_of(k), j = k + 1;
        const Node& dw = g.nodes[size_t(nodes[j])];
        if (dw.op != OpKind::Conv2D || !depthwise_3x3_applies(dw.conv) || fused[j] < 0 || !feeds_next_or_masks(j)) continue;
        if (!is_pointwise(g.nodes[size_t(nodes[j + 1])])) continue;
        b.depthwise = nodes[j], b.depthwise_act = fused[j], b.depthwise_mask = mask_of(j);
        b.project = nodes[j + 1], b.project_act = fused[j + 1];
        b.input = first.inputs[0];
        b.output = output_of(j + 1);
        size_t last = j + 1;
        if (feeds_next(j + 1)) {
            const Node& add = g.nodes[size_t(nodes[j + 2])];
            const bool residual = add.op == OpKind::Add && add.inputs.size() == 2 &&
                                  ((add.inputs[0] == b.output && add.inputs[1] == b.input) ||
                                   (add.inputs[1] == b.output && add.inputs[0] == b.input)) &&
                                  g.tensors[size_t(b.input)].shape == g.tensors[size_t(b.output)].shape;
            if (residual) b.add = nodes[j + 2], b.output = add.output, last = j + 2;
        }
        int64_t weights = dw.conv.in_c * int64_t(9);
        for (int conv : {b.expand, b.project})
            if (conv >= 0) weights += g.params[size_t(g.nodes[size_t(conv)].params[0])].shape.numel();
        if (int64_t(dw.conv.in_h) * dw.conv.in_w * dw.conv.in_c < min_activation_per_weight * weights) continue;
        b.steps = int(last - k + 1);
        size_bands(b, dw.conv, cache_bytes);
        block_at[k] = int(blocks.size());
        blocks.push_back(b);
        k = last;
    }
}

namespace {

// The tensors and kernels' arguments of one block at one batch size.
struct BlockRun {
    const Graph& g;
    const BandBlock& b;
    const ConvGeometry& d;  // the depthwise geometry (batch 1)
    const float* x;         // the block's input
    float* out;             // the block's output
    uint8_t* expand_mask;   // the expanded activation's gate mask (BandBlock::expand_mask), or null
    uint8_t* depthwise_mask;
    int64_t in_row, mid_row, x_row, out_row;  // floats per row: expanded, depthwise output, input, output
    GemmInput expand_filter, project_filter;  // the products' B (nn/packed_filters.h); expand's unused without one
};

// Expanded rows [r0, r1) of image n into their ring slots, one GEMM per run of consecutive slots; the gate mask
// of the rows in [own0, own1) (each row's by the one strip that owns it).
void expand_rows(const BlockRun& r, int n, int r0, int r1, float* ring, int own0, int own1) {
    const Node& e = r.g.nodes[size_t(r.b.expand)];
    const GemmEpilogue ep = conv_epilogue(r.g, e, r.b.expand_act);
    const int64_t cin = e.conv.in_c, ce = e.conv.out_c, w = r.d.in_w;
    while (r0 < r1) {
        const int slot = r0 % r.b.ring_rows, rows = std::min(r1 - r0, r.b.ring_rows - slot);
        const float* a = r.x + (int64_t(n) * r.d.in_h + r0) * r.x_row;
        gemm(ring + slot * r.in_row, ce, GemmInput{a, rows * w, cin, cin}, r.expand_filter, ep);
        if (r.expand_mask)
            for (int y = std::max(r0, own0); y < std::min(r0 + rows, own1); ++y)
                write_gate_mask(r.expand_mask, (int64_t(n) * r.d.in_h + y) * r.in_row,
                                ring + (y % r.b.ring_rows) * r.in_row, r.in_row, activation_hi(r.g, r.b.expand_act));
        r0 += rows;
    }
}

// Output rows [oy0, oy1) of image n: depthwise rows into `mid`, projected into the output, plus the skip.
void depthwise_project_rows(const BlockRun& r, int n, int oy0, int oy1, const float* ring, float* mid) {
    const Node& dw = r.g.nodes[size_t(r.b.depthwise)];
    const float* filter = r.g.params[size_t(dw.params[0])].data();
    const float* bias = dw.params.size() > 1 && dw.params[1] >= 0 ? r.g.params[size_t(dw.params[1])].data() : nullptr;
    const float hi = activation_hi(r.g, r.b.depthwise_act);
    for (int oy = oy0; oy < oy1; ++oy) {
        const float* rows[3];
        for (int ky = 0; ky < 3; ++ky) {
            const int iy = oy * r.d.stride_h - r.d.pad_top + ky;
            rows[ky] = iy < 0 || iy >= r.d.in_h ? nullptr
                       : ring                  ? ring + (iy % r.b.ring_rows) * r.in_row
                                               : r.x + (int64_t(n) * r.d.in_h + iy) * r.x_row;
        }
        depthwise_3x3_forward_row(mid + (oy - oy0) * r.mid_row, rows, filter, bias, 0.0f, hi, r.d);
    }
    if (r.depthwise_mask)
        write_gate_mask(r.depthwise_mask, (int64_t(n) * r.d.out_h + oy0) * r.mid_row, mid, (oy1 - oy0) * r.mid_row, hi);
    const Node& p = r.g.nodes[size_t(r.b.project)];
    const int64_t ce = p.conv.in_c, co = p.conv.out_c, pixels = int64_t(oy1 - oy0) * r.d.out_w;
    const int64_t first = (int64_t(n) * r.d.out_h + oy0) * r.d.out_w;  // pixel index of the band's first output
    float* out = r.out + first * co;
    gemm(out, co, GemmInput{mid, pixels, ce, ce}, r.project_filter, conv_epilogue(r.g, p, r.b.project_act));
    if (r.b.add >= 0) {  // the skip: the input has the output's shape
        const float* skip = r.x + first * co;
        for (int64_t i = 0; i < pixels * co; ++i) out[i] = out[i] + skip[i];
    }
}

// Output rows [oy0, oy1) of image n, `band` rows at a time; the ring keeps the rows two bands share.
void run_strip(const BlockRun& r, int n, int oy0, int oy1, int band, float* scratch) {
    float* ring = r.b.expand >= 0 ? scratch : nullptr;
    float* mid = scratch + int64_t(r.b.ring_rows) * r.in_row;
    // The expanded rows whose mask this strip writes: from its first output row's first tap row to the next
    // strip's, the first strip from row 0 and the last to the end, so the strips partition them.
    auto first_tap_row = [&](int oy) { return std::clamp(oy * r.d.stride_h - r.d.pad_top, 0, r.d.in_h); };
    const int own0 = oy0 == 0 ? 0 : first_tap_row(oy0), own1 = oy1 == r.d.out_h ? r.d.in_h : first_tap_row(oy1);
    int computed = -1;  // expanded rows below this are in the ring (or were, and are no longer needed)
    for (int y0 = oy0; y0 < oy1; y0 += band) {
        const int y1 = std::min(oy1, y0 + band);
        if (ring) {
            const int lo = std::max(0, y0 * r.d.stride_h - r.d.pad_top);
            int hi = std::min(r.d.in_h, (y1 - 1) * r.d.stride_h - r.d.pad_top + 3);
            if (r.expand_mask && y1 == oy1) hi = std::max(hi, own1);  // owned rows no tap reads get masks too
            computed = std::max(computed, lo);
            if (computed < hi) expand_rows(r, n, computed, hi, ring, own0, own1), computed = hi;
        }
        depthwise_project_rows(r, n, y0, y1, ring, mid);
    }
}

}  // namespace

void band_block_forward(const Graph& g, Session& s, const BandBlock& b) {
    const ConvGeometry& d = g.nodes[size_t(b.depthwise)].conv;
    const Node& p = g.nodes[size_t(b.project)];
    auto mask = [&](int t) { return t >= 0 ? s.gate_masks[size_t(t)].data() : nullptr; };
    const BlockRun r{g, b, d, s.values[size_t(b.input)].ptr(), s.values[size_t(b.output)].ptr(), mask(b.expand_mask),
                     mask(b.depthwise_mask), int64_t(d.in_w) * d.in_c, int64_t(d.out_w) * d.in_c,
                     int64_t(d.in_w) * g.nodes[size_t(b.expand >= 0 ? b.expand : b.depthwise)].conv.in_c,
                     int64_t(d.out_w) * p.conv.out_c,
                     b.expand >= 0 ? pointwise_filter_operand(g, g.nodes[size_t(b.expand)], FilterUse::Forward) : GemmInput{},
                     pointwise_filter_operand(g, p, FilterUse::Forward)};
    run_strips(s, d.out_h, b.band_rows, b.scratch_floats,
               [&](int n, int y0, int y1, int band, float* scratch) { run_strip(r, n, y0, y1, band, scratch); });
}

// ------------------------------------------------------------------ the input gradient

namespace {

// The largest band (expanded rows) whose ring of depthwise-output gradient rows and band fit cache_bytes.
void size_bands(BandBlockBackward& b, const ConvGeometry& d, int64_t cache_bytes) {
    const int64_t in_row = int64_t(d.in_w) * d.in_c, out_row = int64_t(d.out_w) * d.in_c;
    for (int rows = d.in_h; rows >= 1; --rows) {
        const int ring = std::min(d.out_h, (rows + 1) / d.stride_h + 2);  // the rows one band's taps reach
        // Without an expansion the band's rows are the result: only the ring is scratch.
        const int64_t floats = ring * out_row + (b.expand >= 0 ? rows * in_row : 0);
        if (rows == 1 || floats * int64_t(sizeof(float)) <= cache_bytes) {
            b.band_rows = rows, b.ring_rows = ring, b.scratch_floats = floats;
            return;
        }
    }
}

// The tensors and kernels' arguments of one block's backward.
struct BackwardRun {
    const Graph& g;
    const BandBlockBackward& b;
    const ConvGeometry& d;           // the depthwise geometry (batch 1)
    const float* d_out;              // d(project output)
    float* d_x;                      // d(block input)
    GateMask expand_mask;            // gate masks of expand_act and depthwise_act
    GateMask depthwise_mask;
    int64_t in_row, mid_row, x_row, out_row;  // floats per row: expanded, depthwise output, input, project output
    bool accumulate;
    GemmInput project_t, expand_t;   // the project and expand filters transposed, as the products' B (packed)
};

// Depthwise output gradient rows [r0, r1) of image n into their ring slots: d(project output) x project^T, gated
// by the depthwise activation's mask, one GEMM per run of consecutive slots.
void project_gradient_rows(const BackwardRun& r, int n, int r0, int r1, float* ring) {
    const Node& p = r.g.nodes[size_t(r.b.project)];
    const int64_t ce = p.conv.in_c, co = p.conv.out_c, w = r.d.out_w;
    while (r0 < r1) {
        const int slot = r0 % r.b.ring_rows, rows = std::min(r1 - r0, r.b.ring_rows - slot);
        const int64_t first = int64_t(n) * r.d.out_h + r0;  // row index over the batch
        GemmEpilogue ep;
        ep.gate_mask = r.depthwise_mask + first * r.mid_row, ep.gate_stride = ce;
        gemm(ring + slot * r.mid_row, ce, GemmInput{r.d_out + first * r.out_row, rows * w, co, co}, r.project_t, ep);
        r0 += rows;
    }
}

// Expanded rows [y0, y1) of image n: their gradients into `mid` (the depthwise input gradient from the ring, gated
// by the expand activation's mask), then d(block input) (+)= mid x expand^T; without an expansion, straight into
// d(block input).
void expand_gradient_rows(const BackwardRun& r, int n, int y0, int y1, const float* ring, float* mid) {
    const Node& dw = r.g.nodes[size_t(r.b.depthwise)];
    const float* filter = r.g.params[size_t(dw.params[0])].data();
    if (r.b.expand < 0) mid = r.d_x + (int64_t(n) * r.d.in_h + y0) * r.in_row;
    for (int iy = y0; iy < y1; ++iy) {
        const float* rows[3];
        for (int ky = 0; ky < 3; ++ky) {
            const int q = iy + r.d.pad_top - ky, oy = q / r.d.stride_h;
            rows[ky] = q >= 0 && q % r.d.stride_h == 0 && oy < r.d.out_h ? ring + (oy % r.b.ring_rows) * r.mid_row : nullptr;
        }
        depthwise_3x3_backward_input_row(mid + (iy - y0) * r.in_row, rows, filter,
                                         r.expand_mask + (int64_t(n) * r.d.in_h + iy) * r.in_row, r.d);
    }
    if (r.b.expand < 0) return;
    const Node& e = r.g.nodes[size_t(r.b.expand)];
    const int64_t cin = e.conv.in_c, ce = e.conv.out_c;
    GemmEpilogue ep;
    ep.accumulate = r.accumulate;
    gemm(r.d_x + (int64_t(n) * r.d.in_h + y0) * r.x_row, cin, GemmInput{mid, (y1 - y0) * int64_t(r.d.in_w), ce, ce},
         r.expand_t, ep);
}

// Expanded rows [y0, y1) of image n, `band` rows at a time; the ring keeps the depthwise output gradient rows two
// bands share.
void run_backward_strip(const BackwardRun& r, int n, int y0, int y1, int band, float* scratch) {
    float* ring = scratch;
    float* mid = scratch + int64_t(r.b.ring_rows) * r.mid_row;
    const int s = r.d.stride_h, pad = r.d.pad_top;
    int computed = -1;  // ring rows below this were computed (and those still needed are in the ring)
    for (int b0 = y0; b0 < y1; b0 += band) {
        const int b1 = std::min(y1, b0 + band);
        // The depthwise output rows whose taps reach rows [b0, b1): oy * s - pad + ky in [b0, b1), ky in 0..2.
        const int lo = b0 + pad - 2 <= 0 ? 0 : (b0 + pad - 2 + s - 1) / s;
        const int hi = std::min(r.d.out_h, (b1 - 1 + pad) / s + 1);
        computed = std::max(computed, lo);
        if (computed < hi) project_gradient_rows(r, n, computed, hi, ring), computed = hi;
        expand_gradient_rows(r, n, b0, b1, ring, mid);
    }
}

}  // namespace

bool find_band_block_backward(const Graph& g, const Session& s, int project, const std::vector<int>& fused_activation,
                              BandBlockBackward& b, int64_t min_activation_per_weight, int64_t cache_bytes) {
    auto producer_of = [&](int node) {  // the convolution whose output the folded activation reads
        const int act = fused_activation[size_t(node)];
        return act < 0 ? -1 : g.tensors[size_t(g.nodes[size_t(act)].inputs[0])].producer;
    };
    const Node& p = g.nodes[size_t(project)];
    if (!is_pointwise(p)) return false;
    const int dw = producer_of(project);
    if (dw < 0 || g.nodes[size_t(dw)].op != OpKind::Conv2D || !depthwise_3x3_backward_input_applies(g.nodes[size_t(dw)].conv))
        return false;
    if (fused_activation[size_t(dw)] < 0) return false;
    // An expansion joins if its input gradient is formed (an activation folded into its backward would leave it
    // unformed); producer_of is -1 for an activation of a graph input.
    const int e = producer_of(dw);
    const bool expand = e >= 0 && is_pointwise(g.nodes[size_t(e)]) && fused_activation[size_t(e)] < 0;
    BandBlockBackward c;
    c.project = project, c.depthwise = dw, c.depthwise_act = fused_activation[size_t(project)];
    c.expand = expand ? e : -1, c.expand_act = fused_activation[size_t(dw)];
    for (int act : {c.depthwise_act, c.expand_act})
        if (!recorded_gate_mask(s, g.nodes[size_t(act)].output)) return false;
    const ConvGeometry& d = g.nodes[size_t(dw)].conv;
    const int64_t weights = d.in_c * int64_t(9) + g.params[size_t(p.params[0])].shape.numel() +
                            (expand ? g.params[size_t(g.nodes[size_t(e)].params[0])].shape.numel() : 0);
    if (int64_t(d.in_h) * d.in_w * d.in_c < min_activation_per_weight * weights) return false;
    size_bands(c, d, cache_bytes);
    b = c;
    return true;
}


void band_block_backward(const Graph& g, Session& s, const BandBlockBackward& b, bool accumulate) {
    const ConvGeometry& d = g.nodes[size_t(b.depthwise)].conv;
    const Node& p = g.nodes[size_t(b.project)];
    if (b.expand < 0 && accumulate) throw Error("band_block_backward: a block without an expansion overwrites its result");
    auto mask = [&](int act) { return GateMask(s.gate_masks[size_t(g.nodes[size_t(act)].output)].data()); };
    // The result: d(expand input), or d(expand_act input) (the depthwise input's layout: in_w * in_c per row).
    const Node* e = b.expand >= 0 ? &g.nodes[size_t(b.expand)] : nullptr;
    const int x = e ? e->inputs[0] : g.nodes[size_t(b.expand_act)].inputs[0];
    const BackwardRun r{g, b, d, s.grads[size_t(p.output)].ptr(), s.grads[size_t(x)].ptr(),
                        mask(b.expand_act), mask(b.depthwise_act), int64_t(d.in_w) * d.in_c,
                        int64_t(d.out_w) * d.in_c, int64_t(d.in_w) * (e ? e->conv.in_c : d.in_c),
                        int64_t(d.out_w) * p.conv.out_c, accumulate,
                        pointwise_filter_operand(g, p, FilterUse::InputGradient),
                        e ? pointwise_filter_operand(g, *e, FilterUse::InputGradient) : GemmInput{}};
    run_strips(s, d.in_h, b.band_rows, b.scratch_floats,
               [&](int n, int y0, int y1, int band, float* scratch) { run_backward_strip(r, n, y0, y1, band, scratch); });
}

}  // namespace ec
