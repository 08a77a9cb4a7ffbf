/* Registry client against the Node test registry: the identity key, push
 * (with and without upload redirects) then pull back identical bytes, a key
 * the registry does not know refused, a token realm on another host
 * refused, error messages (404, insecure http, unknown local model). */
#include "store/test_registry_common.h"

#include "store/registry_int.h"

static void test_keys(void **state)
{
    (void)state;
    char err[256], dir[400], path[500];
    struct reg_key *a = NULL, *b = NULL;
    snprintf(dir, sizeof dir, "%s/keyC", g_base);
    assert_int_not_equal(reg_key_load(dir, 0, &a, err, sizeof err), 0); /* missing, no create */
    assert_int_equal(reg_key_load(dir, 1, &a, err, sizeof err), 0);
    assert_int_equal(reg_key_load(dir, 0, &b, err, sizeof err), 0);   /* reloads the same key */
    assert_string_equal(reg_key_public(a), reg_key_public(b));
    assert_memory_equal(reg_key_public(a), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 36);
    snprintf(path, sizeof path, "%s/id_ed25519.pub", dir);
    size_t n = 0;
    char *pub = read_file(path, &n);
    assert_non_null(pub);
    assert_int_equal(n, strlen(reg_key_public(a)) + 1);
    assert_memory_equal(pub, reg_key_public(a), n - 1);
    free(pub);
    char sig[200];
    assert_int_equal(reg_key_sign(a, "x", 1, sig, sizeof sig), 0);
    assert_memory_equal(sig, reg_key_public(a) + 12, strlen(reg_key_public(a)) - 12);
    assert_int_equal(reg_key_sign(a, "x", 1, sig, 20), OM_ERANGE);
    reg_key_free(a);
    reg_key_free(b);
    snprintf(path, sizeof path, "%s/id_ed25519", dir);
    write_file(path, "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", 74);
    assert_int_equal(reg_key_load(dir, 1, &a, err, sizeof err), OM_EFORMAT);
    assert_non_null(strstr(err, "id_ed25519"));
}

