/* kernels/arch/x86: AVX-512 VNNI "row" tile kernels (vec_dot_nm with one
 * weight row at a time) of Q4_K and Q6_K against Q8_K activations, for
 * small batches: up to 4 weight rows x 8 activation columns per call.
 *
 * Why row after row: in decoding the weights come from memory (every
 * matrix is read once per step), and measured from memory the 4-row tiles
 * (avx512_tile_k.c) fall far below their cache speed (Q4_K 4x2: ~6 GB/s of
 * weights where vec_dot row by row reaches 10-15 GB/s; software prefetch
 * in the tile did not help, the cause is not pinned down). Row after row is
 * one sequential stream, each weight block is unpacked once for all 8
 * columns (their activations stay in L1), and the per-column data of a
 * super-block (d8, bsum sums) is prepared once per call for all rows.
 *
 * Per 64 elements and column: vpdpbusd (unsigned weights x activation
 * bytes, groups of 4), then vpdpwssd by the sub-block scale into the
 * column's int32 accumulator (as in avx512_tile_k.c: one exact int32 per
 * lane per super-block). At the end of a super-block the accumulators are
 * folded four columns at a time and scaled in float; Q4_K's mins go through
 * the bsums (exact int32, then -dmin * d8 in float), Q6_K's -32 offset is
 * subtracted in the integer domain (32 * Σ sc * bsum). */
#include <stddef.h>

#include "base/om.h"
#include "kernels/arch/x86/avx512_int.h"

#define RC 8 /* columns at most */
#define RR 4 /* rows at most */
#ifndef ROW_PF
#define ROW_PF 4096
#endif

/* Four int32 vectors -> per 128-bit lane l: [Σa, Σb, Σc, Σd] over lane l. */
static inline __m512i fold4(__m512i a, __m512i b, __m512i c, __m512i d)
{
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
}

/* s[j] = Σ over the four 128-bit lanes of lane element j % 4 of facc[j / 4],
 * minus the min term of column j (lane j % 4, element j / 4 of fmin). */
static inline void row_store(const __m512 facc[2], const __m512 fmin, float *s, int nc)
{
    float a[32], m[16];
    _mm512_storeu_ps(a, facc[0]);
    _mm512_storeu_ps(a + 16, facc[1]);
    _mm512_storeu_ps(m, fmin);
    for (int j = 0; j < nc; j++) {
        const float *v = a + 16 * (j / 4) + j % 4;
        s[j] = (v[0] + v[4]) + (v[8] + v[12]) - m[4 * (j % 4) + j / 4];
    }
}

/* Column data of one super-block, the same for every weight row: computed
 * once per call for up to RCH super-blocks and reused by the rows. */
#define RCH 32 /* k <= 8192 in one chunk */
struct col_pre {
    __m512 dy[2]; /* d8 of columns 4g..4g+3 (0 past nc), in each 128-bit lane */
    __m512 dyl;   /* lane l: [d8_l, d8_4+l, d8_l, d8_4+l] (the min-term layout) */
    __m512i bp[2]; /* Q4_K: column 4g+e's 8 sub-block activation sums in lane e */
};

static inline __attribute__((always_inline)) void
col_prepare(const void *vy, size_t by, int64_t b, int nc, int with_bsums, struct col_pre *p)
{
    const kern_block_q8_K *y[RC];
    for (int j = 0; j < RC; j++)
        y[j] = (const kern_block_q8_K *)((const uint8_t *)vy + by * (size_t)(j < nc ? j : 0)) + b;
    __m128 d[2];
    for (int g = 0; g < 2; g++) {
        __m128i z[4];
        float dd[4];
        for (int e = 0; e < 4; e++) {
            int j = 4 * g + e;
            dd[e] = j < nc ? y[j]->d : 0.f;
            z[e] = _mm_setzero_si128();
            if (with_bsums && j < nc)
                z[e] = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[j]->bsums),
                                      _mm_loadu_si128((const __m128i *)(y[j]->bsums + 8)));
        }
        d[g] = _mm_setr_ps(dd[0], dd[1], dd[2], dd[3]);
        p->dy[g] = _mm512_broadcast_f32x4(d[g]);
        __m512i v = _mm512_castsi128_si512(z[0]);
        v = _mm512_inserti32x4(v, z[1], 1);
        v = _mm512_inserti32x4(v, z[2], 2);
        p->bp[g] = _mm512_inserti32x4(v, z[3], 3);
    }
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    p->dyl = _mm512_castsi512_ps(
        _mm512_unpacklo_epi32(_mm512_permutexvar_epi32(spread, _mm512_castps_si512(p->dy[0])),
                              _mm512_permutexvar_epi32(spread, _mm512_castps_si512(p->dy[1]))));
}

