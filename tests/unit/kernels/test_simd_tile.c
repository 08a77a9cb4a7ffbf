/* Unit tests for the tile kernels (vec_dot_nm) of every table: each tile
 * element against the same table's vec_dot (and so, through test_simd.c,
 * against generic), for full and partial tiles, padded row strides, an
 * output stride wider than the tile, and several row lengths. Elements of
 * s outside the tile must stay untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_simd_util.h"

#define PAD 40 /* bytes between rows beyond the row size */

static int check_tile(const struct kern_ops *ops, uint32_t t, int64_t n, int nr, int nc)
{
    const struct kern_type_ops *o = &ops->type[t];
    const struct kern_ops *gen = kern_ops_for(KERN_ISA_GENERIC);
    uint32_t at = o->vec_dot_type;
    size_t bx = om_type_row_size(t, n) + PAD, by = om_type_row_size(at, n) + PAD;
    /* the last row ends the allocation: the sanitizer build catches overreads */
    uint8_t *x = calloc(1, bx * (size_t)(nr - 1) + om_type_row_size(t, n));
    uint8_t *y = calloc(1, by * (size_t)(nc - 1) + om_type_row_size(at, n));
    float *f = malloc((size_t)n * sizeof(float)), *g = malloc((size_t)n * sizeof(float));
    float *fx = malloc((size_t)(n * nr) * sizeof(float)), *fy = malloc((size_t)(n * nc) * sizeof(float));
    for (int i = 0; i < nr; i++) {
        rnd_weight_blocks(t, x + bx * (size_t)i, n);
        gen->type[t].to_float(x + bx * (size_t)i, fx + n * i, n);
    }
    for (int j = 0; j < nc; j++) {
        rnd_floats(f, n);
        gen->type[at].from_float(f, y + by * (size_t)j, n);
        act_to_float(at, y + by * (size_t)j, fy + n * j, n);
    }
    size_t lds = (size_t)nc + 3;
    float *s = malloc(lds * (size_t)nr * sizeof(float));
    for (size_t k = 0; k < lds * (size_t)nr; k++)
        s[k] = -12345.0f;
    o->vec_dot_nm(n, s, lds, x, bx, nr, y, by, nc);
    int ok = 1;
    for (int i = 0; i < nr && ok; i++)
        for (size_t j = 0; j < lds && ok; j++) {
            float got = s[(size_t)i * lds + j];
            if ((int)j >= nc) {
                if (got != -12345.0f) {
                    fprintf(stderr, "%s nm %s wrote outside the tile at (%d,%zu)\n", ops->isa,
                            om_type_name(t), i, j);
                    ok = 0;
                }
                continue;
            }
            float ref;
            o->vec_dot(n, &ref, x + bx * (size_t)i, y + by * j);
            double tol = 1e-5 * abs_dot(fx + n * i, fy + n * (int64_t)j, n) + 1e-30;
            if (!(fabs((double)got - ref) <= tol)) {
                fprintf(stderr, "%s nm %s n=%lld tile %dx%d (%d,%zu): got %.9g want %.9g\n",
                        ops->isa, om_type_name(t), (long long)n, nr, nc, i, j, got, ref);
                ok = 0;
            }
        }
    free(x);
    free(y);
    free(f);
    free(g);
    free(fx);
    free(fy);
    free(s);
    return ok;
}

static void run_tiles(enum kern_isa isa)
{
    const struct kern_ops *ops = isa_table(isa);
    if (!ops)
        skip();
    int bad = 0, tiles = 0, types = 0;
    const int nblocks[] = {1, 2, 3, 8, 13, 37}; /* 37: > 2 chunks of the row kernels */
    for (uint32_t t = 0; t < OM_TYPE_COUNT; t++) {
        const struct kern_type_ops *o = &ops->type[t];
        if (!o->vec_dot_nm)
            continue;
        types++;
        assert_true(o->nm_rows > 0 && o->nm_cols > 0);
        for (size_t k = 0; k < sizeof nblocks / sizeof *nblocks; k++) {
            int64_t n = nblocks[k] * blck_of(t) * (blck_of(t) == 32 ? 3 : 1);
            /* the full tile several times, then every partial shape once */
            int reps = quick_mode() ? 1 : 3;
            for (int r = 0; r < reps; r++, tiles++)
                bad += !check_tile(ops, t, n, o->nm_rows, o->nm_cols);
            /* narrower full-height tiles (matmul's token tails, 2-3 token
             * batches: specialised kernels) at every length */
            for (int nc = 2; nc < o->nm_cols; nc++, tiles++)
                bad += !check_tile(ops, t, n, o->nm_rows, nc);
            if (k == 1)
                for (int nr = 1; nr <= o->nm_rows; nr++)
                    for (int nc = 1; nc <= o->nm_cols; nc++, tiles++)
                        bad += !check_tile(ops, t, n, nr, nc);
        }
    }
    fprintf(stderr, "%s: %d types with tile kernels, %d tiles checked, %d failed\n", ops->isa, types,
            tiles, bad);
    assert_int_equal(bad, 0);
}

static void test_generic_tiles(void **s) { (void)s; run_tiles(KERN_ISA_GENERIC); }
static void test_avx2_tiles(void **s) { (void)s; run_tiles(KERN_ISA_AVX2); }
static void test_avx512_tiles(void **s) { (void)s; run_tiles(KERN_ISA_AVX512); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generic_tiles),
        cmocka_unit_test(test_avx2_tiles),
        cmocka_unit_test(test_avx512_tiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
