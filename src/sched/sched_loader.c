/* sched: the loader thread — places pending jobs, one model load at a time,
 * and reaps idle runners.
 *
 * Each wake-up (submit, cancel, a runner going idle, a deadline) it:
 *   1. ends cancelled pending jobs and those past load_timeout;
 *   2. unloads idle runners whose keep_alive expired or that sched_unload
 *      named;
 *   3. places the head of s->pending: a runner with the same path and
 *      options takes it; a runner of the same path with other options is
 *      marked stale and the head waits until it is idle and gone; at the
 *      OLLAMA_MAX_LOADED_MODELS limit or when the estimated memory (file +
 *      KV + scratch) would pass mem_limit, the least recently used idle
 *      runner is unloaded, or the head waits for one to become idle;
 *      otherwise the model is loaded (unlocked) and every pending job for it
 *      moves to the new runner.
 * It sleeps on s->cond until the next expiry or timeout otherwise. On
 * shutdown it cancels every pending job and stops and joins every runner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/om.h"
#include "sched/sched_int.h"

bool sched_runner_idle(const struct sched_runner *r)
{
    return r->active == 0 && r->q.n == 0;
}

/* Removes r from the list, stops it and frees it; drops and retakes mu. */
static void unload_locked(sched *s, struct sched_runner *r)
{
    struct sched_runner **pp = &s->runners;
    while (*pp && *pp != r)
        pp = &(*pp)->next;
    if (*pp)
        *pp = r->next;
    s->n_runners--;
    r->quit = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&s->mu);
    om_log(OM_LOG_INFO, "sched", "unloading %s", r->path);
    sched_runner_destroy(r);
    pthread_mutex_lock(&s->mu);
}

static uint64_t expiry_of(const struct sched_runner *r)
{
    if (r->keep_alive_ns < 0)
        return UINT64_MAX;
    return r->idle_since + (uint64_t)r->keep_alive_ns;
}

/* Unloads one expired or stale idle runner; true when it did (the list
 * changed: the caller rescans). *next gets the earliest future expiry. */
static bool reap_one(sched *s, uint64_t now, uint64_t *next)
{
    for (struct sched_runner *r = s->runners; r; r = r->next) {
        if (!sched_runner_idle(r))
            continue;
        uint64_t e = expiry_of(r);
        if (r->unload_req || e <= now) { /* reloads are place_head's */
            unload_locked(s, r);
            return true;
        }
        if (e < *next)
            *next = e;
    }
    return false;
}

static struct sched_runner *lru_idle(sched *s)
{
    struct sched_runner *best = NULL;
    for (struct sched_runner *r = s->runners; r; r = r->next)
        if (sched_runner_idle(r) && (!best || r->last_used < best->last_used))
            best = r;
    return best;
}

static uint64_t loaded_bytes(const sched *s)
{
    uint64_t t = 0;
    for (const struct sched_runner *r = s->runners; r; r = r->next)
        t += r->size;
    return t;
}

/* Ends cancelled and timed-out pending jobs (drops and retakes mu when it
 * ends one); true when it did. *next gets the earliest timeout. */
static bool expire_pending(sched *s, uint64_t now, uint64_t *next)
{
    int64_t to = s->cfg.load_timeout_ns;
    for (sched_job *j = s->pending.head; j; j = j->next) {
        bool cancel = atomic_load(&j->cancel) || s->shutdown;
        bool late = to > 0 && now - j->t_submit >= (uint64_t)to;
        if (cancel || late) {
            sched_queue_remove(&s->pending, j);
            pthread_mutex_unlock(&s->mu);
            if (cancel)
                sched_job_fail(j, OM_ECANCELED, "request cancelled");
            else
                sched_job_fail(j, OM_ETIMEDOUT, "timed out waiting for the model to load");
            pthread_mutex_lock(&s->mu);
            return true;
        }
        if (to > 0 && j->t_submit + (uint64_t)to < *next)
            *next = j->t_submit + (uint64_t)to;
    }
    return false;
}

