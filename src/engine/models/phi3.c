/* engine family: phi3 (Phi-3 / Phi-3.5 mini and medium).
 *
 * A llama block with fused projections: attn_qkv holds [Q; K; V] rows and
 * ffn_up holds [gate; up] (2 * n_ff rows, SwiGLU on the halves). RoPE NEOX.
 * The sliding window some conversions declare is ignored, as llama.cpp does
 * (its attention is full). LongRoPE models (rope_factors_long/short tensors)
 * are refused: they need the per-context factor switch and attention factor,
 * which the core does not implement. */
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
    if (gguf_find_tensor(m->gf, "rope_factors_long.weight") ||
        gguf_find_tensor(m->gf, "blk.0.rope_factors_long.weight"))
        return om_err(err, errlen, OM_EUNSUPPORTED,
                      "tensor rope_factors_long.weight: LongRoPE scaling unsupported");
    int rc = eng_bind_common_io(m, err, errlen);
    return rc ? rc : eng_bind_decoder_layers(m, err, errlen);
}

const struct eng_family eng_family_phi3 = {
    .arch = "phi3",
    .load_hparams = phi3_hparams,
    .load_tensors = phi3_tensors,
};
