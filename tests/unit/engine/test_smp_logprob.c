/* Unit tests for engine/smp_logprob.c: exact log-softmax values, ordering
 * and ties, normalisation, stability with large logits, bad input, and the
 * heap selection against a full sort on a large random vocabulary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "base/om.h"
#include "engine/smp.h"

static void test_known_vector(void **state)
{
    (void)state;
    const float l[4] = { 1.0f, 2.0f, 3.0f, 4.0f };
    const double lse = 4.0 + log(1.0 + exp(-1.0) + exp(-2.0) + exp(-3.0));
    struct smp_logprob out[8];
    assert_int_equal(smp_top_logprobs(l, 4, 2, out), 2);
    assert_int_equal(out[0].id, 3);
    assert_int_equal(out[1].id, 2);
    assert_float_equal(out[0].logprob, 4.0 - lse, 1e-6);
    assert_float_equal(out[1].logprob, 3.0 - lse, 1e-6);

    /* all of them (n > n_vocab is clamped): sorted, and probabilities sum to 1 */
    assert_int_equal(smp_top_logprobs(l, 4, 8, out), 4);
    double sum = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(out[i].id, 3 - i);
        assert_float_equal(out[i].logprob, (double)l[3 - i] - lse, 1e-6);
        assert_float_equal(smp_logprob_of(l, 4, out[i].id), out[i].logprob, 0);
        sum += exp((double)out[i].logprob);
    }
    assert_float_equal(sum, 1.0, 1e-6);
    assert_int_equal(smp_top_logprobs(l, 4, 0, out), 0);
}

static void test_ties_and_masks(void **state)
{
    (void)state;
    const float l[5] = { 1.0f, -INFINITY, 1.0f, 1.0f, -INFINITY };
    struct smp_logprob out[5];
    assert_int_equal(smp_top_logprobs(l, 5, 5, out), 5);
    const int32_t ids[5] = { 0, 2, 3, 1, 4 };
    for (int i = 0; i < 5; i++)
        assert_int_equal(out[i].id, ids[i]);
    for (int i = 0; i < 3; i++)
        assert_float_equal(out[i].logprob, -log(3.0), 1e-6);
    assert_true(out[3].logprob == -INFINITY && out[4].logprob == -INFINITY);
}

static void test_stable(void **state)
{
    (void)state;
    const float big[2] = { 1000.0f, 999.0f }, small[2] = { -1000.0f, -1001.0f };
    const double want = -log(1.0 + exp(-1.0));
    assert_float_equal(smp_logprob_of(big, 2, 0), want, 1e-6);
    assert_float_equal(smp_logprob_of(small, 2, 0), want, 1e-6);
    assert_float_equal(smp_logprob_of(big, 2, 1), want - 1.0, 1e-6);
}

static void test_bad_input(void **state)
{
    (void)state;
    const float nan_l[3] = { 0.0f, NAN, 1.0f }, inf_l[3] = { 0.0f, INFINITY, 1.0f };
    const float dead[2] = { -INFINITY, -INFINITY }, ok[2] = { 0.0f, 0.0f };
    struct smp_logprob out[3];
    assert_int_equal(smp_top_logprobs(nan_l, 3, 2, out), OM_ERANGE);
    assert_int_equal(smp_top_logprobs(inf_l, 3, 2, out), OM_ERANGE);
    assert_int_equal(smp_top_logprobs(dead, 2, 2, out), OM_ERANGE);
    assert_int_equal(smp_top_logprobs(ok, 0, 2, out), OM_EINVAL);
    assert_true(isnan(smp_logprob_of(nan_l, 3, 0)));
    assert_true(isnan(smp_logprob_of(ok, 2, 2)));
    assert_true(isnan(smp_logprob_of(ok, 2, -1)));
    assert_float_equal(smp_logprob_of(ok, 2, 1), -log(2.0), 1e-7);
}

static int cmp_ref(const void *a, const void *b)
{
    const struct smp_logprob *x = a, *y = b;
    if (x->logprob != y->logprob)
        return x->logprob > y->logprob ? -1 : 1;
    return x->id < y->id ? -1 : 1;
}

static void test_vs_sort(void **state)
{
    (void)state;
    enum { N = 151936, K = 20 };
    float *l = om_xmalloc(N * sizeof *l);
    struct smp_logprob *ref = om_xmalloc(N * sizeof *ref), out[K];
    uint64_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        l[i] = (float)((x >> 40) % 3000) / 100.0f; /* many ties */
        ref[i] = (struct smp_logprob){ .id = i, .logprob = l[i] };
    }
    qsort(ref, N, sizeof *ref, cmp_ref);
    double max = ref[0].logprob, sum = 0;
    for (int i = 0; i < N; i++)
        sum += exp((double)l[i] - max);
    const double lse = max + log(sum);
    assert_int_equal(smp_top_logprobs(l, N, K, out), K);
    for (int i = 0; i < K; i++) {
        assert_int_equal(out[i].id, ref[i].id);
        assert_float_equal(out[i].logprob, (double)ref[i].logprob - lse, 1e-5);
    }
    free(l);
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vector),
        cmocka_unit_test(test_ties_and_masks),
        cmocka_unit_test(test_stable),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_vs_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
