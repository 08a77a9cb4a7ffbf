/* kernels/arch/x86: AVX-512 VNNI dot products of the 32-element block
 * formats: Q4_0, Q5_0, Q8_0, IQ4_NL against Q8_0 and Q4_1, Q5_1 against Q8_1,
 * two blocks per 512-bit register, four blocks per loop step.
 *
 * Weights enter vpdpbusd as unsigned bytes w + K (K = 8 for Q4_0, 16 for
 * Q5_0, 128 for the signed-byte formats) and K*Σy is subtracted per 4-byte
 * lane, so each block's integer sum is exact; results differ from the generic
 * twins only in float summation order. Blocks left over after the last
 * whole step go through the AVX2 kernel. */
#include "kernels/arch/x86/avx512_int.h"

/* Blocks x[0], x[1] of 16 nibble bytes -> 64 unsigned bytes laid out like
 * [y0.qs | y1.qs]: block 0 low nibbles, block 0 high, block 1 low, high. */
static inline __m512i nibble_pair(const uint8_t *qs0, const uint8_t *qs1)
{
    /* [qs0 qs0 qs1 qs1] (broadcast loads), the odd 128-bit lanes shifted to
     * their high nibbles */
    __m512i z = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs0))),
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs1)), 1);
    z = _mm512_mask_srli_epi16(z, 0xff00ff00u, z, 4);
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
}

static inline __m512i q4_0_pair(const kern_block_q4_0 *x)
{
    return nibble_pair(x[0].qs, x[1].qs);
}

/* Byte k of the pair is element k%32 of block k/32, so the two qh words
 * side by side are the mask of the 5th bits. */
static inline __m512i q5_0_pair(const kern_block_q5_0 *x)
{
    uint32_t h0, h1;
    memcpy(&h0, x[0].qh, 4);
    memcpy(&h1, x[1].qh, 4);
    __mmask64 k = (__mmask64)h0 | (__mmask64)h1 << 32;
    __m512i q = nibble_pair(x[0].qs, x[1].qs);
    return _mm512_mask_add_epi8(q, k, q, _mm512_set1_epi8(16));
}

static inline __m512i q8_0_pair(const kern_block_q8_0 *x)
{
    return _mm512_xor_si512(x512_load_2x32(x[0].qs, x[1].qs), _mm512_set1_epi8((char)0x80));
}

static inline __m512i iq4_nl_pair(const kern_block_iq4_nl *x)
{
    static const int8_t grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                    1,    13,   25,  38,  53,  69,  89,  113};
    const __m512i g = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)grid));
    __m512i v = _mm512_shuffle_epi8(g, nibble_pair(x[0].qs, x[1].qs));
    return _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
}

/* The four f16 scales at p, p+stride, ... as floats (assembled in a general
 * register: four narrow stores read back as one word would stall on store
 * forwarding). */
static inline __m128 scales4(const uint8_t *p, size_t stride)
{
    uint64_t u = 0;
    for (int k = 0; k < 4; k++) {
        uint16_t h;
        memcpy(&h, p + stride * (size_t)k, 2);
        u |= (uint64_t)h << (16 * k);
    }
    return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)u));
}

#define PAIR_DOT(NAME, XT, PAIR, K, TAIL)                                                        \
    void NAME(int64_t n, float *s, const void *vx, const void *vy)                               \
    {                                                                                            \
        const XT *x = vx;                                                                        \
        const kern_block_q8_0 *y = vy;                                                           \
        const int64_t nb = n / KERN_QK8_0;                                                       \
        const __m512i kk = _mm512_set1_epi8((char)(K)), z = _mm512_setzero_si512();              \
        const __m512i i01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);   \
        const __m512i i23 = _mm512_add_epi32(i01, _mm512_set1_epi32(2));                         \
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                           \
        int64_t i = 0;                                                                           \
        for (; i + 3 < nb; i += 4) {                                                             \
            for (size_t pf = 0; pf < 4 * sizeof(XT); pf += 64)                                   \
                _mm_prefetch((const char *)(x + i) + 4096 + pf, _MM_HINT_T1);                    \
            __m512i y0 = x512_load_2x32(y[i].qs, y[i + 1].qs);                                   \
            __m512i y1 = x512_load_2x32(y[i + 2].qs, y[i + 3].qs);                               \
            __m512i t0 = _mm512_sub_epi32(x512_dpbusd(z, PAIR(x + i), y0), x512_dpbusd(z, kk, y0)); \
            __m512i t1 =                                                                         \
                _mm512_sub_epi32(x512_dpbusd(z, PAIR(x + i + 2), y1), x512_dpbusd(z, kk, y1));   \
            __m128 sc = _mm_mul_ps(scales4((const uint8_t *)&x[i].d, sizeof(XT)),                \
                                   scales4((const uint8_t *)&y[i].d, sizeof(kern_block_q8_0)));  \
            __m512 s512 = _mm512_castps128_ps512(sc);                                            \
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t0), _mm512_permutexvar_ps(i01, s512), acc0); \
            acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t1), _mm512_permutexvar_ps(i23, s512), acc1); \
        }                                                                                        \
        for (; i + 1 < nb; i += 2) {                                                             \
            __m512i y0 = x512_load_2x32(y[i].qs, y[i + 1].qs);                                   \
            __m512i t0 = _mm512_sub_epi32(x512_dpbusd(z, PAIR(x + i), y0), x512_dpbusd(z, kk, y0)); \
            __m512 sv = x512_pair_ps(x86_f16(x[i].d) * x86_f16(y[i].d),                          \
                                     x86_f16(x[i + 1].d) * x86_f16(y[i + 1].d));                 \
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t0), sv, acc0);                            \
        }                                                                                        \
        float r = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));                               \
        if (i < nb) {                                                                            \
            float t;                                                                             \
            TAIL(KERN_QK8_0, &t, x + i, y + i);                                                  \
            r += t;                                                                              \
        }                                                                                        \
        *s = r;                                                                                  \
    }

