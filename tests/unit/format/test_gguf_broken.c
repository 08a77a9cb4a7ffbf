/* tests: the GGUF reader against broken and hostile files. A small valid
 * file is built by hand (recording where each field lies), then corrupted
 * one field at a time; every case asserts the error code and that the
 * message names the offending key, tensor or offset. Also: truncation at
 * every length and single-byte corruption at every position must fail
 * cleanly or open consistently (run under ASan to catch over-reads: each
 * attempt uses a heap copy of exactly the bytes given). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/om.h"
#include "base/om_types.h"
#include "format/gguf.h"

struct buf {
    uint8_t p[2048];
    size_t n;
};

static size_t put_u32(struct buf *b, uint32_t v)
{
    size_t at = b->n;
    memcpy(b->p + b->n, &v, 4);
    b->n += 4;
    return at;
}

static size_t put_u64(struct buf *b, uint64_t v)
{
    size_t at = b->n;
    memcpy(b->p + b->n, &v, 8);
    b->n += 8;
    return at;
}

static size_t put_str(struct buf *b, const char *s)
{
    size_t at = put_u64(b, strlen(s));
    memcpy(b->p + b->n, s, strlen(s));
    b->n += strlen(s);
    return at;
}

/* Offsets of the fields the cases corrupt. */
struct offs {
    size_t arch_type, arch_len, keya_name, keyb_name, arr_count, arr_elem_type, u32arr_count;
    size_t align_type, align_val;
    size_t t_name[2], t_ndims[2], t_ne[2], t_type[2], t_off[2];
};

#define T0 "blk.0.attn_q.weight"
#define T1 "blk.0.attn_k.weight"

/* header; 7 kvs; tensor 0: q8_0 [32, 2] (68 bytes at 0); tensor 1: f32 [8]
 * (32 bytes at 96): the file ends exactly at the end of tensor 1's data, so
 * every truncation cuts something that is needed. */
static void build(struct buf *b, struct offs *o)
{
    memset(b, 0, sizeof(*b));
    put_u32(b, GGUF_MAGIC);
    put_u32(b, 3);
    put_u64(b, 2);
    put_u64(b, 7);
    put_str(b, "general.architecture");
    o->arch_type = put_u32(b, GGUF_VT_STRING);
    o->arch_len = put_str(b, "llama");
    o->keya_name = put_str(b, "test.key_a") + 8;
    put_u32(b, GGUF_VT_UINT32);
    put_u32(b, 7);
    o->keyb_name = put_str(b, "test.key_b") + 8;
    put_u32(b, GGUF_VT_FLOAT32);
    put_u32(b, 0x3f800000);
    put_str(b, "tokenizer.ggml.tokens");
    put_u32(b, GGUF_VT_ARRAY);
    o->arr_elem_type = put_u32(b, GGUF_VT_STRING);
    o->arr_count = put_u64(b, 3);
    put_str(b, "a");
    put_str(b, "bc");
    put_str(b, "");
    put_str(b, "test.u32s");
    put_u32(b, GGUF_VT_ARRAY);
    put_u32(b, GGUF_VT_UINT32);
    o->u32arr_count = put_u64(b, 2);
    put_u32(b, 1);
    put_u32(b, 2);
    put_str(b, "test.nested");
    put_u32(b, GGUF_VT_ARRAY);
    put_u32(b, GGUF_VT_ARRAY);
    put_u64(b, 1);
    put_u32(b, GGUF_VT_INT8);
    put_u64(b, 1);
    b->p[b->n++] = 0xff;
    put_str(b, "general.alignment");
    o->align_type = put_u32(b, GGUF_VT_UINT32);
    o->align_val = put_u32(b, 32);
    const char *names[2] = {T0, T1};
    const uint32_t types[2] = {OM_TYPE_Q8_0, OM_TYPE_F32};
    const int64_t ne[2][2] = {{32, 2}, {8, 1}};
    const uint64_t off[2] = {0, 96};
    for (int i = 0; i < 2; i++) {
        o->t_name[i] = put_str(b, names[i]) + 8;
        o->t_ndims[i] = put_u32(b, 2);
        o->t_ne[i] = put_u64(b, (uint64_t)ne[i][0]);
        put_u64(b, (uint64_t)ne[i][1]);
        o->t_type[i] = put_u32(b, types[i]);
        o->t_off[i] = put_u64(b, off[i]);
    }
    while (b->n % 32)
        b->p[b->n++] = 0;
    for (int i = 0; i < 128; i++)
        b->p[b->n++] = (uint8_t)(i * 7);
}

