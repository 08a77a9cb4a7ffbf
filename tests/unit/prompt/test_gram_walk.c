/* tests: prompt/gram — random walks. From the start state, repeatedly pick a
 * random byte that the grammar accepts (any of the 256, so multi-byte UTF-8
 * and escapes come up) until the text is complete; every completed text must
 * parse with jansson and validate against the schema (a small validator for
 * the subset gram compiles is below). Also checks that accepts() of
 * multi-byte pieces agrees with byte-by-byte advance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/om.h"
#include "engine/tok.h"
#include "format/gguf.h"
#include "prompt/gram.h"

static uint64_t rng = 0x12345678abcdefull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static const json_t *resolve(const json_t *root, const char *ref)
{
    if (strcmp(ref, "#") == 0)
        return root;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", ref + 2);
    const json_t *cur = root;
    for (char *tok = strtok(buf, "/"); tok && cur; tok = strtok(NULL, "/"))
        cur = json_object_get(cur, tok);
    return cur;
}

static size_t u8len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((uint8_t)*s & 0xC0) != 0x80;
    return n;
}

static bool type_ok(const char *t, const json_t *v)
{
    if (!strcmp(t, "string"))
        return json_is_string(v);
    if (!strcmp(t, "integer"))
        return json_is_integer(v);
    if (!strcmp(t, "number"))
        return json_is_number(v);
    if (!strcmp(t, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(t, "null"))
        return json_is_null(v);
    if (!strcmp(t, "object"))
        return json_is_object(v);
    if (!strcmp(t, "array"))
        return json_is_array(v);
    return false;
}

/* JSON Schema semantics for the subset (oneOf checked as anyOf, as the
 * grammar documents). */
static bool valid(const json_t *root, const json_t *s, const json_t *v, int depth)
{
    if (depth > 200 || !s)
        return false;
    if (json_is_true(s))
        return true;
    const json_t *k;
    if ((k = json_object_get(s, "$ref")))
        return valid(root, resolve(root, json_string_value(k)), v, depth + 1);
    if ((k = json_object_get(s, "const")) && !json_equal((json_t *)k, (json_t *)v))
        return false;
    if ((k = json_object_get(s, "enum"))) {
        size_t i;
        const json_t *e;
        bool any = false;
        json_array_foreach(k, i, e) any |= json_equal((json_t *)e, (json_t *)v);
        if (!any)
            return false;
    }
    const json_t *any = json_object_get(s, "anyOf");
    if (!any)
        any = json_object_get(s, "oneOf");
    if (any) {
        size_t i;
        const json_t *e;
        bool ok = false;
        json_array_foreach(any, i, e) ok |= valid(root, e, v, depth + 1);
        if (!ok)
            return false;
    }
    if ((k = json_object_get(s, "allOf"))) {
        size_t i;
        const json_t *e;
        json_array_foreach(k, i, e) if (!valid(root, e, v, depth + 1)) return false;
    }
    if ((k = json_object_get(s, "type"))) {
        if (json_is_string(k) && !type_ok(json_string_value(k), v))
            return false;
        if (json_is_array(k)) {
            size_t i;
            const json_t *e;
            bool ok = false;
            json_array_foreach(k, i, e) ok |= type_ok(json_string_value(e), v);
            if (!ok)
                return false;
        }
    }
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if ((k = json_object_get(s, "minimum")) && d < json_number_value(k))
            return false;
        if ((k = json_object_get(s, "maximum")) && d > json_number_value(k))
            return false;
        if ((k = json_object_get(s, "exclusiveMinimum")) && json_is_number(k) &&
            d <= json_number_value(k))
            return false;
        if ((k = json_object_get(s, "exclusiveMaximum")) && json_is_number(k) &&
            d >= json_number_value(k))
            return false;
    }
    if (json_is_string(v)) {
        size_t n = u8len(json_string_value(v));
        if ((k = json_object_get(s, "minLength")) && n < (size_t)json_integer_value(k))
            return false;
        if ((k = json_object_get(s, "maxLength")) && n > (size_t)json_integer_value(k))
            return false;
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v), i;
        const json_t *tuple = json_object_get(s, "prefixItems");
        const json_t *items = json_object_get(s, "items");
        if ((k = json_object_get(s, "minItems")) && n < (size_t)json_integer_value(k))
            return false;
        if ((k = json_object_get(s, "maxItems")) && n > (size_t)json_integer_value(k))
            return false;
        for (i = 0; i < n; i++) {
            const json_t *is = i < json_array_size(tuple) ? json_array_get(tuple, i)
                                                          : (tuple ? NULL : items);
            if (tuple && i >= json_array_size(tuple))
                is = items;
            if (is && !valid(root, is, json_array_get(v, i), depth + 1))
                return false;
        }
    }
    if (json_is_object(v)) {
        const json_t *props = json_object_get(s, "properties");
        const json_t *ap = json_object_get(s, "additionalProperties");
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            const json_t *ps = json_object_get(props, key);
            if (ps) {
                if (!valid(root, ps, val, depth + 1))
                    return false;
            } else if (json_is_false(ap)) {
                return false;
            } else if (json_is_object(ap) && !valid(root, ap, val, depth + 1)) {
                return false;
            }
        }
        size_t i;
        const json_t *r;
        json_array_foreach(json_object_get(s, "required"), i, r)
        {
            if (!json_object_get(v, json_string_value(r)))
                return false;
        }
    }
    return true;
}

