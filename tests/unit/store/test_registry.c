/* Registry pulls against the Node test registry (tests/js/lib/registry.mjs,
 * started as a child process): token auth and the cross-host 307, resume
 * after a dropped connection or a cancel, a corrupted blob refused, hostile
 * manifests refused with nothing written, a replaced tag's unused layers
 * removed, shared concurrent pulls. Skips loudly when node is not installed. */
#include "store/test_registry_common.h"

static void test_pull(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_pull");
    json_decref(ctl("POST", "/_test/reset", "{}"));
    struct prog p;
    prog_init(&p);
    struct reg_opts o = opts(g_keyA);
    char err[512] = "";
    int rc = reg_pull(r, g_name, &o, on_progress, &p, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "pull: %s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(prog_status(&p, 0), "pulling manifest");
    assert_string_equal(prog_status(&p, json_array_size(p.lines) - 1), "success");
    assert_true(prog_has(&p, "verifying sha256 digest"));
    assert_true(prog_has(&p, "writing manifest"));
    char st[64];
    snprintf(st, sizeof st, "pulling %.12s", g_layer_digest + 7);
    assert_true(prog_has(&p, st));
    assert_blob_equals_file(r, g_layer_digest, g_layer_path);
    assert_blob_equals_file(r, g_config_digest, g_config_path);
    struct stat sb;
    size_t cfg_size = (stat(g_config_path, &sb), (size_t)sb.st_size);
    assert_int_equal(stat_get("bytesServed"), LAYER_SIZE + cfg_size);
    assert_true(stat_get("tokenRequests") >= 1);
    assert_true(stat_get("dataRequests") >= LAYER_SIZE / (256 * 1024));
    assert_int_equal(count_partials("s_pull"), 0);
    /* one pull reuses its connections: manifest, 401, token, HEADs, GETs */
    json_int_t reqs = stat_get("requests"), conns = stat_get("connections");
    assert_true(reqs >= 7);
    assert_true(conns <= 2);
    struct store_model *m = NULL;
    assert_int_equal(store_model_get(r, g_name, &m, err, sizeof err), 0);
    store_model_free(m);

    /* a registry that redirects blob HEADs too: the size comes from the data host */
    store_close(r);
    r = open_store("s_pull_headredir");
    reg_config("{\"redirectHead\":true}");
    json_decref(ctl("POST", "/_test/reset", "{}"));
    rc = reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err);
    reg_config("{\"redirectHead\":false}");
    if (rc) fprintf(stderr, "pull (HEAD redirected): %s\n", err);
    assert_int_equal(rc, 0);
    assert_blob_equals_file(r, g_layer_digest, g_layer_path);
    assert_true(stat_get("dataRequests") >= 2 + LAYER_SIZE / (256 * 1024)); /* the HEADs went there */
    store_close(r);
    r = open_store("s_pull");

    /* again: every blob is a cache hit, reported complete at once */
    prog_free(&p);
    prog_init(&p);
    json_decref(ctl("POST", "/_test/reset", "{}"));
    assert_int_equal(reg_pull(r, g_name, &o, on_progress, &p, NULL, err, sizeof err), 0);
    assert_int_equal(stat_get("bytesServed"), 0);
    int found = 0;
    for (size_t i = 0; i < json_array_size(p.lines); i++) {
        json_t *l = json_array_get(p.lines, i);
        if (strcmp(prog_status(&p, i), st) == 0) {
            found = 1;
            assert_int_equal(json_integer_value(json_object_get(l, "completed")), LAYER_SIZE);
            assert_int_equal(json_integer_value(json_object_get(l, "total")), LAYER_SIZE);
        }
    }
    assert_true(found);
    prog_free(&p);
    store_close(r);
}

