/* engine family: starcoder2 (StarCoder2 3B/7B/15B).
 *
 * A pre-norm decoder with LayerNorm (weight + bias, eps from
 * attention.layer_norm_epsilon) before attention, FFN and output; biases on
 * Q/K/V, attn_output, ffn_up and ffn_down; RoPE NEOX; a plain (ungated) GELU
 * FFN. All of it is core flags and bound-by-presence tensors. */
#include "engine/eng_int.h"

static int starcoder2_hparams(struct eng_model *m, char *err, size_t errlen)
{
    m->hp.norm = ENG_NORM_LAYER;
    m->hp.rope = ENG_ROPE_NEOX;
    m->hp.act = ENG_ACT_GELU;
    return eng_meta_f32(m, ".attention.layer_norm_epsilon", 1, &m->hp.norm_eps, err, errlen);
}

static int starcoder2_tensors(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_bind_common_io(m, err, errlen);
    if (rc || (rc = eng_bind_decoder_layers(m, err, errlen)))
        return rc;
    if (!m->out_norm_b.data)
        return om_err(err, errlen, OM_ENOTFOUND, "tensor output_norm.bias missing");
    for (int il = 0; il < m->hp.n_layer; il++) {
        const struct eng_layer *L = &m->layers[il];
        if (!L->attn_norm_b.data || !L->ffn_norm_b.data)
            return om_err(err, errlen, OM_ENOTFOUND,
                          "tensor blk.%d.attn_norm.bias / ffn_norm.bias missing", il);
    }
    return 0;
}

const struct eng_family eng_family_starcoder2 = {
    .arch = "starcoder2",
    .load_hparams = starcoder2_hparams,
    .load_tensors = starcoder2_tensors,
};