static const char *const schemas[] = {
    NULL, /* format: "json" */
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},"
    "\"age\":{\"type\":\"integer\"},\"ok\":{\"type\":\"boolean\"}},\"required\":[\"name\",\"age\"]}",
    "{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"minItems\":1,\"maxItems\":4}",
    "{\"type\":\"object\",\"properties\":{\"color\":{\"enum\":[\"red\",\"green\",\"greenish\",7,null]},"
    "\"fixed\":{\"const\":{\"k\":[1,\"\\u00e9\"]}}},\"required\":[\"color\",\"fixed\"]}",
    "{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},"
    "{\"type\":\"array\",\"prefixItems\":[{\"type\":\"boolean\"},{\"type\":\"null\"}]}]}",
    "{\"$ref\":\"#/$defs/node\",\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{"
    "\"v\":{\"type\":[\"integer\",\"string\"]},\"kids\":{\"type\":\"array\",\"maxItems\":2,"
    "\"items\":{\"$ref\":\"#/$defs/node\"}}},\"required\":[\"v\"]}}}",
    "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\",\"maxLength\":3}}",
    "{\"allOf\":[{\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]},"
    "{\"properties\":{\"b\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}]}",
    "{\"type\":\"object\",\"properties\":{\"opt1\":{\"type\":\"null\"},\"opt2\":{\"type\":\"null\"},"
    "\"opt3\":{\"type\":\"boolean\"}}}",
    "{\"type\":\"object\",\"required\":[\"free\"]}",
    /* as pydantic writes it (titles, $defs, Optional as anyOf with null) */
    "{\"$defs\":{\"Pet\":{\"properties\":{\"name\":{\"title\":\"Name\",\"type\":\"string\"},"
    "\"age\":{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"null\"}],\"default\":null}},"
    "\"required\":[\"name\"],\"title\":\"Pet\",\"type\":\"object\"}},\"properties\":{\"pets\":"
    "{\"items\":{\"$ref\":\"#/$defs/Pet\"},\"title\":\"Pets\",\"type\":\"array\"}},"
    "\"required\":[\"pets\"],\"title\":\"PetList\",\"type\":\"object\"}",
    /* as zod-to-json-schema writes it */
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"temps\":"
    "{\"type\":\"array\",\"items\":{\"type\":\"number\"}}},\"required\":[\"city\",\"temps\"],"
    "\"additionalProperties\":false,\"$schema\":\"http://json-schema.org/draft-07/schema#\"}",
    "{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"minimum\":-40,"
    "\"exclusiveMaximum\":1000},\"maxItems\":5}",
    "{\"type\":\"array\",\"items\":{\"type\":\"number\",\"minimum\":-1.5,\"exclusiveMaximum\":2}}",
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"maxLength\":4},\"b\":"
    "{\"type\":\"integer\"}},\"anyOf\":[{\"required\":[\"a\"]},{\"required\":[\"b\"]}]}",
    /* 24 alternatives alive at once: the hashed dedup path */
    "{\"anyOf\":[{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":1},\"maxItems\":2},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":2},\"maxItems\":3},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":3},\"maxItems\":4},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":4},\"maxItems\":1},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":5},\"maxItems\":2},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":6},\"maxItems\":3},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":7},\"maxItems\":4},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":8},\"maxItems\":1},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":9},\"maxItems\":2},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":10},\"maxItems\":3},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":11},\"maxItems\":4},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":12},\"maxItems\":1},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":13},\"maxItems\":2},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":14},\"maxItems\":3},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":15},\"maxItems\":4},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":16},\"maxItems\":1},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":17},\"maxItems\":2},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":18},\"maxItems\":3},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":19},\"maxItems\":4},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":20},\"maxItems\":1},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":21},\"maxItems\":2},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":22},\"maxItems\":3},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":23},\"maxItems\":4},{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":24},\"maxItems\":1}]}",
    "{\"type\":\"object\",\"properties\":{\"age\":{\"type\":\"integer\",\"minimum\":18,"
    "\"maximum\":120},\"n\":{\"type\":\"integer\",\"exclusiveMinimum\":0}},"
    "\"required\":[\"age\",\"n\"]}",
};

