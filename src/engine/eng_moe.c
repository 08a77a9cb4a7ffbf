/* engine: mixture-of-experts FFN (qwen3moe, Mixtral-style llama).
 *
 * Per token: router logits = cur · W_router (n_expert), softmax, keep the
 * n_expert_used largest (ties: lower index first), optionally renormalise
 * their weights to sum 1, and out = sum_e w_e * down_e(silu(gate_e · cur) *
 * (up_e · cur)). Per expert, the tokens routed to it are gathered into one
 * block so each expert's matrices run once per chunk as a batched matmul
 * (kern_matmul over that expert's slab of the (ne0, ne1, n_expert) tensor).
 * A shared expert (expert_shared_feed_forward_length > 0) runs on every
 * token and is added, scaled by sigmoid(cur · ffn_gate_inp_shexp) when that
 * gate exists (qwen2moe) and by 1 otherwise (granitemoe). */
#include <math.h>
#include <string.h>

#include "engine/eng_int.h"

int eng_moe_hparams(struct eng_model *m, char *err, size_t errlen)
{
    struct eng_hparams *hp = &m->hp;
    uint32_t ne = 0, nu = 0, ff = 0;
    int rc;
    if ((rc = eng_meta_u32(m, ".expert_count", 0, &ne, err, errlen)) ||
        (rc = eng_meta_u32(m, ".expert_used_count", 0, &nu, err, errlen)) ||
        (rc = eng_meta_u32(m, ".expert_feed_forward_length", 0, &ff, err, errlen)))
        return rc;
    if (ne == 0)
        return 0;
    if (ne > 1024 || nu == 0 || nu > ne)
        return om_err(err, errlen, OM_EFORMAT, "%s: expert_count %u / expert_used_count %u",
                      hp->arch, ne, nu);
    hp->n_expert = (int32_t)ne;
    hp->n_expert_used = (int32_t)nu;
    hp->n_ff_exp = ff ? (int32_t)OM_MIN(ff, 1u << 20) : hp->n_ff;
    hp->moe_norm_w = 1;
    uint32_t fs = 0;
    if ((rc = eng_meta_u32(m, ".expert_shared_feed_forward_length", 0, &fs, err, errlen)))
        return rc;
    hp->n_ff_shexp = (int32_t)OM_MIN(fs, 1u << 20);
    return 0;
}

int eng_bind_experts(struct eng_model *m, struct eng_tensor *t, int il, const char *suffix,
                     int64_t ne0, int64_t ne1, char *err, size_t errlen)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s", il, suffix);
    memset(t, 0, sizeof *t);
    const gguf_tensor *g = gguf_find_tensor(m->gf, name);
    const int64_t n_exp = m->hp.n_expert;
    if (!g)
        return om_err(err, errlen, OM_ENOTFOUND, "tensor %s missing", name);
    if (g->ne[0] != ne0 || g->ne[1] != ne1 || g->ne[2] != n_exp || g->ne[3] != 1)
        return om_err(err, errlen, OM_EFORMAT,
                      "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld]",
                      name, (long long)g->ne[0], (long long)g->ne[1], (long long)g->ne[2],
                      (long long)g->ne[3], (long long)ne0, (long long)ne1, (long long)n_exp);
    if (!kern_type_supported(g->type))
        return om_err(err, errlen, OM_EUNSUPPORTED, "tensor %s: type %s not supported", name,
                      om_type_name(g->type));
    size_t rb = om_type_row_size(g->type, ne0);
    if (rb == 0 || rb * (size_t)ne1 * (size_t)n_exp != g->size)
        return om_err(err, errlen, OM_EFORMAT, "tensor %s: size %zu does not match its shape",
                      name, g->size);
    t->data = g->data;
    t->type = g->type;
    memcpy(t->ne, g->ne, sizeof t->ne);
    t->row_bytes = rb;
    m->n_bytes += g->size;
    m->n_params += (uint64_t)ne0 * (uint64_t)ne1 * (uint64_t)n_exp;
    return 0;
}

