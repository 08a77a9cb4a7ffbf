/* kernels/arch/x86: AMX int8 panels of Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and
 * IQ4_XS weights against Q8_K activations (see amx_int.h for the tile layout).
 *
 * Per super-block (256 elements) and 16 weight rows, the scales and the
 * VNNI weight tiles of all its sub-blocks are unpacked once (row loads and
 * a dword transpose, gathers for a partial tile) and reused by every token tile of the 64-token block.
 *  Q4_K: 8 sub-blocks of 32 (K = 32 tiles); row scale d*sc_j; the mins go
 *        through the activation bsums: Σ_j m_j*(bsum_2j + bsum_2j+1) exactly
 *        in int32 with vpdpwssd (pairs of sub-blocks), then -dmin*msum.
 *  Q5_K: as Q4_K with the 5th bit from qh (bit j of qh[l] for sub-block j).
 * Both sum a super-block's terms before the token scale d8 (amx_fold), as
 * vec_dot does, which saves a multiply per C row.
 *  Q6_K: 16 scale groups of 16 (K = 16 tiles); weights q - 32 as signed
 *        bytes; row scale d*sc_g.
 *  Q3_K: as Q6_K; values (2 bits) - 4 + 4*(hmask bit) in -4..3, signed
 *        6-bit scales.
 *  Q2_K: as Q6_K; values 0..3, 4-bit scales; 4-bit mins through the 16
 *        bsums (int32 via vpdpwssd, 8 pairs), -dmin*msum like Q4_K.
 *  IQ4_XS: as Q4_K without mins; codes through IQ4_NL's grid (vpshufb),
 *        signed 6-bit scales.
 * Every group's integer dot is exact; results differ from vec_dot only in
 * float rounding order. */
#include <stddef.h>

#include "kernels/arch/x86/amx_int.h"

#define Q8K_QS offsetof(kern_block_q8_K, qs)
#define Q8K_BSUMS offsetof(kern_block_q8_K, bsums)

/* Token scales d8 of super-block s for ntg token tiles into ws->dy. */
static inline void q8k_dy(struct amx_ws *ws, const uint8_t *a, size_t as, __m512i tidx, int ntg)
{
    for (int g = 0; g < ntg; g++)
        _mm512_storeu_ps(&ws->dy[16 * g],
                         _mm512_castsi512_ps(amx_gather(0xffff, tidx, a + (size_t)g * 16 * as)));
}

/* ---- Q4_K, Q5_K (same head: d, dmin, 12 bytes of 6-bit scales/mins) ---- */
struct q4k_rows {
    _Alignas(64) int8_t wb[8][512]; /* sub-block j: VNNI tile */
    __m512 dsc[8];                  /* d * sc_j per row */
    __m512i mp[4];                  /* (m_2p, m_2p+1) int16 pairs per row */
    __m512 dmin;
};

/* q5: Q5_K (5th bits in qh[32] at offset 16, nibbles at 48), else Q4_K
 * (nibbles at 16). Sub-block 2p / 2p+1: low / high nibbles of qs[32p..]; for
 * Q5_K bit 2p / 2p+1 of qh[l] is bit 4 of element l. */
