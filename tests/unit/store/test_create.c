/* Tests for /api/create (store_create) on real GGUF blobs: synthesized
 * F16/F32 llama models (store_synth) and the shared stories260K.gguf —
 * layers, statuses, ConfigV2 bytes, quantizing to Q4_K_M into a model the
 * engine loads, template detection through the hook, creating from an
 * existing model with overrides, pruning of replaced layers, request
 * errors that must leave no manifest, and /api/show's model_info. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/om.h"
#include "engine/eng.h"
#include "format/gguf.h"
#include "store/models.h"
#include "store/store.h"
#include "models_testlib.h"

static char g_root[128];
static char g_f16[256], g_f32[256], g_tmpl[256];
static struct store_root *g_r;

struct statuses {
    char s[64][160];
    int n;
    int saw_progress; /* a quantizing status with total/completed */
};

static void on_status(void *ud, const json_t *o)
{
    struct statuses *st = ud;
    const char *s = json_string_value(json_object_get(o, "status"));
    assert_non_null(s);
    if (strncmp(s, "quantizing", 10) == 0 && json_integer_value(json_object_get(o, "total")) > 0)
        st->saw_progress = 1;
    if (st->n < 64)
        snprintf(st->s[st->n++], sizeof(st->s[0]), "%s", s);
}

static int has_status(const struct statuses *st, const char *prefix)
{
    for (int i = 0; i < st->n; i++)
        if (strncmp(st->s[i], prefix, strlen(prefix)) == 0)
            return 1;
    return 0;
}

/* Streams a file into the store as a blob; returns its digest. */
static void upload(const char *path, char digest[72])
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct store_blob_writer *w;
    assert_int_equal(store_blob_begin(g_r, &w), 0);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        assert_int_equal(store_blob_write(w, buf, n), 0);
    fclose(f);
    char err[256];
    assert_int_equal(store_blob_commit(w, NULL, digest, err, sizeof(err)), 0);
}

static int create(const char *json, struct statuses *st, char *err, size_t errlen,
                  const struct store_create_hooks *hooks)
{
    json_error_t je;
    json_t *req = json_loads(json, 0, &je);
    if (!req)
        fail_msg("bad test JSON: %s: %s", je.text, json);
    int rc = store_create(g_r, req, hooks, on_status, st, err, errlen);
    json_decref(req);
    return rc;
}

static char *files_req(const char *name, const char *digest, const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "{\"model\":\"%s\",\"files\":{\"model.gguf\":\"%s\"}%s%s}", name,
             digest, extra && *extra ? "," : "", extra ? extra : "");
    return buf;
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    snprintf(g_root, sizeof(g_root), "/tmp/om_models_create_%d", (int)getpid());
    rm_rf(g_root);
    if (store_open(g_root, &g_r, err, sizeof(err)) != 0)
        return -1;
    struct store_synth_spec spec;
    store_synth_preset("tiny-llama", &spec);
    spec.n_threads = 2;
    spec.ftype = STORE_FTYPE_F16;
    snprintf(g_f16, sizeof(g_f16), "%s/src-f16.gguf", g_root);
    if (store_synth(&spec, g_f16, NULL, NULL, err, sizeof(err)) != 0)
        return fprintf(stderr, "synth: %s\n", err), -1;
    spec.ftype = STORE_FTYPE_F32;
    snprintf(g_f32, sizeof(g_f32), "%s/src-f32.gguf", g_root);
    if (store_synth(&spec, g_f32, NULL, NULL, err, sizeof(err)) != 0)
        return fprintf(stderr, "synth: %s\n", err), -1;
    /* the F16 model with a chat template (for detection) */
    gguf_file *f;
    if (gguf_open(g_f16, &f, err, sizeof(err)) != 0)
        return -1;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_copy_kv(w, f);
    gguf_writer_set_str(w, "tokenizer.chat_template",
                        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
                        "<|im_end|>\n{% endfor %}");
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        char name[256];
        gguf_str_copy(t->name, name, sizeof(name));
        gguf_writer_add_tensor_ref(w, name, t->type, t->n_dims, t->ne, t->data, t->size);
    }
    snprintf(g_tmpl, sizeof(g_tmpl), "%s/src-tmpl.gguf", g_root);
    int rc = gguf_writer_write(w, g_tmpl, err, sizeof(err));
    gguf_writer_free(w);
    gguf_close(f);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    store_close(g_r);
    rm_rf(g_root);
    return 0;
}

