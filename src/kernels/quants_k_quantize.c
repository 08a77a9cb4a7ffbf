/* kernels: K-quant quantizers (weights; quality over speed).
 *
 * Two levels of scales, as GGUF's K-quants define them: each sub-block
 * (16 or 32 elements) gets its own scale (and min) chosen by a search, then
 * those are themselves quantized to 4/6/8 bits against one super-block scale,
 * and finally the elements are re-quantized against the scale that will
 * actually be decoded. The searches:
 *  - asymmetric (Q2_K, Q4_K, Q5_K): weighted least squares fit of x ~ s*L+m
 *    over a sweep of candidate inverse scales (min clipped to <= 0);
 *  - symmetric (Q6_K): sweep of candidate scales around -nmax/max, keeping
 *    the one with the best weighted sum(x*l)^2/sum(l*l);
 *  - Q3_K: a few passes of coordinate descent on each element's level.
 * Bit packing follows the layouts documented in quants_k.c. */
#include <assert.h>

#include "kernels/kern_int.h"

#define EPS_ZERO 1e-15f

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Asymmetric fit: x[i] ~ scale * L[i] - min_out, L in [0, nmax]. Returns
 * scale (>= 0); *min_out >= 0. w: per-element error weights. */
static float fit_asym(int n, int nmax, const float *x, const float *w, uint8_t *L, float *min_out,
                      float rmin, float rdelta, int nstep, int use_mad)
{
    float mn = x[0], mx = x[0], sum_w = 0, sum_x = 0;
    for (int i = 0; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0)
        mn = 0;
    if (mx == mn) {
        memset(L, 0, (size_t)n);
        *min_out = -mn;
        return 0;
    }
    float iscale = nmax / (mx - mn), scale = 1 / iscale, best_err = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(kern_nearest_int(iscale * (x[i] - mn)), 0, nmax);
        float diff = scale * L[i] + mn - x[i];
        best_err += w[i] * (use_mad ? fabsf(diff) : diff * diff);
    }
    uint8_t aux[32];
    assert(n <= 32);
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (mx - mn);
        float sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(kern_nearest_int(iscale * (x[i] - mn)), 0, nmax);
            aux[i] = (uint8_t)l;
            sl += w[i] * l;
            sl2 += w[i] * l * l;
            sxl += w[i] * l * x[i];
        }
        float det = sum_w * sl2 - sl * sl;
        if (det <= 0)
            continue;
        float s = (sum_w * sxl - sum_x * sl) / det;
        float m = (sl2 * sum_x - sl * sxl) / det;
        if (m > 0) { /* the format can only subtract: refit without offset */
            m = 0;
            s = sxl / sl2;
        }
        float err = 0;
        for (int i = 0; i < n; i++) {
            float diff = s * aux[i] + m - x[i];
            err += w[i] * (use_mad ? fabsf(diff) : diff * diff);
        }
        if (err < best_err) {
            memcpy(L, aux, (size_t)n);
            best_err = err;
            scale = s;
            mn = m;
        }
    }
    *min_out = -mn;
    return scale;
}

/* Symmetric fit with weights x^2: x[i] ~ scale * (L[i] - nmax), L in
 * [0, 2*nmax-1]. Returns scale (sign may be negative). */
static float fit_sym(int n, int nmax, const float *x, int8_t *L)
{
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < EPS_ZERO) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float best = 0, scale = 0;
    for (int is = -9; is <= 9; is++) {
        float iscale = -(nmax + 0.1f * is) / max;
        float sxl = 0, sl2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(kern_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sxl += w * x[i] * l;
            sl2 += w * l * l;
        }
        if (sl2 > 0 && (best == 0 || sxl * sxl > best * sl2)) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + clampi(kern_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sxl / sl2;
            best = scale * sxl;
        }
    }
    return scale;
}

/* Q3_K sub-block fit: start from -nmax/max, then move single elements to the
 * level that improves the weighted fit (weights x^2) until nothing changes.
 * L in [0, 2*nmax-1] (offset nmax). */
static float fit_q3(int n, int nmax, const float *x, int8_t *L)
{
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < EPS_ZERO) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float iscale = -nmax / max, sxl = 0, sl2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(kern_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sxl += w * x[i] * l;
        sl2 += w * l * l;
    }
    for (int pass = 0; pass < 5; pass++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sxl - w * x[i] * L[i];
            if (slx <= 0)
                continue;
            float s2 = sl2 - w * L[i] * L[i];
            int nl = clampi(kern_nearest_int(x[i] * s2 / slx), -nmax, nmax - 1);
            if (nl == L[i])
                continue;
            slx += w * x[i] * nl;
            s2 += w * nl * nl;
            if (s2 > 0 && slx * slx * sl2 > sxl * sxl * s2) {
                L[i] = (int8_t)nl;
                sxl = slx;
                sl2 = s2;
                changed++;
            }
        }
        if (!changed)
            break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return sl2 > 0 ? sxl / sl2 : 0.0f;
}

