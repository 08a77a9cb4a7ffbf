/* Unit tests for store_write_model (store_write.c), the path by which the
 * quantizer and the synthesizer write models through format's gguf_writer:
 * rows made by a row function and converted in chunks land where the reader
 * finds them (a tensor over several 8 MiB chunks included), copied tensors are
 * written as is, the bytes do not depend on the thread count, progress sees
 * every tensor in file order with its sizes, and a NaN row, a cancel or a
 * tensor that cannot be declared fails with a message naming the tensor and
 * leaves nothing behind (an older file at the path is untouched). */
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
#include "store/store_int.h"
#include "store/store_tmpdir.h"


static int setup(void **state)
{
    (void)state;
    return tmpdir_make("swrite");
}

static int teardown(void **state)
{
    (void)state;
    tmpdir_remove();
    return 0;
}

/* Row function: values from a hash of (tensor id, row, column); the row
 * bad_row (if >= 0) gets a NaN. */
struct rows {
    uint32_t id;
    int64_t bad_row;
};

static void make_row(const void *ctx, int64_t r, float *x, int64_t ne0)
{
    const struct rows *c = ctx;
    for (int64_t i = 0; i < ne0; i++) {
        uint32_t h = (c->id * 2654435761u) ^ ((uint32_t)r * 40503u) ^ ((uint32_t)i * 2246822519u);
        h ^= h >> 15;
        h *= 2246822519u;
        h ^= h >> 13;
        x[i] = ((float)(h & 0xffff) - 32768.0f) / 65536.0f;
    }
    if (r == c->bad_row)
        x[ne0 / 2] = NAN;
}

enum { N_T = 4, BIG_ROWS = 2100, BIG_NE0 = 1024 };

struct model {
    struct store_plan_tensor plan[N_T];
    struct store_src src[N_T];
    struct rows rows[N_T];
    uint16_t copied[64 * 3]; /* F16 bytes of the copied tensor */
};

/* blk.0.big: F32, 2100 rows of 4 KiB (two chunks); blk.0.q: 37 rows of Q4_K;
 * blk.0.copy: F16 copied as is; blk.0.norm: 1-D F32. */
static void model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    static const char *const names[N_T] = {"blk.0.big", "blk.0.q", "blk.0.copy", "blk.0.norm"};
    const int64_t ne[N_T][2] = {{BIG_NE0, BIG_ROWS}, {256, 37}, {64, 3}, {64, 1}};
    const uint32_t dst[N_T] = {OM_TYPE_F32, OM_TYPE_Q4_K, OM_TYPE_F16, OM_TYPE_F32};
    for (int k = 0; k < N_T; k++) {
        m->rows[k] = (struct rows){(uint32_t)k + 1, -1};
        m->plan[k] = (struct store_plan_tensor){names[k], k == 3 ? 1 : 2,
                                                {ne[k][0], ne[k][1], 1, 1},
                                                k == 2 ? OM_TYPE_F16 : OM_TYPE_F32, dst[k], 0};
        m->src[k] = (struct store_src){NULL, make_row, &m->rows[k],
                                       (uint64_t)(ne[k][0] * ne[k][1] * 4)};
    }
    for (int i = 0; i < 64 * 3; i++)
        m->copied[i] = (uint16_t)(0x3c00 + i); /* 1.0 and up */
    m->src[2] = (struct store_src){m->copied, NULL, NULL, sizeof(m->copied)};
}

#define MAX_CALLS 16
struct prog {
    int n, cancel_at;
    struct store_progress p[MAX_CALLS];
    char names[MAX_CALLS][32];
};

static int on_progress(const struct store_progress *p, void *ud)
{
    struct prog *g = ud;
    assert_true(g->n < MAX_CALLS);
    g->p[g->n] = *p;
    snprintf(g->names[g->n], sizeof(g->names[0]), "%s", p->name);
    return ++g->n == g->cancel_at;
}

static int write_model(struct model *m, const char *path, int n_threads, struct prog *pg,
                       char *err, size_t errlen)
{
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "test");
    store_set_ftype(w, STORE_FTYPE_Q4_K_M);
    int rc = store_write_model(w, m->plan, m->src, N_T, n_threads, pg ? on_progress : NULL, pg,
                               path, err, errlen);
    gguf_writer_free(w);
    return rc;
}