/* Picks a random accepted byte; after `late` steps prefer bytes that close
 * things so that walks end. Returns -1 when none is accepted. */
static int pick(const struct gram_state *st, bool late)
{
    uint64_t m[4];
    gram_state_next_bytes(st, m);
    int cand[256], n = 0, close[8], nc = 0;
    for (int b = 0; b < 256; b++) {
        bool in = (m[b >> 6] >> (b & 63)) & 1;
        char c = (char)b;
        assert_int_equal(in, gram_state_accepts(st, &c, 1));
        if (!in)
            continue;
        cand[n++] = b;
        if (late && strchr("\"}]0ln", b) && b)
            close[nc++] = b;
    }
    if (n == 0)
        return -1;
    if (nc && rnd() % 8)
        return close[rnd() % (unsigned)nc];
    /* printable ASCII most of the time, any accepted byte otherwise */
    for (int tries = 0; tries < 4; tries++) {
        int b = cand[rnd() % (unsigned)n];
        if ((b >= 0x20 && b < 0x7f) || tries == 3 || rnd() % 4 == 0)
            return b;
    }
    return cand[0];
}

static void walk_schema(const char *schema, int walks)
{
    char err[256];
    struct gram *g = NULL;
    int rc = schema ? gram_new_schema(schema, strlen(schema), &g, err, sizeof(err))
                    : gram_new_json(&g, err, sizeof(err));
    if (rc)
        fprintf(stderr, "%s: %s\n", schema, err);
    assert_int_equal(rc, 0);
    json_t *sj = schema ? json_loads(schema, 0, NULL) : json_pack("{s:s}", "type", "object");
    assert_non_null(sj);
    struct gram_state *st = gram_state_new(g);
    char *buf = om_xmalloc(1 << 16);
    int completed = 0;
    for (int w = 0; w < walks; w++) {
        gram_state_reset(st);
        size_t n = 0;
        bool done = false;
        while (n < (1 << 16) - 1) {
            if (gram_state_complete(st) && (rnd() % 4 == 0 || n > 600)) {
                done = true;
                break;
            }
            int b = pick(st, n > 200);
            if (b < 0)
                break;
            buf[n] = (char)b;
            assert_int_equal(gram_state_advance(st, buf + n, 1), 0);
            n++;
        }
        assert_true(done || gram_state_complete(st));
        buf[n] = 0;
        json_error_t je;
        json_t *v = json_loadb(buf, n, JSON_DECODE_ANY, &je);
        if (!v || !valid(sj, sj, v, 0))
            fprintf(stderr, "walk %d: %s\n  -> %s\n", w, buf, v ? "invalid" : je.text);
        assert_non_null(v);
        assert_true(valid(sj, sj, v, 0));
        json_decref(v);
        completed++;
        /* chunked accepts() agrees with the byte walk */
        struct gram_state *s2 = gram_state_new(g);
        for (size_t i = 0; i < n;) {
            size_t k = 1 + rnd() % 7;
            if (k > n - i)
                k = n - i;
            assert_true(gram_state_accepts(s2, buf + i, k));
            assert_int_equal(gram_state_advance(s2, buf + i, k), 0);
            i += k;
        }
        assert_true(gram_state_complete(s2));
        gram_state_free(s2);
    }
    assert_int_equal(completed, walks);
    free(buf);
    gram_state_free(st);
    json_decref(sj);
    gram_free(g);
}

