/* Unit tests for base/: error names, type table, thread pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <string.h>

#include "base/om.h"
#include "base/om_pool.h"
#include "base/om_types.h"

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(om_strerror(OM_EFORMAT), "malformed input");
    assert_string_equal(om_strerror(-2), strerror(2));
    char buf[64];
    assert_int_equal(om_err(buf, sizeof buf, OM_EINVAL, "key %s", "x"), OM_EINVAL);
    assert_string_equal(buf, "key x");
}

static void test_types(void **state)
{
    (void)state;
    assert_int_equal(om_type_row_size(OM_TYPE_Q4_K, 512), 288);
    assert_int_equal(om_type_row_size(OM_TYPE_Q4_K, 100), 0); /* not a block multiple */
    assert_int_equal(om_type_row_size(OM_TYPE_Q8_0, 64), 68);
    assert_int_equal(om_type_row_size(OM_TYPE_F16, 3), 6);
    assert_null(om_type_get(4)); /* removed Q4_2 */
    assert_null(om_type_get(1000));
    assert_string_equal(om_type_name(OM_TYPE_BF16), "bf16");
}

struct sum_ctx {
    atomic_long total;
    atomic_int calls;
};

static void add_job(void *ctx, int ith, int nth)
{
    struct sum_ctx *c = ctx;
    long s = 0;
    for (long i = ith; i < 100000; i += nth)
        s += i;
    atomic_fetch_add(&c->total, s);
    atomic_fetch_add(&c->calls, 1);
}

static void test_pool(void **state)
{
    (void)state;
    for (int nth = 1; nth <= 4; nth++) {
        om_pool *p = om_pool_new(nth);
        assert_int_equal(om_pool_size(p), nth);
        for (int r = 0; r < 200; r++) {
            struct sum_ctx c = {0};
            om_pool_run(p, add_job, &c);
            assert_int_equal(atomic_load(&c.total), 4999950000L);
            assert_int_equal(atomic_load(&c.calls), nth);
        }
        om_pool_free(p);
    }
    struct sum_ctx c = {0};
    om_pool_run(NULL, add_job, &c);
    assert_int_equal(atomic_load(&c.total), 4999950000L);
    assert_true(om_cpu_physical_cores() >= 1);
    om_pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
