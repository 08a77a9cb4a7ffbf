/* kernels: private declarations shared by the kernel files, the arch
 * installers and the kernel tests. Every `_generic` kernel is declared here
 * so that SIMD twins can fall back to it and tests can compare against it.
 *
 * Naming: kern_dequant_<t>_generic (to_float), kern_quantize_<t>_generic
 * (from_float), kern_dot_<w>_<a>_generic (vec_dot of weight type w against
 * activation type a). All take element counts that are multiples of the
 * type's block size. */
#ifndef KERN_INT_H
#define KERN_INT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kern.h"

/* Nearest integer, ties to even, for |f| < 2^22 (adds 1.5*2^23 so that the
 * float's mantissa holds the rounded value). No libm call, vectorizes. */
static inline int kern_nearest_int(float f)
{
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof(i));
    return (i & 0x007fffff) - 0x00400000;
}

/* Sum of a[e]*b[e] over n int8 elements in int32; with a constant n gcc
 * vectorizes it (widening multiply-add). */
static inline int kern_idot_i8(const int8_t *a, const int8_t *b, int n)
{
    int s = 0;
    for (int e = 0; e < n; e++)
        s += a[e] * b[e];
    return s;
}

/* max |x[e]| over n elements, n a multiple of 8; eight lanes so that gcc -O2
 * vectorizes it (NaNs are ignored). */
static inline float kern_amax(const float *x, int n)
{
    float m[8] = {0};
    for (int e = 0; e < n; e += 8)
        for (int l = 0; l < 8; l++) {
            float a = fabsf(x[e + l]);
            m[l] = a > m[l] ? a : m[l];
        }
    float r = 0;
    for (int l = 0; l < 8; l++)
        r = m[l] > r ? m[l] : r;
    return r;
}

/* ---- half precision ----
 * kern_h2f: kern_f16_to_f32 inlined. Branch-free so that row loops
 * vectorize: normals (and inf/nan, whose exponent is then forced to all
 * ones) are a rebias of the exponent field; subnormals are man * 2^-24, an
 * exact int->float conversion. */
static inline float kern_h2f(om_f16 h)
{
    uint32_t e = h & 0x7c00u;
    uint32_t rn = ((uint32_t)(h & 0x7fffu) << 13) + (112u << 23);
    rn |= (0u - (uint32_t)(e == 0x7c00u)) & 0x7f800000u;
    float fs = (float)(int32_t)(h & 0x3ffu) * 0x1p-24f;
    uint32_t rs;
    memcpy(&rs, &fs, sizeof(rs));
    uint32_t sub = 0u - (uint32_t)(e == 0); /* all ones for zero/subnormal */
    uint32_t r = (rs & sub) | (rn & ~sub) | (uint32_t)(h & 0x8000u) << 16;
    float f;
    memcpy(&f, &r, sizeof(f));
    return f;
}

void kern_f16_to_f32_row_generic(const om_f16 *x, float *y, int64_t n);
void kern_f32_to_f16_row_generic(const float *x, om_f16 *y, int64_t n);
void kern_bf16_to_f32_row_generic(const om_bf16 *x, float *y, int64_t n);
void kern_f32_to_bf16_row_generic(const float *x, om_bf16 *y, int64_t n);

/* ---- float types (to_float / from_float / vec_dot) ---- */
void kern_dequant_f32_generic(const void *x, float *y, int64_t n);
void kern_quantize_f32_generic(const float *x, void *y, int64_t n);
void kern_dequant_f16_generic(const void *x, float *y, int64_t n);
void kern_quantize_f16_generic(const float *x, void *y, int64_t n);
void kern_dequant_bf16_generic(const void *x, float *y, int64_t n);
void kern_quantize_bf16_generic(const float *x, void *y, int64_t n);
void kern_dot_f32_f32_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_f16_f16_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_bf16_bf16_generic(int64_t n, float *s, const void *x, const void *y);

/* attention-path helpers (struct kern_ops float helpers) */
float kern_dot_f32_f16_generic(int64_t n, const float *x, const om_f16 *y);
void kern_axpy_f16_generic(int64_t n, float a, const om_f16 *x, float *y);
float kern_dot_f32_generic(int64_t n, const float *x, const float *y);

/* ---- legacy 32-element blocks ---- */
void kern_dequant_q4_0_generic(const void *x, float *y, int64_t n);
void kern_dequant_q4_1_generic(const void *x, float *y, int64_t n);
void kern_dequant_q5_0_generic(const void *x, float *y, int64_t n);
void kern_dequant_q5_1_generic(const void *x, float *y, int64_t n);
void kern_dequant_q8_0_generic(const void *x, float *y, int64_t n);
void kern_dequant_q8_1_generic(const void *x, float *y, int64_t n);
void kern_dequant_iq4_nl_generic(const void *x, float *y, int64_t n);
void kern_dequant_iq4_xs_generic(const void *x, float *y, int64_t n);
void kern_quantize_q4_0_generic(const float *x, void *y, int64_t n);
void kern_quantize_q4_1_generic(const float *x, void *y, int64_t n);
void kern_quantize_q5_0_generic(const float *x, void *y, int64_t n);
void kern_quantize_q5_1_generic(const float *x, void *y, int64_t n);
void kern_quantize_q8_0_generic(const float *x, void *y, int64_t n);
void kern_quantize_q8_1_generic(const float *x, void *y, int64_t n);
void kern_quantize_iq4_nl_generic(const float *x, void *y, int64_t n);
void kern_quantize_iq4_xs_generic(const float *x, void *y, int64_t n);
void kern_dot_q4_0_q8_0_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q4_1_q8_1_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q5_0_q8_0_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q5_1_q8_1_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q8_0_q8_0_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_iq4_nl_q8_0_generic(int64_t n, float *s, const void *x, const void *y);

/* The 16 values of IQ4_NL (GGUF's table), indexed by the 4-bit code. */
extern const int8_t kern_iq4nl_values[16];

/* ---- K-quants: 256-element super-blocks ---- */
void kern_dequant_q2_K_generic(const void *x, float *y, int64_t n);
void kern_dequant_q3_K_generic(const void *x, float *y, int64_t n);
void kern_dequant_q4_K_generic(const void *x, float *y, int64_t n);
void kern_dequant_q5_K_generic(const void *x, float *y, int64_t n);
void kern_dequant_q6_K_generic(const void *x, float *y, int64_t n);
void kern_dequant_q8_K_generic(const void *x, float *y, int64_t n);
void kern_quantize_q2_K_generic(const float *x, void *y, int64_t n);
void kern_quantize_q3_K_generic(const float *x, void *y, int64_t n);
void kern_quantize_q4_K_generic(const float *x, void *y, int64_t n);
void kern_quantize_q5_K_generic(const float *x, void *y, int64_t n);
void kern_quantize_q6_K_generic(const float *x, void *y, int64_t n);
void kern_quantize_q8_K_generic(const float *x, void *y, int64_t n);
void kern_dot_q2_K_q8_K_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q3_K_q8_K_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q4_K_q8_K_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q5_K_q8_K_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_q6_K_q8_K_generic(int64_t n, float *s, const void *x, const void *y);
void kern_dot_iq4_xs_q8_K_generic(int64_t n, float *s, const void *x, const void *y);

/* Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K
 * super-block from its 12 packed bytes. */
static inline void kern_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Unpacks the 16 signed 6-bit scales of a Q3_K super-block (value - 32). */
static inline void kern_q3k_scales(const uint8_t *packed, int8_t *out)
{
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? packed[j] & 0x0f : packed[j - 8] >> 4;
        int hi = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

#endif
