// The few vector operations the hand-written kernels use (internal to nn/), over the widest float vector the build
// targets: AVX-512 (16 lanes, zmm, mask registers) or AVX2 + FMA (8 lanes, ymm, vector masks). EC_SIMD is defined
// when one of them is; otherwise the kernels that include this keep to their portable (Eigen, plain loop) paths.
// Masked loads read only the lanes the mask selects (no fault past the end of an array) and give 0 elsewhere;
// masked stores write only those lanes.
#pragma once

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define EC_SIMD 1
// GCC 12 reports false (maybe-)uninitialized warnings inside its own AVX-512 intrinsics (the self-initialised
// _mm512_undefined_ps of _mm512_min_ps), in every file that includes this one.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "nn/gate_mask.h"

namespace ec::simd {

// The 32 bits of a gate mask from its view's first value on (the lanes' bits are the lowest kLanes).
inline uint32_t gate_mask_word(GateMask m) {
    uint32_t word;
    std::memcpy(&word, m.bits + (m.first >> 3), sizeof word);
    return word >> (m.first & 7);
}

#if defined(__AVX512F__)
constexpr int kLanes = 16;
using Vec = __m512;
using Mask = __mmask16;
inline Mask first_lanes(int n) { return n >= kLanes ? Mask(0xFFFF) : Mask((1u << n) - 1); }
inline Vec load(const float* p) { return _mm512_loadu_ps(p); }
inline Vec load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
inline void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline void store(float* p, Vec v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
inline Vec zero() { return _mm512_setzero_ps(); }
inline Vec broadcast(float x) { return _mm512_set1_ps(x); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }  // a * b + c
inline Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
// max(lo, x) then min(hi, .): the second operand is returned for NaN, so NaN passes (as in nn/activation.h).
inline Vec clamp(Vec x, Vec lo, Vec hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, x)); }
// x + 0 where 0 < gate < hi, else +0 (the ReLU / ReLU6 gradient gate; + 0 turns -0 into +0, as accumulating
// onto a zero-filled buffer does). NaN gates close.
inline Vec gate_open(Vec x, Vec gate, Vec hi) {
    const __mmask16 open = _mm512_cmp_ps_mask(gate, zero(), _CMP_GT_OQ) & _mm512_cmp_ps_mask(gate, hi, _CMP_LT_OQ);
    return _mm512_maskz_mov_ps(open, add(x, zero()));
}
// The same from a gate mask (nn/gate_mask.h): the kLanes bits from `open` on (masks carry slack past their end,
// so a whole vector's bits can always be read). select_open_bits: x itself where open (no + 0), +0 elsewhere.
inline Vec select_open_bits(Vec x, GateMask open) { return _mm512_maskz_mov_ps(Mask(gate_mask_word(open)), x); }
inline Vec gate_open_bits(Vec x, GateMask open) { return select_open_bits(add(x, zero()), open); }
// The bitwise or of two vectors' bits, and bit k set where lane k's bits are not all 0 (-0 and NaN are not).
inline Vec or_bits(Vec a, Vec b) {
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
inline uint32_t nonzero_bit_lanes(Vec x) {
    const __m512i bits = _mm512_castps_si512(x);
    return _mm512_test_epi32_mask(bits, bits);
}
#else
constexpr int kLanes = 8;
using Vec = __m256;
using Mask = __m256i;
inline Mask first_lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline Vec load(const float* p) { return _mm256_loadu_ps(p); }
inline Vec load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
inline void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline void store(float* p, Vec v, Mask m) { _mm256_maskstore_ps(p, m, v); }
inline Vec zero() { return _mm256_setzero_ps(); }
inline Vec broadcast(float x) { return _mm256_set1_ps(x); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec clamp(Vec x, Vec lo, Vec hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, x)); }
inline Vec gate_open(Vec x, Vec gate, Vec hi) {
    const Vec open = _mm256_and_ps(_mm256_cmp_ps(gate, zero(), _CMP_GT_OQ), _mm256_cmp_ps(gate, hi, _CMP_LT_OQ));
    return _mm256_and_ps(open, add(x, zero()));
}
inline Vec select_open_bits(Vec x, GateMask open) {  // lane k open where bit k of the word is set
    const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i word = _mm256_set1_epi32(int32_t(gate_mask_word(open)));
    return _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(word, lane_bit), lane_bit)), x);
}
inline Vec gate_open_bits(Vec x, GateMask open) { return select_open_bits(add(x, zero()), open); }
inline Vec or_bits(Vec a, Vec b) { return _mm256_or_ps(a, b); }
inline uint32_t nonzero_bit_lanes(Vec x) {
    const __m256i zero_lanes = _mm256_cmpeq_epi32(_mm256_castps_si256(x), _mm256_setzero_si256());
    return ~uint32_t(_mm256_movemask_ps(_mm256_castsi256_ps(zero_lanes))) & 0xFFu;
}
#endif

}  // namespace ec::simd
#endif