/* Estimated bytes of a runner for m: weights + F16 KV of n_cells + scratch. */
static uint64_t estimate(const eng_model *m, uint64_t n_cells)
{
    uint64_t n_head = (uint64_t)OM_MAX(1, eng_model_n_head(m));
    uint64_t kv_dim = (uint64_t)eng_model_n_embd(m) * (uint64_t)eng_model_n_head_kv(m) / n_head;
    return eng_model_size(m) + (uint64_t)eng_model_n_layer(m) * n_cells * kv_dim * 2 * 2 +
           SCHED_SCRATCH_EST;
}

/* Loads the model of j (mu dropped while loading). Returns the new runner
 * (in the list, started), or NULL after ending j with the error. When
 * memory is short and busy runners may free some, returns NULL with *wait
 * set and j untouched (the model is dropped again; mmap loads are cheap). */
static struct sched_runner *load_locked(sched *s, sched_job *j, bool *wait)
{
    *wait = false;
    j->where = JOB_LOADING;
    s->loading = j;
    pthread_mutex_unlock(&s->mu);

    char err[512] = "";
    uint64_t t0 = sched_now();
    eng_model *m = NULL;
    int rc = eng_model_load(j->model.path, NULL, &m, err, sizeof(err));
    struct sched_runner *r = NULL;
    if (rc == 0) {
        r = om_xcalloc(1, sizeof(*r));
        r->s = s;
        r->model = m;
        r->name = om_xstrdup(j->model.name);
        r->path = om_xstrdup(j->model.path);
        r->digest = j->model.digest ? om_xstrdup(j->model.digest) : NULL;
        r->num_ctx = j->model.num_ctx > 0 ? j->model.num_ctx : SCHED_DEFAULT_CTX;
        r->num_batch = j->model.num_batch > 0 ? j->model.num_batch : SCHED_DEFAULT_BATCH;
        r->num_thread = j->model.num_thread > 0 ? j->model.num_thread : s->cfg.n_threads;
        r->embed = j->embed;
        r->encoder = eng_model_is_encoder(m) != 0;
        /* an encoder only embeds: one slot unless it embeds (batched) */
        r->n_slots = (r->encoder && !r->embed) ? 1 : s->cfg.num_parallel;
        int32_t train = eng_model_n_ctx_train(m);
        r->n_ctx_seq = r->num_ctx;
        if (j->model.num_ctx <= 0 && train > 0 && train < r->n_ctx_seq)
            r->n_ctx_seq = train; /* the default is clipped to the model */
        if (r->encoder && train > 0 && train < r->n_ctx_seq)
            r->n_ctx_seq = train; /* encoders: absolute positions, one chunk per input */
        r->keep_alive_ns = j->model.keep_alive_set ? j->model.keep_alive_ns : s->cfg.keep_alive_ns;
        sched_cond_init(&r->cond);

        /* fewer slots when the KV cache would not fit (silently for the
         * automatic default), and a clear error rather than an allocation
         * failure when even one sequence does not */
        int want = r->n_slots;
        while (r->n_slots > 1 &&
               estimate(m, (uint64_t)r->n_ctx_seq * (uint64_t)r->n_slots) > s->cfg.mem_limit)
            r->n_slots /= 2;
        if (r->n_slots != want && !s->parallel_auto)
            om_log(OM_LOG_WARN, "sched", "%s: num_parallel %d -> %d to fit the memory limit",
                   r->path, want, r->n_slots);
        uint64_t est = estimate(m, (uint64_t)r->n_ctx_seq * (uint64_t)r->n_slots);
        if (est > s->cfg.mem_limit) {
            snprintf(err, sizeof(err),
                     "model requires more memory (%.1f MiB for num_ctx %d) than the limit "
                     "(%.1f MiB)",
                     (double)est / 1048576.0, r->n_ctx_seq,
                     (double)s->cfg.mem_limit / 1048576.0);
            r->model = NULL;
            sched_runner_destroy(r);
            eng_model_free(m);
            r = NULL;
            rc = OM_ENOMEM;
            goto fail;
        }
        pthread_mutex_lock(&s->mu);
        for (;;) {
            if (loaded_bytes(s) + est <= s->cfg.mem_limit || !s->runners)
                break;
            struct sched_runner *v = lru_idle(s);
            if (!v)
                break;
            unload_locked(s, v);
        }
        bool short_mem = s->runners && loaded_bytes(s) + est > s->cfg.mem_limit;
        pthread_mutex_unlock(&s->mu);
        if (short_mem) {
            r->model = NULL;
            sched_runner_destroy(r);
            eng_model_free(m);
            pthread_mutex_lock(&s->mu);
            s->loading = NULL;
            j->where = JOB_PENDING;
            *wait = true;
            return NULL;
        }
        rc = sched_runner_init(r, err, sizeof(err));
        if (rc == 0)
            rc = sched_runner_start(r);
        if (rc != 0) {
            if (!err[0])
                snprintf(err, sizeof(err), "cannot start the runner: %s", om_strerror(rc));
            sched_runner_destroy(r);
            r = NULL;
        }
    }
fail:
    if (rc != 0) {
        om_log(OM_LOG_WARN, "sched", "load %s: %s", j->model.path, err);
        pthread_mutex_lock(&s->mu);
        s->loading = NULL;
        pthread_mutex_unlock(&s->mu);
        sched_job_fail(j, rc, err[0] ? err : om_strerror(rc));
        pthread_mutex_lock(&s->mu);
        return NULL;
    }
    om_log(OM_LOG_INFO, "sched", "loaded %s in %.1f ms (%d slots x %d ctx)", r->path,
           (double)(sched_now() - t0) / 1e6, r->n_slots, r->n_ctx_seq);
    pthread_mutex_lock(&s->mu);
    s->loading = NULL;
    r->last_used = r->idle_since = sched_now();
    r->next = s->runners;
    s->runners = r;
    s->n_runners++;
    sched_dispatch_locked(r, j);
    /* Everything else pending for the same model goes along. */
    for (sched_job *p = s->pending.head, *nx; p; p = nx) {
        nx = p->next;
        if (sched_runner_matches(r, p)) {
            sched_queue_remove(&s->pending, p);
            sched_dispatch_locked(r, p);
        }
    }
    return r;
}

