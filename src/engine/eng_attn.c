/* engine: attention of one chunk's tokens over the KV cache.
 *
 * Work items are (token, KV head, group of the query heads sharing it),
 * split into contiguous ranges over the pool: a thread builds a token's list
 * of visible cells once and reuses it for all that token's items, and each
 * K/V row (dequantized once for quantized caches) serves all the item's
 * heads. A cell c is visible to token t (sequence
 * s, position p) when c belongs to s and, for causal models, pos[c] <= p,
 * and, in sliding-window layers, p - pos[c] < n_swa. The token's own cell is
 * always visible, so the softmax is never empty. Each chunk first lists the
 * cells of every sequence in it (eng_attn_prepare), so with many sequences a
 * token scans only its own sequence's cells, in every layer.
 *
 * Per item: s_j = scale * q·k_j (then cap * tanh(s_j / cap) with attention
 * soft-capping), p = softmax(s), out = sum_j p_j v_j. K/V rows are F16
 * (kern dot_f32_f16 / axpy_f16), F32, or Q8_0 / Q4_0 (q quantized to the
 * type's vec_dot_type once per item and dotted with the type's kernel; each
 * V head dequantized before it is added). With an F16 cache, q and p are
 * rounded to F16 too, which is what ggml's F16 matmuls do: it keeps our
 * logits within ~1e-5 of llama.cpp's instead of ~3e-4. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/eng_int.h"

struct att_job {
    struct eng_ctx *c;
    int il, n;
    int gsz, parts; /* query heads per item, items per (token, KV head) */
};

void eng_attn_prepare(struct eng_ctx *c, int n)
{
    const struct eng_kv *kv = &c->kv;
    uint64_t present = 0;
    for (int t = 0; t < n; t++)
        present |= 1ull << c->ub_seq[t];
    int64_t total = 0;
    for (uint32_t cell = 0; cell < kv->hi; cell++)
        total += __builtin_popcountll(kv->seq[cell] & present);
    if (total > c->seq_cells_cap) { /* rare: only when the cache grew past it */
        free(c->seq_cells);
        c->seq_cells_cap = (int32_t)OM_MAX(total, (int64_t)kv->n_cells);
        c->seq_cells = om_xcalloc((size_t)c->seq_cells_cap, sizeof(int32_t));
    }
    int32_t off = 0;
    for (int s = 0; s < ENG_MAX_SEQ; s++) {
        c->seq_off[s] = off;
        c->seq_cnt[s] = 0;
        if (!(present >> s & 1))
            continue;
        for (uint32_t cell = 0; cell < kv->hi; cell++)
            if (kv->seq[cell] >> s & 1)
                c->seq_cells[off + c->seq_cnt[s]++] = (int32_t)cell;
        off += c->seq_cnt[s];
    }
}

static int visible_cells(const struct eng_ctx *c, int il, int t, int32_t *cells)
{
    const struct eng_kv *kv = &c->kv;
    const struct eng_hparams *hp = &c->m->hp;
    const int s = c->ub_seq[t];
    const int32_t p = c->ub_pos[t];
    const int swa = hp->swa_layer[il] && hp->n_swa > 0;
    const int32_t *list = c->seq_cells + c->seq_off[s];
    int nc = 0;
    for (int32_t i = 0; i < c->seq_cnt[s]; i++) {
        const int32_t cell = list[i];
        int32_t cp = kv->pos[cell];
        if (hp->causal && cp > p)
            continue;
        if (swa && (int64_t)p - cp >= hp->n_swa)
            continue;
        cells[nc++] = cell;
    }
    return nc;
}

