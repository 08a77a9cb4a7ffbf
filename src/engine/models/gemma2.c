/* engine family: gemma2.
 *
 * Differences from llama, all as hooks/flags: token embeddings scaled by
 * sqrt(n_embd); RoPE NEOX; GELU-gated FFN; extra RMSNorms after attention
 * (post_attention_norm) and after the FFN (post_ffw_norm), applied to the
 * branch before the residual add; attention logit soft-capping (default 50)
 * and final logit soft-capping (default 30); a sliding window (default 4096)
 * on even layers (il % 2 == 0), global attention on odd layers; q·k scale
 * 1/sqrt(head_dim), or 1/sqrt(n_embd/n_head) for the 27B shape (46 layers),
 * after gemma_pytorch. Gemma's RMSNorm multiplies by (1 + w); llama.cpp's
 * converter stores w + 1 in the GGUF, so the plain RMSNorm is right here. */
#include <math.h>

#include "engine/eng_int.h"

static int gemma2_hparams(struct eng_model *m, char *err, size_t errlen)
{
    struct eng_hparams *hp = &m->hp;
    int rc;
    uint32_t swa = 4096;
    hp->attn_softcap = 50.0f;
    hp->final_softcap = 30.0f;
    if ((rc = eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &hp->norm_eps, err,
                           errlen)) ||
        (rc = eng_meta_u32(m, ".attention.sliding_window", 0, &swa, err, errlen)) ||
        (rc = eng_meta_f32(m, ".attn_logit_softcapping", 0, &hp->attn_softcap, err, errlen)) ||
        (rc = eng_meta_f32(m, ".final_logit_softcapping", 0, &hp->final_softcap, err, errlen)))
        return rc;
    hp->rope = ENG_ROPE_NEOX;
    hp->act = ENG_ACT_GELU_GATED;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    hp->n_swa = (int32_t)OM_MIN(swa, (uint32_t)INT32_MAX);
    for (int il = 0; il < hp->n_layer; il++)
        hp->swa_layer[il] = il % 2 == 0;
    hp->attn_scale = hp->n_layer == 46 ? 1.0f / sqrtf((float)(hp->n_embd / hp->n_head))
                                       : 1.0f / sqrtf((float)hp->head_dim_k);
    return 0;
}

static int gemma2_tensors(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_bind_common_io(m, err, errlen);
    if (rc || (rc = eng_bind_decoder_layers(m, err, errlen)))
        return rc;
    for (int il = 0; il < m->hp.n_layer; il++)
        if (!m->layers[il].attn_post_norm.data || !m->layers[il].ffn_post_norm.data)
            return om_err(err, errlen, OM_ENOTFOUND,
                          "tensor blk.%d.post_attention_norm/post_ffw_norm.weight missing", il);
    return 0;
}

const struct eng_family eng_family_gemma2 = {
    .arch = "gemma2",
    .load_hparams = gemma2_hparams,
    .load_tensors = gemma2_tensors,
};