int eng_bind_moe_layers(struct eng_model *m, char *err, size_t errlen)
{
    const struct eng_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, F = hp->n_ff_exp, FS = hp->n_ff_shexp;
    int rc = 0;
    for (int il = 0; il < hp->n_layer && FS > 0 && !rc; il++) {
        struct eng_layer *L = &m->layers[il];
        if ((rc = eng_bind_layer(m, &L->ffn_gate_inp_shexp, il, "ffn_gate_inp_shexp.weight",
                                 ENG_T_VEC, 0, E, 0, err, errlen)) ||
            (rc = eng_bind_layer(m, &L->ffn_gate_shexp, il, "ffn_gate_shexp.weight", ENG_T_MAT,
                                 1, E, FS, err, errlen)) ||
            (rc = eng_bind_layer(m, &L->ffn_up_shexp, il, "ffn_up_shexp.weight", ENG_T_MAT, 1, E,
                                 FS, err, errlen)) ||
            (rc = eng_bind_layer(m, &L->ffn_down_shexp, il, "ffn_down_shexp.weight", ENG_T_MAT,
                                 1, FS, E, err, errlen)))
            return rc;
    }
    for (int il = 0; il < hp->n_layer && !rc; il++) {
        struct eng_layer *L = &m->layers[il];
        if ((rc = eng_bind_layer(m, &L->ffn_gate_inp, il, "ffn_gate_inp.weight", ENG_T_MAT, 1, E,
                                 hp->n_expert, err, errlen)) ||
            (rc = eng_bind_experts(m, &L->ffn_gate_exps, il, "ffn_gate_exps.weight", E, F, err,
                                   errlen)) ||
            (rc = eng_bind_experts(m, &L->ffn_up_exps, il, "ffn_up_exps.weight", E, F, err,
                                   errlen)) ||
            (rc = eng_bind_experts(m, &L->ffn_down_exps, il, "ffn_down_exps.weight", F, E, err,
                                   errlen)))
            break;
    }
    return rc;
}

/* Softmax over the router logits and top-k selection for token t. */
static void route(struct eng_ctx *c, int t)
{
    const struct eng_hparams *hp = &c->m->hp;
    const int ne = hp->n_expert, k = hp->n_expert_used;
    float *p = c->moe_router + (size_t)t * ne;
    float mx = p[0];
    for (int e = 1; e < ne; e++)
        mx = p[e] > mx ? p[e] : mx;
    double sum = 0.0;
    for (int e = 0; e < ne; e++) {
        p[e] = expf(p[e] - mx);
        sum += p[e];
    }
    int32_t *sel = c->moe_sel + (size_t)t * k;
    float *w = c->moe_w + (size_t)t * k;
    double wsum = 0.0;
    for (int j = 0; j < k; j++) { /* k is small: selection by repeated scans */
        int best = -1;
        for (int e = 0; e < ne; e++) {
            int taken = 0;
            for (int i = 0; i < j; i++)
                taken |= sel[i] == e;
            if (!taken && (best < 0 || p[e] > p[best]))
                best = e;
        }
        sel[j] = best;
        w[j] = (float)(p[best] / sum);
        wsum += w[j];
    }
    if (hp->moe_norm_w && wsum > 0.0)
        for (int j = 0; j < k; j++)
            w[j] = (float)(w[j] / wsum);
}

static const void *slab(const struct eng_tensor *t, int e)
{
    return (const uint8_t *)t->data + (size_t)e * t->row_bytes * (size_t)t->ne[1];
}