static int list_count_cb(void *ud, const struct store_name *n, const char *m, size_t len,
                         const char *d, int64_t t)
{
    (void)n, (void)m, (void)len, (void)d, (void)t;
    (*(int *)ud)++;
    return 0;
}

static int n_models(void)
{
    int n = 0;
    store_list(g_r, list_count_cb, &n);
    return n;
}

static void test_create_from_files(void **state)
{
    (void)state;
    char d[72], err[512];
    upload(g_f16, d);
    struct statuses st = {0};
    int rc = create(files_req("mine", d,
                              "\"template\":\"{{ .Prompt }}\",\"system\":\"be brief\","
                              "\"parameters\":{\"temperature\":0.5,\"stop\":[\"<x>\"]},"
                              "\"license\":\"MIT\",\"messages\":[{\"role\":\"user\","
                              "\"content\":\"hi\"}]"),
                    &st, err, sizeof(err), NULL);
    if (rc)
        fail_msg("create: %s", err);
    assert_string_equal(st.s[0], "parsing GGUF");
    char want[128];
    snprintf(want, sizeof(want), "using existing layer %s", d);
    assert_true(has_status(&st, want));
    assert_true(has_status(&st, "creating new layer sha256:"));
    assert_string_equal(st.s[st.n - 2], "writing manifest");
    assert_string_equal(st.s[st.n - 1], "success");

    struct store_model *m;
    assert_int_equal(store_model_get(g_r, "mine", &m, err, sizeof(err)), 0);
    assert_string_equal(m->template_text, "{{ .Prompt }}");
    assert_string_equal(m->system, "be brief");
    assert_int_equal(m->n_licenses, 1);
    assert_int_equal(json_array_size(m->messages), 1);
    char *ps = store_json_go(m->params, true, false, NULL);
    assert_string_equal(ps, "{\"stop\":[\"\\u003cx\\u003e\"],\"temperature\":0.5}");
    free(ps);
    /* ConfigV2 bytes as Go writes them */
    gguf_file *f;
    assert_int_equal(gguf_open(m->model_path, &f, err, sizeof(err)), 0);
    uint64_t params = 0;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    gguf_close(f);
    char human[32], cfg[512];
    store_format_params(params, human, sizeof(human));
    snprintf(cfg, sizeof(cfg),
             "{\"model_format\":\"gguf\",\"model_family\":\"llama\",\"model_families\":"
             "[\"llama\"],\"model_type\":\"%s\",\"file_type\":\"F16\",\"architecture\":"
             "\"amd64\",\"os\":\"linux\"}\n",
             human);
    const char *cdig =
        json_string_value(json_object_get(json_object_get(m->manifest, "config"), "digest"));
    char *cb;
    size_t cl;
    assert_int_equal(store_blob_read(g_r, cdig, 4096, &cb, &cl), 0);
    assert_string_equal(cb, cfg);
    free(cb);
    json_t *det = store_model_details(m);
    assert_string_equal(json_string_value(json_object_get(det, "quantization_level")), "F16");
    assert_string_equal(json_string_value(json_object_get(det, "family")), "llama");
    assert_string_equal(json_string_value(json_object_get(det, "parent_model")), "");
    assert_true(json_integer_value(json_object_get(det, "context_length")) > 0);
    assert_true(json_integer_value(json_object_get(det, "embedding_length")) > 0);
    json_decref(det);
    json_t *caps = store_model_capabilities(m);
    char *cs = store_json_go(caps, false, false, NULL);
    assert_string_equal(cs, "[\"completion\"]");
    free(cs);
    json_decref(caps);
    /* the model layer keeps the uploaded digest and has no "from" (parent_model
     * is "" for a model made from files, as in Ollama) */
    json_t *l0 = json_array_get(json_object_get(m->manifest, "layers"), 0);
    assert_string_equal(json_string_value(json_object_get(l0, "mediaType")),
                        "application/vnd.ollama.image.model");
    assert_string_equal(json_string_value(json_object_get(l0, "digest")), d);
    assert_null(json_object_get(l0, "from"));
    store_model_free(m);
    /* the manifest bytes as Go's encoder writes them */
    struct store_name nm;
    store_name_parse("mine", &nm);
    char *mb;
    size_t ml;
    assert_int_equal(store_manifest_read(g_r, &nm, &mb, &ml, NULL, NULL), 0);
    const char *head = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker."
                       "distribution.manifest.v2+json\",\"config\":{\"mediaType\":\"application/"
                       "vnd.docker.container.image.v1+json\",\"digest\":\"sha256:";
    assert_memory_equal(mb, head, strlen(head));
    char lay[200];
    snprintf(lay, sizeof(lay),
             "\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\","
             "\"digest\":\"%s\",\"size\":",
             d);
    assert_non_null(strstr(mb, lay));
    assert_null(strstr(mb, "\"from\""));
    assert_memory_equal(mb + ml - 3, "]}\n", 3);
    free(mb);
}

