/* kernels/arch/x86: AMX int8 panels of Q4_0, Q5_0, Q8_0 and IQ4_NL weights
 * against Q8_0 activations (see amx_int.h for the tile layout).
 *
 * Per 32-row sub-panel, per 64-token block, per 32-element block b: the two
 * weight tiles of block b are unpacked into VNNI layout from 32-bit words of
 * the 16 rows (plain row loads and a dword transpose; masked gathers for a
 * partial tile). Word j gives tile rows j and 4+j: Q4_0 low and high
 * nibbles minus 8; Q5_0 adds the 5th bit, minus 16; IQ4_NL maps the codes
 * to its signed grid with vpshufb; Q8_0 is used as is. The row scales d_r
 * come from a gather of the block heads and the token scales d_t from a
 * gather of the activation heads; then amx_block. The
 * integer block dot is exact, so results differ from vec_dot only in float
 * rounding order. */
#include "kernels/arch/x86/amx_int.h"

enum q0_kind { Q0_Q4_0, Q0_Q5_0, Q0_Q8_0, Q0_IQ4_NL };

/* VNNI tile (8 rows x 64 bytes) of block b for 16 rows at base (block head),
 * masked rows zero; returns the row scales. */
static inline __m512 q0_unpack(enum q0_kind kind, const uint8_t *base, __m512i idx, __mmask16 m,
                               int8_t *wb, size_t stride)
{
    __m512i qv[8];
    const int full = m == 0xffff;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512 d = amx_h2f_lo(amx_gather(m, idx, base));
    if (kind == Q0_Q8_0) {
        if (full) {
            amx_rows_dwords(base + 2, stride, qv);
            amx_rows_dwords(base + 18, stride, qv + 4);
        } else
            for (int j = 0; j < 8; j++)
                qv[j] = amx_gather(m, idx, base + 2 + 4 * j);
        #pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            _mm512_storeu_si512(wb + 64 * j, qv[j]);
        return d;
    }
    const uint8_t *qs = base + (kind == Q0_Q5_0 ? 6 : 2);
    const __m512i grid = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
    if (full)
        amx_rows_dwords(qs, stride, qv);
    else
        for (int j = 0; j < 4; j++)
            qv[j] = amx_gather(m, idx, qs + 4 * j);
    __m512i qh = kind == Q0_Q5_0 ? amx_gather(m, idx, base + 2) : _mm512_setzero_si512();
    const __m512i off = _mm512_set1_epi8(kind == Q0_Q5_0 ? 16 : 8);
    #pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512i v = qv[j];
        __m512i lo = _mm512_and_si512(v, m4);
        __m512i hi = _mm512_and_si512(_mm512_srli_epi32(v, 4), m4);
        if (kind == Q0_Q5_0) {
            /* bits 4j..4j+3 (low half) and 16+4j.. (high half) of qh -> bit 4 of each byte */
            const __m512i spread = _mm512_set1_epi32(0x00204081), b0 = _mm512_set1_epi32(0x01010101);
            __m512i hl = _mm512_and_si512(_mm512_srli_epi32(qh, 4 * j), _mm512_set1_epi32(0xf));
            __m512i hh = _mm512_and_si512(_mm512_srli_epi32(qh, 16 + 4 * j), _mm512_set1_epi32(0xf));
            hl = _mm512_and_si512(_mm512_mullo_epi32(hl, spread), b0);
            hh = _mm512_and_si512(_mm512_mullo_epi32(hh, spread), b0);
            lo = _mm512_or_si512(lo, _mm512_slli_epi32(hl, 4));
            hi = _mm512_or_si512(hi, _mm512_slli_epi32(hh, 4));
        }
        if (kind == Q0_IQ4_NL) { /* codes -> signed grid values */
            _mm512_storeu_si512(wb + 64 * j, _mm512_shuffle_epi8(grid, lo));
            _mm512_storeu_si512(wb + 64 * (4 + j), _mm512_shuffle_epi8(grid, hi));
            continue;
        }
        _mm512_storeu_si512(wb + 64 * j, _mm512_sub_epi8(lo, off));
        _mm512_storeu_si512(wb + 64 * (4 + j), _mm512_sub_epi8(hi, off));
    }
    return d;
}

static inline __attribute__((always_inline)) void
panel_q0(enum q0_kind kind, int64_t k, const void *vw, size_t wstride, int64_t nr,
         const void *vact, size_t as, int64_t ntok, float *y, int64_t ys)
{
    const size_t bsz = kind == Q0_IQ4_NL ? sizeof(kern_block_iq4_nl)
                       : kind == Q0_Q4_0 ? sizeof(kern_block_q4_0)
                       : kind == Q0_Q5_0 ? sizeof(kern_block_q5_0)
                                         : sizeof(kern_block_q8_0);
    const uint8_t *w = vw, *act = vact;
    const int64_t nb = k / KERN_QK8_0;
    struct amx_ws ws;
    _Alignas(64) int8_t wb[2][512];
    const __m512i widx = amx_row_idx(wstride), tidx = amx_row_idx(as);
    amx_config(&ws, 32, ntok);
    for (int64_t r0 = 0; r0 < nr; r0 += AMX_RB) {
        const int nrr = (int)OM_MIN(AMX_RB, nr - r0), nw = nrr > 16 ? 2 : 1;
        const __mmask16 m0 = amx_row_mask(nrr, 0), m1 = amx_row_mask(nrr, 1);
        const uint8_t *w0 = w + (size_t)r0 * wstride, *w1 = w0 + 16 * wstride;
        for (int64_t t0 = 0; t0 < ntok; t0 += AMX_TB) {
            const int ntt = (int)OM_MIN(AMX_TB, ntok - t0), ntg = (ntt + 15) / 16;
            const uint8_t *a = act + (size_t)t0 * as;
            amx_acc_zero(&ws, ntt);
            for (int64_t b = 0; b < nb; b++) {
                const size_t bo = (size_t)b * bsz, ao = (size_t)b * sizeof(kern_block_q8_0);
                __m512 s0 = q0_unpack(kind, w0 + bo, widx, m0, wb[0], wstride), s1 = _mm512_setzero_ps();
                if (nw > 1)
                    s1 = q0_unpack(kind, w1 + bo, widx, m1, wb[1], wstride);
                for (int g = 0; g < ntg; g++)
                    _mm512_storeu_ps(&ws.dy[16 * g],
                                     amx_h2f_lo(amx_gather(0xffff, tidx, a + (size_t)g * 16 * as + ao)));
                amx_block(&ws, 1, a + ao + 2, as, ntg, nw, wb[0], wb[1], s0, s1);
            }
            amx_acc_store(&ws, y + t0 * ys + r0, ys, ntt, nrr);
        }
    }
    _tile_release();
}

void kern_panel_q4_0_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys)
{
    panel_q0(Q0_Q4_0, k, w, wstride, nr, act, as, ntok, y, ys);
}

void kern_panel_q5_0_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys)
{
    panel_q0(Q0_Q5_0, k, w, wstride, nr, act, as, ntok, y, ys);
}

void kern_panel_iq4_nl_amx(int64_t k, const void *w, size_t wstride, int64_t nr,
                           const void *act, size_t as, int64_t ntok, float *y, int64_t ys)
{
    panel_q0(Q0_IQ4_NL, k, w, wstride, nr, act, as, ntok, y, ys);
}

void kern_panel_q8_0_amx(int64_t k, const void *w, size_t wstride, int64_t nr, const void *act,
                         size_t as, int64_t ntok, float *y, int64_t ys)
{
    panel_q0(Q0_Q8_0, k, w, wstride, nr, act, as, ntok, y, ys);
}
