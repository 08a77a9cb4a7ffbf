/* kernels/arch/x86: AVX2 dot products of the 32-element block formats
 * (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) against quantized activations
 * (Q8_0, or Q8_1 for the formats with a min).
 *
 * Each block contributes d_x*d_y*Σ q_x*q_y (+ m_x*s_y for Q4_1/Q5_1); the
 * integer part is exact, so results differ from the generic twins only by the
 * order of the float summation. Two accumulators hide the FMA latency. */
#include "kernels/arch/x86/avx2_int.h"

/* Signed 4-bit weights (nibble - 8) of one Q4_0 block. */
static inline __m256i q4_0_vals(const kern_block_q4_0 *b)
{
    return _mm256_sub_epi8(x86_nibbles32(b->qs), _mm256_set1_epi8(8));
}


void kern_dot_q4_1_q8_1_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q4_1 *x = vx;
    const kern_block_q8_1 *y = vy;
    const int64_t nb = n / KERN_QK8_0;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        _mm_prefetch((const char *)(x + i) + 1024, _MM_HINT_T0);
        __m256i p = x86_dot_u8i8x32(x86_nibbles32(x[i].qs),
                                    _mm256_loadu_si256((const __m256i *)y[i].qs));
        __m256 d = _mm256_set1_ps(x86_f16(x[i].d) * x86_f16(y[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
        summ += x86_f16(x[i].m) * x86_f16(y[i].s);
    }
    *s = x86_hsum_f32x8(acc) + summ;
}

/* Signed 5-bit weights of a Q5_0 block: nibble | 0xF0 (= nibble - 16) where
 * the high bit is clear, the nibble itself (= nibble + 16 - 16) where set. */
static inline __m256i q5_0_vals(const kern_block_q5_0 *b)
{
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    __m256i hi = _mm256_andnot_si256(x86_bits32(qh), _mm256_set1_epi8((char)0xf0));
    return _mm256_or_si256(x86_nibbles32(b->qs), hi);
}


void kern_dot_q5_1_q8_1_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_q5_1 *x = vx;
    const kern_block_q8_1 *y = vy;
    const int64_t nb = n / KERN_QK8_0;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        _mm_prefetch((const char *)(x + i) + 1024, _MM_HINT_T0);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        __m256i hi = _mm256_and_si256(x86_bits32(qh), _mm256_set1_epi8(0x10));
        __m256i q = _mm256_or_si256(x86_nibbles32(x[i].qs), hi);
        __m256i p = x86_dot_u8i8x32(q, _mm256_loadu_si256((const __m256i *)y[i].qs));
        __m256 d = _mm256_set1_ps(x86_f16(x[i].d) * x86_f16(y[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
        summ += x86_f16(x[i].m) * x86_f16(y[i].s);
    }
    *s = x86_hsum_f32x8(acc) + summ;
}


/* Signed-block formats against Q8_0: VALS(block) gives the 32 signed weights;
 * two blocks per step in two accumulators, then a one-block tail. PF is the
 * prefetch distance in bytes, tuned per format. */
#define SIGNED_DOT(NAME, XT, VALS, PF)                                                           \
    void NAME(int64_t n, float *s, const void *vx, const void *vy)                               \
    {                                                                                            \
        const XT *x = vx;                                                                        \
        const kern_block_q8_0 *y = vy;                                                           \
        const int64_t nb = n / KERN_QK8_0;                                                       \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                           \
        int64_t i = 0;                                                                           \
        for (; i + 1 < nb; i += 2) {                                                             \
            _mm_prefetch((const char *)(x + i) + (PF), _MM_HINT_T0);                             \
            __m256i p0 = x86_dot_i8x32(VALS(x + i), _mm256_loadu_si256((const __m256i *)y[i].qs)); \
            __m256i p1 =                                                                         \
                x86_dot_i8x32(VALS(x + i + 1), _mm256_loadu_si256((const __m256i *)y[i + 1].qs)); \
            __m256 d0 = _mm256_set1_ps(x86_f16(x[i].d) * x86_f16(y[i].d));                       \
            __m256 d1 = _mm256_set1_ps(x86_f16(x[i + 1].d) * x86_f16(y[i + 1].d));               \
            acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(p0), acc0);                            \
            acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(p1), acc1);                            \
        }                                                                                        \
        for (; i < nb; i++) {                                                                    \
            __m256i p = x86_dot_i8x32(VALS(x + i), _mm256_loadu_si256((const __m256i *)y[i].qs)); \
            __m256 d = _mm256_set1_ps(x86_f16(x[i].d) * x86_f16(y[i].d));                        \
            acc0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc0);                              \
        }                                                                                        \
        *s = x86_hsum_f32x8(_mm256_add_ps(acc0, acc1));                                          \
    }

