/* kernels: the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1,
 * IQ4_NL): quantization from float and dequantization to float.
 *
 * Layout (GGUF): element j of a block, j < 16, is the low nibble of qs[j];
 * element j + 16 is the high nibble of qs[j]. The 5th bit of the Q5 formats
 * is bit j of qh read as a little-endian 32-bit word (element j, 0..31).
 * Q4_0/Q5_0/Q8_0: x = d * (q - offset); Q4_1/Q5_1: x = d * q + m;
 * IQ4_NL: x = d * values[q]. Scales are stored as IEEE half. */
#include <assert.h>
#include <float.h>

#include "kernels/kern_int.h"

const int8_t kern_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                      1,    13,   25,  38,  53,  69,  89,  113};

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
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
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
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
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

/* ---- IQ4_NL: scale search over the non-linear grid ---- */

static int iq4nl_best_index(float v)
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

/* Weighted least squares: for each candidate inverse scale, pick the nearest
 * grid value per element, then the optimal d = sum(w q x) / sum(w q q). The
 * weights x^2 favour large elements, which dominate the dot products. */
void kern_quantize_iq4_nl_generic(const float *x, void *vy, int64_t n)
{
    kern_block_iq4_nl *y = vy;
    const int8_t *t = kern_iq4nl_values;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float max = block_absmax_signed(x, 32);
        memset(y[i].qs, 0, sizeof(y[i].qs));
        if (fabsf(max) < 1e-15f) {
            y[i].d = 0;
            continue;
        }
        float w[32];
        for (int j = 0; j < 32; j++)
            w[j] = x[j] * x[j];
        float best_d = max / t[0], best = -1.0f;
        /* candidates: max mapped to +127 (clipped to the grid's 113), then
         * max mapped near the grid's -127 end */
        for (int itry = -8; itry <= 7; itry++) {
            float id = itry == -8 ? -t[0] / max : (itry + t[0]) / max;
            float sqx = 0, sq2 = 0;
            for (int j = 0; j < 32; j++) {
                float q = t[iq4nl_best_index(id * x[j])];
                sqx += w[j] * q * x[j];
                sq2 += w[j] * q * q;
            }
            if (sq2 > 0 && (best < 0 || sqx * sqx > best * sq2)) {
                best_d = sqx / sq2;
                best = best_d * sqx;
            }
        }
        y[i].d = kern_f32_to_f16(best_d);
        float dq = kern_h2f(y[i].d);
        float id = dq ? 1.0f / dq : 0.0f;
        for (int j = 0; j < 16; j++) {
            int a = iq4nl_best_index(id * x[j]);
            int b = iq4nl_best_index(id * x[j + 16]);
            y[i].qs[j] = (uint8_t)(a | b << 4);
        }
    }
}
