/* engine: contexts (KV cache + forward scratch + thread pool) and the
 * decode entry point: batch validation, chunking by n_batch, outputs.
 *
 * All scratch is allocated in eng_ctx_new; the only allocations after that
 * are the logits buffer growing when a batch asks for more outputs than any
 * batch before, and the position buffer for batches without positions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/eng_int.h"

void eng_ctx_params_default(struct eng_ctx_params *p)
{
    memset(p, 0, sizeof *p);
    p->type_kv = OM_TYPE_F16;
}

static size_t mm_size(const struct eng_tensor *t, int64_t n_tok)
{
    return t->data ? kern_matmul_scratch_size(t->type, t->ne[0], n_tok) : 0;
}

static size_t mm_scratch_need(const struct eng_model *m, int64_t B)
{
    size_t need = mm_size(&m->output, B);
    for (int il = 0; il < m->hp.n_layer; il++) {
        const struct eng_layer *L = &m->layers[il];
        const struct eng_tensor *ts[] = {&L->wq,           &L->wk,           &L->wv,
                                         &L->wqkv,         &L->wo,           &L->ffn_gate,
                                         &L->ffn_up,       &L->ffn_down,     &L->ffn_gate_inp,
                                         &L->ffn_gate_exps, &L->ffn_up_exps, &L->ffn_down_exps,
                                         &L->ffn_gate_shexp, &L->ffn_up_shexp,
                                         &L->ffn_down_shexp};
        for (size_t i = 0; i < OM_ARRAY_LEN(ts); i++)
            need = OM_MAX(need, mm_size(ts[i], B));
    }
    return need;
}

/* Floats per token of the shared work buffer. */
static size_t work_floats(const struct eng_hparams *hp)
{
    size_t qkv = (size_t)hp->n_head * hp->head_dim_k + (size_t)hp->n_head_kv * hp->head_dim_k +
                 (size_t)hp->n_head_kv * hp->head_dim_v;
    size_t att = (size_t)hp->n_head * hp->head_dim_v;
    return OM_MAX(OM_MAX(qkv + att, 2 * (size_t)hp->n_ff), (size_t)hp->n_embd);
}

/* Default chunk: 512 tokens, fewer for wide models so that the forward
 * scratch stays within ~48 MiB (RSS budget: file + KV cache + 64 MiB). */
static uint32_t default_n_batch(const struct eng_hparams *hp)
{
    size_t moe = hp->n_expert ? 3 * (size_t)hp->n_embd +
                                    2 * (size_t)OM_MAX(hp->n_ff_exp, hp->n_ff_shexp) +
                                    (size_t)hp->n_expert + 2 * (size_t)hp->n_expert_used + 1
                              : 0;
    size_t per_tok = sizeof(float) * (2 * (size_t)hp->n_embd + work_floats(hp) +
                                      2 * (size_t)hp->n_rot + moe) +
                     2 * (size_t)OM_MAX(hp->n_embd, hp->n_ff); /* quantized activations */
    size_t n = ((size_t)48 << 20) / per_tok;
    return (uint32_t)OM_MAX(OM_MIN(n, (size_t)512), (size_t)32);
}

static float *falloc(size_t n)
{
    return om_xalloc_aligned(sizeof(float) * (n ? n : 1));
}

