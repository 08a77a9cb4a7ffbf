/* engine: private layouts shared by the core (eng_*.c) and the model
 * families (models/<family>.c).
 *
 * HOW TO ADD A FAMILY
 * 1. Write models/<family>.c defining `const struct eng_family eng_family_<x>`
 *    with .arch = the general.architecture string and two hooks:
 *    - load_hparams(m, err, errlen): called after the core read the common
 *      keys into m->hp (see eng_hparams_load_common); sets the family's
 *      flags in m->hp (norm kind, rope type, activation, causal, pooling,
 *      softcaps, sliding-window layers, embedding scale, attention scale...)
 *      and reads any extra metadata with eng_meta_* helpers.
 *    - load_tensors(m, err, errlen): binds token_embd / output_norm / output
 *      (eng_bind_common_io does the usual ones) and every layer tensor with
 *      eng_bind / eng_bind_layer, giving the expected shape. An absent
 *      optional tensor leaves .data == NULL and the core skips that step
 *      (biases, QK-norm, extra norms are all presence-driven).
 * 2. Add it to the family table in eng_model.c (and `extern` it below).
 * 3. Teach tests/unit/helpers/synth_model.c to write a tiny random model of
 *    it and tests/unit/engine/test_eng_reference.c its naive forward; add
 *    the name to the family lists in test_eng_families.c.
 * Core flags that are not enough? Add one to eng_hparams (default = the
 * llama behaviour, set in hparams_common) and its step to eng_forward.c,
 * switched by the flag or by the presence of a tensor.
 * The core (eng_forward.c) runs one pre-norm (or post-norm, for bert-like
 * models) transformer block for every family; a family never copies it. */
#ifndef ENG_INT_H
#define ENG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/om.h"
#include "base/om_pool.h"
#include "engine/eng.h"
#include "format/gguf.h"
#include "kernels/kern.h"

#define ENG_MAX_LAYERS 512
#define ENG_MAX_SEQ 64
#define ENG_ATT_GMAX 64 /* query heads per attention work item */

enum eng_norm { ENG_NORM_RMS = 0, ENG_NORM_LAYER = 1 };
enum eng_rope { ENG_ROPE_NONE = 0, ENG_ROPE_NORM = 1, ENG_ROPE_NEOX = 2 };
enum eng_act {
    ENG_ACT_SILU_GATED = 0, /* silu(gate) * up  (llama) */
    ENG_ACT_GELU_GATED = 1, /* gelu(gate) * up  (gemma) */
    ENG_ACT_GELU = 2,       /* gelu(up)         (bert) */
};
enum eng_pool { ENG_POOL_NONE = 0, ENG_POOL_MEAN = 1, ENG_POOL_CLS = 2, ENG_POOL_LAST = 3 };

/* A bound tensor: a view into the mapping (data == NULL when absent). */
struct eng_tensor {
    const void *data;
    uint32_t type;
    int64_t ne[GGUF_MAX_DIMS];
    size_t row_bytes; /* bytes of one ne[0] row */
};

struct eng_hparams {
    char arch[32];
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx_train;
    int32_t head_dim_k, head_dim_v; /* per-head K/Q and V sizes */
    float norm_eps;
    enum eng_norm norm;
    int post_norm;        /* 1: bert-style (norm after each residual add) */
    enum eng_rope rope;
    int32_t n_rot;        /* rotated dims per head (<= head_dim_k) */
    float rope_base;      /* global layers */
    float rope_base_swa;  /* sliding-window layers (gemma3: 10000) */
    float rope_scale;     /* linear position scale (1 / rope.scaling.factor) */
    float rope_scale_swa;
    float rope_mscale;    /* rope.scaling.attn_factor: scales rotated q and k (1) */
    int32_t n_ctx_orig;   /* rope.scaling.original_context_length (LongRoPE, YaRN) */
    int yarn;             /* rope.scaling.type yarn (folded into inv_freq at load) */
    float yarn_beta_fast, yarn_beta_slow;
    enum eng_act act;
    int fused_gate_up;    /* ffn_up holds [gate; up] (phi3) */
    int no_pre_norm;      /* no attn_norm / ffn_norm: post norms only (olmo2) */
    int parallel;         /* x += attn(n) + ffn(n), n = attn_norm(x) (phi2) */
    int qk_norm_full;     /* QK-norm over the whole q / k projection (olmo2), not per head */
    int causal;
    enum eng_pool pooling;
    int32_t n_swa;        /* sliding window size (0: none) */
    uint8_t swa_layer[ENG_MAX_LAYERS]; /* 1: layer il uses the window */
    float attn_softcap;   /* 0: none */
    float final_softcap;  /* 0: none */
    float embd_scale;     /* token embeddings are multiplied by this (1) */
    float attn_scale;     /* q·k scale; 0: 1/sqrt(head_dim_k) */
    float residual_scale; /* branch outputs scaled before each residual add (1) */
    float logit_scale;    /* logits divided by this (1) */
    int32_t n_expert, n_expert_used, n_ff_exp; /* mixture of experts (0: dense FFN) */
    int32_t n_ff_shexp;   /* shared expert size (qwen2moe; 0: none) */
    int moe_norm_w;       /* renormalise the chosen experts' weights to sum 1 */
    int has_logits;       /* 0 for encoders */
};

