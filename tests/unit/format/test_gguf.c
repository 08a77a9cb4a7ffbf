/* tests: GGUF writer -> reader round trip (every value type, nested arrays,
 * many tensors of several types, borrowed and streamed tensor data), typed
 * getter conversions, writer misuse, and reading the real GGUF files under
 * OM_SHARED_DIR/models (skipped loudly when absent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/om.h"
#include "base/om_types.h"
#include "format/gguf.h"

static char g_dir[64];

static int setup_dir(void **state)
{
    (void)state;
    strcpy(g_dir, "/tmp/om_test_gguf_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* little byte builder for nested-array payloads */
struct bb {
    uint8_t b[4096];
    size_t n;
};
static void bb_u32(struct bb *b, uint32_t v) { memcpy(b->b + b->n, &v, 4); b->n += 4; }
static void bb_u64(struct bb *b, uint64_t v) { memcpy(b->b + b->n, &v, 8); b->n += 8; }
static void bb_str(struct bb *b, const char *s)
{
    bb_u64(b, strlen(s));
    memcpy(b->b + b->n, s, strlen(s));
    b->n += strlen(s);
}

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb, ca, cb;
    while (eq) {
        ca = fgetc(fa);
        cb = fgetc(fb);
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

struct stream_ctx {
    const uint8_t *data;
    size_t size;
    int calls;
};

static int stream_fn(void *ctx, const char *name, gguf_sink *sink)
{
    struct stream_ctx *c = ctx;
    assert_string_equal(name, "streamed");
    c->calls++;
    for (size_t off = 0; off < c->size; off += 7) {
        int rc = gguf_sink_write(sink, c->data + off, OM_MIN(7, c->size - off));
        if (rc)
            return rc;
    }
    return 0;
}

#define N_TENSORS 40

struct tspec {
    char name[32];
    uint32_t type, n_dims;
    int64_t ne[4];
    uint8_t *data;
    size_t size;
};

static void make_tensors(struct tspec *ts)
{
    static const uint32_t types[] = {OM_TYPE_F32, OM_TYPE_F16, OM_TYPE_Q4_0, OM_TYPE_Q8_0,
                                     OM_TYPE_Q4_K, OM_TYPE_Q6_K, OM_TYPE_BF16, OM_TYPE_I8,
                                     OM_TYPE_IQ2_XXS, OM_TYPE_Q5_1};
    for (int i = 0; i < N_TENSORS; i++) {
        struct tspec *t = &ts[i];
        snprintf(t->name, sizeof(t->name), "blk.%d.w", i);
        t->type = types[i % OM_ARRAY_LEN(types)];
        t->n_dims = 1 + (uint32_t)(i % 4);
        const struct om_type_info *ti = om_type_get(t->type);
        t->ne[0] = (int64_t)ti->blck * (1 + (int64_t)(rnd() % 3));
        for (uint32_t d = 1; d < 4; d++)
            t->ne[d] = d < t->n_dims ? 1 + (int64_t)(rnd() % 3) : 1;
        t->size = om_type_row_size(t->type, t->ne[0]) * (size_t)(t->ne[1] * t->ne[2] * t->ne[3]);
        t->data = malloc(t->size);
        for (size_t j = 0; j < t->size; j++)
            t->data[j] = (uint8_t)rnd();
    }
}

static void build_writer(gguf_writer *w, struct tspec *ts, uint32_t align)
{
    if (align)
        gguf_writer_set_alignment(w, align);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u8(w, "t.u8", 250);
    gguf_writer_set_i8(w, "t.i8", -100);
    gguf_writer_set_u16(w, "t.u16", 65000);
    gguf_writer_set_i16(w, "t.i16", -30000);
    gguf_writer_set_u32(w, "t.u32", 4000000000u);
    gguf_writer_set_i32(w, "t.i32", -2000000000);
    gguf_writer_set_u64(w, "t.u64", 18000000000000000000ull);
    gguf_writer_set_i64(w, "t.i64", -9000000000000000000ll);
    gguf_writer_set_f32(w, "t.f32", 1.5f);
    gguf_writer_set_f64(w, "t.f64", -2.25e300);
    gguf_writer_set_bool(w, "t.bool", 1);
    gguf_writer_set_strn(w, "t.strn", "a\0b", 3);
    gguf_writer_set_str(w, "t.empty", "");
    int32_t ai[5] = {1, -2, 3, -4, 5};
    gguf_writer_set_arr(w, "t.arr_i32", GGUF_VT_INT32, ai, 5);
    float af[3] = {0.5f, -1.0f, 3.25f};
    gguf_writer_set_arr(w, "t.arr_f32", GGUF_VT_FLOAT32, af, 3);
    uint8_t ab[4] = {1, 0, 1, 1};
    gguf_writer_set_arr(w, "t.arr_bool", GGUF_VT_BOOL, ab, 4);
    double ad[2] = {1e-300, 7.0};
    gguf_writer_set_arr(w, "t.arr_f64", GGUF_VT_FLOAT64, ad, 2);
    gguf_writer_set_arr(w, "t.arr_empty", GGUF_VT_UINT16, NULL, 0);
    const char *toks[] = {"<s>", "</s>", "", "hello", "\xe4\xb8\x96"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 5);
    /* [[1,2,3],[],[["x","yz"]]] is not uniform; GGUF arrays are: make
     * arr<arr<u32>> = [[1,2,3],[]] and arr<arr<arr<str>>> = [[["x","yz"]],[]] */
    struct bb b = {.n = 0};
    bb_u32(&b, GGUF_VT_ARRAY); bb_u64(&b, 2);
    bb_u32(&b, GGUF_VT_UINT32); bb_u64(&b, 3); bb_u32(&b, 1); bb_u32(&b, 2); bb_u32(&b, 3);
    bb_u32(&b, GGUF_VT_UINT32); bb_u64(&b, 0);
    assert_int_equal(gguf_writer_set_raw(w, "t.nested2", GGUF_VT_ARRAY, b.b, b.n), 0);
    b.n = 0;
    bb_u32(&b, GGUF_VT_ARRAY); bb_u64(&b, 2);
    bb_u32(&b, GGUF_VT_ARRAY); bb_u64(&b, 1);
    bb_u32(&b, GGUF_VT_STRING); bb_u64(&b, 2); bb_str(&b, "x"); bb_str(&b, "yz");
    bb_u32(&b, GGUF_VT_ARRAY); bb_u64(&b, 0);
    assert_int_equal(gguf_writer_set_raw(w, "t.nested3", GGUF_VT_ARRAY, b.b, b.n), 0);
    gguf_writer_set_u32(w, "t.replaced", 1);
    gguf_writer_set_u32(w, "t.replaced", 2);
    gguf_writer_set_u32(w, "t.removed", 3);
    gguf_writer_remove(w, "t.removed");
    for (int i = 0; i < N_TENSORS; i++) {
        struct tspec *t = &ts[i];
        int rc = i % 2 ? gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data,
                                                t->size)
                       : gguf_writer_add_tensor_ref(w, t->name, t->type, t->n_dims, t->ne,
                                                    t->data, t->size);
        assert_int_equal(rc, 0);
    }
}