/* Tries to place the head pending job. Returns true when progress was made
 * (the caller loops), false when the head must wait. */
static bool place_head(sched *s)
{
    sched_job *j = s->pending.head;
    if (!j)
        return false;
    struct sched_runner *same = NULL;
    for (struct sched_runner *r = s->runners; r; r = r->next)
        if (strcmp(r->path, j->model.path) == 0)
            same = r;
    if (same && !same->unload_req && sched_runner_matches(same, j)) {
        /* a reload asked by a job that has gone since is not needed */
        same->stale = false;
        sched_queue_pop(&s->pending);
        sched_dispatch_locked(same, j);
        return true;
    }
    if (same) { /* other options (or being unloaded): reload once idle */
        same->stale = true;
        if (sched_runner_idle(same)) {
            unload_locked(s, same);
            return true;
        }
        return false;
    }
    if (s->n_runners >= s->cfg.max_loaded) {
        struct sched_runner *v = lru_idle(s);
        if (!v)
            return false;
        unload_locked(s, v);
        return true;
    }
    sched_queue_pop(&s->pending);
    bool wait = false;
    load_locked(s, j, &wait);
    if (wait) { /* back at the head */
        j->next = s->pending.head;
        s->pending.head = j;
        if (!s->pending.tail)
            s->pending.tail = j;
        s->pending.n++;
        return false;
    }
    return true;
}

static void shutdown_locked(sched *s)
{
    uint64_t dummy = UINT64_MAX;
    while (expire_pending(s, sched_now(), &dummy))
        ;
    while (s->runners)
        unload_locked(s, s->runners); /* runner threads cancel their jobs */
}

void *sched_loader_main(void *arg)
{
    sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->shutdown) {
            shutdown_locked(s);
            break;
        }
        uint64_t now = sched_now();
        uint64_t next = UINT64_MAX;
        if (expire_pending(s, now, &next))
            continue;
        if (reap_one(s, now, &next))
            continue;
        if (place_head(s))
            continue;
        if (s->shutdown)
            continue;
        sched_cond_wait(&s->cond, &s->mu, next == UINT64_MAX ? 0 : next);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