static void test_create_quantize(void **state)
{
    (void)state;
    char d[72], err[512];
    upload(g_f16, d);
    struct statuses st = {0};
    struct store_create_hooks hooks = {.n_threads = 2};
    int rc =
        create(files_req("quant:q4", d, "\"quantize\":\"q4_K_M\""), &st, err, sizeof(err), &hooks);
    if (rc)
        fail_msg("create: %s", err);
    assert_true(has_status(&st, "quantizing F16 model to Q4_K_M"));
    assert_true(st.saw_progress);
    assert_true(has_status(&st, "verifying conversion"));
    struct store_model *m;
    assert_int_equal(store_model_get(g_r, "quant:q4", &m, err, sizeof(err)), 0);
    json_t *det = store_model_details(m);
    assert_string_equal(json_string_value(json_object_get(det, "quantization_level")), "Q4_K_M");
    json_decref(det);
    const char *ld = json_string_value(
        json_object_get(json_array_get(json_object_get(m->manifest, "layers"), 0), "digest"));
    assert_string_not_equal(ld, d);
    gguf_file *f;
    assert_int_equal(gguf_open(m->model_path, &f, err, sizeof(err)), 0);
    uint32_t ft = 0;
    assert_int_equal(gguf_get_u32(f, "general.file_type", &ft), 0);
    assert_int_equal(ft, 15);
    gguf_close(f);
    eng_model *em;
    rc = eng_model_load(m->model_path, NULL, &em, err, sizeof(err));
    if (rc)
        fail_msg("engine cannot load the quantized model: %s", err);
    eng_model_free(em);
    store_model_free(m);
    /* from F32 as well, to Q8_0 */
    upload(g_f32, d);
    memset(&st, 0, sizeof(st));
    rc = create(files_req("quant:q8", d, "\"quantize\":\"Q8_0\""), &st, err, sizeof(err), &hooks);
    if (rc)
        fail_msg("create q8: %s", err);
    assert_true(has_status(&st, "quantizing F32 model to Q8_0"));
    /* to F16 from F32 (a conversion), and F32 to F32 (nothing to do) */
    memset(&st, 0, sizeof(st));
    rc = create(files_req("quant:f16", d, "\"quantize\":\"f16\""), &st, err, sizeof(err), &hooks);
    if (rc)
        fail_msg("create f16: %s", err);
    assert_true(has_status(&st, "quantizing F32 model to F16"));
    memset(&st, 0, sizeof(st));
    rc = create(files_req("quant:f32", d, "\"quantize\":\"F32\""), &st, err, sizeof(err), &hooks);
    assert_int_equal(rc, 0);
    assert_false(has_status(&st, "quantizing"));
    assert_int_equal(store_model_get(g_r, "quant:f32", &m, err, sizeof(err)), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(m->manifest, "layers"), 0), "digest")),
                        d);
    store_model_free(m);
    /* a quantized model cannot be quantized again */
    assert_int_equal(store_model_get(g_r, "quant:q4", &m, err, sizeof(err)), 0);
    char qd[72];
    snprintf(qd, sizeof(qd), "%s",
             json_string_value(json_object_get(
                 json_array_get(json_object_get(m->manifest, "layers"), 0), "digest")));
    store_model_free(m);
    int before = n_models();
    rc = create(files_req("quant:again", qd, "\"quantize\":\"q4_0\""), &st, err, sizeof(err),
                &hooks);
    assert_int_equal(rc, OM_EINVAL);
    assert_string_equal(err, "quantization is only supported for F16, BF16 and F32 models");
    rc = create(files_req("quant:bad", d, "\"quantize\":\"q9_X\""), &st, err, sizeof(err), &hooks);
    assert_int_equal(rc, OM_EINVAL);
    assert_non_null(strstr(err, "unsupported quantization type q9_X"));
    assert_int_equal(n_models(), before);
}

