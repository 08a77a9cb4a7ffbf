/* Unit tests for the sampler chain (engine/smp_sample.c): greedy, seeds,
 * each filter's exact cut set on hand-made distributions, penalties against
 * a brute-force model, draw frequencies against softmax (chi-square), and
 * the cost of one token over a 150k vocabulary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/smp.h"
#include "engine/smp_int.h"

static int quick(void)
{
    const char *q = getenv("OM_TEST_QUICK");
    return q && *q && *q != '0';
}

static uint64_t lcg_state;
static double urand(void) /* test-side generator, independent of the sampler's */
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg_state >> 11) * 0x1.0p-53;
}

static void fill_random(float *x, int n, float scale)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)((urand() * 2.0 - 1.0) * scale);
}

/* All filters off: survivors are every token, ids in order. */
static struct smp_params params_off(void)
{
    struct smp_params p = smp_params_default();
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.typical_p = 1.0f;
    p.repeat_penalty = 1.0f;
    p.temperature = 1.0f;
    p.seed = 1;
    return p;
}

static struct smp *mk(struct smp_params p, int n_vocab)
{
    struct smp *s = NULL;
    char err[128];
    assert_int_equal(smp_new(&p, n_vocab, &s, err, sizeof err), 0);
    assert_non_null(s);
    return s;
}

static void test_defaults(void **state)
{
    (void)state;
    struct smp_params p = smp_params_default();
    assert_true(p.temperature == 0.8f && p.top_k == 40 && p.top_p == 0.9f);
    assert_true(p.min_p == 0.0f && p.typical_p == 1.0f && p.repeat_penalty == 1.0f);
    assert_true(p.repeat_last_n == 64 && p.presence_penalty == 0.0f);
    assert_true(p.frequency_penalty == 0.0f && p.seed == -1);
}

static void test_bad_params(void **state)
{
    (void)state;
    struct smp *s = (struct smp *)1;
    char err[128] = "";
    struct smp_params p = smp_params_default();
    p.temperature = NAN;
    assert_int_equal(smp_new(&p, 10, &s, err, sizeof err), OM_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "temperature"));
    p = smp_params_default();
    p.repeat_last_n = -2;
    assert_int_equal(smp_new(&p, 10, &s, err, sizeof err), OM_ERANGE);
    assert_non_null(strstr(err, "repeat_last_n"));
    p = smp_params_default();
    assert_int_equal(smp_new(&p, 0, &s, err, sizeof err), OM_EINVAL);

    s = mk(smp_params_default(), 4);
    assert_int_equal(smp_accept(s, 4), OM_EINVAL);
    assert_int_equal(smp_accept(s, -1), OM_EINVAL);
    float nan_l[4] = { 0, 1, NAN, 2 }, inf_l[4] = { 0, INFINITY, 1, 2 };
    float dead[4] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY };
    assert_int_equal(smp_sample(s, nan_l), OM_ERANGE);
    assert_int_equal(smp_sample(s, inf_l), OM_ERANGE);
    assert_int_equal(smp_sample(s, dead), OM_ERANGE);
    smp_free(s);
    smp_free(NULL);
}

static void test_greedy(void **state)
{
    (void)state;
    enum { N = 1000 };
    float l[N];
    lcg_state = 7;
    struct smp_params p = smp_params_default();
    p.temperature = 0.0f;
    struct smp *s = mk(p, N);
    for (int it = 0; it < 50; it++) {
        fill_random(l, N, 5.0f);
        int best = 0;
        for (int i = 1; i < N; i++)
            if (l[i] > l[best])
                best = i;
        assert_int_equal(smp_sample(s, l), best);
    }
    /* ties: lowest id; a negative temperature is greedy too */
    for (int i = 0; i < N; i++)
        l[i] = (float)(i % 7);
    assert_int_equal(smp_sample(s, l), 6);
    smp_free(s);
    p.temperature = -1.0f;
    s = mk(p, N);
    assert_int_equal(smp_sample(s, l), 6);
    smp_free(s);

    /* penalties apply before the argmax, as in llama.cpp's chain */
    float m[4] = { 1.0f, 3.0f, 2.5f, 0.0f };
    p = smp_params_default();
    p.temperature = 0.0f;
    p.repeat_penalty = 1.5f;
    s = mk(p, 4);
    assert_int_equal(smp_sample(s, m), 1);
    assert_int_equal(smp_accept(s, 1), 0); /* 3 / 1.5 = 2 < 2.5 */
    assert_int_equal(smp_sample(s, m), 2);
    smp_free(s);
}

