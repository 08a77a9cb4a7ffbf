/* engine: model loading: architecture detection, common hyper-parameters,
 * tensor binding with presence / type / shape checks, accessors.
 *
 * Weights are never copied: every eng_tensor is a view into the GGUF
 * mapping, which the model owns until eng_model_free. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/eng_int.h"
#include "engine/tok.h"

/* Every supported architecture (general.architecture -> family hooks). */
static const struct eng_family *const g_families[] = {
    &eng_family_llama,   &eng_family_qwen2,      &eng_family_qwen2moe,   &eng_family_qwen3,
    &eng_family_qwen3moe, &eng_family_phi2,      &eng_family_phi3,       &eng_family_gemma,
    &eng_family_gemma2,  &eng_family_gemma3,     &eng_family_granite,    &eng_family_granitemoe,
    &eng_family_starcoder2, &eng_family_olmo2,   &eng_family_command_r,  &eng_family_bert,
    &eng_family_nomic_bert,
};

#define ENG_MAX_DIM (1 << 20)     /* bound for embedding / ffn / head sizes */
#define ENG_MAX_VOCAB (1 << 22)

void eng_model_params_default(struct eng_model_params *p)
{
    memset(p, 0, sizeof *p);
}

static void meta_key(const struct eng_model *m, const char *suffix, char *key, size_t n)
{
    if (suffix[0] == '.')
        snprintf(key, n, "%s%s", m->hp.arch, suffix);
    else
        snprintf(key, n, "%s", suffix);
}

int eng_meta_u32(const struct eng_model *m, const char *suffix, int required, uint32_t *out,
                 char *err, size_t errlen)
{
    char key[128];
    meta_key(m, suffix, key, sizeof key);
    int rc = gguf_get_u32(m->gf, key, out);
    if (rc == OM_ENOTFOUND && !required)
        return 0;
    if (rc == OM_ENOTFOUND)
        return om_err(err, errlen, rc, "metadata key %s missing", key);
    if (rc)
        return om_err(err, errlen, rc, "metadata key %s: not an unsigned 32-bit integer", key);
    return 0;
}

int eng_meta_f32(const struct eng_model *m, const char *suffix, int required, float *out,
                 char *err, size_t errlen)
{
    char key[128];
    meta_key(m, suffix, key, sizeof key);
    int rc = gguf_get_f32(m->gf, key, out);
    if (rc == OM_ENOTFOUND && !required)
        return 0;
    if (rc == OM_ENOTFOUND)
        return om_err(err, errlen, rc, "metadata key %s missing", key);
    if (rc)
        return om_err(err, errlen, rc, "metadata key %s: not a float", key);
    return 0;
}

