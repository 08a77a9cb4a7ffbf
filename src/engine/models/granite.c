/* engine families: granite and granitemoe (IBM Granite 3.x).
 *
 * The llama block (RMSNorm, RoPE NORM, SiLU-gated FFN, optional attn_output
 * and FFN biases, mixture of experts for granitemoe) with four scalars from
 * the metadata: token embeddings times embedding_scale, q·k scale
 * attention.scale (default 1/sqrt(head_dim)), each branch times
 * residual_scale before its residual add, and logits divided by logit_scale
 * (required). GraniteMoE-shared adds an ungated shared expert. A
 * rope.scaling.finetuned = false file (no RoPE) is refused. */
#include "engine/eng_int.h"

static int granite_hparams(struct eng_model *m, char *err, size_t errlen)
{
    struct eng_hparams *hp = &m->hp;
    float es = 0.0f, rs = 0.0f, as = 0.0f;
    int rc;
    if ((rc = eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &hp->norm_eps, err,
                           errlen)) ||
        (rc = eng_meta_f32(m, ".logit_scale", 1, &hp->logit_scale, err, errlen)) ||
        (rc = eng_meta_f32(m, ".residual_scale", 0, &rs, err, errlen)) ||
        (rc = eng_meta_f32(m, ".embedding_scale", 0, &es, err, errlen)) ||
        (rc = eng_meta_f32(m, ".attention.scale", 0, &as, err, errlen)) ||
        (rc = eng_moe_hparams(m, err, errlen)))
        return rc;
    char key[128];
    int finetuned = 1;
    snprintf(key, sizeof key, "%s.rope.scaling.finetuned", hp->arch);
    if (gguf_get_bool(m->gf, key, &finetuned) == 0 && !finetuned)
        return om_err(err, errlen, OM_EUNSUPPORTED, "%s = false (no RoPE) unsupported", key);
    if (es != 0.0f) /* 0 means unset, as in llama.cpp */
        hp->embd_scale = es;
    if (rs != 0.0f)
        hp->residual_scale = rs;
    hp->attn_scale = as;
    return 0;
}

static int granite_tensors(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_bind_common_io(m, err, errlen);
    return rc ? rc : eng_bind_decoder_layers(m, err, errlen);
}

const struct eng_family eng_family_granite = {
    .arch = "granite",
    .load_hparams = granite_hparams,
    .load_tensors = granite_tensors,
};

const struct eng_family eng_family_granitemoe = {
    .arch = "granitemoe",
    .load_hparams = granite_hparams,
    .load_tensors = granite_tensors,
};
