/* engine: the transformer core. One chunk of n tokens (n <= n_batch) goes
 * through every layer together: the matmuls see all n tokens at once
 * (kern_matmul with n_tok = n), element-wise steps run per token on the
 * pool, attention runs per (token, head) on the pool (eng_attn.c).
 *
 * Block (pre-norm families; presence of a tensor switches its step on):
 *   cur = norm(x, attn_norm)                       // (n, n_embd)
 *   q|k|v = cur · Wqkv (+ biases)                   // (n, qkv_w)
 *   q, k = qk_norm per head; rope(q, k)            // (n, n_head, head_dim)
 *   K/V cache cells <- k, v
 *   att = attention(q, cache)                      // (n, n_head * head_dim_v)
 *   cur = att · Wo (+ bo); cur = post_attn_norm(cur)
 *   x += cur
 *   cur = norm(x, ffn_norm); h = act(gate) * up; cur = h · Wdown (+ b)
 *   cur = post_ffw_norm(cur); x += cur
 * Post-norm families (bert) skip the pre-norms and normalise x after each
 * residual add with attn_post_norm and ffn_post_norm instead. */
#include <math.h>
#include <string.h>

#include "engine/eng_int.h"

typedef void (*tok_fn)(struct eng_ctx *c, int il, int t);

struct par_job {
    struct eng_ctx *c;
    tok_fn fn;
    int il, n;
};

static void par_worker(void *arg, int ith, int nth)
{
    struct par_job *j = arg;
    int t0 = (int)((int64_t)j->n * ith / nth), t1 = (int)((int64_t)j->n * (ith + 1) / nth);
    for (int t = t0; t < t1; t++)
        j->fn(j->c, j->il, t);
}

/* Runs fn(c, il, t) for t in [0, n), split over the pool when there is
 * enough work (per_tok: rough element count per token) to pay for waking it. */
static void par_tokens(struct eng_ctx *c, int il, int n, tok_fn fn, int64_t per_tok)
{
    struct par_job j = {c, fn, il, n};
    if (n == 1 || c->nth == 1 || (int64_t)n * per_tok < (1 << 15))
        par_worker(&j, 0, 1);
    else
        om_pool_run(c->pool, par_worker, &j);
}

static const float *vec(const struct eng_tensor *t)
{
    return t->data;
}

static void add_vec(float *y, const struct eng_tensor *b, int n)
{
    if (!b->data)
        return;
    const float *bb = b->data;
    for (int i = 0; i < n; i++)
        y[i] += bb[i];
}

static void matmul(struct eng_ctx *c, const struct eng_tensor *w, const float *x, int64_t xs,
                   int n, float *y, int64_t ys)
{
    kern_matmul(c->pool, w->type, w->data, w->row_bytes, w->ne[1], w->ne[0], x, xs, n, y, ys,
                c->mm_scratch);
}

/* ---- per-token steps ---- */

static void tok_embed(struct eng_ctx *c, int il, int t)
{
    (void)il;
    const struct eng_model *m = c->m;
    const struct eng_hparams *hp = &m->hp;
    const int E = hp->n_embd;
    float *x = c->x + (size_t)t * E;
    const uint8_t *row =
        (const uint8_t *)m->tok_embd.data + m->tok_embd.row_bytes * (size_t)c->ub_tok[t];
    kern_dequant_row(m->tok_embd.type, row, x, E);
    if (hp->embd_scale != 1.0f)
        for (int i = 0; i < E; i++)
            x[i] *= hp->embd_scale;
    if (m->pos_embd.data) {
        int64_t p = OM_MIN((int64_t)c->ub_pos[t], m->pos_embd.ne[1] - 1);
        const uint8_t *pr = (const uint8_t *)m->pos_embd.data + m->pos_embd.row_bytes * (size_t)p;
        float *tmp = c->cur + (size_t)t * E;
        kern_dequant_row(m->pos_embd.type, pr, tmp, E);
        for (int i = 0; i < E; i++)
            x[i] += tmp[i];
    }
    if (m->type_embd.data) { /* token type 0 */
        float *tmp = c->cur + (size_t)t * E;
        kern_dequant_row(m->type_embd.type, m->type_embd.data, tmp, E);
        for (int i = 0; i < E; i++)
            x[i] += tmp[i];
    }
    if (m->embd_norm.data)
        eng_norm_row(hp->norm, x, x, E, vec(&m->embd_norm), vec(&m->embd_norm_b), hp->norm_eps);
    if (hp->rope != ENG_ROPE_NONE) {
        eng_rope_cs(c->cs + (size_t)t * hp->n_rot, hp->n_rot, c->inv_freq, hp->rope_scale,
                    (float)c->ub_pos[t], hp->rope_mscale);
        eng_rope_cs(c->cs_swa + (size_t)t * hp->n_rot, hp->n_rot, m->inv_freq_swa,
                    hp->rope_scale_swa, (float)c->ub_pos[t], hp->rope_mscale);
    }
}