/* Reads the keys every family shares and sets the defaults of the flags. */
static int hparams_common(struct eng_model *m, char *err, size_t errlen)
{
    struct eng_hparams *hp = &m->hp;
    uint32_t v;
    int rc;
#define REQ(sfx, field)                                                                    \
    do {                                                                                   \
        if ((rc = eng_meta_u32(m, sfx, 1, &v, err, errlen)))                               \
            return rc;                                                                     \
        if (v == 0 || v > ENG_MAX_DIM)                                                     \
            return om_err(err, errlen, OM_EFORMAT, "metadata %s.%s = %u out of range",     \
                          hp->arch, (sfx) + 1, v);                                         \
        hp->field = (int32_t)v;                                                            \
    } while (0)
    REQ(".context_length", n_ctx_train);
    REQ(".embedding_length", n_embd);
    REQ(".block_count", n_layer);
    REQ(".feed_forward_length", n_ff);
    REQ(".attention.head_count", n_head);
#undef REQ
    if (hp->n_layer > ENG_MAX_LAYERS)
        return om_err(err, errlen, OM_EUNSUPPORTED, "%s.block_count = %d exceeds %d", hp->arch,
                      hp->n_layer, ENG_MAX_LAYERS);
    v = (uint32_t)hp->n_head;
    if ((rc = eng_meta_u32(m, ".attention.head_count_kv", 0, &v, err, errlen)))
        return rc;
    if (v == 0 || v > (uint32_t)hp->n_head || hp->n_head % v)
        return om_err(err, errlen, OM_EFORMAT,
                      "%s.attention.head_count_kv = %u does not divide head_count %d", hp->arch,
                      v, hp->n_head);
    hp->n_head_kv = (int32_t)v;
    v = (uint32_t)(hp->n_embd / hp->n_head);
    if ((rc = eng_meta_u32(m, ".attention.key_length", 0, &v, err, errlen)))
        return rc;
    hp->head_dim_k = (int32_t)v;
    if ((rc = eng_meta_u32(m, ".attention.value_length", 0, &v, err, errlen)))
        return rc;
    hp->head_dim_v = (int32_t)v;
    if (hp->head_dim_k <= 0 || hp->head_dim_v <= 0 || hp->head_dim_k > 4096 ||
        hp->head_dim_v > 4096)
        return om_err(err, errlen, OM_EFORMAT,
                      "%s.attention.key_length/value_length: head size %d/%d out of range",
                      hp->arch, hp->head_dim_k, hp->head_dim_v);
    v = (uint32_t)hp->head_dim_k;
    if ((rc = eng_meta_u32(m, ".rope.dimension_count", 0, &v, err, errlen)))
        return rc;
    if (v > (uint32_t)hp->head_dim_k || (v & 1))
        return om_err(err, errlen, OM_EFORMAT,
                      "%s.rope.dimension_count = %u (head size %d) invalid", hp->arch, v,
                      hp->head_dim_k);
    hp->n_rot = (int32_t)v;
    hp->rope_base = 10000.0f;
    if ((rc = eng_meta_f32(m, ".rope.freq_base", 0, &hp->rope_base, err, errlen)))
        return rc;
    hp->rope_scale = 1.0f;
    float f = 0.0f;
    if ((rc = eng_meta_f32(m, ".rope.scale_linear", 0, &f, err, errlen)))
        return rc;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", hp->arch);
    gguf_str st;
    /* "llama3": the converter already baked the factors into rope_freqs.
     * No type at all: linear when a factor is given (llama.cpp's default). */
    int has_type = gguf_get_str(m->gf, key, &st) == 0;
    if (has_type && !gguf_str_eq(st, "none") && !gguf_str_eq(st, "llama3")) {
        if (gguf_str_eq(st, "yarn"))
            hp->yarn = 1;
        else if (!gguf_str_eq(st, "linear"))
            return om_err(err, errlen, OM_EUNSUPPORTED, "%s = %.*s: unsupported rope scaling",
                          key, (int)OM_MIN(st.len, 32), st.ptr);
        if ((rc = eng_meta_f32(m, ".rope.scaling.factor", 1, &f, err, errlen)))
            return rc;
    } else if (!has_type && (rc = eng_meta_f32(m, ".rope.scaling.factor", 0, &f, err, errlen))) {
        return rc;
    }
    if (f != 0.0f) {
        if (!(f > 0.0f && f < 1e6f))
            return om_err(err, errlen, OM_EFORMAT, "%s: rope scaling factor %g invalid",
                          hp->arch, (double)f);
        hp->rope_scale = 1.0f / f;
    }
    hp->rope_mscale = 1.0f;
    if ((rc = eng_meta_f32(m, ".rope.scaling.attn_factor", 0, &hp->rope_mscale, err, errlen)))
        return rc;
    hp->yarn_beta_fast = 32.0f;
    hp->yarn_beta_slow = 1.0f;
    if (hp->yarn) {
        if ((rc = eng_meta_f32(m, ".rope.scaling.yarn_beta_fast", 0, &hp->yarn_beta_fast, err,
                               errlen)) ||
            (rc = eng_meta_f32(m, ".rope.scaling.yarn_beta_slow", 0, &hp->yarn_beta_slow, err,
                               errlen)))
            return rc;
        if (f > 1.0f) /* YaRN's magnitude correction, as ggml's rope applies it */
            hp->rope_mscale *= 1.0f + 0.1f * logf(f);
    }
    v = (uint32_t)hp->n_ctx_train;
    if ((rc = eng_meta_u32(m, ".rope.scaling.original_context_length", 0, &v, err, errlen)))
        return rc;
    hp->n_ctx_orig = (int32_t)OM_MIN(v, (uint32_t)INT32_MAX);
    hp->rope_base_swa = hp->rope_base;
    hp->rope_scale_swa = hp->rope_scale;
    hp->norm_eps = 1e-5f;
    if ((rc = eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 0, &hp->norm_eps, err,
                           errlen)))
        return rc;
    hp->norm = ENG_NORM_RMS;
    hp->rope = ENG_ROPE_NORM;
    hp->act = ENG_ACT_SILU_GATED;
    hp->causal = 1;
    int b = 1;
    snprintf(key, sizeof key, "%s.attention.causal", hp->arch);
    if (gguf_get_bool(m->gf, key, &b) == 0)
        hp->causal = b;
    v = 0;
    if ((rc = eng_meta_u32(m, ".pooling_type", 0, &v, err, errlen)))
        return rc;
    if (v > ENG_POOL_LAST)
        return om_err(err, errlen, OM_EUNSUPPORTED, "%s.pooling_type = %u unsupported",
                      hp->arch, v);
    hp->pooling = (enum eng_pool)v;
    hp->embd_scale = 1.0f;
    hp->residual_scale = 1.0f;
    hp->logit_scale = 1.0f;
    hp->has_logits = 1;
    return 0;
}