static void sample_seq(int64_t seed, const float *l, int n, int32_t *out, int count)
{
    struct smp_params p = smp_params_default();
    p.temperature = 1.0f;
    p.seed = seed;
    struct smp *s = mk(p, n);
    for (int i = 0; i < count; i++) {
        out[i] = smp_sample(s, l);
        assert_true(out[i] >= 0 && out[i] < n);
    }
    smp_free(s);
}

static void test_seed(void **state)
{
    (void)state;
    enum { N = 500, K = 200 };
    float l[N];
    int32_t a[K], b[K], c[K];
    lcg_state = 11;
    fill_random(l, N, 1.0f);
    sample_seq(42, l, N, a, K);
    sample_seq(42, l, N, b, K);
    sample_seq(43, l, N, c, K);
    assert_memory_equal(a, b, sizeof a);
    int diff = 0;
    for (int i = 0; i < K; i++)
        diff += a[i] != c[i];
    assert_true(diff > K / 2);

    /* smp_reset restarts the same sequence; smp_seed reports the seed */
    struct smp_params p = smp_params_default();
    p.temperature = 1.0f;
    p.seed = 42;
    struct smp *s = mk(p, N);
    assert_int_equal(smp_seed(s), 42);
    for (int i = 0; i < 10; i++)
        (void)smp_sample(s, l);
    smp_reset(s);
    for (int i = 0; i < K; i++)
        assert_int_equal(smp_sample(s, l), a[i]);
    smp_free(s);

    /* seed -1 draws a seed: two samplers almost surely differ */
    p.seed = -1;
    struct smp *r1 = mk(p, N), *r2 = mk(p, N);
    assert_true(smp_seed(r1) != smp_seed(r2));
    smp_free(r1);
    smp_free(r2);
}

static void test_top_k_one_is_greedy(void **state)
{
    (void)state;
    enum { N = 3000 };
    float l[N];
    lcg_state = 5;
    for (int seed = 0; seed < 20; seed++) {
        fill_random(l, N, 3.0f);
        struct smp_params p = params_off();
        p.top_k = 1;
        p.temperature = 1.5f;
        p.seed = seed;
        struct smp *s = mk(p, N);
        p.temperature = 0.0f;
        p.top_k = 40;
        struct smp *g = mk(p, N);
        assert_int_equal(smp_sample(s, l), smp_sample(g, l));
        smp_free(s);
        smp_free(g);
    }
}

/* Survivor ids of the chain, sorted ascending, into ids; returns count. */
static int survivors(struct smp_params p, const float *l, int n, int32_t *ids)
{
    struct smp *s = mk(p, n);
    const struct smp_cand *c;
    int k = smp_filter(s, l, &c);
    assert_true(k > 0);
    for (int i = 0; i < k; i++)
        ids[i] = c[i].id;
    for (int i = 1; i < k; i++) /* insertion sort: tiny sets */
        for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int32_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    smp_free(s);
    return k;
}

#define ASSERT_SET(p, l, n, ...)                                                   \
    do {                                                                           \
        const int32_t want_[] = { __VA_ARGS__ };                                   \
        int32_t got_[64];                                                          \
        int k_ = survivors((p), (l), (n), got_);                                   \
        assert_int_equal(k_, (int)OM_ARRAY_LEN(want_));                            \
        assert_memory_equal(got_, want_, sizeof want_);                            \
    } while (0)

