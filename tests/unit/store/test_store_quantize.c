/* Unit tests for store/ quantizer: per-tensor types follow llama.cpp's rules
 * for every file type (mixes, fallbacks for a row length that is not a
 * multiple of 256, tied embeddings), dequantized weights stay close to the
 * originals, metadata is copied, output is independent of the thread count,
 * and hostile inputs fail cleanly without leaving files behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/om.h"
#include "base/om_types.h"
#include "format/gguf.h"
#include "kernels/kern.h"
#include "store/store.h"
#include "store/store_tmpdir.h"

static char g_f32[300]; /* llama, n_embd 256, 8 layers, ffn 288, untied */

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

static void base_spec(struct store_synth_spec *s)
{
    store_synth_defaults(STORE_ARCH_LLAMA, s);
    s->n_embd = 256;
    s->n_layer = 8;
    s->n_head = 4;
    s->n_head_kv = 2;
    s->n_ff = 288; /* ffn_down rows of 288: not a multiple of 256 */
    s->n_vocab = 512;
    s->tied_embd = 0;
    s->ftype = STORE_FTYPE_F32;
    s->seed = 7;
    s->n_threads = 2;
}

static int setup(void **state)
{
    (void)state;
    if (tmpdir_make("quant"))
        return -1;
    path_in(g_f32, sizeof(g_f32), "base-f32.gguf");
    struct store_synth_spec s;
    base_spec(&s);
    char err[256];
    int rc = store_synth(&s, g_f32, NULL, NULL, err, sizeof(err));
    if (rc)
        fprintf(stderr, "synth failed: %s\n", err);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    tmpdir_remove();
    return 0;
}

static int layer_of(const char *name)
{
    int l = -1;
    sscanf(name, "blk.%d.", &l);
    return l;
}

/* The rules written out independently of the implementation, for the shape
 * of base_spec: 8 layers, so "more bits" layers are 0, 3, 6 and 7. */
static uint32_t expected_type(enum store_ftype ft, const char *name, int n_dims)
{
    if (n_dims < 2)
        return OM_TYPE_F32;
    if (ft == STORE_FTYPE_F32)
        return OM_TYPE_F32;
    if (ft == STORE_FTYPE_F16)
        return OM_TYPE_F16;
    if (ft == STORE_FTYPE_BF16)
        return OM_TYPE_BF16;
    uint32_t base = store_ftype_base_type(ft);
    int l = layer_of(name);
    int more = l == 0 || l == 3 || l == 6 || l == 7;
    int km = ft == STORE_FTYPE_Q4_K_M || ft == STORE_FTYPE_Q5_K_M;
    if (!strcmp(name, "output.weight"))
        return ft == STORE_FTYPE_Q8_0 ? OM_TYPE_Q8_0 : OM_TYPE_Q6_K;
    if (strstr(name, "attn_v.weight")) {
        if (km && more)
            return OM_TYPE_Q6_K;
        if (ft == STORE_FTYPE_Q4_K_S && l < 4)
            return OM_TYPE_Q5_K;
        return base;
    }
    if (strstr(name, "ffn_down")) {
        uint32_t t = base;
        if (km && more)
            t = OM_TYPE_Q6_K;
        else if (ft == STORE_FTYPE_Q4_K_S && l < 1)
            t = OM_TYPE_Q5_K;
        /* row length 288: K-quants fall back */
        return t == OM_TYPE_Q4_K ? OM_TYPE_Q5_0
               : t == OM_TYPE_Q5_K ? OM_TYPE_Q5_1
               : t == OM_TYPE_Q6_K ? OM_TYPE_Q8_0
                                   : t;
    }
    return base;
}

/* Relative RMSE bound (error RMS / weight RMS) per stored type, about 1.25x
 * what the reference algorithms give on these weights. */
static double rmse_bound(uint32_t t)
{
    switch (t) {
    case OM_TYPE_F32: return 0;
    case OM_TYPE_F16: return 0.0005;
    case OM_TYPE_BF16: return 0.004;
    case OM_TYPE_Q8_0: return 0.007;
    case OM_TYPE_Q6_K: return 0.022;
    case OM_TYPE_Q5_K: return 0.045;
    case OM_TYPE_Q5_0: case OM_TYPE_Q5_1: return 0.05;
    case OM_TYPE_Q4_K: return 0.09;
    case OM_TYPE_Q4_1: return 0.095;
    case OM_TYPE_Q4_0: return 0.10;
    default: return 0;
    }
}

