/* tests: the inventory figures (src/cluster/cinv.c) — reading this node's
 * figures, the report's JSON and its round trip through cinv_parse, hostile
 * reports refused, and (on stories260K) the prefix hashes that sched reports
 * for what its slots' KV caches hold (sched_model.prefix_hash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "cluster/cinv.h"
#include "cluster/route.h"
#include "sched/sched_test_util.h"

#define STORIES OM_SHARED_DIR "/models/stories260K.gguf"

static sched *new_sched(int parallel)
{
    struct sched_config c;
    sched_config_default(&c);
    c.num_parallel = parallel;
    c.n_threads = 1;
    sched *s = NULL;
    char err[256];
    assert_int_equal(sched_new(&c, &s, err, sizeof(err)), 0);
    return s;
}

static void test_read_idle(void **state)
{
    (void)state;
    sched *s = new_sched(3);
    struct cinv v;
    memset(&v, 0x5a, sizeof(v));
    assert_int_equal(cinv_read(s, &v), 0);
    assert_true(v.cores >= 1);
    assert_int_equal(v.cores, (int)sysconf(_SC_NPROCESSORS_ONLN));
    assert_true(v.ram_total > v.ram_free);
    assert_true(v.ram_free > 0);
    assert_int_equal(v.n_loaded, 0);
    assert_int_equal(v.n_prefixes, 0);
    assert_int_equal(v.active, 0);
    assert_int_equal(v.queued, 0);
    assert_int_equal(v.parallel, 3);
    assert_true(v.tokens_per_s == 0);
    sched_free(s);

    s = new_sched(0); /* auto: 8 until a runner says otherwise */
    assert_int_equal(cinv_read(s, &v), 0);
    assert_int_equal(v.parallel, 8);
    sched_free(s);

    assert_int_equal(cinv_read(NULL, &v), 0);
    assert_true(v.ram_total > 0 && v.cores >= 1);
    assert_int_equal(v.n_loaded, 0);
}

static void fill(struct cinv *v)
{
    memset(v, 0, sizeof(*v));
    v->cores = 2;
    v->ram_total = 25769803776ll;
    v->ram_free = 1234567890ll;
    v->active = 3;
    v->queued = 1;
    v->parallel = 8;
    v->tokens_per_s = 30.5;
    v->n_loaded = 2;
    snprintf(v->loaded[0], CINV_NAME_MAX, "stories:latest");
    snprintf(v->loaded[1], CINV_NAME_MAX, "registry.ollama.ai/library/llama3:8b");
    v->n_prefixes = 3;
    v->prefixes[0] = 0xffffffffffffffffull; /* above 2^53: must survive as text */
    v->prefixes[1] = 1;
    v->prefixes[2] = route_prefix_hash("You are a helpful assistant.", 28);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    struct cinv v, w;
    fill(&v);
    json_t *j = cinv_json(&v);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "gpu")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "prefixes"), 0)),
                        "ffffffffffffffff");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "prefixes"), 1)),
                        "0000000000000001");
    assert_int_equal(json_integer_value(json_object_get(j, "ram_total")), 25769803776ll);
    /* through text, as it travels */
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_error_t je;
    json_t *back = json_loads(txt, 0, &je);
    free(txt);
    assert_non_null(back);
    /* the coordinator's fields are ignored by cinv_parse */
    json_object_set_new(back, "id", json_string("9f0c11aa22bb33cc"));
    json_object_set_new(back, "seq", json_integer(17));
    json_object_set_new(back, "transfers", json_array());
    char err[256] = "";
    memset(&w, 0x33, sizeof(w));
    assert_int_equal(cinv_parse(back, &w, err, sizeof(err)), 0);
    json_decref(back);
    assert_int_equal(w.cores, v.cores);
    assert_true(w.ram_total == v.ram_total && w.ram_free == v.ram_free);
    assert_int_equal(w.active, 3);
    assert_int_equal(w.queued, 1);
    assert_int_equal(w.parallel, 8);
    assert_true(w.tokens_per_s == 30.5);
    assert_int_equal(w.n_loaded, 2);
    assert_string_equal(w.loaded[0], v.loaded[0]);
    assert_string_equal(w.loaded[1], v.loaded[1]);
    assert_int_equal(w.n_prefixes, 3);
    for (int i = 0; i < 3; i++)
        assert_true(w.prefixes[i] == v.prefixes[i]);

    /* a minimal report (fields absent) is fine: zeros */
    json_t *empty = json_object();
    assert_int_equal(cinv_parse(empty, &w, err, sizeof(err)), 0);
    assert_int_equal(w.n_loaded + w.n_prefixes + w.cores, 0);
    /* tokens_per_s may come as an integer */
    json_object_set_new(empty, "tokens_per_s", json_integer(12));
    assert_int_equal(cinv_parse(empty, &w, err, sizeof(err)), 0);
    assert_true(w.tokens_per_s == 12);
    json_decref(empty);
}

