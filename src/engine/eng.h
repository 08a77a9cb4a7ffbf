/* engine: transformer inference over GGUF models (llama.cpp-like C API).
 *
 * A model (eng_model) is an mmap'd GGUF file whose weights are views into the
 * mapping, plus validated hyper-parameters and the family's hooks. A context
 * (eng_ctx) owns a KV cache, the forward-pass scratch (allocated once) and a
 * compute thread pool; one thread at a time may call into a context, and
 * several contexts may share one model read-only.
 *
 * Decoding works on batches of tokens, each tagged with a position and a
 * sequence id: several independent sequences decode in one eng_decode() call,
 * each with its own cache cells. The KV cache is a set of cells; each cell
 * holds the K/V of one token and records (pos, set of sequences). Attention of
 * a token covers the cells of its own sequence with pos <= its pos (causal
 * models), within the sliding window where the family has one.
 *
 * The engine never prints; it logs through om_log at DEBUG at most. */
#ifndef ENG_H
#define ENG_H

#include <stddef.h>
#include <stdint.h>

struct gguf_file;
struct tok_vocab;

typedef struct eng_model eng_model;
typedef struct eng_ctx eng_ctx;

/* ---- model ---- */

struct eng_model_params {
    int vocab_only; /* 1: read hyper-parameters (and vocabulary), bind no weights */
};

/* Fills p with the defaults (full load). */
void eng_model_params_default(struct eng_model_params *p);

/* Opens path (GGUF, mmap'd read-only), detects the architecture
 * (general.architecture), reads and checks the hyper-parameters, and binds
 * every tensor the family needs, checking presence, type and shape. Weights
 * are never copied. When the file has tokenizer.ggml.model, the vocabulary
 * is loaded too (tok_vocab_load) and its failure fails the load. p may be
 * NULL (defaults).
 * Returns 0 and *out (owned by the caller, free with eng_model_free), or a
 * negative OM_E* code with *out = NULL and err naming the key / tensor /
 * architecture / type at fault: OM_EUNSUPPORTED for an unknown architecture
 * or a tensor type the kernels cannot compute with, OM_ENOTFOUND for a
 * missing key or tensor, OM_EFORMAT for a wrong shape or value. */
int eng_model_load(const char *path, const struct eng_model_params *p, eng_model **out,
                   char *err, size_t errlen);
/* Releases the model and its mapping; every context on it must be freed
 * first. NULL is a no-op. */
void eng_model_free(eng_model *m);

/* Hyper-parameters (read-only). */
const char *eng_model_arch(const eng_model *m); /* "llama", "qwen2", ... */
int32_t eng_model_n_vocab(const eng_model *m);
int32_t eng_model_n_embd(const eng_model *m);
int32_t eng_model_n_layer(const eng_model *m);
int32_t eng_model_n_head(const eng_model *m);
int32_t eng_model_n_head_kv(const eng_model *m);
int32_t eng_model_n_ctx_train(const eng_model *m);
/* 1 when the model is an encoder producing embeddings (bert, nomic-bert):
 * attention is bidirectional, there are no logits, and a whole input must
 * fit one eng_decode chunk. */
int eng_model_is_encoder(const eng_model *m);
/* Bytes of tensor data and number of weight elements. */
uint64_t eng_model_size(const eng_model *m);
uint64_t eng_model_n_params(const eng_model *m);
/* The underlying GGUF (metadata such as the chat template, the tokenizer);
 * borrowed, valid until eng_model_free. */
const struct gguf_file *eng_model_gguf(const eng_model *m);
/* The vocabulary loaded from the file, or NULL when the file has no
 * tokenizer.ggml.model. Borrowed, valid until eng_model_free. */
const struct tok_vocab *eng_model_vocab(const eng_model *m);

/* ---- context ---- */

struct eng_ctx_params {
    uint32_t n_ctx;     /* KV cells; 0: min(n_ctx_train, 4096) */
    uint32_t n_batch;   /* max tokens per forward chunk; 0: 512, fewer for wide
                           models (forward scratch kept near 48 MiB) */
    uint32_t n_seq_max; /* sequence ids 0..n_seq_max-1 (at most 64); 0: 1 */
    int32_t n_threads;  /* 0: om_cpu_physical_cores() */
    uint32_t type_kv;   /* OM_TYPE_F16 (default), OM_TYPE_F32 (= 0: start from
                           eng_ctx_params_default, not a zeroed struct), or
                           OM_TYPE_Q8_0 / OM_TYPE_Q4_0 (head sizes multiple of 32) */
    int embeddings;     /* 1: compute pooled embeddings (forced for encoders) */
};

void eng_ctx_params_default(struct eng_ctx_params *p);

/* Creates a context on m (borrowed; must outlive the context): KV cache of
 * n_ctx cells in every layer, forward scratch sized for n_batch tokens, and
 * a thread pool. p may be NULL (defaults). Returns 0 and *out, or OM_EINVAL /
 * OM_ERANGE with err saying which parameter. */
int eng_ctx_new(eng_model *m, const struct eng_ctx_params *p, eng_ctx **out, char *err,
                size_t errlen);
void eng_ctx_free(eng_ctx *ctx);