static void tok_attn_norm(struct eng_ctx *c, int il, int t)
{
    const struct eng_hparams *hp = &c->m->hp;
    const struct eng_layer *L = &c->m->layers[il];
    size_t o = (size_t)t * hp->n_embd;
    eng_norm_row(hp->norm, c->cur + o, c->x + o, hp->n_embd, vec(&L->attn_norm),
                 vec(&L->attn_norm_b), hp->norm_eps);
}

/* biases, QK-norm, RoPE, then K/V into the token's cache cell */
static void tok_qkv_post(struct eng_ctx *c, int il, int t)
{
    const struct eng_model *m = c->m;
    const struct eng_hparams *hp = &m->hp;
    const struct eng_layer *L = &m->layers[il];
    const int hk = hp->head_dim_k, hv = hp->head_dim_v;
    const int nq = hp->n_head * hk, nk = hp->n_head_kv * hk, nv = hp->n_head_kv * hv;
    float *q = c->qkv + (size_t)t * c->qkv_w, *k = q + nq, *v = k + nk;
    add_vec(q, &L->bqkv, nq + nk + nv);
    add_vec(q, &L->bq, nq);
    add_vec(k, &L->bk, nk);
    add_vec(v, &L->bv, nv);
    if (hp->qk_norm_full) { /* olmo2: one RMSNorm over all of q, and of k */
        eng_norm_row(ENG_NORM_RMS, q, q, nq, vec(&L->q_norm), NULL, hp->norm_eps);
        eng_norm_row(ENG_NORM_RMS, k, k, nk, vec(&L->k_norm), NULL, hp->norm_eps);
    } else if (L->q_norm.data)
        for (int h = 0; h < hp->n_head; h++)
            eng_norm_row(ENG_NORM_RMS, q + h * hk, q + h * hk, hk, vec(&L->q_norm), NULL,
                         hp->norm_eps);
    if (L->k_norm.data && !hp->qk_norm_full)
        for (int h = 0; h < hp->n_head_kv; h++)
            eng_norm_row(ENG_NORM_RMS, k + h * hk, k + h * hk, hk, vec(&L->k_norm), NULL,
                         hp->norm_eps);
    if (hp->rope != ENG_ROPE_NONE) {
        const float *cs = (hp->swa_layer[il] ? c->cs_swa : c->cs) + (size_t)t * hp->n_rot;
        eng_rope_apply(hp->rope, q, hp->n_head, hk, hp->n_rot, cs);
        eng_rope_apply(hp->rope, k, hp->n_head_kv, hk, hp->n_rot, cs);
    }
    struct eng_kv *kv = &c->kv;
    size_t cell = (size_t)c->ub_cell[t];
    uint8_t *kd = kv->k[il] + kv->k_row * cell, *vd = kv->v[il] + kv->v_row * cell;
    if (kv->type == OM_TYPE_F16) {
        const struct kern_ops *ops = kern_ops_active();
        ops->f32_to_f16_row(k, (om_f16 *)kd, nk);
        ops->f32_to_f16_row(v, (om_f16 *)vd, nv);
    } else if (kv->type == OM_TYPE_F32) {
        memcpy(kd, k, sizeof(float) * (size_t)nk);
        memcpy(vd, v, sizeof(float) * (size_t)nv);
    } else {
        kern_quantize_row(kv->type, k, kd, nk);
        kern_quantize_row(kv->type, v, vd, nv);
    }
}

static void tok_attn_residual(struct eng_ctx *c, int il, int t)
{
    const struct eng_hparams *hp = &c->m->hp;
    const struct eng_layer *L = &c->m->layers[il];
    const int E = hp->n_embd;
    float *x = c->x + (size_t)t * E, *cur = c->cur + (size_t)t * E;
    add_vec(cur, &L->bo, E);
    if (!hp->post_norm && L->attn_post_norm.data)
        eng_norm_row(hp->norm, cur, cur, E, vec(&L->attn_post_norm), vec(&L->attn_post_norm_b),
                     hp->norm_eps);
    for (int i = 0; i < E; i++)
        x[i] += hp->residual_scale * cur[i];
    if (hp->post_norm)
        eng_norm_row(hp->norm, x, x, E, vec(&L->attn_post_norm), vec(&L->attn_post_norm_b),
                     hp->norm_eps);
    else if (L->ffn_norm.data)
        eng_norm_row(hp->norm, cur, x, E, vec(&L->ffn_norm), vec(&L->ffn_norm_b), hp->norm_eps);
    /* no ffn_norm (olmo2): the FFN reads x itself, see layer() */
}