static void test_filters_exact(void **state)
{
    (void)state;
    /* p = {.5, .25, .15, .1} placed at ids 6, 2, 4, 0 of 8; ids 1,3,5,7 masked */
    float l[8];
    for (int i = 0; i < 8; i++)
        l[i] = -INFINITY;
    l[6] = logf(0.5f), l[2] = logf(0.25f), l[4] = logf(0.15f), l[0] = logf(0.1f);
    struct smp_params p = params_off();

    p.top_p = 0.7f; /* cum .5, .75 */
    ASSERT_SET(p, l, 8, 2, 6);
    p.top_p = 0.8f; /* .5, .75, .9 */
    ASSERT_SET(p, l, 8, 2, 4, 6);
    p.top_p = 0.3f;
    ASSERT_SET(p, l, 8, 6);
    p.top_p = 0.0f; /* at least one */
    ASSERT_SET(p, l, 8, 6);

    p = params_off();
    p.min_p = 0.35f; /* keep p >= .175 */
    ASSERT_SET(p, l, 8, 2, 6);
    p.min_p = 0.25f; /* keep p >= .125 */
    ASSERT_SET(p, l, 8, 2, 4, 6);
    p.min_p = 0.1f; /* .05: masked tokens still out */
    ASSERT_SET(p, l, 8, 0, 2, 4, 6);

    /* typical: H = 1.2080 nats; |-ln p - H| = .515 (id 6), .178 (2), .689 (4),
     * 1.095 (0); order 2, 6, 4, 0 with mass .25, .75, .90, 1.0 */
    p = params_off();
    p.typical_p = 0.2f;
    ASSERT_SET(p, l, 8, 2); /* excludes the most likely token */
    p.typical_p = 0.5f;
    ASSERT_SET(p, l, 8, 2, 6);
    p.typical_p = 0.8f;
    ASSERT_SET(p, l, 8, 2, 4, 6);
    p.temperature = 0.0f; /* greedy picks the best survivor of typical */
    p.typical_p = 0.2f;
    struct smp *s = mk(p, 8);
    assert_int_equal(smp_sample(s, l), 2);
    smp_free(s);

    p = params_off();
    p.top_k = 3;
    ASSERT_SET(p, l, 8, 2, 4, 6);
    /* chain order: top_k first, then top_p renormalises over the 2 kept:
     * {.5, .25}/.75 = {.667, .333}: top_p .6 keeps only id 6 */
    p.top_k = 2;
    p.top_p = 0.6f;
    ASSERT_SET(p, l, 8, 6);
}

static int cmp_desc(const void *a, const void *b)
{
    const struct smp_cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : 1;
}

/* top_k and top_p on big vocabularies (with ties) against a full sort,
 * including top_p's lazy path that has to extend past 256 tokens. */
static void test_selection_vs_sort(void **state)
{
    (void)state;
    enum { N = 5000 };
    float l[N];
    struct smp_cand ref[N];
    lcg_state = 99;
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < N; i++) /* round 0-2: many ties; 3-5: flat */
            l[i] = round < 3 ? (float)(int)(urand() * 20) : (float)(urand() * 0.5);
        for (int i = 0; i < N; i++)
            ref[i] = (struct smp_cand){ .id = i, .logit = l[i] };
        qsort(ref, N, sizeof ref[0], cmp_desc);

        struct smp_params p = params_off();
        p.top_k = 1 + (int)(urand() * 700);
        struct smp *s = mk(p, N);
        const struct smp_cand *c;
        assert_int_equal(smp_filter(s, l, &c), p.top_k);
        for (int i = 0; i < p.top_k; i++)
            assert_int_equal(c[i].id, ref[i].id);
        smp_free(s);

        p = params_off();
        p.top_p = 0.9f;
        double max = ref[0].logit, sum = 0, cum = 0;
        for (int i = 0; i < N; i++)
            sum += exp(ref[i].logit - max);
        int want = N;
        for (int i = 0; i < N; i++) {
            cum += exp(ref[i].logit - max) / sum;
            if (cum >= 0.9) {
                want = i + 1;
                break;
            }
        }
        if (round >= 3)
            assert_true(want > 256); /* the lazy sort had to extend */
        s = mk(p, N);
        int k = smp_filter(s, l, &c);
        assert_true(abs(k - want) <= 1); /* float p vs double reference at the edge */
        for (int i = 0; i < OM_MIN(k, want); i++)
            assert_int_equal(c[i].id, ref[i].id);
        smp_free(s);
    }
}

