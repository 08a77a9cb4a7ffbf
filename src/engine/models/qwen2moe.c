/* engine family: qwen2moe (Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B).
 *
 * The qwen2 attention block (Q/K/V biases, RoPE NEOX) with a mixture of
 * experts whose chosen weights are NOT renormalised (plain softmax
 * probabilities), plus a shared expert on every token:
 * out += sigmoid(cur · ffn_gate_inp_shexp) * ffn_shexp(cur), the shared FFN
 * of expert_shared_feed_forward_length (default feed_forward_length). */
#include "engine/eng_int.h"

static int qwen2moe_hparams(struct eng_model *m, char *err, size_t errlen)
{
    struct eng_hparams *hp = &m->hp;
    hp->rope = ENG_ROPE_NEOX;
    int rc = eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &hp->norm_eps, err, errlen);
    if (rc || (rc = eng_moe_hparams(m, err, errlen)))
        return rc;
    if (hp->n_expert == 0)
        return om_err(err, errlen, OM_ENOTFOUND, "metadata key qwen2moe.expert_count missing");
    hp->moe_norm_w = 0;
    if (hp->n_ff_shexp == 0)
        hp->n_ff_shexp = hp->n_ff;
    return 0;
}

static int qwen2moe_tensors(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_bind_common_io(m, err, errlen);
    if (rc || (rc = eng_bind_decoder_layers(m, err, errlen)))
        return rc;
    for (int il = 0; il < m->hp.n_layer; il++)
        if (!m->layers[il].ffn_gate_inp_shexp.data)
            return om_err(err, errlen, OM_ENOTFOUND,
                          "tensor blk.%d.ffn_gate_inp_shexp.weight missing", il);
    return 0;
}

const struct eng_family eng_family_qwen2moe = {
    .arch = "qwen2moe",
    .load_hparams = qwen2moe_hparams,
    .load_tensors = qwen2moe_tensors,
};