/* Opens a heap copy of exactly len bytes; returns rc, err filled. */
static int open_copy(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    uint8_t *c = malloc(len ? len : 1);
    memcpy(c, p, len);
    gguf_file *f = (gguf_file *)1;
    err[0] = 0;
    int rc = gguf_open_mem(c, len, &f, err, errlen);
    if (rc == 0) {
        /* touch everything the API exposes */
        for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
            const gguf_tensor *t = gguf_tensor_at(f, i);
            volatile uint8_t s = 0;
            for (size_t j = 0; j < t->size; j++)
                s ^= ((const uint8_t *)t->data)[j];
            (void)s;
        }
        gguf_str s;
        for (uint64_t i = 0; gguf_get_arr_str(f, "tokenizer.ggml.tokens", i, &s) == 0; i++)
            assert_true(s.len < len);
        gguf_close(f);
    } else {
        assert_null(f);
        assert_true(err[0] != 0);
    }
    free(c);
    return rc;
}

static void expect(const struct buf *b, int want_rc, const char *want1, const char *want2)
{
    char err[512];
    int rc = open_copy(b->p, b->n, err, sizeof(err));
    if (rc != want_rc)
        fail_msg("rc %d (%s), wanted %d; message: %s", rc, om_strerror(rc), want_rc, err);
    if (want1 && !strstr(err, want1))
        fail_msg("message '%s' does not name '%s'", err, want1);
    if (want2 && !strstr(err, want2))
        fail_msg("message '%s' does not name '%s'", err, want2);
}

static void set_u32(struct buf *b, size_t at, uint32_t v) { memcpy(b->p + at, &v, 4); }
static void set_u64(struct buf *b, size_t at, uint64_t v) { memcpy(b->p + at, &v, 8); }

static void test_valid_base(void **state)
{
    (void)state;
    struct buf b;
    struct offs o;
    build(&b, &o);
    gguf_file *f;
    char err[256];
    assert_int_equal(gguf_open_mem(b.p, b.n, &f, err, sizeof(err)), 0);
    assert_int_equal(gguf_n_kv(f), 7);
    assert_int_equal(gguf_n_tensors(f), 2);
    assert_int_equal(gguf_find_tensor(f, T1)->size, 32);
    assert_ptr_equal(gguf_find_tensor(f, T1)->data, b.p + b.n - 32);
    gguf_close(f);
    set_u32(&b, 4, 2); /* v2 has the same layout */
    expect(&b, 0, NULL, NULL);
}

static void test_truncation_every_length(void **state)
{
    (void)state;
    struct buf b;
    struct offs o;
    build(&b, &o);
    char err[512];
    for (size_t len = 0; len < b.n; len++) {
        int rc = open_copy(b.p, len, err, sizeof(err));
        if (rc != OM_EFORMAT)
            fail_msg("truncated to %zu of %zu bytes: rc %d (%s)", len, b.n, rc, err);
    }
}

static void test_byte_corruption(void **state)
{
    (void)state;
    struct buf b;
    struct offs o;
    build(&b, &o);
    static const uint8_t vals[] = {0x00, 0x01, 0x05, 0x7f, 0x80, 0xff};
    char err[512];
    for (size_t i = 0; i < b.n; i++) {
        for (size_t v = 0; v < sizeof(vals); v++) {
            struct buf c = b;
            c.p[i] = vals[v];
            int rc = open_copy(c.p, c.n, err, sizeof(err));
            if (rc && rc != OM_EFORMAT && rc != OM_EUNSUPPORTED)
                fail_msg("byte %zu = 0x%02x: unexpected rc %d (%s)", i, vals[v], rc, err);
        }
    }
}