/* Packs four 2-bit planes: element 128h + 32j + l -> bits 2j of qs[32h + l]. */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *p = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)(p[0] | p[32] << 2 | p[64] << 4 | p[96] << 6);
        }
}

void kern_quantize_q2_K_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q2_K *y = vy;
    for (int64_t i = 0; i < n / OM_QK_K; i++, x += OM_QK_K) {
        uint8_t L[OM_QK_K];
        float w[16], sc[16], mn[16], max_sc = 0, max_mn = 0;
        for (int g = 0; g < 16; g++) {
            for (int l = 0; l < 16; l++)
                w[l] = fabsf(x[16 * g + l]);
            sc[g] = fit_asym(16, 3, x + 16 * g, w, L + 16 * g, &mn[g], -0.5f, 0.1f, 15, 1);
            max_sc = fmaxf(max_sc, sc[g]);
            max_mn = fmaxf(max_mn, mn[g]);
        }
        memset(y[i].scales, 0, sizeof(y[i].scales));
        float isc = max_sc > 0 ? 15 / max_sc : 0, imn = max_mn > 0 ? 15 / max_mn : 0;
        for (int g = 0; g < 16; g++)
            y[i].scales[g] = (uint8_t)(clampi(kern_nearest_int(isc * sc[g]), 0, 15) |
                                       clampi(kern_nearest_int(imn * mn[g]), 0, 15) << 4);
        y[i].d = kern_f32_to_f16(max_sc / 15);
        y[i].dmin = kern_f32_to_f16(max_mn / 15);
        float d = kern_h2f(y[i].d), dmin = kern_h2f(y[i].dmin);
        for (int g = 0; g < 16; g++) {
            float dl = d * (y[i].scales[g] & 0x0f);
            if (dl == 0)
                continue;
            float ml = dmin * (y[i].scales[g] >> 4);
            for (int l = 0; l < 16; l++)
                L[16 * g + l] = (uint8_t)clampi(kern_nearest_int((x[16 * g + l] + ml) / dl), 0, 3);
        }
        pack_2bit(L, y[i].qs);
    }
}

void kern_quantize_q3_K_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q3_K *y = vy;
    for (int64_t i = 0; i < n / OM_QK_K; i++, x += OM_QK_K) {
        int8_t L[OM_QK_K];
        float sc[16], max_sc = 0, amax = 0;
        for (int g = 0; g < 16; g++) {
            sc[g] = fit_q3(16, 4, x + 16 * g, L + 16 * g);
            if (fabsf(sc[g]) > amax) {
                amax = fabsf(sc[g]);
                max_sc = sc[g];
            }
        }
        memset(y[i].scales, 0, sizeof(y[i].scales));
        if (max_sc != 0) {
            float iscale = -32 / max_sc;
            for (int g = 0; g < 16; g++) {
                int l = clampi(kern_nearest_int(iscale * sc[g]), -32, 31) + 32;
                if (g < 8)
                    y[i].scales[g] = (uint8_t)(l & 0x0f);
                else
                    y[i].scales[g - 8] |= (uint8_t)((l & 0x0f) << 4);
                y[i].scales[8 + g % 4] |= (uint8_t)((l >> 4) << (2 * (g / 4)));
            }
            y[i].d = kern_f32_to_f16(1 / iscale);
        } else {
            y[i].d = 0;
        }
        int8_t dsc[16];
        kern_q3k_scales(y[i].scales, dsc);
        float d = kern_h2f(y[i].d);
        uint8_t U[OM_QK_K];
        for (int g = 0; g < 16; g++) {
            float dl = d * dsc[g];
            for (int l = 0; l < 16; l++) {
                int q = dl != 0 ? clampi(kern_nearest_int(x[16 * g + l] / dl), -4, 3) : 0;
                U[16 * g + l] = (uint8_t)(q + 4);
            }
        }
        /* third bit of element 128h + 32j + l -> hmask[l] bit 4h + j */
        memset(y[i].hmask, 0, sizeof(y[i].hmask));
        for (int e = 0; e < OM_QK_K; e++)
            if (U[e] > 3) {
                y[i].hmask[e % 32] |= (uint8_t)(1u << (e / 32));
                U[e] -= 4;
            }
        pack_2bit(U, y[i].qs);
    }
}

/* Packs the 6-bit scales and mins of 8 sub-blocks into 12 bytes (inverse of
 * kern_k4_scale_min). */
static void pack_k4_scales(const uint8_t ls[8], const uint8_t lm[8], uint8_t out[12])
{
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)(ls[j] | (ls[j + 4] >> 4) << 6);
        out[j + 4] = (uint8_t)(lm[j] | (lm[j + 4] >> 4) << 6);
        out[j + 8] = (uint8_t)((ls[j + 4] & 0x0f) | (lm[j + 4] & 0x0f) << 4);
    }
}

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fills d, dmin, scales and the
 * per-element levels L (0..nmax) of one super-block. */
