/* sched: private layout shared by the scheduler files.
 *
 * sched.c        public API: new/free, submit, cancel/release, unload, list
 * sched_loader.c the loader thread: places pending jobs (one load at a
 *                time), evicts idle runners (LRU, count and memory limits),
 *                reaps runners whose keep_alive expired, fails timed-out jobs
 * sched_runner.c one thread per loaded model: slots, the continuous-batching
 *                step loop (one eng_decode per step)
 * sched_slot.c   one job inside a slot: prepare, prompt-prefix reuse,
 *                sampling (grammar, logprobs), streaming text, finishing
 * sched_embed.c  embedding jobs, several inputs per eng_decode
 *
 * Locking: one mutex, s->mu, guards every field marked "mu" (queues, runner
 * list, job placement, runner counters). Callbacks (prepare, on_piece,
 * on_done) and engine calls never run with s->mu held. The engine context of
 * a runner is touched only by that runner's thread (and by the loader before
 * the thread starts / after it has been joined).
 *
 * Job lifetime: a job starts with two references, the caller's and the
 * scheduler's; the scheduler drops its own right after on_done. A job is in
 * exactly one place: s->pending (waiting for a load), the loader's hands
 * (being loaded for), a runner's queue, a runner's slot, or done. */
#ifndef SCHED_INT_H
#define SCHED_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "engine/eng.h"
#include "engine/smp.h"
#include "engine/tok.h"
#include "sched/sched.h"

struct gram_vocab;

#define SCHED_DEFAULT_CTX 4096
#define SCHED_DEFAULT_BATCH 512
#define SCHED_AUTO_PARALLEL 8 /* num_parallel 0: this many, fewer when memory is short */
#define SCHED_MAX_TOP 20
#define SCHED_SCRATCH_EST (64ull << 20) /* forward scratch + logits, per runner */

enum sched_where { JOB_PENDING, JOB_LOADING, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct sched_runner;

struct sched_job {
    atomic_int refs;
    atomic_bool cancel;
    sched *s;
    enum sched_kind kind;
    struct sched_model model; /* strings owned (name, path, digest) */
    bool embed;               /* effective embedding flag (model.embedding or EMBED) */
    struct sched_job_cb cb;
    uint64_t t_submit;        /* monotonic ns */
    uint64_t t_ready;         /* monotonic ns when a runner took it in its queue */
    enum sched_where where;   /* mu */
    struct sched_runner *runner; /* mu: the runner while queued or running */
    sched_job *next;          /* mu: queue link */
};

struct sched_queue {
    sched_job *head, *tail;
    int n;
};

enum slot_state { SLOT_FREE, SLOT_PROMPT, SLOT_GEN };

/* One sequence of a runner. cache[0..n_past) are the tokens whose K/V the
 * sequence holds at positions 0..n_past-1 (kept after a job for prefix
 * reuse). Runner thread only. */
struct sched_slot {
    int32_t seq;
    enum slot_state state;
    sched_job *job;
    int32_t *cache; /* n_ctx_seq entries */
    int32_t n_past;
    uint64_t last_used;

    /* the job's prompt and options (from prepare) */
    struct sched_prompt p;
    int32_t n_prompt_done; /* prompt tokens in the cache */
    int32_t n_eval_prompt; /* prompt tokens evaluated (cache hits excluded) */
    struct smp *smp;
    struct smp_stop *stop;
    struct gram_state *gs;
    tok_stream ts;
    int32_t next_tok;      /* GEN: the sampled token, decoded next step */
    int32_t out_idx;       /* index among the outputs of the current step, or -1 */
    int32_t n_gen;
    int32_t *ret;          /* return_tokens: prompt + generated */
    int32_t n_ret, cap_ret;
    uint64_t t_start, t_prompt_done;
    int64_t prompt_ns;
};

struct sched_runner {
    sched *s;
    /* identity (owned strings); keep_alive fields unused */
    char *name, *path, *digest;
    int32_t num_ctx, num_batch, num_thread; /* as requested, 0s resolved */
    bool embed;

    eng_model *model;
    eng_ctx *ctx;
    const tok_vocab *vocab;
    int32_t n_vocab;
    int32_t n_ctx_seq;
    int n_slots;
    int32_t n_batch;
    bool encoder;
    uint64_t size;
    pthread_t th;
    bool started;
    pthread_cond_t cond; /* wakes the runner thread (with mu) */

    /* mu */
    struct sched_queue q;
    int active;          /* jobs taken from q and not finished */
    bool quit;           /* thread must end (cancels its jobs) */
    bool stale;          /* takes no new job; unloaded once idle */
    bool unload_req;     /* sched_unload asked (stale for good) */
    int64_t keep_alive_ns;
    uint64_t idle_since; /* monotonic ns; meaningful when idle */
    uint64_t last_used;
    double tps;
    uint64_t *slot_prefix;   /* n_slots: prefix_hash of the prompt each slot's cache holds (0 none) */
    uint64_t *slot_prefix_t; /* n_slots: when that job started (monotonic ns) */
    struct sched_runner *next;

