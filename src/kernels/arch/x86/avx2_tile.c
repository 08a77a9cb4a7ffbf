/* kernels/arch/x86: AVX2 tile kernels (vec_dot_nm) of Q4_0, Q5_0 and Q8_0
 * against Q8_0 activations, for CPUs without AVX-512: 4 weight rows x 2 tokens.
 *
 * With 16 ymm registers, 8 float accumulators (4x2) leave room for the two
 * activation blocks, their scales and one weight row. Each weight block is
 * unpacked once for both tokens and each activation block loaded once for
 * four rows. Q8_0 uses the |x| * sign(y, x) product; Q4_0 (Q5_0) feeds
 * the unsigned 4 (5) bit values to maddubs and subtracts 8*Σy (16*Σy) once per
 * token and block.
 * Integer sums are exact, as in the vec_dot kernels. Other shapes fall back
 * to the vec_dot loop. */
#include "kernels/arch/x86/avx2_int.h"

#define A_ROWS 4
#define A_COLS 2

static void tile_fallback(kern_vec_dot_fn dot, int64_t n, float *s, size_t lds, const void *x,
                          size_t bx, int nr, const void *y, size_t by, int nc)
{
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++)
            dot(n, &s[(size_t)i * lds + (size_t)j], (const uint8_t *)x + bx * (size_t)i,
                (const uint8_t *)y + by * (size_t)j);
}

static inline const kern_block_q8_0 *col_block(const void *y, size_t by, int j, int64_t b)
{
    return (const kern_block_q8_0 *)((const uint8_t *)y + by * (size_t)j) + b;
}

void kern_dot_nm_q8_0_q8_0_avx2(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                                int nr, const void *vy, size_t by, int nc)
{
    if (nr != A_ROWS || nc != A_COLS) {
        tile_fallback(kern_dot_q8_0_q8_0_avx2, n, s, lds, vx, bx, nr, vy, by, nc);
        return;
    }
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[A_ROWS][A_COLS];
#pragma GCC unroll 8
    for (int i = 0; i < A_ROWS; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / KERN_QK8_0; b++) {
        const kern_block_q8_0 *y0 = col_block(vy, by, 0, b), *y1 = col_block(vy, by, 1, b);
        const __m256i Y0 = _mm256_loadu_si256((const __m256i *)y0->qs);
        const __m256i Y1 = _mm256_loadu_si256((const __m256i *)y1->qs);
        const float d0 = x86_f16(y0->d), d1 = x86_f16(y1->d);
#pragma GCC unroll 4
        for (int i = 0; i < A_ROWS; i++) {
            const kern_block_q8_0 *xr = (const kern_block_q8_0 *)((const uint8_t *)vx + bx * (size_t)i) + b;
            __m256i X = _mm256_loadu_si256((const __m256i *)xr->qs);
            __m256i XA = _mm256_sign_epi8(X, X);
            const float dx = x86_f16(xr->d);
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(XA, _mm256_sign_epi8(Y0, X)), ones);
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(XA, _mm256_sign_epi8(Y1, X)), ones);
            acc[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(dx * d0), acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(dx * d1), acc[i][1]);
        }
    }
    for (int i = 0; i < A_ROWS; i++)
        for (int j = 0; j < A_COLS; j++)
            s[(size_t)i * lds + (size_t)j] = x86_hsum_f32x8(acc[i][j]);
}

