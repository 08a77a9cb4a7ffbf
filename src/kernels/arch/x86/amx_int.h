/* kernels/arch/x86: helpers shared by the AMX panel kernels (amx_*.c, compiled
 * with -mamx-tile -mamx-int8 and the AVX-512 flags). Include only from there.
 *
 * Orientation: C[token][weight row] = A · B with A = 16 activation rows of
 * one block (int8 straight from the Q8_0/Q8_K scratch, tileloadd with the
 * activation stride: no repacking), B = 16 weight rows of the same block in
 * VNNI layout (row kk holds bytes 4kk..4kk+3 of each weight row), unpacked
 * on the fly from the GGUF blocks with 32-bit gathers. Tiles:
 *   tmm0, tmm1  tokens  t..t+15, t+16..t+31   (16 x KB bytes)
 *   tmm2, tmm3  weights r..r+15, r+16..r+31   (KB/4 x 64 bytes)
 *   tmm4..tmm7  int32 sums of the 2 x 2 pairs (16 x 16)
 * KB = 32 (one scale block) or 16 (Q6_K's 16-element scale groups). Each C
 * tile is one exact integer block dot per (token, row); it is stored and
 * scaled into float accumulators (row scale x token scale), like vec_dot. */
#ifndef KERN_AMX_INT_H
#define KERN_AMX_INT_H

#include <immintrin.h>
#include <string.h>

#include "base/om.h"
#include "kernels/kern_int.h"

#define AMX_TB 64 /* tokens per inner block: 4 token tiles */
#define AMX_RB 32 /* weight rows per sub-panel: 2 weight tiles */

struct amx_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/* Per-call workspace (on the stack of the calling thread). */
struct amx_ws {
    _Alignas(64) float acc[AMX_TB][AMX_RB]; /* [token][row] */
    float tmp[AMX_TB][AMX_RB];    /* K-quants: one super-block, before d8 */
    int32_t cb[4][16][16];        /* stored C tiles */
    float dy[AMX_TB];             /* token scales of the current block */
    int trows; /* rows of a token tile: ntok when the call has < 16 tokens, else 16 */
};

/* Configures the tiles for KB-byte blocks and a call of ntok tokens. With
 * fewer than 16 tokens the token tiles (A) and the products (C) get ntok
 * rows instead of 16: the TMUL work and the C stores/scaling shrink with
 * the token count, and rows < ntok are computed exactly as before. */
static inline void amx_config(struct amx_ws *ws, int kb, int64_t ntok)
{
    struct amx_cfg c;
    memset(&c, 0, sizeof(c));
    ws->trows = ntok < 16 ? (int)ntok : 16;
    c.palette = 1;
    for (int i = 0; i < 2; i++) {
        c.rows[i] = (uint8_t)ws->trows;
        c.colsb[i] = (uint16_t)kb;
        c.rows[2 + i] = (uint8_t)(kb / 4);
        c.colsb[2 + i] = 64;
    }
    for (int i = 4; i < 8; i++) {
        c.rows[i] = (uint8_t)ws->trows;
        c.colsb[i] = 64;
    }
    _tile_loadconfig(&c);
}

/* Token rows held by ntg token tiles (the last one may be short). */
static inline int amx_tok_rows(const struct amx_ws *ws, int ntg)
{
    return 16 * (ntg - 1) + ws->trows;
}

/* Gather offsets of 16 rows stride bytes apart. */
static inline __m512i amx_row_idx(size_t stride)
{
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32((int)stride));
}

static inline __m512i amx_gather(__mmask16 m, __m512i idx, const uint8_t *p)
{
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, p, 1);
}

/* v[j] lane n = dword j of the 16 bytes at p + n*stride, n < 16 (all rows
 * valid): plain loads and a 4x4 dword transpose per 128-bit lane. */