static int cmp_key(const void *a, const void *b)
{
    const struct smp_cand *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return cmp_desc(a, b);
}

/* The radix sorts against qsort: negative, zero, -inf, ties, shuffled ids,
 * sizes on both sides of the heap/radix switch. */
static void test_sorts(void **state)
{
    (void)state;
    enum { N = 3000 };
    static struct smp_cand a[N], b[N], tmp[N];
    lcg_state = 21;
    const size_t sizes[] = { 1, 2, 200, 256, 257, 1000, N };
    for (size_t si = 0; si < OM_ARRAY_LEN(sizes); si++) {
        size_t n = sizes[si];
        for (int mode = 0; mode < 3; mode++) {
            for (size_t i = 0; i < n; i++) {
                double u = urand();
                a[i].id = (int32_t)i;
                a[i].logit = mode == 0 ? (float)(u * 200 - 100)
                             : mode == 1 ? (float)((int)(u * 9) - 4)
                                         : (u < 0.2 ? -INFINITY : (float)(u * 1e-3));
                a[i].key = (float)((int)(urand() * 5)) * 0.5f;
            }
            for (size_t i = n; i > 1; i--) { /* shuffle: input order must not matter */
                size_t j = (size_t)(urand() * (double)i);
                struct smp_cand t = a[i - 1];
                a[i - 1] = a[j];
                a[j] = t;
            }
            memcpy(b, a, n * sizeof *a);
            smp_cand_sort(b, tmp, n);
            qsort(a, n, sizeof *a, cmp_desc);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(a[i].id, b[i].id);
            smp_cand_sort_key(b, tmp, n);
            qsort(a, n, sizeof *a, cmp_key);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(a[i].id, b[i].id);
        }
    }
}

/* Penalised logits = brute force over the window, for random accept runs. */
static void check_penalties(int32_t last_n, float rp, float fp, float pp)
{
    enum { N = 12, STEPS = 300 };
    float l[N];
    int32_t hist[STEPS];
    for (int i = 0; i < N; i++)
        l[i] = (float)(i - 5) * 0.75f; /* negative, zero and positive logits */
    struct smp_params p = params_off();
    p.repeat_last_n = last_n;
    p.repeat_penalty = rp;
    p.frequency_penalty = fp;
    p.presence_penalty = pp;
    struct smp *s = mk(p, N);
    for (int step = 0; step < STEPS; step++) {
        hist[step] = (int32_t)(urand() * N);
        assert_int_equal(smp_accept(s, hist[step]), 0);
        if (step % 7)
            continue;
        const struct smp_cand *c;
        assert_int_equal(smp_filter(s, l, &c), N);
        int from = last_n < 0 ? 0 : OM_MAX(0, step + 1 - last_n);
        for (int t = 0; t < N; t++) {
            int cnt = 0;
            for (int i = from; i <= step && last_n != 0; i++)
                cnt += hist[i] == t;
            float want = l[t];
            if (cnt > 0) {
                want = want <= 0 ? want * rp : want / rp;
                want -= (float)cnt * fp + pp;
            }
            assert_int_equal(c[t].id, t);
            assert_float_equal(c[t].logit, want, 1e-5);
        }
    }
    smp_free(s);
}

