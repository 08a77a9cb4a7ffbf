/* tests: prompt/gram — JSON and JSON Schema grammars, checked byte by byte
 * on handwritten documents, plus hostile schemas and the state API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/gram.h"

static struct gram *mk(const char *schema)
{
    char err[256] = "";
    struct gram *g = NULL;
    int rc = schema ? gram_new_schema(schema, strlen(schema), &g, err, sizeof(err))
                    : gram_new_json(&g, err, sizeof(err));
    if (rc)
        fprintf(stderr, "schema failed: %s (%s)\n", err, schema);
    assert_int_equal(rc, 0);
    assert_non_null(g);
    return g;
}

/* Feeds doc byte by byte: returns -1 when every byte was accepted and the
 * result is complete, -2 when accepted but incomplete, else the offset of
 * the first rejected byte. Also checks accepts() against advance() and the
 * next-byte mask, and that whole-document accepts() agrees. */
static long run(const struct gram *g, const char *doc)
{
    struct gram_state *st = gram_state_new(g);
    size_t n = strlen(doc);
    bool whole = gram_state_accepts(st, doc, n);
    long bad = -1;
    for (size_t i = 0; i < n; i++) {
        uint64_t m[4];
        gram_state_next_bytes(st, m);
        uint8_t b = (uint8_t)doc[i];
        bool acc = gram_state_accepts(st, doc + i, 1);
        assert_int_equal(acc, (int)((m[b >> 6] >> (b & 63)) & 1));
        if (!acc) {
            assert_int_equal(gram_state_advance(st, doc + i, 1), OM_EINVAL);
            bad = (long)i;
            break;
        }
        assert_int_equal(gram_state_advance(st, doc + i, 1), 0);
    }
    assert_int_equal(whole, bad == -1);
    if (bad == -1 && !gram_state_complete(st))
        bad = -2;
    gram_state_free(st);
    return bad;
}

#define OK(g, d) assert_int_equal(run(g, d), -1)
#define PARTIAL(g, d) assert_int_equal(run(g, d), -2)
#define BAD_AT(g, d, at) assert_int_equal(run(g, d), at)

static void test_json_format(void **s)
{
    (void)s;
    struct gram *g = mk(NULL);
    OK(g, "{}");
    OK(g, "{ }");
    OK(g, "{\"a\":1}");
    OK(g, "{\"a\": [1, -2.5e+10, 0.125, \"x\\u00e9\\n\", true, false, null, {}, []]}");
    OK(g, "{\n  \"k\": {\n    \"deep\": [[[]]]\n  }\n}\n");
    OK(g, "{\"utf8\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"}");
    OK(g, "{\"pair\":\"\\ud83d\\ude00\"}");
    PARTIAL(g, "{\"a\":");
    PARTIAL(g, "{\"a\":1");
    BAD_AT(g, "[1]", 0);       /* "json" means an object */
    BAD_AT(g, " {}", 0);       /* no leading blanks */
    BAD_AT(g, "{\"a\" 1}", 5);
    BAD_AT(g, "{\"a\":01}", 6);
    BAD_AT(g, "{\"a\":1.}", 7);
    BAD_AT(g, "{\"a\":+1}", 5);
    BAD_AT(g, "{\"a\":tru}", 8);
    BAD_AT(g, "{\"a\":1,}", 7);
    BAD_AT(g, "{\"a\":\"\x01\"}", 6);
    BAD_AT(g, "{\"a\":\"\\x\"}", 7);
    BAD_AT(g, "{\"a\":\"\\u0000\"}", 11);  /* NUL escape */
    BAD_AT(g, "{\"a\":\"\\ud800x\"}", 12); /* lone high surrogate */
    BAD_AT(g, "{\"a\":\"\\udc00\"}", 9);   /* lone low surrogate */
    BAD_AT(g, "{\"a\":\"\xc0\x80\"}", 6);  /* overlong */
    BAD_AT(g, "{\"a\":\"\xed\xa0\x80\"}", 7);  /* UTF-8 surrogate */
    BAD_AT(g, "{\"a\":\"\xf4\x90\x80\x80\"}", 7); /* > U+10FFFF */
    BAD_AT(g, "{\"a\":12345678901234567}", 21); /* 17 digits */
    BAD_AT(g, "{\"a\":1e100}", 9);              /* exponent: 2 digits */
    BAD_AT(g, "{}   ", 3);                      /* one blank, or newline + indent */
    BAD_AT(g, "{\n                     }", 22);  /* indent at most 20 */
    BAD_AT(g, "{}x", 2);
    gram_free(g);
}