static inline __attribute__((always_inline)) void
q4k_unpack(int q5, const uint8_t *base, __m512i idx, __mmask16 m, struct q4k_rows *o,
           size_t stride)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), m6 = _mm512_set1_epi32(63);
    const __m512i b1 = _mm512_set1_epi8(1);
    __m512i dd = amx_gather(m, idx, base);
    __m512 d = amx_h2f_lo(dd);
    o->dmin = amx_h2f_lo(_mm512_srli_epi32(dd, 16));
    __m512i s0 = amx_gather(m, idx, base + 4), s1 = amx_gather(m, idx, base + 8),
            s2 = amx_gather(m, idx, base + 12);
    __m512i sc[8], mn[8];
    for (int j = 0; j < 4; j++) {
        sc[j] = _mm512_and_si512(_mm512_srli_epi32(s0, 8 * j), m6);
        mn[j] = _mm512_and_si512(_mm512_srli_epi32(s1, 8 * j), m6);
        __m512i q8 = _mm512_srli_epi32(s2, 8 * j);
        __m512i hs = _mm512_and_si512(_mm512_srli_epi32(s0, 8 * j + 6), _mm512_set1_epi32(3));
        __m512i hm = _mm512_and_si512(_mm512_srli_epi32(s1, 8 * j + 6), _mm512_set1_epi32(3));
        sc[4 + j] = _mm512_or_si512(_mm512_and_si512(q8, _mm512_set1_epi32(0xf)),
                                    _mm512_slli_epi32(hs, 4));
        mn[4 + j] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(q8, 4), _mm512_set1_epi32(0xf)),
                                    _mm512_slli_epi32(hm, 4));
    }
    for (int j = 0; j < 8; j++)
        o->dsc[j] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc[j]));
    for (int p = 0; p < 4; p++)
        o->mp[p] = _mm512_or_si512(mn[2 * p], _mm512_slli_epi32(mn[2 * p + 1], 16));
    const uint8_t *qs = base + (q5 ? 48 : 16);
    __m512i qh[8], qv[8];
    if (q5)
        amx_rows_load(base + 16, stride, idx, m, 2, qh);
    for (int p = 0; p < 4; p++) {
        amx_rows_load(qs + 32 * p, stride, idx, m, 2, qv);
        #pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            __m512i v = qv[j];
            __m512i lo = _mm512_and_si512(v, m4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi32(v, 4), m4);
            if (q5) {
                lo = _mm512_or_si512(lo, _mm512_slli_epi32(
                                             _mm512_and_si512(_mm512_srli_epi32(qh[j], 2 * p), b1), 4));
                hi = _mm512_or_si512(hi, _mm512_slli_epi32(
                                             _mm512_and_si512(_mm512_srli_epi32(qh[j], 2 * p + 1), b1), 4));
            }
            _mm512_storeu_si512(o->wb[2 * p] + 64 * j, lo);
            _mm512_storeu_si512(o->wb[2 * p + 1] + 64 * j, hi);
        }
    }
}

static inline __attribute__((always_inline)) void
panel_k45(int q5, int64_t k, const void *vw, size_t wstride, int64_t nr, const void *vact,
          size_t as, int64_t ntok, float *y, int64_t ys)
{
    const uint8_t *w = vw, *act = vact;
    const int64_t nsb = k / OM_QK_K;
    const size_t bsz = q5 ? sizeof(kern_block_q5_K) : sizeof(kern_block_q4_K);
    struct amx_ws ws;
    struct q4k_rows rw[2];
    _Alignas(64) int16_t bs[AMX_TB][8]; /* per token: sums of 32 activations */
    const __m512i widx = amx_row_idx(wstride), tidx = amx_row_idx(as);
    amx_config(&ws, 32, ntok);
    for (int64_t r0 = 0; r0 < nr; r0 += AMX_RB) {
        const int nrr = (int)OM_MIN(AMX_RB, nr - r0), nw = nrr > 16 ? 2 : 1;
        const uint8_t *w0 = w + (size_t)r0 * wstride, *w1 = w0 + 16 * wstride;
        for (int64_t t0 = 0; t0 < ntok; t0 += AMX_TB) {
            const int ntt = (int)OM_MIN(AMX_TB, ntok - t0), ntg = (ntt + 15) / 16;
            const uint8_t *a = act + (size_t)t0 * as;
            amx_acc_zero(&ws, ntt);
            for (int64_t s = 0; s < nsb; s++) {
                const size_t bo = (size_t)s * bsz;
                const uint8_t *as0 = a + (size_t)s * sizeof(kern_block_q8_K);
                for (int w_ = 0; w_ < nw; w_++)
                    q4k_unpack(q5, (w_ ? w1 : w0) + bo, widx, amx_row_mask(nrr, w_), &rw[w_], wstride);
                q8k_dy(&ws, as0, as, tidx, ntg);
                for (int t = 0; t < amx_tok_rows(&ws, ntg); t++) {
                    __m256i v = _mm256_loadu_si256((const __m256i *)(as0 + (size_t)t * as + Q8K_BSUMS));
                    v = _mm256_madd_epi16(v, _mm256_set1_epi16(1));
                    _mm_storeu_si128((__m128i *)bs[t], _mm256_cvtepi32_epi16(v));
                }
                for (int j = 0; j < 8; j++)
                    amx_block(&ws, 0, as0 + Q8K_QS + 32 * j, as, ntg, nw, rw[0].wb[j], rw[1].wb[j],
                              rw[0].dsc[j], nw > 1 ? rw[1].dsc[j] : rw[0].dsc[j]);
                for (int t = 0; t < amx_tok_rows(&ws, ntg); t++) {
                    const int32_t *pp = (const int32_t *)bs[t];
                    for (int w_ = 0; w_ < nw; w_++) {
                        __m512i ms = _mm512_setzero_si512();
                        for (int p = 0; p < 4; p++)
                            ms = _mm512_dpwssd_epi32(ms, rw[w_].mp[p], _mm512_set1_epi32(pp[p]));
                        float *tp = &ws.tmp[t][16 * w_];
                        _mm512_storeu_ps(tp, _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ms), rw[w_].dmin,
                                                              _mm512_loadu_ps(tp)));
                    }
                }
                amx_fold(&ws, ntg, nw);
            }
            amx_acc_store(&ws, y + t0 * ys + r0, ys, ntt, nrr);
        }
    }
    _tile_release();
}