/* Checks what the family may have set or read, so that no size computed
 * from the hyper-parameters can overflow and no value is absurd. */
static int hparams_check(const struct eng_hparams *hp, char *err, size_t errlen)
{
    const int64_t nq = (int64_t)hp->n_head * hp->head_dim_k;
    const int64_t nv = (int64_t)hp->n_head * hp->head_dim_v;
    if (hp->n_head > 4096 || nq > ENG_MAX_DIM || nv > ENG_MAX_DIM)
        return om_err(err, errlen, OM_EFORMAT, "%s: %d heads of %d/%d out of range", hp->arch,
                      hp->n_head, hp->head_dim_k, hp->head_dim_v);
    if (!(hp->rope_base > 0.0f && isfinite(hp->rope_base)) ||
        !(hp->rope_base_swa > 0.0f && isfinite(hp->rope_base_swa)))
        return om_err(err, errlen, OM_EFORMAT, "%s.rope.freq_base = %g invalid", hp->arch,
                      (double)hp->rope_base);
    if (!(hp->rope_mscale > 0.0f && hp->rope_mscale < 100.0f))
        return om_err(err, errlen, OM_EFORMAT, "%s.rope.scaling.attn_factor = %g invalid",
                      hp->arch, (double)hp->rope_mscale);
    if (!(hp->norm_eps >= 0.0f && hp->norm_eps < 1.0f))
        return om_err(err, errlen, OM_EFORMAT, "%s.attention.layer_norm_(rms_)epsilon = %g invalid",
                      hp->arch, (double)hp->norm_eps);
    if (!isfinite(hp->residual_scale) || !isfinite(hp->embd_scale) ||
        !(hp->logit_scale != 0.0f && isfinite(hp->logit_scale)) || !isfinite(hp->attn_scale))
        return om_err(err, errlen, OM_EFORMAT, "%s: embedding/residual/logit/attention scale "
                      "invalid", hp->arch);
    if (!(hp->attn_softcap >= 0.0f && isfinite(hp->attn_softcap)) ||
        !(hp->final_softcap >= 0.0f && isfinite(hp->final_softcap)))
        return om_err(err, errlen, OM_EFORMAT, "%s: soft-capping value invalid", hp->arch);
    if (hp->n_swa < 0)
        return om_err(err, errlen, OM_EFORMAT, "%s.attention.sliding_window invalid", hp->arch);
    return 0;
}

static uint64_t tensor_elems(const gguf_tensor *t)
{
    uint64_t n = 1;
    for (uint32_t i = 0; i < GGUF_MAX_DIMS; i++)
        n *= (uint64_t)t->ne[i];
    return n;
}