/* nr Q4_K rows x nc (2..8) columns, one row after the other. */
static inline __attribute__((always_inline)) void
q4k_rows(int64_t n, float *s, size_t lds, const void *vx, size_t bx, int nr, const void *vy,
         size_t by, int nc)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), zero = _mm512_setzero_si512();
    const __m512i half = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const int64_t nsb = n / OM_QK_K;
    __m512 fa[RR][3]; /* per row: the two column groups, the min terms */
    for (int i = 0; i < nr; i++)
        fa[i][0] = fa[i][1] = fa[i][2] = _mm512_setzero_ps();
    struct col_pre pre[RCH];
    for (int64_t b0 = 0; b0 < nsb; b0 += RCH) {
        const int nb = (int)OM_MIN(RCH, nsb - b0);
        for (int b = 0; b < nb; b++)
            col_prepare(vy, by, b0 + b, nc, 1, &pre[b]);
        for (int i = 0; i < nr; i++) {
            __m512 f0 = fa[i][0], f1 = fa[i][1], fm = fa[i][2];
            for (int b = 0; b < nb; b++) {
                const kern_block_q4_K *x =
                    (const kern_block_q4_K *)((const uint8_t *)vx + bx * (size_t)i) + b0 + b;
                for (size_t pf = 0; pf < sizeof(*x); pf += 64)
                    _mm_prefetch((const char *)x + ROW_PF + pf, _MM_HINT_T0);
                const kern_block_q8_K *y[RC];
                #pragma GCC unroll 8
                for (int j = 0; j < RC; j++)
                    y[j] = (const kern_block_q8_K *)((const uint8_t *)vy + by * (size_t)(j < nc ? j : 0)) + b0 + b;
                const __m128i scmn = x86_k4_scales_mins(x->scales);
                const __m512i sc32 = _mm512_cvtepu8_epi32(scmn); /* < 64: high words 0 */
                const __m512i mins =
                    _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(_mm_unpackhi_epi64(scmn, scmn)));
                __m512i acc[RC];
                #pragma GCC unroll 8
                for (int j = 0; j < RC; j++)
                    acc[j] = _mm512_setzero_si512();
                #pragma GCC unroll 4
                for (int c = 0; c < 4; c++) { /* elements 64c..: sub-blocks 2c, 2c + 1 */
                    __m512i X = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qs + 32 * c)));
                    X = _mm512_and_si512(_mm512_mask_srli_epi16(X, 0xffff0000u, X, 4), m4);
                    const __m512i sc = _mm512_permutexvar_epi32(
                        _mm512_add_epi32(half, _mm512_set1_epi32(2 * c)), sc32);
                    #pragma GCC unroll 8
                    for (int j = 0; j < nc; j++)
                        acc[j] = _mm512_dpwssd_epi32(
                            acc[j], x512_dpbusd(zero, X, _mm512_loadu_si512(y[j]->qs + 64 * c)), sc);
                }
                const struct col_pre *p = &pre[b];
                const __m512 d = _mm512_set1_ps(x86_f16(x->d)), dmin = _mm512_set1_ps(x86_f16(x->dmin));
                f0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(fold4(acc[0], acc[1], acc[2], acc[3])),
                                     _mm512_mul_ps(d, p->dy[0]), f0);
                __m512i mf;
                if (nc > 4) {
                    f1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(fold4(acc[4], acc[5], acc[6], acc[7])),
                                         _mm512_mul_ps(d, p->dy[1]), f1);
                    mf = fold4(_mm512_madd_epi16(p->bp[0], mins), _mm512_madd_epi16(p->bp[1], mins),
                               zero, zero);
                } else {
                    mf = fold4(_mm512_madd_epi16(p->bp[0], mins), zero, zero, zero);
                }
                /* lane l of mf: [M_l, M_4+l, 0, 0] */
                fm = _mm512_fmadd_ps(_mm512_cvtepi32_ps(mf), _mm512_mul_ps(dmin, p->dyl), fm);
            }
            fa[i][0] = f0;
            fa[i][1] = f1;
            fa[i][2] = fm;
        }
    }
    for (int i = 0; i < nr; i++)
        row_store(fa[i], fa[i][2], s + (size_t)i * lds, nc);
}