static void check_values(const gguf_file *f)
{
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    float f32;
    double f64;
    int bl;
    gguf_str s;
    assert_int_equal(gguf_get_str(f, "general.architecture", &s), 0);
    assert_true(gguf_str_eq(s, "llama"));
    assert_int_equal(gguf_get_u32(f, "t.u8", &u32), 0);
    assert_int_equal(u32, 250);
    assert_int_equal(gguf_get_i64(f, "t.i8", &i64), 0);
    assert_int_equal(i64, -100);
    assert_int_equal(gguf_get_u32(f, "t.u16", &u32), 0);
    assert_int_equal(u32, 65000);
    assert_int_equal(gguf_get_i64(f, "t.i16", &i64), 0);
    assert_int_equal(i64, -30000);
    assert_int_equal(gguf_get_u32(f, "t.u32", &u32), 0);
    assert_int_equal(u32, 4000000000u);
    assert_int_equal(gguf_get_i64(f, "t.i32", &i64), 0);
    assert_int_equal(i64, -2000000000);
    assert_int_equal(gguf_get_u64(f, "t.u64", &u64), 0);
    assert_true(u64 == 18000000000000000000ull);
    assert_int_equal(gguf_get_i64(f, "t.i64", &i64), 0);
    assert_true(i64 == -9000000000000000000ll);
    assert_int_equal(gguf_get_f32(f, "t.f32", &f32), 0);
    assert_true(f32 == 1.5f);
    assert_int_equal(gguf_get_f64(f, "t.f64", &f64), 0);
    assert_true(f64 == -2.25e300);
    assert_int_equal(gguf_get_bool(f, "t.bool", &bl), 0);
    assert_int_equal(bl, 1);
    assert_int_equal(gguf_get_str(f, "t.strn", &s), 0);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "a\0b", 3);
    char small[3];
    assert_int_equal(gguf_str_copy(s, small, sizeof(small)), OM_ERANGE);
    assert_memory_equal(small, "a\0", 2);
    gguf_str ab = {"ab", 2};
    assert_int_equal(gguf_str_copy(ab, small, sizeof(small)), 0);
    assert_string_equal(small, "ab");
    assert_string_equal(gguf_vtype_name(GGUF_VT_FLOAT64), "f64");
    assert_string_equal(gguf_vtype_name(GGUF_VT_COUNT), "unknown");
    assert_int_equal(gguf_kv_type(f, gguf_find_key(f, "t.u16")), GGUF_VT_UINT16);
    assert_int_equal(gguf_kv_type(f, -1), GGUF_VT_COUNT);
    assert_int_equal(gguf_get_str(f, "t.empty", &s), 0);
    assert_int_equal(s.len, 0);
    assert_int_equal(gguf_get_u32(f, "t.replaced", &u32), 0);
    assert_int_equal(u32, 2);
    assert_int_equal(gguf_find_key(f, "t.removed"), -1);

    /* conversions and refusals */
    assert_int_equal(gguf_get_u32(f, "t.i32", &u32), OM_ERANGE);
    assert_int_equal(gguf_get_u32(f, "t.u64", &u32), OM_ERANGE);
    assert_int_equal(gguf_get_i64(f, "t.u64", &i64), OM_ERANGE);
    assert_int_equal(gguf_get_u32(f, "t.f32", &u32), OM_EFORMAT);
    assert_int_equal(gguf_get_f32(f, "t.u32", &f32), OM_EFORMAT);
    assert_int_equal(gguf_get_str(f, "t.u32", &s), OM_EFORMAT);
    assert_int_equal(gguf_get_bool(f, "t.u8", &bl), OM_EFORMAT);
    assert_int_equal(gguf_get_u32(f, "no.such.key", &u32), OM_ENOTFOUND);
    assert_int_equal(gguf_get_f32(f, "t.f64", &f32), 0);
    assert_true(f32 == (float)-2.25e300);

    enum gguf_vtype et;
    uint64_t n;
    const void *data;
    assert_int_equal(gguf_get_arr(f, "t.arr_i32", &et, &n, &data), 0);
    assert_int_equal(et, GGUF_VT_INT32);
    assert_int_equal(n, 5);
    int32_t ai[5];
    memcpy(ai, data, sizeof(ai));
    assert_int_equal(ai[1], -2);
    assert_int_equal(ai[4], 5);
    assert_int_equal(gguf_get_arr(f, "t.arr_f32", &et, &n, &data), 0);
    float af[3];
    memcpy(af, data, sizeof(af));
    assert_true(et == GGUF_VT_FLOAT32 && n == 3 && af[2] == 3.25f);
    assert_int_equal(gguf_get_arr(f, "t.arr_bool", &et, &n, &data), 0);
    assert_true(et == GGUF_VT_BOOL && n == 4 && ((const uint8_t *)data)[1] == 0);
    assert_int_equal(gguf_get_arr(f, "t.arr_f64", &et, &n, &data), 0);
    double ad[2];
    memcpy(ad, data, sizeof(ad));
    assert_true(et == GGUF_VT_FLOAT64 && n == 2 && ad[0] == 1e-300);
    assert_int_equal(gguf_get_arr(f, "t.arr_empty", &et, &n, &data), 0);
    assert_true(et == GGUF_VT_UINT16 && n == 0);
    assert_int_equal(gguf_get_arr(f, "t.u32", &et, &n, &data), OM_EFORMAT);

    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.tokens", &et, &n, NULL), 0);
    assert_true(et == GGUF_VT_STRING && n == 5);
    assert_int_equal(gguf_get_arr_str(f, "tokenizer.ggml.tokens", 3, &s), 0);
    assert_true(gguf_str_eq(s, "hello"));
    assert_int_equal(gguf_get_arr_str(f, "tokenizer.ggml.tokens", 2, &s), 0);
    assert_int_equal(s.len, 0);
    assert_int_equal(gguf_get_arr_str(f, "tokenizer.ggml.tokens", 4, &s), 0);
    assert_true(gguf_str_eq(s, "\xe4\xb8\x96"));
    assert_int_equal(gguf_get_arr_str(f, "tokenizer.ggml.tokens", 5, &s), OM_ERANGE);
    assert_int_equal(gguf_get_arr_str(f, "t.arr_i32", 0, &s), OM_EFORMAT);

    /* nested arrays through the generic value view */
    gguf_value v, e, e2, e3;
    assert_int_equal(gguf_get_value(f, "t.nested2", &v), 0);
    assert_true(v.type == GGUF_VT_ARRAY && v.elem_type == GGUF_VT_ARRAY && v.n == 2);
    assert_int_equal(gguf_value_at(&v, 0, &e), 0);
    assert_true(e.type == GGUF_VT_ARRAY && e.elem_type == GGUF_VT_UINT32 && e.n == 3);
    assert_int_equal(gguf_value_at(&e, 2, &e2), 0);
    assert_int_equal(e2.size, 4);
    assert_int_equal(((const uint8_t *)e2.data)[0], 3);
    assert_int_equal(gguf_value_at(&v, 1, &e), 0);
    assert_true(e.elem_type == GGUF_VT_UINT32 && e.n == 0);
    assert_int_equal(gguf_value_at(&v, 2, &e), OM_ERANGE);
    assert_int_equal(gguf_value_at(&e2, 0, &e), OM_EINVAL);
    assert_int_equal(gguf_get_value(f, "t.nested3", &v), 0);
    assert_int_equal(gguf_value_at(&v, 0, &e), 0);
    assert_true(e.elem_type == GGUF_VT_ARRAY && e.n == 1);
    assert_int_equal(gguf_value_at(&e, 0, &e2), 0);
    assert_true(e2.elem_type == GGUF_VT_STRING && e2.n == 2);
    assert_int_equal(gguf_value_at(&e2, 1, &e3), 0);
    assert_true(e3.type == GGUF_VT_STRING && e3.size == 2);
    assert_memory_equal(e3.data, "yz", 2);
    assert_int_equal(gguf_value_at(&v, 1, &e), 0);
    assert_true(e.elem_type == GGUF_VT_ARRAY && e.n == 0);
}