static void test_push_then_pull(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_push");
    char err[512] = "", layer_d[72], cfg_d[72];
    size_t n = 2 * 1024 * 1024 + 77;
    unsigned char *layer = malloc(n);
    RAND_bytes(layer, (int)n);
    memcpy(layer, "GGUF", 4);
    assert_int_equal(store_blob_put_bytes(r, layer, n, layer_d), 0);
    const char *cfg = "{\"model_format\":\"gguf\",\"model_family\":\"llama\"}";
    assert_int_equal(store_blob_put_bytes(r, cfg, strlen(cfg), cfg_d), 0);
    char mf[1024], name[400];
    snprintf(mf, sizeof mf,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
             "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
             "\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"%s\",\"size\":%zu}]}",
             cfg_d, strlen(cfg), layer_d, n);
    snprintf(name, sizeof name, "%s/alice/pushed:v1", g_url + 7);
    struct store_name sn;
    assert_int_equal(store_name_parse(name, &sn), 0);
    assert_int_equal(store_manifest_write(r, &sn, mf, strlen(mf)), 0);

    json_decref(ctl("POST", "/_test/reset", "{}"));
    struct prog p;
    prog_init(&p);
    struct reg_opts o = opts(g_keyA);
    int rc = reg_push(r, name, &o, on_progress, &p, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "push: %s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(prog_status(&p, 0), "retrieving manifest");
    assert_true(prog_has(&p, "pushing manifest"));
    assert_string_equal(prog_status(&p, json_array_size(p.lines) - 1), "success");
    char st[64];
    snprintf(st, sizeof st, "pushing %.12s", layer_d + 7);
    assert_true(prog_has(&p, st));
    assert_true(stat_get("redirectPuts") >= (json_int_t)(n / (256 * 1024)));
    assert_int_equal(stat_get("commits"), 2);
    prog_free(&p);

    /* pushed again: every blob already there, nothing uploaded */
    json_decref(ctl("POST", "/_test/reset", "{}"));
    assert_int_equal(reg_push(r, name, &o, NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(stat_get("uploadBytes"), 0);

    /* without redirects the parts go in the PATCH bodies */
    reg_config("{\"redirect\":false}");
    char name2[400];
    snprintf(name2, sizeof name2, "%s/bob/direct:latest", g_url + 7);
    struct store_name sn2;
    assert_int_equal(store_name_parse(name2, &sn2), 0);
    unsigned char *layer2 = malloc(n);
    RAND_bytes(layer2, (int)n);
    char layer2_d[72], mf2[1024];
    assert_int_equal(store_blob_put_bytes(r, layer2, n, layer2_d), 0);
    snprintf(mf2, sizeof mf2,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
             "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
             "\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"%s\",\"size\":%zu}]}",
             cfg_d, strlen(cfg), layer2_d, n);
    assert_int_equal(store_manifest_write(r, &sn2, mf2, strlen(mf2)), 0);
    json_decref(ctl("POST", "/_test/reset", "{}"));
    rc = reg_push(r, name2, &o, NULL, NULL, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "push (no redirect): %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(stat_get("uploadBytes"), n);
    assert_int_equal(stat_get("redirectPuts"), 0);

    /* pull both back into an empty store (redirects off for one, on for the other) */
    struct store_root *r2 = open_store("s_pullback");
    rc = reg_pull(r2, name2, &o, NULL, NULL, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "pull back (no redirect): %s\n", err);
    assert_int_equal(rc, 0);
    reg_config("{\"redirect\":true}");
    rc = reg_pull(r2, name, &o, NULL, NULL, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "pull back: %s\n", err);
    assert_int_equal(rc, 0);
    char *bytes = NULL, path[4096];
    size_t len = 0;
    assert_int_equal(store_manifest_read(r2, &sn, &bytes, &len, NULL, NULL), 0);
    assert_int_equal(len, strlen(mf));
    assert_memory_equal(bytes, mf, len);
    free(bytes);
    assert_int_equal(store_blob_path(r2, layer_d, path, sizeof path), 0);
    size_t got_n = 0;
    char *got = read_file(path, &got_n);
    assert_int_equal(got_n, n);
    assert_memory_equal(got, layer, n);
    free(got);
    assert_int_equal(store_blob_path(r2, layer2_d, path, sizeof path), 0);
    got = read_file(path, &got_n);
    assert_int_equal(got_n, n);
    assert_memory_equal(got, layer2, n);
    free(got);
    free(layer);
    free(layer2);
    store_close(r2);
    store_close(r);
}

static void test_wrong_key(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_wrongkey");
    json_decref(ctl("POST", "/_test/reset", "{}"));
    char err[512] = "";
    struct reg_opts o = opts(g_keyB); /* created on first use, unknown to the registry */
    int rc = reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err);
    assert_int_not_equal(rc, 0);
    assert_memory_equal(err, "pull model manifest: 401: ", 26);
    assert_true(stat_get("tokenDenied") >= 1);
    assert_int_equal(stat_get("bytesServed"), 0);
    assert_false(store_blob_exists(r, g_layer_digest));
    store_close(r);
}

static void test_errors(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_errors");
    char err[512] = "", name[400];
    struct reg_opts o = opts(g_keyA);
    snprintf(name, sizeof name, "%s/library/nope:latest", g_url + 7);
    assert_int_equal(reg_pull(r, name, &o, NULL, NULL, NULL, err, sizeof err), OM_ENOTFOUND);
    assert_string_equal(err, "pull model manifest: file does not exist");
    /* http without insecure */
    snprintf(name, sizeof name, "%s/library/tiny:latest", g_url);
    o.insecure = 0;
    assert_int_not_equal(reg_pull(r, name, &o, NULL, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(err, "insecure protocol http");
    /* pushing a model that is not in the store */
    o.insecure = 1;
    assert_int_equal(reg_push(r, name, &o, NULL, NULL, NULL, err, sizeof err), OM_ENOTFOUND);
    assert_string_equal(err, "file does not exist");
    store_close(r);
}

static void test_realm_other_host(void **state)
{
    (void)state;
    NEED_NODE();
    struct store_root *r = open_store("s_realm");
    char cfg[400], err[512] = "";
    const char *port = strrchr(g_url, ':');
    snprintf(cfg, sizeof cfg, "{\"realm\":\"http://localhost%s/token\"}", port);
    reg_config(cfg);
    json_decref(ctl("POST", "/_test/reset", "{}"));
    struct reg_opts o = opts(g_keyA);
    int rc = reg_pull(r, g_name, &o, NULL, NULL, NULL, err, sizeof err);
    reg_config("{\"realm\":null}");
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, "realm host"));
    assert_int_equal(stat_get("tokenRequests"), 0); /* nothing signed went to the other host */
    store_close(r);
}

/* URL helpers behind the token request: Go's QueryEscape, relative
 * Locations, host comparison. Needs no registry. */
static void test_url_helpers(void **state)
{
    (void)state;
    char url[REG_URL_MAX] = "http://h:1/token";
    assert_int_equal(reg_url_add_query(url, sizeof url, "scope", "repository:library/m:pull"), 0);
    assert_int_equal(reg_url_add_query(url, sizeof url, "x", "a b~-._+&="), 0);
    assert_string_equal(url, "http://h:1/token?scope=repository%3Alibrary%2Fm%3Apull&x=a+b~-._%2B%26%3D");
    char small[24] = "http://h/t";
    assert_int_equal(reg_url_add_query(small, sizeof small, "key", "a-long-value"), OM_ERANGE);

    char out[REG_URL_MAX];
    assert_int_equal(reg_url_resolve("http://a:5/v2/x/blobs/uploads/", "/v2/x/blobs/uploads/u1?_state=z", out, sizeof out), 0);
    assert_string_equal(out, "http://a:5/v2/x/blobs/uploads/u1?_state=z");
    assert_int_equal(reg_url_resolve("http://a:5/v2/x", "https://cdn.example/obj?sig=1", out, sizeof out), 0);
    assert_string_equal(out, "https://cdn.example/obj?sig=1");

    char host[256];
    assert_int_equal(reg_url_host("http://127.0.0.1:8080/v2/", 0, host, sizeof host), 0);
    assert_string_equal(host, "127.0.0.1:8080");
    assert_int_equal(reg_url_host("http://127.0.0.1:8080/v2/", 1, host, sizeof host), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(reg_url_host("https://registry.ollama.ai/v2/token", 0, host, sizeof host), 0);
    assert_string_equal(host, "registry.ollama.ai");
    assert_int_not_equal(reg_url_host("not a url", 0, host, sizeof host), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_helpers),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_push_then_pull),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_realm_other_host),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