/* cinv_parse on the report text must fail with OM_EFORMAT, naming `field`,
 * and leave the output zeroed. */
static void refused(const char *text, const char *field)
{
    json_error_t je;
    json_t *r = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!r)
        fail_msg("test JSON does not parse: %s: %s", text, je.text);
    struct cinv w;
    memset(&w, 0x77, sizeof(w));
    char err[256] = "";
    int rc = cinv_parse(r, &w, err, sizeof(err));
    json_decref(r);
    if (rc != OM_EFORMAT)
        fail_msg("accepted: %s", text);
    if (!strstr(err, field))
        fail_msg("error for %s does not name %s: %s", text, field, err);
    struct cinv zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&w, &zero, sizeof(w));
}

static void test_hostile(void **state)
{
    (void)state;
    refused("[1,2]", "object");
    refused("\"report\"", "object");
    refused("null", "object");
    refused("{\"cores\":\"2\"}", "cores");
    refused("{\"cores\":2.0}", "cores");
    refused("{\"cores\":-1}", "cores");
    refused("{\"cores\":100000000}", "cores");
    refused("{\"ram_total\":-5}", "ram_total");
    refused("{\"ram_total\":10,\"ram_free\":-1}", "ram_free");
    refused("{\"ram_total\":10,\"ram_free\":11}", "ram_free");
    refused("{\"ram_total\":9223372036854775807}", "ram_total");
    refused("{\"active\":-1}", "active");
    refused("{\"queued\":true}", "queued");
    refused("{\"parallel\":9999999999}", "parallel");
    refused("{\"tokens_per_s\":-0.5}", "tokens_per_s");
    refused("{\"tokens_per_s\":1e300}", "tokens_per_s");
    refused("{\"tokens_per_s\":\"fast\"}", "tokens_per_s");
    refused("{\"gpu\":7}", "gpu");
    refused("{\"loaded\":\"stories\"}", "loaded");
    refused("{\"loaded\":[\"a\",3]}", "loaded[1]");
    refused("{\"loaded\":[\"a\\u0000b\"]}", "loaded[0]");
    refused("{\"loaded\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\","
            "\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]}",
            "loaded");
    refused("{\"prefixes\":{}}", "prefixes");
    refused("{\"prefixes\":[12345]}", "prefixes[0]");
    refused("{\"prefixes\":[\"00000000000000ab\",\"abc\"]}", "prefixes[1]");
    refused("{\"prefixes\":[\"00000000000000ag\"]}", "prefixes[0]");
    refused("{\"prefixes\":[\"0000000000000000\"]}", "prefixes[0]");
    refused("{\"prefixes\":[\"000000000000000ab\"]}", "prefixes[0]");
    refused("{\"prefixes\":[\"-000000000000001\"]}", "prefixes[0]");
    refused("{\"prefixes\":[\" 00000000000001f\"]}", "prefixes[0]");
    /* one field wrong among good ones: nothing is kept */
    refused("{\"cores\":4,\"ram_total\":100,\"ram_free\":50,\"loaded\":[\"x\"],\"active\":-3}",
            "active");

    /* a name as long as allowed passes, one byte more does not */
    char name[CINV_NAME_MAX + 1];
    memset(name, 'n', sizeof(name));
    name[CINV_NAME_MAX] = 0;
    json_t *r = json_object();
    json_t *arr = json_array();
    json_array_append_new(arr, json_string(name));
    json_object_set_new(r, "loaded", arr);
    struct cinv w;
    char err[256];
    assert_int_equal(cinv_parse(r, &w, err, sizeof(err)), OM_EFORMAT);
    json_array_set_new(arr, 0, json_string(name + 1)); /* 511 bytes */
    assert_int_equal(cinv_parse(r, &w, err, sizeof(err)), 0);
    assert_int_equal((int)strlen(w.loaded[0]), CINV_NAME_MAX - 1);
    json_decref(r);

    /* 10^6 prefixes: refused on the array's length, before walking it */
    int big = tj_quick() ? 100000 : 1000000;
    r = json_object();
    arr = json_array();
    json_t *one = json_string("00000000deadbeef");
    for (int i = 0; i < big; i++)
        json_array_append(arr, one);
    json_decref(one);
    json_object_set_new(r, "prefixes", arr);
    uint64_t t0 = om_time_ns();
    assert_int_equal(cinv_parse(r, &w, err, sizeof(err)), OM_EFORMAT);
    assert_true(om_time_ns() - t0 < 50000000ull); /* no per-element work */
    assert_non_null(strstr(err, "prefixes"));
    /* exactly the maximum is fine */
    while (json_array_size(arr) > CINV_MAX_PREFIXES)
        json_array_remove(arr, json_array_size(arr) - 1);
    assert_int_equal(cinv_parse(r, &w, err, sizeof(err)), 0);
    assert_int_equal(w.n_prefixes, CINV_MAX_PREFIXES);
    assert_true(w.prefixes[CINV_MAX_PREFIXES - 1] == 0xdeadbeefull);
    json_decref(r);
}

