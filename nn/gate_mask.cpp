// Gate masks (see gate_mask.h): plain loops the compiler vectorises, SIMD selects (nn/simd.h) where it does not.
#include "nn/gate_mask.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "nn/parallel.h"
#include "nn/simd.h"

namespace ec {
namespace {

// 1 where 0 < y < hi. Both comparisons, no short circuit: a branch per value mispredicts on half of them (ReLU
// outputs are half zeros, at random), and the loops below vectorise. NaN compares false: closed.
inline uint8_t gate_open_at(float y, float hi) { return uint8_t((y > 0.0f) & (y < hi)); }

#if defined(__AVX2__)
// Byte k of kOpenBytes[b] is bit k of b: eight comparison bits to eight mask bytes in one load.
struct OpenBytes {
    uint64_t of[256];
    constexpr OpenBytes() : of() {
        for (int b = 0; b < 256; ++b)
            for (int k = 0; k < 8; ++k)
                if (b >> k & 1) of[b] |= uint64_t(1) << (8 * k);
    }
};
constexpr OpenBytes kOpenBytes{};
#endif

// mask[i] = gate_open_at(y[i], hi). With AVX2 and hi > 0, eight values at a time on their bits: for floats,
// 0 < y < hi is 0 < bits(y) < bits(hi) as unsigned integers (negative floats, -0, NaN and values >= hi all fall
// outside), i.e. bits(y) + 0x7FFFFFFF < bits(hi) + 0x7FFFFFFF as signed ones: one add and one compare, then the
// eight compare bits index kOpenBytes. 1.4x the compiler's vectorised loop (two float compares, packs and
// permutes) on 112 x 112 x 96 values.
void write_open(uint8_t* mask, const float* y, int64_t n, float hi) {
    int64_t i = 0;
#if defined(__AVX2__)
    if (hi > 0.0f) {
        int32_t hi_bits;
        std::memcpy(&hi_bits, &hi, sizeof hi_bits);
        const __m256i offset = _mm256_set1_epi32(0x7FFFFFFF);
        const __m256i limit = _mm256_set1_epi32(int32_t(uint32_t(hi_bits) + 0x7FFFFFFFu));
        for (; i + 8 <= n; i += 8) {
            const __m256i t = _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i)), offset);
            const int bits = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(limit, t)));
            std::memcpy(mask + i, &kOpenBytes.of[bits], 8);
        }
    }
#endif
    for (; i < n; ++i) mask[i] = gate_open_at(y[i], hi);
}

}  // namespace

void make_gate_mask(ByteBuffer& mask, const float* y, int64_t n, float hi) {
    mask.resize(static_cast<std::size_t>(n + kGateMaskSlack));
    uint8_t* m = mask.data();
    for_blocks(n, kElementBlock, [&](int64_t lo, int64_t hi_index) { write_open(m + lo, y + lo, hi_index - lo, hi); });
    for (int64_t i = n; i < n + kGateMaskSlack; ++i) m[i] = 0;
}

void write_gate_mask(uint8_t* mask, const float* y, int64_t n, float hi) { write_open(mask, y, n, hi); }

namespace {

// The backward of one block of values. The SIMD loop selects from the mask's bytes without a branch: the plain
// loop's `open ? d + 0 : 0` compiled to a branch per value (1 ns a value on MobileNetV2's random gates).
void gate_mask_backward_block(float* d_in, const float* d_out, const uint8_t* open, int64_t n, bool overwrite) {
    int64_t i = 0;
#ifdef EC_SIMD
    using namespace simd;
    if (overwrite)
        for (; i + kLanes <= n; i += kLanes) store(d_in + i, gate_open_bytes(load(d_out + i), open + i));
    else
        for (; i + kLanes <= n; i += kLanes) store(d_in + i, add(load(d_in + i), select_open_bytes(load(d_out + i), open + i)));
#endif
    for (; i < n; ++i) {
        if (overwrite) d_in[i] = open[i] ? d_out[i] + 0.0f : 0.0f;
        else d_in[i] += open[i] ? d_out[i] : 0.0f;
    }
}

void apply_gate_mask_block(float* d, const uint8_t* open, int64_t n) {
    int64_t i = 0;
#ifdef EC_SIMD
    using namespace simd;
    for (; i + kLanes <= n; i += kLanes) store(d + i, gate_open_bytes(load(d + i), open + i));
#endif
    for (; i < n; ++i) d[i] = open[i] ? d[i] + 0.0f : 0.0f;
}

}  // namespace

// The same values as relu_backward / relu6_backward given the activation's output (nn/activation.cpp).
void gate_mask_backward(float* d_in, const float* d_out, const uint8_t* open, int64_t n, bool overwrite) {
    for_blocks(n, kElementBlock, [&](int64_t lo, int64_t hi) {
        gate_mask_backward_block(d_in + lo, d_out + lo, open + lo, hi - lo, overwrite);
    });
}

void apply_gate_mask(float* d, const uint8_t* open, int64_t n) {
    for_blocks(n, kElementBlock, [&](int64_t lo, int64_t hi) { apply_gate_mask_block(d + lo, open + lo, hi - lo); });
}

}  // namespace ec
