/* fuzz: libFuzzer target for manifests on disk and the models read from
 * them. A temp store (one per process, removed at exit) holds a few small
 * blobs (config, template, system, params, messages, license, and the
 * shared stories260K.gguf as a model blob when present; see
 * tests/fuzz/corpus/fuzz_manifest/ for manifests naming them). The input is
 * written as the manifest of "fz:latest" through store_manifest_write, or,
 * when that refuses it, straight into the manifest file (a damaged store).
 * Then store_model_get, store_model_details / capabilities /
 * show_modelfile, store_list (store_manifest_size on each) run on it, and
 * the input parsed as JSON goes through store_options_check. Invariants:
 * every failure is a negative code with a message and no result; a model's
 * size equals store_manifest_size of its manifest; nothing leaks. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/om.h"
#include "store/models.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Log lines are formatted (at every level) but not printed. */
static void quiet_log(enum om_log_level lvl, const char *module, const char *msg, void *ud)
{
    (void)lvl, (void)ud;
    if (strlen(module) + strlen(msg) == (size_t)-1)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    om_log_set(quiet_log, NULL, OM_LOG_DEBUG);
    return 0;
}

static struct store_root *g_root;
static char g_dir[64];
static char g_man_path[512];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    remove(p);
    return 0;
}

static void cleanup(void)
{
    store_close(g_root);
    g_root = NULL;
    if (g_dir[0])
        nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *s)
{
    char d[72];
    if (store_blob_put_bytes(g_root, s, strlen(s), d) != 0)
        abort();
}

static void put_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_manifest: %s absent, no model blob\n", path);
        return;
    }
    struct store_blob_writer *w;
    char buf[65536], d[72], err[256];
    size_t n;
    if (store_blob_begin(g_root, &w) != 0)
        abort();
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        if (store_blob_write(w, buf, n) != 0)
            abort();
    fclose(f);
    if (store_blob_commit(w, NULL, d, err, sizeof(err)) != 0)
        abort();
}

static void init(void)
{
    char err[256];
    strcpy(g_dir, "/tmp/fuzz_manifest.XXXXXX");
    if (!mkdtemp(g_dir))
        abort();
    if (store_open(g_dir, &g_root, err, sizeof(err)) != 0)
        abort();
    atexit(cleanup);
    /* the blobs the seed manifests name (their sha256 is fixed) */
    put("{\"model_format\":\"gguf\",\"model_family\":\"llama\",\"model_families\":[\"llama\"],"
        "\"model_type\":\"260K\",\"file_type\":\"unknown\",\"architecture\":\"amd64\",\"os\":"
        "\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
    put("{{ if .System }}<|system|>{{ .System }}{{ end }}<|user|>{{ .Prompt }}<|assistant|>");
    put("You are a helpful assistant.");
    put("{\"stop\":[\"<|user|>\",\"</s>\"],\"temperature\":0.7,\"num_ctx\":2048}");
    put("[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"}]");
    put("MIT License");
    put("[1,2,3]"); /* valid JSON, wrong shape for params / config */
    put("not json {");
#ifdef OM_SHARED_DIR
    put_file(OM_SHARED_DIR "/models/stories260K.gguf");
#else
    put_file("/work/shared/models/stories260K.gguf");
#endif
    snprintf(g_man_path, sizeof(g_man_path), "%s/manifests/%s/%s/fz/latest", store_dir(g_root),
             STORE_DEFAULT_HOST, STORE_DEFAULT_NS);
}

static int list_cb(void *ud, const struct store_name *n, const char *manifest, size_t len,
                   const char *digest_hex, int64_t mtime_ns)
{
    (void)n, (void)digest_hex, (void)mtime_ns;
    uint64_t sz;
    (void)store_manifest_size(manifest, len, &sz);
    ++*(int *)ud;
    return 0;
}

static void write_raw(const uint8_t *data, size_t size)
{
    struct store_name n;
    if (store_name_parse("fz", &n) != 0)
        abort();
    if (store_manifest_write(g_root, &n, (const char *)data, size) == 0)
        return;
    /* refused: write it as a damaged file (folders made on the first one) */
    char dir[600];
    snprintf(dir, sizeof(dir), "%s", g_man_path);
    *strrchr(dir, '/') = '\0';
    for (char *p = dir + strlen(store_dir(g_root)) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0755);
    FILE *f = fopen(g_man_path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_root)
        init();
    write_raw(data, size);

    struct store_model *m = NULL;
    char err[512] = "";
    int rc = store_model_get(g_root, "fz", &m, err, sizeof(err));
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "store_model_get: %d %s\n", rc, err);
    if (rc != 0) {
        if (rc > 0 || m || !err[0])
            abort();
    } else {
        if (!m || !json_is_object(m->config) || !json_is_object(m->manifest))
            abort();
        uint64_t sz = 0;
        if (store_manifest_size((const char *)data, size, &sz) == 0 && sz != m->size)
            abort();
        json_t *d = store_model_details(m);
        json_t *caps = store_model_capabilities(m);
        if (!json_is_object(d) || !json_is_array(caps))
            abort();
        json_decref(d);
        json_decref(caps);
        char *mf = store_show_modelfile(m);
        if (!mf)
            abort();
        free(mf);
        char *ps = store_show_parameters(m->params);
        if (!ps)
            abort();
        free(ps);
        store_model_free(m);
    }
    int count = 0;
    rc = store_list(g_root, list_cb, &count);
    if (rc > 0)
        abort();

    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (j) {
        json_t *typed = NULL;
        char e2[512] = "";
        rc = store_options_check(j, &typed, e2, sizeof(e2));
        if (rc != 0 && (rc > 0 || typed || !e2[0]))
            abort();
        json_decref(typed);
        json_decref(j);
    }
    return 0;
}
