/* engine family: gemma3 (text).
 *
 * Like gemma2 (sqrt(n_embd) embedding scale, NEOX RoPE, GELU-gated FFN,
 * post-attention and post-FFN norms, norm weights stored as 1 + w) but:
 * QK-norm (attn_q_norm / attn_k_norm), no soft-capping, a sliding window
 * (attention.sliding_window, required) on five of every six layers
 * (il % 6 < 5; layers 5, 11, ... are global), and local layers use their own
 * RoPE: base 10000, no scaling, while global layers use rope.freq_base and
 * rope.scaling (linear factor 8 in the 4B+ models). q·k scale 1/sqrt(head_dim)
 * (1/sqrt(n_embd/n_head) for the 27B shape, 62 layers). */
#include <math.h>

#include "engine/eng_int.h"

static int gemma3_hparams(struct eng_model *m, char *err, size_t errlen)
{
    struct eng_hparams *hp = &m->hp;
    int rc;
    uint32_t swa = 0;
    if ((rc = eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &hp->norm_eps, err,
                           errlen)) ||
        (rc = eng_meta_u32(m, ".attention.sliding_window", 1, &swa, err, errlen)))
        return rc;
    if (swa == 0)
        return om_err(err, errlen, OM_EFORMAT, "gemma3.attention.sliding_window = 0");
    hp->rope = ENG_ROPE_NEOX;
    hp->act = ENG_ACT_GELU_GATED;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    hp->n_swa = (int32_t)OM_MIN(swa, (uint32_t)INT32_MAX);
    for (int il = 0; il < hp->n_layer; il++)
        hp->swa_layer[il] = il % 6 < 5;
    hp->rope_base_swa = 10000.0f;
    hp->rope_scale_swa = 1.0f;
    hp->attn_scale = hp->n_layer == 62 ? 1.0f / sqrtf((float)(hp->n_embd / hp->n_head))
                                       : 1.0f / sqrtf((float)hp->head_dim_k);
    return 0;
}

static int gemma3_tensors(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_bind_common_io(m, err, errlen);
    if (rc || (rc = eng_bind_decoder_layers(m, err, errlen)))
        return rc;
    for (int il = 0; il < m->hp.n_layer; il++) {
        const struct eng_layer *L = &m->layers[il];
        if (!L->attn_post_norm.data || !L->ffn_post_norm.data || !L->q_norm.data ||
            !L->k_norm.data)
            return om_err(err, errlen, OM_ENOTFOUND,
                          "tensor blk.%d.post_attention_norm/post_ffw_norm/attn_q_norm/"
                          "attn_k_norm.weight missing",
                          il);
    }
    return 0;
}

const struct eng_family eng_family_gemma3 = {
    .arch = "gemma3",
    .load_hparams = gemma3_hparams,
    .load_tensors = gemma3_tensors,
};