static inline void amx_rows_dwords(const uint8_t *p, size_t stride, __m512i v[4])
{
    __m512i r[4];
    for (int a = 0; a < 4; a++) { /* lane l of r[a] = row 4l + a */
        __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + a * stride)));
        z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(p + (4 + a) * stride)), 1);
        z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(p + (8 + a) * stride)), 2);
        r[a] = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(p + (12 + a) * stride)), 3);
    }
    __m512i t0 = _mm512_unpacklo_epi32(r[0], r[1]), t1 = _mm512_unpackhi_epi32(r[0], r[1]);
    __m512i t2 = _mm512_unpacklo_epi32(r[2], r[3]), t3 = _mm512_unpackhi_epi32(r[2], r[3]);
    v[0] = _mm512_unpacklo_epi64(t0, t2);
    v[1] = _mm512_unpackhi_epi64(t0, t2);
    v[2] = _mm512_unpacklo_epi64(t1, t3);
    v[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* v[0..4n) = dwords 0..4n of the 16 rows (n 16-byte chunks at p): plain
 * loads when all rows exist (m all ones), else masked gathers. */
static inline void amx_rows_load(const uint8_t *p, size_t stride, __m512i idx, __mmask16 m, int n,
                                 __m512i *v)
{
    for (int c = 0; c < n; c++) {
        if (m == 0xffff)
            amx_rows_dwords(p + 16 * c, stride, v + 4 * c);
        else
            for (int j = 0; j < 4; j++)
                v[4 * c + j] = amx_gather(m, idx, p + 16 * c + 4 * j);
    }
}

/* Low half of each 32-bit lane as f16 -> float. */
static inline __m512 amx_h2f_lo(__m512i v)
{
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

/* acc[t0 + t][16w..] += C[t] * (sw (x dy[t0 + t] when with_dy)), t < n. */
static inline __attribute__((always_inline)) void
amx_cscale(float (*acc)[AMX_RB], const int32_t (*c)[16], const float *dy, int with_dy, int t0,
           int w, __m512 sw, int n)
{
    #pragma GCC unroll 4
    for (int t = 0; t < n; t++) {
        float *ap = &acc[t0 + t][16 * w];
        __m512 sc = with_dy ? _mm512_mul_ps(sw, _mm512_set1_ps(dy[t0 + t])) : sw;
        __m512 v = _mm512_cvtepi32_ps(_mm512_loadu_si512(c[t]));
        _mm512_storeu_ps(ap, _mm512_fmadd_ps(v, sc, _mm512_loadu_ps(ap)));
    }
}

/* One KB-element block: tokens a (first token's bytes, stride as) for ntg
 * token tiles, weights wb0/wb1 (VNNI, 64-byte rows) for nw tiles with row
 * scales s0/s1; with_dy: acc[t][r] += C[t][r] * (s_r * ws->dy[t]), else
 * tmp[t][r] += C[t][r] * s_r (the token scale is applied per super-block by
 * amx_fold). */
static inline __attribute__((always_inline)) void
amx_block(struct amx_ws *ws, int with_dy, const uint8_t *a, size_t as, int ntg, int nw,
          const void *wb0, const void *wb1, __m512 s0, __m512 s1)
{
    float(*acc)[AMX_RB] = with_dy ? ws->acc : ws->tmp;
    const int trows = ws->trows;
    _tile_loadd(2, wb0, 64);
    if (nw > 1)
        _tile_loadd(3, wb1, 64);
    for (int tg = 0; tg < ntg; tg += 2) {
        int two = tg + 1 < ntg;
        _tile_loadd(0, a + (size_t)tg * 16 * as, (long)as);
        _tile_zero(4);
        _tile_dpbssd(4, 0, 2);
        if (nw > 1) {
            _tile_zero(5);
            _tile_dpbssd(5, 0, 3);
        }
        if (two) {
            _tile_loadd(1, a + (size_t)(tg + 1) * 16 * as, (long)as);
            _tile_zero(6);
            _tile_dpbssd(6, 1, 2);
            if (nw > 1) {
                _tile_zero(7);
                _tile_dpbssd(7, 1, 3);
            }
        }
        _tile_stored(4, ws->cb[0], 64);
        if (nw > 1)
            _tile_stored(5, ws->cb[1], 64);
        if (two) {
            _tile_stored(6, ws->cb[2], 64);
            if (nw > 1)
                _tile_stored(7, ws->cb[3], 64);
        }
        for (int g = 0; g <= two; g++)
            for (int w = 0; w < nw; w++) {
                const __m512 sw = w ? s1 : s0;
                const int32_t(*c)[16] = ws->cb[2 * g + w];
                const int t0 = (tg + g) * 16;
                if (trows == 16) /* constant trip count: the usual, unrolled case */
                    amx_cscale(acc, c, ws->dy, with_dy, t0, w, sw, 16);
                else
                    amx_cscale(acc, c, ws->dy, with_dy, t0, w, sw, trows);
            }
    }
}

static inline void amx_acc_zero(struct amx_ws *ws, int ntt)
{
    memset(ws->acc, 0, sizeof(float) * AMX_RB * (size_t)((ntt + 15) / 16 * 16));
    memset(ws->tmp, 0, sizeof(float) * AMX_RB * (size_t)((ntt + 15) / 16 * 16));
}

/* acc[t][r] += tmp[t][r] * dy[t]; tmp = 0 (tokens of ntg tiles, nw tiles). */
static inline void amx_fold(struct amx_ws *ws, int ntg, int nw)
{
    for (int t = 0; t < amx_tok_rows(ws, ntg); t++) {
        __m512 dy = _mm512_set1_ps(ws->dy[t]);
        for (int w = 0; w < nw; w++) {
            float *ap = &ws->acc[t][16 * w], *tp = &ws->tmp[t][16 * w];
            _mm512_storeu_ps(ap, _mm512_fmadd_ps(_mm512_loadu_ps(tp), dy, _mm512_loadu_ps(ap)));
            _mm512_storeu_ps(tp, _mm512_setzero_ps());
        }
    }
}

/* y[t*ys + r] = acc[t][r] for t < ntt, r < nrr. */
static inline void amx_acc_store(const struct amx_ws *ws, float *y, int64_t ys, int ntt, int nrr)
{
    __mmask16 m0 = (__mmask16)(nrr >= 16 ? 0xffff : (1u << nrr) - 1);
    __mmask16 m1 = (__mmask16)(nrr >= 32 ? 0xffff : nrr <= 16 ? 0 : (1u << (nrr - 16)) - 1);
    for (int t = 0; t < ntt; t++) {
        _mm512_mask_storeu_ps(y + t * ys, m0, _mm512_loadu_ps(&ws->acc[t][0]));
        if (m1)
            _mm512_mask_storeu_ps(y + t * ys + 16, m1, _mm512_loadu_ps(&ws->acc[t][16]));
    }
}

/* Valid-row masks of the two weight tiles of a sub-panel of nrr rows. */
static inline __mmask16 amx_row_mask(int nrr, int w)
{
    int n = nrr - 16 * w;
    return (__mmask16)(n >= 16 ? 0xffff : n <= 0 ? 0 : (1u << n) - 1);
}

/* ---- panels (amx_q.c, amx_k.c) ---- */
void kern_panel_q4_0_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys);
void kern_panel_q5_0_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys);
void kern_panel_q8_0_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys);
void kern_panel_iq4_nl_amx(int64_t k, const void *w, size_t wstride, int64_t nr,
                           const void *act, size_t as, int64_t ntok, float *y, int64_t ys);
void kern_panel_q5_K_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys);
void kern_panel_iq4_xs_amx(int64_t k, const void *w, size_t wstride, int64_t nr,
                           const void *act, size_t as, int64_t ntok, float *y, int64_t ys);
void kern_panel_q2_K_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys);
void kern_panel_q3_K_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys);
void kern_panel_q4_K_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys);
void kern_panel_q6_K_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys);

#endif
