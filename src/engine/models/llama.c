/* engine family: llama (Llama 2, Llama 3.x, Mistral, TinyLlama, SmolLM).
 *
 * The plain pre-norm decoder: RMSNorm, separate Q/K/V (no biases), RoPE in
 * NORM mode (llama.cpp's converter permutes the Q/K rows so adjacent pairs
 * rotate), SiLU-gated FFN. Llama 3.1+ frequency scaling arrives as the
 * rope_freqs.weight tensor (per-pair divisors), which the core applies;
 * linear rope scaling comes from rope.scaling.*. Output tied to token_embd
 * when output.weight is absent. With llama.expert_count > 0 (Mixtral) the FFN
 * is a mixture of experts (ffn_gate_inp + ffn_*_exps, softmax routing, top-k
 * weights renormalised). */
#include "engine/eng_int.h"

static int llama_hparams(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_meta_f32(m, ".attention.layer_norm_rms_epsilon", 1, &m->hp.norm_eps, err,
                          errlen);
    return rc ? rc : eng_moe_hparams(m, err, errlen); /* Mixtral: llama with experts */
}

static int llama_tensors(struct eng_model *m, char *err, size_t errlen)
{
    int rc = eng_bind_common_io(m, err, errlen);
    return rc ? rc : eng_bind_decoder_layers(m, err, errlen);
}

const struct eng_family eng_family_llama = {
    .arch = "llama",
    .load_hparams = llama_hparams,
    .load_tensors = llama_tensors,
};
