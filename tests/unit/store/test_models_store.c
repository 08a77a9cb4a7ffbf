/* Tests for the on-disk model store: blobs (streamed writer, digest
 * mismatch, hostile digests), manifests (round trip, case-insensitive
 * lookup, size bound), list/copy/delete with shared blobs, start-up
 * pruning, and the Go-compatible JSON encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

#include "base/om.h"
#include "store/models.h"
#include "models_testlib.h"

static char g_root[128];

static struct store_root *open_fresh(void)
{
    struct store_root *r;
    char err[256];
    rm_rf(g_root);
    assert_int_equal(store_open(g_root, &r, err, sizeof(err)), 0);
    return r;
}

static void test_open_layout(void **state)
{
    (void)state;
    struct store_root *r = open_fresh();
    char p[512];
    struct stat st;
    snprintf(p, sizeof(p), "%s/blobs", g_root);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(p, sizeof(p), "%s/manifests", g_root);
    assert_int_equal(stat(p, &st), 0);
    assert_string_equal(store_dir(r), g_root);
    store_close(r);
    /* NULL: $OLLAMA_MODELS, blanks and quotes trimmed (never ~/.ollama here) */
    char env[300], want[300];
    snprintf(env, sizeof(env), " \"%s/env\" ", g_root);
    snprintf(want, sizeof(want), "%s/env", g_root);
    setenv("OLLAMA_MODELS", env, 1);
    char e0[256];
    assert_int_equal(store_open(NULL, &r, e0, sizeof(e0)), 0);
    assert_string_equal(store_dir(r), want);
    unsetenv("OLLAMA_MODELS");
    store_close(r);
    /* a file where the root should be */
    char err[256];
    snprintf(p, sizeof(p), "%s/file", g_root);
    FILE *f = fopen(p, "w");
    fclose(f);
    assert_true(store_open(p, &r, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, p));
}

