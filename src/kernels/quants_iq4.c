/* kernels: the non-linear 4-bit formats IQ4_NL (32-element blocks, one f16
 * scale) and IQ4_XS (256-element super-blocks, 8 sub-blocks of 32 with 6-bit
 * scales): quantization, dequantization, and IQ4_XS's dot with Q8_K
 * (IQ4_NL's dot with Q8_0 is in dot_generic.c).
 *
 * Codes index GGUF's 16-value table (kern_iq4nl_values). Within 32 elements,
 * element j < 16 is the low nibble of qs[j], element j + 16 the high nibble.
 * IQ4_XS sub-block ib has scale ls - 32, ls = low nibble (ib even) or high
 * nibble (ib odd) of scales_l[ib/2], plus bits 2ib..2ib+1 of scales_h as its
 * bits 4..5; x = d * (ls - 32) * values[q]. */
#include <assert.h>

#include "kernels/kern_int.h"

const int8_t kern_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                      1,    13,   25,  38,  53,  69,  89,  113};

static int best_index(float v)
{
    const int8_t *t = kern_iq4nl_values;
    if (v <= t[0])
        return 0;
    if (v >= t[15])
        return 15;
    int lo = 0, hi = 15; /* binary search for t[lo] <= v < t[hi], hi = lo + 1 */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (v < t[mid])
            hi = mid;
        else
            lo = mid;
    }
    return v - t[lo] < t[hi] - v ? lo : hi;
}

/* Scale of one 32-element group by weighted least squares: for each
 * candidate inverse scale pick the nearest grid value per element, then the
 * optimal d = sum(w q x) / sum(w q q); keep the best. Weights x^2 favour the
 * large elements, which dominate the dot products. Returns 0 for a zero
 * group. */
static float fit_group(const float *x)
{
    const int8_t *t = kern_iq4nl_values;
    float amax = 0, max = 0, w[32];
    for (int j = 0; j < 32; j++) {
        w[j] = x[j] * x[j];
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    if (amax < 1e-15f)
        return 0;
    float best_d = max / t[0], best = -1.0f;
    /* candidates: max mapped to +127 (clipped to the grid's 113), then max
     * mapped near the grid's -127 end */
    for (int itry = -8; itry <= 7; itry++) {
        float id = itry == -8 ? -t[0] / max : (itry + t[0]) / max;
        float sqx = 0, sq2 = 0;
        for (int j = 0; j < 32; j++) {
            float q = t[best_index(id * x[j])];
            sqx += w[j] * q * x[j];
            sq2 += w[j] * q * q;
        }
        if (sq2 > 0 && (best < 0 || sqx * sqx > best * sq2)) {
            best_d = sqx / sq2;
            best = best_d * sqx;
        }
    }
    return best_d;
}

static void pack_group(const float *x, float d, uint8_t qs[16])
{
    float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(best_index(id * x[j]) | best_index(id * x[j + 16]) << 4);
}

void kern_dequant_iq4_nl_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_iq4_nl *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        float d = kern_h2f(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * kern_iq4nl_values[x[i].qs[j] & 0x0f];
            y[j + 16] = d * kern_iq4nl_values[x[i].qs[j] >> 4];
        }
    }
}

void kern_quantize_iq4_nl_generic(const float *x, void *vy, int64_t n)
{
    kern_block_iq4_nl *y = vy;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        y[i].d = kern_f32_to_f16(fit_group(x));
        pack_group(x, kern_h2f(y[i].d), y[i].qs);
    }
}

static inline int iq4xs_scale(const kern_block_iq4_xs *b, int ib)
{
    int lo = (b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
    int hi = (b->scales_h >> (2 * ib)) & 3;
    return (lo | hi << 4) - 32;
}

void kern_dequant_iq4_xs_generic(const void *vx, float *y, int64_t n)
{
    const kern_block_iq4_xs *x = vx;
    for (int64_t i = 0; i < n / OM_QK_K; i++) {
        float d = kern_h2f(x[i].d);
        for (int ib = 0; ib < 8; ib++, y += 32) {
            float dl = d * iq4xs_scale(&x[i], ib);
            const uint8_t *qs = x[i].qs + 16 * ib;
            for (int j = 0; j < 16; j++) {
                y[j] = dl * kern_iq4nl_values[qs[j] & 0x0f];
                y[j + 16] = dl * kern_iq4nl_values[qs[j] >> 4];
            }
        }
    }
}

/* Group scales are fitted as for IQ4_NL, then quantized to 6 bits against
 * d = -max/32 (the largest-magnitude scale lands on -32, the code without a
 * positive twin); elements are re-quantized against the decoded scales. */
void kern_quantize_iq4_xs_generic(const float *x, void *vy, int64_t n)
{
    kern_block_iq4_xs *y = vy;
    for (int64_t i = 0; i < n / OM_QK_K; i++, x += OM_QK_K) {
        float sc[8], amax = 0, max = 0;
        for (int ib = 0; ib < 8; ib++) {
            sc[ib] = fit_group(x + 32 * ib);
            if (fabsf(sc[ib]) > amax) {
                amax = fabsf(sc[ib]);
                max = sc[ib];
            }
        }
        y[i].d = kern_f32_to_f16(-max / 32);
        float d = kern_h2f(y[i].d), id = d != 0 ? 1.0f / d : 0.0f;
        uint16_t sh = 0;
        memset(y[i].scales_l, 0, sizeof(y[i].scales_l));
        for (int ib = 0; ib < 8; ib++) {
            int l = kern_nearest_int(id * sc[ib]);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            pack_group(x + 32 * ib, d * l, y[i].qs + 16 * ib);
            l += 32;
            y[i].scales_l[ib / 2] |= (uint8_t)((l & 0x0f) << (4 * (ib % 2)));
            sh |= (uint16_t)((l >> 4) << (2 * ib));
        }
        y[i].scales_h = sh;
    }
}

void kern_dot_iq4_xs_q8_K_generic(int64_t n, float *s, const void *vx, const void *vy)
{
    assert(n % OM_QK_K == 0);
    const kern_block_iq4_xs *x = vx;
    const kern_block_q8_K *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / OM_QK_K; i++) {
        int total = 0;
        for (int ib = 0; ib < 8; ib++) {
            int8_t q[32];
            const uint8_t *qs = x[i].qs + 16 * ib;
            for (int j = 0; j < 16; j++) {
                q[j] = kern_iq4nl_values[qs[j] & 0x0f];
                q[j + 16] = kern_iq4nl_values[qs[j] >> 4];
            }
            total += iq4xs_scale(&x[i], ib) * kern_idot_i8(q, y[i].qs + 32 * ib, 32);
        }
        sum += kern_h2f(x[i].d) * y[i].d * (float)total;
    }
    *s = sum;
}
