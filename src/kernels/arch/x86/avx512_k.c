/* kernels/arch/x86: AVX-512 VNNI dot products of the K-quants (Q2_K..Q6_K)
 * against Q8_K
 * (token generation: one weight row per activation row).
 *
 * 64 elements per step: vpdpbusd gives int32 sums of 4 unsigned weights x 4
 * activations (|t| ≤ 4*63*127 < 2^15), then vpdpwssd multiplies each lane's
 * low 16 bits by its sub-block scale (high 16 bits of the scale zeroed) and
 * accumulates: the whole super-block is one exact int32 sum per lane.
 * Offsets (Q6_K's -32) and mins (Q4_K) go through the Q8_K bsums. */
#include "kernels/arch/x86/avx512_int.h"

/* Σ_j mins[j] * (bsums[2j] + bsums[2j+1]), mins in bytes 8..15 of scmn. */
static inline int k4_min_sum(__m128i scmn, const int16_t *bsums)
{
    __m128i mins = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(scmn, scmn));
    __m128i b = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                               _mm_loadu_si128((const __m128i *)(bsums + 8)));
    __m128i p = _mm_madd_epi16(mins, b);
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4e));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xb1));
    return _mm_cvtsi128_si32(p);
}

void kern_dot_q4_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q4_K *x = vx;
    const kern_block_q8_K *y = vy;
    const int64_t nb = n / OM_QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0f), zero = _mm512_setzero_si512();
    /* lanes 0..7 take scale 2c, lanes 8..15 scale 2c + 1 */
    const __m512i half = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    __m512 acc = _mm512_setzero_ps();
    float summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        for (size_t pf = 0; pf < sizeof(*x); pf += 64)
            _mm_prefetch((const char *)(x + i) + 4096 + pf, _MM_HINT_T1);
        __m128i scmn = x86_k4_scales_mins(x[i].scales);
        summ += y[i].d * x86_f16(x[i].dmin) * (float)k4_min_sum(scmn, y[i].bsums);
        const __m512i sc32 = _mm512_cvtepu8_epi32(scmn); /* < 64: high words are 0 */
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            /* the 32 bytes of chunk c twice; the upper copy shifted to its high nibbles */
            __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * c)));
            q = _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xffff0000u, q, 4), m4);
            __m512i t = x512_dpbusd(zero, q, _mm512_loadu_si512(y[i].qs + 64 * c));
            __m512i sc = _mm512_permutexvar_epi32(_mm512_add_epi32(half, _mm512_set1_epi32(2 * c)), sc32);
            sumi = _mm512_dpwssd_epi32(sumi, t, sc);
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(y[i].d * x86_f16(x[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc) - summ;
}

/* Q5_K: Q4_K plus a 5th bit per element: bit 2c of qh[l] for element
 * 64c + l, bit 2c + 1 for element 64c + 32 + l. */
void kern_dot_q5_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q5_K *x = vx;
    const kern_block_q8_K *y = vy;
    const int64_t nb = n / OM_QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0f), zero = _mm512_setzero_si512();
    const __m512i b16 = _mm512_set1_epi8(0x10);
    const __m512i half = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    __m512 acc = _mm512_setzero_ps();
    float summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        for (size_t pf = 0; pf < sizeof(*x); pf += 64)
            _mm_prefetch((const char *)(x + i) + 4096 + pf, _MM_HINT_T1);
        __m128i scmn = x86_k4_scales_mins(x[i].scales);
        summ += y[i].d * x86_f16(x[i].dmin) * (float)k4_min_sum(scmn, y[i].bsums);
        const __m512i sc32 = _mm512_cvtepu8_epi32(scmn);
        __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[i].qh));
        qh = _mm512_mask_srli_epi16(qh, 0xffff0000u, qh, 1); /* [qh | qh >> 1] */
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * c)));
            q = _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xffff0000u, q, 4), m4);
            __mmask64 hb = _mm512_test_epi8_mask(qh, _mm512_set1_epi8((char)(1 << (2 * c))));
            q = _mm512_mask_add_epi8(q, hb, q, b16);
            __m512i t = x512_dpbusd(zero, q, _mm512_loadu_si512(y[i].qs + 64 * c));
            __m512i sc = _mm512_permutexvar_epi32(_mm512_add_epi32(half, _mm512_set1_epi32(2 * c)), sc32);
            sumi = _mm512_dpwssd_epi32(sumi, t, sc);
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(y[i].d * x86_f16(x[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc) - summ;
}

void kern_dot_q6_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q6_K *x = vx;
    const kern_block_q8_K *y = vy;
    const int64_t nb = n / OM_QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m3 = _mm512_set1_epi8(3);
    const __m512i m30 = _mm512_set1_epi8(0x30), zero = _mm512_setzero_si512();
    /* lane 4g..4g+3 takes scale g of the 4 sub-blocks of 16 in a 64-element step */
    const __m512i quarter = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        for (size_t pf = 0; pf < sizeof(*x); pf += 64)
            _mm_prefetch((const char *)(x + i) + 4096 + pf, _MM_HINT_T1);
        __m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
        /* the -32 offset: 32 * Σ_g sc[g] * bsums[g] */
        __m256i w = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8),
                                      _mm256_loadu_si256((const __m256i *)y[i].bsums));
        int off = 32 * x86_hsum_i32x8(w);
        const __m512i sc32 = _mm512_and_si512(_mm512_cvtepi8_epi32(sc8), _mm512_set1_epi32(0xffff));
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m512i l = _mm512_loadu_si512(x[i].ql + 64 * h);
            __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h)));
            qh = _mm512_mask_srli_epi16(qh, 0xffff0000u, qh, 2); /* [qh | qh >> 2] */
            /* elements 128h + 0..63: low nibbles, bits 0-1 (then 2-3) of qh */
            __m512i q0 = _mm512_or_si512(_mm512_and_si512(l, m4),
                                         _mm512_slli_epi16(_mm512_and_si512(qh, m3), 4));
            /* elements 128h + 64..127: high nibbles, bits 4-5 (then 6-7) */
            __m512i q1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                         _mm512_and_si512(qh, m30));
            __m512i t0 = x512_dpbusd(zero, q0, _mm512_loadu_si512(y[i].qs + 128 * h));
            __m512i t1 = x512_dpbusd(zero, q1, _mm512_loadu_si512(y[i].qs + 128 * h + 64));
            __m512i s0 = _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h)), sc32);
            __m512i s1 = _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h + 4)), sc32);
            sumi = _mm512_dpwssd_epi32(sumi, t0, s0);
            sumi = _mm512_dpwssd_epi32(sumi, t1, s1);
        }
        sumi = _mm512_sub_epi32(sumi, _mm512_maskz_set1_epi32(1, off));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(y[i].d * x86_f16(x[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc);
}

/* Q2_K: 2-bit q (shift 2j of qs[32h + l]) for element 128h + 32j + l, scale
 * and min per 16 elements (low / high nibble of scales[]). Two shifts per
 * step: [q >> 2j | q >> 2j+2] against 64 consecutive activations. */
void kern_dot_q2_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q2_K *x = vx;
    const kern_block_q8_K *y = vy;
    const int64_t nb = n / OM_QK_K;
    const __m512i m3 = _mm512_set1_epi8(3), zero = _mm512_setzero_si512();
    const __m512i quarter = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 acc = _mm512_setzero_ps();
    float summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        for (size_t pf = 0; pf < sizeof(*x); pf += 64)
            _mm_prefetch((const char *)(x + i) + 4096 + pf, _MM_HINT_T1);
        __m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
        __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), _mm_set1_epi8(0x0f)));
        __m256i w = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)y[i].bsums));
        summ += y[i].d * x86_f16(x[i].dmin) * (float)x86_hsum_i32x8(w);
        const __m512i sc32 = _mm512_cvtepu8_epi32(_mm_and_si128(sc8, _mm_set1_epi8(0x0f)));
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h)));
#pragma GCC unroll 2
            for (int j = 0; j < 4; j += 2) {
                const __m512i cnt = _mm512_inserti64x4(_mm512_set1_epi16((short)(2 * j)),
                                                       _mm256_set1_epi16((short)(2 * j + 2)), 1);
                __m512i X = _mm512_and_si512(_mm512_srlv_epi16(q, cnt), m3);
                __m512i t = x512_dpbusd(zero, X, _mm512_loadu_si512(y[i].qs + 128 * h + 32 * j));
                __m512i sc = _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h + 2 * j)), sc32);
                sumi = _mm512_dpwssd_epi32(sumi, t, sc);
            }
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(y[i].d * x86_f16(x[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc) - summ;
}

/* Q3_K: Q2_K's 2-bit layout plus a high bit (bit 4h + j of hmask[l]); the
 * weight is (q2 + 4*hbit) - 4 with signed 6-bit scales; the -4 goes through
 * the bsums in the integer domain. */
void kern_dot_q3_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q3_K *x = vx;
    const kern_block_q8_K *y = vy;
    const int64_t nb = n / OM_QK_K;
    const __m512i m3 = _mm512_set1_epi8(3), zero = _mm512_setzero_si512();
    const __m512i four = _mm512_set1_epi8(4);
    const __m512i quarter = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        for (size_t pf = 0; pf < sizeof(*x); pf += 64)
            _mm_prefetch((const char *)(x + i) + 4096 + pf, _MM_HINT_T1);
        const __m128i sc8 = x86_k3_scales(x[i].scales);
        __m256i w = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8),
                                      _mm256_loadu_si256((const __m256i *)y[i].bsums));
        const int off = 4 * x86_hsum_i32x8(w);
        const __m512i sc32 = _mm512_and_si512(_mm512_cvtepi8_epi32(sc8), _mm512_set1_epi32(0xffff));
        const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[i].hmask));
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h)));
#pragma GCC unroll 2
            for (int j = 0; j < 4; j += 2) {
                const __m512i cnt = _mm512_inserti64x4(_mm512_set1_epi16((short)(2 * j)),
                                                       _mm256_set1_epi16((short)(2 * j + 2)), 1);
                const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (4 * h + j))),
                                                       _mm256_set1_epi8((char)(1 << (4 * h + j + 1))), 1);
                __m512i X = _mm512_and_si512(_mm512_srlv_epi16(q, cnt), m3);
                X = _mm512_mask_add_epi8(X, _mm512_test_epi8_mask(hm, bit), X, four);
                __m512i t = x512_dpbusd(zero, X, _mm512_loadu_si512(y[i].qs + 128 * h + 32 * j));
                __m512i sc = _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h + 2 * j)), sc32);
                sumi = _mm512_dpwssd_epi32(sumi, t, sc);
            }
        }
        sumi = _mm512_sub_epi32(sumi, _mm512_maskz_set1_epi32(1, off));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(y[i].d * x86_f16(x[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc);
}
