/* Shared helpers of the generic kernel tests (test_quant*.c, test_matmul*.c):
 * a seeded Gaussian generator, the list of weight types, and quick mode. */
#ifndef KERN_TEST_UTIL_H
#define KERN_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kern.h"

struct kt_rng {
    uint64_t s;
};

static inline uint64_t kt_next(struct kt_rng *r)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static inline double kt_unif(struct kt_rng *r)
{
    return ((double)(kt_next(r) >> 11) + 1.0) / 9007199254740992.0;
}

static inline void kt_gauss(struct kt_rng *r, float *x, int64_t n, float sigma)
{
    for (int64_t i = 0; i < n; i += 2) {
        double u = kt_unif(r), v = kt_unif(r);
        double m = sqrt(-2.0 * log(u));
        x[i] = (float)(sigma * m * cos(6.283185307179586 * v));
        if (i + 1 < n)
            x[i + 1] = (float)(sigma * m * sin(6.283185307179586 * v));
    }
}

static inline int kt_quick(void)
{
    const char *q = getenv("OM_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

/* Every weight type the kernels compute with. */
static const uint32_t kt_weight_types[] = {
    OM_TYPE_F32,  OM_TYPE_F16,  OM_TYPE_BF16, OM_TYPE_Q4_0, OM_TYPE_Q4_1,
    OM_TYPE_Q5_0, OM_TYPE_Q5_1, OM_TYPE_Q8_0, OM_TYPE_Q2_K, OM_TYPE_Q3_K,
    OM_TYPE_Q4_K, OM_TYPE_Q5_K, OM_TYPE_Q6_K, OM_TYPE_IQ4_NL, OM_TYPE_IQ4_XS,
};
#define KT_N_WEIGHT_TYPES (sizeof(kt_weight_types) / sizeof(kt_weight_types[0]))

#endif