struct eng_layer {
    struct eng_tensor attn_norm, attn_norm_b;
    struct eng_tensor wq, wk, wv, wqkv, bq, bk, bv, bqkv;
    struct eng_tensor q_norm, k_norm;
    struct eng_tensor wo, bo;
    struct eng_tensor attn_post_norm, attn_post_norm_b; /* gemma post-attn; bert attn_output_norm */
    struct eng_tensor ffn_norm, ffn_norm_b;
    struct eng_tensor ffn_gate, ffn_up, ffn_down, ffn_gate_b, ffn_up_b, ffn_down_b;
    struct eng_tensor ffn_post_norm, ffn_post_norm_b; /* gemma post-ffw; bert layer_output_norm */
    /* mixture of experts: router (n_embd, n_expert) and per-expert slabs
     * (n_embd, n_ff_exp, n_expert) / (n_ff_exp, n_embd, n_expert) */
    struct eng_tensor ffn_gate_inp, ffn_gate_exps, ffn_up_exps, ffn_down_exps;
    /* shared expert (qwen2moe): sigmoid(cur · gate_inp_shexp) * ffn_shexp(cur) */
    struct eng_tensor ffn_gate_inp_shexp, ffn_gate_shexp, ffn_up_shexp, ffn_down_shexp;
};

struct eng_family;

struct eng_model {
    gguf_file *gf;
    const struct eng_family *fam;
    struct eng_hparams hp;
    struct eng_tensor tok_embd, pos_embd, type_embd, embd_norm, embd_norm_b;
    struct eng_tensor out_norm, out_norm_b, output; /* output may alias tok_embd */
    struct eng_tensor output_b;                     /* phi2: logits bias */
    struct eng_tensor rope_freqs;                   /* llama3: per-dim divisors */
    struct eng_tensor rope_long, rope_short;        /* phi3 LongRoPE divisors */
    struct eng_layer *layers;                       /* n_layer */
    float *inv_freq;     /* n_rot/2: base^(-2i/n_rot) / freq_factor[i] (global) */
    float *inv_freq_swa; /* same for sliding-window layers */
    float *inv_freq_long;/* with rope_long (LongRoPE, contexts past n_ctx_orig); or NULL */
    uint64_t n_bytes, n_params;
    int vocab_only;
    struct tok_vocab *vocab;
};

struct eng_family {
    const char *arch;
    int (*load_hparams)(struct eng_model *m, char *err, size_t errlen);
    int (*load_tensors)(struct eng_model *m, char *err, size_t errlen);
};

/* ---- metadata helpers (key is "<arch>.<suffix>" when suffix starts with '.') ---- */
int eng_meta_u32(const struct eng_model *m, const char *suffix, int required, uint32_t *out,
                 char *err, size_t errlen);
int eng_meta_f32(const struct eng_model *m, const char *suffix, int required, float *out,
                 char *err, size_t errlen);

/* ---- tensor binding ----
 * Binds name into t, checking the type (matmul weights: a type the kernels
 * support; vectors: F32) and the shape: ne0/ne1 (ne1 = 0 for a vector).
 * required == 0: absence leaves t zeroed and returns 0. */