static void *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void test_contents(void **state)
{
    (void)state;
    struct model m;
    model_init(&m);
    char a[300], b[300], err[256];
    snprintf(a, sizeof(a), "%s/one.gguf", g_dir);
    snprintf(b, sizeof(b), "%s/three.gguf", g_dir);
    struct prog pg = {0};
    int rc = write_model(&m, a, 1, NULL, err, sizeof(err));
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(write_model(&m, b, 3, &pg, err, sizeof(err)), 0);

    size_t na, nb;
    void *da = read_all(a, &na), *db = read_all(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(da, db, na); /* 1 vs 3 threads */
    free(da);
    free(db);

    gguf_file *f;
    assert_int_equal(gguf_open(b, &f, err, sizeof(err)), 0);
    uint32_t v;
    assert_int_equal(gguf_get_u32(f, "general.file_type", &v), 0);
    assert_int_equal(v, 15);
    assert_int_equal(gguf_n_tensors(f), N_T);
    assert_int_equal(pg.n, N_T);
    float *x = malloc(BIG_NE0 * sizeof(float));
    uint8_t *y = malloc(BIG_NE0 * sizeof(float));
    for (int k = 0; k < N_T; k++) {
        const struct store_plan_tensor *pt = &m.plan[k];
        const gguf_tensor *t = gguf_tensor_at(f, k); /* file order is plan order */
        assert_true(gguf_str_eq(t->name, pt->name));
        assert_int_equal(t->type, pt->dst_type);
        size_t row = om_type_row_size(pt->dst_type, pt->ne[0]);
        assert_int_equal(t->size, row * (size_t)pt->ne[1]);
        /* progress: before each tensor, in order, with both sizes */
        assert_int_equal(pg.p[k].i_tensor, k);
        assert_int_equal(pg.p[k].n_tensors, N_T);
        assert_string_equal(pg.names[k], pt->name);
        assert_int_equal(pg.p[k].src_type, pt->src_type);
        assert_int_equal(pg.p[k].dst_type, pt->dst_type);
        assert_int_equal(pg.p[k].bytes_in, m.src[k].bytes_in);
        assert_int_equal(pg.p[k].bytes_out, t->size);
        if (m.src[k].copy) {
            assert_memory_equal(t->data, m.copied, sizeof(m.copied));
            continue;
        }
        for (int64_t r = 0; r < pt->ne[1]; r++) {
            make_row(&m.rows[k], r, x, pt->ne[0]);
            assert_int_equal(store_row_from_f32(pt->dst_type, x, y, pt->ne[0]), row);
            if (memcmp((const uint8_t *)t->data + (size_t)r * row, y, row))
                fail_msg("%s: row %lld differs", pt->name, (long long)r);
        }
    }
    free(x);
    free(y);
    gguf_close(f);
    unlink(a);
    unlink(b);
}

static void test_failures(void **state)
{
    (void)state;
    struct model m;
    model_init(&m);
    char out[300], err[256];
    snprintf(out, sizeof(out), "%s/old.gguf", g_dir);
    FILE *f = fopen(out, "wb");
    fputs("old", f);
    fclose(f);
    int before = tmpdir_count();
    struct stat st;

    /* a NaN in the second chunk of blk.0.big, with 1 and 3 threads */
    for (int nt = 1; nt <= 3; nt += 2) {
        m.rows[0].bad_row = 2099;
        assert_int_equal(write_model(&m, out, nt, NULL, err, sizeof(err)), OM_EFORMAT);
        assert_non_null(strstr(err, "blk.0.big"));
        assert_non_null(strstr(err, "row 2099"));
        assert_non_null(strstr(err, "NaN"));
        assert_int_equal(tmpdir_count(), before);
        assert_int_equal(stat(out, &st), 0);
        assert_int_equal(st.st_size, 3);
    }
    m.rows[0].bad_row = -1;

    /* canceled at the third tensor: nothing written, message names it */
    struct prog pg = {.cancel_at = 3};
    assert_int_equal(write_model(&m, out, 2, &pg, err, sizeof(err)), OM_ECANCELED);
    assert_int_equal(pg.n, 3);
    assert_non_null(strstr(err, "canceled at tensor blk.0.copy"));
    assert_int_equal(tmpdir_count(), before);
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_size, 3);

    /* a row length Q4_K cannot hold: refused before anything is written */
    m.plan[1].ne[0] = 100;
    pg = (struct prog){0};
    assert_int_equal(write_model(&m, out, 2, &pg, err, sizeof(err)), OM_EINVAL);
    assert_non_null(strstr(err, "blk.0.q"));
    assert_int_equal(pg.n, 0);
    assert_int_equal(tmpdir_count(), before);
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_size, 3);
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contents),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