void kern_panel_q4_K_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys)
{
    panel_k45(0, k, w, wstride, nr, act, as, ntok, y, ys);
}

void kern_panel_q5_K_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys)
{
    panel_k45(1, k, w, wstride, nr, act, as, ntok, y, ys);
}

/* ---- Q6_K ---- */
struct q6k_rows {
    _Alignas(64) int8_t wb[8][512]; /* unit u (32 elements): groups 2u, 2u+1 = halves */
    __m512 dsc[16];
    __m512i mp[8]; /* Q2_K: (m_2p, m_2p+1) int16 pairs per row */
    __m512 dmin;   /* Q2_K */
};

static inline void q6k_unpack(const uint8_t *base, __m512i idx, __mmask16 m, struct q6k_rows *o,
                              size_t stride)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(0x03);
    const __m512i o32 = _mm512_set1_epi8(32);
    __m512 d = amx_h2f_lo(_mm512_srli_epi32(amx_gather(m, idx, base + 206), 16));
    for (int q = 0; q < 4; q++) {
        __m512i sv = amx_gather(m, idx, base + 192 + 4 * q);
        for (int i = 0; i < 4; i++) {
            __m512i s = _mm512_srai_epi32(_mm512_slli_epi32(sv, 24 - 8 * i), 24);
            o->dsc[4 * q + i] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(s));
        }
    }
    for (int h = 0; h < 2; h++) {
        __m512i L0[8], L1[8], QH[8];
        amx_rows_load(base + 64 * h, stride, idx, m, 2, L0);
        amx_rows_load(base + 64 * h + 32, stride, idx, m, 2, L1);
        amx_rows_load(base + 128 + 32 * h, stride, idx, m, 2, QH);
        #pragma GCC unroll 2
        for (int kk = 0; kk < 8; kk++) {
            __m512i l0 = L0[kk], l1 = L1[kk], qh = QH[kk];
            __m512i v[4];
            v[0] = _mm512_or_si512(_mm512_and_si512(l0, m4),
                                   _mm512_slli_epi32(_mm512_and_si512(qh, m2), 4));
            v[1] = _mm512_or_si512(_mm512_and_si512(l1, m4),
                                   _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(qh, 2), m2), 4));
            v[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(l0, 4), m4),
                                   _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(qh, 4), m2), 4));
            v[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(l1, 4), m4),
                                   _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(qh, 6), m2), 4));
            for (int j = 0; j < 4; j++)
                _mm512_storeu_si512(o->wb[4 * h + j] + 64 * kk, _mm512_sub_epi8(v[j], o32));
        }
    }
}

