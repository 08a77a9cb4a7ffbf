/* kernels/arch/x86: AVX-512 VNNI tile kernels (vec_dot_nm) of Q4_K, Q5_K, Q6_K
 * against Q8_K activations: 4 weight rows x 4 activation columns tiles, and
 * the dispatch of every nm shape.
 *
 * Per 64 elements and (row, column): vpdpbusd sums unsigned weights x
 * activation bytes in groups of 4 (|t| ≤ 4*63*127 < 2^15), then vpdpwssd
 * multiplies each lane's low 16 bits by its sub-block scale (high 16 bits of
 * the scale zero) into that pair's int32 accumulator: 16 accumulators, one
 * exact int32 per lane per super-block. Weight bytes are unpacked once per
 * 4 columns; activation bytes are used as loaded. At the end of a super-block
 * the accumulators are folded four at a time into one vector per row and
 * scaled in float. Q6_K's -32 offset is subtracted in the integer domain
 * (32*Σ sc*bsum, per pair); Q4_K's mins go through the bsums in float.
 *
 * Shapes (measured with the weights coming from memory, as in decoding,
 * with kern_matmul's row-tiles-outside loop): 8 columns with rows up to
 * ROWS_MAX_K go to the row-after-row kernels of avx512_tile_row.c (one
 * weight stream, each block unpacked once for all 8 columns: 2048x2048
 * Q4_K 660 vs 750 us, Q6_K 665 vs 785 us for two 4x4 tiles); otherwise 4
 * rows go through 4x4 tiles (5-7 columns: at 5-6 the row kernels were
 * slower, 7 equal) and the last 1-3 columns through vec_dot row by row,
 * which was faster from memory than narrow 4-row tiles (4x2: ~0.6x).
 * Other shapes fall back to vec_dot too. */
#include <stddef.h>

#include "kernels/arch/x86/avx512_int.h"

#define TK 4 /* rows and columns of the tile */
/* Longest rows for the row-after-row kernels: 8 columns of Q8_K
 * activations (292 bytes per 256 elements) must stay in L1 while the rows
 * stream past (k 5632: no faster than two 4x4 tiles, measured) */
#define ROWS_MAX_K 4096
/* Fewest columns for the row kernels: with their prefetch they beat a 4x4
 * tile plus vec_dot from 5 columns on (Q4_K 2048x2048 x6: 322-328 -> 216-228
 * us, x7: 378-383 -> 233-251, 2 threads) */
#define ROWS_MIN_NC 5

/* Four int32 vectors -> per 128-bit lane l: [Σa, Σb, Σc, Σd] over lane l. */
static inline __m512i fold4(__m512i a, __m512i b, __m512i c, __m512i d)
{
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
}

