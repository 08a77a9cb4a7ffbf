/* engine/smp: candidate ordering (heap select and sort), softmax, and the
 * log-probabilities that the API reports.
 *
 * Orders are total (ties broken by token id) so every result is the same
 * whatever the algorithm or input order. Heaps work in place: nothing here
 * allocates, which keeps smp_sample() allocation-free. Top-k selection over a
 * 150k vocabulary with k = 40 costs one compare per token plus O(log k) for
 * the few that enter the heap, instead of a full sort. */
#include "engine/smp.h"
#include "engine/smp_int.h"

#include <assert.h>
#include <math.h>

#include "base/om.h"

typedef int (*cand_before_fn)(const struct smp_cand *a, const struct smp_cand *b);

/* a ranks above b: larger logit, then lower id. */
static inline int cand_better(const struct smp_cand *a, const struct smp_cand *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* a comes before b in typical_p order: smaller key, then cand_better. */
static inline int cand_key_before(const struct smp_cand *a, const struct smp_cand *b)
{
    if (a->key != b->key)
        return a->key < b->key;
    return cand_better(a, b);
}

static inline void cand_swap(struct smp_cand *a, struct smp_cand *b)
{
    struct smp_cand t = *a;
    *a = *b;
    *b = t;
}

/* Heap over h[0..n) whose root is the element that comes last in `before`
 * order (so the root is the one to evict or to place at the end). */
static inline void heap_sift(struct smp_cand *h, size_t n, size_t i, cand_before_fn before)
{
    for (;;) {
        size_t l = 2 * i + 1, m;
        if (l >= n)
            return;
        m = l;
        if (l + 1 < n && before(&h[l], &h[l + 1]))
            m = l + 1;
        if (!before(&h[i], &h[m]))
            return;
        cand_swap(&h[i], &h[m]);
        i = m;
    }
}

static inline void heap_build(struct smp_cand *h, size_t n, cand_before_fn before)
{
    for (size_t i = n / 2; i-- > 0;)
        heap_sift(h, n, i, before);
}

/* Turns a heap into ascending `before` order. */
static inline void heap_drain(struct smp_cand *h, size_t n, cand_before_fn before)
{
    for (size_t end = n; end > 1; end--) {
        cand_swap(&h[0], &h[end - 1]);
        heap_sift(h, end - 1, 0, before);
    }
}

void smp_cand_select(struct smp_cand *c, size_t n, size_t k)
{
    if (k > n)
        k = n;
    if (k == 0)
        return;
    heap_build(c, k, cand_better);
    for (size_t i = k; i < n; i++) {
        if (cand_better(&c[i], &c[0])) {
            cand_swap(&c[i], &c[0]);
            heap_sift(c, k, 0, cand_better);
        }
    }
    heap_drain(c, k, cand_better);
}

void smp_cand_sort_key(struct smp_cand *c, size_t n)
{
    heap_build(c, n, cand_key_before);
    heap_drain(c, n, cand_key_before);
}

void smp_cand_softmax(struct smp_cand *c, size_t n)
{
    assert(n >= 1);
    float max = c[0].logit;
    for (size_t i = 1; i < n; i++)
        if (c[i].logit > max)
            max = c[i].logit;
    assert(isfinite(max));
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = exp((double)c[i].logit - (double)max);
        c[i].p = (float)e;
        sum += e;
    }
    double inv = 1.0 / sum; /* sum >= 1: the max contributes exp(0) */
    for (size_t i = 0; i < n; i++)
        c[i].p = (float)((double)c[i].p * inv);
}

int smp_logsumexp(const float *x, size_t n, double *lse)
{
    float max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]) || x[i] == INFINITY)
            return OM_ERANGE;
        if (x[i] > max)
            max = x[i];
    }
    if (max == -INFINITY)
        return OM_ERANGE;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += exp((double)x[i] - (double)max);
    *lse = (double)max + log(sum);
    return 0;
}

/* --- top log-probabilities: a heap of smp_logprob holding raw logits */

static inline int lp_better(const struct smp_logprob *a, const struct smp_logprob *b)
{
    return a->logprob > b->logprob || (a->logprob == b->logprob && a->id < b->id);
}

static inline void lp_swap(struct smp_logprob *a, struct smp_logprob *b)
{
    struct smp_logprob t = *a;
    *a = *b;
    *b = t;
}

/* Root = worst of the kept tokens. */
static void lp_sift(struct smp_logprob *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m;
        if (l >= n)
            return;
        m = l;
        if (l + 1 < n && lp_better(&h[l], &h[l + 1]))
            m = l + 1;
        if (!lp_better(&h[i], &h[m]))
            return;
        lp_swap(&h[i], &h[m]);
        i = m;
    }
}

int smp_top_logprobs(const float *logits, int32_t n_vocab, int32_t n, struct smp_logprob *out)
{
    if (n_vocab < 1 || !logits)
        return OM_EINVAL;
    double lse;
    int rc = smp_logsumexp(logits, (size_t)n_vocab, &lse);
    if (rc < 0)
        return rc;
    if (n <= 0)
        return 0;
    size_t k = (size_t)OM_MIN(n, n_vocab);
    for (size_t i = 0; i < k; i++) {
        out[i].id = (int32_t)i;
        out[i].logprob = logits[i];
    }
    for (size_t i = k / 2; i-- > 0;)
        lp_sift(out, k, i);
    for (size_t i = k; i < (size_t)n_vocab; i++) {
        struct smp_logprob x = { .id = (int32_t)i, .logprob = logits[i] };
        if (lp_better(&x, &out[0])) {
            out[0] = x;
            lp_sift(out, k, 0);
        }
    }
    for (size_t end = k; end > 1; end--) {
        lp_swap(&out[0], &out[end - 1]);
        lp_sift(out, end - 1, 0);
    }
    for (size_t i = 0; i < k; i++)
        out[i].logprob = (float)((double)out[i].logprob - lse);
    return (int)k;
}

float smp_logprob_of(const float *logits, int32_t n_vocab, int32_t id)
{
    double lse;
    if (!logits || n_vocab < 1 || id < 0 || id >= n_vocab)
        return NAN;
    if (smp_logsumexp(logits, (size_t)n_vocab, &lse) < 0)
        return NAN;
    return (float)((double)logits[id] - lse);
}
