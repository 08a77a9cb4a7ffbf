/* kernels: IEEE half (binary16) and bfloat16 conversions, the F32/F16/BF16
 * rows as tensor types, and the float helpers of the attention path.
 *
 * Conversions to the narrow types round to nearest, ties to even; overflow
 * gives infinity, NaN stays NaN (made quiet), and half subnormals are
 * produced and read exactly. */
#include "kernels/kern_int.h"

static inline uint32_t f_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static inline float bits_f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

float kern_f16_to_f32(om_f16 h)
{
    return kern_h2f(h);
}

om_f16 kern_f32_to_f16(float f)
{
    uint32_t x = f_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) /* nan: keep the top payload bits, force quiet */
        return (om_f16)(sign | 0x7e00 | ((x >> 13) & 0x3ff));
    if (x >= 0x47800000u) /* >= 2^16: inf (65520..65535 round up below) */
        return (om_f16)(sign | 0x7c00);
    uint32_t e = x >> 23;
    if (e >= 113) { /* normal half range: >= 2^-14 */
        uint32_t h = ((e - 112) << 10) | ((x >> 13) & 0x3ff);
        uint32_t rem = x & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
            h++; /* a carry into the exponent is the correct result (even inf) */
        return (om_f16)(sign | h);
    }
    if (e < 102) /* < 2^-25: rounds to zero */
        return (om_f16)sign;
    /* half subnormal: value / 2^-24 = man24 * 2^(e - 126), shift = 126 - e in 14..24 */
    uint32_t man = (x & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;
    uint32_t h = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1)))
        h++; /* may become 0x400, the smallest normal: still correct */
    return (om_f16)(sign | h);
}

static inline float b2f(om_bf16 h)
{
    return bits_f((uint32_t)h << 16);
}

float kern_bf16_to_f32(om_bf16 h)
{
    return b2f(h);
}

om_bf16 kern_f32_to_bf16(float f)
{
    uint32_t x = f_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (om_bf16)((x >> 16) | 0x40); /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);
    return (om_bf16)(x >> 16);
}

/* ---- rows ----
 * Work goes in fixed chunks of KC elements: gcc's -O2 vectorizer only takes
 * loops with a known trip count, and the chunked loops also keep KC partial
 * sums so that the summation order does not depend on the compiler. */
#define KC 16

static inline void h16_to_f32(const om_f16 *x, float *y)
{
    for (int j = 0; j < KC; j++)
        y[j] = kern_h2f(x[j]);
}

static inline void b16_to_f32(const om_bf16 *x, float *y)
{
    for (int j = 0; j < KC; j++)
        y[j] = b2f(x[j]);
}

void kern_f16_to_f32_row_generic(const om_f16 *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + KC <= n; i += KC)
        h16_to_f32(x + i, y + i);
    for (; i < n; i++)
        y[i] = kern_h2f(x[i]);
}

void kern_f32_to_f16_row_generic(const float *x, om_f16 *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = kern_f32_to_f16(x[i]);
}

void kern_bf16_to_f32_row_generic(const om_bf16 *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + KC <= n; i += KC)
        b16_to_f32(x + i, y + i);
    for (; i < n; i++)
        y[i] = b2f(x[i]);
}

void kern_f32_to_bf16_row_generic(const float *x, om_bf16 *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = kern_f32_to_bf16(x[i]);
}

void kern_dequant_f32_generic(const void *x, float *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

void kern_quantize_f32_generic(const float *x, void *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

void kern_dequant_f16_generic(const void *x, float *y, int64_t n)
{
    kern_f16_to_f32_row_generic(x, y, n);
}

void kern_quantize_f16_generic(const float *x, void *y, int64_t n)
{
    kern_f32_to_f16_row_generic(x, y, n);
}

void kern_dequant_bf16_generic(const void *x, float *y, int64_t n)
{
    kern_bf16_to_f32_row_generic(x, y, n);
}

void kern_quantize_bf16_generic(const float *x, void *y, int64_t n)
{
    kern_f32_to_bf16_row_generic(x, y, n);
}

/* ---- dots ---- */

static inline float sum_kc(const float *acc)
{
    float s = 0;
    for (int j = 0; j < KC; j++)
        s += acc[j];
    return s;
}

float kern_dot_f32_generic(int64_t n, const float *x, const float *y)
{
    float acc[KC] = {0};
    int64_t i = 0;
    for (; i + KC <= n; i += KC)
        for (int j = 0; j < KC; j++)
            acc[j] += x[i + j] * y[i + j];
    float s = 0;
    for (; i < n; i++)
        s += x[i] * y[i];
    return s + sum_kc(acc);
}

float kern_dot_f32_f16_generic(int64_t n, const float *x, const om_f16 *y)
{
    float acc[KC] = {0}, fy[KC];
    int64_t i = 0;
    for (; i + KC <= n; i += KC) {
        h16_to_f32(y + i, fy);
        for (int j = 0; j < KC; j++)
            acc[j] += x[i + j] * fy[j];
    }
    float s = 0;
    for (; i < n; i++)
        s += x[i] * kern_h2f(y[i]);
    return s + sum_kc(acc);
}

void kern_axpy_f16_generic(int64_t n, float a, const om_f16 *x, float *y)
{
    float fx[KC];
    int64_t i = 0;
    for (; i + KC <= n; i += KC) {
        h16_to_f32(x + i, fx);
        for (int j = 0; j < KC; j++)
            y[i + j] += a * fx[j];
    }
    for (; i < n; i++)
        y[i] += a * kern_h2f(x[i]);
}

void kern_dot_f32_f32_generic(int64_t n, float *s, const void *x, const void *y)
{
    *s = kern_dot_f32_generic(n, x, y);
}

void kern_dot_f16_f16_generic(int64_t n, float *s, const void *x, const void *y)
{
    const om_f16 *a = x, *b = y;
    float acc[KC] = {0}, fa[KC], fb[KC];
    int64_t i = 0;
    for (; i + KC <= n; i += KC) {
        h16_to_f32(a + i, fa);
        h16_to_f32(b + i, fb);
        for (int j = 0; j < KC; j++)
            acc[j] += fa[j] * fb[j];
    }
    float t = 0;
    for (; i < n; i++)
        t += kern_h2f(a[i]) * kern_h2f(b[i]);
    *s = t + sum_kc(acc);
}

void kern_dot_bf16_bf16_generic(int64_t n, float *s, const void *x, const void *y)
{
    const om_bf16 *a = x, *b = y;
    float acc[KC] = {0}, fa[KC], fb[KC];
    int64_t i = 0;
    for (; i + KC <= n; i += KC) {
        b16_to_f32(a + i, fa);
        b16_to_f32(b + i, fb);
        for (int j = 0; j < KC; j++)
            acc[j] += fa[j] * fb[j];
    }
    float t = 0;
    for (; i < n; i++)
        t += b2f(a[i]) * b2f(b[i]);
    *s = t + sum_kc(acc);
}