static void test_walks(void **s)
{
    (void)s;
    int walks = getenv("OM_TEST_QUICK") ? 20 : 150;
    for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
        walk_schema(schemas[i], walks);
}

/* accepts() over a synthetic vocabulary: agrees with a clone-and-advance
 * oracle, and is fast enough for a sampler. */
static void test_vocab_scan(void **s)
{
    (void)s;
    const char *sch = schemas[1];
    char err[256];
    struct gram *g;
    assert_int_equal(gram_new_schema(sch, strlen(sch), &g, err, sizeof(err)), 0);
    enum { NV = 20000 };
    static char tok[NV][8];
    static const char alpha[] = "{}[]\":, \n0123456789abcdeilmnorstuy-.\\";
    for (int i = 0; i < NV; i++) {
        int len = 1 + (int)(rnd() % 6);
        for (int j = 0; j < len; j++)
            tok[i][j] = alpha[rnd() % (sizeof(alpha) - 1)];
        tok[i][len] = 0;
    }
    const char *pcs[NV];
    size_t lens[NV];
    for (int i = 0; i < NV; i++) {
        pcs[i] = tok[i];
        lens[i] = strlen(tok[i]);
    }
    struct gram_vocab *gv;
    assert_int_equal(gram_vocab_new(pcs, lens, NV, &gv), 0);
    assert_int_equal(gram_vocab_n(gv), NV);
    static uint8_t allowed[NV];
    struct gram_state *st = gram_state_new(g);
    const char *prefix[] = {"", "{", "{\"name\"", "{\"name\":\"ab", "{\"name\":\"x\",\"age\":1"};
    for (size_t p = 0; p < 5; p++) {
        gram_state_reset(st);
        assert_int_equal(gram_state_advance(st, prefix[p], strlen(prefix[p])), 0);
        uint64_t t0 = om_time_ns();
        int acc = 0;
        for (int i = 0; i < NV; i++)
            acc += gram_state_accepts(st, tok[i], strlen(tok[i]));
        uint64_t dt = om_time_ns() - t0;
        int oracle = 0;
        for (int i = 0; i < NV; i++) {
            struct gram_state *c = gram_state_clone(st);
            oracle += gram_state_advance(c, tok[i], strlen(tok[i])) == 0;
            gram_state_free(c);
        }
        assert_int_equal(acc, oracle);
        t0 = om_time_ns();
        int32_t na = gram_state_allowed(st, gv, allowed);
        uint64_t dt2 = om_time_ns() - t0;
        assert_int_equal(na, acc);
        for (int i = 0; i < NV; i++)
            assert_int_equal(allowed[i], gram_state_accepts(st, tok[i], strlen(tok[i])));
        printf("prefix %-24s accepted %5d/%d in %.2f ms (trie mask %.2f ms)\n", prefix[p], acc, NV,
               (double)dt / 1e6, (double)dt2 / 1e6);
    }
    gram_state_free(st);
    gram_vocab_free(gv);
    gram_free(g);
}

/* Token-level walks with a real vocabulary (GPT-2's, 50k byte-level BPE
 * pieces that cross JSON structure like "\":" or "},"): pick random accepted
 * tokens until complete; the text must validate. Also times a full scan. */