static void test_object_props(void **s)
{
    (void)s;
    struct gram *g = mk("{\"type\":\"object\",\"properties\":{"
                        "\"name\":{\"type\":\"string\"},"
                        "\"age\":{\"type\":\"integer\"},"
                        "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"
                        "\"required\":[\"name\",\"age\"]}");
    OK(g, "{\"name\":\"Ann\",\"age\":31}");
    OK(g, "{ \"name\" : \"Ann\" , \"age\" : 31 , \"tags\" : [ \"a\" , \"b\" ] }");
    OK(g, "{\"name\":\"Ann\",\"age\":-0,\"tags\":[]}");
    BAD_AT(g, "{\"age\":31}", 2);                 /* declared order: name first */
    PARTIAL(g, "{\"name\":\"Ann\"");
    BAD_AT(g, "{\"name\":\"Ann\"}", 13);          /* age is required */
    BAD_AT(g, "{\"name\":\"Ann\",\"age\":3.5}", 21); /* integer */
    BAD_AT(g, "{\"name\":1", 8);
    BAD_AT(g, "{\"name\":\"A\",\"age\":1,\"x\":1}", 21); /* no additional properties */
    gram_free(g);

    /* optional first property: no leading comma either way */
    g = mk("{\"properties\":{\"a\":{\"type\":\"boolean\"},\"b\":{\"type\":\"null\"}},"
           "\"required\":[\"b\"]}");
    OK(g, "{\"b\":null}");
    OK(g, "{\"a\":true,\"b\":null}");
    BAD_AT(g, "{,\"b\":null}", 1);
    BAD_AT(g, "{\"a\":true}", 9);
    gram_free(g);

    /* explicit additionalProperties without properties: a map */
    g = mk("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}}");
    OK(g, "{}");
    OK(g, "{\"x\":1,\"y\":2.5}");
    BAD_AT(g, "{\"x\":\"1\"}", 5);
    gram_free(g);
    g = mk("{\"type\":\"object\",\"additionalProperties\":false}");
    OK(g, "{}");
    BAD_AT(g, "{\"x\":1}", 1);
    gram_free(g);
    /* false schemas: the property must be absent, the array empty */
    g = mk("{\"properties\":{\"a\":false,\"b\":{\"type\":\"array\",\"items\":false}}}");
    OK(g, "{}");
    OK(g, "{\"b\":[]}");
    BAD_AT(g, "{\"a\"", 2);
    BAD_AT(g, "{\"b\":[1", 6);
    gram_free(g);
    /* required but undeclared keys are still produced */
    g = mk("{\"type\":\"object\",\"required\":[\"id\"]}");
    OK(g, "{\"id\":[1]}");
    BAD_AT(g, "{}", 1);
    gram_free(g);
}

static void test_arrays(void **s)
{
    (void)s;
    struct gram *g = mk("{\"type\":\"array\",\"items\":{\"type\":\"integer\"},"
                        "\"minItems\":2,\"maxItems\":3}");
    BAD_AT(g, "[]", 1);
    BAD_AT(g, "[1]", 2);
    OK(g, "[1,2]");
    OK(g, "[1, 2, 3]");
    BAD_AT(g, "[1,2,3,", 6);
    gram_free(g);
    g = mk("{\"type\":\"array\",\"maxItems\":0}");
    OK(g, "[]");
    BAD_AT(g, "[1", 1);
    gram_free(g);
    g = mk("{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"number\"}]}");
    OK(g, "[\"a\",1.5]");
    BAD_AT(g, "[1", 1);
    BAD_AT(g, "[\"a\"]", 4);
    gram_free(g);
    g = mk("{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{\"enum\":[1,2]}}}");
    OK(g, "[[1,2],[],[2]]");
    BAD_AT(g, "[[3]]", 2);
    gram_free(g);
}