static void test_header(void **state)
{
    (void)state;
    struct buf b, c;
    struct offs o;
    build(&b, &o);
    c = b;
    set_u32(&c, 0, 0x46554746);
    expect(&c, OM_EFORMAT, "magic", "offset 0");
    c = b;
    set_u32(&c, 4, 1);
    expect(&c, OM_EUNSUPPORTED, "version 1", "offset 4");
    c = b;
    set_u32(&c, 4, 4);
    expect(&c, OM_EUNSUPPORTED, "version 4", "offset 4");
    c = b;
    set_u32(&c, 4, 0x03000000);
    expect(&c, OM_EUNSUPPORTED, "big-endian", NULL);
    c = b;
    set_u64(&c, 16, 1ull << 40);
    expect(&c, OM_EFORMAT, "n_kv", "offset 16");
    c = b;
    set_u64(&c, 16, UINT64_MAX);
    expect(&c, OM_EFORMAT, "n_kv", NULL);
    c = b;
    set_u64(&c, 8, UINT64_MAX);
    expect(&c, OM_EFORMAT, "n_tensors", "offset 8");
    c = b;
    set_u64(&c, 8, 3); /* one tensor more than there is: runs into the data */
    expect(&c, OM_EFORMAT, NULL, NULL);
    c = b;
    set_u64(&c, 16, 8); /* one kv more: the first tensor info parses as a kv */
    expect(&c, OM_EFORMAT, NULL, NULL);
}

static void test_kv_errors(void **state)
{
    (void)state;
    struct buf b, c;
    struct offs o;
    build(&b, &o);
    c = b;
    set_u64(&c, o.arch_len, 1ull << 50);
    expect(&c, OM_EFORMAT, "key 'general.architecture'", "string length");
    c = b;
    set_u64(&c, o.arch_len, UINT64_MAX);
    expect(&c, OM_EFORMAT, "key 'general.architecture'", "past end");
    c = b;
    set_u64(&c, 24, 1ull << 60); /* first key's own length */
    expect(&c, OM_EFORMAT, "kv 0", "offset 24");
    c = b;
    set_u32(&c, o.arch_type, 13);
    expect(&c, OM_EFORMAT, "key 'general.architecture'", "unknown value type 13");
    c = b;
    set_u32(&c, o.arr_elem_type, 99);
    expect(&c, OM_EFORMAT, "key 'tokenizer.ggml.tokens'", "element type 99");
    c = b;
    set_u64(&c, o.arr_count, UINT64_MAX / 8 + 2);
    expect(&c, OM_EFORMAT, "key 'tokenizer.ggml.tokens'", "elements");
    c = b;
    set_u64(&c, o.arr_count, 4); /* one string more than there is */
    expect(&c, OM_EFORMAT, NULL, NULL);
    c = b;
    set_u64(&c, o.u32arr_count, (1ull << 62) + 1); /* count * 4 overflows 64 bits */
    expect(&c, OM_EFORMAT, "key 'test.u32s'", "elements");
    c = b;
    memcpy(c.p + o.keyb_name, "test.key_a", 10);
    expect(&c, OM_EFORMAT, "key 'test.key_a'", "duplicate");
    /* general.alignment: 0, 3, wrong type */
    c = b;
    set_u32(&c, o.align_val, 0);
    expect(&c, OM_EFORMAT, "key 'general.alignment'", "power of two");
    c = b;
    set_u32(&c, o.align_val, 3);
    expect(&c, OM_EFORMAT, "key 'general.alignment'", "power of two");
    c = b;
    set_u32(&c, o.align_type, GGUF_VT_INT32);
    expect(&c, OM_EFORMAT, "key 'general.alignment'", "uint32");
    c = b;
    set_u32(&c, o.align_val, 64); /* valid, but now the data section moves past the end */
    expect(&c, OM_EFORMAT, NULL, NULL);
}

/* A file whose only kv is `depth` arrays nested in each other. */
static void build_nested(struct buf *b, int depth)
{
    memset(b, 0, sizeof(*b));
    put_u32(b, GGUF_MAGIC);
    put_u32(b, 3);
    put_u64(b, 0);
    put_u64(b, 1);
    put_str(b, "deep");
    put_u32(b, GGUF_VT_ARRAY);
    for (int i = 1; i < depth; i++) {
        put_u32(b, GGUF_VT_ARRAY);
        put_u64(b, 1);
    }
    put_u32(b, GGUF_VT_UINT8);
    put_u64(b, 1);
    b->p[b->n++] = 42;
}

static void test_nesting(void **state)
{
    (void)state;
    struct buf b;
    build_nested(&b, 8);
    expect(&b, 0, NULL, NULL);
    build_nested(&b, 9);
    expect(&b, OM_EFORMAT, "key 'deep'", "nested deeper");
    build_nested(&b, 100);
    expect(&b, OM_EFORMAT, "key 'deep'", "nested deeper");
}