int eng_bind(struct eng_model *m, struct eng_tensor *t, const char *name, int kind, int required,
             int64_t ne0, int64_t ne1, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (m->vocab_only)
        return 0;
    const gguf_tensor *g = gguf_find_tensor(m->gf, name);
    if (!g)
        return required ? om_err(err, errlen, OM_ENOTFOUND, "tensor %s missing", name) : 0;
    int64_t want1 = kind == ENG_T_VEC ? 1 : ne1;
    if (g->ne[0] != ne0 || g->ne[1] != want1 || g->ne[2] != 1 || g->ne[3] != 1)
        return om_err(err, errlen, OM_EFORMAT,
                      "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]", name,
                      (long long)g->ne[0], (long long)g->ne[1], (long long)g->ne[2],
                      (long long)g->ne[3], (long long)ne0, (long long)want1);
    if (kind == ENG_T_VEC && g->type != OM_TYPE_F32)
        return om_err(err, errlen, OM_EUNSUPPORTED, "tensor %s: type %s, expected f32", name,
                      om_type_name(g->type));
    if (kind == ENG_T_MAT && !kern_type_supported(g->type))
        return om_err(err, errlen, OM_EUNSUPPORTED, "tensor %s: type %s not supported", name,
                      om_type_name(g->type));
    size_t rb = om_type_row_size(g->type, g->ne[0]);
    if (rb == 0 || rb * (size_t)want1 != g->size)
        return om_err(err, errlen, OM_EFORMAT, "tensor %s: size %zu does not match its shape",
                      name, g->size);
    t->data = g->data;
    t->type = g->type;
    memcpy(t->ne, g->ne, sizeof t->ne);
    t->row_bytes = rb;
    m->n_bytes += g->size;
    m->n_params += tensor_elems(g);
    return 0;
}

int eng_bind_layer(struct eng_model *m, struct eng_tensor *t, int il, const char *suffix,
                   int kind, int required, int64_t ne0, int64_t ne1, char *err, size_t errlen)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s", il, suffix);
    return eng_bind(m, t, name, kind, required, ne0, ne1, err, errlen);
}

int eng_bind_common_io(struct eng_model *m, char *err, size_t errlen)
{
    struct eng_hparams *hp = &m->hp;
    int rc;
    /* n_vocab is the tokenizer's token count; the embedding (and output)
     * matrices may have more rows (padded vocabularies), which are never
     * produced: logits cover the first n_vocab rows only. */
    int64_t rows = hp->n_vocab, out_rows;
    if (!m->vocab_only) {
        const gguf_tensor *g = gguf_find_tensor(m->gf, "token_embd.weight");
        if (!g)
            return om_err(err, errlen, OM_ENOTFOUND, "tensor token_embd.weight missing");
        if (g->ne[1] <= 0 || g->ne[1] > ENG_MAX_VOCAB)
            return om_err(err, errlen, OM_EFORMAT, "tensor token_embd.weight: %lld rows",
                          (long long)g->ne[1]);
        if (hp->n_vocab && hp->n_vocab > g->ne[1])
            return om_err(err, errlen, OM_EFORMAT,
                          "tensor token_embd.weight has %lld rows for %d tokens",
                          (long long)g->ne[1], hp->n_vocab);
        rows = g->ne[1];
        if (!hp->n_vocab)
            hp->n_vocab = (int32_t)rows;
    }
    if ((rc = eng_bind(m, &m->tok_embd, "token_embd.weight", ENG_T_MAT, 1, hp->n_embd, rows,
                       err, errlen)))
        return rc;
    const gguf_tensor *go = gguf_find_tensor(m->gf, "output.weight");
    out_rows = go ? go->ne[1] : rows;
    if (out_rows < hp->n_vocab)
        return om_err(err, errlen, OM_EFORMAT, "tensor output.weight has %lld rows for %d tokens",
                      (long long)out_rows, hp->n_vocab);
    if ((rc = eng_bind(m, &m->out_norm, "output_norm.weight", ENG_T_VEC, hp->has_logits,
                       hp->n_embd, 0, err, errlen)))
        return rc;
    if ((rc = eng_bind(m, &m->out_norm_b, "output_norm.bias", ENG_T_VEC, 0, hp->n_embd, 0, err,
                       errlen)))
        return rc;
    if (hp->has_logits) {
        if ((rc = eng_bind(m, &m->output, "output.weight", ENG_T_MAT, 0, hp->n_embd, out_rows,
                           err, errlen)))
            return rc;
        if (!m->output.data)
            m->output = m->tok_embd; /* tied embeddings */
        if ((rc = eng_bind(m, &m->output_b, "output.bias", ENG_T_VEC, 0, out_rows, 0, err,
                           errlen)))
            return rc;
    }
    if (hp->n_rot > 0 && (rc = eng_bind(m, &m->rope_freqs, "rope_freqs.weight", ENG_T_VEC, 0,
                                        hp->n_rot / 2, 0, err, errlen)))
        return rc;
    return 0;
}

