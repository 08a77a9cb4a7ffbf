/* engine family: qwen3 (dense Qwen3).
 *
 * A llama block without biases, with QK-norm (RMSNorm over each head of Q
 * and K, weights attn_q_norm / attn_k_norm of head_dim, applied before RoPE)
 * and RoPE in NEOX mode. head_dim comes from attention.key_length (it is not
 * n_embd / n_head in Qwen3). */
#include "engine/eng_int.h"

static int qwen3_hparams(struct eng_model *m, char *err, size_t errlen)
{
    m->hp.rope = ENG_ROPE_NEOX;
    return eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &m->hp.norm_eps, err,
                        errlen);
}

static int qwen3_tensors(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_bind_common_io(m, err, errlen);
    if (rc || (rc = eng_bind_decoder_layers(m, err, errlen)))
        return rc;
    for (int il = 0; il < m->hp.n_layer; il++)
        if (!m->layers[il].q_norm.data || !m->layers[il].k_norm.data)
            return om_err(err, errlen, OM_ENOTFOUND,
                          "tensor blk.%d.attn_q_norm/attn_k_norm.weight missing", il);
    return 0;
}

const struct eng_family eng_family_qwen3 = {
    .arch = "qwen3",
    .load_hparams = qwen3_hparams,
    .load_tensors = qwen3_tensors,
};
