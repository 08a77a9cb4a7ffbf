/* Shared helpers of the api/oai unit tests (header only: every .c under
 * tests/unit becomes its own test program). */
#ifndef OAI_TEST_UTIL_H
#define OAI_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "api/oai.h"
#include "base/om.h"

static inline json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("bad test JSON at %d: %s\n%s", e.position, e.text, text);
    return v;
}

/* Asserts that got equals the JSON text want (then drops got). */
static inline void expect_json(json_t *got, const char *want)
{
    json_t *w = J(want);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("JSON differs\n got: %s\nwant: %s", g ? g : "(null)", want);
    }
    json_decref(w);
    json_decref(got);
}

/* A request translator (oai_chat_to_native, oai_responses_to_native, …). */
typedef int (*oai_to_native_fn)(const json_t *req, json_t **native, char *err, size_t errlen);

/* The native body of req through fn; fails the test on an error. */
static inline json_t *native_ok(oai_to_native_fn fn, const char *req)
{
    json_t *r = J(req), *n = NULL;
    char err[256] = "";
    int rc = fn(r, &n, err, sizeof(err));
    json_decref(r);
    if (rc)
        fail_msg("request translation failed: %s", err);
    return n;
}

/* Asserts that fn refuses req with OM_EINVAL and the message want. */
static inline void native_err(oai_to_native_fn fn, const char *req, const char *want)
{
    json_t *r = J(req), *n = (json_t *)1;
    char err[256] = "";
    assert_int_equal(fn(r, &n, err, sizeof(err)), OM_EINVAL);
    assert_null(n);
    assert_string_equal(err, want);
    json_decref(r);
}

#endif
