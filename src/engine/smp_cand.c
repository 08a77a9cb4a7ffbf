/* engine/smp: ordering of sampling candidates, and softmax over them.
 *
 * Orders are total (ties broken by token id) so every result is the same
 * whatever the algorithm or the input order. Two tools:
 * - a heap in place for the k best (top_k = 40 over a 150k vocabulary costs
 *   one compare per token plus O(log k) for the few that enter the heap);
 * - an LSD radix sort (3 passes of 11 bits over an order-preserving image of
 *   the float, stable, into a caller-provided buffer) for the rare full
 *   sorts (top_p or typical_p without top_k): O(n) instead of O(n log n).
 * Nothing here allocates, which keeps smp_sample() allocation-free. */
#include "engine/smp_int.h"

#include <assert.h>
#include <math.h>
#include <string.h>

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

/* --- radix sort */

/* Unsigned image of a float that orders as the float does (no NaN). */
static inline uint32_t float_ord(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

enum { RADIX_BITS = 11, RADIX_N = 1 << RADIX_BITS, RADIX_PASSES = 3 };

/* Stable sort of c[0..n) by ascending k(c) (k = key or ~logit), via tmp[n].
 * The result ends in c. */
static void radix_sort(struct smp_cand *c, struct smp_cand *tmp, size_t n, int by_key)
{
    uint32_t hist[RADIX_PASSES][RADIX_N];
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = by_key ? float_ord(c[i].key) : ~float_ord(c[i].logit);
        for (int p = 0; p < RADIX_PASSES; p++)
            hist[p][(k >> (p * RADIX_BITS)) & (RADIX_N - 1)]++;
    }
    struct smp_cand *src = c, *dst = tmp;
    for (int p = 0; p < RADIX_PASSES; p++) {
        uint32_t *h = hist[p];
        int trivial = 0;
        for (size_t b = 0; b < RADIX_N; b++)
            if (h[b] == n)
                trivial = 1; /* every element in one bucket: nothing moves */
        if (trivial)
            continue;
        uint32_t sum = 0;
        for (size_t b = 0; b < RADIX_N; b++) {
            uint32_t t = h[b];
            h[b] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t k = by_key ? float_ord(src[i].key) : ~float_ord(src[i].logit);
            dst[h[(k >> (p * RADIX_BITS)) & (RADIX_N - 1)]++] = src[i];
        }
        struct smp_cand *t = src;
        src = dst;
        dst = t;
    }
    if (src != c)
        memcpy(c, src, n * sizeof *c);
}

static inline int id_before(const struct smp_cand *a, const struct smp_cand *b)
{
    return a->id < b->id;
}

void smp_cand_sort(struct smp_cand *c, struct smp_cand *tmp, size_t n)
{
    if (n <= 256) {
        smp_cand_select(c, n, n);
        return;
    }
    radix_sort(c, tmp, n, 0);
    /* equal logits: put each run in id order (runs are short in practice;
     * the heap bounds the worst case) */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && c[j].logit == c[i].logit)
            j++;
        if (j - i > 1) {
            heap_build(c + i, j - i, id_before);
            heap_drain(c + i, j - i, id_before);
        }
        i = j;
    }
}

void smp_cand_sort_key(struct smp_cand *c, struct smp_cand *tmp, size_t n)
{
    if (n <= 256) {
        heap_build(c, n, cand_key_before);
        heap_drain(c, n, cand_key_before);
        return;
    }
    smp_cand_sort(c, tmp, n);  /* ties of key keep this order: stable */
    radix_sort(c, tmp, n, 1);
}