static void att_worker(void *arg, int ith, int nth)
{
    struct att_job *j = arg;
    struct eng_ctx *c = j->c;
    const struct eng_hparams *hp = &c->m->hp;
    const struct eng_kv *kv = &c->kv;
    const struct kern_ops *ops = kern_ops_active();
    const int il = j->il, H = hp->n_head, HKV = hp->n_head_kv;
    const int hk = hp->head_dim_k, hv = hp->head_dim_v, group = H / HKV;
    const float scale = hp->attn_scale > 0.0f ? hp->attn_scale : 1.0f / sqrtf((float)hk);
    const float cap = hp->attn_softcap;
    const int f16 = kv->type == OM_TYPE_F16;
    const int quant = kv->type != OM_TYPE_F16 && kv->type != OM_TYPE_F32;
    const struct kern_type_ops *kt = &ops->type[kv->type];
    const size_t kh_bytes = quant ? om_type_row_size(kv->type, hk) : 0;
    const size_t vh_bytes = quant ? om_type_row_size(kv->type, hv) : 0;
    const size_t q8_row = quant ? om_type_row_size(kt->vec_dot_type, hk) : 0;
    uint8_t *q8 = c->att_q8 + (size_t)ith * c->att_q8_stride;
    float *qr = c->att_q + (size_t)ith * group * hk;
    float *vtmp = c->att_v + (size_t)ith * 4096;
    float *sc = c->att_scores + (size_t)ith * group * kv->n_cells;
    int32_t *cells = c->att_cells + (size_t)ith * kv->n_cells;
    om_f16 *h16 = c->att_f16 + (size_t)ith * OM_MAX(kv->n_cells, 4096u);
    const kern_to_float_fn f16_to_f32_row = ops->type[OM_TYPE_F16].to_float;
    const int parts = j->parts, gsz = j->gsz;
    const int64_t items = (int64_t)j->n * HKV * parts;
    const int64_t i0 = items * ith / nth, i1 = items * (ith + 1) / nth;
    const float *qh[ENG_ATT_GMAX]; /* heads of one item */
    int cur_t = -1, nc = 0;
    for (int64_t it = i0; it < i1; it++) {
        const int t = (int)(it / (HKV * parts)), rem = (int)(it % (HKV * parts));
        const int kvh = rem / parts, h0 = kvh * group + (rem % parts) * gsz;
        const int hn = OM_MIN(gsz, (kvh + 1) * group - h0);
        if (t != cur_t) {
            nc = visible_cells(c, il, t, cells);
            cur_t = t;
        }
        for (int g = 0; g < hn; g++) {
            const float *q = c->qkv + (size_t)t * c->qkv_w + (size_t)(h0 + g) * hk;
            if (f16) { /* q in F16 precision, as the F16 cache (and llama.cpp) has it */
                ops->f32_to_f16_row(q, h16, hk);
                f16_to_f32_row(h16, qr + (size_t)g * hk, hk);
                q = qr + (size_t)g * hk;
            } else if (quant) {
                ops->type[kt->vec_dot_type].from_float(q, q8 + (size_t)g * q8_row, hk);
            }
            qh[g] = q;
        }
        /* scores (hn, nc): each K row is read once for all the item's heads */
        const size_t koff = (size_t)kvh * hk, voff = (size_t)kvh * hv;
        for (int i = 0; i < nc; i++) {
            const uint8_t *krow = kv->k[il] + kv->k_row * (size_t)cells[i];
            for (int g = 0; g < hn; g++) {
                float s;
                if (f16)
                    s = ops->dot_f32_f16(hk, qh[g], (const om_f16 *)krow + koff);
                else if (quant)
                    kt->vec_dot(hk, &s, krow + (size_t)kvh * kh_bytes, q8 + (size_t)g * q8_row);
                else
                    s = ops->dot_f32(hk, qh[g], (const float *)krow + koff);
                s *= scale;
                if (cap > 0.0f)
                    s = cap * tanhf(s / cap);
                sc[(size_t)g * nc + i] = s;
            }
        }
        for (int g = 0; g < hn; g++) { /* softmax per head */
            float *p = sc + (size_t)g * nc, mx = -INFINITY;
            for (int i = 0; i < nc; i++)
                mx = p[i] > mx ? p[i] : mx;
            double sum = 0.0;
            for (int i = 0; i < nc; i++) {
                p[i] = expf(p[i] - mx);
                sum += p[i];
            }
            const float inv = (float)(1.0 / sum);
            for (int i = 0; i < nc; i++)
                p[i] *= inv;
            if (f16) { /* weights rounded to F16 like the values they scale */
                ops->f32_to_f16_row(p, h16, nc);
                f16_to_f32_row(h16, p, nc);
            }
            memset(c->att + ((size_t)t * H + h0 + g) * hv, 0, sizeof(float) * (size_t)hv);
        }
        /* out_g += p_g[i] * v_i: each V row is read (and decoded) once */
        for (int i = 0; i < nc; i++) {
            const uint8_t *vrow = kv->v[il] + kv->v_row * (size_t)cells[i];
            const float *vv = NULL;
            if (quant) {
                kt->to_float(vrow + (size_t)kvh * vh_bytes, vtmp, hv);
                vv = vtmp;
            } else if (!f16) {
                vv = (const float *)vrow + voff;
            }
            for (int g = 0; g < hn; g++) {
                float *out = c->att + ((size_t)t * H + h0 + g) * hv;
                const float w = sc[(size_t)g * nc + i];
                if (f16) {
                    ops->axpy_f16(hv, w, (const om_f16 *)vrow + voff, out);
                } else {
                    for (int d = 0; d < hv; d++)
                        out[d] += w * vv[d];
                }
            }
        }
    }
}

void eng_attention(struct eng_ctx *c, int il, int n)
{
    const struct eng_hparams *hp = &c->m->hp;
    const int group = hp->n_head / hp->n_head_kv;
    /* small jobs (a decode step over a short cache) cost less than waking
     * the pool */
    int64_t cells = 0;
    for (int s = 0; s < ENG_MAX_SEQ; s++)
        cells = OM_MAX(cells, (int64_t)c->seq_cnt[s]);
    int64_t work = (int64_t)n * hp->n_head * cells * (hp->head_dim_k + hp->head_dim_v);
    const int nth = c->nth == 1 || work < (1 << 15) ? 1 : c->nth;
    /* items are (token, KV head, part of its query heads): as few parts as
     * give every thread about two items, so heads sharing a KV head share
     * its K/V reads; at most ENG_ATT_GMAX heads per item */
    int64_t groups = (int64_t)n * hp->n_head_kv;
    int parts = (int)OM_MIN((int64_t)group, (2 * (int64_t)nth + groups - 1) / groups);
    int gsz = OM_MIN((group + parts - 1) / parts, ENG_ATT_GMAX);
    parts = (group + gsz - 1) / gsz;
    struct att_job j = {c, il, n, gsz, parts};
    if (nth == 1)
        att_worker(&j, 0, 1);
    else
        om_pool_run(c->pool, att_worker, &j);
}
