/* Shared helpers of the SIMD-vs-generic kernel tests (test_simd*.c): random
 * data, random but well-formed quantized rows, a reference magnitude for the
 * float-summation tolerance, and the ISA loop with its loud skip. */
#ifndef TEST_SIMD_UTIL_H
#define TEST_SIMD_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kern.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;

static inline uint32_t rnd_u32(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

/* Uniform in [-1, 1). */
static inline float rnd_f(void)
{
    return (float)(rnd_u32() & 0xffffff) / (float)0x800000 - 1.0f;
}

/* Floats with a per-32 scale varying over 4 orders of magnitude and a few
 * outliers, like activations and weights. */
static inline void rnd_floats(float *x, int64_t n)
{
    float scale = 1.0f;
    for (int64_t i = 0; i < n; i++) {
        if (i % 32 == 0)
            scale = powf(10.0f, 2.0f * rnd_f());
        x[i] = scale * rnd_f();
        if (rnd_u32() % 97 == 0)
            x[i] *= 8.0f;
    }
}

static inline int quick_mode(void)
{
    const char *q = getenv("OM_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

static inline int64_t blck_of(uint32_t t)
{
    return om_type_get(t)->blck;
}

/* Random half in a sane range (normal, positive and negative). */
static inline om_f16 rnd_half(float scale)
{
    return kern_f32_to_f16(scale * (0.1f + fabsf(rnd_f())) * (rnd_u32() & 1 ? 1.0f : -1.0f));
}

/* Fills nb blocks of weight type t with random bytes, then rewrites the
 * half-precision scale fields to finite values: every bit pattern of the
 * quants is exercised, not only what a quantizer produces. */
static inline void rnd_weight_blocks(uint32_t t, void *buf, int64_t n)
{
    size_t bytes = om_type_row_size(t, n);
    uint8_t *p = buf;
    for (size_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)rnd_u32();
    int64_t nb = n / blck_of(t);
    for (int64_t i = 0; i < nb; i++) {
        switch (t) {
        case OM_TYPE_Q4_0: ((kern_block_q4_0 *)buf)[i].d = rnd_half(0.01f); break;
        case OM_TYPE_Q4_1:
            ((kern_block_q4_1 *)buf)[i].d = rnd_half(0.01f);
            ((kern_block_q4_1 *)buf)[i].m = rnd_half(0.05f);
            break;
        case OM_TYPE_Q5_0: ((kern_block_q5_0 *)buf)[i].d = rnd_half(0.01f); break;
        case OM_TYPE_Q5_1:
            ((kern_block_q5_1 *)buf)[i].d = rnd_half(0.01f);
            ((kern_block_q5_1 *)buf)[i].m = rnd_half(0.05f);
            break;
        case OM_TYPE_Q8_0: ((kern_block_q8_0 *)buf)[i].d = rnd_half(0.01f); break;
        case OM_TYPE_IQ4_NL: ((kern_block_iq4_nl *)buf)[i].d = rnd_half(0.01f); break;
        case OM_TYPE_Q2_K:
            ((kern_block_q2_K *)buf)[i].d = rnd_half(0.01f);
            ((kern_block_q2_K *)buf)[i].dmin = rnd_half(0.01f);
            break;
        case OM_TYPE_Q3_K: ((kern_block_q3_K *)buf)[i].d = rnd_half(0.01f); break;
        case OM_TYPE_Q4_K:
            ((kern_block_q4_K *)buf)[i].d = rnd_half(0.01f);
            ((kern_block_q4_K *)buf)[i].dmin = rnd_half(0.01f);
            break;
        case OM_TYPE_Q5_K:
            ((kern_block_q5_K *)buf)[i].d = rnd_half(0.01f);
            ((kern_block_q5_K *)buf)[i].dmin = rnd_half(0.01f);
            break;
        case OM_TYPE_Q6_K: ((kern_block_q6_K *)buf)[i].d = rnd_half(0.01f); break;
        case OM_TYPE_F16:
            for (int64_t j = 0; j < n; j++)
                ((om_f16 *)buf)[j] = kern_f32_to_f16(rnd_f());
            return;
        case OM_TYPE_BF16:
            for (int64_t j = 0; j < n; j++)
                ((om_bf16 *)buf)[j] = kern_f32_to_bf16(rnd_f());
            return;
        case OM_TYPE_F32:
            for (int64_t j = 0; j < n; j++)
                ((float *)buf)[j] = rnd_f();
            return;
        default: break;
        }
    }
}

/* Activation row -> floats (for the tolerance only). */
static inline void act_to_float(uint32_t t, const void *buf, float *y, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        switch (t) {
        case OM_TYPE_Q8_0: {
            const kern_block_q8_0 *b = (const kern_block_q8_0 *)buf + j / 32;
            y[j] = kern_f16_to_f32(b->d) * b->qs[j % 32];
            break;
        }
        case OM_TYPE_Q8_1: {
            const kern_block_q8_1 *b = (const kern_block_q8_1 *)buf + j / 32;
            y[j] = kern_f16_to_f32(b->d) * b->qs[j % 32];
            break;
        }
        case OM_TYPE_Q8_K: {
            const kern_block_q8_K *b = (const kern_block_q8_K *)buf + j / 256;
            y[j] = b->d * b->qs[j % 256];
            break;
        }
        case OM_TYPE_F16: y[j] = kern_f16_to_f32(((const om_f16 *)buf)[j]); break;
        case OM_TYPE_BF16: y[j] = kern_bf16_to_f32(((const om_bf16 *)buf)[j]); break;
        default: y[j] = ((const float *)buf)[j]; break;
        }
    }
}

/* Σ|x_j*y_j| in double: the scale of the float rounding of any dot order. */
static inline double abs_dot(const float *x, const float *y, int64_t n)
{
    double s = 0;
    for (int64_t j = 0; j < n; j++)
        s += fabs((double)x[j] * (double)y[j]);
    return s;
}

static const char *const g_isa_names[] = {"generic", "avx2", "avx512"};

/* The table of isa, or NULL after printing a loud SKIP line. */
static inline const struct kern_ops *isa_table(enum kern_isa isa)
{
    const struct kern_ops *ops = kern_ops_for(isa);
    if (!ops)
        fprintf(stderr, "SKIP: this CPU cannot run the %s kernels; their tests did not run\n",
                g_isa_names[isa]);
    return ops;
}

#endif
