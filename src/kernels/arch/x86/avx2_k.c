/* kernels/arch/x86: AVX2 dot products of the K-quants (Q2_K..Q6_K, 256-element
 * super-blocks) against Q8_K activations.
 *
 * Offsets are folded out of the inner loops through Q8_K's bsums (sums of 16
 * consecutive activations): a weight q - o contributes Σ sc*q*y - o*Σ sc*bsum,
 * so the byte products see unsigned q only (maddubs is exact: q ≤ 63, |y| ≤ 127).
 * The integer sums are exact; only the float summation order differs from the
 * generic twins. */
#include "kernels/arch/x86/avx2_int.h"

/* Two int16 scales as a vector: lanes 0..7 = a, lanes 8..15 = b (the two
 * 16-element halves of a 32-byte vector after maddubs). */
static inline __m256i scale_pair(int a, int b)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)b), _mm_set1_epi16((short)a));
}

static inline __m256i load32(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* Σ_g w[g] * bsums[g] over the 16 groups; w as 16 int16. */
static inline int bsums_dot(const int16_t *bsums, __m256i w16)
{
    return x86_hsum_i32x8(_mm256_madd_epi16(load32(bsums), w16));
}

void kern_dot_q2_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q2_K *x = vx;
    const kern_block_q8_K *y = vy;
    const int64_t nb = n / OM_QK_K;
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        for (size_t pf = 0; pf < sizeof(*x); pf += 64)
            _mm_prefetch((const char *)(x + i) + 1024 + pf, _MM_HINT_T0);
        const float d = y[i].d * x86_f16(x[i].d);
        const float dmin = y[i].d * x86_f16(x[i].dmin);
        __m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
        __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), _mm_set1_epi8(0x0f)));
        summ += dmin * (float)bsums_dot(y[i].bsums, mins);
        const uint8_t *sc = x[i].scales;
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q = load32(x[i].qs + 32 * h);
            for (int j = 0; j < 4; j++) {
                __m256i qj = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3);
                __m256i p = _mm256_maddubs_epi16(qj, load32(y[i].qs + 128 * h + 32 * j));
                int g = 8 * h + 2 * j;
                sumi = _mm256_add_epi32(sumi,
                                        _mm256_madd_epi16(p, scale_pair(sc[g] & 0xf, sc[g + 1] & 0xf)));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = x86_hsum_f32x8(acc) - summ;
}

void kern_dot_q3_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q3_K *x = vx;
    const kern_block_q8_K *y = vy;
    const int64_t nb = n / OM_QK_K;
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        for (size_t pf = 0; pf < sizeof(*x); pf += 64)
            _mm_prefetch((const char *)(x + i) + 1024 + pf, _MM_HINT_T0);
        const float d = y[i].d * x86_f16(x[i].d);
        const __m128i scv = x86_k3_scales(x[i].scales);
        int8_t sc[16];
        _mm_storeu_si128((__m128i *)sc, scv);
        /* weight = (q2 + 4*hbit) - 4: the -4 goes through bsums */
        int off = 4 * bsums_dot(y[i].bsums, _mm256_cvtepi8_epi16(scv));
        __m256i hm = load32(x[i].hmask);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q = load32(x[i].qs + 32 * h);
            for (int j = 0; j < 4; j++) {
                __m256i q2 = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3);
                __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + j), one);
                __m256i qj = _mm256_or_si256(q2, _mm256_slli_epi16(hb, 2));
                __m256i p = _mm256_maddubs_epi16(qj, load32(y[i].qs + 128 * h + 32 * j));
                int g = 8 * h + 2 * j;
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale_pair(sc[g], sc[g + 1])));
            }
        }
        sumi = _mm256_sub_epi32(sumi, _mm256_setr_epi32(off, 0, 0, 0, 0, 0, 0, 0));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = x86_hsum_f32x8(acc);
}

/* Σ_j mins[j] * (bsums[2j] + bsums[2j+1]) as 4 int32 lanes. */
static inline __m128i k4_min_sum(__m128i scmn, const int16_t *bsums)
{
    __m128i mins = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(scmn, scmn));
    __m128i b = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                               _mm_loadu_si128((const __m128i *)(bsums + 8)));
    return _mm_madd_epi16(mins, b);
}