static void test_literals(void **s)
{
    (void)s;
    struct gram *g = mk("{\"enum\":[\"red\",\"green\",\"greenish\",42,null,{\"a\":[1]}]}");
    OK(g, "\"red\"");
    OK(g, "\"green\"");
    OK(g, "\"greenish\"");
    OK(g, "42");
    OK(g, "null");
    OK(g, "{\"a\":[1]}");
    BAD_AT(g, "\"gree\"", 5);
    BAD_AT(g, "\"blue\"", 1);
    BAD_AT(g, "43", 1);
    gram_free(g);
    g = mk("{\"properties\":{\"v\":{\"const\":\"fixed \\u00e9\"}},\"required\":[\"v\"]}");
    OK(g, "{\"v\":\"fixed \xc3\xa9\"}");
    BAD_AT(g, "{\"v\":\"fixed\"}", 11);
    gram_free(g);
    /* values of the wrong type are dropped */
    g = mk("{\"type\":[\"string\",\"null\"],\"enum\":[\"a\",1,null,true]}");
    OK(g, "\"a\"");
    OK(g, "null");
    BAD_AT(g, "1", 0);
    BAD_AT(g, "true", 0);
    gram_free(g);
    /* a large enum stays one stack */
    char *big = om_xmalloc(200000);
    size_t o = (size_t)sprintf(big, "{\"enum\":[");
    for (int i = 0; i < 5000; i++)
        o += (size_t)sprintf(big + o, "%s\"item%d\"", i ? "," : "", i);
    sprintf(big + o, "]}");
    g = mk(big);
    OK(g, "\"item4999\"");
    OK(g, "\"item0\"");
    BAD_AT(g, "\"item5000\"", 8);
    struct gram_state *st = gram_state_new(g);
    assert_int_equal(gram_state_advance(st, "\"item12", 7), 0);
    assert_true(gram_state_n_stacks(st) <= 2);
    gram_state_free(st);
    gram_free(g);
    free(big);
}