static void test_pull_resume(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_resume");
    char err[512] = "";
    /* the connection drops after 1.5 MB and no retries are allowed: fails, partials stay */
    reg_config("{\"failAfterBytes\":1500000}");
    struct reg_opts o = opts(g_keyA);
    o.max_tries = 1;
    assert_int_not_equal(reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err), 0);
    assert_true(count_partials("s_resume") >= 2);
    assert_false(store_blob_exists(r, g_layer_digest));

    json_decref(ctl("POST", "/_test/reset", "{}"));
    o.max_tries = 0;
    int rc = reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "resumed pull: %s\n", err);
    assert_int_equal(rc, 0);
    json_int_t served = stat_get("bytesServed");
    assert_true(served > 0);
    assert_true(served < LAYER_SIZE - 1000000); /* at least the 1.5 MB minus parts in flight */
    assert_blob_equals_file(r, g_layer_digest, g_layer_path);
    assert_int_equal(count_partials("s_resume"), 0);
    store_close(r);

    /* a drop within one pull is retried and the pull succeeds */
    r = open_store("s_retry");
    json_decref(ctl("POST", "/_test/reset", "{}"));
    reg_config("{\"failAfterBytes\":1000000}");
    assert_int_equal(reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(stat_get("drops"), 1);
    assert_blob_equals_file(r, g_layer_digest, g_layer_path);
    store_close(r);
}

static void test_pull_corrupt(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_corrupt");
    reg_config("{\"corrupt\":true}");
    char err[512] = "";
    struct reg_opts o = opts(g_keyA);
    int rc = reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err);
    reg_config("{\"corrupt\":false}");
    assert_int_not_equal(rc, 0);
    char want[200];
    snprintf(want, sizeof want, "digest mismatch, file must be downloaded again: want %s, got sha256:", g_layer_digest);
    assert_memory_equal(err, want, strlen(want));
    assert_false(store_blob_exists(r, g_layer_digest));
    assert_int_equal(count_partials("s_corrupt"), 0);
    struct store_name n;
    assert_int_equal(store_name_parse(g_name, &n), 0);
    char *bytes = NULL;
    assert_int_equal(store_manifest_read(r, &n, &bytes, NULL, NULL, NULL), OM_ENOTFOUND);
    store_close(r);
}

struct pull_arg { struct store_root *r; int rc; char err[512]; };

static void *pull_thread(void *arg)
{
    struct pull_arg *a = arg;
    struct reg_opts o = opts(g_keyA);
    a->rc = reg_pull(a->r, g_name, &o, NULL, NULL, NULL, a->err, sizeof a->err);
    return NULL;
}

static void test_concurrent_pulls(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_concurrent");
    json_decref(ctl("POST", "/_test/reset", "{}"));
    struct pull_arg a[3] = { { .r = r }, { .r = r }, { .r = r } };
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, pull_thread, &a[i]);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        if (a[i].rc) fprintf(stderr, "pull %d: %s\n", i, a[i].err);
        assert_int_equal(a[i].rc, 0);
    }
    struct stat sb;
    stat(g_config_path, &sb);
    /* one download of each blob, shared by the three pulls */
    assert_int_equal(stat_get("bytesServed"), LAYER_SIZE + sb.st_size);
    assert_blob_equals_file(r, g_layer_digest, g_layer_path);
    store_close(r);
}

struct cancel_ud { volatile int cancel; int64_t at_ns; };

static void cancel_on_progress(void *ud, const json_t *st)
{
    struct cancel_ud *c = ud;
    json_int_t done = json_integer_value(json_object_get(st, "completed"));
    json_int_t total = json_integer_value(json_object_get(st, "total"));
    if (!c->cancel && done >= 1000000 && done < total) {
        c->cancel = 1;
        c->at_ns = (int64_t)om_time_ns();
    }
}

