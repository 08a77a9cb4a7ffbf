/* engine family: phi3 (Phi-3 / Phi-3.5 mini and medium).
 *
 * A llama block with fused projections: attn_qkv holds [Q; K; V] rows and
 * ffn_up holds [gate; up] (2 * n_ff rows, SwiGLU on the halves). RoPE NEOX.
 * The sliding window some conversions declare is ignored, as llama.cpp does
 * (its attention is full). LongRoPE (Phi-3/3.5 128k): rope_factors_short /
 * rope_factors_long divide the frequencies, the long ones for contexts whose
 * per-sequence size passes rope.scaling.original_context_length, and
 * rope.scaling.attn_factor scales the rotated q and k. */
#include "engine/eng_int.h"

static int phi3_hparams(struct eng_model *m, char *err, size_t errlen)
{
    m->hp.rope = ENG_ROPE_NEOX;
    m->hp.fused_gate_up = 1;
    return eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &m->hp.norm_eps, err,
                        errlen);
}

static int phi3_tensors(struct eng_model *m, char *err, size_t errlen)
{
    const int64_t half = m->hp.n_rot / 2;
    int rc = eng_bind_common_io(m, err, errlen);
    if (rc || (rc = eng_bind_decoder_layers(m, err, errlen)) ||
        (rc = eng_bind(m, &m->rope_long, "rope_factors_long.weight", ENG_T_VEC, 0, half, 0, err,
                       errlen)) ||
        (rc = eng_bind(m, &m->rope_short, "rope_factors_short.weight", ENG_T_VEC, 0, half, 0,
                       err, errlen)))
        return rc;
    if (!m->rope_long.data != !m->rope_short.data)
        return om_err(err, errlen, OM_ENOTFOUND,
                      "tensor rope_factors_long/short.weight: only one of the pair present");
    return 0;
}

const struct eng_family eng_family_phi3 = {
    .arch = "phi3",
    .load_hparams = phi3_hparams,
    .load_tensors = phi3_tensors,
};