static void test_unions_refs(void **s)
{
    (void)s;
    struct gram *g = mk("{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\",\"maxLength\":2}]}");
    OK(g, "12");
    OK(g, "\"ab\"");
    BAD_AT(g, "\"abc\"", 3);
    BAD_AT(g, "1.5", 1);
    gram_free(g);
    g = mk("{\"type\":[\"number\",\"null\"]}");
    OK(g, "1.5");
    OK(g, "null");
    BAD_AT(g, "true", 0);
    gram_free(g);
    /* many alternatives alive at once (hashed dedup), all but one die */
    char many[4096];
    size_t o = (size_t)sprintf(many, "{\"anyOf\":[");
    for (int k = 1; k <= 40; k++)
        o += (size_t)sprintf(many + o, "%s{\"type\":\"array\",\"items\":{\"type\":\"string\","
                             "\"maxLength\":%d}}", k > 1 ? "," : "", k);
    sprintf(many + o, "]}");
    g = mk(many);
    struct gram_state *st = gram_state_new(g);
    assert_int_equal(gram_state_advance(st, "[\"ab", 4), 0);
    assert_true(gram_state_n_stacks(st) >= 16);
    gram_state_free(st);
    OK(g, "[\"0123456789012345678901234567890123456789\"]");
    BAD_AT(g, "[\"01234567890123456789012345678901234567890\"]", 42);
    OK(g, "[\"a\",\"bb\"]");
    gram_free(g);
    /* anyOf beside other assertions: both apply */
    g = mk("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":"
           "\"integer\"}},\"anyOf\":[{\"required\":[\"a\"]},{\"required\":[\"b\"]}]}");
    OK(g, "{\"a\":\"x\"}");
    OK(g, "{\"b\":1}");
    OK(g, "{\"a\":\"x\",\"b\":2}");
    BAD_AT(g, "{\"a\":1", 5);
    BAD_AT(g, "{}", 1);
    gram_free(g);
    /* recursive tree through $defs */
    g = mk("{\"$ref\":\"#/$defs/node\",\"$defs\":{\"node\":{\"type\":\"object\","
           "\"properties\":{\"v\":{\"type\":\"integer\"},\"kids\":{\"type\":\"array\","
           "\"items\":{\"$ref\":\"#/$defs/node\"}}},\"required\":[\"v\"]}}}");
    OK(g, "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":4,\"kids\":[]}]}]}");
    BAD_AT(g, "{\"v\":1,\"kids\":[{}]}", 16);
    gram_free(g);
    /* "#" and definitions */
    g = mk("{\"type\":\"object\",\"properties\":{\"next\":{\"anyOf\":[{\"$ref\":\"#\"},"
           "{\"type\":\"null\"}]}},\"required\":[\"next\"]}");
    OK(g, "{\"next\":{\"next\":null}}");
    gram_free(g);
    g = mk("{\"definitions\":{\"a~b\":{\"type\":\"boolean\"}},\"$ref\":\"#/definitions/a~0b\"}");
    OK(g, "true");
    gram_free(g);
    /* allOf merges object parts */
    g = mk("{\"allOf\":[{\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]},"
           "{\"properties\":{\"b\":{\"type\":\"string\",\"minLength\":1}},\"required\":[\"b\"]}]}");
    OK(g, "{\"a\":1,\"b\":\"x\"}");
    BAD_AT(g, "{\"a\":1,\"b\":\"\"}", 12);
    gram_free(g);
}

static void test_strings(void **s)
{
    (void)s;
    struct gram *g = mk("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}");
    BAD_AT(g, "\"a\"", 2);
    OK(g, "\"ab\"");
    OK(g, "\"\\n\xe2\x82\xac\\u0041\""); /* three characters, escapes count as one */
    BAD_AT(g, "\"abcd", 4);
    gram_free(g);
    g = mk("{\"type\":\"integer\"}");
    OK(g, "0");
    OK(g, "-12");
    BAD_AT(g, "1e3", 1);
    PARTIAL(g, "-");
    gram_free(g);
}

/* integer minimum/maximum: every number near the range, by the rule */
static bool int_ok(const struct gram *g, long long v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", v);
    struct gram_state *st = gram_state_new(g);
    bool ok = gram_state_advance(st, buf, strlen(buf)) == 0 && gram_state_complete(st);
    gram_state_free(st);
    return ok;
}

static void test_int_ranges(void **s)
{
    (void)s;
    static const long long r[][2] = {{0, 0},     {5, 5},      {0, 9},     {1, 100},   {-7, 13},
                                     {-1000, -1}, {-99, -10}, {37, 1234}, {10, 10},   {-5, 0},
                                     {199, 200},  {101, 899}, {-10, 10},  {100, 999}};
    char sch[160];
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        snprintf(sch, sizeof(sch), "{\"type\":\"integer\",\"minimum\":%lld,\"maximum\":%lld}",
                 r[i][0], r[i][1]);
        struct gram *g = mk(sch);
        for (long long v = -1500; v <= 1500; v++) {
            bool in = v >= r[i][0] && v <= r[i][1];
            if (int_ok(g, v) != in)
                fprintf(stderr, "[%lld,%lld]: %lld\n", r[i][0], r[i][1], v);
            assert_int_equal(int_ok(g, v), in);
        }
        assert_int_not_equal(run(g, "-0"), -1);
        assert_int_not_equal(run(g, "01"), -1);
        gram_free(g);
    }
    /* one-sided and exclusive bounds, large numbers */
    struct gram *g = mk("{\"type\":\"integer\",\"exclusiveMinimum\":-3,\"maximum\":1e20}");
    assert_false(int_ok(g, -3));
    assert_true(int_ok(g, -2));
    assert_true(int_ok(g, 9999999999999999LL));
    BAD_AT(g, "007", 1);
    gram_free(g);
    g = mk("{\"type\":\"integer\",\"minimum\":1.5,\"exclusiveMaximum\":123456789012}");
    assert_false(int_ok(g, 1));
    assert_true(int_ok(g, 2));
    assert_true(int_ok(g, 123456789011LL));
    assert_false(int_ok(g, 123456789012LL));
    assert_true(int_ok(g, 99999999999LL));
    assert_false(int_ok(g, -1));
    gram_free(g);
    g = mk("{\"type\":\"integer\",\"maximum\":-20}");
    assert_true(int_ok(g, -20));
    assert_true(int_ok(g, -9999999999999999LL));
    assert_false(int_ok(g, -19));
    assert_false(int_ok(g, 0));
    gram_free(g);
    char err[128];
    const char *empty = "{\"type\":\"integer\",\"minimum\":5,\"maximum\":4}";
    assert_true(gram_new_schema(empty, strlen(empty), &g, err, sizeof(err)) < 0);
}

