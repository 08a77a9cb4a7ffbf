/* engine family: command-r (Cohere Command R 35B, Aya 23).
 *
 * Parallel blocks like phi2 (n = LayerNorm(x), x += attn(n) + ffn(n)) with
 * LayerNorms without bias, a SiLU-gated FFN, RoPE NORM, tied output
 * embeddings, and logits multiplied by logit_scale. Command R+'s per-head
 * QK-norm (2-D attn_q_norm weights) is refused. */
#include "engine/eng_int.h"

static int command_r_hparams(struct eng_model *m, char *err, size_t errlen)
{
    struct eng_hparams *hp = &m->hp;
    float ls = 0.0f;
    int rc;
    hp->norm = ENG_NORM_LAYER;
    hp->parallel = 1;
    hp->no_pre_norm = 1; /* no ffn_norm; attn_norm checked below */
    if ((rc = eng_meta_f32(m, ".attention.layer_norm_epsilon", 1, &hp->norm_eps, err,
                           errlen)) ||
        (rc = eng_meta_f32(m, ".logit_scale", 0, &ls, err, errlen)))
        return rc;
    if (ls != 0.0f) /* the core divides */
        hp->logit_scale = 1.0f / ls;
    return 0;
}

static int command_r_tensors(struct eng_model *m, char *err, size_t errlen)
{
    if (gguf_find_tensor(m->gf, "blk.0.attn_q_norm.weight"))
        return om_err(err, errlen, OM_EUNSUPPORTED,
                      "tensor blk.0.attn_q_norm.weight: Command R+ per-head QK-norm unsupported");
    int rc = eng_bind_common_io(m, err, errlen);
    if (rc || (rc = eng_bind_decoder_layers(m, err, errlen)))
        return rc;
    for (int il = 0; il < m->hp.n_layer; il++)
        if (!m->layers[il].attn_norm.data)
            return om_err(err, errlen, OM_ENOTFOUND, "tensor blk.%d.attn_norm.weight missing",
                          il);
    return 0;
}

const struct eng_family eng_family_command_r = {
    .arch = "command-r",
    .load_hparams = command_r_hparams,
    .load_tensors = command_r_tensors,
};