/* ---- Q3_K: 16 groups of 16, signed 6-bit scales (stored +32), values
 * (2 bits of qs) - 4 + 4*(bit of hmask): fills the same struct as Q6_K ---- */
static inline void q3k_unpack(const uint8_t *base, __m512i idx, __mmask16 m, struct q6k_rows *o,
                              size_t stride)
{
    const __m512i m2 = _mm512_set1_epi8(0x03), b1 = _mm512_set1_epi8(1), o4 = _mm512_set1_epi8(4);
    const __m512i ff = _mm512_set1_epi32(0xff);
    __m512 d = amx_h2f_lo(_mm512_srli_epi32(amx_gather(m, idx, base + 106), 16));
    __m512i pk[3];
    for (int i = 0; i < 3; i++)
        pk[i] = amx_gather(m, idx, base + 96 + 4 * i);
    for (int g = 0; g < 16; g++) { /* kern_q3k_scales, 16 rows at once */
        int b = g & 7;
        __m512i by = _mm512_and_si512(_mm512_srli_epi32(pk[b / 4], 8 * (b % 4)), ff);
        __m512i lo = g < 8 ? _mm512_and_si512(by, _mm512_set1_epi32(0xf)) : _mm512_srli_epi32(by, 4);
        __m512i hi = _mm512_and_si512(_mm512_srli_epi32(pk[2], 8 * (g % 4) + 2 * (g / 4)),
                                      _mm512_set1_epi32(3));
        __m512i sc = _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)),
                                      _mm512_set1_epi32(32));
        o->dsc[g] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc));
    }
    __m512i hm[8], qs[8];
    amx_rows_load(base, stride, idx, m, 2, hm);
    for (int h = 0; h < 2; h++) {
        amx_rows_load(base + 32 + 32 * h, stride, idx, m, 2, qs);
        #pragma GCC unroll 2
        for (int kk = 0; kk < 8; kk++)
            for (int j = 0; j < 4; j++) {
                __m512i q = _mm512_and_si512(_mm512_srli_epi32(qs[kk], 2 * j), m2);
                __m512i hb = _mm512_and_si512(_mm512_srli_epi32(hm[kk], 4 * h + j), b1);
                __m512i v = _mm512_sub_epi8(_mm512_or_si512(q, _mm512_slli_epi32(hb, 2)), o4);
                _mm512_storeu_si512(o->wb[4 * h + j] + 64 * kk, v);
            }
    }
}

/* ---- Q2_K: 16 groups of 16, 4-bit scale and min per group, values 0..3;
 * mins through the bsums of 16 (vpdpwssd over 8 pairs) ---- */
static inline void q2k_unpack(const uint8_t *base, __m512i idx, __mmask16 m, struct q6k_rows *o,
                              size_t stride)
{
    const __m512i m2 = _mm512_set1_epi8(0x03), f = _mm512_set1_epi32(0xf);
    __m512i dd = amx_gather(m, idx, base + 80);
    __m512 d = amx_h2f_lo(dd);
    o->dmin = amx_h2f_lo(_mm512_srli_epi32(dd, 16));
    __m512i sv[4], mn[16];
    amx_rows_load(base, stride, idx, m, 1, sv);
    for (int g = 0; g < 16; g++) {
        __m512i by = _mm512_srli_epi32(sv[g / 4], 8 * (g % 4));
        o->dsc[g] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(by, f)));
        mn[g] = _mm512_and_si512(_mm512_srli_epi32(by, 4), f);
    }
    for (int p = 0; p < 8; p++)
        o->mp[p] = _mm512_or_si512(mn[2 * p], _mm512_slli_epi32(mn[2 * p + 1], 16));
    __m512i qs[8];
    for (int h = 0; h < 2; h++) {
        amx_rows_load(base + 16 + 32 * h, stride, idx, m, 2, qs);
        #pragma GCC unroll 2
        for (int kk = 0; kk < 8; kk++)
            for (int j = 0; j < 4; j++)
                _mm512_storeu_si512(o->wb[4 * h + j] + 64 * kk,
                                    _mm512_and_si512(_mm512_srli_epi32(qs[kk], 2 * j), m2));
    }
}