/* nr Q6_K rows x nc (2..8) columns, one row after the other. */
static inline __attribute__((always_inline)) void
q6k_rows(int64_t n, float *s, size_t lds, const void *vx, size_t bx, int nr, const void *vy,
         size_t by, int nc)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), m3 = _mm512_set1_epi8(3);
    const __m512i m30 = _mm512_set1_epi8(0x30), zero = _mm512_setzero_si512();
    const __m512i quarter = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const int64_t nsb = n / OM_QK_K;
    __m512 fa[RR][2];
    for (int i = 0; i < nr; i++)
        fa[i][0] = fa[i][1] = _mm512_setzero_ps();
    struct col_pre pre[RCH];
    for (int64_t b0 = 0; b0 < nsb; b0 += RCH) {
        const int nb = (int)OM_MIN(RCH, nsb - b0);
        for (int b = 0; b < nb; b++)
            col_prepare(vy, by, b0 + b, nc, 0, &pre[b]);
        for (int i = 0; i < nr; i++) {
            __m512 f0 = fa[i][0], f1 = fa[i][1];
            for (int b = 0; b < nb; b++) {
                const kern_block_q6_K *x =
                    (const kern_block_q6_K *)((const uint8_t *)vx + bx * (size_t)i) + b0 + b;
                for (size_t pf = 0; pf < sizeof(*x); pf += 64)
                    _mm_prefetch((const char *)x + ROW_PF + pf, _MM_HINT_T0);
                const kern_block_q8_K *y[RC];
                #pragma GCC unroll 8
                for (int j = 0; j < RC; j++)
                    y[j] = (const kern_block_q8_K *)((const uint8_t *)vy + by * (size_t)(j < nc ? j : 0)) + b0 + b;
                const __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales);
                const __m512i sc32 = _mm512_and_si512(_mm512_cvtepi8_epi32(sc8), _mm512_set1_epi32(0xffff));
                /* start each column at -32 * Σ_g sc[g] * bsums[g] (32*sc fits int16) */
                const __m256i sc16 = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc8), 5);
                __m512i acc[RC];
                #pragma GCC unroll 8
                for (int j = 0; j < RC; j++) {
                    if (j >= nc) {
                        acc[j] = _mm512_setzero_si512();
                        continue;
                    }
                    __m256i o = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y[j]->bsums));
                    acc[j] = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), o));
                }
                #pragma GCC unroll 2
                for (int h = 0; h < 2; h++) {
                    const __m512i l = _mm512_loadu_si512(x->ql + 64 * h);
                    __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qh + 32 * h)));
                    qh = _mm512_mask_srli_epi16(qh, 0xffff0000u, qh, 2); /* [qh | qh >> 2] */
                    #pragma GCC unroll 2
                    for (int m = 0; m < 2; m++) { /* elements 128h + 64m .. +63 */
                        const __m512i X =
                            m == 0 ? _mm512_or_si512(_mm512_and_si512(l, m4),
                                                     _mm512_slli_epi16(_mm512_and_si512(qh, m3), 4))
                                   : _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                                     _mm512_and_si512(qh, m30));
                        const __m512i sc = _mm512_permutexvar_epi32(
                            _mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h + 4 * m)), sc32);
                        #pragma GCC unroll 8
                        for (int j = 0; j < nc; j++)
                            acc[j] = _mm512_dpwssd_epi32(
                                acc[j],
                                x512_dpbusd(zero, X, _mm512_loadu_si512(y[j]->qs + 128 * h + 64 * m)),
                                sc);
                    }
                }
                const __m512 d = _mm512_set1_ps(x86_f16(x->d));
                f0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(fold4(acc[0], acc[1], acc[2], acc[3])),
                                     _mm512_mul_ps(d, pre[b].dy[0]), f0);
                if (nc > 4)
                    f1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(fold4(acc[4], acc[5], acc[6], acc[7])),
                                         _mm512_mul_ps(d, pre[b].dy[1]), f1);
            }
            fa[i][0] = f0;
            fa[i][1] = f1;
        }
    }
    for (int i = 0; i < nr; i++)
        row_store(fa[i], _mm512_setzero_ps(), s + (size_t)i * lds, nc);
}

void kern_dot_rows_q4_K_q8_K_avx512(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                                    int nr, const void *vy, size_t by, int nc)
{
    switch (nc) { /* a copy per width: constant column loops */
    case 5: q4k_rows(n, s, lds, vx, bx, nr, vy, by, 5); break;
    case 6: q4k_rows(n, s, lds, vx, bx, nr, vy, by, 6); break;
    case 7: q4k_rows(n, s, lds, vx, bx, nr, vy, by, 7); break;
    default: q4k_rows(n, s, lds, vx, bx, nr, vy, by, RC); break;
    }
}

void kern_dot_rows_q6_K_q8_K_avx512(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                                    int nr, const void *vy, size_t by, int nc)
{
    switch (nc) { /* a copy per width: constant column loops */
    case 5: q6k_rows(n, s, lds, vx, bx, nr, vy, by, 5); break;
    case 6: q6k_rows(n, s, lds, vx, bx, nr, vy, by, 6); break;
    case 7: q6k_rows(n, s, lds, vx, bx, nr, vy, by, 7); break;
    default: q6k_rows(n, s, lds, vx, bx, nr, vy, by, RC); break;
    }
}
