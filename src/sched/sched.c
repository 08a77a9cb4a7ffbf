/* sched: the public side of the scheduler — configuration, jobs (submit,
 * cancel, release), unload requests, the /api/ps listing and the figures the
 * cluster's inventory report reads (sched_prefixes, sched_parallel).
 *
 * A job for a model that is loaded with the same options goes straight to
 * that runner's queue; anything else waits in s->pending for the loader
 * thread (sched_loader.c). OLLAMA_MAX_QUEUE bounds the jobs waiting in either
 * place (jobs holding a slot, or about to take a free one, do not count). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"
#include "sched/sched_int.h"

uint64_t sched_now(void)
{
    return om_time_ns();
}

void sched_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

void sched_cond_wait(pthread_cond_t *c, pthread_mutex_t *mu, uint64_t deadline)
{
    if (!deadline) {
        pthread_cond_wait(c, mu);
        return;
    }
    struct timespec ts = {(time_t)(deadline / 1000000000ull), (long)(deadline % 1000000000ull)};
    pthread_cond_timedwait(c, mu, &ts);
}

void sched_queue_push(struct sched_queue *q, sched_job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->n++;
}

sched_job *sched_queue_pop(struct sched_queue *q)
{
    sched_job *j = q->head;
    if (!j)
        return NULL;
    q->head = j->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    j->next = NULL;
    return j;
}

bool sched_queue_remove(struct sched_queue *q, sched_job *j)
{
    sched_job *prev = NULL;
    for (sched_job *it = q->head; it; prev = it, it = it->next) {
        if (it != j)
            continue;
        if (prev)
            prev->next = it->next;
        else
            q->head = it->next;
        if (q->tail == it)
            q->tail = prev;
        q->n--;
        it->next = NULL;
        return true;
    }
    return false;
}

void sched_config_default(struct sched_config *c)
{
    memset(c, 0, sizeof(*c));
    c->num_parallel = 0; /* auto */
    c->max_loaded = 3;
    c->max_queue = 512;
    c->keep_alive_ns = 5ll * 60 * 1000000000ll;
    c->load_timeout_ns = 5ll * 60 * 1000000000ll;
    c->n_threads = 0;
    c->mem_limit = 0;
}

