/* kernels: generic dot products of the 32-element block formats against
 * their activation formats (Q8_0 for the symmetric ones, Q8_1 for Q4_1/Q5_1,
 * whose stored s = d*sum(q) carries the min term).
 *
 * Each block's integer sum is exact (int32); it is scaled by the two block
 * scales and accumulated in float, block by block, in element order, so the
 * result does not depend on how a caller tiles or threads the matmul. */
#include <assert.h>

#include "kernels/kern_int.h"

static inline uint32_t load_qh(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
           (uint32_t)qh[3] << 24;
}

/* Expands the 5th bits of a Q5 block into 0/16 per element. */
static inline void q5_high(const uint8_t qh4[4], uint8_t hb[32])
{
    uint32_t qh = load_qh(qh4);
    for (int j = 0; j < 32; j++)
        hb[j] = (uint8_t)(((qh >> j) & 1) << 4);
}

void kern_dot_q4_0_q8_0_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % 32 == 0);
    const kern_block_q4_0 *x = vx;
    const kern_block_q8_0 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int8_t q[32];
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((x[i].qs[j] & 0x0f) - 8);
            q[j + 16] = (int8_t)((x[i].qs[j] >> 4) - 8);
        }
        int isum = kern_idot_i8(q, y[i].qs, 32);
        sum += (float)isum * (kern_h2f(x[i].d) * kern_h2f(y[i].d));
    }
    *s = sum;
}

void kern_dot_q4_1_q8_1_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % 32 == 0);
    const kern_block_q4_1 *x = vx;
    const kern_block_q8_1 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int8_t q[32];
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)(x[i].qs[j] & 0x0f);
            q[j + 16] = (int8_t)(x[i].qs[j] >> 4);
        }
        int isum = kern_idot_i8(q, y[i].qs, 32);
        sum += (float)isum * (kern_h2f(x[i].d) * kern_h2f(y[i].d)) +
               kern_h2f(x[i].m) * kern_h2f(y[i].s);
    }
    *s = sum;
}

void kern_dot_q5_0_q8_0_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % 32 == 0);
    const kern_block_q5_0 *x = vx;
    const kern_block_q8_0 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        uint8_t hb[32];
        q5_high(x[i].qh, hb);
        int8_t q[32];
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)(((x[i].qs[j] & 0x0f) | hb[j]) - 16);
            q[j + 16] = (int8_t)(((x[i].qs[j] >> 4) | hb[j + 16]) - 16);
        }
        int isum = kern_idot_i8(q, y[i].qs, 32);
        sum += (float)isum * (kern_h2f(x[i].d) * kern_h2f(y[i].d));
    }
    *s = sum;
}

void kern_dot_q5_1_q8_1_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % 32 == 0);
    const kern_block_q5_1 *x = vx;
    const kern_block_q8_1 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        uint8_t hb[32];
        q5_high(x[i].qh, hb);
        int8_t q[32];
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((x[i].qs[j] & 0x0f) | hb[j]);
            q[j + 16] = (int8_t)((x[i].qs[j] >> 4) | hb[j + 16]);
        }
        int isum = kern_idot_i8(q, y[i].qs, 32);
        sum += (float)isum * (kern_h2f(x[i].d) * kern_h2f(y[i].d)) +
               kern_h2f(x[i].m) * kern_h2f(y[i].s);
    }
    *s = sum;
}

void kern_dot_q8_0_q8_0_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % 32 == 0);
    const kern_block_q8_0 *x = vx;
    const kern_block_q8_0 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int isum = kern_idot_i8(x[i].qs, y[i].qs, 32);
        sum += (float)isum * (kern_h2f(x[i].d) * kern_h2f(y[i].d));
    }
    *s = sum;
}

void kern_dot_iq4_nl_q8_0_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % 32 == 0);
    const kern_block_iq4_nl *x = vx;
    const kern_block_q8_0 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int8_t q[32];
        for (int j = 0; j < 16; j++) {
            q[j] = kern_iq4nl_values[x[i].qs[j] & 0x0f];
            q[j + 16] = kern_iq4nl_values[x[i].qs[j] >> 4];
        }
        int isum = kern_idot_i8(q, y[i].qs, 32);
        sum += (float)isum * (kern_h2f(x[i].d) * kern_h2f(y[i].d));
    }
    *s = sum;
}