void eng_moe_ffn(struct eng_ctx *c, int il, int n, const float *in)
{
    const struct eng_hparams *hp = &c->m->hp;
    const struct eng_layer *L = &c->m->layers[il];
    const int E = hp->n_embd, F = hp->n_ff_exp, ne = hp->n_expert, k = hp->n_expert_used;
    /* router (n, n_expert) */
    kern_matmul(c->pool, L->ffn_gate_inp.type, L->ffn_gate_inp.data, L->ffn_gate_inp.row_bytes,
                ne, E, in, E, n, c->moe_router, ne, c->mm_scratch);
    for (int t = 0; t < n; t++)
        route(c, t);
    memset(c->moe_acc, 0, sizeof(float) * (size_t)n * E);
    for (int e = 0; e < ne; e++) {
        int m = 0;
        for (int t = 0; t < n; t++)
            for (int j = 0; j < k; j++)
                if (c->moe_sel[(size_t)t * k + j] == e) {
                    c->moe_rows[m] = t * k + j; /* token and slot */
                    memcpy(c->moe_x + (size_t)m * E, in + (size_t)t * E, sizeof(float) * E);
                    m++;
                }
        if (m == 0)
            continue;
        /* (m, E) -> gate | up (m, 2F) -> h (m, F) -> (m, E) */
        const struct kern_mm_out o[2] = {
            {L->ffn_gate_exps.type, slab(&L->ffn_gate_exps, e), L->ffn_gate_exps.row_bytes, F,
             c->moe_h, 2 * (int64_t)F},
            {L->ffn_up_exps.type, slab(&L->ffn_up_exps, e), L->ffn_up_exps.row_bytes, F,
             c->moe_h + F, 2 * (int64_t)F},
        };
        kern_matmul_multi(c->pool, o, 2, E, c->moe_x, E, m, c->mm_scratch);
        for (int r = 0; r < m; r++) {
            float *g = c->moe_h + (size_t)r * 2 * F, *u = g + F;
            for (int i = 0; i < F; i++)
                g[i] = eng_silu(g[i]) * u[i];
        }
        kern_matmul(c->pool, L->ffn_down_exps.type, slab(&L->ffn_down_exps, e),
                    L->ffn_down_exps.row_bytes, E, F, c->moe_h, 2 * (int64_t)F, m, c->moe_y, E,
                    c->mm_scratch);
        for (int r = 0; r < m; r++) {
            int t = c->moe_rows[r] / k;
            float w = c->moe_w[c->moe_rows[r]];
            float *acc = c->moe_acc + (size_t)t * E;
            const float *y = c->moe_y + (size_t)r * E;
            for (int i = 0; i < E; i++)
                acc[i] += w * y[i];
        }
    }
    if (L->ffn_gate_shexp.data) { /* shared expert, gated by a sigmoid if it has a gate */
        const int FS = hp->n_ff_shexp;
        const struct kern_mm_out o[2] = {
            {L->ffn_gate_shexp.type, L->ffn_gate_shexp.data, L->ffn_gate_shexp.row_bytes, FS,
             c->moe_h, 2 * (int64_t)FS},
            {L->ffn_up_shexp.type, L->ffn_up_shexp.data, L->ffn_up_shexp.row_bytes, FS,
             c->moe_h + FS, 2 * (int64_t)FS},
        };
        kern_matmul_multi(c->pool, o, 2, E, in, E, n, c->mm_scratch);
        for (int r = 0; r < n; r++) {
            float *g = c->moe_h + (size_t)r * 2 * FS, *u = g + FS;
            for (int i = 0; i < FS; i++)
                g[i] = eng_silu(g[i]) * u[i];
        }
        kern_matmul(c->pool, L->ffn_down_shexp.type, L->ffn_down_shexp.data,
                    L->ffn_down_shexp.row_bytes, E, FS, c->moe_h, 2 * (int64_t)FS, n, c->moe_y,
                    E, c->mm_scratch);
        const float *wg = L->ffn_gate_inp_shexp.data;
        for (int t = 0; t < n; t++) {
            const float *x = in + (size_t)t * E, *y = c->moe_y + (size_t)t * E;
            float s = 1.0f;
            if (wg) {
                double d = 0.0;
                for (int i = 0; i < E; i++)
                    d += (double)x[i] * wg[i];
                s = (float)(1.0 / (1.0 + exp(-d)));
            }
            float *acc = c->moe_acc + (size_t)t * E;
            for (int i = 0; i < E; i++)
                acc[i] += s * y[i];
        }
    }
    memcpy(c->cur, c->moe_acc, sizeof(float) * (size_t)n * E);
}
