/* engine: the token sampler, per-token log-probabilities, and stop strings.
 *
 * The sampler knows nothing about models or tokenizers: it reads a float
 * logits array of n_vocab entries and returns an int32_t token id. Its chain
 * is llama.cpp's (which Ollama's runner uses), in this order:
 *
 *   penalties -> top_k -> typical_p -> top_p -> min_p -> temperature -> draw
 *
 * temperature <= 0 keeps the chain up to min_p (penalties included) and then
 * takes the argmax of what is left (ties: lowest id) without drawing.
 * Same params, seed and inputs give the same tokens on every run and machine
 * (own xoshiro256** generator, deterministic tie-breaking by token id).
 * All scratch is allocated by smp_new(); smp_sample() and smp_accept() never
 * allocate. See docs/sampler.md. */
#ifndef SMP_H
#define SMP_H

#include <stddef.h>
#include <stdint.h>

/* Ollama's sampling options (api/types.go Options). num_predict and stop
 * belong to the caller (stop: struct smp_stop below). */
struct smp_params {
    float temperature;       /* 0.8; <= 0 greedy */
    int32_t top_k;           /* 40; <= 0 off */
    float top_p;             /* 0.9; >= 1 off; clamped to [0, 1] */
    float min_p;             /* 0.0; <= 0 off; clamped to [0, 1] */
    float typical_p;         /* 1.0; >= 1 off */
    float repeat_penalty;    /* 1.0 (Ollama's default since 2026-08; was 1.1); 1 off; <= 0 treated as 1 */
    int32_t repeat_last_n;   /* 64; 0 off; -1 every token accepted since new/reset */
    float presence_penalty;  /* 0.0 */
    float frequency_penalty; /* 0.0 */
    int64_t seed;            /* -1: random (from getrandom) */
};

/* Longest repeat_last_n window accepted (the ring is allocated up front). */
#define SMP_MAX_LAST_N (1 << 22)

struct smp;

/* Ollama's defaults (values in the comments above). */
struct smp_params smp_params_default(void);

/* Creates a sampler for a vocabulary of n_vocab tokens. Copies *params.
 * Returns 0 and gives *out (free with smp_free), or OM_EINVAL / OM_ERANGE
 * with err naming the bad option (NaN or infinite floats, n_vocab < 1,
 * repeat_last_n < -1 or > SMP_MAX_LAST_N); *out is NULL then. */
int smp_new(const struct smp_params *params, int32_t n_vocab, struct smp **out,
            char *err, size_t errlen);
void smp_free(struct smp *s); /* NULL is a no-op */

/* Forgets the accepted tokens and restarts the generator from the seed
 * (seed -1 draws a fresh random seed). */
void smp_reset(struct smp *s);

/* The seed actually in use (the drawn one when params.seed was -1). */
uint64_t smp_seed(const struct smp *s);

/* Records a token for the repeat/presence/frequency penalties. Feed the
 * prompt tokens and then every generated token, in order (llama-server
 * accepts the prompt too). Returns 0, or OM_EINVAL if token is out of range. */
int smp_accept(struct smp *s, int32_t token);

/* Samples the next token from logits[n_vocab] (borrowed, not modified).
 * Does not accept the token: call smp_accept() with it. Returns the token id
 * (>= 0), or OM_ERANGE when a logit is NaN or +inf or every logit is -inf.
 * -inf logits (masked tokens) are never chosen. */
int32_t smp_sample(struct smp *s, const float *logits);

/* --- log-probabilities of the raw logits (before any sampling transform) */

struct smp_logprob {
    int32_t id;
    float logprob; /* natural log of softmax(logits)[id]; -inf for -inf logits */
};

/* Writes the min(n, n_vocab) most likely tokens to out[], by log-softmax of
 * logits, most likely first (ties: lower id first). Log-sum-exp with max
 * subtraction in double. No allocation. Returns the count written (0 when
 * n <= 0), or OM_EINVAL (n_vocab < 1) / OM_ERANGE (NaN or +inf logit, or every
 * logit -inf). */
int smp_top_logprobs(const float *logits, int32_t n_vocab, int32_t n, struct smp_logprob *out);

/* log softmax(logits)[id]; NAN when id is out of range or a logit is NaN or
 * +inf, or every logit is -inf. */
float smp_logprob_of(const float *logits, int32_t n_vocab, int32_t id);

/* --- stop strings matched across token boundaries
 *
 * Feed the detokenized pieces in order. Each call says which bytes are safe
 * to pass on now: text that could still become a stop string is held back,
 * as is an incomplete UTF-8 sequence at the end. When a stop string is
 * completed the text before it is released and the stop string and anything
 * after it never are. The first stop string to complete (byte by byte) wins;
 * of several completing at the same byte, the longest. Empty stop strings are
 * ignored. Matching is exact bytes (no normalisation). */

struct smp_stop;

#define SMP_STOP_MAX_COUNT 256 /* stop strings per set */
#define SMP_STOP_MAX_LEN 4096  /* bytes per stop string */

/* Copies the n stop strings (NUL-terminated). Returns 0 and gives *out (free
 * with smp_stop_free), or OM_ERANGE when there are too many or one is too
 * long (err says which). n == 0 is allowed: text passes through (UTF-8
 * completion still applies). */
int smp_stop_new(const char *const *stops, int n, struct smp_stop **out, char *err,
                 size_t errlen);
void smp_stop_free(struct smp_stop *st); /* NULL is a no-op */
void smp_stop_reset(struct smp_stop *st);

/* Appends piece[0..len). Sets *emit / *emit_len to the bytes that are safe
 * to pass on now (a view into st, valid until the next call on st; may be
 * empty). Returns 0 while no stop string has been seen, 1 when one was
 * completed (then *emit is everything before it still held; later calls
 * return 1 with nothing emitted until smp_stop_reset). */
int smp_stop_feed(struct smp_stop *st, const char *piece, size_t len, const char **emit,
                  size_t *emit_len);

/* At the end of generation (no stop hit): releases everything held back,
 * incomplete UTF-8 included. Returns 0, or 1 (nothing emitted) after a hit. */
int smp_stop_flush(struct smp_stop *st, const char **emit, size_t *emit_len);

/* Index (into the array given to smp_stop_new) of the stop string that was
 * hit, or -1. */
int smp_stop_hit(const struct smp_stop *st);

/* Bytes currently held back. */
size_t smp_stop_pending(const struct smp_stop *st);

#endif