int eng_bind_decoder_layers(struct eng_model *m, char *err, size_t errlen)
{
    const struct eng_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, nq = (int64_t)hp->n_head * hp->head_dim_k;
    const int64_t nk = (int64_t)hp->n_head_kv * hp->head_dim_k;
    const int64_t nv = (int64_t)hp->n_head_kv * hp->head_dim_v;
    const int64_t no = (int64_t)hp->n_head * hp->head_dim_v, F = hp->n_ff;
    const int gated = hp->act != ENG_ACT_GELU;
    int rc = 0;
    for (int il = 0; il < hp->n_layer && !rc; il++) {
        struct eng_layer *L = &m->layers[il];
#define B(t, sfx, kind, req, a, b)                                                         \
    if ((rc = eng_bind_layer(m, &L->t, il, sfx, kind, req, a, b, err, errlen)))            \
        break;
        B(attn_norm, "attn_norm.weight", ENG_T_VEC, !hp->no_pre_norm, E, 0);
        B(attn_norm_b, "attn_norm.bias", ENG_T_VEC, 0, E, 0);
        B(wqkv, "attn_qkv.weight", ENG_T_MAT, 0, E, nq + nk + nv);
        B(bqkv, "attn_qkv.bias", ENG_T_VEC, 0, nq + nk + nv, 0);
        int sep = !L->wqkv.data;
        B(wq, "attn_q.weight", ENG_T_MAT, sep, E, nq);
        B(wk, "attn_k.weight", ENG_T_MAT, sep, E, nk);
        B(wv, "attn_v.weight", ENG_T_MAT, sep, E, nv);
        B(bq, "attn_q.bias", ENG_T_VEC, 0, nq, 0);
        B(bk, "attn_k.bias", ENG_T_VEC, 0, nk, 0);
        B(bv, "attn_v.bias", ENG_T_VEC, 0, nv, 0);
        B(q_norm, "attn_q_norm.weight", ENG_T_VEC, hp->qk_norm_full,
          hp->qk_norm_full ? nq : hp->head_dim_k, 0);
        B(k_norm, "attn_k_norm.weight", ENG_T_VEC, hp->qk_norm_full,
          hp->qk_norm_full ? nk : hp->head_dim_k, 0);
        B(wo, "attn_output.weight", ENG_T_MAT, 1, no, E);
        B(bo, "attn_output.bias", ENG_T_VEC, 0, E, 0);
        B(attn_post_norm, "post_attention_norm.weight", ENG_T_VEC, 0, E, 0);
        B(ffn_norm, "ffn_norm.weight", ENG_T_VEC, !hp->no_pre_norm, E, 0);
        B(ffn_norm_b, "ffn_norm.bias", ENG_T_VEC, 0, E, 0);
        B(ffn_post_norm, "post_ffw_norm.weight", ENG_T_VEC, 0, E, 0);
        if (hp->n_expert > 0) /* experts instead of the dense FFN: eng_bind_moe_layers */
            continue;
        if (hp->fused_gate_up) {
            B(ffn_up, "ffn_up.weight", ENG_T_MAT, 1, E, 2 * F);
        } else {
            B(ffn_gate, "ffn_gate.weight", ENG_T_MAT, gated, E, F);
            B(ffn_gate_b, "ffn_gate.bias", ENG_T_VEC, 0, F, 0);
            B(ffn_up, "ffn_up.weight", ENG_T_MAT, 1, E, F);
            B(ffn_up_b, "ffn_up.bias", ENG_T_VEC, 0, F, 0);
        }
        B(ffn_down, "ffn_down.weight", ENG_T_MAT, 1, F, E);
        B(ffn_down_b, "ffn_down.bias", ENG_T_VEC, 0, E, 0);
#undef B
    }
    if (!rc && hp->n_expert > 0)
        rc = eng_bind_moe_layers(m, err, errlen);
    return rc;
}