static int detect_calls;

static int fake_detect(void *ud, const char *jinja, char **name, char **go, json_t **params)
{
    (void)ud;
    detect_calls++;
    if (!strstr(jinja, "<|im_start|>"))
        return -1;
    *name = strdup("chatml");
    *go = strdup("{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
                 "{{ end }}<|im_start|>assistant\n");
    *params = json_loads("{\"stop\":[\"<|im_start|>\",\"<|im_end|>\"]}", 0, NULL);
    return 0;
}

static int reject_template(void *ud, const char *t, char *err, size_t errlen)
{
    (void)ud;
    if (strstr(t, "{{ .Bad")) {
        snprintf(err, errlen, "unclosed action");
        return -1;
    }
    return 0;
}

static void test_create_detect(void **state)
{
    (void)state;
    char d[72], err[512];
    upload(g_tmpl, d);
    struct statuses st = {0};
    struct store_create_hooks hooks = {.detect = fake_detect};
    detect_calls = 0;
    int rc = create(files_req("chat", d, "\"parameters\":{\"temperature\":0.1}"), &st, err,
                    sizeof(err), &hooks);
    if (rc)
        fail_msg("create: %s", err);
    assert_int_equal(detect_calls, 1);
    assert_true(has_status(&st, "using autodetected template chatml"));
    struct store_model *m;
    assert_int_equal(store_model_get(g_r, "chat", &m, err, sizeof(err)), 0);
    assert_non_null(strstr(m->template_text, "<|im_start|>assistant"));
    /* detected stop words merged under the request's parameters */
    assert_int_equal(json_array_size(json_object_get(m->params, "stop")), 2);
    assert_non_null(json_object_get(m->params, "temperature"));
    store_model_free(m);
    /* a template in the request: no detection */
    memset(&st, 0, sizeof(st));
    rc = create(files_req("chat2", d, "\"template\":\"{{ .Prompt }}\""), &st, err, sizeof(err),
                &hooks);
    assert_int_equal(rc, 0);
    assert_int_equal(detect_calls, 1);
    /* a template the caller's check refuses */
    hooks.check_template = reject_template;
    rc = create(files_req("chat4", d, "\"template\":\"{{ .Bad\""), &st, err, sizeof(err), &hooks);
    assert_int_equal(rc, OM_EINVAL);
    assert_string_equal(err, "template error: unclosed action");
    /* no hook: no template layer */
    rc = create(files_req("chat3", d, NULL), &st, err, sizeof(err), NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(store_model_get(g_r, "chat3", &m, err, sizeof(err)), 0);
    assert_null(m->template_text);
    store_model_free(m);
}

static void test_create_from_model(void **state)
{
    (void)state;
    char d[72], err[512];
    upload(g_f16, d);
    struct statuses st = {0};
    int rc = create(files_req("base", d,
                              "\"system\":\"A\",\"parameters\":{\"temperature\":0.5,"
                              "\"top_k\":10},\"license\":[\"L1\",\"L2\"]"),
                    &st, err, sizeof(err), NULL);
    assert_int_equal(rc, 0);
    memset(&st, 0, sizeof(st));
    rc = create("{\"model\":\"derived\",\"from\":\"BASE\",\"system\":\"B\","
                "\"parameters\":{\"temperature\":0.9}}",
                &st, err, sizeof(err), NULL);
    if (rc)
        fail_msg("create from model: %s", err);
    assert_true(has_status(&st, "using existing layer sha256:"));
    struct store_model *m, *b;
    assert_int_equal(store_model_get(g_r, "derived", &m, err, sizeof(err)), 0);
    assert_string_equal(m->system, "B");
    assert_int_equal(m->n_licenses, 2);
    char *ps = store_json_go(m->params, true, false, NULL);
    assert_string_equal(ps, "{\"temperature\":0.9,\"top_k\":10}");
    free(ps);
    json_t *det = store_model_details(m);
    assert_string_equal(json_string_value(json_object_get(det, "parent_model")), "base:latest");
    json_decref(det);
    assert_int_equal(store_model_get(g_r, "base", &b, err, sizeof(err)), 0);
    assert_string_equal(b->system, "A");
    assert_string_equal(b->model_path, m->model_path);
    store_model_free(b);
    store_model_free(m);
    /* delete base: derived keeps working (shared blobs stay) */
    struct store_name bn;
    store_name_parse("base", &bn);
    assert_int_equal(store_delete(g_r, &bn, true), 0);
    assert_int_equal(store_model_get(g_r, "derived", &m, err, sizeof(err)), 0);
    struct stat sb;
    assert_int_equal(stat(m->model_path, &sb), 0);
    store_model_free(m);
    /* from a missing model */
    rc = create("{\"model\":\"x\",\"from\":\"nope\"}", &st, err, sizeof(err), NULL);
    assert_int_equal(rc, OM_ENOTFOUND);
    assert_string_equal(err, "model \"nope\" not found");
    rc = create("{\"model\":\"x\",\"from\":\"bad name!\"}", &st, err, sizeof(err), NULL);
    assert_int_equal(rc, OM_EINVAL);
}

static void test_create_replace_prunes(void **state)
{
    (void)state;
    char d[72], err[512], one[72];
    upload(g_f16, d);
    struct statuses st = {0};
    assert_int_equal(
        create(files_req("rep", d, "\"system\":\"one-unique\""), &st, err, sizeof(err), NULL), 0);
    store_blob_put_bytes(g_r, "one-unique", 10, one); /* its digest */
    assert_true(store_blob_exists(g_r, one));
    assert_int_equal(
        create(files_req("rep", d, "\"system\":\"two-unique\""), &st, err, sizeof(err), NULL), 0);
    assert_false(store_blob_exists(g_r, one));
    assert_true(store_blob_exists(g_r, d)); /* weights still referenced */
    setenv("OLLAMA_NOPRUNE", "1", 1);
    char two[72];
    store_blob_put_bytes(g_r, "two-unique", 10, two);
    assert_int_equal(
        create(files_req("rep", d, "\"system\":\"three\""), &st, err, sizeof(err), NULL), 0);
    assert_true(store_blob_exists(g_r, two));
    setenv("OLLAMA_NOPRUNE", "false", 1); /* Go ParseBool: pruning again */
    char three[72];
    store_blob_put_bytes(g_r, "three", 5, three);
    assert_int_equal(
        create(files_req("rep", d, "\"system\":\"four\""), &st, err, sizeof(err), NULL), 0);
    assert_false(store_blob_exists(g_r, three));
    unsetenv("OLLAMA_NOPRUNE");
}

static void test_create_errors(void **state)
{
    (void)state;
    char d[72], err[512], junk[72];
    upload(g_f16, d);
    store_blob_put_bytes(g_r, "definitely not a gguf file", 26, junk);
    /* a truncated GGUF */
    char trunc_path[300], td[72];
    snprintf(trunc_path, sizeof(trunc_path), "%s/trunc.gguf", g_root);
    FILE *in = fopen(g_f16, "rb"), *out = fopen(trunc_path, "wb");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf), in);
    fwrite(buf, 1, n / 2, out);
    fclose(in);
    fclose(out);
    upload(trunc_path, td);
    /* one part of a split GGUF */
    char split_path[300], sd[72];
    snprintf(split_path, sizeof(split_path), "%s/split-00001-of-00002.gguf", g_root);
    gguf_writer *gw = gguf_writer_new();
    gguf_writer_set_str(gw, "general.architecture", "llama");
    gguf_writer_set_u16(gw, "split.count", 2);
    assert_int_equal(gguf_writer_write(gw, split_path, err, sizeof(err)), 0);
    gguf_writer_free(gw);
    upload(split_path, sd);
    int before = n_models();
    struct statuses st = {0};
    static char reqs[16][600];
    int k = 0;
    static const struct {
        int rc;
        const char *err;
    } W[] = {
        {OM_EINVAL, "invalid model name"},
        {OM_EINVAL, "invalid model name"},
        {OM_EINVAL, "neither 'from' or 'files' was specified"},
        {OM_EINVAL, "file path must be relative"},
        {OM_EINVAL, "file path must be relative"},
        {OM_EINVAL, "file path must be relative"},
        {OM_EINVAL, "invalid digest format"},
        {OM_EINVAL, "not found"},
        {OM_EINVAL, "supplied file was not in GGUF format"},
        {OM_EFORMAT, "model.gguf"},
        {OM_EINVAL, "option \"temperature\" must be of type float32"},
        {OM_EINVAL, "license must be a string or a list of strings"},
        {OM_EUNSUPPORTED, "adapters are not supported"},
        {OM_EINVAL, "request must be a JSON object"},
        {OM_EUNSUPPORTED, "split GGUF models are not supported"},
    };
    snprintf(reqs[k++], 600, "{\"model\":\"bad name\",\"files\":{\"a.gguf\":\"%s\"}}", d);
    snprintf(reqs[k++], 600, "{\"files\":{\"a.gguf\":\"%s\"}}", d);
    snprintf(reqs[k++], 600, "{\"model\":\"x\"}");
    snprintf(reqs[k++], 600, "{\"model\":\"x\",\"files\":{\"../a.gguf\":\"%s\"}}", d);
    snprintf(reqs[k++], 600, "{\"model\":\"x\",\"files\":{\"/etc/a.gguf\":\"%s\"}}", d);
    snprintf(reqs[k++], 600, "{\"model\":\"x\",\"files\":{\"a//b.gguf\":\"%s\"}}", d);
    snprintf(reqs[k++], 600, "{\"model\":\"x\",\"files\":{\"a.gguf\":\"sha256:1234\"}}");
    snprintf(reqs[k++], 600, "{\"model\":\"x\",\"files\":{\"a.gguf\":\"sha256:%064d\"}}", 7);
    snprintf(reqs[k++], 600, "{\"model\":\"x\",\"files\":{\"a.gguf\":\"%s\"}}", junk);
    snprintf(reqs[k++], 600, "{\"model\":\"x\",\"files\":{\"model.gguf\":\"%s\"}}", td);
    snprintf(
        reqs[k++], 600,
        "{\"model\":\"x\",\"files\":{\"a.gguf\":\"%s\"},\"parameters\":{\"temperature\":\"hot\"}}",
        d);
    snprintf(reqs[k++], 600, "{\"model\":\"x\",\"files\":{\"a.gguf\":\"%s\"},\"license\":[1]}", d);
    snprintf(reqs[k++], 600,
             "{\"model\":\"x\",\"files\":{\"a.gguf\":\"%s\"},\"adapters\":{\"l.gguf\":\"%s\"}}", d,
             d);
    snprintf(reqs[k++], 600, "[1,2]");
    snprintf(reqs[k++], 600, "{\"model\":\"x\",\"files\":{\"a-00001-of-00002.gguf\":\"%s\"}}", sd);
    for (int i = 0; i < k; i++) {
        err[0] = '\0';
        int rc = create(reqs[i], &st, err, sizeof(err), NULL);
        if (rc != W[i].rc || !strstr(err, W[i].err))
            fail_msg("request %d %s: rc %d err \"%s\", want %d \"%s\"", i, reqs[i], rc, err,
                     W[i].rc, W[i].err);
    }
    assert_int_equal(n_models(), before);
}

