/* engine/smp: the sampling chain (penalties, top_k, typical_p, top_p, min_p,
 * temperature, draw) and the token history behind the penalties.
 *
 * Semantics follow llama.cpp's llama-sampling.cpp as driven by Ollama's
 * runner (see docs/sampler.md for each stage). Invariants:
 * - cand[] is rebuilt from the caller's logits on every call, so no stage
 *   leaks into the next token; while cand[i].id == i (before the first
 *   reordering stage) penalties index it directly.
 * - count[t] is the number of occurrences of t in the penalty window
 *   (the last repeat_last_n accepted tokens, or all of them for -1);
 *   distinct[0..n_distinct) lists exactly the t with count[t] > 0 and
 *   dpos[t] is t's index there, so a penalty pass costs O(distinct tokens).
 * - nothing on the per-token path allocates. */
#include "engine/smp.h"
#include "engine/smp_int.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/om.h"

struct smp {
    struct smp_params p; /* normalised copy */
    int32_t n_vocab;
    uint64_t seed;     /* seed in use */
    uint64_t rng[4];   /* xoshiro256** state */
    struct smp_cand *cand; /* (n_vocab) scratch */
    struct smp_cand *tmp;  /* (n_vocab) radix sort buffer */
    uint32_t *count;   /* (n_vocab) occurrences in the window */
    int32_t *distinct; /* (n_vocab) tokens with count > 0 */
    int32_t *dpos;     /* (n_vocab) index into distinct, valid when count > 0 */
    int32_t n_distinct;
    int32_t *ring;     /* (repeat_last_n) window, when repeat_last_n > 0 */
    int32_t ring_head, ring_len;
};

struct smp_params smp_params_default(void)
{
    struct smp_params p = {
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.9f,
        .min_p = 0.0f,
        .typical_p = 1.0f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .seed = -1,
    };
    return p;
}

/* --- xoshiro256** seeded through splitmix64 */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_double(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static void rng_seed(struct smp *s)
{
    if (s->p.seed == -1) {
        uint64_t x;
        if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x)
            x = om_time_ns() ^ (uint64_t)(uintptr_t)s;
        s->seed = x;
    } else {
        s->seed = (uint64_t)s->p.seed;
    }
    uint64_t x = s->seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
}

/* --- lifecycle */

static int check_finite(float v, const char *name, char *err, size_t errlen)
{
    if (!isfinite(v))
        return om_err(err, errlen, OM_EINVAL, "sampler option %s: not a finite number", name);
    return 0;
}

int smp_new(const struct smp_params *params, int32_t n_vocab, struct smp **out, char *err,
            size_t errlen)
{
    *out = NULL;
    if (n_vocab < 1)
        return om_err(err, errlen, OM_EINVAL, "sampler: n_vocab %d < 1", (int)n_vocab);
    struct smp_params p = *params;
    int rc;
    if ((rc = check_finite(p.temperature, "temperature", err, errlen)) < 0 ||
        (rc = check_finite(p.top_p, "top_p", err, errlen)) < 0 ||
        (rc = check_finite(p.min_p, "min_p", err, errlen)) < 0 ||
        (rc = check_finite(p.typical_p, "typical_p", err, errlen)) < 0 ||
        (rc = check_finite(p.repeat_penalty, "repeat_penalty", err, errlen)) < 0 ||
        (rc = check_finite(p.presence_penalty, "presence_penalty", err, errlen)) < 0 ||
        (rc = check_finite(p.frequency_penalty, "frequency_penalty", err, errlen)) < 0)
        return rc;
    if (p.repeat_last_n < -1 || p.repeat_last_n > SMP_MAX_LAST_N)
        return om_err(err, errlen, OM_ERANGE, "sampler option repeat_last_n: %d not in [-1, %d]",
                      (int)p.repeat_last_n, SMP_MAX_LAST_N);
    /* Clamps as Ollama's NewSampler / llama.cpp do. */
    if (p.temperature < 0.0f)
        p.temperature = 0.0f;
    p.top_p = fminf(fmaxf(p.top_p, 0.0f), 1.0f);
    p.min_p = fminf(fmaxf(p.min_p, 0.0f), 1.0f);
    if (p.repeat_penalty <= 0.0f)
        p.repeat_penalty = 1.0f;

    struct smp *s = om_xcalloc(1, sizeof *s);
    s->p = p;
    s->n_vocab = n_vocab;
    s->cand = om_xmalloc((size_t)n_vocab * sizeof *s->cand);
    s->tmp = om_xmalloc((size_t)n_vocab * sizeof *s->tmp);
    if (p.repeat_last_n != 0) {
        s->count = om_xcalloc((size_t)n_vocab, sizeof *s->count);
        s->distinct = om_xmalloc((size_t)n_vocab * sizeof *s->distinct);
        s->dpos = om_xmalloc((size_t)n_vocab * sizeof *s->dpos);
        if (p.repeat_last_n > 0)
            s->ring = om_xmalloc((size_t)p.repeat_last_n * sizeof *s->ring);
    }
    rng_seed(s);
    *out = s;
    return 0;
}

