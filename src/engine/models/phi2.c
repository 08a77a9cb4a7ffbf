/* engine family: phi2 (Phi-2, "phi" in Ollama's library).
 *
 * Parallel blocks: n = LayerNorm(x) (weight + bias), x += attn(n) + ffn(n),
 * with biases on Q/K/V (or the fused attn_qkv), attn_output, ffn_up and
 * ffn_down; a plain GELU FFN; partial rotary RoPE NEOX (rope.dimension_count,
 * 32 of 80 dims); final LayerNorm with bias and an output bias on the
 * logits. */
#include "engine/eng_int.h"

static int phi2_hparams(struct eng_model *m, char *err, size_t errlen)
{
    m->hp.norm = ENG_NORM_LAYER;
    m->hp.rope = ENG_ROPE_NEOX;
    m->hp.act = ENG_ACT_GELU;
    m->hp.parallel = 1;
    m->hp.no_pre_norm = 1; /* no ffn_norm: the core binds attn_norm below */
    return eng_meta_f32(m, ".attention.layer_norm_epsilon", 1, &m->hp.norm_eps, err, errlen);
}

static int phi2_tensors(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_bind_common_io(m, err, errlen);
    if (rc || (rc = eng_bind_decoder_layers(m, err, errlen)))
        return rc;
    for (int il = 0; il < m->hp.n_layer; il++) {
        struct eng_layer *L = &m->layers[il];
        if (!L->attn_norm.data)
            return om_err(err, errlen, OM_ENOTFOUND, "tensor blk.%d.attn_norm.weight missing",
                          il);
        if (!L->attn_norm_b.data)
            return om_err(err, errlen, OM_ENOTFOUND, "tensor blk.%d.attn_norm.bias missing", il);
    }
    if (!m->out_norm_b.data)
        return om_err(err, errlen, OM_ENOTFOUND, "tensor output_norm.bias missing");
    return 0;
}

const struct eng_family eng_family_phi2 = {
    .arch = "phi2",
    .load_hparams = phi2_hparams,
    .load_tensors = phi2_tensors,
};
