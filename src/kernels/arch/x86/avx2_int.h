/* kernels/arch/x86: helpers shared by the AVX2 kernel files (and reused by the
 * AVX-512 files, which are compiled with the AVX2 flags too). Include only
 * from files built with -mavx2 -mfma -mf16c: everything here is inline.
 *
 * Naming: kern_<op>_<types>_avx2 for each kernel installed by kern_install_avx2. */
#ifndef KERN_AVX2_INT_H
#define KERN_AVX2_INT_H

#include <immintrin.h>
#include <string.h>

#include "kernels/kern.h"

/* f16 -> f32 for all 65536 values, filled by kern_install_avx2 (so before any
 * kernel of an x86 table runs). Block scales are read through it: one load,
 * where F16C needs an insert and a convert on the vector ports that the dot
 * products are short of (tile kernels got ~30% faster from this alone). */
extern float kern_x86_f16_table[1 << 16];

/* One f16 to f32. */
static inline float x86_f16(om_f16 h)
{
    return kern_x86_f16_table[h];
}

/* Sum of the 8 lanes. */
static inline float x86_hsum_f32x8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int x86_hsum_i32x8(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* 16 bytes of nibbles -> 32 bytes: low nibbles in bytes 0..15, high in 16..31
 * (the element order of Q4_0/Q4_1/Q5/IQ4_NL blocks). */
static inline __m256i x86_nibbles32(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* 32 bits -> 32 bytes, byte j = 0xff when bit j is set, else 0. */
static inline __m256i x86_bits32(uint32_t bits)
{
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    const __m256i bit = _mm256_set1_epi64x((int64_t)0x8040201008040201ULL);
    v = _mm256_and_si256(v, bit);
    return _mm256_cmpeq_epi8(v, bit);
}

/* Signed bytes x · signed bytes y summed by groups of 4 -> 8 int32 lanes
 * (AVX2 lacks a signed×signed byte product: |x| × sign(y, x)). Exact while
 * no pair of products exceeds int16: |x| ≤ 128, |y| ≤ 127 → 2*128*127 fits. */
static inline __m256i x86_dot_i8x32(__m256i x, __m256i y)
{
    __m256i ax = _mm256_sign_epi8(x, x);
    __m256i sy = _mm256_sign_epi8(y, x);
    __m256i p16 = _mm256_maddubs_epi16(ax, sy);
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* Unsigned bytes u (≤ 127 per pair sum safe) · signed bytes y -> 8 int32. */
static inline __m256i x86_dot_u8i8x32(__m256i u, __m256i y)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
}

/* Q4_K/Q5_K packed scales -> bytes 0..7 scales, 8..15 mins (both 6-bit). */
static inline __m128i x86_k4_scales_mins(const uint8_t *p)
{
    uint32_t u[4];
    memcpy(u, p, 12);
    const uint32_t km1 = 0x3f3f3f3f, km2 = 0x0f0f0f0f, km3 = 0x03030303;
    u[3] = ((u[2] >> 4) & km2) | (((u[1] >> 6) & km3) << 4);
    uint32_t mins_lo = u[1] & km1;
    u[1] = (u[2] & km2) | (((u[0] >> 6) & km3) << 4);
    u[2] = mins_lo;
    u[0] &= km1;
    return _mm_loadu_si128((const __m128i *)u);
}

/* 16 6-bit scales of Q3_K (12 packed bytes) -> 16 signed bytes (scale - 32). */
static inline __m128i x86_k3_scales(const uint8_t *q)
{
    uint32_t a[3];
    memcpy(a, q, 12);
    const uint32_t m1 = 0x03030303, m2 = 0x0f0f0f0f;
    const uint32_t t = a[2];
    __m128i v = _mm_setr_epi32((int)((a[0] & m2) | (((t >> 0) & m1) << 4)),
                               (int)((a[1] & m2) | (((t >> 2) & m1) << 4)),
                               (int)(((a[0] >> 4) & m2) | (((t >> 4) & m1) << 4)),
                               (int)(((a[1] >> 4) & m2) | (((t >> 6) & m1) << 4)));
    return _mm_sub_epi8(v, _mm_set1_epi8(32));
}

/* ---- AVX2 kernels (avx2_*.c) ---- */
void kern_dot_q4_0_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q4_1_q8_1_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q5_0_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q5_1_q8_1_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q8_0_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_iq4_nl_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q2_K_q8_K_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q3_K_q8_K_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q4_K_q8_K_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q5_K_q8_K_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q6_K_q8_K_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_f16_f16_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_bf16_bf16_avx2(int64_t n, float *s, const void *x, const void *y);
void kern_dot_f32_f32_avx2(int64_t n, float *s, const void *x, const void *y);

void kern_quantize_q8_0_avx2(const float *x, void *y, int64_t n);
void kern_quantize_q8_1_avx2(const float *x, void *y, int64_t n);
void kern_quantize_q8_K_avx2(const float *x, void *y, int64_t n);

float kern_dot_f32_f16_avx2(int64_t n, const float *x, const om_f16 *y);
void kern_axpy_f16_avx2(int64_t n, float a, const om_f16 *x, float *y);
void kern_f32_to_f16_row_avx2(const float *x, om_f16 *y, int64_t n);
float kern_dot_f32_avx2(int64_t n, const float *x, const float *y);

void kern_dot_nm_q4_0_q8_0_avx2(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                int nr, const void *y, size_t by, int nc);
void kern_dot_nm_q5_0_q8_0_avx2(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                int nr, const void *y, size_t by, int nc);
void kern_dot_nm_q8_0_q8_0_avx2(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                int nr, const void *y, size_t by, int nc);
void kern_dot_nm_q4_K_q8_K_avx2(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                int nr, const void *y, size_t by, int nc);
void kern_dot_nm_q6_K_q8_K_avx2(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                int nr, const void *y, size_t by, int nc);

#endif