static void check_tensors(const gguf_file *f, const struct tspec *ts, uint32_t align)
{
    assert_int_equal(gguf_alignment(f), align);
    assert_int_equal(gguf_data_offset(f) % align, 0);
    for (int i = 0; i < N_TENSORS; i++) {
        const gguf_tensor *t = gguf_find_tensor(f, ts[i].name);
        assert_non_null(t);
        assert_ptr_equal(t, gguf_tensor_at(f, i));
        assert_true(gguf_str_eq(t->name, ts[i].name));
        assert_int_equal(t->type, ts[i].type);
        assert_int_equal(t->n_dims, ts[i].n_dims);
        for (int d = 0; d < 4; d++)
            assert_int_equal(t->ne[d], ts[i].ne[d]);
        assert_int_equal(t->size, ts[i].size);
        assert_int_equal(t->offset % align, 0);
        assert_memory_equal(t->data, ts[i].data, ts[i].size);
    }
    assert_null(gguf_find_tensor(f, "missing"));
    assert_null(gguf_tensor_at(f, N_TENSORS + 1)); /* + "streamed" */
    assert_null(gguf_tensor_at(f, -1));
}

static void roundtrip(uint32_t align)
{
    struct tspec ts[N_TENSORS];
    make_tensors(ts);
    gguf_writer *w = gguf_writer_new();
    build_writer(w, ts, align);
    /* one more tensor produced by a callback at write time */
    uint8_t sdata[64 * 3 * 4];
    for (size_t i = 0; i < sizeof(sdata); i++)
        sdata[i] = (uint8_t)rnd();
    struct stream_ctx sc = {sdata, sizeof(sdata), 0};
    int64_t sne[2] = {64, 3};
    assert_int_equal(gguf_writer_add_tensor_stream(w, "streamed", OM_TYPE_F32, 2, sne, stream_fn,
                                                   &sc),
                     0);
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/rt%u.gguf", g_dir, align);
    assert_int_equal(gguf_writer_write(w, path, err, sizeof(err)), 0);
    assert_int_equal(sc.calls, 1);
    gguf_writer_free(w);

    gguf_file *f;
    assert_int_equal(gguf_open(path, &f, err, sizeof(err)), 0);
    assert_int_equal(gguf_version(f), 3);
    check_values(f);
    check_tensors(f, ts, align ? align : GGUF_DEFAULT_ALIGNMENT);
    const gguf_tensor *st = gguf_find_tensor(f, "streamed");
    assert_non_null(st);
    assert_memory_equal(st->data, sdata, sizeof(sdata));

    /* copy_kv + borrowed views re-create an identical file */
    gguf_writer *w2 = gguf_writer_new();
    gguf_writer_copy_kv(w2, f);
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)t->name.len, t->name.ptr);
        assert_int_equal(gguf_writer_add_tensor_ref(w2, name, t->type, t->n_dims, t->ne, t->data,
                                                    t->size),
                         0);
    }
    char path2[160];
    snprintf(path2, sizeof(path2), "%s.copy", path);
    assert_int_equal(gguf_writer_write(w2, path2, err, sizeof(err)), 0);
    gguf_writer_free(w2);
    assert_true(files_equal(path, path2));
    gguf_close(f);
    for (int i = 0; i < N_TENSORS; i++)
        free(ts[i].data);
}

