/* Registry client against the Node test registry (tests/js/lib/registry.mjs,
 * started as a child process): pull with token auth and the cross-host 307,
 * resume after a dropped connection, a corrupted blob refused, push then pull
 * back, a key the registry does not know refused, the 404 message, shared
 * concurrent pulls. Skips loudly when node is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "base/om.h"
#include "store/models.h"
#include "store/registry.h"

extern char **environ;

#define LAYER_SIZE (3 * 1024 * 1024 + 1234)

static char g_base[256], g_url[256], g_name[300], g_keyA[300], g_keyB[300];
static char g_layer_path[300], g_config_path[300], g_layer_digest[72], g_config_digest[72];
static pid_t g_node = -1;
static int g_stdin = -1;
static int g_have_node;

/* ---- helpers ---- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    return remove(p);
}

static void rm_rf(const char *p) { nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int find_node(char *out, size_t cap)
{
    const char *env = getenv("OM_NODE");
    if (env && access(env, X_OK) == 0) { snprintf(out, cap, "%s", env); return 0; }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/node", d);
        if (access(out, X_OK) == 0) return 0;
    }
    return -1;
}

struct sbuf { char *p; size_t n, cap; };

static size_t sbuf_write(char *d, size_t sz, size_t n, void *ud)
{
    struct sbuf *b = ud;
    size_t k = sz * n;
    if (b->n + k + 1 > b->cap) return 0;
    memcpy(b->p + b->n, d, k);
    b->n += k;
    b->p[b->n] = 0;
    return k;
}

/* A control request to the test registry; returns the parsed JSON reply. */
static json_t *ctl(const char *method, const char *path, const char *body)
{
    char url[512], out[65536];
    struct sbuf b = { out, 0, sizeof out };
    out[0] = 0;
    snprintf(url, sizeof url, "%s%s", g_url, path);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sbuf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    assert_int_equal(cc, CURLE_OK);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    return j;
}

static json_int_t stat_get(const char *key)
{
    json_t *s = ctl("GET", "/_test/stats", NULL);
    json_int_t v = json_integer_value(json_object_get(s, key));
    json_decref(s);
    return v;
}

static void reg_config(const char *json)
{
    json_decref(ctl("POST", "/_test/config", json));
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)sz + 1);
    *n = fread(p, 1, (size_t)sz, f);
    fclose(f);
    return p;
}

/* Collected progress lines. */
struct prog { json_t *lines; pthread_mutex_t mu; };

static void on_progress(void *ud, const json_t *st)
{
    struct prog *p = ud;
    pthread_mutex_lock(&p->mu);
    json_array_append_new(p->lines, json_deep_copy(st));
    pthread_mutex_unlock(&p->mu);
}

static void prog_init(struct prog *p) { p->lines = json_array(); pthread_mutex_init(&p->mu, NULL); }
static void prog_free(struct prog *p) { json_decref(p->lines); pthread_mutex_destroy(&p->mu); }

static const char *prog_status(const struct prog *p, size_t i)
{
    return json_string_value(json_object_get(json_array_get(p->lines, i), "status"));
}

static int prog_has(const struct prog *p, const char *status)
{
    for (size_t i = 0; i < json_array_size(p->lines); i++)
        if (strcmp(prog_status(p, i), status) == 0) return 1;
    return 0;
}

static struct reg_opts opts(const char *keydir)
{
    struct reg_opts o = { .insecure = 1, .key_dir = keydir, .part_size = 256 * 1024,
                          .max_parallel = 4, .retry_delay_ms = 50 };
    return o;
}

static struct store_root *open_store(const char *tag)
{
    char dir[400], err[256];
    snprintf(dir, sizeof dir, "%s/%s", g_base, tag);
    struct store_root *r = NULL;
    assert_int_equal(store_open(dir, &r, err, sizeof err), 0);
    return r;
}

static void assert_blob_equals_file(struct store_root *r, const char *digest, const char *file)
{
    char path[4096];
    assert_int_equal(store_blob_path(r, digest, path, sizeof path), 0);
    size_t n1 = 0, n2 = 0;
    char *a = read_file(path, &n1), *b = read_file(file, &n2);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    free(a);
    free(b);
}

/* Files in <store>/blobs whose name contains "partial". */
static int count_partials(const char *tag)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s/blobs", g_base, tag);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n += strstr(e->d_name, "partial") != NULL;
    if (d) closedir(d);
    return n;
}

#define NEED_NODE() do { if (!g_have_node) { \
    fprintf(stderr, "SKIP: node not found (set OM_NODE or install nodejs): registry tests not run\n"); \
    skip(); } } while (0)

/* ---- setup ---- */

