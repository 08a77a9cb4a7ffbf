/* kernels/arch/x86: AVX2 tile kernels (vec_dot_nm) of Q4_K and Q6_K against
 * Q8_K activations, for CPUs without AVX-512: 2 weight rows x 4 tokens.
 *
 * Per 32 elements and (row, token): maddubs (unsigned weight x activation
 * byte pairs, exact: q ≤ 63) then madd with the sub-block scale into that
 * pair's int32 accumulator, so a super-block is one exact int32 sum per lane.
 * Each weight chunk is unpacked once for 4 tokens. At the end of a
 * super-block the 4 accumulators of a row fold into one 4-lane vector
 * (one lane per token) scaled in float. Q6_K's -32 is subtracted in the
 * integer domain through the bsums; Q4_K's mins go through the bsums in
 * float. Other shapes fall back to vec_dot. */
#include "kernels/arch/x86/avx2_int.h"

#define B_ROWS 2
#define B_COLS 4

static void tile_fallback(kern_vec_dot_fn dot, int64_t n, float *s, size_t lds, const void *x,
                          size_t bx, int nr, const void *y, size_t by, int nc)
{
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++)
            dot(n, &s[(size_t)i * lds + (size_t)j], (const uint8_t *)x + bx * (size_t)i,
                (const uint8_t *)y + by * (size_t)j);
}

/* Four int32 vectors -> [Σa, Σb, Σc, Σd]. */
static inline __m128i fold4(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i r = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
    return _mm_add_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

static inline __m128i fold4x4(__m128i a, __m128i b, __m128i c, __m128i d)
{
    return _mm_hadd_epi32(_mm_hadd_epi32(a, b), _mm_hadd_epi32(c, d));
}

static inline __m256i load32(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

void kern_dot_nm_q4_K_q8_K_avx2(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                                int nr, const void *vy, size_t by, int nc)
{
    if (nr != B_ROWS || nc != B_COLS) {
        tile_fallback(kern_dot_q4_K_q8_K_avx2, n, s, lds, vx, bx, nr, vy, by, nc);
        return;
    }
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m128 facc[B_ROWS] = {_mm_setzero_ps(), _mm_setzero_ps()};
    for (int64_t b = 0; b < n / OM_QK_K; b++) {
        const kern_block_q4_K *x[B_ROWS];
        const kern_block_q8_K *y[B_COLS];
        for (int i = 0; i < B_ROWS; i++)
            x[i] = (const kern_block_q4_K *)((const uint8_t *)vx + bx * (size_t)i) + b;
        __m128i bp[B_COLS];
#pragma GCC unroll 4
        for (int j = 0; j < B_COLS; j++) {
            y[j] = (const kern_block_q8_K *)((const uint8_t *)vy + by * (size_t)j) + b;
            bp[j] = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[j]->bsums),
                                   _mm_loadu_si128((const __m128i *)(y[j]->bsums + 8)));
        }
        uint8_t sc[B_ROWS][16];
        __m128i mins[B_ROWS];
        for (int i = 0; i < B_ROWS; i++) {
            __m128i scmn = x86_k4_scales_mins(x[i]->scales);
            _mm_storeu_si128((__m128i *)sc[i], scmn);
            __m128i m16 = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(scmn, scmn));
            mins[i] = fold4x4(_mm_madd_epi16(m16, bp[0]), _mm_madd_epi16(m16, bp[1]),
                              _mm_madd_epi16(m16, bp[2]), _mm_madd_epi16(m16, bp[3]));
        }
        __m256i acc[B_ROWS][B_COLS];
#pragma GCC unroll 8
        for (int i = 0; i < B_ROWS; i++)
#pragma GCC unroll 4
            for (int j = 0; j < B_COLS; j++)
                acc[i][j] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) { /* sub-block g: elements 32g.. */
            __m256i Y[B_COLS];
#pragma GCC unroll 4
            for (int j = 0; j < B_COLS; j++)
                Y[j] = load32(y[j]->qs + 32 * g);
#pragma GCC unroll 2
            for (int i = 0; i < B_ROWS; i++) {
                __m256i q = load32(x[i]->qs + 32 * (g / 2));
                __m256i X = _mm256_and_si256(g & 1 ? _mm256_srli_epi16(q, 4) : q, m4);
                __m256i S = _mm256_set1_epi16(sc[i][g]);
#pragma GCC unroll 4
                for (int j = 0; j < B_COLS; j++)
                    acc[i][j] = _mm256_add_epi32(
                        acc[i][j], _mm256_madd_epi16(_mm256_maddubs_epi16(X, Y[j]), S));
            }
        }
        const __m128 dy = _mm_setr_ps(y[0]->d, y[1]->d, y[2]->d, y[3]->d);
        for (int i = 0; i < B_ROWS; i++) {
            __m128 r = _mm_cvtepi32_ps(fold4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
            facc[i] = _mm_fmadd_ps(r, _mm_mul_ps(_mm_set1_ps(x86_f16(x[i]->d)), dy), facc[i]);
            facc[i] = _mm_fnmadd_ps(_mm_cvtepi32_ps(mins[i]),
                                    _mm_mul_ps(_mm_set1_ps(x86_f16(x[i]->dmin)), dy), facc[i]);
        }
    }
    for (int i = 0; i < B_ROWS; i++)
        _mm_storeu_ps(&s[(size_t)i * lds], facc[i]);
}