    /* runner thread only */
    struct sched_slot *slots;
    int32_t *b_tok, *b_pos, *b_seq;
    int8_t *b_logits;
    int32_t b_cap;
    float *mask;          /* n_vocab: grammar-masked logits */
    struct gram_vocab *gvocab; /* token pieces for whole-vocabulary grammar masks (lazy) */
    uint8_t *allowed;     /* n_vocab: scratch for gram_state_allowed */
    char *text;           /* streaming text scratch */
    size_t text_cap;
    struct smp_logprob top[SCHED_MAX_TOP];
    struct sched_logprob top_out[SCHED_MAX_TOP];
};

struct sched {
    struct sched_config cfg;
    bool parallel_auto;           /* cfg.num_parallel was 0 */
    pthread_mutex_t mu;
    pthread_cond_t cond; /* wakes the loader (with mu) */
    pthread_t loader;
    bool loader_started;
    bool shutdown;                /* mu */
    struct sched_queue pending;   /* mu */
    struct sched_runner *runners; /* mu */
    int n_runners;                /* mu */
    sched_job *loading;           /* mu: the job the loader is loading for */
};

/* ---- sched.c ---- */
void sched_queue_push(struct sched_queue *q, sched_job *j);
sched_job *sched_queue_pop(struct sched_queue *q);
/* Removes j from q; true when it was there. */
bool sched_queue_remove(struct sched_queue *q, sched_job *j);
/* Whether job j may run on runner r (same path and load options). */
bool sched_runner_matches(const struct sched_runner *r, const sched_job *j);
/* Under mu: appends j to r's queue and applies its keep_alive. */
void sched_dispatch_locked(struct sched_runner *r, sched_job *j);
/* Not under mu: detaches j, calls on_done with a result carrying only
 * rc/error, and drops the scheduler's reference. */
void sched_job_fail(sched_job *j, int rc, const char *msg);
/* Not under mu, right before on_done: detaches j from its runner (active--,
 * idle time) and marks it done, so that anyone woken by on_done already
 * sees the runner's new state. The scheduler's reference is dropped after
 * on_done with sched_job_release. */
void sched_job_detach(sched_job *j);
uint64_t sched_now(void);
void sched_cond_init(pthread_cond_t *c);
/* Waits on c until signalled or the monotonic deadline (0: none). */
void sched_cond_wait(pthread_cond_t *c, pthread_mutex_t *mu, uint64_t deadline);

/* ---- sched_loader.c ---- */
void *sched_loader_main(void *arg);

/* ---- sched_runner.c ---- */
/* Loads the engine side of r (model already in r->model): context, slots,
 * buffers. Returns 0 or OM_E* with err. */
int sched_runner_init(struct sched_runner *r, char *err, size_t errlen);
/* Starts r's thread. */
int sched_runner_start(struct sched_runner *r);
/* Joins (after quit was set) and frees everything of r. */
void sched_runner_destroy(struct sched_runner *r);
bool sched_runner_idle(const struct sched_runner *r); /* mu */

/* ---- sched_slot.c ---- */
void sched_prompt_defaults(struct sched_prompt *p);
void sched_prompt_free(struct sched_prompt *p);
/* res zeroed, with the job's load_ns. */
void sched_result_base(const sched_job *j, struct sched_result *res);
/* Ends j with rc/msg (on_done), frees p. */
void sched_job_end(sched_job *j, struct sched_prompt *p, int rc, const char *msg);
/* Calls j's prepare into p (defaults first) and checks the prompt. Returns
 * 0, or non-zero after ending j with the error. */
int sched_job_prepare(struct sched_runner *r, sched_job *j, struct sched_prompt *p);
/* Starts job j (taken from the queue) in a free slot: prepare, prompt
 * prefix reuse, sampler. LOAD jobs complete here. */
void sched_slot_start(struct sched_runner *r, sched_job *j);
/* After the step's eng_decode: samples and streams the slot's next token. */
void sched_slot_sample(struct sched_runner *r, struct sched_slot *sl);
/* Records (under mu) which prompt prefix sl's cache holds, for
 * sched_prefixes; h 0 = none / unknown. */
void sched_slot_set_prefix(struct sched_runner *r, struct sched_slot *sl, uint64_t h);
/* Ends the slot's job with rc (0 = reason) and frees its sequence state;
 * clear: also drop the cached K/V (cancel, errors). */
void sched_slot_finish(struct sched_runner *r, struct sched_slot *sl, int rc, const char *msg,
                       enum sched_done_reason reason);

/* ---- sched_embed.c ---- */
/* Runs the n EMBED jobs just taken (n <= free slots), batched. */
void sched_embed_run(struct sched_runner *r, sched_job **jobs, int n);

#endif
