/* store: model files — quantizing GGUF models and synthesizing random ones.
 *
 * The quantizer follows llama.cpp's llama_model_quantize: which tensors are
 * quantized (2-D+ ".weight" tensors that are not norms, position or token-type
 * embeddings), which get a higher type in the _S/_M mixes, the fallbacks when
 * a row length does not divide the block size, and general.file_type set to
 * llama.cpp's LLAMA_FTYPE value; the output loads in llama.cpp. Both the
 * quantizer and the synthesizer stream tensor by tensor into a temp file that
 * is fsync'd and renamed over the output: memory use is bounded by one chunk
 * of rows, whatever the model size. */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

/* File types we produce. Values are our own; store_ftype_llama() gives the
 * LLAMA_FTYPE number written to general.file_type. */
enum store_ftype {
    STORE_FTYPE_F32 = 0,
    STORE_FTYPE_F16,
    STORE_FTYPE_Q4_0,
    STORE_FTYPE_Q4_1,
    STORE_FTYPE_Q5_0,
    STORE_FTYPE_Q5_1,
    STORE_FTYPE_Q8_0,
    STORE_FTYPE_Q4_K_S,
    STORE_FTYPE_Q4_K_M,
    STORE_FTYPE_Q5_K_S,
    STORE_FTYPE_Q5_K_M,
    STORE_FTYPE_Q6_K,
    STORE_FTYPE_BF16,
    STORE_FTYPE_COUNT
};

/* Parses "q4_K_M", "Q4_K_M", "q8_0", "f16"… (case-insensitive). Returns 0 and
 * sets *out, or OM_EINVAL for an unknown name. */
int store_ftype_from_name(const char *name, enum store_ftype *out);
/* Canonical name ("Q4_K_M"), or "?" for an invalid value. */
const char *store_ftype_name(enum store_ftype ft);
/* llama.cpp's LLAMA_FTYPE value (e.g. 15 for Q4_K_M), or -1. */
int store_ftype_llama(enum store_ftype ft);
/* The base tensor type of the mix (Q4_K for Q4_K_M). */
uint32_t store_ftype_base_type(enum store_ftype ft);

/* ---- type selection (shared by quantizer and synthesizer) ---- */

/* What the plan needs to know about the model beyond tensor names. */
struct store_model_info {
    const char *arch; /* general.architecture ("llama", "qwen2"…) */
    int n_layer;      /* {arch}.block_count */
    int n_head, n_head_kv;
    int n_expert;     /* 0 or 1 for dense models */
};

struct store_plan_tensor {
    const char *name;   /* borrowed */
    uint32_t n_dims;
    int64_t ne[4];      /* ne[0] = row length */
    uint32_t src_type;  /* enum om_type of the input */
    uint32_t dst_type;  /* out: chosen type */
    int fallback;       /* out: 1 when the row length forced a fallback type */
};

/* Chooses dst_type for each of n tensors with llama.cpp's rules for ftype.
 * Counters (attn_v, ffn_down) run in llama.cpp's tensor order (by layer, then
 * name) whatever the order of t. Tensors that are not quantized keep
 * src_type. Returns 0, or OM_EINVAL with err naming the tensor when no type
 * fits its row length. */
int store_plan_types(struct store_plan_tensor *t, size_t n, enum store_ftype ftype,
                     const struct store_model_info *mi, char *err, size_t errlen);
/* 1 when llama.cpp would quantize this tensor (shape and name rules). */
int store_tensor_quantizable(const char *name, uint32_t n_dims);

/* ---- quantizer ---- */

struct store_progress {
    int64_t i_tensor, n_tensors; /* i_tensor counts from 0 */
    const char *name;
    uint32_t src_type, dst_type;
    uint64_t bytes_in, bytes_out; /* of this tensor */
};
/* Called before each tensor is written; return non-zero to cancel (the call
 * then fails with OM_ECANCELED and nothing is left at the output path). */
typedef int (*store_progress_fn)(const struct store_progress *p, void *ud);

/* Quantizes the GGUF model at in_path into out_path with ftype, using
 * n_threads (<= 0: physical cores). Inputs may hold F32, F16 or BF16 tensors;
 * a tensor already quantized fails with OM_EUNSUPPORTED naming it, unless it
 * is already of its target type (then it is copied). Every metadata key is
 * copied; general.file_type and general.quantization_version are set. The
 * output is written atomically: on failure nothing exists at out_path (an
 * earlier file there is left untouched). progress may be NULL. */
int store_quantize_file(const char *in_path, const char *out_path, enum store_ftype ftype,
                        int n_threads, store_progress_fn progress, void *progress_ud, char *err,
                        size_t errlen);

/* ---- synthesizer ---- */

enum store_arch {
    STORE_ARCH_LLAMA = 0,
    STORE_ARCH_QWEN2,
    STORE_ARCH_QWEN3,
    STORE_ARCH_PHI3,
    STORE_ARCH_GEMMA2,
    STORE_ARCH_GEMMA3,
    STORE_ARCH_BERT,
    STORE_ARCH_NOMIC_BERT,
    STORE_ARCH_COUNT
};

struct store_synth_spec {
    enum store_arch arch;
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    int64_t head_dim;    /* 0: n_embd / n_head */
    int tied_embd;       /* 1: no output.weight (token_embd is shared) */
    int qkv_bias;        /* 1: attn_q/k/v biases (qwen2) */
    float rope_base;
    float norm_eps;
    enum store_ftype ftype;
    uint64_t seed;
    int n_threads;       /* <= 0: physical cores */
    const char *name;    /* general.name; NULL: preset or arch name */
};

/* Arch names as GGUF writes them ("llama", "nomic-bert"); NULL for invalid. */
const char *store_arch_name(enum store_arch a);
int store_arch_from_name(const char *name, enum store_arch *out);
/* Fills spec with the named preset ("tinyllama-1.1b", "qwen2.5-0.5b",
 * "tiny-<arch>" for each family). Returns OM_ENOTFOUND for unknown names. */
int store_synth_preset(const char *name, struct store_synth_spec *spec);
/* The default spec of an arch (its "tiny-<arch>" preset). */
void store_synth_defaults(enum store_arch arch, struct store_synth_spec *spec);
/* Names of all presets, NULL-terminated (static). */
const char *const *store_synth_preset_names(void);

/* Writes a random model of spec's family and shape to out_path: tensor
 * names, shapes and metadata as llama.cpp's converters write them, weights
 * ~N(0, 0.02), norms ~1, a synthetic but valid tokenizer, quantized with
 * spec->ftype by the same rules as store_quantize_file. Deterministic in
 * spec (seed included), independent of n_threads. Atomic like the quantizer. */
int store_synth(const struct store_synth_spec *spec, const char *out_path,
                store_progress_fn progress, void *progress_ud, char *err, size_t errlen);

#endif