PAIR_DOT(kern_dot_q4_0_q8_0_avx512, kern_block_q4_0, q4_0_pair, 8, kern_dot_q4_0_q8_0_avx2)
PAIR_DOT(kern_dot_q5_0_q8_0_avx512, kern_block_q5_0, q5_0_pair, 16, kern_dot_q5_0_q8_0_avx2)
PAIR_DOT(kern_dot_q8_0_q8_0_avx512, kern_block_q8_0, q8_0_pair, 0x80, kern_dot_q8_0_q8_0_avx2)
PAIR_DOT(kern_dot_iq4_nl_q8_0_avx512, kern_block_iq4_nl, iq4_nl_pair, 0x80, kern_dot_iq4_nl_q8_0_avx2)

/* ---- Q4_1, Q5_1 against Q8_1: unsigned weights, no correction; the min
 * term m_x * s_y (s = d_y * Σy) is summed four blocks at a time. ---- */

static inline __m512i q4_1_pair(const kern_block_q4_1 *x)
{
    return nibble_pair(x[0].qs, x[1].qs);
}

static inline __m512i q5_1_pair(const kern_block_q5_1 *x)
{
    uint32_t h0, h1;
    memcpy(&h0, x[0].qh, 4);
    memcpy(&h1, x[1].qh, 4);
    __mmask64 k = (__mmask64)h0 | (__mmask64)h1 << 32;
    __m512i q = nibble_pair(x[0].qs, x[1].qs);
    return _mm512_mask_add_epi8(q, k, q, _mm512_set1_epi8(16));
}

#define PAIR_DOT1(NAME, XT, PAIR, TAIL)                                                          \
    void NAME(int64_t n, float *s, const void *vx, const void *vy)                               \
    {                                                                                            \
        const XT *x = vx;                                                                        \
        const kern_block_q8_1 *y = vy;                                                           \
        const int64_t nb = n / KERN_QK8_0;                                                       \
        const __m512i z = _mm512_setzero_si512();                                                \
        const __m512i i01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);   \
        const __m512i i23 = _mm512_add_epi32(i01, _mm512_set1_epi32(2));                         \
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                           \
        __m128 accm = _mm_setzero_ps();                                                          \
        int64_t i = 0;                                                                           \
        for (; i + 3 < nb; i += 4) {                                                             \
            for (size_t pf = 0; pf < 4 * sizeof(XT); pf += 64)                                   \
                _mm_prefetch((const char *)(x + i) + 4096 + pf, _MM_HINT_T1);                    \
            __m512i t0 = x512_dpbusd(z, PAIR(x + i), x512_load_2x32(y[i].qs, y[i + 1].qs));      \
            __m512i t1 = x512_dpbusd(z, PAIR(x + i + 2), x512_load_2x32(y[i + 2].qs, y[i + 3].qs)); \
            __m128 sc = _mm_mul_ps(scales4((const uint8_t *)&x[i].d, sizeof(XT)),                \
                                   scales4((const uint8_t *)&y[i].d, sizeof(kern_block_q8_1)));  \
            accm = _mm_fmadd_ps(scales4((const uint8_t *)&x[i].m, sizeof(XT)),                   \
                                scales4((const uint8_t *)&y[i].s, sizeof(kern_block_q8_1)), accm); \
            __m512 s512 = _mm512_castps128_ps512(sc);                                            \
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t0), _mm512_permutexvar_ps(i01, s512), acc0); \
            acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t1), _mm512_permutexvar_ps(i23, s512), acc1); \
        }                                                                                        \
        __m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));                                  \
        m = _mm_add_ss(m, _mm_movehdup_ps(m));                                                   \
        float r = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + _mm_cvtss_f32(m);            \
        if (i < nb) {                                                                            \
            float t;                                                                             \
            TAIL((nb - i) * KERN_QK8_0, &t, x + i, y + i);                                       \
            r += t;                                                                              \
        }                                                                                        \
        *s = r;                                                                                  \
    }

PAIR_DOT1(kern_dot_q4_1_q8_1_avx512, kern_block_q4_1, q4_1_pair, kern_dot_q4_1_q8_1_avx2)
PAIR_DOT1(kern_dot_q5_1_q8_1_avx512, kern_block_q5_1, q5_1_pair, kern_dot_q5_1_q8_1_avx2)
