/* sched: the local scheduler — loads models on demand, keeps them while
 * keep_alive lasts, evicts the least recently used one past
 * OLLAMA_MAX_LOADED_MODELS or when memory runs short, and runs one runner per
 * loaded model that decodes every active sequence together (continuous
 * batching: each step is one eng_decode holding the next token of every
 * generating sequence plus a chunk of any pending prompt).
 *
 * The API layer submits jobs. A job names the model (its GGUF path and
 * load-time options), says how to build its prompt once the model is loaded
 * (prepare callback, which gets the vocabulary and the context size), and
 * receives its output through callbacks on a scheduler thread: text pieces
 * (after stop strings and UTF-8 hold-back), then exactly one on_done.
 *
 * Threads: sched_* functions are thread-safe. Callbacks run on scheduler
 * threads (loader or runner); they must be quick (queue bytes to a stream)
 * and must not call back into sched except sched_job_cancel/release. */
#ifndef SCHED_H
#define SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/smp.h"

struct eng_model;
struct tok_vocab;
struct gram;

typedef struct sched sched;
typedef struct sched_job sched_job;

struct sched_config {
    int num_parallel;      /* sequences per runner (OLLAMA_NUM_PARALLEL); 0 = auto: 8, halved
                              while the runner's estimated memory passes mem_limit */
    int max_loaded;        /* OLLAMA_MAX_LOADED_MODELS; 0 = 3 */
    int max_queue;         /* OLLAMA_MAX_QUEUE; 0 = 512 */
    int64_t keep_alive_ns; /* OLLAMA_KEEP_ALIVE default (5 min); < 0 forever */
    int64_t load_timeout_ns; /* OLLAMA_LOAD_TIMEOUT (5 min); <= 0 none */
    int n_threads;         /* compute threads per runner; 0 = physical cores */
    uint64_t mem_limit;    /* bytes the loaded models may use; 0 = MemAvailable at start */
};

/* Load-time identity of a runner. Two jobs share a runner when path and
 * every field here are equal; a job whose options differ from the loaded
 * runner's forces a reload (after that runner's active sequences finish). */
struct sched_model {
    const char *name;      /* display name for /api/ps ("llama3:latest") */
    const char *path;      /* GGUF file (the model blob) */
    const char *digest;    /* manifest digest (hex) for /api/ps; may be NULL */
    int32_t num_ctx;       /* context per sequence; 0 = sched default (4096, clipped to the model) */
    int32_t num_batch;     /* 0 = 512 */
    int32_t num_thread;    /* 0 = config n_threads */
    bool embedding;        /* embedding model: one sequence, pooled output */
    int64_t keep_alive_ns; /* this request's keep_alive */
    bool keep_alive_set;   /* false: keep the runner's current duration (or the default) */
    uint64_t prefix_hash;  /* not load identity: route_prefix_hash (src/cluster/route.h) of the
                              first 1024 bytes of this job's prompt text as the model sees it
                              (rendered template, or raw prompt); 0 = unknown. The slot that
                              runs the job reports it in sched_prefixes while its KV cache
                              holds the prompt. */
};

/* What prepare() is told about the loaded model. */
struct sched_model_info {
    const struct eng_model *model;
    const struct tok_vocab *vocab;
    int32_t n_ctx;          /* context available to this job's sequence */
};

/* What prepare() hands back. Arrays are malloc'd by prepare and owned by
 * the scheduler afterwards (freed with free()). */
struct sched_prompt {
    int32_t *tokens;        /* prompt tokens (n_tokens >= 1 for generation) */
    int32_t n_tokens;
    struct smp_params sampling;
    int32_t num_predict;    /* -1: no limit (until EOG or context end) */
    int32_t num_keep;       /* tokens kept on context shift (Ollama default 4) */
    bool shift;             /* false: stop with "length" when the context is full */
    char **stop;            /* stop strings (each malloc'd), n_stop of them */
    int n_stop;
    struct gram *grammar;   /* constrained output (owned, gram_free'd); NULL = none */
    int top_logprobs;       /* 0..20; with logprobs */
    bool logprobs;
    bool return_tokens;     /* keep prompt + generated ids for sched_result.tokens */
};

/* One generated token's log-probabilities (logprobs requests). */
struct sched_logprob {
    int32_t id;
    float logprob;
};

struct sched_piece {
    int32_t token;                     /* the token that completed this text */
    float logprob;                     /* when logprobs */
    const struct sched_logprob *top;   /* top_logprobs entries, most likely first */
    int n_top;
};