/* Σ over the four 128-bit lanes of v -> s[0..3]. */
static inline void lanes_sum(__m512 v, float *s)
{
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    _mm_storeu_ps(s, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

static void tile_fallback(kern_vec_dot_fn dot, int64_t n, float *s, size_t lds, const void *x,
                          size_t bx, int nr, const void *y, size_t by, int nc)
{
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++)
            dot(n, &s[(size_t)i * lds + (size_t)j], (const uint8_t *)x + bx * (size_t)i,
                (const uint8_t *)y + by * (size_t)j);
}

/* Activation scales of the nc (<= 4) columns, repeated in each 128-bit
 * lane; 0 for the missing columns. */
static inline __m512 col_scales(const kern_block_q8_K *const y[TK], int nc)
{
    return _mm512_broadcast_f32x4(_mm_setr_ps(y[0]->d, nc > 1 ? y[1]->d : 0.f,
                                              nc > 2 ? y[2]->d : 0.f, nc > 3 ? y[3]->d : 0.f));
}

/* The four lane sums of each row's accumulator; columns past nc dropped. */
static inline void tile_store(const __m512 facc[TK], float *s, size_t lds, int nc)
{
    for (int i = 0; i < TK; i++) {
        float r[4];
        lanes_sum(facc[i], r);
        for (int j = 0; j < nc; j++)
            s[(size_t)i * lds + (size_t)j] = r[j];
    }
}

/* Q4_K and Q5_K share d, dmin and the packed scales at the head of the
 * block; bsz is the block size, qs_off the offset of the nibbles, qh_off that
 * of Q5_K's 5th bits (< 0 for Q4_K). Inlined into two specialised copies. */
struct k45_head {
    om_f16 d, dmin;
    uint8_t scales[12];
};

static inline __attribute__((always_inline)) void
k45_tile(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy, size_t by,
         int nc, size_t bsz, size_t qs_off, int qh_off)
{
    const __m512i b16 = _mm512_set1_epi8(0x10);
    const __m512i m4 = _mm512_set1_epi8(0x0f), zero = _mm512_setzero_si512();
    const __m512i half = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    __m512 facc[TK];
    #pragma GCC unroll 8
    for (int i = 0; i < TK; i++)
        facc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / OM_QK_K; b++) {
        const struct k45_head *x[TK];
        const kern_block_q8_K *y[TK];
        __m512i qh[TK];
        #pragma GCC unroll 8
        for (int k = 0; k < TK; k++) {
            const uint8_t *xb = (const uint8_t *)vx + bx * (size_t)k + bsz * (size_t)b;
            for (size_t pf = 0; pf < bsz; pf += 64) /* the next tile's rows */
                _mm_prefetch((const char *)xb + TK * bx + pf, _MM_HINT_T0);
            x[k] = (const struct k45_head *)xb;
            y[k] = (const kern_block_q8_K *)((const uint8_t *)vy + by * (size_t)(k < nc ? k : 0)) + b;
            if (qh_off >= 0) { /* [qh | qh >> 1]: bit 2c in both halves is the 5th bit */
                qh[k] = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(xb + qh_off)));
                qh[k] = _mm512_mask_srli_epi16(qh[k], 0xffff0000u, qh[k], 1);
            }
        }
        __m512i sc32[TK], mm[TK];
        /* bsum pairs of the 4 columns, column j in lane j */
        int16_t bps[TK * 8] = {0};
        #pragma GCC unroll 8
        for (int j = 0; j < nc; j++) {
            __m128i p = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[j]->bsums),
                                       _mm_loadu_si128((const __m128i *)(y[j]->bsums + 8)));
            _mm_storeu_si128((__m128i *)(bps + 8 * j), p);
        }
        const __m512i bp = _mm512_loadu_si512(bps);
        #pragma GCC unroll 8
        for (int i = 0; i < TK; i++) {
            __m128i scmn = x86_k4_scales_mins(x[i]->scales);
            sc32[i] = _mm512_cvtepu8_epi32(scmn); /* < 64: high words 0 */
            __m128i mins = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(scmn, scmn));
            mm[i] = _mm512_madd_epi16(bp, _mm512_broadcast_i32x4(mins));
        }
        __m512i acc[TK][TK];
        #pragma GCC unroll 8
        for (int i = 0; i < TK; i++)
            #pragma GCC unroll 8
            for (int j = 0; j < TK; j++)
                acc[i][j] = _mm512_setzero_si512();
        #pragma GCC unroll 4
        for (int c = 0; c < 4; c++) { /* elements 64c..: sub-blocks 2c, 2c + 1 */
            __m512i Y[TK];
            #pragma GCC unroll 8
            for (int j = 0; j < nc; j++)
                Y[j] = _mm512_loadu_si512(y[j]->qs + 64 * c);
            const __m512i idx = _mm512_add_epi32(half, _mm512_set1_epi32(2 * c));
            #pragma GCC unroll 8
            for (int i = 0; i < TK; i++) {
                const uint8_t *qs = (const uint8_t *)x[i] + qs_off + 32 * c;
                __m512i X = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qs));
                X = _mm512_and_si512(_mm512_mask_srli_epi16(X, 0xffff0000u, X, 4), m4);
                if (qh_off >= 0) {
                    __mmask64 hb = _mm512_test_epi8_mask(qh[i], _mm512_set1_epi8((char)(1 << (2 * c))));
                    X = _mm512_mask_add_epi8(X, hb, X, b16);
                }
                const __m512i sc = _mm512_permutexvar_epi32(idx, sc32[i]);
                #pragma GCC unroll 8
                for (int j = 0; j < nc; j++)
                    acc[i][j] = _mm512_dpwssd_epi32(acc[i][j], x512_dpbusd(zero, X, Y[j]), sc);
            }
        }
        const __m512 dy = col_scales(y, nc);
        /* min terms: lane j of mfold holds [M_0j, M_1j, M_2j, M_3j] */
        __m512i mfold = fold4(mm[0], mm[1], mm[2], mm[3]);
        #pragma GCC unroll 8
        for (int i = 0; i < TK; i++) {
            __m512 d = _mm512_mul_ps(_mm512_set1_ps(x86_f16(x[i]->d)), dy);
            __m512 dm = _mm512_mul_ps(_mm512_set1_ps(x86_f16(x[i]->dmin)), dy);
            __m512i r = fold4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
            facc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(r), d, facc[i]);
            const __m512i idx = _mm512_setr_epi32(i, 4 + i, 8 + i, 12 + i, 0, 0, 0, 0, 0, 0, 0, 0,
                                                  0, 0, 0, 0);
            __m512i m = _mm512_maskz_permutexvar_epi32(0x000f, idx, mfold);
            facc[i] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), dm, facc[i]);
        }
    }
    tile_store(facc, s, lds, nc);
}