static void test_roundtrip_default_alignment(void **state)
{
    (void)state;
    roundtrip(0);
}

static void test_roundtrip_alignment_64(void **state)
{
    (void)state;
    roundtrip(64);
}

static void test_roundtrip_alignment_1(void **state)
{
    (void)state;
    roundtrip(1);
}

static int fail_stream(void *ctx, const char *name, gguf_sink *sink)
{
    (void)ctx;
    (void)name;
    uint8_t b[8] = {0};
    return gguf_sink_write(sink, b, sizeof(b)); /* too short: 8 of 16 bytes */
}

static void test_writer_misuse(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/misuse.gguf", g_dir);
    float d[8] = {0};
    int64_t ne[2] = {4, 2}, bad[2] = {4, -1};
    gguf_writer *w = gguf_writer_new();
    assert_int_equal(gguf_writer_add_tensor(w, "a", OM_TYPE_F32, 2, ne, d, sizeof(d)), 0);
    assert_int_equal(gguf_writer_add_tensor(w, "a", OM_TYPE_F32, 2, ne, d, sizeof(d)), OM_EINVAL);
    assert_int_equal(gguf_writer_add_tensor(w, "b", OM_TYPE_F32, 2, ne, d, 16), OM_EINVAL);
    assert_int_equal(gguf_writer_add_tensor(w, "b", OM_TYPE_F32, 2, bad, d, 16), OM_EINVAL);
    assert_int_equal(gguf_writer_add_tensor(w, "b", OM_TYPE_F32, 0, ne, d, 32), OM_EINVAL);
    assert_int_equal(gguf_writer_add_tensor(w, "b", OM_TYPE_F32, 5, ne, d, 32), OM_EINVAL);
    assert_int_equal(gguf_writer_add_tensor(w, "b", OM_TYPE_Q4_0, 2, ne, d, 32), OM_EINVAL);
    assert_int_equal(gguf_writer_add_tensor(w, "b", 41, 2, ne, d, 32), OM_EINVAL);
    /* a file with a failing producer is not created, the target is untouched */
    int64_t ne4[1] = {4};
    assert_int_equal(gguf_writer_add_tensor_stream(w, "s", OM_TYPE_F32, 1, ne4, fail_stream, NULL),
                     0);
    assert_int_equal(gguf_writer_write(w, path, err, sizeof(err)), OM_EINVAL);
    assert_non_null(strstr(err, "tensor 's'"));
    assert_int_equal(access(path, F_OK), -1);
    gguf_writer_free(w);

    w = gguf_writer_new();
    uint8_t junk[5] = {1, 2, 3, 4, 5};
    assert_int_equal(gguf_writer_set_raw(w, "x", GGUF_VT_ARRAY, junk, sizeof(junk)), OM_EINVAL);
    assert_int_equal(gguf_writer_write(w, path, err, sizeof(err)), OM_EINVAL);
    assert_non_null(strstr(err, "'x'"));
    gguf_writer_free(w);

    w = gguf_writer_new();
    gguf_writer_set_alignment(w, 3);
    assert_int_equal(gguf_writer_write(w, path, err, sizeof(err)), OM_EINVAL);
    gguf_writer_free(w);
    w = gguf_writer_new();
    gguf_writer_set_i32(w, "general.alignment", 64); /* wrong type */
    assert_int_equal(gguf_writer_write(w, path, err, sizeof(err)), OM_EINVAL);
    assert_non_null(strstr(err, "general.alignment"));
    gguf_writer_free(w);

    /* empty writer: a valid file with nothing in it; no temp files left */
    w = gguf_writer_new();
    assert_int_equal(gguf_writer_write(w, path, err, sizeof(err)), 0);
    gguf_writer_free(w);
    gguf_file *f;
    assert_int_equal(gguf_open(path, &f, err, sizeof(err)), 0);
    assert_int_equal(gguf_n_kv(f), 0);
    assert_int_equal(gguf_n_tensors(f), 0);
    gguf_close(f);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* a failed write leaves the existing file as it was */
    w = gguf_writer_new();
    gguf_writer_set_u32(w, "k", 1);
    assert_int_equal(gguf_writer_add_tensor_stream(w, "s", OM_TYPE_F32, 1, ne4, fail_stream, NULL),
                     0);
    assert_int_equal(gguf_writer_write(w, path, err, sizeof(err)), OM_EINVAL);
    gguf_writer_free(w);
    assert_int_equal(gguf_open(path, &f, err, sizeof(err)), 0);
    assert_int_equal(gguf_n_kv(f), 0);
    gguf_close(f);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q tmp", g_dir);
    assert_int_not_equal(system(cmd), 0);

    assert_int_equal(gguf_open("/nonexistent/x.gguf", &f, err, sizeof(err)), OM_ENOTFOUND);
    assert_null(f);
    assert_non_null(strstr(err, "/nonexistent/x.gguf"));
    assert_int_not_equal(gguf_open(g_dir, &f, err, sizeof(err)), 0);
}