void kern_dot_q4_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q4_K *x = vx;
    const kern_block_q8_K *y = vy;
    const int64_t nb = n / OM_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        for (size_t pf = 0; pf < sizeof(*x); pf += 64)
            _mm_prefetch((const char *)(x + i) + 576 + pf, _MM_HINT_T0);
        const float d = y[i].d * x86_f16(x[i].d);
        const float dmin = y[i].d * x86_f16(x[i].dmin);
        __m128i scmn = x86_k4_scales_mins(x[i].scales);
        accm = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(k4_min_sum(scmn, y[i].bsums)), accm);
        uint8_t sc[16];
        _mm_storeu_si128((__m128i *)sc, scmn);
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i q = load32(x[i].qs + 32 * c);
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i p0 = _mm256_maddubs_epi16(lo, load32(y[i].qs + 64 * c));
            __m256i p1 = _mm256_maddubs_epi16(hi, load32(y[i].qs + 64 * c + 32));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * c])));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c + 1])));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), acc);
    }
    __m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    *s = x86_hsum_f32x8(acc) - _mm_cvtss_f32(m);
}

void kern_dot_q5_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q5_K *x = vx;
    const kern_block_q8_K *y = vy;
    const int64_t nb = n / OM_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        for (size_t pf = 0; pf < sizeof(*x); pf += 64)
            _mm_prefetch((const char *)(x + i) + 1024 + pf, _MM_HINT_T0);
        const float d = y[i].d * x86_f16(x[i].d);
        const float dmin = y[i].d * x86_f16(x[i].dmin);
        __m128i scmn = x86_k4_scales_mins(x[i].scales);
        accm = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(k4_min_sum(scmn, y[i].bsums)), accm);
        uint8_t sc[16];
        _mm_storeu_si128((__m128i *)sc, scmn);
        __m256i qh = load32(x[i].qh);
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i q = load32(x[i].qs + 32 * c);
            __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one);
            __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(h0, 4));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                                         _mm256_slli_epi16(h1, 4));
            __m256i p0 = _mm256_maddubs_epi16(lo, load32(y[i].qs + 64 * c));
            __m256i p1 = _mm256_maddubs_epi16(hi, load32(y[i].qs + 64 * c + 32));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * c])));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c + 1])));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), acc);
    }
    __m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    *s = x86_hsum_f32x8(acc) - _mm_cvtss_f32(m);
}

void kern_dot_q6_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q6_K *x = vx;
    const kern_block_q8_K *y = vy;
    const int64_t nb = n / OM_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        for (size_t pf = 0; pf < sizeof(*x); pf += 64)
            _mm_prefetch((const char *)(x + i) + 840 + pf, _MM_HINT_T0);
        const float d = y[i].d * x86_f16(x[i].d);
        const int8_t *sc = x[i].scales;
        /* weight = q6 - 32: the -32 goes through bsums */
        int off = 32 * bsums_dot(y[i].bsums, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc)));
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h;
            const int8_t *q8 = y[i].qs + 128 * h;
            __m256i qh = load32(x[i].qh + 32 * h);
            __m256i l0 = load32(ql), l1 = load32(ql + 32);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
            for (int k = 0; k < 4; k++) {
                __m256i p = _mm256_maddubs_epi16(q[k], load32(q8 + 32 * k));
                int g = 8 * h + 2 * k;
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale_pair(sc[g], sc[g + 1])));
            }
        }
        sumi = _mm256_sub_epi32(sumi, _mm256_setr_epi32(off, 0, 0, 0, 0, 0, 0, 0));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = x86_hsum_f32x8(acc);
}

/* Q8_K: per 256 floats d = amax/127, q = nearest-even(x * 127/amax),
 * bsums = sums of 16 consecutive q. The same arithmetic as the generic
 * quantizer, so the bytes are identical. */
void kern_quantize_q8_K_avx2(const float *x, void *vy, int64_t n)
{
    kern_block_q8_K *y = vy;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t i = 0; i < n / OM_QK_K; i++, x += OM_QK_K) {
        __m256 vmax = _mm256_setzero_ps();
        for (int j = 0; j < OM_QK_K; j += 8)
            vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(x + j), absmask));
        __m128 a = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
        a = _mm_max_ps(a, _mm_movehl_ps(a, a));
        a = _mm_max_ss(a, _mm_movehdup_ps(a));
        const float amax = _mm_cvtss_f32(a);
        const __m256 vs = _mm256_set1_ps(amax ? 127 / amax : 0.0f);
        y[i].d = amax / 127;
        for (int j = 0; j < OM_QK_K; j += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), vs),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[k] = _mm256_cvtps_epi32(v);
            }
            __m256i b8 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
                                            _mm256_packs_epi32(q[2], q[3]));
            /* undo the in-lane interleave of the two packs */
            b8 = _mm256_permutevar8x32_epi32(b8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), b8);
            /* two groups of 16: widen and sum */
            __m256i w0 = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(b8)),
                                           _mm256_set1_epi16(1));
            __m256i w1 = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(b8, 1)),
                                           _mm256_set1_epi16(1));
            y[i].bsums[j / 16] = (int16_t)x86_hsum_i32x8(w0);
            y[i].bsums[j / 16 + 1] = (int16_t)x86_hsum_i32x8(w1);
        }
    }
}