static void q6_tile(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy,
                    size_t by);

static void q4_tile(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy,
                    size_t by)
{
    k45_tile(n, s, lds, vx, bx, vy, by, TK, sizeof(kern_block_q4_K), offsetof(kern_block_q4_K, qs),
             -1);
}

/* 4 rows x nc columns: 4x4 tiles over the columns, the last < 4 columns
 * through vec_dot row by row. */
static void tiles_4xn(void (*tile)(int64_t, float *, size_t, const void *, size_t, const void *,
                                   size_t),
                      kern_vec_dot_fn dot, int64_t n, float *s, size_t lds, const void *vx,
                      size_t bx, const void *vy, size_t by, int nc)
{
    int j = 0;
    for (; j + TK <= nc; j += TK)
        tile(n, s + j, lds, vx, bx, (const uint8_t *)vy + by * (size_t)j, by);
    if (j < nc)
        tile_fallback(dot, n, s + j, lds, vx, bx, TK, (const uint8_t *)vy + by * (size_t)j, by,
                      nc - j);
}

void kern_dot_nm_q4_K_q8_K_avx512(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                                  int nr, const void *vy, size_t by, int nc)
{
    if (nr >= 1 && nr <= 4 && nc >= ROWS_MIN_NC && nc <= 8 && n <= ROWS_MAX_K)
        kern_dot_rows_q4_K_q8_K_avx512(n, s, lds, vx, bx, nr, vy, by, nc);
    else if (nr == TK)
        tiles_4xn(q4_tile, kern_dot_q4_K_q8_K_avx512, n, s, lds, vx, bx, vy, by, nc);
    else
        tile_fallback(kern_dot_q4_K_q8_K_avx512, n, s, lds, vx, bx, nr, vy, by, nc);
}

void kern_dot_nm_q5_K_q8_K_avx512(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                                  int nr, const void *vy, size_t by, int nc)
{
    if (nr == TK && nc == TK)
        k45_tile(n, s, lds, vx, bx, vy, by, TK, sizeof(kern_block_q5_K),
                 offsetof(kern_block_q5_K, qs), (int)offsetof(kern_block_q5_K, qh));
    else
        tile_fallback(kern_dot_q5_K_q8_K_avx512, n, s, lds, vx, bx, nr, vy, by, nc);
}