static void quantize_k4_levels(const float *x, int nmax, float rmin, float rdelta, int nstep,
                               om_f16 *d_out, om_f16 *dmin_out, uint8_t scales[12],
                               uint8_t L[OM_QK_K])
{
    float sc[8], mn[8], w[32], max_sc = 0, max_mn = 0;
    for (int j = 0; j < 8; j++) {
        const float *xb = x + 32 * j;
        float s2 = 0;
        for (int l = 0; l < 32; l++)
            s2 += xb[l] * xb[l];
        float av = sqrtf(s2 / 32);
        for (int l = 0; l < 32; l++)
            w[l] = av + fabsf(xb[l]);
        sc[j] = fit_asym(32, nmax, xb, w, L + 32 * j, &mn[j], rmin, rdelta, nstep, 0);
        max_sc = fmaxf(max_sc, sc[j]);
        max_mn = fmaxf(max_mn, mn[j]);
    }
    float isc = max_sc > 0 ? 63 / max_sc : 0, imn = max_mn > 0 ? 63 / max_mn : 0;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)clampi(kern_nearest_int(isc * sc[j]), 0, 63);
        lm[j] = (uint8_t)clampi(kern_nearest_int(imn * mn[j]), 0, 63);
    }
    pack_k4_scales(ls, lm, scales);
    *d_out = kern_f32_to_f16(max_sc / 63);
    *dmin_out = kern_f32_to_f16(max_mn / 63);
    float d = kern_h2f(*d_out), dmin = kern_h2f(*dmin_out);
    for (int j = 0; j < 8; j++) {
        float dl = d * ls[j];
        if (dl == 0)
            continue;
        float ml = dmin * lm[j];
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)clampi(kern_nearest_int((x[32 * j + l] + ml) / dl), 0, nmax);
    }
}

void kern_quantize_q4_K_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q4_K *y = vy;
    for (int64_t i = 0; i < n / OM_QK_K; i++, x += OM_QK_K) {
        uint8_t L[OM_QK_K];
        quantize_k4_levels(x, 15, -1.0f, 0.1f, 20, &y[i].d, &y[i].dmin, y[i].scales, L);
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * j + l] = (uint8_t)(L[64 * j + l] | L[64 * j + 32 + l] << 4);
    }
}

void kern_quantize_q5_K_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q5_K *y = vy;
    for (int64_t i = 0; i < n / OM_QK_K; i++, x += OM_QK_K) {
        uint8_t L[OM_QK_K];
        quantize_k4_levels(x, 31, -0.5f, 0.1f, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
        memset(y[i].qh, 0, sizeof(y[i].qh));
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                int a = L[64 * j + l], b = L[64 * j + 32 + l];
                y[i].qs[32 * j + l] = (uint8_t)((a & 0x0f) | (b & 0x0f) << 4);
                y[i].qh[l] |= (uint8_t)((a >> 4) << (2 * j) | (b >> 4) << (2 * j + 1));
            }
    }
}

void kern_quantize_q6_K_generic(const float *x, void *vy, int64_t n)
{
    kern_block_q6_K *y = vy;
    for (int64_t i = 0; i < n / OM_QK_K; i++, x += OM_QK_K) {
        int8_t L[OM_QK_K];
        float sc[16], max_sc = 0, amax = 0;
        for (int g = 0; g < 16; g++) {
            sc[g] = fit_sym(16, 32, x + 16 * g, L + 16 * g);
            if (fabsf(sc[g]) > amax) {
                amax = fabsf(sc[g]);
                max_sc = sc[g];
            }
        }
        if (amax < EPS_ZERO) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        float iscale = -128 / max_sc;
        y[i].d = kern_f32_to_f16(1 / iscale);
        for (int g = 0; g < 16; g++)
            y[i].scales[g] = (int8_t)clampi(kern_nearest_int(iscale * sc[g]), -128, 127);
        float d = kern_h2f(y[i].d);
        for (int g = 0; g < 16; g++) {
            float dl = d * y[i].scales[g];
            if (dl == 0)
                continue;
            for (int l = 0; l < 16; l++)
                L[16 * g + l] = (int8_t)(clampi(kern_nearest_int(x[16 * g + l] / dl), -32, 31) + 32);
        }
        for (int h = 0; h < 2; h++) {
            uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
            const int8_t *p = L + 128 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((p[l] & 0x0f) | (p[l + 64] & 0x0f) << 4);
                ql[l + 32] = (uint8_t)((p[l + 32] & 0x0f) | (p[l + 96] & 0x0f) << 4);
                qh[l] = (uint8_t)((p[l] >> 4) | (p[l + 32] >> 4) << 2 | (p[l + 64] >> 4) << 4 |
                                  (p[l + 96] >> 4) << 6);
            }
        }
    }
}