const eng_model *eng_ctx_model(const eng_ctx *ctx);
uint32_t eng_ctx_n_ctx(const eng_ctx *ctx);
uint32_t eng_ctx_n_batch(const eng_ctx *ctx);
uint32_t eng_ctx_n_seq_max(const eng_ctx *ctx);
int32_t eng_ctx_n_threads(const eng_ctx *ctx);
/* Bytes of the KV cache (all layers, K and V). */
uint64_t eng_ctx_kv_bytes(const eng_ctx *ctx);

/* ---- decoding ---- */

/* A batch of n_tokens entries, all arrays borrowed for the call:
 * token[i]  token id in [0, n_vocab)
 * pos[i]    position (>= 0); pos == NULL: each sequence continues at its
 *           cached pos_max + 1, consecutively in batch order
 * seq_id[i] sequence in [0, n_seq_max); seq_id == NULL: all 0
 * logits[i] nonzero: produce logits (and, for embeddings, nothing more) for
 *           this entry; logits == NULL: only the last entry */
struct eng_batch {
    int32_t n_tokens;
    const int32_t *token;
    const int32_t *pos;
    const int32_t *seq_id;
    const int8_t *logits;
};

/* Runs the batch: stores every token's K/V in a free cache cell and computes
 * logits for the entries that asked. The batch is processed in chunks of
 * n_batch tokens, each chunk through every layer's matmuls at once.
 * Returns 0; OM_EFULL when fewer free cells remain than n_tokens (nothing is
 * changed: free cells with eng_kv_seq_rm / eng_ctx_shift and retry);
 * OM_EINVAL for a bad token id, position, sequence id or an empty batch;
 * OM_ERANGE when an encoder batch is longer than n_batch (bidirectional
 * attention needs the whole input in one chunk). */
int eng_decode(eng_ctx *ctx, const struct eng_batch *b);

/* Number of outputs (entries that asked for logits) of the last eng_decode. */
int32_t eng_n_outputs(const eng_ctx *ctx);
/* Logits (n_vocab floats) of the i-th entry, in batch order, among those of
 * the last eng_decode that asked for logits; i < 0 counts from the end (-1:
 * last). NULL when out of range or the model has no logits (encoders).
 * Valid until the next eng_decode. */
const float *eng_get_logits(const eng_ctx *ctx, int32_t i);
/* Pooled sentence embedding (n_embd floats, L2-normalized) of sequence seq
 * over its tokens in the last eng_decode. Pooling follows the model's
 * <arch>.pooling_type (mean, cls = first token, last = last token; decoders
 * default to last). NULL when embeddings are off or seq had no tokens. */
const float *eng_get_embeddings(const eng_ctx *ctx, int32_t seq);
/* The L2 norm the pooled vector of seq had before it was normalised (the
 * vector times it is the raw pooled embedding); 0 when there is none. */
float eng_get_embeddings_norm(const eng_ctx *ctx, int32_t seq);

/* ---- KV cache, per sequence ----
 * Position ranges are [p0, p1): p0 < 0 means 0, p1 < 0 means infinity.
 * seq < 0 means every sequence (eng_kv_seq_rm, eng_kv_seq_pos_max/min). */

/* Removes the sequence's cells with pos in [p0, p1). Returns the number of
 * cells freed. */
int32_t eng_kv_seq_rm(eng_ctx *ctx, int32_t seq, int32_t p0, int32_t p1);
/* Makes dst share src's cells with pos in [p0, p1) (no copy: a cell may
 * belong to several sequences). Returns 0 or OM_EINVAL. */
int eng_kv_seq_cp(eng_ctx *ctx, int32_t src, int32_t dst, int32_t p0, int32_t p1);
/* Adds delta to the position of the sequence's cells with pos in [p0, p1)
 * and re-rotates their cached K by RoPE so they read as if computed at the
 * new position. Cells whose position would become negative are freed.
 * Cells shared with another sequence are rejected: OM_EINVAL. Returns 0. */
int eng_kv_seq_add(eng_ctx *ctx, int32_t seq, int32_t p0, int32_t p1, int32_t delta);
/* Largest / smallest cached position of seq, or -1 when it has none. */
int32_t eng_kv_seq_pos_max(const eng_ctx *ctx, int32_t seq);
int32_t eng_kv_seq_pos_min(const eng_ctx *ctx, int32_t seq);
/* Frees every cell. */
void eng_kv_clear(eng_ctx *ctx);
/* Cells in use / free. */
int32_t eng_kv_n_used(const eng_ctx *ctx);
int32_t eng_kv_n_free(const eng_ctx *ctx);

/* Context shift for one sequence whose positions run 0..n_past-1
 * (n_past = pos_max + 1): keeps positions [0, n_keep), drops
 * n_discard = (n_past - n_keep) / 2 positions [n_keep, n_keep + n_discard),
 * and moves [n_keep + n_discard, n_past) down by n_discard (K re-rotated), so
 * the sequence then continues at n_past - n_discard. n_keep is clamped to
 * [0, n_past]. Returns n_discard (>= 0; 0 when nothing could be dropped) or
 * OM_EINVAL. */
int32_t eng_ctx_shift(eng_ctx *ctx, int32_t seq, int32_t n_keep);

#endif