static bool text_ok(const struct gram *g, const char *t)
{
    struct gram_state *st = gram_state_new(g);
    bool ok = gram_state_advance(st, t, strlen(t)) == 0 && gram_state_complete(st);
    gram_state_free(st);
    return ok;
}

/* number minimum/maximum: never outside, and most values inside */
static void test_num_ranges(void **s)
{
    (void)s;
    static const struct {
        const char *sch;
        double lo, hi;
        bool lox, hix;
    } r[] = {
        {"{\"type\":\"number\",\"minimum\":-2.5,\"maximum\":3.25}", -2.5, 3.25, false, false},
        {"{\"type\":\"number\",\"exclusiveMinimum\":0,\"exclusiveMaximum\":1}", 0, 1, true, true},
        {"{\"type\":\"number\",\"minimum\":0}", 0, 1e300, false, false},
        {"{\"type\":\"number\",\"maximum\":-10,\"exclusiveMaximum\":true}", -1e300, -10, false, true},
        {"{\"type\":\"number\",\"minimum\":-100,\"maximum\":100}", -100, 100, false, false},
    };
    char t[64];
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        struct gram *g = mk(r[i].sch);
        int in_ok = 0, in_all = 0;
        for (int v = -1200; v <= 1200; v++) {
            for (int f = 0; f < 4; f++) {
                static const char *fr[] = {"", ".0", ".5", ".999"};
                snprintf(t, sizeof(t), "%s%d%s", v < 0 ? "-" : "", abs(v) / 10, fr[f]);
                if (v % 10 && f == 0)
                    snprintf(t, sizeof(t), "%d", v);
                double d = strtod(t, NULL);
                bool in = (r[i].lox ? d > r[i].lo : d >= r[i].lo) && (r[i].hix ? d < r[i].hi : d <= r[i].hi);
                bool ok = text_ok(g, t);
                if (ok && !in)
                    fprintf(stderr, "%s: accepted %s\n", r[i].sch, t);
                assert_true(!ok || in);
                in_all += in;
                in_ok += ok;
            }
        }
        assert_true(in_ok * 10 >= in_all * 6); /* narrowing stays modest */
        assert_false(text_ok(g, "1e5"));
        gram_free(g);
    }
    struct gram *g = mk(r[0].sch);
    assert_true(text_ok(g, "-1.5"));
    assert_true(text_ok(g, "3"));
    assert_true(text_ok(g, "2.99"));
    assert_true(text_ok(g, "-2"));
    assert_false(text_ok(g, "3.5"));
    assert_false(text_ok(g, "-3"));
    gram_free(g);
    g = mk(r[1].sch); /* (0, 1) */
    assert_true(text_ok(g, "0.5"));
    assert_true(text_ok(g, "0.0001"));
    assert_false(text_ok(g, "0.000"));
    assert_false(text_ok(g, "0"));
    assert_false(text_ok(g, "1"));
    assert_false(text_ok(g, "-0.5"));
    gram_free(g);
    g = mk("{\"type\":\"number\",\"minimum\":-1,\"exclusiveMaximum\":0}");
    assert_true(text_ok(g, "-0.25"));
    assert_true(text_ok(g, "-1"));
    assert_false(text_ok(g, "-0.0"));
    assert_false(text_ok(g, "0"));
    gram_free(g);
}

