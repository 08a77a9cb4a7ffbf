/* engine: the KV cache and its per-sequence management.
 *
 * Cell model: cell c holds one token's K and V in every layer, its position
 * pos[c] and the set of sequences seq[c] it belongs to (a bitmask; 0 means
 * free). A token attends to the cells of its sequence (causal: pos <= its
 * own). Cells need not be contiguous or ordered; `hi` bounds the scan (every
 * cell at index >= hi is free). A cell may be shared by several sequences
 * (eng_kv_seq_cp) — such cells cannot be shifted, because a shift rewrites
 * the cached K of the cell for all its sequences. */
#include <stdlib.h>
#include <string.h>

#include "engine/eng_int.h"

int eng_kv_init(struct eng_kv *kv, const struct eng_model *m, uint32_t n_cells, uint32_t type)
{
    const struct eng_hparams *hp = &m->hp;
    memset(kv, 0, sizeof *kv);
    kv->n_cells = n_cells;
    kv->type = type;
    /* quantized types: each head's slice is whole blocks (eng_ctx_new checked) */
    kv->k_row = om_type_row_size(type, (int64_t)hp->n_head_kv * hp->head_dim_k);
    kv->v_row = om_type_row_size(type, (int64_t)hp->n_head_kv * hp->head_dim_v);
    kv->k = om_xcalloc((size_t)hp->n_layer, sizeof *kv->k);
    kv->v = om_xcalloc((size_t)hp->n_layer, sizeof *kv->v);
    for (int il = 0; il < hp->n_layer; il++) {
        kv->k[il] = om_xalloc_aligned(kv->k_row * n_cells);
        kv->v[il] = om_xalloc_aligned(kv->v_row * n_cells);
    }
    kv->pos = om_xcalloc(n_cells, sizeof *kv->pos);
    kv->seq = om_xcalloc(n_cells, sizeof *kv->seq);
    return 0;
}

void eng_kv_close(struct eng_kv *kv, int n_layer)
{
    if (kv->k)
        for (int il = 0; il < n_layer; il++) {
            om_afree(kv->k[il]);
            om_afree(kv->v[il]);
        }
    free(kv->k);
    free(kv->v);
    free(kv->pos);
    free(kv->seq);
    memset(kv, 0, sizeof *kv);
}

static void kv_fix_hi(struct eng_kv *kv)
{
    while (kv->hi > 0 && kv->seq[kv->hi - 1] == 0)
        kv->hi--;
}

void eng_kv_take(struct eng_kv *kv, int n, const int32_t *pos, const int32_t *seq, int32_t *cell)
{
    uint32_t c = 0;
    for (int i = 0; i < n; i++) {
        while (kv->seq[c] != 0)
            c++; /* the caller checked that n cells are free */
        kv->seq[c] = 1ull << seq[i];
        kv->pos[c] = pos[i];
        cell[i] = (int32_t)c;
        if (c + 1 > kv->hi)
            kv->hi = c + 1;
        c++;
    }
    kv->n_used += (uint32_t)n;
}

static int in_range(int32_t p, int32_t p0, int32_t p1)
{
    return p >= (p0 < 0 ? 0 : p0) && (p1 < 0 || p < p1);
}

static uint64_t seq_mask(int32_t seq)
{
    return seq < 0 ? ~0ull : 1ull << seq;
}

int32_t eng_kv_seq_rm(eng_ctx *ctx, int32_t seq, int32_t p0, int32_t p1)
{
    struct eng_kv *kv = &ctx->kv;
    if (seq >= (int32_t)ctx->p.n_seq_max)
        return OM_EINVAL;
    uint64_t mask = seq_mask(seq);
    int32_t freed = 0;
    for (uint32_t c = 0; c < kv->hi; c++) {
        if (!(kv->seq[c] & mask) || !in_range(kv->pos[c], p0, p1))
            continue;
        kv->seq[c] &= ~mask;
        if (kv->seq[c] == 0) {
            freed++;
            kv->n_used--;
        }
    }
    kv_fix_hi(kv);
    return freed;
}

int eng_kv_seq_cp(eng_ctx *ctx, int32_t src, int32_t dst, int32_t p0, int32_t p1)
{
    struct eng_kv *kv = &ctx->kv;
    int32_t n = (int32_t)ctx->p.n_seq_max;
    if (src < 0 || dst < 0 || src >= n || dst >= n)
        return OM_EINVAL;
    for (uint32_t c = 0; c < kv->hi; c++)
        if ((kv->seq[c] & seq_mask(src)) && in_range(kv->pos[c], p0, p1))
            kv->seq[c] |= seq_mask(dst);
    return 0;
}