/* ffn row t: [gate (F) | up (F)] -> h in the gate half */
static void tok_ffn_act(struct eng_ctx *c, int il, int t)
{
    const struct eng_hparams *hp = &c->m->hp;
    const struct eng_layer *L = &c->m->layers[il];
    const int F = hp->n_ff;
    float *g = c->ffn + (size_t)t * 2 * F, *u = g + F;
    if (hp->act == ENG_ACT_GELU) { /* ungated: up lands in the first half */
        add_vec(g, &L->ffn_up_b, F);
        for (int i = 0; i < F; i++)
            g[i] = eng_gelu(g[i]);
        return;
    }
    add_vec(g, &L->ffn_gate_b, F);
    add_vec(u, &L->ffn_up_b, F);
    if (hp->act == ENG_ACT_SILU_GATED)
        for (int i = 0; i < F; i++)
            g[i] = eng_silu(g[i]) * u[i];
    else
        for (int i = 0; i < F; i++)
            g[i] = eng_gelu(g[i]) * u[i];
}

static void tok_ffn_residual(struct eng_ctx *c, int il, int t)
{
    const struct eng_hparams *hp = &c->m->hp;
    const struct eng_layer *L = &c->m->layers[il];
    const int E = hp->n_embd;
    float *x = c->x + (size_t)t * E, *cur = c->cur + (size_t)t * E;
    add_vec(cur, &L->ffn_down_b, E);
    if (!hp->post_norm && L->ffn_post_norm.data)
        eng_norm_row(hp->norm, cur, cur, E, vec(&L->ffn_post_norm), vec(&L->ffn_post_norm_b),
                     hp->norm_eps);
    for (int i = 0; i < E; i++)
        x[i] += hp->residual_scale * cur[i];
    if (hp->post_norm)
        eng_norm_row(hp->norm, x, x, E, vec(&L->ffn_post_norm), vec(&L->ffn_post_norm_b),
                     hp->norm_eps);
}

/* parallel blocks: x += (attn + bo) + (ffn + b_down) */
static void tok_parallel_residual(struct eng_ctx *c, int il, int t)
{
    const struct eng_hparams *hp = &c->m->hp;
    const struct eng_layer *L = &c->m->layers[il];
    const int E = hp->n_embd;
    float *x = c->x + (size_t)t * E, *a = c->par + (size_t)t * E, *f = c->cur + (size_t)t * E;
    add_vec(a, &L->bo, E);
    add_vec(f, &L->ffn_down_b, E);
    for (int i = 0; i < E; i++)
        x[i] += a[i] + f[i];
}

static void layer(struct eng_ctx *c, int il, int n)
{
    const struct eng_hparams *hp = &c->m->hp;
    const struct eng_layer *L = &c->m->layers[il];
    const int E = hp->n_embd, F = hp->n_ff, W = c->qkv_w;
    const int nq = hp->n_head * hp->head_dim_k, nk = hp->n_head_kv * hp->head_dim_k;

    /* attention input: normed x (pre-norm) or x itself (post-norm) */
    const float *in = c->x;
    if (!hp->post_norm && L->attn_norm.data) {
        par_tokens(c, il, n, tok_attn_norm, E);
        in = c->cur;
    }
    if (L->wqkv.data) {
        matmul(c, &L->wqkv, in, E, n, c->qkv, W);
    } else { /* one quantization of cur and one pool run for the three */
        const struct kern_mm_out o[3] = {
            {L->wq.type, L->wq.data, L->wq.row_bytes, L->wq.ne[1], c->qkv, W},
            {L->wk.type, L->wk.data, L->wk.row_bytes, L->wk.ne[1], c->qkv + nq, W},
            {L->wv.type, L->wv.data, L->wv.row_bytes, L->wv.ne[1], c->qkv + nq + nk, W},
        };
        kern_matmul_multi(c->pool, o, 3, E, in, E, n, c->mm_scratch);
    }
    par_tokens(c, il, n, tok_qkv_post, W);
    eng_attention(c, il, n);
    if (hp->parallel) { /* phi2: the FFN reads the same normed input; par holds attn */
        matmul(c, &L->wo, c->att, (int64_t)hp->n_head * hp->head_dim_v, n, c->par, E);
    } else {
        matmul(c, &L->wo, c->att, (int64_t)hp->n_head * hp->head_dim_v, n, c->cur, E);
        par_tokens(c, il, n, tok_attn_residual, 2 * (int64_t)E); /* leaves ffn input in cur */
    }

    in = hp->post_norm || !L->ffn_norm.data ? c->x : c->cur;
    if (hp->parallel)
        in = c->cur;
    if (L->ffn_gate_inp.data) { /* mixture of experts: result in cur */
        eng_moe_ffn(c, il, n, in);
        par_tokens(c, il, n, tok_ffn_residual, E);
        return;
    }
    if (hp->fused_gate_up || hp->act == ENG_ACT_GELU) {
        matmul(c, &L->ffn_up, in, E, n, c->ffn, 2 * (int64_t)F);
    } else {
        const struct kern_mm_out o[2] = {
            {L->ffn_gate.type, L->ffn_gate.data, L->ffn_gate.row_bytes, L->ffn_gate.ne[1], c->ffn,
             2 * (int64_t)F},
            {L->ffn_up.type, L->ffn_up.data, L->ffn_up.row_bytes, L->ffn_up.ne[1], c->ffn + F,
             2 * (int64_t)F},
        };
        kern_matmul_multi(c->pool, o, 2, E, in, E, n, c->mm_scratch);
    }
    par_tokens(c, il, n, tok_ffn_act, 4 * (int64_t)F); /* expf per element */
    matmul(c, &L->ffn_down, c->ffn, 2 * (int64_t)F, n, c->cur, E);
    par_tokens(c, il, n, hp->parallel ? tok_parallel_residual : tok_ffn_residual, E);
}

