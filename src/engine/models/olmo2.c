/* engine family: olmo2 (OLMo 2; OLMo 3 with its sliding window).
 *
 * No pre-norms: attention reads x itself, then RMSNorm on its output
 * (post_attention_norm) before the residual add; the SiLU-gated FFN reads
 * the new x, then post_ffw_norm, then the residual add. QK-norm is one
 * RMSNorm over the whole q (n_embd) and the whole k (n_head_kv * head_dim)
 * projection, before RoPE (NEOX). With attention.sliding_window (OLMo 3),
 * layers il % p < p - 1 (p = attention.sliding_window_pattern, default 4) are
 * sliding-window layers with unscaled RoPE at rope.freq_base_swa (default
 * rope.freq_base). */
#include "engine/eng_int.h"

static int olmo2_hparams(struct eng_model *m, char *err, size_t errlen)
{
    struct eng_hparams *hp = &m->hp;
    int rc;
    uint32_t swa = 0, period = 4;
    hp->rope = ENG_ROPE_NEOX;
    hp->no_pre_norm = 1;
    hp->qk_norm_full = 1;
    if ((rc = eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &hp->norm_eps, err,
                           errlen)) ||
        (rc = eng_meta_u32(m, ".attention.sliding_window", 0, &swa, err, errlen)))
        return rc;
    if (swa > 0) {
        if ((rc = eng_meta_u32(m, ".attention.sliding_window_pattern", 0, &period, err,
                               errlen)) ||
            (rc = eng_meta_f32(m, ".rope.freq_base_swa", 0, &hp->rope_base_swa, err, errlen)))
            return rc;
        if (period == 0)
            return om_err(err, errlen, OM_EFORMAT, "olmo2.attention.sliding_window_pattern = 0");
        hp->n_swa = (int32_t)OM_MIN(swa, (uint32_t)INT32_MAX);
        hp->rope_scale_swa = 1.0f;
        for (int il = 0; il < hp->n_layer; il++)
            hp->swa_layer[il] = (uint32_t)il % period < period - 1;
    }
    return 0;
}

static int olmo2_tensors(struct eng_model *m, char *err, size_t errlen)
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

const struct eng_family eng_family_olmo2 = {
    .arch = "olmo2",
    .load_hparams = olmo2_hparams,
    .load_tensors = olmo2_tensors,
};
