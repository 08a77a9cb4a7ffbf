/* kernels/arch/x86: AVX-512 float kernels: F32, F16 and BF16 dot products
 * and the attention-path helpers (dot_f32_f16, axpy_f16, f32_to_f16_row,
 * dot_f32), 16 lanes wide.
 *
 * Any n: the tail is one masked load/store, so there is no scalar loop (the
 * attention calls these with head sizes of 64..128, where a scalar tail or
 * a second pass would cost as much as the body). f32_to_f16_row rounds to
 * nearest even like the generic converter: identical output for every
 * non-NaN input. */
#include "kernels/arch/x86/avx512_int.h"

static inline __mmask16 tail16(int64_t r)
{
    return (__mmask16)((1u << r) - 1);
}

static inline __m512 f16x16(const om_f16 *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static inline __m512 f16x16_mask(const om_f16 *p, __mmask16 k)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p));
}

static inline __m512 bf16x16(const om_bf16 *p)
{
    __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

static inline __m512 bf16x16_mask(const om_bf16 *p, __mmask16 k)
{
    __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

float kern_dot_f32_avx512(int64_t n, const float *x, const float *y)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xffff : tail16(n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

float kern_dot_f32_f16_avx512(int64_t n, const float *x, const om_f16 *y)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), f16x16(y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), f16x16(y + i + 16), a1);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xffff : tail16(n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), f16x16_mask(y + i, k), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

void kern_axpy_f16_avx512(int64_t n, float a, const om_f16 *x, float *y)
{
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, f16x16(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 k = tail16(n - i);
        __m512 v = _mm512_fmadd_ps(va, f16x16_mask(x + i, k), _mm512_maskz_loadu_ps(k, y + i));
        _mm512_mask_storeu_ps(y + i, k, v);
    }
}

void kern_f32_to_f16_row_avx512(const float *x, om_f16 *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        __mmask16 k = tail16(n - i);
        _mm256_mask_storeu_epi16(y + i, k,
                                 _mm512_cvtps_ph(_mm512_maskz_loadu_ps(k, x + i), _MM_FROUND_TO_NEAREST_INT));
    }
}

void kern_dot_f32_f32_avx512(int64_t n, float *s, const void *x, const void *y)
{
    *s = kern_dot_f32_avx512(n, x, y);
}

void kern_dot_f16_f16_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const om_f16 *x = vx, *y = vy;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(f16x16(x + i), f16x16(y + i), a0);
        a1 = _mm512_fmadd_ps(f16x16(x + i + 16), f16x16(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(f16x16(x + i + 32), f16x16(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(f16x16(x + i + 48), f16x16(y + i + 48), a3);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xffff : tail16(n - i);
        a0 = _mm512_fmadd_ps(f16x16_mask(x + i, k), f16x16_mask(y + i, k), a0);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

void kern_dot_bf16_bf16_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const om_bf16 *x = vx, *y = vy;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(bf16x16(x + i), bf16x16(y + i), a0);
        a1 = _mm512_fmadd_ps(bf16x16(x + i + 16), bf16x16(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(bf16x16(x + i + 32), bf16x16(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(bf16x16(x + i + 48), bf16x16(y + i + 48), a3);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xffff : tail16(n - i);
        a0 = _mm512_fmadd_ps(bf16x16_mask(x + i, k), bf16x16_mask(y + i, k), a0);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}
