/* kernels/arch/x86: AVX-512 VNNI tile kernels (vec_dot_nm) of Q4_0, Q5_0, Q8_0,
 * IQ4_NL
 * against Q8_0 activations, for prompt processing: 8 weight rows x 4
 * activation columns per call.
 *
 * Layout: one 512-bit register holds block b of two columns side by side
 * ([y_j | y_j+1]); a weight block is broadcast to both halves, so one
 * vpdpbusd computes the block's dot with two columns. 8 rows x 2 column
 * pairs = 16 float accumulators; each weight block is loaded once per 4
 * columns and each activation block once per 8 rows. The K*Σy correction
 * (see avx512_int.h) is computed once per column pair and block.
 * A call with another shape falls back to the vec_dot loop. */
#include "kernels/arch/x86/avx512_int.h"

#define T_ROWS 8
#define T_COLS 4

/* [qs qs qs qs] from one broadcast load; lanes 1 and 3 shifted to the high
 * nibbles: elements 0..31 in each 256-bit half. */
static inline __m512i nibbles_x2(const uint8_t *qs)
{
    __m512i z = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)qs));
    z = _mm512_mask_srli_epi16(z, 0xff00ff00u, z, 4);
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
}

static inline __m512i q4_0_row(const kern_block_q4_0 *b)
{
    return nibbles_x2(b->qs);
}

/* 5th bit set: nibble + 16 (the unsigned value is q5 = w + 16) */
static inline __m512i q5_0_row(const kern_block_q5_0 *b)
{
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    __m512i q = nibbles_x2(b->qs);
    return _mm512_mask_add_epi8(q, (__mmask64)qh * 0x100000001ULL, q, _mm512_set1_epi8(16));
}

static inline __m512i q8_0_row(const kern_block_q8_0 *b)
{
    return _mm512_xor_si512(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->qs)),
                            _mm512_set1_epi8((char)0x80));
}

static void tile_fallback(kern_vec_dot_fn dot, int64_t n, float *s, size_t lds, const void *x,
                          size_t bx, int nr, const void *y, size_t by, int nc)
{
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++)
            dot(n, &s[(size_t)i * lds + (size_t)j], (const uint8_t *)x + bx * (size_t)i,
                (const uint8_t *)y + by * (size_t)j);
}

#define TILE_Q0(NAME, XT, ROW, K, DOT)                                                           \
    void NAME(int64_t n, float *s, size_t lds, const void *vx, size_t bx, int nr, const void *vy, \
              size_t by, int nc)                                                                 \
    {                                                                                            \
        if (nr != T_ROWS || nc != T_COLS) {                                                      \
            tile_fallback(DOT, n, s, lds, vx, bx, nr, vy, by, nc);                               \
            return;                                                                              \
        }                                                                                        \
        const uint8_t *xb = vx, *yb = vy;                                                        \
        const int64_t nb = n / KERN_QK8_0;                                                       \
        const __m512i kk = _mm512_set1_epi8((char)(K)), zero = _mm512_setzero_si512();           \
        __m512 acc[T_ROWS][2];                                                                   \
        for (int i = 0; i < T_ROWS; i++)                                                         \
            acc[i][0] = acc[i][1] = _mm512_setzero_ps();                                         \
        for (int64_t b = 0; b < nb; b++) {                                                       \
            __m512i Y[2], NC[2];                                                                 \
            __m512 DY[2];                                                                        \
            _Pragma("GCC unroll 2") for (int p = 0; p < 2; p++)                                  \
            {                                                                                    \
                const kern_block_q8_0 *y0 = (const kern_block_q8_0 *)(yb + by * (size_t)(2 * p)) + b; \
                const kern_block_q8_0 *y1 =                                                      \
                    (const kern_block_q8_0 *)(yb + by * (size_t)(2 * p + 1)) + b;                \
                Y[p] = x512_load_2x32(y0->qs, y1->qs);                                           \
                NC[p] = _mm512_sub_epi32(zero, x512_dpbusd(zero, kk, Y[p]));                     \
                DY[p] = x512_pair_ps(x86_f16(y0->d), x86_f16(y1->d));                            \
            }                                                                                    \
            _Pragma("GCC unroll 8") for (int i = 0; i < T_ROWS; i++)                             \
            {                                                                                    \
                const XT *xr = (const XT *)(xb + bx * (size_t)i) + b;                            \
                if (!(b & 1)) /* the next tile's rows: one line per 2 blocks */                  \
                    _mm_prefetch((const char *)xr + T_ROWS * bx, _MM_HINT_T0);                   \
                __m512i X = ROW(xr);                                                             \
                __m512 dx = _mm512_set1_ps(x86_f16(xr->d));                                      \
                _Pragma("GCC unroll 2") for (int p = 0; p < 2; p++)                              \
                {                                                                                \
                    __m512i t = x512_dpbusd(NC[p], X, Y[p]);                                     \
                    acc[i][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(dx, DY[p]), \
                                                acc[i][p]);                                      \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        for (int i = 0; i < T_ROWS; i++)                                                         \
            for (int p = 0; p < 2; p++)                                                          \
                x512_hsum_halves(acc[i][p], &s[(size_t)i * lds + 2 * p],                         \
                                 &s[(size_t)i * lds + 2 * p + 1]);                               \
    }

TILE_Q0(kern_dot_nm_q4_0_q8_0_avx512, kern_block_q4_0, q4_0_row, 8, kern_dot_q4_0_q8_0_avx512)
TILE_Q0(kern_dot_nm_q5_0_q8_0_avx512, kern_block_q5_0, q5_0_row, 16, kern_dot_q5_0_q8_0_avx512)
/* IQ4_NL: grid values (signed) fed as value + 128 */
static inline __m512i iq4_nl_row(const kern_block_iq4_nl *b)
{
    static const int8_t grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                    1,    13,   25,  38,  53,  69,  89,  113};
    const __m512i g = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)grid));
    return _mm512_xor_si512(_mm512_shuffle_epi8(g, nibbles_x2(b->qs)), _mm512_set1_epi8((char)0x80));
}

TILE_Q0(kern_dot_nm_iq4_nl_q8_0_avx512, kern_block_iq4_nl, iq4_nl_row, 0x80,
        kern_dot_iq4_nl_q8_0_avx512)
TILE_Q0(kern_dot_nm_q8_0_q8_0_avx512, kern_block_q8_0, q8_0_row, 0x80, kern_dot_q8_0_q8_0_avx512)