/* Rotates the cached K of cell c in every layer by delta positions. */
static void kv_rerotate(eng_ctx *ctx, uint32_t c, int32_t delta, float *row, float *cs)
{
    const struct eng_model *m = ctx->m;
    const struct eng_hparams *hp = &m->hp;
    struct eng_kv *kv = &ctx->kv;
    const int nk = hp->n_head_kv * hp->head_dim_k;
    const struct kern_ops *ops = kern_ops_active();
    for (int il = 0; il < hp->n_layer; il++) {
        int swa = hp->swa_layer[il];
        eng_rope_cs(cs, hp->n_rot, swa ? m->inv_freq_swa : ctx->inv_freq,
                    swa ? hp->rope_scale_swa : hp->rope_scale, (float)delta, 1.0f);
        uint8_t *k = kv->k[il] + kv->k_row * c;
        if (kv->type == OM_TYPE_F32) {
            eng_rope_apply(hp->rope, (float *)k, hp->n_head_kv, hp->head_dim_k, hp->n_rot, cs);
        } else { /* F16 or quantized: decode, rotate, encode */
            ops->type[kv->type].to_float(k, row, nk);
            eng_rope_apply(hp->rope, row, hp->n_head_kv, hp->head_dim_k, hp->n_rot, cs);
            if (kv->type == OM_TYPE_F16)
                ops->f32_to_f16_row(row, (om_f16 *)k, nk);
            else
                kern_quantize_row(kv->type, row, k, nk);
        }
    }
}

int eng_kv_seq_add(eng_ctx *ctx, int32_t seq, int32_t p0, int32_t p1, int32_t delta)
{
    struct eng_kv *kv = &ctx->kv;
    if (seq < 0 || seq >= (int32_t)ctx->p.n_seq_max)
        return OM_EINVAL;
    uint64_t mask = seq_mask(seq);
    for (uint32_t c = 0; c < kv->hi; c++)
        if ((kv->seq[c] & mask) && in_range(kv->pos[c], p0, p1) && kv->seq[c] != mask)
            return OM_EINVAL;
    if (delta == 0)
        return 0;
    const struct eng_hparams *hp = &ctx->m->hp;
    float *row = om_xmalloc(sizeof(float) * ((size_t)hp->n_head_kv * hp->head_dim_k + 1));
    float *cs = om_xmalloc(sizeof(float) * ((size_t)hp->n_rot + 2));
    for (uint32_t c = 0; c < kv->hi; c++) {
        if (!(kv->seq[c] & mask) || !in_range(kv->pos[c], p0, p1))
            continue;
        int64_t np = (int64_t)kv->pos[c] + delta;
        if (np < 0) {
            kv->seq[c] = 0;
            kv->n_used--;
            continue;
        }
        if (hp->rope != ENG_ROPE_NONE)
            kv_rerotate(ctx, c, delta, row, cs);
        kv->pos[c] = (int32_t)np;
    }
    free(row);
    free(cs);
    kv_fix_hi(kv);
    return 0;
}

int32_t eng_kv_seq_pos_max(const eng_ctx *ctx, int32_t seq)
{
    const struct eng_kv *kv = &ctx->kv;
    int32_t best = -1;
    for (uint32_t c = 0; c < kv->hi; c++)
        if ((kv->seq[c] & seq_mask(seq)) && kv->pos[c] > best)
            best = kv->pos[c];
    return best;
}

int32_t eng_kv_seq_pos_min(const eng_ctx *ctx, int32_t seq)
{
    const struct eng_kv *kv = &ctx->kv;
    int32_t best = -1;
    for (uint32_t c = 0; c < kv->hi; c++)
        if ((kv->seq[c] & seq_mask(seq)) && (best < 0 || kv->pos[c] < best))
            best = kv->pos[c];
    return best;
}

void eng_kv_clear(eng_ctx *ctx)
{
    struct eng_kv *kv = &ctx->kv;
    memset(kv->seq, 0, sizeof *kv->seq * kv->n_cells);
    kv->n_used = 0;
    kv->hi = 0;
}

int32_t eng_kv_n_used(const eng_ctx *ctx) { return (int32_t)ctx->kv.n_used; }
int32_t eng_kv_n_free(const eng_ctx *ctx) { return (int32_t)(ctx->kv.n_cells - ctx->kv.n_used); }

int32_t eng_ctx_shift(eng_ctx *ctx, int32_t seq, int32_t n_keep)
{
    if (seq < 0 || seq >= (int32_t)ctx->p.n_seq_max)
        return OM_EINVAL;
    int32_t n_past = eng_kv_seq_pos_max(ctx, seq) + 1;
    if (n_keep < 0)
        n_keep = 0;
    if (n_keep > n_past)
        n_keep = n_past;
    int32_t n_discard = (n_past - n_keep) / 2;
    if (n_discard <= 0)
        return 0;
    int rc = eng_kv_seq_add(ctx, seq, n_keep + n_discard, n_past, 0); /* shared-cell check */
    if (rc)
        return rc;
    eng_kv_seq_rm(ctx, seq, n_keep, n_keep + n_discard);
    rc = eng_kv_seq_add(ctx, seq, n_keep + n_discard, n_past, -n_discard);
    return rc ? rc : n_discard;
}