static void test_hostile(void **s)
{
    (void)s;
    char err[256];
    struct gram *g = NULL;
    const char *bad[] = {
        "{\"$ref\":\"#\"}",                                   /* left recursion */
        "{\"$ref\":\"#/$defs/a\",\"$defs\":{\"a\":{\"anyOf\":[{\"$ref\":\"#/$defs/a\"}]}}}",
        "{\"$ref\":\"http://example.com/s.json\"}",
        "{\"$ref\":\"#/$defs/missing\"}",
        "{\"type\":\"string\",\"maxLength\":1000000000}",
        "{\"type\":\"array\",\"minItems\":3,\"maxItems\":2}",
        "{\"enum\":[]}",
        "{\"anyOf\":[]}",
        "{\"type\":\"float\"}",
        "{\"type\":\"object\",\"properties\":{\"a\":false},\"required\":[\"a\"]}",
        "[1,2]",
        "{\"type\":",
        "{\"minItems\":-1}",
        "{\"type\":\"integer\",\"enum\":[\"1\"]}",
        "{\"type\":\"string\",\"const\":2}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        int rc = gram_new_schema(bad[i], strlen(bad[i]), &g, err, sizeof(err));
        if (rc == 0)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        assert_true(rc < 0);
        assert_null(g);
        assert_true(strlen(err) > 0);
    }
    /* the error names where in the schema */
    const char *nested = "{\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"anyOf\":"
                         "[{\"type\":\"integer\"},{\"type\":\"x\"}]}}}}";
    assert_int_equal(gram_new_schema(nested, strlen(nested), &g, err, sizeof(err)), OM_EUNSUPPORTED);
    assert_non_null(strstr(err, "#/properties/a/items/anyOf/1"));
    /* deep nesting */
    size_t cap = 64 * 1024;
    char *deep = om_xmalloc(cap);
    size_t o = 0;
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(deep + o, cap - o, "{\"type\":\"array\",\"items\":");
    o += (size_t)snprintf(deep + o, cap - o, "{\"type\":\"null\"}");
    for (int i = 0; i < 300; i++)
        deep[o++] = '}';
    assert_true(gram_new_schema(deep, o, &g, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "nested"));
    /* huge enum */
    o = 0;
    char *big = om_xmalloc(2u << 20);
    o += (size_t)sprintf(big, "{\"enum\":[");
    for (int i = 0; i < 70000; i++)
        o += (size_t)sprintf(big + o, "%s%d", i ? "," : "", i);
    o += (size_t)sprintf(big + o, "]}");
    assert_true(gram_new_schema(big, o, &g, err, sizeof(err)) < 0);
    free(big);
    free(deep);
    /* deep output nesting in "json" mode is bounded, not a crash */
    g = mk(NULL);
    struct gram_state *st = gram_state_new(g);
    assert_int_equal(gram_state_advance(st, "{\"a\":", 5), 0);
    int depth = 0;
    while (depth < 5000 && gram_state_advance(st, "[", 1) == 0)
        depth++;
    assert_true(depth > 100 && depth < 5000);
    assert_true(gram_state_accepts(st, "]", 1));
    gram_state_free(st);
    gram_free(g);
}