static inline __m256i q8_0_vals(const kern_block_q8_0 *b)
{
    return _mm256_loadu_si256((const __m256i *)b->qs);
}

SIGNED_DOT(kern_dot_q4_0_q8_0_avx2, kern_block_q4_0, q4_0_vals, 512)
SIGNED_DOT(kern_dot_q5_0_q8_0_avx2, kern_block_q5_0, q5_0_vals, 1024)
SIGNED_DOT(kern_dot_q8_0_q8_0_avx2, kern_block_q8_0, q8_0_vals, 640)

/* IQ4_NL's non-linear 4-bit grid (GGUF's kvalues_iq4nl). */
static const int8_t k_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};

void kern_dot_iq4_nl_q8_0_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const kern_block_iq4_nl *x = vx;
    const kern_block_q8_0 *y = vy;
    const int64_t nb = n / KERN_QK8_0;
    const __m256i grid = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)k_iq4nl));
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        _mm_prefetch((const char *)(x + i) + 1024, _MM_HINT_T0);
        __m256i q = _mm256_shuffle_epi8(grid, x86_nibbles32(x[i].qs));
        __m256i p = x86_dot_i8x32(q, _mm256_loadu_si256((const __m256i *)y[i].qs));
        __m256 d = _mm256_set1_ps(x86_f16(x[i].d) * x86_f16(y[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
    }
    *s = x86_hsum_f32x8(acc);
}

/* ---- activation quantizers (run on every matmul) ----
 * Same arithmetic as the generic twins, so the bytes are identical:
 * d = amax/127, id = 1/d, q = nearest-even(x*id), scales rounded to half. */

/* Quantizes 32 floats with scale id into 32 bytes at q; returns Σq as 8 int32. */
static inline __m256i q8_block(const float *x, __m256 id, int8_t *q)
{
    __m256i v[4];
    for (int k = 0; k < 4; k++) {
        __m256 f = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), id),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v[k] = _mm256_cvtps_epi32(f);
    }
    __m256i sum = _mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3]));
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, b);
    return sum;
}

static inline float absmax32(const float *x)
{
    const __m256 mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_and_ps(_mm256_loadu_ps(x), mask);
    for (int k = 1; k < 4; k++)
        m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + 8 * k), mask));
    __m128 a = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    a = _mm_max_ps(a, _mm_movehl_ps(a, a));
    a = _mm_max_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
}

static inline om_f16 to_f16(float f)
{
    return (om_f16)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

void kern_quantize_q8_0_avx2(const float *x, void *vy, int64_t n)
{
    kern_block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / KERN_QK8_0; i++, x += KERN_QK8_0) {
        float d = absmax32(x) / 127, id = d ? 1.0f / d : 0.0f;
        y[i].d = to_f16(d);
        (void)q8_block(x, _mm256_set1_ps(id), y[i].qs);
    }
}

void kern_quantize_q8_1_avx2(const float *x, void *vy, int64_t n)
{
    kern_block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / KERN_QK8_0; i++, x += KERN_QK8_0) {
        float d = absmax32(x) / 127, id = d ? 1.0f / d : 0.0f;
        int sum = x86_hsum_i32x8(q8_block(x, _mm256_set1_ps(id), y[i].qs));
        y[i].d = to_f16(d);
        y[i].s = to_f16(d * (float)sum);
    }
}
