/* engine/smp: private layouts shared by the sampler files. */
#ifndef SMP_INT_H
#define SMP_INT_H

#include <stddef.h>
#include <stdint.h>

/* One candidate token of the sampling chain. */
struct smp_cand {
    int32_t id;
    float logit; /* after penalties (and temperature, at the end) */
    float p;     /* probability, when a stage has computed it */
    float key;   /* a stage's sort key (typical_p: |-log p - entropy|) */
};

/* Moves the k best candidates of c[0..n) by (logit descending, id
 * ascending) to c[0..k), sorted in that order; c[k..n) keeps the others in
 * no particular order. Heap based: O(n log k) compares, no allocation. */
void smp_cand_select(struct smp_cand *c, size_t n, size_t k);

/* Sorts c[0..n) by (logit descending, id ascending), using tmp[n] as
 * scratch. No allocation. */
void smp_cand_sort(struct smp_cand *c, struct smp_cand *tmp, size_t n);

/* Sorts c[0..n) by key ascending, ties by (logit descending, id
 * ascending), using tmp[n] as scratch. No allocation. */
void smp_cand_sort_key(struct smp_cand *c, struct smp_cand *tmp, size_t n);

/* Sets c[i].p = softmax(logit)[i] over c[0..n), max-subtracted, summed in
 * double. n >= 1 and at least one logit finite. */
void smp_cand_softmax(struct smp_cand *c, size_t n);

/* Log-sum-exp of x[0..n) in double with max subtraction. Returns 0 and sets
 * *lse, or OM_ERANGE (NaN or +inf present, or every value -inf). */
int smp_logsumexp(const float *x, size_t n, double *lse);

struct smp;

/* Runs the chain up to and including min_p (everything but temperature and
 * the draw) on logits[n_vocab]; *out points at the surviving candidates,
 * valid until the next call on s. Returns their count, or OM_ERANGE as
 * smp_sample(). Used by smp_sample() and by tests to see exact cut sets. */
int smp_filter(struct smp *s, const float *logits, const struct smp_cand **out);

#endif