/* Q6_K, Q3_K and Q2_K: 16 groups of 16 per super-block, K = 16 tiles. */
enum k16_kind { K16_Q6_K, K16_Q3_K, K16_Q2_K };

static inline __attribute__((always_inline)) void
panel_k16(enum k16_kind kind, int64_t k, const void *vw, size_t wstride, int64_t nr, const void *vact,
          size_t as, int64_t ntok, float *y, int64_t ys)
{
    const uint8_t *w = vw, *act = vact;
    const int64_t nsb = k / OM_QK_K;
    const size_t bsz = kind == K16_Q3_K   ? sizeof(kern_block_q3_K)
                       : kind == K16_Q2_K ? sizeof(kern_block_q2_K)
                                          : sizeof(kern_block_q6_K);
    struct amx_ws ws;
    struct q6k_rows rw[2];
    const __m512i widx = amx_row_idx(wstride), tidx = amx_row_idx(as);
    amx_config(&ws, 16, ntok);
    for (int64_t r0 = 0; r0 < nr; r0 += AMX_RB) {
        const int nrr = (int)OM_MIN(AMX_RB, nr - r0), nw = nrr > 16 ? 2 : 1;
        const uint8_t *w0 = w + (size_t)r0 * wstride, *w1 = w0 + 16 * wstride;
        for (int64_t t0 = 0; t0 < ntok; t0 += AMX_TB) {
            const int ntt = (int)OM_MIN(AMX_TB, ntok - t0), ntg = (ntt + 15) / 16;
            const uint8_t *a = act + (size_t)t0 * as;
            amx_acc_zero(&ws, ntt);
            for (int64_t s = 0; s < nsb; s++) {
                const size_t bo = (size_t)s * bsz;
                const uint8_t *as0 = a + (size_t)s * sizeof(kern_block_q8_K);
                for (int w_ = 0; w_ < nw; w_++) {
                    const uint8_t *wp = (w_ ? w1 : w0) + bo;
                    const __mmask16 mk = amx_row_mask(nrr, w_);
                    if (kind == K16_Q3_K)
                        q3k_unpack(wp, widx, mk, &rw[w_], wstride);
                    else if (kind == K16_Q2_K)
                        q2k_unpack(wp, widx, mk, &rw[w_], wstride);
                    else
                        q6k_unpack(wp, widx, mk, &rw[w_], wstride);
                }
                q8k_dy(&ws, as0, as, tidx, ntg);
                for (int g = 0; g < 16; g++)
                    amx_block(&ws, 0, as0 + Q8K_QS + 16 * g, as, ntg, nw,
                              rw[0].wb[g / 2] + 256 * (g % 2), rw[1].wb[g / 2] + 256 * (g % 2),
                              rw[0].dsc[g], nw > 1 ? rw[1].dsc[g] : rw[0].dsc[g]);
                if (kind == K16_Q2_K)
                    for (int t = 0; t < amx_tok_rows(&ws, ntg); t++) {
                        int32_t pp[8];
                        memcpy(pp, as0 + (size_t)t * as + Q8K_BSUMS, sizeof(pp));
                        for (int w_ = 0; w_ < nw; w_++) {
                            __m512i ms = _mm512_setzero_si512();
                            for (int p = 0; p < 8; p++)
                                ms = _mm512_dpwssd_epi32(ms, rw[w_].mp[p], _mm512_set1_epi32(pp[p]));
                            float *tp = &ws.tmp[t][16 * w_];
                            _mm512_storeu_ps(tp, _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ms), rw[w_].dmin,
                                                                  _mm512_loadu_ps(tp)));
                        }
                    }
                amx_fold(&ws, ntg, nw);
            }
            amx_acc_store(&ws, y + t0 * ys + r0, ys, ntt, nrr);
        }
    }
    _tile_release();
}

void kern_panel_q6_K_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys)
{
    panel_k16(K16_Q6_K, k, w, wstride, nr, act, as, ntok, y, ys);
}

void kern_panel_q3_K_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys)
{
    panel_k16(K16_Q3_K, k, w, wstride, nr, act, as, ntok, y, ys);
}