enum { ENG_T_VEC = 0, ENG_T_MAT = 1 };
int eng_bind(struct eng_model *m, struct eng_tensor *t, const char *name, int kind, int required,
             int64_t ne0, int64_t ne1, char *err, size_t errlen);
/* Same for "blk.<il>.<suffix>". */
int eng_bind_layer(struct eng_model *m, struct eng_tensor *t, int il, const char *suffix,
                   int kind, int required, int64_t ne0, int64_t ne1, char *err, size_t errlen);
/* token_embd, output_norm (+ .bias when layer norm), output (tied to
 * token_embd when absent), rope_freqs (optional). */
int eng_bind_common_io(struct eng_model *m, char *err, size_t errlen);
/* attn_norm, attn_q/k/v (or attn_qkv) with optional biases, attn_output,
 * optional QK-norm, ffn_norm, ffn_gate/up/down: the standard decoder layer. */
int eng_bind_decoder_layers(struct eng_model *m, char *err, size_t errlen);

/* ---- RoPE (eng_rope.c) ---- */
/* Fills m->inv_freq / inv_freq_swa / inv_freq_long from hp and the factor
 * tensors (rope_freqs, else rope_short; rope_long). */
void eng_rope_init(struct eng_model *m);
/* Rotates n_head heads of one token row in place: x (n_head, head_dim),
 * rotating the first n_rot dims of each head; cs holds (n_rot/2) cos,sin
 * pairs for this token's position. */
void eng_rope_apply(enum eng_rope type, float *x, int n_head, int head_dim, int n_rot,
                    const float *cs);
/* cs (n_rot/2 pairs) for position pos with the given inverse frequencies,
 * multiplied by mscale (the attention factor; 1 for re-rotating the cache,
 * whose keys already carry it). */
void eng_rope_cs(float *cs, int n_rot, const float *inv_freq, float scale, float pos,
                 float mscale);

/* ---- element-wise ops (eng_ops.c), on one row ---- */
void eng_norm_row(enum eng_norm kind, float *y, const float *x, int n, const float *w,
                  const float *b, float eps);
float eng_gelu(float x);
float eng_silu(float x);

/* ---- context (core only) ---- */

/* KV cache: n_cells cells; cell c holds, in every layer, K (n_head_kv *
 * head_dim_k) and V (n_head_kv * head_dim_v) of one token, its position
 * pos[c] and the set of sequences seq[c] (bit s = sequence s; 0 = free). */
struct eng_kv {
    uint32_t n_cells;
    uint32_t type;           /* OM_TYPE_F16, F32, Q8_0 or Q4_0 */
    size_t k_row, v_row;     /* bytes of one cell's K / V in one layer */
    uint8_t **k, **v;        /* per layer: n_cells rows */
    int32_t *pos;
    uint64_t *seq;
    uint32_t n_used;
    uint32_t hi;             /* cells at index >= hi are all free */
};

