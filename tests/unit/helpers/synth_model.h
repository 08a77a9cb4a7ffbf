/* test helper: writes a tiny random model of a given family as a GGUF file
 * (with the project's GGUF writer), with the metadata llama.cpp's converter
 * would write and a tiny SentencePiece-style vocabulary ("<unk>", "<s>",
 * "</s>", then "▁t3", "▁t4", ...). Weights are drawn from a seeded PRNG as
 * floats and then stored in `wtype`, so the same seed gives the same
 * underlying weights in F32 and in any quantized type. Shared by the engine
 * tests and anyone who needs a small model of a family. */
#ifndef SYNTH_MODEL_H
#define SYNTH_MODEL_H

#include <stddef.h>
#include <stdint.h>

struct synth_opts {
    const char *arch;  /* llama qwen2 qwen2moe qwen3 qwen3moe phi3 gemma gemma2 gemma3 granite
                          granitemoe starcoder2 olmo2 phi2 command-r bert nomic-bert */
    uint32_t wtype;    /* type of the matrices (token_embd included): OM_TYPE_* */
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx_train;
    int head_dim;      /* 0: n_embd / n_head (written as key/value_length when != that) */
    int n_swa;         /* gemma2/gemma3 sliding window (0: family default) */
    int tied;          /* 1: no output.weight (tied to token_embd) */
    int rope_freqs;    /* llama: add rope_freqs.weight (llama3-style factors) */
    float rope_scale;  /* >1: rope.scaling.type linear with this factor */
    int n_rot;         /* >0: rope.dimension_count (partial rotary) */
    int yarn;          /* rope.scaling.type yarn, factor 4, original_context_length 16 */
    int n_expert, n_expert_used, n_ff_exp; /* >0: mixture-of-experts FFN (llama, qwen3moe) */
    int n_ff_shexp;    /* >0: a shared expert (gated by ffn_gate_inp_shexp for qwen2moe) */
    int longrope;      /* phi3: rope_factors_long/short, attn_factor 1.19,
                          original_context_length 16 */
    uint32_t pooling;  /* encoders: 1 mean, 2 cls, 3 last */
    uint64_t seed;
};

/* Defaults for arch: F32, n_embd 64, 2 layers, 4 heads (2 KV heads), ffn 128,
 * vocab 96, ctx 256, seed 1, and the family's characteristic options. */
void synth_opts_default(struct synth_opts *o, const char *arch);

/* Writes the model to path. Returns 0, or a negative OM_E* code with err set. */
int synth_model_write(const struct synth_opts *o, const char *path, char *err, size_t errlen);

#endif