static double check_close(const gguf_tensor *orig, const gguf_tensor *q)
{
    int64_t n = orig->ne[0], rows = orig->ne[1] * orig->ne[2] * orig->ne[3];
    size_t qrow = om_type_row_size(q->type, n);
    float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
    double se = 0, sx = 0;
    for (int64_t r = 0; r < rows; r++) {
        memcpy(a, (const uint8_t *)orig->data + (size_t)r * n * 4, (size_t)n * 4);
        kern_dequant_row(q->type, (const uint8_t *)q->data + (size_t)r * qrow, b, n);
        for (int64_t i = 0; i < n; i++) {
            se += (double)(a[i] - b[i]) * (a[i] - b[i]);
            sx += (double)a[i] * a[i];
        }
    }
    free(a);
    free(b);
    return sqrt(se / sx);
}

static void test_every_ftype(void **state)
{
    (void)state;
    char err[512];
    gguf_file *fin;
    assert_int_equal(gguf_open(g_f32, &fin, err, sizeof(err)), 0);
    int quick = getenv("OM_TEST_QUICK") != NULL;
    for (int ft = 0; ft < STORE_FTYPE_COUNT; ft++) {
        if (quick && ft != STORE_FTYPE_Q4_K_M && ft != STORE_FTYPE_Q8_0)
            continue;
        char out[300];
        path_in(out, sizeof(out), "out.gguf");
        int rc = store_quantize_file(g_f32, out, (enum store_ftype)ft, 2, NULL, NULL, err,
                                     sizeof(err));
        if (rc)
            fail_msg("%s: %s", store_ftype_name((enum store_ftype)ft), err);
        gguf_file *fq;
        assert_int_equal(gguf_open(out, &fq, err, sizeof(err)), 0);
        uint32_t v;
        assert_int_equal(gguf_get_u32(fq, "general.file_type", &v), 0);
        assert_int_equal(v, (uint32_t)store_ftype_llama((enum store_ftype)ft));
        assert_int_equal(gguf_get_u32(fq, "general.quantization_version", &v), 0);
        assert_int_equal(v, 2);
        /* every input key is still there, with the same value for the vocab */
        assert_true(gguf_n_kv(fq) >= gguf_n_kv(fin));
        for (int64_t i = 0; i < gguf_n_kv(fin); i++) {
            gguf_str k = gguf_key_name(fin, i);
            char key[128];
            snprintf(key, sizeof(key), "%.*s", (int)k.len, k.ptr);
            assert_true(gguf_find_key(fq, key) >= 0);
        }
        gguf_str t1, t2;
        assert_int_equal(gguf_get_arr_str(fq, "tokenizer.ggml.tokens", 300, &t1), 0);
        assert_int_equal(gguf_get_arr_str(fin, "tokenizer.ggml.tokens", 300, &t2), 0);
        assert_true(t1.len == t2.len && !memcmp(t1.ptr, t2.ptr, t1.len));
        assert_int_equal(gguf_n_tensors(fq), gguf_n_tensors(fin));
        for (int64_t i = 0; i < gguf_n_tensors(fq); i++) {
            const gguf_tensor *q = gguf_tensor_at(fq, i);
            char name[96];
            snprintf(name, sizeof(name), "%.*s", (int)q->name.len, q->name.ptr);
            const gguf_tensor *o = gguf_find_tensor(fin, name);
            assert_non_null(o);
            assert_memory_equal(q->ne, o->ne, sizeof(q->ne));
            uint32_t want = expected_type((enum store_ftype)ft, name, (int)o->n_dims);
            if (q->type != want)
                fail_msg("%s: %s is %s, want %s", store_ftype_name((enum store_ftype)ft), name,
                         om_type_name(q->type), om_type_name(want));
            double e = check_close(o, q);
            if (e > rmse_bound(q->type))
                fail_msg("%s: %s (%s) relative RMSE %.4f > %.4f",
                         store_ftype_name((enum store_ftype)ft), name, om_type_name(q->type), e,
                         rmse_bound(q->type));
        }
        gguf_close(fq);
        unlink(out);
    }
    gguf_close(fin);
}