static void test_create_embedding_caps(void **state)
{
    (void)state;
    char path[300], d[72], err[512];
    struct store_synth_spec spec;
    assert_int_equal(store_synth_preset("tiny-bert", &spec), 0);
    spec.n_threads = 2;
    spec.ftype = STORE_FTYPE_F32;
    snprintf(path, sizeof(path), "%s/bert.gguf", g_root);
    assert_int_equal(store_synth(&spec, path, NULL, NULL, err, sizeof(err)), 0);
    upload(path, d);
    struct statuses st = {0};
    assert_int_equal(create(files_req("emb", d, NULL), &st, err, sizeof(err), NULL), 0);
    struct store_model *m;
    assert_int_equal(store_model_get(g_r, "emb", &m, err, sizeof(err)), 0);
    json_t *caps = store_model_capabilities(m);
    assert_int_equal(json_array_size(caps), 1);
    assert_string_equal(json_string_value(json_array_get(caps, 0)), "embedding");
    json_decref(caps);
    json_t *det = store_model_details(m);
    assert_string_equal(json_string_value(json_object_get(det, "family")), "bert");
    assert_string_equal(json_string_value(json_object_get(det, "quantization_level")), "F32");
    json_decref(det);
    store_model_free(m);
}

static void test_model_info_stories(void **state)
{
    (void)state;
    char path[512], d[72], err[512];
    snprintf(path, sizeof(path), "%s/models/stories260K.gguf", OM_SHARED_DIR);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "SKIP: %s is absent; create/model_info on a real model not tested\n", path);
        skip();
    }
    upload(path, d);
    struct statuses st = {0};
    assert_int_equal(create(files_req("stories", d, NULL), &st, err, sizeof(err), NULL), 0);
    struct store_model *m;
    assert_int_equal(store_model_get(g_r, "stories:latest", &m, err, sizeof(err)), 0);
    json_t *info = store_model_info(m->model_path, false, err, sizeof(err));
    assert_non_null(info);
    assert_string_equal(json_string_value(json_object_get(info, "general.architecture")), "llama");
    assert_null(json_object_get(info, "general.name"));
    assert_null(json_object_get(info, "tokenizer.chat_template"));
    json_t *toks = json_object_get(info, "tokenizer.ggml.tokens");
    assert_true(json_is_array(toks));
    assert_int_equal(json_array_size(toks), 0);
    assert_int_equal(json_integer_value(json_object_get(info, "llama.embedding_length")), 64);
    json_int_t pc = json_integer_value(json_object_get(info, "general.parameter_count"));
    assert_true(pc > 200000 && pc < 400000);
    json_decref(info);
    info = store_model_info(m->model_path, true, err, sizeof(err));
    assert_int_equal(json_array_size(json_object_get(info, "tokenizer.ggml.tokens")), 512);
    json_decref(info);
    json_t *det = store_model_details(m);
    char human[32];
    store_format_params((uint64_t)pc, human, sizeof(human));
    assert_string_equal(json_string_value(json_object_get(det, "parameter_size")), human);
    json_decref(det);
    char *mf = store_show_modelfile(m);
    char want[600];
    snprintf(want, sizeof(want), "FROM %s\n", m->model_path);
    assert_non_null(strstr(mf, want));
    assert_non_null(strstr(mf, "# FROM stories:latest\n"));
    free(mf);
    store_model_free(m);
    assert_null(store_model_info("/nonexistent.gguf", false, err, sizeof(err)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_from_files),     cmocka_unit_test(test_create_quantize),
        cmocka_unit_test(test_create_detect),         cmocka_unit_test(test_create_from_model),
        cmocka_unit_test(test_create_replace_prunes), cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_create_embedding_caps), cmocka_unit_test(test_model_info_stories),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
