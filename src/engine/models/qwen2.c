/* engine family: qwen2 (Qwen2, Qwen2.5).
 *
 * A llama block with biases on Q, K and V (bound by presence) and RoPE in
 * NEOX mode (halves rotate, no row permutation in the converter). */
#include "engine/eng_int.h"

static int qwen2_hparams(struct eng_model *m, char *err, size_t errlen)
{
    m->hp.rope = ENG_ROPE_NEOX;
    return eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &m->hp.norm_eps, err,
                        errlen);
}

static int qwen2_tensors(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_bind_common_io(m, err, errlen);
    if (rc || (rc = eng_bind_decoder_layers(m, err, errlen)))
        return rc;
    for (int il = 0; il < m->hp.n_layer; il++)
        if (!m->layers[il].bq.data || !m->layers[il].bk.data || !m->layers[il].bv.data)
            return om_err(err, errlen, OM_ENOTFOUND, "tensor blk.%d.attn_q/k/v.bias missing",
                          il);
    return 0;
}

const struct eng_family eng_family_qwen2 = {
    .arch = "qwen2",
    .load_hparams = qwen2_hparams,
    .load_tensors = qwen2_tensors,
};