/* llama.cpp's order: non-layer tensors by name, then layer by layer. */
static void test_tensor_order(void **state)
{
    (void)state;
    char err[256], out[300];
    path_in(out, sizeof(out), "order.gguf");
    assert_int_equal(store_quantize_file(g_f32, out, STORE_FTYPE_Q8_0, 1, NULL, NULL, err,
                                         sizeof(err)), 0);
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f, err, sizeof(err)), 0);
    const gguf_tensor *t0 = gguf_tensor_at(f, 0), *t3 = gguf_tensor_at(f, 3);
    assert_true(gguf_str_eq(t0->name, "output.weight"));
    assert_true(gguf_str_eq(t3->name, "blk.0.attn_k.weight"));
    int last = -1;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        char name[96];
        const gguf_tensor *t = gguf_tensor_at(f, i);
        snprintf(name, sizeof(name), "%.*s", (int)t->name.len, t->name.ptr);
        assert_true(layer_of(name) >= last);
        last = layer_of(name);
    }
    gguf_close(f);
    unlink(out);
}

static void test_tied_embeddings(void **state)
{
    (void)state;
    struct store_synth_spec s;
    base_spec(&s);
    s.tied_embd = 1;
    s.ftype = STORE_FTYPE_Q4_K_M;
    char err[256], out[300];
    path_in(out, sizeof(out), "tied.gguf");
    assert_int_equal(store_synth(&s, out, NULL, NULL, err, sizeof(err)), 0);
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f, err, sizeof(err)), 0);
    assert_null(gguf_find_tensor(f, "output.weight"));
    /* token_embd doubles as the output: it gets the output's Q6_K */
    assert_int_equal(gguf_find_tensor(f, "token_embd.weight")->type, OM_TYPE_Q6_K);
    gguf_close(f);
    unlink(out);
}

static int file_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            eq = 0;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return eq;
}

static void test_threads_same_bytes(void **state)
{
    (void)state;
    char err[256], a[300], b[300];
    path_in(a, sizeof(a), "t1.gguf");
    path_in(b, sizeof(b), "t3.gguf");
    assert_int_equal(store_quantize_file(g_f32, a, STORE_FTYPE_Q4_K_S, 1, NULL, NULL, err,
                                         sizeof(err)), 0);
    assert_int_equal(store_quantize_file(g_f32, b, STORE_FTYPE_Q4_K_S, 3, NULL, NULL, err,
                                         sizeof(err)), 0);
    assert_true(file_equal(a, b));
    unlink(a);
    unlink(b);
}

/* F16 and BF16 inputs: converted through F32, still close to the generator's
 * values. */
static void half_input(enum store_ftype half)
{
    char err[256], f16[300], out[300];
    path_in(f16, sizeof(f16), "in-half.gguf");
    path_in(out, sizeof(out), "from-half.gguf");
    assert_int_equal(store_quantize_file(g_f32, f16, half, 2, NULL, NULL, err,
                                         sizeof(err)), 0);
    assert_int_equal(store_quantize_file(f16, out, STORE_FTYPE_Q8_0, 2, NULL, NULL, err,
                                         sizeof(err)), 0);
    gguf_file *fo, *fq;
    assert_int_equal(gguf_open(g_f32, &fo, err, sizeof(err)), 0);
    assert_int_equal(gguf_open(out, &fq, err, sizeof(err)), 0);
    const gguf_tensor *q = gguf_find_tensor(fq, "blk.2.ffn_up.weight");
    assert_int_equal(q->type, OM_TYPE_Q8_0);
    assert_true(check_close(gguf_find_tensor(fo, "blk.2.ffn_up.weight"), q) < 0.01);
    gguf_close(fo);
    gguf_close(fq);
    unlink(f16);
    unlink(out);
}

static void test_half_input(void **state)
{
    (void)state;
    half_input(STORE_FTYPE_F16);
    half_input(STORE_FTYPE_BF16);
}

static int g_calls;
static int count_progress(const struct store_progress *p, void *ud)
{
    (void)ud;
    assert_true(p->i_tensor < p->n_tensors);
    return ++g_calls == 5; /* cancel at the fifth tensor */
}