static void test_cancel(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_cancel");
    reg_config("{\"chunkDelayMs\":40}");
    /* B pulls the same model at the same time and is not cancelled */
    struct pull_arg b = { .r = r };
    pthread_t th;
    pthread_create(&th, NULL, pull_thread, &b);
    struct cancel_ud c = { 0 };
    char err[512] = "";
    struct reg_opts o = opts(g_keyA);
    int rc = reg_pull(r, g_name, &o, cancel_on_progress, &c, &c.cancel, err, sizeof err);
    int64_t took_ms = ((int64_t)om_time_ns() - c.at_ns) / 1000000;
    assert_int_equal(rc, OM_ECANCELED);
    assert_true(c.cancel);
    assert_true(took_ms < 1000);
    pthread_join(th, NULL);
    if (b.rc) fprintf(stderr, "pull B: %s\n", b.err);
    assert_int_equal(b.rc, 0);
    assert_blob_equals_file(r, g_layer_digest, g_layer_path);
    store_close(r);

    /* cancelled alone: the partial download stays and a later pull resumes it */
    r = open_store("s_cancel2");
    memset(&c, 0, sizeof c);
    rc = reg_pull(r, g_name, &o, cancel_on_progress, &c, &c.cancel, err, sizeof err);
    assert_int_equal(rc, OM_ECANCELED);
    assert_true(count_partials("s_cancel2") >= 2);
    reg_config("{\"chunkDelayMs\":0}");
    usleep(200000); /* let the registry notice the closed connections */
    json_decref(ctl("POST", "/_test/reset", "{}"));
    rc = reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "pull after cancel: %s\n", err);
    assert_int_equal(rc, 0);
    json_int_t served = stat_get("bytesServed");
    if (served >= LAYER_SIZE - 500000 || getenv("OM_TEST_VERBOSE")) fprintf(stderr, "served %lld after a cancel\n", (long long)served);
    assert_true(served < LAYER_SIZE - 500000); /* >= 1 MB was kept, minus parts in flight */
    assert_blob_equals_file(r, g_layer_digest, g_layer_path);
    assert_int_equal(count_partials("s_cancel2"), 0);
    store_close(r);
}

static void test_bad_manifests(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_bad");
    int before = count_files("s_bad");
    static const struct { const char *body, *err; } cases[] = {
        { "not json", "pull model manifest: manifest is not a JSON object" },
        { "[1,2]", "pull model manifest: manifest is not a JSON object" },
        { "{\"layers\":{}}", "pull model manifest: manifest: \"layers\" is not an array" },
        { "{\"layers\":[{\"digest\":\"sha256:../../../../etc/passwd\",\"size\":1}]}",
          "pull model manifest: manifest layer 0: invalid digest" },
        { "{\"layers\":[{\"size\":1}]}", "pull model manifest: manifest layer 0: invalid digest" },
        /* a valid digest the registry does not have: the blob HEAD is a 404 */
        { "{\"layers\":[{\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"size\":1}]}",
          "file does not exist" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *req = json_pack("{s:s,s:s,s:s}", "repo", "library/bad", "tag", "latest", "body", cases[i].body);
        char *body = json_dumps(req, 0);
        json_decref(ctl("POST", "/_test/manifest", body));
        free(body);
        json_decref(req);
        char err[512] = "", name[400];
        snprintf(name, sizeof name, "%s/library/bad:latest", g_url + 7);
        struct reg_opts o = opts(g_keyA);
        int rc = reg_pull(r, name, &o, NULL, NULL, NULL, err, sizeof err);
        if (rc == 0 || strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
            fprintf(stderr, "case %zu: rc %d err \"%s\"\n", i, rc, err);
        assert_int_not_equal(rc, 0);
        assert_memory_equal(err, cases[i].err, strlen(cases[i].err));
        assert_int_equal(count_files("s_bad"), before); /* nothing written */
    }
    store_close(r);
}

static void seed_one(const char *repo, const char *layer_path, char digest_out[72])
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"repo\":\"%s\",\"tag\":\"latest\",\"layers\":[{\"mediaType\":"
             "\"application/vnd.ollama.image.model\",\"path\":\"%s\"}],\"config\":{\"mediaType\":"
             "\"application/vnd.docker.container.image.v1+json\",\"path\":\"%s\"}}",
             repo, layer_path, g_config_path);
    json_t *seed = ctl("POST", "/_test/seed", body);
    json_t *mf = json_object_get(seed, "manifest");
    snprintf(digest_out, 72, "%s",
             json_string_value(json_object_get(json_array_get(json_object_get(mf, "layers"), 0), "digest")));
    json_decref(seed);
}

