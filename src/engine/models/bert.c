/* engine families: bert and nomic-bert (sentence embeddings).
 *
 * Encoders: bidirectional attention (no causal mask), no logits; the output
 * is the pooled final hidden state (pooling_type: mean / cls / last).
 * Post-norm blocks with LayerNorm (weight + bias, eps from
 * attention.layer_norm_epsilon):
 *   x = LN(token_embd[t] + token_types[0] (+ position_embd[pos]))   token_embd_norm
 *   x = LN(x + Wo·attn(x) + bo)                                      attn_output_norm
 *   x = LN(x + ffn(x))                                               layer_output_norm
 * bert: separate Q/K/V with biases, absolute position embeddings, no RoPE,
 * GELU FFN with biases. nomic-bert: fused attn_qkv, RoPE NEOX instead of
 * position embeddings, SiLU-gated FFN without biases. Token type ids are
 * always 0 ("sentence A"), as in llama.cpp. */
#include "engine/eng_int.h"

static int bert_common_hparams(struct eng_model *m, char *err, size_t errlen)
{
    struct eng_hparams *hp = &m->hp;
    int rc = eng_meta_f32(m, ".attention.layer_norm_epsilon", 1, &hp->norm_eps, err, errlen);
    if (rc)
        return rc;
    hp->norm = ENG_NORM_LAYER;
    hp->post_norm = 1;
    hp->causal = 0;
    hp->has_logits = 0;
    if (hp->pooling == ENG_POOL_NONE)
        hp->pooling = ENG_POOL_CLS;
    return 0;
}

static int bert_hparams(struct eng_model *m, char *err, size_t errlen)
{
    m->hp.rope = ENG_ROPE_NONE;
    m->hp.act = ENG_ACT_GELU;
    return bert_common_hparams(m, err, errlen);
}

static int nomic_hparams(struct eng_model *m, char *err, size_t errlen)
{
    m->hp.rope = ENG_ROPE_NEOX;
    m->hp.act = ENG_ACT_SILU_GATED;
    return bert_common_hparams(m, err, errlen);
}

static int bert_tensors(struct eng_model *m, char *err, size_t errlen)
{
    const struct eng_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, F = hp->n_ff;
    const int64_t nq = (int64_t)hp->n_head * hp->head_dim_k;
    const int64_t nkv = (int64_t)hp->n_head_kv * hp->head_dim_k;
    const int nomic = hp->rope != ENG_ROPE_NONE;
    int rc;
    /* token_types has one row per type (usually 2); only row 0 is used */
    const gguf_tensor *tt = gguf_find_tensor(m->gf, "token_types.weight");
    int64_t n_types = tt && tt->ne[1] >= 1 && tt->ne[1] <= 16 ? tt->ne[1] : 2;
    if ((rc = eng_bind_common_io(m, err, errlen)) ||
        (rc = eng_bind(m, &m->type_embd, "token_types.weight", ENG_T_MAT, 0, E, n_types, err,
                       errlen)) ||
        (rc = eng_bind(m, &m->embd_norm, "token_embd_norm.weight", ENG_T_VEC, 1, E, 0, err,
                       errlen)) ||
        (rc = eng_bind(m, &m->embd_norm_b, "token_embd_norm.bias", ENG_T_VEC, 1, E, 0, err,
                       errlen)))
        return rc;
    if (!nomic && (rc = eng_bind(m, &m->pos_embd, "position_embd.weight", ENG_T_MAT, 1, E,
                                 hp->n_ctx_train, err, errlen)))
        return rc;
    for (int il = 0; il < hp->n_layer; il++) {
        struct eng_layer *L = &m->layers[il];
#define B(t, sfx, kind, req, a, b)                                                         \
    if ((rc = eng_bind_layer(m, &L->t, il, sfx, kind, req, a, b, err, errlen)))            \
        return rc;
        if (nomic) {
            B(wqkv, "attn_qkv.weight", ENG_T_MAT, 1, E, nq + 2 * nkv);
            B(bqkv, "attn_qkv.bias", ENG_T_VEC, 0, nq + 2 * nkv, 0);
        } else {
            B(wq, "attn_q.weight", ENG_T_MAT, 1, E, nq);
            B(wk, "attn_k.weight", ENG_T_MAT, 1, E, nkv);
            B(wv, "attn_v.weight", ENG_T_MAT, 1, E, nkv);
            B(bq, "attn_q.bias", ENG_T_VEC, 1, nq, 0);
            B(bk, "attn_k.bias", ENG_T_VEC, 1, nkv, 0);
            B(bv, "attn_v.bias", ENG_T_VEC, 1, nkv, 0);
        }
        B(wo, "attn_output.weight", ENG_T_MAT, 1, nq, E);
        B(bo, "attn_output.bias", ENG_T_VEC, !nomic, E, 0);
        B(attn_post_norm, "attn_output_norm.weight", ENG_T_VEC, 1, E, 0);
        B(attn_post_norm_b, "attn_output_norm.bias", ENG_T_VEC, 1, E, 0);
        if (nomic)
            B(ffn_gate, "ffn_gate.weight", ENG_T_MAT, 1, E, F);
        B(ffn_up, "ffn_up.weight", ENG_T_MAT, 1, E, F);
        B(ffn_up_b, "ffn_up.bias", ENG_T_VEC, !nomic, F, 0);
        B(ffn_down, "ffn_down.weight", ENG_T_MAT, 1, F, E);
        B(ffn_down_b, "ffn_down.bias", ENG_T_VEC, !nomic, E, 0);
        B(ffn_post_norm, "layer_output_norm.weight", ENG_T_VEC, 1, E, 0);
        B(ffn_post_norm_b, "layer_output_norm.bias", ENG_T_VEC, 1, E, 0);
#undef B
    }
    return 0;
}

const struct eng_family eng_family_bert = {
    .arch = "bert",
    .load_hparams = bert_hparams,
    .load_tensors = bert_tensors,
};

const struct eng_family eng_family_nomic_bert = {
    .arch = "nomic-bert",
    .load_hparams = nomic_hparams,
    .load_tensors = bert_tensors,
};
