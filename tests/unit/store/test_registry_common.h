/* Shared by test_registry.c (pulls) and test_registry_push.c (keys, push,
 * auth, errors): starts the Node test registry (tests/js/lib/registry_main.mjs)
 * as a child process for the whole group, seeds a model (a GGUF-looking
 * random layer + a config), and offers control-endpoint helpers. Include
 * once, from the test's .c file. Skips loudly when node is missing. */
#ifndef TEST_REGISTRY_COMMON_H
#define TEST_REGISTRY_COMMON_H

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

static inline int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    return remove(p);
}

static inline void rm_rf(const char *p) { nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static inline int find_node(char *out, size_t cap)
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

static inline size_t sbuf_write(char *d, size_t sz, size_t n, void *ud)
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
static inline json_t *ctl(const char *method, const char *path, const char *body)
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

static inline json_int_t stat_get(const char *key)
{
    json_t *s = ctl("GET", "/_test/stats", NULL);
    json_int_t v = json_integer_value(json_object_get(s, key));
    json_decref(s);
    return v;
}

static inline void reg_config(const char *json)
{
    json_decref(ctl("POST", "/_test/config", json));
}

static inline void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static inline char *read_file(const char *path, size_t *n)
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

static inline void on_progress(void *ud, const json_t *st)
{
    struct prog *p = ud;
    pthread_mutex_lock(&p->mu);
    json_array_append_new(p->lines, json_deep_copy(st));
    pthread_mutex_unlock(&p->mu);
}

static inline void prog_init(struct prog *p) { p->lines = json_array(); pthread_mutex_init(&p->mu, NULL); }
static inline void prog_free(struct prog *p) { json_decref(p->lines); pthread_mutex_destroy(&p->mu); }

static inline const char *prog_status(const struct prog *p, size_t i)
{
    return json_string_value(json_object_get(json_array_get(p->lines, i), "status"));
}

static inline int prog_has(const struct prog *p, const char *status)
{
    for (size_t i = 0; i < json_array_size(p->lines); i++)
        if (strcmp(prog_status(p, i), status) == 0) return 1;
    return 0;
}

static inline struct reg_opts opts(const char *keydir)
{
    struct reg_opts o = { .insecure = 1, .key_dir = keydir, .part_size = 256 * 1024,
                          .max_parallel = 4, .retry_delay_ms = 50 };
    return o;
}

static inline struct store_root *open_store(const char *tag)
{
    char dir[400], err[256];
    snprintf(dir, sizeof dir, "%s/%s", g_base, tag);
    struct store_root *r = NULL;
    assert_int_equal(store_open(dir, &r, err, sizeof err), 0);
    return r;
}

static inline void assert_blob_equals_file(struct store_root *r, const char *digest, const char *file)
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
static inline int count_partials(const char *tag)
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

static inline int start_registry(const char *regdir, const char *authorized)
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

static inline int group_setup(void **state)
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

static inline int group_teardown(void **state)
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


/* Files under <store>/blobs and <store>/manifests (recursively). */
static int count_files_cb_n;
static inline int count_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)p; (void)st; (void)f;
    count_files_cb_n += flag == FTW_F;
    return 0;
}

static inline int count_files(const char *tag)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", g_base, tag);
    count_files_cb_n = 0;
    nftw(dir, count_cb, 16, FTW_PHYS);
    return count_files_cb_n;
}

#endif