/* MemAvailable from /proc/meminfo, or 8 GiB when it cannot be read. */
static uint64_t mem_available(void)
{
    uint64_t v = 8ull << 30;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return v;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        unsigned long long kb;
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            v = (uint64_t)kb * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

int sched_new(const struct sched_config *cfg, sched **out, char *err, size_t errlen)
{
    *out = NULL;
    struct sched_config c;
    if (cfg)
        c = *cfg;
    else
        sched_config_default(&c);
    if (c.num_parallel < 0 || c.num_parallel > 64)
        return om_err(err, errlen, OM_ERANGE, "num_parallel %d: must be 0..64", c.num_parallel);
    if (c.max_loaded < 0 || c.max_queue < 0)
        return om_err(err, errlen, OM_ERANGE, "max_loaded / max_queue must be >= 0");
    if (c.n_threads < 0 || c.n_threads > 1024)
        return om_err(err, errlen, OM_ERANGE, "n_threads %d out of range", c.n_threads);
    bool parallel_auto = c.num_parallel == 0;
    if (parallel_auto)
        c.num_parallel = SCHED_AUTO_PARALLEL;
    if (c.max_loaded == 0)
        c.max_loaded = 3;
    if (c.max_queue == 0)
        c.max_queue = 512;
    if (c.mem_limit == 0)
        c.mem_limit = mem_available();

    sched *s = om_xcalloc(1, sizeof(*s));
    s->cfg = c;
    s->parallel_auto = parallel_auto;
    pthread_mutex_init(&s->mu, NULL);
    sched_cond_init(&s->cond);
    if (pthread_create(&s->loader, NULL, sched_loader_main, s) != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return om_err(err, errlen, OM_ENOMEM, "cannot start the loader thread");
    }
    s->loader_started = true;
    *out = s;
    return 0;
}

void sched_free(sched *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->shutdown = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    /* The loader cancels pending jobs, stops and joins every runner. */
    if (s->loader_started)
        pthread_join(s->loader, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void job_free(sched_job *j)
{
    free((char *)j->model.name);
    free((char *)j->model.path);
    free((char *)j->model.digest);
    free(j);
}

void sched_job_release(sched_job *j)
{
    if (j && atomic_fetch_sub(&j->refs, 1) == 1)
        job_free(j);
}

bool sched_runner_matches(const struct sched_runner *r, const sched_job *j)
{
    const sched *s = r->s;
    int32_t ctx = j->model.num_ctx > 0 ? j->model.num_ctx : SCHED_DEFAULT_CTX;
    int32_t bat = j->model.num_batch > 0 ? j->model.num_batch : SCHED_DEFAULT_BATCH;
    int32_t thr = j->model.num_thread > 0 ? j->model.num_thread : s->cfg.n_threads;
    return strcmp(r->path, j->model.path) == 0 && r->num_ctx == ctx && r->num_batch == bat &&
           r->num_thread == thr && r->embed == j->embed;
}

void sched_dispatch_locked(struct sched_runner *r, sched_job *j)
{
    j->where = JOB_QUEUED;
    j->runner = r;
    j->t_ready = sched_now();
    if (j->model.keep_alive_set)
        r->keep_alive_ns = j->model.keep_alive_ns;
    r->last_used = j->t_ready;
    sched_queue_push(&r->q, j);
    pthread_cond_signal(&r->cond);
}

/* A runner that can take j now: same path and options, not being replaced. */
static struct sched_runner *find_runner(sched *s, const sched_job *j)
{
    for (struct sched_runner *r = s->runners; r; r = r->next)
        if (!r->stale && !r->quit && sched_runner_matches(r, j))
            return r;
    return NULL;
}

/* Jobs that cannot start now: pending loads, and queued jobs beyond the free
 * slots of their runner. */
static int waiting_locked(const sched *s)
{
    int n = s->pending.n + (s->loading ? 1 : 0);
    for (const struct sched_runner *r = s->runners; r; r = r->next)
        n += OM_MAX(0, r->q.n - (r->n_slots - r->active));
    return n;
}

int sched_submit(sched *s, enum sched_kind kind, const struct sched_model *model,
                 const struct sched_job_cb *cb, sched_job **out)
{
    *out = NULL;
    if (!s || !model || !model->path || !cb || !cb->on_done)
        return OM_EINVAL;
    if (kind != SCHED_GENERATE && kind != SCHED_EMBED && kind != SCHED_LOAD)
        return OM_EINVAL;
    if (kind != SCHED_LOAD && !cb->prepare)
        return OM_EINVAL;
    if (model->num_ctx < 0 || model->num_batch < 0 || model->num_thread < 0 ||
        model->num_thread > 256)
        return OM_ERANGE;

    sched_job *j = om_xcalloc(1, sizeof(*j));
    atomic_init(&j->refs, 2);
    atomic_init(&j->cancel, false);
    j->s = s;
    j->kind = kind;
    j->model = *model;
    j->model.name = om_xstrdup(model->name ? model->name : model->path);
    j->model.path = om_xstrdup(model->path);
    j->model.digest = model->digest ? om_xstrdup(model->digest) : NULL;
    j->embed = model->embedding || kind == SCHED_EMBED;
    j->cb = *cb;
    j->t_submit = sched_now();

    pthread_mutex_lock(&s->mu);
    if (s->shutdown) {
        pthread_mutex_unlock(&s->mu);
        job_free(j);
        return OM_ECANCELED;
    }
    if (waiting_locked(s) >= s->cfg.max_queue) {
        pthread_mutex_unlock(&s->mu);
        job_free(j);
        return OM_EBUSY;
    }
    struct sched_runner *r = find_runner(s, j);
    if (r) {
        sched_dispatch_locked(r, j);
    } else {
        j->where = JOB_PENDING;
        sched_queue_push(&s->pending, j);
        pthread_cond_signal(&s->cond);
    }
    pthread_mutex_unlock(&s->mu);
    *out = j;
    return 0;
}

void sched_job_cancel(sched_job *j)
{
    if (!j)
        return;
    sched *s = j->s;
    pthread_mutex_lock(&s->mu);
    atomic_store(&j->cancel, true);
    if (j->runner)
        pthread_cond_signal(&j->runner->cond);
    else if (j->where == JOB_PENDING || j->where == JOB_LOADING)
        pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

void sched_job_detach(sched_job *j)
{
    sched *s = j->s;
    pthread_mutex_lock(&s->mu);
    struct sched_runner *r = j->runner;
    j->runner = NULL;
    j->where = JOB_DONE;
    if (r) {
        r->active--;
        uint64_t now = sched_now();
        r->last_used = now;
        if (sched_runner_idle(r)) {
            r->idle_since = now;
            pthread_cond_signal(&s->cond); /* the reaper / a waiting load */
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void sched_job_fail(sched_job *j, int rc, const char *msg)
{
    struct sched_result res;
    memset(&res, 0, sizeof(res));
    res.rc = rc;
    res.error = msg ? msg : om_strerror(rc);
    res.reason = SCHED_DONE_STOP;
    if (j->t_ready)
        res.load_ns = (int64_t)(j->t_ready - j->t_submit);
    sched_job_detach(j);
    j->cb.on_done(j->cb.ud, &res);
    sched_job_release(j);
}

int sched_unload(sched *s, const char *path)
{
    if (!s || !path)
        return OM_EINVAL;
    int found = 0;
    pthread_mutex_lock(&s->mu);
    for (struct sched_runner *r = s->runners; r; r = r->next)
        if (strcmp(r->path, path) == 0) {
            r->stale = true;
            r->unload_req = true;
            found = 1;
        }
    if (found)
        pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    return found ? 0 : OM_ENOTFOUND;
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int cmp_loaded(const void *a, const void *b)
{
    const struct sched_runner *x = *(struct sched_runner *const *)a;
    const struct sched_runner *y = *(struct sched_runner *const *)b;
    return x->last_used > y->last_used ? -1 : x->last_used < y->last_used ? 1 : 0;
}

int sched_list(sched *s, struct sched_loaded *out, int cap)
{
    if (!s || !out || cap <= 0)
        return 0;
    pthread_mutex_lock(&s->mu);
    int n = 0;
    struct sched_runner **rs = om_xcalloc((size_t)s->n_runners + 1, sizeof(*rs));
    for (struct sched_runner *r = s->runners; r; r = r->next)
        rs[n++] = r;
    qsort(rs, (size_t)n, sizeof(*rs), cmp_loaded);
    if (n > cap)
        n = cap;
    int64_t wall = realtime_ns();
    uint64_t mono = sched_now();
    for (int i = 0; i < n; i++) {
        const struct sched_runner *r = rs[i];
        struct sched_loaded *l = &out[i];
        memset(l, 0, sizeof(*l));
        snprintf(l->name, sizeof(l->name), "%s", r->name);
        snprintf(l->path, sizeof(l->path), "%s", r->path);
        snprintf(l->digest, sizeof(l->digest), "%s", r->digest ? r->digest : "");
        l->size = r->size;
        l->n_ctx = r->n_ctx_seq;
        l->active = r->active;
        l->queued = r->q.n;
        l->tokens_per_s = r->tps;
        if (r->keep_alive_ns < 0)
            l->expires_at_ns = INT64_MAX;
        else if (!sched_runner_idle(r))
            l->expires_at_ns = wall + r->keep_alive_ns;
        else
            l->expires_at_ns = wall + ((int64_t)(r->idle_since - mono) + r->keep_alive_ns);
    }
    pthread_mutex_unlock(&s->mu);
    free(rs);
    return n;
}

int sched_prefixes(sched *s, const char *path, uint64_t *out, int cap)
{
    if (!s || !out || cap <= 0)
        return 0;
    uint64_t t[SCHED_MAX_PREFIXES];
    if (cap > SCHED_MAX_PREFIXES)
        cap = SCHED_MAX_PREFIXES;
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (const struct sched_runner *r = s->runners; r; r = r->next) {
        if (!r->slot_prefix || (path && strcmp(r->path, path) != 0))
            continue;
        for (int i = 0; i < r->n_slots; i++) {
            uint64_t h = r->slot_prefix[i], ht = r->slot_prefix_t[i];
            if (!h)
                continue;
            int k = 0;
            while (k < n && out[k] != h)
                k++;
            if (k < n) { /* already there: keep the newest time */
                if (ht > t[k])
                    t[k] = ht;
                continue;
            }
            if (n == cap) { /* full: replace the oldest when this one is newer */
                int old = 0;
                for (int m = 1; m < n; m++)
                    if (t[m] < t[old])
                        old = m;
                if (t[old] >= ht)
                    continue;
                k = old;
            } else {
                k = n++;
            }
            out[k] = h;
            t[k] = ht;
        }
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 1; i < n; i++) { /* newest first */
        uint64_t h = out[i], ht = t[i];
        int k = i;
        for (; k > 0 && t[k - 1] < ht; k--) {
            out[k] = out[k - 1];
            t[k] = t[k - 1];
        }
        out[k] = h;
        t[k] = ht;
    }
    return n;
}

int sched_parallel(sched *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (const struct sched_runner *r = s->runners; r; r = r->next)
        n = OM_MAX(n, r->n_slots);
    if (n == 0)
        n = s->cfg.num_parallel;
    pthread_mutex_unlock(&s->mu);
    return n;
}