void smp_free(struct smp *s)
{
    if (!s)
        return;
    free(s->cand);
    free(s->tmp);
    free(s->count);
    free(s->distinct);
    free(s->dpos);
    free(s->ring);
    free(s);
}

void smp_reset(struct smp *s)
{
    for (int32_t i = 0; i < s->n_distinct; i++)
        s->count[s->distinct[i]] = 0;
    s->n_distinct = 0;
    s->ring_head = s->ring_len = 0;
    rng_seed(s);
}

uint64_t smp_seed(const struct smp *s)
{
    return s->seed;
}

/* --- token history */

static void count_inc(struct smp *s, int32_t t)
{
    if (s->count[t]++ == 0) {
        s->dpos[t] = s->n_distinct;
        s->distinct[s->n_distinct++] = t;
    }
}

static void count_dec(struct smp *s, int32_t t)
{
    if (--s->count[t] == 0) {
        int32_t i = s->dpos[t], last = s->distinct[--s->n_distinct];
        s->distinct[i] = last;
        s->dpos[last] = i;
    }
}

int smp_accept(struct smp *s, int32_t token)
{
    if (token < 0 || token >= s->n_vocab)
        return OM_EINVAL;
    int32_t cap = s->p.repeat_last_n;
    if (cap == 0)
        return 0;
    if (cap > 0) {
        if (s->ring_len == cap) {
            count_dec(s, s->ring[s->ring_head]);
            s->ring[s->ring_head] = token;
            s->ring_head = (s->ring_head + 1) % cap;
        } else {
            s->ring[(s->ring_head + s->ring_len) % cap] = token;
            s->ring_len++;
        }
    }
    count_inc(s, token);
    return 0;
}

/* --- the chain. Each stage narrows cand[0..*n). */

/* Repeat penalty as llama.cpp (divide positive logits, multiply the rest),
 * then OpenAI's frequency (per occurrence) and presence (once) penalties.
 * Needs cand[i].id == i. */
static void stage_penalties(struct smp *s)
{
    const struct smp_params *p = &s->p;
    if (p->repeat_last_n == 0 ||
        (p->repeat_penalty == 1.0f && p->frequency_penalty == 0.0f && p->presence_penalty == 0.0f))
        return;
    for (int32_t j = 0; j < s->n_distinct; j++) {
        int32_t t = s->distinct[j];
        float *l = &s->cand[t].logit;
        if (*l == -INFINITY)
            continue; /* masked stays masked, even under a reward */
        if (*l <= 0.0f)
            *l *= p->repeat_penalty;
        else
            *l /= p->repeat_penalty;
        *l -= (float)s->count[t] * p->frequency_penalty + p->presence_penalty;
        if (isnan(*l) || *l == INFINITY)
            *l = FLT_MAX; /* an overflowing reward: keep the chain finite */
    }
}

/* Keeps the tokens of smallest |-log p - H| until their mass exceeds
 * typical_p (at least one). Order afterwards: by that distance. */
static void stage_typical(struct smp_cand *c, struct smp_cand *tmp, size_t *n, float typical_p)
{
    smp_cand_softmax(c, *n);
    double h = 0.0;
    for (size_t i = 0; i < *n; i++)
        if (c[i].p > 0.0f)
            h -= (double)c[i].p * log((double)c[i].p);
    for (size_t i = 0; i < *n; i++)
        c[i].key = c[i].p > 0.0f ? (float)fabs(-log((double)c[i].p) - h) : INFINITY;
    smp_cand_sort_key(c, tmp, *n);
    double cum = 0.0;
    for (size_t i = 0; i < *n; i++) {
        cum += (double)c[i].p;
        if (cum > (double)typical_p) {
            *n = i + 1;
            return;
        }
    }
}

