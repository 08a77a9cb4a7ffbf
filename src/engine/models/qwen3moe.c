/* engine family: qwen3moe (Qwen3-30B-A3B, Qwen3-235B-A22B).
 *
 * The qwen3 attention block (QK-norm, RoPE NEOX, no biases) with a
 * mixture-of-experts FFN: router ffn_gate_inp (n_embd, n_expert), softmax,
 * the expert_used_count best experts with weights renormalised to sum 1, each
 * a SiLU-gated FFN of expert_feed_forward_length from the ffn_*_exps slabs. */
#include "engine/eng_int.h"

static int qwen3moe_hparams(struct eng_model *m, char *err, size_t errlen)
{
    m->hp.rope = ENG_ROPE_NEOX;
    int rc = eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &m->hp.norm_eps, err,
                          errlen);
    if (rc || (rc = eng_moe_hparams(m, err, errlen)))
        return rc;
    if (m->hp.n_expert == 0)
        return om_err(err, errlen, OM_ENOTFOUND, "metadata key qwen3moe.expert_count missing");
    return 0;
}

static int qwen3moe_tensors(struct eng_model *m, char *err, size_t errlen)
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

const struct eng_family eng_family_qwen3moe = {
    .arch = "qwen3moe",
    .load_hparams = qwen3moe_hparams,
    .load_tensors = qwen3moe_tensors,
};
