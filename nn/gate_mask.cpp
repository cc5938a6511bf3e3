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

// mask[i] = gate_open_at(y[i], hi). With AVX2 and hi > 0, on the values' bits: for floats, 0 < y < hi is
// 0 < bits(y) < bits(hi) as unsigned integers (negative floats, -0, NaN and values >= hi all fall outside), i.e.
// bits(y) + 0x7FFFFFFF < bits(hi) + 0x7FFFFFFF as signed ones: one add and one compare per eight values. 32 values
// at a time, the four compare results are narrowed to bytes by two rounds of saturating packs (-1 stays -1) and
// one permute, then & 1: 0.56 instructions a value; then eight at a time, the compare bits indexing kOpenBytes.
// The byte table alone was 1.4x the compiler's vectorised loop (two float compares, packs and permutes) on
// 112 x 112 x 96 values; the packs are 1.3x the table on a cache-resident row (96 x 112 values), as equal in
// memory.
void write_open(uint8_t* mask, const float* y, int64_t n, float hi) {
    int64_t i = 0;
#if defined(__AVX2__)
    if (hi > 0.0f) {
        int32_t hi_bits;
        std::memcpy(&hi_bits, &hi, sizeof hi_bits);
        const __m256i offset = _mm256_set1_epi32(0x7FFFFFFF);
        const __m256i limit = _mm256_set1_epi32(int32_t(uint32_t(hi_bits) + 0x7FFFFFFFu));
        auto open_lanes = [&](int64_t at) {  // -1 where open, 0 elsewhere, for y[at .. at + 8)
            const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + at));
            return _mm256_cmpgt_epi32(limit, _mm256_add_epi32(bits, offset));
        };
        // packs_epi32 and packs_epi16 work within 128-bit halves: the bytes come out in the dword order
        // 0 4 1 5 2 6 3 7 of the four vectors' halves; the permute puts them back in order.
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), one = _mm256_set1_epi8(1);
        for (; i + 32 <= n; i += 32) {
            const __m256i low = _mm256_packs_epi32(open_lanes(i), open_lanes(i + 8));
            const __m256i high = _mm256_packs_epi32(open_lanes(i + 16), open_lanes(i + 24));
            const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(low, high), order);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(mask + i), _mm256_and_si256(bytes, one));
        }
        for (; i + 8 <= n; i += 8) {
            const int bits = _mm256_movemask_ps(_mm256_castsi256_ps(open_lanes(i)));
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