static void test_real_vocab(void **s)
{
    (void)s;
    const char *path = OM_SHARED_DIR "/models/vocab/ggml-vocab-gpt-2.gguf";
    gguf_file *gf;
    tok_vocab *v;
    char err[256];
    if (gguf_open(path, &gf, err, sizeof(err)) != 0) {
        fprintf(stderr, "SKIP test_real_vocab: %s not readable (%s)\n", path, err);
        skip();
    }
    assert_int_equal(tok_vocab_load(gf, &v, err, sizeof(err)), 0);
    gguf_close(gf);
    int32_t nv = tok_n_vocab(v);
    const char *sch = schemas[1];
    json_t *sj = json_loads(sch, 0, NULL);
    struct gram *g;
    assert_int_equal(gram_new_schema(sch, strlen(sch), &g, err, sizeof(err)), 0);
    struct gram_state *st = gram_state_new(g);
    int32_t *ok = om_xmalloc((size_t)nv * sizeof(int32_t));
    const char **pcs = om_xmalloc((size_t)nv * sizeof(char *));
    size_t *lens = om_xmalloc((size_t)nv * sizeof(size_t));
    for (int32_t id = 0; id < nv; id++)
        pcs[id] = tok_piece(v, id, 0, &lens[id]);
    struct gram_vocab *gv;
    assert_int_equal(gram_vocab_new(pcs, lens, nv, &gv), 0);
    uint8_t *allowed = om_xmalloc((size_t)nv);
    uint64_t trie_ns = 0;
    char *buf = om_xmalloc(1 << 14);
    int walks = getenv("OM_TEST_QUICK") ? 2 : 12;
    uint64_t scan_ns = 0, scans = 0;
    for (int w = 0; w < walks; w++) {
        gram_state_reset(st);
        size_t n = 0;
        for (int step = 0; step < 400; step++) {
            if (gram_state_complete(st) && (rnd() % 3 == 0 || step > 150))
                break;
            uint64_t t0 = om_time_ns();
            int nok = 0, nclose = 0;
            for (int32_t id = 0; id < nv; id++) {
                size_t len;
                const char *pc = tok_piece(v, id, 0, &len);
                if (len && gram_state_accepts(st, pc, len))
                    ok[nok++] = id;
            }
            scan_ns += om_time_ns() - t0;
            scans++;
            t0 = om_time_ns();
            int32_t na = gram_state_allowed(st, gv, allowed);
            trie_ns += om_time_ns() - t0;
            assert_int_equal(na, nok);
            for (int i = 0; i < nok; i++)
                assert_int_equal(allowed[ok[i]], 1);
            if (nok == 0 && gram_state_complete(st))
                break; /* nothing may follow, e.g. after "} " */
            assert_true(nok > 0);
            int32_t pickid = ok[rnd() % (unsigned)nok];
            if (step > 60) { /* steer towards an end */
                for (int i = 0; i < nok; i++) {
                    size_t len;
                    const char *pc = tok_piece(v, ok[i], 0, &len);
                    if (strchr("\"}]", pc[0]) && len < 3)
                        ok[nclose++] = ok[i];
                }
                if (nclose)
                    pickid = ok[rnd() % (unsigned)nclose];
            }
            size_t len;
            const char *pc = tok_piece(v, pickid, 0, &len);
            assert_true(n + len < (1 << 14));
            assert_int_equal(gram_state_advance(st, pc, len), 0);
            memcpy(buf + n, pc, len);
            n += len;
        }
        assert_true(gram_state_complete(st));
        buf[n] = 0;
        json_error_t je;
        json_t *val = json_loadb(buf, n, 0, &je);
        if (!val || !valid(sj, sj, val, 0))
            fprintf(stderr, "token walk: %s -> %s\n", buf, val ? "invalid" : je.text);
        assert_non_null(val);
        assert_true(valid(sj, sj, val, 0));
        json_decref(val);
    }
    printf("gpt-2 vocab (%d tokens), average over %llu steps: accepts() per token %.2f ms, "
           "trie mask %.2f ms\n",
           nv, (unsigned long long)scans, (double)scan_ns / 1e6 / (double)scans,
           (double)trie_ns / 1e6 / (double)scans);
    gram_vocab_free(gv);
    free(allowed);
    free(pcs);
    free(lens);
    free(buf);
    free(ok);
    gram_state_free(st);
    gram_free(g);
    json_decref(sj);
    tok_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walks),
        cmocka_unit_test(test_vocab_scan),
        cmocka_unit_test(test_real_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