void kern_dot_nm_q6_K_q8_K_avx2(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                                int nr, const void *vy, size_t by, int nc)
{
    if (nr != B_ROWS || nc != B_COLS) {
        tile_fallback(kern_dot_q6_K_q8_K_avx2, n, s, lds, vx, bx, nr, vy, by, nc);
        return;
    }
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    __m128 facc[B_ROWS] = {_mm_setzero_ps(), _mm_setzero_ps()};
    for (int64_t b = 0; b < n / OM_QK_K; b++) {
        const kern_block_q6_K *x[B_ROWS];
        const kern_block_q8_K *y[B_COLS];
        for (int i = 0; i < B_ROWS; i++)
            x[i] = (const kern_block_q6_K *)((const uint8_t *)vx + bx * (size_t)i) + b;
        for (int j = 0; j < B_COLS; j++)
            y[j] = (const kern_block_q8_K *)((const uint8_t *)vy + by * (size_t)j) + b;
        __m256i acc[B_ROWS][B_COLS];
#pragma GCC unroll 2
        for (int i = 0; i < B_ROWS; i++) {
            /* start at -32 * Σ_g sc[g] * bsums[g] (32*sc fits int16) */
            __m256i sc32 = _mm256_slli_epi16(
                _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i]->scales)), 5);
#pragma GCC unroll 4
            for (int j = 0; j < B_COLS; j++)
                acc[i][j] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                             _mm256_madd_epi16(sc32, load32(y[j]->bsums)));
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++)
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) { /* elements 128h + 32k .., scales 8h+2k, +1 */
                __m256i Y[B_COLS];
#pragma GCC unroll 4
                for (int j = 0; j < B_COLS; j++)
                    Y[j] = load32(y[j]->qs + 128 * h + 32 * k);
#pragma GCC unroll 2
                for (int i = 0; i < B_ROWS; i++) {
                    __m256i l = load32(x[i]->ql + 64 * h + 32 * (k & 1));
                    __m256i qh = load32(x[i]->qh + 32 * h);
                    l = _mm256_and_si256(k >= 2 ? _mm256_srli_epi16(l, 4) : l, m4);
                    qh = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m3);
                    __m256i X = _mm256_or_si256(l, _mm256_slli_epi16(qh, 4));
                    const int8_t *sc = x[i]->scales + 8 * h + 2 * k;
                    __m256i S = _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
#pragma GCC unroll 4
                    for (int j = 0; j < B_COLS; j++)
                        acc[i][j] = _mm256_add_epi32(
                            acc[i][j], _mm256_madd_epi16(_mm256_maddubs_epi16(X, Y[j]), S));
                }
            }
        const __m128 dy = _mm_setr_ps(y[0]->d, y[1]->d, y[2]->d, y[3]->d);
        for (int i = 0; i < B_ROWS; i++) {
            __m128 r = _mm_cvtepi32_ps(fold4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
            facc[i] = _mm_fmadd_ps(r, _mm_mul_ps(_mm_set1_ps(x86_f16(x[i]->d)), dy), facc[i]);
        }
    }
    for (int i = 0; i < B_ROWS; i++)
        _mm_storeu_ps(&s[(size_t)i * lds], facc[i]);
}
