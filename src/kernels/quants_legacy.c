/* kernels: the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
 * Q8_1): quantization from float and dequantization to float (IQ4_NL is in
 * quants_iq4.c).
 *
 * Layout (GGUF): element j of a block, j < 16, is the low nibble of qs[j];
 * element j + 16 is the high nibble of qs[j]. The 5th bit of the Q5 formats
 * is bit j of qh read as a little-endian 32-bit word (element j, 0..31).
 * Q4_0/Q5_0/Q8_0: x = d * (q - offset); Q4_1/Q5_1: x = d * q + m.
 * Scales are stored as IEEE half. */
#include <assert.h>
#include <float.h>

#include "kernels/kern_int.h"

static inline uint32_t load_qh(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
           (uint32_t)qh[3] << 24;
}

static inline void store_qh(uint8_t qh[4], uint32_t v)
{
    for (int i = 0; i < 4; i++)
        qh[i] = (uint8_t)(v >> (8 * i));
}

/* ---- dequantization ---- */

void kern_dequant_q4_0_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        float d = kern_h2f(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * ((x[i].qs[j] & 0x0f) - 8);
            y[j + 16] = d * ((x[i].qs[j] >> 4) - 8);
        }
    }
}

void kern_dequant_q4_1_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q4_1 *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        float d = kern_h2f(x[i].d), m = kern_h2f(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (x[i].qs[j] & 0x0f) + m;
            y[j + 16] = d * (x[i].qs[j] >> 4) + m;
        }
    }
}

void kern_dequant_q5_0_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q5_0 *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        float d = kern_h2f(x[i].d);
        uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            int lo = (x[i].qs[j] & 0x0f) | (int)((qh >> j) & 1) << 4;
            int hi = (x[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = d * (lo - 16);
            y[j + 16] = d * (hi - 16);
        }
    }
}

void kern_dequant_q5_1_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q5_1 *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        float d = kern_h2f(x[i].d), m = kern_h2f(x[i].m);
        uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            int lo = (x[i].qs[j] & 0x0f) | (int)((qh >> j) & 1) << 4;
            int hi = (x[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = d * lo + m;
            y[j + 16] = d * hi + m;
        }
    }
}

void kern_dequant_q8_0_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        float d = kern_h2f(x[i].d);
        for (int j = 0; j < 32; j++)
            y[j] = d * x[i].qs[j];
    }
}

void kern_dequant_q8_1_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q8_1 *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        float d = kern_h2f(x[i].d);
        for (int j = 0; j < 32; j++)
            y[j] = d * x[i].qs[j];
    }
}

/* ---- quantization ----
 * Symmetric formats take the element of largest magnitude as -2^(bits-1)
 * (the one code with no positive twin), as ggml's reference does, so a
 * block's extreme is exact. */

static float block_absmax_signed(const float *x, int n)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void block_minmax(const float *x, int n, float *mn, float *mx)
{
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        lo = x[j] < lo ? x[j] : lo;
        hi = x[j] > hi ? x[j] : hi;
    }
    *mn = lo;
    *mx = hi;
}

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void kern_quantize_q4_0_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q4_0 *y = vy;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float max = block_absmax_signed(x, 32);
        float d = max / -8, id = d ? 1.0f / d : 0.0f;
        y[i].d = kern_f32_to_f16(d);
        for (int j = 0; j < 16; j++) {
            int a = clampi(kern_nearest_int(x[j] * id) + 8, 0, 15);
            int b = clampi(kern_nearest_int(x[j + 16] * id) + 8, 0, 15);
            y[i].qs[j] = (uint8_t)(a | b << 4);
        }
    }
}

void kern_quantize_q4_1_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q4_1 *y = vy;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float mn, mx;
        block_minmax(x, 32, &mn, &mx);
        float d = (mx - mn) / 15, id = d ? 1.0f / d : 0.0f;
        y[i].d = kern_f32_to_f16(d);
        y[i].m = kern_f32_to_f16(mn);
        for (int j = 0; j < 16; j++) {
            int a = clampi(kern_nearest_int((x[j] - mn) * id), 0, 15);
            int b = clampi(kern_nearest_int((x[j + 16] - mn) * id), 0, 15);
            y[i].qs[j] = (uint8_t)(a | b << 4);
        }
    }
}

void kern_quantize_q5_0_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q5_0 *y = vy;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float max = block_absmax_signed(x, 32);
        float d = max / -16, id = d ? 1.0f / d : 0.0f;
        y[i].d = kern_f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int a = clampi(kern_nearest_int(x[j] * id) + 16, 0, 31);
            int b = clampi(kern_nearest_int(x[j + 16] * id) + 16, 0, 31);
            y[i].qs[j] = (uint8_t)((a & 0x0f) | (b & 0x0f) << 4);
            qh |= (uint32_t)(a >> 4) << j | (uint32_t)(b >> 4) << (j + 16);
        }
        store_qh(y[i].qh, qh);
    }
}

void kern_quantize_q5_1_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q5_1 *y = vy;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float mn, mx;
        block_minmax(x, 32, &mn, &mx);
        float d = (mx - mn) / 31, id = d ? 1.0f / d : 0.0f;
        y[i].d = kern_f32_to_f16(d);
        y[i].m = kern_f32_to_f16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int a = clampi(kern_nearest_int((x[j] - mn) * id), 0, 31);
            int b = clampi(kern_nearest_int((x[j + 16] - mn) * id), 0, 31);
            y[i].qs[j] = (uint8_t)((a & 0x0f) | (b & 0x0f) << 4);
            qh |= (uint32_t)(a >> 4) << j | (uint32_t)(b >> 4) << (j + 16);
        }
        store_qh(y[i].qh, qh);
    }
}

/* Activation quantizer (runs for every matmul): amax/127 scale, no search. */
void kern_quantize_q8_0_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = kern_amax(x, 32);
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        y[i].d = kern_f32_to_f16(d);
        for (int j = 0; j < 32; j++)
            y[i].qs[j] = (int8_t)kern_nearest_int(x[j] * id);
    }
}

void kern_quantize_q8_1_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = kern_amax(x, 32);
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = kern_nearest_int(x[j] * id);
            y[i].qs[j] = (int8_t)q;
            sum += q;
        }
        y[i].d = kern_f32_to_f16(d);
        y[i].s = kern_f32_to_f16(d * (float)sum);
    }
}
