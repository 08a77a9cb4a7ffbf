/* base: a persistent compute thread pool for the forward pass.
 *
 * om_pool_run() runs fn(ctx, ith, nth) on every thread (the caller is thread 0)
 * and returns when all have finished. Workers spin briefly between runs (the
 * per-token path dispatches hundreds of small jobs a second) and then sleep on
 * a condition variable, so an idle pool costs no CPU. */
#ifndef OM_POOL_H
#define OM_POOL_H

typedef struct om_pool om_pool;
typedef void (*om_pool_fn)(void *ctx, int ith, int nth);

/* Creates a pool of n_threads in total (n_threads-1 workers + the caller);
 * n_threads <= 0 means om_cpu_physical_cores(). */
om_pool *om_pool_new(int n_threads);
void om_pool_free(om_pool *p);
int om_pool_size(const om_pool *p);
/* Runs fn on all threads and waits. Not reentrant: one run at a time per pool.
 * p may be NULL: fn then runs once on the caller with nth = 1. */
void om_pool_run(om_pool *p, om_pool_fn fn, void *ctx);

/* Number of physical cores (hyper-threads counted once), at least 1. */
int om_cpu_physical_cores(void);

#endif