void kern_dot_nm_q4_0_q8_0_avx2(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                                int nr, const void *vy, size_t by, int nc)
{
    if (nr != A_ROWS || nc != A_COLS) {
        tile_fallback(kern_dot_q4_0_q8_0_avx2, n, s, lds, vx, bx, nr, vy, by, nc);
        return;
    }
    const __m256i ones = _mm256_set1_epi16(1), eight = _mm256_set1_epi8(8);
    __m256 acc[A_ROWS][A_COLS];
#pragma GCC unroll 8
    for (int i = 0; i < A_ROWS; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / KERN_QK8_0; b++) {
        const kern_block_q8_0 *y0 = col_block(vy, by, 0, b), *y1 = col_block(vy, by, 1, b);
        const __m256i Y0 = _mm256_loadu_si256((const __m256i *)y0->qs);
        const __m256i Y1 = _mm256_loadu_si256((const __m256i *)y1->qs);
        /* 8*Σy per 4-element lane: subtracted from Σ nibble*y */
        const __m256i C0 = _mm256_madd_epi16(_mm256_maddubs_epi16(eight, Y0), ones);
        const __m256i C1 = _mm256_madd_epi16(_mm256_maddubs_epi16(eight, Y1), ones);
        const float d0 = x86_f16(y0->d), d1 = x86_f16(y1->d);
#pragma GCC unroll 4
        for (int i = 0; i < A_ROWS; i++) {
            const kern_block_q4_0 *xr = (const kern_block_q4_0 *)((const uint8_t *)vx + bx * (size_t)i) + b;
            __m256i X = x86_nibbles32(xr->qs);
            const float dx = x86_f16(xr->d);
            __m256i p0 = _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(X, Y0), ones), C0);
            __m256i p1 = _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(X, Y1), ones), C1);
            acc[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(dx * d0), acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(dx * d1), acc[i][1]);
        }
    }
    for (int i = 0; i < A_ROWS; i++)
        for (int j = 0; j < A_COLS; j++)
            s[(size_t)i * lds + (size_t)j] = x86_hsum_f32x8(acc[i][j]);
}

void kern_dot_nm_q5_0_q8_0_avx2(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                                int nr, const void *vy, size_t by, int nc)
{
    if (nr != A_ROWS || nc != A_COLS) {
        tile_fallback(kern_dot_q5_0_q8_0_avx2, n, s, lds, vx, bx, nr, vy, by, nc);
        return;
    }
    const __m256i ones = _mm256_set1_epi16(1), k16 = _mm256_set1_epi8(16);
    __m256 acc[A_ROWS][A_COLS];
#pragma GCC unroll 8
    for (int i = 0; i < A_ROWS; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / KERN_QK8_0; b++) {
        const kern_block_q8_0 *y0 = col_block(vy, by, 0, b), *y1 = col_block(vy, by, 1, b);
        const __m256i Y0 = _mm256_loadu_si256((const __m256i *)y0->qs);
        const __m256i Y1 = _mm256_loadu_si256((const __m256i *)y1->qs);
        /* 16*Σy per 4-element lane: subtracted from Σ q5*y */
        const __m256i C0 = _mm256_madd_epi16(_mm256_maddubs_epi16(k16, Y0), ones);
        const __m256i C1 = _mm256_madd_epi16(_mm256_maddubs_epi16(k16, Y1), ones);
        const float d0 = x86_f16(y0->d), d1 = x86_f16(y1->d);
#pragma GCC unroll 4
        for (int i = 0; i < A_ROWS; i++) {
            const kern_block_q5_0 *xr = (const kern_block_q5_0 *)((const uint8_t *)vx + bx * (size_t)i) + b;
            uint32_t qh;
            memcpy(&qh, xr->qh, 4);
            __m256i X = _mm256_or_si256(x86_nibbles32(xr->qs),
                                        _mm256_and_si256(x86_bits32(qh), _mm256_set1_epi8(0x10)));
            const float dx = x86_f16(xr->d);
            __m256i p0 = _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(X, Y0), ones), C0);
            __m256i p1 = _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(X, Y1), ones), C1);
            acc[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(dx * d0), acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(dx * d1), acc[i][1]);
        }
    }
    for (int i = 0; i < A_ROWS; i++)
        for (int j = 0; j < A_COLS; j++)
            s[(size_t)i * lds + (size_t)j] = x86_hsum_f32x8(acc[i][j]);
}
