/* Test helper for tests/unit/sched: a job record that a test fills with the
 * prompt and options, callbacks that collect what the scheduler streams, and
 * waits with a deadline. Include once, in the test's .c file. */
#ifndef SCHED_TEST_UTIL_H
#define SCHED_TEST_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"
#include "engine/eng.h"
#include "engine/tok.h"
#include "prompt/gram.h"
#include "sched/sched.h"

#define TJ_MAX_TOK 2048
#define TJ_MAX_TEXT 16384

struct tjob {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* input */
    const char *text;          /* tokenized in prepare (add_special) when set */
    int32_t toks[TJ_MAX_TOK];  /* else these */
    int n_toks;
    struct smp_params sp;
    int num_predict;
    int num_keep;
    bool shift;
    const char *stops[4];
    int n_stop;
    bool logprobs;
    int top_logprobs;
    bool json;                 /* constrain the output with gram_new_json */
    int stop_after_pieces;     /* on_piece returns 1 after this many (0: never) */
    int block_at;              /* on_piece number block_at waits for tj_release */
    int piece_sleep_ms;        /* a slow receiver */
    bool released;
    /* output */
    int n_pieces;
    int n_logprob_pieces;
    bool top_ok;               /* every top list sorted and containing the token's rank */
    char out[TJ_MAX_TEXT];
    size_t n_out;
    bool done;
    int n_done;
    struct sched_result res;
    char err[512];
    int32_t tokens[TJ_MAX_TOK]; /* res.tokens copy */
    int n_tokens;
    float emb[4096];
    int n_embd;
    int32_t n_ctx_seen;
};

static inline void tj_init(struct tjob *t)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->sp = smp_params_default();
    t->sp.temperature = 0.0f;
    t->sp.seed = 42;
    t->num_predict = 32;
    t->num_keep = 4;
    t->shift = true;
    t->top_ok = true;
}

static inline void tj_destroy(struct tjob *t)
{
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
}

static inline void tj_deadline(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static inline int tj_prepare(void *ud, const struct sched_model_info *info, struct sched_prompt *p,
                             char *err, size_t errlen)
{
    struct tjob *t = ud;
    t->n_ctx_seen = info->n_ctx;
    int32_t *tok = malloc(TJ_MAX_TOK * sizeof(int32_t));
    size_t n = 0;
    if (t->text) {
        int rc = tok_encode(info->vocab, t->text, strlen(t->text), 1, 0, tok, TJ_MAX_TOK, &n);
        if (rc != 0) {
            free(tok);
            return om_err(err, errlen, rc, "tokenize failed");
        }
    } else {
        memcpy(tok, t->toks, (size_t)t->n_toks * sizeof(int32_t));
        n = (size_t)t->n_toks;
    }
    p->tokens = tok;
    p->n_tokens = (int32_t)n;
    p->sampling = t->sp;
    p->num_predict = t->num_predict;
    p->num_keep = t->num_keep;
    p->shift = t->shift;
    p->return_tokens = true;
    p->logprobs = t->logprobs;
    p->top_logprobs = t->top_logprobs;
    if (t->json) {
        int rc = gram_new_json(&p->grammar, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (t->n_stop) {
        p->stop = malloc((size_t)t->n_stop * sizeof(char *));
        for (int i = 0; i < t->n_stop; i++)
            p->stop[i] = strdup(t->stops[i]);
        p->n_stop = t->n_stop;
    }
    return 0;
}

static inline int tj_piece(void *ud, const char *text, size_t len, const struct sched_piece *pc)
{
    struct tjob *t = ud;
    pthread_mutex_lock(&t->mu);
    if (t->n_out + len < TJ_MAX_TEXT) {
        memcpy(t->out + t->n_out, text, len);
        t->n_out += len;
    }
    t->n_pieces++;
    if (t->logprobs && pc) {
        t->n_logprob_pieces++;
        if (!(pc->logprob <= 0.0f) || pc->n_top != t->top_logprobs)
            t->top_ok = false;
        for (int i = 1; i < pc->n_top; i++)
            if (pc->top[i].logprob > pc->top[i - 1].logprob)
                t->top_ok = false;
    }
    int stop = t->stop_after_pieces > 0 && t->n_pieces >= t->stop_after_pieces;
    pthread_cond_broadcast(&t->cv);
    if (t->piece_sleep_ms > 0) {
        pthread_mutex_unlock(&t->mu);
        struct timespec sl = {0, (long)t->piece_sleep_ms * 1000000L};
        nanosleep(&sl, NULL);
        pthread_mutex_lock(&t->mu);
    }
    if (t->block_at > 0 && t->n_pieces == t->block_at) {
        /* at most 10 s, so that a failed test cannot hang the program */
        struct timespec ts;
        tj_deadline(&ts, 10000);
        while (!t->released && pthread_cond_timedwait(&t->cv, &t->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&t->mu);
    return stop;
}

static inline void tj_done(void *ud, const struct sched_result *res)
{
    struct tjob *t = ud;
    pthread_mutex_lock(&t->mu);
    t->res = *res;
    if (res->error)
        snprintf(t->err, sizeof(t->err), "%s", res->error);
    t->res.error = t->err;
    t->res.tokens = NULL;
    t->res.embedding = NULL;
    if (res->tokens && res->n_tokens <= TJ_MAX_TOK) {
        memcpy(t->tokens, res->tokens, (size_t)res->n_tokens * sizeof(int32_t));
        t->n_tokens = res->n_tokens;
    }
    if (res->embedding && res->n_embd <= 4096) {
        memcpy(t->emb, res->embedding, (size_t)res->n_embd * sizeof(float));
        t->n_embd = res->n_embd;
    }
    t->done = true;
    t->n_done++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static inline struct sched_job_cb tj_cb(struct tjob *t)
{
    struct sched_job_cb cb = {tj_prepare, tj_piece, tj_done, t};
    return cb;
}

/* Waits until done (true) or ms pass (false). */
static inline bool tj_wait(struct tjob *t, int ms)
{
    struct timespec ts;
    tj_deadline(&ts, ms);
    pthread_mutex_lock(&t->mu);
    while (!t->done && pthread_cond_timedwait(&t->cv, &t->mu, &ts) == 0)
        ;
    bool d = t->done;
    pthread_mutex_unlock(&t->mu);
    return d;
}

/* Waits until at least n pieces arrived. */
static inline bool tj_wait_pieces(struct tjob *t, int n, int ms)
{
    struct timespec ts;
    tj_deadline(&ts, ms);
    pthread_mutex_lock(&t->mu);
    while (t->n_pieces < n && !t->done && pthread_cond_timedwait(&t->cv, &t->mu, &ts) == 0)
        ;
    bool ok = t->n_pieces >= n;
    pthread_mutex_unlock(&t->mu);
    return ok;
}

/* Lets a receiver blocked at block_at go on. */
static inline void tj_release(struct tjob *t)
{
    pthread_mutex_lock(&t->mu);
    t->released = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static inline struct sched_model tj_model(const char *path)
{
    struct sched_model m;
    memset(&m, 0, sizeof(m));
    m.name = "test:latest";
    m.path = path;
    return m;
}

static inline void tj_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline bool tj_quick(void)
{
    const char *q = getenv("OM_TEST_QUICK");
    return q && q[0] == '1';
}

#endif
