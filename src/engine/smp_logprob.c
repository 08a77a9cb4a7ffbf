/* engine/smp: log-probabilities of the raw logits, as the API reports them
 * (Ollama's logprobs / top_logprobs).
 *
 * Log-sum-exp in double with max subtraction, so 1000-valued logits neither
 * overflow nor lose the small terms. The n best tokens are kept in a heap
 * inside the caller's out[] (order: logit descending, id ascending), so
 * nothing allocates and a 150k vocabulary costs one compare per token. */
#include "engine/smp.h"
#include "engine/smp_int.h"

#include <assert.h>
#include <math.h>

#include "base/om.h"

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