int eng_model_load(const char *path, const struct eng_model_params *p, eng_model **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    struct eng_model_params dp;
    if (!p) {
        eng_model_params_default(&dp);
        p = &dp;
    }
    gguf_file *gf = NULL;
    int rc = gguf_open(path, &gf, err, errlen);
    if (rc)
        return rc;
    struct eng_model *m = om_xcalloc(1, sizeof *m);
    m->gf = gf;
    m->vocab_only = p->vocab_only;
    gguf_str arch;
    if (gguf_get_str(gf, "general.architecture", &arch)) {
        rc = om_err(err, errlen, OM_ENOTFOUND, "metadata key general.architecture missing");
        goto fail;
    }
    for (size_t i = 0; i < OM_ARRAY_LEN(g_families); i++)
        if (gguf_str_eq(arch, g_families[i]->arch))
            m->fam = g_families[i];
    if (!m->fam) {
        rc = om_err(err, errlen, OM_EUNSUPPORTED, "unsupported architecture '%.*s'",
                    (int)OM_MIN(arch.len, 64), arch.ptr);
        goto fail;
    }
    snprintf(m->hp.arch, sizeof m->hp.arch, "%s", m->fam->arch);
    if ((rc = hparams_common(m, err, errlen)) || (rc = m->fam->load_hparams(m, err, errlen)))
        goto fail;
    if ((rc = hparams_check(&m->hp, err, errlen)))
        goto fail;
    uint64_t ntok = 0;
    enum gguf_vtype et;
    const void *dummy;
    if (gguf_get_arr(gf, "tokenizer.ggml.tokens", &et, &ntok, &dummy) == 0) {
        if (ntok == 0 || ntok > ENG_MAX_VOCAB) {
            rc = om_err(err, errlen, OM_EFORMAT, "tokenizer.ggml.tokens: %llu entries",
                        (unsigned long long)ntok);
            goto fail;
        }
        m->hp.n_vocab = (int32_t)ntok;
    }
    m->layers = om_xcalloc((size_t)m->hp.n_layer, sizeof *m->layers);
    /* vocab_only binds nothing, so the families' presence checks are skipped */
    if (!m->vocab_only && (rc = m->fam->load_tensors(m, err, errlen)))
        goto fail;
    if (gguf_find_key(gf, "tokenizer.ggml.model") >= 0) {
        char terr[200] = "";
        if ((rc = tok_vocab_load(gf, &m->vocab, terr, sizeof terr))) {
            rc = om_err(err, errlen, rc, "vocabulary: %s", terr);
            goto fail;
        }
    }
    eng_rope_init(m);
    om_log(OM_LOG_DEBUG, "engine", "loaded %s: %s, %d layers, n_embd %d, vocab %d, %llu params",
           path, m->hp.arch, m->hp.n_layer, m->hp.n_embd, m->hp.n_vocab,
           (unsigned long long)m->n_params);
    *out = m;
    return 0;
fail:
    eng_model_free(m);
    return rc;
}

void eng_model_free(eng_model *m)
{
    if (!m)
        return;
    tok_vocab_free(m->vocab);
    free(m->layers);
    free(m->inv_freq);
    free(m->inv_freq_swa);
    free(m->inv_freq_long);
    gguf_close(m->gf);
    free(m);
}

const char *eng_model_arch(const eng_model *m) { return m->hp.arch; }
int32_t eng_model_n_vocab(const eng_model *m) { return m->hp.n_vocab; }
int32_t eng_model_n_embd(const eng_model *m) { return m->hp.n_embd; }
int32_t eng_model_n_layer(const eng_model *m) { return m->hp.n_layer; }
int32_t eng_model_n_head(const eng_model *m) { return m->hp.n_head; }
int32_t eng_model_n_head_kv(const eng_model *m) { return m->hp.n_head_kv; }
int32_t eng_model_n_ctx_train(const eng_model *m) { return m->hp.n_ctx_train; }
int eng_model_is_encoder(const eng_model *m) { return !m->hp.has_logits; }
uint64_t eng_model_size(const eng_model *m) { return m->n_bytes; }
uint64_t eng_model_n_params(const eng_model *m) { return m->n_params; }
const struct gguf_file *eng_model_gguf(const eng_model *m) { return m->gf; }
const struct tok_vocab *eng_model_vocab(const eng_model *m) { return m->vocab; }
