/* Unit tests: the Go template interpreter's bounds (prompt/tmpl.h). Hostile
 * templates — deep nesting, nested loops, exponential output, doubling
 * strings, infinite template recursion, work proportional to big data,
 * oversized sources — end with an error (OM_EFORMAT at parse, OM_ERANGE at
 * execution) instead of hanging, crashing or exhausting memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/tmpl.h"

/* Parses and executes; returns the output (caller frees) or NULL with err. */
static char *render(const char *src, const json_t *data, char *err, size_t errlen, int *rc)
{
    struct tmpl *t = NULL;
    char *out = NULL;
    size_t n = 0;
    *rc = tmpl_parse(src, strlen(src), &t, err, errlen);
    if (*rc == 0) {
        *rc = tmpl_exec(t, data, &out, &n, err, errlen);
        if (*rc == 0)
            assert_int_equal(strlen(out), n);
    }
    tmpl_free(t);
    return out;
}

static void expect_err(const char *tmpl, const char *data_json, int want_rc, const char *want)
{
    json_t *d = data_json ? json_loads(data_json, 0, NULL) : NULL;
    char err[512] = "";
    int rc;
    char *out = render(tmpl, d, err, sizeof err, &rc);
    if (rc != want_rc || !strstr(err, want))
        printf("template %.60s\n  want rc %d, error containing %s\n  got rc %d: %s\n", tmpl,
               want_rc, want, rc, err);
    assert_null(out);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(err, want));
    json_decref(d);
}

/* Hostile templates end with an error instead of hanging or exploding. */
static void test_bounds(void **state)
{
    (void)state;
    char *deep = malloc(20000);
    size_t n = 0;
    for (int i = 0; i < 2000; i++)
        n += (size_t)sprintf(deep + n, "{{if 1}}");
    deep[n] = 0;
    expect_err(deep, NULL, OM_EFORMAT, "nesting too deep");
    n = 0;
    for (int i = 0; i < 3000; i++)
        deep[n++] = '(';
    deep[n] = 0;
    char *src = malloc(20000);
    snprintf(src, 20000, "{{ %s1 }}", deep);
    expect_err(src, NULL, OM_EFORMAT, "nesting too deep");
    free(src);
    free(deep);
    /* 10^9 iterations: stopped by the step bound */
    expect_err("{{range 1000}}{{range 1000}}{{range 1000}}{{end}}{{end}}{{end}}", NULL, OM_ERANGE,
               "steps");
    /* exponential output: stopped by the output bound */
    expect_err("{{$s := \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}"
               "{{range 100000}}{{$s}}{{$s}}{{$s}}{{end}}",
               NULL, OM_ERANGE, "exceeds");
    /* a string doubling in a loop: stopped by the memory bound */
    expect_err("{{$s := \"xx\"}}{{range 64}}{{$s = print $s $s}}{{end}}{{len $s}}", NULL,
               OM_ERANGE, "");
    /* infinite template recursion */
    expect_err("{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}", NULL, OM_ERANGE,
               "exceeded maximum template depth");
    /* work proportional to data size is charged: sorting a big map for
     * range, or counting its keys, ten thousand times */
    json_t *bigm = json_object();
    for (int i = 0; i < 20000; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        json_object_set_new(bigm, k, json_integer(i));
    }
    json_t *bd = json_pack("{s:o}", "M", bigm);
    char *bds = json_dumps(bd, JSON_COMPACT);
    expect_err("{{range 10000}}{{range $.M}}{{break}}{{end}}{{end}}", bds, OM_ERANGE, "steps");
    expect_err("{{range 10000}}{{len $.M}}{{end}}", bds, OM_ERANGE, "step limit");
    free(bds);
    json_decref(bd);
    char err[128];
    struct tmpl *t = (struct tmpl *)1;
    char *big = calloc(1, TMPL_MAX_SRC + 2);
    memset(big, 'a', TMPL_MAX_SRC + 1);
    assert_int_equal(tmpl_parse(big, TMPL_MAX_SRC + 1, &t, err, sizeof err), OM_ENOMEM);
    assert_null(t);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