/* Final norm of x row t into y. */
static void final_norm(const struct eng_ctx *c, float *y, const float *x)
{
    const struct eng_model *m = c->m;
    const int E = m->hp.n_embd;
    if (m->out_norm.data)
        eng_norm_row(m->hp.norm, y, x, E, vec(&m->out_norm), vec(&m->out_norm_b),
                     m->hp.norm_eps);
    else
        memcpy(y, x, sizeof(float) * (size_t)E);
}

static void outputs(struct eng_ctx *c, int n)
{
    const struct eng_model *m = c->m;
    const struct eng_hparams *hp = &m->hp;
    const int E = hp->n_embd;
    if (c->p.embeddings) {
        for (int t = 0; t < n; t++) {
            int s = c->ub_seq[t], p = c->ub_pos[t];
            float *e = c->emb + (size_t)s * E, *h = c->out_x;
            final_norm(c, h, c->x + (size_t)t * E);
            int first = c->emb_n[s] == 0;
            c->emb_n[s]++;
            if (hp->pooling == ENG_POOL_MEAN) {
                for (int i = 0; i < E; i++)
                    e[i] += h[i];
            } else if (first || (hp->pooling == ENG_POOL_CLS ? p < c->emb_pos[s]
                                                             : p > c->emb_pos[s])) {
                memcpy(e, h, sizeof(float) * (size_t)E);
                c->emb_pos[s] = p;
            }
        }
    }
    if (!hp->has_logits)
        return;
    int j = 0;
    for (int t = 0; t < n; t++)
        if (c->ub_out[t])
            final_norm(c, c->out_x + (size_t)(j++) * E, c->x + (size_t)t * E);
    if (j == 0)
        return;
    float *lg = c->logits + (size_t)c->n_out * hp->n_vocab;
    /* the first n_vocab rows (padded vocabularies have more) */
    kern_matmul(c->pool, m->output.type, m->output.data, m->output.row_bytes, hp->n_vocab, E,
                c->out_x, E, j, lg, hp->n_vocab, c->mm_scratch);
    if (m->output_b.data)
        for (int r = 0; r < j; r++)
            add_vec(lg + (size_t)r * hp->n_vocab, &m->output_b, hp->n_vocab);
    if (hp->logit_scale != 1.0f) {
        const float inv = 1.0f / hp->logit_scale;
        for (size_t i = 0; i < (size_t)j * hp->n_vocab; i++)
            lg[i] *= inv;
    }
    if (hp->final_softcap > 0.0f) {
        const float cap = hp->final_softcap;
        for (size_t i = 0; i < (size_t)j * hp->n_vocab; i++)
            lg[i] = cap * tanhf(lg[i] / cap);
    }
    c->n_out += j;
}

void eng_forward_chunk(struct eng_ctx *c, int n)
{
    par_tokens(c, 0, n, tok_embed, c->m->hp.n_embd);
    eng_attn_prepare(c, n);
    for (int il = 0; il < c->m->hp.n_layer; il++)
        layer(c, il, n);
    outputs(c, n);
}
