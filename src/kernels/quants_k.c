/* kernels: dequantization of the K-quants (256-element super-blocks) and the
 * Q8_K activation format.
 *
 * Element order inside a super-block (GGUF / ggml layout):
 *  Q2_K, Q3_K: element e = 128*h + 32*j + l (h 0..1, j 0..3, l 0..31) holds
 *    bits 2j..2j+1 of qs[32*h + l]; Q3_K's third bit is bit (4*h + j) of
 *    hmask[l], set meaning "no -4". Sub-block scale index: e / 16.
 *    Q2_K scales[s]: low nibble scale, high nibble min; x = d*sc*q - dmin*m.
 *    Q3_K scales: 16 6-bit values packed in 12 bytes (low nibbles in bytes
 *    0..7, high 2 bits in bytes 8..11), stored +32; x = d*(sc-32)*q.
 *  Q4_K, Q5_K: element e = 64*j + l (l < 32) is the low nibble of
 *    qs[32*j + l], element 64*j + 32 + l its high nibble; sub-block s = e/32
 *    has a 6-bit scale and min (kern_k4_scale_min); x = d*sc*q - dmin*m.
 *    Q5_K's 5th bit of e = 64*j + 32*u + l is bit (2*j + u) of qh[l].
 *  Q6_K: element e = 128*h + 32*j + l: low 4 bits from ql[64*h + l] (j 0,2)
 *    or ql[64*h + 32 + l] (j 1,3), low nibble for j < 2, high for j >= 2;
 *    high 2 bits are bits 2j..2j+1 of qh[32*h + l]; x = d*scales[e/16]*(q-32).
 *  Q8_K: x = d*qs, d a float; bsums[g] = sum of qs[16g..16g+15]. */
#include <assert.h>

#include "kernels/kern_int.h"

void kern_dequant_q2_K_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q2_K *x = vx;
    for (int64_t i = 0; i < n / OM_QK_K; i++, y += OM_QK_K) {
        float d = kern_h2f(x[i].d), dmin = kern_h2f(x[i].dmin);
        for (int e = 0; e < OM_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            int q = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
            uint8_t sc = x[i].scales[e / 16];
            y[e] = d * (sc & 0x0f) * q - dmin * (sc >> 4);
        }
    }
}

void kern_dequant_q3_K_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q3_K *x = vx;
    for (int64_t i = 0; i < n / OM_QK_K; i++, y += OM_QK_K) {
        float d = kern_h2f(x[i].d);
        int8_t sc[16];
        kern_q3k_scales(x[i].scales, sc);
        for (int e = 0; e < OM_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            int q = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
            if (!((x[i].hmask[l] >> (4 * h + j)) & 1))
                q -= 4;
            y[e] = d * sc[e / 16] * q;
        }
    }
}

void kern_dequant_q4_K_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q4_K *x = vx;
    for (int64_t i = 0; i < n / OM_QK_K; i++, y += OM_QK_K) {
        float d = kern_h2f(x[i].d), dmin = kern_h2f(x[i].dmin);
        for (int j = 0; j < 4; j++) {
            uint8_t sc, m;
            const uint8_t *q = x[i].qs + 32 * j;
            kern_k4_scale_min(2 * j, x[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            kern_k4_scale_min(2 * j + 1, x[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) {
                y[64 * j + l] = d1 * (q[l] & 0x0f) - m1;
                y[64 * j + 32 + l] = d2 * (q[l] >> 4) - m2;
            }
        }
    }
}

void kern_dequant_q5_K_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q5_K *x = vx;
    for (int64_t i = 0; i < n / OM_QK_K; i++, y += OM_QK_K) {
        float d = kern_h2f(x[i].d), dmin = kern_h2f(x[i].dmin);
        for (int j = 0; j < 4; j++) {
            uint8_t sc, m;
            const uint8_t *q = x[i].qs + 32 * j;
            kern_k4_scale_min(2 * j, x[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            kern_k4_scale_min(2 * j + 1, x[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) {
                int h1 = (x[i].qh[l] >> (2 * j)) & 1, h2 = (x[i].qh[l] >> (2 * j + 1)) & 1;
                y[64 * j + l] = d1 * ((q[l] & 0x0f) | h1 << 4) - m1;
                y[64 * j + 32 + l] = d2 * ((q[l] >> 4) | h2 << 4) - m2;
            }
        }
    }
}

void kern_dequant_q6_K_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q6_K *x = vx;
    for (int64_t i = 0; i < n / OM_QK_K; i++, y += OM_QK_K) {
        float d = kern_h2f(x[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                int q1 = ((ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4) - 32;
                int q2 = ((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32;
                int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                int e = 128 * h + l;
                y[e] = d * x[i].scales[e / 16] * q1;
                y[e + 32] = d * x[i].scales[(e + 32) / 16] * q2;
                y[e + 64] = d * x[i].scales[(e + 64) / 16] * q3;
                y[e + 96] = d * x[i].scales[(e + 96) / 16] * q4;
            }
        }
    }
}

void kern_dequant_q8_K_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_q8_K *x = vx;
    for (int64_t i = 0; i < n / OM_QK_K; i++, y += OM_QK_K)
        for (int e = 0; e < OM_QK_K; e++)
            y[e] = x[i].d * x[i].qs[e];
}

/* Activation quantizer for the K-quant dots (runs for every matmul): scale
 * amax/127 so codes stay in [-127, 127], plus the 16-element sums that the
 * dots use for their min / offset terms. */
void kern_quantize_q8_K_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q8_K *y = vy;
    for (int64_t i = 0; i < n / OM_QK_K; i++, x += OM_QK_K) {
        float amax = kern_amax(x, OM_QK_K);
        float d = amax / 127, id = amax ? 127 / amax : 0.0f;
        y[i].d = d;
        for (int e = 0; e < OM_QK_K; e++)
            y[i].qs[e] = (int8_t)kern_nearest_int(x[e] * id);
        for (int g = 0; g < OM_QK_K / 16; g++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += y[i].qs[16 * g + l];
            y[i].bsums[g] = (int16_t)s;
        }
    }
}