static void test_tensor_errors(void **state)
{
    (void)state;
    struct buf b, c;
    struct offs o;
    build(&b, &o);
    c = b;
    set_u32(&c, o.t_ndims[0], 0);
    expect(&c, OM_EFORMAT, "tensor '" T0 "'", "n_dims 0");
    c = b;
    set_u32(&c, o.t_ndims[0], 5);
    expect(&c, OM_EFORMAT, "tensor '" T0 "'", "n_dims 5");
    c = b;
    set_u64(&c, o.t_ne[1], (uint64_t)-8);
    expect(&c, OM_EFORMAT, "tensor '" T1 "'", "ne[0] = -8");
    c = b;
    set_u64(&c, o.t_ne[1] + 8, 0);
    expect(&c, OM_EFORMAT, "tensor '" T1 "'", "ne[1] = 0");
    c = b;
    set_u64(&c, o.t_ne[0], 1ull << 40);
    set_u64(&c, o.t_ne[0] + 8, 1ull << 40);
    expect(&c, OM_EFORMAT, "tensor '" T0 "'", "overflows");
    c = b;
    set_u64(&c, o.t_ne[0], 1ull << 60);
    expect(&c, OM_EFORMAT, "tensor '" T0 "'", "larger than the file");
    c = b;
    set_u64(&c, o.t_ne[0], 16);
    expect(&c, OM_EFORMAT, "tensor '" T0 "'", "block size 32");
    c = b;
    set_u32(&c, o.t_type[0], 41);
    expect(&c, OM_EUNSUPPORTED, "tensor '" T0 "': unknown type 41", NULL);
    c = b;
    set_u32(&c, o.t_type[1], 4); /* a retired ggml type id: not defined */
    expect(&c, OM_EUNSUPPORTED, "tensor '" T1 "': unknown type 4", NULL);
    c = b;
    set_u32(&c, o.t_type[1], OM_TYPE_I32); /* defined though not computable: readable */
    expect(&c, 0, NULL, NULL);
    c = b;
    set_u64(&c, o.t_off[1], 100);
    expect(&c, OM_EFORMAT, "tensor '" T1 "'", "alignment 32");
    c = b;
    set_u64(&c, o.t_off[1], 96 + 32 * 100);
    expect(&c, OM_EFORMAT, "tensor '" T1 "'", "past end of file");
    c = b;
    set_u64(&c, o.t_off[1], UINT64_MAX - 31);
    expect(&c, OM_EFORMAT, "tensor '" T1 "'", "past end of file");
    c = b;
    set_u64(&c, o.t_off[1], 64); /* inside tensor 0's 68 bytes */
    expect(&c, OM_EFORMAT, "'" T0 "' and '" T1 "' overlap", NULL);
    c = b;
    set_u64(&c, o.t_off[1], 0);
    expect(&c, OM_EFORMAT, "overlap", NULL);
    c = b;
    memcpy(c.p + o.t_name[1], T0, strlen(T0));
    expect(&c, OM_EFORMAT, "tensor '" T0 "'", "duplicate");
    c = b; /* control bytes in a name are not copied into the message */
    c.p[o.t_name[1]] = '\n';
    c.p[o.t_name[1] + 1] = 0;
    set_u32(&c, o.t_ndims[1], 7);
    expect(&c, OM_EFORMAT, "tensor '??k.0.attn_k.weight'", "n_dims 7");
    c = b;
    set_u64(&c, o.t_name[1] - 8, 1ull << 40);
    expect(&c, OM_EFORMAT, "tensor 1", "name length");
}

static void test_open_file_errors(void **state)
{
    (void)state;
    struct buf b;
    struct offs o;
    build(&b, &o);
    set_u32(&b, o.t_type[0], 41);
    char path[] = "/tmp/om_test_gguf_broken_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b.p, b.n), (ssize_t)b.n);
    close(fd);
    gguf_file *f;
    char err[512];
    assert_int_equal(gguf_open(path, &f, err, sizeof(err)), OM_EUNSUPPORTED);
    assert_null(f);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "unknown type 41"));
    /* empty file */
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    assert_int_equal(gguf_open(path, &f, err, sizeof(err)), OM_EFORMAT);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_base),
        cmocka_unit_test(test_truncation_every_length),
        cmocka_unit_test(test_byte_corruption),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_kv_errors),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_tensor_errors),
        cmocka_unit_test(test_open_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
