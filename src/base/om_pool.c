/* base: compute thread pool.
 *
 * Invariants: `gen` increases by one per run; a worker that has seen
 * generation g runs the job of g+1 exactly once, then increments `done`.
 * The caller waits until done == nth-1.
 *
 * Waiting has three stages (struct waiter): a short busy spin (a decode step
 * dispatches a job every few microseconds), then sched_yield() so that a
 * waiter sharing its core with the thread it waits for (another process
 * took the other core) hands the core over instead of burning its time
 * slice, then a sleep on the condition variable so an idle pool costs no
 * CPU. */
#include "base/om_pool.h"
#include "base/om.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void cpu_relax_(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#define SPIN_NS 50000ull    /* busy spin before yielding */
#define YIELD_NS 2000000ull  /* yielding before sleeping */

/* Backoff state of one wait; wait_more() returns 0 when it is time to sleep. */
struct waiter {
    uint64_t t0;
    unsigned n;
};

static int wait_more(struct waiter *w)
{
    if ((++w->n & 63) != 0) {
        if (w->t0 && om_time_ns() - w->t0 > SPIN_NS)
            sched_yield();
        else
            cpu_relax_();
        return 1;
    }
    uint64_t now = om_time_ns();
    if (!w->t0)
        w->t0 = now;
    return now - w->t0 < SPIN_NS + YIELD_NS;
}

struct om_pool {
    int nth;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    pthread_cond_t cv_done;
    atomic_uint gen;
    atomic_int done;
    atomic_int sleepers;
    atomic_int stop;
    om_pool_fn fn;
    void *ctx;
};

struct worker_arg {
    om_pool *p;
    int ith;
};


static void *worker_main(void *arg)
{
    struct worker_arg wa = *(struct worker_arg *)arg;
    free(arg);
    om_pool *p = wa.p;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        struct waiter w = {0, 0};
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load(&p->stop)) {
            if (wait_more(&w))
                continue;
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv_work, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = g;
        p->fn(p->ctx, wa.ith, p->nth);
        if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == p->nth - 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

om_pool *om_pool_new(int n_threads)
{
    if (n_threads <= 0)
        n_threads = om_cpu_physical_cores();
    om_pool *p = om_xcalloc(1, sizeof *p);
    p->nth = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->threads = om_xcalloc((size_t)n_threads, sizeof(pthread_t));
    for (int i = 1; i < n_threads; i++) {
        struct worker_arg *wa = om_xmalloc(sizeof *wa);
        wa->p = p;
        wa->ith = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            om_log(OM_LOG_ERROR, "pool", "pthread_create failed");
            abort();
        }
    }
    return p;
}

void om_pool_free(om_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nth; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    free(p->threads);
    free(p);
}

int om_pool_size(const om_pool *p)
{
    return p ? p->nth : 1;
}

void om_pool_run(om_pool *p, om_pool_fn fn, void *ctx)
{
    if (!p || p->nth == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->done, 0);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->nth);
    struct waiter w = {0, 0};
    while (atomic_load_explicit(&p->done, memory_order_acquire) != p->nth - 1) {
        if (wait_more(&w))
            continue;
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->done) != p->nth - 1)
            pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

int om_cpu_physical_cores(void)
{
    /* Count distinct (physical id, core id) pairs in /proc/cpuinfo. */
    FILE *f = fopen("/proc/cpuinfo", "r");
    int n = 0;
    if (f) {
        char line[256];
        int phys = 0;
        int seen[1024][2];
        while (fgets(line, sizeof line, f) && n < 1024) {
            int v;
            if (sscanf(line, "physical id : %d", &v) == 1)
                phys = v;
            else if (sscanf(line, "core id : %d", &v) == 1) {
                int dup = 0;
                for (int i = 0; i < n; i++)
                    if (seen[i][0] == phys && seen[i][1] == v)
                        dup = 1;
                if (!dup) {
                    seen[n][0] = phys;
                    seen[n][1] = v;
                    n++;
                }
            }
        }
        fclose(f);
    }
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    return n;
}