void kern_panel_q2_K_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys)
{
    panel_k16(K16_Q2_K, k, w, wstride, nr, act, as, ntok, y, ys);
}

/* ---- IQ4_XS: 8 sub-blocks of 32, IQ4_NL codes, signed 6-bit scales ---- */
struct iq4xs_rows {
    _Alignas(64) int8_t wb[8][512];
    __m512 dsc[8];
};

static inline void iq4xs_unpack(const uint8_t *base, __m512i idx, __mmask16 m,
                                struct iq4xs_rows *o, size_t stride)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i grid = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
    __m512i head = amx_gather(m, idx, base), sl = amx_gather(m, idx, base + 4);
    __m512 d = amx_h2f_lo(head);
    __m512i sh = _mm512_srli_epi32(head, 16);
    for (int ib = 0; ib < 8; ib++) {
        __m512i lo = _mm512_and_si512(_mm512_srli_epi32(sl, 8 * (ib / 2) + 4 * (ib % 2)),
                                      _mm512_set1_epi32(0xf));
        __m512i hi = _mm512_and_si512(_mm512_srli_epi32(sh, 2 * ib), _mm512_set1_epi32(3));
        __m512i ls = _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)),
                                      _mm512_set1_epi32(32));
        o->dsc[ib] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(ls));
        __m512i qv[4];
        amx_rows_load(base + 8 + 16 * ib, stride, idx, m, 1, qv);
        for (int j = 0; j < 4; j++) {
            _mm512_storeu_si512(o->wb[ib] + 64 * j,
                                _mm512_shuffle_epi8(grid, _mm512_and_si512(qv[j], m4)));
            _mm512_storeu_si512(o->wb[ib] + 64 * (4 + j),
                                _mm512_shuffle_epi8(grid, _mm512_and_si512(
                                                              _mm512_srli_epi32(qv[j], 4), m4)));
        }
    }
}

void kern_panel_iq4_xs_amx(int64_t k, const void *vw, size_t wstride, int64_t nr,
                           const void *vact, size_t as, int64_t ntok, float *y, int64_t ys)
{
    const uint8_t *w = vw, *act = vact;
    const int64_t nsb = k / OM_QK_K;
    struct amx_ws ws;
    struct iq4xs_rows rw[2];
    const __m512i widx = amx_row_idx(wstride), tidx = amx_row_idx(as);
    amx_config(&ws, 32, ntok);
    for (int64_t r0 = 0; r0 < nr; r0 += AMX_RB) {
        const int nrr = (int)OM_MIN(AMX_RB, nr - r0), nw = nrr > 16 ? 2 : 1;
        const uint8_t *w0 = w + (size_t)r0 * wstride, *w1 = w0 + 16 * wstride;
        for (int64_t t0 = 0; t0 < ntok; t0 += AMX_TB) {
            const int ntt = (int)OM_MIN(AMX_TB, ntok - t0), ntg = (ntt + 15) / 16;
            const uint8_t *a = act + (size_t)t0 * as;
            amx_acc_zero(&ws, ntt);
            for (int64_t s = 0; s < nsb; s++) {
                const size_t bo = (size_t)s * sizeof(kern_block_iq4_xs);
                const uint8_t *as0 = a + (size_t)s * sizeof(kern_block_q8_K);
                for (int w_ = 0; w_ < nw; w_++)
                    iq4xs_unpack((w_ ? w1 : w0) + bo, widx, amx_row_mask(nrr, w_), &rw[w_],
                                 wstride);
                q8k_dy(&ws, as0, as, tidx, ntg);
                for (int j = 0; j < 8; j++)
                    amx_block(&ws, 0, as0 + Q8K_QS + 32 * j, as, ntg, nw, rw[0].wb[j], rw[1].wb[j],
                              rw[0].dsc[j], nw > 1 ? rw[1].dsc[j] : rw[0].dsc[j]);
                amx_fold(&ws, ntg, nw);
            }
            amx_acc_store(&ws, y + t0 * ys + r0, ys, ntt, nrr);
        }
    }
    _tile_release();
}