static void test_hostile(void **state)
{
    (void)state;
    char err[512], out[300], q4[300], junk[300];
    path_in(out, sizeof(out), "hostile.gguf");
    int before = tmpdir_count();

    /* missing input */
    int rc = store_quantize_file("/nonexistent/x.gguf", out, STORE_FTYPE_Q4_0, 1, NULL, NULL,
                                 err, sizeof(err));
    assert_true(rc < 0);
    assert_non_null(strstr(err, "/nonexistent/x.gguf"));
    assert_int_equal(access(out, F_OK), -1);

    /* not a GGUF file */
    path_in(junk, sizeof(junk), "junk.gguf");
    FILE *f = fopen(junk, "wb");
    fputs("this is not a model file, just some text long enough", f);
    fclose(f);
    rc = store_quantize_file(junk, out, STORE_FTYPE_Q4_0, 1, NULL, NULL, err, sizeof(err));
    assert_int_equal(rc, OM_EFORMAT);
    assert_int_equal(access(out, F_OK), -1);
    unlink(junk);

    /* quantized input to another type: refused, naming the tensor */
    path_in(q4, sizeof(q4), "q4.gguf");
    assert_int_equal(store_quantize_file(g_f32, q4, STORE_FTYPE_Q4_0, 2, NULL, NULL, err,
                                         sizeof(err)), 0);
    rc = store_quantize_file(q4, out, STORE_FTYPE_Q8_0, 2, NULL, NULL, err, sizeof(err));
    assert_int_equal(rc, OM_EUNSUPPORTED);
    assert_non_null(strstr(err, ".weight"));
    assert_non_null(strstr(err, "already quantized"));
    assert_int_equal(access(out, F_OK), -1);
    /* ... but to its own type it is a copy */
    rc = store_quantize_file(q4, out, STORE_FTYPE_Q4_0, 2, NULL, NULL, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_true(file_equal(q4, out));
    unlink(out);

    /* invalid type value and unknown names */
    rc = store_quantize_file(g_f32, out, (enum store_ftype)99, 1, NULL, NULL, err, sizeof(err));
    assert_int_equal(rc, OM_EINVAL);
    enum store_ftype ft;
    assert_int_equal(store_ftype_from_name("q3_zz", &ft), OM_EINVAL);
    assert_int_equal(store_ftype_from_name("Q4_K_M", &ft), 0);
    assert_int_equal(ft, STORE_FTYPE_Q4_K_M);
    assert_int_equal(store_ftype_from_name("q8_0", &ft), 0);
    assert_int_equal(ft, STORE_FTYPE_Q8_0);

    /* canceled: the existing output stays as it was, no temp file left */
    f = fopen(out, "wb");
    fputs("old", f);
    fclose(f);
    g_calls = 0;
    rc = store_quantize_file(g_f32, out, STORE_FTYPE_Q8_0, 1, count_progress, NULL, err,
                             sizeof(err));
    assert_int_equal(rc, OM_ECANCELED);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_size, 3);
    unlink(out);

    /* unwritable destination */
    rc = store_quantize_file(g_f32, "/nonexistent-dir/out.gguf", STORE_FTYPE_Q8_0, 1, NULL,
                             NULL, err, sizeof(err));
    assert_true(rc < 0);
    unlink(q4);
    assert_int_equal(tmpdir_count(), before);
}

/* A real trained model from the shared folder, if present. */
static void test_real_model(void **state)
{
    (void)state;
    const char *in = OM_SHARED_DIR "/models/stories260K.gguf";
    if (access(in, R_OK)) {
        fprintf(stderr, "SKIPPED: %s is missing\n", in);
        skip();
    }
    char err[512], out[300];
    path_in(out, sizeof(out), "stories-q8.gguf");
    int rc = store_quantize_file(in, out, STORE_FTYPE_Q8_0, 2, NULL, NULL, err, sizeof(err));
    if (rc)
        fail_msg("%s", err);
    gguf_file *fi, *fo;
    assert_int_equal(gguf_open(in, &fi, err, sizeof(err)), 0);
    assert_int_equal(gguf_open(out, &fo, err, sizeof(err)), 0);
    assert_int_equal(gguf_n_tensors(fi), gguf_n_tensors(fo));
    const gguf_tensor *o = gguf_find_tensor(fi, "blk.0.attn_q.weight");
    const gguf_tensor *q = gguf_find_tensor(fo, "blk.0.attn_q.weight");
    assert_int_equal(q->type, OM_TYPE_Q8_0);
    assert_true(check_close(o, q) < 0.01);
    /* ffn rows of 172 fit no 32-block: F16, where llama.cpp would give up */
    assert_int_equal(gguf_find_tensor(fo, "blk.0.ffn_down.weight")->type, OM_TYPE_F16);
    gguf_close(fi);
    gguf_close(fo);
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_ftype),      cmocka_unit_test(test_tensor_order),
        cmocka_unit_test(test_tied_embeddings),  cmocka_unit_test(test_threads_same_bytes),
        cmocka_unit_test(test_half_input),        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_real_model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