int eng_ctx_new(eng_model *m, const struct eng_ctx_params *pin, eng_ctx **out, char *err,
                size_t errlen)
{
    *out = NULL;
    struct eng_ctx_params p;
    if (pin)
        p = *pin;
    else
        eng_ctx_params_default(&p);
    const struct eng_hparams *hp = &m->hp;
    if (m->vocab_only)
        return om_err(err, errlen, OM_EINVAL, "model was loaded vocab-only");
    if (p.n_ctx == 0)
        p.n_ctx = (uint32_t)OM_MIN(hp->n_ctx_train, 4096);
    if (p.n_ctx > (1u << 20))
        return om_err(err, errlen, OM_ERANGE, "n_ctx %u too large", p.n_ctx);
    if (p.n_batch == 0)
        p.n_batch = default_n_batch(hp);
    if (p.n_batch > p.n_ctx)
        p.n_batch = p.n_ctx;
    if (p.n_seq_max == 0)
        p.n_seq_max = 1;
    if (p.n_seq_max > ENG_MAX_SEQ)
        return om_err(err, errlen, OM_ERANGE, "n_seq_max %u exceeds %d", p.n_seq_max,
                      ENG_MAX_SEQ);
    if (p.type_kv != OM_TYPE_F16 && p.type_kv != OM_TYPE_F32 && p.type_kv != OM_TYPE_Q8_0 &&
        p.type_kv != OM_TYPE_Q4_0)
        return om_err(err, errlen, OM_EINVAL,
                      "KV cache type %s unsupported (f16, f32, q8_0, q4_0)",
                      om_type_name(p.type_kv));
    if ((p.type_kv == OM_TYPE_Q8_0 || p.type_kv == OM_TYPE_Q4_0) &&
        (hp->head_dim_k % 32 || hp->head_dim_v % 32))
        return om_err(err, errlen, OM_EINVAL,
                      "KV cache type %s needs head sizes that are multiples of 32 (%d/%d)",
                      om_type_name(p.type_kv), hp->head_dim_k, hp->head_dim_v);
    if (p.n_threads < 0)
        return om_err(err, errlen, OM_EINVAL, "n_threads %d", p.n_threads);
    if (!hp->has_logits)
        p.embeddings = 1;

    struct eng_ctx *c = om_xcalloc(1, sizeof *c);
    c->m = m;
    c->p = p;
    c->pool = om_pool_new(p.n_threads);
    c->nth = om_pool_size(c->pool);
    c->p.n_threads = c->nth;
    /* LongRoPE: the long factors once a sequence may pass the original
     * context (llama.cpp's rule: n_ctx per sequence > n_ctx_orig) */
    c->inv_freq = m->inv_freq_long && p.n_ctx / p.n_seq_max > (uint32_t)hp->n_ctx_orig
                      ? m->inv_freq_long
                      : m->inv_freq;
    eng_kv_init(&c->kv, m, p.n_ctx, p.type_kv);

    const size_t B = p.n_batch, E = (size_t)hp->n_embd;
    const size_t nq = (size_t)hp->n_head * hp->head_dim_k;
    const size_t nk = (size_t)hp->n_head_kv * hp->head_dim_k;
    const size_t nv = (size_t)hp->n_head_kv * hp->head_dim_v;
    c->qkv_w = (int32_t)(nq + nk + nv);
    c->x = falloc(B * E);
    c->cur = falloc(B * E);
    if (hp->parallel)
        c->par = falloc(B * E);
    /* one buffer for what is never live at the same time: q|k|v + attention
     * output (until Wo), then the FFN's gate|up, then the output rows */
    c->work = falloc(B * work_floats(hp));
    c->qkv = c->work;
    c->att = c->work + B * (size_t)c->qkv_w;
    c->ffn = c->work;
    c->out_x = c->work;
    c->cs = falloc(B * (size_t)hp->n_rot);
    c->cs_swa = falloc(B * (size_t)hp->n_rot);
    c->mm_scratch = om_xalloc_aligned(OM_MAX(mm_scratch_need(m, (int64_t)B), 64));
    const size_t gmax = (size_t)OM_MIN(hp->n_head / hp->n_head_kv, ENG_ATT_GMAX);
    c->att_scores = falloc((size_t)c->nth * gmax * p.n_ctx);
    c->att_q = falloc((size_t)c->nth * gmax * (size_t)hp->head_dim_k);
    c->att_cells = om_xcalloc((size_t)c->nth * p.n_ctx, sizeof(int32_t));
    c->att_f16 = om_xcalloc((size_t)c->nth * OM_MAX(p.n_ctx, 4096u), sizeof(om_f16));
    /* per thread: q quantized for the K dot (<= 4096 floats -> bytes) and one
     * dequantized V head */
    size_t q8_row = 0;
    if (p.type_kv == OM_TYPE_Q8_0 || p.type_kv == OM_TYPE_Q4_0)
        q8_row = om_type_row_size(kern_vec_dot_type(p.type_kv), hp->head_dim_k);
    c->att_q8_stride = (OM_MAX(gmax * q8_row, (size_t)64) + 63) / 64 * 64;
    c->att_q8 = om_xalloc_aligned((size_t)c->nth * c->att_q8_stride);
    c->att_v = falloc((size_t)c->nth * 4096);
    c->ub_cell = om_xcalloc(B, sizeof(int32_t));
    c->ub_pos = om_xcalloc(B, sizeof(int32_t));
    c->ub_seq = om_xcalloc(B, sizeof(int32_t));
    c->ub_tok = om_xcalloc(B, sizeof(int32_t));
    c->ub_out = om_xcalloc(B, sizeof(int32_t));
    if (hp->has_logits) {
        c->cap_out = (int32_t)p.n_seq_max;
        c->logits = falloc((size_t)c->cap_out * (size_t)hp->n_vocab);
    }
    if (hp->n_expert) {
        const size_t ne = (size_t)hp->n_expert, k = (size_t)hp->n_expert_used;
        c->moe_router = falloc(B * ne);
        c->moe_sel = om_xcalloc(B * k, sizeof(int32_t));
        c->moe_w = falloc(B * k);
        c->moe_rows = om_xcalloc(B, sizeof(int32_t));
        c->moe_x = falloc(B * E);
        c->moe_h = falloc(B * 2 * (size_t)OM_MAX(hp->n_ff_exp, hp->n_ff_shexp));
        c->moe_y = falloc(B * E);
        c->moe_acc = falloc(B * E);
    }
    c->emb = falloc((size_t)p.n_seq_max * E);
    c->emb_n = om_xcalloc(p.n_seq_max, sizeof(int32_t));
    c->emb_norm = om_xcalloc(p.n_seq_max, sizeof(float));
    c->emb_pos = om_xcalloc(p.n_seq_max, sizeof(int32_t));
    om_log(OM_LOG_DEBUG, "engine", "context: n_ctx %u, n_batch %u, n_seq_max %u, %d threads, kv %s",
           p.n_ctx, p.n_batch, p.n_seq_max, c->nth, om_type_name(p.type_kv));
    *out = c;
    return 0;
}

