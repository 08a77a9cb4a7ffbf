/* engine family: gemma (Gemma 1: 2B, 7B).
 *
 * The llama block with Gemma's choices: token embeddings scaled by
 * sqrt(n_embd), RoPE NEOX, GELU-gated FFN, head_dim from
 * attention.key_length (256 in both sizes), output tied to token_embd. Norm
 * weights are stored as 1 + w by llama.cpp's converter, so the plain RMSNorm
 * applies. No soft-capping, no sliding window, no extra norms (gemma2 adds
 * those). */
#include <math.h>

#include "engine/eng_int.h"

static int gemma_hparams(struct eng_model *m, char *err, size_t errlen)
{
    m->hp.rope = ENG_ROPE_NEOX;
    m->hp.act = ENG_ACT_GELU_GATED;
    m->hp.embd_scale = sqrtf((float)m->hp.n_embd);
    return eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &m->hp.norm_eps, err,
                        errlen);
}

static int gemma_tensors(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_bind_common_io(m, err, errlen);
    return rc ? rc : eng_bind_decoder_layers(m, err, errlen);
}

const struct eng_family eng_family_gemma = {
    .arch = "gemma",
    .load_hparams = gemma_hparams,
    .load_tensors = gemma_tensors,
};
