/* kernels: generic dot products of the K-quants against Q8_K activations.
 *
 * Each super-block is first unpacked to 256 small integers in element order
 * (see quants_k.c for the bit layouts), then reduced per scale group in
 * int32. Min terms (Q2_K, Q4_K, Q5_K) use the activation's bsums:
 *   sum_e (d*sc*q_e - dmin*m) * d8*q8_e
 *     = d8 * (d * sum_s sc_s * sum_{e in s} q_e*q8_e - dmin * sum_s m_s * sum_{e in s} q8_e).
 * Unpack loops and group sums are simple fixed-trip loops that gcc can
 * vectorize; the arch/ versions do the real SIMD. */
#include <assert.h>

#include "kernels/kern_int.h"

void kern_dot_q2_K_q8_K_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % OM_QK_K == 0);
    const kern_block_q2_K *x = vx;
    const kern_block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / OM_QK_K; i++) {
        int8_t q[OM_QK_K];
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++)
                    q[128 * h + 32 * j + l] = (int8_t)((x[i].qs[32 * h + l] >> (2 * j)) & 3);
        int isum = 0, msum = 0;
        for (int g = 0; g < 16; g++) {
            isum += (x[i].scales[g] & 0x0f) * kern_idot_i8(q + 16 * g, y[i].qs + 16 * g, 16);
            msum += (x[i].scales[g] >> 4) * y[i].bsums[g];
        }
        sum += y[i].d * (kern_h2f(x[i].d) * (float)isum -
                         kern_h2f(x[i].dmin) * (float)msum);
    }
    *s = sum;
}

void kern_dot_q3_K_q8_K_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % OM_QK_K == 0);
    const kern_block_q3_K *x = vx;
    const kern_block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / OM_QK_K; i++) {
        int8_t q[OM_QK_K], sc[16];
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) {
                    int v = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
                    int hb = (x[i].hmask[l] >> (4 * h + j)) & 1;
                    q[128 * h + 32 * j + l] = (int8_t)(v - 4 + 4 * hb);
                }
        kern_q3k_scales(x[i].scales, sc);
        int isum = 0;
        for (int g = 0; g < 16; g++)
            isum += sc[g] * kern_idot_i8(q + 16 * g, y[i].qs + 16 * g, 16);
        sum += y[i].d * kern_h2f(x[i].d) * (float)isum;
    }
    *s = sum;
}

void kern_dot_q4_K_q8_K_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % OM_QK_K == 0);
    const kern_block_q4_K *x = vx;
    const kern_block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / OM_QK_K; i++) {
        int8_t q[OM_QK_K];
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                q[64 * j + l] = (int8_t)(x[i].qs[32 * j + l] & 0x0f);
                q[64 * j + 32 + l] = (int8_t)(x[i].qs[32 * j + l] >> 4);
            }
        int isum = 0, msum = 0;
        for (int sb = 0; sb < 8; sb++) {
            uint8_t sc, m;
            kern_k4_scale_min(sb, x[i].scales, &sc, &m);
            isum += sc * kern_idot_i8(q + 32 * sb, y[i].qs + 32 * sb, 32);
            msum += m * (y[i].bsums[2 * sb] + y[i].bsums[2 * sb + 1]);
        }
        sum += y[i].d * (kern_h2f(x[i].d) * (float)isum -
                         kern_h2f(x[i].dmin) * (float)msum);
    }
    *s = sum;
}

void kern_dot_q5_K_q8_K_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % OM_QK_K == 0);
    const kern_block_q5_K *x = vx;
    const kern_block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / OM_QK_K; i++) {
        int8_t q[OM_QK_K];
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                int h1 = (x[i].qh[l] >> (2 * j)) & 1, h2 = (x[i].qh[l] >> (2 * j + 1)) & 1;
                q[64 * j + l] = (int8_t)((x[i].qs[32 * j + l] & 0x0f) | h1 << 4);
                q[64 * j + 32 + l] = (int8_t)((x[i].qs[32 * j + l] >> 4) | h2 << 4);
            }
        int isum = 0, msum = 0;
        for (int sb = 0; sb < 8; sb++) {
            uint8_t sc, m;
            kern_k4_scale_min(sb, x[i].scales, &sc, &m);
            isum += sc * kern_idot_i8(q + 32 * sb, y[i].qs + 32 * sb, 32);
            msum += m * (y[i].bsums[2 * sb] + y[i].bsums[2 * sb + 1]);
        }
        sum += y[i].d * (kern_h2f(x[i].d) * (float)isum -
                         kern_h2f(x[i].dmin) * (float)msum);
    }
    *s = sum;
}

void kern_dot_q6_K_q8_K_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % OM_QK_K == 0);
    const kern_block_q6_K *x = vx;
    const kern_block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / OM_QK_K; i++) {
        int8_t q[OM_QK_K];
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
            int8_t *o = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                o[l] = (int8_t)(((ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4) - 32);
                o[l + 32] = (int8_t)(((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32);
                o[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
                o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
            }
        }
        int isum = 0;
        for (int g = 0; g < 16; g++)
            isum += x[i].scales[g] * kern_idot_i8(q + 16 * g, y[i].qs + 16 * g, 16);
        sum += y[i].d * kern_h2f(x[i].d) * (float)isum;
    }
    *s = sum;
}