static int start_registry(const char *regdir, const char *authorized)
{
    char node[1024], script[1024];
    if (find_node(node, sizeof node)) return 1;
    snprintf(script, sizeof script, "%s/tests/js/lib/registry_main.mjs", OM_SOURCE_DIR);
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = { node, script, "--dir", (char *)regdir, "--authorized-key", (char *)authorized, NULL };
    int rc = posix_spawn(&g_node, node, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc) return -1;
    g_stdin = in[1];
    char line[1024];
    size_t n = 0;
    while (n < sizeof line - 1) {
        struct pollfd pf = { out[0], POLLIN, 0 };
        if (poll(&pf, 1, 15000) <= 0) break;
        ssize_t r = read(out[0], line + n, 1);
        if (r <= 0 || line[n] == '\n') break;
        n++;
    }
    line[n] = 0;
    close(out[0]);
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    const char *url = json_string_value(json_object_get(j, "url"));
    if (!url) { json_decref(j); return -1; }
    snprintf(g_url, sizeof g_url, "%s", url);
    json_decref(j);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(g_base, sizeof g_base, "/tmp/om_test_registry_XXXXXX");
    if (!mkdtemp(g_base)) return -1;
    snprintf(g_keyA, sizeof g_keyA, "%s/keyA", g_base);
    snprintf(g_keyB, sizeof g_keyB, "%s/keyB", g_base);
    char err[256], regdir[400];
    struct reg_key *k = NULL;
    if (reg_key_load(g_keyA, 1, &k, err, sizeof err)) { fprintf(stderr, "%s\n", err); return -1; }
    char pub[200];
    snprintf(pub, sizeof pub, "%s", reg_key_public(k));
    reg_key_free(k);

    snprintf(regdir, sizeof regdir, "%s/registry", g_base);
    mkdir(regdir, 0755);
    int rc = start_registry(regdir, pub);
    if (rc > 0) { g_have_node = 0; return 0; }
    if (rc < 0) { fprintf(stderr, "test registry did not start\n"); return -1; }
    g_have_node = 1;

    /* the model: a GGUF-looking layer of random bytes and a config */
    unsigned char *layer = malloc(LAYER_SIZE);
    RAND_bytes(layer, LAYER_SIZE);
    memcpy(layer, "GGUF\3\0\0\0", 8);
    snprintf(g_layer_path, sizeof g_layer_path, "%s/layer.gguf", g_base);
    write_file(g_layer_path, layer, LAYER_SIZE);
    free(layer);
    const char *cfg = "{\"model_format\":\"gguf\",\"model_family\":\"llama\",\"model_families\":[\"llama\"],"
                      "\"model_type\":\"1M\",\"file_type\":\"F32\",\"architecture\":\"amd64\",\"os\":\"linux\"}";
    snprintf(g_config_path, sizeof g_config_path, "%s/config.json", g_base);
    write_file(g_config_path, cfg, strlen(cfg));

    char body[2048];
    snprintf(body, sizeof body,
             "{\"repo\":\"library/tiny\",\"tag\":\"latest\",\"layers\":[{\"mediaType\":"
             "\"application/vnd.ollama.image.model\",\"path\":\"%s\"}],\"config\":{\"mediaType\":"
             "\"application/vnd.docker.container.image.v1+json\",\"path\":\"%s\"}}",
             g_layer_path, g_config_path);
    json_t *seed = ctl("POST", "/_test/seed", body);
    json_t *mf = json_object_get(seed, "manifest");
    snprintf(g_layer_digest, sizeof g_layer_digest, "%s",
             json_string_value(json_object_get(json_array_get(json_object_get(mf, "layers"), 0), "digest")));
    snprintf(g_config_digest, sizeof g_config_digest, "%s",
             json_string_value(json_object_get(json_object_get(mf, "config"), "digest")));
    json_decref(seed);
    snprintf(g_name, sizeof g_name, "%s/library/tiny:latest", g_url + strlen("http://"));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_stdin >= 0) close(g_stdin); /* the registry exits when its stdin closes */
    if (g_node > 0) {
        int st;
        for (int i = 0; i < 50 && waitpid(g_node, &st, WNOHANG) == 0; i++) usleep(100000);
        if (waitpid(g_node, &st, WNOHANG) == 0) { kill(g_node, SIGKILL); waitpid(g_node, &st, 0); }
    }
    rm_rf(g_base);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ---- */

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
    struct store_model *m = NULL;
    assert_int_equal(store_model_get(r, g_name, &m, err, sizeof err), 0);
    store_model_free(m);

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_pull),
        cmocka_unit_test(test_pull_resume),
        cmocka_unit_test(test_pull_corrupt),
        cmocka_unit_test(test_push_then_pull),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_concurrent_pulls),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_realm_other_host),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