static void test_state_api(void **s)
{
    (void)s;
    struct gram *g = mk("{\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]}");
    struct gram_state *st = gram_state_new(g);
    assert_false(gram_state_complete(st));
    assert_true(gram_state_accepts(st, "", 0));
    assert_true(gram_state_accepts(st, "{\"a\"", 4));
    assert_false(gram_state_accepts(st, "{\"b\"", 4));
    assert_int_equal(gram_state_advance(st, "{\"a\":1", 6), 0);
    struct gram_state *cl = gram_state_clone(st);
    assert_int_equal(gram_state_advance(st, "}", 1), 0);
    assert_true(gram_state_complete(st));
    assert_false(gram_state_complete(cl));
    assert_true(gram_state_accepts(cl, "2}", 2));
    assert_int_equal(gram_state_advance(st, "x", 1), OM_EINVAL);
    assert_true(gram_state_complete(st)); /* unchanged after a rejected advance */
    uint64_t m[4];
    gram_state_next_bytes(st, m);
    assert_true((m[0] >> ' ') & 1);
    assert_int_equal(gram_state_advance(st, " ", 1), 0); /* only an empty stack left */
    assert_false(gram_state_accepts(st, " ", 1));
    gram_state_reset(st);
    assert_false(gram_state_complete(st));
    assert_true(gram_state_accepts(st, "{", 1));
    for (int i = 0; i < 3; i++) { /* advance/reset cycles reuse buffers */
        assert_int_equal(gram_state_advance(st, "{\"a\":12}", 8), 0);
        assert_true(gram_state_complete(st));
        gram_state_reset(st);
    }
    /* vocabulary masks: duplicates and empty pieces */
    const char *pcs[] = {"{", "", "{\"a", "{", "x", NULL, "{\"a\":7}"};
    size_t lens[] = {1, 0, 3, 1, 1, 0, 7};
    struct gram_vocab *gv;
    assert_int_equal(gram_vocab_new(pcs, lens, -1, &gv), OM_EINVAL);
    size_t badlens[] = {1, 0, 3, 1, 1, 2, 7};
    assert_int_equal(gram_vocab_new(pcs, badlens, 7, &gv), OM_EINVAL);
    assert_int_equal(gram_vocab_new(pcs, lens, 7, &gv), 0);
    uint8_t al[7];
    assert_int_equal(gram_state_allowed(st, gv, al), 4);
    static const uint8_t want[7] = {1, 0, 1, 1, 0, 0, 1};
    assert_memory_equal(al, want, 7);
    assert_int_equal(gram_state_allowed(cl, gv, al), 0);
    gram_vocab_free(gv);
    gram_vocab_free(NULL);
    gram_state_free(cl);
    gram_state_free(st);
    gram_state_free(NULL);
    gram_free(g);
    gram_free(NULL);
}

static void test_format(void **s)
{
    (void)s;
    char err[256];
    struct gram *g = (struct gram *)1;
    assert_int_equal(gram_new_format("null", 4, &g, err, sizeof(err)), 0);
    assert_null(g);
    assert_int_equal(gram_new_format(" \"\" ", 4, &g, err, sizeof(err)), 0);
    assert_null(g);
    assert_int_equal(gram_new_format("\"json\"", 6, &g, err, sizeof(err)), 0);
    assert_non_null(g);
    OK(g, "{\"x\":[]}");
    gram_free(g);
    const char *sch = "{\"type\":\"array\",\"maxItems\":1}";
    assert_int_equal(gram_new_format(sch, strlen(sch), &g, err, sizeof(err)), 0);
    OK(g, "[1]");
    gram_free(g);
    assert_int_equal(gram_new_format("\"xml\"", 5, &g, err, sizeof(err)), OM_EINVAL);
    assert_null(g);
    assert_string_equal(err, "invalid format: \"\\\"xml\\\"\"; expected \"json\" or a valid JSON "
                             "Schema object");
    assert_int_equal(gram_new_format("[1]", 3, &g, err, sizeof(err)), OM_EINVAL);
    assert_int_equal(gram_new_format("{bad", 4, &g, err, sizeof(err)), OM_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_format), cmocka_unit_test(test_object_props),
        cmocka_unit_test(test_arrays),      cmocka_unit_test(test_literals),
        cmocka_unit_test(test_unions_refs), cmocka_unit_test(test_strings),
        cmocka_unit_test(test_hostile),     cmocka_unit_test(test_state_api),
        cmocka_unit_test(test_int_ranges),  cmocka_unit_test(test_num_ranges),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