/* ---- real files ---- */

static int open_shared(const char *rel, gguf_file **f)
{
    char path[512], err[512];
    snprintf(path, sizeof(path), "%s/%s", OM_SHARED_DIR, rel);
    if (access(path, R_OK) != 0) {
        print_message("SKIP: %s is absent; real-file GGUF checks not run\n", path);
        return -1;
    }
    int rc = gguf_open(path, f, err, sizeof(err));
    if (rc)
        fail_msg("%s: %s", path, err);
    return 0;
}

static void check_llama_common(const gguf_file *f, uint64_t n_vocab)
{
    gguf_str s;
    uint64_t n;
    enum gguf_vtype et;
    assert_int_equal(gguf_get_str(f, "general.architecture", &s), 0);
    assert_true(gguf_str_eq(s, "llama"));
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.tokens", &et, &n, NULL), 0);
    assert_int_equal(et, GGUF_VT_STRING);
    assert_int_equal(n, n_vocab);
    assert_int_equal(gguf_get_arr_str(f, "tokenizer.ggml.tokens", 1, &s), 0);
    assert_true(gguf_str_eq(s, "<s>"));
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.scores", &et, &n, NULL), 0);
    assert_true(et == GGUF_VT_FLOAT32 && n == n_vocab);
}

static void test_stories260k(void **state)
{
    (void)state;
    gguf_file *f;
    if (open_shared("models/stories260K.gguf", &f))
        skip();
    check_llama_common(f, 512);
    uint32_t v;
    assert_int_equal(gguf_get_u32(f, "llama.embedding_length", &v), 0);
    assert_int_equal(v, 64);
    assert_int_equal(gguf_get_u32(f, "llama.block_count", &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(gguf_get_u32(f, "llama.attention.head_count_kv", &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(gguf_n_tensors(f), 48);
    const gguf_tensor *t = gguf_find_tensor(f, "token_embd.weight");
    assert_non_null(t);
    assert_true(t->type == OM_TYPE_F32 && t->ne[0] == 64 && t->ne[1] == 512);
    assert_int_equal(t->size, 64 * 512 * 4);
    t = gguf_find_tensor(f, "blk.4.ffn_down.weight");
    assert_non_null(t);
    assert_true(t->ne[0] == 172 && t->ne[1] == 64);
    gguf_close(f);
}

static void test_tiny_random(void **state)
{
    (void)state;
    gguf_file *f;
    if (open_shared("models/llama-2-tiny-random.gguf", &f))
        skip();
    check_llama_common(f, 32000);
    int n_f16 = 0;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++)
        n_f16 += gguf_tensor_at(f, i)->type == OM_TYPE_F16;
    assert_true(n_f16 > 0);
    gguf_close(f);
}

static void test_vocab_files(void **state)
{
    (void)state;
    static const struct {
        const char *file, *arch, *model;
        uint64_t n_vocab;
    } v[] = {
        {"ggml-vocab-llama-spm.gguf", "llama", "llama", 32000},
        {"ggml-vocab-gpt-2.gguf", "gpt2", "gpt2", 50257},
        {"ggml-vocab-bert-bge.gguf", "bert", "bert", 30522},
        {"ggml-vocab-falcon.gguf", "falcon", "gpt2", 65024},
        {"ggml-vocab-deepseek-llm.gguf", "llama", "gpt2", 102400},
    };
    int seen = 0;
    for (size_t i = 0; i < OM_ARRAY_LEN(v); i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "models/vocab/%s", v[i].file);
        gguf_file *f;
        if (open_shared(rel, &f))
            continue;
        seen++;
        gguf_str s;
        uint64_t n;
        assert_int_equal(gguf_get_str(f, "general.architecture", &s), 0);
        assert_true(gguf_str_eq(s, v[i].arch));
        assert_int_equal(gguf_get_str(f, "tokenizer.ggml.model", &s), 0);
        if (!gguf_str_eq(s, v[i].model))
            fail_msg("%s: tokenizer.ggml.model is '%.*s'", v[i].file, (int)s.len, s.ptr);
        assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.tokens", NULL, &n, NULL), 0);
        assert_int_equal(n, v[i].n_vocab);
        assert_int_equal(gguf_get_arr_str(f, "tokenizer.ggml.tokens", n - 1, &s), 0);
        assert_int_equal(gguf_n_tensors(f), 0);
        gguf_close(f);
    }
    if (!seen)
        skip();
}

/* copy_kv + add_tensor_ref over real files (written by ggml's gguf-py)
 * reproduce them byte for byte: same layout, padding and alignment. */
static void test_rewrite_identical(void **state)
{
    (void)state;
    static const char *files[] = {"models/stories260K.gguf", "models/llama-2-tiny-random.gguf",
                                  "models/vocab/ggml-vocab-llama-spm.gguf",
                                  "models/vocab/ggml-vocab-gpt-2.gguf"};
    int seen = 0;
    for (size_t k = 0; k < OM_ARRAY_LEN(files); k++) {
        gguf_file *f;
        if (open_shared(files[k], &f))
            continue;
        seen++;
        gguf_writer *w = gguf_writer_new();
        gguf_writer_copy_kv(w, f);
        for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
            const gguf_tensor *t = gguf_tensor_at(f, i);
            char name[256];
            assert_int_equal(gguf_str_copy(t->name, name, sizeof(name)), 0);
            assert_int_equal(gguf_writer_add_tensor_ref(w, name, t->type, t->n_dims, t->ne,
                                                        t->data, t->size),
                             0);
        }
        char out[128], src[512], err[256];
        snprintf(out, sizeof(out), "%s/rewrite.gguf", g_dir);
        snprintf(src, sizeof(src), "%s/%s", OM_SHARED_DIR, files[k]);
        assert_int_equal(gguf_writer_write(w, out, err, sizeof(err)), 0);
        gguf_writer_free(w);
        if (!files_equal(src, out))
            fail_msg("re-writing %s does not reproduce it byte for byte", files[k]);
        gguf_close(f);
    }
    if (!seen)
        skip();
}

/* Every .gguf under models/ and models/vocab/ opens, and each tensor's bytes
 * can be read (under ASan this proves the views lie inside the mapping). */
static void test_all_shared_files(void **state)
{
    (void)state;
    static const char *dirs[] = {"models", "models/vocab"};
    int seen = 0;
    for (size_t d = 0; d < OM_ARRAY_LEN(dirs); d++) {
        char dpath[512];
        snprintf(dpath, sizeof(dpath), "%s/%s", OM_SHARED_DIR, dirs[d]);
        DIR *dir = opendir(dpath);
        if (!dir)
            continue;
        struct dirent *de;
        while ((de = readdir(dir))) {
            size_t l = strlen(de->d_name);
            if (l < 5 || strcmp(de->d_name + l - 5, ".gguf") != 0)
                continue;
            char rel[512];
            snprintf(rel, sizeof(rel), "%s/%s", dirs[d], de->d_name);
            gguf_file *f;
            if (open_shared(rel, &f))
                continue;
            seen++;
            uint8_t x = 0;
            for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
                const gguf_tensor *t = gguf_tensor_at(f, i);
                for (size_t j = 0; j < t->size; j += 61)
                    x ^= ((const uint8_t *)t->data)[j];
                x ^= ((const uint8_t *)t->data)[t->size - 1];
            }
            for (int64_t i = 0; i < gguf_n_kv(f); i++) {
                gguf_value v;
                assert_int_equal(gguf_kv_value(f, i, &v), 0);
                gguf_str k = gguf_key_name(f, i);
                char key[256];
                assert_true(k.len < sizeof(key));
                memcpy(key, k.ptr, k.len);
                key[k.len] = 0;
                assert_int_equal(gguf_find_key(f, key), i);
            }
            print_message("  %s: %lld kv, %lld tensors (x=%u)\n", rel,
                          (long long)gguf_n_kv(f), (long long)gguf_n_tensors(f), x);
            gguf_close(f);
        }
        closedir(dir);
    }
    if (!seen) {
        print_message("SKIP: no .gguf files under %s/models\n", OM_SHARED_DIR);
        skip();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_default_alignment),
        cmocka_unit_test(test_roundtrip_alignment_64),
        cmocka_unit_test(test_roundtrip_alignment_1),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_tiny_random),
        cmocka_unit_test(test_vocab_files),
        cmocka_unit_test(test_all_shared_files),
        cmocka_unit_test(test_rewrite_identical),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
