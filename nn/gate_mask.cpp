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

// Bits [first + from, first + from + count) of `bits`, all in one byte, from y[from ..]: the byte is shared with
// values outside this writer's range, so its bits are cleared and set atomically (other writers touch only theirs).
void write_partial_byte(uint8_t* bits, int64_t first, const float* y, int64_t from, int64_t count, float hi) {
    const int64_t k = first + from;
    uint8_t mine = 0, open = 0;
    for (int64_t j = 0; j < count; ++j) {
        mine = uint8_t(mine | 1u << ((k + j) & 7));
        open = uint8_t(open | unsigned(gate_open_at(y[from + j], hi)) << ((k + j) & 7));
    }
    __atomic_fetch_and(bits + (k >> 3), uint8_t(~mine), __ATOMIC_RELAXED);
    __atomic_fetch_or(bits + (k >> 3), open, __ATOMIC_RELAXED);
}

// bits[first + i] = gate_open_at(y[i], hi) for i < n. After the first partial byte, whole bytes are stored: with
// AVX-512 or AVX2 and hi > 0, on the values' bits: for floats, 0 < y < hi is 0 < bits(y) < bits(hi) as unsigned
// integers (negative floats, -0, NaN and values >= hi all fall outside), i.e. bits(y) + 0x7FFFFFFF <
// bits(hi) + 0x7FFFFFFF as signed ones: one add and one compare per vector, whose result is the mask's bits
// (AVX-512's compare mask, AVX2's movemask).
void write_open(uint8_t* bits, int64_t first, const float* y, int64_t n, float hi) {
    int64_t i = std::min(n, (8 - (first & 7)) & 7);
    if (i > 0) write_partial_byte(bits, first, y, 0, i, hi);
    uint8_t* out = bits + ((first + i) >> 3);  // whole bytes from value i on
    auto store_bits = [&](auto word) {
        std::memcpy(out, &word, sizeof word);
        out += sizeof word;
    };
    if (hi > 0.0f) {
        int32_t hi_bits;
        std::memcpy(&hi_bits, &hi, sizeof hi_bits);
        const int32_t limit = int32_t(uint32_t(hi_bits) + 0x7FFFFFFFu);
#if defined(__AVX512F__)
        const __m512i offset512 = _mm512_set1_epi32(0x7FFFFFFF), limit512 = _mm512_set1_epi32(limit);
        auto open16 = [&](int64_t at) {
            return uint16_t(_mm512_cmpgt_epi32_mask(limit512, _mm512_add_epi32(_mm512_loadu_si512(y + at), offset512)));
        };
        for (; i + 64 <= n; i += 64)
            store_bits(uint64_t(open16(i)) | uint64_t(open16(i + 16)) << 16 | uint64_t(open16(i + 32)) << 32 |
                       uint64_t(open16(i + 48)) << 48);
        for (; i + 16 <= n; i += 16) store_bits(open16(i));
#endif
#if defined(__AVX2__)
        const __m256i offset256 = _mm256_set1_epi32(0x7FFFFFFF), limit256 = _mm256_set1_epi32(limit);
        auto open8 = [&](int64_t at) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + at));
            return uint8_t(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(limit256, _mm256_add_epi32(v, offset256)))));
        };
        for (; i + 32 <= n; i += 32)
            store_bits(uint32_t(open8(i)) | uint32_t(open8(i + 8)) << 8 | uint32_t(open8(i + 16)) << 16 |
                       uint32_t(open8(i + 24)) << 24);
        for (; i + 8 <= n; i += 8) store_bits(open8(i));
#endif
    }
    for (; i + 8 <= n; i += 8) {
        uint8_t byte = 0;
        for (int j = 0; j < 8; ++j) byte = uint8_t(byte | unsigned(gate_open_at(y[i + j], hi)) << j);
        store_bits(byte);
    }
    if (i < n) write_partial_byte(bits, first, y, i, n - i, hi);
}

}  // namespace

void make_gate_mask(ByteBuffer& mask, const float* y, int64_t n, float hi) {
    mask.resize(static_cast<std::size_t>(gate_mask_bytes(n)));
    uint8_t* m = mask.data();
    std::fill(m + n / 8, m + mask.size(), uint8_t(0));  // the last byte's bits past n, and the slack
    // kElementBlock is a multiple of 8: every block but the last writes whole bytes.
    for_blocks(n, kElementBlock, [&](int64_t lo, int64_t hi_index) { write_open(m, lo, y + lo, hi_index - lo, hi); });
}

void write_gate_mask(uint8_t* bits, int64_t first, const float* y, int64_t n, float hi) { write_open(bits, first, y, n, hi); }

namespace {

// The backward of one block of values. The SIMD loop selects from the mask's bits without a branch: the plain
// loop's `open ? d + 0 : 0` compiled to a branch per value (1 ns a value on MobileNetV2's random gates).
void gate_mask_backward_block(float* d_in, const float* d_out, GateMask open, int64_t n, bool overwrite) {
    int64_t i = 0;
#ifdef EC_SIMD
    using namespace simd;
    if (overwrite)
        for (; i + kLanes <= n; i += kLanes) store(d_in + i, gate_open_bits(load(d_out + i), open + i));
    else
        for (; i + kLanes <= n; i += kLanes) store(d_in + i, add(load(d_in + i), select_open_bits(load(d_out + i), open + i)));
#endif
    for (; i < n; ++i) {
        if (overwrite) d_in[i] = open[i] ? d_out[i] + 0.0f : 0.0f;
        else d_in[i] += open[i] ? d_out[i] : 0.0f;
    }
}

void apply_gate_mask_block(float* d, GateMask open, int64_t n) {
    int64_t i = 0;
#ifdef EC_SIMD
    using namespace simd;
    for (; i + kLanes <= n; i += kLanes) store(d + i, gate_open_bits(load(d + i), open + i));
#endif
    for (; i < n; ++i) d[i] = open[i] ? d[i] + 0.0f : 0.0f;
}

}  // namespace

// The same values as relu_backward / relu6_backward given the activation's output (nn/activation.cpp).
void gate_mask_backward(float* d_in, const float* d_out, GateMask open, int64_t n, bool overwrite) {
    for_blocks(n, kElementBlock, [&](int64_t lo, int64_t hi) {
        gate_mask_backward_block(d_in + lo, d_out + lo, open + lo, hi - lo, overwrite);
    });
}

void apply_gate_mask(float* d, GateMask open, int64_t n) {
    for_blocks(n, kElementBlock, [&](int64_t lo, int64_t hi) { apply_gate_mask_block(d + lo, open + lo, hi - lo); });
}

}  // namespace ec