static bool have_stories(void)
{
    if (access(STORIES, R_OK) == 0)
        return true;
    fprintf(stderr, "SKIP: %s is absent: the prefix-hash test needs it\n", STORIES);
    return false;
}

/* t: tj_init'ed by the caller. */
static sched_job *submit(sched *s, struct tjob *t, const char *text, uint64_t h)
{
    t->text = text;
    t->num_predict = 8;
    struct sched_model m = tj_model(STORIES);
    m.num_ctx = 256;
    m.prefix_hash = h;
    struct sched_job_cb cb = tj_cb(t);
    sched_job *j = NULL;
    assert_int_equal(sched_submit(s, SCHED_GENERATE, &m, &cb, &j), 0);
    return j;
}

static void finish(struct tjob *t, sched_job *j, int want_rc)
{
    assert_true(tj_wait(t, 30000));
    sched_job_release(j);
    assert_int_equal(t->res.rc, want_rc);
    tj_destroy(t);
}

static bool has(const struct cinv *v, uint64_t h)
{
    for (int i = 0; i < v->n_prefixes; i++)
        if (v->prefixes[i] == h)
            return true;
    return false;
}

static void test_prefixes_from_sched(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched(4);
    const char *a = "Once upon a time", *b = "The little dog";
    uint64_t ha = route_prefix_hash(a, strlen(a)), hb = route_prefix_hash(b, strlen(b));

    /* submitted together before the load: both start at once, in two slots */
    struct tjob ta, tb;
    tj_init(&ta);
    tj_init(&tb);
    sched_job *ja = submit(s, &ta, a, ha), *jb = submit(s, &tb, b, hb);
    struct cinv v;
    /* read while the runner works (thread safety; run under TSan/ASan too) */
    uint64_t t_end = om_time_ns() + 30000000000ull;
    for (int polls = 0; om_time_ns() < t_end; polls++) {
        assert_int_equal(cinv_read(s, &v), 0);
        assert_true(v.n_prefixes <= 2 && v.n_loaded <= 1);
        for (int i = 0; i < v.n_prefixes; i++)
            assert_true(v.prefixes[i] == ha || v.prefixes[i] == hb);
        pthread_mutex_lock(&tb.mu);
        bool done = tb.done;
        pthread_mutex_unlock(&tb.mu);
        if (done && polls > 0)
            break;
    }
    finish(&ta, ja, 0);
    finish(&tb, jb, 0);
    assert_int_equal(cinv_read(s, &v), 0);
    assert_int_equal(v.n_loaded, 1);
    assert_string_equal(v.loaded[0], "test:latest");
    assert_int_equal(v.parallel, 4);
    assert_int_equal(v.active + v.queued, 0);
    assert_true(v.tokens_per_s > 0);
    assert_int_equal(v.n_prefixes, 2);
    assert_true(has(&v, ha) && has(&v, hb));

    /* per model file, and the same figures straight from sched */
    uint64_t p[SCHED_MAX_PREFIXES];
    assert_int_equal(sched_prefixes(s, STORIES, p, SCHED_MAX_PREFIXES), 2);
    assert_int_equal(sched_prefixes(s, "/no/such/model.gguf", p, SCHED_MAX_PREFIXES), 0);
    assert_int_equal(sched_prefixes(s, NULL, p, 1), 1); /* cap respected: the newest */

    /* the same conversation again: no duplicate */
    struct tjob t2;
    tj_init(&t2);
    sched_job *j2 = submit(s, &t2, a, ha);
    finish(&t2, j2, 0);
    assert_int_equal(cinv_read(s, &v), 0);
    assert_int_equal(v.n_prefixes, 2);
    assert_true(v.prefixes[0] == ha); /* most recently started first */

    /* a job without a hash adds nothing; sharing only BOS with a and b, it takes an
     * empty slot and leaves both their caches (and hashes) in place */
    struct tjob t3;
    tj_init(&t3);
    sched_job *j3 = submit(s, &t3, "Lily and Ben went to the park", 0);
    finish(&t3, j3, 0);
    assert_int_equal(cinv_read(s, &v), 0);
    assert_int_equal(v.n_prefixes, 2);
    assert_true(v.prefixes[0] == ha && has(&v, hb));

    /* a cancelled job's cache is dropped: its hash is not reported */
    uint64_t hc = route_prefix_hash("One day", 7);
    struct tjob t4;
    tj_init(&t4);
    t4.stop_after_pieces = 1;
    sched_job *j4 = submit(s, &t4, "One day, a girl named Sue", hc);
    finish(&t4, j4, OM_ECANCELED);
    assert_int_equal(cinv_read(s, &v), 0);
    assert_false(has(&v, hc));
    sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_idle),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_prefixes_from_sched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