/* The Q6_K 4x4 tile. */
static void q6_tile(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy,
                    size_t by)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), m3 = _mm512_set1_epi8(3);
    const __m512i m30 = _mm512_set1_epi8(0x30), zero = _mm512_setzero_si512();
    const __m512i quarter = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 facc[TK];
    #pragma GCC unroll 8
    for (int i = 0; i < TK; i++)
        facc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / OM_QK_K; b++) {
        const kern_block_q6_K *x[TK];
        const kern_block_q8_K *y[TK];
        #pragma GCC unroll 8
        for (int k = 0; k < TK; k++) {
            x[k] = (const kern_block_q6_K *)((const uint8_t *)vx + bx * (size_t)k) + b;
            for (size_t pf = 0; pf < sizeof(kern_block_q6_K); pf += 64) /* the next tile's rows */
                _mm_prefetch((const char *)x[k] + TK * bx + pf, _MM_HINT_T0);
            y[k] = (const kern_block_q8_K *)((const uint8_t *)vy + by * (size_t)k) + b;
        }
        __m512i sc32[TK], acc[TK][TK];
        #pragma GCC unroll 8
        for (int i = 0; i < TK; i++) {
            __m128i sc8 = _mm_loadu_si128((const __m128i *)x[i]->scales);
            sc32[i] = _mm512_and_si512(_mm512_cvtepi8_epi32(sc8), _mm512_set1_epi32(0xffff));
            /* start each pair at -32 * Σ_g sc[g] * bsums[g] (32*sc fits int16) */
            __m256i sc16 = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc8), 5);
            #pragma GCC unroll 8
            for (int j = 0; j < TK; j++) {
                __m256i o = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y[j]->bsums));
                acc[i][j] = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), o));
            }
        }
        #pragma GCC unroll 2
        for (int h = 0; h < 2; h++)
            #pragma GCC unroll 2
            for (int m = 0; m < 2; m++) { /* elements 128h + 64m .. +63 */
                __m512i Y[TK];
                #pragma GCC unroll 8
                for (int j = 0; j < TK; j++)
                    Y[j] = _mm512_loadu_si512(y[j]->qs + 128 * h + 64 * m);
                const __m512i idx = _mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h + 4 * m));
                #pragma GCC unroll 8
                for (int i = 0; i < TK; i++) {
                    __m512i l = _mm512_loadu_si512(x[i]->ql + 64 * h);
                    __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i]->qh + 32 * h)));
                    qh = _mm512_mask_srli_epi16(qh, 0xffff0000u, qh, 2); /* [qh | qh >> 2] */
                    __m512i X = m == 0 ? _mm512_or_si512(_mm512_and_si512(l, m4),
                                                         _mm512_slli_epi16(_mm512_and_si512(qh, m3), 4))
                                       : _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                                         _mm512_and_si512(qh, m30));
                    const __m512i sc = _mm512_permutexvar_epi32(idx, sc32[i]);
                    #pragma GCC unroll 8
                    for (int j = 0; j < TK; j++)
                        acc[i][j] = _mm512_dpwssd_epi32(acc[i][j], x512_dpbusd(zero, X, Y[j]), sc);
                }
            }
        const __m512 dy = col_scales(y, TK);
        #pragma GCC unroll 8
        for (int i = 0; i < TK; i++) {
            __m512 d = _mm512_mul_ps(_mm512_set1_ps(x86_f16(x[i]->d)), dy);
            __m512i r = fold4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
            facc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(r), d, facc[i]);
        }
    }
    for (int i = 0; i < TK; i++)
        lanes_sum(facc[i], &s[(size_t)i * lds]);
}

void kern_dot_nm_q6_K_q8_K_avx512(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                                  int nr, const void *vy, size_t by, int nc)
{
    if (nr >= 1 && nr <= 4 && nc >= ROWS_MIN_NC && nc <= 8 && n <= ROWS_MAX_K)
        kern_dot_rows_q6_K_q8_K_avx512(n, s, lds, vx, bx, nr, vy, by, nc);
    else if (nr == TK)
        tiles_4xn(q6_tile, kern_dot_q6_K_q8_K_avx512, n, s, lds, vx, bx, vy, by, nc);
    else
        tile_fallback(kern_dot_q6_K_q8_K_avx512, n, s, lds, vx, bx, nr, vy, by, nc);
}