void eng_ctx_free(eng_ctx *c)
{
    if (!c)
        return;
    om_pool_free(c->pool);
    eng_kv_close(&c->kv, c->m->hp.n_layer);
    om_afree(c->x);
    om_afree(c->cur);
    om_afree(c->par);
    om_afree(c->work);
    om_afree(c->cs);
    om_afree(c->cs_swa);
    om_afree(c->mm_scratch);
    om_afree(c->att_scores);
    om_afree(c->att_q);
    om_afree(c->logits);
    om_afree(c->emb);
    om_afree(c->moe_router);
    om_afree(c->moe_w);
    om_afree(c->moe_x);
    om_afree(c->moe_h);
    om_afree(c->moe_y);
    om_afree(c->moe_acc);
    free(c->moe_sel);
    free(c->moe_rows);
    free(c->att_cells);
    free(c->att_f16);
    om_afree(c->att_q8);
    om_afree(c->att_v);
    free(c->ub_cell);
    free(c->ub_pos);
    free(c->ub_seq);
    free(c->ub_tok);
    free(c->ub_out);
    free(c->auto_pos);
    free(c->seq_cells);
    free(c->emb_n);
    free(c->emb_norm);
    free(c->emb_pos);
    free(c);
}

const eng_model *eng_ctx_model(const eng_ctx *c) { return c->m; }
uint32_t eng_ctx_n_ctx(const eng_ctx *c) { return c->p.n_ctx; }
uint32_t eng_ctx_n_batch(const eng_ctx *c) { return c->p.n_batch; }
uint32_t eng_ctx_n_seq_max(const eng_ctx *c) { return c->p.n_seq_max; }
int32_t eng_ctx_n_threads(const eng_ctx *c) { return c->nth; }

uint64_t eng_ctx_kv_bytes(const eng_ctx *c)
{
    return (uint64_t)c->kv.n_cells * (c->kv.k_row + c->kv.v_row) * (uint64_t)c->m->hp.n_layer;
}

/* Positions for a batch without them: each sequence continues after its
 * cached maximum, consecutively in batch order. */
static const int32_t *auto_positions(eng_ctx *c, const struct eng_batch *b)
{
    if (b->n_tokens > c->auto_pos_cap) {
        free(c->auto_pos);
        c->auto_pos = om_xcalloc((size_t)b->n_tokens, sizeof(int32_t));
        c->auto_pos_cap = b->n_tokens;
    }
    int32_t next[ENG_MAX_SEQ];
    for (int s = 0; s < ENG_MAX_SEQ; s++)
        next[s] = -1;
    for (int32_t i = 0; i < b->n_tokens; i++) {
        int32_t s = b->seq_id ? b->seq_id[i] : 0;
        if (next[s] < 0)
            next[s] = eng_kv_seq_pos_max(c, s) + 1;
        c->auto_pos[i] = next[s]++;
    }
    return c->auto_pos;
}