struct eng_ctx {
    struct eng_model *m;
    struct eng_ctx_params p;
    om_pool *pool;
    int nth;
    const float *inv_freq;   /* m->inv_freq, or inv_freq_long for long LongRoPE contexts */
    struct eng_kv kv;
    /* forward scratch, sized for n_batch tokens (see eng_ctx_new) */
    int32_t qkv_w;           /* floats per token in qkv: q | k | v */
    float *x, *cur;          /* (n_batch, n_embd): residual stream, branch */
    float *par;              /* (n_batch, n_embd): attention branch of parallel blocks */
    float *work;             /* shared by qkv | att, ffn and out_x (never live together) */
    float *qkv, *att, *ffn, *out_x;
    float *cs, *cs_swa;      /* (n_batch, n_rot/2, 2) cos/sin tables */
    void *mm_scratch;
    float *att_scores;       /* (nth, gmax, n_ctx), gmax = min(group, ENG_ATT_GMAX) */
    float *att_q;            /* (nth, gmax, head_dim_k): q rounded to F16 precision */
    size_t att_q8_stride;    /* bytes per thread in att_q8 */
    int32_t *att_cells;      /* (nth, n_ctx) */
    om_f16 *att_f16;         /* (nth, max(n_ctx, 4096)): F16 rounding of q and weights */
    uint8_t *att_q8;         /* (nth, att_q8_stride): q in the K type's vec_dot_type */
    float *att_v;            /* (nth, 4096): one dequantized V head */
    int32_t *ub_cell, *ub_pos, *ub_seq, *ub_tok, *ub_out;
    int32_t *auto_pos;       /* grown on demand for batches without pos */
    /* per chunk: the cells of each sequence in it (built once, used by every
     * layer's attention), so a token scans its own sequence, not the cache */
    int32_t *seq_cells;      /* grown on demand */
    int32_t seq_cells_cap;
    int32_t seq_off[ENG_MAX_SEQ], seq_cnt[ENG_MAX_SEQ];
    /* mixture of experts scratch (n_expert > 0 only) */
    float *moe_router;       /* (n_batch, n_expert) */
    int32_t *moe_sel;        /* (n_batch, n_expert_used) chosen experts */
    float *moe_w;            /* (n_batch, n_expert_used) their weights */
    int32_t *moe_rows;       /* (n_batch) tokens routed to the current expert */
    float *moe_x, *moe_h, *moe_y, *moe_acc; /* gathered input, hidden, output, sum */
    int32_t auto_pos_cap;
    /* outputs of the last eng_decode */
    float *logits;           /* (cap_out, n_vocab) */
    int32_t n_out, cap_out;
    float *emb;              /* (n_seq_max, n_embd) */
    int32_t *emb_n;          /* tokens pooled per sequence */
    float *emb_norm;         /* L2 norm of each pooled vector before normalisation */
    int32_t *emb_pos;        /* pos of the token kept for cls / last pooling */
};

/* eng_kv.c */
int eng_kv_init(struct eng_kv *kv, const struct eng_model *m, uint32_t n_cells, uint32_t type);
void eng_kv_close(struct eng_kv *kv, int n_layer);
/* Takes n free cells for tokens (pos[i], seq[i]); writes their indices to
 * cell. Caller checked that n cells are free. */
void eng_kv_take(struct eng_kv *kv, int n, const int32_t *pos, const int32_t *seq, int32_t *cell);

/* eng_forward.c: one chunk of n <= n_batch tokens whose ub_* arrays are set. */
void eng_forward_chunk(struct eng_ctx *ctx, int n);
/* eng_moe.c: the mixture-of-experts FFN of layer il for n tokens: input in
 * (n, n_embd, stride n_embd), result into ctx->cur. */
void eng_moe_ffn(struct eng_ctx *ctx, int il, int n, const float *in);
/* Binds "blk.<il>.<suffix>" as an expert slab (ne0, ne1, n_expert). */
int eng_bind_experts(struct eng_model *m, struct eng_tensor *t, int il, const char *suffix,
                     int64_t ne0, int64_t ne1, char *err, size_t errlen);
/* Reads expert_count / expert_used_count / expert_feed_forward_length. */
int eng_moe_hparams(struct eng_model *m, char *err, size_t errlen);
/* Binds the router and expert slabs of every layer (instead of the dense FFN). */
int eng_bind_moe_layers(struct eng_model *m, char *err, size_t errlen);

/* eng_attn.c: lists the cells of every sequence present in the chunk
 * (ctx->seq_cells / seq_off / seq_cnt); call once per chunk, before layers. */
void eng_attn_prepare(struct eng_ctx *ctx, int n);
/* eng_attn.c: attention of the chunk's tokens for layer il, into ctx->att. */
void eng_attention(struct eng_ctx *ctx, int il, int n);

/* ---- families ---- */
extern const struct eng_family eng_family_llama;
extern const struct eng_family eng_family_qwen2;
extern const struct eng_family eng_family_qwen3;
extern const struct eng_family eng_family_qwen3moe;
extern const struct eng_family eng_family_qwen2moe;
extern const struct eng_family eng_family_phi3;
extern const struct eng_family eng_family_starcoder2;
extern const struct eng_family eng_family_olmo2;
extern const struct eng_family eng_family_phi2;
extern const struct eng_family eng_family_command_r;
extern const struct eng_family eng_family_granite;
extern const struct eng_family eng_family_granitemoe;
extern const struct eng_family eng_family_gemma;
extern const struct eng_family eng_family_gemma2;
extern const struct eng_family eng_family_gemma3;
extern const struct eng_family eng_family_bert;
extern const struct eng_family eng_family_nomic_bert;

#endif
