/* kernels/arch/x86: helpers shared by the AVX-512 (F/BW/VL/DQ + VNNI) kernel
 * files. Include only from avx512*.c (compiled with the AVX-512 and AVX2 flags).
 *
 * The integer dot products use VNNI's vpdpbusd (unsigned bytes × signed
 * bytes, groups of 4 summed into int32 lanes, no saturation). Signed weights
 * w are fed as w + K (unsigned) and K*Σy is subtracted: the correction
 * depends on the activation only, so tile kernels compute it once per column. */
#ifndef KERN_AVX512_INT_H
#define KERN_AVX512_INT_H

#include "kernels/arch/x86/avx2_int.h"

static inline __m512i x512_dpbusd(__m512i acc, __m512i u, __m512i s)
{
    return _mm512_dpbusd_epi32(acc, u, s);
}

/* Two 32-byte rows side by side: [a | b]. */
static inline __m512i x512_load_2x32(const void *a, const void *b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

/* Float vector: lanes 0..7 = a, lanes 8..15 = b. */
static inline __m512 x512_pair_ps(float a, float b)
{
    return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

/* Sums of lanes 0..7 and of lanes 8..15. */
static inline void x512_hsum_halves(__m512 v, float *lo, float *hi)
{
    *lo = x86_hsum_f32x8(_mm512_castps512_ps256(v));
    *hi = x86_hsum_f32x8(_mm512_extractf32x8_ps(v, 1));
}

/* ---- AVX-512 kernels (avx512_*.c) ---- */
void kern_dot_q4_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q4_1_q8_1_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q5_1_q8_1_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q5_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q8_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_iq4_nl_q8_0_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q2_K_q8_K_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q3_K_q8_K_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q4_K_q8_K_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q5_K_q8_K_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q6_K_q8_K_avx512(int64_t n, float *s, const void *x, const void *y);

void kern_dot_f16_f16_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_bf16_bf16_avx512(int64_t n, float *s, const void *x, const void *y);
void kern_dot_f32_f32_avx512(int64_t n, float *s, const void *x, const void *y);

float kern_dot_f32_f16_avx512(int64_t n, const float *x, const om_f16 *y);
void kern_axpy_f16_avx512(int64_t n, float a, const om_f16 *x, float *y);
void kern_f32_to_f16_row_avx512(const float *x, om_f16 *y, int64_t n);
float kern_dot_f32_avx512(int64_t n, const float *x, const float *y);

void kern_dot_nm_q4_0_q8_0_avx512(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                  int nr, const void *y, size_t by, int nc);
void kern_dot_nm_q5_0_q8_0_avx512(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                  int nr, const void *y, size_t by, int nc);
void kern_dot_nm_iq4_nl_q8_0_avx512(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                    int nr, const void *y, size_t by, int nc);
void kern_dot_nm_q8_0_q8_0_avx512(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                  int nr, const void *y, size_t by, int nc);
void kern_dot_nm_q4_K_q8_K_avx512(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                  int nr, const void *y, size_t by, int nc);
void kern_dot_nm_q5_K_q8_K_avx512(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                  int nr, const void *y, size_t by, int nc);
/* nr (1..4) weight rows x nc (5..8) Q8_K columns, row after row (one sequential
 * weight stream): s[i*lds + j] = dot(x_i, y_j) (avx512_tile_row.c; the nm
 * kernels call them for that shape). */
void kern_dot_rows_q4_K_q8_K_avx512(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                    int nr, const void *y, size_t by, int nc);
void kern_dot_rows_q6_K_q8_K_avx512(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                    int nr, const void *y, size_t by, int nc);
void kern_dot_nm_q6_K_q8_K_avx512(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                  int nr, const void *y, size_t by, int nc);

#endif