static void test_penalties(void **state)
{
    (void)state;
    /* the worked example of docs/sampler.md */
    float l[5] = { 2.0f, -1.0f, 0.5f, 3.0f, 0.0f };
    struct smp_params p = params_off();
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    p.repeat_last_n = -1;
    struct smp *s = mk(p, 5);
    const int32_t seq[] = { 0, 1, 0, 4 };
    for (size_t i = 0; i < OM_ARRAY_LEN(seq); i++)
        assert_int_equal(smp_accept(s, seq[i]), 0);
    const struct smp_cand *c;
    assert_int_equal(smp_filter(s, l, &c), 5);
    const float want[5] = { -0.25f, -2.75f, 0.5f, 3.0f, -0.75f };
    for (int i = 0; i < 5; i++)
        assert_float_equal(c[i].logit, want[i], 1e-6);
    smp_free(s);

    /* masked tokens stay masked under rewards; an overflowing reward is
     * clamped instead of turning the chain into NaN */
    float m[3] = { -INFINITY, 1.0f, 0.0f };
    p = params_off();
    p.presence_penalty = -3e38f;
    p.frequency_penalty = -3e38f;
    s = mk(p, 3);
    assert_int_equal(smp_accept(s, 0), 0);
    assert_int_equal(smp_accept(s, 2), 0);
    assert_int_equal(smp_accept(s, 2), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(smp_sample(s, m), 2);
    smp_free(s);

    lcg_state = 3;
    check_penalties(-1, 1.3f, 0.2f, 0.5f);
    check_penalties(0, 1.3f, 0.2f, 0.5f);
    check_penalties(1, 1.3f, 0.0f, 0.0f);
    check_penalties(5, 1.0f, 0.3f, 0.0f);
    check_penalties(64, 1.1f, 0.0f, 1.0f);
    check_penalties(17, 0.8f, -0.1f, -0.2f); /* rewards work too */
}

/* Chi-square of observed draw counts against the expected distribution. */
static double chi2(const int *obs, const double *pr, int n, int draws)
{
    double x = 0;
    for (int i = 0; i < n; i++) {
        double e = pr[i] * draws;
        if (e == 0) {
            assert_int_equal(obs[i], 0);
            continue;
        }
        x += (obs[i] - e) * (obs[i] - e) / e;
    }
    return x;
}

static void test_distribution(void **state)
{
    (void)state;
    enum { N = 8 };
    const int draws = quick() ? 20000 : 200000;
    const float l[N] = { 1.0f, 0.5f, 2.0f, -1.0f, 0.0f, 1.5f, -0.5f, 0.25f };
    int obs[N];
    double pr[N];
    for (int variant = 0; variant < 2; variant++) {
        struct smp_params p = params_off();
        p.temperature = 0.7f;
        p.top_k = variant ? 3 : 0; /* 3: ids 2, 5, 0 renormalised */
        p.seed = 1234 + variant;
        double sum = 0;
        for (int i = 0; i < N; i++) {
            int kept = !variant || i == 2 || i == 5 || i == 0;
            pr[i] = kept ? exp(l[i] / 0.7) : 0.0;
            sum += pr[i];
        }
        for (int i = 0; i < N; i++)
            pr[i] /= sum;
        memset(obs, 0, sizeof obs);
        struct smp *s = mk(p, N);
        for (int d = 0; d < draws; d++) {
            int32_t t = smp_sample(s, l);
            assert_true(t >= 0 && t < N);
            obs[t]++;
        }
        smp_free(s);
        /* df = 7 (or 2): 99.99th percentiles are 29.9 and 18.4; generous */
        double x = chi2(obs, pr, N, draws);
        assert_true(x < (variant ? 25.0 : 40.0));
    }
}

/* The masked-token guarantee at a Qwen-sized vocabulary. The time per token
 * is printed for information only: speed belongs to bench/, not to tests. */
static void test_big_vocab(void **state)
{
    (void)state;
    const int n = 151936, toks = quick() ? 5 : 200;
    float *l = om_xmalloc((size_t)n * sizeof *l);
    lcg_state = 1;
    fill_random(l, n, 8.0f);
    for (int i = 0; i < n; i += 2)
        l[i] = -INFINITY;
    struct smp_params p = smp_params_default();
    p.seed = 9;
    p.repeat_penalty = 1.1f;
    struct smp *s = mk(p, n);
    uint64_t t0 = om_time_ns();
    for (int i = 0; i < toks; i++) {
        int32_t t = smp_sample(s, l);
        assert_true(t > 0 && t % 2 == 1);
        assert_int_equal(smp_accept(s, t), 0);
    }
    double ms = (double)(om_time_ns() - t0) / 1e6 / toks;
    print_message("sampler: %.3f ms/token at n_vocab %d (defaults)\n", ms, n);
    smp_free(s);
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_top_k_one_is_greedy),
        cmocka_unit_test(test_filters_exact),
        cmocka_unit_test(test_selection_vs_sort),
        cmocka_unit_test(test_sorts),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_big_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