/* Keeps the most likely tokens until their mass reaches top_p (at least
 * one). Sorts lazily: 256 best first, the rest only if the mass needs it. */
static void stage_top_p(struct smp_cand *c, struct smp_cand *tmp, size_t *n, int *sorted,
                        float top_p)
{
    smp_cand_softmax(c, *n);
    size_t ready = *n;
    if (!*sorted) {
        ready = *n > 1024 ? 256 : *n;
        smp_cand_select(c, *n, ready);
    }
    double cum = 0.0;
    for (size_t i = 0; i < *n; i++) {
        if (i == ready) { /* mass not reached within the sorted prefix */
            smp_cand_sort(c + ready, tmp, *n - ready); /* all rank below c[0..ready) */
            ready = *n;
        }
        cum += (double)c[i].p;
        if (cum >= (double)top_p) {
            *n = i + 1;
            break;
        }
    }
    *sorted = 1;
}

/* Keeps tokens with p >= min_p * p_max, i.e. logit >= max + log(min_p).
 * Stable, so a sorted list stays sorted. */
static void stage_min_p(struct smp_cand *c, size_t *n, float min_p)
{
    float max = c[0].logit;
    for (size_t i = 1; i < *n; i++)
        if (c[i].logit > max)
            max = c[i].logit;
    const float min_logit = max + logf(min_p);
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (c[i].logit >= min_logit)
            c[k++] = c[i];
    *n = k;
}

static int32_t argmax(const struct smp_cand *c, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (c[i].logit > c[b].logit || (c[i].logit == c[b].logit && c[i].id < c[b].id))
            b = i;
    return c[b].id;
}

/* Draws from softmax(logit / temp) over c[0..n). Scaling is folded into
 * the exponent, so a tiny temperature cannot overflow. */
static int32_t draw(struct smp *s, struct smp_cand *c, size_t n, float temp)
{
    float max = c[0].logit;
    for (size_t i = 1; i < n; i++)
        if (c[i].logit > max)
            max = c[i].logit;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        c[i].p = (float)exp(((double)c[i].logit - (double)max) / (double)temp);
        sum += (double)c[i].p;
    }
    const double target = rng_double(s->rng) * sum;
    double cum = 0.0;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].p > 0.0f)
            last = i;
        cum += (double)c[i].p;
        if (cum > target)
            return c[i].id;
    }
    return c[last].id; /* target rounded up to sum: the last live token */
}

int smp_filter(struct smp *s, const float *logits, const struct smp_cand **out)
{
    const struct smp_params *p = &s->p;
    struct smp_cand *c = s->cand;
    int live = 0;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        float x = logits[i];
        if (isnan(x) || x == INFINITY)
            return OM_ERANGE;
        live |= x != -INFINITY;
        c[i] = (struct smp_cand){ .id = i, .logit = x };
    }
    if (!live)
        return OM_ERANGE;
    stage_penalties(s);

    size_t n = (size_t)s->n_vocab;
    int sorted = 0;
    if (p->top_k > 0 && (size_t)p->top_k < n) {
        smp_cand_select(c, n, (size_t)p->top_k);
        n = (size_t)p->top_k;
        sorted = 1;
    }
    if (p->typical_p < 1.0f) {
        stage_typical(c, s->tmp, &n, p->typical_p);
        sorted = 0;
    }
    if (p->top_p < 1.0f)
        stage_top_p(c, s->tmp, &n, &sorted, p->top_p);
    if (p->min_p > 0.0f)
        stage_min_p(c, &n, p->min_p);
    *out = c;
    return (int)n;
}

int32_t smp_sample(struct smp *s, const float *logits)
{
    const struct smp_cand *c;
    int n = smp_filter(s, logits, &c);
    if (n < 0)
        return n;
    if (s->p.temperature <= 0.0f)
        return argmax(c, (size_t)n);
    return draw(s, s->cand, (size_t)n, s->p.temperature);
}