static void test_blob_stream(void **state)
{
    (void)state;
    struct store_root *r = open_fresh();
    struct store_blob_writer *w;
    char d[72], err[256], path[512];
    assert_int_equal(store_blob_begin(r, &w), 0);
    assert_int_equal(store_blob_write(w, "hello ", 6), 0);
    assert_int_equal(store_blob_write(w, "world", 5), 0);
    /* sha256("hello world") */
    const char *want = "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
    assert_int_equal(store_blob_commit(w, want, d, err, sizeof(err)), 0);
    assert_string_equal(d, want);
    assert_true(store_blob_exists(r, want));
    assert_true(store_blob_exists(
        r, "sha256-b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"));
    assert_int_equal(store_blob_path(r, want, path, sizeof(path)), 0);
    char expect[512];
    snprintf(expect, sizeof(expect),
             "%s/blobs/sha256-b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
             g_root);
    assert_string_equal(path, expect);
    uint64_t sz;
    assert_int_equal(store_blob_size(r, want, &sz), 0);
    assert_int_equal(sz, 11);
    char *txt;
    size_t n;
    assert_int_equal(store_blob_read(r, want, 100, &txt, &n), 0);
    assert_int_equal(n, 11);
    assert_string_equal(txt, "hello world");
    free(txt);
    assert_int_equal(store_blob_read(r, want, 5, &txt, &n), OM_ENOMEM);
    /* same content again: kept, no temp left */
    assert_int_equal(store_blob_put_bytes(r, "hello world", 11, d), 0);
    assert_string_equal(d, want);
    assert_int_equal(count_files(g_root, "blobs"), 1);
    /* any digest when expected is NULL; empty blob */
    assert_int_equal(store_blob_put_bytes(r, "", 0, d), 0);
    assert_string_equal(d,
                        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    store_close(r);
}

static void test_blob_mismatch(void **state)
{
    (void)state;
    struct store_root *r = open_fresh();
    struct store_blob_writer *w;
    char d[72], err[256];
    const char *wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(store_blob_begin(r, &w), 0);
    assert_int_equal(store_blob_write(w, "hello world", 11), 0);
    assert_int_equal(store_blob_commit(w, wrong, d, err, sizeof(err)), OM_EINVAL);
    assert_string_equal(
        err, "digest mismatch, expected "
             "\"sha256:0000000000000000000000000000000000000000000000000000000000000000\", got "
             "\"sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9\"");
    assert_int_equal(count_files(g_root, "blobs"), 0); /* nothing left */
    assert_false(store_blob_exists(r, wrong));
    /* bad expected digest */
    assert_int_equal(store_blob_begin(r, &w), 0);
    assert_int_equal(store_blob_commit(w, "sha256:xyz", d, err, sizeof(err)), OM_EINVAL);
    assert_int_equal(count_files(g_root, "blobs"), 0);
    /* abort */
    assert_int_equal(store_blob_begin(r, &w), 0);
    assert_int_equal(store_blob_write(w, "x", 1), 0);
    store_blob_abort(w);
    store_blob_abort(NULL);
    assert_int_equal(count_files(g_root, "blobs"), 0);
    /* hostile digests never make a path */
    char p[512];
    assert_int_equal(store_blob_path(r, "sha256:../../../../etc/passwd", p, sizeof(p)), OM_EINVAL);
    assert_int_equal(store_blob_path(r, "../x", p, sizeof(p)), OM_EINVAL);
    assert_false(store_blob_exists(r, "sha256-/etc/passwd"));
    assert_int_equal(store_blob_path(r, wrong, p, 10), OM_ERANGE);
    store_close(r);
}

static const char *const MT2[] = {"application/vnd.ollama.image.model",
                                  "application/vnd.ollama.image.template"};

static void test_manifest_roundtrip(void **state)
{
    (void)state;
    struct store_root *r = open_fresh();
    const char *data[] = {"GGUFweights", "{{ .Prompt }}"};
    char *m = make_manifest(r, "{\"model_format\":\"gguf\"}", MT2, data, 2);
    struct store_name n;
    assert_int_equal(store_name_parse("Llama3:8B", &n), 0);
    assert_int_equal(store_manifest_write(r, &n, m, strlen(m)), 0);
    char p[512];
    struct stat st;
    snprintf(p, sizeof(p), "%s/manifests/registry.ollama.ai/library/Llama3/8B", g_root);
    assert_int_equal(stat(p, &st), 0);
    char *bytes, hex[65], want_hex[65];
    size_t len;
    int64_t mt;
    struct store_name q;
    store_name_parse("llama3:8b", &q); /* other case */
    assert_int_equal(store_manifest_read(r, &q, &bytes, &len, hex, &mt), 0);
    assert_int_equal(len, strlen(m));
    assert_memory_equal(bytes, m, len);
    {
        /* digest is sha256 of the bytes */
        struct store_blob_writer *w;
        char d[72];
        store_blob_begin(r, &w);
        store_blob_write(w, m, strlen(m));
        store_blob_commit(w, NULL, d, NULL, 0);
        memcpy(want_hex, d + 7, 65);
    }
    assert_string_equal(hex, want_hex);
    assert_true(mt > 0);
    free(bytes);
    /* writing another spelling overwrites the same file */
    assert_int_equal(store_manifest_write(r, &q, m, strlen(m)), 0);
    snprintf(p, sizeof(p), "%s/manifests/registry.ollama.ai/library/Llama3", g_root);
    assert_int_equal(count_files(p, ""), 1);
    /* not JSON / not a manifest: refused */
    assert_int_equal(store_manifest_write(r, &n, "nope", 4), OM_EFORMAT);
    assert_int_equal(
        store_manifest_write(
            r, &n, "{\"layers\":[{\"digest\":\"sha256:../x\",\"size\":1,\"mediaType\":\"a\"}]}",
            66),
        OM_EFORMAT);
    /* missing */
    store_name_parse("other", &q);
    assert_int_equal(store_manifest_read(r, &q, &bytes, &len, NULL, NULL), OM_ENOTFOUND);
    free(m);
    store_close(r);
}

static void test_manifest_huge(void **state)
{
    (void)state;
    struct store_root *r = open_fresh();
    struct store_name n;
    store_name_parse("big", &n);
    size_t sz = STORE_MANIFEST_MAX + 10;
    char *big = malloc(sz);
    memset(big, ' ', sz);
    big[0] = '{';
    big[sz - 1] = '}';
    assert_int_equal(store_manifest_write(r, &n, big, sz), OM_ENOMEM);
    /* one planted on disk is refused on read and skipped by list */
    char p[512];
    snprintf(p, sizeof(p), "%s/manifests/registry.ollama.ai/library/big", g_root);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", p);
    assert_int_equal(system(cmd), 0);
    strcat(p, "/latest");
    FILE *f = fopen(p, "w");
    fwrite(big, 1, sz, f);
    fclose(f);
    char *bytes;
    size_t len;
    assert_int_equal(store_manifest_read(r, &n, &bytes, &len, NULL, NULL), OM_ENOMEM);
    struct store_model *m;
    char err[256];
    assert_true(store_model_get(r, "big", &m, err, sizeof(err)) < 0);
    free(big);
    store_close(r);
}

struct listed {
    char names[8][300];
    char digests[8][65];
    int n;
};

static int list_cb(void *ud, const struct store_name *n, const char *manifest, size_t len,
                   const char *digest_hex, int64_t mtime_ns)
{
    struct listed *l = ud;
    (void)manifest, (void)len, (void)mtime_ns;
    if (l->n < 8) {
        store_name_display(n, l->names[l->n], sizeof(l->names[0]));
        memcpy(l->digests[l->n], digest_hex, 65);
    }
    l->n++;
    return 0;
}

static int find(const struct listed *l, const char *name)
{
    for (int i = 0; i < l->n && i < 8; i++)
        if (strcmp(l->names[i], name) == 0)
            return i;
    return -1;
}

static void test_list_copy_delete(void **state)
{
    (void)state;
    struct store_root *r = open_fresh();
    const char *d1[] = {"shared weights", "template A"};
    const char *d2[] = {"shared weights", "template B"};
    char *m1 = make_manifest(r, "{\"c\":1}", MT2, d1, 2);
    char *m2 = make_manifest(r, "{\"c\":2}", MT2, d2, 2);
    struct store_name a, b, c, x;
    store_name_parse("a", &a);
    store_name_parse("user/b:v1", &b);
    store_name_parse("localhost:5000/ns/c:t", &c);
    assert_int_equal(store_manifest_write(r, &a, m1, strlen(m1)), 0);
    assert_int_equal(store_manifest_write(r, &b, m2, strlen(m2)), 0);
    assert_int_equal(store_copy(r, &a, &c), 0);
    store_name_parse("missing", &x);
    assert_int_equal(store_copy(r, &x, &c), OM_ENOTFOUND);
    /* junk in the manifests tree is skipped */
    char p[600];
    snprintf(p, sizeof(p), "%s/manifests/registry.ollama.ai/library/a/.hidden", g_root);
    FILE *f = fopen(p, "w");
    fputs("{}", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/manifests/registry.ollama.ai/library/a/bad tag", g_root);
    f = fopen(p, "w");
    fputs("{}", f);
    fclose(f);
    struct listed l = {0};
    assert_int_equal(store_list(r, list_cb, &l), 0);
    assert_int_equal(l.n, 3);
    int ia = find(&l, "a:latest"), ib = find(&l, "user/b:v1"),
        ic = find(&l, "localhost:5000/ns/c:t");
    assert_true(ia >= 0 && ib >= 0 && ic >= 0);
    assert_string_equal(l.digests[ia], l.digests[ic]); /* copy = same bytes */
    unlink(p);
    snprintf(p, sizeof(p), "%s/manifests/registry.ollama.ai/library/a/.hidden", g_root);
    unlink(p);
    /* 2 configs + shared + 2 templates = 5 blobs */
    assert_int_equal(count_files(g_root, "blobs"), 5);
    /* delete a: its blobs are still used by c */
    assert_int_equal(store_delete(r, &a, true), 0);
    assert_int_equal(count_files(g_root, "blobs"), 5);
    assert_int_equal(store_delete(r, &a, true), OM_ENOTFOUND);
    /* delete c: template A and config 1 go, shared stays for b */
    assert_int_equal(store_delete(r, &c, true), 0);
    assert_int_equal(count_files(g_root, "blobs"), 3);
    char d[72];
    store_blob_put_bytes(r, "shared weights", 14, d); /* exists already */
    assert_int_equal(count_files(g_root, "blobs"), 3);
    /* c's folders are gone (empty dirs pruned), b's remain */
    struct stat st;
    snprintf(p, sizeof(p), "%s/manifests/localhost:5000", g_root);
    assert_int_equal(stat(p, &st), -1);
    snprintf(p, sizeof(p), "%s/manifests/registry.ollama.ai/user/b", g_root);
    assert_int_equal(stat(p, &st), 0);
    /* delete without pruning keeps blobs */
    assert_int_equal(store_delete(r, &b, false), 0);
    assert_int_equal(count_files(g_root, "blobs"), 3);
    assert_int_equal(count_files(g_root, "manifests"), 0);
    free(m1);
    free(m2);
    store_close(r);
}

static void age(const char *path, int seconds)
{
    struct utimbuf t = {time(NULL) - seconds, time(NULL) - seconds};
    utime(path, &t);
}

static void test_prune(void **state)
{
    (void)state;
    struct store_root *r = open_fresh();
    const char *d1[] = {"kept weights", "kept template"};
    char *m1 = make_manifest(r, "{\"k\":1}", MT2, d1, 2);
    struct store_name a;
    store_name_parse("kept", &a);
    assert_int_equal(store_manifest_write(r, &a, m1, strlen(m1)), 0);
    char d_old[72], d_new[72], p[600];
    store_blob_put_bytes(r, "orphan old", 10, d_old);
    store_blob_put_bytes(r, "orphan new", 10, d_new);
    store_blob_path(r, d_old, p, sizeof(p));
    age(p, 7200);
    snprintf(p, sizeof(p), "%s/blobs/garbage-old", g_root);
    FILE *f = fopen(p, "w");
    fclose(f);
    age(p, 7200);
    char partial[600];
    snprintf(partial, sizeof(partial), "%s/blobs/%s-partial", g_root,
             "sha256-0000000000000000000000000000000000000000000000000000000000000000");
    f = fopen(partial, "w");
    fclose(f);
    /* an empty manifests folder */
    snprintf(p, sizeof(p), "%s/manifests/registry.ollama.ai/library/empty", g_root);
    assert_int_equal(mkdir(p, 0755), 0);
    int before = count_files(g_root, "blobs"); /* 3 kept + 2 orphans + garbage + partial */
    assert_int_equal(before, 7);
    assert_int_equal(store_prune(r), 0);
    assert_int_equal(count_files(g_root, "blobs"), 5);
    assert_false(store_blob_exists(r, d_old));
    assert_true(store_blob_exists(r, d_new)); /* younger than 1 h */
    struct stat st;
    assert_int_equal(stat(partial, &st), 0);
    assert_int_equal(stat(p, &st), -1);
    /* the kept model still resolves */
    struct store_model *m;
    char err[256];
    assert_int_equal(store_model_get(r, "kept", &m, err, sizeof(err)), 0);
    store_model_free(m);
    free(m1);
    store_close(r);
}

static void test_model_get(void **state)
{
    (void)state;
    struct store_root *r = open_fresh();
    static const char *const MT[] = {
        "application/vnd.ollama.image.model",   "application/vnd.ollama.image.template",
        "application/vnd.ollama.image.system",  "application/vnd.ollama.image.params",
        "application/vnd.ollama.image.license", "application/vnd.ollama.image.license",
        "application/vnd.ollama.image.messages"};
    const char *data[] = {"GGUF....",
                          "{{ .Prompt }}",
                          "be brief",
                          "{\"stop\":[\"<|eot|>\"],\"temperature\":0.7}",
                          "MIT",
                          "Apache",
                          "[{\"role\":\"user\",\"content\":\"hi\"}]"};
    char *mf = make_manifest(r,
                             "{\"model_format\":\"gguf\",\"model_family\":\"llama\","
                             "\"model_families\":[\"llama\"],\"model_type\":\"8.0B\","
                             "\"file_type\":\"Q4_K_M\"}",
                             MT, data, 7);
    struct store_name n;
    store_name_parse("m:t", &n);
    assert_int_equal(store_manifest_write(r, &n, mf, strlen(mf)), 0);
    struct store_model *m;
    char err[256];
    assert_int_equal(store_model_get(r, "M:T", &m, err, sizeof(err)), 0);
    assert_non_null(m->model_path);
    assert_string_equal(m->template_text, "{{ .Prompt }}");
    assert_string_equal(m->system, "be brief");
    assert_int_equal(m->n_licenses, 2);
    assert_string_equal(m->licenses[1], "Apache");
    assert_true(json_is_object(m->params));
    assert_int_equal(json_array_size(m->messages), 1);
    assert_int_equal(strlen(m->digest), 64);
    json_t *d = store_model_details(m);
    assert_string_equal(json_string_value(json_object_get(d, "format")), "gguf");
    assert_string_equal(json_string_value(json_object_get(d, "family")), "llama");
    assert_string_equal(json_string_value(json_object_get(d, "parameter_size")), "8.0B");
    assert_string_equal(json_string_value(json_object_get(d, "quantization_level")), "Q4_K_M");
    assert_string_equal(json_string_value(json_object_get(d, "parent_model")), "");
    json_decref(d);
    uint64_t want = 0;
    json_t *man = json_loads(mf, 0, NULL);
    json_t *l;
    size_t i;
    json_array_foreach (json_object_get(man, "layers"), i, l)
        want += (uint64_t)json_integer_value(json_object_get(l, "size"));
    want += (uint64_t)json_integer_value(json_object_get(json_object_get(man, "config"), "size"));
    assert_int_equal(m->size, want);
    json_decref(man);
    store_model_free(m);
    assert_int_equal(store_model_get(r, "nope", &m, err, sizeof(err)), OM_ENOTFOUND);
    assert_string_equal(err, "model 'nope' not found");
    assert_int_equal(store_model_get(r, "bad name!", &m, err, sizeof(err)), OM_EINVAL);
    assert_string_equal(err, "name \"bad name!\" is invalid");
    /* a manifest whose blob is missing */
    char p[600];
    json_t *mj = json_loads(mf, 0, NULL);
    const json_t *sys_layer = json_array_get(json_object_get(mj, "layers"), 2);
    store_blob_path(r, json_string_value(json_object_get(sys_layer, "digest")), p, sizeof(p));
    json_decref(mj);
    unlink(p);
    assert_int_equal(store_model_get(r, "m:t", &m, err, sizeof(err)), OM_EFORMAT);
    free(mf);
    store_close(r);
}

static void test_hostile_manifest_on_disk(void **state)
{
    (void)state;
    struct store_root *r = open_fresh();
    char p[600], cmd[700];
    snprintf(p, sizeof(p), "%s/manifests/registry.ollama.ai/library/evil", g_root);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", p);
    assert_int_equal(system(cmd), 0);
    strcat(p, "/latest");
    FILE *f = fopen(p, "w");
    fputs("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:../../../etc/"
          "passwd\",\"size\":1},\"layers\":[]}",
          f);
    fclose(f);
    struct store_model *m;
    char err[256];
    assert_int_equal(store_model_get(r, "evil", &m, err, sizeof(err)), OM_EFORMAT);
    assert_null(m);
    struct listed l = {0};
    assert_int_equal(store_list(r, list_cb, &l), 0);
    assert_int_equal(l.n, 0);
    /* negative sizes, layers not an array */
    f = fopen(p, "w");
    fputs("{\"layers\":{}}", f);
    fclose(f);
    assert_int_equal(store_model_get(r, "evil", &m, err, sizeof(err)), OM_EFORMAT);
    uint64_t sz;
    const char *neg = "{\"layers\":[{\"mediaType\":\"a\",\"digest\":\"sha256:"
                      "0000000000000000000000000000000000000000000000000000000000000000\","
                      "\"size\":-5}]}";
    assert_int_equal(store_manifest_size(neg, strlen(neg), &sz), OM_EFORMAT);
    const char *ok = "{\"config\":{\"mediaType\":\"c\",\"digest\":\"sha256:"
                     "0000000000000000000000000000000000000000000000000000000000000000\","
                     "\"size\":7},\"layers\":[{\"mediaType\":\"a\",\"digest\":\"sha256-"
                     "1111111111111111111111111111111111111111111111111111111111111111\","
                     "\"size\":5}]}";
    assert_int_equal(store_manifest_size(ok, strlen(ok), &sz), 0);
    assert_int_equal(sz, 12);
    /* store_file_digest */
    char d[72];
    snprintf(p, sizeof(p), "%s/hw.txt", g_root);
    f = fopen(p, "w");
    fputs("hello world", f);
    fclose(f);
    assert_int_equal(store_file_digest(p, d), 0);
    assert_string_equal(d,
                        "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    assert_true(store_file_digest("/nonexistent/x", d) < 0);
    store_close(r);
}

static void test_json_go(void **state)
{
    (void)state;
    json_t *v = json_loads("{\"b\":[\"<|eot_id|>\",\"a&b\"],\"a\":0.7,\"c\":1.0,\"d\":1e-7,"
                           "\"e\":1e21,\"f\":123456789.0,\"g\":40,\"h\":true,\"i\":null,"
                           "\"j\":\"tab\\tq\\\"\\u2028\"}",
                           0, NULL);
    assert_non_null(v);
    char *s = store_json_go(v, true, true, NULL);
    assert_string_equal(s, "{\"a\":0.7,\"b\":[\"\\u003c|eot_id|\\u003e\",\"a\\u0026b\"],"
                           "\"c\":1,\"d\":1e-7,\"e\":1e+21,\"f\":123456789,\"g\":40,"
                           "\"h\":true,\"i\":null,\"j\":\"tab\\tq\\\"\\u2028\"}\n");
    free(s);
    s = store_json_go(v, false, false, NULL); /* insertion order */
    assert_int_equal(s[2], 'b');
    free(s);
    json_decref(v);
}

int main(void)
{
    snprintf(g_root, sizeof(g_root), "/tmp/om_models_store_%d", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_layout),
        cmocka_unit_test(test_blob_stream),
        cmocka_unit_test(test_blob_mismatch),
        cmocka_unit_test(test_manifest_roundtrip),
        cmocka_unit_test(test_manifest_huge),
        cmocka_unit_test(test_list_copy_delete),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_model_get),
        cmocka_unit_test(test_hostile_manifest_on_disk),
        cmocka_unit_test(test_json_go),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_rf(g_root);
    return rc;
}