static void test_pull_replaces(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_replace");
    char pa[400], pb[400], da[72], db[72], err[512] = "", name[400];
    unsigned char buf[100000];
    snprintf(pa, sizeof pa, "%s/swap_a.bin", g_base);
    snprintf(pb, sizeof pb, "%s/swap_b.bin", g_base);
    RAND_bytes(buf, sizeof buf);
    write_file(pa, buf, sizeof buf);
    RAND_bytes(buf, sizeof buf);
    write_file(pb, buf, sizeof buf);
    snprintf(name, sizeof name, "%s/library/swap:latest", g_url + 7);
    struct reg_opts o = opts(g_keyA);
    seed_one("library/swap", pa, da);
    assert_int_equal(reg_pull(r, name, &o, NULL, NULL, NULL, err, sizeof err), 0);
    assert_true(store_blob_exists(r, da));

    seed_one("library/swap", pb, db); /* the tag now names another layer */
    struct prog p;
    prog_init(&p);
    assert_int_equal(reg_pull(r, name, &o, on_progress, &p, NULL, err, sizeof err), 0);
    assert_true(prog_has(&p, "removing unused layers"));
    assert_false(store_blob_exists(r, da));
    assert_true(store_blob_exists(r, db));
    assert_true(store_blob_exists(r, g_config_digest)); /* still used */
    prog_free(&p);

    /* with no_prune the replaced layer stays */
    seed_one("library/swap", pa, da);
    o.no_prune = 1;
    prog_init(&p);
    assert_int_equal(reg_pull(r, name, &o, on_progress, &p, NULL, err, sizeof err), 0);
    assert_false(prog_has(&p, "removing unused layers"));
    assert_true(store_blob_exists(r, db));
    prog_free(&p);
    store_close(r);
}

/* Unusable part records (garbage, gaps) are dropped and the blob fetched
 * whole; records that claim bytes the file does not hold end in a digest
 * mismatch that deletes them, and the next pull succeeds. */
static void test_bad_partials(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_badpart");
    char blob[4096], p[4200], err[512] = "";
    assert_int_equal(store_blob_path(r, g_layer_digest, blob, sizeof blob), 0);
    static const char *recs[][2] = {
        { "-partial-0", "garbage" },
        { "-partial-0", "{\"N\":0,\"Offset\":0,\"Size\":100,\"Completed\":100}\n" }, /* -partial-2 leaves a gap */
    };
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s%s", blob, recs[i][0]);
        write_file(p, recs[i][1], strlen(recs[i][1]));
        snprintf(p, sizeof p, "%s-partial-2", blob);
        const char *gap = "{\"N\":2,\"Offset\":500,\"Size\":100,\"Completed\":0}";
        write_file(p, gap, strlen(gap));
        snprintf(p, sizeof p, "%s-partial", blob);
        write_file(p, "0123456789", 10);
        json_decref(ctl("POST", "/_test/reset", "{}"));
        struct reg_opts o = opts(g_keyA);
        int rc = reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err);
        if (rc) fprintf(stderr, "pull over bad records %d: %s\n", i, err);
        assert_int_equal(rc, 0);
        assert_true(stat_get("bytesServed") >= LAYER_SIZE);
        assert_blob_equals_file(r, g_layer_digest, g_layer_path);
        assert_int_equal(count_partials("s_badpart"), 0);
        unlink(blob);
    }

    /* one record claiming the whole blob over a file of zeros */
    snprintf(p, sizeof p, "%s-partial-0", blob);
    char rec[200];
    snprintf(rec, sizeof rec, "{\"N\":0,\"Offset\":0,\"Size\":%d,\"Completed\":%d}\n", LAYER_SIZE, LAYER_SIZE);
    write_file(p, rec, strlen(rec));
    snprintf(p, sizeof p, "%s-partial", blob);
    char *zeros = calloc(1, LAYER_SIZE);
    write_file(p, zeros, LAYER_SIZE);
    free(zeros);
    struct reg_opts o = opts(g_keyA);
    assert_int_not_equal(reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err), 0);
    assert_non_null(strstr(err, "digest mismatch, file must be downloaded again"));
    assert_int_equal(count_partials("s_badpart"), 0);
    assert_int_equal(reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err), 0);
    assert_blob_equals_file(r, g_layer_digest, g_layer_path);
    store_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pull),
        cmocka_unit_test(test_pull_resume),
        cmocka_unit_test(test_pull_corrupt),
        cmocka_unit_test(test_concurrent_pulls),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_bad_manifests),
        cmocka_unit_test(test_pull_replaces),
        cmocka_unit_test(test_bad_partials),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