static void embeddings_finish(eng_ctx *c)
{
    const int E = c->m->hp.n_embd;
    for (uint32_t s = 0; s < c->p.n_seq_max; s++) {
        if (!c->emb_n[s])
            continue;
        float *e = c->emb + (size_t)s * E;
        if (c->m->hp.pooling == ENG_POOL_MEAN)
            for (int i = 0; i < E; i++)
                e[i] /= (float)c->emb_n[s];
        double ss = 0.0;
        for (int i = 0; i < E; i++)
            ss += (double)e[i] * e[i];
        float inv = ss > 0.0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        c->emb_norm[s] = (float)sqrt(ss);
        for (int i = 0; i < E; i++)
            e[i] *= inv;
    }
}

int eng_decode(eng_ctx *c, const struct eng_batch *b)
{
    const struct eng_hparams *hp = &c->m->hp;
    if (!b || b->n_tokens <= 0 || !b->token)
        return OM_EINVAL;
    for (int32_t i = 0; i < b->n_tokens; i++) {
        if (b->token[i] < 0 || b->token[i] >= hp->n_vocab)
            return OM_EINVAL;
        if (b->seq_id && (b->seq_id[i] < 0 || b->seq_id[i] >= (int32_t)c->p.n_seq_max))
            return OM_EINVAL;
        if (b->pos && b->pos[i] < 0)
            return OM_EINVAL;
    }
    if (!hp->causal && b->n_tokens > (int32_t)c->p.n_batch)
        return OM_ERANGE;
    if ((uint32_t)b->n_tokens > c->kv.n_cells - c->kv.n_used)
        return OM_EFULL;
    const int32_t *pos = b->pos ? b->pos : auto_positions(c, b);
    int32_t n_out = 0;
    for (int32_t i = 0; i < b->n_tokens; i++)
        n_out += b->logits ? (b->logits[i] != 0) : (i == b->n_tokens - 1);
    if (hp->has_logits && n_out > c->cap_out) {
        om_afree(c->logits);
        c->cap_out = n_out;
        c->logits = falloc((size_t)n_out * (size_t)hp->n_vocab);
    }
    c->n_out = 0;
    if (c->p.embeddings) {
        memset(c->emb_n, 0, sizeof(int32_t) * c->p.n_seq_max);
        memset(c->emb, 0, sizeof(float) * c->p.n_seq_max * (size_t)hp->n_embd);
    }
    for (int32_t i0 = 0; i0 < b->n_tokens; i0 += (int32_t)c->p.n_batch) {
        int n = (int)OM_MIN((int32_t)c->p.n_batch, b->n_tokens - i0);
        for (int t = 0; t < n; t++) {
            int32_t i = i0 + t;
            c->ub_tok[t] = b->token[i];
            c->ub_pos[t] = pos[i];
            c->ub_seq[t] = b->seq_id ? b->seq_id[i] : 0;
            c->ub_out[t] = b->logits ? (b->logits[i] != 0) : (i == b->n_tokens - 1);
        }
        eng_kv_take(&c->kv, n, c->ub_pos, c->ub_seq, c->ub_cell);
        eng_forward_chunk(c, n);
    }
    if (c->p.embeddings)
        embeddings_finish(c);
    return 0;
}

int32_t eng_n_outputs(const eng_ctx *c) { return c->n_out; }

const float *eng_get_logits(const eng_ctx *c, int32_t i)
{
    if (!c->m->hp.has_logits)
        return NULL;
    if (i < 0)
        i += c->n_out;
    if (i < 0 || i >= c->n_out)
        return NULL;
    return c->logits + (size_t)i * (size_t)c->m->hp.n_vocab;
}

float eng_get_embeddings_norm(const eng_ctx *c, int32_t seq)
{
    if (!eng_get_embeddings(c, seq))
        return 0.0f;
    return c->emb_norm[seq];
}

const float *eng_get_embeddings(const eng_ctx *c, int32_t seq)
{
    if (!c->p.embeddings || seq < 0 || seq >= (int32_t)c->p.n_seq_max || !c->emb_n[seq])
        return NULL;
    return c->emb + (size_t)seq * (size_t)c->m->hp.n_embd;
}