enum sched_done_reason { SCHED_DONE_STOP, SCHED_DONE_LENGTH, SCHED_DONE_LOAD, SCHED_DONE_UNLOAD };

struct sched_result {
    int rc;                 /* 0, or OM_E* (OM_ECANCELED when cancelled) */
    const char *error;      /* message when rc != 0 */
    enum sched_done_reason reason;
    int64_t load_ns;        /* submit -> runner ready */
    int32_t prompt_eval_count;  /* prompt tokens actually evaluated (cache hits excluded) */
    int64_t prompt_eval_ns;
    int32_t eval_count;     /* generated tokens */
    int64_t eval_ns;
    const int32_t *tokens;  /* prompt + generated ids when return_tokens */
    int32_t n_tokens;
    const float *embedding; /* embedding jobs: pooled vector, L2-normalised;
                               prompt_eval_count = input tokens */
    int32_t n_embd;
    float embd_norm;        /* the vector's L2 norm before normalisation: embedding *
                               embd_norm is the raw pooled vector (legacy /api/embeddings) */
};

enum sched_kind {
    SCHED_GENERATE,  /* prompt -> tokens */
    SCHED_EMBED,     /* prompt -> one pooled vector */
    SCHED_LOAD,      /* just make sure the model is loaded (done_reason load) */
};

struct sched_job_cb {
    /* On a scheduler thread once the model is loaded. Return 0, or a negative
     * OM_E* with err set: the job then ends with that error (on_done). */
    int (*prepare)(void *ud, const struct sched_model_info *info, struct sched_prompt *out,
                   char *err, size_t errlen);
    /* Text ready to send (UTF-8 complete, stop strings removed). Return
     * non-zero to stop the job (it ends as cancelled). May be NULL. With
     * logprobs it is called once per generated token (EOG excepted), with
     * len 0 while the text is held back (stop-string prefix, partial UTF-8);
     * text released at the end (held back until then) comes with info
     * NULL. */
    int (*on_piece)(void *ud, const char *text, size_t len, const struct sched_piece *info);
    /* Exactly once, last. *res is valid only during the call. */
    void (*on_done)(void *ud, const struct sched_result *res);
    void *ud;
};

/* Default config values (the comments above). */
void sched_config_default(struct sched_config *c);
int sched_new(const struct sched_config *cfg, sched **out, char *err, size_t errlen);
/* Cancels every job (on_done with OM_ECANCELED), unloads every model. */
void sched_free(sched *s);

/* Queues a job. *model is copied. Returns 0 and gives *out (a reference the
 * caller must drop with sched_job_release, before or after on_done), or
 * OM_EBUSY when OLLAMA_MAX_QUEUE jobs are already waiting (callbacks are then
 * never called). */
int sched_submit(sched *s, enum sched_kind kind, const struct sched_model *model,
                 const struct sched_job_cb *cb, sched_job **out);
/* Stops the job as soon as possible (frees its sequence at once); on_done
 * follows with OM_ECANCELED unless it already ran. Safe at any time before
 * sched_job_release. */
void sched_job_cancel(sched_job *j);
void sched_job_release(sched_job *j);

/* Unloads the model at path (all runners of it) once its active jobs end.
 * Returns 0, or OM_ENOTFOUND when it is not loaded. */
int sched_unload(sched *s, const char *path);

/* A loaded model, for /api/ps. */
struct sched_loaded {
    char name[256];
    char path[1024];
    char digest[72];
    uint64_t size;          /* bytes in memory: weights mapped + KV + scratch */
    int32_t n_ctx;          /* context length per sequence */
    int64_t expires_at_ns;  /* wall clock (CLOCK_REALTIME ns); INT64_MAX = never */
    int active;             /* sequences running */
    int queued;             /* jobs waiting for this runner */
    double tokens_per_s;    /* recent generation rate, all sequences */
};
/* Fills up to cap entries, most recently used first; returns the count. */
int sched_list(sched *s, struct sched_loaded *out, int cap);

#define SCHED_MAX_PREFIXES 64
/* The distinct non-zero prefix_hash values of the generation jobs whose
 * prompts the KV caches of the loaded models now hold (one per slot: the
 * slot's current or last job, until its cache is dropped), most recently
 * started first. path: only runners of that model file; NULL: every loaded
 * model. Fills up to cap (<= SCHED_MAX_PREFIXES is enough) entries of out;
 * returns the count. Thread-safe. */
int sched_prefixes(sched *s, const char *path, uint64_t *out, int cap);
/* Sequences one runner decodes together: the most slots of any loaded
 * runner, or the configured num_parallel (8 for auto) when none is loaded. */
int sched_parallel(sched *s);

#endif
